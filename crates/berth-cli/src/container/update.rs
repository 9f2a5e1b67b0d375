//! `berth update`: change the resource limits and restart policy of containers.

use std::process::ExitCode;

use anyhow::{Result, bail};
use berth_engine::UpdateRequest;
use clap::Args;

use super::parse;
use crate::cli::Global;

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    fn request(&self) -> Result<UpdateRequest> {
        let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    if s == "-1" {
                        Ok(-1)
                    } else {
                        parse::bytes(flag, s)
                    }
                })
                .transpose()
        };
        let nano_cpus = match self.cpus {
            Some(c) if !(0.0..=1e6).contains(&c) => {
                bail!("invalid argument {c} for \"--cpus\" flag: range is 0 to the number of CPUs")
            }
            Some(c) => Some((c * 1e9) as i64),
            None => None,
        };
        let req = UpdateRequest {
            memory: bytes("--memory", &self.memory)?,
            memory_swap: bytes("--memory-swap", &self.memory_swap)?,
            memory_reservation: bytes("--memory-reservation", &self.memory_reservation)?,
            nano_cpus,
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_rt_period: self.cpu_rt_period,
            cpu_rt_runtime: self.cpu_rt_runtime,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
            restart_policy: self.restart.as_deref().map(parse::restart).transpose()?,
        };
        Ok(req)
    }
}

/// Prints each container updated; errors are one line each and make the exit code 1.
pub fn update(g: &Global, a: UpdateArgs) -> Result<ExitCode> {
    let req = match a.request() {
        Ok(r) => r,
        Err(e) => {
            crate::output::print_error(&e);
            return Err(anyhow::Error::new(super::Exit(125)));
        }
    };
    super::manage::each(g, &a.containers, |e, n| Ok(e.update(n, &req)?))
}

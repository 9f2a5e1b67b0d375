//! The resource flags that `create`/`run` and `update` share (docker's names and units).

use anyhow::{Result, bail};
use berth_engine::UpdateRequest;
use berth_engine::config::Resources;
use clap::Args;

use berth_engine::config::parse;

#[derive(Args, Debug, Clone, Default)]
pub struct ResourceArgs {
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Limit CPU real-time runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

impl ResourceArgs {
    /// The flags as an update of the limits (unset flags change nothing).
    pub fn request(&self) -> Result<UpdateRequest> {
        let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    if s == "-1" && flag == "--memory-swap" {
                        Ok(-1)
                    } else {
                        Ok(parse::bytes(flag, s)?)
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
        Ok(UpdateRequest {
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
            restart_policy: None,
        })
    }

    /// Sets the limits of a new container.
    pub fn apply_to(&self, r: &mut Resources) -> Result<()> {
        let u = self.request()?;
        r.memory = u.memory;
        r.memory_swap = u.memory_swap;
        r.memory_reservation = u.memory_reservation;
        r.nano_cpus = u.nano_cpus;
        r.cpu_shares = u.cpu_shares;
        r.cpu_period = u.cpu_period;
        r.cpu_quota = u.cpu_quota;
        r.cpu_rt_period = u.cpu_rt_period;
        r.cpu_rt_runtime = u.cpu_rt_runtime;
        r.cpuset_cpus = u.cpuset_cpus;
        r.cpuset_mems = u.cpuset_mems;
        r.pids_limit = u.pids_limit;
        r.blkio_weight = u.blkio_weight;
        Ok(())
    }
}

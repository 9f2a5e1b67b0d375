//! The resource flags that `create`/`run` and `update` share (docker's names), collected as
//! strings; the engine parses them (`berth_engine::config::parse::ResourceFlags`).

use berth_engine::config::parse::ResourceFlags;
use clap::Args;

#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
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
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// Limit CPU real-time period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<String>,
    /// Limit CPU real-time runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<String>,
}

impl ResourceArgs {
    /// The flags as the engine's parser takes them.
    pub fn flags(&self) -> ResourceFlags<'_> {
        ResourceFlags {
            memory: self.memory.as_deref(),
            memory_swap: self.memory_swap.as_deref(),
            memory_reservation: self.memory_reservation.as_deref(),
            cpus: self.cpus.as_deref(),
            cpu_shares: self.cpu_shares.as_deref(),
            cpu_period: self.cpu_period.as_deref(),
            cpu_quota: self.cpu_quota.as_deref(),
            cpu_rt_period: self.cpu_rt_period.as_deref(),
            cpu_rt_runtime: self.cpu_rt_runtime.as_deref(),
            cpuset_cpus: self.cpuset_cpus.as_deref(),
            cpuset_mems: self.cpuset_mems.as_deref(),
            pids_limit: self.pids_limit.as_deref(),
            blkio_weight: self.blkio_weight.as_deref(),
        }
    }
}

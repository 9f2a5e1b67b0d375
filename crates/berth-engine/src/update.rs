//! `update`: changing a container's resource limits and restart policy, recorded for later
//! starts and applied at once to a running container's cgroups.

use crate::config::{Resources, RestartName, RestartPolicy};
use crate::container::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What `update` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub restart_policy: Option<RestartPolicy>,
}

impl UpdateRequest {
    /// The resources after this update. Docker's rule: a new memory limit above the
    /// current memory+swap limit needs a new --memory-swap too.
    fn apply(&self, old: &Resources) -> Result<Resources> {
        let mut r = old.clone();
        if let Some(m) = self.memory {
            if self.memory_swap.is_none() && r.memory_swap.is_some_and(|s| s > 0 && m > s) {
                return Err(Error::invalid(
                    "--memory",
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                ));
            }
            r.memory = Some(m);
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if self.$f.is_some() { r.$f = self.$f.clone(); } )* };
        }
        set!(
            memory_swap,
            memory_reservation,
            cpu_shares,
            cpu_period,
            cpu_quota,
            cpu_rt_period,
            cpu_rt_runtime,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight
        );
        if let Some(n) = self.nano_cpus {
            // --cpus and --cpu-period/--cpu-quota are two ways of saying one thing.
            if self.cpu_period.is_some() || self.cpu_quota.is_some() {
                return Err(Error::invalid(
                    "--cpus",
                    "Conflicting options: Nano CPUs cannot be updated as CPU Period/Quota has already been set",
                ));
            }
            r.nano_cpus = Some(n);
            r.cpu_period = None;
            r.cpu_quota = None;
        } else if self.cpu_period.is_some() || self.cpu_quota.is_some() {
            r.nano_cpus = None;
        }
        Ok(r)
    }
}

impl Engine {
    /// Updates a container: validates the new limits as `create` would, records them, and
    /// writes them to the cgroups of a running or paused container.
    pub fn update(&self, key: &str, req: &UpdateRequest) -> Result<()> {
        self.update_with_warnings(key, req).map(drop)
    }

    /// [`Engine::update`], returning Docker's warnings for the limits the host cannot apply
    /// (dropped, as at create).
    pub fn update_with_warnings(&self, key: &str, req: &UpdateRequest) -> Result<Vec<String>> {
        let found = self.container(key)?;
        let _lock = self.lock_container(&found.id)?;
        let mut c = self.container(&found.id)?;
        if let Some(p) = &req.restart_policy
            && c.config.host.auto_remove
            && p.name != RestartName::No
        {
            return Err(Error::invalid(
                "--restart",
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        // What the host cannot apply is dropped, as at create (Docker's update does too).
        let mut probe = c.config.clone();
        probe.host.resources = req.apply(&c.config.host.resources)?;
        let warnings = crate::spec::discard_unsupported(&mut probe);
        let resources = probe.host.resources;
        let mut limits = crate::spec::cgroup_resources(&resources)?;
        if req.pids_limit.is_some_and(|p| p <= 0) {
            // Back to unlimited ("max").
            let mut pids = oci_spec::runtime::LinuxPids::default();
            pids.set_limit(-1);
            limits.set_pids(Some(pids));
        }
        c.config.host.resources = resources;
        if let Some(p) = &req.restart_policy {
            c.config.host.restart_policy = p.clone();
        }
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
            let mut rc = rt.load(&c.id)?;
            rc.update(&limits)?;
        }
        self.db.set_config(&c.id, &c.config)?;
        self.event("container", "update", &c, &[]);
        Ok(warnings)
    }
}

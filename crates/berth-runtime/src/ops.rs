//! Operations on existing containers: start, kill, delete, pause, resume, update, ps, stats.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::Stats;
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::state::{Container, Status};

impl Container {
    fn refuse(&self, status: Status, op: &'static str) -> Error {
        Error::InvalidState {
            id: self.saved.id.clone(),
            status: status.to_string(),
            op,
        }
    }

    /// Starts a created container: releases its init to execute the user's process, then
    /// runs the poststart hooks (whose failures are returned but do not stop the container).
    pub fn start(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Created {
            return Err(self.refuse(status, "start (it must be created)"));
        }
        let path = self.fifo_path();
        let fd = match nix::fcntl::open(
            &path,
            nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NONBLOCK
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENXIO) => {
                return Err(Error::Init(format!(
                    "container {}: init is no longer waiting for start",
                    self.id()
                )));
            }
            Err(e) => return Err(e).ctx(|| format!("open {}", path.display())),
        };
        nix::unistd::write(&fd, &[0u8]).ctx(|| format!("write {}", path.display()))?;
        drop(fd);
        let _ = std::fs::remove_file(&path);
        self.poststart()
    }

    /// Runs the poststart hooks (done by `start`; call it after a `start_now` create).
    pub fn poststart(&self) -> Result<()> {
        if hooks::Kind::Poststart
            .select(self.saved.spec.hooks().as_ref())
            .is_empty()
        {
            return Ok(());
        }
        hooks::run(
            hooks::Kind::Poststart,
            self.saved.spec.hooks().as_ref(),
            &self.hook_state(Status::Running),
        )
    }

    /// Sends `sig` to the init (or, with `all`, to every process of the container).
    pub fn kill(&self, sig: Signal, all: bool) -> Result<()> {
        let status = self.status();
        if all {
            if status == Status::Stopped && self.saved.cgroup.pids()?.is_empty() {
                return Err(self.refuse(status, "kill (it is not running)"));
            }
            return self.saved.cgroup.signal_all(sig);
        }
        if matches!(status, Status::Stopped | Status::Creating) {
            return Err(self.refuse(status, "kill (it is not running)"));
        }
        kill(Pid::from_raw(self.saved.pid), sig)
            .ctx(|| format!("signal {sig} to container {}", self.id()))
    }

    /// Deletes the container's resources. Without `force` it must be stopped (or created,
    /// whose init is killed, as runc does).
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created | Status::Creating => self.kill_and_wait()?,
            Status::Running | Status::Paused if force => self.kill_and_wait()?,
            _ => return Err(self.refuse(status, "delete (stop it first, or use --force)")),
        }
        let cg = &self.saved.cgroup;
        if !cg.pids()?.is_empty() {
            // Processes that outlived the init (no pid namespace): they go too.
            cg.signal_all(Signal::SIGKILL)?;
        }
        if cg.is_frozen() {
            let _ = cg.thaw();
        }
        self.remove()
    }

    /// Deletes a container whose init the caller has waited for (as `run` does): no status
    /// checks; processes left in the cgroup are killed while removing it.
    pub fn delete_exited(self) -> Result<()> {
        self.remove()
    }

    fn remove(self) -> Result<()> {
        self.saved.cgroup.destroy()?;
        let hooks = self.saved.spec.hooks().as_ref();
        let res = if hooks::Kind::Poststop.select(hooks).is_empty() {
            Ok(())
        } else {
            hooks::run(
                hooks::Kind::Poststop,
                hooks,
                &self.hook_state(Status::Stopped),
            )
        };
        std::fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))?;
        res
    }

    fn kill_and_wait(&self) -> Result<()> {
        if self.saved.cgroup.is_frozen() {
            let _ = self.saved.cgroup.thaw();
        }
        if self.saved.pid > 0 && self.init_alive() {
            let _ = kill(Pid::from_raw(self.saved.pid), Signal::SIGKILL);
        }
        let _ = self.saved.cgroup.signal_all(Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.init_alive() {
            // Reap it if it is our child (run, or a subreaper caller); else its parent will.
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(self.saved.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            if Instant::now() > deadline {
                return Err(Error::Init(format!(
                    "container {}: init did not die after SIGKILL",
                    self.id()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Freezes every process.
    pub fn pause(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Running {
            return Err(self.refuse(status, "pause (it must be running)"));
        }
        self.saved.cgroup.freeze()
    }

    /// Thaws a paused container.
    pub fn resume(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Paused {
            return Err(self.refuse(status, "resume (it is not paused)"));
        }
        self.saved.cgroup.thaw()
    }

    /// Changes resource limits and records them.
    pub fn update(&mut self, r: &LinuxResources) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.refuse(status, "update (it is stopped)"));
        }
        crate::spec::validate_resources(r, "resources")?;
        self.saved.cgroup.apply(r)?;
        let mut merged = self
            .saved
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        merge_resources(&mut merged, r);
        if let Some(l) = self.saved.spec.linux_mut() {
            l.set_resources(Some(merged));
        }
        self.save()
    }

    /// The pids of the container's processes.
    pub fn pids(&self) -> Result<Vec<i32>> {
        self.saved.cgroup.pids()
    }

    /// `ps ARGS` (default `-ef`) restricted to the container's processes: the header line
    /// and the matching lines, as `ps` printed them.
    pub fn ps(&self, ps_args: &[String]) -> Result<(String, Vec<String>)> {
        let pids = self.pids()?;
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .ctx(|| "run ps")?;
        let what = || format!("ps {}", args.join(" "));
        if !out.status.success() {
            return Err(Error::InvalidArgument {
                what: what(),
                msg: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("").to_string();
        let col = header
            .split_whitespace()
            .position(|h| h == "PID")
            .ok_or_else(|| Error::InvalidArgument {
                what: what(),
                msg: "the output has no PID column".into(),
            })?;
        let rows = lines
            .filter(|l| {
                l.split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| pids.contains(&p))
            })
            .map(String::from)
            .collect();
        Ok((header, rows))
    }

    /// Resource usage.
    pub fn stats(&self) -> Result<Stats> {
        self.saved.cgroup.stats()
    }
}

/// Overlays the fields set in `new` onto `base`.
fn merge_resources(base: &mut LinuxResources, new: &LinuxResources) {
    if let Some(n) = new.memory() {
        let mut m = (*base.memory()).unwrap_or_default();
        if n.limit().is_some() {
            m.set_limit(n.limit());
        }
        if n.reservation().is_some() {
            m.set_reservation(n.reservation());
        }
        if n.swap().is_some() {
            m.set_swap(n.swap());
        }
        base.set_memory(Some(m));
    }
    if let Some(n) = new.cpu() {
        let mut c = base.cpu().clone().unwrap_or_default();
        if n.shares().is_some() {
            c.set_shares(n.shares());
        }
        if n.quota().is_some() {
            c.set_quota(n.quota());
        }
        if n.period().is_some() {
            c.set_period(n.period());
        }
        if n.cpus().is_some() {
            c.set_cpus(n.cpus().clone());
        }
        if n.mems().is_some() {
            c.set_mems(n.mems().clone());
        }
        base.set_cpu(Some(c));
    }
    if new.pids().is_some() {
        base.set_pids(*new.pids());
    }
    if new.block_io().is_some() {
        base.set_block_io(new.block_io().clone());
    }
    if new.devices().is_some() {
        base.set_devices(new.devices().clone());
    }
}

//! Signals and the states a running container passes through on a user's word: `stop`
//! (its stop signal, then SIGKILL), `kill`, `restart`, `pause`/`unpause`, `wait`, and
//! `rename`, each recorded as Docker's daemon records it (a `kill` event for every signal
//! sent, `stop` once the container is down, `restart` after the new start).

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::cancel::Cancel;
use crate::container::{self, Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lifecycle::StartMode;

impl Engine {
    /// Stops a container: its stop signal, then SIGKILL after `timeout` (at once with a
    /// zero timeout). Returns whether it was running.
    pub fn stop(&self, key: &str, timeout: Option<Duration>, signal: Option<&str>) -> Result<bool> {
        let c = self.container(key)?;
        if !c.state.status.is_live() {
            return Ok(false);
        }
        let sig = signal.map(String::from).unwrap_or_else(|| {
            c.config
                .stop_signal
                .clone()
                .unwrap_or_else(|| "SIGTERM".into())
        });
        let s = berth_runtime::util::parse_signal(&sig)
            .ok_or_else(|| Error::invalid("stop signal", format!("{sig:?} is not a signal")))?;
        self.db.update_state(&c.id, |s| {
            s.manually_stopped = true;
            Ok(())
        })?;
        let timeout = timeout.unwrap_or(Duration::from_secs(u64::from(
            c.config.stop_timeout.unwrap_or(10),
        )));
        // The stop signal goes even with a zero timeout, as Docker sends it.
        self.signal_container(&c, s, false);
        if !crate::teardown::wait_down(self, &c.id, Some(timeout), None)? {
            self.kill_and_wait(&c)?;
        }
        self.event("container", "stop", &c, &[]);
        Ok(true)
    }

    /// Sends `s` to the container's init (`all`: to every process in it), resuming a
    /// paused container so that the signal is acted on, and records the `kill` event.
    /// Errors are not fatal: the process may be gone already.
    fn signal_container(&self, c: &Container, s: Signal, all: bool) {
        let Ok(rt) = berth_runtime::Runtime::new(self.paths.runtime_root()) else {
            return;
        };
        let Ok(rc) = rt.load(&c.id) else {
            return;
        };
        let paused =
            c.state.status == Status::Paused || rc.status() == berth_runtime::Status::Paused;
        let sent = rc.kill(s, all).is_ok();
        // Events before the thaw: the monitor's `die` must come after them.
        if paused {
            self.event("container", "unpause", c, &[]);
        }
        if sent {
            self.event(
                "container",
                "kill",
                c,
                &[("signal", (s as i32).to_string())],
            );
        }
        // Its stop signal and SIGKILL are the signals that thaw a paused container.
        if paused {
            self.thaw(c, &rc);
        }
    }

    /// Thaws paused `c`, so that a signal just sent is acted on now (a frozen process may
    /// not die of it); the caller records the `unpause`. The state says running
    /// before the thaw, so the monitor's record of the exit that follows is never
    /// overwritten.
    fn thaw(&self, c: &Container, rc: &berth_runtime::Container) {
        let _ = self.db.update_state(&c.id, |st| {
            if st.status == Status::Paused {
                st.status = Status::Running;
            }
            Ok(())
        });
        // A process already dead of the signal leaves a frozen cgroup that the teardown
        // thaws; the runtime refuses to resume a stopped container.
        let _ = rc.resume();
    }

    /// Docker's forced kill: SIGKILL to everything in the container, then a wait until it
    /// is down (its monitor has recorded the exit).
    pub(crate) fn kill_and_wait(&self, c: &Container) -> Result<()> {
        self.db.update_state(&c.id, |s| {
            s.manually_stopped = true;
            Ok(())
        })?;
        self.signal_container(c, Signal::SIGKILL, true);
        if !crate::teardown::wait_down(self, &c.id, Some(Duration::from_secs(30)), None)? {
            return Err(Error::Unavailable(format!(
                "container {} did not stop after SIGKILL",
                c.name
            )));
        }
        Ok(())
    }

    /// `restart`: stops the container (as `stop`) and starts it again.
    pub fn restart(
        &self,
        key: &str,
        timeout: Option<Duration>,
        signal: Option<&str>,
    ) -> Result<()> {
        self.stop(key, timeout, signal)?;
        self.start(key, StartMode::Now)?;
        let c = self.container(key)?;
        self.event("container", "restart", &c, &[]);
        Ok(())
    }

    /// Sends a signal to a running container (`kill`).
    pub fn kill(&self, key: &str, signal: &str) -> Result<()> {
        let c = self.container(key)?;
        if !c.state.status.is_live() {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let s = berth_runtime::util::parse_signal(signal)
            .ok_or_else(|| Error::invalid("signal", format!("{signal:?} is not a signal")))?;
        if matches!(s, Signal::SIGKILL) {
            // A kill is a stop on purpose: the restart policy must not undo it.
            self.db.update_state(&c.id, |st| {
                st.manually_stopped = true;
                Ok(())
            })?;
        }
        let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
        let rc = rt.load(&c.id)?;
        // As Docker's daemon (killWithSignal): a paused container is thawed after SIGKILL,
        // its stop signal, or any signal when it has no stop signal of its own.
        let stop_signal = c
            .config
            .stop_signal
            .as_deref()
            .and_then(berth_runtime::util::parse_signal);
        let thaw = matches!(s, Signal::SIGKILL) || stop_signal.is_none_or(|st| st == s);
        let paused =
            c.state.status == Status::Paused || rc.status() == berth_runtime::Status::Paused;
        rc.kill(s, false)?;
        // The events go first: the process can die at once (current kernels let a fatal
        // signal through the freezer), and its monitor's `die` must come after them.
        if thaw && paused {
            self.event("container", "unpause", &c, &[]);
        }
        self.event(
            "container",
            "kill",
            &c,
            &[("signal", (s as i32).to_string())],
        );
        if thaw && paused {
            self.thaw(&c, &rc);
        }
        Ok(())
    }

    /// Waits until the container is not running; returns its exit code. A container removed
    /// on exit (`--rm`) gives the code its monitor recorded in the event log; `cancel` ends
    /// the wait with `Error::Cancelled`.
    pub fn wait(&self, key: &str, cancel: &Cancel) -> Result<i32> {
        let c = self.container(key)?;
        let events_from = std::fs::metadata(self.paths.events_log())
            .map(|m| m.len())
            .unwrap_or(0);
        if c.state.status.is_live() {
            crate::teardown::wait_down(self, &c.id, None, Some(cancel))?;
        }
        match self.db.find(&c.id) {
            Ok(c) => Ok(c.state.exit_code),
            Err(Error::NoSuchContainer(_)) => {
                crate::events::exit_code_since(&self.paths, &c.id, events_from).ok_or_else(|| {
                    Error::Conflict(format!(
                        "container {} was removed before its exit code could be read",
                        c.name
                    ))
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Pauses (freezes) a running container.
    pub fn pause(&self, key: &str) -> Result<()> {
        let c = self.container(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
        rt.load(&c.id)?.pause()?;
        self.db.update_state(&c.id, |s| {
            s.status = Status::Paused;
            Ok(())
        })?;
        self.event("container", "pause", &c, &[]);
        Ok(())
    }

    /// Thaws a paused container.
    pub fn unpause(&self, key: &str) -> Result<()> {
        let c = self.container(key)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("container {} is not paused", c.id)));
        }
        let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
        rt.load(&c.id)?.resume()?;
        self.db.update_state(&c.id, |s| {
            s.status = Status::Running;
            Ok(())
        })?;
        self.event("container", "unpause", &c, &[]);
        Ok(())
    }

    /// Renames a container; the event names the new name and the old one (with Docker's
    /// leading slash).
    pub fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let c = self.container(key)?;
        container::validate_name(new_name)?;
        let new_name = new_name.trim_start_matches('/');
        if new_name == c.name {
            return Err(Error::Conflict(
                "renaming a container with the same name as its current name".into(),
            ));
        }
        self.db.rename(&c.id, new_name)?;
        let renamed = Container {
            name: new_name.to_owned(),
            ..c.clone()
        };
        self.event(
            "container",
            "rename",
            &renamed,
            &[("oldName", format!("/{}", c.name))],
        );
        Ok(())
    }
}

//! Bringing containers back after a reboot. With no daemon, nothing is running when the
//! host starts; `berth system restore` (run at boot by the systemd unit in `contrib/`) does
//! what Docker's daemon does when it starts: start again the containers whose restart
//! policy asks for it.

use crate::config::RestartName;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;
use crate::lifecycle::StartMode;

/// Whether a stopped container should be started again at boot: `always` (even if the user
/// stopped it, as Docker's), and `unless-stopped` unless the user stopped it.
pub fn wants_restore(c: &Container) -> bool {
    if c.state.status != Status::Exited {
        return false;
    }
    match c.config.host.restart_policy.name {
        RestartName::Always => true,
        RestartName::UnlessStopped => !c.state.manually_stopped,
        _ => false,
    }
}

impl Engine {
    /// Starts every container that `wants_restore` (a container the state called running
    /// whose monitor is gone is first recorded as exited). Returns each container tried,
    /// with the result of its start: one failure does not stop the others.
    pub fn restore(&self) -> Result<Vec<(Container, Result<()>)>> {
        let mut out = Vec::new();
        for c in self.containers()? {
            if !wants_restore(&c) {
                continue;
            }
            let res = self.start(&c.id, StartMode::Now).map(|_| ());
            out.push((c, res));
        }
        Ok(out)
    }
}

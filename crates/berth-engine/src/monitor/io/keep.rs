//! The monitor's side of its keeper (`super::super::keeper`): what it hands over after
//! each change of the container's stdio, a new keeper when the old one dies, and the exit
//! code of an adopted init (not our child) through its pidfd.

use std::os::fd::AsFd;

use super::super::keeper::{Keeper, KeeperArgs, Role};
use super::Monitor;

/// The exit code recorded when an adopted container's status could not be read (the
/// kernel keeps it only for pidfd holders, and only while it is a zombie or once reaped).
pub(crate) const LOST_EXIT_CODE: i32 = 255;

impl Monitor<'_> {
    /// Gives the keeper copies of the container's current stdio and init pidfd.
    pub(crate) fn keep_stdio(&self) {
        let Some(k) = &self.keeper else { return };
        let _ = if self.tty {
            let _ = k.release(Role::Stdout);
            let _ = k.release(Role::Stderr);
            let _ = k.release(Role::Stdin);
            match &self.master {
                Some(m) => k.hold(Role::Pty, m.as_fd()),
                None => k.release(Role::Pty),
            }
        } else {
            for (role, i) in [(Role::Stdout, 0), (Role::Stderr, 1)] {
                let _ = match self.outputs.iter().find(|(_, s)| *s == i) {
                    Some((fd, _)) => k.hold(role, fd.as_fd()),
                    None => k.release(role),
                };
            }
            match &self.stdin_w {
                Some(w) => k.hold(Role::Stdin, w.as_fd()),
                None => k.release(Role::Stdin),
            }
        };
        let _ = match &self.init_pidfd {
            Some(p) => k.hold(Role::Init, p.as_fd()),
            None => k.release(Role::Init),
        };
    }

    /// The keeper's pid and start time, for the state (0, 0 without one).
    pub(crate) fn keeper_ids(&self) -> (i32, u64) {
        self.keeper.as_ref().map_or((0, 0), |k| {
            let start = berth_runtime::util::proc_stat(k.pid).map_or(0, |s| s.start_time);
            (k.pid, start)
        })
    }

    /// A new keeper, holding what the dead one held.
    pub(crate) fn restart_keeper(&mut self) {
        let args = KeeperArgs {
            root: self.engine.paths.root.clone(),
            runroot: self.engine.paths.runroot.clone(),
            id: self.c.id.clone(),
        };
        self.keeper = Keeper::start(&args).ok();
        // A fork that failed is tried again a second later.
        self.keeper_due = self
            .keeper
            .is_none()
            .then(|| std::time::Instant::now() + std::time::Duration::from_secs(1));
        self.keep_stdio();
        let ids = self.keeper_ids();
        let _ = self.engine.db.update_state(&self.c.id, |s| {
            (s.keeper_pid, s.keeper_start) = ids;
            Ok(())
        });
    }

    /// The container is done for good: the keeper goes without starting anyone.
    pub(crate) fn dismiss_keeper(&mut self) {
        // Dropped: dismissed.
        self.keeper = None;
    }

    /// The exit code of the adopted init, whose pidfd said it exited.
    pub(crate) fn adopted_exit_code(&self) -> i32 {
        self.init_pidfd
            .as_ref()
            .and_then(|p| crate::pidfd::exit_code_of(p.as_fd(), self.init_pid, self.init_start))
            .unwrap_or(LOST_EXIT_CODE)
    }
}

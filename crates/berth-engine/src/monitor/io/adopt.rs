//! Adopting a container whose monitor died: the new monitor takes the stdio its keeper kept
//! (pipes with whatever the container wrote meanwhile still in them, or the pty), watches
//! the init through a pidfd (it is not its parent), serves attach clients again and goes on
//! as any monitor does: log, health checks, exit status, restart policy.

use std::os::fd::{AsFd, OwnedFd};

use berth_runtime::Runtime;

use super::super::Notify;
use super::super::keeper::{Keeper, Role};
use super::{Monitor, nonblocking};
use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pidfd;

impl<'a> Monitor<'a> {
    /// A monitor for container `c`, whose stdio is in `held` (empty when the keeper died
    /// too: the container's output is then lost, but its life and exit status are not).
    /// None when another live monitor is in charge of it already.
    pub(crate) fn adopt(
        engine: &'a Engine,
        c: &Container,
        notify: &'a mut Notify,
        keeper: Option<Keeper>,
        mut held: Vec<(Role, OwnedFd)>,
        rt: &Runtime,
    ) -> Result<Option<Monitor<'a>>> {
        // Under the container's lock, before touching anything of it (its attach socket):
        // one adopter wins (a command that starts one records it as the monitor before it
        // lets go of the lock).
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let start = berth_runtime::util::proc_stat(me).map_or(0, |s| s.start_time);
        let keeper_ids = keeper.as_ref().map_or((0, 0), |k| {
            (
                k.pid,
                berth_runtime::util::proc_stat(k.pid).map_or(0, |s| s.start_time),
            )
        });
        {
            let _lock = engine.lock_container(&c.id)?;
            let mine = engine.db.update_state(&c.id, |s| {
                let other = s.monitor_pid != me
                    && crate::engine::monitor_alive(s.monitor_pid, s.monitor_start);
                if !other {
                    s.monitor_pid = me;
                    s.monitor_start = start;
                    s.monitor_proto = crate::proto::VERSION;
                    (s.keeper_pid, s.keeper_start) = keeper_ids;
                }
                Ok(!other)
            })?;
            if !mine {
                return Ok(None);
            }
        }
        let mut m = Monitor::base(engine, c, notify, None, keeper)?;
        let mut take = |role: Role| {
            held.iter()
                .position(|(r, _)| *r == role)
                .map(|i| held.remove(i).1)
        };
        if m.tty {
            if let Some(master) = take(Role::Pty) {
                nonblocking(master.as_fd());
                let dup = master
                    .try_clone()
                    .map_err(|e| Error::io("dup the pty", e))?;
                m.outputs = vec![(dup, 0)];
                if c.config.open_stdin {
                    m.stdin_w = Some(
                        master
                            .try_clone()
                            .map_err(|e| Error::io("dup the pty", e))?,
                    );
                }
                m.master = Some(master);
            }
        } else {
            for (role, stream) in [(Role::Stdout, 0), (Role::Stderr, 1)] {
                if let Some(fd) = take(role) {
                    nonblocking(fd.as_fd());
                    m.outputs.push((fd, stream));
                }
            }
            m.stdin_w = take(Role::Stdin);
        }
        let held_pidfd = take(Role::Init);
        // The init as the runtime recorded it; a held pidfd pins the very process.
        if let Ok(rc) = rt.load(&c.id) {
            m.init_pid = rc.saved.pid;
            m.init_start = rc.saved.start_time;
            m.init_pidfd = match held_pidfd {
                Some(p) if pidfd::pid_of(p.as_fd()).is_none_or(|pid| pid == m.init_pid) => Some(p),
                _ => pidfd::open(m.init_pid, m.init_start).ok(),
            };
        }
        m.adopted = true;
        m.keep_stdio();
        if m.health.enabled() {
            m.health.started();
        }
        Ok(Some(m))
    }

    /// Whether the adopted container has a live init to watch.
    pub(crate) fn has_init(&self) -> bool {
        self.init_pid > 0 && self.init_pidfd.is_some()
    }

    /// The exit code of an adopted init that is already dead: from its zombie, if nobody
    /// reaped it yet.
    pub(crate) fn dead_init_code(&self) -> i32 {
        crate::pidfd::zombie_status(self.init_pid, self.init_start)
            .map_or(super::LOST_EXIT_CODE, crate::pidfd::exit_code)
    }
}

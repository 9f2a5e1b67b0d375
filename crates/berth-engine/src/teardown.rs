//! Ending a container's life: waiting for its monitor, unmounting what it held, the
//! `--rm` cleanup, and the recovery of a container whose monitor died.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::{Cancel, SLICE};
use crate::config::MountKind;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;

/// Waits until the container's monitor has exited (it does once the container stopped for
/// good); false on timeout.
pub(crate) fn wait_monitor(c: &Container, timeout: Duration) -> bool {
    wait_monitor_or_cancel(c, Some(timeout), None).unwrap_or(false)
}

/// Waits until the container's monitor has exited, at most `timeout` (None: no limit);
/// `Ok(false)` on timeout, `Err(Cancelled)` when `cancel` fires first.
pub(crate) fn wait_monitor_or_cancel(
    c: &Container,
    timeout: Option<Duration>,
    cancel: Option<&Cancel>,
) -> Result<bool> {
    let pid = c.state.monitor_pid;
    let alive = || crate::engine::monitor_alive(pid, c.state.monitor_start);
    if !alive() {
        return Ok(true);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let cancelled = || cancel.map_or(Ok(()), |k| k.check("wait"));
    // A pidfd tells us the moment the monitor exits, without polling; the slices let a
    // cancel through.
    // SAFETY: pidfd_open takes a pid and flags, no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: pidfd_open returned a new descriptor that we own, or an error.
    let pidfd: Option<OwnedFd> = unsafe { berth_runtime::util::owned_fd(fd) }.ok();
    loop {
        cancelled()?;
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        let slice = left.map_or(SLICE, |l| l.min(SLICE));
        match &pidfd {
            Some(fd) => {
                let ms = u16::try_from(slice.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(fd),
                    nix::poll::PollFlags::POLLIN,
                )];
                if let Ok(n) = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))
                    && n > 0
                {
                    return Ok(true);
                }
            }
            None => std::thread::sleep(slice.min(Duration::from_millis(5))),
        }
        if !alive() {
            return Ok(true);
        }
    }
}

/// Waits until container `id` is down for good: not live, and its monitor gone (its
/// teardown done), at most `timeout` (None: no limit); Ok(false) on timeout. It follows the
/// container through adoptions (a new monitor after one died), and records the exit itself
/// when neither a monitor nor a keeper is left to do it and no adopter can be started (the
/// caller holds the container's lock).
pub(crate) fn wait_down(
    engine: &Engine,
    id: &str,
    timeout: Option<Duration>,
    cancel: Option<&Cancel>,
) -> Result<bool> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let c = match engine.db.find(id) {
            Ok(c) => c,
            Err(crate::error::Error::NoSuchContainer(_)) => return Ok(true),
            Err(e) => return Err(e),
        };
        let s = &c.state;
        let monitor = crate::engine::monitor_alive(s.monitor_pid, s.monitor_start);
        if !s.status.is_live() && !monitor {
            return Ok(true);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        let slice = left.map_or(Duration::from_millis(200), |l| {
            l.min(Duration::from_millis(200))
        });
        if monitor {
            wait_monitor_or_cancel(&c, Some(slice), cancel)?;
            continue;
        }
        if !berth_runtime::util::process_alive(s.keeper_pid, s.keeper_start) {
            let init_alive = berth_runtime::Runtime::new(engine.paths.runtime_root())
                .and_then(|rt| rt.load(&c.id))
                .is_ok_and(|rc| rc.status() != berth_runtime::Status::Stopped);
            if init_alive {
                orphaned(engine, &c)?;
            } else {
                recover_orphan(engine, &c)?;
                continue;
            }
        }
        let pause = slice.min(Duration::from_millis(20));
        match cancel {
            Some(k) => k.sleep(pause, "wait")?,
            None => std::thread::sleep(pause),
        }
    }
}

/// Whether `p` is a mount point (its device differs from its parent's, or mountinfo says).
pub(crate) fn is_mountpoint(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Some(parent)) = (std::fs::symlink_metadata(p), p.parent()) else {
        return false;
    };
    match std::fs::metadata(parent) {
        Ok(b) if a.dev() != b.dev() => true,
        // An overlay on the same device: look at the mount table.
        _ => std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| {
                let s = p.to_string_lossy();
                m.lines().any(|l| l.split(' ').nth(4) == Some(&*s))
            })
            .unwrap_or(false),
    }
}

/// Releases what a container held while it ran: its rootfs, the filesystems of the `type`
/// volumes (tmpfs, bind...) that no other running container uses, and its network
/// endpoints (veth, pinned namespace, address).
pub(crate) fn unmount_rootfs(engine: &Engine, id: &str) -> Result<()> {
    let net = crate::network::release_begin(engine, id, true);
    let res = unmount_local(engine, id);
    // A veth that cannot go now keeps its row: the next command's reconcile retries, and
    // the rest of the teardown goes on.
    let _ = net.finish(engine);
    res
}

/// `unmount_rootfs` but the network: the rootfs and the volumes.
pub(crate) fn unmount_local(engine: &Engine, id: &str) -> Result<()> {
    let rootfs = engine.paths.rootfs(id);
    while is_mountpoint(&rootfs) {
        berth_image::snapshot::unmount(&rootfs)?;
    }
    if let Ok(c) = engine.db.find(id) {
        for m in &c.config.host.mounts {
            if m.kind == MountKind::Volume {
                crate::voldriver::release(engine, &m.source, id)?;
            }
        }
    }
    Ok(())
}

/// After the container stopped for good (called by its monitor): release the rootfs, and
/// with --rm remove the container. The veths are removed meanwhile (`release_begin`),
/// and their rows once that is done.
pub(crate) fn after_final_exit(engine: &Engine, c: &Container) -> Result<()> {
    let net = crate::network::release_begin(engine, &c.id, true);
    // The records go while the veths are removed; the events after the disconnects.
    let res = unmount_local(engine, &c.id).and_then(|()| {
        if c.config.host.auto_remove {
            engine.remove_records_but(c, true, true)?;
        }
        Ok(())
    });
    let _ = net.finish(engine);
    crate::network::mode_event(engine, c, "disconnect");
    res?;
    if c.config.host.auto_remove {
        engine.event("container", "destroy", c, &[]);
    }
    Ok(())
}

/// The monitor of a live container is gone. Its keeper starts an adopting monitor by
/// itself; without a keeper (it died too) one is started from here, holding nothing of the
/// container's stdio but watching its life and exit status, and applying its restart
/// policy. Only a container the runtime does not know (its state is in the run root, which
/// a reboot empties) is recorded as exited, with its leftovers released: `system restore`
/// starts those.
pub(crate) fn orphaned(engine: &Engine, c: &Container) -> Result<()> {
    let s = &c.state;
    if berth_runtime::util::process_alive(s.keeper_pid, s.keeper_start) {
        return Ok(());
    }
    let known = berth_runtime::Runtime::new(engine.paths.runtime_root())
        .and_then(|rt| rt.load(&c.id))
        .is_ok();
    if known || s.status == Status::Restarting {
        return spawn_adopter(engine, c);
    }
    recover_orphan(engine, c)
}

/// Starts `berth-monitor --adopt` for `c`, recorded as its monitor before the container's
/// lock is released, so that no other command starts a second one. Nothing happens while
/// another process holds the lock (it will see the container itself).
fn spawn_adopter(engine: &Engine, c: &Container) -> Result<()> {
    let Some(_lock) = engine.try_lock_container(&c.id)? else {
        return Ok(());
    };
    let fresh = engine.db.find(&c.id)?;
    let s = &fresh.state;
    if !s.status.is_live()
        || crate::engine::monitor_alive(s.monitor_pid, s.monitor_start)
        || berth_runtime::util::process_alive(s.keeper_pid, s.keeper_start)
    {
        return Ok(());
    }
    let mut args = crate::proto::monitor_args(&engine.paths.root, &engine.paths.runroot, &c.id);
    args.push("--adopt".into());
    engine.children.reap();
    let pid = crate::spawn::spawn(engine.monitor_bin(), &args, &[])?;
    engine.children.adopt(pid);
    let start = berth_runtime::util::proc_stat(pid).map_or(0, |st| st.start_time);
    engine.db.update_state(&c.id, |s| {
        s.monitor_pid = pid;
        s.monitor_start = start;
        s.keeper_pid = 0;
        s.keeper_start = 0;
        Ok(())
    })
}

/// The exit code of a container init that is a zombie now (nobody reaped it yet).
fn zombie_exit_code(engine: &Engine, c: &Container) -> Option<i32> {
    let rt = berth_runtime::Runtime::new(engine.paths.runtime_root()).ok()?;
    let rc = rt.load(&c.id).ok()?;
    crate::pidfd::zombie_status(rc.saved.pid, rc.saved.start_time).map(crate::pidfd::exit_code)
}

/// A live container nothing can adopt (the runtime has forgotten it, or its init is dead
/// and the caller holds its lock): kill what may be left of it, record the exit and
/// release its mounts.
fn recover_orphan(engine: &Engine, c: &Container) -> Result<()> {
    let mut oom = false;
    if let Ok(rt) = berth_runtime::Runtime::new(engine.paths.runtime_root())
        && let Ok(rc) = rt.load(&c.id)
    {
        oom = rc.saved.cgroup.oom_kills() > 0;
        let _ = rc.delete(true);
    }
    // A zombie still tells its exit status; otherwise it is lost (as after a reboot).
    let code = zombie_exit_code(engine, c).unwrap_or(137);
    engine.db.update_state(&c.id, |s| {
        if s.status.is_live() {
            s.status = Status::Exited;
            s.exit_code = code;
            s.error = "the container's monitor died and nothing could adopt it".into();
            s.oom_killed = oom;
            s.pid = 0;
            s.finished_at = berth_runtime::util::rfc3339(SystemTime::now());
            s.health = None;
        }
        Ok(())
    })?;
    unmount_rootfs(engine, &c.id)?;
    let _ = std::fs::remove_dir_all(engine.paths.run_dir(&c.id));
    crate::volumes::unmount_events(engine, c);
    engine.die_event(c, code);
    if c.config.host.auto_remove {
        let fresh = engine.db.find(&c.id)?;
        engine.remove_records(&fresh, true)?;
    }
    Ok(())
}

/// Removes an auto-remove container whose starter died before starting it (under its lock,
/// so that it is done once); what a start had prepared (mounts, runtime state) goes too.
pub(crate) fn remove_abandoned(engine: &Engine, c: &Container) -> Result<()> {
    let _lock = match engine.lock_container(&c.id) {
        Ok(l) => l,
        // Removed meanwhile.
        Err(crate::error::Error::NoSuchContainer(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    match engine.db.find(&c.id) {
        Ok(fresh) if fresh.abandoned() => {
            engine.remove_records(&fresh, true)?;
            engine.event("container", "destroy", &fresh, &[]);
            Ok(())
        }
        // Removed or started meanwhile.
        _ => Ok(()),
    }
}

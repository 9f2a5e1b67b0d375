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
    let pidfd: Option<OwnedFd> = (fd >= 0).then(|| {
        // SAFETY: pidfd_open returned a new descriptor that we own.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) }
    });
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

/// Releases what a container held mounted while it ran: its rootfs, and the filesystems of
/// the `type` volumes (tmpfs, bind...) that no other running container uses.
pub(crate) fn unmount_rootfs(engine: &Engine, id: &str) -> Result<()> {
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
/// with --rm remove the container.
pub(crate) fn after_final_exit(engine: &Engine, c: &Container) -> Result<()> {
    unmount_rootfs(engine, &c.id)?;
    if c.config.host.auto_remove {
        engine.remove_records(c, true)?;
        engine.event("container", "destroy", c, &[]);
    }
    Ok(())
}

/// The monitor of a live container is gone: kill what is left and record the exit.
pub(crate) fn recover_orphan(engine: &Engine, c: &Container) -> Result<()> {
    let mut oom = false;
    if let Ok(rt) = berth_runtime::Runtime::new(engine.paths.runtime_root())
        && let Ok(rc) = rt.load(&c.id)
    {
        oom = rc.saved.cgroup.oom_kills() > 0;
        let _ = rc.delete(true);
    }
    engine.db.update_state(&c.id, |s| {
        if s.status.is_live() {
            s.status = Status::Exited;
            s.exit_code = 137;
            s.error = "the container's monitor died".into();
            s.oom_killed = oom;
            s.pid = 0;
            s.finished_at = berth_runtime::util::rfc3339(SystemTime::now());
            s.health = None;
        }
        Ok(())
    })?;
    unmount_rootfs(engine, &c.id)?;
    let _ = std::fs::remove_dir_all(engine.paths.run_dir(&c.id));
    engine.event("container", "die", c, &[("exitCode", "137".into())]);
    if c.config.host.auto_remove {
        let fresh = engine.db.find(&c.id)?;
        engine.remove_records(&fresh, true)?;
    }
    Ok(())
}

/// Removes an auto-remove container whose starter died before starting it (under its lock,
/// so that it is done once); what a start had prepared (mounts, runtime state) goes too.
pub(crate) fn remove_abandoned(engine: &Engine, c: &Container) -> Result<()> {
    let _lock = engine.lock_container(&c.id)?;
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

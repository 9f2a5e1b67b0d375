//! Ending a container's life: waiting for its monitor, unmounting what it held, the
//! `--rm` cleanup, and the recovery of a container whose monitor died.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::config::MountKind;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;

/// Waits until the container's monitor has exited (it does once the container stopped for
/// good); false on timeout.
pub(crate) fn wait_monitor(c: &Container, timeout: Duration) -> bool {
    let pid = c.state.monitor_pid;
    if !crate::engine::monitor_alive(pid, c.state.monitor_start) {
        return true;
    }
    let deadline = Instant::now().checked_add(timeout);
    // A pidfd tells us the moment the monitor exits, without polling.
    // SAFETY: pidfd_open takes a pid and flags, no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd >= 0 {
        // SAFETY: pidfd_open returned a new descriptor that we own.
        let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) };
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return false;
            }
            let ms = left
                .map(|l| l.as_millis().min(60_000) as u16)
                .unwrap_or(60_000);
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&fd),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                Ok(n) if n > 0 => return true,
                _ => {}
            }
            if !crate::engine::monitor_alive(pid, c.state.monitor_start) {
                return true;
            }
        }
    }
    while crate::engine::monitor_alive(pid, c.state.monitor_start) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
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

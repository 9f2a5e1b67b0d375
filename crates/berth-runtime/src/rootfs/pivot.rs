//! Making the rootfs the container's `/`: pivot_root, or for `--no-pivot` (root filesystems
//! on ramfs, where pivot_root is refused) MS_MOVE + chroot with the host's procfs and sysfs
//! mounts detached first.
//!
//! Why the detaching: after a chroot the host's mounts are still in the container's mount
//! namespace, only out of sight. The kernel lets a process that creates a user namespace
//! mount a fresh procfs or sysfs only if a fully visible one already exists in its mount
//! namespace; the host's /proc beneath the chroot is one, so without this a container could
//! mount a writable procfs of its own (runc refuses the same, for the same reason).

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use rustix::fs::{Mode, OFlags};

use super::io;
use crate::error::{Context, Result};
use crate::sys;

/// Makes the rootfs the container's `/` (pivot_root, or MS_MOVE + chroot with `no_pivot`).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        hide_host_kernel_filesystems(rootfs)?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .ctx(|| "move the rootfs to /")?;
        nix::unistd::chroot(".").ctx(|| "chroot")?;
    } else {
        let old = rustix::fs::open(
            "/",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .ctx(|| "open the old root")?;
        sys::pivot_root_dot().ctx(|| format!("pivot_root into {}", rootfs.display()))?;
        // The old root is now stacked on "/": detach it without propagating the unmount.
        rustix::process::fchdir(&old)
            .map_err(io)
            .ctx(|| "fchdir to the old root")?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "make the old root a slave")?;
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach the old root")?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir /")?;
    Ok(())
}

/// A mountinfo path with its octal escapes (`\040` for a space...) decoded.
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

/// The mount points of procfs and sysfs mounts that show a whole filesystem (root "/")
/// outside `rootfs`, deepest first, from mountinfo text.
fn host_kernel_mounts(info: &str, rootfs: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            let (root, mp, fstype) = (f.get(3)?, f.get(4)?, f.get(sep + 1)?);
            let mp = unescape(mp);
            (*root == "/" && matches!(*fstype, "proc" | "sysfs") && !mp.starts_with(rootfs))
                .then_some(mp)
        })
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Detaches (or, where that is refused, covers with an empty tmpfs) every procfs and sysfs
/// mount outside the rootfs. Our mount namespace's mounts are slaves of the host's (or
/// private), so nothing of this reaches the host.
fn hide_host_kernel_filesystems(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo")?;
    for mp in host_kernel_mounts(&info, rootfs) {
        match umount2(&mp, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            // Gone with a parent detached before it.
            Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::EINVAL)
                if !mp.exists() || !is_kernel_fs(&mp) => {}
            Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::EPERM) => {
                mount(
                    Some("tmpfs"),
                    &mp,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                    Some("size=0,mode=0"),
                )
                .ctx(|| format!("cover {} for --no-pivot", mp.display()))?;
            }
            Err(e) => return Err(e).ctx(|| format!("detach {} for --no-pivot", mp.display())),
        }
    }
    Ok(())
}

/// Whether `p` is still a procfs or sysfs mount.
fn is_kernel_fs(p: &Path) -> bool {
    nix::sys::statfs::statfs(p).is_ok_and(|s| {
        s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC
            || s.filesystem_type() == nix::sys::statfs::SYSFS_MAGIC
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_mounts_outside_the_rootfs() {
        let info = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
23 1 0:22 / /sys rw - sysfs sysfs rw
24 22 0:23 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw
25 1 0:21 /sys /mnt/partial rw - proc proc rw
26 1 0:24 / /run/c/rootfs/proc rw - proc proc rw
27 1 0:22 / /mnt/with\\040space rw - sysfs sysfs rw
";
        let got = host_kernel_mounts(info, Path::new("/run/c/rootfs"));
        assert_eq!(
            got,
            [
                PathBuf::from("/mnt/with space"),
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
            ]
        );
    }
}

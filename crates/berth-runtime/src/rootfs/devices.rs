//! Device nodes in the container's /dev: the standard set, its symlinks, and the spec's
//! devices (mknod, or a bind mount of the host's node inside a user namespace).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::Mode;

use super::{Create, RootfsCtx, io, mount_fd, open_in_root};
use crate::error::{Context, Error, Result};

pub(super) fn default_devices() -> Vec<LinuxDevice> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(n, ma, mi)| {
        oci_spec::runtime::LinuxDeviceBuilder::default()
            .path(format!("/dev/{n}"))
            .typ(LinuxDeviceType::C)
            .major(*ma)
            .minor(*mi)
            .file_mode(0o666u32)
            .uid(0u32)
            .gid(0u32)
            .build()
            .unwrap_or_default()
    })
    .collect()
}

/// The device number of a `linux.devices` entry (`field` names it in errors): major and
/// minor are refused when negative or above u32::MAX, where makedev would wrap them.
pub(crate) fn dev_number(d: &LinuxDevice, field: &str) -> Result<rustix::fs::Dev> {
    let part = |name: &str, v: i64| {
        u32::try_from(v).map_err(|_| {
            Error::spec(
                format!("{field}.{name}"),
                format!("{v} is out of range 0-{}", u32::MAX),
            )
        })
    };
    Ok(rustix::fs::makedev(
        part("major", d.major())?,
        part("minor", d.minor())?,
    ))
}

pub(super) fn default_symlinks(dev: &OwnedFd) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        let mut r = rustix::fs::symlinkat(target, dev, name);
        if r == Err(rustix::io::Errno::EXIST) && name == "ptmx" {
            // A ptmx node from a bind or earlier mount: the devpts one replaces it.
            let _ = rustix::fs::unlinkat(dev, name, rustix::fs::AtFlags::empty());
            r = rustix::fs::symlinkat(target, dev, name);
        }
        match r {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io(e)).ctx(|| format!("symlink /dev/{name}")),
        }
    }
    Ok(())
}

pub(super) fn create_device(
    ctx: &RootfsCtx,
    root: &OwnedFd,
    dev_dir: &OwnedFd,
    d: &LinuxDevice,
) -> Result<()> {
    let path = d.path();
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let name = path.file_name().ok_or_else(|| {
        Error::spec(
            "linux.devices.path",
            format!("{} has no name", path.display()),
        )
    })?;
    let own;
    let pfd = if parent == Path::new("/dev") {
        dev_dir
    } else {
        own = open_in_root(root, parent, Create::Dir, true)?;
        &own
    };
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => rustix::fs::FileType::CharacterDevice,
        LinuxDeviceType::B => rustix::fs::FileType::BlockDevice,
        LinuxDeviceType::P => rustix::fs::FileType::Fifo,
        LinuxDeviceType::A => {
            return Err(Error::spec(
                "linux.devices.type",
                format!("{}: type a is only valid in cgroup rules", path.display()),
            ));
        }
    };
    let mode = Mode::from_raw_mode(d.file_mode().unwrap_or(0o666));
    let dev = dev_number(d, "linux.devices")?;
    let mknod = || rustix::fs::mknodat(pfd, name, kind, mode, dev);
    let made = if ctx.userns {
        Err(rustix::io::Errno::PERM)
    } else {
        match mknod() {
            Err(rustix::io::Errno::EXIST) => {
                // Replace what the image or an earlier entry put there.
                let _ = rustix::fs::unlinkat(pfd, name, rustix::fs::AtFlags::empty());
                mknod()
            }
            r => r,
        }
    };
    match made {
        Ok(()) => {
            // The init runs with umask 0, so mknod gave the exact mode; the owner is root
            // unless the spec says otherwise.
            if d.uid().is_some_and(|u| u != 0) || d.gid().is_some_and(|g| g != 0) {
                let uid = d.uid().map(rustix::fs::Uid::from_raw);
                let gid = d.gid().map(rustix::fs::Gid::from_raw);
                rustix::fs::chownat(pfd, name, uid, gid, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io)
                    .ctx(|| format!("chown {}", path.display()))?;
            }
            Ok(())
        }
        Err(rustix::io::Errno::PERM) => {
            // In a user namespace: bind the host's device node instead.
            let t = open_in_root(root, path, Create::File, false)?;
            mount_fd(
                Some(&path.to_string_lossy()),
                &t,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .ctx(|| format!("bind the host's {}", path.display()))
        }
        Err(e) => Err(io(e)).ctx(|| format!("mknod {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_must_fit_makedev() {
        let dev = |major: i64, minor: i64| {
            oci_spec::runtime::LinuxDeviceBuilder::default()
                .path("/dev/x")
                .typ(LinuxDeviceType::C)
                .major(major)
                .minor(minor)
                .build()
                .unwrap()
        };
        assert_eq!(
            dev_number(&dev(1, 3), "d").unwrap(),
            rustix::fs::makedev(1, 3)
        );
        let e = dev_number(&dev(-1, 3), "linux.devices[0]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.json: linux.devices[0].major: -1 is out of range 0-4294967295"
        );
        let e = dev_number(&dev(1, 1 << 32), "linux.devices[2]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.json: linux.devices[2].minor: 4294967296 is out of range 0-4294967295"
        );
    }
}

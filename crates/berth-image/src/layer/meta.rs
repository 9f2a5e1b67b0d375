//! Owner, mode, times and extended attributes of extracted entries, set on descriptors or
//! with `*at` calls that do not follow the last component, never by path: a process that
//! swaps an entry for a symlink while it is extracted cannot redirect them.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use super::extract::Owners;
use super::unpack::{Ctx, lossy};
use crate::error::Result;

pub(super) fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

impl Ctx<'_> {
    /// The uid/gid an entry gets under the policy; None: leave the caller's.
    fn owner_of<R: Read>(&self, entry: &tar::Entry<'_, R>) -> Option<(u32, u32)> {
        let h = entry.header();
        match self.policy.owners {
            Owners::FromArchive => Some((id32(h.uid().unwrap_or(0)), id32(h.gid().unwrap_or(0)))),
            Owners::Fixed { uid, gid } => Some((uid, gid)),
            Owners::Caller => None,
        }
    }

    /// The permission bits an entry gets under the policy.
    fn mode_of<R: Read>(&self, entry: &tar::Entry<'_, R>) -> u32 {
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        if self.policy.drop_setid {
            mode & !0o6000
        } else {
            mode
        }
    }

    /// Owner, mode and xattrs on an open file or directory.
    pub(super) fn set_meta_fd<R: Read>(
        &self,
        raw: &[u8],
        fd: &OwnedFd,
        entry: &mut tar::Entry<'_, R>,
        _is_dir: bool,
    ) -> Result<()> {
        if let Some((uid, gid)) = self.owner_of(entry) {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| self.sys(raw, "chown", e))?;
        }
        // After chown, which clears set-id bits.
        rustix::fs::fchmod(fd, Mode::from(self.mode_of(entry)))
            .map_err(|e| self.sys(raw, "chmod", e))?;
        if !self.policy.xattrs {
            return Ok(());
        }
        for (k, v) in xattrs(entry) {
            match rustix::fs::fsetxattr(fd, k.as_str(), &v, XattrFlags::empty()) {
                Ok(()) => {}
                Err(Errno::OPNOTSUPP) | Err(Errno::PERM) => {
                    tracing::debug!("skipping xattr {k} on {}", lossy(raw));
                }
                Err(e) => return Err(self.sys(raw, "set xattr", e)),
            }
        }
        Ok(())
    }

    /// Owner, mode, times and xattrs on a symlink or device node, never following it.
    pub(super) fn set_meta_at<R: Read>(
        &self,
        raw: &[u8],
        parent: &OwnedFd,
        name: &OsStr,
        entry: &mut tar::Entry<'_, R>,
        is_link: bool,
    ) -> Result<()> {
        if let Some((uid, gid)) = self.owner_of(entry) {
            rustix::fs::chownat(
                parent,
                name,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.sys(raw, "chown", e))?;
        }
        if !is_link {
            chmod_nofollow(parent, name, self.mode_of(entry))
                .map_err(|e| self.sys(raw, "chmod", e))?;
        }
        let mtime = entry.header().mtime().unwrap_or(0);
        rustix::fs::utimensat(parent, name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.sys(raw, "set times", e))?;
        if !self.policy.xattrs {
            return Ok(());
        }
        let xs = xattrs(entry);
        if !xs.is_empty() {
            // lsetxattr through the parent's /proc/self/fd link: the parent is resolved by
            // the kernel from the fd, and the last component is not followed.
            let mut p = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            p.extend_from_slice(name.as_bytes());
            let p = OsStr::from_bytes(&p);
            for (k, v) in xs {
                match rustix::fs::lsetxattr(p, k.as_str(), &v, XattrFlags::empty()) {
                    Ok(()) | Err(Errno::OPNOTSUPP) | Err(Errno::PERM) => {}
                    Err(e) => return Err(self.sys(raw, "set xattr", e)),
                }
            }
        }
        Ok(())
    }
}

/// chmod of `name` in `parent` without following it: chmod(2) and fchmodat(2) follow a
/// symlink, so a node swapped for one between its creation and its chmod would send the
/// chmod anywhere. The node is pinned by an O_PATH descriptor, checked not to be a symlink,
/// and changed through that descriptor's /proc/self/fd link, which is the pinned inode.
fn chmod_nofollow(parent: &OwnedFd, name: &OsStr, mode: u32) -> Result<(), Errno> {
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(Errno::LOOP);
    }
    rustix::fs::chmod(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        Mode::from(mode),
    )
}

fn id32(v: u64) -> u32 {
    // Out-of-range ids (and -1) map to nobody-ish 65534 rather than "no change".
    match u32::try_from(v) {
        Ok(id) if id != u32::MAX => id,
        _ => 65534,
    }
}

/// Extended attributes carried in PAX `SCHILY.xattr.*` records, minus overlay's own.
fn xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                if name.starts_with("trusted.overlay.") || name.is_empty() {
                    continue;
                }
                out.push((name.to_owned(), ext.value_bytes().to_vec()));
            }
        }
    }
    out
}

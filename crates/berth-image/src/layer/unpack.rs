//! Safe extraction of a layer tar into a directory.
//!
//! Every path is checked (no absolute paths, no `..`), parents are opened with
//! `openat2(RESOLVE_BENEATH)` so a symlink can never lead a write outside the layer, and the
//! last component is always created with `*at` calls that do not follow symlinks.
//! Whiteouts become overlayfs whiteouts (char device 0:0, `trusted.overlay.opaque=y`) or, in
//! `Apply` mode (plain-copy snapshots), deletions.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

use std::os::fd::AsRawFd;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::fsutil::{
    clear_dir_except, lstat_type, open_dir_beneath, open_dir_nofollow, remove_all_at,
};
use crate::error::{Error, Result};

pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What to do with OCI whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Turn them into overlayfs whiteouts (layer directories used as overlay lowers).
    Overlay,
    /// Delete what they hide (applying layers onto one directory).
    Apply,
}

/// Options for [`unpack_tar`].
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    pub whiteouts: WhiteoutMode,
    /// Set owners from the tar headers (needs CAP_CHOWN; failures are errors when true).
    pub same_owner: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            whiteouts: WhiteoutMode::Overlay,
            same_owner: rustix::process::geteuid().is_root(),
        }
    }
}

struct Ctx<'a> {
    root: OwnedFd,
    layer: &'a str,
    opts: &'a UnpackOptions,
    dir_times: Vec<(Vec<u8>, u64)>,
    /// Paths written by this layer (only tracked in Apply mode).
    written: HashSet<Vec<u8>>,
    buf: Vec<u8>,
}

/// Extract an uncompressed tar stream into the existing directory `dest`.
/// `layer` names the layer in error messages.
pub fn unpack_tar<R: Read>(
    reader: R,
    dest: &std::path::Path,
    layer: &str,
    opts: &UnpackOptions,
) -> Result<()> {
    let root = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Io {
        context: "open layer directory",
        path: dest.to_owned(),
        source: e.into(),
    })?;
    let mut ctx = Ctx {
        root,
        layer,
        opts,
        dir_times: Vec::new(),
        written: HashSet::new(),
        buf: vec![0u8; 256 * 1024],
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| ctx.invalid(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ctx.invalid(format!("reading tar: {e}")))?;
        ctx.entry(&mut entry)?;
    }
    // Directory mtimes last: creating children changed them.
    for (rel, mtime) in ctx.dir_times.iter().rev() {
        if let Ok(fd) = open_dir_nofollow(&ctx.root, rel) {
            let _ = rustix::fs::futimens(&fd, &times(*mtime));
        }
    }
    Ok(())
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime.min(i64::MAX as u64) as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Split a tar path into checked components. Refuses absolute paths and `..`.
pub(crate) fn clean_path(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("has an absolute path");
    }
    if raw.contains(&0) {
        return Err("has a NUL byte in its path");
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("has a '..' path component"),
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Ctx<'_> {
    fn hostile(&self, entry: &[u8], reason: impl Into<String>) -> Error {
        Error::HostileLayer {
            layer: self.layer.to_owned(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidLayer {
            layer: self.layer.to_owned(),
            reason: crate::error::printable(&reason.into()),
        }
    }

    fn sys(&self, entry: &[u8], what: &str, e: Errno) -> Error {
        if e == Errno::XDEV {
            return self.hostile(entry, "leads outside the layer through a symlink");
        }
        self.invalid(format!(
            "entry {:?}: {what}: {}",
            String::from_utf8_lossy(entry),
            io::Error::from(e)
        ))
    }

    /// Open (creating missing directories) the parent directory `comps` beneath the root.
    fn parent(&self, entry: &[u8], comps: &[&[u8]]) -> Result<OwnedFd> {
        let rel = comps.join(&b'/');
        match open_dir_beneath(&self.root, &rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(self.sys(entry, "open parent directory", e)),
        }
        let mut cur =
            open_dir_beneath(&self.root, b"").map_err(|e| self.sys(entry, "open layer root", e))?;
        for i in 0..comps.len() {
            let prefix = comps[..=i].join(&b'/');
            cur = match open_dir_beneath(&self.root, &prefix) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur, OsStr::from_bytes(comps[i]), Mode::from(0o755))
                    {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.sys(entry, "create parent directory", e)),
                    }
                    open_dir_beneath(&self.root, &prefix)
                        .map_err(|e| self.sys(entry, "open parent directory", e))?
                }
                Err(e) => return Err(self.sys(entry, "open parent directory", e)),
            };
        }
        Ok(cur)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(());
        }
        if is_pax_sparse(entry) {
            // The tar library does not read PAX sparse maps: it would unpack the encoded map
            // and fragments as the file's content. Refused rather than unpacked wrong.
            return Err(self.invalid(format!(
                "entry {:?} is a PAX-format sparse file, which berth does not support \
                 (repack the layer without --sparse or with GNU sparse headers)",
                lossy(&raw)
            )));
        }
        let comps = clean_path(&raw).map_err(|why| self.hostile(&raw, why))?;
        let Some((name, parents)) = comps.split_last() else {
            // The layer root itself ("./").
            if kind.is_dir() {
                let fd = open_dir_beneath(&self.root, b"")
                    .map_err(|e| self.sys(&raw, "open layer root", e))?;
                self.set_meta_fd(&raw, &fd, entry, true)?;
                self.dir_times
                    .push((Vec::new(), entry.header().mtime().unwrap_or(0)));
            }
            return Ok(());
        };
        let name: &[u8] = name;
        let parent = self.parent(&raw, parents)?;

        if name == OPAQUE_MARKER {
            return self.opaque(&raw, &parent, parents);
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
                return Err(self.hostile(&raw, "is a whiteout of an invalid name"));
            }
            return self.whiteout(&raw, &parent, parents, hidden);
        }
        let osname = OsStr::from_bytes(name);
        match kind {
            EntryType::Directory => {
                match lstat_type(&parent, osname).map_err(|e| self.sys(&raw, "stat", e))? {
                    Some(FileType::Directory) => {}
                    Some(_) => {
                        remove_all_at(&parent, osname).map_err(|e| self.sys(&raw, "replace", e))?;
                        self.mkdir(&raw, &parent, osname)?;
                    }
                    None => self.mkdir(&raw, &parent, osname)?,
                }
                let fd = rustix::fs::openat(
                    &parent,
                    osname,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.sys(&raw, "open directory", e))?;
                self.set_meta_fd(&raw, &fd, entry, true)?;
                self.dir_times
                    .push((comps.join(&b'/'), entry.header().mtime().unwrap_or(0)));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.replace(&raw, &parent, osname)?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
                let fd = rustix::fs::openat(
                    &parent,
                    osname,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from(mode & 0o777),
                )
                .map_err(|e| self.sys(&raw, "create file", e))?;
                let mut file = File::from(fd);
                let mut buf = std::mem::take(&mut self.buf);
                let res = copy_with(entry, &mut file, &mut buf);
                self.buf = buf;
                res.map_err(|e| self.invalid(format!("entry {:?}: {e}", lossy(&raw))))?;
                let fd = OwnedFd::from(file);
                self.set_meta_fd(&raw, &fd, entry, false)?;
                rustix::fs::futimens(&fd, &times(entry.header().mtime().unwrap_or(0)))
                    .map_err(|e| self.sys(&raw, "set times", e))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        self.invalid(format!("symlink {:?} without target", lossy(&raw)))
                    })?
                    .into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(
                        self.invalid(format!("symlink {:?} has an invalid target", lossy(&raw)))
                    );
                }
                self.replace(&raw, &parent, osname)?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, osname)
                    .map_err(|e| self.sys(&raw, "create symlink", e))?;
                self.set_meta_at(&raw, &parent, osname, entry, true)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        self.invalid(format!("hard link {:?} without target", lossy(&raw)))
                    })?
                    .into_owned();
                let tcomps = clean_path(&target).map_err(|why| {
                    self.hostile(&raw, format!("is a hard link whose target {why}"))
                })?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(self.hostile(&raw, "is a hard link to the layer root"));
                };
                if tcomps == comps {
                    return Err(
                        self.invalid(format!("hard link {:?} points to itself", lossy(&raw)))
                    );
                }
                let tparent = open_dir_beneath(&self.root, &tparents.join(&b'/'))
                    .map_err(|e| self.sys(&raw, "open hard link target", e))?;
                let tos = OsStr::from_bytes(tname);
                match lstat_type(&tparent, tos)
                    .map_err(|e| self.sys(&raw, "stat link target", e))?
                {
                    None => {
                        return Err(self.invalid(format!(
                            "hard link {:?} to missing {:?}",
                            lossy(&raw),
                            lossy(&target)
                        )));
                    }
                    Some(FileType::Directory) => {
                        return Err(self.hostile(&raw, "is a hard link to a directory"));
                    }
                    Some(_) => {}
                }
                self.replace(&raw, &parent, osname)?;
                rustix::fs::linkat(&tparent, tos, &parent, osname, AtFlags::empty())
                    .map_err(|e| self.sys(&raw, "create hard link", e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ft, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                        let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                        let ft = if kind == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rustix::fs::makedev(major, minor))
                    }
                };
                self.replace(&raw, &parent, osname)?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                rustix::fs::mknodat(&parent, osname, ft, Mode::from(mode), dev)
                    .map_err(|e| self.sys(&raw, "create device node", e))?;
                self.set_meta_at(&raw, &parent, osname, entry, false)?;
            }
            other => {
                return Err(self.invalid(format!(
                    "entry {:?} has unsupported type {other:?}",
                    lossy(&raw)
                )));
            }
        }
        if self.opts.whiteouts == WhiteoutMode::Apply {
            self.written.insert(comps.join(&b'/'));
        }
        Ok(())
    }

    fn mkdir(&self, raw: &[u8], parent: &OwnedFd, name: &OsStr) -> Result<()> {
        rustix::fs::mkdirat(parent, name, Mode::from(0o755))
            .map_err(|e| self.sys(raw, "create directory", e))
    }

    /// Remove whatever is at `name` so a new non-directory entry can be created.
    fn replace(&self, raw: &[u8], parent: &OwnedFd, name: &OsStr) -> Result<()> {
        remove_all_at(parent, name).map_err(|e| self.sys(raw, "replace", e))
    }

    fn opaque(&mut self, raw: &[u8], parent: &OwnedFd, parents: &[&[u8]]) -> Result<()> {
        match self.opts.whiteouts {
            WhiteoutMode::Overlay => {
                rustix::fs::fsetxattr(parent, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(|e| self.sys(raw, "mark directory opaque", e))
            }
            WhiteoutMode::Apply => {
                let prefix = parents.join(&b'/');
                let written = &self.written;
                let mut keep = |n: &[u8]| {
                    let mut p = prefix.clone();
                    if !p.is_empty() {
                        p.push(b'/');
                    }
                    p.extend_from_slice(n);
                    written.contains(&p)
                };
                clear_dir_except(parent, &mut keep)
                    .map_err(|e| self.sys(raw, "clear opaque directory", e))
            }
        }
    }

    fn whiteout(
        &mut self,
        raw: &[u8],
        parent: &OwnedFd,
        parents: &[&[u8]],
        hidden: &[u8],
    ) -> Result<()> {
        let name = OsStr::from_bytes(hidden);
        match self.opts.whiteouts {
            WhiteoutMode::Overlay => {
                self.replace(raw, parent, name)?;
                rustix::fs::mknodat(parent, name, FileType::CharacterDevice, Mode::empty(), 0)
                    .map_err(|e| self.sys(raw, "create whiteout", e))
            }
            WhiteoutMode::Apply => {
                let mut p = parents.join(&b'/');
                if !p.is_empty() {
                    p.push(b'/');
                }
                p.extend_from_slice(hidden);
                if self.written.contains(&p) {
                    return Ok(());
                }
                self.replace(raw, parent, name)
            }
        }
    }

    /// Owner, mode and xattrs on an open file or directory.
    fn set_meta_fd<R: Read>(
        &self,
        raw: &[u8],
        fd: &OwnedFd,
        entry: &mut tar::Entry<'_, R>,
        _is_dir: bool,
    ) -> Result<()> {
        let h = entry.header();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        if self.opts.same_owner {
            let uid = h.uid().unwrap_or(0);
            let gid = h.gid().unwrap_or(0);
            let (uid, gid) = (id32(uid), id32(gid));
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| self.sys(raw, "chown", e))?;
        }
        // After chown, which clears set-id bits.
        rustix::fs::fchmod(fd, Mode::from(mode)).map_err(|e| self.sys(raw, "chmod", e))?;
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

    /// Owner, times and xattrs on a symlink or device node, never following it.
    fn set_meta_at<R: Read>(
        &self,
        raw: &[u8],
        parent: &OwnedFd,
        name: &OsStr,
        entry: &mut tar::Entry<'_, R>,
        is_link: bool,
    ) -> Result<()> {
        let h = entry.header();
        if self.opts.same_owner {
            let uid = id32(h.uid().unwrap_or(0));
            let gid = id32(h.gid().unwrap_or(0));
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
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            rustix::fs::chmodat(parent, name, Mode::from(mode), AtFlags::empty())
                .map_err(|e| self.sys(raw, "chmod", e))?;
        }
        let mtime = h.mtime().unwrap_or(0);
        rustix::fs::utimensat(parent, name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.sys(raw, "set times", e))?;
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

fn id32(v: u64) -> u32 {
    // Out-of-range ids (and -1) map to nobody-ish 65534 rather than "no change".
    if v >= u32::MAX as u64 {
        65534
    } else {
        v as u32
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the entry carries PAX sparse records (GNU tar's `--sparse --format=pax`: the
/// `GNU.sparse.*` keys of formats 0.0, 0.1 and 1.0).
fn is_pax_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> bool {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return false;
    };
    exts.flatten()
        .any(|e| e.key().is_ok_and(|k| k.starts_with("GNU.sparse.")))
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

fn copy_with<R: Read, W: Write>(r: &mut R, w: &mut W, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

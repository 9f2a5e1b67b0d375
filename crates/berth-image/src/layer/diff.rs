//! Turn an overlayfs upper directory into an OCI layer tar.
//!
//! Overlay whiteouts (char device 0:0) become `.wh.<name>` entries and opaque directories
//! (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry. Hard links inside the upper
//! directory are kept as tar hard links. Entries are sorted, so the output is deterministic.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, Stat};
use tar::{EntryType, Header};

use super::unpack::OVERLAY_OPAQUE_XATTR;
use crate::error::{IoContext, Result};

/// Write a layer tar of `upper` to `out`; returns the writer.
///
/// The walk goes by descriptors: each directory is opened relative to its parent's
/// descriptor with `O_NOFOLLOW`, each entry is looked at with `statat` without following
/// it, and files are opened the same way. A running container that swaps a directory of
/// its upper layer for a symlink to a host path while the walk goes on (commit without
/// pausing) makes the walk fail or see the symlink; it never reads through it.
pub fn diff_dir<W: Write>(upper: &Path, out: W) -> Result<W> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let root = open_dir(CWD, upper.as_os_str().as_bytes(), upper)?;
    walk(&root, upper, b"", &mut b, &mut links)?;
    b.into_inner().ctx("finish layer tar", upper)
}

/// Opens directory `name` under `at` without following a symlink.
fn open_dir<Fd: AsFd>(at: Fd, name: &[u8], path: &Path) -> Result<OwnedFd> {
    rustix::fs::openat(
        at,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
    .ctx("open directory", path)
}

fn walk<W: Write>(
    dir: &OwnedFd,
    dir_path: &Path,
    rel: &[u8],
    b: &mut tar::Builder<W>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for e in Dir::read_from(dir)
        .map_err(io::Error::from)
        .ctx("read directory", dir_path)?
    {
        let e = e.map_err(io::Error::from).ctx("read directory", dir_path)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    names.sort();
    for name in names {
        let path = dir_path.join(OsStr::from_bytes(&name));
        let mut relp = rel.to_vec();
        if !relp.is_empty() {
            relp.push(b'/');
        }
        relp.extend_from_slice(&name);
        let st = rustix::fs::statat(dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io::Error::from)
            .ctx("stat", &path)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft == FileType::CharacterDevice && st.st_rdev == 0 {
            // overlay whiteout
            let mut wh = rel.to_vec();
            if !wh.is_empty() {
                wh.push(b'/');
            }
            wh.extend_from_slice(b".wh.");
            wh.extend_from_slice(&name);
            let mut h = header(&st, EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            append(b, &mut h, &wh, io::empty(), &path)?;
            continue;
        }
        if ft == FileType::Directory {
            let sub = open_dir(dir, &name, &path)?;
            // What was opened, not what was looked at before (it may have been swapped).
            let st = rustix::fs::fstat(&sub)
                .map_err(io::Error::from)
                .ctx("stat", &path)?;
            let mut h = header(&st, EntryType::Directory);
            let mut p = relp.clone();
            p.push(b'/');
            append_xattrs(b, Xattrs::Fd(&sub), &path)?;
            append(b, &mut h, &p, io::empty(), &path)?;
            if is_opaque(&sub) {
                let mut op = relp.clone();
                op.extend_from_slice(b"/.wh..wh..opq");
                let mut oh = header(&st, EntryType::Regular);
                oh.set_size(0);
                oh.set_mode(0o644);
                append(b, &mut oh, &op, io::empty(), &path)?;
            }
            walk(&sub, &path, &relp, b, links)?;
            continue;
        }
        if ft == FileType::RegularFile && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = links.get(&key) {
                let mut h = header(&st, EntryType::Link);
                h.set_size(0);
                b.append_link(
                    &mut h,
                    Path::new(OsStr::from_bytes(&relp)),
                    Path::new(OsStr::from_bytes(first)),
                )
                .ctx("write hard link", &path)?;
                continue;
            }
            links.insert(key, relp.clone());
        }
        if ft == FileType::RegularFile {
            let f = rustix::fs::openat(
                dir,
                name.as_slice(),
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io::Error::from)
            .ctx("open", &path)?;
            let st = rustix::fs::fstat(&f)
                .map_err(io::Error::from)
                .ctx("stat", &path)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                return Err(io::Error::other("it changed while the layer was written"))
                    .ctx("read", &path);
            }
            append_xattrs(b, Xattrs::Fd(&f), &path)?;
            let mut h = header(&st, EntryType::Regular);
            let size = u64::try_from(st.st_size).unwrap_or(0);
            h.set_size(size);
            // Exactly the size in the header, even if the file changes meanwhile.
            let data = Exact {
                inner: std::fs::File::from(f),
                left: size,
            };
            append(b, &mut h, &relp, data, &path)?;
            continue;
        }
        append_xattrs(b, Xattrs::Entry(dir, &name), &path)?;
        if ft == FileType::Symlink {
            let target = rustix::fs::readlinkat(dir, name.as_slice(), Vec::new())
                .map_err(io::Error::from)
                .ctx("read link", &path)?;
            let mut h = header(&st, EntryType::Symlink);
            h.set_size(0);
            b.append_link(
                &mut h,
                Path::new(OsStr::from_bytes(&relp)),
                Path::new(OsStr::from_bytes(target.as_bytes())),
            )
            .ctx("write symlink", &path)?;
        } else {
            let et = match ft {
                FileType::CharacterDevice => EntryType::Char,
                FileType::BlockDevice => EntryType::Block,
                FileType::Fifo => EntryType::Fifo,
                _ => continue, // sockets are not carried in layers
            };
            let mut h = header(&st, et);
            h.set_size(0);
            let dev = st.st_rdev;
            let _ = h.set_device_major(rustix::fs::major(dev));
            let _ = h.set_device_minor(rustix::fs::minor(dev));
            append(b, &mut h, &relp, io::empty(), &path)?;
        }
    }
    Ok(())
}

/// Reads exactly `left` bytes: fails on an early end (a file shrunk by a running
/// container) rather than leaving a short entry in the tar.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: io::Read> io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let cap = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..cap])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while the layer was written",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn header(st: &Stat, et: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(et);
    h.set_size(0);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h
}

fn append<W: Write, R: io::Read>(
    b: &mut tar::Builder<W>,
    h: &mut Header,
    rel: &[u8],
    data: R,
    path: &Path,
) -> Result<()> {
    b.append_data(h, Path::new(std::ffi::OsStr::from_bytes(rel)), data)
        .ctx("write layer entry", path)
}

fn is_opaque(dir: &OwnedFd) -> bool {
    let mut buf = [0u8; 4];
    matches!(rustix::fs::fgetxattr(dir, OVERLAY_OPAQUE_XATTR, &mut buf), Ok(1) if buf[0] == b'y')
}

/// Where an entry's xattrs are read from.
enum Xattrs<'a> {
    /// The open file or directory itself.
    Fd(&'a OwnedFd),
    /// Entry `name` of an open directory (symlinks, devices, fifos: not opened), as
    /// `/proc/self/fd/N/name`: the magic link resolves to the open directory whatever its
    /// path is now, and `name`, one component, is not followed.
    Entry(&'a OwnedFd, &'a [u8]),
}

impl Xattrs<'_> {
    fn list(&self, buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Xattrs::Fd(fd) => rustix::fs::flistxattr(fd, buf),
            Xattrs::Entry(dir, name) => rustix::fs::llistxattr(entry_path(dir, name), buf),
        }
    }

    fn get(&self, key: &str, buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Xattrs::Fd(fd) => rustix::fs::fgetxattr(fd, key, buf),
            Xattrs::Entry(dir, name) => rustix::fs::lgetxattr(entry_path(dir, name), key, buf),
        }
    }
}

fn entry_path(dir: &OwnedFd, name: &[u8]) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(OsStr::from_bytes(name));
    p
}

/// Emit a PAX header carrying the entry's xattrs (not overlay's own ones); `shown` is the
/// entry's path for errors.
fn append_xattrs<W: Write>(b: &mut tar::Builder<W>, from: Xattrs<'_>, shown: &Path) -> Result<()> {
    let mut names = vec![0u8; 4096];
    let n = match from.list(&mut names) {
        Ok(n) => n,
        Err(_) => return Ok(()),
    };
    let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
    for name in names[..n].split(|&c| c == 0).filter(|s| !s.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut val = vec![0u8; 65536];
        if let Ok(len) = from.get(name, &mut val) {
            val.truncate(len);
            recs.push((format!("SCHILY.xattr.{name}"), val));
        }
    }
    if recs.is_empty() {
        return Ok(());
    }
    b.append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
        .ctx("write xattrs", shown)
}

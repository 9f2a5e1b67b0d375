//! The source side of `cp`: a file or a tree as a tar, read through descriptors only.
//!
//! Every entry is opened with openat(O_PATH | O_NOFOLLOW) on its directory's descriptor and
//! its tar header is written from fstat of that descriptor: a symlink is archived as a
//! link, whatever it points to. A regular file is read by reopening the same inode through
//! the descriptor's /proc/self/fd link, and a directory is listed through openat(fd, ".");
//! so a process that swaps an entry for a symlink (or a device node) while the tree is
//! walked changes what the archive holds at that name, never makes the walk read a host
//! file or open a device. Contents of proc and sysfs mounts are left out.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::resolve::Located;
use crate::error::{Error, Result};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// A writer that counts what goes through it.
pub(crate) struct Counter<W> {
    pub inner: W,
    pub bytes: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads exactly `left` bytes of `inner`: zeros past its end, nothing past `left` (a file
/// that shrinks or grows while it is archived must not corrupt the archive).
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// A directory being walked.
struct Frame {
    dir: OwnedFd,
    path: PathBuf,
    names: std::vec::IntoIter<OsString>,
    dev: u64,
}

struct Walk<'a, W: Write> {
    tar: tar::Builder<Counter<BufWriter<W>>>,
    /// Regular files with several links already archived: (dev, ino) → their archive path.
    links: HashMap<(u64, u64), PathBuf>,
    /// What is archived, for errors ("box:/data").
    what: &'a str,
}

/// Writes `src` as a tar to `out`, its top entry named `top` (`.` for a directory's
/// contents only); returns the bytes written. `what` names the source in errors.
pub(crate) fn write_tar<W: Write>(src: &Located, top: &Path, what: &str, out: W) -> Result<u64> {
    let fd = match &src.name {
        Some(name) => open_path(&src.dir, name),
        None => open_path(&src.dir, OsStr::new(".")),
    }
    .map_err(|e| Error::io(format!("open {what}"), e.into()))?;
    walk(fd, top, what, out)
}

/// Writes the tree under directory `root` as a tar whose entries are named relative to it
/// (`etc/`, `etc/passwd`; no entry for the root itself), as `export` does; returns the
/// bytes written.
pub(crate) fn write_tree_tar<W: Write>(root: OwnedFd, what: &str, out: W) -> Result<u64> {
    walk(root, Path::new(""), what, out)
}

fn walk<W: Write>(fd: OwnedFd, top: &Path, what: &str, out: W) -> Result<u64> {
    let mut w = Walk {
        tar: tar::Builder::new(Counter {
            inner: BufWriter::with_capacity(256 * 1024, out),
            bytes: 0,
        }),
        links: HashMap::new(),
        what,
    };
    let mut stack: Vec<Frame> = Vec::new();
    if let Some(frame) = w.add(fd, top, None)? {
        stack.push(frame);
    }
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.next() else {
            stack.pop();
            continue;
        };
        let path = frame.path.join(&name);
        let dev = frame.dev;
        let fd = match open_path(&frame.dir, &name) {
            Ok(fd) => fd,
            // Removed since the directory was listed.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(w.read_error(&path, e)),
        };
        if let Some(frame) = w.add(fd, &path, Some(dev))? {
            stack.push(frame);
        }
    }
    let counter = w
        .tar
        .into_inner()
        .map_err(|e| Error::io(format!("write the archive of {what}"), e))?;
    let bytes = counter.bytes;
    counter
        .inner
        .into_inner()
        .map_err(|e| Error::io(format!("write the archive of {what}"), e.into_error()))?;
    Ok(bytes)
}

/// Pins `name` in `dir` without following it and without opening it for I/O (a device
/// node is not opened, a fifo does not block).
fn open_path(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens the inode `fd` pins (an O_PATH descriptor) with `flags`: through its
/// /proc/self/fd link, which is that inode whatever happened to its name since.
fn reopen(fd: &OwnedFd, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
}

fn header(st: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

impl<W: Write> Walk<'_, W> {
    fn read_error(&self, path: &Path, e: Errno) -> Error {
        Error::io(
            format!("read {} (at {})", self.what, path.display()),
            e.into(),
        )
    }

    fn write_error(&self, e: io::Error) -> Error {
        Error::io(format!("write the archive of {}", self.what), e)
    }

    /// Archives the object `fd` pins as `path`; returns its frame when it is a directory
    /// to walk. `parent_dev` is its directory's device (None for the top).
    fn add(&mut self, fd: OwnedFd, path: &Path, parent_dev: Option<u64>) -> Result<Option<Frame>> {
        let st = rustix::fs::fstat(&fd).map_err(|e| self.read_error(path, e))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                // Named with a trailing slash, as Docker's and GNU tar's archives are; an
                // empty path is the root of an export, which has no entry of its own.
                if !path.as_os_str().is_empty() {
                    let mut h = header(&st, tar::EntryType::Directory);
                    let mut name = path.as_os_str().to_owned();
                    name.push("/");
                    self.tar
                        .append_data(&mut h, Path::new(&name), io::empty())
                        .map_err(|e| self.write_error(e))?;
                }
                let dir = reopen(&fd, OFlags::RDONLY | OFlags::DIRECTORY)
                    .map_err(|e| self.read_error(path, e))?;
                if parent_dev != Some(st.st_dev) && pseudo_fs(&dir) {
                    return Ok(None);
                }
                let mut names: Vec<OsString> = berth_image::layer::fsutil::list_dir(&dir)
                    .map_err(|e| self.read_error(path, e))?
                    .into_iter()
                    .map(OsString::from_vec)
                    .collect();
                names.sort();
                Ok(Some(Frame {
                    dir,
                    path: path.to_path_buf(),
                    names: names.into_iter(),
                    dev: st.st_dev,
                }))
            }
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        let first = first.clone();
                        let mut h = header(&st, tar::EntryType::Link);
                        self.tar
                            .append_link(&mut h, path, &first)
                            .map_err(|e| self.write_error(e))?;
                        return Ok(None);
                    }
                    self.links.insert(key, path.to_path_buf());
                }
                let file = reopen(&fd, OFlags::RDONLY).map_err(|e| self.read_error(path, e))?;
                let mut h = header(&st, tar::EntryType::Regular);
                let size = u64::try_from(st.st_size).unwrap_or(0);
                h.set_size(size);
                let data = Exact {
                    inner: File::from(file),
                    left: size,
                };
                self.tar
                    .append_data(&mut h, path, data)
                    .map_err(|e| self.write_error(e))?;
                Ok(None)
            }
            FileType::Symlink => {
                // readlinkat with an empty path reads the link an O_PATH descriptor pins.
                let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                    .map_err(|e| self.read_error(path, e))?;
                let mut h = header(&st, tar::EntryType::Symlink);
                self.tar
                    .append_link(&mut h, path, OsStr::from_bytes(target.as_bytes()))
                    .map_err(|e| self.write_error(e))?;
                Ok(None)
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let ty = match kind {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = header(&st, ty);
                if ty != tar::EntryType::Fifo {
                    h.set_device_major(rustix::fs::major(st.st_rdev))
                        .and_then(|()| h.set_device_minor(rustix::fs::minor(st.st_rdev)))
                        .map_err(|e| self.write_error(e))?;
                }
                self.tar
                    .append_data(&mut h, path, io::empty())
                    .map_err(|e| self.write_error(e))?;
                Ok(None)
            }
            // Sockets have no place in a tar (Docker leaves them out too).
            _ => Ok(None),
        }
    }
}

/// Whether `dir` is on a proc or sysfs mount, whose contents `cp` does not archive.
fn pseudo_fs(dir: &OwnedFd) -> bool {
    rustix::fs::fstatfs(dir).is_ok_and(|s| {
        // f_type is not an i64 on every architecture.
        #[allow(clippy::unnecessary_cast)]
        let t = s.f_type as i64;
        t == PROC_SUPER_MAGIC || t == SYSFS_MAGIC
    })
}

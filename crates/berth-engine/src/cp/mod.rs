//! `cp`: files between a container and the host, or a tar stream, with Docker's rules.
//!
//! Every form is a tar written by [`cp_out`] (walking the source by descriptors) and
//! extracted by [`cp_in`] (berth-image's descriptor-based extraction); between a container
//! and the host the two run at once through a pipe. Paths inside a container resolve from a
//! descriptor of its root ([`resolve`]): `/proc/PID/root` while it runs, which shows its
//! volumes and bind mounts as it sees them, else its rootfs, mounted for the occasion.
//!
//! Destinations follow `docker cp`: an existing directory receives the source under its
//! own name (`SRC/.`: its contents only); a missing destination is created with the
//! source's content (a rename); a file replaces an existing file; a directory onto a file,
//! or a file onto a missing path that ends with `/`, is an error. A final symlink in the
//! source is copied as a link unless `-L`; one in the destination is followed.

mod cp_in;
pub(crate) mod cp_out;
mod resolve;

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use resolve::{Base, Located, locate};

/// Options of `cp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// `-a`: keep the source's uid/gid. Else entries copied into a container belong to its
    /// root, and entries copied to the host to the caller (set-id bits dropped).
    pub archive: bool,
    /// `-L`: follow a symlink named as the source (else it is copied as a link).
    pub follow_link: bool,
}

/// Why a copy was refused.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source does not exist.
    #[error("could not find the file {path} in {place}")]
    NotFound { path: String, place: String },
    /// The directory to create or write the destination in does not exist.
    #[error("destination directory {0} does not exist")]
    NoSuchDirectory(String),
    /// A path that must be a directory is not one (`SRC/.` of a file, a parent).
    #[error("{0} is not a directory")]
    NotADirectory(String),
    /// Docker's "cannot copy directory": a directory onto an existing file.
    #[error("cannot copy directory {src} onto file {dest}")]
    DirectoryOntoFile { src: String, dest: String },
    /// The destination exists and is neither a directory nor a regular file.
    #[error("destination {0} must be a directory or a regular file")]
    BadDestination(String),
    /// `cp - CONTAINER:DEST` where DEST is not an existing directory.
    #[error("destination {0} must be a directory")]
    StreamDestination(String),
    /// A symlink loop.
    #[error("too many levels of symbolic links in {0}")]
    TooManyLinks(String),
    /// The destination is in a mount the container has read-only (`-v a:/m:ro`).
    #[error("mounted volume is marked read-only")]
    ReadOnlyVolume,
    /// The destination is in the container's own filesystem, which is `--read-only`.
    #[error("container rootfs is marked read-only")]
    ReadOnlyRootfs,
}

/// Docker's check before a copy into `dir` (absolute in the container): the mount that
/// holds it (the deepest whose target contains it) must be writable, and without one the
/// container's root must not be `--read-only`. Refused before anything is written, with
/// Docker's words rather than the kernel's EROFS halfway through the archive.
fn check_writable(c: &Container, dir: &Path) -> Result<()> {
    let holder = c
        .config
        .host
        .mounts
        .iter()
        .filter(|m| dir.starts_with(&m.target))
        .max_by_key(|m| Path::new(&m.target).components().count());
    match holder {
        Some(m) if m.read_only => Err(CopyError::ReadOnlyVolume.into()),
        Some(_) => Ok(()),
        None if c.config.host.read_only_rootfs => Err(CopyError::ReadOnlyRootfs.into()),
        None => Ok(()),
    }
}

/// A side of a copy: names its paths in messages and says where they resolve.
#[derive(Clone, Copy)]
struct Side<'a> {
    base: Base<'a>,
    /// The container's name as given, or None for the host.
    container: Option<&'a str>,
}

impl Side<'_> {
    const HOST: Side<'static> = Side {
        base: Base::Host,
        container: None,
    };

    fn describe(&self, path: &Path) -> String {
        match self.container {
            Some(c) => format!("{c}:{}", path.display()),
            None => path.display().to_string(),
        }
    }

    fn place(&self) -> String {
        match self.container {
            Some(c) => format!("container {c}"),
            None => "the host".into(),
        }
    }

    /// Locates a source: missing is an error.
    fn source(&self, raw: &str, follow: bool) -> Result<Located> {
        let not_found = || CopyError::NotFound {
            path: raw.to_string(),
            place: self.place(),
        };
        let loc = locate(self.base, Path::new(raw), follow).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => not_found().into(),
            _ => self.io_error(raw, e),
        })?;
        if loc.stat.is_none() {
            return Err(not_found().into());
        }
        if asserts_dir(raw) && !loc.is_dir() {
            return Err(CopyError::NotADirectory(self.describe(Path::new(raw))).into());
        }
        Ok(loc)
    }

    /// Locates a destination, following final symlinks.
    fn destination(&self, raw: &str) -> Result<Located> {
        let path = Path::new(raw);
        let parent = || {
            let p = path.parent().unwrap_or(Path::new(""));
            self.describe(if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            })
        };
        locate(self.base, path, true).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CopyError::NoSuchDirectory(parent()).into(),
            io::ErrorKind::NotADirectory => CopyError::NotADirectory(parent()).into(),
            _ => self.io_error(raw, e),
        })
    }

    fn io_error(&self, raw: &str, e: io::Error) -> Error {
        if e.raw_os_error() == Some(libc::ELOOP) {
            return CopyError::TooManyLinks(self.describe(Path::new(raw))).into();
        }
        Error::io(format!("resolve {}", self.describe(Path::new(raw))), e)
    }
}

/// Whether a path says it is a directory (`dir/`, `dir/.`, `.`).
fn asserts_dir(raw: &str) -> bool {
    raw.ends_with('/') || raw.ends_with("/.") || raw == "."
}

/// The name a source has in the archive: its last component as given (with `-L` too, as
/// Docker does), or `.` (contents only) for `SRC/.` and for paths without one (`/`).
fn source_name(raw: &str) -> OsString {
    if raw.ends_with("/.") || raw == "." {
        return ".".into();
    }
    Path::new(raw)
        .file_name()
        .map_or_else(|| ".".into(), OsStr::to_os_string)
}

/// Where the archive goes, by Docker's rules.
enum Dest {
    /// Into the destination, an existing directory.
    Itself,
    /// Into the directory holding the destination, the top entry named as it.
    Parent,
}

/// Where the archive of `src` goes for `dest`, and the name of its top entry.
fn plan(
    side: &Side<'_>,
    src: &Located,
    src_raw: &str,
    dest: &Located,
    dest_raw: &str,
) -> Result<(Dest, OsString)> {
    let src_name = source_name(src_raw);
    match dest.kind() {
        Some(FileType::Directory) => Ok((Dest::Itself, src_name)),
        Some(FileType::RegularFile) if src.is_dir() => Err(CopyError::DirectoryOntoFile {
            src: src_raw.to_string(),
            dest: side.describe(Path::new(dest_raw)),
        }
        .into()),
        Some(FileType::RegularFile) | None => {
            if dest.kind().is_none() && asserts_dir(dest_raw) && !src.is_dir() {
                return Err(CopyError::NoSuchDirectory(side.describe(Path::new(dest_raw))).into());
            }
            // Only a path without a last component has no name, and it is a directory.
            let name = dest.name.clone().unwrap_or_else(|| ".".into());
            Ok((Dest::Parent, name))
        }
        Some(_) => Err(CopyError::BadDestination(side.describe(Path::new(dest_raw))).into()),
    }
}

/// Runs `produce` (writing a tar) in a thread and `consume` (reading it) here, through a
/// pipe; returns the bytes that went through. The producer's error comes first unless it
/// only saw the consumer go away.
fn pipe_through(
    produce: impl FnOnce(io::PipeWriter) -> Result<u64> + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<u64> {
    let (mut reader, writer) = io::pipe().map_err(|e| Error::io("create a pipe", e))?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(writer));
        let consumed = consume(&mut reader).and_then(|()| {
            // Whatever follows the end of the archive, so the writer never sees EPIPE.
            io::copy(&mut reader, &mut io::sink())
                .map(drop)
                .map_err(|e| Error::io("read the archive", e))
        });
        drop(reader);
        let produced = producer
            .join()
            .map_err(|_| Error::Internal("the archive writer panicked".into()))?;
        match (produced, consumed) {
            (Ok(n), Ok(())) => Ok(n),
            (Err(Error::Io { cause, .. }), Err(e)) if cause.kind() == io::ErrorKind::BrokenPipe => {
                Err(e)
            }
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    })
}

impl Engine {
    /// Runs `f` with a descriptor of the container's root: `/proc/PID/root` while it runs,
    /// else its rootfs, mounted for the purpose if need be.
    fn with_root<T>(
        &self,
        c: &Container,
        f: impl FnOnce(BorrowedFd<'_>) -> Result<T>,
    ) -> Result<T> {
        if matches!(c.state.status, Status::Running | Status::Paused) && c.state.pid > 0 {
            let root = rustix::fs::open(
                format!("/proc/{}/root", c.state.pid),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::io(format!("open the root of container {}", c.name), e.into()))?;
            // The pid could have been reused between the lookup and the open.
            if self.container(&c.id)?.state.pid != c.state.pid {
                return Err(Error::Conflict(format!(
                    "container {} stopped meanwhile",
                    c.name
                )));
            }
            return f(root.as_fd());
        }
        let rootfs = self.paths.rootfs(&c.id);
        let mounted_here = !crate::teardown::is_mountpoint(&rootfs);
        if mounted_here {
            std::fs::create_dir_all(&rootfs)
                .map_err(|e| Error::io(format!("create {}", rootfs.display()), e))?;
            self.store()?.mount_snapshot(&c.id, &rootfs)?;
        }
        let res = rustix::fs::open(
            &rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(format!("open {}", rootfs.display()), e.into()))
        .and_then(|root| f(root.as_fd()));
        if mounted_here {
            crate::teardown::unmount_rootfs(self, &c.id)?;
        }
        res
    }

    /// Runs `f` with the container's root and the side of the copy it is.
    fn in_container<T>(
        &self,
        container: &str,
        f: impl FnOnce(BorrowedFd<'_>, Side<'_>) -> Result<T>,
    ) -> Result<T> {
        let c = self.container(container)?;
        self.with_root(&c, |root| {
            let side = Side {
                base: Base::Root(root),
                container: Some(container),
            };
            f(root, side)
        })
    }

    /// `cp CONTAINER:SRC -`: `src` as a tar on `out`; returns its size in bytes.
    pub fn copy_out(
        &self,
        container: &str,
        src: &str,
        out: &mut dyn Write,
        opts: &CopyOptions,
    ) -> Result<u64> {
        self.in_container(container, |_, side| {
            let loc = side.source(src, opts.follow_link)?;
            let name = source_name(src);
            cp_out::write_tar(&loc, Path::new(&name), &side.describe(Path::new(src)), out)
        })
    }

    /// `cp - CONTAINER:DEST`: extracts the tar `input` into `dest`, an existing directory
    /// of the container; returns the bytes read.
    pub fn copy_in(
        &self,
        container: &str,
        dest: &str,
        input: &mut dyn Read,
        opts: &CopyOptions,
    ) -> Result<u64> {
        let c = self.container(container)?;
        self.in_container(container, |root, side| {
            let described = side.describe(Path::new(dest));
            let loc = side.destination(dest)?;
            if !loc.is_dir() {
                return Err(CopyError::StreamDestination(described).into());
            }
            check_writable(&c, &loc.path)?;
            let mut counted = cp_in::CountingReader {
                inner: input,
                bytes: 0,
            };
            let what = format!("the copy into {described}");
            cp_in::into_container(&mut counted, root, &loc.path, &what, opts.archive)?;
            // The rest of the stream (a tar's padding after its end): the writer must not
            // see it refused.
            io::copy(&mut counted, &mut io::sink())
                .map_err(|e| Error::io("read the archive", e))?;
            Ok(counted.bytes)
        })
    }

    /// `cp CONTAINER:SRC HOSTDEST`; returns the size of the archive that carried it.
    pub fn copy_to_host(
        &self,
        container: &str,
        src: &str,
        dest: &Path,
        opts: &CopyOptions,
    ) -> Result<u64> {
        let host = Side::HOST;
        let dest_raw = dest.to_string_lossy();
        self.in_container(container, |_, side| {
            let src_loc = side.source(src, opts.follow_link)?;
            let dest_loc = host.destination(&dest_raw)?;
            let (into, top) = plan(&host, &src_loc, src, &dest_loc, &dest_raw)?;
            let dir = match (&into, &dest_loc.name) {
                (Dest::Itself, Some(name)) => rustix::fs::openat(
                    &dest_loc.dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| Error::io(format!("open {}", dest.display()), e.into()))?,
                _ => dest_loc
                    .dir
                    .try_clone()
                    .map_err(|e| Error::io(format!("open {}", dest.display()), e))?,
            };
            let what_src = side.describe(Path::new(src));
            let what = format!("the copy to {}", dest.display());
            pipe_through(
                |w| cp_out::write_tar(&src_loc, Path::new(&top), &what_src, w),
                |r| cp_in::onto_host(r, dir.as_fd(), &what, opts.archive),
            )
        })
    }

    /// `cp HOSTSRC CONTAINER:DEST`; returns the size of the archive that carried it.
    pub fn copy_from_host(
        &self,
        src: &Path,
        container: &str,
        dest: &str,
        opts: &CopyOptions,
    ) -> Result<u64> {
        let host = Side::HOST;
        let src_raw = src.to_string_lossy();
        let src_loc = host.source(&src_raw, opts.follow_link)?;
        let c = self.container(container)?;
        self.in_container(container, |root, side| {
            let dest_loc = side.destination(dest)?;
            let (into, top) = plan(&side, &src_loc, &src_raw, &dest_loc, dest)?;
            let dir: PathBuf = match into {
                Dest::Itself => dest_loc.path.clone(),
                Dest::Parent => dest_loc.parent_path(),
            };
            check_writable(&c, &dir)?;
            let what = format!("the copy into {}", side.describe(Path::new(dest)));
            pipe_through(
                |w| cp_out::write_tar(&src_loc, Path::new(&top), &src_raw, w),
                |r| cp_in::into_container(r, root, &dir, &what, opts.archive),
            )
        })
    }
}

//! Where a path of `cp` is: the directory that holds its last component, opened, and what
//! that component is, read with fstatat on the directory's descriptor without following it.
//!
//! Inside a container, every directory is opened with openat2(RESOLVE_IN_ROOT) from a
//! descriptor of the container's root, so the container's symlinks resolve as the container
//! sees them and never lead out of it. On the host, paths are the caller's own and resolve
//! as usual. A final symlink is followed only when asked (`-L` for a source; always for a
//! destination, as Docker does), by reading it and resolving its target the same way.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// Where paths resolve.
#[derive(Clone, Copy)]
pub(crate) enum Base<'a> {
    /// Inside a container, from a descriptor of its root: paths are absolute in it.
    Root(BorrowedFd<'a>),
    /// On the host, relative to the working directory.
    Host,
}

/// A path of a copy, located.
pub(crate) struct Located {
    /// The directory holding the object; the object itself when `name` is None.
    pub dir: OwnedFd,
    /// The object's name in `dir`; None when the path names a directory with no last
    /// component of its own (`/`, `.`, `..`).
    pub name: Option<OsString>,
    /// The object's status, not following it; None: it does not exist.
    pub stat: Option<Stat>,
    /// The path after following final symlinks (absolute inside a container).
    pub path: PathBuf,
}

impl Located {
    pub fn kind(&self) -> Option<FileType> {
        self.stat
            .as_ref()
            .map(|st| FileType::from_raw_mode(st.st_mode))
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == Some(FileType::Directory)
    }

    /// The directory the object is in, as a path (`dir` as a path).
    pub fn parent_path(&self) -> PathBuf {
        match self.name {
            Some(_) => self
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            None => self.path.clone(),
        }
    }
}

/// How many final symlinks are followed before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// `p` made absolute in a container's root, with `.` and `..` resolved lexically (as
/// Docker's filepath.Clean does); `..` never goes above the root.
pub(crate) fn clean_in_root(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Opens directory `path` for reading, resolved from `base`.
pub(crate) fn open_dir(base: Base<'_>, path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match base {
        Base::Root(root) => {
            let rel = clean_in_root(path);
            let rel = rel.strip_prefix("/").unwrap_or(&rel);
            let rel = if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            };
            Ok(rustix::fs::openat2(
                root,
                rel,
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )?)
        }
        Base::Host => {
            let p = if path.as_os_str().is_empty() {
                Path::new(".")
            } else {
                path
            };
            Ok(rustix::fs::open(p, flags, Mode::empty())?)
        }
    }
}

/// Splits `path` into its directory and last component (None: `/`, `.`, `..`).
fn split(base: Base<'_>, path: &Path) -> (PathBuf, Option<OsString>) {
    let path = match base {
        Base::Root(_) => clean_in_root(path),
        Base::Host => path.to_path_buf(),
    };
    match path.file_name() {
        Some(name) => {
            let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (parent, Some(name.to_os_string()))
        }
        None => (path, None),
    }
}

/// Locates `path` from `base`, following a final symlink when `follow`. Errors: NotFound
/// when a directory on the way is missing, NotADirectory when one is not a directory,
/// FilesystemLoop after too many symlinks.
pub(crate) fn locate(base: Base<'_>, path: &Path, follow: bool) -> io::Result<Located> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let (parent, name) = split(base, &path);
        let dir = open_dir(base, &parent)?;
        let Some(name) = name else {
            let stat = rustix::fs::fstat(&dir)?;
            return Ok(Located {
                dir,
                name: None,
                stat: Some(stat),
                path: parent,
            });
        };
        let stat = match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        let is_link = stat
            .as_ref()
            .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
        if follow && is_link {
            let target = rustix::fs::readlinkat(&dir, &name, Vec::new())?;
            let target = Path::new(OsStr::from_bytes(target.as_bytes()));
            path = parent.join(target);
            continue;
        }
        let full = parent.join(&name);
        return Ok(Located {
            dir,
            name: Some(name),
            stat,
            path: full,
        });
    }
    Err(Errno::LOOP.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_stays_in_root() {
        assert_eq!(clean_in_root(Path::new("a/./b/../c")), Path::new("/a/c"));
        assert_eq!(clean_in_root(Path::new("/../../etc")), Path::new("/etc"));
        assert_eq!(clean_in_root(Path::new("/tmp/d/.")), Path::new("/tmp/d"));
        assert_eq!(clean_in_root(Path::new("")), Path::new("/"));
    }

    #[test]
    fn follows_final_links_on_the_host() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("link")).unwrap();
        std::os::unix::fs::symlink("gone", t.path().join("dangling")).unwrap();
        let l = locate(Base::Host, &t.path().join("link"), true).unwrap();
        assert!(l.is_dir());
        assert_eq!(l.path, t.path().join("real"));
        let l = locate(Base::Host, &t.path().join("link"), false).unwrap();
        assert_eq!(l.kind(), Some(FileType::Symlink));
        let l = locate(Base::Host, &t.path().join("dangling"), true).unwrap();
        assert!(l.stat.is_none());
        assert_eq!(l.name.as_deref(), Some(OsStr::new("gone")));
        let e = locate(Base::Host, &t.path().join("none/x"), false)
            .err()
            .map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::NotFound));
    }

    #[test]
    fn symlinks_in_a_root_stay_in_it() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        let fd = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let base = Base::Root(std::os::fd::AsFd::as_fd(&fd));
        let l = locate(base, Path::new("/pw"), true).unwrap();
        assert_eq!(l.path, Path::new("/etc/passwd"));
        assert_eq!(l.kind(), Some(FileType::RegularFile));
        let l = locate(base, Path::new("/up/../up/etc/passwd"), false).unwrap();
        assert_eq!(
            l.stat.map(|s| s.st_size),
            Some(6),
            "resolved outside the root"
        );
    }
}

//! A container's files: `cp` in and out (as tar), `diff`, `export`, `commit`.
//!
//! Paths inside the container are resolved with openat2(RESOLVE_IN_ROOT) from a descriptor
//! of the container's root, so a symlink in the container can never make `cp` read or write
//! host files; every later step goes through the descriptors resolved that way
//! (`/proc/self/fd/N/...`). A running container's root is `/proc/PID/root`, which shows its
//! volumes and bind mounts as the container sees them; a stopped one's is its rootfs,
//! mounted for the occasion.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// One change of `diff`: 'A' added, 'C' changed, 'D' deleted.
pub type Change = (char, String);

fn clean(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// The path of a descriptor we hold, for APIs that take paths.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn open_in(root: BorrowedFd<'_>, path: &str, flags: OFlags) -> Result<OwnedFd> {
    let rel = clean(path);
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        root,
        &rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => Error::invalid(
            format!("path {path}"),
            "no such file or directory in the container",
        ),
        e => Error::io(format!("open {path} in the container"), e.into()),
    })
}

fn is_dir(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd)
        .map(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
        })
        .unwrap_or(false)
}

/// Writes `path` (a file or directory, resolved in `root`) as a tar to `out`, its last
/// component as the top entry, like `docker cp CONTAINER:PATH -`.
pub fn tar_out(root: BorrowedFd<'_>, path: &str, out: &mut dyn Write) -> Result<()> {
    let fd = open_in(root, path, OFlags::PATH)?;
    let name = clean(path)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    let res = if is_dir(&fd) {
        b.append_dir_all(&name, fd_path(&fd).join("."))
    } else {
        std::fs::File::open(fd_path(&fd)).and_then(|mut f| b.append_file(&name, &mut f))
    };
    res.map_err(|e| Error::io(format!("archive {path}"), e))?;
    b.finish()
        .map_err(|e| Error::io(format!("archive {path}"), e))?;
    Ok(())
}

/// Extracts a tar into directory `path` (resolved in `root`), refusing entries that would
/// leave it. Without `keep_owner`, files belong to root (docker cp without -a).
pub fn tar_in(
    root: BorrowedFd<'_>,
    path: &str,
    input: &mut dyn Read,
    keep_owner: bool,
) -> Result<()> {
    open_in(root, path, OFlags::PATH | OFlags::DIRECTORY).map_err(|_| {
        Error::invalid(
            format!("destination {path}"),
            "must be an existing directory in the container",
        )
    })?;
    let mut ar = tar::Archive::new(input);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_overwrite(true);
    ar.set_unpack_xattrs(false);
    let entries = ar.entries().map_err(|e| Error::io("read the archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("read the archive", e))?;
        let name = entry
            .path()
            .map_err(|e| Error::io("read the archive", e))?
            .into_owned();
        if name.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(Error::invalid(
                format!("archive entry {}", name.display()),
                "leaves the destination",
            ));
        }
        let rel: PathBuf = name
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let Some(file_name) = rel.file_name() else {
            continue;
        };
        // The parent is resolved inside the container, whatever symlinks are in the way, and
        // pinned by its descriptor; the entry is created in it without following anything.
        let parent_path = Path::new(path).join(rel.parent().unwrap_or(Path::new("")));
        let pfd = open_in(
            root,
            &parent_path.to_string_lossy(),
            OFlags::PATH | OFlags::DIRECTORY,
        )?;
        let target = fd_path(&pfd).join(file_name);
        if let tar::EntryType::Link = entry.header().entry_type()
            && let Ok(Some(link)) = entry.link_name()
        {
            let link = clean(&link.to_string_lossy());
            let src = open_in(
                root,
                &Path::new(path).join(link).to_string_lossy(),
                OFlags::PATH | OFlags::NOFOLLOW,
            )?;
            let _ = rustix::fs::unlinkat(&pfd, file_name, rustix::fs::AtFlags::empty());
            rustix::fs::linkat(&src, "", &pfd, file_name, rustix::fs::AtFlags::EMPTY_PATH)
                .map_err(|e| Error::io(format!("link {}", name.display()), e.into()))?;
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| Error::io(format!("extract {}", name.display()), e))?;
        if !keep_owner {
            let _ = rustix::fs::chownat(
                &pfd,
                file_name,
                Some(rustix::process::Uid::ROOT),
                Some(rustix::process::Gid::ROOT),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            );
        }
    }
    Ok(())
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

    /// `cp CONTAINER:PATH`: the path as a tar.
    pub fn copy_out(&self, key: &str, path: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(key)?;
        self.with_root(&c, |root| tar_out(root, path, out))
    }

    /// `cp - CONTAINER:DIR` / `cp SRC CONTAINER:PATH`: extract a tar into a directory.
    pub fn copy_in(
        &self,
        key: &str,
        dir: &str,
        input: &mut dyn Read,
        keep_owner: bool,
    ) -> Result<()> {
        let c = self.container(key)?;
        self.with_root(&c, |root| tar_in(root, dir, input, keep_owner))
    }

    /// Whether `path` exists in the container and is a directory (None: missing).
    pub fn path_is_dir(&self, key: &str, path: &str) -> Result<Option<bool>> {
        let c = self.container(key)?;
        self.with_root(&c, |root| match open_in(root, path, OFlags::PATH) {
            Ok(fd) => Ok(Some(is_dir(&fd))),
            Err(Error::Invalid { .. }) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Bytes in the container's writable layer (`ps -s`, `container prune`); 0 when its
    /// snapshot is gone.
    pub fn rw_size(&self, id: &str) -> u64 {
        self.store()
            .and_then(|s| Ok(s.mount_spec(id)?))
            .map(|m| crate::volumes::dir_size(&m.upperdir))
            .unwrap_or(0)
    }

    /// `diff`: what changed in the container's filesystem.
    pub fn diff(&self, key: &str) -> Result<Vec<Change>> {
        let c = self.container(key)?;
        let spec = self.store()?.mount_spec(&c.id)?;
        let mut out = Vec::new();
        walk_changes(&spec.upperdir, Path::new("/"), &spec.lowerdirs, &mut out)?;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// `export`: the container's filesystem as a tar.
    pub fn export(&self, key: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(key)?;
        self.store()?.export_snapshot(&c.id, out)?;
        Ok(())
    }

    /// `commit`: a new image from the container's changes (paused meanwhile if running).
    pub fn commit(
        &self,
        key: &str,
        opts: &berth_image::CommitOptions,
        pause: bool,
    ) -> Result<berth_image::ImageRecord> {
        let c = self.container(key)?;
        let paused = pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let res = self.store()?.commit_snapshot(&c.id, opts);
        if paused {
            self.unpause(&c.id)?;
        }
        let img = res?;
        self.event("container", "commit", &c, &[]);
        Ok(img)
    }
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

fn walk_changes(upper: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = upper.join(rel.strip_prefix("/").unwrap_or(rel));
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let crel = rel.join(&name);
        let lower_rel = crel.strip_prefix("/").unwrap_or(&crel).to_path_buf();
        let Ok(meta) = entry.metadata() else { continue };
        let shown = crel.to_string_lossy().into_owned();
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push(('D', shown));
            continue;
        }
        let kind = if in_lower(lowers, &lower_rel) {
            'C'
        } else {
            'A'
        };
        out.push((kind, shown));
        if meta.is_dir() {
            walk_changes(upper, &crel, lowers, out)?;
        }
    }
    Ok(())
}

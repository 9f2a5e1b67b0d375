//! Directory-relative file operations that never follow a symlink out of a root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Open a directory beneath `root` without following any symlink at all.
pub(crate) fn open_dir_nofollow(root: impl AsFd, rel: &[u8]) -> Result<OwnedFd, Errno> {
    let rel: &OsStr = if rel.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(rel)
    };
    rustix::fs::openat2(
        root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

/// The file type of `name` in `dir`, without following it; None when absent.
pub(crate) fn lstat_type(dir: impl AsFd, name: &OsStr) -> Result<Option<FileType>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remove `name` in `dir` whatever it is (a directory recursively), never following links.
pub(crate) fn remove_all_at(dir: impl AsFd, name: &OsStr) -> Result<(), Errno> {
    let dir = dir.as_fd();
    match lstat_type(dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            clear_dir(&fd)?;
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
        }
        Some(_) => rustix::fs::unlinkat(dir, name, AtFlags::empty()),
    }
}

/// Remove everything inside the directory `fd`, except names `keep` accepts.
pub(crate) fn clear_dir_except(
    fd: &OwnedFd,
    keep: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), Errno> {
    let names = list_dir(fd)?;
    for n in names {
        if !keep(&n) {
            remove_all_at(fd, OsStr::from_bytes(&n))?;
        }
    }
    Ok(())
}

pub(crate) fn clear_dir(fd: &OwnedFd) -> Result<(), Errno> {
    clear_dir_except(fd, &mut |_| false)
}

/// Names in a directory, without `.` and `..` (read through the descriptor).
pub fn list_dir(fd: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    let mut d = rustix::fs::Dir::read_from(fd)?;
    let mut out = Vec::new();
    while let Some(ent) = d.read() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}

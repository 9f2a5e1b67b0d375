//! Filling a new volume from the image (Docker's copy-up): the content at the mount point in
//! the container's rootfs is copied into the volume, keeping modes, owners and times. The
//! source is resolved inside the rootfs and walked with `*at` calls that never follow a
//! symlink, so an image cannot make us read host files.

use std::fs::File;
use std::io::copy;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};

use crate::error::{Error, Result};

fn err(what: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::io(what, e.into())
}

/// Copies `<rootfs>/<target>` (resolved inside the rootfs) into `dest` (an existing, empty
/// directory). A missing source is not an error: there is nothing to copy.
pub fn copy_from_rootfs(rootfs: &Path, target: &str, dest: &Path) -> Result<()> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err(format!("open {}", rootfs.display())))?;
    let rel = target.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let src = match rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(Error::io(format!("open {target} in the image"), e.into())),
    };
    let dst = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err(format!("open {}", dest.display())))?;
    // The volume's root takes the mode and owner of the image's directory.
    let st = rustix::fs::fstat(&src).map_err(err(format!("stat {target}")))?;
    let _ = rustix::fs::fchown(
        &dst,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    );
    let _ = rustix::fs::fchmod(&dst, Mode::from_raw_mode(st.st_mode & 0o7777));
    copy_dir(&src, &dst, target, 0)
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, what: &str, depth: u32) -> Result<()> {
    if depth > 256 {
        return Err(Error::invalid(
            format!("image directory {what}"),
            "nested too deeply",
        ));
    }
    let dup = rustix::io::dup(src).map_err(err(format!("dup {what}")))?;
    let dir = rustix::fs::Dir::new(dup).map_err(err(format!("read {what}")))?;
    for entry in dir {
        let entry = entry.map_err(err(format!("read {what}")))?;
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let shown = format!("{what}/{}", String::from_utf8_lossy(bytes));
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(err(format!("stat {shown}")))?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                    .map_err(err(format!("create {shown}")))?;
                let s = rustix::fs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err(format!("open {shown}")))?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err(format!("open {shown}")))?;
                copy_dir(&s, &d, &shown, depth + 1)?;
            }
            FileType::RegularFile => {
                let s = rustix::fs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err(format!("open {shown}")))?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(err(format!("create {shown}")))?;
                let (mut s, mut d) = (File::from(s), File::from(d));
                copy(&mut s, &mut d).map_err(|e| Error::io(format!("copy {shown}"), e))?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())
                    .map_err(err(format!("read link {shown}")))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name)
                    .map_err(err(format!("create {shown}")))?;
            }
            FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
                let kind = FileType::from_raw_mode(st.st_mode);
                rustix::fs::mknodat(dst, name, kind, mode, st.st_rdev)
                    .map_err(err(format!("create {shown}")))?;
            }
            _ => continue,
        }
        let uid = Some(rustix::fs::Uid::from_raw(st.st_uid));
        let gid = Some(rustix::fs::Gid::from_raw(st.st_gid));
        let _ = rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW);
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty())
                .map_err(err(format!("chmod {shown}")))?;
        }
        // Times are kept as best they can be: the kernel's nanoseconds are below 10^9, and
        // were one not, the times would be left as they are.
        if let (Ok(a_nsec), Ok(m_nsec)) = (
            i64::try_from(st.st_atime_nsec),
            i64::try_from(st.st_mtime_nsec),
        ) {
            let ts = Timestamps {
                last_access: Timespec {
                    tv_sec: st.st_atime,
                    tv_nsec: a_nsec,
                },
                last_modification: Timespec {
                    tv_sec: st.st_mtime,
                    tv_nsec: m_nsec,
                },
            };
            let _ = rustix::fs::utimensat(dst, name, &ts, AtFlags::SYMLINK_NOFOLLOW);
        }
    }
    let _ = dst.as_fd();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn copies_content_and_never_follows_links_out() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().join("rootfs");
        let data = rootfs.join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/file"), "hello").unwrap();
        std::fs::set_permissions(
            data.join("sub/file"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        symlink("/etc/passwd", data.join("link")).unwrap();
        // A mount point that is itself a symlink out of the rootfs resolves inside it.
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        symlink(&outside, rootfs.join("escape")).unwrap();
        let dest = t.path().join("vol");
        std::fs::create_dir(&dest).unwrap();
        copy_from_rootfs(&rootfs, "/data", &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("sub/file")).unwrap(),
            "hello"
        );
        let mode = std::fs::metadata(dest.join("sub/file"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            std::fs::read_link(dest.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        let dest2 = t.path().join("vol2");
        std::fs::create_dir(&dest2).unwrap();
        copy_from_rootfs(&rootfs, "/escape", &dest2).unwrap();
        assert!(
            !dest2.join("secret").exists(),
            "the symlink was resolved inside the rootfs"
        );
        // Nothing at the target: nothing to copy.
        copy_from_rootfs(&rootfs, "/missing", &dest2).unwrap();
    }
}

//! /etc/hosts of a running container, changed by `network connect` and `network
//! disconnect` as Docker changes it: a line `ADDR\tHOSTNAME` per address the container
//! gains is appended, the lines of the addresses it loses are removed, and whatever else
//! the file holds (the container may have edited it) stays.
//!
//! The file is the container directory's `hosts`, bind-mounted on the container's
//! /etc/hosts, so it is rewritten in place (a rename would leave the container with the
//! old file). It is opened with `O_NOFOLLOW` and must be a regular file: the container
//! writes its content, never its path. Readers see the old text or the new one: the new
//! text is written with one `pwrite` at offset 0, and when it is shorter than the old one
//! it is first padded to the old length with a comment line (a valid hosts file), then
//! truncated to its length. `rewrite` replaces a file the same way (resolv.conf, when a
//! live `network connect` starts the embedded resolver).

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// A hosts file larger than this is not rewritten (one-line error).
const MAX_HOSTS: u64 = 1024 * 1024;

/// The line naming `addr` as `hostname`, as Docker writes it.
pub(crate) fn line(addr: IpAddr, hostname: &str) -> String {
    format!("{addr}\t{hostname}")
}

/// The new text: `old` without the lines in `remove`, then the lines of `add` it does not
/// hold yet.
pub(crate) fn edit(old: &str, add: &[String], remove: &[String]) -> String {
    let mut out = String::with_capacity(old.len() + add.iter().map(|l| l.len() + 1).sum::<usize>());
    let mut kept: Vec<&str> = Vec::new();
    for l in old.lines() {
        if remove.iter().any(|r| r == l.trim_end()) {
            continue;
        }
        kept.push(l);
        out.push_str(l);
        out.push('\n');
    }
    for a in add {
        if !kept.iter().any(|k| k.trim_end() == a) {
            out.push_str(a);
            out.push('\n');
        }
    }
    out
}

/// Rewrites the hosts file `path` in place: `add` appended, `remove` taken out.
pub(crate) fn update(path: &Path, add: &[String], remove: &[String]) -> Result<()> {
    let (f, raw) = open_checked(path)?;
    let old = String::from_utf8_lossy(&raw);
    let new = edit(&old, add, remove);
    write_in_place(&f, raw.len(), new.as_bytes())
        .map_err(|e| Error::Internal(format!("write {}: {e}", path.display())))
}

/// Replaces the text of the bind-mounted file `path` with `text`, in place.
pub(crate) fn rewrite(path: &Path, text: &str) -> Result<()> {
    let (f, raw) = open_checked(path)?;
    write_in_place(&f, raw.len(), text.as_bytes())
        .map_err(|e| Error::Internal(format!("write {}: {e}", path.display())))
}

/// Opens `path` for an in-place rewrite (not through a symbolic link; a regular file of
/// at most `MAX_HOSTS` bytes) and reads it.
fn open_checked(path: &Path) -> Result<(File, Vec<u8>)> {
    let io =
        |what: &str, e: std::io::Error| Error::Internal(format!("{what} {}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io("open", e))?;
    let meta = f.metadata().map_err(|e| io("stat", e))?;
    if !meta.file_type().is_file() {
        return Err(Error::Internal(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.len() > MAX_HOSTS {
        return Err(Error::Internal(format!(
            "{} is larger than {MAX_HOSTS} bytes: not rewritten",
            path.display()
        )));
    }
    let mut raw = Vec::new();
    (&mut f)
        .take(MAX_HOSTS + 1)
        .read_to_end(&mut raw)
        .map_err(|e| io("read", e))?;
    Ok((f, raw))
}

/// Writes `new` over a file of `old_len` bytes so that a reader sees a whole hosts file
/// at every moment (see the module's comment).
fn write_in_place(f: &File, old_len: usize, new: &[u8]) -> std::io::Result<()> {
    let mut buf = new.to_vec();
    if old_len > new.len() {
        let pad = old_len - new.len();
        if pad == 1 {
            buf.push(b'\n');
        } else {
            buf.push(b'#');
            buf.extend(std::iter::repeat_n(b' ', pad - 2));
            buf.push(b'\n');
        }
    }
    f.write_all_at(&buf, 0)?;
    f.set_len(new.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_what_the_container_wrote() {
        let old = "127.0.0.1\tlocalhost\n10.0.0.9\tmine\n172.18.0.2\tabc\n";
        let add = vec!["172.19.0.2\tabc".to_string(), "fd00::2\tabc".to_string()];
        let new = edit(old, &add, &[]);
        assert_eq!(
            new,
            "127.0.0.1\tlocalhost\n10.0.0.9\tmine\n172.18.0.2\tabc\n172.19.0.2\tabc\nfd00::2\tabc\n"
        );
        // Added twice: once.
        assert_eq!(edit(&new, &add, &[]), new);
        let gone = edit(&new, &[], &["172.18.0.2\tabc".to_string()]);
        assert_eq!(
            gone,
            "127.0.0.1\tlocalhost\n10.0.0.9\tmine\n172.19.0.2\tabc\nfd00::2\tabc\n"
        );
        // No final newline: the line added goes on a line of its own.
        assert_eq!(edit("a b", &["c d".into()], &[]), "a b\nc d\n");
    }

    #[test]
    fn rewrites_in_place_and_refuses_links() {
        let dir = std::env::temp_dir().join(format!("berth-etc-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("hosts");
        std::fs::write(&p, "127.0.0.1\tlocalhost\n172.18.0.2\tabc\n").unwrap();
        let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&p).unwrap());
        update(&p, &[], &["172.18.0.2\tabc".into()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1\tlocalhost\n"
        );
        update(&p, &["172.19.0.3\tabc".into()], &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1\tlocalhost\n172.19.0.3\tabc\n"
        );
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), ino);
        let l = dir.join("link");
        let _ = std::fs::remove_file(&l);
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert!(update(&l, &["1.2.3.4\tx".into()], &[]).is_err());
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1\tlocalhost\n172.19.0.3\tabc\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! A manifest of an unpacked tree: for every entry its type, mode, owner, size, device,
//! link target, extended attributes, modification time (not of directories, which
//! unpacking touches) and, for files, a digest of their content. Two unpacks of one layer
//! give the same manifest; a layer directory that lost files (a half-finished deletion) or
//! bytes does not. The content digest skips holes and zero blocks, so sparse files are
//! read only where they have data and compare equal however the filesystem allocates them.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::SeekFrom;
use rustix::io::Errno;

use crate::digest::{Algorithm, Hasher};

/// Path (relative, `/`-separated; "" for the root) → the entry described in one line.
pub type Manifest = BTreeMap<Vec<u8>, String>;

/// The manifest of the tree at `root` (symlinks are never followed).
pub fn manifest(root: &Path) -> io::Result<Manifest> {
    let mut out = Manifest::new();
    walk(root, Vec::new(), &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: Vec<u8>, out: &mut Manifest) -> io::Result<()> {
    out.insert(rel.clone(), describe(dir)?);
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let mut r = rel.clone();
        if !r.is_empty() {
            r.push(b'/');
        }
        r.extend_from_slice(n.as_bytes());
        if fs::symlink_metadata(&p)?.is_dir() {
            walk(&p, r, out)?;
        } else {
            out.insert(r, describe(&p)?);
        }
    }
    Ok(())
}

fn describe(p: &Path) -> io::Result<String> {
    let md = fs::symlink_metadata(p)?;
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else if ft.is_file() {
        'f'
    } else if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else if ft.is_fifo() {
        'p'
    } else {
        's'
    };
    let mut s = format!(
        "{kind} mode={:o} uid={} gid={}",
        md.mode() & 0o7777,
        md.uid(),
        md.gid()
    );
    if kind != 'd' {
        s.push_str(&format!(" mtime={}", md.mtime()));
    }
    match kind {
        'f' => s.push_str(&format!(" size={} content={}", md.len(), content(p)?)),
        'l' => s.push_str(&format!(
            " target={}",
            String::from_utf8_lossy(fs::read_link(p)?.as_os_str().as_bytes())
        )),
        'c' | 'b' => s.push_str(&format!(" rdev={:x}", md.rdev())),
        _ => {}
    }
    for (k, v) in xattrs(p)? {
        s.push_str(&format!(" xattr:{k}={}", hex::encode(v)));
    }
    Ok(s)
}

fn xattrs(p: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(p, &mut names) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let key = OsStr::from_bytes(name);
        let mut v = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(p, key, &mut v)?;
        v.truncate(len);
        out.push((String::from_utf8_lossy(name).into_owned(), v));
    }
    out.sort();
    Ok(out)
}

const BLOCK: u64 = 4096;
const BLOCK_LEN: usize = 4096;

/// A digest of a file's non-zero 4 KiB blocks with their offsets, and its size; only its
/// data regions are read (SEEK_DATA/SEEK_HOLE).
fn content(p: &Path) -> io::Result<String> {
    let f = File::open(p)?;
    let size = f.metadata()?.len();
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; BLOCK_LEN];
    let mut done = 0u64;
    while done < size {
        let data = match rustix::fs::seek(&f, SeekFrom::Data(done)) {
            Ok(o) => o,
            Err(Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(&f, SeekFrom::Hole(data))?;
        let mut off = (data / BLOCK * BLOCK).max(done);
        let end = hole.div_ceil(BLOCK).saturating_mul(BLOCK).min(size);
        while off < end {
            // At most BLOCK, which fits a usize.
            let len = usize::try_from((end - off).min(BLOCK)).unwrap_or(BLOCK_LEN);
            f.read_exact_at(&mut buf[..len], off)?;
            if buf[..len].iter().any(|&b| b != 0) {
                h.update(&off.to_le_bytes());
                h.update(&buf[..len]);
            }
            off += len as u64;
        }
        // data < size and data < hole, so end > data >= done: this always moves on.
        done = end;
    }
    h.update(&size.to_le_bytes());
    Ok(h.finish().hex().to_owned())
}

/// Up to `max` differences between the manifests `want` (the reference) and `got`, in
/// words ("missing usr/bin/ls", ...), and how many there are.
pub fn differences(want: &Manifest, got: &Manifest, max: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut n = 0;
    let mut note = |s: String| {
        n += 1;
        if out.len() < max {
            out.push(s);
        }
    };
    let show = |p: &[u8]| {
        if p.is_empty() {
            "/".to_owned()
        } else {
            crate::error::printable(&String::from_utf8_lossy(p))
        }
    };
    for (p, w) in want {
        match got.get(p) {
            None => note(format!("missing {}", show(p))),
            Some(g) if g != w => note(format!("{} differs", show(p))),
            Some(_) => {}
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        note(format!("unexpected {}", show(p)));
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_see_missing_and_changed_files() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        for d in [&a, &b] {
            fs::create_dir_all(d.join("usr/bin")).unwrap();
            fs::write(d.join("usr/bin/ls"), b"elf").unwrap();
            fs::write(d.join("big"), b"").unwrap();
            File::options()
                .write(true)
                .open(d.join("big"))
                .unwrap()
                .set_len(1 << 30)
                .unwrap();
            std::os::unix::fs::symlink("ls", d.join("usr/bin/dir")).unwrap();
        }
        let (ma, mb) = (manifest(&a).unwrap(), manifest(&b).unwrap());
        assert_eq!(differences(&ma, &mb, 10).1, 0);
        fs::remove_file(b.join("usr/bin/ls")).unwrap();
        File::options()
            .write(true)
            .open(b.join("big"))
            .unwrap()
            .write_all_at(b"x", 5 << 20)
            .unwrap();
        let (d, n) = differences(&ma, &manifest(&b).unwrap(), 10);
        assert_eq!(n, 2, "{d:?}");
        assert!(d.contains(&"missing usr/bin/ls".to_owned()), "{d:?}");
        assert!(d.contains(&"big differs".to_owned()), "{d:?}");
    }
}

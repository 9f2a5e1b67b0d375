//! Turn an overlayfs upper directory into an OCI layer tar.
//!
//! Overlay whiteouts (char device 0:0) become `.wh.<name>` entries and opaque directories
//! (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry. Hard links inside the upper
//! directory are kept as tar hard links. Entries are sorted, so the output is deterministic.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

use super::unpack::OVERLAY_OPAQUE_XATTR;
use crate::error::{IoContext, Result};

/// Write a layer tar of `upper` to `out`; returns the writer.
pub fn diff_dir<W: Write>(upper: &Path, out: W) -> Result<W> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    walk(upper, b"", &mut b, &mut links)?;
    b.into_inner().ctx("finish layer tar", upper)
}

fn walk<W: Write>(
    dir: &Path,
    rel: &[u8],
    b: &mut tar::Builder<W>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .ctx("read directory", dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let mut relp = rel.to_vec();
        if !relp.is_empty() {
            relp.push(b'/');
        }
        relp.extend_from_slice(name.as_bytes());
        let md = fs::symlink_metadata(&path).ctx("stat", &path)?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            // overlay whiteout
            let mut wh = rel.to_vec();
            if !wh.is_empty() {
                wh.push(b'/');
            }
            wh.extend_from_slice(b".wh.");
            wh.extend_from_slice(name.as_bytes());
            let mut h = header(&md, EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            append(b, &mut h, &wh, io::empty(), &path)?;
            continue;
        }
        if ft.is_dir() {
            let mut h = header(&md, EntryType::Directory);
            let mut p = relp.clone();
            p.push(b'/');
            append_xattrs(b, &path, &relp)?;
            append(b, &mut h, &p, io::empty(), &path)?;
            if is_opaque(&path) {
                let mut op = relp.clone();
                op.extend_from_slice(b"/.wh..wh..opq");
                let mut oh = header(&md, EntryType::Regular);
                oh.set_size(0);
                oh.set_mode(0o644);
                append(b, &mut oh, &op, io::empty(), &path)?;
            }
            walk(&path, &relp, b, links)?;
            continue;
        }
        if ft.is_file() && md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = links.get(&key) {
                let mut h = header(&md, EntryType::Link);
                h.set_size(0);
                b.append_link(
                    &mut h,
                    Path::new(std::ffi::OsStr::from_bytes(&relp)),
                    Path::new(std::ffi::OsStr::from_bytes(first)),
                )
                .ctx("write hard link", &path)?;
                continue;
            }
            links.insert(key, relp.clone());
        }
        append_xattrs(b, &path, &relp)?;
        if ft.is_file() {
            let mut h = header(&md, EntryType::Regular);
            h.set_size(md.len());
            let f = fs::File::open(&path).ctx("open", &path)?;
            append(b, &mut h, &relp, f, &path)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).ctx("read link", &path)?;
            let mut h = header(&md, EntryType::Symlink);
            h.set_size(0);
            b.append_link(
                &mut h,
                Path::new(std::ffi::OsStr::from_bytes(&relp)),
                &target,
            )
            .ctx("write symlink", &path)?;
        } else {
            let et = if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else if ft.is_fifo() {
                EntryType::Fifo
            } else {
                continue; // sockets are not carried in layers
            };
            let mut h = header(&md, et);
            h.set_size(0);
            let dev = md.rdev();
            let _ = h.set_device_major(rustix::fs::major(dev));
            let _ = h.set_device_minor(rustix::fs::minor(dev));
            append(b, &mut h, &relp, io::empty(), &path)?;
        }
    }
    Ok(())
}

fn header(md: &fs::Metadata, et: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(et);
    h.set_size(0);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0));
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

fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(rustix::fs::lgetxattr(path, OVERLAY_OPAQUE_XATTR, &mut buf), Ok(1) if buf[0] == b'y')
}

/// Emit a PAX header carrying the entry's xattrs (not overlay's own ones).
fn append_xattrs<W: Write>(b: &mut tar::Builder<W>, path: &Path, _rel: &[u8]) -> Result<()> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(path, &mut names) {
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
        if let Ok(len) = rustix::fs::lgetxattr(path, name, &mut val) {
            val.truncate(len);
            recs.push((format!("SCHILY.xattr.{name}"), val));
        }
    }
    if recs.is_empty() {
        return Ok(());
    }
    b.append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
        .ctx("write xattrs", path)
}

//! The content-addressed blob store: `<root>/image/blobs/<algorithm>/<hex>`.
//!
//! Blobs are written to a temp file in `<root>/image/tmp/` named after the writing process
//! (`trash.rs`), hashed as the bytes stream in, fsynced, renamed into place and the
//! directory fsynced: a blob that exists under its digest is always complete and verified.
//! Temp files of older versions, in the blob directory itself, start with `.tmp-`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, IoContext, Result};

/// Prefix of the temp files older versions wrote next to the blobs.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Stored blobs with their sizes, and temp files left by older versions.
pub type BlobListing = (Vec<(Digest, u64)>, Vec<PathBuf>);

/// The blob directory of a store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    /// Where blobs are written before they are complete (`image/tmp`).
    tmp: PathBuf,
}

impl BlobStore {
    pub(crate) fn open(dir: PathBuf, tmp: PathBuf) -> Result<BlobStore> {
        for algo in [Algorithm::Sha256, Algorithm::Sha512] {
            let d = dir.join(algo.name());
            fs::create_dir_all(&d).ctx("create blob directory", &d)?;
        }
        fs::create_dir_all(&tmp).ctx("create temp directory", &tmp)?;
        Ok(BlobStore { dir, tmp })
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.algorithm().name()).join(d.hex())
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// The size of a stored blob.
    pub fn size(&self, d: &Digest) -> Result<u64> {
        match fs::metadata(self.path(d)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(d.to_string()))
            }
            Err(e) => Err(e).ctx("stat blob", self.path(d)),
        }
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        match File::open(self.path(d)) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(d.to_string()))
            }
            Err(e) => Err(e).ctx("open blob", self.path(d)),
        }
    }

    /// Read a small blob (manifest, config) completely, refusing more than `limit` bytes,
    /// and check its digest again.
    pub fn read(&self, d: &Digest, limit: u64) -> Result<Vec<u8>> {
        let f = self.open_blob(d)?;
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .ctx("read blob", self.path(d))?;
        if buf.len() as u64 > limit {
            return Err(Error::invalid(
                format!("blob {d}"),
                format!("larger than {limit} bytes"),
            ));
        }
        let mut h = Hasher::new(d.algorithm());
        h.update(&buf);
        let actual = h.finish();
        if &actual != d {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", self.path(d).display()),
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(buf)
    }

    /// Start writing a new blob. `expected` (if known) picks the algorithm and is checked
    /// on commit.
    pub fn writer(&self, expected: Option<&Digest>) -> Result<BlobWriter> {
        let algo = expected.map_or(Algorithm::Sha256, |d| d.algorithm());
        let dir = self.dir.join(algo.name());
        let tmp = self.tmp.join(crate::trash::owned_name(crate::trash::BLOB));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .ctx("create temp blob", &tmp)?;
        Ok(BlobWriter {
            file: Some(io::BufWriter::with_capacity(256 * 1024, file)),
            tmp,
            dir,
            hasher: Hasher::new(algo),
            size: 0,
            writeback_from: 0,
            expected: expected.cloned(),
            store: self.clone(),
        })
    }

    /// Store a byte buffer; returns its digest.
    pub fn put(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        if let Some(d) = expected
            && self.exists(d)
        {
            // Still verify what the caller handed us.
            let mut h = Hasher::new(d.algorithm());
            h.update(data);
            let actual = h.finish();
            if &actual != d {
                return Err(Error::DigestMismatch {
                    what: "blob".into(),
                    expected: d.to_string(),
                    actual: actual.to_string(),
                });
            }
            return Ok(actual);
        }
        let mut w = self.writer(expected)?;
        w.write_all(data).ctx("write blob", &w.tmp)?;
        Ok(w.commit()?.0)
    }

    /// Remove a blob (missing is fine).
    pub fn remove(&self, d: &Digest) -> Result<()> {
        match fs::remove_file(self.path(d)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("remove blob", self.path(d)),
        }
    }

    /// Every stored blob with its size, and every temp file of an older version.
    pub fn list(&self) -> Result<BlobListing> {
        let mut blobs = Vec::new();
        let mut temps = Vec::new();
        for algo in [Algorithm::Sha256, Algorithm::Sha512] {
            let d = self.dir.join(algo.name());
            for ent in fs::read_dir(&d).ctx("list blobs", &d)? {
                let ent = ent.ctx("list blobs", &d)?;
                let name = ent.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(TMP_PREFIX) {
                    temps.push(ent.path());
                    continue;
                }
                match Digest::from_parts(algo, &name) {
                    Ok(dg) => {
                        let len = ent.metadata().map(|m| m.len()).unwrap_or(0);
                        blobs.push((dg, len));
                    }
                    Err(_) => temps.push(ent.path()),
                }
            }
        }
        Ok((blobs, temps))
    }

    /// Re-hash a stored blob and compare with its name.
    pub fn verify(&self, d: &Digest) -> Result<()> {
        let mut f = self.open_blob(d)?;
        let mut h = Hasher::new(d.algorithm());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).ctx("read blob", self.path(d))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let actual = h.finish();
        if &actual != d {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", self.path(d).display()),
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).ctx("open directory", dir)?;
    f.sync_all().ctx("sync directory", dir)
}

/// A blob being written. Dropped without `commit`, its temp file is removed.
pub struct BlobWriter {
    file: Option<io::BufWriter<File>>,
    tmp: PathBuf,
    dir: PathBuf,
    hasher: Hasher,
    size: u64,
    /// Offset up to which writeback was started (see `start_writeback`).
    writeback_from: u64,
    expected: Option<Digest>,
    store: BlobStore,
}

/// Start writeback every this many bytes, so the fsync at commit has little left to wait for.
const WRITEBACK_CHUNK: u64 = 8 << 20;

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far.
    pub fn digest_so_far(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Verify, fsync and rename into place; returns the digest and size.
    pub fn commit(mut self) -> Result<(Digest, u64)> {
        let hasher = std::mem::replace(&mut self.hasher, Hasher::new(Algorithm::Sha256));
        let actual = hasher.finish();
        if let Some(exp) = &self.expected
            && exp != &actual
        {
            return Err(Error::DigestMismatch {
                what: "blob".into(),
                expected: exp.to_string(),
                actual: actual.to_string(),
            });
        }
        let Some(buf) = self.file.take() else {
            return Err(Error::invalid("blob writer", "already committed"));
        };
        let file = buf
            .into_inner()
            .map_err(|e| e.into_error())
            .ctx("flush blob", &self.tmp)?;
        let dest = self.store.path(&actual);
        if dest.is_file() {
            // Someone else stored the same content first.
            drop(file);
            let _ = fs::remove_file(&self.tmp);
            return Ok((actual, self.size));
        }
        file.sync_all().ctx("sync blob", &self.tmp)?;
        drop(file);
        fs::rename(&self.tmp, &dest).ctx("rename blob", &dest)?;
        sync_dir(&self.dir)?;
        Ok((actual, self.size))
    }
}

impl BlobWriter {
    /// Ask the kernel to start writing out what reached the file so far, without waiting.
    fn start_writeback(&mut self) {
        let Some(f) = self.file.as_ref() else { return };
        let in_file = self.size - f.buffer().len() as u64;
        if in_file < self.writeback_from + WRITEBACK_CHUNK {
            return;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(f.get_ref());
        // SAFETY: `fd` is the open file owned by `self.file` for the duration of the call;
        // sync_file_range only reads its arguments and has no memory-safety preconditions.
        let _ = unsafe {
            libc::sync_file_range(
                fd,
                libc::off64_t::try_from(self.writeback_from).unwrap_or(libc::off64_t::MAX),
                libc::off64_t::try_from(in_file - self.writeback_from).unwrap_or(0),
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        self.writeback_from = in_file;
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::other("blob already committed"));
        };
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        self.start_writeback();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_verify() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path().join("blobs"), t.path().join("tmp")).unwrap();
        let d = s.put(b"hello", None).unwrap();
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(s.read(&d, 100).unwrap(), b"hello");
        s.verify(&d).unwrap();
        assert!(s.read(&d, 2).is_err());
        // wrong expectation refused, nothing left behind
        let bad = Digest::of(b"other");
        assert!(s.put(b"hello!", Some(&bad)).is_err());
        let (blobs, temps) = s.list().unwrap();
        assert_eq!(blobs.len(), 1);
        assert!(temps.is_empty());
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path().join("blobs"), t.path().join("tmp")).unwrap();
        let mut w = s.writer(None).unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        let (blobs, temps) = s.list().unwrap();
        assert!(blobs.is_empty() && temps.is_empty());
        assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn corrupt_blob_detected() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path().join("blobs"), t.path().join("tmp")).unwrap();
        let d = s.put(b"content", None).unwrap();
        fs::write(s.path(&d), b"tampered").unwrap();
        assert!(s.verify(&d).is_err());
        assert!(s.read(&d, 100).is_err());
    }
}

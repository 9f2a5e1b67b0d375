//! Adding layers: a blob stored and unpacked in one pass, under the ceilings of
//! [`Limits`], installed so that a layer directory is used only once its row says it is
//! complete.
//!
//! A layer is unpacked into `image/tmp/layer-<pid>-<start>-<n>`, then, in one IMMEDIATE
//! transaction, renamed to `image/layers/<diff-id hex>` and recorded. A row in `layers`
//! therefore means a complete directory; a directory without a row is debris of a crash
//! (garbage collection forgets the row before it moves the directory away) and is replaced,
//! never adopted.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::blobs::{BlobWriter, sync_dir};
use crate::db::{self, LayerRow};
use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::layer::{self, Compression, SizeBudget, UnpackOptions};
use crate::model::LayerRef;
use crate::store::{LockGuard, RemoveDirOnDrop, Store};
use crate::time::now_unix;
use crate::trash::{self, Lease};

/// Default ceiling on one layer's unpacked (apparent) size.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;
/// Default ceiling on what one pull, load or import unpacks (apparent size).
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 256 << 30;

/// Ceilings on unpacked (apparent) sizes: berth.toml's `[storage] max-layer-size` and
/// `max-image-size`, which the engine reads and hands over with [`Store::set_limits`].
/// `None` is no ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per layer.
    pub max_layer_size: Option<u64>,
    /// Per operation: every layer one pull, load or import unpacks.
    pub max_image_size: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_size: Some(DEFAULT_MAX_LAYER_SIZE),
            max_image_size: Some(DEFAULT_MAX_IMAGE_SIZE),
        }
    }
}

/// A layer written and unpacked by [`Store::ingest_layer`].
#[derive(Debug, Clone)]
pub struct IngestedLayer {
    pub blob: Digest,
    pub blob_size: u64,
    pub compression: Compression,
    pub diff_id: Digest,
    /// Disk the unpacked files take (allocated blocks).
    pub size: u64,
    /// Sum of the unpacked files' sizes (holes included).
    pub apparent_size: u64,
}

/// One operation that adds content (a pull, load, import or commit): it holds the
/// store's shared lock and a lease, and counts what its layers unpack against the
/// ceilings. [`Ingest::finish`] it once its images are registered. Dropped unfinished (an
/// error), it collects the garbage it left when nobody else holds the lock; otherwise its
/// lease stays, and the first operation after this process is gone collects it.
pub struct Ingest<'s> {
    store: &'s Store,
    lock: Option<LockGuard>,
    lease: Option<Lease>,
    opts: UnpackOptions,
}

impl Ingest<'_> {
    /// Apparent bytes the layers of this operation unpacked so far.
    pub fn unpacked(&self) -> u64 {
        self.opts.budget.as_ref().map_or(0, |b| b.used())
    }

    /// The operation succeeded: what it added is referenced.
    pub fn finish(mut self) {
        if let Some(l) = self.lease.take() {
            l.release();
        }
        self.lock.take();
    }
}

impl Drop for Ingest<'_> {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        self.lock.take();
        match self.store.try_lock_exclusive() {
            Ok(Some(guard)) => match self.store.gc_locked() {
                Ok((_, trash)) => {
                    lease.release();
                    drop(guard);
                    trash.empty();
                }
                Err(e) => {
                    tracing::warn!("collecting what a failed operation left: {e}");
                    lease.keep();
                }
            },
            _ => lease.keep(),
        }
    }
}

impl Store {
    /// Start an operation that adds content: see [`Ingest`].
    pub fn begin_ingest(&self) -> Result<Ingest<'_>> {
        let lock = self.lock_shared()?;
        let lease = Lease::take(&self.tmp_dir())?;
        let limits = self.limits();
        Ok(Ingest {
            store: self,
            lock: Some(lock),
            lease: Some(lease),
            opts: UnpackOptions {
                max_size: limits.max_layer_size,
                budget: limits.max_image_size.map(|m| Arc::new(SizeBudget::new(m))),
                ..UnpackOptions::default()
            },
        })
    }

    fn layer_opts(&self) -> UnpackOptions {
        UnpackOptions {
            max_size: self.limits().max_layer_size,
            ..UnpackOptions::default()
        }
    }

    /// Store a layer blob from `reader` (compressed or not) and unpack it in the same pass,
    /// as part of `ing`. The blob digest is checked against `expected` when given; the
    /// diff ID is computed.
    pub fn ingest_layer<R: Read>(
        &self,
        reader: R,
        expected: Option<&Digest>,
        name: &str,
        ing: &Ingest<'_>,
    ) -> Result<IngestedLayer> {
        let mut writer = self.blob_writer(expected)?;
        let mut tee = Tee {
            inner: reader,
            out: Some(&mut writer),
        };
        let (compression, diff_id, row) = self.unpack_stream(&mut tee, name, &ing.opts)?;
        tee.drain()?;
        drop(tee);
        let (blob, blob_size) = writer.commit()?;
        Ok(IngestedLayer {
            blob,
            blob_size,
            compression,
            diff_id,
            size: row.size,
            apparent_size: row.apparent,
        })
    }

    /// Make sure the layer of `l` is unpacked, unpacking it from its stored blob if not
    /// (under the per-layer ceiling). Returns the disk it takes.
    pub fn ensure_layer(&self, l: &LayerRef) -> Result<u64> {
        self.ensure_layer_with(l, &self.layer_opts())
    }

    /// [`Store::ensure_layer`] as part of `ing` (its ceilings count what is unpacked).
    pub fn ensure_layer_in(&self, l: &LayerRef, ing: &Ingest<'_>) -> Result<u64> {
        self.ensure_layer_with(l, &ing.opts)
    }

    fn ensure_layer_with(&self, l: &LayerRef, opts: &UnpackOptions) -> Result<u64> {
        let recorded = db::layer_row(self.db().conn(), &l.diff_id)?;
        if let Some(row) = recorded
            && self.layer_dir(&l.diff_id).is_dir()
        {
            return Ok(row.size);
        }
        let f = self.blobs().open_blob(&l.blob)?;
        let mut tee = Tee::<File> {
            inner: f,
            out: None,
        };
        let (_, diff_id, row) = self.unpack_stream(&mut tee, &l.blob.to_string(), opts)?;
        if diff_id != l.diff_id {
            return Err(Error::DigestMismatch {
                what: format!("diff id of layer {}", l.blob),
                expected: l.diff_id.to_string(),
                actual: diff_id.to_string(),
            });
        }
        Ok(row.size)
    }

    /// Decompress, hash and unpack a layer stream into a temp dir, then install it under
    /// its diff ID.
    fn unpack_stream<R: Read>(
        &self,
        tee: &mut Tee<'_, R>,
        name: &str,
        opts: &UnpackOptions,
    ) -> Result<(Compression, Digest, LayerRow)> {
        let tmp = self.tmp_dir().join(trash::owned_name(trash::LAYER));
        self.new_layer_dir(&tmp)?;
        let guard = RemoveDirOnDrop(Some(tmp.clone()));
        let has_writer = tee.out.is_some();
        let (compression, dec) = layer::decompress(&mut *tee).map_err(|e| Error::InvalidLayer {
            layer: name.to_owned(),
            reason: e.to_string(),
        })?;
        // An uncompressed layer's diff ID is its blob digest, which the blob writer
        // computes anyway: hash it only once.
        let reuse_blob_hash = compression == Compression::None && has_writer;
        let mut hashing = HashingReader::new(dec, Algorithm::Sha256);
        if reuse_blob_hash {
            hashing = hashing.without_hash();
        }
        let stats = layer::unpack_tar(&mut hashing, &tmp, name, opts)?;
        let (diff_id, _, _) = hashing.finish_opt().map_err(|e| Error::InvalidLayer {
            layer: name.to_owned(),
            reason: e.to_string(),
        })?;
        let diff_id = match diff_id {
            Some(d) => d,
            None => {
                tee.drain()?;
                match tee.out.as_ref() {
                    Some(w) => w.digest_so_far(),
                    None => return Err(Error::invalid(name, "no digest for layer")),
                }
            }
        };
        let row = LayerRow {
            size: stats.allocated,
            apparent: stats.apparent,
        };
        let row = self.install_layer(guard, &diff_id, row)?;
        Ok((compression, diff_id, row))
    }

    /// An empty layer directory at `p`, 0755 whatever the umask (a layer without a `./`
    /// entry keeps it): two unpacks of a layer give identical trees.
    pub(crate) fn new_layer_dir(&self, p: &std::path::Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir(p).ctx("create layer directory", p)?;
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).ctx("chmod", p)
    }

    /// Move the unpacked directory `tmp` into place and record it, in one transaction;
    /// returns the row in force (another process's when it was faster).
    fn install_layer(
        &self,
        mut tmp: RemoveDirOnDrop,
        diff_id: &Digest,
        row: LayerRow,
    ) -> Result<LayerRow> {
        let Some(src) = tmp.0.clone() else {
            return Err(Error::invalid("layer directory", "already installed"));
        };
        let dest = self.layer_dir(diff_id);
        let mut debris = self.trash();
        let res = (|| -> Result<LayerRow> {
            let mut db = self.db();
            let tx = db.write()?;
            if let Some(done) = db::layer_row(&tx, diff_id)?
                && dest.is_dir()
            {
                // Unpacked concurrently: ours is redundant (removed with `tmp`).
                return Ok(done);
            }
            // A directory without a row is what a crash left half-written or
            // half-deleted: replaced, never adopted.
            if fs::symlink_metadata(&dest).is_ok() {
                debris.take(&dest)?;
            }
            fs::rename(&src, &dest).ctx("rename layer directory", &dest)?;
            tmp.0 = None;
            sync_dir(&self.layers_root())?;
            db::insert_layer(&tx, diff_id, row, now_unix())?;
            tx.commit()?;
            Ok(row)
        })();
        drop(tmp);
        debris.empty();
        res
    }
}

/// A reader that copies every byte it reads into a blob writer.
pub(crate) struct Tee<'w, R> {
    pub(crate) inner: R,
    pub(crate) out: Option<&'w mut BlobWriter>,
}

impl<R: Read> Tee<'_, R> {
    pub(crate) fn drain(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).ctx("read layer", PathBuf::from("-")),
            }
        }
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.out.as_mut() {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

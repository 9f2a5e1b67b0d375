//! The image store: blobs, metadata, unpacked layers and snapshots under `<root>/image`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rustix::fs::FlockOperation;

use crate::blobs::{BlobStore, BlobWriter, TMP_PREFIX, sync_dir, temp_name};
use crate::db::{self, Db, ImageRecord};
use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::layer::{self, Compression, UnpackOptions};
use crate::model::LayerRef;
use crate::reference::{Reference, is_full_hex_id};
use crate::time::now_unix;

/// The image store of one data root.
pub struct Store {
    root: PathBuf,
    blobs: BlobStore,
    db: Mutex<Db>,
}

/// A held store lock; released on drop (and by the kernel when the process dies).
pub struct LockGuard {
    _file: File,
}

/// A layer written and unpacked by [`Store::ingest_layer`].
#[derive(Debug, Clone)]
pub struct IngestedLayer {
    pub blob: Digest,
    pub blob_size: u64,
    pub compression: Compression,
    pub diff_id: Digest,
    /// Uncompressed size.
    pub size: u64,
}

impl Store {
    /// Open (creating if needed) the store under `data_root/image`.
    pub fn open(data_root: &Path) -> Result<Store> {
        let root = data_root.join("image");
        // Layers hold images' files, setuid binaries included: root's alone.
        berth_runtime::util::private_dir(&root, 0o700).map_err(|e| Error::Io {
            context: "make the image store private",
            path: root.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        for d in ["layers", "snapshots"] {
            let p = root.join(d);
            fs::create_dir_all(&p).ctx("create store directory", &p)?;
        }
        let blobs = BlobStore::open(root.join("blobs"))?;
        let db = Db::open(&root.join("meta.db"))?;
        Ok(Store {
            root,
            blobs,
            db: Mutex::new(db),
        })
    }

    /// `<data root>/image`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // A poisoned lock only means another thread panicked mid-call; the SQLite state is
        // transactional, so keep going.
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self, op: FlockOperation) -> Result<LockGuard> {
        let p = self.root.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx("open store lock", &p)?;
        rustix::fs::flock(&f, op).ctx("lock store", &p)?;
        Ok(LockGuard { _file: f })
    }

    /// Taken by operations that add content (load, import, pull, commit, snapshots):
    /// garbage collection waits for them.
    pub fn lock_shared(&self) -> Result<LockGuard> {
        self.lock(FlockOperation::LockShared)
    }

    /// Taken by operations that delete content (rm, prune, check).
    pub fn lock_exclusive(&self) -> Result<LockGuard> {
        self.lock(FlockOperation::LockExclusive)
    }

    /// The directory of an unpacked layer.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    pub(crate) fn layers_root(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// True when the layer is unpacked and recorded.
    pub fn layer_ready(&self, diff_id: &Digest) -> Result<bool> {
        let rec = db::layer_size(self.db().conn(), diff_id)?;
        Ok(rec.is_some() && self.layer_dir(diff_id).is_dir())
    }

    /// Store a layer blob from `reader` (compressed or not) and unpack it in the same pass.
    /// The blob digest is checked against `expected` when given; the diff ID is computed.
    pub fn ingest_layer<R: Read>(
        &self,
        reader: R,
        expected: Option<&Digest>,
        name: &str,
    ) -> Result<IngestedLayer> {
        let mut writer = self.blobs.writer(expected)?;
        let mut tee = Tee {
            inner: reader,
            out: Some(&mut writer),
        };
        let (compression, diff_id, size) = self.unpack_stream(&mut tee, name)?;
        tee.drain()?;
        drop(tee);
        let (blob, blob_size) = writer.commit()?;
        Ok(IngestedLayer {
            blob,
            blob_size,
            compression,
            diff_id,
            size,
        })
    }

    /// Make sure the layer of `l` is unpacked, unpacking it from its stored blob if not.
    pub fn ensure_layer(&self, l: &LayerRef) -> Result<u64> {
        let recorded = db::layer_size(self.db().conn(), &l.diff_id)?;
        if let Some(size) = recorded
            && self.layer_dir(&l.diff_id).is_dir()
        {
            return Ok(size);
        }
        let f = self.blobs.open_blob(&l.blob)?;
        let mut tee = Tee::<File> {
            inner: f,
            out: None,
        };
        let (_, diff_id, size) = self.unpack_stream(&mut tee, &l.blob.to_string())?;
        if diff_id != l.diff_id {
            return Err(Error::DigestMismatch {
                what: format!("diff id of layer {}", l.blob),
                expected: l.diff_id.to_string(),
                actual: diff_id.to_string(),
            });
        }
        Ok(size)
    }

    /// Decompress, hash and unpack a layer stream into a temp dir, then rename it into place
    /// under its diff ID and record it.
    fn unpack_stream<R: Read>(
        &self,
        tee: &mut Tee<'_, R>,
        name: &str,
    ) -> Result<(Compression, Digest, u64)> {
        let tmp = self.layers_root().join(temp_name());
        fs::create_dir(&tmp).ctx("create layer directory", &tmp)?;
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
        layer::unpack_tar(&mut hashing, &tmp, name, &UnpackOptions::default())?;
        let (diff_id, size, _) = hashing.finish_opt().map_err(|e| Error::InvalidLayer {
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
        let dest = self.layer_dir(&diff_id);
        if dest.is_dir() {
            // Unpacked before (or concurrently): ours is redundant.
            drop(guard);
        } else {
            match fs::rename(&tmp, &dest) {
                Ok(()) => {
                    std::mem::forget(guard);
                    sync_dir(&self.layers_root())?;
                }
                Err(_) if dest.is_dir() => drop(guard),
                Err(e) => return Err(e).ctx("rename layer directory", &dest),
            }
        }
        db::insert_layer(self.db().conn(), &diff_id, size, now_unix())?;
        Ok((compression, diff_id, size))
    }

    /// Start writing a blob (for callers that stream content in, e.g. a registry client).
    pub fn blob_writer(&self, expected: Option<&Digest>) -> Result<BlobWriter> {
        self.blobs.writer(expected)
    }

    /// Every image.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        db::list_images(self.db().conn())
    }

    /// The image with this ID.
    pub fn image(&self, id: &Digest) -> Result<ImageRecord> {
        db::get_image(self.db().conn(), id)?.ok_or_else(|| Error::ImageNotFound(id.to_string()))
    }

    /// Find an image the way docker does: by name[:tag], name@digest, full or short ID.
    pub fn resolve(&self, s: &str) -> Result<ImageRecord> {
        let not_found = || Error::ImageNotFound(s.to_owned());
        if let Some(hex) = s.strip_prefix("sha256:") {
            if is_full_hex_id(hex) {
                let id = Digest::sha256_hex(hex)?;
                return db::get_image(self.db().conn(), &id)?.ok_or_else(not_found);
            }
            return self.by_prefix(hex)?.ok_or_else(not_found);
        }
        if let Ok(r) = Reference::parse_tagged(s) {
            if let Some(name) = r.tagged_name()
                && r.digest().is_none()
            {
                let target = db::tag_target(self.db().conn(), &name)?;
                if let Some(id) = target {
                    return self.image(&id);
                }
            }
            if let Some(d) = r.digest() {
                let key = format!("{}@{d}", r.name());
                let all = self.images()?;
                if let Some(img) = all.into_iter().find(|i| {
                    i.repo_digests.contains(&key) || (&i.manifest == d && i.has_repo(&r.name()))
                }) {
                    return Ok(img);
                }
                return Err(not_found());
            }
        }
        if is_full_hex_id(s) {
            let id = Digest::sha256_hex(s)?;
            return db::get_image(self.db().conn(), &id)?.ok_or_else(not_found);
        }
        if !s.is_empty()
            && s.len() < 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && let Some(i) = self.by_prefix(s)?
        {
            return Ok(i);
        }
        Err(not_found())
    }

    fn by_prefix(&self, hex: &str) -> Result<Option<ImageRecord>> {
        let mut found: Vec<ImageRecord> = self
            .images()?
            .into_iter()
            .filter(|i| i.id.hex().starts_with(hex))
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(Error::Conflict(format!(
                "short id {hex} is ambiguous: {} images match",
                found.len()
            ))),
        }
    }

    /// Read the config JSON of an image.
    pub fn config_bytes(&self, img: &ImageRecord) -> Result<Vec<u8>> {
        self.blobs.read(&img.id, crate::model::MAX_JSON)
    }

    /// Read the manifest JSON of an image.
    pub fn manifest_bytes(&self, img: &ImageRecord) -> Result<Vec<u8>> {
        self.blobs.read(&img.manifest, crate::model::MAX_JSON)
    }

    /// Add a tag (`target`, e.g. `busybox:v2`) to the image `source` resolves to.
    pub fn tag(&self, source: &str, target: &str) -> Result<ImageRecord> {
        let img = self.resolve(source)?;
        let r = Reference::parse_tagged(target)?;
        let Some(name) = r.tagged_name() else {
            return Err(Error::InvalidReference(format!(
                "{target}: a tag is needed, not a digest"
            )));
        };
        if r.digest().is_some() {
            return Err(Error::InvalidReference(format!(
                "{target}: a tag cannot carry a digest"
            )));
        }
        let mut db = self.db();
        let tx = db.write()?;
        db::set_tag(&tx, &name, &img.id)?;
        tx.commit()?;
        Ok(img)
    }

    /// Mark an image as used by (`kind`, `id`), e.g. ("container", "<id>"): `rm` refuses it.
    pub fn add_user(&self, image: &Digest, kind: &str, id: &str) -> Result<()> {
        let db = self.db();
        db.conn().execute(
            "INSERT INTO users (kind, id, image_id) VALUES (?1, ?2, ?3)
             ON CONFLICT(kind, id) DO UPDATE SET image_id = excluded.image_id",
            rusqlite::params![kind, id, image.to_string()],
        )?;
        Ok(())
    }

    /// Drop a user mark.
    pub fn remove_user(&self, kind: &str, id: &str) -> Result<()> {
        self.db()
            .conn()
            .execute("DELETE FROM users WHERE kind = ?1 AND id = ?2", [kind, id])?;
        Ok(())
    }

    /// Who uses an image: (kind, id) pairs, snapshots included.
    pub fn users(&self, image: &Digest) -> Result<Vec<(String, String)>> {
        db::users_of(self.db().conn(), image)
    }

    /// Record a new image (its blobs and unpacked layers must be stored) and point `tags` at it.
    /// Returns the record and the images that lost a tag to it.
    pub(crate) fn register(
        &self,
        rec: &ImageRecord,
        tags: &[Reference],
        repo_digests: &[String],
    ) -> Result<ImageRecord> {
        for d in [&rec.manifest, &rec.id] {
            if !self.blobs.exists(d) {
                return Err(Error::BlobNotFound(d.to_string()));
            }
        }
        for l in &rec.layers {
            if !self.blobs.exists(&l.blob) {
                return Err(Error::BlobNotFound(l.blob.to_string()));
            }
        }
        {
            let mut db = self.db();
            let tx = db.write()?;
            db::insert_image(&tx, rec)?;
            for t in tags {
                if let Some(name) = t.tagged_name() {
                    db::set_tag(&tx, &name, &rec.id)?;
                }
            }
            for r in repo_digests {
                db::add_repo_digest(&tx, r, &rec.id)?;
            }
            tx.commit()?;
        }
        self.image(&rec.id)
    }

    /// Sum of the recorded unpacked sizes of these layers (blob sizes where unknown).
    pub(crate) fn layers_size(&self, layers: &[LayerRef]) -> Result<u64> {
        let db = self.db();
        let mut total = 0;
        for l in layers {
            total += db::layer_size(db.conn(), &l.diff_id)?.unwrap_or(l.blob_size);
        }
        Ok(total)
    }
}

impl ImageRecord {
    /// True if a tag or repo digest of this image is in repository `name` (full form).
    pub fn has_repo(&self, name: &str) -> bool {
        self.tags.iter().chain(&self.repo_digests).any(|t| {
            t.starts_with(name) && matches!(t.as_bytes().get(name.len()), Some(b':') | Some(b'@'))
        })
    }

    /// Tags in familiar form (`busybox:latest`).
    pub fn familiar_tags(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| Reference::parse(t).ok())
            .map(|r| r.familiar())
            .collect()
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

/// Removes a directory tree on drop unless forgotten.
pub(crate) struct RemoveDirOnDrop(pub(crate) Option<PathBuf>);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(&p);
        }
    }
}

/// True for names the store uses for temp files and directories.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with(TMP_PREFIX)
}

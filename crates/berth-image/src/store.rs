//! The image store: blobs, metadata, unpacked layers and snapshots under `<root>/image`.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rustix::fs::FlockOperation;
use rustix::io::Errno;

use crate::blobs::{BlobStore, BlobWriter, TMP_PREFIX};
use crate::db::{self, Db, ImageRecord};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::ingest::Limits;
use crate::model::LayerRef;
use crate::reference::{Reference, is_full_hex_id};
use crate::trash::{self, Trash};

/// The image store of one data root.
pub struct Store {
    root: PathBuf,
    blobs: BlobStore,
    db: Mutex<Db>,
    limits: Mutex<Limits>,
}

/// A held store lock; released on drop (and by the kernel when the process dies).
pub struct LockGuard {
    _file: File,
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
        for d in ["layers", "snapshots", "tmp", "trash"] {
            let p = root.join(d);
            fs::create_dir_all(&p).ctx("create store directory", &p)?;
        }
        let blobs = BlobStore::open(root.join("blobs"), root.join("tmp"))?;
        let db = Db::open(&root.join("meta.db"))?;
        Ok(Store {
            root,
            blobs,
            db: Mutex::new(db),
            limits: Mutex::new(Limits::default()),
        })
    }

    /// Use these ceilings for what later operations unpack (berth.toml's `[storage]`, read
    /// by the engine).
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    /// The ceilings in force.
    pub fn limits(&self) -> Limits {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `image/tmp`: what operations are writing, named after their process.
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// An empty trash of this process, in `image/trash`.
    pub(crate) fn trash(&self) -> Trash {
        Trash::new(self.root.join("trash"))
    }

    /// Remove the temporaries and trash of dead processes (see `trash.rs`). Returns what
    /// was removed and whether a dead process held a lease (then garbage may be left).
    pub(crate) fn reclaim(&self) -> Result<trash::Reclaimed> {
        trash::reclaim(&self.tmp_dir(), &self.root.join("trash"))
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

    fn lock_file(&self) -> Result<File> {
        let p = self.root.join("lock");
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx("open store lock", &p)
    }

    fn lock(&self, op: FlockOperation) -> Result<LockGuard> {
        let f = self.lock_file()?;
        rustix::fs::flock(&f, op).ctx("lock store", self.root.join("lock"))?;
        Ok(LockGuard { _file: f })
    }

    /// The exclusive lock if nobody holds the lock at all.
    pub(crate) fn try_lock_exclusive(&self) -> Result<Option<LockGuard>> {
        let f = self.lock_file()?;
        match rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(LockGuard { _file: f })),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e).ctx("lock store", self.root.join("lock")),
        }
    }

    /// Taken by operations that add content (load, import, pull, commit): garbage
    /// collection waits for them. First removes what dead processes left (temporaries,
    /// trash) and, when one of them died holding a lease and nobody holds the lock,
    /// collects the garbage it may have left.
    pub fn lock_shared(&self) -> Result<LockGuard> {
        let found = self.reclaim()?;
        if !found.dead_leases.is_empty()
            && let Some(guard) = self.try_lock_exclusive()?
        {
            let trash = self.gc_locked()?.1;
            // Converting is not atomic, which is fine: nothing is assumed across it.
            rustix::fs::flock(&guard._file, FlockOperation::LockShared)
                .ctx("lock store", self.root.join("lock"))?;
            trash.empty();
            return Ok(guard);
        }
        self.lock(FlockOperation::LockShared)
    }

    /// Remove what dead processes left, as [`Store::lock_shared`] does, without keeping a
    /// lock (for `remove_snapshot`, which needs none).
    pub(crate) fn tidy(&self) -> Result<()> {
        let found = self.reclaim()?;
        if !found.dead_leases.is_empty()
            && let Some(guard) = self.try_lock_exclusive()?
        {
            let trash = self.gc_locked()?.1;
            drop(guard);
            trash.empty();
        }
        Ok(())
    }

    /// Taken by operations that delete content (rm, prune, check), after removing what
    /// dead processes left. They forget rows and rename files into the trash under it, and
    /// delete the trash after releasing it.
    pub fn lock_exclusive(&self) -> Result<LockGuard> {
        self.reclaim()?;
        self.lock(FlockOperation::LockExclusive)
    }

    /// The directory of an unpacked layer.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    pub(crate) fn layers_root(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// True when the layer is unpacked and recorded (a row means complete).
    pub fn layer_ready(&self, diff_id: &Digest) -> Result<bool> {
        let rec = db::layer_row(self.db().conn(), diff_id)?;
        Ok(rec.is_some() && self.layer_dir(diff_id).is_dir())
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

    /// Sum of the disk the unpacked layers take (blob sizes where unknown).
    pub(crate) fn layers_size(&self, layers: &[LayerRef]) -> Result<u64> {
        let db = self.db();
        let mut total = 0;
        for l in layers {
            total += db::layer_row(db.conn(), &l.diff_id)?.map_or(l.blob_size, |r| r.size);
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

/// Removes a directory tree on drop unless forgotten.
pub(crate) struct RemoveDirOnDrop(pub(crate) Option<PathBuf>);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(&p);
        }
    }
}

/// True for the temp names older versions used in `blobs/` and `layers/`.
pub(crate) fn is_legacy_temp_name(name: &str) -> bool {
    name.starts_with(TMP_PREFIX)
}

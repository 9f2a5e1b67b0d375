//! Removing images, garbage collection, disk usage and crash repair.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use serde::Serialize;

use crate::db;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::store::{Store, is_temp_name};

/// One step of an image removal, as docker prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RemoveEvent {
    /// A tag was removed (familiar form, e.g. `busybox:latest`).
    Untagged(String),
    /// An image was deleted.
    Deleted(Digest),
}

/// What garbage collection freed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub layers_removed: usize,
    pub bytes_freed: u64,
}

/// What `prune` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub gc: GcReport,
}

/// What `check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Leftovers of interrupted operations that were cleaned up.
    pub repaired: Vec<String>,
    /// Inconsistencies that could not be repaired.
    pub problems: Vec<String>,
}

/// Disk usage, as `system df` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiskUsage {
    pub images: usize,
    pub active_images: usize,
    /// Unpacked size of all distinct layers.
    pub layers_size: u64,
    pub layers: usize,
    /// Bytes of layers used by more than one image.
    pub shared_size: u64,
    /// Bytes of layers used by exactly one image.
    pub unique_size: u64,
    /// Size of stored blobs (compressed layers, configs, manifests).
    pub blobs_size: u64,
    /// What removing every unused image would free (layers + blobs).
    pub reclaimable: u64,
    pub snapshots: usize,
    pub snapshots_size: u64,
}

impl Store {
    /// Remove an image reference or image, like `docker rmi`.
    pub fn remove(&self, s: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let _lock = self.lock_exclusive()?;
        let img = self.resolve(s)?;
        let users = self.users(&img.id)?;
        let by_name = Reference::parse_tagged(s)
            .ok()
            .and_then(|r| r.tagged_name())
            .filter(|n| img.tags.contains(n) && !s.starts_with("sha256:"));
        let mut events = Vec::new();
        let mut db = self.db();
        let tx = db.write()?;
        if let Some(name) = by_name {
            // Removing one name of an image with several only untags.
            tx.execute("DELETE FROM tags WHERE name = ?1", [&name])?;
            events.push(RemoveEvent::Untagged(familiar(&name)));
            if img.tags.len() > 1 {
                tx.commit()?;
                return Ok(events);
            }
            if !users.is_empty() && !force {
                return Err(Error::Conflict(format!(
                    "unable to remove repository reference {s:?} (must force) - {} {} is using its referenced image {}",
                    users[0].0,
                    users[0].1,
                    img.id.short()
                )));
            }
        } else {
            if img.tags.len() > 1 && !force {
                return Err(Error::Conflict(format!(
                    "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    img.id.short()
                )));
            }
            if !users.is_empty() && !force {
                return Err(Error::Conflict(format!(
                    "unable to delete {} (must be forced) - image is being used by {} {}",
                    img.id.short(),
                    users[0].0,
                    users[0].1
                )));
            }
            for t in &img.tags {
                events.push(RemoveEvent::Untagged(familiar(t)));
            }
            tx.execute("DELETE FROM tags WHERE image_id = ?1", [img.id.to_string()])?;
        }
        for r in &img.repo_digests {
            events.push(RemoveEvent::Untagged(familiar(r)));
        }
        tx.execute(
            "DELETE FROM repo_digests WHERE image_id = ?1",
            [img.id.to_string()],
        )?;
        if users.is_empty() {
            tx.execute("DELETE FROM images WHERE id = ?1", [img.id.to_string()])?;
            events.push(RemoveEvent::Deleted(img.id.clone()));
        }
        tx.commit()?;
        drop(db);
        self.gc_locked()?;
        Ok(events)
    }

    /// Remove dangling images (all unused ones with `all`), then garbage.
    pub fn prune(&self, all: bool) -> Result<PruneReport> {
        let _lock = self.lock_exclusive()?;
        let mut report = PruneReport::default();
        {
            let images = self.images()?;
            let mut db = self.db();
            let tx = db.write()?;
            for img in images {
                let users = db::users_of(&tx, &img.id)?;
                if !users.is_empty() || (!all && !img.tags.is_empty()) {
                    continue;
                }
                for t in &img.tags {
                    report.events.push(RemoveEvent::Untagged(familiar(t)));
                }
                tx.execute("DELETE FROM images WHERE id = ?1", [img.id.to_string()])?;
                report.events.push(RemoveEvent::Deleted(img.id.clone()));
            }
            tx.commit()?;
        }
        report.gc = self.gc_locked()?;
        Ok(report)
    }

    /// Remove blobs and unpacked layers no image refers to. Caller holds the exclusive lock.
    pub(crate) fn gc_locked(&self) -> Result<GcReport> {
        let (blobs_keep, layers_keep) = self.referenced()?;
        let mut rep = GcReport::default();
        let (blobs, temps) = self.blobs().list()?;
        // Under the exclusive lock no writer is running: temp files are leftovers.
        for t in temps {
            remove_path(&t)?;
        }
        let lroot = self.layers_root();
        for ent in fs::read_dir(&lroot).ctx("list layers", &lroot)?.flatten() {
            if is_temp_name(&ent.file_name().to_string_lossy()) {
                remove_path(&ent.path())?;
            }
        }
        for (d, size) in blobs {
            if !blobs_keep.contains(&d) {
                self.blobs().remove(&d)?;
                rep.blobs_removed += 1;
                rep.bytes_freed += size;
            }
        }
        let recorded = db::all_layers(self.db().conn())?;
        for (d, size) in recorded {
            if !layers_keep.contains(&d) {
                self.db()
                    .conn()
                    .execute("DELETE FROM layers WHERE diff_id = ?1", [d.to_string()])?;
                let dir = self.layer_dir(&d);
                if dir.exists() {
                    fs::remove_dir_all(&dir).ctx("remove layer", &dir)?;
                }
                rep.layers_removed += 1;
                rep.bytes_freed += size;
            }
        }
        Ok(rep)
    }

    /// Blobs and layers that images refer to.
    fn referenced(&self) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
        let mut blobs = HashSet::new();
        let mut layers = HashSet::new();
        for img in self.images()? {
            blobs.insert(img.id.clone());
            blobs.insert(img.manifest.clone());
            for l in img.layers {
                blobs.insert(l.blob);
                layers.insert(l.diff_id);
            }
        }
        Ok((blobs, layers))
    }

    /// Find and repair what a crash left behind; report what cannot be repaired.
    /// With `verify`, re-hash every blob too.
    pub fn check(&self, verify: bool) -> Result<CheckReport> {
        let _lock = self.lock_exclusive()?;
        let mut rep = CheckReport::default();
        let integrity: String = self
            .db()
            .conn()
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            rep.problems.push(format!("image database: {integrity}"));
        }
        // Temp blobs.
        let (blobs, temps) = self.blobs().list()?;
        for t in temps {
            remove_path(&t)?;
            rep.repaired
                .push(format!("removed leftover temp blob {}", t.display()));
        }
        // Half-unpacked and unrecorded layer directories.
        let recorded: HashSet<Digest> = db::all_layers(self.db().conn())?
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let lroot = self.layers_root();
        for ent in fs::read_dir(&lroot).ctx("list layers", &lroot)? {
            let ent = ent.ctx("list layers", &lroot)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            let known = Digest::sha256_hex(&name)
                .ok()
                .filter(|d| recorded.contains(d));
            if known.is_none() {
                remove_path(&ent.path())?;
                let what = if is_temp_name(&name) {
                    "half-unpacked"
                } else {
                    "unrecorded"
                };
                rep.repaired
                    .push(format!("removed {what} layer directory {name}"));
            }
        }
        for d in &recorded {
            if !self.layer_dir(d).is_dir() {
                self.db()
                    .conn()
                    .execute("DELETE FROM layers WHERE diff_id = ?1", [d.to_string()])?;
                rep.repaired.push(format!(
                    "forgot layer {d} whose directory is missing (it is unpacked again when needed)"
                ));
            }
        }
        // Images pointing at missing blobs.
        let images = self.images()?;
        let have: HashSet<&Digest> = blobs.iter().map(|(d, _)| d).collect();
        for img in &images {
            let mut missing: Vec<String> = Vec::new();
            for d in [&img.id, &img.manifest] {
                if !have.contains(d) {
                    missing.push(d.to_string());
                }
            }
            for l in &img.layers {
                if !have.contains(&l.blob) {
                    missing.push(l.blob.to_string());
                }
            }
            if !missing.is_empty() {
                rep.problems.push(format!(
                    "image {} ({}) is missing blobs: {}",
                    img.id.short(),
                    img.familiar_tags().join(", "),
                    missing.join(", ")
                ));
            }
        }
        if verify {
            for (d, _) in &blobs {
                if let Err(e) = self.blobs().verify(d) {
                    rep.problems.push(e.to_string());
                }
            }
        }
        // Snapshots without records and records without directories.
        let snaps = db::list_snapshots(self.db().conn())?;
        let known: HashSet<String> = snaps.iter().map(|s| s.id.clone()).collect();
        let sroot = self.root().join("snapshots");
        for ent in fs::read_dir(&sroot).ctx("list snapshots", &sroot)? {
            let ent = ent.ctx("list snapshots", &sroot)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                if crate::snapshot::is_mounted_under(&ent.path()) {
                    rep.problems
                        .push(format!("unrecorded snapshot {name} is still mounted"));
                    continue;
                }
                remove_path(&ent.path())?;
                rep.repaired
                    .push(format!("removed unrecorded snapshot directory {name}"));
            }
        }
        for s in snaps {
            if !sroot.join(&s.id).is_dir() {
                rep.problems
                    .push(format!("snapshot {} has no directory", s.id));
            }
        }
        // Garbage: blobs and layers no image refers to (left by interrupted operations).
        let gc = self.gc_locked()?;
        if gc.blobs_removed + gc.layers_removed > 0 {
            rep.repaired.push(format!(
                "removed {} unreferenced blobs and {} unreferenced layers ({} bytes)",
                gc.blobs_removed, gc.layers_removed, gc.bytes_freed
            ));
        }
        Ok(rep)
    }

    /// Disk usage of images, layers and snapshots.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.images()?;
        let layers = db::all_layers(self.db().conn())?;
        let snaps = db::list_snapshots(self.db().conn())?;
        let mut du = DiskUsage {
            images: images.len(),
            layers: layers.len(),
            snapshots: snaps.len(),
            ..Default::default()
        };
        let mut users_count = std::collections::HashMap::<Digest, usize>::new();
        let mut active = HashSet::new();
        for img in &images {
            if !self.users(&img.id)?.is_empty() {
                active.insert(img.id.clone());
            }
            let distinct: HashSet<&Digest> = img.layers.iter().map(|l| &l.diff_id).collect();
            for d in distinct {
                *users_count.entry(d.clone()).or_default() += 1;
            }
        }
        du.active_images = active.len();
        let sizes: std::collections::HashMap<Digest, u64> = layers.into_iter().collect();
        for (d, size) in &sizes {
            du.layers_size += size;
            match users_count.get(d).copied().unwrap_or(0) {
                0 | 1 => du.unique_size += size,
                _ => du.shared_size += size,
            }
        }
        let (blobs, _) = self.blobs().list()?;
        du.blobs_size = blobs.iter().map(|(_, s)| s).sum();
        // Reclaimable: layers and blobs only used by inactive images.
        let mut needed_layers = HashSet::new();
        let mut needed_blobs = HashSet::new();
        for img in images.iter().filter(|i| active.contains(&i.id)) {
            needed_blobs.insert(img.id.clone());
            needed_blobs.insert(img.manifest.clone());
            for l in &img.layers {
                needed_layers.insert(l.diff_id.clone());
                needed_blobs.insert(l.blob.clone());
            }
        }
        du.reclaimable = sizes
            .iter()
            .filter(|(d, _)| !needed_layers.contains(*d))
            .map(|(_, s)| s)
            .sum::<u64>()
            + blobs
                .iter()
                .filter(|(d, _)| !needed_blobs.contains(d))
                .map(|(_, s)| s)
                .sum::<u64>();
        for s in &snaps {
            du.snapshots_size += dir_size(&self.root().join("snapshots").join(&s.id).join("upper"));
        }
        Ok(du)
    }
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_owned())
}

fn remove_path(p: &PathBuf) -> Result<()> {
    let md = fs::symlink_metadata(p).ctx("stat", p)?;
    if md.is_dir() {
        fs::remove_dir_all(p).ctx("remove", p)
    } else {
        fs::remove_file(p).ctx("remove", p)
    }
}

/// Bytes used by regular files under `p` (not following symlinks).
pub(crate) fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    let Ok(rd) = fs::read_dir(p) else { return 0 };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            total += dir_size(&e.path());
        } else if md.is_file() {
            total += md.len();
        }
    }
    total
}

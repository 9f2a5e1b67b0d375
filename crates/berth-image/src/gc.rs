//! Removing images and garbage collection.
//!
//! Crash-safe and short under the lock: with the exclusive lock and a lease held, one
//! transaction forgets the images and the layer rows no image lists any more; then the
//! layer directories and blobs they leave are renamed into the trash, the lock is released
//! and the trash deleted. A kill before the commit changes nothing; after it, a layer
//! directory not yet moved has no row (debris: replaced, never reused), and the dead
//! process's lease makes the next operation collect what is left; a kill while deleting
//! leaves trash named after a dead process, which the next operation removes.

use std::collections::HashSet;
use std::fs;

use rusqlite::Connection;
use serde::Serialize;

use crate::db;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::store::{Store, is_legacy_temp_name};
use crate::trash::{self, Lease, Trash};

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
    /// Snapshot directories without a row (left by a killed `prepare_snapshot`).
    pub snapshots_removed: usize,
    pub bytes_freed: u64,
}

/// What `prune` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub gc: GcReport,
}

impl Store {
    /// Remove an image reference or image, like `docker rmi`.
    pub fn remove(&self, s: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let lock = self.lock_exclusive()?;
        let img = self.resolve(s)?;
        let users = self.users(&img.id)?;
        let by_name = Reference::parse_tagged(s)
            .ok()
            .and_then(|r| r.tagged_name())
            .filter(|n| img.tags.contains(n) && !s.starts_with("sha256:"));
        let mut events = Vec::new();
        let lease = Lease::take(&self.tmp_dir())?;
        let deleted = {
            let mut db = self.db();
            let tx = db.write()?;
            if let Some(name) = by_name {
                // Removing one name of an image with several only untags.
                tx.execute("DELETE FROM tags WHERE name = ?1", [&name])?;
                events.push(RemoveEvent::Untagged(familiar(&name)));
                if img.tags.len() > 1 {
                    // As Docker's: when no tag of that repository is left on the image, its
                    // digest references in that repository go too (`push` made them).
                    let repo = repository_of_tag(&name);
                    let repo_left = img
                        .tags
                        .iter()
                        .any(|t| *t != name && repository_of_tag(t) == repo);
                    if !repo_left {
                        for r in &img.repo_digests {
                            if r.split_once('@').is_some_and(|(n, _)| n == repo) {
                                tx.execute(
                                    "DELETE FROM repo_digests WHERE name = ?1 AND image_id = ?2",
                                    [r, &img.id.to_string()],
                                )?;
                                events.push(RemoveEvent::Untagged(familiar(r)));
                            }
                        }
                    }
                    tx.commit()?;
                    lease.release();
                    return Ok(events);
                }
                if !users.is_empty() && !force {
                    return Err(Error::InUse {
                        reference: Some(s.to_string()),
                        user_kind: users[0].0.clone(),
                        user_id: users[0].1.clone(),
                        image: img.id.short().to_string(),
                    });
                }
            } else {
                if img.tags.len() > 1 && !force {
                    return Err(Error::Conflict(format!(
                        "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        img.id.short()
                    )));
                }
                if !users.is_empty() && !force {
                    return Err(Error::InUse {
                        reference: None,
                        user_kind: users[0].0.clone(),
                        user_id: users[0].1.clone(),
                        image: img.id.short().to_string(),
                    });
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
            let deleted = users.is_empty();
            if deleted {
                tx.execute("DELETE FROM images WHERE id = ?1", [img.id.to_string()])?;
                events.push(RemoveEvent::Deleted(img.id.clone()));
            }
            tx.commit()?;
            deleted
        };
        let trash = if deleted {
            self.collect_garbage()?.1
        } else {
            self.trash()
        };
        lease.release();
        drop(lock);
        trash.empty();
        Ok(events)
    }

    /// Remove dangling images (all unused ones with `all`), then garbage.
    pub fn prune(&self, all: bool) -> Result<PruneReport> {
        let lock = self.lock_exclusive()?;
        let lease = Lease::take(&self.tmp_dir())?;
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
        let (gc, trash) = self.collect_garbage()?;
        report.gc = gc;
        lease.release();
        drop(lock);
        trash.empty();
        Ok(report)
    }

    /// Garbage collection with a lease of its own; the caller holds the exclusive lock and
    /// empties the returned trash once it has released it.
    pub(crate) fn gc_locked(&self) -> Result<(GcReport, Trash)> {
        let lease = Lease::take(&self.tmp_dir())?;
        let out = self.collect_garbage()?;
        lease.release();
        Ok(out)
    }

    /// Forget the layers no image lists (one transaction), then move them, the blobs no
    /// image lists and the debris of crashes into the trash. The caller holds the
    /// exclusive lock (no operation is adding content) and a lease.
    pub(crate) fn collect_garbage(&self) -> Result<(GcReport, Trash)> {
        let mut rep = GcReport::default();
        let mut trash = self.trash();
        let (blobs_keep, forgotten, recorded) = {
            let mut db = self.db();
            let tx = db.write()?;
            let (blobs_keep, layers_keep) = referenced(&tx)?;
            let mut forgotten = Vec::new();
            let mut recorded = HashSet::new();
            for (d, row) in db::all_layers(&tx)? {
                if layers_keep.contains(&d) {
                    recorded.insert(d);
                } else {
                    tx.execute("DELETE FROM layers WHERE diff_id = ?1", [d.to_string()])?;
                    forgotten.push((d, row));
                }
            }
            tx.commit()?;
            (blobs_keep, forgotten, recorded)
        };
        for (d, row) in forgotten {
            trash.take(&self.layer_dir(&d))?;
            rep.layers_removed += 1;
            rep.bytes_freed += row.size;
        }
        // Layer directories without a row: debris of crashes (and temp directories of
        // older versions).
        let lroot = self.layers_root();
        for ent in fs::read_dir(&lroot).ctx("list layers", &lroot)? {
            let ent = ent.ctx("list layers", &lroot)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if !is_layer_debris(&name, &recorded) {
                continue;
            }
            trash.take(&ent.path())?;
        }
        // Snapshot directories without a row: a `prepare_snapshot` killed before it wrote
        // its row (it holds a lease; none runs now, under the exclusive lock).
        let snapshots: HashSet<String> = db::list_snapshots(self.db().conn())?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let sroot = self.root().join("snapshots");
        for ent in fs::read_dir(&sroot).ctx("list snapshots", &sroot)? {
            let ent = ent.ctx("list snapshots", &sroot)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if !snapshots.contains(&name) && !crate::snapshot::is_mounted_under(&ent.path()) {
                trash.take(&ent.path())?;
                rep.snapshots_removed += 1;
            }
        }
        let (blobs, legacy_temps) = self.blobs().list()?;
        for t in legacy_temps {
            trash.take(&t)?;
        }
        for (d, size) in blobs {
            if !blobs_keep.contains(&d) && trash.take(&self.blobs().path(&d))? {
                rep.blobs_removed += 1;
                rep.bytes_freed += size;
            }
        }
        // The garbage dead processes' leases stood for is gone.
        let tmp = self.tmp_dir();
        for ent in fs::read_dir(&tmp).ctx("list", &tmp)? {
            let ent = ent.ctx("list", &tmp)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if trash::parse_name(&name).is_some_and(|(k, _, _)| k == trash::LEASE)
                && !trash::owner_alive(&name)
            {
                let _ = fs::remove_file(ent.path());
            }
        }
        Ok((rep, trash))
    }
}

/// Whether `name` in `layers/` is a directory no row stands for (debris of a crash, or a
/// temp directory of an older version). `empty` is the lower directory of images without
/// layers.
pub(crate) fn is_layer_debris(name: &str, recorded: &HashSet<Digest>) -> bool {
    if name == "empty" {
        return false;
    }
    is_legacy_temp_name(name)
        || Digest::sha256_hex(name)
            .ok()
            .is_none_or(|d| !recorded.contains(&d))
}

/// Blobs and layers that images refer to.
fn referenced(conn: &Connection) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
    let mut blobs = HashSet::new();
    let mut layers = HashSet::new();
    for img in db::list_images(conn)? {
        blobs.insert(img.id.clone());
        blobs.insert(img.manifest.clone());
        for l in img.layers {
            blobs.insert(l.blob);
            layers.insert(l.diff_id);
        }
    }
    Ok((blobs, layers))
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_owned())
}

/// The repository of a tag reference (`127.0.0.1:5000/r/bb:v1` → `127.0.0.1:5000/r/bb`).
fn repository_of_tag(t: &str) -> &str {
    match t.rfind(':') {
        Some(i) if !t[i..].contains('/') => &t[..i],
        _ => t,
    }
}

//! `system check`: find and repair what a crash left behind, report what cannot be
//! repaired; with `verify`, re-hash every blob and compare every layer directory with a
//! fresh unpack of its blob (`verify.rs`).

use std::collections::HashSet;
use std::fs;

use serde::Serialize;

use crate::db;
use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::gc::is_layer_debris;
use crate::store::{Store, is_legacy_temp_name};
use crate::trash::Lease;

/// What `check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Leftovers of interrupted operations that were cleaned up.
    pub repaired: Vec<String>,
    /// Inconsistencies that could not be repaired.
    pub problems: Vec<String>,
}

impl Store {
    /// Find and repair what a crash left behind; report what cannot be repaired.
    /// With `verify`, re-hash every blob and re-derive every layer from its blob too.
    pub fn check(&self, verify: bool) -> Result<CheckReport> {
        let mut rep = CheckReport::default();
        for name in self.reclaim()?.removed {
            rep.repaired
                .push(format!("removed {name}, left by a dead process"));
        }
        let lock = self.lock_exclusive()?;
        let lease = Lease::take(&self.tmp_dir())?;
        let mut trash = self.trash();
        let integrity: String = self
            .db()
            .conn()
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            rep.problems.push(format!("image database: {integrity}"));
        }
        // Temp blobs of older versions.
        let (blobs, temps) = self.blobs().list()?;
        for t in temps {
            if trash.take(&t)? {
                rep.repaired
                    .push(format!("removed leftover temp blob {}", t.display()));
            }
        }
        // Half-unpacked, half-deleted and unrecorded layer directories.
        let recorded: HashSet<Digest> = db::all_layers(self.db().conn())?
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let lroot = self.layers_root();
        for ent in fs::read_dir(&lroot).ctx("list layers", &lroot)? {
            let ent = ent.ctx("list layers", &lroot)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if is_layer_debris(&name, &recorded) && trash.take(&ent.path())? {
                let what = if is_legacy_temp_name(&name) {
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
            let mut bad = HashSet::new();
            for (d, _) in &blobs {
                if let Err(e) = self.blobs().verify(d) {
                    rep.problems.push(e.to_string());
                    bad.insert(d.clone());
                }
            }
            self.verify_layers(&bad, &mut trash, &mut rep)?;
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
                if trash.take(&ent.path())? {
                    rep.repaired
                        .push(format!("removed unrecorded snapshot directory {name}"));
                }
            }
        }
        for s in snaps {
            if !sroot.join(&s.id).is_dir() {
                rep.problems
                    .push(format!("snapshot {} has no directory", s.id));
            }
        }
        // Garbage: blobs and layers no image refers to (left by interrupted operations).
        let (gc, more) = self.collect_garbage()?;
        if gc.blobs_removed + gc.layers_removed > 0 {
            rep.repaired.push(format!(
                "removed {} unreferenced blobs and {} unreferenced layers ({} bytes)",
                gc.blobs_removed, gc.layers_removed, gc.bytes_freed
            ));
        }
        lease.release();
        drop(lock);
        trash.empty();
        more.empty();
        Ok(rep)
    }
}

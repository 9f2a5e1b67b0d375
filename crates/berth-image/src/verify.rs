//! `system check --verify` for layers: every recorded layer directory is compared with a
//! fresh unpack of its blob (the blob's digest is checked first), by the manifests of
//! `layer::tree`. Re-deriving needs no record written at unpack time, so it also judges
//! layers unpacked by older versions, and it is what the layer must be by definition. A
//! layer that differs is replaced by the fresh unpack when no container snapshot uses it
//! (its directory may be a mounted overlay lower); otherwise it is reported.

use std::collections::HashSet;
use std::fs;

use crate::check::CheckReport;
use crate::db::{self, LayerRow};
use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::layer::{self, UnpackOptions, tree};
use crate::store::{RemoveDirOnDrop, Store};
use crate::time::now_unix;
use crate::trash::{self, Trash};

impl Store {
    /// Compare every layer directory with its blob; the caller holds the exclusive lock.
    /// `bad_blobs` failed their own verification (their layers are not judged by them).
    pub(crate) fn verify_layers(
        &self,
        bad_blobs: &HashSet<Digest>,
        trash: &mut Trash,
        rep: &mut CheckReport,
    ) -> Result<()> {
        let (rows, blobs_of, in_use) = {
            let db = self.db();
            let rows = db::all_layers(db.conn())?;
            let blobs_of = db::layer_blobs(db.conn())?;
            let mut in_use = HashSet::new();
            for s in db::list_snapshots(db.conn())? {
                if let Some(img) = db::get_image(db.conn(), &s.image_id)? {
                    in_use.extend(img.layers.into_iter().map(|l| l.diff_id));
                }
            }
            (rows, blobs_of, in_use)
        };
        for (diff_id, _) in rows {
            let dir = self.layer_dir(&diff_id);
            let Some(blob) = blobs_of.get(&diff_id) else {
                continue; // no image lists it: garbage collection's
            };
            if !dir.is_dir() || bad_blobs.contains(blob) || !self.blobs().exists(blob) {
                continue; // reported (or repaired) elsewhere
            }
            let fresh = self.tmp_dir().join(trash::owned_name(trash::LAYER));
            self.new_layer_dir(&fresh)?;
            let guard = RemoveDirOnDrop(Some(fresh.clone()));
            let f = self.blobs().open_blob(blob)?;
            let (_, r) = layer::decompress(f).ctx("read layer", self.blobs().path(blob))?;
            let stats =
                match layer::unpack_tar(r, &fresh, &blob.to_string(), &UnpackOptions::default()) {
                    Ok(s) => s,
                    Err(e) => {
                        rep.problems.push(format!("layer {diff_id}: {e}"));
                        continue;
                    }
                };
            let want = tree::manifest(&fresh).ctx("read layer", &fresh)?;
            let got = tree::manifest(&dir).ctx("read layer", &dir)?;
            let (diffs, n) = tree::differences(&want, &got, 3);
            if n == 0 {
                continue;
            }
            let what = format!(
                "layer {} differs from its blob in {n} entries ({}{})",
                diff_id.short(),
                diffs.join(", "),
                if n > diffs.len() { ", ..." } else { "" }
            );
            if in_use.contains(&diff_id) {
                rep.problems.push(format!(
                    "{what}; containers use it: remove them, then run check --verify again"
                ));
                continue;
            }
            let row = LayerRow {
                size: stats.allocated,
                apparent: stats.apparent,
            };
            let mut db = self.db();
            let tx = db.write()?;
            trash.take(&dir)?;
            fs::rename(&fresh, &dir).ctx("rename layer directory", &dir)?;
            std::mem::forget(guard);
            db::insert_layer(&tx, &diff_id, row, now_unix())?;
            tx.commit()?;
            rep.repaired
                .push(format!("{what}: unpacked it again from its blob"));
        }
        Ok(())
    }
}

//! `system df`: what images, layers and container snapshots take. Sizes are the disk
//! taken (allocated blocks: a sparse file counts its data, not its holes); the apparent
//! sizes (what the files say they hold) are reported beside them.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::db;
use crate::digest::Digest;
use crate::error::Result;
use crate::store::Store;

/// Disk usage, as `system df` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiskUsage {
    pub images: usize,
    pub active_images: usize,
    /// Disk taken by all distinct unpacked layers (allocated blocks).
    pub layers_size: u64,
    /// Apparent size of all distinct unpacked layers (holes included).
    pub layers_apparent_size: u64,
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
    /// Disk taken by the containers' writable layers (allocated blocks).
    pub snapshots_size: u64,
    /// Apparent size of the containers' writable layers.
    pub snapshots_apparent_size: u64,
}

/// Sizes of a tree's regular files: (allocated, apparent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TreeSize {
    pub(crate) allocated: u64,
    pub(crate) apparent: u64,
}

/// What the regular files under `p` take (not following symlinks; a file with several
/// names counted once).
pub(crate) fn tree_size(p: &Path) -> TreeSize {
    let mut seen = HashSet::new();
    let mut out = TreeSize::default();
    add_tree(p, &mut seen, &mut out);
    out
}

fn add_tree(p: &Path, seen: &mut HashSet<(u64, u64)>, out: &mut TreeSize) {
    let Ok(rd) = fs::read_dir(p) else { return };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            add_tree(&e.path(), seen, out);
        } else if md.is_file() && (md.nlink() == 1 || seen.insert((md.dev(), md.ino()))) {
            out.allocated += md.blocks() * 512;
            out.apparent += md.len();
        }
    }
}

impl Store {
    /// The disk each unpacked layer takes (allocated blocks, as an image's `size` counts
    /// it), by diff ID: what an image shares with others, and what is its own.
    pub fn layer_sizes(&self) -> Result<HashMap<Digest, u64>> {
        Ok(db::all_layers(self.db().conn())?
            .into_iter()
            .map(|(d, row)| (d, row.size))
            .collect())
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
        let mut users_count = HashMap::<Digest, usize>::new();
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
        let rows: HashMap<Digest, db::LayerRow> = layers.into_iter().collect();
        for (d, row) in &rows {
            du.layers_size += row.size;
            du.layers_apparent_size += row.apparent;
            match users_count.get(d).copied().unwrap_or(0) {
                0 | 1 => du.unique_size += row.size,
                _ => du.shared_size += row.size,
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
        du.reclaimable = rows
            .iter()
            .filter(|(d, _)| !needed_layers.contains(*d))
            .map(|(_, r)| r.size)
            .sum::<u64>()
            + blobs
                .iter()
                .filter(|(d, _)| !needed_blobs.contains(d))
                .map(|(_, s)| s)
                .sum::<u64>();
        for s in &snaps {
            // The writable layer: `upper` of an overlay snapshot, the whole copy else.
            let dir = self.root().join("snapshots").join(&s.id);
            let top = if s.kind == "copy" { "rootfs" } else { "upper" };
            let t = tree_size(&dir.join(top));
            du.snapshots_size += t.allocated;
            du.snapshots_apparent_size += t.apparent;
        }
        Ok(du)
    }
}

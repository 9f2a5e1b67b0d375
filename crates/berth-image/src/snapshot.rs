//! Container root filesystems: an overlay of an image's unpacked layers plus a writable
//! upper directory, or (where overlay cannot be used) a plain copy.
//!
//! Layout: `<root>/image/snapshots/<id>/{upper,work,rootfs}`, and `init` (`init_layer`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
};
use serde::Serialize;

use crate::db::{self, SnapshotRecord};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::layer::{UnpackOptions, WhiteoutMode, decompress, unpack_tar};
use crate::store::{RemoveDirOnDrop, Store};
use crate::time::now_unix;
use crate::trash::Lease;

/// How a snapshot's root filesystem is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SnapshotKind {
    /// overlayfs: the image's layers read-only, `upper` writable.
    Overlay,
    /// A full copy of the image's files in `rootfs` (no overlay needed).
    Copy,
}

impl SnapshotKind {
    fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Overlay => "overlay",
            SnapshotKind::Copy => "copy",
        }
    }
}

/// Everything needed to mount a snapshot (here, or inside a container's mount namespace).
#[derive(Debug, Clone, Serialize)]
pub struct MountSpec {
    pub kind: SnapshotKind,
    /// Layer directories, topmost first (overlay only).
    pub lowerdirs: Vec<PathBuf>,
    pub upperdir: PathBuf,
    pub workdir: PathBuf,
    /// The copied root filesystem (copy only).
    pub rootfs: PathBuf,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Store {
    fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.root().join("snapshots").join(id)
    }

    /// The init layer of an overlay snapshot (see `init_layer`).
    pub(crate) fn snapshot_init_dir(&self, id: &str) -> PathBuf {
        self.snapshot_dir(id).join("init")
    }

    /// Create snapshot `id` of `image`: unpack missing layers, make the upper/work (or copy)
    /// directories and record the snapshot, which marks the image in use.
    pub fn prepare_snapshot(
        &self,
        id: &str,
        image: &Digest,
        kind: Option<SnapshotKind>,
    ) -> Result<MountSpec> {
        if !valid_id(id) {
            return Err(Error::invalid(
                format!("snapshot id {id:?}"),
                "use [A-Za-z0-9_.-], at most 128",
            ));
        }
        let _lock = self.lock_shared()?;
        // A kill before the row is written leaves a directory no row stands for: the lease
        // makes the next operation collect it (see `gc.rs`).
        let lease = Lease::take(&self.tmp_dir())?;
        let img = self.image(image)?;
        if db::get_snapshot(self.db().conn(), id)?.is_some() {
            return Err(Error::Conflict(format!("snapshot {id} already exists")));
        }
        let kind = kind.unwrap_or_else(default_kind);
        let dir = self.snapshot_dir(id);
        if dir.exists() {
            // An unrecorded leftover of a crash.
            fs::remove_dir_all(&dir).ctx("remove stale snapshot", &dir)?;
        }
        fs::create_dir_all(&dir).ctx("create snapshot", &dir)?;
        let guard = RemoveDirOnDrop(Some(dir.clone()));
        match kind {
            SnapshotKind::Overlay => {
                for l in &img.layers {
                    self.ensure_layer(l)?;
                }
                for d in ["upper", "work"] {
                    fs::create_dir(dir.join(d)).ctx("create snapshot", dir.join(d))?;
                }
            }
            SnapshotKind::Copy => {
                let rootfs = dir.join("rootfs");
                fs::create_dir(&rootfs).ctx("create snapshot", &rootfs)?;
                let opts = UnpackOptions {
                    whiteouts: WhiteoutMode::Apply,
                    max_size: self.limits().max_layer_size,
                    ..UnpackOptions::default()
                };
                for l in &img.layers {
                    let f = self.blobs().open_blob(&l.blob)?;
                    let (_, r) = decompress(f).ctx("read layer", self.blobs().path(&l.blob))?;
                    unpack_tar(r, &rootfs, &l.blob.to_string(), &opts)?;
                }
            }
        }
        self.db().conn().execute(
            "INSERT INTO snapshots (id, image_id, kind, created) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, image.to_string(), kind.as_str(), now_unix()],
        )?;
        std::mem::forget(guard);
        lease.release();
        self.mount_spec(id)
    }

    /// The snapshot record.
    pub fn snapshot(&self, id: &str) -> Result<SnapshotRecord> {
        db::get_snapshot(self.db().conn(), id)?
            .ok_or_else(|| Error::SnapshotNotFound(id.to_owned()))
    }

    pub fn snapshots(&self) -> Result<Vec<SnapshotRecord>> {
        db::list_snapshots(self.db().conn())
    }

    /// What to mount for snapshot `id`.
    pub fn mount_spec(&self, id: &str) -> Result<MountSpec> {
        let rec = self.snapshot(id)?;
        let img = self.image(&rec.image_id)?;
        let dir = self.snapshot_dir(id);
        let kind = if rec.kind == "copy" {
            SnapshotKind::Copy
        } else {
            SnapshotKind::Overlay
        };
        let mut lowerdirs: Vec<PathBuf> = img
            .layers
            .iter()
            .rev()
            .map(|l| self.layer_dir(&l.diff_id))
            .collect();
        lowerdirs.dedup();
        if lowerdirs.is_empty() {
            let empty = self.root().join("layers").join("empty");
            fs::create_dir_all(&empty).ctx("create empty layer", &empty)?;
            lowerdirs.push(empty);
        }
        let init = self.snapshot_init_dir(id);
        if kind == SnapshotKind::Overlay && init.is_dir() {
            lowerdirs.insert(0, init);
        }
        Ok(MountSpec {
            kind,
            lowerdirs,
            upperdir: dir.join("upper"),
            workdir: dir.join("work"),
            rootfs: dir.join("rootfs"),
        })
    }

    /// Mount snapshot `id` on `target` (an existing directory).
    pub fn mount_snapshot(&self, id: &str, target: &Path) -> Result<()> {
        let spec = self.mount_spec(id)?;
        match spec.kind {
            SnapshotKind::Overlay => mount_overlay(&spec, target),
            SnapshotKind::Copy => rustix::mount::mount_bind(&spec.rootfs, target)
                .ctx("bind-mount snapshot on", target),
        }
    }

    /// Remove snapshot `id` (it must not be mounted). Its directory is renamed into the
    /// trash before its row goes: a kill in between leaves a row without a directory, which
    /// the next removal forgets, and trash that the next operation deletes; never a writable
    /// layer that no row counts.
    pub fn remove_snapshot(&self, id: &str) -> Result<()> {
        // What an earlier, killed removal (or creation) left, this snapshot's included.
        self.tidy()?;
        let _ = self.snapshot(id)?;
        let dir = self.snapshot_dir(id);
        if is_mounted_under(&dir) {
            return Err(Error::Conflict(format!("snapshot {id} is still mounted")));
        }
        let mut trash = self.trash();
        trash.take(&dir)?;
        self.db()
            .conn()
            .execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
        trash.empty();
        Ok(())
    }

    pub fn diff_snapshot<W: Write>(&self, id: &str, out: W) -> Result<W> {
        let spec = self.mount_spec(id)?;
        if spec.kind != SnapshotKind::Overlay {
            return Err(Error::Unsupported(format!(
                "diff of copy snapshot {id}: only overlay snapshots record changes"
            )));
        }
        crate::layer::diff::diff_dir(&spec.upperdir, out)
    }

    /// Write the whole root filesystem of snapshot `id` as a tar (`berth export`).
    pub fn export_snapshot<W: Write>(&self, id: &str, out: W) -> Result<W> {
        self.with_snapshot_root(id, |root| export_dir(root, out))
    }

    /// Runs `f` with the path of snapshot `id`'s whole filesystem: its directory (a copy
    /// snapshot) or a private overlay mount of it, unmounted when `f` returns. The path is
    /// under the data root; what lies below it belongs to the container (walk it by
    /// descriptors).
    pub fn with_snapshot_root<T, E: From<Error>>(
        &self,
        id: &str,
        f: impl FnOnce(&Path) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let spec = self.mount_spec(id)?;
        match spec.kind {
            SnapshotKind::Copy => f(&spec.rootfs),
            SnapshotKind::Overlay => {
                let mnt = self.snapshot_dir(id).join("export");
                fs::create_dir_all(&mnt).ctx("create export mount point", &mnt)?;
                mount_overlay(&spec, &mnt)?;
                let guard = UnmountOnDrop(mnt.clone());
                let res = f(&mnt);
                drop(guard);
                let _ = fs::remove_dir(&mnt);
                res
            }
        }
    }
}

/// Tar a directory tree (symlinks kept as symlinks). It walks by path: only for trees no
/// running container can change (a container's goes through [`Store::with_snapshot_root`]
/// and a walk by descriptors).
pub fn export_dir<W: Write>(dir: &Path, out: W) -> Result<W> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    b.append_dir_all(".", dir).ctx("export", dir)?;
    b.into_inner().ctx("export", dir)
}

/// `BERTH_SNAPSHOTTER=copy|overlay` decides; otherwise overlay when this process may create
/// an overlay superblock (the fs type exists and we hold the privilege), else a plain copy.
fn default_kind() -> SnapshotKind {
    match std::env::var("BERTH_SNAPSHOTTER").as_deref() {
        Ok("copy") => SnapshotKind::Copy,
        Ok("overlay") => SnapshotKind::Overlay,
        _ => match rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
            Ok(_) => SnapshotKind::Overlay,
            Err(e) if e == rustix::io::Errno::NOSYS => SnapshotKind::Overlay,
            Err(e) => {
                tracing::info!("overlay unavailable ({e}): using copy snapshots");
                SnapshotKind::Copy
            }
        },
    }
}

/// Mount an overlay with the new mount API (`lowerdir+`, no option-length limit); fall
/// back to mount(2) when the kernel lacks it.
pub fn mount_overlay(spec: &MountSpec, target: &Path) -> Result<()> {
    match mount_overlay_new(spec, target) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::INVAL => {
            mount_overlay_legacy(spec, target)
        }
        Err(e) => Err(Error::Io {
            context: "mount overlay on",
            path: target.to_owned(),
            source: e.into(),
        }),
    }
}

fn mount_overlay_new(spec: &MountSpec, target: &Path) -> rustix::io::Result<()> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for l in &spec.lowerdirs {
        rustix::mount::fsconfig_set_string(&fs, "lowerdir+", l)?;
    }
    rustix::mount::fsconfig_set_string(&fs, "upperdir", &spec.upperdir)?;
    rustix::mount::fsconfig_set_string(&fs, "workdir", &spec.workdir)?;
    rustix::mount::fsconfig_create(&fs)?;
    let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    rustix::mount::move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
}

fn mount_overlay_legacy(spec: &MountSpec, target: &Path) -> Result<()> {
    let lowers: Vec<String> = spec
        .lowerdirs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        spec.upperdir.display(),
        spec.workdir.display()
    );
    if data.len() >= 4000 {
        return Err(Error::Unsupported(format!(
            "{} layers do not fit in one overlay mount option string on this kernel (no lowerdir+)",
            lowers.len()
        )));
    }
    let data = std::ffi::CString::new(data)
        .map_err(|_| Error::invalid("overlay options", "contain a NUL byte"))?;
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        MountFlags::empty(),
        Some(data.as_c_str()),
    )
    .ctx("mount overlay on", target)
}

/// Unmount a snapshot mounted with [`Store::mount_snapshot`].
pub fn unmount(target: &Path) -> Result<()> {
    rustix::mount::unmount(target, UnmountFlags::DETACH).ctx("unmount", target)
}

/// Unmounts on drop.
pub struct UnmountOnDrop(pub PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, UnmountFlags::DETACH);
    }
}

/// True if anything is mounted at or below `dir` (from /proc/self/mountinfo).
pub(crate) fn is_mounted_under(dir: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let d = dir.to_string_lossy();
    info.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|mp| mp == d || mp.starts_with(&format!("{d}/")))
    })
}

//! A snapshot's init layer: a read-only layer between the image and the container's changes
//! that holds the mount points an engine puts over the image (`/etc/hosts`, `/proc`...), as
//! Docker's "-init" layer does. Without it the runtime creates those mount points in the
//! upper directory, and they show up in `diff` and end up in committed images.
//!
//! Layout: `<root>/image/snapshots/<id>/init` (overlay snapshots); a copy snapshot gets the
//! same entries in its rootfs where they are missing.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::snapshot::SnapshotKind;
use crate::store::Store;

/// One mount point to provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitEntry<'a> {
    /// A directory (mode 0755), relative to the root: "proc", "dev/pts".
    Dir(&'a str),
    /// An empty file (mode 0644).
    File(&'a str),
    /// An empty file of mode 0755 (Docker's `/.dockerenv`).
    EmptyExecutable(&'a str),
    /// A symlink and its target: ("etc/mtab", "/proc/mounts").
    Symlink(&'a str, &'a str),
}

impl InitEntry<'_> {
    fn path(&self) -> &str {
        match self {
            InitEntry::Dir(p)
            | InitEntry::File(p)
            | InitEntry::EmptyExecutable(p)
            | InitEntry::Symlink(p, _) => p,
        }
    }
}

/// What the topmost layer that has `rel` holds there: Some(true) for a directory,
/// Some(false) for anything else, None when no layer has it.
fn image_has(lowers: &[PathBuf], rel: &Path) -> Option<bool> {
    lowers
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(rel)).ok())
        .map(|m| m.is_dir())
}

/// Whether an entry at `rel` may be added: `rel` is relative and plain, and no ancestor of it
/// is something other than a directory in the image (a symlinked /etc keeps its link).
fn fits(lowers: &[PathBuf], rel: &Path) -> Result<bool> {
    use std::path::Component;
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::invalid(
            format!("init layer entry {}", rel.display()),
            "must be a relative path without . or ..",
        ));
    }
    let mut anc = rel.parent();
    while let Some(a) = anc.filter(|a| !a.as_os_str().is_empty()) {
        if image_has(lowers, a) == Some(false) {
            return Ok(false);
        }
        anc = a.parent();
    }
    Ok(true)
}

fn create(base: &Path, e: &InitEntry<'_>) -> Result<()> {
    let p = base.join(e.path());
    if fs::symlink_metadata(&p).is_ok() {
        return Ok(());
    }
    if let Some(parent) = p.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .ctx("create init layer directory", parent)?;
    }
    match e {
        InitEntry::Dir(_) => fs::DirBuilder::new()
            .mode(0o755)
            .create(&p)
            .ctx("create init layer directory", &p),
        InitEntry::File(_) | InitEntry::EmptyExecutable(_) => {
            let mode = if matches!(e, InitEntry::File(_)) {
                0o644
            } else {
                0o755
            };
            let f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&p)
                .ctx("create init layer file", &p)?;
            // The mode whatever the umask.
            f.set_permissions(fs::Permissions::from_mode(mode))
                .ctx("create init layer file", &p)
        }
        InitEntry::Symlink(_, target) => {
            std::os::unix::fs::symlink(target, &p).ctx("create init layer symlink", &p)
        }
    }
}

impl Store {
    /// Fills the init layer of snapshot `id` with `entries` (those whose parent is not a
    /// symlink or file in the image). Call it before the first mount; entries already
    /// there are kept.
    pub fn init_snapshot(&self, id: &str, entries: &[InitEntry<'_>]) -> Result<()> {
        let spec = self.mount_spec(id)?;
        let (base, lowers) = match spec.kind {
            SnapshotKind::Overlay => {
                let init = self.snapshot_init_dir(id);
                let lowers: Vec<PathBuf> = spec
                    .lowerdirs
                    .iter()
                    .filter(|l| **l != init)
                    .cloned()
                    .collect();
                (init, lowers)
            }
            SnapshotKind::Copy => (spec.rootfs.clone(), vec![spec.rootfs.clone()]),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&base)
            .ctx("create init layer", &base)?;
        for e in entries {
            if fits(&lowers, Path::new(e.path()))? {
                create(&base, e)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_that_are_not_directories_are_respected() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let bottom = d.path().join("bottom");
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(bottom.join("usr/etc")).unwrap();
        std::os::unix::fs::symlink("usr/etc", bottom.join("cfg")).unwrap();
        let lowers = vec![top, bottom];
        assert!(fits(&lowers, Path::new("etc/hosts")).unwrap());
        assert!(fits(&lowers, Path::new("dev/pts")).unwrap());
        assert!(!fits(&lowers, Path::new("cfg/hosts")).unwrap());
        assert!(fits(&lowers, Path::new("../x")).is_err());
        assert!(fits(&lowers, Path::new("/etc/hosts")).is_err());

        let base = d.path().join("init");
        for e in [
            InitEntry::Dir("dev/pts"),
            InitEntry::File("etc/hosts"),
            InitEntry::EmptyExecutable(".dockerenv"),
            InitEntry::Symlink("etc/mtab", "/proc/mounts"),
        ] {
            create(&base, &e).unwrap();
            create(&base, &e).unwrap();
        }
        assert!(base.join("dev/pts").is_dir());
        assert_eq!(fs::read(base.join("etc/hosts")).unwrap(), b"");
        let env = fs::metadata(base.join(".dockerenv")).unwrap();
        assert_eq!((env.len(), env.permissions().mode() & 0o7777), (0, 0o755));
        assert_eq!(
            fs::read_link(base.join("etc/mtab")).unwrap(),
            Path::new("/proc/mounts")
        );
    }
}

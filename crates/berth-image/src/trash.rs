//! Names that say which process owns them, and the trash.
//!
//! Everything the store writes before it is complete lives in `image/tmp/`: temp blobs
//! (`blob-…`), half-unpacked layers (`layer-…`) and the leases of operations that may leave
//! unreferenced content when killed (`lease-…`). What is being deleted is first renamed into
//! `image/trash/`, so that deleting it needs no lock and a kill in the middle leaves a name
//! that says whose it was. Every name carries its owner's pid and start time
//! (`<kind>-<pid>-<start>-<n>`, in the trash `<pid>-<start>-<n>`): the next operation that
//! lists these two directories (a directory listing, never a walk of the layers) removes
//! what a dead process left, without `system check`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};

/// Prefix of temp blobs in `tmp/`.
pub(crate) const BLOB: &str = "blob";
/// Prefix of half-unpacked layer directories in `tmp/`.
pub(crate) const LAYER: &str = "layer";
/// Prefix of operation leases in `tmp/`.
pub(crate) const LEASE: &str = "lease";

/// This process: pid and start time (clock ticks after boot, as /proc/PID/stat says).
fn me() -> (i32, u64) {
    static ME: OnceLock<(i32, u64)> = OnceLock::new();
    *ME.get_or_init(|| {
        let pid = nix_pid();
        let start = berth_runtime::util::proc_stat(pid).map_or(0, |s| s.start_time);
        (pid, start)
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh name owned by this process: `<kind>-<pid>-<start>-<n>`.
pub(crate) fn owned_name(kind: &str) -> String {
    let (pid, start) = me();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{kind}-{pid}-{start}-{n}")
}

/// The kind and owner (pid, start time) a name of `tmp/` or `trash/` gives.
pub(crate) fn parse_name(name: &str) -> Option<(&str, i32, u64)> {
    let mut it = name.rsplitn(4, '-');
    let _n: u64 = it.next()?.parse().ok()?;
    let start: u64 = it.next()?.parse().ok()?;
    let pid: i32 = it.next()?.parse().ok()?;
    let kind = it.next().unwrap_or("");
    Some((kind, pid, start))
}

/// Whether the owner a name gives is alive; unparsable names have no owner.
pub(crate) fn owner_alive(name: &str) -> bool {
    match parse_name(name) {
        Some((_, pid, start)) => {
            (pid, start) == me() || berth_runtime::util::process_alive(pid, start)
        }
        None => false,
    }
}

/// Remove a file or a directory tree (missing is fine).
pub(crate) fn remove_path(p: &Path) -> Result<()> {
    let md = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("stat", p),
    };
    let res = if md.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("remove", p),
    }
}

/// Things renamed out of the way, to delete later (after the store lock is released).
#[derive(Debug)]
pub(crate) struct Trash {
    dir: PathBuf,
    items: Vec<PathBuf>,
}

impl Trash {
    pub(crate) fn new(dir: PathBuf) -> Trash {
        Trash {
            dir,
            items: Vec::new(),
        }
    }

    /// Rename `p` into the trash under a name this process owns; false when `p` is gone
    /// (e.g. another process claimed it first).
    pub(crate) fn take(&mut self, p: &Path) -> Result<bool> {
        let dest = self.dir.join(owned_name("").trim_start_matches('-'));
        match fs::rename(p, &dest) {
            Ok(()) => {
                self.items.push(dest);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).ctx("move to the trash", p),
        }
    }

    /// Delete everything taken. Failures are logged: what stays is reclaimed by the next
    /// operation once this process is gone.
    pub(crate) fn empty(mut self) {
        for p in std::mem::take(&mut self.items) {
            if let Err(e) = remove_path(&p) {
                tracing::warn!("{e}");
            }
        }
    }
}

/// What [`reclaim`] found.
#[derive(Debug, Default)]
pub(crate) struct Reclaimed {
    /// Temp files and directories of dead processes removed (trash included).
    pub(crate) removed: Vec<String>,
    /// Leases of dead processes: they may have left unreferenced blobs or layers, which
    /// only garbage collection can tell (the caller unlinks these after it).
    pub(crate) dead_leases: Vec<PathBuf>,
}

/// Remove what dead processes left in `tmp` and `trash` (each entry is first claimed by a
/// rename into the trash, so two processes never delete the same tree).
pub(crate) fn reclaim(tmp: &Path, trash_dir: &Path) -> Result<Reclaimed> {
    let mut out = Reclaimed::default();
    let mut trash = Trash::new(trash_dir.to_owned());
    for dir in [tmp, trash_dir] {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).ctx("list", dir),
        };
        for ent in rd {
            let ent = ent.ctx("list", dir)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if owner_alive(&name) {
                continue;
            }
            if dir == tmp && parse_name(&name).is_some_and(|(k, _, _)| k == LEASE) {
                out.dead_leases.push(ent.path());
                continue;
            }
            if trash.take(&ent.path())? {
                out.removed.push(name);
            }
        }
    }
    trash.empty();
    Ok(out)
}

/// A lease file: while it exists with a dead owner, the next operation collects garbage.
#[derive(Debug)]
pub(crate) struct Lease(Option<PathBuf>);

impl Lease {
    pub(crate) fn take(tmp: &Path) -> Result<Lease> {
        let p = tmp.join(owned_name(LEASE));
        fs::File::create(&p).ctx("create lease", &p)?;
        Ok(Lease(Some(p)))
    }

    /// The operation left nothing unreferenced: drop the lease.
    pub(crate) fn release(mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }

    /// Keep the lease file (it is the record that garbage may be left).
    pub(crate) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// This process's pid (as the kernel's pid_t).
fn nix_pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        let n = owned_name(LAYER);
        let (kind, pid, _) = parse_name(&n).unwrap();
        assert_eq!((kind, pid), (LAYER, nix_pid()));
        assert!(owner_alive(&n));
        let t = owned_name("").trim_start_matches('-').to_owned();
        assert_eq!(parse_name(&t).unwrap().0, "");
        // A pid that is not running (pid_max is below 2^22), and a reused pid.
        assert!(!owner_alive("blob-4194304-1-0"));
        assert!(!owner_alive(&format!("blob-{}-1-0", std::process::id())));
        assert!(!owner_alive("junk"));
    }

    #[test]
    fn reclaim_removes_only_the_dead() {
        let t = tempfile::tempdir().unwrap();
        let (tmp, trash) = (t.path().join("tmp"), t.path().join("trash"));
        fs::create_dir_all(tmp.join("layer-4194304-5-0/usr")).unwrap();
        fs::write(tmp.join("blob-4194304-5-1"), b"half").unwrap();
        fs::write(tmp.join("lease-4194304-5-2"), b"").unwrap();
        fs::create_dir_all(trash.join("4194304-5-3/a/b")).unwrap();
        let mine = owned_name(BLOB);
        fs::write(tmp.join(&mine), b"live").unwrap();
        let r = reclaim(&tmp, &trash).unwrap();
        assert_eq!(r.removed.len(), 3, "{r:?}");
        assert_eq!(r.dead_leases, vec![tmp.join("lease-4194304-5-2")]);
        let left = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(left(&tmp), {
            let mut v = vec![mine, "lease-4194304-5-2".to_owned()];
            v.sort();
            v
        });
        assert!(left(&trash).is_empty());
    }
}

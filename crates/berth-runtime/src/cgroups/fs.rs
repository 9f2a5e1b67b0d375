//! Reading and writing cgroup files with errors that name the file and value.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `value` to `dir/file` (a single write, as cgroupfs expects).
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|e| Error::Cgroup {
        path: dir.to_path_buf(),
        msg: format!("write {file} = {value:?}: {e}"),
    })
}

/// Reads `dir/file`.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(file)).map_err(|e| Error::Cgroup {
        path: dir.to_path_buf(),
        msg: format!("read {file}: {e}"),
    })
}

/// Reads a number from `dir/file`; "max" reads as `u64::MAX`. Missing files read as None.
pub fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    let s = std::fs::read_to_string(dir.join(file)).ok()?;
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    s.parse().ok()
}

/// Parses "key value" lines (memory.stat, cpu.stat, memory.events...).
pub fn read_kv(dir: &Path, file: &str) -> Vec<(String, u64)> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Creates `dir` and its missing parents below the hierarchy root `mount`.
pub fn mkdir_all(mount: &Path, dir: &Path) -> Result<()> {
    if !dir.starts_with(mount) {
        return Err(Error::Cgroup {
            path: dir.to_path_buf(),
            msg: format!("not below {}", mount.display()),
        });
    }
    // A parent that someone removes while empty (a cleanup of another container's
    // parent cgroup) between our mkdir of it and of its child makes the child's mkdir
    // fail with ENOENT: make the path again.
    let mut tries = 0;
    loop {
        match std::fs::create_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => tries += 1,
            Err(e) => {
                return Err(Error::Cgroup {
                    path: dir.to_path_buf(),
                    msg: format!("create: {e}"),
                });
            }
        }
    }
}

//! Container state on disk: `<root>/<id>/state.json`, written atomically, and the status
//! derived from it and from the live process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::util;

/// The status of a container, as the runtime spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    /// Host pid of the container's init process (0 while creating).
    pub pid: i32,
    /// Start time of that process (clock ticks after boot), to detect pid reuse.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    /// Whether creation finished (the init is waiting for `start` or running).
    pub created_done: bool,
    pub cgroup: Cgroup,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The configuration the container was created with (resources follow `update`).
    pub spec: Spec,
}

/// The runtime's state directory, holding one directory per container.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
}

/// A container known to the runtime.
#[derive(Debug, Clone)]
pub struct Container {
    pub saved: Saved,
    pub(crate) dir: PathBuf,
}

impl Container {
    /// Where compiled seccomp filters are cached: beside the containers' state directories,
    /// under a name that no container id can have.
    pub(crate) fn seccomp_cache_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .unwrap_or(std::path::Path::new("/"))
            .join("@seccomp-cache")
    }
}

/// Checks a container id: letters, digits, `_ + - .`, not `.` or `..`, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |reason| Error::InvalidId {
        id: id.to_string(),
        reason,
    };
    if id.is_empty() {
        return Err(bad("must not be empty"));
    }
    if id.len() > 1024 {
        return Err(bad("longer than 1024 bytes"));
    }
    if id == "." || id == ".." {
        return Err(bad("must not be . or .."));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return Err(bad("only letters, digits and _ + - . are allowed"));
    }
    Ok(())
}

impl Runtime {
    /// Opens (and creates, mode 0700) the state directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Runtime> {
        let root = root.into();
        // State holds each container's config: the runtime's root is root's alone.
        util::private_dir(&root, 0o700)?;
        let root =
            std::path::absolute(&root).ctx(|| format!("state directory {}", root.display()))?;
        Ok(Runtime { root })
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Loads a container by id.
    pub fn load(&self, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = self.dir(id);
        let path = dir.join("state.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()));
            }
            Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
        };
        let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| Error::Io {
            context: format!("container {id}: corrupt {}", path.display()),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Ok(Container { saved, dir })
    }

    /// Every container, sorted by id. Directories without a readable state are skipped.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).ctx(|| format!("list {}", self.root.display())),
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(id) = name.to_str() else { continue };
            if let Ok(c) = self.load(id) {
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.saved.id.cmp(&b.saved.id));
        Ok(out)
    }
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.saved.id
    }

    /// The host pid of the init process.
    pub fn pid(&self) -> i32 {
        self.saved.pid
    }

    pub(crate) fn fifo_path(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// Writes the state file atomically (temp file + rename). It is not fsynced: the state
    /// describes live processes and lives in /run, which does not survive a reboot anyway.
    pub(crate) fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec(&self.saved).map_err(|e| Error::Io {
            context: format!("container {}: encode state", self.saved.id),
            cause: std::io::Error::other(e),
        })?;
        util::write_private(&self.dir.join("state.json"), &bytes)
    }

    /// Whether the init process is alive.
    pub fn init_alive(&self) -> bool {
        util::process_alive(self.saved.pid, self.saved.start_time)
    }

    /// The current status.
    pub fn status(&self) -> Status {
        if !self.saved.created_done {
            return if self.saved.pid > 0 && self.init_alive() {
                Status::Creating
            } else if self.saved.pid > 0 {
                Status::Stopped
            } else {
                Status::Creating
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.fifo_path().exists() {
            return Status::Created;
        }
        if self.saved.cgroup.is_frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// The state as the runtime spec defines it (what `state` prints and hooks receive).
    pub fn oci_state(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.saved.pid
        };
        let annotations: HashMap<String, String> =
            self.saved.spec.annotations().clone().unwrap_or_default();
        let mut v = serde_json::json!({
            "ociVersion": self.saved.spec.version(),
            "id": self.saved.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.saved.bundle,
            "rootfs": self.saved.rootfs,
            "created": self.saved.created,
            "owner": self.saved.owner,
        });
        if !annotations.is_empty() {
            v["annotations"] = serde_json::json!(annotations);
        }
        if status == Status::Stopped {
            let kills = self.saved.cgroup.oom_kills();
            if kills > 0 {
                v["oomKilled"] = serde_json::json!(true);
            }
        }
        v
    }

    /// The hook state JSON for `status`.
    pub(crate) fn hook_state(&self, status: Status) -> Vec<u8> {
        serde_json::to_vec(&self.oci_state(status)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-DEF_1.2+3", &"x".repeat(1024)] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x", &"x".repeat(1025)] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_container_is_not_found() {
        let d = tempfile::tempdir().unwrap();
        let rt = Runtime::new(d.path()).unwrap();
        let e = rt.load("nope").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert_eq!(e.to_string(), "container nope does not exist");
        assert!(rt.list().unwrap().is_empty());
    }
}

//! A container as the engine records it: identity, configuration and state.

use serde::{Deserialize, Serialize};

use crate::config::ContainerConfig;
use crate::error::{Error, Result};

/// The lifecycle status, with Docker's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether the container's processes may be alive.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Health of a container with a health check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// "starting", "healthy" or "unhealthy".
    pub status: String,
    pub failing_streak: u32,
    /// The last results (at most 5), oldest first.
    pub log: Vec<HealthResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// What changes while a container lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub status: Status,
    /// Host pid of the container's init (0 when not running).
    pub pid: i32,
    /// The monitor process, and its start time (clock ticks after boot) to detect pid reuse.
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// The monitor's keeper (it holds the container's stdio and starts an adopting monitor
    /// if the monitor dies), and its start time.
    pub keeper_pid: i32,
    pub keeper_start: u64,
    /// The process that created the container to start it at once (`run`), and its start
    /// time; cleared when the container starts.
    pub starter_pid: i32,
    pub starter_start: u64,
    /// The attach protocol version the monitor speaks (`proto::VERSION` when it started the
    /// container; 0 for monitors older than versioning, which speak version 1).
    pub monitor_proto: u32,
    pub exit_code: i32,
    /// Why the last start failed.
    pub error: String,
    /// RFC 3339 times (empty: never).
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    pub restart_count: u32,
    /// Set by stop/kill so that the restart policy does not bring it back.
    pub manually_stopped: bool,
    pub health: Option<Health>,
}

/// A container record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// Creation time, RFC 3339.
    pub created: String,
    pub config: ContainerConfig,
    pub state: State,
}

impl Container {
    /// An auto-remove container that was never started and whose starter (`run`) died:
    /// nothing will ever start it, so it is removed when seen.
    pub(crate) fn abandoned(&self) -> bool {
        let s = &self.state;
        s.status == Status::Created
            && self.config.host.auto_remove
            && s.starter_pid > 0
            && !berth_runtime::util::process_alive(s.starter_pid, s.starter_start)
            && !crate::engine::monitor_alive(s.monitor_pid, s.monitor_start)
    }

    /// The first 12 characters of the id.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// Docker's rule for container and volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks a container name (a leading "/" is allowed, as Docker's).
pub fn validate_name(name: &str) -> Result<()> {
    let name = name.strip_prefix('/').unwrap_or(name);
    if !is_valid_name(name) {
        return Err(Error::invalid(
            format!("container name {name:?}"),
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ));
    }
    Ok(())
}

/// A new random 64-hex id.
pub fn new_id() -> Result<String> {
    let mut buf = [0u8; 32];
    // SAFETY: getrandom writes at most buf.len() bytes into the buffer we own.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n) != Ok(buf.len()) {
        return Err(Error::io(
            "read random bytes",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

const LEFT: [&str; 24] = [
    "agile", "bold", "brave", "calm", "clever", "deep", "eager", "fair", "gentle", "happy", "keen",
    "kind", "lively", "merry", "nimble", "proud", "quick", "quiet", "sharp", "steady", "sunny",
    "swift", "tidy", "warm",
];
const RIGHT: [&str; 24] = [
    "anchor", "bay", "beacon", "buoy", "cove", "current", "dock", "ferry", "harbor", "hull",
    "jetty", "keel", "lagoon", "mast", "mooring", "pier", "quay", "reef", "rudder", "sail",
    "shore", "tide", "wharf", "wake",
];

/// A generated name like Docker's ("adjective_noun"), from the id's bytes.
pub fn generated_name(id: &str, attempt: u32) -> String {
    let b = id.as_bytes();
    let l = (b.first().copied().unwrap_or(0) as usize + attempt as usize) % LEFT.len();
    let r = (b.get(1).copied().unwrap_or(0) as usize * 7 + attempt as usize) % RIGHT.len();
    if attempt < 3 {
        format!("{}_{}", LEFT[l], RIGHT[r])
    } else {
        format!("{}_{}{attempt}", LEFT[l], RIGHT[r])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["web", "a1", "my_app.v2-x", "/web"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a", "-x", "_x", "a b", "a/b", "ü1"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        validate_name(&generated_name(&id, 0)).unwrap();
        validate_name(&generated_name(&id, 7)).unwrap();
    }
}

//! What `info` and `version` report (the API's `/info` and `/version`): counts, the cgroup
//! layout, the kernel and OS, memory and CPUs, where Berth keeps its data. Field names are
//! Docker's.

use serde::Serialize;

use crate::container::Status;
use crate::engine::Engine;
use crate::error::Result;

/// `info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub server_version: String,
    pub driver: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    /// "1" or "2" ("" when no cgroup hierarchy was found).
    pub cgroup_version: String,
    /// "unified", "hybrid", "legacy" or "none".
    pub cgroup_layout: String,
    pub default_runtime: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub docker_root_dir: std::path::PathBuf,
    pub run_root: std::path::PathBuf,
    pub security_options: Vec<String>,
    pub name: String,
    pub swarm: Swarm,
}

/// Scripts ask whether swarm mode is on; Berth has none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Swarm {
    pub local_node_state: String,
    pub control_available: bool,
}

/// `version`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    pub version: String,
    pub os: String,
    /// Go's spelling ("amd64").
    pub arch: String,
    pub kernel_version: String,
    /// The version of the monitor protocol.
    pub monitor_protocol: u32,
}

/// The kernel release (`uname -r`).
pub(crate) fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

impl Engine {
    /// System-wide information.
    pub fn info(&self) -> Result<Info> {
        let cs = self.containers()?;
        let count = |s: Status| cs.iter().filter(|c| c.state.status == s).count();
        let running = count(Status::Running);
        let paused = count(Status::Paused);
        let mode = berth_runtime::Layout::detect().ok().map(|l| l.mode);
        Ok(Info {
            containers: cs.len(),
            containers_running: running,
            containers_paused: paused,
            containers_stopped: cs.len() - running - paused,
            images: self.store()?.images()?.len(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            driver: std::env::var("BERTH_SNAPSHOTTER").unwrap_or_else(|_| "overlay".into()),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: match mode {
                Some(berth_runtime::CgroupMode::Unified) => "2",
                Some(_) => "1",
                None => "",
            }
            .into(),
            cgroup_layout: mode.map(|m| m.name()).unwrap_or("none").into(),
            default_runtime: "berth-runtime".into(),
            kernel_version: kernel(),
            operating_system: os_name(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total: crate::stats::host_memory(),
            docker_root_dir: self.paths.root.clone(),
            run_root: self.paths.runroot.clone(),
            security_options: vec!["name=seccomp,profile=builtin".into()],
            name: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            swarm: Swarm {
                local_node_state: "inactive".into(),
                control_available: false,
            },
        })
    }
}

/// The engine's version (no data root needed).
pub fn version() -> VersionInfo {
    VersionInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        os: "linux".into(),
        arch: crate::spec::host::go_arch(std::env::consts::ARCH).into(),
        kernel_version: kernel(),
        monitor_protocol: crate::proto::VERSION,
    }
}

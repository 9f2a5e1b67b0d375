//! What `info` and `version` report (the API's `/info` and `/version`): counts, what the
//! host's cgroups can limit, the kernel and OS, memory and CPUs, where Berth keeps its
//! data. Field names, their order and their JSON spelling are Docker's (API 1.50).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::container::Status;
use crate::engine::Engine;
use crate::error::Result;

/// The Engine API version Berth speaks (Docker 28's), and the oldest it accepts.
pub const API_VERSION: &str = "1.50";
pub const MIN_API_VERSION: &str = "1.24";

/// `info`: Docker's `system.Info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// This data root's engine ID (made on first use, kept in `engine-id`).
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub driver: String,
    pub driver_status: Vec<[String; 2]>,
    pub plugins: Plugins,
    pub memory_limit: bool,
    pub swap_limit: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kernel_memory: bool,
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "std::ops::Not::not")]
    pub kernel_memory_tcp: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub debug: bool,
    /// Descriptors and threads of the process that answers (no daemon: this one).
    #[serde(rename = "NFd")]
    pub nfd: usize,
    pub oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    pub ngoroutines: usize,
    pub system_time: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    /// "1" or "2" (omitted when no cgroup hierarchy was found).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    pub nevents_listener: usize,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    pub index_server_address: String,
    pub registry_config: RegistryConfig,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub generic_resources: Option<Vec<String>>,
    pub docker_root_dir: std::path::PathBuf,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    pub name: String,
    pub labels: Vec<String>,
    pub experimental_build: bool,
    pub server_version: String,
    pub runtimes: BTreeMap<String, Runtime>,
    pub default_runtime: String,
    pub swarm: Swarm,
    /// Containers outlive every Berth process (there is no daemon to restart).
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    pub containerd_commit: Commit,
    pub runc_commit: Commit,
    pub init_commit: Commit,
    pub security_options: Vec<String>,
    #[serde(rename = "CDISpecDirs")]
    pub cdi_spec_dirs: Vec<String>,
    pub warnings: Option<Vec<String>>,
    /// Berth's own: the cgroup layout ("v1", "hybrid", "v2" or "none") and the run root.
    pub cgroup_layout: String,
    pub run_root: std::path::PathBuf,
}

/// The plugins Docker lists: what Berth has built in.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plugins {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub authorization: Option<Vec<String>>,
    pub log: Vec<String>,
}

/// Docker's `registry.ServiceConfig`, from berth.toml's `[registries]`.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryConfig {
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    #[serde(rename = "IndexConfigs")]
    pub index_configs: BTreeMap<String, IndexInfo>,
    #[serde(rename = "Mirrors")]
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexInfo {
    pub name: String,
    pub mirrors: Vec<String>,
    pub secure: bool,
    pub official: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
}

/// Scripts ask whether swarm mode is on; Berth has none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Swarm {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<String>>,
}

/// `version`: the server side of Docker's `/version`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    pub version: String,
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    /// Go's spelling ("amd64").
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
    /// The version of the monitor protocol.
    pub monitor_protocol: u32,
}

/// The kernel release (`uname -r`).
pub(crate) fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A value of /etc/os-release.
fn os_release(key: &str) -> Option<String> {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_string())
        })
}

/// What the host's cgroups let a container be limited by (Docker's `sysinfo`).
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    memory: bool,
    kernel_memory: bool,
    kernel_memory_tcp: bool,
    oom_kill_disable: bool,
    cpu_cfs: bool,
    cpu_shares: bool,
    cpuset: bool,
    pids: bool,
    /// Throttling by bytes and operations per device (v1 blkio.throttle.*, v2 io.max).
    io_max: bool,
    /// v2 io.weight.
    io_weight: bool,
}

fn limits(layout: Option<&berth_runtime::Layout>) -> Limits {
    let mut l = Limits::default();
    let Some(layout) = layout else { return l };
    for h in &layout.hierarchies {
        if h.v2 {
            if layout.mode != berth_runtime::CgroupMode::Unified {
                continue;
            }
            let ctl =
                std::fs::read_to_string(h.mount.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| ctl.split_whitespace().any(|x| x == c);
            l.memory = has("memory");
            l.cpu_cfs = has("cpu");
            l.cpu_shares = has("cpu");
            l.cpuset = has("cpuset");
            l.pids = has("pids");
            l.io_max = has("io");
            l.io_weight = has("io");
            continue;
        }
        let has = |c: &str| h.controllers.iter().any(|x| x == c);
        let file = |f: &str| h.mount.join(f).exists();
        if has("memory") {
            l.memory = true;
            l.kernel_memory = file("memory.kmem.limit_in_bytes");
            l.kernel_memory_tcp = file("memory.kmem.tcp.limit_in_bytes");
            l.oom_kill_disable = file("memory.oom_control");
        }
        if has("cpu") {
            l.cpu_cfs = file("cpu.cfs_quota_us") && file("cpu.cfs_period_us");
            l.cpu_shares = file("cpu.shares");
        }
        if has("cpuset") {
            l.cpuset = true;
        }
        if has("pids") {
            l.pids = true;
        }
        if has("blkio") {
            l.io_max = file("blkio.throttle.read_bps_device");
        }
    }
    l
}

/// Docker's warnings about what this host cannot limit.
fn warnings(l: &Limits, swap: bool, v2: bool, forwarding: bool) -> Vec<String> {
    let mut w = Vec::new();
    let mut no = |cond: bool, what: &str| {
        if !cond {
            w.push(format!("WARNING: No {what} support"));
        }
    };
    no(l.memory, "memory limit");
    no(swap, "swap limit");
    if !v2 {
        no(l.kernel_memory_tcp, "kernel memory TCP limit");
        no(l.oom_kill_disable, "oom kill disable");
    }
    no(l.cpu_cfs, "cpu cfs quota");
    no(l.cpu_cfs, "cpu cfs period");
    no(l.cpu_shares, "cpu shares");
    no(l.cpuset, "cpuset");
    if v2 {
        no(l.io_weight, "io.weight");
        no(l.io_weight, "io.weight (per device)");
        for op in ["rbps", "wbps", "riops", "wiops"] {
            no(l.io_max, &format!("io.max ({op})"));
        }
    } else {
        for op in [
            "read_bps_device",
            "write_bps_device",
            "read_iops_device",
            "write_iops_device",
        ] {
            no(l.io_max, &format!("blkio throttle.{op}"));
        }
    }
    if !forwarding {
        w.push("WARNING: IPv4 forwarding is disabled".into());
    }
    w
}

/// Docker's name of the filesystem under `p` ("extfs", "xfs", ...).
fn backing_filesystem(p: &std::path::Path) -> String {
    let Ok(st) = nix::sys::statfs::statfs(p) else {
        return "<unknown>".into();
    };
    // The magic numbers of linux/magic.h that Docker names.
    match st.filesystem_type().0 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0xF2F5_2010 => "f2fs",
        _ => "<unknown>",
    }
    .into()
}

/// This data root's engine ID: a UUID made on first use and kept in `<root>/engine-id`.
pub(crate) fn engine_id(root: &std::path::Path) -> String {
    let path = root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_owned();
    }
    let hex = crate::container::new_id().unwrap_or_default();
    let id = match (
        hex.get(..8),
        hex.get(8..12),
        hex.get(13..16),
        hex.get(17..20),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => {
            let e = hex.get(20..32).unwrap_or_default();
            // A version-4 UUID.
            format!("{a}-{b}-4{c}-8{d}-{e}")
        }
        _ => hex,
    };
    // Made once: a second writer's ID loses to the first one's.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => {
            use std::io::Write;
            let _ = f.write_all(id.as_bytes());
            id
        }
        Err(_) => std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .unwrap_or(id),
    }
}

/// berth.toml's registries as Docker's service config; loopback registries are always
/// reached over plain HTTP.
fn registry_config() -> RegistryConfig {
    let cfg = berth_registry::RegistryConfig::load_default().unwrap_or_default();
    let mut index_configs = BTreeMap::new();
    let hub = cfg.settings("docker.io");
    for (name, s) in cfg
        .registries
        .iter()
        .chain([(&"docker.io".to_owned(), &hub)])
    {
        index_configs.insert(
            name.clone(),
            IndexInfo {
                name: name.clone(),
                mirrors: s.mirrors.clone(),
                secure: !s.insecure,
                official: name == "docker.io",
            },
        );
    }
    RegistryConfig {
        insecure_registry_cidrs: vec!["::1/128".into(), "127.0.0.0/8".into()],
        index_configs,
        mirrors: hub.mirrors,
    }
}

impl Engine {
    /// System-wide information.
    pub fn info(&self) -> Result<Info> {
        let cs = self.containers()?;
        let count = |s: Status| cs.iter().filter(|c| c.state.status == s).count();
        let running = count(Status::Running);
        let paused = count(Status::Paused);
        let layout = berth_runtime::Layout::detect().ok();
        let mode = layout.as_ref().map(|l| l.mode);
        let v2 = mode == Some(berth_runtime::CgroupMode::Unified);
        let lim = limits(layout.as_ref());
        let swap = crate::spec::host::Host::get().swap_limit;
        let forwarding =
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|s| s.trim() == "1");
        let warnings = if mode.is_some() {
            warnings(&lim, swap, v2, forwarding)
        } else {
            vec!["WARNING: No cgroup hierarchy found: no resource can be limited".into()]
        };
        let count_dir = |p: &str| std::fs::read_dir(p).map_or(0, |d| d.count());
        let env = |k: &str| std::env::var(k).unwrap_or_default();
        let root = self.paths.root.clone();
        Ok(Info {
            id: engine_id(&root),
            containers: cs.len(),
            containers_running: running,
            containers_paused: paused,
            containers_stopped: cs.len() - running - paused,
            images: self.store()?.images()?.len(),
            driver: std::env::var("BERTH_SNAPSHOTTER").unwrap_or_else(|_| "overlay".into()),
            driver_status: vec![["Backing Filesystem".into(), backing_filesystem(&root)]],
            plugins: Plugins {
                volume: vec!["local".into()],
                network: vec!["host".into(), "null".into()],
                authorization: None,
                log: vec!["json-file".into()],
            },
            memory_limit: lim.memory,
            swap_limit: swap,
            kernel_memory: lim.kernel_memory,
            kernel_memory_tcp: lim.kernel_memory_tcp,
            cpu_cfs_period: lim.cpu_cfs,
            cpu_cfs_quota: lim.cpu_cfs,
            cpu_shares: lim.cpu_shares,
            cpu_set: lim.cpuset,
            pids_limit: lim.pids,
            ipv4_forwarding: forwarding,
            debug: false,
            nfd: count_dir("/proc/self/fd"),
            oom_kill_disable: lim.oom_kill_disable,
            ngoroutines: count_dir("/proc/self/task"),
            system_time: crate::time::format_rfc3339_nanos(
                crate::time::now_unix(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            ),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: match mode {
                Some(berth_runtime::CgroupMode::Unified) => "2",
                Some(_) => "1",
                None => "",
            }
            .into(),
            nevents_listener: 0,
            kernel_version: kernel(),
            operating_system: os_release("PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
            os_version: os_release("VERSION_ID").unwrap_or_default(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            index_server_address: "https://index.docker.io/v1/".into(),
            registry_config: registry_config(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total: crate::stats::host_memory(),
            generic_resources: None,
            docker_root_dir: root,
            http_proxy: env("HTTP_PROXY"),
            https_proxy: env("HTTPS_PROXY"),
            no_proxy: env("NO_PROXY"),
            name: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            labels: Vec::new(),
            experimental_build: false,
            server_version: env!("CARGO_PKG_VERSION").into(),
            runtimes: BTreeMap::from([(
                "berth-runtime".to_owned(),
                Runtime {
                    path: "berth-runtime".into(),
                },
            )]),
            default_runtime: "berth-runtime".into(),
            swarm: Swarm {
                node_id: String::new(),
                node_addr: String::new(),
                local_node_state: "inactive".into(),
                control_available: false,
                error: String::new(),
                remote_managers: None,
            },
            live_restore_enabled: true,
            isolation: String::new(),
            init_binary: "berth-init".into(),
            containerd_commit: Commit { id: "N/A".into() },
            runc_commit: Commit {
                id: env!("CARGO_PKG_VERSION").into(),
            },
            init_commit: Commit {
                id: env!("CARGO_PKG_VERSION").into(),
            },
            security_options: vec!["name=seccomp,profile=builtin".into()],
            cdi_spec_dirs: Vec::new(),
            warnings: (!warnings.is_empty()).then_some(warnings),
            cgroup_layout: mode.map(|m| m.name()).unwrap_or("none").into(),
            run_root: self.paths.runroot.clone(),
        })
    }
}

/// The engine's version (no data root needed).
pub fn version() -> VersionInfo {
    VersionInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("").into(),
        go_version: String::new(),
        os: "linux".into(),
        arch: crate::spec::host::go_arch(std::env::consts::ARCH).into(),
        kernel_version: kernel(),
        build_time: String::new(),
        monitor_protocol: crate::proto::VERSION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_as_docker() {
        let none = Limits::default();
        let w = warnings(&none, false, false, true);
        assert_eq!(w[0], "WARNING: No memory limit support");
        assert!(w.contains(&"WARNING: No oom kill disable support".to_string()));
        assert!(w.contains(&"WARNING: No blkio throttle.read_bps_device support".to_string()));
        let all = Limits {
            memory: true,
            kernel_memory: true,
            kernel_memory_tcp: true,
            oom_kill_disable: true,
            cpu_cfs: true,
            cpu_shares: true,
            cpuset: true,
            pids: true,
            io_max: true,
            io_weight: true,
        };
        assert!(warnings(&all, true, true, true).is_empty());
        assert_eq!(
            warnings(&all, true, false, false),
            ["WARNING: IPv4 forwarding is disabled"]
        );
    }

    #[test]
    fn engine_id_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let a = engine_id(d.path());
        assert_eq!(a.len(), 36, "{a}");
        assert_eq!(engine_id(d.path()), a);
    }
}

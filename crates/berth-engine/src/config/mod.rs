//! What a container is made of: the configuration recorded at `create` (Docker's Config and
//! HostConfig, in Berth's own types). Front ends build it with the parsers of Docker's value
//! syntaxes (`parse`); `Engine::create` checks it once (`validate`), stores it as JSON, and
//! it is turned into an OCI runtime spec (`spec`) each time the container starts.

/// Returns `Error::InvalidValue` with a Docker-worded message (for `parse` and `validate`).
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::Error::InvalidValue(format!($($t)*))) };
}

pub mod parse;
pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `berth create` / `run` records about a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// The image as the user named it ("busybox", "localhost:5000/x:1").
    pub image: String,
    /// The image's ID (config digest, "sha256:...").
    pub image_id: String,
    /// Overrides the image's ENTRYPOINT (`--entrypoint`; `Some(vec![])` clears it).
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's CMD (arguments after the image name).
    pub cmd: Option<Vec<String>>,
    /// `-e`/`--env-file` entries, NAME=value (a bare NAME takes the caller's value before it
    /// is recorded). Applied over the image's Env.
    pub env: Vec<String>,
    /// `-w`: overrides the image's WorkingDir.
    pub working_dir: Option<String>,
    /// `-u`: user[:group], names or numbers; overrides the image's User.
    pub user: Option<String>,
    /// `--group-add`: extra groups (names or numbers).
    pub group_add: Vec<String>,
    /// `-l`/`--label`.
    pub labels: BTreeMap<String, String>,
    /// `-h`/`--hostname` (`None`: the first 12 characters of the container ID; an empty name
    /// is refused).
    pub hostname: Option<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `-t`: a pseudo-terminal.
    pub tty: bool,
    /// `-i`: keep stdin open.
    pub open_stdin: bool,
    /// The streams an attached client gets (`-a`; all off for `run -d`).
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// `--stop-signal` (default: the image's StopSignal, else SIGTERM).
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (default 10).
    pub stop_timeout: Option<u32>,
    /// Health check: flags over the image's HEALTHCHECK; `None` uses the image's.
    pub healthcheck: Option<HealthConfig>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// Ports the image exposes plus `--expose` (e.g. "80/tcp"); informational until
    /// networking publishes them.
    pub exposed_ports: Vec<String>,
    /// `--annotation`: passed to the OCI runtime in the spec's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The process's command line as resolved at create time (entrypoint + cmd, Docker's
    /// Path and Args), recorded so that listings need not read the image.
    pub resolved_args: Vec<String>,
    pub host: HostConfig,
}

/// Health check settings (durations in nanoseconds, as Docker stores them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["CMD", args...]`, `["CMD-SHELL", "cmd"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_ns: u64,
    pub timeout_ns: u64,
    pub start_period_ns: u64,
    /// Time between checks during the start period while the status is "starting".
    pub start_interval_ns: u64,
    pub retries: u32,
}

/// How a container runs on the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    /// `-v`, `--mount`, `--tmpfs`, in the order given.
    pub mounts: Vec<Mount>,
    /// `--volumes-from` container[:ro|rw].
    pub volumes_from: Vec<String>,
    pub network_mode: NetworkMode,
    /// The network mode was not given (`NetworkMode::Default` at create): inspect shows
    /// Docker's "default" for it.
    pub network_mode_default: bool,
    /// `--ip`: the container's IPv4 address on its network (checked at create).
    pub ipv4_address: Option<String>,
    /// `--ip6`: the container's IPv6 address on its network (checked at create).
    pub ipv6_address: Option<String>,
    /// `--mac-address`: the container's MAC address on its network.
    pub mac_address: Option<String>,
    /// `-p`: each container port ("80/tcp") with its host bindings, as Docker's
    /// HostConfig.PortBindings (ranges expanded; a host port "" or "0" is any free one,
    /// "8000-8010" any free one of those).
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`: every exposed port without a binding gets a free host port at start.
    pub publish_all_ports: bool,
    /// `--network-alias`: more names of the container on its (user-defined) network.
    pub network_aliases: Vec<String>,
    /// The networks after the first (`--network a --network b`, `network connect`), in
    /// the order joined: each gets an endpoint (eth1, eth2...) but not the default route.
    pub networks: Vec<NetworkAttachment>,
    /// `network disconnect` of the first network (`network_mode`'s), which stays named
    /// there as Docker's HostConfig.NetworkMode does, but is no longer joined.
    pub primary_detached: bool,
    /// `--userns`: "" or "host" (Berth does not remap users), as given.
    pub userns_mode: String,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host` host:ip.
    pub extra_hosts: Vec<String>,
    /// `--link NAME[:ALIAS]`, as given (see `network/links.rs`).
    pub links: Vec<String>,
    /// `--read-only`.
    pub read_only_rootfs: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`/`--cap-drop` ("NET_ADMIN", "CAP_NET_ADMIN" or "ALL").
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--security-opt`, parsed.
    pub security: SecurityOpts,
    /// `--device` host[:container[:rwm]].
    pub devices: Vec<Device>,
    /// `--device-cgroup-rule` ("c 1:3 rwm").
    pub device_cgroup_rules: Vec<String>,
    pub resources: Resources,
    pub restart_policy: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--init`.
    pub init: bool,
    pub log: LogConfig,
    /// `--shm-size` in bytes (default 64 MiB).
    pub shm_size: Option<u64>,
    /// `--sysctl`.
    pub sysctls: BTreeMap<String, String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--ipc`, `--pid`, `--uts`: "" (private), "host", or "container:NAME" (pid, ipc);
    /// `--ipc` also "private", "shareable" (private namespaces) and "none" (no /dev/shm),
    /// kept as given.
    pub ipc_mode: String,
    pub pid_mode: String,
    pub uts_mode: String,
    /// `--cgroupns`: "private" (a new cgroup namespace) or "host"; `create` records the
    /// host's default for "" (Docker's: private on cgroup v2, host on v1 and hybrid hosts).
    /// A record with "" (older than that) has a private one.
    pub cgroupns_mode: String,
    /// `--cgroup-parent`: the cgroup under which the container's is made ("" = "berth").
    pub cgroup_parent: String,
}

/// One mount of the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path (bind), volume name (volume; empty for an anonymous one), unused (tmpfs).
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    pub read_only: bool,
    /// Bind propagation ("rprivate", "rshared", ...), empty for the default.
    pub propagation: String,
    /// SELinux relabel ("z", "Z"), accepted and ignored without SELinux.
    pub relabel: String,
    /// Volume: do not copy the image's content at the target into a new volume.
    pub no_copy: bool,
    /// tmpfs: size in bytes and mode.
    pub tmpfs_size: Option<u64>,
    pub tmpfs_mode: Option<u32>,
    /// Extra mount options (tmpfs "noexec", bind "nosuid", ...).
    pub options: Vec<String>,
    /// Given with `--mount` (Docker's HostConfig.Mounts) rather than `-v` (Binds): a bind
    /// source must then exist, where `-v` makes a missing one.
    pub from_mount_flag: bool,
    /// The `-v` or `--tmpfs` value as the user wrote it (a relative bind source made
    /// absolute), which `inspect` shows as Docker does (Binds, Tmpfs, the mount's Mode);
    /// empty for `--mount`, the image's volumes and records older than this field.
    pub spec: String,
    /// A volume without a name of the user's (`-v /path`, `--mount` without a source, an
    /// image VOLUME): `create` names it and marks it so.
    pub anonymous: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

/// `--network`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A private network namespace with only loopback (the Rust default of a config made
    /// in code; a command line without `--network` is [`NetworkMode::Default`]).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// `container:NAME`: another container's network namespace.
    Container(String),
    /// A bridge network by name (`bridge` or a user-defined one): a namespace of the
    /// container's own with an endpoint on that network.
    Network(String),
    /// No `--network` (or `--network default`): `create` makes it the built-in `bridge`
    /// network, or `none` when berth.toml disables the default bridge (`bridge = "none"`,
    /// as dockerd's `--bridge=none`). A created container never keeps this value.
    Default,
}

impl NetworkMode {
    /// Docker's spelling: "none", "host", "container:NAME".
    pub fn docker_name(&self) -> String {
        match self {
            NetworkMode::None => "none".to_string(),
            NetworkMode::Host => "host".to_string(),
            NetworkMode::Container(o) => format!("container:{o}"),
            NetworkMode::Network(n) => n.clone(),
            NetworkMode::Default => "default".to_string(),
        }
    }
}

/// A network a container joins besides its first (`network_mode`'s, whose settings are
/// `ipv4_address`, `mac_address` and `network_aliases`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    /// The network's name (an id given by the user is recorded as its name).
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    /// `ip6=` of `--network`'s long syntax, or `network connect --ip6`.
    pub ipv6_address: Option<String>,
    pub mac_address: Option<String>,
}

/// One network a container is configured for, its first one included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment<'a> {
    pub network: &'a str,
    pub aliases: &'a [String],
    pub ipv4_address: Option<&'a str>,
    pub ipv6_address: Option<&'a str>,
    pub mac_address: Option<&'a str>,
    /// The first network (`network_mode`'s): it has the default route.
    pub primary: bool,
}

impl HostConfig {
    /// The networks the container is configured for, in order (empty unless
    /// `network_mode` names a network).
    pub fn attachments(&self) -> Vec<Attachment<'_>> {
        let NetworkMode::Network(first) = &self.network_mode else {
            return Vec::new();
        };
        let mut v = Vec::new();
        if !self.primary_detached {
            v.push(Attachment {
                network: first,
                aliases: &self.network_aliases,
                ipv4_address: self.ipv4_address.as_deref(),
                ipv6_address: self.ipv6_address.as_deref(),
                mac_address: self.mac_address.as_deref(),
                primary: true,
            });
        }
        v.extend(self.networks.iter().map(|n| Attachment {
            network: &n.network,
            aliases: &n.aliases,
            ipv4_address: n.ipv4_address.as_deref(),
            ipv6_address: n.ipv6_address.as_deref(),
            mac_address: n.mac_address.as_deref(),
            primary: false,
        }));
        v
    }

    /// The names of the container's networks, as `ps` shows them (Docker's: the keys of
    /// NetworkSettings.Networks, sorted): `none`, `host`, `container:NAME`, or the
    /// networks it is configured for.
    pub fn network_names(&self) -> Vec<String> {
        match &self.network_mode {
            NetworkMode::Network(_) => {
                let mut v: Vec<String> = self
                    .attachments()
                    .iter()
                    .map(|a| a.network.to_string())
                    .collect();
                v.sort();
                v
            }
            m => vec![m.docker_name()],
        }
    }
}

/// `--security-opt` values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityOpts {
    /// The options as given (a profile file already read into `seccomp=<JSON>` by the
    /// client), which `inspect` shows as Docker's HostConfig.SecurityOpt.
    pub given: Vec<String>,
    /// `seccomp=unconfined`.
    pub seccomp_unconfined: bool,
    /// `seccomp=<profile JSON>` (a client reads `seccomp=PATH` and sends the file's content).
    pub seccomp_profile: Option<String>,
    /// `no-new-privileges` (or `no-new-privileges=true`).
    pub no_new_privileges: bool,
    /// `apparmor=PROFILE` (refused when AppArmor is off).
    pub apparmor: Option<String>,
    /// `label=...` (accepted and ignored without SELinux, like Docker).
    pub labels: Vec<String>,
}

/// `--device`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// Cgroup permissions, "rwm" by default.
    pub permissions: String,
}

/// A rate or weight for one block device (`--device-read-bps /dev/sda:1mb`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRate {
    /// The device node on the host.
    pub path: String,
    pub rate: u64,
}

/// Resource limits (Docker's units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `-m`, bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`, bytes of memory+swap; -1 unlimited.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`, bytes.
    pub memory_reservation: Option<i64>,
    /// `--oom-kill-disable`.
    pub oom_kill_disable: bool,
    /// `--cpus` in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpu-period`/`--cpu-quota` in microseconds.
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    /// `--cpuset-cpus`, `--cpuset-mems`.
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit` (<= 0: unlimited).
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<u16>,
    /// `--blkio-weight-device` PATH:WEIGHT.
    pub blkio_weight_device: Vec<DeviceRate>,
    /// `--device-read-bps`, `--device-write-bps` (bytes per second) and
    /// `--device-read-iops`, `--device-write-iops` PATH:RATE.
    pub device_read_bps: Vec<DeviceRate>,
    pub device_write_bps: Vec<DeviceRate>,
    pub device_read_iops: Vec<DeviceRate>,
    pub device_write_iops: Vec<DeviceRate>,
    /// `--memory-swappiness` (0-100; -1 or none: the host's).
    pub memory_swappiness: Option<i64>,
    /// `--cpu-rt-period`, `--cpu-rt-runtime` in microseconds (cgroup v1).
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    /// `--ulimit` name=soft[:hard].
    pub ulimits: Vec<Ulimit>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// "nofile", "nproc", ... (Docker's names).
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// `--restart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    pub name: RestartName,
    /// For on-failure: at most this many restarts (0 = no limit).
    pub max_retries: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartName {
    #[default]
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

/// `--log-driver` (json-file or none) and `--log-opt` for the json-file driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `--log-driver none`: the output is relayed to attached clients and not kept.
    pub disabled: bool,
    /// Rotate when the file reaches this many bytes (0: never).
    pub max_size: u64,
    /// Keep this many files (the live one included).
    pub max_file: u32,
    /// The options as Docker shows them (HostConfig.LogConfig.Config): berth.toml's
    /// `[log-opts]` as written there, then each `--log-opt` as given. Empty when neither
    /// sets any, though Berth rotates by default (`max_size`, `max_file`).
    pub opts: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            disabled: false,
            max_size: 10 * 1024 * 1024,
            max_file: 3,
            opts: BTreeMap::new(),
        }
    }
}

/// One host binding of a container port (Docker's PortBinding).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// "" for every address of the host.
    pub host_ip: String,
    /// A port, a range to choose one from, or "" (any free one).
    pub host_port: String,
}

//! `inspect` of containers and volumes: a typed model of Docker's JSON (`docker inspect`,
//! the API's `/containers/ID/json`), filled from the container's record, its image's config
//! and its snapshot. Field names and value shapes are Docker's; `serde_json` output of these
//! types is what the CLI prints and the API will send.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{DeviceRate, MountKind, RestartName};
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;
use crate::volumes::Volume;

/// Docker's zero time, for a container that never started or finished.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: InspectState,
    pub image: String,
    pub resolv_conf_path: PathBuf,
    pub hostname_path: PathBuf,
    pub hosts_path: PathBuf,
    pub log_path: PathBuf,
    pub name: String,
    pub restart_count: u32,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: InspectHostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<InspectMount>,
    pub config: InspectConfig,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<InspectHealth>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectHealth {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthLogEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfigJson {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicyJson {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    pub path: String,
    pub weight: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UlimitJson {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectHostConfig {
    pub binds: Vec<String>,
    pub log_config: LogConfigJson,
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, serde_json::Value>,
    pub restart_policy: RestartPolicyJson,
    pub auto_remove: bool,
    pub volumes_from: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub group_add: Vec<String>,
    pub ipc_mode: String,
    pub pid_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub oom_score_adj: i32,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    pub shm_size: u64,
    pub sysctls: BTreeMap<String, String>,
    pub init: bool,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_period: u64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDevice>,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    pub memory_swappiness: Option<i64>,
    pub cgroupns_mode: String,
    pub cgroup_parent: String,
    pub cpu_realtime_period: u64,
    pub cpu_realtime_runtime: i64,
    pub annotations: BTreeMap<String, String>,
    pub oom_kill_disable: bool,
    pub ulimits: Vec<UlimitJson>,
    pub devices: Vec<DeviceMapping>,
    pub tmpfs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: GraphDriverData,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriverData {
    pub lower_dir: String,
    pub upper_dir: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
    pub merged_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectMount {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckJson {
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub start_interval: u64,
    pub retries: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub healthcheck: Option<HealthcheckJson>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<serde_json::Value>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub gw_priority: i64,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(flatten)]
    pub address: Address,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// An endpoint's addresses (also the default endpoint's, at the top of NetworkSettings).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u32,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u32,
    pub mac_address: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub hairpin_mode: bool,
    pub ports: BTreeMap<String, serde_json::Value>,
    pub sandbox_key: String,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u32,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<String>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<String>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(flatten)]
    pub address: Address,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// A volume as `volume inspect` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInspect {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
}

fn rates(list: &[DeviceRate]) -> Vec<ThrottleDevice> {
    list.iter()
        .map(|d| ThrottleDevice {
            path: d.path.clone(),
            rate: d.rate,
        })
        .collect()
}

fn time_or_zero(t: &str) -> String {
    if t.is_empty() {
        ZERO_TIME.to_string()
    } else {
        t.to_string()
    }
}

impl Engine {
    /// A container in `docker inspect`'s shape.
    pub fn inspect(&self, key: &str) -> Result<ContainerInspect> {
        let c = self.container(key)?;
        Ok(self.inspect_container(&c))
    }

    fn inspect_container(&self, c: &Container) -> ContainerInspect {
        let s = &c.state;
        let cfg = &c.config;
        let h = &cfg.host;
        let dir = self.paths.container_dir(&c.id);
        // Docker shows the container's config merged with its image's.
        let image_config = self
            .store()
            .ok()
            .and_then(|st| {
                st.resolve(&cfg.image_id)
                    .ok()
                    .and_then(|img| st.config_json(&img).ok())
            })
            .unwrap_or(serde_json::Value::Null);
        let eff = crate::spec::effective(cfg, &image_config);
        let snap = self.store().ok().and_then(|st| st.mount_spec(&c.id).ok());
        let network = h.network_mode.docker_name();
        let r = &h.resources;
        let mounts = h
            .mounts
            .iter()
            .map(|m| {
                let (kind, source, name) = match m.kind {
                    MountKind::Bind => ("bind", m.source.clone(), None),
                    MountKind::Volume => (
                        "volume",
                        self.paths.volume_data(&m.source).display().to_string(),
                        Some(m.source.clone()),
                    ),
                    MountKind::Tmpfs => ("tmpfs", String::new(), None),
                };
                InspectMount {
                    kind: kind.into(),
                    driver: name.as_ref().map(|_| "local".to_string()),
                    name,
                    source,
                    destination: m.target.clone(),
                    mode: m.relabel.clone(),
                    rw: !m.read_only,
                    propagation: match m.kind {
                        MountKind::Bind if m.propagation.is_empty() => "rprivate".into(),
                        MountKind::Bind => m.propagation.clone(),
                        _ => String::new(),
                    },
                }
            })
            .collect();
        let restart = match h.restart_policy.name {
            RestartName::No => "no",
            RestartName::Always => "always",
            RestartName::UnlessStopped => "unless-stopped",
            RestartName::OnFailure => "on-failure",
        };
        let log_config = if h.log.disabled {
            LogConfigJson {
                kind: "none".into(),
                config: BTreeMap::new(),
            }
        } else {
            LogConfigJson {
                kind: "json-file".into(),
                config: [
                    ("max-size".to_string(), h.log.max_size.to_string()),
                    ("max-file".to_string(), h.log.max_file.to_string()),
                ]
                .into(),
            }
        };
        let mut endpoint = EndpointSettings {
            ipam_config: None,
            links: None,
            aliases: None,
            driver_opts: None,
            gw_priority: 0,
            network_id: String::new(),
            endpoint_id: String::new(),
            address: Address::default(),
            dns_names: None,
        };
        let mut sandbox_key = String::new();
        if let crate::config::NetworkMode::Network(name) = &h.network_mode
            && let Ok(n) = self.network(name)
        {
            endpoint.network_id = n.id.clone();
            if let Some(e) = self
                .db
                .endpoints(Some(&c.id))
                .unwrap_or_default()
                .into_iter()
                .find(|e| e.network_id == n.id)
            {
                endpoint.endpoint_id = e.id.clone();
                endpoint.address = Address {
                    gateway: n.gateway.clone(),
                    ip_address: e.ip.to_string(),
                    ip_prefix_len: n
                        .subnet
                        .parse::<berth_network::Ipv4Net>()
                        .map_or(0, |s| u32::from(s.prefix())),
                    mac_address: e.mac.clone(),
                    ..Default::default()
                };
                if let Some(ip) = &h.ipv4_address {
                    endpoint.ipam_config = Some(serde_json::json!({ "IPv4Address": ip }));
                }
                sandbox_key = e.netns.clone();
            }
        }
        // Docker fills the top-level addresses for its default bridge only.
        let (top, top_endpoint) = if network == "bridge" {
            (endpoint.address.clone(), endpoint.endpoint_id.clone())
        } else {
            (Address::default(), String::new())
        };
        ContainerInspect {
            id: c.id.clone(),
            created: c.created.clone(),
            path: cfg.resolved_args.first().cloned().unwrap_or_default(),
            args: cfg.resolved_args.iter().skip(1).cloned().collect(),
            state: InspectState {
                status: s.status.as_str().into(),
                running: matches!(s.status, Status::Running | Status::Paused),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: s.pid,
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: time_or_zero(&s.started_at),
                finished_at: time_or_zero(&s.finished_at),
                health: s.health.as_ref().map(|hl| InspectHealth {
                    status: hl.status.clone(),
                    failing_streak: hl.failing_streak,
                    log: hl
                        .log
                        .iter()
                        .map(|l| HealthLogEntry {
                            start: l.start.clone(),
                            end: l.end.clone(),
                            exit_code: l.exit_code,
                            output: l.output.clone(),
                        })
                        .collect(),
                }),
            },
            image: cfg.image_id.clone(),
            resolv_conf_path: dir.join("resolv.conf"),
            hostname_path: dir.join("hostname"),
            hosts_path: dir.join("hosts"),
            log_path: self.paths.log_file(&c.id),
            name: format!("/{}", c.name),
            restart_count: s.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: h.security.apparmor.clone().unwrap_or_default(),
            exec_ids: None,
            host_config: InspectHostConfig {
                binds: h
                    .mounts
                    .iter()
                    .filter(|m| m.kind != MountKind::Tmpfs && !m.source.is_empty())
                    .map(|m| {
                        format!(
                            "{}:{}{}",
                            m.source,
                            m.target,
                            if m.read_only { ":ro" } else { "" }
                        )
                    })
                    .collect(),
                log_config,
                network_mode: network.clone(),
                port_bindings: BTreeMap::new(),
                restart_policy: RestartPolicyJson {
                    name: restart.into(),
                    maximum_retry_count: h.restart_policy.max_retries,
                },
                auto_remove: h.auto_remove,
                volumes_from: h.volumes_from.clone(),
                cap_add: h.cap_add.clone(),
                cap_drop: h.cap_drop.clone(),
                dns: h.dns.clone(),
                dns_options: h.dns_options.clone(),
                dns_search: h.dns_search.clone(),
                extra_hosts: h.extra_hosts.clone(),
                group_add: cfg.group_add.clone(),
                ipc_mode: if h.ipc_mode.is_empty() {
                    "private".into()
                } else {
                    h.ipc_mode.clone()
                },
                pid_mode: h.pid_mode.clone(),
                uts_mode: h.uts_mode.clone(),
                oom_score_adj: h.oom_score_adj.unwrap_or(0),
                privileged: h.privileged,
                readonly_rootfs: h.read_only_rootfs,
                security_opt: None,
                shm_size: h.shm_size.unwrap_or(crate::spec::DEFAULT_SHM_SIZE),
                sysctls: h.sysctls.clone(),
                init: h.init,
                memory: r.memory.unwrap_or(0),
                memory_swap: r.memory_swap.unwrap_or(0),
                memory_reservation: r.memory_reservation.unwrap_or(0),
                nano_cpus: r.nano_cpus.unwrap_or(0),
                cpu_shares: r.cpu_shares.unwrap_or(0),
                cpu_period: r.cpu_period.unwrap_or(0),
                cpu_quota: r.cpu_quota.unwrap_or(0),
                cpuset_cpus: r.cpuset_cpus.clone().unwrap_or_default(),
                cpuset_mems: r.cpuset_mems.clone().unwrap_or_default(),
                pids_limit: r.pids_limit,
                blkio_weight: r.blkio_weight.unwrap_or(0),
                blkio_weight_device: r
                    .blkio_weight_device
                    .iter()
                    .map(|d| WeightDevice {
                        path: d.path.clone(),
                        weight: d.rate,
                    })
                    .collect(),
                blkio_device_read_bps: rates(&r.device_read_bps),
                blkio_device_write_bps: rates(&r.device_write_bps),
                blkio_device_read_iops: rates(&r.device_read_iops),
                blkio_device_write_iops: rates(&r.device_write_iops),
                memory_swappiness: r.memory_swappiness,
                cgroupns_mode: if h.cgroupns_mode.is_empty() {
                    "private".into()
                } else {
                    h.cgroupns_mode.clone()
                },
                cgroup_parent: h.cgroup_parent.clone(),
                cpu_realtime_period: r.cpu_rt_period.unwrap_or(0),
                cpu_realtime_runtime: r.cpu_rt_runtime.unwrap_or(0),
                annotations: cfg.annotations.clone(),
                oom_kill_disable: r.oom_kill_disable,
                ulimits: r
                    .ulimits
                    .iter()
                    .map(|u| UlimitJson {
                        name: u.name.clone(),
                        soft: u.soft,
                        hard: u.hard,
                    })
                    .collect(),
                devices: h
                    .devices
                    .iter()
                    .map(|d| DeviceMapping {
                        path_on_host: d.host_path.clone(),
                        path_in_container: d.container_path.clone(),
                        cgroup_permissions: d.permissions.clone(),
                    })
                    .collect(),
                tmpfs: h
                    .mounts
                    .iter()
                    .filter(|m| m.kind == MountKind::Tmpfs)
                    .map(|m| (m.target.clone(), m.options.join(",")))
                    .collect(),
            },
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: GraphDriverData {
                    lower_dir: snap
                        .as_ref()
                        .map(|m| {
                            m.lowerdirs
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(":")
                        })
                        .unwrap_or_default(),
                    upper_dir: snap.as_ref().map(|m| m.upperdir.clone()),
                    work_dir: snap.as_ref().map(|m| m.workdir.clone()),
                    merged_dir: self.paths.rootfs(&c.id),
                },
            },
            mounts,
            config: InspectConfig {
                hostname: crate::etc_files::hostname(c),
                domainname: cfg.domainname.clone().unwrap_or_default(),
                user: eff.user,
                attach_stdin: cfg.attach_stdin,
                attach_stdout: cfg.attach_stdout,
                attach_stderr: cfg.attach_stderr,
                exposed_ports: cfg
                    .exposed_ports
                    .iter()
                    .map(|p| (p.clone(), serde_json::json!({})))
                    .collect(),
                tty: cfg.tty,
                open_stdin: cfg.open_stdin,
                stdin_once: false,
                env: eff.env,
                cmd: eff.cmd,
                healthcheck: cfg.healthcheck.as_ref().map(|hc| HealthcheckJson {
                    test: hc.test.clone(),
                    interval: hc.interval_ns,
                    timeout: hc.timeout_ns,
                    start_period: hc.start_period_ns,
                    start_interval: hc.start_interval_ns,
                    retries: hc.retries,
                }),
                image: cfg.image.clone(),
                volumes: None,
                working_dir: eff.working_dir,
                entrypoint: eff.entrypoint,
                on_build: None,
                labels: cfg.labels.clone(),
                stop_signal: cfg.stop_signal.clone(),
                stop_timeout: cfg.stop_timeout,
            },
            network_settings: NetworkSettings {
                bridge: String::new(),
                sandbox_id: String::new(),
                hairpin_mode: false,
                ports: BTreeMap::new(),
                sandbox_key: if s.pid > 0 && network == "none" {
                    format!("/proc/{}/ns/net", s.pid)
                } else {
                    sandbox_key
                },
                link_local_ipv6_address: String::new(),
                link_local_ipv6_prefix_len: 0,
                secondary_ip_addresses: None,
                secondary_ipv6_addresses: None,
                endpoint_id: top_endpoint,
                address: top,
                networks: [(network, endpoint)].into(),
            },
        }
    }

    /// A volume in `volume inspect`'s shape.
    pub fn volume_inspect(&self, name: &str) -> Result<VolumeInspect> {
        let v = self.volume(name)?;
        Ok(self.volume_json(&v))
    }

    pub(crate) fn volume_json(&self, v: &Volume) -> VolumeInspect {
        VolumeInspect {
            created_at: v.created.clone(),
            driver: v.driver.clone(),
            labels: v.labels.clone(),
            mountpoint: self.paths.volume_data(&v.name),
            name: v.name.clone(),
            options: v.options.clone(),
            scope: "local".into(),
        }
    }
}

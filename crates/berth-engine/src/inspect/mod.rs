//! `inspect` of containers, images and volumes: typed models of Docker's JSON (`docker
//! inspect`, the API's `/containers/ID/json` and `/images/ID/json`), filled from the
//! container's record, its image's config and its snapshot. Field names, order and value
//! shapes are current Docker's (Engine API v1.50), so `serde_json` output of these types is
//! what the CLI prints and what the API will send.
//!
//! What Docker's daemon fills in at create is shown the same way: the image's labels,
//! volumes and environment merged in, `MemorySwap` twice `Memory`, `label=disable` for
//! containers sharing the host's IPC or PID namespace; what it leaves unset stays unset
//! (`Config.StopSignal`, the health check's durations, `null` for lists never given).

mod image;
mod model;
mod mounts;

use std::collections::BTreeMap;

pub use image::{ImageInspect, ImageInspectConfig, ImageMetadata, RootFs};
pub use model::*;

use crate::config::{DeviceRate, RestartName};
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::Result;
use crate::volumes::Volume;

/// Docker's zero time, for a container that never started or finished.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The runtime Berth runs containers with (HostConfig.Runtime).
const RUNTIME: &str = "berth-runtime";

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

/// `None` for an empty list (Docker's nil slice, `null` in JSON).
fn nonempty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

impl Engine {
    /// A container in `docker inspect`'s shape.
    pub fn inspect(&self, key: &str) -> Result<ContainerInspect> {
        let c = self.container(key)?;
        Ok(self.inspect_container(&c, false))
    }

    /// `inspect --size`: also the writable layer's size (SizeRw) and the whole root
    /// filesystem's (SizeRootFs: the image's plus that).
    pub fn inspect_with_size(&self, key: &str) -> Result<ContainerInspect> {
        let c = self.container(key)?;
        Ok(self.inspect_container(&c, true))
    }

    fn inspect_container(&self, c: &Container, size: bool) -> ContainerInspect {
        let s = &c.state;
        let cfg = &c.config;
        let dir = self.paths.container_dir(&c.id);
        // Docker shows the container's config merged with its image's.
        let image = self
            .store()
            .ok()
            .and_then(|st| st.resolve(&cfg.image_id).ok().map(|img| (st, img)));
        let image_config = image
            .as_ref()
            .and_then(|(st, img)| st.config_json(img).ok())
            .unwrap_or(serde_json::Value::Null);
        let (size_rw, size_root_fs) = if size {
            let rw = self.rw_size(&c.id);
            let base = image.as_ref().map_or(0, |(_, img)| img.size);
            (Some(rw), Some(rw + base))
        } else {
            (None, None)
        };
        let snap = self.store().ok().and_then(|st| st.mount_spec(&c.id).ok());
        ContainerInspect {
            id: c.id.clone(),
            created: c.created.clone(),
            path: cfg.resolved_args.first().cloned().unwrap_or_default(),
            args: cfg.resolved_args.iter().skip(1).cloned().collect(),
            state: inspect_state(c),
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
            app_armor_profile: cfg.host.security.apparmor.clone().unwrap_or_else(|| {
                if cfg.host.privileged && crate::spec::apparmor_enabled() {
                    "unconfined".into()
                } else {
                    String::new()
                }
            }),
            exec_ids: None,
            host_config: self.host_config(c),
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
            size_rw,
            size_root_fs,
            mounts: mounts::mount_points(&self.paths, &cfg.host.mounts),
            config: inspect_config(c, &image_config),
            network_settings: self.network_settings(c),
        }
    }

    fn host_config(&self, c: &Container) -> InspectHostConfig {
        let cfg = &c.config;
        let h = &cfg.host;
        let r = &h.resources;
        let restart = match h.restart_policy.name {
            RestartName::No => "no",
            RestartName::Always => "always",
            RestartName::UnlessStopped => "unless-stopped",
            RestartName::OnFailure => "on-failure",
        };
        let memory = r.memory.unwrap_or(0);
        InspectHostConfig {
            binds: mounts::binds(&h.mounts),
            container_id_file: String::new(),
            log_config: LogConfigJson {
                kind: if h.log.disabled { "none" } else { "json-file" }.into(),
                config: h.log.opts.clone(),
            },
            network_mode: if h.network_mode_default {
                "default".into()
            } else {
                h.network_mode.docker_name()
            },
            port_bindings: h
                .port_bindings
                .iter()
                .map(|(k, v)| {
                    let list: Vec<serde_json::Value> = v
                        .iter()
                        .map(|b| serde_json::json!({"HostIp": b.host_ip, "HostPort": b.host_port}))
                        .collect();
                    (k.clone(), serde_json::Value::from(list))
                })
                .collect(),
            restart_policy: RestartPolicyJson {
                name: restart.into(),
                maximum_retry_count: h.restart_policy.max_retries,
            },
            auto_remove: h.auto_remove,
            volume_driver: String::new(),
            volumes_from: nonempty(&h.volumes_from),
            console_size: [0, 0],
            annotations: cfg.annotations.clone(),
            cap_add: nonempty(&crate::config::parse::capabilities(&h.cap_add)),
            cap_drop: nonempty(&crate::config::parse::capabilities(&h.cap_drop)),
            cgroupns_mode: if h.cgroupns_mode.is_empty() {
                "private".into()
            } else {
                h.cgroupns_mode.clone()
            },
            dns: h.dns.clone(),
            dns_options: h.dns_options.clone(),
            dns_search: h.dns_search.clone(),
            extra_hosts: nonempty(&h.extra_hosts),
            group_add: nonempty(&cfg.group_add),
            ipc_mode: if h.ipc_mode.is_empty() {
                "private".into()
            } else {
                h.ipc_mode.clone()
            },
            cgroup: String::new(),
            links: (!h.links.is_empty()).then(|| {
                h.links
                    .iter()
                    .filter_map(|l| crate::network::links::parse(l).ok())
                    .map(|(name, alias)| format!("/{name}:/{}/{alias}", c.name))
                    .collect()
            }),
            oom_score_adj: h.oom_score_adj.unwrap_or(0),
            pid_mode: h.pid_mode.clone(),
            privileged: h.privileged,
            publish_all_ports: h.publish_all_ports,
            readonly_rootfs: h.read_only_rootfs,
            security_opt: security_opt(c),
            tmpfs: mounts::tmpfs(&h.mounts),
            uts_mode: h.uts_mode.clone(),
            userns_mode: c.config.host.userns_mode.clone(),
            shm_size: h.shm_size.unwrap_or(crate::spec::DEFAULT_SHM_SIZE),
            sysctls: h.sysctls.clone(),
            runtime: RUNTIME.into(),
            isolation: String::new(),
            cpu_shares: r.cpu_shares.unwrap_or(0),
            memory,
            nano_cpus: r.nano_cpus.unwrap_or(0),
            cgroup_parent: h.cgroup_parent.clone(),
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
            cpu_period: r.cpu_period.unwrap_or(0),
            cpu_quota: r.cpu_quota.unwrap_or(0),
            cpu_realtime_period: r.cpu_rt_period.unwrap_or(0),
            cpu_realtime_runtime: r.cpu_rt_runtime.unwrap_or(0),
            cpuset_cpus: r.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: r.cpuset_mems.clone().unwrap_or_default(),
            devices: h
                .devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: d.host_path.clone(),
                    path_in_container: d.container_path.clone(),
                    cgroup_permissions: d.permissions.clone(),
                })
                .collect(),
            device_cgroup_rules: nonempty(&h.device_cgroup_rules),
            device_requests: None,
            memory_reservation: r.memory_reservation.unwrap_or(0),
            // Without a swap limit of its own a container may swap as much again as its
            // memory (the spec builder asks for that), which Docker records at create.
            memory_swap: match r.memory_swap {
                Some(s) if s != 0 => s,
                _ if memory > 0 => memory.saturating_mul(2),
                _ => 0,
            },
            memory_swappiness: r.memory_swappiness,
            oom_kill_disable: r.oom_kill_disable,
            pids_limit: r.pids_limit,
            ulimits: r
                .ulimits
                .iter()
                .map(|u| UlimitJson {
                    name: u.name.clone(),
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect(),
            cpu_count: 0,
            cpu_percent: 0,
            io_maximum_iops: 0,
            io_maximum_bandwidth: 0,
            mounts: mounts::mount_specs(&h.mounts),
            masked_paths: (!h.privileged).then(|| strings(&crate::spec::MASKED_PATHS)),
            readonly_paths: (!h.privileged).then(|| strings(&crate::spec::READONLY_PATHS)),
            init: h.init.then_some(true),
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

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn inspect_state(c: &Container) -> InspectState {
    let s = &c.state;
    InspectState {
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
    }
}

/// HostConfig.SecurityOpt: the options as given, and "label=disable" (no SELinux label)
/// for a privileged container or one in the host's IPC or PID namespace, unless a
/// `label=` option was given, as Docker's daemon records it.
fn security_opt(c: &Container) -> Option<Vec<String>> {
    let h = &c.config.host;
    let mut v = h.security.given.clone();
    let labelled = v
        .iter()
        .any(|o| crate::config::parse::security_opt_pair(o).0 == "label");
    if !labelled && (h.privileged || h.ipc_mode == "host" || h.pid_mode == "host") {
        v.push("label=disable".into());
    }
    nonempty(&v)
}

fn inspect_config(c: &Container, image_config: &serde_json::Value) -> InspectConfig {
    let cfg = &c.config;
    let eff = crate::spec::effective(cfg, image_config);
    // The image's labels, under the container's.
    let mut labels: BTreeMap<String, String> = image_config
        .pointer("/config/Labels")
        .and_then(|l| l.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    labels.extend(cfg.labels.clone());
    InspectConfig {
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
        // Docker's client asks for stdin to close when its attached client goes.
        stdin_once: cfg.open_stdin && cfg.attach_stdin,
        env: nonempty(&eff.env),
        cmd: eff.cmd.filter(|c| !c.is_empty()),
        healthcheck: cfg.healthcheck.as_ref().map(|hc| HealthcheckJson {
            test: hc.test.clone(),
            interval: hc.interval_ns,
            timeout: hc.timeout_ns,
            start_period: hc.start_period_ns,
            start_interval: hc.start_interval_ns,
            retries: u64::from(hc.retries),
        }),
        image: cfg.image.clone(),
        volumes: mounts::config_volumes(
            &cfg.host.mounts,
            &crate::spec::image_volumes(image_config),
        ),
        working_dir: eff.working_dir,
        entrypoint: eff.entrypoint.filter(|e| !e.is_empty()),
        on_build: None,
        labels,
        stop_signal: cfg.stop_signal.clone(),
        stop_timeout: cfg.stop_timeout,
    }
}

impl Engine {
    /// NetworkSettings: one endpoint on the "none", "host" or user-defined network (with
    /// its address, gateway and MAC from the store's endpoint), none in another
    /// container's network namespace (as Docker's).
    fn network_settings(&self, c: &Container) -> NetworkSettings {
        let mode = &c.config.host.network_mode;
        let s = &c.state;
        let mut networks = BTreeMap::new();
        let mut sandbox_key = if s.pid > 0 && *mode == crate::config::NetworkMode::None {
            format!("/proc/{}/ns/net", s.pid)
        } else {
            String::new()
        };
        let rows = self.db.endpoints(Some(&c.id)).unwrap_or_default();
        match mode {
            crate::config::NetworkMode::Container(_) => {}
            crate::config::NetworkMode::Network(_) => {
                for a in c.config.host.attachments() {
                    let mut endpoint = EndpointSettings::default();
                    if let Ok(n) = self.network(a.network) {
                        self.fill_endpoint(c, &n, &a, &rows, &mut endpoint);
                        if let Some(e) = rows.iter().find(|e| e.network_id == n.id) {
                            sandbox_key = e.netns.clone();
                        }
                    }
                    networks.insert(a.network.to_string(), endpoint);
                }
            }
            _ => {
                networks.insert(mode.docker_name(), EndpointSettings::default());
            }
        }
        // Docker fills the top-level addresses for its default bridge only.
        let ports = self
            .container_ports(c)
            .into_iter()
            .map(|(k, v)| {
                let v = v.map_or(serde_json::Value::Null, |l| {
                    l.into_iter()
                        .map(|(ip, p)| serde_json::json!({"HostIp": ip, "HostPort": p.to_string()}))
                        .collect()
                });
                (k, v)
            })
            .collect();
        let mut settings = NetworkSettings {
            sandbox_key,
            ports,
            ..Default::default()
        };
        if let Some(e) = networks.get("bridge") {
            settings.endpoint_id = e.endpoint_id.clone();
            settings.gateway = e.gateway.clone();
            settings.ip_address = e.ip_address.clone();
            settings.ip_prefix_len = e.ip_prefix_len;
            settings.mac_address = e.mac_address.clone();
        }
        settings.networks = networks;
        settings
    }

    /// One entry of NetworkSettings.Networks: network `n`'s, with the store's endpoint
    /// (address, gateway, MAC) when the container holds one there.
    fn fill_endpoint(
        &self,
        c: &Container,
        n: &crate::network::Network,
        a: &crate::config::Attachment<'_>,
        rows: &[crate::network::store::EndpointRow],
        endpoint: &mut EndpointSettings,
    ) {
        endpoint.network_id = n.id.clone();
        if !n.builtin {
            // The names the embedded resolver answers to (current Docker's DNSNames:
            // name, aliases, short id, hostname).
            endpoint.aliases = (!a.aliases.is_empty()).then(|| a.aliases.to_vec());
            let mut names = vec![c.name.clone()];
            names.extend(a.aliases.iter().cloned());
            names.push(c.short_id().to_string());
            if let Some(h) = c.config.hostname.as_ref().filter(|h| !h.is_empty()) {
                names.push(h.clone());
            }
            let mut seen = std::collections::HashSet::new();
            names.retain(|n| seen.insert(n.clone()));
            endpoint.dns_names = Some(names);
        }
        if let Some(e) = rows.iter().find(|e| e.network_id == n.id) {
            let mut ipam = serde_json::Map::new();
            if let Some(ip) = a.ipv4_address {
                ipam.insert("IPv4Address".into(), ip.into());
            }
            if let Some(ip) = a.ipv6_address {
                ipam.insert("IPv6Address".into(), ip.into());
            }
            if !ipam.is_empty() {
                endpoint.ipam_config = Some(ipam.into());
            }
            if let (Ok(Some(ip6)), Ok(Some((s6, gw6, _)))) = (self.db.endpoint6(&e.id), n.ipv6()) {
                endpoint.global_ipv6_address = ip6.to_string();
                endpoint.global_ipv6_prefix_len = u32::from(s6.prefix());
                endpoint.ipv6_gateway = gw6.to_string();
            }
            endpoint.endpoint_id = e.id.clone();
            endpoint.gateway = n.gateway.clone();
            endpoint.ip_address = e.ip.to_string();
            endpoint.ip_prefix_len = n
                .subnet
                .parse::<berth_network::Ipv4Net>()
                .map_or(0, |s| u32::from(s.prefix()));
            endpoint.mac_address = e.mac.clone();
        }
    }
}

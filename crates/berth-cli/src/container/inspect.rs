//! `inspect`: containers in Docker's JSON shape (and images and volumes, like
//! `docker inspect`).

use std::process::ExitCode;

use anyhow::Result;
use berth_engine::config::{MountKind, RestartName};
use berth_engine::{Container, Engine, Status};
use clap::Args;
use serde_json::{Value, json};

use super::engine;
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for the specified type (container, image, volume).
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

fn nanos_secs(ns: u64) -> u64 {
    ns
}

/// A container in `docker inspect`'s shape.
pub fn container_json(e: &Engine, c: &Container) -> Value {
    let s = &c.state;
    let cfg = &c.config;
    let h = &cfg.host;
    let dir = e.paths.container_dir(&c.id);
    let args = &cfg.resolved_args;
    // Docker shows the container's config merged with its image's.
    let image_config = e
        .store()
        .ok()
        .and_then(|st| {
            st.resolve(&cfg.image_id)
                .ok()
                .and_then(|img| st.config_json(&img).ok())
        })
        .unwrap_or(Value::Null);
    let eff = berth_engine::spec::effective(cfg, &image_config);
    let spec = e.store().ok().and_then(|st| st.mount_spec(&c.id).ok());
    let lower = spec
        .as_ref()
        .map(|m| {
            m.lowerdirs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default();
    let mounts: Vec<Value> = h
        .mounts
        .iter()
        .map(|m| {
            let (kind, source, name) = match m.kind {
                MountKind::Bind => ("bind", m.source.clone(), Value::Null),
                MountKind::Volume => ("volume", e.paths.volume_data(&m.source).display().to_string(), json!(m.source)),
                MountKind::Tmpfs => ("tmpfs", String::new(), Value::Null),
            };
            let mut v = json!({
                "Type": kind, "Source": source, "Destination": m.target,
                "Mode": m.relabel, "RW": !m.read_only,
                "Propagation": if m.kind == MountKind::Bind { if m.propagation.is_empty() { "rprivate".to_string() } else { m.propagation.clone() } } else { String::new() },
            });
            if !name.is_null() {
                v["Name"] = name;
                v["Driver"] = json!("local");
            }
            v
        })
        .collect();
    let restart = match h.restart_policy.name {
        RestartName::No => "no",
        RestartName::Always => "always",
        RestartName::UnlessStopped => "unless-stopped",
        RestartName::OnFailure => "on-failure",
    };
    let network = h.network_mode.docker_name();
    let r = &h.resources;
    let health = s.health.as_ref().map(|hl| {
        json!({
            "Status": hl.status, "FailingStreak": hl.failing_streak,
            "Log": hl.log.iter().map(|l| json!({"Start": l.start, "End": l.end, "ExitCode": l.exit_code, "Output": l.output})).collect::<Vec<_>>(),
        })
    });
    let mut state = json!({
        "Status": s.status.as_str(),
        "Running": matches!(s.status, Status::Running | Status::Paused),
        "Paused": s.status == Status::Paused,
        "Restarting": s.status == Status::Restarting,
        "OOMKilled": s.oom_killed,
        "Dead": s.status == Status::Dead,
        "Pid": s.pid,
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": if s.started_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { s.started_at.clone() },
        "FinishedAt": if s.finished_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { s.finished_at.clone() },
    });
    if let Some(hv) = health {
        state["Health"] = hv;
    }
    let healthcheck = cfg.healthcheck.as_ref().map(|hc| {
        json!({"Test": hc.test, "Interval": nanos_secs(hc.interval_ns), "Timeout": hc.timeout_ns,
               "StartPeriod": hc.start_period_ns, "StartInterval": hc.start_interval_ns, "Retries": hc.retries})
    });
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": state,
        "Image": cfg.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": e.paths.log_file(&c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": h.security.apparmor.clone().unwrap_or_default(),
        "ExecIDs": Value::Null,
        "HostConfig": {
            "Binds": h.mounts.iter().filter(|m| m.kind != MountKind::Tmpfs && !m.source.is_empty())
                .map(|m| format!("{}:{}{}", m.source, m.target, if m.read_only { ":ro" } else { "" })).collect::<Vec<_>>(),
            "LogConfig": if h.log.disabled {
                json!({"Type": "none", "Config": {}})
            } else {
                json!({"Type": "json-file", "Config": {"max-size": h.log.max_size.to_string(), "max-file": h.log.max_file.to_string()}})
            },
            "NetworkMode": network,
            "PortBindings": {},
            "RestartPolicy": {"Name": restart, "MaximumRetryCount": h.restart_policy.max_retries},
            "AutoRemove": h.auto_remove,
            "VolumesFrom": h.volumes_from,
            "CapAdd": h.cap_add,
            "CapDrop": h.cap_drop,
            "Dns": h.dns, "DnsOptions": h.dns_options, "DnsSearch": h.dns_search,
            "ExtraHosts": h.extra_hosts,
            "GroupAdd": cfg.group_add,
            "IpcMode": if h.ipc_mode.is_empty() { "private" } else { &h.ipc_mode },
            "PidMode": h.pid_mode,
            "UTSMode": h.uts_mode,
            "OomScoreAdj": h.oom_score_adj.unwrap_or(0),
            "Privileged": h.privileged,
            "ReadonlyRootfs": h.read_only_rootfs,
            "SecurityOpt": Value::Null,
            "ShmSize": h.shm_size.unwrap_or(64 << 20),
            "Sysctls": h.sysctls,
            "Init": h.init,
            "Memory": r.memory.unwrap_or(0),
            "MemorySwap": r.memory_swap.unwrap_or(0),
            "MemoryReservation": r.memory_reservation.unwrap_or(0),
            "NanoCpus": r.nano_cpus.unwrap_or(0),
            "CpuShares": r.cpu_shares.unwrap_or(0),
            "CpuPeriod": r.cpu_period.unwrap_or(0),
            "CpuQuota": r.cpu_quota.unwrap_or(0),
            "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
            "CpusetMems": r.cpuset_mems.clone().unwrap_or_default(),
            "PidsLimit": r.pids_limit,
            "BlkioWeight": r.blkio_weight.unwrap_or(0),
            "BlkioWeightDevice": r.blkio_weight_device.iter().map(|d| json!({"Path": d.path, "Weight": d.rate})).collect::<Vec<_>>(),
            "BlkioDeviceReadBps": rates(&r.device_read_bps),
            "BlkioDeviceWriteBps": rates(&r.device_write_bps),
            "BlkioDeviceReadIOps": rates(&r.device_read_iops),
            "BlkioDeviceWriteIOps": rates(&r.device_write_iops),
            "MemorySwappiness": r.memory_swappiness,
            "CgroupnsMode": if h.cgroupns_mode.is_empty() { "private" } else { &h.cgroupns_mode },
            "CgroupParent": h.cgroup_parent,
            "CpuRealtimePeriod": r.cpu_rt_period.unwrap_or(0),
            "CpuRealtimeRuntime": r.cpu_rt_runtime.unwrap_or(0),
            "Annotations": cfg.annotations,
            "OomKillDisable": r.oom_kill_disable,
            "Ulimits": r.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
            "Devices": h.devices.iter().map(|d| json!({"PathOnHost": d.host_path, "PathInContainer": d.container_path, "CgroupPermissions": d.permissions})).collect::<Vec<_>>(),
            "Tmpfs": h.mounts.iter().filter(|m| m.kind == MountKind::Tmpfs).map(|m| (m.target.clone(), json!(m.options.join(",")))).collect::<serde_json::Map<_, _>>(),
        },
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": lower,
                "UpperDir": spec.as_ref().map(|m| m.upperdir.clone()),
                "WorkDir": spec.as_ref().map(|m| m.workdir.clone()),
                "MergedDir": e.paths.rootfs(&c.id),
            }
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": berth_engine::etc_files::hostname(c),
            "Domainname": cfg.domainname.clone().unwrap_or_default(),
            "User": eff.user,
            "AttachStdin": cfg.attach_stdin, "AttachStdout": cfg.attach_stdout, "AttachStderr": cfg.attach_stderr,
            "ExposedPorts": cfg.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": false,
            "Env": eff.env,
            "Cmd": eff.cmd,
            "Healthcheck": healthcheck,
            "Image": cfg.image,
            "Volumes": Value::Null,
            "WorkingDir": eff.working_dir,
            "Entrypoint": eff.entrypoint,
            "OnBuild": Value::Null,
            "Labels": cfg.labels,
            "StopSignal": cfg.stop_signal,
            "StopTimeout": cfg.stop_timeout,
        },
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "Ports": {},
            "SandboxKey": if s.pid > 0 && network == "none" { format!("/proc/{}/ns/net", s.pid) } else { String::new() },
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
            "Networks": { network.clone(): {"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""} },
        },
    })
}

/// A volume in `docker volume inspect`'s shape.
pub fn volume_json(e: &Engine, v: &berth_engine::volumes::Volume) -> Value {
    json!({
        "CreatedAt": v.created,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": e.paths.volume_data(&v.name),
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    })
}

/// Prints values as a JSON array or through a template, one line each.
pub fn print(values: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None | Some("") | Some("json") => println!("{}", serde_json::to_string_pretty(values)?),
        Some(t) => {
            let mut out = String::new();
            for v in values {
                out.push_str(&crate::output::render(t, v)?);
                out.push('\n');
            }
            print!("{out}");
        }
    }
    Ok(())
}

pub fn inspect(g: &Global, a: InspectArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        let kind = a.kind.as_deref();
        if kind.is_none_or(|k| k == "container") {
            match e.container(n) {
                Ok(c) => {
                    values.push(container_json(&e, &c));
                    continue;
                }
                Err(err) if err.kind() != berth_engine::ErrorKind::NotFound => {
                    return Err(err.into());
                }
                Err(_) => {}
            }
        }
        if kind.is_none_or(|k| k == "image") {
            let store = e.store()?;
            if let Ok(img) = store.resolve(n) {
                values.push(store.inspect(&img)?);
                continue;
            }
        }
        if kind.is_none_or(|k| k == "volume")
            && let Ok(v) = e.volume(n)
        {
            values.push(volume_json(&e, &v));
            continue;
        }
        missing.push(n.clone());
    }
    print(&values, a.format.as_deref())?;
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("Error: No such object: {m}");
        }
        return Err(anyhow::Error::new(super::Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's ThrottleDevice list.
fn rates(list: &[berth_engine::config::DeviceRate]) -> Vec<Value> {
    list.iter()
        .map(|d| json!({"Path": d.path, "Rate": d.rate}))
        .collect()
}

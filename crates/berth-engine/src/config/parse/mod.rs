//! Docker's value syntaxes, as pure functions: sizes, durations, numbers, labels, ulimits,
//! restart policies, devices and security options here; mounts (`mounts`), the host's
//! namespaces, network, sysctls and logging (`host`), the process's health check, attach
//! streams, ports and annotations (`process`) and resource limits (`resources`) beside it.
//! The CLI's flags and the API's JSON carry the same strings; both turn them into the typed
//! configuration here. Nothing here reads the caller's environment, files or working
//! directory: that is the client's part (a CLI makes `-v ./x` absolute and reads a seccomp
//! profile file before it calls these). Errors are Docker's messages (`Error::InvalidValue`);
//! what a value means for the whole configuration is checked by `config::validate`.

use std::collections::BTreeMap;
use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;

use super::{Device, RestartName, RestartPolicy, SecurityOpts, Ulimit};
use crate::error::{Error, Result};

mod host;
mod mounts;
mod networks;
pub(crate) mod ports;
mod process;
mod resources;

pub use host::{
    HostTarget, cgroupns_mode, extra_host, ipv4_address, ipv6_address, log_config, mac_address,
    namespace_mode, network, sysctls,
};
pub use mounts::{mount_flag, tmpfs_flag, volume_flag};
pub use networks::{Networks, network_attachment, networks};
pub use ports::{port_bindings, port_range};
pub use process::{HealthFlags, annotations, attach_streams, exposed_ports, healthcheck};
pub use resources::{Rate, ResourceFlags, device_rate, nano_cpus, resources, update_request};

/// Docker's RAMInBytes: "512", "100k", "64m", "1g", "1.5g", with optional "b"/"ib" (binary
/// multiples).
pub fn bytes(flag: &str, s: &str) -> Result<i64> {
    crate::settings::parse_bytes(s)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| {
            Error::InvalidValue(format!(
                "invalid argument {s:?} for \"{flag}\" flag: invalid size: '{s}'"
            ))
        })
}

/// A size that must not be negative (tmpfs sizes, shm, log rotation), as `bytes`.
pub fn size(flag: &str, s: &str) -> Result<u64> {
    bytes(flag, s).and_then(|v| {
        u64::try_from(v).map_err(|_| {
            Error::InvalidValue(format!(
                "invalid argument {s:?} for \"{flag}\" flag: invalid size: '{s}'"
            ))
        })
    })
}

/// An integer flag ("--cpu-shares 512", "--pids-limit -1"), with Go's strconv wording as
/// Docker prints it.
pub fn int<T: FromStr<Err = ParseIntError>>(flag: &str, s: &str) -> Result<T> {
    s.parse().map_err(|e: ParseIntError| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        Error::InvalidValue(format!(
            "invalid argument {s:?} for \"{flag}\" flag: strconv.ParseInt: parsing {s:?}: {why}"
        ))
    })
}

/// `int` of an optional value.
pub fn int_opt<T: FromStr<Err = ParseIntError>>(flag: &str, s: Option<&str>) -> Result<Option<T>> {
    s.map(|s| int(flag, s)).transpose()
}

/// Go's time.ParseDuration subset: "30s", "1m30s", "500ms", "1h", "2us", "10ns".
pub fn duration_ns(flag: &str, s: &str) -> Result<u64> {
    let bad = || {
        Error::InvalidValue(format!(
            "invalid argument {s:?} for \"{flag}\" flag: time: invalid duration {s:?}"
        ))
    };
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s.trim();
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        let v: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += v * mult;
        rest = &rest[u..];
    }
    // Go refuses durations past int64 nanoseconds (~292 years) as invalid.
    berth_runtime::util::f64_to_i64(total)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(bad)
}

/// `-l key=value` / `key` (a label file's lines are read by the client and come here too).
pub fn labels(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// A boolean option value: absent, "", "true", "1", "false" or "0".
fn truthy(v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("") | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => bail!("invalid boolean {o:?}"),
    }
}

/// `--ulimit name=soft[:hard]`.
pub fn ulimit(s: &str) -> Result<Ulimit> {
    let (name, v) = s
        .split_once('=')
        .ok_or_else(|| Error::InvalidValue(format!("invalid ulimit argument: {s}")))?;
    const NAMES: [&str; 16] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !NAMES.contains(&name) {
        bail!("invalid ulimit type: {name}");
    }
    let (soft, hard) = v.split_once(':').unwrap_or((v, v));
    let num = |x: &str| -> Result<u64> {
        if x == "-1" || x == "unlimited" {
            return Ok(u64::MAX);
        }
        x.parse()
            .map_err(|_| Error::InvalidValue(format!("invalid ulimit argument: {s}")))
    };
    let (soft, hard) = (num(soft)?, num(hard)?);
    if soft > hard {
        bail!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn restart(s: &str) -> Result<RestartPolicy> {
    let (name, n) = s.split_once(':').unwrap_or((s, ""));
    let name = match name {
        "no" | "" => RestartName::No,
        "always" => RestartName::Always,
        "unless-stopped" => RestartName::UnlessStopped,
        "on-failure" => RestartName::OnFailure,
        other => bail!("invalid restart policy '{other}'"),
    };
    let max_retries = if n.is_empty() {
        0
    } else {
        if name != RestartName::OnFailure {
            bail!("maximum retry count cannot be used with restart policy '{s}'");
        }
        n.parse()
            .map_err(|_| Error::InvalidValue(format!("invalid restart policy count {n:?}")))?
    };
    Ok(RestartPolicy { name, max_retries })
}

/// `--device /dev/host[:/dev/ctr][:rwm]`.
pub fn device(s: &str) -> Result<Device> {
    let parts: Vec<&str> = s.split(':').collect();
    let is_perm = |p: &str| !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perm(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perm(p) => (*h, *c, *p),
        _ => bail!("invalid device specification: {s}"),
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        bail!("invalid device specification: {s}: paths must be absolute");
    }
    Ok(Device {
        host_path: host.to_string(),
        container_path: ctr.to_string(),
        permissions: perms.to_string(),
    })
}

/// One `--security-opt` as (key, value): "key=value" or Docker's older "key:value".
pub fn security_opt_pair(s: &str) -> (&str, &str) {
    s.split_once('=')
        .or_else(|| s.split_once(':'))
        .unwrap_or((s, ""))
}

/// `--security-opt` values. `seccomp=` takes "unconfined" or the profile's JSON itself, as
/// the Docker API carries it (a client reads a profile file and sends its content).
pub fn security_opts(items: &[String]) -> Result<SecurityOpts> {
    let mut s = SecurityOpts {
        given: items.to_vec(),
        ..Default::default()
    };
    for i in items {
        match security_opt_pair(i) {
            ("seccomp", "unconfined") => s.seccomp_unconfined = true,
            ("seccomp", json) => {
                if !json.trim_start().starts_with('{') {
                    bail!("invalid --security-opt seccomp={json}: expected a profile in JSON");
                }
                s.seccomp_profile = Some(json.to_string());
            }
            ("no-new-privileges", v) => s.no_new_privileges = truthy(Some(v))?,
            ("apparmor", v) => s.apparmor = Some(v.to_string()),
            ("label", v) => s.labels.push(v.to_string()),
            _ => bail!("invalid --security-opt: {i:?}"),
        }
    }
    Ok(s)
}

/// `--cap-add`/`--cap-drop` as Docker's client sends (and `inspect` shows) them: upper
/// case with the "CAP_" prefix ("ALL" stays), sorted, each once. Whether a name is a
/// capability is checked at create (`spec::check`).
pub fn capabilities(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names
        .iter()
        .map(|n| {
            let n = n.trim().to_ascii_uppercase();
            if n == "ALL" || n.starts_with("CAP_") {
                n
            } else {
                format!("CAP_{n}")
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A `T::default()` changed by `set` (for tables of test cases).
#[cfg(test)]
fn with<T: Default>(set: fn(&mut T)) -> T {
    let mut t = T::default();
    set(&mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_durations_and_numbers() {
        assert_eq!(bytes("-m", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("-m", "1.5g").unwrap(), 3 << 29);
        assert_eq!(bytes("-m", "100kb").unwrap(), 102_400);
        assert_eq!(
            bytes("--memory", "lots").unwrap_err().to_string(),
            "invalid argument \"lots\" for \"--memory\" flag: invalid size: 'lots'"
        );
        assert_eq!(size("--shm-size", "1k").unwrap(), 1024);
        assert!(size("--shm-size", "-1").is_err());
        assert_eq!(duration_ns("x", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_ns("x", "500ms").unwrap(), 500_000_000);
        assert_eq!(duration_ns("x", "0").unwrap(), 0);
        for bad in ["5", "5y", "", "s", "1.2.3s", "300000000h"] {
            assert!(duration_ns("x", bad).is_err(), "{bad}");
        }
        assert_eq!(int::<i64>("--pids-limit", "-1").unwrap(), -1);
        assert_eq!(int::<u16>("--blkio-weight", "+500").unwrap(), 500);
        assert_eq!(
            int::<u64>("--cpu-shares", "abc").unwrap_err().to_string(),
            "invalid argument \"abc\" for \"--cpu-shares\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert!(
            int::<i32>("--oom-score-adj", "99999999999")
                .unwrap_err()
                .to_string()
                .ends_with("value out of range")
        );
        assert_eq!(int_opt::<u32>("--stop-timeout", None).unwrap(), None);
        assert_eq!(
            int_opt::<u32>("--stop-timeout", Some("5")).unwrap(),
            Some(5)
        );
    }

    #[test]
    fn labels_and_booleans() {
        let l = labels(&["a=1".into(), "b".into(), "c=x=y".into()]);
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "");
        assert_eq!(l["c"], "x=y");
        assert!(truthy(None).unwrap() && truthy(Some("1")).unwrap());
        assert!(!truthy(Some("false")).unwrap());
        assert!(truthy(Some("yes")).is_err());
    }

    #[test]
    fn ulimits_restart_devices() {
        assert_eq!(ulimit("nofile=1024:2048").unwrap().hard, 2048);
        assert_eq!(ulimit("nproc=-1").unwrap().soft, u64::MAX);
        assert_eq!(
            ulimit("nofile=2048:1024").unwrap_err().to_string(),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"
        );
        assert_eq!(
            ulimit("bogus=1").unwrap_err().to_string(),
            "invalid ulimit type: bogus"
        );
        assert!(ulimit("nofile").is_err());
        assert_eq!(restart("on-failure:3").unwrap().max_retries, 3);
        assert_eq!(restart("no").unwrap(), RestartPolicy::default());
        assert!(restart("always:3").is_err());
        assert_eq!(
            restart("sometimes").unwrap_err().to_string(),
            "invalid restart policy 'sometimes'"
        );
        assert!(restart("on-failure:x").is_err());
        let d = device("/dev/null:/dev/x:r").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/x", "r")
        );
        assert_eq!(device("/dev/null:rw").unwrap().container_path, "/dev/null");
        assert!(device("null").is_err());
        assert!(device("/a:/b:/c:/d").is_err());
    }

    #[test]
    fn security_options() {
        let s = security_opts(&["no-new-privileges".into(), "seccomp=unconfined".into()]).unwrap();
        assert!(s.no_new_privileges && s.seccomp_unconfined);
        let s = security_opts(&[
            "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}".into(),
            "apparmor:p".into(),
            "label=disable".into(),
        ])
        .unwrap();
        assert_eq!(
            s.seccomp_profile.as_deref(),
            Some("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}")
        );
        assert_eq!(s.apparmor.as_deref(), Some("p"));
        assert_eq!(s.labels, ["disable"]);
        assert_eq!(s.given[1], "apparmor:p");
        // A path is the client's to read: the engine takes only the profile itself.
        let e = security_opts(&["seccomp=/etc/profile.json".into()]).unwrap_err();
        assert!(e.to_string().contains("JSON"), "{e}");
        assert!(security_opts(&["no-new-privileges=maybe".into()]).is_err());
        assert!(security_opts(&["bogus".into()]).is_err());
    }

    #[test]
    fn capability_names() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            capabilities(&v(&["sys_time", "NET_ADMIN", "cap_net_admin", "all"])),
            v(&["ALL", "CAP_NET_ADMIN", "CAP_SYS_TIME"])
        );
        assert!(capabilities(&[]).is_empty());
    }
}

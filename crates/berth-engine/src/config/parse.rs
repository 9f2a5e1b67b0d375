//! Docker's value syntaxes, as pure functions: sizes, durations, `-v`, `--mount`, `--tmpfs`,
//! ulimits, restart policies, devices, security options. The CLI's flags and the API's JSON
//! carry the same strings; both turn them into the typed configuration here. Errors are
//! Docker's messages (`Error::InvalidValue`).

use std::collections::BTreeMap;

use super::{Device, Mount, MountKind, RestartName, RestartPolicy, SecurityOpts, Ulimit};
use crate::error::{Error, Result};

macro_rules! bail {
    ($($t:tt)*) => { return Err(Error::InvalidValue(format!($($t)*))) };
}

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
    Ok(total as u64)
}

/// `-l key=value` / `key`.
pub fn labels(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// `-v [source:]target[:options]`.
pub fn volume_flag(s: &str) -> Result<Mount> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad =
        |why: &str| Error::InvalidValue(format!("invalid volume specification: '{s}': {why}"));
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [a, b] if b.starts_with('/') => (*a, *b, ""),
        [t, o] => ("", *t, *o),
        [a, b, o] => (*a, *b, *o),
        _ => return Err(bad("too many colons")),
    };
    if !target.starts_with('/') {
        return Err(bad("the destination must be an absolute path"));
    }
    if target == "/" {
        return Err(bad("invalid mount config: destination can't be '/'"));
    }
    let mut m = Mount {
        target: target.trim_end_matches('/').to_string(),
        ..Default::default()
    };
    m.kind = if source.is_empty() {
        MountKind::Volume
    } else if source.starts_with('/') || source.starts_with('.') {
        m.source = std::path::absolute(source)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| source.to_string());
        MountKind::Bind
    } else {
        crate::volumes::validate_name(source).map_err(|e| bad(&e.to_string()))?;
        m.source = source.to_string();
        MountKind::Volume
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "readonly" => m.read_only = true,
            "rw" => m.read_only = false,
            "z" | "Z" => m.relabel = o.to_string(),
            "nocopy" => m.no_copy = true,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                if m.kind != MountKind::Bind {
                    return Err(bad("propagation applies to bind mounts"));
                }
                m.propagation = o.to_string();
            }
            "delegated" | "cached" | "consistent" => {}
            other => return Err(bad(&format!("unknown option {other:?}"))),
        }
    }
    Ok(m)
}

fn truthy(v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("") | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => bail!("invalid boolean {o:?}"),
    }
}

/// `--mount type=bind,source=/a,target=/b,readonly,...`.
pub fn mount_flag(s: &str) -> Result<Mount> {
    let mut m = Mount::default();
    let mut kind = None;
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (field.trim(), None),
        };
        match k {
            "type" => {
                kind = Some(match v {
                    Some("bind") => MountKind::Bind,
                    Some("volume") => MountKind::Volume,
                    Some("tmpfs") => MountKind::Tmpfs,
                    other => bail!(
                        "invalid mount config for type: {other:?} (use bind, volume or tmpfs)"
                    ),
                })
            }
            "source" | "src" => m.source = v.unwrap_or("").to_string(),
            "target" | "destination" | "dst" => m.target = v.unwrap_or("").to_string(),
            "readonly" | "ro" => m.read_only = truthy(v)?,
            "bind-propagation" => m.propagation = v.unwrap_or("").to_string(),
            "volume-nocopy" => m.no_copy = truthy(v)?,
            "tmpfs-size" => m.tmpfs_size = Some(size("--mount tmpfs-size", v.unwrap_or(""))?),
            "tmpfs-mode" => {
                m.tmpfs_mode = Some(
                    u32::from_str_radix(v.unwrap_or(""), 8)
                        .map_err(|_| Error::InvalidValue(format!("invalid tmpfs-mode {v:?}")))?,
                )
            }
            "consistency" | "bind-nonrecursive" => {}
            "volume-driver" if v == Some("local") => {}
            other => bail!("unexpected key '{other}' in '{s}'"),
        }
    }
    m.kind = kind.unwrap_or(MountKind::Volume);
    if m.target.is_empty() {
        bail!("invalid mount config: target is required in '{s}'");
    }
    if !m.target.starts_with('/') || m.target == "/" {
        bail!(
            "invalid mount config: invalid mount path '{}' mount path must be absolute",
            m.target
        );
    }
    match m.kind {
        MountKind::Bind => {
            if m.source.is_empty() {
                bail!("invalid mount config for type \"bind\": field Source must not be empty");
            }
            let p = std::path::absolute(&m.source)
                .map_err(|e| Error::io(format!("resolve {}", m.source), e))?;
            if !p.exists() {
                bail!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    p.display()
                );
            }
            m.source = p.to_string_lossy().into_owned();
        }
        MountKind::Volume => {
            if !m.source.is_empty() {
                crate::volumes::validate_name(&m.source)?;
            }
        }
        MountKind::Tmpfs => {
            if !m.source.is_empty() {
                bail!("invalid mount config for type \"tmpfs\": field Source must be empty");
            }
        }
    }
    Ok(m)
}

/// `--tmpfs /path[:options]`.
pub fn tmpfs_flag(s: &str) -> Result<Mount> {
    let (target, opts) = s.split_once(':').unwrap_or((s, ""));
    if !target.starts_with('/') || target == "/" {
        bail!("invalid --tmpfs {s:?}: the path must be absolute");
    }
    let mut m = Mount {
        kind: MountKind::Tmpfs,
        target: target.to_string(),
        ..Default::default()
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if let Some(v) = o.strip_prefix("size=") {
            m.tmpfs_size = Some(size("--tmpfs", v)?);
        } else if let Some(v) = o.strip_prefix("mode=") {
            m.tmpfs_mode = Some(
                u32::from_str_radix(v, 8)
                    .map_err(|_| Error::InvalidValue(format!("invalid --tmpfs mode {v:?}")))?,
            );
        } else if o == "ro" {
            m.read_only = true;
        } else {
            m.options.push(o.to_string());
        }
    }
    Ok(m)
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

/// `--security-opt` values.
pub fn security_opts(items: &[String]) -> Result<SecurityOpts> {
    let mut s = SecurityOpts::default();
    for i in items {
        let (k, v) = i
            .split_once('=')
            .or_else(|| i.split_once(':'))
            .unwrap_or((i.as_str(), ""));
        match k {
            "seccomp" if v == "unconfined" => s.seccomp_unconfined = true,
            "seccomp" => {
                let json = std::fs::read_to_string(v).map_err(|e| {
                    Error::InvalidValue(format!("opening seccomp profile ({v}) failed: {e}"))
                })?;
                s.seccomp_profile = Some(json);
            }
            "no-new-privileges" => s.no_new_privileges = truthy(Some(v))?,
            "apparmor" => s.apparmor = Some(v.to_string()),
            "label" => s.labels.push(v.to_string()),
            _ => bail!("invalid --security-opt: {i:?}"),
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes("-m", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("-m", "1.5g").unwrap(), 3 << 29);
        assert_eq!(bytes("-m", "100kb").unwrap(), 102_400);
        assert!(bytes("-m", "lots").is_err());
        assert_eq!(duration_ns("x", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_ns("x", "500ms").unwrap(), 500_000_000);
        assert!(duration_ns("x", "5").is_err());
        assert!(duration_ns("x", "5y").is_err());
    }

    #[test]
    fn volumes_and_mounts() {
        let m = volume_flag("data:/x:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.read_only),
            (MountKind::Volume, "data", "/x", true)
        );
        let b = volume_flag("/tmp:/host-tmp").unwrap();
        assert_eq!(b.kind, MountKind::Bind);
        let a = volume_flag("/anon").unwrap();
        assert_eq!((a.kind, a.source.as_str()), (MountKind::Volume, ""));
        assert!(volume_flag("data:rel").is_err());
        assert!(volume_flag("data:/x:bogus").is_err());
        let t = mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        assert_eq!((t.tmpfs_size, t.tmpfs_mode), (Some(1 << 20), Some(0o1777)));
        assert!(mount_flag("type=bind,source=/no/such/dir,target=/x").is_err());
        assert!(mount_flag("type=volume,target=/x,bogus=1").is_err());
        let f = tmpfs_flag("/run:size=64m,noexec").unwrap();
        assert_eq!(f.options, ["noexec"]);
    }

    #[test]
    fn other_flags() {
        assert_eq!(ulimit("nofile=1024:2048").unwrap().hard, 2048);
        assert!(ulimit("nofile=2048:1024").is_err());
        assert!(ulimit("bogus=1").is_err());
        assert_eq!(restart("on-failure:3").unwrap().max_retries, 3);
        assert!(restart("always:3").is_err());
        assert!(restart("sometimes").is_err());
        let d = device("/dev/null:/dev/x:r").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/x", "r")
        );
        let s = security_opts(&["no-new-privileges".into(), "seccomp=unconfined".into()]).unwrap();
        assert!(s.no_new_privileges && s.seccomp_unconfined);
    }
}

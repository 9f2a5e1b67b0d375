//! The mount syntaxes: `-v`, `--mount` and `--tmpfs`. Sources are taken as written: a
//! client makes a relative bind source absolute first (Docker's CLI does), and whether a
//! `--mount` bind source exists is checked when the container is created
//! (`config::validate`).

use super::{size, truthy};
use crate::config::{Mount, MountKind};
use crate::error::{Error, Result};

/// `-v [source:]target[:options]`. A source starting with "/" or "." is a host path (a bind
/// mount), any other a volume name; none makes an anonymous volume.
pub fn volume_flag(s: &str) -> Result<Mount> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad =
        |why: &str| Error::InvalidValue(format!("invalid volume specification: '{s}': {why}"));
    // Docker's CLI refuses `:/x`, `/a::ro`, `/x:` before it looks at the parts.
    if parts.len() > 1 && parts.iter().any(|p| p.is_empty()) {
        return Err(Error::InvalidValue(format!(
            "invalid spec: {s}: empty section between colons"
        )));
    }
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
        spec: s.to_string(),
        ..Default::default()
    };
    m.kind = if source.is_empty() {
        MountKind::Volume
    } else if source.starts_with('/') || source.starts_with('.') {
        m.source = source.to_string();
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

/// `--mount type=bind,source=/a,target=/b,readonly,...` (type defaults to volume). The
/// mount is marked `from_mount_flag`: its bind source must exist.
pub fn mount_flag(s: &str) -> Result<Mount> {
    let mut m = Mount {
        from_mount_flag: true,
        ..Default::default()
    };
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
        spec: s.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let m = volume_flag("data:/x:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.read_only),
            (MountKind::Volume, "data", "/x", true)
        );
        assert!(!m.from_mount_flag);
        assert_eq!(m.spec, "data:/x:ro");
        let b = volume_flag("/tmp:/host-tmp/:rshared").unwrap();
        assert_eq!(
            (b.kind, b.target.as_str(), b.propagation.as_str()),
            (MountKind::Bind, "/host-tmp", "rshared")
        );
        // Relative sources are left as written (the client makes them absolute).
        let r = volume_flag("./here:/x").unwrap();
        assert_eq!((r.kind, r.source.as_str()), (MountKind::Bind, "./here"));
        let a = volume_flag("/anon").unwrap();
        assert_eq!((a.kind, a.source.as_str()), (MountKind::Volume, ""));
        assert_eq!(
            volume_flag("data:rel").unwrap_err().to_string(),
            "invalid volume specification: 'data:rel': the destination must be an absolute path"
        );
        assert!(volume_flag("data:/x:bogus").is_err());
        assert!(volume_flag("data:/x:shared").is_err());
        assert!(volume_flag("a:/b:ro:x").is_err());
        assert!(volume_flag("x:/").is_err());
        for empty in [":/x", "/a::ro", "/x:", "a:/b:"] {
            assert_eq!(
                volume_flag(empty).unwrap_err().to_string(),
                format!("invalid spec: {empty}: empty section between colons")
            );
        }
        assert!(volume_flag("../evil:/x").is_ok_and(|m| m.kind == MountKind::Bind));
        assert!(volume_flag("bad/name:/x").is_err());
    }

    #[test]
    fn mounts() {
        let t = mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        assert_eq!((t.tmpfs_size, t.tmpfs_mode), (Some(1 << 20), Some(0o1777)));
        assert!(t.from_mount_flag);
        // The source is taken as written; validation at create checks that it exists.
        let b = mount_flag("type=bind,src=/no/such/dir,dst=/x,readonly").unwrap();
        assert_eq!(
            (b.kind, b.source.as_str(), b.read_only),
            (MountKind::Bind, "/no/such/dir", true)
        );
        let v = mount_flag("target=/x,volume-nocopy=true").unwrap();
        assert_eq!((v.kind, v.no_copy), (MountKind::Volume, true));
        assert_eq!(
            mount_flag("type=volume,target=/x,bogus=1")
                .unwrap_err()
                .to_string(),
            "unexpected key 'bogus' in 'type=volume,target=/x,bogus=1'"
        );
        assert!(mount_flag("type=nonsense,target=/x").is_err());
        assert!(mount_flag("type=bind,source=/a").is_err());
        assert!(mount_flag("type=tmpfs,target=/t,tmpfs-mode=9").is_err());
        assert!(mount_flag("type=bind,source=/a,target=/b,ro=maybe").is_err());
    }

    #[test]
    fn tmpfs() {
        let f = tmpfs_flag("/run:size=64m,noexec,mode=700,ro").unwrap();
        assert_eq!(f.options, ["noexec"]);
        assert_eq!(f.spec, "/run:size=64m,noexec,mode=700,ro");
        assert_eq!(
            (f.tmpfs_size, f.tmpfs_mode, f.read_only),
            (Some(64 << 20), Some(0o700), true)
        );
        assert!(tmpfs_flag("run").is_err());
        assert!(tmpfs_flag("/").is_err());
        assert!(tmpfs_flag("/run:size=lots").is_err());
    }
}

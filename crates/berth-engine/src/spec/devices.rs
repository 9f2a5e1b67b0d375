//! Device nodes and the devices cgroup: `--device` (a node or a directory of nodes),
//! `--device-cgroup-rule`, the default allow list and `--privileged` (every host device).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use crate::config::Device;
use crate::{Error, Result};

fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// The device rules every unprivileged container gets (what Docker's default spec and
/// runc together allow): deny everything, then mknod of any node, the standard nodes
/// (null, zero, full, random, urandom, tty, console, ptmx), ptys and /dev/net/tun.
pub(crate) fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{A, B, C};
    let mut v = vec![
        rule(false, A, None, None, "rwm"),
        rule(true, C, None, None, "m"),
        rule(true, B, None, None, "m"),
    ];
    for (ma, mi) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        v.push(rule(true, C, Some(ma), Some(mi), "rwm"));
    }
    v.push(rule(true, C, Some(136), None, "rwm"));
    v.push(rule(true, C, Some(10), Some(200), "rwm"));
    v
}

fn valid_mode(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 3
        && m.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && m.chars().enumerate().all(|(i, c)| !m[..i].contains(c))
}

fn gather_err(host: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid(
        "--device",
        format!("error gathering device information while adding custom device {host:?}: {msg}"),
    )
}

/// The node at `path` (not following symlinks), if it is a character or block device.
fn device_at(path: &Path, container_path: &str) -> std::io::Result<Option<LinuxDevice>> {
    let md = std::fs::symlink_metadata(path)?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Ok(None);
    };
    let rdev = md.rdev();
    let mut d = LinuxDevice::default();
    d.set_path(container_path.into());
    d.set_typ(typ);
    d.set_major(rustix::fs::major(rdev) as i64);
    d.set_minor(rustix::fs::minor(rdev) as i64);
    d.set_file_mode(Some(md.mode() & 0o777));
    d.set_uid(Some(md.uid()));
    d.set_gid(Some(md.gid()));
    Ok(Some(d))
}

/// Every device node under `dir` (recursively), mapped to `ctr` + its relative path. Skips
/// what runc and containerd skip: pts, shm, fd, mqueue and tool directories, the console,
/// symlinks and anything that is not a device.
fn walk(dir: &Path, ctr: &str, top: bool, out: &mut Vec<LinuxDevice>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        let cpath = format!("{}/{name}", ctr.trim_end_matches('/'));
        if ft.is_dir() {
            if top
                && matches!(
                    name.as_str(),
                    "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
                )
            {
                continue;
            }
            walk(&path, &cpath, false, out)?;
        } else if name != "console" {
            match device_at(&path, &cpath) {
                Ok(Some(d)) => out.push(d),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The nodes and cgroup rules for one `--device host[:container[:perms]]`.
fn from_device(d: &Device) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let perms = if d.permissions.is_empty() {
        "rwm"
    } else {
        d.permissions.as_str()
    };
    if !valid_mode(perms) {
        return Err(Error::invalid(
            "--device",
            format!("invalid device mode: {perms}"),
        ));
    }
    let ctr = if d.container_path.is_empty() {
        d.host_path.as_str()
    } else {
        d.container_path.as_str()
    };
    if !ctr.starts_with("/dev/") {
        return Err(Error::invalid(
            "--device",
            format!("container path {ctr:?} must be an absolute path under /dev"),
        ));
    }
    let resolved = Path::new(&d.host_path)
        .canonicalize()
        .map_err(|e| gather_err(&d.host_path, e))?;
    let mut devs = Vec::new();
    if resolved.is_dir() {
        walk(&resolved, ctr, false, &mut devs).map_err(|e| gather_err(&d.host_path, e))?;
    } else if let Some(dev) = device_at(&resolved, ctr).map_err(|e| gather_err(&d.host_path, e))? {
        devs.push(dev);
    }
    if devs.is_empty() {
        return Err(gather_err(&d.host_path, "not a device node"));
    }
    let rules = devs
        .iter()
        .map(|x| rule(true, x.typ(), Some(x.major()), Some(x.minor()), perms))
        .collect();
    Ok((devs, rules))
}

/// Parses a `--device-cgroup-rule` ("c 1:3 rwm", "b *:* m", "a").
pub(crate) fn parse_cgroup_rule(s: &str) -> Result<LinuxDeviceCgroup> {
    let bad = || {
        Error::invalid(
            "--device-cgroup-rule",
            format!("invalid device cgroup rule format: '{s}'"),
        )
    };
    let t = s.trim();
    if t == "a" {
        return Ok(rule(true, LinuxDeviceType::A, None, None, "rwm"));
    }
    let f: Vec<&str> = t.split(' ').collect();
    if f.len() != 3 {
        return Err(bad());
    }
    let (typ, nums, access) = (f[0], f[1], f[2]);
    let (ma, mi) = nums.split_once(':').ok_or_else(bad)?;
    if access.is_empty()
        || access.len() > 3
        || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
        return Err(bad());
    }
    let num = |x: &str, max: i64, what: &str| -> Result<Option<i64>> {
        if x == "*" {
            return Ok(None);
        }
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match x.parse::<i64>() {
            Ok(n) if n <= max => Ok(Some(n)),
            _ => Err(Error::invalid(
                "--device-cgroup-rule",
                format!("invalid {what} value in device cgroup rule format: '{s}'"),
            )),
        }
    };
    let major = num(ma, 2047, "major")?;
    let minor = num(mi, 524_287, "minor")?;
    let typ = match typ {
        "a" => {
            if major.is_some() || minor.is_some() || access.len() != 3 {
                return Err(Error::invalid(
                    "--device-cgroup-rule",
                    format!(
                        "although this cgroup rule is technically correct, because 'a' maps to 'a *:* rwm' regardless of what comes next, this format is partially ineffective: '{s}'"
                    ),
                ));
            }
            return Ok(rule(true, LinuxDeviceType::A, None, None, "rwm"));
        }
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    Ok(rule(true, typ, major, minor, access))
}

/// The container's device nodes and cgroup device rules.
pub(crate) fn devices(
    devs: &[Device],
    cgroup_rules: &[String],
    privileged: bool,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let mut nodes = Vec::new();
    if privileged {
        walk(Path::new("/dev"), "/dev", true, &mut nodes)
            .map_err(|e| Error::io("list the host's devices in /dev", e))?;
        for d in devs {
            let ctr = if d.container_path.is_empty() {
                &d.host_path
            } else {
                &d.container_path
            };
            if *ctr == d.host_path {
                continue; // already there
            }
            let (n, _) = from_device(d)?;
            nodes.extend(n);
        }
        // Cgroup rules are validated even though everything is allowed.
        for r in cgroup_rules {
            parse_cgroup_rule(r)?;
        }
        return Ok((
            nodes,
            vec![rule(true, LinuxDeviceType::A, None, None, "rwm")],
        ));
    }
    let mut rules = default_rules();
    for d in devs {
        let (n, r) = from_device(d)?;
        nodes.extend(n);
        rules.extend(r);
    }
    for r in cgroup_rules {
        rules.push(parse_cgroup_rule(r)?);
    }
    // A later node for the same path replaces an earlier one.
    let mut seen = std::collections::HashSet::new();
    nodes.reverse();
    nodes.retain(|n| seen.insert(n.path().clone()));
    nodes.reverse();
    Ok((nodes, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &LinuxDeviceCgroup) -> String {
        format!(
            "{} {} {}:{} {}",
            if r.allow() { "allow" } else { "deny" },
            r.typ().map_or("a".to_string(), |t| t.as_str().to_string()),
            r.major().map_or("*".into(), |m| m.to_string()),
            r.minor().map_or("*".into(), |m| m.to_string()),
            r.access().clone().unwrap_or_default()
        )
    }

    #[test]
    fn default_rules_start_with_deny_all() {
        let r: Vec<String> = default_rules().iter().map(text).collect();
        assert_eq!(r[0], "deny a *:* rwm");
        for want in [
            "allow c *:* m",
            "allow b *:* m",
            "allow c 1:3 rwm",
            "allow c 1:9 rwm",
            "allow c 5:1 rwm",
            "allow c 5:2 rwm",
            "allow c 136:* rwm",
            "allow c 10:200 rwm",
        ] {
            assert!(r.contains(&want.to_string()), "{want} in {r:?}");
        }
    }

    #[test]
    fn host_device_nodes() {
        let d = Device {
            host_path: "/dev/null".into(),
            container_path: "/dev/mynull".into(),
            permissions: "rw".into(),
        };
        let (nodes, rules) = devices(&[d], &[], false).unwrap();
        assert_eq!(nodes.len(), 1);
        let n = &nodes[0];
        assert_eq!(n.path(), Path::new("/dev/mynull"));
        assert_eq!((n.typ(), n.major(), n.minor()), (LinuxDeviceType::C, 1, 3));
        assert_eq!(n.file_mode(), Some(0o666));
        assert_eq!(text(rules.last().unwrap()), "allow c 1:3 rw");
        // The container path defaults to the host path.
        let d = Device {
            host_path: "/dev/zero".into(),
            ..Default::default()
        };
        let (nodes, rules) = devices(&[d], &[], false).unwrap();
        assert_eq!(nodes[0].path(), Path::new("/dev/zero"));
        assert_eq!(text(rules.last().unwrap()), "allow c 1:5 rwm");
    }

    #[test]
    fn bad_devices() {
        let e = |d: Device| devices(&[d], &[], false).unwrap_err().to_string();
        let msg = e(Device {
            host_path: "/dev/no-such-device".into(),
            ..Default::default()
        });
        assert!(msg.contains("error gathering device information while adding custom device \"/dev/no-such-device\""), "{msg}");
        let msg = e(Device {
            host_path: "/etc/hostname".into(),
            container_path: "/dev/x".into(),
            ..Default::default()
        });
        assert!(msg.contains("not a device node"), "{msg}");
        let msg = e(Device {
            host_path: "/dev/null".into(),
            permissions: "rwx".into(),
            ..Default::default()
        });
        assert!(msg.contains("invalid device mode: rwx"), "{msg}");
        let msg = e(Device {
            host_path: "/dev/null".into(),
            permissions: "rr".into(),
            ..Default::default()
        });
        assert!(msg.contains("invalid device mode"), "{msg}");
        let msg = e(Device {
            host_path: "/dev/null".into(),
            container_path: "/null".into(),
            ..Default::default()
        });
        assert!(msg.contains("under /dev"), "{msg}");
    }

    #[test]
    fn cgroup_rules() {
        let ok = |s: &str| text(&parse_cgroup_rule(s).unwrap());
        assert_eq!(ok("c 1:3 rwm"), "allow c 1:3 rwm");
        assert_eq!(ok("b *:* m"), "allow b *:* m");
        assert_eq!(ok("c 42:* r"), "allow c 42:* r");
        assert_eq!(ok("a"), "allow a *:* rwm");
        assert_eq!(ok("a *:* rwm"), "allow a *:* rwm");
        for bad in [
            "x 1:3 rwm",
            "c 1:3",
            "c 1-3 rwm",
            "c 1:3 rwx",
            "c a:3 r",
            "",
            "c 1:3 rwmr",
        ] {
            let e = parse_cgroup_rule(bad).unwrap_err().to_string();
            assert!(
                e.contains("invalid device cgroup rule format"),
                "{bad}: {e}"
            );
        }
        let e = parse_cgroup_rule("c 4096:1 r").unwrap_err().to_string();
        assert!(e.contains("invalid major value"), "{e}");
        let e = parse_cgroup_rule("c 1:9999999 r").unwrap_err().to_string();
        assert!(e.contains("invalid minor value"), "{e}");
        let e = parse_cgroup_rule("a 1:3 m").unwrap_err().to_string();
        assert!(e.contains("partially ineffective"), "{e}");
        let (_, rules) = devices(&[], &["c 7:* rw".into()], false).unwrap();
        assert_eq!(text(rules.last().unwrap()), "allow c 7:* rw");
    }

    #[test]
    fn privileged_gets_host_devices_and_allow_all() {
        let (nodes, rules) = devices(&[], &[], true).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(text(&rules[0]), "allow a *:* rwm");
        assert!(nodes.iter().any(|n| n.path() == Path::new("/dev/null")));
        assert!(!nodes.iter().any(|n| n.path().starts_with("/dev/pts")));
        assert!(!nodes.iter().any(|n| n.path() == Path::new("/dev/console")));
    }
}

//! Loading and validating a bundle's `config.json`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxIdMapping, LinuxNamespace, LinuxNamespaceType, LinuxResources, Process, Spec,
};

use crate::error::{Context, Error, Result};

/// A validated bundle: the spec plus resolved paths.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute, canonical path of the root filesystem.
    pub rootfs: PathBuf,
    /// The parsed configuration.
    pub spec: Spec,
}

/// The kernel.* sysctls that belong to the IPC namespace (with fs.mqueue.*).
pub const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Parses a `config.json` from bytes; errors name the JSON path of the offending field.
pub fn parse_spec(bytes: &[u8]) -> Result<Spec> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." || path.is_empty() {
            "(document)".to_string()
        } else {
            path
        };
        Error::spec(field, strip_position(&inner.to_string()))
    })
}

/// Parses a `process.json` (as given to `exec --process`).
pub fn parse_process(bytes: &[u8]) -> Result<Process> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Error::arg(
            format!("process {path}"),
            strip_position(&inner.to_string()),
        )
    })
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl Bundle {
    /// Loads and validates `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::path::absolute(dir).ctx(|| format!("bundle {}", dir.display()))?;
        let cfg = dir.join("config.json");
        let bytes = std::fs::read(&cfg).ctx(|| format!("read {}", cfg.display()))?;
        let spec = parse_spec(&bytes)?;
        validate(&spec)?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::spec("root", "required"))?;
        let rootfs = if root.path().is_absolute() {
            root.path().clone()
        } else {
            dir.join(root.path())
        };
        let rootfs = rootfs
            .canonicalize()
            .ctx(|| format!("root.path {}", rootfs.display()))?;
        if !rootfs.is_dir() {
            return Err(Error::spec(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        Ok(Bundle { dir, rootfs, spec })
    }
}

/// Namespace types that are created or joined, in the order they are joined.
pub fn namespaces(spec: &Spec) -> &[LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[])
}

/// Whether the spec asks for a new namespace (no path) of this type.
pub fn has_new_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    namespaces(spec)
        .iter()
        .any(|n| n.typ() == t && n.path().is_none())
}

/// Whether the spec has a namespace (new or joined) of this type.
pub fn has_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|n| n.typ() == t)
}

/// Checks a spec for malformed or contradictory settings.
pub fn validate(spec: &Spec) -> Result<()> {
    validate_version(spec.version())?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::spec("root", "required"))?;
    if root.path().as_os_str().is_empty() {
        return Err(Error::spec("root.path", "must not be empty"));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "required"))?;
    validate_process(process, "process")?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::spec("linux", "required on linux"))?;

    let mut seen = HashSet::new();
    for (i, ns) in namespaces(spec).iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(Error::spec(
                format!("linux.namespaces[{i}]"),
                format!("namespace type {} given twice", ns.typ()),
            ));
        }
        if let Some(p) = ns.path()
            && !p.is_absolute()
        {
            return Err(Error::spec(
                format!("linux.namespaces[{i}].path"),
                format!("{} is not an absolute path", p.display()),
            ));
        }
    }
    let new_user = has_new_ns(spec, LinuxNamespaceType::User);
    let uid_maps = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gid_maps = linux.gid_mappings().as_deref().unwrap_or(&[]);
    if new_user && (uid_maps.is_empty() || gid_maps.is_empty()) {
        return Err(Error::spec(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    if !has_ns(spec, LinuxNamespaceType::User) && (!uid_maps.is_empty() || !gid_maps.is_empty()) {
        return Err(Error::spec(
            "linux.uidMappings",
            "uid/gid mappings given without a user namespace",
        ));
    }
    validate_mappings(uid_maps, "linux.uidMappings")?;
    validate_mappings(gid_maps, "linux.gidMappings")?;
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        && !has_new_ns(spec, LinuxNamespaceType::Uts)
    {
        return Err(Error::spec(
            "hostname",
            "setting the hostname needs a new uts namespace",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !has_new_ns(spec, LinuxNamespaceType::Uts)
    {
        return Err(Error::spec(
            "domainname",
            "setting the domainname needs a new uts namespace",
        ));
    }
    if let Some(prop) = linux.rootfs_propagation() {
        crate::mounts::propagation_flag(prop)
            .ok_or_else(|| Error::spec("linux.rootfsPropagation", format!("unknown {prop:?}")))?;
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            validate_sysctl(spec, key)?;
        }
    }
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !m.destination().is_absolute() {
            return Err(Error::spec(
                format!("mounts[{i}].destination"),
                format!("{} is not an absolute path", m.destination().display()),
            ));
        }
        crate::mounts::parse_options(m.options().as_deref().unwrap_or(&[]))
            .map_err(|msg| Error::spec(format!("mounts[{i}].options"), msg))?;
    }
    for (i, d) in linux.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !d.path().starts_with("/dev/") {
            return Err(Error::spec(
                format!("linux.devices[{i}].path"),
                format!("{} is not under /dev", d.path().display()),
            ));
        }
        crate::rootfs::devices::dev_number(d, &format!("linux.devices[{i}]"))?;
    }
    if let Some(r) = linux.resources() {
        validate_resources(r, "linux.resources")?;
    }
    crate::hooks::validate(spec.hooks().as_ref())?;
    if let Some(seccomp) = linux.seccomp() {
        for (i, sc) in seccomp
            .syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            for (j, a) in sc.args().as_deref().unwrap_or(&[]).iter().enumerate() {
                if a.index() > 5 {
                    return Err(Error::spec(
                        format!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                        format!("{} is out of range 0-5", a.index()),
                    ));
                }
            }
        }
    }
    if linux.intel_rdt().is_some() {
        return Err(Error::spec(
            "linux.intelRdt",
            "not supported by berth-runtime (resctrl)",
        ));
    }
    if linux.memory_policy().is_some() {
        return Err(Error::spec(
            "linux.memoryPolicy",
            "not supported by berth-runtime",
        ));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::spec(
            "linux.netDevices",
            "not supported by berth-runtime",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has_new_ns(spec, LinuxNamespaceType::Time)
    {
        return Err(Error::spec(
            "linux.timeOffsets",
            "time offsets need a new time namespace",
        ));
    }
    if linux
        .mount_label()
        .as_deref()
        .is_some_and(|l| !l.is_empty())
        && !selinux_enabled()
    {
        return Err(Error::spec(
            "linux.mountLabel",
            "SELinux is not enabled on this host",
        ));
    }
    Ok(())
}

/// Validates a process object (the container's, or one given to exec).
pub fn validate_process(p: &Process, field: &str) -> Result<()> {
    let args = p.args().as_deref().unwrap_or(&[]);
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::spec(format!("{field}.args"), "must not be empty"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::spec(
            format!("{field}.cwd"),
            format!("{} is not an absolute path", p.cwd().display()),
        ));
    }
    for (i, e) in p.env().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(Error::spec(
                format!("{field}.env[{i}]"),
                format!("{e:?} is not NAME=value"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(Error::spec(
                format!("{field}.rlimits[{i}]"),
                format!("{:?} given twice", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::spec(
                format!("{field}.rlimits[{i}]"),
                format!("soft limit {} is above hard limit {}", r.soft(), r.hard()),
            ));
        }
    }
    if let Some(prof) = p.apparmor_profile()
        && !prof.is_empty()
        && !apparmor_enabled()
    {
        return Err(Error::spec(
            format!("{field}.apparmorProfile"),
            format!("AppArmor is not enabled on this host (profile {prof:?})"),
        ));
    }
    if let Some(label) = p.selinux_label()
        && !label.is_empty()
        && !selinux_enabled()
    {
        return Err(Error::spec(
            format!("{field}.selinuxLabel"),
            "SELinux is not enabled on this host",
        ));
    }
    crate::process::check_numbers(p, field)?;
    if p.terminal() == Some(false) && p.console_size().is_some() {
        return Err(Error::spec(
            format!("{field}.consoleSize"),
            "given without terminal",
        ));
    }
    Ok(())
}

fn validate_version(v: &str) -> Result<()> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Err(Error::spec(
            "ociVersion",
            format!("{v:?} is not a semantic version"),
        ));
    }
    if parts[0] != "1" {
        return Err(Error::spec(
            "ociVersion",
            format!("{v:?} is not supported (berth-runtime implements 1.x)"),
        ));
    }
    Ok(())
}

fn validate_mappings(maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(Error::spec(format!("{field}[{i}].size"), "must not be 0"));
        }
    }
    Ok(())
}

fn validate_sysctl(spec: &Spec, key: &str) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    if key.contains("..") || key.contains('/') && key.contains('.') {
        return Err(Error::spec(field, "malformed sysctl name"));
    }
    let need = if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        return Err(Error::spec(
            field,
            "not a namespaced sysctl; setting it would change the host",
        ));
    };
    let own =
        has_new_ns(spec, need) || (need == LinuxNamespaceType::Network && joins_own_netns(spec));
    if !own {
        return Err(Error::spec(field, format!("needs a new {need} namespace")));
    }
    Ok(())
}

/// Whether the spec joins a network namespace by path that is not the caller's (runc's
/// rule for net.* sysctls: a namespace made for the container, e.g. by an engine that put
/// its network endpoint in it first, is the container's own).
fn joins_own_netns(spec: &Spec) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(path) = namespaces(spec)
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .and_then(|n| n.path().clone())
    else {
        return false;
    };
    match (
        std::fs::metadata(&path),
        std::fs::metadata("/proc/self/ns/net"),
    ) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) != (b.dev(), b.ino()),
        _ => false,
    }
}

/// Validates cgroup resources (also used by `update`).
pub fn validate_resources(r: &LinuxResources, field: &str) -> Result<()> {
    if let Some(m) = r.memory() {
        let limit = m.limit();
        if let Some(l) = limit
            && l != -1
            && l <= 0
        {
            return Err(Error::spec(
                format!("{field}.memory.limit"),
                format!("{l} must be positive or -1"),
            ));
        }
        if let (Some(l), Some(s)) = (limit, m.swap())
            && l > 0
            && s > 0
            && s < l
        {
            return Err(Error::spec(
                format!("{field}.memory.swap"),
                format!("memory+swap limit {s} is below the memory limit {l}"),
            ));
        }
        if let Some(s) = m.swappiness()
            && s > 100
        {
            return Err(Error::spec(
                format!("{field}.memory.swappiness"),
                format!("{s} is out of range 0-100"),
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(p) = c.period()
            && p != 0
            && !(1000..=1_000_000).contains(&p)
        {
            return Err(Error::spec(
                format!("{field}.cpu.period"),
                format!("{p} is out of range 1000-1000000"),
            ));
        }
        if let Some(q) = c.quota()
            && q != -1
            && q != 0
            && q < 1000
        {
            return Err(Error::spec(
                format!("{field}.cpu.quota"),
                format!("{q} must be at least 1000 or -1"),
            ));
        }
        if let Some(s) = c.shares()
            && s != 0
            && !(2..=262_144).contains(&s)
        {
            return Err(Error::spec(
                format!("{field}.cpu.shares"),
                format!("{s} is out of range 2-262144"),
            ));
        }
        for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if let Some(v) = v
                && !v.is_empty()
                && !valid_cpu_list(v)
            {
                return Err(Error::spec(
                    format!("{field}.cpu.{name}"),
                    format!("{v:?} is not a list like 0-2,4"),
                ));
            }
        }
    }
    if let Some(b) = r.block_io()
        && let Some(w) = b.weight()
        && w != 0
        && !(10..=1000).contains(&w)
    {
        return Err(Error::spec(
            format!("{field}.blockIO.weight"),
            format!("{w} is out of range 10-1000"),
        ));
    }
    for (i, d) in r.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
        crate::cgroups::bpf::check_rule(d, &format!("{field}.devices[{i}]"))?;
        if let Some(a) = d.access()
            && (a.is_empty() || !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')))
        {
            return Err(Error::spec(
                format!("{field}.devices[{i}].access"),
                format!("{a:?} is not a combination of r, w and m"),
            ));
        }
    }
    Ok(())
}

/// Whether `s` is a cpuset list such as `0-3,5`.
pub fn valid_cpu_list(s: &str) -> bool {
    s.split(',').all(|part| {
        let mut it = part.splitn(2, '-');
        let a = it.next().unwrap_or("");
        let ok = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        match it.next() {
            None => ok(a),
            Some(b) => ok(a) && ok(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok(),
        }
    })
}

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}"#;

    #[test]
    fn minimal_spec_is_valid() {
        let s = parse_spec(MINIMAL.as_bytes()).unwrap();
        validate(&s).unwrap();
    }

    #[test]
    fn type_errors_name_the_field() {
        let bad = MINIMAL.replace(r#""uid":0"#, r#""uid":"zero""#);
        let err = parse_spec(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("process.user.uid"), "{err}");
    }

    #[test]
    fn any_1x_version_is_accepted() {
        for v in ["1.0.0", "1.0.2-dev", "1.2.1", "1.3.0+dev"] {
            validate_version(v).unwrap();
        }
        for v in ["2.0.0", "1.0", "x", ""] {
            assert!(validate_version(v).is_err(), "{v}");
        }
    }

    #[test]
    fn contradictions_are_rejected() {
        let cases = [
            (
                MINIMAL.replace(r#""root""#, r#""hostname":"h","root""#),
                "hostname",
            ),
            (
                MINIMAL.replace(
                    r#""namespaces""#,
                    r#""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces""#,
                ),
                "linux.uidMappings",
            ),
            (
                MINIMAL.replace(r#"{"type":"mount"}"#, r#"{"type":"pid"}"#),
                "linux.namespaces[1]",
            ),
            (
                MINIMAL.replace(r#""cwd":"/""#, r#""cwd":"rel""#),
                "process.cwd",
            ),
            (
                MINIMAL.replace(r#""args":["sh"]"#, r#""args":[]"#),
                "process.args",
            ),
            (
                MINIMAL.replace(
                    r#""namespaces""#,
                    r#""sysctl":{"net.ipv4.ip_forward":"1"},"namespaces""#,
                ),
                "linux.sysctl.net.ipv4.ip_forward",
            ),
            (
                MINIMAL.replace(
                    r#""namespaces""#,
                    r#""resources":{"memory":{"limit":1000,"swap":10}},"namespaces""#,
                ),
                "linux.resources.memory.swap",
            ),
        ];
        for (json, field) in cases {
            let s = parse_spec(json.as_bytes()).unwrap();
            let err = validate(&s).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn cpu_lists() {
        assert!(valid_cpu_list("0"));
        assert!(valid_cpu_list("0-3,5"));
        assert!(!valid_cpu_list("3-1"));
        assert!(!valid_cpu_list("a"));
        assert!(!valid_cpu_list("1,"));
    }
}

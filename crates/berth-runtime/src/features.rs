//! `features` (what this runtime supports, as the runtime spec's features.md describes) and
//! the default `config.json` written by `spec`.

use oci_spec::runtime::{LinuxDeviceCgroupBuilder, Spec};
use serde_json::{Value, json};

use crate::cgroups::{CgroupMode, Layout};

/// The features document.
pub fn features() -> Value {
    let layout = Layout::detect().ok();
    let mode = layout.as_ref().map(|l| l.mode);
    let (actions, operators, flags) = crate::seccomp::supported();
    let caps: Vec<String> = {
        let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let mut v: Vec<_> = caps::all()
            .into_iter()
            .filter(|c| c.index() <= last)
            .map(|c| c.to_string())
            .collect();
        v.sort();
        v
    };
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.1",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
            "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
            "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
            "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
            "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
            "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
            "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
            "silent", "slave", "strictatime", "suid", "symfollow", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {
                "v1": matches!(mode, Some(CgroupMode::Legacy) | Some(CgroupMode::Hybrid)),
                "v2": matches!(mode, Some(CgroupMode::Unified) | Some(CgroupMode::Hybrid)),
                "systemd": false,
                "systemdUser": false,
                "rdma": false
            },
            "seccomp": {
                "enabled": true,
                "actions": actions,
                "operators": operators,
                "archs": [
                    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                    "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"
                ],
                "knownFlags": flags,
                "supportedFlags": flags
            },
            "apparmor": { "enabled": crate::spec::apparmor_enabled() },
            "selinux": { "enabled": crate::spec::selinux_enabled() },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "io.github.seccomp.libseccomp.version": lib,
            "org.berth.runtime.version": env!("CARGO_PKG_VERSION"),
            "org.berth.cgroup.mode": mode.map(|m| m.name()).unwrap_or("none"),
            "org.berth.cgroup.hierarchies": layout
                .map(|l| l.hierarchies.iter().map(|h| h.mount.display().to_string()).collect::<Vec<_>>().join(","))
                .unwrap_or_default()
        }
    })
}

/// The default configuration `spec` writes: like runc's (a busybox-ready `sh` with a
/// terminal, a read-only root, the default namespaces and masked paths, all devices denied
/// except the standard ones).
pub fn default_spec(rootless: bool) -> Spec {
    let mut s = if rootless {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        Spec::rootless(uid, gid)
    } else {
        Spec::default()
    };
    s.set_hostname(Some("berth".into()));
    if !rootless && let Some(l) = s.linux_mut() {
        let deny = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm".to_string())
            .build()
            .ok();
        let mut r = l.resources().clone().unwrap_or_default();
        r.set_devices(deny.map(|d| vec![d]));
        l.set_resources(Some(r));
    }
    s
}

/// Every capability this kernel knows and this process holds in its bounding set, as spec
/// values (for privileged processes).
pub fn all_capabilities() -> oci_spec::runtime::Capabilities {
    let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    // Only what this process could grant: a capability outside our own bounding set (root
    // without CAP_SYS_RESOURCE on some hosts) would make capset fail.
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last && bounding.contains(c))
        .filter_map(|c| serde_json::from_value(serde_json::Value::String(c.to_string())).ok())
        .collect()
}

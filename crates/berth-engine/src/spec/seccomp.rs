//! Seccomp profiles in Docker's format (`--security-opt seccomp=PATH`): rules with
//! `includes`/`excludes` by capability, architecture and kernel version, and `archMap`,
//! resolved against the container's capabilities and this host into an OCI `LinuxSeccomp`.
//! The default profile (`seccomp_default.rs`) is written in the same structure.

use std::path::PathBuf;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::{Deserialize, Deserializer};

use crate::{Error, Result};

/// A kernel version "major.minor" as profiles spell `minKernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KernelVersion(pub u32, pub u32);

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parts: Vec<&str> = s.split('.').collect();
        let num = |p: &str| p.parse::<u32>().ok();
        match parts.as_slice() {
            [a, b] if num(a).is_some() && num(b).is_some() => {
                Ok(KernelVersion(num(a).unwrap_or(0), num(b).unwrap_or(0)))
            }
            _ => Err(serde::de::Error::custom(format!(
                "invalid kernel version: {s}, expected <kernel>.<major>"
            ))),
        }
    }
}

/// When a rule applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Filter {
    /// Capabilities (all of them for includes, any of them for excludes).
    pub caps: Option<Vec<String>>,
    /// Architectures in Go's spelling ("amd64", "arm64", "s390x", ...).
    pub arches: Option<Vec<String>>,
    pub min_kernel: Option<KernelVersion>,
}

/// One rule of a Docker profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// An architecture and the ones it can also run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// A profile in Docker's format.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub listener_path: Option<PathBuf>,
    #[serde(default)]
    pub listener_metadata: Option<String>,
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
}

/// The seccomp architecture of this machine.
pub(crate) fn native_arch(go_arch: &str) -> Option<Arch> {
    Some(match go_arch {
        "amd64" => Arch::ScmpArchX86_64,
        "386" => Arch::ScmpArchX86,
        "arm64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "s390x" => Arch::ScmpArchS390x,
        "riscv64" => Arch::ScmpArchRiscv64,
        "mips64le" => Arch::ScmpArchMipsel64,
        "loong64" => Arch::ScmpArchLoongarch64,
        _ => return None,
    })
}

fn has(list: &Option<Vec<String>>, x: &str) -> bool {
    list.as_ref().is_some_and(|l| l.iter().any(|y| y == x))
}

impl Rule {
    /// Whether the rule applies to a container with these bounding capabilities on this
    /// architecture and kernel.
    fn applies(&self, caps: &[String], arch: &str, kernel: KernelVersion) -> bool {
        if let Some(ex) = &self.excludes {
            if has(&ex.arches, arch) {
                return false;
            }
            if ex.caps.iter().flatten().any(|c| caps.contains(c)) {
                return false;
            }
            if ex.min_kernel.is_some_and(|k| kernel >= k) {
                return false;
            }
        }
        if let Some(inc) = &self.includes {
            if inc.arches.as_ref().is_some_and(|a| !a.is_empty()) && !has(&inc.arches, arch) {
                return false;
            }
            if !inc.caps.iter().flatten().all(|c| caps.contains(c)) {
                return false;
            }
            if inc.min_kernel.is_some_and(|k| kernel < k) {
                return false;
            }
        }
        true
    }
}

impl Profile {
    /// Checks what the format forbids.
    fn validate(&self) -> Result<()> {
        let inv = |m: &str| Error::invalid("seccomp profile", m.to_string());
        if self.architectures.as_ref().is_some_and(|a| !a.is_empty())
            && self.arch_map.as_ref().is_some_and(|a| !a.is_empty())
        {
            return Err(inv(
                "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
            ));
        }
        for r in self.syscalls.iter().flatten() {
            if r.name.as_deref().is_some_and(|n| !n.is_empty())
                && r.names.as_ref().is_some_and(|n| !n.is_empty())
            {
                return Err(inv(
                    "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'",
                ));
            }
        }
        Ok(())
    }

    /// Resolves the profile for a container with `caps` (its bounding set) on a machine of
    /// architecture `arch` (Go's spelling) running `kernel`.
    pub(crate) fn resolve(&self, caps: &[String], arch: &str, kernel: (u32, u32)) -> LinuxSeccomp {
        let kernel = KernelVersion(kernel.0, kernel.1);
        let mut archs: Vec<Arch> = self.architectures.clone().unwrap_or_default();
        if let Some(native) = native_arch(arch) {
            for m in self.arch_map.iter().flatten() {
                if m.architecture == native {
                    archs.push(m.architecture);
                    archs.extend(m.sub_architectures.iter().flatten().copied());
                }
            }
        }
        let syscalls: Vec<LinuxSyscall> = self
            .syscalls
            .iter()
            .flatten()
            .filter(|r| r.applies(caps, arch, kernel))
            .map(|r| {
                let names = match (&r.name, &r.names) {
                    (Some(n), _) if !n.is_empty() => vec![n.clone()],
                    (_, Some(ns)) => ns.clone(),
                    _ => Vec::new(),
                };
                let mut s = LinuxSyscall::default();
                s.set_names(names);
                s.set_action(r.action);
                s.set_errno_ret(r.errno_ret);
                s.set_args(r.args.clone().filter(|a| !a.is_empty()));
                s
            })
            .filter(|s| !s.names().is_empty())
            .collect();
        let mut out = LinuxSeccomp::default();
        out.set_default_action(self.default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures(Some(archs));
        out.set_flags(self.flags.clone().filter(|f| !f.is_empty()));
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls(Some(syscalls));
        out
    }
}

/// Parses and checks a Docker profile.
pub(crate) fn parse_profile(json: &str) -> Result<Profile> {
    let p: Profile = serde_json::from_str(json).map_err(|e| {
        Error::invalid(
            "seccomp profile",
            format!("decoding seccomp profile failed: {e}"),
        )
    })?;
    p.validate()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
            {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
        ],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": null},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "legacy"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["newthing"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"minKernel": "6.0"}}
        ]
    }"#;

    fn names(s: &LinuxSeccomp) -> Vec<String> {
        s.syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn docker_profile_filters() {
        let p = parse_profile(PROFILE).unwrap();
        let none: Vec<String> = vec![];
        let s = p.resolve(&none, "amd64", (5, 10));
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        let n = names(&s);
        for want in [
            "read",
            "getpid",
            "clone",
            "arch_prctl",
            "ptrace",
            "newthing",
        ] {
            assert!(n.contains(&want.to_string()), "{want}");
        }
        assert!(!n.contains(&"mount".to_string()));
        let admin = vec!["CAP_SYS_ADMIN".to_string()];
        let s = p.resolve(&admin, "arm64", (6, 1));
        let n = names(&s);
        assert!(n.contains(&"mount".to_string()));
        assert!(!n.contains(&"clone".to_string()));
        assert!(!n.contains(&"arch_prctl".to_string()));
        assert!(!n.contains(&"newthing".to_string()));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        let s = p.resolve(&none, "amd64", (4, 4));
        assert!(!names(&s).contains(&"ptrace".to_string()));
        // It compiles with the runtime.
        berth_runtime::seccomp::compile(&p.resolve(&none, "amd64", (6, 1))).unwrap();
    }

    #[test]
    fn profile_errors() {
        let e = parse_profile("{").unwrap_err().to_string();
        assert!(e.contains("decoding seccomp profile failed"), "{e}");
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
            "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#;
        assert!(
            parse_profile(both)
                .unwrap_err()
                .to_string()
                .contains("'archMap'")
        );
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}"#;
        assert!(
            parse_profile(both)
                .unwrap_err()
                .to_string()
                .contains("'names'")
        );
        let bad = r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}"#;
        let e = parse_profile(bad).unwrap_err().to_string();
        assert!(e.contains("invalid kernel version: 4"), "{e}");
        let bad = r#"{"defaultAction":"SCMP_ACT_NOPE"}"#;
        assert!(parse_profile(bad).is_err());
        // A plain OCI-style profile with "architectures" works too.
        let oci = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#;
        let s = parse_profile(oci)
            .unwrap()
            .resolve(&["CAP_CHOWN".to_string()], "amd64", (6, 1));
        assert_eq!(s.architectures().clone().unwrap(), [Arch::ScmpArchX86_64]);
        assert_eq!(names(&s), ["mount"]);
    }
}

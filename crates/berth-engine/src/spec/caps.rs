//! Capabilities: Docker's default set, `--cap-add`/`--cap-drop` (with or without the CAP_
//! prefix, any case, "ALL") and `--privileged`.

use std::collections::HashSet;

use oci_spec::runtime::{Capability, LinuxCapabilities};

use super::host::Host;
use crate::{Error, Result};

/// Every capability by number (capabilities(7)).
pub(crate) const ALL: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capabilities for a container.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

// Capability numbers are below 64 (the bit masks of `Host`), so they count in u8.
const _: () = assert!(ALL.len() < 64);

fn number(name: &str) -> Option<u8> {
    (0u8..).zip(ALL).find_map(|(n, c)| (c == name).then_some(n))
}

/// Upper-cases, adds the CAP_ prefix and checks each name against the capabilities this
/// kernel knows; "ALL" passes through.
fn normalize(host: &Host, list: &[String], flag: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let mut c = c.trim().to_ascii_uppercase();
        if c == "ALL" {
            out.push(c);
            continue;
        }
        if !c.starts_with("CAP_") {
            c = format!("CAP_{c}");
        }
        match number(&c) {
            Some(n) if n <= host.cap_last => out.push(c),
            _ => return Err(Error::invalid(flag, format!("unknown capability: {c:?}"))),
        }
    }
    Ok(out)
}

/// The container's capability list (sorted by number), as Docker computes it: the default
/// set minus `drop` plus `add`; "ALL" in `add` gives everything but `drop`, "ALL" in `drop`
/// gives only `add`; privileged gives everything. "Everything" is every capability the
/// kernel knows that this process holds in its bounding set (a capability outside it could
/// never be granted); naming such a capability explicitly is an error.
pub(crate) fn capability_list(
    host: &Host,
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>> {
    let add = normalize(host, add, "--cap-add")?;
    let drop = normalize(host, drop, "--cap-drop")?;
    let all = || {
        (0u8..)
            .zip(ALL)
            .filter(|(n, _)| host.can_grant(*n))
            .map(|(_, c)| c.to_string())
    };
    let has = |l: &[String], c: &str| l.iter().any(|x| x == c);
    let mut caps: Vec<String> = if privileged {
        all().collect()
    } else if has(&add, "ALL") {
        all().filter(|c| !has(&drop, c)).collect()
    } else if has(&drop, "ALL") {
        add.clone()
    } else {
        let mut v: Vec<String> = DEFAULT_CAPS
            .iter()
            .filter(|c| !has(&drop, c))
            .map(|c| c.to_string())
            .collect();
        v.extend(add.iter().cloned());
        v
    };
    caps.sort_by_key(|c| number(c));
    caps.dedup();
    if let Some(c) = caps
        .iter()
        .find(|c| number(c).is_some_and(|n| !host.can_grant(n)))
    {
        return Err(Error::invalid(
            "--cap-add",
            format!("{c} is not in the bounding set of this process, so no container can get it"),
        ));
    }
    Ok(caps)
}

/// The process's capability sets for `caps`: bounding, effective and permitted for root;
/// only bounding for other users (as execve would leave them); never inheritable or
/// ambient.
pub(crate) fn capability_sets(caps: &[String], uid: u32) -> Result<LinuxCapabilities> {
    let set: HashSet<Capability> = caps
        .iter()
        .map(|c| {
            serde_json::from_value(serde_json::Value::String(c.clone()))
                .map_err(|e| Error::Internal(format!("capability {c}: {e}")))
        })
        .collect::<Result<_>>()?;
    let (eff, perm) = if uid == 0 {
        (set.clone(), set.clone())
    } else {
        (HashSet::new(), HashSet::new())
    };
    let mut lc = LinuxCapabilities::default();
    lc.set_bounding(Some(set));
    lc.set_effective(Some(eff));
    lc.set_permitted(Some(perm));
    lc.set_inheritable(Some(HashSet::new()));
    lc.set_ambient(Some(HashSet::new()));
    Ok(lc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::host::test_host;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn mask(caps: &[String]) -> u64 {
        caps.iter()
            .map(|c| 1u64 << number(c).unwrap_or(63))
            .fold(0, |a, b| a | b)
    }

    #[test]
    fn default_set_is_dockers() {
        let h = test_host();
        let caps = capability_list(&h, &[], &[], false).unwrap();
        assert_eq!(caps.len(), 14);
        assert_eq!(mask(&caps), 0xa80425fb);
    }

    #[test]
    fn add_and_drop_any_spelling() {
        let h = test_host();
        let caps = capability_list(
            &h,
            &s(&["sys_admin", "CAP_NET_ADMIN", "Chown"]),
            &s(&["net_raw", "CAP_MKNOD"]),
            false,
        )
        .unwrap();
        assert!(caps.contains(&"CAP_SYS_ADMIN".into()));
        assert!(caps.contains(&"CAP_NET_ADMIN".into()));
        assert!(!caps.contains(&"CAP_NET_RAW".into()));
        assert!(!caps.contains(&"CAP_MKNOD".into()));
        assert_eq!(caps.iter().filter(|c| *c == "CAP_CHOWN").count(), 1);
    }

    #[test]
    fn all_in_add_or_drop() {
        let h = test_host();
        let caps = capability_list(&h, &s(&["ALL"]), &s(&["sys_admin"]), false).unwrap();
        assert_eq!(caps.len(), 40);
        assert!(!caps.contains(&"CAP_SYS_ADMIN".into()));
        let caps = capability_list(&h, &s(&["kill"]), &s(&["all"]), false).unwrap();
        assert_eq!(caps, s(&["CAP_KILL"]));
        let caps = capability_list(&h, &[], &s(&["ALL"]), false).unwrap();
        assert!(caps.is_empty());
    }

    #[test]
    fn privileged_gets_what_the_host_can_grant() {
        let mut h = test_host();
        assert_eq!(capability_list(&h, &[], &[], true).unwrap().len(), 41);
        h.cap_last = 37;
        h.bounding &= !(1 << 24); // no CAP_SYS_RESOURCE
        let caps = capability_list(&h, &[], &[], true).unwrap();
        assert_eq!(caps.len(), 37);
        assert!(!caps.contains(&"CAP_SYS_RESOURCE".into()));
        let e = capability_list(&h, &s(&["SYS_RESOURCE"]), &[], false).unwrap_err();
        assert!(e.to_string().contains("CAP_SYS_RESOURCE"), "{e}");
    }

    #[test]
    fn unknown_names_are_errors() {
        let mut h = test_host();
        let e = capability_list(&h, &s(&["FOO"]), &[], false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid --cap-add: unknown capability: \"CAP_FOO\""
        );
        let e = capability_list(&h, &[], &s(&["cap_bar"]), false).unwrap_err();
        assert!(e.to_string().contains("--cap-drop"), "{e}");
        h.cap_last = 37;
        assert!(capability_list(&h, &s(&["BPF"]), &[], false).is_err());
        // Checked even when privileged ignores them, as Docker checks at create.
        assert!(capability_list(&h, &s(&["nope"]), &[], true).is_err());
    }

    #[test]
    fn sets_for_root_and_others() {
        let caps = s(&["CAP_CHOWN", "CAP_KILL"]);
        let root = capability_sets(&caps, 0).unwrap();
        assert_eq!(root.effective().as_ref().map(|e| e.len()), Some(2));
        assert_eq!(root.permitted().as_ref().map(|e| e.len()), Some(2));
        assert_eq!(root.inheritable().as_ref().map(|e| e.len()), Some(0));
        let user = capability_sets(&caps, 1000).unwrap();
        assert_eq!(user.bounding().as_ref().map(|e| e.len()), Some(2));
        assert_eq!(user.effective().as_ref().map(|e| e.len()), Some(0));
        assert_eq!(user.ambient().as_ref().map(|e| e.len()), Some(0));
    }
}

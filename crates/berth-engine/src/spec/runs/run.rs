//! Specs from `build_spec` run by berth-runtime in a busybox rootfs: the container sees
//! Docker's defaults (capabilities, seccomp, masked paths, mounts) and the flags' effects.
//! Root only; see env.rs for what is needed.

use super::env::Env;
use crate::config::{ContainerConfig, MountKind};
use crate::spec::ResolvedMount;

const STATUS: &str = "grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status";

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or("")
}

#[test]
#[ignore = "needs root"]
fn default_capabilities_and_seccomp() {
    let env = Env::new();
    let out = env.ok(&ContainerConfig::default(), &[], STATUS);
    assert_eq!(field(&out, "CapEff:"), "00000000a80425fb", "{out}");
    assert_eq!(field(&out, "CapBnd:"), "00000000a80425fb", "{out}");
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");

    // Ordinary calls work; namespaces and mounts do not.
    let out = env.ok(
        &ContainerConfig::default(),
        &[],
        "mkdir /tmp/d && echo mkdir-ok; \
         unshare -n true 2>/dev/null && echo unshare-ok || echo unshare-denied; \
         mount -t tmpfs t /tmp/d 2>/dev/null && echo mount-ok || echo mount-denied; \
         unshare -U true 2>/dev/null && echo userns-ok || echo userns-denied",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [
            "mkdir-ok",
            "unshare-denied",
            "mount-denied",
            "userns-denied"
        ]
    );

    // A user namespace needs no capability: only the seccomp profile refuses it.
    let mut cfg = ContainerConfig::default();
    cfg.host.security.seccomp_unconfined = true;
    let out = env.ok(
        &cfg,
        &[],
        &format!("{STATUS}; unshare -U true && echo userns-ok"),
    );
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    assert!(out.contains("userns-ok"), "{out}");

    // CAP_SYS_ADMIN unlocks mount in the capability set and in the seccomp profile.
    let mut cfg = ContainerConfig::default();
    cfg.host.cap_add = vec!["SYS_ADMIN".into()];
    let out = env.ok(
        &cfg,
        &[],
        "mkdir /tmp/m && mount -t tmpfs t /tmp/m && echo mount-ok; unshare -n true && echo unshare-ok",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["mount-ok", "unshare-ok"]
    );

    // Dropping a capability removes it.
    let mut cfg = ContainerConfig::default();
    cfg.host.cap_drop = vec!["chown".into()];
    let out = env.ok(&cfg, &[], STATUS);
    assert_eq!(field(&out, "CapEff:"), "00000000a80425fa", "{out}");
}

#[test]
#[ignore = "needs root"]
fn privileged_sees_everything() {
    let env = Env::new();
    let mut cfg = ContainerConfig::default();
    cfg.host.privileged = true;
    let out = env.ok(
        &cfg,
        &[],
        &format!(
            "{STATUS}; mkdir /tmp/m && mount -t tmpfs t /tmp/m && echo mount-ok; \
             test -c /dev/kmsg && echo host-devices"
        ),
    );
    let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let host_bnd = field(&own, "CapBnd:").to_string();
    assert_eq!(
        field(&out, "CapEff:"),
        host_bnd,
        "all the capabilities berth can grant: {out}"
    );
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    assert!(out.contains("mount-ok"), "{out}");
    if std::path::Path::new("/dev/kmsg").exists() {
        assert!(out.contains("host-devices"), "{out}");
    }
}

#[test]
#[ignore = "needs root"]
fn users_env_and_working_dir() {
    let env = Env::new();
    let cfg = ContainerConfig {
        user: Some("nobody".into()),
        ..Default::default()
    };
    let out = env.ok(&cfg, &[], &format!("id -u; id -g; {STATUS}"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["65534", "65534"], "{out}");
    assert_eq!(field(&out, "CapEff:"), "0000000000000000", "{out}");
    assert_eq!(field(&out, "CapBnd:"), "00000000a80425fb", "{out}");

    let cfg = ContainerConfig {
        env: vec!["FOO=bar baz".into()],
        working_dir: Some("/srv/app".into()),
        hostname: Some("webhost".into()),
        ..Default::default()
    };
    let out = env.ok(
        &cfg,
        &[],
        "pwd; echo \"$FOO\"; echo $HOSTNAME; hostname; echo $HOME; id -u",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/srv/app", "bar baz", "webhost", "webhost", "/root", "0"]
    );
}

#[test]
#[ignore = "needs root"]
fn mounts_as_docker_makes_them() {
    let env = Env::new();
    let host = env.tmp.path().join("share");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from the host\n").unwrap();
    let mounts = vec![
        ResolvedMount {
            kind: MountKind::Bind,
            source: host.clone(),
            target: "/data".into(),
            read_only: true,
            ..Default::default()
        },
        ResolvedMount {
            kind: MountKind::Tmpfs,
            target: "/scratch".into(),
            options: vec!["size=1m".into()],
            ..Default::default()
        },
    ];
    let out = env.ok(
        &ContainerConfig::default(),
        &mounts,
        "cat /data/f; touch /data/g 2>/dev/null || echo data-ro; \
         grep ' /scratch ' /proc/mounts; grep ' /dev/shm ' /proc/mounts; \
         cat /etc/hostname; touch /sys/x 2>/dev/null || echo sys-ro; \
         (echo 1 > /proc/sys/kernel/shmmax) 2>/dev/null || echo procsys-ro; \
         for p in /proc/kcore /proc/keys /proc/timer_list; do \
           test -e $p && { test -c $p && echo masked || echo visible; }; done; true",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from the host", "{out}");
    assert_eq!(lines[1], "data-ro", "{out}");
    let scratch = lines[2];
    for o in ["nosuid", "nodev", "noexec", "size=1024k"] {
        assert!(scratch.contains(o), "{o} in {scratch}");
    }
    assert!(lines[3].contains("size=65536k"), "{}", lines[3]);
    assert_eq!(&lines[4..7], ["spec-test", "sys-ro", "procsys-ro"], "{out}");
    for (i, p) in ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
        .enumerate()
    {
        assert_eq!(
            lines[7 + i],
            "masked",
            "{p} is masked (bound to /dev/null): {out}"
        );
    }
    assert!(!host.join("g").exists());

    // --read-only: the root and the network files are read-only, tmpfs mounts are not.
    let mut cfg = ContainerConfig::default();
    cfg.host.read_only_rootfs = true;
    let out = env.ok(
        &cfg,
        &mounts,
        "touch /x 2>/dev/null || echo root-ro; touch /scratch/x && echo scratch-rw; \
         echo x >> /etc/hosts 2>/dev/null || echo hosts-ro",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["root-ro", "scratch-rw", "hosts-ro"]
    );
}

#[test]
#[ignore = "needs root"]
fn resources_reach_the_cgroup() {
    let env = Env::new();
    let mut cfg = ContainerConfig::default();
    cfg.host.resources.memory = Some(64 * 1024 * 1024);
    cfg.host.resources.pids_limit = Some(77);
    let out = env.ok(
        &cfg,
        &[],
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; \
         cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; true",
    );
    let vals: Vec<&str> = out.split_whitespace().collect();
    assert!(vals.contains(&"67108864"), "{out}");
    assert!(vals.contains(&"77"), "{out}");
}

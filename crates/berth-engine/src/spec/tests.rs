//! Tests of `build_spec` as a whole (pure: a temporary rootfs and a fixed host).

use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::json;

use super::host::test_host;
use super::*;
use crate::config::{Device, MountKind};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Fixture {
    _tmp: tempfile::TempDir,
    rootfs: PathBuf,
    dir: PathBuf,
    image: Value,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
    let dir = tmp.path().join("ctr");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["hosts", "hostname", "resolv.conf"] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    let image =
        json!({"config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"], "WorkingDir": "/work"}});
    Fixture {
        _tmp: tmp,
        rootfs,
        dir,
        image,
    }
}

fn inputs<'a>(
    f: &'a Fixture,
    cfg: &'a ContainerConfig,
    mounts: &'a [ResolvedMount],
) -> SpecInputs<'a> {
    SpecInputs {
        id: ID,
        config: cfg,
        image_config: &f.image,
        rootfs: &f.rootfs,
        container_dir: &f.dir,
        mounts,
        cgroups_path: "/berth/abc",
        init_path: None,
        netns_path: None,
        pidns_path: None,
        ipcns_path: None,
    }
}

fn build(f: &Fixture, cfg: &ContainerConfig) -> Spec {
    build_spec_on(&inputs(f, cfg, &[]), &test_host()).unwrap()
}

fn ns(s: &Spec) -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
    s.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| (n.typ(), n.path().clone()))
        .collect()
}

fn caps_len(s: &Spec) -> (usize, usize, usize) {
    let c = s
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    let n = |x: &Option<oci_spec::runtime::Capabilities>| x.as_ref().map_or(0, |v| v.len());
    (n(c.bounding()), n(c.effective()), n(c.inheritable()))
}

fn dests(s: &Spec) -> Vec<String> {
    s.mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect()
}

/// The spec must be what berth-runtime accepts.
fn runtime_accepts(s: &Spec) {
    let bytes = serde_json::to_vec(s).unwrap();
    let parsed = berth_runtime::spec::parse_spec(&bytes).unwrap();
    berth_runtime::spec::validate(&parsed).unwrap();
}

#[test]
fn defaults_are_dockers() {
    let f = fixture();
    let s = build(&f, &ContainerConfig::default());
    runtime_accepts(&s);
    assert_eq!(s.hostname().as_deref(), Some("0123456789ab"));
    let p = s.process().as_ref().unwrap();
    assert_eq!(p.args().clone().unwrap(), ["sh"]);
    assert_eq!(p.cwd(), Path::new("/work"));
    assert!(
        f.rootfs.join("work").is_dir(),
        "the working directory is created"
    );
    assert_eq!(
        p.env().clone().unwrap(),
        ["PATH=/usr/bin:/bin", "HOSTNAME=0123456789ab"]
    );
    assert_eq!(p.terminal(), Some(false));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.no_new_privileges(), Some(false));
    assert!(p.rlimits().is_none(), "no rlimits unless --ulimit");
    assert_eq!(caps_len(&s), (14, 14, 0));
    let l = s.linux().as_ref().unwrap();
    assert_eq!(
        ns(&s).iter().map(|n| n.0).collect::<Vec<_>>(),
        [
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Cgroup
        ]
    );
    assert_eq!(l.masked_paths().as_ref().unwrap().len(), 11);
    assert_eq!(l.readonly_paths().as_ref().unwrap().len(), 5);
    assert!(l.seccomp().is_some());
    assert_eq!(l.cgroups_path().as_deref(), Some(Path::new("/berth/abc")));
    let sysctl = l.sysctl().clone().unwrap();
    assert_eq!(sysctl["net.ipv4.ip_unprivileged_port_start"], "0");
    assert_eq!(
        l.resources()
            .as_ref()
            .unwrap()
            .devices()
            .as_ref()
            .unwrap()
            .len(),
        13
    );
    assert_eq!(s.root().as_ref().unwrap().path(), f.rootfs.as_path());
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(false));
    assert_eq!(
        s.annotations().as_ref().unwrap()["org.berth.container.id"],
        ID
    );
    assert_eq!(
        dests(&s),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
}

#[test]
fn privileged() {
    let f = fixture();
    let mut cfg = ContainerConfig::default();
    cfg.host.privileged = true;
    let s = build(&f, &cfg);
    runtime_accepts(&s);
    let l = s.linux().as_ref().unwrap();
    assert!(l.seccomp().is_none());
    assert!(l.masked_paths().is_none() && l.readonly_paths().is_none());
    assert_eq!(caps_len(&s).0, 41);
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow());
    assert!(!l.devices().as_ref().unwrap().is_empty());
}

#[test]
fn user_tty_env_and_caps() {
    let f = fixture();
    let mut cfg = ContainerConfig {
        user: Some("nobody".into()),
        tty: true,
        env: vec!["FOO=bar".into()],
        hostname: Some("web".into()),
        domainname: Some("example.com".into()),
        working_dir: Some("/".into()),
        ..Default::default()
    };
    cfg.host.cap_drop = vec!["ALL".into()];
    cfg.host.cap_add = vec!["net_bind_service".into()];
    cfg.host.security.no_new_privileges = true;
    cfg.host.oom_score_adj = Some(100);
    cfg.host.resources.ulimits = vec![crate::config::Ulimit {
        name: "nofile".into(),
        soft: 100,
        hard: 200,
    }];
    let s = build(&f, &cfg);
    runtime_accepts(&s);
    let p = s.process().as_ref().unwrap();
    assert_eq!((p.user().uid(), p.user().gid()), (65534, 65534));
    assert_eq!(p.user().additional_gids().clone().unwrap(), [65534]);
    assert_eq!(
        p.env().clone().unwrap(),
        [
            "PATH=/usr/bin:/bin",
            "HOSTNAME=web",
            "TERM=xterm",
            "FOO=bar"
        ]
    );
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(
        caps_len(&s),
        (1, 0, 0),
        "a non-root user only keeps the bounding set"
    );
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!(p.oom_score_adj(), Some(100));
    assert_eq!(p.rlimits().as_ref().unwrap().len(), 1);
    assert_eq!(s.hostname().as_deref(), Some("web"));
    assert_eq!(s.domainname().as_deref(), Some("example.com"));
    cfg.user = Some("ghost".into());
    let e = build_spec_on(&inputs(&f, &cfg, &[]), &test_host()).unwrap_err();
    assert!(
        e.to_string()
            .contains("unable to find user ghost: no matching entries in passwd file")
    );
}

#[test]
fn host_and_joined_namespaces() {
    let f = fixture();
    let mut cfg = ContainerConfig::default();
    cfg.host.network_mode = NetworkMode::Host;
    cfg.host.pid_mode = "host".into();
    cfg.host.ipc_mode = "host".into();
    cfg.host.init = true;
    let init = PathBuf::from("/var/lib/berth/berth-init");
    let mut inp = inputs(&f, &cfg, &[]);
    inp.init_path = Some(&init);
    let s = build_spec_on(&inp, &test_host()).unwrap();
    runtime_accepts(&s);
    let types: Vec<_> = ns(&s).iter().map(|n| n.0).collect();
    assert_eq!(
        types,
        [
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Cgroup
        ]
    );
    assert_eq!(s.hostname().as_deref(), Some("hosty"));
    assert!(s.linux().as_ref().unwrap().sysctl().is_none());
    // --init only applies with a private pid namespace.
    assert_eq!(
        s.process().as_ref().unwrap().args().clone().unwrap(),
        ["sh"]
    );
    let shm = s
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/dev/shm"));
    assert_eq!(shm.unwrap().typ().as_deref(), Some("bind"));

    let mut cfg = ContainerConfig::default();
    cfg.host.network_mode = NetworkMode::Container("db".into());
    cfg.host.pid_mode = "container:db".into();
    cfg.host.uts_mode = "host".into();
    let mut inp = inputs(&f, &cfg, &[]);
    let e = build_spec_on(&inp, &test_host()).unwrap_err().to_string();
    assert!(e.contains("--pid"), "{e}");
    inp.pidns_path = Some("/proc/42/ns/pid".into());
    let e = build_spec_on(&inp, &test_host()).unwrap_err().to_string();
    assert!(e.contains("--network"), "{e}");
    inp.netns_path = Some("/proc/42/ns/net".into());
    let s = build_spec_on(&inp, &test_host()).unwrap();
    runtime_accepts(&s);
    assert!(s.hostname().is_none());
    let n = ns(&s);
    assert!(n.contains(&(LinuxNamespaceType::Network, Some("/proc/42/ns/net".into()))));
    assert!(n.contains(&(LinuxNamespaceType::Pid, Some("/proc/42/ns/pid".into()))));
    assert!(!n.iter().any(|x| x.0 == LinuxNamespaceType::Uts));

    let mut cfg = ContainerConfig::default();
    cfg.host.pid_mode = "sideways".into();
    let e = build_spec_on(&inputs(&f, &cfg, &[]), &test_host()).unwrap_err();
    assert_eq!(e.to_string(), "invalid --pid: invalid PID mode: sideways");
    let mut cfg = ContainerConfig::default();
    cfg.host.uts_mode = "host".into();
    cfg.hostname = Some("x".into());
    assert!(build_spec_on(&inputs(&f, &cfg, &[]), &test_host()).is_err());
}

#[test]
fn init_mounts_and_read_only_root() {
    let f = fixture();
    let mut cfg = ContainerConfig::default();
    cfg.host.init = true;
    cfg.host.read_only_rootfs = true;
    cfg.host.shm_size = Some(1 << 20);
    let mounts = vec![ResolvedMount {
        kind: MountKind::Tmpfs,
        target: "/tmp".into(),
        options: vec!["size=1m".into()],
        ..Default::default()
    }];
    let init = PathBuf::from("/var/lib/berth/berth-init");
    let mut inp = inputs(&f, &cfg, &mounts);
    let e = build_spec_on(&inp, &test_host()).unwrap_err();
    assert!(e.to_string().contains("--init"), "{e}");
    inp.init_path = Some(&init);
    let s = build_spec_on(&inp, &test_host()).unwrap();
    runtime_accepts(&s);
    assert_eq!(
        s.process().as_ref().unwrap().args().clone().unwrap(),
        [INIT_PATH, "--", "sh"]
    );
    assert_eq!(dests(&s).last().map(String::as_str), Some(INIT_PATH));
    assert!(dests(&s).contains(&"/tmp".to_string()));
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    let shm = s
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/dev/shm"));
    assert!(
        shm.unwrap()
            .options()
            .as_ref()
            .unwrap()
            .contains(&"size=1048576".to_string())
    );
}

#[test]
fn seccomp_choices() {
    let f = fixture();
    let mut cfg = ContainerConfig::default();
    cfg.host.security.seccomp_unconfined = true;
    assert!(
        build(&f, &cfg)
            .linux()
            .as_ref()
            .unwrap()
            .seccomp()
            .is_none()
    );
    let mut cfg = ContainerConfig::default();
    cfg.host.cap_add = vec!["SYS_ADMIN".into()];
    cfg.host.security.seccomp_profile = Some(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mount"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_ADMIN"]}},
            {"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}"#
            .into(),
    );
    let s = build(&f, &cfg);
    runtime_accepts(&s);
    let sc = s.linux().as_ref().unwrap().seccomp().clone().unwrap();
    let names: Vec<String> = sc
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().clone())
        .collect();
    assert_eq!(
        names,
        ["chmod"],
        "resolved against the container's capabilities"
    );
    cfg.host.security.seccomp_profile = Some("not json".into());
    assert!(build_spec_on(&inputs(&f, &cfg, &[]), &test_host()).is_err());
}

#[test]
fn bad_input_is_rejected() {
    let f = fixture();
    let bad = |cfg: ContainerConfig| {
        build_spec_on(&inputs(&f, &cfg, &[]), &test_host())
            .unwrap_err()
            .to_string()
    };
    let mut c = ContainerConfig::default();
    c.host.cap_add = vec!["WIZARDRY".into()];
    assert!(bad(c).contains("unknown capability"));
    let mut c = ContainerConfig::default();
    c.host.resources.memory = Some(1024);
    assert!(bad(c).contains("Minimum memory limit allowed is 6MB"));
    let mut c = ContainerConfig::default();
    c.host.devices = vec![Device {
        host_path: "/dev/nonexistent-device".into(),
        ..Default::default()
    }];
    assert!(bad(c).contains("error gathering device information"));
    let mut c = ContainerConfig::default();
    c.host.device_cgroup_rules = vec!["q 1:1 r".into()];
    assert!(bad(c).contains("invalid device cgroup rule format"));
    let mut c = ContainerConfig::default();
    c.host.sysctls.insert("kernel.panic".into(), "1".into());
    assert!(bad(c).contains("is not allowed"));
    let mut c = ContainerConfig::default();
    c.host.security.apparmor = Some("docker-default".into());
    assert!(bad(c).contains("AppArmor is not enabled"));
    let c = ContainerConfig {
        cmd: Some(vec![]),
        entrypoint: Some(vec![]),
        ..Default::default()
    };
    let mut f2 = fixture();
    f2.image = json!({"config": {}});
    let e = build_spec_on(&inputs(&f2, &c, &[]), &test_host()).unwrap_err();
    assert!(e.to_string().contains("no command specified"));
}

#[test]
fn limits_the_host_cannot_apply_are_dropped_with_docker_warnings() {
    let mut cfg = ContainerConfig::default();
    cfg.host.resources.memory_swappiness = Some(10);
    cfg.host.resources.cpu_rt_runtime = Some(1000);
    cfg.host.resources.memory_swap = Some(1 << 30);
    cfg.host.resources.blkio_weight = Some(300);
    let mut h = super::host::test_host();
    assert!(super::discard_unsupported_on(&mut cfg.clone(), &h).is_empty());
    h.swappiness = false;
    h.cpu_rt = false;
    h.swap_limit = false;
    h.blkio_weight = false;
    let w = super::discard_unsupported_on(&mut cfg, &h);
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(w[0].contains("Memory swappiness discarded"));
    assert!(w[2].contains("Block I/O weight"), "{w:?}");
    assert_eq!(cfg.host.resources.memory_swappiness, None);
    assert_eq!(cfg.host.resources.cpu_rt_runtime, None);
    assert_eq!(cfg.host.resources.blkio_weight, None);
}

//! Unit tests of the cgroup layout, paths and resource files.

use super::*;

const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const UNIFIED: &str = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

#[test]
fn detects_modes() {
    let h = Layout::from_mountinfo(HYBRID);
    assert_eq!(h.mode, CgroupMode::Hybrid);
    assert_eq!(h.hierarchies.len(), 4);
    assert_eq!(
        h.v1("memory").unwrap().mount,
        Path::new("/sys/fs/cgroup/memory")
    );
    let u = Layout::from_mountinfo(UNIFIED);
    assert_eq!(u.mode, CgroupMode::Unified);
    let l = Layout::from_mountinfo(&HYBRID.replace("41 31", "#").replace("cgroup2", "x"));
    assert_eq!(l.mode, CgroupMode::Legacy);
}

#[test]
fn paths() {
    let h = Layout::from_mountinfo(HYBRID);
    let own = "4:memory:/user.slice\n1:name=systemd:/init.scope\n0::/init.scope\n2:cpu:/\n";
    let c = Cgroup::with_own(&h, Some(Path::new("/docker/abc")), "abc", own).unwrap();
    assert_eq!(
        c.dir_for("memory").unwrap(),
        Path::new("/sys/fs/cgroup/memory/docker/abc")
    );
    let rel = Cgroup::with_own(&h, Some(Path::new("sub/x")), "x", own).unwrap();
    assert_eq!(
        rel.dir_for("memory").unwrap(),
        Path::new("/sys/fs/cgroup/memory/user.slice/sub/x")
    );
    assert_eq!(
        rel.unified_dir().unwrap(),
        Path::new("/sys/fs/cgroup/unified/init.scope/sub/x")
    );
    let d = Cgroup::with_own(&h, None, "id1", own).unwrap();
    assert_eq!(
        d.dir_for("cpu").unwrap(),
        Path::new("/sys/fs/cgroup/cpu/berth/id1")
    );
    assert!(Cgroup::with_own(&h, Some(Path::new("/a/../b")), "x", own).is_err());
}

#[test]
fn systemd_paths() {
    assert_eq!(
        systemd_to_path(Path::new("system.slice:docker:abc")).unwrap(),
        Path::new("/system.slice/docker-abc.scope")
    );
    assert_eq!(
        systemd_to_path(Path::new("machine-x.slice:libpod:1")).unwrap(),
        Path::new("/machine.slice/machine-x.slice/libpod-1.scope")
    );
    assert!(systemd_to_path(Path::new("a:b")).is_err());
}

fn fake(mode: CgroupMode, controllers: &[&str], files: &[&str]) -> (tempfile::TempDir, Cgroup) {
    let d = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    if mode == CgroupMode::Unified {
        let h = Hierarchy {
            mount: d.path().to_path_buf(),
            controllers: vec![],
            v2: true,
        };
        dirs.push((h, d.path().join("c")));
    } else {
        for c in controllers {
            let h = Hierarchy {
                mount: d.path().join(c),
                controllers: vec![c.to_string()],
                v2: false,
            };
            dirs.push((h, d.path().join(c).join("c")));
        }
    }
    for (_, dir) in &dirs {
        std::fs::create_dir_all(dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "").unwrap();
        }
    }
    (d, Cgroup { mode, dirs })
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

#[test]
fn v2_files_get_v2_values() {
    let files = [
        "memory.max",
        "memory.swap.max",
        "memory.low",
        "cpu.weight",
        "cpu.max",
        "cpuset.cpus",
        "pids.max",
        "io.weight",
        "io.max",
    ];
    let (_d, cg) = fake(CgroupMode::Unified, &[], &files);
    let r = resources(
        r#"{"memory":{"limit":1048576,"swap":3145728,"reservation":524288},
            "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1"},
            "pids":{"limit":64},
            "blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]}}"#,
    );
    cg.apply(&r).unwrap();
    let dir = cg.unified_dir().unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("memory.max"), "1048576");
    assert_eq!(
        read("memory.swap.max"),
        "2097152",
        "swap alone = memory+swap - memory"
    );
    assert_eq!(read("memory.low"), "524288");
    assert_eq!(read("cpu.weight"), "39");
    assert_eq!(read("cpu.max"), "50000 100000");
    assert_eq!(read("cpuset.cpus"), "0-1");
    assert_eq!(read("pids.max"), "64");
    assert_eq!(read("io.max"), "8:0 rbps=1000");
    // v1-only settings are refused on v2, naming the field.
    let e = cg
        .apply(&resources(r#"{"memory":{"swappiness":10}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("memory.swappiness"), "{e}");
    let e = cg
        .apply(&resources(r#"{"network":{"classID":1}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("linux.resources.network"), "{e}");
}

#[test]
fn v1_files_get_v1_values() {
    let files = [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.swappiness",
        "cpu.shares",
        "cpu.cfs_quota_us",
        "cpu.cfs_period_us",
        "pids.max",
        "blkio.weight",
        "blkio.throttle.read_bps_device",
    ];
    let (_d, cg) = fake(
        CgroupMode::Legacy,
        &["memory", "cpu", "pids", "blkio"],
        &files,
    );
    let r = resources(
        r#"{"memory":{"limit":1048576,"swap":3145728,"swappiness":10},
            "cpu":{"shares":512,"quota":20000,"period":100000},
            "pids":{"limit":0},
            "blockIO":{"weight":300,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]}}"#,
    );
    cg.apply(&r).unwrap();
    let read = |c: &str, f: &str| std::fs::read_to_string(cg.dir_for(c).unwrap().join(f)).unwrap();
    assert_eq!(read("memory", "memory.limit_in_bytes"), "1048576");
    assert_eq!(read("memory", "memory.memsw.limit_in_bytes"), "3145728");
    assert_eq!(read("memory", "memory.swappiness"), "10");
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(read("pids", "pids.max"), "max");
    assert_eq!(read("blkio", "blkio.weight"), "300");
    assert_eq!(read("blkio", "blkio.throttle.read_bps_device"), "8:0 1000");
    // A controller the host lacks is an error naming the field, not a silent ignore.
    let e = cg
        .apply(&resources(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#,
        ))
        .unwrap_err();
    assert!(
        e.to_string().contains("hugepageLimits") && e.to_string().contains("hugetlb"),
        "{e}"
    );
    let e = cg
        .apply(&resources(r#"{"unified":{"memory.high":"1"}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("needs cgroup v2"), "{e}");
}

#[test]
fn fast_detection_agrees_with_mountinfo() {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let slow = Layout::from_mountinfo(&info);
    if let Some(fast) = Layout::detect_fast() {
        assert_eq!(fast.mode, slow.mode);
        let mut a: Vec<_> = fast
            .hierarchies
            .iter()
            .map(|h| (&h.mount, &h.controllers))
            .collect();
        let mut b: Vec<_> = slow
            .hierarchies
            .iter()
            .map(|h| (&h.mount, &h.controllers))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}

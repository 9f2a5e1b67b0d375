//! cgroup limits, read from both sides: the host's cgroup files and what the container's
//! processes experience (OOM kill, pids limit, CPU quota, device access).

mod common;

use common::{Env, cgroup_file, require_root, uid};
use serde_json::json;

fn cgroups_path(id: &str) -> String {
    format!("/berth-test/{id}")
}

#[test]
#[ignore = "needs root"]
fn memory_limit_kills_and_is_reported() {
    require_root();
    // tail keeps all of its input when it sees no newline: 200 MB against a 32 MB limit.
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "head -c 200000000 /dev/zero | tail; echo survived",
    ]);
    let id = uid("oom");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    env.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    env.write_config();
    let b = env.bundle.to_string_lossy().into_owned();
    let out = env.run(&["run", "--keep", "--bundle", &b, &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The kernel picks the biggest process (tail); should it pick sh instead, the container
    // ends with 137. Either way the OOM kill must be reported.
    assert!(
        matches!(out.status.code(), Some(0) | Some(137)),
        "{:?}: {stderr}",
        out.status
    );
    // The limit is set on the host side...
    let limit = cgroup_file(&cgroups_path(&id), "memory", "memory.limit_in_bytes");
    assert_eq!(limit.trim(), (32u64 << 20).to_string());
    // ...the OOM killer fired, and state says so.
    let st = env.state(&id);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["oomKilled"], json!(true), "{st}");
    env.ok(&["delete", &id]);

    // When the killed process is the container's own, run reports it and exits 137.
    let mut env = Env::new(&["/bin/tail"]);
    env.config["process"]["args"] =
        json!(["/bin/sh", "-c", "head -c 200000000 /dev/zero | exec tail"]);
    let id = uid("oom2");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    env.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    env.write_config();
    let out = env.run(&[
        "run",
        "--bundle",
        &b.replace(&b, &env.bundle.to_string_lossy()),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(137));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("OOM killer"),
        "{:?}",
        out
    );
}

#[test]
#[ignore = "needs root"]
fn fork_bomb_stops_at_the_pids_limit() {
    require_root();
    let mut env = Env::new(&["/bin/sh", "-c", "f() { f | f & }; f; sleep 100"]);
    let id = uid("pids");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    env.config["linux"]["resources"]["pids"] = json!({"limit": 32});
    env.write_config();
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "-d", "--bundle", &b, &id]);
    // Poll until the kernel has refused forks; the count never goes over the limit.
    let (mut peak, mut refused) = (0u64, false);
    for _ in 0..1000 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        let cur: u64 = cgroup_file(&cgroups_path(&id), "pids", "pids.current")
            .trim()
            .parse()
            .unwrap();
        peak = peak.max(cur);
        let events = cgroup_file(&cgroups_path(&id), "pids", "pids.events");
        refused = events
            .lines()
            .any(|l| l.starts_with("max ") && l != "max 0");
        if refused && peak >= 30 {
            break;
        }
    }
    // pids.events counts refused forks: proof that the bomb reached the limit (sampling
    // may miss the exact peak, but never sees more than the limit).
    assert!(refused, "the bomb hit the limit");
    assert!(peak <= 32, "peak {peak} processes with a limit of 32");
    assert_eq!(
        cgroup_file(&cgroups_path(&id), "pids", "pids.max").trim(),
        "32"
    );
    // And the host can still clean it all up.
    env.ok(&["delete", "--force", &id]);
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/pids/berth-test/{id}")).exists());
}

#[test]
#[ignore = "needs root"]
fn cpu_quota_holds_the_share() {
    require_root();
    let mut env = Env::new(&["/bin/sh", "-c", "while :; do :; done"]);
    let id = uid("cpu");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    env.config["linux"]["resources"]["cpu"] =
        json!({"quota": 20000, "period": 100000, "shares": 512});
    env.write_config();
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "-d", "--bundle", &b, &id]);
    let usage = || -> u64 {
        cgroup_file(&cgroups_path(&id), "cpuacct", "cpuacct.usage")
            .trim()
            .parse()
            .unwrap()
    };
    let (u0, t0) = (usage(), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (u1, t1) = (usage(), std::time::Instant::now());
    let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    // 0.2 CPU: allow wide margins for a loaded machine, but not a full CPU.
    assert!(share > 0.05 && share < 0.35, "cpu share {share}");
    assert_eq!(
        cgroup_file(&cgroups_path(&id), "cpu", "cpu.cfs_quota_us").trim(),
        "20000"
    );
    assert_eq!(
        cgroup_file(&cgroups_path(&id), "cpu", "cpu.shares").trim(),
        "512"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&env.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(stats["type"], "stats");
    assert!(
        stats["data"]["cpu"]["throttledPeriods"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(stats["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    env.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "needs root"]
fn update_changes_limits() {
    require_root();
    let mut env = Env::new(&["/bin/sleep", "100"]);
    let id = uid("upd");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    env.write_config();
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "-d", "--bundle", &b, &id]);
    // The init is in the container's cgroup in every hierarchy, the cgroup2 one included.
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in own.lines() {
        assert!(line.ends_with(&cgroups_path(&id)), "{line}\n{own}");
    }
    env.ok(&[
        "update",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--cpu-quota",
        "50000",
        "--cpuset-cpus",
        "0",
        &id,
    ]);
    let p = cgroups_path(&id);
    assert_eq!(
        cgroup_file(&p, "memory", "memory.limit_in_bytes").trim(),
        (64u64 << 20).to_string()
    );
    assert_eq!(cgroup_file(&p, "pids", "pids.max").trim(), "50");
    assert_eq!(cgroup_file(&p, "cpu", "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(cgroup_file(&p, "cpuset", "cpuset.cpus").trim(), "0");
    // JSON resources from stdin.
    let mut c = env.cmd();
    c.args(["update", "-r", "-", &id])
        .stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids":{"limit":77}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(cgroup_file(&p, "pids", "pids.max").trim(), "77");
    // Bad values are refused and name the field.
    let out = env.run(&["update", "--cpu-quota", "10", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cpu.quota"),
        "{out:?}"
    );
    env.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "needs root"]
fn device_rules_are_enforced() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "head -c 1 /dev/null && echo null-ok; head -c 1 /dev/zero >/dev/null 2>&1 && echo zero-ok || echo zero-denied; ls -l /dev/xnull",
    ]);
    let id = uid("dev");
    env.config["linux"]["cgroupsPath"] = json!(cgroups_path(&id));
    // Deny everything; the runtime still allows the standard nodes it creates, except that
    // this spec replaces /dev/zero's rule with an explicit deny after them.
    env.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
    ]);
    env.config["linux"]["devices"] = json!([
        {"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}
    ]);
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("null-ok"), "{out}");
    assert!(out.contains("zero-ok"), "default nodes stay usable: {out}");
    assert!(
        out.contains("crw-r-----") && out.contains("1,   3"),
        "{out}"
    );

    // A device node that is neither standard nor listed in linux.devices (here the host's
    // /dev/kmsg bound in) is denied by the deny-all rule.
    let mut env2 = Env::new(&[
        "/bin/sh",
        "-c",
        "head -c 1 /dev/kmsg >/dev/null && echo kmsg-ok",
    ]);
    env2.config["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    let mut mounts = env2.config["mounts"].as_array().unwrap().clone();
    mounts.push(json!({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]}));
    env2.config["mounts"] = json!(mounts);
    env2.write_config();
    let (code, out, err) = env2.run_container();
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
}

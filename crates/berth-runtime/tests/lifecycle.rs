//! Container lifecycle through the binary: run, create/start/state/kill/delete, pause,
//! exec, list, ps, and what the container sees from inside.

mod common;

use common::{Env, require_root, uid};
use serde_json::json;

#[test]
#[ignore = "needs root"]
fn run_passes_the_exit_code_through() {
    require_root();
    let env = Env::new(&["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]);
    let (code, out, err) = env.run_container();
    assert_eq!(code, 7, "stderr: {err}");
    assert_eq!(out, "out\n");
    assert!(err.contains("err"), "{err}");
    // `run` deletes the container afterwards.
    assert_eq!(env.ok(&["list", "-q"]), "");
}

#[test]
#[ignore = "needs root"]
fn container_sees_its_own_world() {
    require_root();
    let script = r#"
        echo "pid=$$"
        echo "host=$(hostname)"
        grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status
        echo "procs=$(ls /proc | grep -c '^[0-9]')"
        echo "masked=$(cat /proc/timer_list | wc -c)"
        echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro
        touch /newfile 2>/dev/null && echo root-writable || echo root-ro
        ls /dev | tr '\n' ' '; echo
        grep -c ' / ' /proc/self/mountinfo
        touch /sys/fs/cgroup/memory/x 2>/dev/null && echo cg-writable || echo cg-ro
        echo "cgprocs=$(cat /sys/fs/cgroup/pids/cgroup.procs | wc -l)"
    "#;
    let mut env = Env::new(&["/bin/sh", "-c", script]);
    env.config["hostname"] = json!("inside");
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(out.contains("host=inside\n"), "{out}");
    // The default spec keeps AUDIT_WRITE, KILL and NET_BIND_SERVICE only.
    assert!(out.contains("CapEff:\t0000000020000420"), "{out}");
    assert!(out.contains("CapBnd:\t0000000020000420"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    // Only our own processes are visible (sh and its pipeline).
    let procs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .and_then(|v| v.trim().parse().ok())
        .expect("procs line");
    assert!(procs <= 4, "{out}");
    assert!(out.contains("masked=0"), "masked /proc/timer_list: {out}");
    assert!(out.contains("sys-ro"), "/proc/sys read-only: {out}");
    assert!(out.contains("root-ro"), "read-only rootfs: {out}");
    assert!(
        out.contains("cg-ro"),
        "cgroups are mounted read-only: {out}"
    );
    // The container's own cgroup: only its processes are listed.
    let cgprocs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("cgprocs="))
        .and_then(|v| v.trim().parse().ok())
        .expect("cgprocs line");
    assert!((1..=4).contains(&cgprocs), "{out}");
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd",
    ] {
        assert!(out.contains(&format!("{d} ")), "/dev/{d} missing: {out}");
    }
}

#[test]
#[ignore = "needs root"]
fn create_start_state_kill_delete() {
    require_root();
    let env = Env::new(&["/bin/sleep", "100"]);
    let id = uid("life");
    let b = env.bundle.to_string_lossy().into_owned();
    let pid_file = env.tmp.path().join("pid");
    env.ok(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        &pid_file.to_string_lossy(),
        &id,
    ]);
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().expect("pid");
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert_eq!(st["bundle"], json!(b));
    // A second create with the same id is refused.
    let out = env.run(&["create", "--bundle", &b, &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    env.ok(&["start", &id]);
    assert_eq!(env.state(&id)["status"], "running");
    // Starting twice is an error.
    assert!(!env.run(&["start", &id]).status.success());
    let ps: Vec<i64> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps, vec![pid]);
    let table = env.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"), "{table}");
    assert!(table.contains("sleep 100"), "{table}");

    env.ok(&["pause", &id]);
    assert_eq!(env.state(&id)["status"], "paused");
    let proc_state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(
        proc_state.contains(") D ") || proc_state.contains(") S "),
        "{proc_state}"
    );
    env.ok(&["resume", &id]);
    assert_eq!(env.state(&id)["status"], "running");

    let list = env.ok(&["list"]);
    assert!(list.starts_with("ID"), "{list}");
    assert!(list.contains(&id) && list.contains("running"), "{list}");
    let json_list: serde_json::Value =
        serde_json::from_str(&env.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json_list[0]["id"], json!(id));

    // Deleting a running container needs --force.
    let out = env.run(&["delete", &id]);
    assert!(!out.status.success());
    env.ok(&["kill", &id, "KILL"]);
    env.wait_status(&id, "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    // Killing a stopped container is an error.
    assert!(!env.run(&["kill", &id]).status.success());
    env.ok(&["delete", &id]);
    let out = env.run(&["state", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    // The cgroup is gone.
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/berth/{id}")).exists());
}

#[test]
#[ignore = "needs root"]
fn delete_of_a_created_container_kills_it() {
    require_root();
    let env = Env::new(&["/bin/true"]);
    let id = uid("created");
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["create", "--bundle", &b, &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.ok(&["delete", &id]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() || {
            // It may linger as a zombie of our test process until reaped.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        }
    );
}

#[test]
#[ignore = "needs root"]
fn exec_runs_in_the_container() {
    require_root();
    let mut env = Env::new(&["/bin/sleep", "100"]);
    env.config["hostname"] = json!("exechost");
    env.write_config();
    let id = uid("exec");
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "--detach", "--bundle", &b, &id]);
    let out = env.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; echo $FOO; ls /proc | grep -c '^[0-9]'",
        "-e",
        "FOO=bar",
    ]);
    // `-e` after the command belongs to the command, as with runc.
    assert!(out.starts_with("exechost\n"), "{out}");
    let out = env.run(&[
        "exec",
        "--env",
        "FOO=bar",
        &id,
        "sh",
        "-c",
        "echo $FOO; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bar\n");
    // --process file, as containerd and conmon use it.
    let proc_json = json!({
        "args": ["sh", "-c", "id -u; pwd"],
        "cwd": "/tmp",
        "env": ["PATH=/bin"],
        "user": {"uid": 65534, "gid": 65534},
    });
    let pf = env.tmp.path().join("process.json");
    std::fs::write(&pf, proc_json.to_string()).unwrap();
    let out = env.ok(&["exec", "--process", &pf.to_string_lossy(), &id]);
    assert_eq!(out, "65534\n/tmp\n");
    // Detached exec with a pid file.
    let pidf = env.tmp.path().join("exec.pid");
    env.ok(&[
        "exec",
        "-d",
        "--pid-file",
        &pidf.to_string_lossy(),
        &id,
        "sleep",
        "50",
    ]);
    let epid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    let pids: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "-f", "json", &id])).unwrap();
    assert!(pids.contains(&epid), "{pids:?} {epid}");
    // A missing command is reported like runc/docker expect (exit 127 upstream).
    let out = env.run(&["exec", &id, "no-such-command"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    env.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "needs root"]
fn missing_executable_fails_at_create() {
    require_root();
    let env = Env::new(&["/no/such/binary"]);
    let (code, _, err) = env.run_container();
    assert_eq!(code, 1);
    assert!(err.contains("no such file or directory"), "{err}");
    // Nothing is left behind.
    assert_eq!(env.ok(&["list", "-q"]), "");
}

#[test]
#[ignore = "needs root"]
fn invalid_configs_name_the_field() {
    require_root();
    let cases = [
        (json!("2.0.0"), "ociVersion", "ociVersion"),
        (json!(["/bin/true"]), "/process/args", ""),
    ];
    for (value, pointer, field) in cases {
        let mut env = Env::new(&["/bin/true"]);
        if pointer == "ociVersion" {
            env.config["ociVersion"] = value;
        } else {
            env.config["process"]["user"]["uid"] = json!("root");
        }
        env.write_config();
        let (code, _, err) = env.run_container();
        assert_eq!(code, 1);
        let want = if field.is_empty() {
            "process.user.uid"
        } else {
            field
        };
        assert!(err.contains(&format!("config.json: {want}")), "{err}");
    }
}

#[test]
#[ignore = "needs root"]
fn hooks_run_in_order_with_state() {
    require_root();
    let mut env = Env::new(&["/bin/true"]);
    let log = env.tmp.path().join("hooks.log");
    let hook = |name: &str| {
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("read s; echo \"{name} $s\" >> {}", log.display())],
        })
    };
    // createContainer and startContainer run inside the container (before and after
    // pivot_root); startContainer's path resolves in the container, where /bin/sh exists
    // but the log path does not, so it writes to the container's /tmp and we only check
    // the runtime-side hooks' log.
    env.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    env.write_config();
    let (code, _, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    for l in text.lines() {
        let state: serde_json::Value = serde_json::from_str(l.split_once(' ').unwrap().1).unwrap();
        assert!(state["id"].as_str().unwrap().starts_with("run-"), "{l}");
        let want = match l.split(' ').next().unwrap() {
            "poststop" => "stopped",
            "poststart" => "running",
            _ => "creating",
        };
        assert_eq!(state["status"], want, "{l}");
    }
    // A failing prestart hook aborts creation with its message.
    env.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 4"]}]});
    env.write_config();
    let (code, _, err) = env.run_container();
    assert_eq!(code, 1);
    assert!(
        err.contains("prestart hook /bin/sh: exit status 4: boom"),
        "{err}"
    );
    assert_eq!(env.ok(&["list", "-q"]), "");
}

#[test]
#[ignore = "needs root"]
fn features_report_the_cgroup_layout() {
    require_root();
    let env = Env::new(&["/bin/true"]);
    let f: serde_json::Value = serde_json::from_str(&env.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let mode = f["annotations"]["org.berth.cgroup.mode"].as_str().unwrap();
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let hybrid = std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists();
    let want = if unified {
        "v2"
    } else if hybrid {
        "hybrid"
    } else {
        "v1"
    };
    assert_eq!(mode, want, "{f}");
    assert_eq!(f["linux"]["cgroup"]["v1"], json!(want != "v2"));
    assert_eq!(f["linux"]["cgroup"]["v2"], json!(want != "v1"));
    assert!(f["linux"]["seccomp"]["enabled"].as_bool().unwrap());
    assert!(
        f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN")
    );
    let v = env.ok(&["--version"]);
    assert!(
        v.starts_with("berth-runtime version ") && v.contains("spec: 1."),
        "{v}"
    );
}

#[test]
#[ignore = "needs root"]
fn kill_all_signals_every_process() {
    require_root();
    // Without a pid namespace, the init is not special: every process gets the signal.
    let mut env = Env::new(&["/bin/sh", "-c", "sleep 100 & sleep 100 & wait"]);
    let ns: Vec<serde_json::Value> = env.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect();
    env.config["linux"]["namespaces"] = json!(ns);
    env.write_config();
    let id = uid("killall");
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "-d", "--bundle", &b, &id]);
    let mut pids: Vec<i32> = vec![];
    for _ in 0..200 {
        pids = serde_json::from_str(&env.ok(&["ps", "-f", "json", &id])).unwrap();
        if pids.len() == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(pids.len(), 3, "{pids:?}");
    env.ok(&["kill", "--all", &id, "9"]);
    env.wait_status(&id, "stopped");
    for _ in 0..200 {
        let left: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "-f", "json", &id])).unwrap();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let left: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "-f", "json", &id])).unwrap();
    assert!(left.is_empty(), "{left:?}");
    env.ok(&["delete", &id]);
}

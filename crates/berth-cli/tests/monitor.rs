//! The per-container monitor: restart policies, health checks, OOM reports, log rotation, and
//! containers that survive SIGKILL of every other Berth process.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Env, mentions, pids_of};

#[test]
#[ignore = "needs root"]
fn restart_policies() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&[
        "run",
        "-d",
        "--name",
        "fails",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    env.wait_for(20, "three restarts", || {
        env.field("fails", "{{.State.Status}} {{.RestartCount}}") == "exited 3"
    });
    assert_eq!(env.field("fails", "{{.State.ExitCode}}"), "1");
    assert_eq!(
        b.ok(&["logs", "fails"]).matches("run").count(),
        4,
        "first run plus three restarts"
    );

    // on-failure leaves a clean exit alone; always restarts it until stopped.
    b.ok(&[
        "run",
        "-d",
        "--name",
        "clean",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    b.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    env.wait_for(20, "always to restart", || {
        env.field("always", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 2
    });
    env.wait_for(5, "clean to exit", || {
        env.field("clean", "{{.State.Status}}") == "exited"
    });
    assert_eq!(env.field("clean", "{{.RestartCount}}"), "0");
    b.ok(&["stop", "-t", "1", "always"]);
    let n = env.field("always", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        env.field("always", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {n}")
    );
    assert_eq!(
        env.field("always", "{{.HostConfig.RestartPolicy.Name}}"),
        "always"
    );
    let (code, _, err) = b.run(&["run", "--restart", "sometimes", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("sometimes"), "{err}");
    let (code, _, err) = b.run(&["run", "--rm", "--restart", "always", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("conflict") || err.contains("cannot"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn restore_after_a_simulated_reboot() {
    let env = Env::with_busybox();
    let b = &env.b;
    let run = |name: &str, policy: &str| {
        b.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]);
    };
    run("always", "always");
    run("unless", "unless-stopped");
    run("stopped", "unless-stopped");
    run("never", "no");
    run("always-stopped", "always");
    b.ok(&["stop", "-t", "0", "stopped", "always-stopped"]);
    // A reboot: every monitor and container process dies at once.
    let pids: Vec<i32> = ["always", "unless", "never"]
        .iter()
        .map(|n| env.field(n, "{{.State.Pid}}").parse().unwrap())
        .collect();
    // Monitors and their keepers (both are berth-monitor processes).
    let monitors: Vec<i32> = pids_of(&common::monitor_bin())
        .into_iter()
        .filter(|p| mentions(*p, &b.root))
        .collect();
    assert_eq!(
        monitors
            .iter()
            .filter(|p| common::comm(**p) == "berth-monitor")
            .count(),
        3,
        "{monitors:?}"
    );
    // All at once, as a power cut: stopped first, so that none reacts to another's death
    // (a keeper would start an adopter), then killed.
    for sig in [libc::SIGSTOP, libc::SIGKILL] {
        for p in monitors.iter().chain(&pids) {
            // SAFETY: kill(2) on a pid we just found to be one of ours.
            unsafe { libc::kill(*p, sig) };
        }
    }
    env.wait_for(5, "the processes to die", || {
        pids.iter().all(|p| !common::running(*p))
    });
    // A reboot empties the run root (a tmpfs): the runtime has forgotten every container.
    std::fs::remove_dir_all(b.root.join("run")).unwrap();
    let restored = b.ok(&["system", "restore"]);
    let mut names: Vec<&str> = restored.lines().collect();
    names.sort();
    // As Docker's daemon at start: always (even when stopped by the user) and
    // unless-stopped (unless stopped by the user).
    assert_eq!(names, ["always", "always-stopped", "unless"]);
    for (name, want) in [
        ("always", "running"),
        ("always-stopped", "running"),
        ("unless", "running"),
        ("stopped", "exited"),
        ("never", "exited"),
    ] {
        assert_eq!(env.field(name, "{{.State.Status}}"), want, "{name}");
    }
    let new_pid: i32 = env.field("always", "{{.State.Pid}}").parse().unwrap();
    assert!(!pids.contains(&new_pid));
    // Nothing more to do the second time.
    assert_eq!(b.ok(&["system", "restore"]), "");
}

#[test]
#[ignore = "needs root"]
fn health_status_follows_the_check() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        "busybox",
        "sleep",
        "1000",
    ]);
    let status = || env.field("hc", "{{.State.Health.Status}}");
    assert_eq!(status(), "starting");
    env.wait_for(10, "unhealthy", || status() == "unhealthy");
    b.ok(&["exec", "hc", "touch", "/tmp/ok"]);
    env.wait_for(10, "healthy", || status() == "healthy");
    let log = env.field("hc", "{{json .State.Health.Log}}");
    assert!(log.contains("ExitCode"), "{log}");
    assert!(
        b.ok(&["ps", "--format", "{{.Status}}"])
            .contains("(healthy)")
    );
    let events = b.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "container=hc",
    ]);
    assert!(events.contains("health_status"), "{events}");
    b.ok(&["rm", "-f", "hc"]);
    // --no-healthcheck wins over the flags' absence and the image's check.
    b.ok(&[
        "run",
        "-d",
        "--name",
        "nohc",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(env.field("nohc", "{{json .State.Health}}"), "null");
}

#[test]
#[ignore = "needs root"]
fn start_interval_paces_checks_while_starting() {
    let env = Env::with_busybox();
    let b = &env.b;
    // Docker's timing: during the start period, while "starting", checks run every
    // start interval (here 100 ms) instead of every interval (5 s).
    b.ok(&[
        "run",
        "-d",
        "--name",
        "paced",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-interval",
        "5s",
        "--health-start-period",
        "60s",
        "--health-start-interval",
        "100ms",
        "busybox",
        "sleep",
        "100",
    ]);
    env.wait_for(4, "several checks before the first interval", || {
        env.field("paced", "{{len .State.Health.Log}}") == "5"
    });
    assert_eq!(env.field("paced", "{{.State.Health.Status}}"), "starting");
    assert_eq!(
        env.field("paced", "{{.Config.Healthcheck.StartInterval}}"),
        "100ms"
    );
    b.ok(&["exec", "paced", "touch", "/tmp/ready"]);
    env.wait_for(4, "healthy", || {
        env.field("paced", "{{.State.Health.Status}}") == "healthy"
    });
}

#[test]
#[ignore = "needs root"]
fn oom_kill_is_reported() {
    let env = Env::with_busybox();
    let b = &env.b;
    // dd allocates (and touches) its 64 MiB block in a 16 MiB container.
    let (code, _, _) = b.run(&[
        "run",
        "--name",
        "oom",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(code, 137);
    assert_eq!(
        env.field("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    let events = b.ok(&["events", "--since", "0", "--until", "0s"]);
    assert!(events.contains("container oom"), "{events}");
    assert_eq!(
        env.field("oom", "{{.HostConfig.Memory}}"),
        (16 * 1024 * 1024).to_string()
    );
}

#[test]
#[ignore = "needs root"]
fn logs_rotate_and_follow() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let logpath = env.field("chatty", "{{.LogPath}}");
    let size = std::fs::metadata(&logpath).unwrap().len();
    assert!(size <= 10 * 1024, "log not rotated: {size}");
    assert!(Path::new(&format!("{logpath}.1")).exists());
    assert!(
        !Path::new(&format!("{logpath}.2")).exists(),
        "max-file=2 keeps two files"
    );
    let out = b.ok(&["logs", "chatty"]);
    assert!(out.ends_with("line-1999\n"));
    assert!(!out.contains("line-0\n"), "the oldest lines are gone");
    assert_eq!(
        b.ok(&["logs", "--tail", "2", "chatty"]),
        "line-1998\nline-1999\n"
    );
    // Each line is Docker's json-file format.
    let first = std::fs::read_to_string(&logpath).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(v["stream"], "stdout");
    assert!(v["log"].as_str().unwrap().starts_with("line-") && v["time"].is_string());

    // logs -f follows until the container exits.
    b.ok(&[
        "run",
        "-d",
        "--name",
        "follow",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 0.5; echo two",
    ]);
    let out = b.ok(&["logs", "-f", "follow"]);
    assert_eq!(out, "one\ntwo\n");
    // Defaults from berth.toml's [log-opts] (a flag still wins).
    let conf = env.dir.path().join("berth.toml");
    std::fs::write(
        &conf,
        format!(
            "{}[log-opts]\nmax-size = \"4k\"\nmax-file = 2\n",
            common::NO_BRIDGE
        ),
    )
    .unwrap();
    let o = b
        .cmd()
        .env("BERTH_CONFIG", &conf)
        .args([
            "run",
            "--name",
            "tomlcfg",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 1000 ]; do echo l-$i; i=$((i+1)); done",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        env.field(
            "tomlcfg",
            "{{index .HostConfig.LogConfig.Config \"max-size\"}}"
        ),
        "4k"
    );
    let logpath = env.field("tomlcfg", "{{.LogPath}}");
    assert!(std::fs::metadata(&logpath).unwrap().len() <= 4096);
    std::fs::write(
        &conf,
        format!("{}[log-opts]\nmax-size = \"huge\"\n", common::NO_BRIDGE),
    )
    .unwrap();
    let o = b
        .cmd()
        .env("BERTH_CONFIG", &conf)
        .args(["run", "busybox", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("huge"));
    let (code, _, err) = b.run(&["run", "--log-opt", "max-size=lots", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("max-size"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn containers_survive_sigkill_of_every_other_berth_process() {
    let env = Env::with_busybox();
    let b = &env.b;
    for i in 0..20 {
        b.ok(&[
            "run",
            "-d",
            "--name",
            &format!("k{i}"),
            "busybox",
            "sh",
            "-c",
            "echo hello-$HOSTNAME; exec sleep 1000",
        ]);
    }
    // Long-lived clients: logs -f, attach, wait.
    let mut clients = Vec::new();
    for args in [
        vec!["logs", "-f", "k0"],
        vec!["attach", "k1"],
        vec!["wait", "k2"],
    ] {
        clients.push(
            b.cmd()
                .args(&args)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let mine: Vec<i32> = pids_of(berth)
        .into_iter()
        .filter(|p| mentions(*p, &b.root))
        .collect();
    assert!(mine.len() >= 3, "clients not found: {mine:?}");
    for p in &mine {
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    for mut c in clients {
        let _ = c.wait();
    }
    assert_eq!(
        b.ok(&["ps", "-q"]).lines().count(),
        20,
        "a container died with the clients"
    );
    assert!(b.ok(&["logs", "k5"]).starts_with("hello-"));
    b.ok(&["stop", "-t", "0", "k3"]);
    assert_eq!(env.field("k3", "{{.State.Status}}"), "exited");

    // SIGKILL one monitor: its container goes on, adopted by a new monitor.
    let victim: i32 = env.field("k4", "{{.State.Pid}}").parse().unwrap();
    let id = env.field("k4", "{{.Id}}");
    let monitor = common::monitor_of(&id).expect("k4's monitor");
    // SAFETY: kill(2) of the monitor this test started.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    env.wait_for(2, "a new monitor", || {
        common::monitor_of(&id).is_some_and(|m| m != monitor)
    });
    assert!(
        common::running(victim),
        "the container died with its monitor"
    );
    assert_eq!(env.field("k4", "{{.State.Status}}"), "running");
    assert_eq!(b.ok(&["ps", "-q"]).lines().count(), 19);
    b.ok(&["stop", "-t", "0", "k4"]);
    assert_eq!(
        env.field("k4", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(b.ok(&["ps", "-q"]).lines().count(), 18);
}

#[test]
#[ignore = "needs root"]
fn log_driver_none_keeps_nothing() {
    let env = Env::with_busybox();
    let b = &env.b;
    // Attached output still reaches the client; nothing is kept.
    let out = b.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "shown",
    ]);
    assert_eq!(out, "shown\n");
    let (code, _, err) = b.run(&["logs", "quiet"]);
    assert_ne!(code, 0);
    assert!(err.contains("does not support reading"), "{err}");
    assert_eq!(env.field("quiet", "{{.HostConfig.LogConfig.Type}}"), "none");
    let id = env.field("quiet", "{{.Id}}");
    let log = b
        .root
        .join("containers")
        .join(&id)
        .join(format!("{id}-json.log"));
    assert_eq!(std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0), 0);
    let (code, _, err) = b.run(&["run", "--log-driver", "syslog", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("not supported"), "{err}");
}

/// No Berth process's death stops a container: a killed monitor is replaced by one that
/// adopts the container (its keeper holds the stdio meanwhile), the log keeps every line,
/// the exit code is the container's; a killed keeper is replaced; with both killed at once
/// the next command adopts the container (its later output is lost, not its life).
#[test]
#[ignore = "needs root"]
fn killed_monitors_are_replaced() {
    let env = Env::with_busybox();
    let b = &env.b;
    let id = b
        .ok(&[
            "run",
            "-d",
            "--name",
            "counter",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 40 ]; do echo n$i; i=$((i+1)); sleep 0.05; done; exit 5",
        ])
        .trim()
        .to_string();
    env.wait_for(5, "output", || b.ok(&["logs", "counter"]).contains("n3\n"));
    let first = common::monitor_of(&id).expect("the monitor");
    // SAFETY: kill(2) of the monitor this test started.
    unsafe { libc::kill(first, libc::SIGKILL) };
    env.wait_for(5, "an adopting monitor", || {
        common::monitor_of(&id).is_some_and(|m| m != first)
    });
    env.wait_for(10, "the counter to end", || {
        env.field("counter", "{{.State.Status}}") == "exited"
    });
    assert_eq!(env.field("counter", "{{.State.ExitCode}}"), "5");
    common::assert_counter_log(&b.ok(&["logs", "counter"]), Some(40), 1);

    // A keeper killed is replaced by its monitor; then that monitor's death is survived.
    let id = b
        .ok(&["run", "-dit", "--name", "shell", "busybox", "sh"])
        .trim()
        .to_string();
    // A new monitor forks its keeper once the container has started.
    env.wait_for(5, "the keeper", || common::keeper_of(&id).is_some());
    let keeper = common::keeper_of(&id).expect("the keeper");
    // SAFETY: kill(2) of the keeper this test started.
    unsafe { libc::kill(keeper, libc::SIGKILL) };
    env.wait_for(5, "a new keeper", || {
        common::keeper_of(&id).is_some_and(|k| k != keeper)
    });
    let monitor = common::monitor_of(&id).expect("the monitor");
    // SAFETY: kill(2) of the monitor this test started.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    env.wait_for(5, "an adopting monitor", || {
        common::monitor_of(&id).is_some_and(|m| m != monitor)
    });
    // The terminal did not hang up: the shell is there and answers.
    assert_eq!(env.field("shell", "{{.State.Status}}"), "running");
    assert_eq!(
        b.ok(&["exec", "shell", "echo", "still-here"]),
        "still-here\n"
    );

    b.ok(&["rm", "-f", "shell"]);

    // Both killed at once: the next command adopts the container (one that does not need
    // its stdio: a terminal's shell would read EOF), and stop still works.
    let id = b
        .ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    env.wait_for(5, "the keeper", || common::keeper_of(&id).is_some());
    let (m, k) = (
        common::monitor_of(&id).expect("monitor"),
        common::keeper_of(&id).expect("keeper"),
    );
    // SAFETY: kill(2) of processes this test started.
    unsafe {
        libc::kill(m, libc::SIGKILL);
        libc::kill(k, libc::SIGKILL);
    }
    env.wait_for(5, "both to die", || {
        !common::running(m) && !common::running(k)
    });
    assert_eq!(env.field("sleeper", "{{.State.Status}}"), "running");
    env.wait_for(5, "an adopter", || common::monitor_of(&id).is_some());
    b.ok(&["stop", "-t", "0", "sleeper"]);
    assert_eq!(
        env.field("sleeper", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(common::monitor_of(&id).is_none() && common::keeper_of(&id).is_none());
}

//! End-to-end container lifecycle through the `berth` binary with the busybox image.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Env;

#[test]
#[ignore = "needs root"]
fn attached_run_streams_and_exit_codes() {
    let env = Env::with_busybox();
    let b = &env.b;
    let (code, out, err) = b.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!((code, out.as_str(), err.as_str()), (3, "out\n", "err\n"));

    // stdin through -i, image CMD, env, workdir, user, hostname.
    let mut child = b
        .cmd()
        .args(["run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "HELLO\n");
    let out = b.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp/w",
        "-u",
        "1000:1000",
        "-h",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g) $(hostname) $(cat /etc/hostname)",
    ]);
    assert_eq!(out, "1 /tmp/w 1000:1000 box box\n");
    let env_file = env.dir.path().join("env");
    std::fs::write(&env_file, "# comment\nX=from-file\n").unwrap();
    let out = b.ok(&[
        "run",
        "--rm",
        "--env-file",
        env_file.to_str().unwrap(),
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo $X",
    ]);
    assert_eq!(out, "from-file\n");

    // Docker's exit codes for what could not start, and nothing is left behind.
    assert_eq!(b.run(&["run", "--rm", "busybox", "no-such-cmd"]).0, 127);
    assert_eq!(b.run(&["run", "--rm", "busybox", "/etc/passwd"]).0, 126);
    let (code, _, err) = b.run(&["run", "--pull", "never", "no-such-image"]);
    assert_eq!(code, 125);
    assert!(err.contains("no-such-image"), "{err}");
    let (code, _, err) = b.run(&["run", "--name", "bad/name", "busybox"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("bad/name"), "{err}");
    let (code, _, err) = b.run(&["run", "--memory", "lots", "busybox"]);
    assert_eq!(code, 125, "{err}");
    let (code, _, _) = b.run(&["run", "--no-such-flag", "busybox"]);
    assert_eq!(code, 125);
    assert_eq!(b.ok(&["ps", "-aq"]), "", "failed runs left containers");
    assert!(
        env.leftover_mounts().is_empty(),
        "{:?}",
        env.leftover_mounts()
    );

    // A name in use is a conflict; inspect shows the config merged with the image's.
    b.ok(&[
        "create", "--name", "taken", "-e", "X=1", "--expose", "9000", "busybox",
    ]);
    assert_eq!(
        env.field(
            "taken",
            "{{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.ExposedPorts}}"
        ),
        r#"["sh"] ["X=1"] {"9000/tcp":{}}"#
    );
    let (code, _, err) = b.run(&["create", "--name", "taken", "busybox"]);
    // A name in use is the engine's refusal: docker's create exits 1 for it.
    assert_eq!(code, 1);
    assert!(
        err.contains("taken") && err.contains("already in use"),
        "{err}"
    );
    let (code, _, err) = b.run(&["stop", "nonexistent"]);
    assert_eq!(code, 1);
    assert!(err.contains("nonexistent"), "{err}");
}

/// Opens a pty pair; the slave end becomes the controlling terminal of `cmd`.
fn spawn_on_pty(mut cmd: std::process::Command) -> (std::fs::File, std::process::Child) {
    let pty = nix::pty::openpty(
        Some(&nix::pty::Winsize {
            ws_row: 30,
            ws_col: 90,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }),
        None,
    )
    .unwrap();
    let slave = std::fs::File::from(pty.slave);
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    let fd = slave.as_raw_fd();
    // SAFETY: setsid and ioctl are async-signal-safe; runs in the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop(slave);
    (std::fs::File::from(pty.master), child)
}

/// Reads from the pty until `needle` shows up (or panics after 10 s).
fn read_until(master: &mut std::fs::File, seen: &mut String, needle: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        assert!(
            Instant::now() < end,
            "no {needle:?} on the terminal; saw {seen:?}"
        );
        let mut pfd = [libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(pfd.as_mut_ptr(), 1, 200) };
        if pfd[0].revents & libc::POLLIN != 0 {
            match master.read(&mut buf) {
                Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => break,
            }
        }
    }
    assert!(
        seen.contains(needle),
        "no {needle:?} on the terminal; saw {seen:?}"
    );
}

#[test]
#[ignore = "needs root"]
fn interactive_tty_and_detach_keys() {
    let env = Env::with_busybox();
    let b = &env.b;
    let mut cmd = b.cmd();
    cmd.args(["run", "-it", "--name", "tty1", "busybox", "sh"]);
    let (mut master, mut child) = spawn_on_pty(cmd);
    let mut seen = String::new();
    master
        .write_all(b"tty; stty size; echo sum=$((40+2))\n")
        .unwrap();
    read_until(&mut master, &mut seen, "sum=42");
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    assert!(seen.contains("30 90"), "window size not passed: {seen}");
    // ctrl-p ctrl-q detaches and leaves the container running.
    master.write_all(&[16, 17]).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(env.field("tty1", "{{.State.Status}}"), "running");

    // exec -it gets its own terminal and returns the process's code.
    let mut cmd = b.cmd();
    cmd.args(["exec", "-it", "tty1", "sh", "-c", "tty; stty size; exit 4"]);
    let (mut master, mut child) = spawn_on_pty(cmd);
    let mut seen = String::new();
    read_until(&mut master, &mut seen, "30 90");
    assert!(seen.contains("/dev/pts/"), "{seen}");
    assert_eq!(child.wait().unwrap().code(), Some(4));

    // Attach again, exit with a code: attach returns it.
    let mut cmd = b.cmd();
    cmd.args(["attach", "tty1"]);
    let (mut master, mut child) = spawn_on_pty(cmd);
    std::thread::sleep(Duration::from_millis(200));
    master.write_all(b"echo again; exit 7\n").unwrap();
    let mut seen = String::new();
    read_until(&mut master, &mut seen, "again");
    assert_eq!(child.wait().unwrap().code(), Some(7));
    assert_eq!(env.field("tty1", "{{.State.ExitCode}}"), "7");
    // -it without a terminal is refused: a usage error, exit 1 as docker's.
    let (code, _, err) = b.run(&["run", "-it", "--rm", "busybox"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a TTY"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn detached_logs_exec_stop_restart_rm() {
    let env = Env::with_busybox();
    let b = &env.b;
    let id = b.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "app=demo",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    env.wait_for(5, "the first log line", || {
        b.ok(&["logs", "web"]).contains("started")
    });
    assert_eq!(
        env.field("web", "{{.State.Status}} {{.Config.Labels.app}}"),
        "running demo"
    );
    let (code, out, err) = b.run(&["logs", "-t", "web"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("20") && out.contains("Z started"), "{out}");

    // exec: env, workdir, user, exit code, stdin, detached.
    let out = b.ok(&[
        "exec",
        "-e",
        "V=x",
        "-w",
        "/etc",
        "-u",
        "65534",
        "web",
        "sh",
        "-c",
        "echo $V $(pwd) $(id -u)",
    ]);
    assert_eq!(out, "x /etc 65534\n");
    assert_eq!(b.run(&["exec", "web", "sh", "-c", "exit 9"]).0, 9);
    assert_eq!(b.run(&["exec", "web", "no-such-cmd"]).0, 127);
    b.ok(&["exec", "-d", "web", "sh", "-c", "echo from-exec-d > /tmp/d"]);
    env.wait_for(5, "exec -d", || {
        b.run(&["exec", "web", "cat", "/tmp/d"]).1 == "from-exec-d\n"
    });
    let top = b.ok(&["top", "web"]);
    assert!(top.contains("PID") && top.contains("sh -c"), "{top}");
    let stats = b.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "web",
    ]);
    assert!(stats.starts_with("web "), "{stats}");

    // ps: filters and formats.
    b.ok(&["create", "--name", "idle", "busybox"]);
    assert_eq!(b.ok(&["ps", "--format", "{{.Names}}"]), "web\n");
    assert_eq!(
        b.ok(&[
            "ps",
            "-a",
            "--filter",
            "status=created",
            "--format",
            "{{.Names}}"
        ]),
        "idle\n"
    );
    assert_eq!(
        b.ok(&["ps", "-a", "--filter", "label=app=demo", "-q"])
            .trim(),
        &id[..12]
    );
    assert_eq!(
        b.ok(&["ps", "-a", "--filter", "name=idl", "--format", "{{.Names}}"]),
        "idle\n"
    );
    assert_eq!(b.ok(&["ps", "-l", "--format", "{{.Names}}"]), "idle\n");
    let names = |filter: &str| b.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    assert_eq!(names("since=web"), "idle\n");
    assert_eq!(names("before=idle"), "web\n");
    assert_eq!(names("network=host"), "");
    assert_eq!(names("is-task=true"), "");
    assert_eq!(names("publish=80"), "");
    assert_eq!(names("network=none").lines().count(), 2);
    let (code, _, err) = b.run(&["ps", "--filter", "color=red"]);
    assert_ne!(code, 0);
    assert!(
        err.to_lowercase().contains("invalid filter 'color'"),
        "{err}"
    );
    let json = b.ok(&["ps", "-a", "--format", "json"]);
    assert_eq!(json.lines().count(), 2);
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["ID"].is_string() && v["Names"].is_string(), "{l}");
    }
    let ins: serde_json::Value = serde_json::from_str(&b.ok(&["inspect", "web"])).unwrap();
    assert_eq!(ins[0]["Id"], id);
    assert_eq!(ins[0]["Name"], "/web");
    assert_eq!(ins[0]["State"]["Running"], true);
    assert!(ins[0]["State"]["Pid"].as_i64().unwrap() > 0);
    // No --network (and no default bridge here): Docker's "default".
    assert_eq!(ins[0]["HostConfig"]["NetworkMode"], "default");

    // stop runs the trap; restart brings it back; kill -s; rm refuses a running one.
    b.ok(&["stop", "-t", "5", "web"]);
    assert_eq!(
        env.field("web", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    assert!(b.ok(&["logs", "--tail", "1", "web"]).contains("bye"));
    b.ok(&["restart", "-t", "1", "web"]);
    assert_eq!(env.field("web", "{{.State.Status}}"), "running");
    b.ok(&["pause", "web"]);
    assert_eq!(env.field("web", "{{.State.Status}}"), "paused");
    b.ok(&["unpause", "web"]);
    b.ok(&["kill", "-s", "KILL", "web"]);
    env.wait_for(5, "the kill", || {
        env.field("web", "{{.State.Status}}") == "exited"
    });
    assert_eq!(b.ok(&["wait", "web"]).trim(), "137");
    b.ok(&["start", "web"]);
    let (code, _, err) = b.run(&["rm", "web"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("stop the container before removing") || err.contains("force"),
        "{err}"
    );
    b.ok(&["rename", "web", "web2"]);
    b.ok(&["rm", "-f", "web2", "idle"]);
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    assert!(
        env.leftover_mounts().is_empty(),
        "{:?}",
        env.leftover_mounts()
    );
}

#[test]
#[ignore = "needs root"]
fn rm_flag_cleans_everything() {
    let env = Env::with_busybox();
    let b = &env.b;
    let id = b
        .ok(&["create", "--rm", "busybox", "true"])
        .trim()
        .to_string();
    b.ok(&["start", "-a", &id]);
    env.wait_for(5, "removal", || b.ok(&["ps", "-aq"]).is_empty());
    let out = b.ok(&[
        "run",
        "--rm",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f; cat /data/f",
    ]);
    assert_eq!(out, "x\n");
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    assert_eq!(
        b.ok(&["volume", "ls", "-q"]),
        "",
        "anonymous volume of --rm not removed"
    );
    assert!(
        env.leftover_mounts().is_empty(),
        "{:?}",
        env.leftover_mounts()
    );
    let root = &b.root;
    let left: Vec<_> = std::fs::read_dir(root.join("containers"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "container directories left: {left:?}");
    if let Ok(rd) = std::fs::read_dir(root.join("run/runtime")) {
        let left: Vec<_> = rd
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('@'))
            .collect();
        assert!(left.is_empty(), "runtime state left: {left:?}");
    }
    for cg in [
        "/sys/fs/cgroup/memory/berth",
        "/sys/fs/cgroup/pids/berth",
        "/sys/fs/cgroup/unified/berth",
        "/sys/fs/cgroup/berth",
    ] {
        let p = std::path::Path::new(cg).join(&id);
        assert!(!p.exists(), "{} left", p.display());
    }
}

#[test]
#[ignore = "needs root"]
fn twenty_parallel_detached_runs() {
    let env = Env::with_busybox();
    let b = &env.b;
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let mut c = b.cmd();
            c.args([
                "run",
                "-d",
                "--name",
                &format!("p{i}"),
                "busybox",
                "sleep",
                "1000",
            ]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    for h in handles {
        let o = h.join().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(b.ok(&["ps", "-q"]).lines().count(), 20);
    let ids: Vec<String> = b.ok(&["ps", "-q"]).lines().map(String::from).collect();
    let mut args = vec!["stop", "-t", "0"];
    args.extend(ids.iter().map(|s| s.as_str()));
    b.ok(&args);
    assert_eq!(b.ok(&["ps", "-q"]), "");
    assert_eq!(
        b.ok(&["ps", "-aq", "--filter", "exited=137"])
            .lines()
            .count(),
        20
    );
    let pruned = b.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Deleted Containers"), "{pruned}");
    assert_eq!(b.ok(&["ps", "-aq"]), "");
}

#[test]
#[ignore = "needs root"]
fn system_prune_removes_what_docker_would() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&[
        "run", "--name", "done", "-v", "/anon", "-v", "named:/n", "busybox", "true",
    ]);
    b.ok(&["run", "-d", "--name", "live", "busybox", "sleep", "100"]);
    b.ok(&["commit", "done", "mine:1"]);
    b.ok(&["tag", "mine:1", "mine:2"]);
    b.ok(&["rmi", "mine:1"]);
    // Without -f it asks, and "no" (here: no answer) changes nothing.
    let (code, _, err) = b.run(&["system", "prune"]);
    assert_eq!(code, 0);
    assert!(err.contains("Are you sure you want to continue?"), "{err}");
    assert_eq!(b.ok(&["ps", "-aq"]).lines().count(), 2);

    let out = b.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Names}}"]), "live\n");
    // Only the anonymous volume goes, as with Docker's --volumes.
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "named\n");
    // mine:2 is tagged, so only -a removes it; busybox is used by "live".
    assert!(b.ok(&["images", "-q", "mine"]).trim().len() == 12);
    let out = b.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: mine:2"), "{out}");
    assert_eq!(
        b.ok(&["images", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    let (code, _, err) = b.run(&["system", "prune", "-f", "--filter", "until=1h"]);
    assert_ne!(code, 0);
    assert!(err.contains("not supported"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn info_and_version_describe_the_host_and_the_store() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "100"]);
    b.ok(&["create", "--name", "idle", "busybox"]);
    let v: serde_json::Value =
        serde_json::from_str(&b.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_eq!(v["Containers"], 2, "{v}");
    assert_eq!(v["ContainersRunning"], 1, "{v}");
    assert_eq!(v["ContainersStopped"], 1, "{v}");
    assert_eq!(v["Images"], 1, "{v}");
    assert_eq!(v["CgroupDriver"], "cgroupfs");
    let cg = v["CgroupVersion"].as_str().unwrap_or_default().to_string();
    assert!(cg == "1" || cg == "2", "{v}");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(v["KernelVersion"], kernel.trim());
    assert_eq!(v["DockerRootDir"], b.root.to_str().unwrap());
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    let text = b.ok(&["info"]);
    for line in [
        "Containers: 2",
        " Running: 1",
        "Cgroup Version:",
        "Storage Driver:",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let ver = b.ok(&["version", "--format", "{{.Client.Version}} {{.Server.Os}}"]);
    assert_eq!(ver.trim(), format!("{} linux", env!("CARGO_PKG_VERSION")));
    assert!(b.ok(&["version"]).contains("berth-runtime"));
}

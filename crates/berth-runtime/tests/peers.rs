//! Real engines drive berth-runtime in place of runc: Debian's podman (through conmon) and
//! Debian's docker.io daemon (through containerd's shim), including interactive `-it`.
//! Each test skips with a message when its engine is not installed; CI installs both.
//! Containers use `--network none`: these tests never touch host networking.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, require_root};

fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

fn rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    common::busybox_rootfs(&rootfs);
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.stdin(Stdio::null()).output().expect("spawn");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `c` with a pty as its stdio, types `input`, and returns (exit code, output).
fn interactive(mut c: Command, input: &str, expect: &str) -> (i32, String) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    c.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: in the child before exec: a new session with the pty as controlling terminal,
    // as a shell would give an interactive command.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut c, || {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = c.spawn().expect("spawn interactive");
    drop(slave);
    let mut m = std::fs::File::from(pty.master);
    // Give the container a moment to start its shell, then type.
    std::thread::sleep(Duration::from_millis(300));
    m.write_all(input.as_bytes()).unwrap();
    let mut acc = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !acc.contains(expect) && Instant::now() < deadline {
        match m.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => acc.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let code = wait_timeout(&mut child, Duration::from_secs(30));
    (code, acc)
}

fn wait_timeout(child: &mut Child, t: Duration) -> i32 {
    let deadline = Instant::now() + t;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--runtime",
                BIN,
            ]);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-af", "-t", "0"]).output();
    }
}

#[test]
#[ignore = "needs root"]
fn podman_runs_containers_through_berth_runtime() {
    require_root();
    assert!(
        have("podman"),
        "podman is not installed: apt-get install podman"
    );
    let dir = tempfile::Builder::new()
        .prefix("berth-podman")
        .tempdir()
        .unwrap();
    // This host's root cannot raise rlimits: ask podman for ones within the hard limit.
    std::fs::write(
        dir.path().join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n[engine]\nevents_logger = \"file\"\n",
    )
    .unwrap();
    let tar = rootfs_tar(dir.path());
    let p = Podman { dir };
    let (code, _, err) = out(p
        .cmd()
        .args(["import", "-q", "-c", "CMD [\"/bin/sh\"]"])
        .arg(&tar)
        .arg("localhost/busybox:latest"));
    assert_eq!(code, 0, "{err}");
    let (_, info, _) = out(p
        .cmd()
        .args(["info", "--format", "{{.Host.OCIRuntime.Path}}"]));
    assert_eq!(info.trim(), BIN);

    let run = |args: &[&str]| {
        out(p
            .cmd()
            .args(["run", "--rm", "--network", "none"])
            .args(args))
    };
    let (code, stdout, err) = run(&[
        "localhost/busybox",
        "sh",
        "-c",
        "echo hello; hostname; echo $$",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.starts_with("hello\n") && stdout.ends_with("\n1\n"),
        "{stdout}"
    );
    let (code, _, _) = run(&["localhost/busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    let (code, _, err) = run(&[
        "--memory",
        "64m",
        "localhost/busybox",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(code, 0, "{err}");

    let (code, id, err) = out(p.cmd().args([
        "run",
        "-d",
        "--network",
        "none",
        "localhost/busybox",
        "sleep",
        "100",
    ]));
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let (code, stdout, err) =
        out(p
            .cmd()
            .args(["exec", &id, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("exec-ok\nsleep"), "{stdout}");
    let (code, _, err) = out(p.cmd().args(["stop", "-t", "0", &id]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = out(p.cmd().args(["rm", &id]));
    assert_eq!(code, 0, "{err}");

    let mut c = p.cmd();
    c.args([
        "run",
        "-it",
        "--rm",
        "--network",
        "none",
        "localhost/busybox",
        "sh",
    ]);
    let (code, text) = interactive(c, "tty; echo it-$((6*7)); exit 4\n", "it-42");
    assert!(
        text.contains("/dev/pts/0") && text.contains("it-42"),
        "{text}"
    );
    assert_eq!(code, 4, "{text}");
}

struct Dockerd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("berth-docker")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("daemon.json"),
            serde_json::json!({"runtimes": {"berth": {"path": BIN}}}).to_string(),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
            ])
            .args(["--ip-masq=false", "--storage-driver=vfs"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let dk = Dockerd { dir, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if dk
                .cmd()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                return dk;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "dockerd did not start: {}",
            std::fs::read_to_string(dk.dir.path().join("dockerd.log")).unwrap_or_default()
        );
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H").arg(format!(
            "unix://{}",
            self.dir.path().join("docker.sock").display()
        ));
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Ok(o) = self.cmd().args(["ps", "-aq"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.cmd().args(["rm", "-f", id]).output();
            }
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        wait_timeout(&mut self.child, Duration::from_secs(20));
    }
}

#[test]
#[ignore = "needs root"]
fn docker_runs_containers_through_berth_runtime() {
    require_root();
    assert!(
        have("dockerd") && have("docker"),
        "docker.io is not installed: apt-get install docker.io"
    );
    let dk = Dockerd::start();
    let tar = rootfs_tar(dk.dir.path());
    let (code, _, err) = out(dk
        .cmd()
        .args(["import", "-c", "CMD [\"/bin/sh\"]"])
        .arg(&tar)
        .arg("busybox:latest"));
    assert_eq!(code, 0, "{err}");
    let run = |args: &[&str]| {
        out(dk
            .cmd()
            .args(["run", "--rm", "--runtime", "berth", "--network", "none"])
            .args(args))
    };
    let (code, stdout, err) = run(&[
        "busybox",
        "sh",
        "-c",
        "echo hello; echo $$; grep -c docker /proc/self/cgroup",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("hello\n1\n"), "{stdout}");
    let (code, _, _) = run(&["busybox", "sh", "-c", "exit 9"]);
    assert_eq!(code, 9);
    let (code, _, err) = run(&["busybox", "no-such-command"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, stdout, err) = run(&[
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, format!("{}\n20\n", 64u64 << 20));

    let (code, id, err) = out(dk.cmd().args([
        "run",
        "-d",
        "--runtime",
        "berth",
        "--network",
        "none",
        "busybox",
        "sleep",
        "100",
    ]));
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let (code, stdout, err) = out(dk.cmd().args(["exec", &id, "sh", "-c", "echo exec-ok"]));
    assert_eq!((code, stdout.as_str()), (0, "exec-ok\n"), "{err}");
    let (code, _, err) = out(dk.cmd().args(["pause", &id]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = out(dk.cmd().args(["unpause", &id]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = out(dk.cmd().args(["stop", "-t", "1", &id]));
    assert_eq!(code, 0, "{err}");
    let (_, status, _) = out(dk.cmd().args([
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &id,
    ]));
    assert_eq!(status.trim(), "exited 137");

    let mut c = dk.cmd();
    c.args([
        "run",
        "-it",
        "--rm",
        "--runtime",
        "berth",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    let (code, text) = interactive(c, "tty; echo it-$((6*7)); exit 4\n", "it-42");
    assert!(
        text.contains("/dev/pts/0") && text.contains("it-42"),
        "{text}"
    );
    assert_eq!(code, 4, "{text}");
}

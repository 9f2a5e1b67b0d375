//! `Engine::exec` from a multi-threaded process (the test harness, plus threads of our own):
//! output through pipes, exit codes, terminals, signals, detached processes, cancelled
//! waits, and no helper or zombie left behind.
//!
//! They need root and /bin/busybox (Debian's busybox-static): run them with
//! `cargo test -p berth-engine --test exec -- --include-ignored` as root.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_engine::config::ContainerConfig;
use berth_engine::{Cancel, Error, ExecConfig, ExecIo, ExecProcess, StartMode, Started};
use nix::sys::signal::Signal;

mod engine_common;

/// A data root with the busybox image and one running container, removed when dropped.
struct Env {
    base: engine_common::Env,
    /// A thread that lives as long as the environment: the process is multi-threaded
    /// whatever the harness does.
    _thread: Threaded,
}

struct Threaded(
    Option<mpsc::Sender<()>>,
    Option<std::thread::JoinHandle<()>>,
);

impl Threaded {
    fn new() -> Threaded {
        let (tx, rx) = mpsc::channel::<()>();
        let h = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        Threaded(Some(tx), Some(h))
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        drop(self.0.take());
        if let Some(h) = self.1.take() {
            let _ = h.join();
        }
    }
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

impl Env {
    fn new() -> Env {
        let thread = Threaded::new();
        let base = engine_common::Env::new();
        let id = base.create(
            "box",
            ContainerConfig {
                image: "busybox".into(),
                cmd: Some(vec!["sleep".into(), "1000".into()]),
                ..Default::default()
            },
        );
        let started = base.engine.start(&id, StartMode::Now).unwrap();
        assert!(matches!(started, Started::Running(_)), "{started:?}");
        assert!(threads() > 1, "the test process must be multi-threaded");
        Env {
            base,
            _thread: thread,
        }
    }

    /// Runs `cmd` with stdout and stderr on pipes: (exit code, stdout, stderr).
    fn run(&self, cmd: &[&str]) -> (i32, String, String) {
        let (out_r, out_w) = pipe();
        let (err_r, err_w) = pipe();
        let p = self
            .exec_io(
                &config(cmd),
                ExecIo {
                    stdin: None,
                    stdout: Some(out_w.as_fd()),
                    stderr: Some(err_w.as_fd()),
                },
            )
            .unwrap();
        drop((out_w, err_w));
        let out = read_all(out_r);
        let err = read_all(err_r);
        let code = p.wait(&Cancel::new()).unwrap();
        assert_helper_gone(&p);
        (code, out, err)
    }

    fn exec(&self, cfg: &ExecConfig) -> Result<ExecProcess, Error> {
        self.exec_io(cfg, ExecIo::default())
    }

    fn exec_io(&self, cfg: &ExecConfig, io: ExecIo<'_>) -> Result<ExecProcess, Error> {
        self.base.engine.exec("box", cfg, io)
    }
}

fn config(cmd: &[&str]) -> ExecConfig {
    ExecConfig {
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

/// Whether `pid` is a process (zombies included).
fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The helper of a waited process is reaped: no process, no zombie.
fn assert_helper_gone(p: &ExecProcess) {
    assert!(
        !exists(p.helper_pid()),
        "helper {} left behind",
        p.helper_pid()
    );
}

/// Sends `sig`, expects exit code `code`, and no helper left.
fn signal_and_wait(p: &ExecProcess, sig: Signal, code: i32) {
    p.signal(sig).unwrap();
    assert_eq!(p.wait(&Cancel::new()).unwrap(), code);
    assert_helper_gone(p);
}

fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[test]
#[ignore = "needs root"]
fn output_stdin_and_exit_codes() {
    let env = Env::new();
    assert_eq!(env.run(&["true"]), (0, String::new(), String::new()));
    assert_eq!(
        env.run(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
        (3, "out\n".into(), "err\n".into())
    );
    // stdin from a pipe.
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let p = env
        .exec_io(
            &config(&["tr", "a-z", "A-Z"]),
            ExecIo {
                stdin: Some(in_r.as_fd()),
                stdout: Some(out_w.as_fd()),
                stderr: None,
            },
        )
        .unwrap();
    drop((in_r, out_w));
    nix::unistd::write(&in_w, b"ping\n").unwrap();
    drop(in_w);
    assert_eq!(read_all(out_r), "PING\n");
    assert_eq!(p.wait(&Cancel::new()).unwrap(), 0);
    // Environment, working directory and user.
    let mut cfg = config(&["sh", "-c", "echo $V $(pwd) $(id -u)"]);
    cfg.env = vec!["V=x".into()];
    cfg.working_dir = Some("/etc".into());
    cfg.user = Some("65534".into());
    let (out_r, out_w) = pipe();
    let io = ExecIo {
        stdout: Some(out_w.as_fd()),
        ..Default::default()
    };
    let p = env.exec_io(&cfg, io).unwrap();
    drop(out_w);
    assert_eq!(read_all(out_r), "x /etc 65534\n");
    assert_eq!(p.wait(&Cancel::new()).unwrap(), 0);
    // What cannot be executed: typed errors with Docker's codes and messages.
    match env.exec(&config(&["no-such-cmd"])) {
        Err(Error::ExecFailed { code: 127, msg }) => assert_eq!(
            msg,
            "exec: \"no-such-cmd\": executable file not found in $PATH"
        ),
        other => panic!("{other:?}"),
    }
    match env.exec(&config(&["/etc"])) {
        Err(Error::ExecFailed { code: 126, msg }) => {
            assert_eq!(msg, "exec: \"/etc\": is a directory")
        }
        other => panic!("{other:?}"),
    }
    match env.exec(&config(&["/etc/passwd"])) {
        Err(Error::ExecFailed { code: 126, msg }) => assert!(msg.contains("permission denied")),
        other => panic!("{other:?}"),
    }
    let mut cfg = config(&["true"]);
    cfg.working_dir = Some("tmp".into());
    let e = env.exec(&cfg).unwrap_err().to_string();
    assert_eq!(
        e,
        "the working directory 'tmp' is invalid, it needs to be an absolute path"
    );
}

#[test]
#[ignore = "needs root"]
fn concurrent_execs_from_threads() {
    let env = Env::new();
    std::thread::scope(|s| {
        for t in 0..4 {
            let env = &env;
            s.spawn(move || {
                for i in 0..5 {
                    let script = format!("echo {t}-{i}; exit {}", t * 10 + i);
                    let (code, out, _) = env.run(&["sh", "-c", &script]);
                    assert_eq!(out, format!("{t}-{i}\n"));
                    assert_eq!(code, t * 10 + i);
                }
            });
        }
    });
}

#[test]
#[ignore = "needs root"]
fn tty_exec() {
    let env = Env::new();
    let mut cfg = config(&["sh", "-c", "tty; stty size; exit 4"]);
    cfg.tty = true;
    cfg.console_size = Some((30, 90));
    let mut p = env.exec(&cfg).unwrap();
    let master = p.take_console().expect("a pty master");
    let mut seen = Vec::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    // Until the slave side is gone (EIO).
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.contains("/dev/pts/"), "{seen}");
    assert!(seen.contains("30 90"), "{seen}");
    assert_eq!(p.wait(&Cancel::new()).unwrap(), 4);
    assert_helper_gone(&p);
    // resize without a terminal is an error, not a no-op.
    let p = env.exec(&config(&["true"])).unwrap();
    assert!(p.resize(10, 10).is_err());
    assert_eq!(p.wait(&Cancel::new()).unwrap(), 0);
}

#[test]
#[ignore = "needs root"]
fn signals_reach_the_process() {
    let env = Env::new();
    let (out_r, out_w) = pipe();
    let script = "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done";
    let p = env
        .exec_io(
            &config(&["sh", "-c", script]),
            ExecIo {
                stdout: Some(out_w.as_fd()),
                ..Default::default()
            },
        )
        .unwrap();
    drop(out_w);
    let mut out = std::fs::File::from(out_r);
    let mut seen = String::new();
    let mut buf = [0u8; 64];
    while !seen.contains("ready") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "no ready line: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(p.try_wait().unwrap().is_none());
    p.signal(Signal::SIGTERM).unwrap();
    assert_eq!(p.wait(&Cancel::new()).unwrap(), 42);
    out.read_to_string(&mut seen).unwrap();
    assert!(seen.contains("got-term"), "{seen}");
    // After the exit, no signal can reach a reused pid.
    assert!(matches!(p.signal(Signal::SIGKILL), Err(Error::Conflict(_))));
    // Killed by a signal: 128+N.
    let p = env.exec(&config(&["sleep", "100"])).unwrap();
    signal_and_wait(&p, Signal::SIGKILL, 137);
}

#[test]
#[ignore = "needs root"]
fn cancelled_wait() {
    let env = Env::new();
    let p = env.exec(&config(&["sleep", "100"])).unwrap();
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        c2.cancel();
    });
    assert!(matches!(p.wait(&cancel), Err(Error::Cancelled(_))));
    assert!(t.elapsed() < Duration::from_secs(5));
    h.join().unwrap();
    // The process goes on; a later wait gets its code.
    assert!(exists(p.pid()));
    signal_and_wait(&p, Signal::SIGTERM, 143);
}

#[test]
#[ignore = "needs root"]
fn detached_exec_leaves_nothing_behind() {
    let env = Env::new();
    let mut cfg = config(&["sh", "-c", "sleep 0.3; echo done > /tmp/d"]);
    cfg.detach = true;
    let p = env.exec(&cfg).unwrap();
    let (pid, helper) = (p.pid(), p.helper_pid());
    drop(p);
    // The process runs on without us, served by its helper.
    assert!(exists(pid) && exists(helper));
    wait_until(10, "the detached process", || {
        env.run(&["cat", "/tmp/d"]).1 == "done\n"
    });
    // A detached process with a terminal: the helper keeps the pty and drains it.
    let mut cfg = config(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; touch /tmp/t",
    ]);
    cfg.detach = true;
    cfg.tty = true;
    let p = env.exec(&cfg).unwrap();
    assert!(p.console().is_none());
    let tty_helper = p.helper_pid();
    drop(p);
    wait_until(10, "the detached tty process", || {
        env.run(&["ls", "/tmp/t"]).0 == 0
    });
    // Both helpers exit with their processes; the engine's next exec reaps them.
    wait_until(10, "the helpers to exit", || {
        [helper, tty_helper].iter().all(|h| {
            std::fs::read_to_string(format!("/proc/{h}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        })
    });
    env.run(&["true"]);
    assert!(!exists(helper), "helper {helper} left as a zombie");
    assert!(!exists(tty_helper), "helper {tty_helper} left as a zombie");
}

#[test]
#[ignore = "needs root"]
fn exec_needs_a_running_container() {
    let env = Env::new();
    env.base.engine.pause("box").unwrap();
    let e = env.exec(&config(&["true"])).unwrap_err().to_string();
    assert!(
        e.contains("is paused, unpause the container before exec"),
        "{e}"
    );
    env.base.engine.unpause("box").unwrap();
    env.base
        .engine
        .stop("box", Some(Duration::from_secs(0)), None)
        .unwrap();
    let e = env.exec(&config(&["true"])).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    assert!(e.to_string().ends_with("is not running"), "{e}");
}

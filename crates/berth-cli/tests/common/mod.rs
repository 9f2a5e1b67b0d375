//! Helpers for tests that run the `berth` binary.
#![allow(dead_code)]

/// What a test that needs a program CI installs says when it is missing.
pub fn require(bin: &str, package: &str) {
    assert!(have(bin), "{bin} is missing: apt-get install {package}");
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod dockerd;
pub mod netns;
pub mod registry;

pub struct Berth {
    pub root: PathBuf,
    /// berth.toml for every command: `bridge = "none"` (see [`NO_BRIDGE`]), unless made
    /// by [`Berth::in_netns`].
    pub config: PathBuf,
    /// A network namespace (`ip netns` name) every command runs in (`nsenter --net`).
    pub netns: Option<String>,
}

/// What tests outside a throwaway network namespace put in their berth.toml: no default
/// bridge network (as dockerd's `--bridge=none`), so a container without `--network`
/// never makes a bridge or a rule on the real host. Network tests run berth inside a
/// namespace of their own (`netns::NetEnv`) without it.
pub const NO_BRIDGE: &str = "bridge = \"none\"\n";

impl Berth {
    pub fn new(root: &Path) -> Berth {
        let config = root.with_file_name(format!(
            "{}-berth.toml",
            root.file_name().and_then(|n| n.to_str()).unwrap_or("root")
        ));
        if let Some(dir) = config.parent() {
            std::fs::create_dir_all(dir).expect("config dir");
        }
        std::fs::write(&config, NO_BRIDGE).expect("write berth.toml");
        Berth {
            root: root.to_owned(),
            config,
            netns: None,
        }
    }

    /// A Berth whose commands run in network namespace `netns` (a throwaway one of the
    /// test's own), with the default bridge network on or off.
    pub fn in_netns(root: &Path, netns: &str, bridge: bool) -> Berth {
        let mut b = Berth::new(root);
        if bridge {
            std::fs::write(&b.config, "").expect("write berth.toml");
        }
        b.netns = Some(netns.to_owned());
        b
    }

    pub fn cmd(&self) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg(env!("CARGO_BIN_EXE_berth"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_berth")),
        };
        c.env("BERTH_ROOT", &self.root)
            .env("BERTH_CONFIG", &self.config)
            .stdin(Stdio::null());
        c
    }

    /// Run and return (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let o: Output = self.cmd().args(args).output().expect("run berth");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// Run, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "berth {args:?} failed: {err}");
        out
    }
}

/// The berth-monitor binary, next to `berth` (it belongs to berth-engine's package, which
/// a workspace build or test builds with it).
pub fn monitor_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_berth")).with_file_name("berth-monitor");
    assert!(
        p.exists(),
        "{} is missing: build the whole workspace (cargo build --workspace)",
        p.display()
    );
    p
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The busybox rootfs tar (scripts/mk-busybox-tar.sh), optionally with a random file of
/// `extra_mb` MiB; panics when busybox-static is missing.
pub fn busybox_tar(dir: &Path, extra_mb: u32) -> PathBuf {
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox missing: apt-get install busybox-static"
    );
    let out = dir.join(format!("busybox-{extra_mb}.tar"));
    let st = Command::new("sh")
        .arg(repo_root().join("scripts/mk-busybox-tar.sh"))
        .arg(&out)
        .arg(extra_mb.to_string())
        .status()
        .expect("run mk-busybox-tar.sh");
    assert!(st.success());
    out
}

pub fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A data root with the busybox image imported as `busybox` (CMD sh), removed with every
/// container and volume in it when dropped, also when the test failed.
pub struct Env {
    pub b: Berth,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// Panics when not root (these tests are `#[ignore = "needs root"]`: run them as root
    /// with --include-ignored) or busybox-static is missing.
    pub fn with_busybox() -> Env {
        assert!(is_root(), "needs root: run as root with --include-ignored");
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e")
            .tempdir()
            .expect("tempdir");
        let tar = busybox_tar(dir.path(), 0);
        let b = Berth::new(&dir.path().join("root"));
        b.ok(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            "busybox",
        ]);
        Env { b, dir }
    }

    /// Polls `f` every 50 ms for up to `secs` seconds.
    pub fn wait_for(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if f() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }

    /// `inspect -f TEMPLATE NAME`, trimmed.
    pub fn field(&self, name: &str, template: &str) -> String {
        self.b
            .ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }

    /// Mounts under this environment's root that are still in place.
    pub fn leftover_mounts(&self) -> Vec<String> {
        let root = self.b.root.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&root))
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.b.run(&["ps", "-aq", "--no-trunc"]).1;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = self.b.run(&args);
        }
        let _ = self.b.run(&["volume", "prune", "-f", "-a"]);
        // Whatever a failed test left mounted goes before the directory does.
        let mut mounts = self.leftover_mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

/// Pids of processes whose executable is `exe`.
pub fn pids_of(exe: &Path) -> Vec<i32> {
    let exe = exe.canonicalize().unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == exe) {
            out.push(pid);
        }
    }
    out
}

/// Whether a process runs with `root` in its command line (ours, not another test's).
pub fn mentions(pid: i32, root: &Path) -> bool {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let r = root.to_string_lossy();
    String::from_utf8_lossy(&cmd).contains(&*r) || String::from_utf8_lossy(&env).contains(&*r)
}

/// A process's name (/proc/PID/comm).
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether `pid` is a live process (not a zombie).
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// The live process named `comm` (a berth-monitor process) working for container `id`.
fn helper_of(id: &str, comm_name: &str) -> Option<i32> {
    let exe = monitor_bin().canonicalize().ok()?;
    pids_of(&exe).into_iter().find(|p| {
        comm(*p) == comm_name
            && running(*p)
            && std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(id))
    })
}

/// The live monitor (not a keeper) of container `id`.
pub fn monitor_of(id: &str) -> Option<i32> {
    helper_of(id, "berth-monitor")
}

/// The live keeper of container `id`.
pub fn keeper_of(id: &str) -> Option<i32> {
    helper_of(id, "berth-keeper")
}

/// Checks the log of a counter (`n0`, `n1`, ...): no line missing, in order, and `count`
/// lines in all when given. A monitor killed between logging a chunk of output and
/// consuming it from the pipe leaves it for its adopter, which logs it again
/// (crates/berth-engine/src/monitor/io/output.rs): lines repeated just after themselves are
/// allowed (at most `kills` times), a gap never.
pub fn assert_counter_log(log: &str, count: Option<usize>, kills: usize) {
    let mut next = 0usize;
    let mut repeats = 0;
    for line in log.lines() {
        let k: usize = line
            .strip_prefix('n')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a counter line: {line:?}"));
        if k == next {
            next += 1;
        } else if k < next {
            repeats += 1;
        } else {
            panic!("the log lost n{next}..n{}:\n{log}", k - 1);
        }
    }
    assert!(
        repeats <= kills * 64,
        "{repeats} repeated lines for {kills} kills:\n{log}"
    );
    if let Some(c) = count {
        assert_eq!(next, c, "the log ends early:\n{log}");
    }
}

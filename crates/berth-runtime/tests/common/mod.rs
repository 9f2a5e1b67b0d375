//! Shared helpers for the runtime's integration tests: a busybox bundle built from Debian's
//! busybox-static, a private state root, and the `berth-runtime` binary.
//!
//! These tests run real containers, so they need root: they are `#[ignore = "needs root"]`
//! and run as root with `--include-ignored` (CI does); run otherwise, they fail saying why.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// Panics unless the test can run: root, and busybox-static installed.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root (containers need namespaces, mounts and cgroups): run as root with \
         --include-ignored"
    );
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox missing (apt-get install busybox-static)"
    );
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique container id for this test process.
pub fn uid(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Builds a busybox rootfs in `dir`.
pub fn busybox_rootfs(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mk-busybox-rootfs.sh");
    let st = Command::new("sh")
        .arg(&script)
        .arg(dir)
        .status()
        .expect("run mk-busybox-rootfs.sh");
    assert!(st.success(), "mk-busybox-rootfs.sh failed");
}

/// A bundle (config.json + rootfs) in a temporary directory, and a private state root.
/// Dropping it force-deletes every container left in the root.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub config: Value,
}

impl Env {
    /// A bundle whose process runs `args`, from the default spec with terminal off.
    pub fn new(args: &[&str]) -> Env {
        let tmp = tempfile::Builder::new()
            .prefix("berth-rt-test")
            .tempdir()
            .expect("tempdir");
        let bundle = tmp.path().join("bundle");
        std::fs::create_dir_all(&bundle).expect("mkdir bundle");
        busybox_rootfs(&bundle.join("rootfs"));
        let root = tmp.path().join("state");
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .output()
            .expect("spec");
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value = serde_json::from_slice(
            &std::fs::read(bundle.join("config.json")).expect("read config"),
        )
        .expect("parse config");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        let env = Env {
            tmp,
            bundle,
            root,
            config,
        };
        env.write_config();
        env
    }

    /// Writes `self.config` to the bundle.
    pub fn write_config(&self) {
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.config).expect("encode"),
        )
        .expect("write config");
    }

    /// A command for the binary with this environment's state root.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root);
        c
    }

    /// Runs the binary with `args`, stdin closed, and returns its output. Output goes
    /// through files, not pipes: a container started by `create` or `run -d` inherits the
    /// runtime's stdio and would hold a pipe open for as long as it runs.
    pub fn run(&self, args: &[&str]) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let (o, e) = (
            self.tmp.path().join(format!("out.{n}")),
            self.tmp.path().join(format!("err.{n}")),
        );
        let mut c = self.cmd();
        c.args(args)
            .current_dir(&self.bundle)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).expect("stdout file"))
            .stderr(std::fs::File::create(&e).expect("stderr file"));
        let status = c.status().expect("spawn berth-runtime");
        let out = Output {
            status,
            stdout: std::fs::read(&o).unwrap_or_default(),
            stderr: std::fs::read(&e).unwrap_or_default(),
        };
        let _ = std::fs::remove_file(&o);
        let _ = std::fs::remove_file(&e);
        out
    }

    /// Like `run` but panics unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth-runtime {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `run --bundle` with the config; returns (exit code, stdout, stderr).
    pub fn run_container(&self) -> (i32, String, String) {
        let id = uid("run");
        let b = self.bundle.to_string_lossy().into_owned();
        let out = self.run(&["run", "--bundle", &b, &id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The state JSON of a container.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state json")
    }

    /// Waits until the container's status is `want` (up to 10 s).
    pub fn wait_status(&self, id: &str, want: &str) {
        for _ in 0..2000 {
            if self.state(id)["status"] == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("container {id} never became {want}: {}", self.state(id));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let out = self.cmd().args(["list", "-q"]).output();
        if let Ok(out) = out {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.cmd().args(["delete", "--force", id]).output();
            }
        }
        // The parent cgroups the runtime made for the tests' containers go when empty
        // (removing a cgroup with children fails, which leaves other tests alone).
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                for parent in ["berth-test", "berth"] {
                    let _ = std::fs::remove_dir(h.path().join(parent));
                }
            }
        }
    }
}

/// Reads a host cgroup file of container `id` under the v1 controller (or unified dir).
pub fn cgroup_file(cgroups_path: &str, controller: &str, file: &str) -> String {
    let p = PathBuf::from("/sys/fs/cgroup")
        .join(controller)
        .join(cgroups_path.trim_start_matches('/'))
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Whether `bin` is on PATH.
pub fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

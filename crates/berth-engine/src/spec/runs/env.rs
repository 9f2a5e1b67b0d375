//! Shared helpers of the spec integration tests: a busybox rootfs, specs built by
//! `berth_engine::spec::build_spec`, and containers run by the `berth-runtime` binary.
//!
//! They need root, /bin/busybox (Debian's busybox-static) and the berth-runtime binary next
//! to the test executable (`cargo build -p berth-runtime`); without them each test prints
//! why and passes without doing anything.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::config::ContainerConfig;
use crate::spec::{ResolvedMount, SpecInputs, build_spec, install_init};
use serde_json::{Value, json};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The prefix of the cgroup parent of the tests' containers; each environment has its own
/// parent, so that one test's cleanup never removes a directory another is creating in.
const CGROUP_PARENT: &str = "berth-spec-test";

/// The berth-runtime binary: target/<profile>/berth-runtime, next to deps/.
fn runtime_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // Unit tests run from target/<profile>/deps.
    let p = exe.parent()?.parent()?.join("berth-runtime");
    p.exists().then_some(p)
}

/// A test environment: a busybox rootfs, a container directory with hosts/hostname/
/// resolv.conf, and a private runtime state root. Dropping it force-deletes leftovers.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub rootfs: PathBuf,
    pub dir: PathBuf,
    pub state: PathBuf,
    pub bin: PathBuf,
    pub image: Value,
    /// This environment's cgroup parent.
    pub cgroup_parent: String,
}

/// What a container run produced.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    /// A new environment; panics when the test cannot run here (these tests are ignored
    /// unless run as root with --include-ignored, and then everything must be there).
    pub fn new() -> Env {
        assert!(
            nix::unistd::geteuid().is_root(),
            "needs root (containers need namespaces, mounts and cgroups)"
        );
        assert!(
            Path::new("/bin/busybox").exists(),
            "/bin/busybox missing (apt-get install busybox-static)"
        );
        let bin = runtime_bin().expect(
            "the berth-runtime binary is not next to the test executable (cargo build --workspace)",
        );
        let tmp = tempfile::Builder::new()
            .prefix("berth-spec-test")
            .tempdir()
            .expect("tempdir");
        let rootfs = tmp.path().join("rootfs");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mk-busybox-rootfs.sh");
        let st = Command::new("sh")
            .arg(&script)
            .arg(&rootfs)
            .status()
            .expect("run mk-busybox-rootfs.sh");
        assert!(st.success(), "mk-busybox-rootfs.sh failed");
        let dir = tmp.path().join("ctr");
        std::fs::create_dir_all(&dir).expect("mkdir ctr");
        std::fs::write(dir.join("hosts"), "127.0.0.1\tlocalhost\n").expect("hosts");
        std::fs::write(dir.join("hostname"), "spec-test\n").expect("hostname");
        std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").expect("resolv");
        let state = tmp.path().join("state");
        Env {
            tmp,
            rootfs,
            dir,
            state,
            bin,
            cgroup_parent: format!(
                "{CGROUP_PARENT}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
            image: json!({"config": {
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"]
            }}),
        }
    }

    /// A fresh 64-hex container ID.
    pub fn id(&self) -> String {
        format!(
            "{:032x}{:032x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Writes a bundle for `cfg` (running `args` in sh -c) and returns (id, bundle dir).
    pub fn bundle(&self, cfg: &ContainerConfig, mounts: &[ResolvedMount]) -> (String, PathBuf) {
        let id = self.id();
        let init = if cfg.host.init {
            Some(install_init(&self.tmp.path().join("lib")).expect("install berth-init"))
        } else {
            None
        };
        let cgroups_path = format!("/{}/{id}", self.cgroup_parent);
        let inp = SpecInputs {
            id: &id,
            config: cfg,
            image_config: &self.image,
            rootfs: &self.rootfs,
            container_dir: &self.dir,
            mounts,
            cgroups_path: &cgroups_path,
            init_path: init.as_deref(),
            netns_path: None,
            pidns_path: None,
            ipcns_path: None,
        };
        let spec = build_spec(&inp).expect("build_spec");
        let bundle = self.tmp.path().join(format!("bundle-{id}"));
        std::fs::create_dir_all(&bundle).expect("mkdir bundle");
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&spec).expect("encode spec"),
        )
        .expect("write config.json");
        (id, bundle)
    }

    fn runtime(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.state);
        c
    }

    /// Starts `berth-runtime run` for the bundle in the background, output to files.
    pub fn spawn(&self, id: &str, bundle: &Path) -> (Child, PathBuf, PathBuf) {
        let o = self.tmp.path().join(format!("out-{id}"));
        let e = self.tmp.path().join(format!("err-{id}"));
        let child = self
            .runtime()
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).expect("stdout file"))
            .stderr(std::fs::File::create(&e).expect("stderr file"))
            .spawn()
            .expect("spawn berth-runtime");
        (child, o, e)
    }

    /// Waits for a spawned run (at most 60 s) and collects its output.
    pub fn finish(&self, mut child: Child, o: &Path, e: &Path) -> Out {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("container did not finish in 60 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(o).unwrap_or_default(),
            stderr: std::fs::read_to_string(e).unwrap_or_default(),
        }
    }

    /// Runs `script` with sh -c in a container configured by `cfg` and `mounts`.
    pub fn run(&self, cfg: &ContainerConfig, mounts: &[ResolvedMount], script: &str) -> Out {
        let mut cfg = cfg.clone();
        cfg.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
        let (id, bundle) = self.bundle(&cfg, mounts);
        let (child, o, e) = self.spawn(&id, &bundle);
        self.finish(child, &o, &e)
    }

    /// `run`, asserting exit code 0; returns stdout.
    pub fn ok(&self, cfg: &ContainerConfig, mounts: &[ResolvedMount], script: &str) -> String {
        let out = self.run(cfg, mounts, script);
        assert_eq!(out.code, 0, "script {script:?} failed: {out:?}");
        out.stdout
    }

    /// Sends a signal to a container's init through the runtime. The command may already
    /// run while `berth-runtime run` has not yet recorded the end of its creation (the
    /// runtime then says "creating"): that is retried for a while.
    pub fn kill(&self, id: &str, sig: &str) {
        let mut o = self
            .runtime()
            .args(["kill", id, sig])
            .output()
            .expect("berth-runtime kill");
        for _ in 0..100 {
            if o.status.success() || !String::from_utf8_lossy(&o.stderr).contains("is creating") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            o = self
                .runtime()
                .args(["kill", id, sig])
                .output()
                .expect("berth-runtime kill");
        }
        assert!(
            o.status.success(),
            "berth-runtime kill {id} {sig} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(out) = self.runtime().args(["list", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.runtime().args(["delete", "--force", id]).output();
            }
        }
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let _ = std::fs::remove_dir(h.path().join(&self.cgroup_parent));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.cgroup_parent));
    }
}

/// Waits until `path` exists (at most 20 s).
pub fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

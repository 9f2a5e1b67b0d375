//! An engine on a private data root with the busybox image, for engine-level tests. The
//! containers, mounts and volumes a test leaves are removed when the `Env` is dropped, also
//! when the test failed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_engine::config::ContainerConfig;
use berth_engine::{CreateRequest, Engine};

pub struct Env {
    pub engine: Engine,
    pub root: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Panics unless the test can run: root, and busybox-static installed (CI installs it).
fn require() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root: run it as root with --include-ignored"
    );
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox missing: apt-get install busybox-static"
    );
}

impl Env {
    /// A data root with `busybox` imported (CMD sh).
    pub fn new() -> Env {
        require();
        let dir = tempfile::Builder::new()
            .prefix("berth-engine-test")
            .tempdir()
            .expect("tempdir");
        let tar = dir.path().join("busybox.tar");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mk-busybox-tar.sh");
        let st = Command::new("sh")
            .arg(&script)
            .arg(&tar)
            .status()
            .expect("run mk-busybox-tar.sh");
        assert!(st.success(), "mk-busybox-tar.sh failed");
        let root = dir.path().join("root");
        let store = berth_image::Store::open(&root).expect("open store");
        let f = std::fs::File::open(&tar).expect("open tar");
        store
            .import(
                f,
                &berth_image::ImportOptions {
                    changes: vec!["CMD [\"sh\"]".into()],
                    reference: Some(berth_image::Reference::parse_tagged("busybox").unwrap()),
                    source: "busybox.tar".into(),
                    ..Default::default()
                },
            )
            .expect("import busybox");
        drop(store);
        let engine = Engine::open(&root, None)
            .expect("open engine")
            .with_monitor_bin(PathBuf::from(env!("CARGO_BIN_EXE_berth-monitor")));
        Env { engine, root, dir }
    }

    /// A config running `script` with sh -c in busybox.
    pub fn config(&self, script: &str) -> ContainerConfig {
        ContainerConfig {
            image: "busybox".into(),
            cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
            ..Default::default()
        }
    }

    /// Creates a container named `name` from `config`; returns its id.
    pub fn create(&self, name: &str, config: ContainerConfig) -> String {
        self.engine
            .create(CreateRequest {
                name: Some(name.into()),
                config,
                start_next: false,
            })
            .expect("create")
            .id
    }

    /// Polls `f` every 20 ms for up to `secs` seconds.
    pub fn wait_for(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if f() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(cs) = self.engine.containers() {
            for c in cs {
                let _ = self.engine.remove(&c.id, true, true);
            }
        }
        let root = self.root.to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

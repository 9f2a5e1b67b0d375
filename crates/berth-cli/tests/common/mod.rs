//! Helpers for tests that run the `berth` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Berth {
    pub root: PathBuf,
}

impl Berth {
    pub fn new(root: &Path) -> Berth {
        Berth {
            root: root.to_owned(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.env("BERTH_ROOT", &self.root).stdin(Stdio::null());
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

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The busybox rootfs tar (scripts/mk-busybox-tar.sh), optionally with a random file of
/// `extra_mb` MiB; None with a printed reason when busybox-static is missing.
pub fn busybox_tar(dir: &Path, extra_mb: u32) -> Option<PathBuf> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: /bin/busybox missing (apt-get install busybox-static)");
        return None;
    }
    let out = dir.join(format!("busybox-{extra_mb}.tar"));
    let st = Command::new("sh")
        .arg(repo_root().join("scripts/mk-busybox-tar.sh"))
        .arg(&out)
        .arg(extra_mb.to_string())
        .status()
        .expect("run mk-busybox-tar.sh");
    assert!(st.success());
    Some(out)
}

pub fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

//! An isolated dockerd (Debian's docker.io) for tests that compare with Docker: its own
//! socket, data root and exec root in a temp dir, no iptables, and no bridge unless it runs
//! in a throwaway network namespace; stopped by its PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An isolated dockerd in a temp dir, stopped (by its PID) on drop.
pub struct Dockerd {
    child: Child,
    pub sock: PathBuf,
    dir: PathBuf,
}

impl Dockerd {
    pub fn start(dir: &Path) -> Option<Dockerd> {
        Dockerd::start_in(dir, None, false)
    }

    /// With `netns` (an `ip netns` name): the daemon runs in that network namespace, with
    /// its default bridge (docker0 there) when `bridge`; else in the test's namespace
    /// without a bridge. Never with iptables.
    pub fn start_in(dir: &Path, netns: Option<&str>, bridge: bool) -> Option<Dockerd> {
        let sock = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).ok()?;
        let mut cmd = match netns {
            Some(ns) => {
                // nsenter execs dockerd: the child's pid is the daemon's.
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg("dockerd");
                c
            }
            None => Command::new("dockerd"),
        };
        if netns.is_none() || !bridge {
            cmd.arg("--bridge=none");
        }
        let child = cmd
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args(["--iptables=false", "--ip6tables=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .ok()?;
        let d = Dockerd {
            child,
            sock,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if d.docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                return Some(d);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "dockerd did not come up: {}",
            std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
        );
        None
    }

    /// The docker client for this daemon: the current CLI (28.x) when installed, else
    /// Debian's.
    pub fn docker(&self) -> Command {
        let bin = if Path::new("/usr/local/bin/docker").exists() {
            "/usr/local/bin/docker"
        } else {
            "/usr/bin/docker"
        };
        let mut c = Command::new(bin);
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            // No "What's next" hints from the 28.x client.
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        // What dockerd leaves mounted under its roots (its network namespace file,
        // container rootfs mounts): detached, deepest first, so the temp dir can go.
        let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|p| Path::new(p).starts_with(&self.dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(&p).status();
        }
    }
}

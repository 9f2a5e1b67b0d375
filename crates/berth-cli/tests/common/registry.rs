//! Debian's docker-registry, started by a test on 127.0.0.1 (random port, temporary
//! storage); a missing docker-registry fails the test with the package to install.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A docker-registry process, killed (by its PID) on drop.
pub struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    pub fn start(dir: &Path) -> Option<Registry> {
        Registry::start_in(dir, None)
    }

    /// With `netns` (an `ip netns` name), the registry listens on that namespace's
    /// 127.0.0.1 (port 5000: the namespace is the test's own).
    pub fn start_in(dir: &Path, netns: Option<&str>) -> Option<Registry> {
        super::require("docker-registry", "docker-registry");
        let port = match netns {
            Some(_) => 5000,
            None => TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        };
        let cfg = dir.join("registry.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .ok()?;
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg("docker-registry");
                c
            }
            None => Command::new("docker-registry"),
        };
        let child = cmd
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let reg = Registry { child, port };
        let start = Instant::now();
        let ns = netns.map(|n| format!("/run/netns/{n}"));
        while start.elapsed() < Duration::from_secs(15) {
            if listening(ns.as_deref(), port) {
                return Some(reg);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start on port {port}");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Whether something accepts connections on 127.0.0.1:`port` (of namespace `ns`).
fn listening(ns: Option<&str>, port: u16) -> bool {
    let probe = move || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    match ns {
        None => probe(),
        Some(path) => {
            let Ok(file) = std::fs::File::open(path) else {
                return false;
            };
            // A thread of its own joins the namespace (setns changes only the caller).
            std::thread::spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).is_ok() && probe()
            })
            .join()
            .unwrap_or(false)
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A throwaway network namespace as a test's "host" (`ip netns add`), with `berth` run
//! inside it (`nsenter --net`, which changes nothing else: the same mount namespace, so a
//! command sees the namespaces pinned by the one before), and an "outside world" wired to
//! it. Both are deleted on drop, which takes their bridges, veths and nftables tables with
//! them: the real host's interfaces and firewall are never touched.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::Env;

/// A test's environment: a data root with busybox, and a network namespace as its host.
pub struct NetEnv {
    pub env: Env,
    pub ns: String,
    /// berth.toml for every command (none: the defaults).
    pub config: Option<std::path::PathBuf>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl NetEnv {
    pub fn new() -> NetEnv {
        super::require("ip", "iproute2");
        super::require("nsenter", "util-linux");
        super::require("nft", "nftables");
        let env = Env::with_busybox();
        let ns = format!(
            "berth-t{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let st = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {ns}");
        let n = NetEnv {
            env,
            ns,
            config: None,
        };
        n.host(&["ip", "link", "set", "lo", "up"]);
        n
    }

    /// `berth ARGS` inside the test's namespace: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.ns))
            .arg(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .env("BERTH_ROOT", &self.env.b.root)
            .stdin(Stdio::null());
        if let Some(p) = &self.config {
            c.env("BERTH_CONFIG", p);
        }
        let o = c.output().expect("run berth");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "berth {args:?} failed: {err}");
        out
    }

    /// A command of the test's host (inside its namespace), its stdout.
    pub fn host(&self, args: &[&str]) -> String {
        let o = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .args(args)
            .output()
            .expect("run a host command");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The veth host ends in the test's host namespace.
    pub fn veths(&self) -> Vec<String> {
        self.host(&["ip", "-o", "link", "show", "type", "veth"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    pub fn field(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).1;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = self.run(&args);
        }
        let _ = self.run(&["network", "prune", "-f"]);
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let gone = !std::path::Path::new("/run/netns").join(&self.ns).exists();
        if !std::thread::panicking() {
            assert!(gone, "netns {} left behind", self.ns);
        }
    }
}

/// A second namespace, "the outside world", wired to the test's host by a veth pair:
/// 192.0.2.1 on the host's end, 192.0.2.2 on its own. Deleted on drop.
pub struct Outside {
    pub ns: String,
}

impl Outside {
    pub fn new(t: &NetEnv) -> Outside {
        let ns = format!("{}-out", t.ns);
        let ip = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ip(&["netns", "add", &ns]);
        let o = Outside { ns };
        ip(&[
            "-n", &t.ns, "link", "add", "bt-up0", "type", "veth", "peer", "name", "bt-up1",
        ]);
        ip(&["-n", &t.ns, "link", "set", "bt-up1", "netns", &o.ns]);
        ip(&["-n", &t.ns, "addr", "add", "192.0.2.1/24", "dev", "bt-up0"]);
        ip(&["-n", &t.ns, "link", "set", "bt-up0", "up"]);
        ip(&["-n", &o.ns, "addr", "add", "192.0.2.2/24", "dev", "bt-up1"]);
        ip(&["-n", &o.ns, "link", "set", "bt-up1", "up"]);
        ip(&["-n", &o.ns, "link", "set", "lo", "up"]);
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// `curl` (the host's) from network namespace `ns`: the body, or "" on failure.
pub fn curl(ns: &str, url: &str) -> String {
    let o = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .args(["curl", "-s", "-m", "5", url])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A throwaway network namespace (`ip netns`) with `lo` up, deleted on drop with the
/// bridges, veths and rules made in it.
pub struct Netns(pub String);

impl Netns {
    pub fn new(name: String) -> Netns {
        let st = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(st.is_ok_and(|s| s.success()), "ip netns add {name}");
        let n = Netns(name);
        let st = Command::new("ip")
            .args(["-n", &n.0, "link", "set", "lo", "up"])
            .status();
        assert!(st.is_ok_and(|s| s.success()), "lo up in {}", n.0);
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

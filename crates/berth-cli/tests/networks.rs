//! Bridge networks end to end: every test makes a throwaway network namespace as its
//! "host" (`ip netns add`), runs each `berth` command inside it (`nsenter --net`, which
//! changes nothing else), and deletes it at the end, which takes its bridges, veths and
//! nftables tables with it. The real host's interfaces and firewall are never touched.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use common::Env;

/// A test's environment: a data root with busybox, and a network namespace as its host.
struct NetEnv {
    env: Env,
    ns: String,
    /// berth.toml for every command (none: the defaults).
    config: Option<std::path::PathBuf>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl NetEnv {
    fn new() -> NetEnv {
        common::require("ip", "iproute2");
        common::require("nsenter", "util-linux");
        common::require("nft", "nftables");
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
    fn run(&self, args: &[&str]) -> (i32, String, String) {
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

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "berth {args:?} failed: {err}");
        out
    }

    /// A command of the test's host (inside its namespace), its stdout.
    fn host(&self, args: &[&str]) -> String {
        let o = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .args(args)
            .output()
            .expect("run a host command");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The veth host ends in the test's host namespace.
    fn veths(&self) -> Vec<String> {
        self.host(&["ip", "-o", "link", "show", "type", "veth"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    fn field(&self, name: &str, template: &str) -> String {
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

#[test]
#[ignore = "needs root"]
fn containers_of_one_network_reach_each_other_and_no_one_else() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.201.1.0/24", "bt-front"]);
    t.ok(&["network", "create", "--subnet", "10.201.2.0/24", "bt-back"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "a1",
        "--network",
        "bt-front",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "a2",
        "--network",
        "bt-front",
        "--ip",
        "10.201.1.50",
        "--mac-address",
        "02:42:0a:c9:01:99",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "b1",
        "--network",
        "bt-back",
        "busybox",
        "sleep",
        "300",
    ]);

    // Addresses: the first free one, the one asked for; MAC as asked.
    assert_eq!(
        t.field("a1", "{{.NetworkSettings.Networks.bt-front.IPAddress}}"),
        "10.201.1.2"
    );
    assert_eq!(
        t.field("a2", "{{.NetworkSettings.Networks.bt-front.IPAddress}}"),
        "10.201.1.50"
    );
    assert_eq!(
        t.field("a2", "{{.NetworkSettings.Networks.bt-front.MacAddress}}"),
        "02:42:0a:c9:01:99"
    );
    assert_eq!(
        t.field("a1", "{{.NetworkSettings.Networks.bt-front.Gateway}}"),
        "10.201.1.1"
    );
    assert_eq!(
        t.field("a1", "{{.NetworkSettings.Networks.bt-front.IPPrefixLen}}"),
        "24"
    );
    assert_eq!(t.field("a1", "{{.HostConfig.NetworkMode}}"), "bt-front");
    let link = t.ok(&["exec", "a2", "ip", "link", "show", "eth0"]);
    assert!(link.contains("02:42:0a:c9:01:99"), "{link}");
    let route = t.ok(&["exec", "a1", "ip", "route"]);
    assert!(route.contains("default via 10.201.1.1 dev eth0"), "{route}");
    let hosts = t.ok(&["exec", "a1", "cat", "/etc/hosts"]);
    let short = t.field("a1", "{{.Config.Hostname}}");
    assert!(hosts.contains(&format!("10.201.1.2\t{short}")), "{hosts}");

    // One network: they reach each other; another network: it cannot.
    let (code, out, err) = t.run(&["exec", "a2", "ping", "-c1", "-W2", "10.201.1.2"]);
    assert_eq!(code, 0, "a2 -> a1: {out}{err}");
    let (code, out, _) = t.run(&["exec", "a1", "ping", "-c1", "-W2", "10.201.1.50"]);
    assert_eq!(code, 0, "a1 -> a2: {out}");
    let (code, out, _) = t.run(&["exec", "b1", "ping", "-c1", "-W2", "10.201.1.2"]);
    assert_ne!(code, 0, "b1 on another network reached a1: {out}");
    // The gateway (the host) answers a container of the network.
    let (code, _, _) = t.run(&["exec", "a1", "ping", "-c1", "-W2", "10.201.1.1"]);
    assert_eq!(code, 0);

    // network inspect lists the attached containers; rm is refused and names them.
    let net = t.ok(&["network", "inspect", "bt-front"]);
    let v: serde_json::Value = serde_json::from_str(&net).unwrap();
    let cs = v[0]["Containers"].as_object().unwrap();
    let mut names: Vec<&str> = cs.values().map(|c| c["Name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a1", "a2"]);
    assert!(cs.values().any(|c| c["IPv4Address"] == "10.201.1.50/24"));
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.201.1.0/24");
    let (code, _, err) = t.run(&["network", "rm", "bt-front"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("a1") && err.contains("a2") && err.lines().count() == 1,
        "{err}"
    );

    // An address that is taken is refused at start, and the refused start leaves nothing.
    t.ok(&[
        "create",
        "--name",
        "a3",
        "--network",
        "bt-front",
        "--ip",
        "10.201.1.50",
        "busybox",
        "sleep",
        "300",
    ]);
    let before = t.veths();
    let (code, _, err) = t.run(&["start", "a3"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("10.201.1.50") && err.contains("in use"),
        "{err}"
    );
    assert_eq!(t.veths(), before);

    // The firewall lives in Berth's own tables, with the networks as set elements.
    let rules = t.host(&["nft", "list", "ruleset"]);
    assert!(
        rules.contains("table inet berth") && rules.contains("table ip berth-nat"),
        "{rules}"
    );
    assert!(rules.contains("10.201.1.0/24"), "{rules}");
}

#[test]
#[ignore = "needs root"]
fn internal_network_has_no_way_out() {
    let t = NetEnv::new();
    t.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.202.0.0/24",
        "--ip-range",
        "10.202.0.128/25",
        "bt-int",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "i1",
        "--network",
        "bt-int",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "i2",
        "--network",
        "bt-int",
        "busybox",
        "sleep",
        "300",
    ]);
    let route = t.ok(&["exec", "i1", "ip", "route"]);
    assert!(!route.contains("default"), "{route}");
    assert!(route.contains("10.202.0.0/24 dev eth0"), "{route}");
    // Addresses come from the range, its first address included (as Docker's).
    assert_eq!(
        t.field("i2", "{{.NetworkSettings.Networks.bt-int.IPAddress}}"),
        "10.202.0.129"
    );
    let (code, _, _) = t.run(&["exec", "i1", "ping", "-c1", "-W2", "10.202.0.129"]);
    assert_eq!(
        code, 0,
        "containers of an internal network reach each other"
    );
    let (code, _, err) = t.run(&["exec", "i1", "ping", "-c1", "-W1", "192.0.2.1"]);
    assert_ne!(code, 0, "{err}");
    // Docker shows the gateway of an internal network, though no route uses it.
    assert_eq!(
        t.field("i1", "{{.NetworkSettings.Networks.bt-int.Gateway}}"),
        "10.202.0.1"
    );
    assert_eq!(
        t.field("i1", "{{.NetworkSettings.Networks.bt-int.IPAddress}}"),
        "10.202.0.128"
    );
    assert_eq!(
        t.ok(&["network", "inspect", "-f", "{{.Internal}}", "bt-int"])
            .trim(),
        "true"
    );
    // Not masqueraded, and marked internal in the firewall.
    let nat = t.host(&["nft", "list", "table", "ip", "berth-nat"]);
    assert!(!nat.contains("10.202.0.0/24"), "{nat}");
    let filter = t.host(&["nft", "list", "set", "inet", "berth", "internal"]);
    let bridge = format!(
        "br-{}",
        &t.ok(&["network", "inspect", "-f", "{{.Id}}", "bt-int"])[..12]
    );
    assert!(filter.contains(&bridge), "{filter}");
}

#[test]
#[ignore = "needs root"]
fn stop_and_rm_release_the_address_and_the_veth() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.203.0.0/24", "bt-rel"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        "--network",
        "bt-rel",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(t.veths().len(), 1);
    let key = t.field("r1", "{{.NetworkSettings.SandboxKey}}");
    assert!(std::path::Path::new(&key).exists(), "{key}");
    t.ok(&["stop", "-t", "0", "r1"]);
    assert_eq!(t.veths(), Vec::<String>::new());
    assert!(!std::path::Path::new(&key).exists(), "{key} left behind");
    assert_eq!(
        t.ok(&["network", "inspect", "-f", "{{len .Containers}}", "bt-rel"])
            .trim(),
        "0"
    );
    assert_eq!(
        t.field("r1", "{{.NetworkSettings.Networks.bt-rel.IPAddress}}"),
        ""
    );
    // The released address is given again; a second container gets the next.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "r2",
        "--network",
        "bt-rel",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["start", "r1"]);
    assert_eq!(
        t.field("r2", "{{.NetworkSettings.Networks.bt-rel.IPAddress}}"),
        "10.203.0.2"
    );
    assert_eq!(
        t.field("r1", "{{.NetworkSettings.Networks.bt-rel.IPAddress}}"),
        "10.203.0.3"
    );
    assert_eq!(t.veths().len(), 2);
    t.ok(&["rm", "-f", "r1", "r2"]);
    assert_eq!(t.veths(), Vec::<String>::new());
    // With nothing attached the network goes, with its bridge.
    let id = t.ok(&["network", "inspect", "-f", "{{.Id}}", "bt-rel"]);
    t.ok(&["network", "rm", "bt-rel"]);
    let links = t.host(&["ip", "-o", "link"]);
    assert!(!links.contains(&format!("br-{}", &id[..12])), "{links}");
    assert!(
        t.env
            .leftover_mounts()
            .iter()
            .all(|m| !m.contains("/netns/"))
    );
}

#[test]
#[ignore = "needs root"]
fn a_loop_of_twenty_containers_leaves_nothing_behind() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.204.0.0/24", "bt-loop"]);
    // The bridge exists from the first container on; the rules do not change with
    // containers.
    t.ok(&["run", "--rm", "--network", "bt-loop", "busybox", "true"]);
    let rules_before = t.host(&["nft", "list", "ruleset"]);
    for i in 0..20 {
        if i % 2 == 0 {
            t.ok(&["run", "--rm", "--network", "bt-loop", "busybox", "true"]);
        } else {
            let name = format!("l{i}");
            t.ok(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "bt-loop",
                "busybox",
                "sleep",
                "300",
            ]);
            t.ok(&["rm", "-f", &name]);
        }
    }
    assert_eq!(t.veths(), Vec::<String>::new());
    assert_eq!(
        t.ok(&["network", "inspect", "-f", "{{len .Containers}}", "bt-loop"])
            .trim(),
        "0"
    );
    assert_eq!(t.host(&["nft", "list", "ruleset"]), rules_before);
    let netns_dir = t.env.b.root.join("run/netns");
    let left: Vec<_> = std::fs::read_dir(&netns_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        t.env.leftover_mounts().is_empty(),
        "{:?}",
        t.env.leftover_mounts()
    );
    // Removing the network removes its bridge from the rules.
    let id = t.ok(&["network", "inspect", "-f", "{{.Id}}", "bt-loop"]);
    t.ok(&["network", "rm", "bt-loop"]);
    let rules = t.host(&["nft", "list", "ruleset"]);
    assert!(
        !rules.contains(&id[..12]) && !rules.contains("10.204.0.0"),
        "{rules}"
    );
}

#[test]
#[ignore = "needs root"]
fn bad_input_is_one_line_and_changes_nothing() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.205.0.0/16", "bt-ok"]);
    t.ok(&["network", "create", "bt-auto"]);
    let before = t.ok(&["network", "ls", "--format", "{{.Name}} {{.ID}}"]);
    let rules = t.host(&["nft", "list", "ruleset"]);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["network", "create", "--subnet", "nope", "x1"],
            1,
            "subnet",
        ),
        (
            &["network", "create", "--subnet", "10.9.0.5/16", "x1"],
            1,
            "10.9.0.0/16",
        ),
        (
            &["network", "create", "--subnet", "10.205.3.0/24", "x1"],
            1,
            "overlaps network bt-ok",
        ),
        (
            &[
                "network",
                "create",
                "--subnet",
                "10.9.0.0/16",
                "--gateway",
                "10.8.0.1",
                "x1",
            ],
            1,
            "gateway",
        ),
        (
            &["network", "create", "--gateway", "10.8.0.1", "x1"],
            1,
            "subnet",
        ),
        (
            &[
                "network",
                "create",
                "--subnet",
                "10.9.0.0/16",
                "--ip-range",
                "10.8.0.0/24",
                "x1",
            ],
            1,
            "range",
        ),
        (&["network", "create", "bt-ok"], 1, "already exists"),
        (&["network", "create", "-d", "nosuch", "x1"], 1, "nosuch"),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.driver.mtu=5",
                "x1",
            ],
            1,
            "mtu",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.bridge.name=a/b",
                "x1",
            ],
            1,
            "name",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.bridge.name=lo",
                "x1",
            ],
            1,
            "lo",
        ),
        (&["network", "create", "bad/name"], 1, "name"),
        (&["network", "rm", "nosuch"], 1, "network nosuch not found"),
        (&["network", "rm", "bridge"], 1, "pre-defined"),
        (
            &["network", "inspect", "nosuch"],
            1,
            "network nosuch not found",
        ),
        (&["network", "ls", "--filter", "bogus=1"], 1, "bogus"),
        (
            &["run", "--network", "nosuch", "busybox", "true"],
            125,
            "network nosuch not found",
        ),
        (
            &[
                "run",
                "--network",
                "bt-ok",
                "--ip",
                "10.9.0.2",
                "busybox",
                "true",
            ],
            125,
            "10.9.0.2",
        ),
        (
            &[
                "run",
                "--network",
                "bt-ok",
                "--ip",
                "10.205.0.1",
                "busybox",
                "true",
            ],
            125,
            "gateway",
        ),
        (
            &[
                "run",
                "--network",
                "bt-ok",
                "--ip",
                "nope",
                "busybox",
                "true",
            ],
            125,
            "invalid IPv4 address: nope",
        ),
        (
            &[
                "run",
                "--network",
                "bt-auto",
                "--ip",
                "172.18.0.9",
                "busybox",
                "true",
            ],
            125,
            "user configured subnets",
        ),
        (
            &["run", "--ip", "10.205.0.9", "busybox", "true"],
            125,
            "user defined networks only",
        ),
        (
            &[
                "run",
                "--network",
                "bt-ok",
                "--mac-address",
                "nope",
                "busybox",
                "true",
            ],
            125,
            "not a valid mac address",
        ),
    ];
    for (args, want, says) in cases {
        let (code, out, err) = t.run(args);
        assert_eq!(code, *want, "berth {args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "berth {args:?}: {err}");
        assert!(
            err.to_lowercase().contains(&says.to_lowercase()),
            "berth {args:?}: {err}"
        );
    }
    assert_eq!(
        t.ok(&["network", "ls", "--format", "{{.Name}} {{.ID}}"]),
        before
    );
    assert_eq!(t.ok(&["ps", "-aq"]), "");
    assert_eq!(t.host(&["nft", "list", "ruleset"]), rules);
    assert_eq!(t.veths(), Vec::<String>::new());
}

#[test]
#[ignore = "needs root"]
fn ls_filters_and_builtins() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--label", "tier=web", "bt-web"]);
    t.ok(&["network", "create", "bt-db"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["network", "ls", "--format", "{{.Name}}"];
        a.extend_from_slice(args);
        t.ok(&a).lines().map(String::from).collect()
    };
    assert_eq!(names(&[]), ["bridge", "bt-db", "bt-web", "host", "none"]);
    assert_eq!(names(&["--filter", "label=tier=web"]), ["bt-web"]);
    assert_eq!(names(&["--filter", "name=bt-"]), ["bt-db", "bt-web"]);
    assert_eq!(names(&["--filter", "driver=null"]), ["none"]);
    assert_eq!(names(&["--filter", "type=custom"]), ["bt-db", "bt-web"]);
    let ids = t.ok(&["network", "ls", "-q"]);
    assert_eq!(ids.lines().count(), 5);
    assert!(ids.lines().all(|l| l.len() == 12));
    // `inspect` finds networks too.
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.Driver}}", "bt-web"]).trim(),
        "bridge"
    );
    assert_eq!(
        t.ok(&["inspect", "--type", "network", "-f", "{{.Name}}", "none"])
            .trim(),
        "none"
    );
    let bridge = t.ok(&["network", "inspect", "bridge"]);
    let v: serde_json::Value = serde_json::from_str(&bridge).unwrap();
    assert_eq!(v[0]["Options"]["com.docker.network.bridge.name"], "berth0");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "172.17.0.0/16");
    // Auto subnets skip the default bridge's and each other's.
    let subnet = |n: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&t.ok(&["network", "inspect", "-f", "{{json .IPAM.Config}}", n]))
                .unwrap();
        v[0]["Subnet"].as_str().unwrap().to_string()
    };
    assert_eq!(subnet("bt-web"), "172.18.0.0/16");
    assert_eq!(subnet("bt-db"), "172.19.0.0/16");
    // The default bridge network works like any other.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "--network",
        "bridge",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        t.field("d1", "{{.NetworkSettings.IPAddress}}"),
        "172.17.0.2"
    );
    let links = t.host(&["ip", "-o", "link", "show", "berth0"]);
    assert!(links.contains("berth0"), "{links}");
    // prune removes the unused user networks only.
    t.ok(&["rm", "-f", "d1"]);
    let out = t.ok(&["network", "prune", "-f"]);
    assert!(out.contains("bt-web") && out.contains("bt-db"), "{out}");
    assert_eq!(names(&[]), ["bridge", "host", "none"]);
}

#[test]
#[ignore = "needs root"]
fn a_crashed_run_leaks_nothing() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.206.0.0/24", "bt-crash"]);
    let id = t
        .ok(&[
            "run",
            "-d",
            "--network",
            "bt-crash",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    t.env
        .wait_for(10, "the keeper", || common::keeper_of(&id).is_some());
    let pid: i32 = t.field(&id, "{{.State.Pid}}").parse().unwrap();
    // Every process of the container's run dies at once: keeper, monitor, container.
    for p in [common::keeper_of(&id), common::monitor_of(&id), Some(pid)]
        .into_iter()
        .flatten()
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // The next commands find the dead run and release what it held.
    t.env.wait_for(20, "the endpoint's release", || {
        t.ok(&[
            "network",
            "inspect",
            "-f",
            "{{len .Containers}}",
            "bt-crash",
        ])
        .trim()
            == "0"
    });
    assert_eq!(t.veths(), Vec::<String>::new());
    assert_eq!(t.field(&id, "{{.State.Running}}"), "false");
    // The address is free again.
    t.ok(&["start", &id]);
    assert_eq!(
        t.field(&id, "{{.NetworkSettings.Networks.bt-crash.IPAddress}}"),
        "10.206.0.2"
    );
}

#[test]
#[ignore = "needs root"]
fn subnets_come_from_the_configured_pools_and_avoid_host_routes() {
    let mut t = NetEnv::new();
    let cfg = t.env.dir.path().join("berth.toml");
    std::fs::write(
        &cfg,
        "default-address-pools = [{ base = \"10.210.0.0/16\", size = 24 }]\n",
    )
    .unwrap();
    t.config = Some(cfg);
    // A route of the test's host takes 10.210.1.0/24: no network may shadow it.
    t.host(&[
        "ip", "link", "add", "bt-r0", "type", "veth", "peer", "name", "bt-r1",
    ]);
    t.host(&["ip", "addr", "add", "10.210.1.1/24", "dev", "bt-r0"]);
    t.host(&["ip", "link", "set", "bt-r1", "up"]);
    t.host(&["ip", "link", "set", "bt-r0", "up"]);
    let routes = t.host(&["ip", "route"]);
    assert!(routes.contains("10.210.1.0/24"), "{routes}");
    t.ok(&["network", "create", "bt-p1"]);
    t.ok(&["network", "create", "bt-p2"]);
    let subnet = |n: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&t.ok(&["network", "inspect", "-f", "{{json .IPAM.Config}}", n]))
                .unwrap();
        v[0]["Subnet"].as_str().unwrap().to_string()
    };
    assert_eq!(subnet("bridge"), "10.210.0.0/24");
    assert_eq!(subnet("bt-p1"), "10.210.2.0/24");
    assert_eq!(subnet("bt-p2"), "10.210.3.0/24");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "p1",
        "--network",
        "bt-p2",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        t.field("p1", "{{.NetworkSettings.Networks.bt-p2.IPAddress}}"),
        "10.210.3.2"
    );
}

#[test]
#[ignore = "needs root"]
fn concurrent_starts_never_share_an_address() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.207.0.0/28", "bt-par"]);
    // Eight starts at once on a network whose bridge does not exist yet.
    let outs: Vec<(i32, String, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let t = &t;
                s.spawn(move || {
                    let name = format!("par{i}");
                    t.run(&[
                        "run",
                        "-d",
                        "--name",
                        &name,
                        "--network",
                        "bt-par",
                        "busybox",
                        "sleep",
                        "300",
                    ])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (code, out, err) in &outs {
        assert_eq!(*code, 0, "{out}{err}");
    }
    let mut ips: Vec<String> = (0..8)
        .map(|i| {
            t.field(
                &format!("par{i}"),
                "{{.NetworkSettings.Networks.bt-par.IPAddress}}",
            )
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 8, "{ips:?}");
    assert_eq!(t.veths().len(), 8);
    // A /28 has 13 addresses for containers: the 14th start is refused, cleanly.
    for i in 8..13 {
        t.ok(&[
            "run",
            "-d",
            "--name",
            &format!("par{i}"),
            "--network",
            "bt-par",
            "busybox",
            "sleep",
            "300",
        ]);
    }
    let (code, _, err) = t.run(&[
        "run",
        "-d",
        "--name",
        "par13",
        "--network",
        "bt-par",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("no address left"), "{err}");
    assert_eq!(t.veths().len(), 13);
}

/// A second namespace, "the outside world", wired to the test's host by a veth pair:
/// 192.0.2.1 on the host's end, 192.0.2.2 on its own. Deleted on drop.
struct Outside {
    ns: String,
}

impl Outside {
    fn new(t: &NetEnv) -> Outside {
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

#[test]
#[ignore = "needs root"]
fn outbound_traffic_is_masqueraded_and_internal_networks_stay_in() {
    let t = NetEnv::new();
    let outside = Outside::new(&t);
    t.ok(&["network", "create", "--subnet", "10.208.0.0/24", "bt-out"]);
    t.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.209.0.0/24",
        "bt-in",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "o1",
        "--network",
        "bt-out",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--cap-add",
        "NET_ADMIN",
        "--network",
        "bt-in",
        "busybox",
        "sleep",
        "300",
    ]);
    // The outside has no route to 10.208.0.0/24: only a masqueraded ping gets its answer.
    let (code, out, err) = t.run(&["exec", "o1", "ping", "-c1", "-W2", "192.0.2.2"]);
    assert_eq!(code, 0, "o1 -> outside: {out}{err}");
    let nat = t.host(&["nft", "list", "table", "ip", "berth-nat"]);
    assert!(
        nat.contains("masquerade") && nat.contains("10.208.0.0/24"),
        "{nat}"
    );
    // The internal network's container has no way out, not even through its gateway.
    let (code, _, _) = t.run(&["exec", "n1", "ping", "-c1", "-W1", "192.0.2.2"]);
    assert_ne!(code, 0);
    t.ok(&[
        "exec",
        "n1",
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.209.0.1",
    ]);
    // ...even when the outside knows the way back (no masquerade needed): the firewall
    // drops it.
    let st = Command::new("ip")
        .args([
            "-n",
            &outside.ns,
            "route",
            "add",
            "10.209.0.0/24",
            "via",
            "192.0.2.1",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, _, _) = t.run(&["exec", "n1", "ping", "-c1", "-W1", "192.0.2.2"]);
    assert_ne!(
        code, 0,
        "an internal network's container got out through its gateway"
    );
    // Nor can the container of the other network reach it.
    let (code, _, _) = t.run(&["exec", "o1", "ping", "-c1", "-W1", "10.209.0.2"]);
    assert_ne!(code, 0);
}

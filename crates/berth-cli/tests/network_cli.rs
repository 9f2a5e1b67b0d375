//! The network commands (`network create/ls/inspect/rm/prune`, `--network`, `--ip`,
//! `--mac-address`) inside throwaway network namespaces (`common::netns`): bad input,
//! filters, the built-in networks, the address pools.

mod common;

use common::netns::NetEnv;

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
        (
            &["network", "create", "--subnet", "0.0.0.0/0", "x1"],
            1,
            "unicast",
        ),
        (
            &["network", "create", "--subnet", "127.0.0.0/16", "x1"],
            1,
            "unicast",
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
    t.ok(&[
        "network",
        "create",
        "--attachable",
        "--label",
        "tier=web",
        "bt-web",
    ]);
    assert_eq!(
        t.ok(&["network", "inspect", "-f", "{{.Attachable}}", "bt-web"])
            .trim(),
        "true"
    );
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
    // A network only a stopped container is configured for is unused, as Docker's.
    t.ok(&[
        "create",
        "--name",
        "cc",
        "--network",
        "bt-db",
        "busybox",
        "true",
    ]);
    let out = t.ok(&["network", "prune", "-f"]);
    assert!(out.contains("bt-web") && out.contains("bt-db"), "{out}");
    assert_eq!(names(&[]), ["bridge", "host", "none"]);
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
        t.field(
            "p1",
            "{{(index .NetworkSettings.Networks \"bt-p2\").IPAddress}}"
        ),
        "10.210.3.2"
    );
}

/// Without `--network`, `run` joins the built-in `bridge` network (as Docker's): an address
/// from its subnet, the default route via its gateway, and a peer on it reachable; with
/// berth.toml's `bridge = "none"` (dockerd's `--bridge=none`) there is no `bridge`
/// network: such a container has only loopback and `--network bridge` is refused.
#[test]
#[ignore = "needs root"]
fn the_default_network_is_bridge_unless_berth_toml_turns_it_off() {
    let mut t = NetEnv::new();
    t.ok(&["run", "-d", "--name", "d1", "busybox", "sleep", "600"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "d2",
        "--network",
        "default",
        "busybox",
        "sleep",
        "600",
    ]);
    // Docker's words for a network mode that was not given (or given as "default").
    assert_eq!(t.field("d1", "{{.HostConfig.NetworkMode}}"), "default");
    assert_eq!(t.field("d2", "{{.HostConfig.NetworkMode}}"), "default");
    assert_eq!(
        t.field(
            "d1",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        "bridge"
    );
    let ip2 = t.field("d2", "{{.NetworkSettings.Networks.bridge.IPAddress}}");
    let subnet = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "bridge",
    ]);
    let gw = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "bridge",
    ]);
    let (base, len) = subnet.trim().split_once('/').expect("a CIDR subnet");
    let (base, len): (std::net::Ipv4Addr, u32) = (base.parse().unwrap(), len.parse().unwrap());
    let ip: std::net::Ipv4Addr = ip2.parse().expect("d2's address");
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    assert_eq!(
        u32::from(ip) & mask,
        u32::from(base),
        "{ip2} not in {subnet}"
    );
    let route = t.ok(&["exec", "d1", "ip", "route"]);
    assert!(
        route.contains(&format!("default via {}", gw.trim())),
        "{route}"
    );
    t.ok(&["exec", "d1", "ping", "-c", "1", "-W", "2", &ip2]);
    t.ok(&["rm", "-f", "d1", "d2"]);

    let cfg = t.env.dir.path().join("nobridge.toml");
    std::fs::write(&cfg, "bridge = \"none\"\n").unwrap();
    t.config = Some(cfg);
    let links = t.ok(&["run", "--rm", "busybox", "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "only lo: {links}");
    let names = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "host\nnone\n");
    let (code, _, err) = t.run(&["run", "--rm", "--network", "bridge", "busybox", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.to_lowercase().contains("network bridge not found"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(t.ok(&["ps", "-aq"]), "", "nothing was created");
}

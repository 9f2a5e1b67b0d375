//! Containers on several networks, and `network connect`/`disconnect`, inside throwaway
//! network namespaces (`common::netns`): a container reaches the peers of each of its
//! networks and no others, an endpoint connected to a running container works (and
//! resolves) at once and goes at once on disconnect, and nothing is left behind.

mod common;

use common::netns::NetEnv;

fn sleeper(t: &NetEnv, name: &str, nets: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    for n in nets {
        args.extend(["--network", n]);
    }
    args.extend(["busybox", "sleep", "300"]);
    t.ok(&args);
}

fn ip_on(t: &NetEnv, c: &str, net: &str) -> String {
    t.field(
        c,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    )
}

fn reaches(t: &NetEnv, from: &str, to: &str) -> bool {
    t.run(&["exec", from, "ping", "-c1", "-W2", to]).0 == 0
}

/// The addresses `name` resolves to inside container `c` (nslookup through 127.0.0.11).
fn resolves(t: &NetEnv, c: &str, name: &str) -> Vec<String> {
    let (code, out, _) = t.run(&["exec", c, "nslookup", "-type=a", name]);
    if code != 0 {
        return Vec::new();
    }
    out.split("Name:")
        .skip(1)
        .flat_map(|s| s.lines())
        .filter_map(|l| l.strip_prefix("Address: "))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
#[ignore = "needs root"]
fn a_container_on_two_networks_reaches_each_and_only_those() {
    let t = NetEnv::new();
    for (n, s) in [("bt-a", 1), ("bt-b", 2), ("bt-c", 3)] {
        let subnet = format!("10.211.{s}.0/24");
        t.ok(&["network", "create", "--subnet", &subnet, n]);
    }
    sleeper(&t, "pa", &["bt-a"]);
    sleeper(&t, "pb", &["bt-b"]);
    sleeper(&t, "pc", &["bt-c"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "mm",
        "--network",
        "bt-a",
        "--network-alias",
        "ma",
        "--network",
        "name=bt-b,alias=mb,ip=10.211.2.77",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(ip_on(&t, "mm", "bt-a"), "10.211.1.3");
    assert_eq!(ip_on(&t, "mm", "bt-b"), "10.211.2.77");
    assert_eq!(
        t.field("mm", "{{len .NetworkSettings.Networks}}"),
        "2",
        "inspect lists both networks"
    );
    assert_eq!(t.field("mm", "{{.HostConfig.NetworkMode}}"), "bt-a");
    let addrs = t.ok(&["exec", "mm", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("eth0    inet 10.211.1.3/24"), "{addrs}");
    assert!(addrs.contains("eth1    inet 10.211.2.77/24"), "{addrs}");
    // The first network has the default route, the second only its subnet.
    let route = t.ok(&["exec", "mm", "ip", "route"]);
    assert!(route.contains("default via 10.211.1.1 dev eth0"), "{route}");
    assert_eq!(route.matches("default").count(), 1, "{route}");

    // It reaches the peers of each network, by address and name, and no other.
    assert!(reaches(&t, "mm", &ip_on(&t, "pa", "bt-a")));
    assert!(reaches(&t, "mm", &ip_on(&t, "pb", "bt-b")));
    assert!(reaches(&t, "mm", "pa"));
    assert!(reaches(&t, "mm", "pb"));
    assert!(!reaches(&t, "mm", &ip_on(&t, "pc", "bt-c")));
    assert!(reaches(&t, "pb", "mm"));
    // Names and aliases per network: mb is m's name on bt-b only, ma on bt-a only.
    assert_eq!(resolves(&t, "pb", "mb"), ["10.211.2.77"]);
    assert_eq!(resolves(&t, "pb", "mm"), ["10.211.2.77"]);
    assert_eq!(resolves(&t, "pa", "ma"), ["10.211.1.3"]);
    assert_eq!(resolves(&t, "pa", "mb"), Vec::<String>::new());
    assert_eq!(resolves(&t, "pc", "mm"), Vec::<String>::new());

    // Each network lists it.
    for n in ["bt-a", "bt-b"] {
        let names = t.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{end}}",
            n,
        ]);
        assert!(names.split_whitespace().any(|x| x == "mm"), "{n}: {names}");
    }
    let ps = t.ok(&["ps", "--filter", "name=^mm$", "--format", "{{.Networks}}"]);
    assert_eq!(ps.trim(), "bt-a,bt-b");
    let ps = t.ok(&["ps", "--filter", "network=bt-b", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = ps.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["mm", "pb"]);

    // Stop releases every endpoint; start makes them again, in the same order.
    assert_eq!(t.veths().len(), 5);
    t.ok(&["stop", "-t", "0", "mm"]);
    assert_eq!(t.veths().len(), 3);
    assert_eq!(ip_on(&t, "mm", "bt-b"), "");
    t.ok(&["start", "mm"]);
    let addrs = t.ok(&["exec", "mm", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("eth1    inet 10.211.2.77/24"), "{addrs}");
    t.ok(&["rm", "-f", "mm"]);
    assert_eq!(t.veths().len(), 3);
    for n in ["bt-a", "bt-b"] {
        let names = t.ok(&["network", "inspect", "-f", "{{len .Containers}}", n]);
        assert_eq!(names.trim(), "1", "{n}");
    }
}

#[test]
#[ignore = "needs root"]
fn connect_and_disconnect_a_running_container() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.212.1.0/24", "bt-x"]);
    t.ok(&["network", "create", "--subnet", "10.212.2.0/24", "bt-y"]);
    sleeper(&t, "xx", &["bt-x"]);
    sleeper(&t, "yy", &["bt-y"]);
    let y_ip = ip_on(&t, "yy", "bt-y");
    assert!(!reaches(&t, "xx", &y_ip));
    assert!(resolves(&t, "xx", "yy").is_empty());

    t.ok(&[
        "network",
        "connect",
        "--alias",
        "xa",
        "--ip",
        "10.212.2.9",
        "bt-y",
        "xx",
    ]);
    // At once: the interface, the address, the peer by address and name, x's names there.
    let addrs = t.ok(&["exec", "xx", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("eth1    inet 10.212.2.9/24"), "{addrs}");
    let route = t.ok(&["exec", "xx", "ip", "route"]);
    assert!(route.contains("default via 10.212.1.1 dev eth0"), "{route}");
    assert_eq!(route.matches("default").count(), 1, "{route}");
    assert!(reaches(&t, "xx", &y_ip));
    assert!(reaches(&t, "xx", "yy"));
    assert_eq!(resolves(&t, "yy", "xa"), ["10.212.2.9"]);
    assert_eq!(resolves(&t, "yy", "xx"), ["10.212.2.9"]);
    assert_eq!(ip_on(&t, "xx", "bt-y"), "10.212.2.9");
    let names = t.ok(&["network", "inspect", "-f", "{{len .Containers}}", "bt-y"]);
    assert_eq!(names.trim(), "2");
    assert_eq!(t.veths().len(), 3);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_add(1)
        .to_string();
    let ev = t.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "type=network",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}",
    ]);
    assert!(ev.contains("connect bt-y bridge"), "{ev}");

    // Disconnect: gone at once, and so are its names.
    t.ok(&["network", "disconnect", "bt-y", "xx"]);
    assert!(!reaches(&t, "xx", &y_ip));
    assert!(resolves(&t, "yy", "xa").is_empty());
    assert!(resolves(&t, "xx", "yy").is_empty());
    assert_eq!(t.veths().len(), 2);
    assert_eq!(t.field("xx", "{{len .NetworkSettings.Networks}}"), "1");
    assert!(reaches(&t, "xx", &ip_on(&t, "xx", "bt-x")));

    // A created container: recorded now, joined at start, released at stop.
    t.ok(&[
        "create",
        "--name",
        "zz",
        "--network",
        "bt-x",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["network", "connect", "bt-y", "zz"]);
    assert_eq!(t.veths().len(), 2);
    t.ok(&["start", "zz"]);
    assert!(reaches(&t, "zz", "yy"));
    assert_eq!(t.veths().len(), 4);
    // Disconnecting the first network of a running container takes its default route.
    t.ok(&["network", "disconnect", "bt-x", "zz"]);
    let route = t.ok(&["exec", "zz", "ip", "route"]);
    assert!(!route.contains("default"), "{route}");
    assert!(reaches(&t, "zz", "yy"));
    t.ok(&["stop", "-t", "0", "zz"]);
    assert_eq!(t.veths().len(), 2);
    t.ok(&["start", "zz"]);
    let addrs = t.ok(&["exec", "zz", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("eth0    inet 10.212.2."), "{addrs}");
    t.ok(&["rm", "-f", "xx", "yy", "zz"]);
    assert_eq!(t.veths(), Vec::<String>::new());
    let rules = t.host(&["nft", "list", "table", "ip", "berth-ports"]);
    assert!(!rules.contains("10.212."), "{rules}");
    assert!(
        t.env
            .leftover_mounts()
            .iter()
            .all(|m| !m.contains("/netns/"))
    );
}

#[test]
#[ignore = "needs root"]
fn bad_connects_are_one_line_and_change_nothing() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.213.1.0/24", "bt-p"]);
    t.ok(&["network", "create", "bt-q"]);
    sleeper(&t, "cc", &["bt-p"]);
    sleeper(&t, "nn", &["none"]);
    sleeper(&t, "hh", &["host"]);
    sleeper(&t, "kk", &["container:cc"]);
    let before = (
        t.veths(),
        t.field("cc", "{{json .NetworkSettings.Networks}}"),
    );
    let refused = |args: &[&str], msg: &str| {
        let (code, out, err) = t.run(args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.to_lowercase().contains(&msg.to_lowercase()),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    };
    refused(
        &["network", "connect", "bt-nope", "cc"],
        "network bt-nope not found",
    );
    refused(
        &["network", "connect", "bt-p", "nope"],
        "No such container: nope",
    );
    refused(
        &["network", "connect", "bt-p", "cc"],
        "endpoint with name cc already exists in network bt-p",
    );
    refused(
        &["network", "connect", "--ip", "10.99.0.5", "bt-p", "nn"],
        "private (none) mode",
    );
    refused(
        &["network", "connect", "bt-p", "hh"],
        "sharing network namespace with another container or host",
    );
    refused(
        &["network", "connect", "bt-p", "kk"],
        "sharing network namespace with another container",
    );
    refused(
        &["network", "connect", "host", "cc"],
        "container cannot be disconnected from host network or connected to host network",
    );
    refused(&["network", "connect", "none", "cc"], "private (none) mode");
    sleeper(&t, "dd", &["bt-q"]);
    let before_d = t.field("dd", "{{json .NetworkSettings.Networks}}");
    refused(
        &["network", "connect", "--ip", "10.99.0.5", "bt-p", "dd"],
        "does not belong to the subnet 10.213.1.0/24",
    );
    refused(
        &["network", "connect", "--ip", "10.213.1.2", "bt-p", "dd"],
        "10.213.1.2 is already in use",
    );
    refused(
        &["network", "connect", "--ip", "10.213.1.9", "bt-q", "cc"],
        "user configured subnets",
    );
    refused(
        &["network", "connect", "--link", "cc:c1", "bt-p", "dd"],
        "--link is not supported",
    );
    refused(
        &["network", "connect", "--alias", "xx", "bridge", "dd"],
        "network-scoped aliases are only supported for user-defined networks",
    );
    refused(
        &["network", "disconnect", "bt-p", "dd"],
        "is not connected to network bt-p",
    );
    refused(
        &["network", "disconnect", "bt-nope", "dd"],
        "network bt-nope not found",
    );
    refused(
        &["network", "disconnect", "-f", "bt-nope", "dd"],
        "is not connected to the network bt-nope",
    );
    assert_eq!(
        t.field("dd", "{{json .NetworkSettings.Networks}}"),
        before_d
    );
    assert_eq!(
        (
            t.veths()
                .into_iter()
                .filter(|v| before.0.contains(v))
                .collect::<Vec<_>>(),
            t.field("cc", "{{json .NetworkSettings.Networks}}"),
        ),
        before
    );

    // At create: a network twice, user-defined with not, are the client's refusals (125);
    // an unknown network is refused as when it is the only one.
    for (args, msg, exit) in [
        (
            vec![
                "create",
                "--network",
                "bt-p",
                "--network",
                "bt-p",
                "busybox",
            ],
            "network \"bt-p\" is specified multiple times",
            125,
        ),
        (
            vec![
                "create",
                "--network",
                "bt-p",
                "--network",
                "none",
                "busybox",
            ],
            "cannot attach both user-defined and non-user-defined network-modes",
            125,
        ),
        (
            vec![
                "create",
                "--network",
                "bt-p",
                "--network",
                "bt-nope",
                "busybox",
            ],
            "network bt-nope not found",
            1,
        ),
    ] {
        let (code, _, err) = t.run(&args);
        assert_eq!(code, exit, "{args:?}: {err}");
        assert!(
            err.to_lowercase().contains(&msg.to_lowercase()),
            "{args:?}: {err}"
        );
    }
    let all = t.ok(&["ps", "-aq"]);
    assert_eq!(all.lines().count(), 5, "{all}");
}

#[test]
#[ignore = "needs root"]
fn a_crashed_run_on_two_networks_leaks_nothing() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.214.1.0/24", "bt-k1"]);
    t.ok(&["network", "create", "--subnet", "10.214.2.0/24", "bt-k2"]);
    t.ok(&["network", "create", "--subnet", "10.214.3.0/24", "bt-k3"]);
    let id = t
        .ok(&[
            "run",
            "-d",
            "--network",
            "bt-k1",
            "--network",
            "bt-k2",
            "-p",
            "8080:80",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    t.ok(&["network", "connect", "bt-k3", &id]);
    assert_eq!(t.veths().len(), 3);
    let key = t.field(&id, "{{.NetworkSettings.SandboxKey}}");
    t.env
        .wait_for(10, "the keeper", || common::keeper_of(&id).is_some());
    let pid: i32 = t.field(&id, "{{.State.Pid}}").parse().unwrap();
    for p in [common::keeper_of(&id), common::monitor_of(&id), Some(pid)]
        .into_iter()
        .flatten()
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // The next commands find the dead run and release every endpoint it held.
    t.env.wait_for(20, "the endpoints' release", || {
        ["bt-k1", "bt-k2", "bt-k3"].iter().all(|n| {
            t.ok(&["network", "inspect", "-f", "{{len .Containers}}", n])
                .trim()
                == "0"
        })
    });
    assert_eq!(t.veths(), Vec::<String>::new());
    assert!(!std::path::Path::new(&key).exists(), "{key} left behind");
    let rules = t.host(&["nft", "list", "table", "ip", "berth-ports"]);
    assert!(!rules.contains("10.214."), "{rules}");
    assert!(t.ok(&["port", &id]).trim().is_empty());
    // Started again, it is on all three, the connected one included.
    t.ok(&["start", &id]);
    assert_eq!(t.field(&id, "{{len .NetworkSettings.Networks}}"), "3");
    assert_eq!(t.veths().len(), 3);
    assert_eq!(ip_on(&t, &id, "bt-k3"), "10.214.3.2");
}

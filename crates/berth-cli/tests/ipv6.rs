//! Dual-stack bridge networks (`network create --ipv6`), inside throwaway network
//! namespaces (`common::netns`): containers of one IPv6 network reach each other over
//! IPv6 by address and by name, nothing else reaches them, inspect shows their
//! addresses, bad input is refused with nothing changed, and nothing is left after rm.

mod common;

use common::netns::NetEnv;

fn run_on(t: &NetEnv, net: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", net];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sleep", "300"]);
    t.ok(&args);
}

fn net_field(t: &NetEnv, c: &str, net: &str, field: &str) -> String {
    t.field(
        c,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").{field}}}}}"),
    )
}

/// `ping -6` from container `c` to `target`: whether it answered.
fn ping6(t: &NetEnv, c: &str, target: &str) -> bool {
    let (code, _, _) = t.run(&["exec", c, "ping", "-6", "-c", "1", "-W", "2", target]);
    code == 0
}

#[test]
#[ignore = "needs root"]
fn dual_stack_containers_reach_each_other_by_address_and_name_and_no_one_else() {
    let t = NetEnv::new();
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:b7:1::/64",
        "--subnet",
        "10.207.1.0/24",
        "bt6-front",
    ]);
    // No IPv6 subnet given: a /64 of the engine's unique local /48.
    t.ok(&["network", "create", "--ipv6", "bt6-back"]);
    run_on(&t, "bt6-front", "s1", &[]);
    run_on(&t, "bt6-front", "s2", &["--ip6", "fd00:b7:1::99"]);
    run_on(&t, "bt6-back", "o1", &[]);

    // Addresses: the first free one, the one asked for; the gateway; both families.
    assert_eq!(
        net_field(&t, "s1", "bt6-front", "GlobalIPv6Address"),
        "fd00:b7:1::2"
    );
    assert_eq!(
        net_field(&t, "s1", "bt6-front", "GlobalIPv6PrefixLen"),
        "64"
    );
    assert_eq!(
        net_field(&t, "s1", "bt6-front", "IPv6Gateway"),
        "fd00:b7:1::1"
    );
    assert_eq!(net_field(&t, "s1", "bt6-front", "IPAddress"), "10.207.1.2");
    assert_eq!(
        net_field(&t, "s2", "bt6-front", "GlobalIPv6Address"),
        "fd00:b7:1::99"
    );
    let back6 = net_field(&t, "o1", "bt6-back", "GlobalIPv6Address");
    assert!(back6.starts_with("fd") && back6.ends_with("::2"), "{back6}");
    let inspect = t.ok(&["network", "inspect", "bt6-front"]);
    assert!(inspect.contains("\"EnableIPv6\": true"), "{inspect}");
    assert!(
        inspect.contains("\"IPv6Address\": \"fd00:b7:1::99/64\""),
        "{inspect}"
    );
    // The address is usable at once (no duplicate address detection pending).
    let addrs = t.ok(&["exec", "s1", "ip", "-6", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains("fd00:b7:1::2/64"), "{addrs}");
    assert!(!addrs.contains("global tentative"), "{addrs}");
    let hosts = t.ok(&["exec", "s1", "cat", "/etc/hosts"]);
    assert!(hosts.contains("fd00:b7:1::2\t"), "{hosts}");

    // By address, by name (AAAA from the embedded resolver), the gateway.
    assert!(ping6(&t, "s1", "fd00:b7:1::99"));
    assert!(ping6(&t, "s2", "s1"));
    assert!(ping6(&t, "s1", "fd00:b7:1::1"));
    let (code, out, err) = t.run(&["exec", "s1", "nslookup", "-type=AAAA", "s2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("fd00:b7:1::99"), "{out}");
    let (code, out, err) = t.run(&["exec", "s1", "nslookup", "fd00:b7:1::99"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("s2.bt6-front"), "{out}");
    // A name on another network is not ours: no AAAA answer for it.
    let (_, out, _) = t.run(&["exec", "o1", "nslookup", "-type=AAAA", "s2"]);
    assert!(!out.contains("fd00:b7:1::99"), "{out}");

    // Another network reaches neither, over IPv6 as over IPv4.
    assert!(!ping6(&t, "o1", "fd00:b7:1::99"));
    assert!(!ping6(&t, "s1", &back6));

    // A taken static address is refused at start, naming it; the start changes nothing.
    t.ok(&[
        "create",
        "--name",
        "dup",
        "--network",
        "bt6-front",
        "--ip6",
        "fd00:b7:1::99",
        "busybox",
        "true",
    ]);
    let (code, _, err) = t.run(&["start", "dup"]);
    assert_ne!(code, 0);
    assert!(err.contains("fd00:b7:1::99"), "{err}");

    // Nothing left: addresses, veths, the bridges' IPv6 addresses, the ip6 table.
    t.ok(&["rm", "-f", "s1", "s2", "o1", "dup"]);
    assert!(t.veths().is_empty(), "{:?}", t.veths());
    let ins = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{json .Containers}}",
        "bt6-front",
    ]);
    assert_eq!(ins.trim(), "{}");
    assert!(t.host(&["nft", "list", "tables"]).contains("ip6 berth-nat"));
    t.ok(&["network", "rm", "bt6-front", "bt6-back"]);
    let v6 = t.host(&["ip", "-6", "addr"]);
    assert!(!v6.contains("fd00:b7:1::1"), "{v6}");
    let tables = t.host(&["nft", "list", "tables"]);
    assert!(!tables.contains("ip6 berth-nat"), "{tables}");
}

#[test]
#[ignore = "needs root"]
fn bad_ipv6_input_is_refused_and_changes_nothing() {
    let t = NetEnv::new();
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:b7:9::/64",
        "bt6-ok",
    ]);
    t.ok(&["network", "create", "--ipv6", "bt6-auto"]);
    t.ok(&["network", "create", "bt6-four"]);
    let before = t.ok(&["network", "ls", "-q"]);
    let bad: &[(&[&str], &str)] = &[
        (&["--subnet", "fd00:b7:2::/64"], "needs --ipv6"),
        (&["--ipv6", "--subnet", "fd00:b7:2::5/64"], "host bits"),
        (&["--ipv6", "--subnet", "fd00:b7:2::/129"], "prefix length"),
        (&["--ipv6", "--subnet", "ff02::/16"], "unicast"),
        (&["--ipv6", "--subnet", "fd00:b7:2::/127"], "no address"),
        (
            &[
                "--ipv6",
                "--subnet",
                "fd00:b7:2::/64",
                "--gateway",
                "fd00:b7:3::1",
            ],
            "no matching subnet for gateway",
        ),
        (
            &[
                "--ipv6",
                "--subnet",
                "fd00:b7:2::/64",
                "--ip-range",
                "fd00:b7:3::/80",
            ],
            "no matching subnet for range",
        ),
        (
            &["--ipv6", "--gateway", "fd00:b7:3::1"],
            "corresponding subnet",
        ),
        (
            &["--ipv6", "--subnet", "fd00:b7:9::/80"],
            "overlaps network bt6-ok",
        ),
        (
            &[
                "--ipv6",
                "--subnet",
                "fd00:b7:2::/64",
                "--subnet",
                "fd00:b7:3::/64",
            ],
            "one IPv6 --subnet",
        ),
    ];
    for (flags, want) in bad {
        let mut args = vec!["network", "create"];
        args.extend_from_slice(flags);
        args.push("bt6-bad");
        let (code, _, err) = t.run(&args);
        // As every refused `network create` (Docker's CLI exits 1 on a daemon's error).
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.to_lowercase().contains(&want.to_lowercase()),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // `run` refuses a bad --ip6 with exit 125, as a bad --ip.
    let bad_ip6: &[(&str, &str, &str)] = &[
        ("bt6-ok", "fd00:b7:8::5", "does not belong to the subnet"),
        ("bt6-ok", "fd00:b7:9::1", "gateway"),
        ("bt6-ok", "nope", "invalid IPv6 address"),
        ("bt6-auto", "fd00:1::5", "user configured subnets"),
        ("bt6-four", "fd00:b7:9::5", "has no IPv6"),
        ("none", "fd00:b7:9::5", "user defined networks only"),
    ];
    for (net, ip6, want) in bad_ip6 {
        let args = ["run", "--network", net, "--ip6", ip6, "busybox", "true"];
        let (code, _, err) = t.run(&args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(
            err.to_lowercase().contains(&want.to_lowercase()),
            "{args:?}: {err}"
        );
    }
    assert_eq!(t.ok(&["network", "ls", "-q"]), before);
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

/// `curl` of `url` from network namespace `ns` (`ip netns exec`): the HTTP status.
fn http_status(ns: &str, url: &str) -> String {
    let o = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-g",
            "-m",
            "5",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code}", url])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn published_ports_answer_over_ipv6_and_leave_nothing() {
    common::require("curl", "curl");
    let t = NetEnv::new();
    let out = common::netns::Outside::new(&t);
    // The outside world's link gets IPv6 addresses too: the test host's and its own.
    for (ns, dev, addr) in [
        (&t.ns, "bt-up0", "2001:db8:77::1/64"),
        (&out.ns, "bt-up1", "2001:db8:77::2/64"),
    ] {
        let st = std::process::Command::new("ip")
            .args(["-n", ns, "addr", "add", addr, "dev", dev, "nodad"])
            .status()
            .unwrap();
        assert!(st.success(), "ip addr add {addr}");
    }
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:b7:5::/64",
        "bt6-web",
    ]);
    t.ok(&["network", "create", "--ipv6", "bt6-other"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "bt6-web",
        "-p",
        "8080:80",
        "-p",
        "[2001:db8:77::1]:8082:80",
        "busybox",
        "httpd",
        "-f",
        "-v",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let host_file = |port: &str| format!("http://[2001:db8:77::1]:{port}/passwd");
    // From outside: the port on every address answers over IPv6 as over IPv4; the one
    // bound to one IPv6 address answers there.
    t.env.wait_for(10, "httpd over IPv6", || {
        http_status(&out.ns, &host_file("8080")) == "200"
    });
    assert_eq!(http_status(&out.ns, "http://192.0.2.1:8080/passwd"), "200");
    assert_eq!(http_status(&out.ns, &host_file("8082")), "200");
    // The container sees the outside client's own IPv6 address (no source NAT).
    let logs = t.ok(&["logs", "web"]) + &t.run(&["logs", "web"]).2;
    assert!(logs.contains("2001:db8:77::2"), "{logs}");
    assert_ne!(http_status(&out.ns, "http://192.0.2.1:8082/passwd"), "200");
    // From the test host itself, on its IPv6 address.
    assert_eq!(http_status(&t.ns, &host_file("8080")), "200");
    // From a container of another network, through the host's IPv6 address (hairpin).
    t.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "bt6-other",
        "busybox",
        "sleep",
        "300",
    ]);
    // (busybox's static wget cannot take an IPv6 URL: nc speaks the HTTP.)
    let (code, body, err) = t.run(&[
        "exec",
        "client",
        "sh",
        "-c",
        "printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 5 2001:db8:77::1 8080",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(body.contains("root:"), "{body}");
    // Listed with both families, as current Docker.
    let port = t.ok(&["port", "web", "80"]);
    assert!(port.contains("0.0.0.0:8080"), "{port}");
    assert!(port.contains("[::]:8080"), "{port}");
    assert!(port.contains("[2001:db8:77::1]:8082"), "{port}");

    // ::1 cannot be published without a proxy, and an IPv6 host address needs IPv6 on
    // the network: refused at create, nothing made.
    t.ok(&["network", "create", "bt6-four"]);
    for (net, spec, want) in [
        ("bt6-web", "[::1]:8090:80", "::1"),
        ("bt6-four", "[::]:8090:80", "needs a network with IPv6"),
    ] {
        let (code, _, err) = t.run(&[
            "run",
            "--rm",
            "--network",
            net,
            "-p",
            spec,
            "busybox",
            "true",
        ]);
        assert_eq!(code, 125, "{spec}: {err}");
        assert!(err.contains(want), "{spec}: {err}");
    }

    // Nothing left once the containers are gone: no IPv6 ports table.
    t.ok(&["rm", "-f", "web", "client"]);
    let tables = t.host(&["nft", "list", "tables"]);
    assert!(!tables.contains("ip6 berth-ports"), "{tables}");
    assert!(!tables.contains("ip berth-ports"), "{tables}");
    assert_ne!(http_status(&out.ns, &host_file("8080")), "200");
}

#[test]
#[ignore = "needs root"]
fn outbound_ipv6_is_masqueraded_and_internal_networks_stay_in() {
    let t = NetEnv::new();
    let out = common::netns::Outside::new(&t);
    for (ns, dev, addr) in [
        (&t.ns, "bt-up0", "2001:db8:78::1/64"),
        (&out.ns, "bt-up1", "2001:db8:78::2/64"),
    ] {
        let st = std::process::Command::new("ip")
            .args(["-n", ns, "addr", "add", addr, "dev", dev, "nodad"])
            .status()
            .unwrap();
        assert!(st.success(), "ip addr add {addr}");
    }
    t.ok(&["network", "create", "--ipv6", "bt6-out"]);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--internal",
        "--subnet",
        "fd00:b7:6::/64",
        "bt6-in",
    ]);
    run_on(&t, "bt6-out", "e1", &[]);
    run_on(&t, "bt6-in", "i1", &[]);
    run_on(&t, "bt6-in", "i2", &[]);
    // The outside world has no route to the network's unique local subnet: its answer
    // comes back only because the request left with the host's address.
    assert!(ping6(&t, "e1", "2001:db8:78::2"));
    // Internal: no default route, nothing out; its containers still reach each other.
    let routes = t.ok(&["exec", "i1", "ip", "-6", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    assert!(!ping6(&t, "i1", "2001:db8:78::2"));
    assert!(ping6(&t, "i1", "i2"));
    let nat = t.host(&["nft", "list", "table", "ip6", "berth-nat"]);
    assert!(!nat.contains("fd00:b7:6::"), "{nat}");
}

#[test]
#[ignore = "needs root"]
fn a_crashed_dual_stack_run_leaks_nothing() {
    let t = NetEnv::new();
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:b7:4::/64",
        "bt6-crash",
    ]);
    let id = t
        .ok(&[
            "run",
            "-d",
            "--network",
            "bt6-crash",
            "-p",
            "8080:80",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    t.env
        .wait_for(10, "the keeper", || common::keeper_of(&id).is_some());
    assert!(
        t.host(&["nft", "list", "tables"])
            .contains("ip6 berth-ports")
    );
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
    // The next commands find the dead run and release what it held, IPv6 included.
    t.env.wait_for(20, "the endpoint's release", || {
        t.ok(&[
            "network",
            "inspect",
            "-f",
            "{{len .Containers}}",
            "bt6-crash",
        ])
        .trim()
            == "0"
    });
    assert_eq!(t.veths(), Vec::<String>::new());
    let tables = t.host(&["nft", "list", "tables"]);
    assert!(!tables.contains("ip6 berth-ports"), "{tables}");
    // The IPv6 address and the port are free again.
    t.ok(&["start", &id]);
    assert_eq!(
        net_field(&t, &id, "bt6-crash", "GlobalIPv6Address"),
        "fd00:b7:4::2"
    );
    let port = t.ok(&["port", &id, "80"]);
    assert!(port.contains("[::]:8080"), "{port}");
}

#[test]
#[ignore = "needs root"]
fn ipv6_subnets_come_from_the_configured_pool_and_avoid_host_routes() {
    let mut t = NetEnv::new();
    let conf = t.env.dir.path().join("berth.toml");
    std::fs::write(
        &conf,
        "default-address-pools = [{ base = \"10.208.0.0/16\", size = 24 }, { base = \"fd00:b7:c0::/56\", size = 64 }]\n",
    )
    .unwrap();
    t.config = Some(conf);
    // A route of the host's covers the pool's first /64: it is skipped.
    t.host(&["ip", "-6", "addr", "add", "fd00:b7:c0::1/64", "dev", "lo"]);
    t.ok(&["network", "create", "--ipv6", "bt6-p1"]);
    t.ok(&["network", "create", "--ipv6", "bt6-p2"]);
    let cfg = |n: &str| t.ok(&["network", "inspect", "-f", "{{json .IPAM.Config}}", n]);
    // IPv4 from the IPv4 pool (the built-in bridge took its first /24), IPv6 from the
    // IPv6 one, gateways shown as for subnets Berth chose.
    let p1 = cfg("bt6-p1");
    assert!(p1.contains(r#""Subnet":"10.208."#), "{p1}");
    assert!(
        p1.contains(r#"{"Subnet":"fd00:b7:c0:1::/64","Gateway":"fd00:b7:c0:1::1"}"#),
        "{p1}"
    );
    assert!(
        cfg("bt6-p2").contains("fd00:b7:c0:2::/64"),
        "{}",
        cfg("bt6-p2")
    );
}

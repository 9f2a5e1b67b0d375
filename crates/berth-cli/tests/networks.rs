//! Bridge networks end to end, inside throwaway network namespaces (`common::netns`):
//! containers of one network reach each other and nothing else, internal networks stay
//! in, traffic out is masqueraded, and no run (stopped, removed, looped, crashed, started
//! concurrently) leaves an address, a veth, a pinned namespace or a rule behind.

mod common;

use std::process::Command;

use common::netns::{NetEnv, Outside};

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
        t.field(
            "a1",
            "{{(index .NetworkSettings.Networks \"bt-front\").IPAddress}}"
        ),
        "10.201.1.2"
    );
    assert_eq!(
        t.field(
            "a2",
            "{{(index .NetworkSettings.Networks \"bt-front\").IPAddress}}"
        ),
        "10.201.1.50"
    );
    assert_eq!(
        t.field(
            "a2",
            "{{(index .NetworkSettings.Networks \"bt-front\").MacAddress}}"
        ),
        "02:42:0a:c9:01:99"
    );
    assert_eq!(
        t.field(
            "a1",
            "{{(index .NetworkSettings.Networks \"bt-front\").Gateway}}"
        ),
        "10.201.1.1"
    );
    assert_eq!(
        t.field(
            "a1",
            "{{(index .NetworkSettings.Networks \"bt-front\").IPPrefixLen}}"
        ),
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
        t.field(
            "i2",
            "{{(index .NetworkSettings.Networks \"bt-int\").IPAddress}}"
        ),
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
        t.field(
            "i1",
            "{{(index .NetworkSettings.Networks \"bt-int\").Gateway}}"
        ),
        "10.202.0.1"
    );
    assert_eq!(
        t.field(
            "i1",
            "{{(index .NetworkSettings.Networks \"bt-int\").IPAddress}}"
        ),
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
        t.field(
            "r1",
            "{{(index .NetworkSettings.Networks \"bt-rel\").IPAddress}}"
        ),
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
        t.field(
            "r2",
            "{{(index .NetworkSettings.Networks \"bt-rel\").IPAddress}}"
        ),
        "10.203.0.2"
    );
    assert_eq!(
        t.field(
            "r1",
            "{{(index .NetworkSettings.Networks \"bt-rel\").IPAddress}}"
        ),
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
        t.field(
            &id,
            "{{(index .NetworkSettings.Networks \"bt-crash\").IPAddress}}"
        ),
        "10.206.0.2"
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
                "{{(index .NetworkSettings.Networks \"bt-par\").IPAddress}}",
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

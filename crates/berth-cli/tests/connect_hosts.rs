//! What `network connect`/`disconnect` and a start on several networks change besides the
//! interfaces, inside throwaway network namespaces (`common::netns`): /etc/hosts names the
//! container's address on each network (rewritten in place on a live connect or
//! disconnect, keeping what the container wrote), Docker's `network connect`/`disconnect`
//! events at start and stop, and `--ip6` on connect and in `--network`'s long syntax.

mod common;

use common::netns::NetEnv;

/// The lines of the container's /etc/hosts.
fn hosts(t: &NetEnv, c: &str) -> Vec<String> {
    t.ok(&["exec", c, "cat", "/etc/hosts"])
        .lines()
        .map(String::from)
        .collect()
}

fn network_events(t: &NetEnv, id: &str) -> Vec<String> {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_add(1)
        .to_string();
    t.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "type=network",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}} {{.Actor.Attributes.container}}",
    ])
    .lines()
    .filter(|l| l.ends_with(id))
    .map(|l| l.trim_end_matches(id).trim_end().to_string())
    .collect()
}

#[test]
#[ignore = "needs root"]
fn etc_hosts_lists_every_network_and_follows_connect_and_disconnect() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.214.1.0/24", "bh-a"]);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.214.2.0/24",
        "--subnet",
        "fd00:214:2::/64",
        "bh-b",
    ]);
    t.ok(&["network", "create", "--subnet", "10.214.3.0/24", "bh-c"]);
    let id = t
        .ok(&[
            "run",
            "-d",
            "--name",
            "hh",
            "--network",
            "bh-a",
            "--network",
            "bh-b",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let short = &id[..12];
    let lines = hosts(&t, "hh");
    // One line per address, in the order of the networks, as Docker writes them.
    assert_eq!(
        lines[lines.len() - 3..],
        [
            format!("10.214.1.2\t{short}"),
            format!("10.214.2.2\t{short}"),
            format!("fd00:214:2::2\t{short}"),
        ],
        "{lines:?}"
    );
    // What the container writes stays.
    t.ok(&[
        "exec",
        "hh",
        "sh",
        "-c",
        "echo '10.9.9.9 mine' >> /etc/hosts",
    ]);
    t.ok(&["network", "connect", "bh-c", "hh"]);
    let lines = hosts(&t, "hh");
    assert_eq!(lines.last().unwrap(), &format!("10.214.3.2\t{short}"));
    assert!(lines.contains(&"10.9.9.9 mine".to_string()), "{lines:?}");
    t.ok(&["network", "disconnect", "bh-a", "hh"]);
    let lines = hosts(&t, "hh");
    assert!(
        !lines.iter().any(|l| l.starts_with("10.214.1.2")),
        "{lines:?}"
    );
    for l in [
        format!("10.214.2.2\t{short}"),
        format!("fd00:214:2::2\t{short}"),
        format!("10.214.3.2\t{short}"),
        "10.9.9.9 mine".to_string(),
        "127.0.0.1\tlocalhost".to_string(),
    ] {
        assert!(lines.contains(&l), "{l:?} missing: {lines:?}");
    }
    t.ok(&["network", "disconnect", "bh-b", "hh"]);
    let lines = hosts(&t, "hh");
    assert!(
        !lines.iter().any(|l| l.starts_with("10.214.2.2")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("fd00:214:2::2")),
        "{lines:?}"
    );
    assert!(lines.contains(&format!("10.214.3.2\t{short}")), "{lines:?}");

    // Events: a connect per network at start, in order; the live ones; a disconnect per
    // network at stop.
    t.ok(&["stop", "-t", "0", "hh"]);
    assert_eq!(
        network_events(&t, &id),
        [
            "connect bh-a bridge",
            "connect bh-b bridge",
            "connect bh-c bridge",
            "disconnect bh-a bridge",
            "disconnect bh-b bridge",
            "disconnect bh-c bridge",
        ]
    );
    t.ok(&["rm", "hh"]);

    // `none` and `host` have their events too (Docker's), `container:` none.
    let none = t
        .ok(&["run", "-d", "--network", "none", "busybox", "true"])
        .trim()
        .to_string();
    t.ok(&["wait", &none]);
    assert_eq!(
        network_events(&t, &none),
        ["connect none null", "disconnect none null"]
    );
    t.ok(&["rm", &none]);
}

#[test]
#[ignore = "needs root"]
fn ip6_on_connect_and_in_the_long_syntax() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.215.1.0/24", "b6-a"]);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.215.2.0/24",
        "--subnet",
        "fd00:215:2::/64",
        "b6-b",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "s6",
        "--network",
        "b6-a",
        "busybox",
        "sleep",
        "300",
    ]);
    // Bad: a network without IPv6, an address outside the subnet: one line, nothing done.
    // (docker's `network connect` exits 1 on the daemon's refusals; so does berth's)
    let (code, _, err) = t.run(&["network", "connect", "--ip6", "fd00:215:2::9", "b6-a", "s6"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("b6-a"), "{err}");
    let (code, _, err) = t.run(&["network", "connect", "--ip6", "fd00:999::9", "b6-b", "s6"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fd00:215:2::/64"), "{err}");
    assert_eq!(t.field("s6", "{{len .NetworkSettings.Networks}}"), "1");

    t.ok(&[
        "network",
        "connect",
        "--ip6",
        "fd00:215:2::99",
        "b6-b",
        "s6",
    ]);
    let addrs = t.ok(&["exec", "s6", "ip", "-o", "-6", "addr"]);
    assert!(addrs.contains("eth1    inet6 fd00:215:2::99/64"), "{addrs}");
    assert_eq!(
        t.field(
            "s6",
            "{{(index .NetworkSettings.Networks \"b6-b\").GlobalIPv6Address}}"
        ),
        "fd00:215:2::99"
    );
    assert!(
        hosts(&t, "s6")
            .iter()
            .any(|l| l.starts_with("fd00:215:2::99\t")),
        "{:?}",
        hosts(&t, "s6")
    );
    // It stays the container's address at the next start.
    t.ok(&["restart", "-t", "0", "s6"]);
    let addrs = t.ok(&["exec", "s6", "ip", "-o", "-6", "addr"]);
    assert!(addrs.contains("eth1    inet6 fd00:215:2::99/64"), "{addrs}");

    // The long syntax, on a second network, and on the first.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "l6",
        "--network",
        "b6-a",
        "--network",
        "name=b6-b,ip6=fd00:215:2::88",
        "busybox",
        "sleep",
        "300",
    ]);
    let addrs = t.ok(&["exec", "l6", "ip", "-o", "-6", "addr"]);
    assert!(addrs.contains("eth1    inet6 fd00:215:2::88/64"), "{addrs}");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "p6",
        "--network",
        "name=b6-b,ip6=fd00:215:2::77",
        "busybox",
        "sleep",
        "300",
    ]);
    let addrs = t.ok(&["exec", "p6", "ip", "-o", "-6", "addr"]);
    assert!(addrs.contains("eth0    inet6 fd00:215:2::77/64"), "{addrs}");
    // Held by a running container: refused at start.
    let (code, _, err) = t.run(&[
        "run",
        "-d",
        "--name",
        "d6",
        "--network",
        "name=b6-b,ip6=fd00:215:2::77",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("fd00:215:2::77"), "{err}");
    let (code, _, err) = t.run(&[
        "create",
        "--network",
        "name=b6-b,ip6=fd00:215:2::66",
        "--ip6",
        "fd00:215:2::65",
        "busybox",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("--ip6 and per-network IPv6 address"), "{err}");
    for c in ["s6", "l6", "p6", "d6"] {
        let _ = t.run(&["rm", "-f", c]);
    }
}

#[test]
#[ignore = "needs root"]
fn a_default_bridge_container_connected_live_resolves_at_once() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.216.1.0/24", "bd-u"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "bd-u",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["run", "-d", "--name", "bb", "busybox", "sleep", "300"]);
    let before = t.ok(&["exec", "bb", "cat", "/etc/resolv.conf"]);
    assert!(!before.contains("127.0.0.11"), "{before}");
    t.ok(&["network", "connect", "bd-u", "bb"]);
    // At once, without a restart: resolv.conf names the embedded resolver, which answers.
    let after = t.ok(&["exec", "bb", "cat", "/etc/resolv.conf"]);
    assert!(after.starts_with("nameserver 127.0.0.11\n"), "{after}");
    assert!(after.contains("ndots:0"), "{after}");
    let (code, out, err) = t.run(&["exec", "bb", "nslookup", "-type=a", "peer"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Address: 10.216.1.2"), "{out}");
    assert!(t.run(&["exec", "bb", "ping", "-c1", "-W2", "peer"]).0 == 0);
    // It keeps answering after a second connect and a restart.
    t.ok(&["restart", "-t", "0", "bb"]);
    let (code, out, err) = t.run(&["exec", "bb", "nslookup", "-type=a", "peer"]);
    assert_eq!(code, 0, "{out}{err}");
    for c in ["bb", "peer"] {
        t.ok(&["rm", "-f", c]);
    }
}

//! Published ports end to end, inside throwaway network namespaces (`common::netns`): the
//! kernel's DNAT answers on the test host's address, on 127.0.0.1 and from a container
//! through the host address; clients from elsewhere keep their address; -P, ranges and
//! UDP work; a taken port is refused and changes nothing; no run (looped, crashed) leaves
//! an element or a rule behind.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::netns::{NetEnv, Outside, curl};

/// Runs `f` on a thread that has joined the network namespace at `path`.
fn in_netns<T: Send + 'static>(
    path: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = std::fs::File::open(path).expect("open a network namespace");
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

fn ports_elements(t: &NetEnv) -> String {
    t.host(&["nft", "list", "map", "ip", "berth-ports", "ports"])
}

#[test]
#[ignore = "needs root"]
fn published_port_answers_everywhere_and_keeps_the_client_address() {
    let t = NetEnv::new();
    let outside = Outside::new(&t);
    t.ok(&["network", "create", "--subnet", "10.211.0.0/24", "bt-pub"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "bt-pub",
        "-p",
        "8080:80",
        "busybox",
        "httpd",
        "-f",
        "-v",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let host = t.field("web", "{{.Config.Hostname}}");
    // From elsewhere (the outside namespace), to the test host's address.
    let body = curl(&outside.ns, "http://192.0.2.1:8080/hostname");
    assert_eq!(body.trim(), host);
    // From the host itself, on its address and on 127.0.0.1.
    assert_eq!(curl(&t.ns, "http://192.0.2.1:8080/hostname").trim(), host);
    assert_eq!(curl(&t.ns, "http://127.0.0.1:8080/hostname").trim(), host);
    // From another container, through the host's address (hairpin).
    let out = t.ok(&[
        "run",
        "--rm",
        "--network",
        "bt-pub",
        "busybox",
        "sh",
        "-c",
        "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 192.0.2.1 8080",
    ]);
    assert!(out.contains("200 OK") && out.contains(&host), "{out}");
    // ...and from the serving container itself.
    let out = t.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 192.0.2.1 8080",
    ]);
    assert!(out.contains("200 OK") && out.contains(&host), "{out}");
    // The outside client's own address reached the server (no source NAT for it).
    let logs = t.ok(&["logs", "web"]) + &t.run(&["logs", "web"]).2;
    assert!(logs.contains("192.0.2.2"), "{logs}");

    // ps, port and inspect, as Docker shows them.
    assert_eq!(
        t.ok(&["ps", "--filter", "name=web", "--format", "{{.Ports}}"])
            .trim(),
        "0.0.0.0:8080->80/tcp"
    );
    assert_eq!(t.ok(&["port", "web"]).trim(), "80/tcp -> 0.0.0.0:8080");
    assert_eq!(t.ok(&["port", "web", "80"]).trim(), "0.0.0.0:8080");
    assert_eq!(
        t.field("web", "{{json .HostConfig.PortBindings}}"),
        r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#
    );
    assert_eq!(
        t.field("web", "{{json .NetworkSettings.Ports}}"),
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}"#
    );
    assert_eq!(
        t.ok(&["ps", "-q", "--filter", "publish=8080"]).trim().len(),
        12
    );
    // The rules are Berth's: map elements in its own table.
    assert!(ports_elements(&t).contains("tcp . 8080 : 10.211.0.2 . 80"));

    // Stopped: the element goes, the port answers no more, and nothing is shown.
    t.ok(&["stop", "-t", "0", "web"]);
    assert_eq!(curl(&outside.ns, "http://192.0.2.1:8080/hostname"), "");
    assert_eq!(t.field("web", "{{json .NetworkSettings.Ports}}"), "{}");
    assert_eq!(t.ok(&["port", "web"]), "");
    assert!(!t.host(&["nft", "list", "tables"]).contains("berth-ports"));
}

#[test]
#[ignore = "needs root"]
fn publish_all_ranges_and_udp() {
    let t = NetEnv::new();
    let outside = Outside::new(&t);
    t.ok(&["network", "create", "--subnet", "10.212.0.0/24", "bt-pall"]);
    // -P: the exposed ports get ports of the ephemeral range; a range maps port by port.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "pa",
        "--network",
        "bt-pall",
        "-P",
        "--expose",
        "80",
        "--expose",
        "81",
        "-p",
        "8000-8001:90-91",
        "-p",
        "9000:9000/udp",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let range = t.host(&["cat", "/proc/sys/net/ipv4/ip_local_port_range"]);
    let lo: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let p80 = t.ok(&["port", "pa", "80/tcp"]);
    let hp: u16 = p80.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(hp >= lo, "{p80} outside {range}");
    let host = t.field("pa", "{{.Config.Hostname}}");
    assert_eq!(
        curl(&outside.ns, &format!("http://192.0.2.1:{hp}/hostname")).trim(),
        host
    );
    let all = t.ok(&["port", "pa"]);
    assert_eq!(all.lines().count(), 5, "{all}");
    assert!(all.contains("90/tcp -> 0.0.0.0:8000") && all.contains("91/tcp -> 0.0.0.0:8001"));
    assert!(all.contains("9000/udp -> 0.0.0.0:9000"), "{all}");
    let ps = t.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(
        ps.contains("0.0.0.0:8000->90/tcp, 0.0.0.0:8001->91/tcp"),
        "{ps}"
    );
    assert!(ps.contains("0.0.0.0:9000->9000/udp"), "{ps}");

    // UDP: a datagram from outside reaches the container's port 9000 (received on a
    // socket of the test's inside the container's namespace: busybox has no UDP server),
    // from the sender's own address.
    let key = t.field("pa", "{{.NetworkSettings.SandboxKey}}");
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_netns(&key, move || {
        let s = UdpSocket::bind("0.0.0.0:9000").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tx.send(()).unwrap();
        let mut b = [0u8; 64];
        let (n, peer) = s.recv_from(&mut b).unwrap();
        (String::from_utf8_lossy(&b[..n]).into_owned(), peer)
    });
    rx.recv().unwrap();
    let out_ns = format!("/run/netns/{}", outside.ns);
    in_netns(&out_ns, || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.send_to(b"hello-udp", "192.0.2.1:9000").unwrap();
    })
    .join()
    .unwrap();
    let (got, peer) = server.join().unwrap();
    assert_eq!(got, "hello-udp");
    assert_eq!(peer.ip().to_string(), "192.0.2.2");

    // Bindings on one host address answer there only; several for one port all answer.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "one",
        "--network",
        "bt-pall",
        "-p",
        "127.0.0.1:8091:80",
        "-p",
        "192.0.2.1:8092:80",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let one = t.field("one", "{{.Config.Hostname}}");
    assert_eq!(curl(&t.ns, "http://127.0.0.1:8091/hostname").trim(), one);
    assert_eq!(curl(&t.ns, "http://192.0.2.1:8091/hostname"), "");
    assert_eq!(
        curl(&outside.ns, "http://192.0.2.1:8092/hostname").trim(),
        one
    );
    assert_eq!(curl(&t.ns, "http://127.0.0.1:8092/hostname"), "");
    assert_eq!(
        t.ok(&["port", "one", "80"]),
        "127.0.0.1:8091\n192.0.2.1:8092\n"
    );
    // The same port on another address is free; on every address it is not.
    t.ok(&[
        "create",
        "--name",
        "other",
        "--network",
        "bt-pall",
        "-p",
        "192.0.2.1:8091:80",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["start", "other"]);
    let (code, _, err) = t.run(&[
        "run",
        "-d",
        "--network",
        "bt-pall",
        "-p",
        "8091:80",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("port is already allocated"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn a_taken_port_is_refused_and_changes_nothing() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.213.0.0/24", "bt-taken"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "bt-taken",
        "-p",
        "8080:80",
        "busybox",
        "sleep",
        "300",
    ]);
    // A process of the host (here a container sharing the host's namespace) holds 7777.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "--network",
        "host",
        "busybox",
        "nc",
        "-l",
        "-p",
        "7777",
    ]);
    t.env.wait_for(10, "the host's listener", || {
        t.host(&["ss", "-ltn"]).contains(":7777")
    });
    let rules = t.host(&["nft", "list", "ruleset"]);
    let veths = t.veths();
    for (name, port, words) in [
        ("second", "8080:80", "port is already allocated"),
        ("third", "7777:80", "address already in use"),
    ] {
        let (code, _, err) = t.run(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "bt-taken",
            "-p",
            port,
            "busybox",
            "sleep",
            "300",
        ]);
        assert_eq!(code, 125, "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(words) && err.contains(&port[..4]), "{err}");
        assert_eq!(t.host(&["nft", "list", "ruleset"]), rules);
        assert_eq!(t.veths(), veths);
    }
    // The container holding 8080 is named.
    let (_, _, err) = t.run(&["start", "second"]);
    assert!(err.contains("first"), "{err}");
    // Bad input: Docker's words, exit 125, nothing created.
    for (spec, words) in [
        ("70000:80", "invalid hostPort: 70000"),
        ("80/foo", "invalid proto: foo"),
        ("8000-8010:80-85", "invalid ranges specified"),
    ] {
        let (code, _, err) = t.run(&["create", "--network", "bt-taken", "-p", spec, "busybox"]);
        assert_eq!(code, 125, "{err}");
        assert!(err.to_lowercase().contains(&words.to_lowercase()), "{err}");
    }
    assert_eq!(t.ok(&["ps", "-aq"]).lines().count(), 4);
}

#[test]
#[ignore = "needs root"]
fn twenty_containers_with_ports_leave_no_element_and_a_crash_is_reconciled() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.214.0.0/24", "bt-ploop"]);
    // The bridge and its rules exist before the loop starts.
    t.ok(&["run", "--rm", "--network", "bt-ploop", "busybox", "true"]);
    let rules_before = t.host(&["nft", "list", "ruleset"]);
    for i in 0..20 {
        let name = format!("pl{i}");
        let port = format!("{}:80", 8100 + i);
        t.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "bt-ploop",
            "-p",
            &port,
            "-p",
            "9999/udp",
            "busybox",
            "sleep",
            "300",
        ]);
        if i % 2 == 0 {
            t.ok(&["stop", "-t", "0", &name]);
        }
        t.ok(&["rm", "-f", &name]);
    }
    assert_eq!(t.host(&["nft", "list", "ruleset"]), rules_before);

    // A run killed with its monitor and keeper: the next command drops its ports.
    let id = t
        .ok(&[
            "run",
            "-d",
            "--network",
            "bt-ploop",
            "-p",
            "8200:80",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    assert!(ports_elements(&t).contains("8200"));
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
    t.env.wait_for(20, "the ports' release", || {
        t.ok(&["network", "ls", "-q"]);
        !t.host(&["nft", "list", "tables"]).contains("berth-ports")
    });
    // The port is free again for another container.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "--network",
        "bt-ploop",
        "-p",
        "8200:80",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["rm", "-f", "again", &id]);
    assert_eq!(t.host(&["nft", "list", "ruleset"]), rules_before);
}

#[test]
#[ignore = "needs root"]
fn concurrent_starts_get_distinct_ports_that_all_answer() {
    let t = NetEnv::new();
    t.ok(&["network", "create", "--subnet", "10.215.0.0/24", "bt-pconc"]);
    let names: Vec<String> = (0..8).map(|i| format!("pc{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let t = &t;
            s.spawn(move || {
                t.ok(&[
                    "run",
                    "-d",
                    "--name",
                    n,
                    "--network",
                    "bt-pconc",
                    "-p",
                    "80",
                    "busybox",
                    "httpd",
                    "-f",
                    "-p",
                    "80",
                    "-h",
                    "/etc",
                ])
            });
        }
    });
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        let port = t.ok(&["port", n, "80"]);
        let hp = port.trim().rsplit(':').next().unwrap().to_string();
        assert!(seen.insert(hp.clone()), "port {hp} given twice");
        let host = t.field(n, "{{.Config.Hostname}}");
        assert_eq!(
            curl(&t.ns, &format!("http://127.0.0.1:{hp}/hostname")).trim(),
            host,
            "{n} on {hp}"
        );
    }
    // Removed concurrently: nothing is left of them.
    std::thread::scope(|s| {
        for n in &names {
            let t = &t;
            s.spawn(move || t.ok(&["rm", "-f", n]));
        }
    });
    assert!(!t.host(&["nft", "list", "tables"]).contains("berth-ports"));
}

//! macvlan and ipvlan networks inside throwaway network namespaces (`common::netns`): the
//! parent is one end of a veth pair of the test's host (a `dummy` link would do, but the
//! test kernel may lack the dummy driver); containers on the network sit on its segment
//! (no bridge, no veth of their own) and reach each other by address and name.

mod common;

use common::netns::NetEnv;

/// A parent interface `name` in the test's host namespace, up.
fn parent(t: &NetEnv, name: &str) {
    let peer = format!("{name}p");
    t.host(&[
        "ip", "link", "add", name, "type", "veth", "peer", "name", &peer,
    ]);
    t.host(&["ip", "link", "set", name, "up"]);
    t.host(&["ip", "link", "set", &peer, "up"]);
    assert!(t.host(&["ip", "-o", "link"]).contains(name), "no {name}");
}

/// Whether the kernel can make a link of `kind` (ipvlan is a module some kernels lack).
fn kernel_has(t: &NetEnv, kind: &str) -> bool {
    let st = std::process::Command::new("ip")
        .args([
            "-n", &t.ns, "link", "add", "bt-probe", "link", "bt-par0", "type", kind,
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    t.host(&["ip", "link", "del", "bt-probe"]);
    st.success()
}

fn on_parent(driver: &str, opts: &[&str], subnet: &str, first: &str) {
    let t = NetEnv::new();
    parent(&t, "bt-par0");
    let mut args = vec!["network", "create", "-d", driver, "--subnet", subnet];
    for o in opts {
        args.extend(["-o", o]);
    }
    args.push("bt-vl");
    t.ok(&args);
    if !kernel_has(&t, driver) {
        // This kernel has no such link: the start is refused in one line, and leaves
        // nothing (no endpoint, no namespace, no address).
        let (code, _, err) = t.run(&[
            "run",
            "-d",
            "--name",
            "v1",
            "--network",
            "bt-vl",
            "busybox",
            "sleep",
            "300",
        ]);
        assert_ne!(code, 0);
        assert!(
            err.to_lowercase().contains("create eth0 on bt-par0"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let n = t.ok(&["network", "inspect", "-f", "{{len .Containers}}", "bt-vl"]);
        assert_eq!(n.trim(), "0");
        assert!(
            t.env
                .leftover_mounts()
                .iter()
                .all(|m| !m.contains("/netns/"))
        );
        return;
    }
    for n in ["v1", "v2"] {
        t.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            "bt-vl",
            "busybox",
            "sleep",
            "300",
        ]);
    }
    // No bridge, no veth: the container's eth0 is a link of the driver's kind.
    let veths: Vec<String> = t
        .veths()
        .into_iter()
        .filter(|v| !v.starts_with("bt-par"))
        .collect();
    assert_eq!(veths, Vec::<String>::new());
    let key = t.field("v1", "{{.NetworkSettings.SandboxKey}}");
    let o = std::process::Command::new("nsenter")
        .arg(format!("--net={key}"))
        .args(["ip", "-d", "link", "show", "eth0"])
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&o.stdout);
    assert!(link.contains(driver), "{link}");
    let ip = t.field(
        "v1",
        "{{(index .NetworkSettings.Networks \"bt-vl\").IPAddress}}",
    );
    assert_eq!(ip, first);
    let (code, out, err) = t.run(&["exec", "v2", "ping", "-c1", "-W2", &ip]);
    assert_eq!(code, 0, "v2 -> v1: {out}{err}");
    let (code, out, err) = t.run(&["exec", "v1", "ping", "-c1", "-W2", "v2"]);
    assert_eq!(code, 0, "v1 -> v2 by name: {out}{err}");
    let net = t.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.Driver}} {{.Options.parent}} {{len .Containers}}",
        "bt-vl",
    ]);
    assert_eq!(net.trim(), format!("{driver} bt-par0 2"));
    // Connected live, disconnected live: the link comes and goes in the namespace.
    t.ok(&["network", "create", "--subnet", "10.216.9.0/24", "bt-vb"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "v3",
        "--network",
        "bt-vb",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(&["network", "connect", "bt-vl", "v3"]);
    let (code, out, err) = t.run(&["exec", "v3", "ping", "-c1", "-W2", "v1"]);
    assert_eq!(code, 0, "v3 -> v1 after connect: {out}{err}");
    t.ok(&["network", "disconnect", "bt-vl", "v3"]);
    let links = t.ok(&["exec", "v3", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    // Stop and rm leave nothing on the host: the links went with the namespaces.
    t.ok(&["rm", "-f", "v1", "v2", "v3"]);
    let host_links = t.host(&["ip", "-o", "link"]);
    assert!(!host_links.contains(driver), "{host_links}");
    t.ok(&["network", "rm", "bt-vl", "bt-vb"]);
    assert!(t.host(&["ip", "-o", "link"]).contains("bt-par0"));
}

#[test]
#[ignore = "needs root"]
fn macvlan_containers_sit_on_the_parents_segment() {
    on_parent(
        "macvlan",
        &["parent=bt-par0"],
        "10.216.1.0/24",
        "10.216.1.2",
    );
}

#[test]
#[ignore = "needs root"]
fn ipvlan_containers_sit_on_the_parents_segment() {
    on_parent(
        "ipvlan",
        &["parent=bt-par0", "ipvlan_mode=l2"],
        "10.216.2.0/24",
        "10.216.2.2",
    );
}

#[test]
#[ignore = "needs root"]
fn bad_vlan_networks_are_refused() {
    let t = NetEnv::new();
    parent(&t, "bt-par1");
    t.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=bt-par1",
        "bt-m1",
    ]);
    for (args, msg) in [
        (
            vec!["network", "create", "-d", "macvlan", "bt-m2"],
            "needs -o parent=INTERFACE",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=bt-nope",
                "bt-m2",
            ],
            "parent interface was not found on the host: bt-nope",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=bt-par1",
                "bt-m2",
            ],
            "network bt-m1 is already using parent interface bt-par1",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=bt-par1",
                "-o",
                "macvlan_mode=nope",
                "bt-m2",
            ],
            "requested macvlan mode 'nope' is not valid",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "ipvlan",
                "-o",
                "parent=bt-par1",
                "-o",
                "ipvlan_mode=nope",
                "bt-m2",
            ],
            "requested ipvlan mode 'nope' is not valid",
        ),
    ] {
        let (code, _, err) = t.run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.to_lowercase().contains(&msg.to_lowercase()),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let ls = t.ok(&["network", "ls", "--filter", "name=bt-m", "-q"]);
    assert_eq!(ls.lines().count(), 1, "{ls}");
}

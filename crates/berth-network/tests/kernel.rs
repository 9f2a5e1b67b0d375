//! The kernel side on the real kernel, inside a throwaway network namespace that this
//! test's thread makes its "host" (never the real host's interfaces or firewall): when the
//! thread ends, the namespace goes with its bridge, veths and nftables tables.

use std::net::Ipv4Addr;
use std::process::Command;

use berth_network::{Bridge, EndpointSpec, Firewall, FirewallNet, Nftables, netns, subnet};

fn in_throwaway_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare changes only this thread's network namespace.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            f()
        })
        .join()
        .expect("test thread")
    })
}

/// Removes a pinned namespace file on drop.
struct PinGuard(std::path::PathBuf);

impl Drop for PinGuard {
    fn drop(&mut self) {
        let _ = netns::remove(&self.0);
    }
}

fn sh(args: &[&str]) -> String {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
#[ignore = "needs root"]
fn bridge_endpoint_and_firewall() {
    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join("ns1");
    // Unmounted and removed even when an assertion fails (the pin is a bind mount).
    let _pin = PinGuard(ns.clone());
    in_throwaway_netns(|| {
        let b = Bridge {
            name: "br-test1".into(),
            gateway: Ipv4Addr::new(10, 99, 0, 1),
            subnet: "10.99.0.0/24".parse().unwrap(),
            mtu: Some(1400),
        };
        assert!(berth_network::ensure_bridge(&b).unwrap());
        assert!(!berth_network::ensure_bridge(&b).unwrap());
        netns::create(&ns).unwrap();
        let spec = EndpointSpec {
            host_ifname: "vethtest1".into(),
            address: Ipv4Addr::new(10, 99, 0, 2),
            prefix: 24,
            gateway: Some(b.gateway),
            mac: subnet::mac_for(Ipv4Addr::new(10, 99, 0, 2)),
            mtu: b.mtu,
            container_ifname: berth_network::CONTAINER_IFNAME.into(),
        };
        let ep = berth_network::attach(&ns, &b, &spec).unwrap();
        assert_eq!(ep.host_ifname, "vethtest1");
        let host = sh(&["ip", "-o", "link", "show", "vethtest1"]);
        assert!(
            host.contains("master br-test1") && host.contains("mtu 1400"),
            "{host}"
        );
        let ns_s = ns.to_str().unwrap();
        let inside = sh(&["nsenter", &format!("--net={ns_s}"), "ip", "-o", "addr"]);
        assert!(
            inside.contains("10.99.0.2/24") && inside.contains("eth0"),
            "{inside}"
        );
        let route = sh(&["nsenter", &format!("--net={ns_s}"), "ip", "route"]);
        assert!(route.contains("default via 10.99.0.1 dev eth0"), "{route}");
        let link = sh(&["nsenter", &format!("--net={ns_s}"), "ip", "-o", "link"]);
        assert!(link.contains("02:42:0a:63:00:02"), "{link}");
        let ping = Command::new("nsenter")
            .args([
                &format!("--net={ns_s}"),
                "busybox",
                "ping",
                "-c1",
                "-W2",
                "10.99.0.1",
            ])
            .output()
            .unwrap();
        assert!(ping.status.success(), "{ping:?}");

        let fw = Nftables::default();
        let nets = [FirewallNet {
            bridge: b.name.clone(),
            subnet: b.subnet,
            subnet6: None,
            internal: false,
        }];
        fw.apply(&nets).unwrap();
        fw.apply(&nets).unwrap();
        let rules = sh(&["nft", "list", "ruleset"]);
        assert!(
            rules.contains("table inet berth") && rules.contains("masquerade"),
            "{rules}"
        );
        // Applied twice, the rules are there once: the way out, and the two for
        // published ports (127.0.0.0/8 sources, hairpin).
        assert_eq!(rules.matches("masquerade").count(), 3, "{rules}");
        fw.apply(&[]).unwrap();
        let rules = sh(&["nft", "list", "ruleset"]);
        assert!(!rules.contains("berth"), "{rules}");

        // Removed on a thread of its own (which is in this thread's namespace), one
        // outcome per name; a name that is gone already is no error.
        let out = berth_network::detach_begin(vec!["vethtest1".into(), "vethnone1".into()]).wait();
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
        assert!(!berth_network::link_exists("vethtest1").unwrap());
        berth_network::detach("vethtest1").unwrap();
        assert!(berth_network::detach_begin(Vec::new()).wait().is_empty());
        netns::remove(&ns).unwrap();
        assert!(!ns.exists());
        // An interface that is not a bridge is never taken over.
        let lo = Bridge {
            name: "lo".into(),
            ..b.clone()
        };
        assert!(berth_network::ensure_bridge(&lo).is_err());
        berth_network::remove_bridge("br-test1").unwrap();
        assert!(!berth_network::bridge_exists("br-test1").unwrap());
    });
}

#[test]
#[ignore = "needs root"]
fn published_port_elements_are_all_or_nothing() {
    use berth_network::{PortMap, Proto, ports};
    in_throwaway_netns(|| {
        let fw = Nftables::default();
        let p = |host_port, port| PortMap {
            proto: Proto::Tcp,
            host_ip: None,
            host_port,
            addr: Ipv4Addr::new(10, 99, 0, 2),
            port,
        };
        // No table yet: adding elements fails, and changes nothing.
        assert!(fw.add_ports(&[p(8080, 80)]).is_err());
        assert!(!sh(&["nft", "list", "tables"]).contains("berth-ports"));
        fw.apply_ports(&[p(8080, 80)]).unwrap();
        fw.add_ports(&[p(8081, 81), p(8082, 82)]).unwrap();
        // A key that is mapped already fails the whole batch (no silent old target).
        assert!(fw.add_ports(&[p(8083, 83), p(8080, 90)]).is_err());
        let map = sh(&["nft", "list", "map", "ip", "berth-ports", "ports"]);
        assert!(map.contains("tcp . 8080 : 10.99.0.2 . 80"), "{map}");
        assert!(!map.contains("8083"), "{map}");
        // A missing element fails the whole removal.
        assert!(fw.remove_ports(&[p(8081, 81), p(9999, 1)]).is_err());
        assert!(sh(&["nft", "list", "map", "ip", "berth-ports", "ports"]).contains("8081"));
        fw.remove_ports(&[p(8081, 81), p(8082, 82)]).unwrap();
        fw.apply_ports(&[]).unwrap();
        assert!(!sh(&["nft", "list", "tables"]).contains("berth-ports"));
        // The test bind finds a port a process holds.
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let held = l.local_addr().unwrap().port();
        assert!(ports::check_host_port(Proto::Tcp, None, held).is_err());
        drop(l);
        assert!(ports::check_host_port(Proto::Tcp, None, held).is_ok());
        assert!(ports::check_host_port(Proto::Udp, None, held).is_ok());
    });
}

//! Published ports over IPv6: the twin of `ports.rs` for containers with an IPv6 address,
//! in table `ip6 berth-ports` (maps `ports` and `ports-ip`, the same four fixed DNAT
//! rules, one element batch per container, the table rewritten only to reconcile it).
//!
//! No DNAT from the host's own ::1: the kernel never routes a packet whose source is the
//! IPv6 loopback address out of another interface (there is no IPv6 `route_localnet`),
//! so a port on ::1 would need a proxy process; Berth refuses such a binding instead.

use std::net::Ipv6Addr;

use crate::error::{Error, Result};
use crate::ports::{Proto, run_nft};

/// The table of IPv6 published ports (family ip6).
pub const PORTS6_TABLE: &str = "berth-ports";

/// One published IPv6 port: host (address or all, port, protocol) to container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMap6 {
    pub proto: Proto,
    /// None: every IPv6 address of the host.
    pub host_ip: Option<Ipv6Addr>,
    pub host_port: u16,
    pub addr: Ipv6Addr,
    pub port: u16,
}

impl PortMap6 {
    fn element(&self) -> (&'static str, String) {
        match self.host_ip {
            None => (
                "ports",
                format!(
                    "{} . {} : {} . {}",
                    self.proto, self.host_port, self.addr, self.port
                ),
            ),
            Some(ip) => (
                "ports-ip",
                format!(
                    "{ip} . {} . {} : {} . {}",
                    self.proto, self.host_port, self.addr, self.port
                ),
            ),
        }
    }
}

fn elements(verb: &str, ports: &[PortMap6]) -> String {
    let mut s = String::new();
    for p in ports {
        let (map, e) = p.element();
        s.push_str(&format!(
            "{verb} element ip6 {PORTS6_TABLE} {map} {{ {e} }}\n"
        ));
    }
    s
}

/// The batch that makes the table hold exactly `ports` (none: no table).
pub fn table_batch6(ports: &[PortMap6]) -> String {
    let t = PORTS6_TABLE;
    let mut s = format!("add table ip6 {t}\ndelete table ip6 {t}\n");
    if ports.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "table ip6 {t} {{
  map ports {{ type inet_proto . inet_service : ipv6_addr . inet_service; }}
  map ports-ip {{ type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports-ip
    fib daddr type local dnat ip6 to meta l4proto . th dport map @ports
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports-ip
    fib daddr type local dnat ip6 to meta l4proto . th dport map @ports
  }}
}}
"
    ));
    s.push_str(&elements("add", ports));
    s
}

/// Rewrites the IPv6 ports table to hold exactly `ports` (one batch).
pub fn apply_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    run_nft(nft, &table_batch6(ports))
}

/// Adds one container's IPv6 ports (one batch, `create`: a stale element fails it).
pub fn add_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    run_nft(nft, &elements("create", ports))
}

/// Deletes one container's IPv6 ports (one batch; one missing fails it).
pub fn remove_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    run_nft(nft, &elements("delete", ports))
}

/// Whether a process of the host holds IPv6 `port` (tried by binding it, then letting
/// it go). Err: the port cannot be bound, with the reason.
pub fn check_host_port6(proto: Proto, ip: Option<Ipv6Addr>, port: u16) -> Result<()> {
    let addr = std::net::SocketAddrV6::new(ip.unwrap_or(Ipv6Addr::UNSPECIFIED), port, 0, 0);
    let r = match proto {
        Proto::Tcp => std::net::TcpListener::bind(addr).map(drop),
        Proto::Udp => std::net::UdpSocket::bind(addr).map(drop),
        // No SCTP test bind over IPv6: the IPv4 test bind of the same port covers the
        // wildcard binding, and an SCTP listener on one IPv6 address is rare.
        Proto::Sctp => Ok(()),
    };
    r.map_err(|e| Error::io(format!("bind [{}]:{port}/{proto}", addr.ip()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_name_only_the_ip6_ports_table() {
        let p = PortMap6 {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            addr: "fd00:1::2".parse().unwrap(),
            port: 80,
        };
        let q = PortMap6 {
            proto: Proto::Udp,
            host_ip: Some("2001:db8::1".parse().unwrap()),
            ..p
        };
        let t = table_batch6(&[p, q]);
        assert!(t.contains("add element ip6 berth-ports ports { tcp . 8080 : fd00:1::2 . 80 }"));
        assert!(t.contains(
            "add element ip6 berth-ports ports-ip { 2001:db8::1 . udp . 8080 : fd00:1::2 . 80 }"
        ));
        assert_eq!(table_batch6(&[]).lines().count(), 2);
        assert!(elements("delete", &[p]).starts_with("delete element ip6 berth-ports ports"));
    }
}

//! Published ports over IPv6: the twin of `ports.rs` for containers with an IPv6 address,
//! in table `ip6 berth-ports` (maps `ports` and `ports-ip`, the same four fixed DNAT
//! rules, one element batch per container, the table rewritten only to reconcile it).
//!
//! No DNAT from the host's own ::1: the kernel never routes a packet whose source is the
//! IPv6 loopback address out of another interface (there is no IPv6 `route_localnet`),
//! so a port on ::1 would need a proxy process; Berth refuses such a binding instead.

use std::net::Ipv6Addr;

use crate::error::{Error, Result};
use crate::ports::{PortMapOf, Proto};

/// The table of IPv6 published ports (family ip6; the same name as the IPv4 one).
pub const PORTS6_TABLE: &str = crate::ports::PORTS_TABLE;

/// One published IPv6 port (`ports.rs`'s generic map, the same batches in family ip6).
pub type PortMap6 = PortMapOf<Ipv6Addr>;

/// Rewrites the IPv6 ports table to hold exactly `ports` (one batch).
pub fn apply_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    crate::ports::apply_ports(nft, ports)
}

/// Adds one container's IPv6 ports (one batch, `create`: a stale element fails it).
pub fn add_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    crate::ports::add_ports(nft, ports)
}

/// Deletes one container's IPv6 ports (one batch; one missing fails it).
pub fn remove_ports6(nft: &std::path::Path, ports: &[PortMap6]) -> Result<()> {
    crate::ports::remove_ports(nft, ports)
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
        let t = crate::ports::table_batch(&[p, q]);
        assert!(t.contains("add element ip6 berth-ports ports { tcp . 8080 : fd00:1::2 . 80 }"));
        assert!(t.contains(
            "add element ip6 berth-ports ports-ip { 2001:db8::1 . udp . 8080 : fd00:1::2 . 80 }"
        ));
        assert_eq!(
            crate::ports::table_batch::<Ipv6Addr>(&[]).lines().count(),
            2
        );
        assert!(
            crate::ports::elements("delete", &[p])
                .starts_with("delete element ip6 berth-ports ports")
        );
    }
}

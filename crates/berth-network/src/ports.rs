//! Published ports, in the kernel: DNAT through two named maps of the table
//! `ip berth-ports`, keyed by protocol and host port (`ports`, bindings on every host
//! address) or by host address, protocol and port (`ports-ip`, bindings on one address).
//! The rules are fixed (a lookup in each map, in prerouting for traffic from elsewhere and
//! in output for the host's own, 127.0.0.1 included); a container's ports are elements,
//! added or deleted as one atomic batch per container, so the 200th container adds
//! elements, never rules. The whole table is rewritten (one batch too) only to reconcile it
//! with the engine's records.
//!
//! No source NAT for clients from elsewhere: a container sees its real peer. What must be
//! masqueraded (connections from 127.0.0.0/8, and a container reaching a port published
//! on its own bridge through a host address) is done by the `ip berth-nat` table
//! (`firewall.rs`), which knows the bridges.
//!
//! This is nft's text syntax, not JSON: nft 1.0.6 cannot read maps whose data is a
//! concatenation (address . port) in JSON.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The table of published ports (family ip).
pub const PORTS_TABLE: &str = "berth-ports";

/// A transport protocol a port can be published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    /// "tcp", "udp" or "sctp" (any case, as Docker's).
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address family of published ports: its nftables family and address type (the
/// table's name, maps and rules are the same for both).
pub trait PortFamily: Copy + std::fmt::Display {
    /// `ip` or `ip6`.
    const NFT_FAMILY: &'static str;
    /// `ipv4_addr` or `ipv6_addr`.
    const NFT_ADDR: &'static str;
}

impl PortFamily for Ipv4Addr {
    const NFT_FAMILY: &'static str = "ip";
    const NFT_ADDR: &'static str = "ipv4_addr";
}

impl PortFamily for std::net::Ipv6Addr {
    const NFT_FAMILY: &'static str = "ip6";
    const NFT_ADDR: &'static str = "ipv6_addr";
}

/// One published port: host (address or all, port, protocol) to container (address, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMapOf<A> {
    pub proto: Proto,
    /// None: every address of the host (of the family).
    pub host_ip: Option<A>,
    pub host_port: u16,
    pub addr: A,
    pub port: u16,
}

/// A published IPv4 port.
pub type PortMap = PortMapOf<Ipv4Addr>;

impl<A: PortFamily> PortMapOf<A> {
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

pub(crate) fn elements<A: PortFamily>(verb: &str, ports: &[PortMapOf<A>]) -> String {
    let mut s = String::new();
    for p in ports {
        let (map, e) = p.element();
        s.push_str(&format!(
            "{verb} element {} {PORTS_TABLE} {map} {{ {e} }}\n",
            A::NFT_FAMILY
        ));
    }
    s
}

/// The batch that makes the family's table hold exactly `ports` (none: no table).
pub fn table_batch<A: PortFamily>(ports: &[PortMapOf<A>]) -> String {
    let (t, f, a) = (PORTS_TABLE, A::NFT_FAMILY, A::NFT_ADDR);
    let mut s = format!("add table {f} {t}\ndelete table {f} {t}\n");
    if ports.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "table {f} {t} {{
  map ports {{ type inet_proto . inet_service : {a} . inet_service; }}
  map ports-ip {{ type {a} . inet_proto . inet_service : {a} . inet_service; }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    fib daddr type local dnat {f} to {f} daddr . meta l4proto . th dport map @ports-ip
    fib daddr type local dnat {f} to meta l4proto . th dport map @ports
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local dnat {f} to {f} daddr . meta l4proto . th dport map @ports-ip
    fib daddr type local dnat {f} to meta l4proto . th dport map @ports
  }}
}}
"
    ));
    s.push_str(&elements("add", ports));
    s
}

/// Runs `nft -f -` with `text` (one atomic batch: all of it or nothing).
pub(crate) fn run_nft(nft: &std::path::Path, text: &str) -> Result<()> {
    let mut child = Command::new(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("run {}", nft.display()), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| Error::io(format!("write to {}", nft.display()), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("wait for {}", nft.display()), e))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let first = msg
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        return Err(Error::Firewall(format!(
            "nft refused the batch ({}): {first}",
            out.status
        )));
    }
    Ok(())
}

/// Rewrites the ports table to hold exactly `ports` (one batch).
pub fn apply_ports<A: PortFamily>(nft: &std::path::Path, ports: &[PortMapOf<A>]) -> Result<()> {
    run_nft(nft, &table_batch(ports))
}

/// Adds one container's ports (one batch; `create`, so a key some stale element holds
/// fails the batch rather than keeping the old target). Err: nothing was added.
pub fn add_ports<A: PortFamily>(nft: &std::path::Path, ports: &[PortMapOf<A>]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    run_nft(nft, &elements("create", ports))
}

/// Deletes one container's ports (one batch). Err (one of them is missing, or the table
/// is): nothing was deleted.
pub fn remove_ports<A: PortFamily>(nft: &std::path::Path, ports: &[PortMapOf<A>]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    run_nft(nft, &elements("delete", ports))
}

/// Lets 127.0.0.0/8 sources be routed out of `bridge` (then masqueraded), so that a port
/// published on every address answers on 127.0.0.1.
pub fn enable_route_localnet(bridge: &str) -> Result<()> {
    let p = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    if std::fs::read_to_string(&p).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(&p, b"1").map_err(|e| Error::io(format!("write {p}"), e))
}

/// The host's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range), Docker's
/// fallback 49153-65535 when it cannot be read.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .filter(|(lo, hi)| lo <= hi && *lo > 0)
        .unwrap_or((49153, 65535))
}

/// Whether a process of the host holds `port` (tried by binding it, then letting it go).
/// Err: the port cannot be bound, with the reason (in use, or an address the host lacks).
pub fn check_host_port(proto: Proto, ip: Option<Ipv4Addr>, port: u16) -> Result<()> {
    let addr = std::net::SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
    let r = match proto {
        Proto::Tcp => std::net::TcpListener::bind(addr).map(drop),
        Proto::Udp => std::net::UdpSocket::bind(addr).map(drop),
        Proto::Sctp => bind_sctp(addr),
    };
    r.map_err(|e| Error::io(format!("bind {addr}/{proto}"), e))
}

fn bind_sctp(addr: std::net::SocketAddrV4) -> std::io::Result<()> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        // No SCTP in this kernel: no process can hold an SCTP port.
        return match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) | Some(libc::ESOCKTNOSUPPORT) => Ok(()),
            _ => Err(e),
        };
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let sa = libc::sockaddr_in {
        sin_family: libc::sa_family_t::try_from(libc::AF_INET).unwrap_or_default(),
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sa is a valid sockaddr_in of the size given; fd is open.
    let r = unsafe {
        libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&sa as *const libc::sockaddr_in).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>()).unwrap_or_default(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_name_only_the_ports_table() {
        let p = PortMap {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            addr: "10.1.0.2".parse().unwrap(),
            port: 80,
        };
        let q = PortMap {
            proto: Proto::Udp,
            host_ip: Some("127.0.0.1".parse().unwrap()),
            ..p
        };
        let t = table_batch(&[p, q]);
        assert!(t.contains("add element ip berth-ports ports { tcp . 8080 : 10.1.0.2 . 80 }"));
        assert!(t.contains(
            "add element ip berth-ports ports-ip { 127.0.0.1 . udp . 8080 : 10.1.0.2 . 80 }"
        ));
        assert_eq!(table_batch::<Ipv4Addr>(&[]).lines().count(), 2);
        assert!(elements("create", &[p]).starts_with("create element ip berth-ports ports"));
        assert_eq!(Proto::parse("TCP"), Some(Proto::Tcp));
        assert_eq!(Proto::parse("foo"), None);
    }
}

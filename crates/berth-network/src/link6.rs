//! The IPv6 side of a dual-stack endpoint, made after the IPv4 one (`link::attach`) on a
//! network with IPv6: the bridge gets its IPv6 gateway address, the container's `eth0`
//! gets IPv6 turned on, duplicate address detection off (so its address is usable at
//! once, not "tentative" for a second or more), its address and the default IPv6 route.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::error::{Error, Result};
use crate::link::need_index;

/// The IPv6 settings of one endpoint: its bridge (and the gateway address the bridge
/// holds), the container's address and prefix, its default route (`None` on an internal
/// network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint6Spec {
    /// The endpoint's interface inside the container (eth0, eth1...).
    pub container_ifname: String,
    pub bridge: String,
    pub bridge_gateway: Ipv6Addr,
    pub address: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv6Addr>,
}

/// Writes an IPv6 sysctl of interface `ifname` in the calling thread's namespace (a
/// thread that joined a container's namespace sees that namespace's /proc/sys/net).
fn conf(ifname: &str, key: &str, value: &str) -> Result<()> {
    let p = format!("/proc/sys/net/ipv6/conf/{ifname}/{key}");
    if std::fs::read_to_string(&p).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&p, value).map_err(|e| Error::io(format!("write {p}"), e))
}

/// Adds `addr`/`prefix` to link `index` with no duplicate address detection (replacing
/// the same address if it is there).
async fn add_nodad(h: &Handle, index: u32, addr: Ipv6Addr, prefix: u8, what: &str) -> Result<()> {
    let mut req = h.address().add(index, IpAddr::V6(addr), prefix).replace();
    let m = req.message_mut();
    m.header.flags = AddressHeaderFlags::Nodad;
    m.attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    req.execute()
        .await
        .map_err(|e| Error::netlink(format!("give {what} address {addr}"), e))
}

/// Makes the IPv6 side of an endpoint whose IPv4 side `attach` made, on one thread: the
/// bridge's gateway address (IPv6 on, DAD off) through a netlink socket of the caller's
/// namespace, then, after joining the namespace pinned at `netns`, IPv6 on for `lo` and
/// `eth0`, DAD and router advertisements off, the address, the default route.
pub fn attach6(netns: &Path, spec: &Endpoint6Spec) -> Result<()> {
    let what = format!("endpoint {} (IPv6)", spec.address);
    let what = &what;
    std::thread::scope(|s| {
        s.spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(|e| Error::io(format!("{what}: start the netlink runtime"), e))?;
            rt.block_on(async move {
                let b = &spec.bridge;
                conf(b, "disable_ipv6", "0")?;
                conf(b, "accept_dad", "0")?;
                let (conn, host, _) = rtnetlink::new_connection()
                    .map_err(|e| Error::io(format!("{what}: open a netlink socket"), e))?;
                let task = tokio::spawn(conn);
                let r = async {
                    let index = need_index(&host, b).await?;
                    add_nodad(
                        &host,
                        index,
                        spec.bridge_gateway,
                        spec.prefix,
                        &format!("bridge {b}"),
                    )
                    .await
                }
                .await;
                task.abort();
                r?;
                // This thread is the runtime's only one and ends with it: joining the
                // container's namespace here changes nothing else.
                crate::netns::enter(netns)?;
                let (conn, h, _) = rtnetlink::new_connection().map_err(|e| {
                    Error::io(format!("{what}: open a netlink socket in the namespace"), e)
                })?;
                let task = tokio::spawn(conn);
                let r = container_side(&h, spec).await;
                task.abort();
                r
            })
        })
        .join()
        .unwrap_or_else(|_| Err(Error::netlink(what.as_str(), "the netlink thread panicked")))
    })
}

/// The container's side of `attach6`, on a thread inside its namespace.
async fn container_side(h: &Handle, spec: &Endpoint6Spec) -> Result<()> {
    for (ifname, key, value) in [
        ("all", "disable_ipv6", "0"),
        ("default", "disable_ipv6", "0"),
        ("lo", "disable_ipv6", "0"),
        (spec.container_ifname.as_str(), "disable_ipv6", "0"),
        (spec.container_ifname.as_str(), "accept_dad", "0"),
        (spec.container_ifname.as_str(), "accept_ra", "0"),
    ] {
        conf(ifname, key, value)?;
    }
    let eth = need_index(h, &spec.container_ifname).await?;
    add_nodad(h, eth, spec.address, spec.prefix, &spec.container_ifname).await?;
    if let Some(gw) = spec.gateway {
        let route = RouteMessageBuilder::<Ipv6Addr>::new()
            .gateway(gw)
            .output_interface(eth)
            .build();
        h.route()
            .add(route)
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("add the default IPv6 route via {gw}"), e))?;
    }
    Ok(())
}

/// Turns on IPv6 forwarding in the caller's network namespace (needed for a way out).
/// On a host that takes its own IPv6 route from router advertisements, this stops it
/// accepting them on interfaces with `accept_ra=1` (as with Docker's ip6tables mode).
pub fn enable_forwarding6() -> Result<()> {
    conf("all", "forwarding", "1")
}

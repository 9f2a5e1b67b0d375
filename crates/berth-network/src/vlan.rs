//! macvlan and ipvlan endpoints: the container's interface sits directly on a parent
//! interface's segment, with no bridge, no veth and no NAT. The link is created on the
//! parent (looked up in the caller's, the host's, namespace) directly inside the
//! container's pinned namespace under its final name, then configured there as a veth's
//! container end is (`link::configure_inside`). It goes with the namespace, or with
//! `detach_in` while the container runs.

use std::os::fd::AsRawFd;
use std::path::Path;

use rtnetlink::packet_route::link::{IpVlanMode, MacVlanMode};
use rtnetlink::{LinkIpVlan, LinkMacVlan};

use crate::error::{Error, Result};
use crate::link::{EndpointSpec, configure_inside, delete_link, need_index, with_netlink};

/// The kind of link and its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vlan {
    /// `-d macvlan`, `macvlan_mode` (bridge by default).
    MacVlan(MacVlanKind),
    /// `-d ipvlan`, `ipvlan_mode` (l2 by default).
    IpVlan(IpVlanKind),
}

/// macvlan modes (`macvlan_mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacVlanKind {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// ipvlan modes (`ipvlan_mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVlanKind {
    L2,
    L3,
    L3s,
}

impl Vlan {
    /// The link for driver `driver` ("macvlan" or "ipvlan") in `mode` ("" is the
    /// default); None for anything else.
    pub fn parse(driver: &str, mode: &str) -> Option<Vlan> {
        match driver {
            "macvlan" => Some(Vlan::MacVlan(match mode {
                "" | "bridge" => MacVlanKind::Bridge,
                "private" => MacVlanKind::Private,
                "vepa" => MacVlanKind::Vepa,
                "passthru" => MacVlanKind::Passthru,
                _ => return None,
            })),
            "ipvlan" => Some(Vlan::IpVlan(match mode {
                "" | "l2" => IpVlanKind::L2,
                "l3" => IpVlanKind::L3,
                "l3s" => IpVlanKind::L3s,
                _ => return None,
            })),
            _ => None,
        }
    }
}

/// Makes the endpoint `spec` on `parent` inside the namespace pinned at `netns`: the
/// link as `spec.container_ifname` (a macvlan with `spec.mac`; an ipvlan shares the
/// parent's), the address, `lo` up, the default route via the gateway if any. On failure
/// nothing is left.
pub fn attach_vlan(netns: &Path, parent: &str, kind: Vlan, spec: &EndpointSpec) -> Result<()> {
    let what = format!("endpoint {} on {parent}", spec.container_ifname);
    let ns = std::fs::File::open(netns)
        .map_err(|e| Error::io(format!("open network namespace {}", netns.display()), e))?;
    let ns_fd = ns.as_raw_fd();
    let what = &what;
    let r = std::thread::scope(|s| {
        s.spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(|e| Error::io(format!("{what}: start the netlink runtime"), e))?;
            rt.block_on(async move {
                let (conn, host, _) = rtnetlink::new_connection()
                    .map_err(|e| Error::io(format!("{what}: open a netlink socket"), e))?;
                let task = tokio::spawn(conn);
                let r = async {
                    let index = need_index(&host, parent).await?;
                    let name = spec.container_ifname.as_str();
                    let msg = match kind {
                        Vlan::MacVlan(m) => {
                            let mode = match m {
                                MacVlanKind::Bridge => MacVlanMode::Bridge,
                                MacVlanKind::Private => MacVlanMode::Private,
                                MacVlanKind::Vepa => MacVlanMode::Vepa,
                                MacVlanKind::Passthru => MacVlanMode::Passthrough,
                            };
                            let mut b = LinkMacVlan::new(name, index, mode)
                                .address(spec.mac.to_vec())
                                .setns_by_fd(ns_fd);
                            if let Some(m) = spec.mtu {
                                b = b.mtu(m);
                            }
                            b.build()
                        }
                        Vlan::IpVlan(m) => {
                            let mode = match m {
                                IpVlanKind::L2 => IpVlanMode::L2,
                                IpVlanKind::L3 => IpVlanMode::L3,
                                IpVlanKind::L3s => IpVlanMode::L3S,
                            };
                            let mut b = LinkIpVlan::new(name, index, mode).setns_by_fd(ns_fd);
                            if let Some(m) = spec.mtu {
                                b = b.mtu(m);
                            }
                            b.build()
                        }
                    };
                    host.link()
                        .add(msg)
                        .execute()
                        .await
                        .map_err(|e| Error::netlink(format!("create {name} on {parent}"), e))?;
                    // From here this thread is in the container's namespace (if it cannot
                    // get there, the link stays inside it and goes with it).
                    crate::netns::enter(netns)?;
                    let r = configure_inside(netns, spec, what).await;
                    if r.is_err()
                        && let Ok((c, h, _)) = rtnetlink::new_connection()
                    {
                        let t = tokio::spawn(c);
                        let _ = delete_link(&h, name).await;
                        t.abort();
                    }
                    r
                }
                .await;
                task.abort();
                r
            })
        })
        .join()
        .unwrap_or_else(|_| Err(Error::netlink(what.as_str(), "the netlink thread panicked")))
    });
    drop(ns);
    r
}

/// Removes interface `name` inside the namespace pinned at `netns` (nothing to do if it
/// is gone): a macvlan or ipvlan endpoint, or the container end of a veth (its host end
/// goes with it).
pub fn detach_in(netns: &Path, name: &str) -> Result<()> {
    with_netlink(Some(netns), &format!("interface {name}"), |h| async move {
        delete_link(&h, name).await
    })
}

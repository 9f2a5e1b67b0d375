//! Bridges and veth endpoints through rtnetlink.
//!
//! Every call runs on a thread of its own with a single-threaded tokio runtime: rtnetlink
//! is asynchronous, Berth's callers are not, and a netlink socket belongs to the network
//! namespace of the thread that opened it, so a thread that joined a container's namespace
//! (`netns::enter`) acts inside it and nothing else does.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

use crate::error::{Error, Result};
use crate::subnet::Ipv4Net;

/// A network's bridge: its name, the gateway address it holds, the subnet, the MTU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub gateway: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub mtu: Option<u32>,
}

/// One endpoint to make: the host end's name, the container's address, its default route
/// (`None` on an internal network, or on a container's networks after its first), its MAC
/// address, the container end's name (`eth0`, `eth1`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    pub host_ifname: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    pub mtu: Option<u32>,
    pub container_ifname: String,
}

/// An endpoint made: the host end's name, the container end's MAC address, and whether
/// the bridge was made for it (then the firewall should learn of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host_ifname: String,
    pub mac: [u8; 6],
    pub bridge_made: bool,
}

/// The name of the container's end of the veth of its first network.
pub const CONTAINER_IFNAME: &str = "eth0";

/// Runs `f` with a netlink handle on a thread of its own, inside the namespace pinned at
/// `netns` when given (else in the caller's).
pub(crate) fn with_netlink<T, F, Fut>(netns: Option<&Path>, what: &str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    std::thread::scope(|s| {
        s.spawn(move || -> Result<T> {
            if let Some(ns) = netns {
                crate::netns::enter(ns)?;
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(|e| Error::io(format!("{what}: start the netlink runtime"), e))?;
            rt.block_on(async move {
                let (conn, handle, _) = rtnetlink::new_connection()
                    .map_err(|e| Error::io(format!("{what}: open a netlink socket"), e))?;
                let task = tokio::spawn(conn);
                let r = f(handle).await;
                task.abort();
                r
            })
        })
        .join()
        .unwrap_or_else(|_| Err(Error::netlink(what, "the netlink thread panicked")))
    })
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().raw_os_error(),
        _ => None,
    }
}

/// Link `name`, if it exists.
async fn find(h: &Handle, name: &str) -> Result<Option<LinkMessage>> {
    let r = h
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await;
    match r {
        Ok(m) => Ok(m),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::netlink(format!("find link {name}"), e)),
    }
}

/// The index of link `name`, if it exists.
async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>> {
    Ok(find(h, name).await?.map(|m| m.header.index))
}

fn is_bridge(m: &LinkMessage) -> bool {
    m.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

pub(crate) async fn need_index(h: &Handle, name: &str) -> Result<u32> {
    index_of(h, name)
        .await?
        .ok_or_else(|| Error::netlink(format!("find link {name}"), "it does not exist"))
}

async fn set_up(h: &Handle, index: u32, name: &str) -> Result<()> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("bring {name} up"), e))
}

/// Makes the bridge if it is missing, gives it its gateway address and brings it up.
/// Returns whether it was made now (two callers racing both succeed).
pub fn ensure_bridge(b: &Bridge) -> Result<bool> {
    with_netlink(None, &format!("bridge {}", b.name), |h| async move {
        Ok(ensure_bridge_on(&h, b).await?.1)
    })
}

/// `ensure_bridge` on an open handle: the bridge's index, and whether it was made now.
async fn ensure_bridge_on(h: &Handle, b: &Bridge) -> Result<(u32, bool)> {
    let mut made = false;
    let existing = find(h, &b.name).await?;
    if let Some(m) = &existing
        && !is_bridge(m)
    {
        // Never take over an interface of the host's.
        return Err(Error::invalid(
            format!("bridge {}", b.name),
            "an interface of that name exists and is not a bridge",
        ));
    }
    if existing.is_none() {
        let mut msg = LinkBridge::new(&b.name);
        if let Some(m) = b.mtu {
            msg = msg.mtu(m);
        }
        match h.link().add(msg.build()).execute().await {
            Ok(()) => made = true,
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => return Err(Error::netlink(format!("create bridge {}", b.name), e)),
        }
    }
    let (index, up) = match &existing {
        Some(m) => (m.header.index, m.header.flags.contains(LinkFlags::Up)),
        None => (need_index(h, &b.name).await?, false),
    };
    // Idempotent: a bridge whose address someone removed gets it back.
    h.address()
        .add(index, IpAddr::V4(b.gateway), b.subnet.prefix())
        .replace()
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("give bridge {} address {}", b.name, b.gateway), e))?;
    if !up {
        set_up(h, index, &b.name).await?;
    }
    Ok((index, made))
}

/// Whether a link called `name` exists in the caller's namespace.
pub fn link_exists(name: &str) -> Result<bool> {
    with_netlink(None, &format!("link {name}"), |h| async move {
        Ok(index_of(&h, name).await?.is_some())
    })
}

/// Whether bridge `name` exists.
pub fn bridge_exists(name: &str) -> Result<bool> {
    link_exists(name)
}

pub(crate) async fn delete_link(h: &Handle, name: &str) -> Result<()> {
    let Some(index) = index_of(h, name).await? else {
        return Ok(());
    };
    match h.link().del(index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(Error::netlink(format!("delete link {name}"), e)),
    }
}

/// Removes bridge `name` (nothing to do if it is gone).
pub fn remove_bridge(name: &str) -> Result<()> {
    with_netlink(None, &format!("bridge {name}"), |h| async move {
        delete_link(&h, name).await
    })
}

/// Removes an endpoint by its host end (its peer goes with it); nothing to do if gone.
pub fn detach(host_ifname: &str) -> Result<()> {
    with_netlink(None, &format!("endpoint {host_ifname}"), |h| async move {
        delete_link(&h, host_ifname).await
    })
}

/// Endpoints being removed on a thread of their own (`detach_begin`): the kernel's
/// removal of a veth waits for RCU callbacks (some 15-25 ms on a busy machine) while
/// using next to no CPU, so the caller goes on with the rest of its teardown meanwhile and
/// collects the outcome with `wait` (or when this is dropped).
#[derive(Debug)]
pub struct Detaching(Outcome);

#[derive(Debug)]
enum Outcome {
    Pending(std::thread::JoinHandle<Vec<Result<()>>>),
    Done(Vec<Result<()>>),
}

impl Detaching {
    /// Waits for the removals: one outcome per host end, in the order given.
    pub fn wait(mut self) -> Vec<Result<()>> {
        self.join()
    }

    fn join(&mut self) -> Vec<Result<()>> {
        match std::mem::replace(&mut self.0, Outcome::Done(Vec::new())) {
            Outcome::Done(v) => v,
            Outcome::Pending(h) => h.join().unwrap_or_else(|_| {
                vec![Err(Error::netlink(
                    "remove endpoints",
                    "the netlink thread panicked",
                ))]
            }),
        }
    }
}

impl Drop for Detaching {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Starts removing the endpoints whose host ends are `host_ifnames` (as `detach`, one
/// netlink socket for all) on a thread of its own; nothing to do for none. When no thread
/// can be started, the work is done before this returns.
pub fn detach_begin(host_ifnames: Vec<String>) -> Detaching {
    if host_ifnames.is_empty() {
        return Detaching(Outcome::Done(Vec::new()));
    }
    let names = host_ifnames.clone();
    match std::thread::Builder::new()
        .name("berth-detach".into())
        .spawn(move || detach_all(&names))
    {
        Ok(h) => Detaching(Outcome::Pending(h)),
        Err(_) => Detaching(Outcome::Done(detach_all(&host_ifnames))),
    }
}

/// Removes the endpoints whose host ends are `names`, through one netlink socket of the
/// calling thread's namespace: one outcome per name.
fn detach_all(names: &[String]) -> Vec<Result<()>> {
    let all = |e: &dyn std::fmt::Display| {
        names
            .iter()
            .map(|n| Err(Error::netlink(format!("endpoint {n}"), e.to_string())))
            .collect()
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return all(&format!("start the netlink runtime: {e}")),
    };
    rt.block_on(async {
        let (conn, h, _) = match rtnetlink::new_connection() {
            Ok(c) => c,
            Err(e) => return all(&format!("open a netlink socket: {e}")),
        };
        let task = tokio::spawn(conn);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(delete_link(&h, name).await);
        }
        task.abort();
        out
    })
}

/// Turns on hairpin mode on an endpoint's bridge port, so that the bridge may send a frame
/// back out of the port it came in by: a container reaching its own published port
/// through a host address (DNAT back to itself, when br_netfilter sees bridged frames).
pub fn set_hairpin(host_ifname: &str) -> Result<()> {
    with_netlink(None, &format!("endpoint {host_ifname}"), |h| async move {
        let index = need_index(&h, host_ifname).await?;
        h.link()
            .set_port(LinkBridgePort::new(index).hairpin(true).build())
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("set hairpin mode on {host_ifname}"), e))
    })
}

/// Makes an endpoint's bridge port `isolated`: the bridge forwards nothing between two
/// isolated ports (a network's `enable_icc=false`); the bridge itself, the host's side,
/// still exchanges frames with it.
pub fn set_isolated(host_ifname: &str) -> Result<()> {
    with_netlink(None, &format!("endpoint {host_ifname}"), |h| async move {
        let index = need_index(&h, host_ifname).await?;
        h.link()
            .set_port(LinkBridgePort::new(index).isolated(true).build())
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("isolate the bridge port {host_ifname}"), e))
    })
}

/// Makes an endpoint: the bridge if it is missing (as `ensure_bridge`), then a veth pair
/// whose host end (`spec.host_ifname`) is on the bridge and up, and whose other end is made
/// directly inside the namespace pinned at `netns` as `spec.container_ifname`, with the MAC address, the
/// address, the default route via the gateway, and `lo` up. One thread does it all, with a
/// netlink socket opened in the caller's namespace and another after joining `netns`.
/// On failure nothing is left but the bridge.
pub fn attach(netns: &Path, bridge: &Bridge, spec: &EndpointSpec) -> Result<Endpoint> {
    let what = format!("endpoint {}", spec.host_ifname);
    let ns = std::fs::File::open(netns)
        .map_err(|e| Error::io(format!("open network namespace {}", netns.display()), e))?;
    let ns_fd = ns.as_raw_fd();
    let what = &what;
    let made = std::thread::scope(|s| {
        s.spawn(move || -> Result<bool> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(|e| Error::io(format!("{what}: start the netlink runtime"), e))?;
            rt.block_on(async move {
                let (conn, host, _) = rtnetlink::new_connection()
                    .map_err(|e| Error::io(format!("{what}: open a netlink socket"), e))?;
                let host_task = tokio::spawn(conn);
                let r = endpoint_in(&host, netns, ns_fd, bridge, spec, what).await;
                if r.is_err() {
                    let _ = delete_link(&host, &spec.host_ifname).await;
                }
                host_task.abort();
                r
            })
        })
        .join()
        .unwrap_or_else(|_| Err(Error::netlink(what.as_str(), "the netlink thread panicked")))
    })?;
    drop(ns);
    Ok(Endpoint {
        host_ifname: spec.host_ifname.clone(),
        mac: spec.mac,
        bridge_made: made,
    })
}

/// The body of `attach`, on the calling thread: host side through `host`, then this
/// thread joins `netns` and configures the container's side through a socket of its own.
async fn endpoint_in(
    host: &Handle,
    netns: &Path,
    ns_fd: i32,
    bridge: &Bridge,
    spec: &EndpointSpec,
    what: &str,
) -> Result<bool> {
    let (br, made) = ensure_bridge_on(host, bridge).await?;
    let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(spec.container_ifname.clone())
        .address(spec.mac.to_vec())
        .setns_by_fd(ns_fd);
    let mut msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(spec.host_ifname.clone())
        .controller(br);
    if let Some(m) = spec.mtu {
        peer = peer.mtu(m);
        msg = msg.mtu(m);
    }
    let msg = msg
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
        .up()
        .build();
    host.link()
        .add(msg)
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("create veth {}", spec.host_ifname), e))?;
    configure_inside(netns, spec, what).await?;
    Ok(made)
}

/// Joins `netns` on this thread (the netlink runtime's only one, which ends with it:
/// nothing else changes namespace) and, through a socket opened there, brings `lo` up,
/// gives `spec.container_ifname` its address, brings it up and adds the default route
/// via `spec.gateway` if any.
pub(crate) async fn configure_inside(netns: &Path, spec: &EndpointSpec, what: &str) -> Result<()> {
    crate::netns::enter(netns)?;
    let (conn, h, _) = rtnetlink::new_connection()
        .map_err(|e| Error::io(format!("{what}: open a netlink socket in the namespace"), e))?;
    let task = tokio::spawn(conn);
    let r = async {
        let lo = need_index(&h, "lo").await?;
        set_up(&h, lo, "lo").await?;
        let eth = need_index(&h, &spec.container_ifname).await?;
        h.address()
            .add(eth, IpAddr::V4(spec.address), spec.prefix)
            .execute()
            .await
            .map_err(|e| {
                Error::netlink(
                    format!("give {} address {}", spec.container_ifname, spec.address),
                    e,
                )
            })?;
        set_up(&h, eth, &spec.container_ifname).await?;
        if let Some(gw) = spec.gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(eth)
                .build();
            h.route()
                .add(route)
                .execute()
                .await
                .map_err(|e| Error::netlink(format!("add the default route via {gw}"), e))?;
        }
        Ok(())
    }
    .await;
    task.abort();
    r
}

//! A container's endpoint on its network: made at start (address allocated in the store,
//! then the namespace pinned, then the veth), released when the container's run ends
//! (`teardown::unmount_rootfs`, every path that ends a run calls it), and reconciled when a
//! crash left one behind: a row whose container is gone, or stopped with no monitor and no
//! one holding its lock, is released by the next network command or start.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::store::{Allocation, EndpointRow};
use crate::config::NetworkMode;
use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What a started container joined: its pinned namespace and address.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub netns: PathBuf,
    pub ip: Ipv4Addr,
    /// On a network with IPv6.
    pub ip6: Option<std::net::Ipv6Addr>,
}

impl Joined {
    /// The container's own addresses, for its /etc/hosts: IPv4, then IPv6 if it has one.
    pub fn addrs(&self) -> Vec<std::net::IpAddr> {
        let mut v = vec![std::net::IpAddr::V4(self.ip)];
        v.extend(self.ip6.map(std::net::IpAddr::V6));
        v
    }
}

/// The namespace file of container `id`.
fn netns_path(engine: &Engine, id: &str) -> PathBuf {
    engine.paths.runroot.join("netns").join(id)
}

/// Makes the endpoint of a container on a bridge network (None for other modes). The
/// caller holds the container's lock. On failure nothing is left.
pub(crate) fn join(engine: &Engine, c: &Container) -> Result<Option<Joined>> {
    let NetworkMode::Network(name) = &c.config.host.network_mode else {
        return Ok(None);
    };
    let net = engine.network(name)?;
    if net.driver != "bridge" {
        return Err(Error::Unsupported(format!(
            "network {} (driver {}) cannot be joined by name: use --network {}",
            net.name, net.driver, net.name
        )));
    }
    reconcile(engine);
    // What an earlier run of this container may have left (a crash between its start
    // and its monitor's record).
    release(engine, &c.id)?;
    let ip = match &c.config.host.ipv4_address {
        Some(s) => Some(crate::config::parse::ipv4_address(s)?),
        None => None,
    };
    let mac = match &c.config.host.mac_address {
        Some(s) => Some(crate::config::parse::mac_address(s)?),
        None => None,
    };
    let path = netns_path(engine, &c.id);
    if let Some(dir) = path.parent() {
        berth_runtime::util::private_dir(dir, 0o700)?;
    }
    let row = engine.db.allocate(
        &net,
        &Allocation {
            container_id: &c.id,
            ip,
            mac,
            netns: &path.to_string_lossy(),
        },
    )?;
    let made = (|| -> Result<Option<std::net::Ipv6Addr>> {
        let bridge = net.bridge_spec()?;
        berth_network::netns::create(&path)?;
        let (subnet, gateway, _) = net.ipv4()?;
        let mac = berth_network::subnet::parse_mac(&row.mac)?;
        let ep = berth_network::attach(
            &path,
            &bridge,
            &berth_network::EndpointSpec {
                host_ifname: row.ifname.clone(),
                address: row.ip,
                prefix: subnet.prefix(),
                gateway: (!net.internal).then_some(gateway),
                mac,
                mtu: net.mtu,
            },
        )?;
        if ep.bridge_made {
            // A new bridge (first use, or after a reboot): the rules come back with it.
            engine.apply_firewall()?;
        }
        if !net.icc() {
            berth_network::set_isolated(&row.ifname)?;
        }
        let ip6 = super::v6::join6(engine, &net, &row, c.config.host.ipv6_address.as_deref())?;
        if !net.internal {
            super::ports::publish(engine, c, row.ip, &net.bridge, &row.ifname)?;
            if let Some(ip6) = ip6 {
                super::ports6::publish6(engine, c, ip6)?;
            }
        }
        Ok(ip6)
    })();
    let ip6 = match made {
        Ok(ip6) => ip6,
        Err(e) => {
            let _ = release_row(engine, &row);
            return Err(e);
        }
    };
    Ok(Some(Joined {
        netns: path,
        ip: row.ip,
        ip6,
    }))
}

/// Removes one endpoint: the veth, the pinned namespace, then the row. A veth that
/// cannot be removed keeps its row (a later reconcile tries again).
fn release_row(engine: &Engine, row: &EndpointRow) -> Result<()> {
    super::ports6::unpublish6(engine, &row.container_id)?;
    super::ports::unpublish(engine, &row.container_id)?;
    berth_network::detach(&row.ifname)?;
    berth_network::netns::remove(std::path::Path::new(&row.netns))?;
    engine.db.delete_endpoint6(&row.id)?;
    engine.db.delete_endpoint(&row.id)
}

/// Releases every endpoint of container `id` (its run has ended).
pub(crate) fn release(engine: &Engine, id: &str) -> Result<()> {
    let mut first = None;
    for row in engine.db.endpoints(Some(id))? {
        if let Err(e) = release_row(engine, &row) {
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Releases the endpoints that crashed runs left: rows of containers that are gone, or
/// not running, without a monitor, and not being started or removed by anyone (their
/// lock is free); a live container whose monitor died is brought up to date first (see
/// `Engine::container`). Best effort: what fails now is tried again by the next command.
pub(crate) fn reconcile(engine: &Engine) {
    reconcile_endpoints(engine);
    super::ports::reconcile(engine);
    super::ports6::reconcile6(engine);
    let _ = engine.db.sweep_endpoints6();
}

fn reconcile_endpoints(engine: &Engine) {
    if !engine.db.any_endpoint().unwrap_or(false) {
        return;
    }
    let Ok(rows) = engine.db.endpoints(None) else {
        return;
    };
    for row in rows {
        let c = match engine.db.find(&row.container_id) {
            Err(Error::NoSuchContainer(_)) => {
                let _ = release_row(engine, &row);
                continue;
            }
            Err(_) => continue,
            Ok(c) => c,
        };
        // A live container whose monitor is gone: bringing it up to date adopts it (it
        // still runs) or records its end, which releases its endpoint.
        let c = if c.state.status.is_live()
            && !crate::engine::monitor_alive(c.state.monitor_pid, c.state.monitor_start)
        {
            match engine.container(&c.id) {
                Ok(c) => c,
                Err(_) => continue,
            }
        } else {
            c
        };
        let busy = |c: &Container| {
            c.state.status.is_live()
                || crate::engine::monitor_alive(c.state.monitor_pid, c.state.monitor_start)
        };
        if busy(&c) {
            continue;
        }
        // Under the container's lock (no start or removal in between), looked at again.
        if let Ok(Some(lock)) = engine.try_lock_container(&c.id) {
            if engine.db.find(&c.id).is_ok_and(|c| !busy(&c)) {
                let _ = release_row(engine, &row);
            }
            drop(lock);
        }
    }
}

/// Create-time checks of the network flags (`--network NAME`, `--ip`, `--mac-address`):
/// the network must exist (its name is recorded), and an address asked for must fit it.
pub(crate) fn check_config(
    engine: &Engine,
    cfg: &mut crate::config::ContainerConfig,
) -> Result<()> {
    let hc = &mut cfg.host;
    let net = match &hc.network_mode {
        NetworkMode::Network(name) => {
            let n = engine.network(name)?;
            match n.driver.as_str() {
                "host" => hc.network_mode = NetworkMode::Host,
                "null" => hc.network_mode = NetworkMode::None,
                _ => hc.network_mode = NetworkMode::Network(n.name.clone()),
            }
            (n.driver == "bridge").then_some(n)
        }
        _ => None,
    };
    if matches!(hc.network_mode, NetworkMode::Container(_))
        && (!hc.port_bindings.is_empty() || hc.publish_all_ports)
    {
        return Err(Error::InvalidValue(
            "conflicting options: port publishing and the container type network mode".into(),
        ));
    }
    for b in hc.port_bindings.values().flatten() {
        if !super::ports6::is_v6_binding(b) {
            crate::config::parse::ports::host_ip(b)?;
        }
    }
    super::ports6::check_bindings6(
        hc.port_bindings.values().flatten(),
        net.as_ref().is_none_or(|n| n.enable_ipv6),
    )?;
    if !hc.network_aliases.is_empty() && net.as_ref().is_none_or(|n| n.builtin) {
        return Err(Error::InvalidValue(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    if let Some(a) = hc
        .network_aliases
        .iter()
        .find(|a| a.is_empty() || a.len() > 253)
    {
        return Err(Error::invalid(
            format!("--network-alias {a:?}"),
            "a name of 1 to 253 characters is needed",
        ));
    }
    if let Some(m) = &hc.mac_address {
        crate::config::parse::mac_address(m)?;
        if net.is_none() {
            return Err(Error::InvalidValue(
                "conflicting options: mac-address and the network mode".into(),
            ));
        }
    }
    if let Some(ip6) = &hc.ipv6_address {
        super::v6::check_ip6(ip6, net.as_ref())?;
    }
    if let Some(ip) = &hc.ipv4_address {
        let addr = crate::config::parse::ipv4_address(ip)?;
        let Some(n) = net.as_ref().filter(|n| !n.builtin) else {
            return Err(Error::InvalidValue(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        };
        if !n.user_subnet {
            return Err(Error::InvalidValue(
                "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
            ));
        }
        let (subnet, gateway, _) = n.ipv4()?;
        if !subnet.contains(addr) || addr == subnet.addr() || addr == subnet.broadcast() {
            return Err(Error::InvalidValue(format!(
                "invalid address {addr}: it does not belong to the subnet {subnet} of network {}",
                n.name
            )));
        }
        if addr == gateway {
            return Err(Error::InvalidValue(format!(
                "invalid address {addr}: it is the gateway of network {}",
                n.name
            )));
        }
    }
    Ok(())
}

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

/// What a started container joined: its pinned namespace and its addresses on its
/// networks (none when it is on none: every network disconnected).
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub netns: PathBuf,
    /// Its addresses, for its /etc/hosts, in the order of its networks: on each, IPv4,
    /// then IPv6 if the network has IPv6 (one /etc/hosts line each, as Docker).
    pub addrs: Vec<std::net::IpAddr>,
}

/// The addresses of one endpoint, as /etc/hosts lists them.
pub(super) fn endpoint_addrs(
    ip: Ipv4Addr,
    ip6: Option<std::net::Ipv6Addr>,
) -> Vec<std::net::IpAddr> {
    let mut v = vec![std::net::IpAddr::V4(ip)];
    v.extend(ip6.map(std::net::IpAddr::V6));
    v
}

/// The namespace file of container `id`.
pub(super) fn netns_path(engine: &Engine, id: &str) -> PathBuf {
    engine.paths.runroot.join("netns").join(id)
}

/// The network `name` names, if a container can have an endpoint on it.
pub(super) fn joinable(engine: &Engine, name: &str) -> Result<super::Network> {
    let net = engine.network(name)?;
    if !net.has_endpoints() {
        return Err(Error::Unsupported(format!(
            "network {} (driver {}) cannot be joined by name: use --network {}",
            net.name, net.driver, net.name
        )));
    }
    Ok(net)
}

/// How `make_endpoint` makes an endpoint.
pub(super) struct How<'a> {
    /// The pinned namespace.
    pub path: &'a std::path::Path,
    /// It does not exist yet: made once the row is recorded (so a crash leaves a row
    /// naming it).
    pub make_ns: bool,
    /// The default route goes through this network's gateway (not on internal ones).
    pub default_route: bool,
    /// The container's published ports go to this endpoint's address.
    pub ports: bool,
}

/// Makes one endpoint of container `c` on `net`: the row, the veth (the row's device in
/// the namespace), the address, the route and ports as `how` says. On failure the row
/// and the veth are gone (the namespace stays).
pub(super) fn make_endpoint(
    engine: &Engine,
    c: &Container,
    net: &super::Network,
    a: &crate::config::Attachment<'_>,
    how: &How<'_>,
) -> Result<(EndpointRow, Option<std::net::Ipv6Addr>)> {
    let How {
        path,
        make_ns,
        default_route,
        ports,
    } = *how;
    let ip = match a.ipv4_address {
        Some(s) => Some(crate::config::parse::ipv4_address(s)?),
        None => None,
    };
    let mac = match a.mac_address {
        Some(s) => Some(crate::config::parse::mac_address(s)?),
        None => None,
    };
    let row = engine.db.allocate(
        net,
        &Allocation {
            container_id: &c.id,
            container_name: &c.name,
            ip,
            mac,
            netns: &path.to_string_lossy(),
            device: None,
            aliases: a.aliases,
        },
    )?;
    let made = (|| -> Result<Option<std::net::Ipv6Addr>> {
        if make_ns {
            berth_network::netns::create(path)?;
        }
        let (subnet, gateway, _) = net.ipv4()?;
        let mac = berth_network::subnet::parse_mac(&row.mac)?;
        let spec = berth_network::EndpointSpec {
            host_ifname: row.ifname.clone(),
            address: row.ip,
            prefix: subnet.prefix(),
            gateway: (default_route && !net.internal).then_some(gateway),
            mac,
            mtu: net.mtu,
            container_ifname: row.device.clone(),
        };
        if let Some((kind, parent)) = net.vlan() {
            // On the parent's segment: no bridge, no NAT, no published ports (Docker
            // publishes none on macvlan or ipvlan networks either).
            berth_network::attach_vlan(path, parent, kind, &spec)?;
            return Ok(None);
        }
        let ep = berth_network::attach(path, &net.bridge_spec()?, &spec)?;
        if ep.bridge_made {
            // A new bridge (first use, or after a reboot): the rules come back with it.
            engine.apply_firewall()?;
        }
        if !net.icc() {
            berth_network::set_isolated(&row.ifname)?;
        }
        let ip6 = super::v6::join6(engine, net, &row, a.ipv6_address, default_route)?;
        if ports && !net.internal {
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
            let _ = release_row(engine, &row, false);
            return Err(e);
        }
    };
    Ok((row, ip6))
}

/// Makes the endpoints of a container on bridge networks (None for other modes): a
/// pinned namespace, and one endpoint per network it is configured for (eth0 on the
/// first, with the default route and the published ports; eth1... on the others). The
/// caller holds the container's lock. On failure nothing is left.
pub(crate) fn join(engine: &Engine, c: &Container) -> Result<Option<Joined>> {
    let NetworkMode::Network(_) = &c.config.host.network_mode else {
        return Ok(None);
    };
    let atts = c.config.host.attachments();
    let nets = atts
        .iter()
        .map(|a| joinable(engine, a.network))
        .collect::<Result<Vec<_>>>()?;
    reconcile(engine);
    // What an earlier run of this container may have left (a crash between its start
    // and its monitor's record).
    release_all(engine, &c.id, false)?;
    let path = netns_path(engine, &c.id);
    if let Some(dir) = path.parent() {
        berth_runtime::util::private_dir(dir, 0o700)?;
    }
    if atts.is_empty() {
        // Every network disconnected: a namespace of its own with only `lo`, pinned so
        // that `network connect` can add to it.
        berth_network::netns::create(&path)?;
    }
    let mut addrs = Vec::new();
    for (i, (a, net)) in atts.iter().zip(&nets).enumerate() {
        let how = How {
            path: &path,
            make_ns: i == 0,
            default_route: i == 0,
            ports: i == 0,
        };
        match make_endpoint(engine, c, net, a, &how) {
            Ok((row, ip6)) => addrs.extend(endpoint_addrs(row.ip, ip6)),
            Err(e) => {
                let _ = release_all(engine, &c.id, false);
                return Err(e);
            }
        }
    }
    // Docker's `network connect` events of a start, one per network in order.
    for net in &nets {
        super::connect::event(engine, "connect", net, c);
    }
    Ok(Some(Joined { netns: path, addrs }))
}

/// Removes one endpoint: the container's published ports if they go to its address, the
/// veth, the pinned namespace when `whole` (the container's run has ended), then the rows
/// (its IPv6 one first). A veth that cannot be removed keeps its row (a later reconcile
/// tries again).
fn release_row(engine: &Engine, row: &EndpointRow, whole: bool) -> Result<()> {
    if whole
        || engine
            .db
            .ports(Some(&row.container_id))?
            .iter()
            .any(|p| p.map.addr == row.ip)
    {
        super::ports6::unpublish6(engine, &row.container_id)?;
        super::ports::unpublish(engine, &row.container_id)?;
    }
    berth_network::detach(&row.ifname)?;
    if whole {
        berth_network::netns::remove(std::path::Path::new(&row.netns))?;
    }
    engine.db.delete_endpoint6(&row.id)?;
    engine.db.delete_endpoint(&row.id)
}

/// Releases one endpoint of a running container (`network disconnect`): its interface
/// inside the namespace (a veth's host end goes with it; a macvlan or ipvlan link has
/// none), then the row; the namespace stays.
pub(super) fn release_one(engine: &Engine, row: &EndpointRow) -> Result<()> {
    berth_network::detach_in(std::path::Path::new(&row.netns), &row.device)?;
    release_row(engine, row, false)
}

/// Releases every endpoint of container `id` and its namespace, with or without Docker's
/// `network disconnect` events (without: what a failed or crashed start left, whose
/// connect events were never recorded). A run that ended uses `release_begin`.
fn release_all(engine: &Engine, id: &str, events: bool) -> Result<()> {
    release_begin(engine, id, events).finish(engine)
}

/// The endpoints of a container whose run has ended, on their way out (`release_begin`):
/// its published ports are gone, its veths are being removed on a thread of their own.
/// The kernel's removal of a veth mostly waits (RCU callbacks, some 15-25 ms on a busy
/// machine), so the caller does the rest of its teardown meanwhile, then `finish`es.
#[must_use = "finish releases the rows and the namespace"]
pub(crate) struct Releasing {
    id: String,
    rows: Vec<EndpointRow>,
    detaching: berth_network::Detaching,
    first: Option<Error>,
    /// The container, read at the start (a `--rm` removes its record meanwhile), when
    /// `network disconnect` events are recorded for the endpoints released.
    events_for: Option<Container>,
}

/// Starts releasing container `id`'s endpoints: its published ports out of the kernel and
/// the records, then the removal of its veths (as `release_row` does for each, whole);
/// with `events`, `finish` records a `network disconnect` for each endpoint gone.
pub(crate) fn release_begin(engine: &Engine, id: &str, events: bool) -> Releasing {
    let mut first = None;
    let rows = match engine.db.endpoints(Some(id)) {
        Ok(rows) if rows.is_empty() => rows,
        Ok(rows) => {
            let ports = super::ports6::unpublish6(engine, id)
                .and_then(|()| super::ports::unpublish(engine, id));
            match ports {
                Ok(()) => rows,
                Err(e) => {
                    // The rows stay (with the ports they point at) for a later reconcile.
                    first = Some(e);
                    Vec::new()
                }
            }
        }
        Err(e) => {
            first = Some(e);
            Vec::new()
        }
    };
    let events_for = if events && !rows.is_empty() {
        engine.db.find(id).ok()
    } else {
        None
    };
    let detaching = berth_network::detach_begin(rows.iter().map(|r| r.ifname.clone()).collect());
    Releasing {
        id: id.to_string(),
        rows,
        detaching,
        first,
        events_for,
    }
}

impl Releasing {
    /// Waits for the veths; for each one gone, its namespace pin and its rows go; then
    /// the container's namespace, if nothing failed. A veth that cannot be removed keeps
    /// its row (a later reconcile tries again).
    pub(crate) fn finish(self, engine: &Engine) -> Result<()> {
        let Releasing {
            id,
            rows,
            detaching,
            mut first,
            events_for,
        } = self;
        let mut outcomes = detaching.wait().into_iter();
        for row in &rows {
            let r = match outcomes.next() {
                Some(r) => r.map_err(Error::from),
                None => Err(Error::Internal(format!(
                    "endpoint {}: its removal did not report",
                    row.ifname
                ))),
            };
            let r = r
                .and_then(|()| {
                    berth_network::netns::remove(std::path::Path::new(&row.netns))
                        .map_err(Error::from)
                })
                .and_then(|()| engine.db.delete_endpoint6(&row.id))
                .and_then(|()| engine.db.delete_endpoint(&row.id));
            match r {
                Err(e) => {
                    first.get_or_insert(e);
                }
                Ok(()) => {
                    if let Some(c) = &events_for
                        && let Ok(net) = engine.network(&row.network_id)
                    {
                        super::connect::event(engine, "disconnect", &net, c);
                    }
                }
            }
        }
        if first.is_none()
            && let Err(e) = berth_network::netns::remove(&netns_path(engine, &id))
        {
            first = Some(e.into());
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
                let _ = release_row(engine, &row, true);
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
                let _ = release_row(engine, &row, true);
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
            n.has_endpoints().then_some(n)
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
    if hc.ipv4_address.is_some() && net.as_ref().is_none_or(|n| n.builtin) {
        return Err(Error::InvalidValue(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    if let Some(n) = &net {
        check_endpoint(
            n,
            &hc.network_aliases,
            hc.ipv4_address.as_deref(),
            hc.mac_address.as_deref(),
        )?;
    }
    if hc.networks.is_empty() {
        return Ok(());
    }
    let Some(first) = net else {
        return Err(Error::InvalidValue(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    };
    let mut seen = vec![first.id.clone()];
    for x in &mut hc.networks {
        let n = engine.network(&x.network)?;
        if !n.has_endpoints() {
            return Err(Error::InvalidValue(
                "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                    .into(),
            ));
        }
        if seen.contains(&n.id) {
            return Err(Error::InvalidValue(format!(
                "network {:?} is specified multiple times",
                x.network
            )));
        }
        seen.push(n.id.clone());
        x.network = n.name.clone();
        if let Some(ip6) = &x.ipv6_address {
            super::v6::check_ip6(ip6, Some(&n))?;
        }
        check_endpoint(
            &n,
            &x.aliases,
            x.ipv4_address.as_deref(),
            x.mac_address.as_deref(),
        )?;
    }
    Ok(())
}

/// The settings of one endpoint on bridge network `n` (`--network-alias`, `--ip`,
/// `--mac-address`, or `network connect`'s), checked as Docker does.
pub(super) fn check_endpoint(
    n: &super::Network,
    aliases: &[String],
    ip: Option<&str>,
    mac: Option<&str>,
) -> Result<()> {
    if !aliases.is_empty() && n.builtin {
        return Err(Error::InvalidValue(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    if let Some(a) = aliases.iter().find(|a| a.is_empty() || a.len() > 253) {
        return Err(Error::invalid(
            format!("--network-alias {a:?}"),
            "a name of 1 to 253 characters is needed",
        ));
    }
    if let Some(m) = mac {
        crate::config::parse::mac_address(m)?;
    }
    if let Some(ip) = ip {
        let addr = crate::config::parse::ipv4_address(ip)?;
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

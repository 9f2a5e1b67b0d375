//! Networks as user objects: `network create/ls/inspect/rm/prune`, the built-in `bridge`,
//! `host` and `none`, and the endpoints containers hold on them (`endpoint.rs`). Records
//! and address allocations live in the state database (`store.rs`); the kernel side
//! (bridges, veths, pinned namespaces, firewall) is `berth-network`'s.

mod connect;
mod endpoint;
mod inspect;
pub(crate) mod links;
mod live_dns;
#[cfg(test)]
mod migrate_tests;
pub(crate) mod names;
pub(crate) mod ports;
pub(crate) mod ports6;
pub(crate) mod store;
pub(crate) mod v6;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use berth_network::{Firewall, FirewallNet, Ipv4Net, Pool};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::filters::Filters;

pub use connect::ConnectRequest;
pub(crate) use connect::mode_event;
pub(crate) use endpoint::{check_config, join, reconcile, release_begin};
pub use inspect::{NetworkContainer, NetworkInspect};

/// The option naming a network's bridge.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// The option that, "false", stops a network's containers talking to each other directly
/// (they still reach the host and what it publishes).
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
/// The option setting a network's MTU.
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
/// The option naming a macvlan or ipvlan network's parent interface.
pub const OPT_PARENT: &str = "parent";
/// The kernel bridge of the built-in `bridge` network.
pub const DEFAULT_BRIDGE: &str = "berth0";

/// A network as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub created: String,
    /// "bridge", or "host" / "null" for the built-ins of those names.
    pub driver: String,
    /// One of `bridge`, `host`, `none`: cannot be removed.
    pub builtin: bool,
    /// IPv4 subnet, gateway and range ("" when none).
    pub subnet: String,
    pub gateway: String,
    pub ip_range: String,
    /// The user gave the subnet (`--subnet`); only then is `--ip` accepted, as Docker's.
    pub user_subnet: bool,
    /// The user gave the gateway, or the pool was chosen by Berth (inspect shows it then).
    pub show_gateway: bool,
    pub internal: bool,
    /// `--attachable` (recorded and shown; every network can be joined by `run`).
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// The kernel bridge's name.
    pub bridge: String,
    pub mtu: Option<u32>,
    /// `--ipv6`: the network also has an IPv6 subnet, gateway and range ("" when none).
    pub enable_ipv6: bool,
    pub subnet6: String,
    pub gateway6: String,
    pub ip_range6: String,
    /// The user gave the IPv6 subnet; only then is `--ip6` accepted, as Docker's.
    pub user_subnet6: bool,
    pub show_gateway6: bool,
}

impl Network {
    /// Subnet, gateway and range, parsed.
    pub(crate) fn ipv4(&self) -> Result<(Ipv4Net, Ipv4Addr, Option<Ipv4Net>)> {
        let bad = |what: &str| {
            Error::Internal(format!(
                "network {} has a corrupt {what} in its record",
                self.name
            ))
        };
        let subnet: Ipv4Net = self.subnet.parse().map_err(|_| bad("subnet"))?;
        let gateway: Ipv4Addr = self.gateway.parse().map_err(|_| bad("gateway"))?;
        let range = if self.ip_range.is_empty() {
            None
        } else {
            Some(self.ip_range.parse().map_err(|_| bad("ip range"))?)
        };
        Ok((subnet, gateway, range))
    }

    /// Whether its containers may talk to each other (`enable_icc`, true unless "false").
    pub(crate) fn icc(&self) -> bool {
        self.options.get(OPT_ICC).and_then(|v| go_bool(v)) != Some(false)
    }

    pub(crate) fn bridge_spec(&self) -> Result<berth_network::Bridge> {
        let (subnet, gateway, _) = self.ipv4()?;
        Ok(berth_network::Bridge {
            name: self.bridge.clone(),
            gateway,
            subnet,
            mtu: self.mtu,
        })
    }

    /// Whether containers get endpoints on it (a bridge, macvlan or ipvlan network; not
    /// `host` or `none`).
    pub(crate) fn has_endpoints(&self) -> bool {
        matches!(self.driver.as_str(), "bridge" | "macvlan" | "ipvlan")
    }

    /// The link and mode of a macvlan or ipvlan network, and its parent interface.
    pub(crate) fn vlan(&self) -> Option<(berth_network::Vlan, &str)> {
        let mode_key = format!("{}_mode", self.driver);
        let mode = self.options.get(&mode_key).map_or("", String::as_str);
        let v = berth_network::Vlan::parse(&self.driver, mode)?;
        Some((v, self.options.get(OPT_PARENT).map(String::as_str)?))
    }

    fn firewall_net(&self) -> Option<FirewallNet> {
        if self.driver != "bridge" {
            return None;
        }
        Some(FirewallNet {
            bridge: self.bridge.clone(),
            subnet: self.subnet.parse().ok()?,
            subnet6: self.subnet6.parse().ok(),
            internal: self.internal,
        })
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    /// "" is bridge.
    pub driver: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && n.len() <= 128
}

fn valid_ifname(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The checked settings of a new network (before its subnet is chosen).
struct Plan {
    /// "bridge", "macvlan" or "ipvlan".
    driver: String,
    /// A macvlan or ipvlan network's parent interface.
    parent: Option<String>,
    subnet: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    range: Option<Ipv4Net>,
    bridge: Option<String>,
    mtu: Option<u32>,
}

fn plan(req: &NetworkCreate) -> Result<Plan> {
    let inv = |what: String, msg: String| Error::Invalid { what, msg };
    if !valid_name(&req.name) {
        return Err(inv(
            format!("network name {:?}", req.name),
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed".into(),
        ));
    }
    if req.name == "default" {
        return Err(Error::Conflict(
            "default is a pre-defined network and cannot be created".into(),
        ));
    }
    match req.driver.as_str() {
        "" | "bridge" => {}
        "host" | "null" => {
            return Err(Error::Conflict(format!(
                "only one instance of \"{}\" network is allowed",
                req.driver
            )));
        }
        "macvlan" | "ipvlan" => {}
        "overlay" => {
            return Err(Error::Unsupported(format!(
                "network driver {} is not supported by berth yet",
                req.driver
            )));
        }
        d => return Err(Error::InvalidValue(format!("plugin \"{d}\" not found"))),
    }
    // The IPv6 flags are `v6::plan6`'s; what follows checks the IPv4 ones.
    let v4 = v6::only_v4(req);
    let req = &v4;
    if req.subnets.len() > 1 || req.gateways.len() > 1 || req.ip_ranges.len() > 1 {
        return Err(Error::Unsupported(
            "one IPv4 --subnet, --gateway and --ip-range per network: berth has no multi-subnet networks yet".into(),
        ));
    }
    let subnet = match req.subnets.first() {
        Some(s) => Some(
            Ipv4Net::parse_strict(s, "--subnet").map_err(|e| Error::InvalidValue(e.to_string()))?,
        ),
        None => None,
    };
    if subnet.is_none() && (!req.gateways.is_empty() || !req.ip_ranges.is_empty()) {
        return Err(Error::InvalidValue(
            "every ip-range or gateway must have a corresponding subnet".into(),
        ));
    }
    if let Some(s) = subnet {
        // A subnet that would take over the host's routing (0.0.0.0/0, a /4...), loopback,
        // "this network", multicast or reserved space is no network for containers.
        let reserved = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3"];
        if s.prefix() < 8
            || reserved
                .iter()
                .filter_map(|r| r.parse::<Ipv4Net>().ok())
                .any(|r| r.overlaps(&s))
        {
            return Err(inv(
                format!("--subnet {s}"),
                "it is not a range of unicast addresses a network can use (a prefix of 8 or more, outside 0/8, 127/8 and 224/3)".into(),
            ));
        }
    }
    if let Some(s) = subnet
        && s.prefix() > 30
    {
        return Err(inv(
            format!("--subnet {s}"),
            "it leaves no address for containers (use a prefix of 30 or less)".into(),
        ));
    }
    let gateway = match req.gateways.first() {
        Some(g) => {
            let ip: Ipv4Addr = g
                .parse()
                .map_err(|_| Error::InvalidValue(format!("invalid gateway address: {g}")))?;
            let s = subnet.expect("checked above");
            if !s.contains(ip) || ip == s.addr() || ip == s.broadcast() {
                return Err(Error::InvalidValue(format!(
                    "no matching subnet for gateway {g}"
                )));
            }
            Some(ip)
        }
        None => None,
    };
    let range = match req.ip_ranges.first() {
        Some(r) => {
            let r = Ipv4Net::parse_strict(r, "--ip-range")
                .map_err(|e| Error::InvalidValue(e.to_string()))?;
            let s = subnet.expect("checked above");
            if !s.covers(&r) {
                return Err(Error::InvalidValue(format!(
                    "no matching subnet for range {r}"
                )));
            }
            Some(r)
        }
        None => None,
    };
    let driver = match req.driver.as_str() {
        "" => "bridge",
        d => d,
    };
    let vlan = driver != "bridge";
    let mut bridge = None;
    let mut mtu = None;
    let mut parent = None;
    for (k, v) in &req.options {
        match k.as_str() {
            OPT_PARENT if vlan => {
                if !valid_ifname(v) {
                    return Err(inv(
                        format!("option {k}={v}"),
                        "an interface name has 1 to 15 characters of [a-zA-Z0-9_.-]".into(),
                    ));
                }
                parent = Some(v.clone());
            }
            "macvlan_mode" if driver == "macvlan" => {
                if berth_network::Vlan::parse(driver, v).is_none() {
                    return Err(Error::InvalidValue(format!(
                        "requested macvlan mode '{v}' is not valid, 'bridge' mode is the macvlan driver default"
                    )));
                }
            }
            "ipvlan_mode" if driver == "ipvlan" => {
                if berth_network::Vlan::parse(driver, v).is_none() {
                    return Err(Error::InvalidValue(format!(
                        "requested ipvlan mode '{v}' is not valid, 'l2' mode is the ipvlan driver default"
                    )));
                }
            }
            OPT_BRIDGE_NAME if !vlan => {
                if !valid_ifname(v) {
                    return Err(inv(
                        format!("option {k}={v}"),
                        "an interface name has 1 to 15 characters of [a-zA-Z0-9_.-]".into(),
                    ));
                }
                bridge = Some(v.clone());
            }
            OPT_ICC => {
                if go_bool(v).is_none() {
                    return Err(inv(format!("option {k}={v}"), "use true or false".into()));
                }
            }
            OPT_MTU => {
                let m: u32 = v
                    .parse()
                    .ok()
                    .filter(|m| (68..=65535).contains(m))
                    .ok_or_else(|| {
                        inv(
                            format!("option {k}={v}"),
                            "the MTU must be from 68 to 65535".into(),
                        )
                    })?;
                mtu = Some(m);
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "network option {k} is not supported by berth yet"
                )));
            }
        }
    }
    if vlan {
        if parent.is_none() {
            return Err(Error::Unsupported(format!(
                "a {driver} network needs -o parent=INTERFACE in berth (Docker makes a dummy interface and an internal network without it)"
            )));
        }
        if req.internal {
            return Err(Error::Unsupported(format!(
                "--internal {driver} networks are not supported by berth yet"
            )));
        }
    }
    Ok(Plan {
        driver: driver.to_string(),
        parent,
        subnet,
        gateway,
        range,
        bridge,
        mtu,
    })
}

impl Engine {
    /// The pools new networks take their subnets from: berth.toml's
    /// `default-address-pools`, else Docker's defaults.
    fn address_pools(&self) -> Result<Vec<Pool>> {
        let p = &self.settings()?.address_pools;
        Ok(if p.is_empty() {
            Pool::docker_defaults()
        } else {
            p.clone()
        })
    }

    /// Picks a subnet for a new network: free of other networks' and of the host's routes.
    fn pick_subnet(&self, existing: &[Network], pools: &[Pool]) -> Result<Ipv4Net> {
        let mut taken = berth_network::subnet::host_routes();
        taken.extend(
            existing
                .iter()
                .filter_map(|n| n.subnet.parse::<Ipv4Net>().ok()),
        );
        berth_network::subnet::pick(pools, &taken).ok_or_else(|| {
            Error::Unavailable(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
            )
        })
    }

    /// Makes the built-in networks `bridge` (a subnet from the pools, 172.17.0.0/16 unless
    /// taken), `host` and `none` if they are missing.
    pub(crate) fn ensure_builtin_networks(&self) -> Result<()> {
        let have = self.db.networks()?;
        let pools = self.address_pools()?;
        let no_bridge = self.settings()?.no_default_bridge;
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if have.iter().any(|n| n.name == name) || no_bridge && name == "bridge" {
                continue;
            }
            let r = self.db.insert_network(|existing| {
                let mut n = Network {
                    id: crate::container::new_id()?,
                    name: name.into(),
                    created: berth_runtime::util::rfc3339(std::time::SystemTime::now()),
                    driver: driver.into(),
                    builtin: true,
                    ..Default::default()
                };
                if driver == "bridge" {
                    let s = self.pick_subnet(existing, &pools)?;
                    n.subnet = s.to_string();
                    n.gateway = s.nth(1).map(|g| g.to_string()).unwrap_or_default();
                    n.show_gateway = true;
                    n.bridge = DEFAULT_BRIDGE.into();
                    n.options = [
                        ("com.docker.network.bridge.default_bridge", "true"),
                        (OPT_ICC, "true"),
                        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                        (OPT_BRIDGE_NAME, DEFAULT_BRIDGE),
                        (OPT_MTU, "1500"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                }
                Ok(n)
            });
            match r {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Makes the kernel's firewall match the recorded networks (one atomic batch).
    pub(crate) fn apply_firewall(&self) -> Result<()> {
        let nets: Vec<FirewallNet> = self
            .db
            .networks()?
            .iter()
            .filter_map(Network::firewall_net)
            .collect();
        berth_network::Nftables::default().apply(&nets)?;
        Ok(())
    }

    /// `network create`: checks everything first; a refused request changes nothing.
    pub fn network_create(&self, req: &NetworkCreate) -> Result<Network> {
        let p = plan(req)?;
        let p6 = v6::plan6(req)?;
        let pools6 = self.address_pools6()?;
        self.ensure_builtin_networks()?;
        reconcile(self);
        let pools = self.address_pools()?;
        let id = crate::container::new_id()?;
        let bridge = match (&p.bridge, p.driver.as_str()) {
            (Some(b), _) => b.clone(),
            (None, "bridge") => format!("br-{}", &id[..12]),
            // macvlan and ipvlan networks have no bridge.
            (None, _) => String::new(),
        };
        if p.parent.as_deref() == Some("lo") {
            return Err(Error::InvalidValue(format!(
                "loopback interface is not a valid {} parent link",
                p.driver
            )));
        }
        if let Some(parent) = &p.parent
            && !berth_network::link_exists(parent)?
        {
            return Err(Error::InvalidValue(format!(
                "-o parent interface was not found on the host: {parent}"
            )));
        }
        let n = self.db.insert_network(|existing| {
            if existing.iter().any(|x| x.name == req.name) {
                return Err(Error::Conflict(format!(
                    "network with name {} already exists",
                    req.name
                )));
            }
            if let Some(x) = existing
                .iter()
                .find(|x| x.bridge == bridge && !bridge.is_empty())
            {
                return Err(Error::Conflict(format!(
                    "bridge {bridge} is already used by network {}",
                    x.name
                )));
            }
            if let Some(parent) = &p.parent
                && let Some(x) = existing
                    .iter()
                    .find(|x| x.has_endpoints() && x.options.get(OPT_PARENT) == Some(parent))
            {
                return Err(Error::Conflict(format!(
                    "network {} is already using parent interface {parent}",
                    x.name
                )));
            }
            let subnet = match p.subnet {
                Some(s) => {
                    if let Some(x) = existing
                        .iter()
                        .find(|x| x.subnet.parse::<Ipv4Net>().is_ok_and(|o| o.overlaps(&s)))
                    {
                        return Err(Error::Conflict(format!(
                            "invalid --subnet {s}: it overlaps network {} ({})",
                            x.name, x.subnet
                        )));
                    }
                    s
                }
                None => self.pick_subnet(existing, &pools)?,
            };
            let gateway = p.gateway.or_else(|| subnet.nth(1)).ok_or_else(|| {
                Error::Internal(format!("subnet {subnet} has no gateway address"))
            })?;
            let mut n = Network {
                id: id.clone(),
                name: req.name.clone(),
                created: berth_runtime::util::rfc3339(std::time::SystemTime::now()),
                driver: p.driver.clone(),
                builtin: false,
                subnet: subnet.to_string(),
                gateway: gateway.to_string(),
                ip_range: p.range.map(|r| r.to_string()).unwrap_or_default(),
                user_subnet: p.subnet.is_some(),
                show_gateway: p.subnet.is_none() || p.gateway.is_some(),
                internal: req.internal,
                attachable: req.attachable,
                labels: req.labels.clone(),
                options: req.options.clone(),
                bridge: bridge.clone(),
                mtu: p.mtu,
                ..Default::default()
            };
            v6::fill(&mut n, &p6, existing, &pools6)?;
            Ok(n)
        })?;
        // A bridge name the user chose must not be an interface of the host's.
        if p.bridge.is_some() && berth_network::link_exists(&n.bridge)? {
            self.db.delete_network(&n.id)?;
            return Err(Error::Conflict(format!(
                "interface {} exists already on the host",
                n.bridge
            )));
        }
        if let Err(e) = self.apply_firewall() {
            self.db.delete_network(&n.id)?;
            let _ = self.apply_firewall();
            return Err(e);
        }
        network_event(self, "create", &n);
        Ok(n)
    }

    /// The recorded networks a user sees: without the built-in `bridge` when berth.toml
    /// disables it (`bridge = "none"`; its record, if an earlier run made it, stays).
    fn visible_networks(&self) -> Result<Vec<Network>> {
        let no_bridge = self.settings()?.no_default_bridge;
        let mut all = self.db.networks()?;
        all.retain(|n| !(no_bridge && n.builtin && n.name == "bridge"));
        Ok(all)
    }

    /// A network by full id, name, or unique id prefix.
    pub fn network(&self, key: &str) -> Result<Network> {
        self.ensure_builtin_networks()?;
        let all = self.visible_networks()?;
        if let Some(n) = all.iter().find(|n| n.id == key || n.name == key) {
            return Ok(n.clone());
        }
        let found: Vec<&Network> = if key.is_empty() {
            Vec::new()
        } else {
            all.iter().filter(|n| n.id.starts_with(key)).collect()
        };
        match found.as_slice() {
            [n] => Ok((*n).clone()),
            [] => Err(Error::NoSuchNetwork(key.to_string())),
            _ => Err(Error::invalid(
                format!("network id prefix {key}"),
                "it matches more than one network",
            )),
        }
    }

    /// `network ls`: the networks `filters` select (name=, id=, label=, driver=, type=,
    /// scope=, dangling=), by name.
    pub fn network_list(&self, filters: &Filters) -> Result<Vec<Network>> {
        filters.check_keys(&["name", "id", "label", "driver", "type", "scope", "dangling"])?;
        filters.check_values("type", |v| {
            (!matches!(v, "custom" | "builtin")).then(|| "use custom or builtin".into())
        })?;
        filters.check_values("dangling", |v| {
            (!matches!(v, "true" | "false" | "1" | "0")).then(|| "use true or false".into())
        })?;
        self.ensure_builtin_networks()?;
        reconcile(self);
        let used = self.used_networks()?;
        let mut out: Vec<Network> = self
            .visible_networks()?
            .into_iter()
            .filter(|n| {
                filters.any_match("name", &n.name)
                    && filters.any_match("id", &n.id)
                    && filters.labels_match("label", &n.labels)
                    && filters.any("driver", |d| n.driver == d)
                    && filters.any("scope", |s| s == "local")
                    && filters.any("type", |t| (t == "builtin") == n.builtin)
                    && filters.any("dangling", |d| {
                        matches!(d, "true" | "1") == (!n.builtin && !used.contains(&n.id))
                    })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Ids of the networks some container holds an address on (a running one: as
    /// Docker's, a network only stopped containers are configured for counts as unused).
    fn used_networks(&self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .db
            .endpoints(None)?
            .into_iter()
            .map(|e| e.network_id)
            .collect())
    }

    /// `network rm`: refused for the built-ins and while containers are attached (the
    /// error names them); the bridge and its rules go, then the record.
    pub fn network_remove(&self, key: &str) -> Result<()> {
        let n = self.network(key)?;
        if n.builtin {
            return Err(Error::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        reconcile(self);
        let attached: Vec<String> = self
            .db
            .endpoints(None)?
            .into_iter()
            .filter(|e| e.network_id == n.id)
            .map(|e| {
                self.db
                    .find(&e.container_id)
                    .map_or(e.container_id.clone(), |c| c.name)
            })
            .collect();
        if !attached.is_empty() {
            return Err(Error::Conflict(format!(
                "error while removing network: network {} has active endpoints (containers: {})",
                n.name,
                attached.join(", ")
            )));
        }
        if n.driver == "bridge" {
            berth_network::remove_bridge(&n.bridge)?;
        }
        self.db.delete_network(&n.id)?;
        network_event(self, "destroy", &n);
        self.apply_firewall()?;
        Ok(())
    }

    /// `network prune`: removes the user-defined networks no container uses that
    /// `filters` (label=, label!=, until=) select; returns their names.
    pub fn network_prune(&self, filters: &Filters) -> Result<Vec<String>> {
        filters.check_keys(&["label", "label!", "until"])?;
        let until = match filters.get("until").first() {
            Some(u) => Some(crate::filters::nanos_of(&crate::filters::time_filter(
                u, "until",
            )?)),
            None => None,
        };
        reconcile(self);
        let used = self.used_networks()?;
        let mut removed = Vec::new();
        for n in self.db.networks()? {
            let keep = n.builtin
                || used.contains(&n.id)
                || !filters.labels_match("label", &n.labels)
                || filters
                    .get("label!")
                    .iter()
                    .any(|l| crate::filters::label_matches(&n.labels, l))
                || until.is_some_and(|u| crate::filters::nanos_of(&n.created) >= u);
            if keep {
                continue;
            }
            match self.network_remove(&n.id) {
                Ok(()) => removed.push(n.name),
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

/// Docker's `network create` and `network destroy` events (attributes: name, type).
fn network_event(engine: &Engine, action: &str, n: &Network) {
    crate::events::append(
        &engine.paths,
        "network",
        action,
        crate::events::actor(
            &n.id,
            &[("name", n.name.clone()), ("type", n.driver.clone())],
        ),
    );
}

/// What `--add-host NAME:host-gateway` stands for: the host's address on the container's
/// network (its gateway), or for a container without one, the default bridge's gateway
/// (as Docker's default host-gateway-ip); None when there is no bridge to take it from.
pub(crate) fn host_gateway(
    engine: &Engine,
    network: Option<&str>,
) -> Result<Option<std::net::IpAddr>> {
    let net = match engine.network(network.unwrap_or("bridge")) {
        Ok(n) => n,
        Err(Error::NoSuchNetwork(_)) if network.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(net.gateway.parse().ok())
}

/// Go's `strconv.ParseBool`, which Docker reads network options with.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

//! IPv6 on bridge networks (dual stack, `network create --ipv6`): the IPv6 half of a
//! network's settings, checked like the IPv4 half; the IPv6 address of each endpoint
//! (table `endpoints6`, one row per endpoint, UNIQUE(network, address), written before
//! the kernel side and removed with the endpoint); and the kernel side itself
//! (`berth_network::attach6`, after the IPv4 side).
//!
//! A network given `--ipv6` without an IPv6 `--subnet` gets a /64 of the engine's unique
//! local /48 (fd00::/8 and 40 bits of a digest of the engine ID, RFC 4193), as current
//! Docker's default IPv6 pool.

use std::collections::HashSet;
use std::net::Ipv6Addr;

use berth_network::Ipv6Net;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::store::EndpointRow;
use super::{Network, NetworkCreate};
use crate::db::Db;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// An IPv6 value of the flags (subnets, gateways, ranges are told apart by a colon).
fn is_v6(s: &str) -> bool {
    s.contains(':')
}

/// `req` with its IPv6 subnets, gateways and ranges left out (the IPv4 checks' input).
pub(crate) fn only_v4(req: &NetworkCreate) -> NetworkCreate {
    let keep = |v: &Vec<String>| v.iter().filter(|s| !is_v6(s)).cloned().collect();
    NetworkCreate {
        subnets: keep(&req.subnets),
        gateways: keep(&req.gateways),
        ip_ranges: keep(&req.ip_ranges),
        ..req.clone()
    }
}

/// The checked IPv6 settings of a new network.
#[derive(Debug, Default)]
pub(crate) struct Plan6 {
    pub enabled: bool,
    pub subnet: Option<Ipv6Net>,
    pub gateway: Option<Ipv6Addr>,
    pub range: Option<Ipv6Net>,
}

/// Checks the IPv6 flags of `network create`: an IPv6 subnet needs `--ipv6`; one IPv6
/// subnet at most; gateway and range inside it; no reserved space.
pub(crate) fn plan6(req: &NetworkCreate) -> Result<Plan6> {
    let inv = |what: String, msg: &str| Error::Invalid {
        what,
        msg: msg.into(),
    };
    let pick =
        |v: &Vec<String>| -> Vec<String> { v.iter().filter(|s| is_v6(s)).cloned().collect() };
    let (subnets, gateways, ranges) = (
        pick(&req.subnets),
        pick(&req.gateways),
        pick(&req.ip_ranges),
    );
    if !req.ipv6 {
        if let Some(s) = subnets.first() {
            return Err(inv(
                format!("--subnet {s}"),
                "an IPv6 subnet needs --ipv6 (IPv6 is off on this network)",
            ));
        }
        if let Some(g) = gateways.first().or(ranges.first()) {
            return Err(Error::InvalidValue(format!(
                "no matching subnet for {g}: IPv6 is off on this network (use --ipv6 and an IPv6 --subnet)"
            )));
        }
        return Ok(Plan6::default());
    }
    if req.driver == "host" || req.driver == "null" {
        return Ok(Plan6::default());
    }
    if subnets.len() > 1 || gateways.len() > 1 || ranges.len() > 1 {
        return Err(Error::Unsupported(
            "one IPv6 --subnet, --gateway and --ip-range per network: berth has no multi-subnet networks yet".into(),
        ));
    }
    let subnet = match subnets.first() {
        Some(s) => Some(
            Ipv6Net::parse_strict(s, "--subnet").map_err(|e| Error::InvalidValue(e.to_string()))?,
        ),
        None => None,
    };
    if subnet.is_none() && (!gateways.is_empty() || !ranges.is_empty()) {
        return Err(Error::InvalidValue(
            "every ip-range or gateway must have a corresponding subnet".into(),
        ));
    }
    if let Some(s) = subnet {
        // Unspecified, loopback and IPv4-mapped space (::/8), link-local and multicast
        // are no network for containers; nor is a prefix that would take over routing.
        let reserved = ["::/8", "fe80::/10", "ff00::/8"];
        if s.prefix() < 16
            || reserved
                .iter()
                .filter_map(|r| r.parse::<Ipv6Net>().ok())
                .any(|r| r.overlaps(&s))
        {
            return Err(inv(
                format!("--subnet {s}"),
                "it is not a range of unicast addresses a network can use (a prefix of 16 or more, outside ::/8, fe80::/10 and ff00::/8)",
            ));
        }
        if s.prefix() > 126 {
            return Err(inv(
                format!("--subnet {s}"),
                "it leaves no address for containers (use a prefix of 126 or less)",
            ));
        }
    }
    let gateway = match gateways.first() {
        Some(g) => {
            let ip: Ipv6Addr = g
                .parse()
                .map_err(|_| Error::InvalidValue(format!("invalid gateway address: {g}")))?;
            let s = subnet.ok_or_else(|| Error::Internal("no IPv6 subnet".into()))?;
            if !s.contains(ip) || ip == s.addr() {
                return Err(Error::InvalidValue(format!(
                    "no matching subnet for gateway {g}"
                )));
            }
            Some(ip)
        }
        None => None,
    };
    let range = match ranges.first() {
        Some(r) => {
            let r = Ipv6Net::parse_strict(r, "--ip-range")
                .map_err(|e| Error::InvalidValue(e.to_string()))?;
            let s = subnet.ok_or_else(|| Error::Internal("no IPv6 subnet".into()))?;
            if !s.covers(&r) {
                return Err(Error::InvalidValue(format!(
                    "no matching subnet for range {r}"
                )));
            }
            Some(r)
        }
        None => None,
    };
    Ok(Plan6 {
        enabled: true,
        subnet,
        gateway,
        range,
    })
}

/// Sets the IPv6 half of new network `n` from `p` (inside the insert's transaction):
/// the subnet given (refused if it overlaps another network's) or a free one of `pools`.
pub(crate) fn fill(
    n: &mut Network,
    p: &Plan6,
    existing: &[Network],
    pools: &[berth_network::Pool6],
) -> Result<()> {
    if !p.enabled {
        return Ok(());
    }
    let subnet = match p.subnet {
        Some(s) => {
            if let Some(x) = existing
                .iter()
                .find(|x| x.subnet6.parse::<Ipv6Net>().is_ok_and(|o| o.overlaps(&s)))
            {
                return Err(Error::Conflict(format!(
                    "invalid --subnet {s}: it overlaps network {} ({})",
                    x.name, x.subnet6
                )));
            }
            s
        }
        None => {
            let mut taken = berth_network::subnet6::host_routes();
            taken.extend(
                existing
                    .iter()
                    .filter_map(|x| x.subnet6.parse::<Ipv6Net>().ok()),
            );
            berth_network::subnet6::pick(pools, &taken).ok_or_else(|| {
                Error::Unavailable(
                    "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into(),
                )
            })?
        }
    };
    let gateway = p
        .gateway
        .or_else(|| subnet.nth(1))
        .ok_or_else(|| Error::Internal(format!("subnet {subnet} has no gateway address")))?;
    n.enable_ipv6 = true;
    n.subnet6 = subnet.to_string();
    n.gateway6 = gateway.to_string();
    n.ip_range6 = p.range.map(|r| r.to_string()).unwrap_or_default();
    n.user_subnet6 = p.subnet.is_some();
    n.show_gateway6 = p.subnet.is_none() || p.gateway.is_some();
    Ok(())
}

impl Network {
    /// The IPv6 subnet, gateway and range, parsed (None: IPv6 is off).
    pub(crate) fn ipv6(&self) -> Result<Option<(Ipv6Net, Ipv6Addr, Option<Ipv6Net>)>> {
        if !self.enable_ipv6 || self.subnet6.is_empty() {
            return Ok(None);
        }
        let bad = |what: &str| {
            Error::Internal(format!(
                "network {} has a corrupt IPv6 {what} in its record",
                self.name
            ))
        };
        let subnet: Ipv6Net = self.subnet6.parse().map_err(|_| bad("subnet"))?;
        let gateway: Ipv6Addr = self.gateway6.parse().map_err(|_| bad("gateway"))?;
        let range = if self.ip_range6.is_empty() {
            None
        } else {
            Some(self.ip_range6.parse().map_err(|_| bad("ip range"))?)
        };
        Ok(Some((subnet, gateway, range)))
    }
}

impl Engine {
    /// The unique local /48 this engine's IPv6 networks take their /64s from: fd and
    /// the first five bytes of the SHA-256 of the engine ID.
    /// The IPv6 pools of new networks: berth.toml's IPv6 `default-address-pools`, else
    /// the engine's unique local /48 in /64s.
    pub(crate) fn address_pools6(&self) -> Result<Vec<berth_network::Pool6>> {
        let p = &self.settings()?.address_pools6;
        Ok(if p.is_empty() {
            vec![berth_network::Pool6 {
                base: self.ula_base(),
                size: 64,
            }]
        } else {
            p.clone()
        })
    }

    pub(crate) fn ula_base(&self) -> Ipv6Net {
        let id = crate::system::engine_id(&self.paths.root);
        let d = berth_image::digest::Digest::of(id.as_bytes());
        let hex = d.hex();
        let mut seed = [0u8; 5];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = hex
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(0);
        }
        berth_network::subnet6::ula_base(seed)
    }
}

impl Db {
    /// Allocates the IPv6 address of endpoint `row` on `net` in one immediate
    /// transaction: the one asked for (`--ip6`, refused if another container holds it) or
    /// the first free one of the range (never the subnet's own address or the gateway).
    pub(crate) fn allocate6(
        &self,
        net: &Network,
        row: &EndpointRow,
        want: Option<Ipv6Addr>,
    ) -> Result<Option<Ipv6Addr>> {
        let Some((subnet, gateway, range)) = net.ipv6()? else {
            return Ok(None);
        };
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let used: HashSet<Ipv6Addr> = {
            let mut st = tx.prepare_cached("SELECT ip6 FROM endpoints6 WHERE network_id = ?1")?;
            let rows = st.query_map([&net.id], |r| r.get::<_, String>(0))?;
            let mut v = HashSet::new();
            for r in rows {
                if let Ok(ip) = r?.parse() {
                    v.insert(ip);
                }
            }
            v
        };
        let ip = match want {
            Some(ip) => {
                if used.contains(&ip) {
                    return Err(Error::Conflict(format!(
                        "address {ip} is already in use on network {}",
                        net.name
                    )));
                }
                ip
            }
            None => (0..)
                .map_while(|n| range.unwrap_or(subnet).nth(n))
                .take(1 << 20)
                .find(|ip| *ip != gateway && *ip != subnet.addr() && !used.contains(ip))
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "no IPv6 address left on network {} ({subnet})",
                        net.name
                    ))
                })?,
        };
        let r = tx.execute(
            "INSERT INTO endpoints6 (endpoint_id, network_id, container_id, ip6) VALUES (?1, ?2, ?3, ?4)",
            params![row.id, net.id, row.container_id, ip.to_string()],
        );
        match r {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(Error::Conflict(format!(
                    "address {ip} is already in use on network {}",
                    net.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit()?;
        Ok(Some(ip))
    }

    /// The IPv6 address of endpoint `endpoint_id`, if it has one.
    pub(crate) fn endpoint6(&self, endpoint_id: &str) -> Result<Option<Ipv6Addr>> {
        let ip: Option<String> = self
            .conn()?
            .query_row(
                "SELECT ip6 FROM endpoints6 WHERE endpoint_id = ?1",
                [endpoint_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(ip.and_then(|s| s.parse().ok()))
    }

    /// Deletes the IPv6 addresses whose endpoint row is gone (whatever path removed it):
    /// an address is never held by nothing.
    pub(crate) fn sweep_endpoints6(&self) -> Result<()> {
        let conn = self.conn()?;
        // Read first: most commands find nothing, and a read takes no write lock.
        let orphan = conn
            .query_row(
                "SELECT 1 FROM endpoints6 WHERE endpoint_id NOT IN (SELECT id FROM endpoints) LIMIT 1",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if orphan {
            conn.execute(
                "DELETE FROM endpoints6 WHERE endpoint_id NOT IN (SELECT id FROM endpoints)",
                [],
            )?;
        }
        Ok(())
    }

    /// Deletes the IPv6 address of an endpoint (with the endpoint).
    pub(crate) fn delete_endpoint6(&self, endpoint_id: &str) -> Result<()> {
        self.conn()?.execute(
            "DELETE FROM endpoints6 WHERE endpoint_id = ?1",
            [endpoint_id],
        )?;
        Ok(())
    }
}

/// Gives endpoint `row` (its IPv4 side made) its IPv6 address on `net` and makes the
/// kernel side (the default IPv6 route too when `default_route`): nothing to do on a
/// network without IPv6. The caller releases the endpoint (both rows) on failure.
pub(crate) fn join6(
    engine: &Engine,
    net: &Network,
    row: &EndpointRow,
    want: Option<&str>,
    default_route: bool,
) -> Result<Option<Ipv6Addr>> {
    let Some((subnet, gateway, _)) = net.ipv6()? else {
        return Ok(None);
    };
    let want = match want {
        Some(s) => Some(crate::config::parse::ipv6_address(s)?),
        None => None,
    };
    let Some(ip) = engine.db.allocate6(net, row, want)? else {
        return Ok(None);
    };
    berth_network::attach6(
        std::path::Path::new(&row.netns),
        &berth_network::Endpoint6Spec {
            container_ifname: row.device.clone(),
            bridge: net.bridge.clone(),
            bridge_gateway: gateway,
            address: ip,
            prefix: subnet.prefix(),
            gateway: (default_route && !net.internal).then_some(gateway),
        },
    )?;
    Ok(Some(ip))
}

/// Create-time check of `--ip6` against the network: IPv6 on, a subnet the user gave,
/// inside it, not its gateway.
pub(crate) fn check_ip6(ip6: &str, net: Option<&Network>) -> Result<()> {
    let addr = crate::config::parse::ipv6_address(ip6)?;
    let Some(n) = net else {
        return Err(Error::InvalidValue(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    };
    let Some((subnet, gateway, _)) = n.ipv6()? else {
        return Err(Error::InvalidValue(format!(
            "invalid address {addr}: network {} has no IPv6 (create it with --ipv6)",
            n.name
        )));
    };
    if !n.user_subnet6 {
        return Err(Error::InvalidValue(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    if !subnet.contains(addr) || addr == subnet.addr() {
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
    Ok(())
}

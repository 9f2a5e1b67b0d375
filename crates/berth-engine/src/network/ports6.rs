//! Published ports over IPv6, for containers with an IPv6 address (`--ipv6` networks):
//! recorded in table `ports6` (one row per host port, UNIQUE(proto, host address, host
//! port)) and made in the kernel as element batches of `ip6 berth-ports`
//! (`berth_network::ports6`), after the IPv4 ports (`ports.rs`) and undone before them.
//!
//! What is published: a binding without a host address (`-p 8080:80`, `-p 80`, `-P`)
//! listens on both families, on the same host port (the one the IPv4 side chose), as
//! current Docker; a binding on an IPv6 host address (`-p [2001:db8::1]:8080:80`,
//! `-p [::]:8080:80`) on that address only, and the IPv4 side leaves it out. A binding
//! on ::1 is refused (`check_bindings6`): the kernel does not route IPv6 loopback
//! traffic out of a bridge, and Berth runs no proxy.

use std::collections::HashSet;
use std::net::Ipv6Addr;

use berth_network::Proto;
use berth_network::ports6::PortMap6;
use rusqlite::{TransactionBehavior, params};

use super::ports::{lock_ports, split_key};
use crate::config::PortBinding;
use crate::container::Container;
use crate::db::Db;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// Whether a `-p` binding names an IPv6 host address (then only the IPv6 side has it).
pub(crate) fn is_v6_binding(b: &PortBinding) -> bool {
    b.host_ip.contains(':')
}

fn host_ip6(b: &PortBinding) -> Result<Option<Ipv6Addr>> {
    let ip: Ipv6Addr = b
        .host_ip
        .parse()
        .map_err(|_| Error::InvalidValue(format!("invalid IP address: {}", b.host_ip)))?;
    Ok((!ip.is_unspecified()).then_some(ip))
}

/// Create-time checks of the IPv6 host addresses of `-p`: an address, not ::1, and a
/// network with IPv6 to publish from (`has_v6`: the container's network has IPv6).
pub(crate) fn check_bindings6<'a>(
    bindings: impl Iterator<Item = &'a PortBinding>,
    has_v6: bool,
) -> Result<()> {
    for b in bindings.filter(|b| is_v6_binding(b)) {
        let ip = host_ip6(b)?;
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return Err(Error::invalid(
                format!("-p [{}]:{}", b.host_ip, b.host_port),
                "ports cannot be published on ::1 (the kernel does not route IPv6 loopback traffic to a container, and berth runs no proxy): publish on 127.0.0.1, [::] or a host address",
            ));
        }
        if !has_v6 {
            return Err(Error::invalid(
                format!("-p [{}]:{}", b.host_ip, b.host_port),
                "an IPv6 host address needs a network with IPv6 (network create --ipv6)",
            ));
        }
    }
    Ok(())
}

fn decode(t: (String, String, String, u16, String, u16)) -> Result<(String, PortMap6)> {
    let (container_id, proto, host_ip, host_port, ip, port) = t;
    let corrupt = || {
        Error::Internal(format!(
            "corrupt IPv6 port record of container {container_id}"
        ))
    };
    let map = PortMap6 {
        proto: Proto::parse(&proto).ok_or_else(corrupt)?,
        host_ip: if host_ip.is_empty() {
            None
        } else {
            Some(host_ip.parse().map_err(|_| corrupt())?)
        },
        host_port,
        addr: ip.parse().map_err(|_| corrupt())?,
        port,
    };
    Ok((container_id, map))
}

const COLUMNS: &str = "container_id, proto, host_ip, host_port, ip, port";

fn clash(a: &PortMap6, proto: Proto, ip: Option<Ipv6Addr>, port: u16) -> bool {
    a.proto == proto
        && a.host_port == port
        && (a.host_ip.is_none() || ip.is_none() || a.host_ip == ip)
}

/// An IPv6 port to publish: `fixed` host port (the IPv4 side's) or a range to choose from.
struct Want6 {
    proto: Proto,
    port: u16,
    host_ip: Option<Ipv6Addr>,
    range: (u16, u16),
    /// Explicit IPv6 binding: test-bind the host port before taking it.
    probe: bool,
}

impl Db {
    /// Every IPv6 published port (container, map), or those of one container.
    pub(crate) fn ports6(&self, container_id: Option<&str>) -> Result<Vec<(String, PortMap6)>> {
        let conn = self.conn()?;
        let (sql, args): (String, Vec<&str>) = match container_id {
            Some(c) => (
                format!("SELECT {COLUMNS} FROM ports6 WHERE container_id = ?1"),
                vec![c],
            ),
            None => (format!("SELECT {COLUMNS} FROM ports6"), vec![]),
        };
        let mut st = conn.prepare_cached(&sql)?;
        let mut out = Vec::new();
        for r in st.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })? {
            out.push(decode(r?)?);
        }
        Ok(out)
    }

    /// Chooses and records the IPv6 host ports of `wants` in one IMMEDIATE transaction.
    fn allocate_ports6(&self, id: &str, addr: Ipv6Addr, wants: &[Want6]) -> Result<Vec<PortMap6>> {
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let mut taken: Vec<(String, PortMap6)> = {
            let mut st = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM ports6"))?;
            let mut v = Vec::new();
            for r in st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })? {
                v.push(decode(r?)?);
            }
            v
        };
        let mut made = Vec::new();
        for w in wants {
            let shown = w.host_ip.unwrap_or(Ipv6Addr::UNSPECIFIED);
            let mut chosen = None;
            for hp in w.range.0..=w.range.1 {
                if let Some((holder, _)) =
                    taken.iter().find(|(_, t)| clash(t, w.proto, w.host_ip, hp))
                {
                    if w.range.0 == w.range.1 {
                        return Err(Error::Conflict(format!(
                            "Bind for [{shown}]:{hp}/{} failed: port is already allocated (published by container {holder})",
                            w.proto
                        )));
                    }
                    continue;
                }
                if w.probe
                    && let Err(e) = berth_network::ports6::check_host_port6(w.proto, w.host_ip, hp)
                {
                    if w.range.0 == w.range.1 {
                        return Err(Error::Conflict(format!(
                            "Bind for [{shown}]:{hp}/{} failed: {e}",
                            w.proto
                        )));
                    }
                    continue;
                }
                chosen = Some(hp);
                break;
            }
            let hp = chosen.ok_or_else(|| {
                Error::Unavailable(format!(
                    "no free IPv6 host port in {}-{} for {}/{}",
                    w.range.0, w.range.1, w.port, w.proto
                ))
            })?;
            let map = PortMap6 {
                proto: w.proto,
                host_ip: w.host_ip,
                host_port: hp,
                addr,
                port: w.port,
            };
            tx.execute(
                &format!("INSERT INTO ports6 ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    id,
                    w.proto.as_str(),
                    w.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                    hp,
                    addr.to_string(),
                    w.port
                ],
            )?;
            taken.push((id.to_string(), map));
            made.push(map);
        }
        tx.commit()?;
        Ok(made)
    }

    fn delete_ports6(&self, container_id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM ports6 WHERE container_id = ?1", [container_id])?;
        Ok(())
    }
}

fn nft() -> std::path::PathBuf {
    berth_network::Nftables::default().nft
}

impl Engine {
    /// Rewrites the IPv6 ports table from the records, leaving out `except`'s (the caller
    /// holds the ports lock).
    fn apply_ports6_locked(&self, except: Option<&str>) -> Result<()> {
        let maps: Vec<PortMap6> = self
            .db
            .ports6(None)?
            .into_iter()
            .filter(|(c, _)| Some(c.as_str()) != except)
            .map(|(_, m)| m)
            .collect();
        berth_network::ports6::apply_ports6(&nft(), &maps)?;
        Ok(())
    }
}

/// What container `c` publishes over IPv6: its IPv4 ports on every address (same host
/// port), and its bindings on IPv6 host addresses.
fn wants6(engine: &Engine, c: &Container) -> Result<Vec<Want6>> {
    let mut out: Vec<Want6> = engine
        .db
        .ports(Some(&c.id))?
        .into_iter()
        .filter(|r| r.map.host_ip.is_none())
        .map(|r| Want6 {
            proto: r.map.proto,
            port: r.map.port,
            host_ip: None,
            range: (r.map.host_port, r.map.host_port),
            probe: false,
        })
        .collect();
    let eph = berth_network::ports::ephemeral_range();
    for (key, list) in &c.config.host.port_bindings {
        let Some((port, proto)) = split_key(key) else {
            continue;
        };
        for b in list.iter().filter(|b| is_v6_binding(b)) {
            let range = match b.host_port.as_str() {
                "" | "0" => eph,
                hp => crate::config::parse::port_range(hp)
                    .filter(|(a, _)| *a > 0)
                    .ok_or_else(|| Error::InvalidValue(format!("invalid hostPort: {hp}")))?,
            };
            out.push(Want6 {
                proto,
                port,
                host_ip: host_ip6(b)?,
                range,
                probe: true,
            });
        }
    }
    Ok(out)
}

/// Publishes container `c`'s ports over IPv6 to `addr` (after its IPv4 ports). On
/// failure nothing of it is left.
pub(crate) fn publish6(engine: &Engine, c: &Container, addr: Ipv6Addr) -> Result<()> {
    let wants = wants6(engine, c)?;
    if wants.is_empty() {
        return Ok(());
    }
    let maps = engine.db.allocate_ports6(&c.id, addr, &wants)?;
    let made = (|| -> Result<()> {
        let _lock = lock_ports(engine)?;
        if berth_network::ports6::add_ports6(&nft(), &maps).is_err() {
            engine.apply_ports6_locked(None)?;
        }
        Ok(())
    })();
    if let Err(e) = made {
        let _ = unpublish6(engine, &c.id);
        return Err(e);
    }
    Ok(())
}

/// Takes container `id`'s IPv6 ports out of the kernel, then out of the records.
pub(crate) fn unpublish6(engine: &Engine, id: &str) -> Result<()> {
    let rows = engine.db.ports6(Some(id))?;
    if rows.is_empty() {
        return Ok(());
    }
    let maps: Vec<PortMap6> = rows.into_iter().map(|(_, m)| m).collect();
    let _lock = lock_ports(engine)?;
    if berth_network::ports6::remove_ports6(&nft(), &maps).is_err() {
        engine.apply_ports6_locked(Some(id))?;
    }
    engine.db.delete_ports6(id)?;
    if engine.db.ports6(None)?.is_empty() {
        engine.apply_ports6_locked(None)?;
    }
    Ok(())
}

/// IPv6 port records whose container holds no endpoint any more: dropped, and the table
/// rewritten from what remains.
pub(crate) fn reconcile6(engine: &Engine) {
    let Ok(rows) = engine.db.ports6(None) else {
        return;
    };
    if rows.is_empty() {
        return;
    }
    let live: HashSet<String> = engine
        .db
        .endpoints(None)
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.container_id)
        .collect();
    let stale: HashSet<&str> = rows
        .iter()
        .map(|(c, _)| c.as_str())
        .filter(|c| !live.contains(*c))
        .collect();
    if stale.is_empty() {
        return;
    }
    for c in &stale {
        let _ = engine.db.delete_ports6(c);
    }
    if let Ok(_lock) = lock_ports(engine) {
        let _ = engine.apply_ports6_locked(None);
    }
}

/// The IPv6 bindings of container `c` as `NetworkSettings.Ports` lists them: (container
/// port key "80/tcp", host address ("::" for all), host port).
pub(crate) fn shown6(engine: &Engine, c: &Container) -> Vec<(String, String, u16)> {
    engine
        .db
        .ports6(Some(&c.id))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, m)| {
            (
                format!("{}/{}", m.port, m.proto),
                m.host_ip.unwrap_or(Ipv6Addr::UNSPECIFIED).to_string(),
                m.host_port,
            )
        })
        .collect()
}

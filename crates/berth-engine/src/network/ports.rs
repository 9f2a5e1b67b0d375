//! Published ports: chosen and recorded at start (table `ports` of the state database, one
//! row per host port, written in one IMMEDIATE transaction that refuses a port another
//! container holds or a host process has bound), then made in the kernel as one nftables
//! batch of map elements (`berth_network::ports`); undone when the run ends (elements,
//! then rows). The rows are the truth: when a batch of elements fails (a stale element
//! left by a crash, the table gone after a reboot), the whole table is rewritten from them.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use berth_network::{Firewall, PortMap, Proto};
use rusqlite::{TransactionBehavior, params};

use crate::config::PortBinding;
use crate::container::Container;
use crate::db::Db;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// One published port as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRow {
    pub container_id: String,
    pub map: PortMap,
}

/// A port to publish, before its host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    proto: Proto,
    port: u16,
    host_ip: Option<Ipv4Addr>,
    /// The host ports it may take (one, a range, or the ephemeral range).
    range: (u16, u16),
    fixed: bool,
}

/// "80/tcp" into its port and protocol.
pub(crate) fn split_key(key: &str) -> Option<(u16, Proto)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((p.parse().ok().filter(|p| *p > 0)?, Proto::parse(proto)?))
}

/// Exposed ports, one per port ("6000-6002/udp" counts three), "tcp" when none is given,
/// sorted and without repeats; what is not a port is kept as given.
pub(crate) fn expand_exposed<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out = Vec::new();
    for it in items {
        let (p, proto) = it.split_once('/').unwrap_or((it, "tcp"));
        match crate::config::parse::port_range(p) {
            Some((a, b)) if b - a < 65535 => {
                for n in a..=b {
                    out.push(format!("{n}/{}", proto.to_ascii_lowercase()));
                }
            }
            _ => out.push(it.clone()),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What container `c` publishes: its `-p` bindings, and with `-P` every other exposed port.
fn wants(c: &Container) -> Result<Vec<Want>> {
    let h = &c.config.host;
    let eph = berth_network::ports::ephemeral_range();
    let mut out = Vec::new();
    let bad = |k: &str| Error::InvalidValue(format!("invalid containerPort: {k}"));
    for (key, list) in &h.port_bindings {
        let (port, proto) = split_key(key).ok_or_else(|| bad(key))?;
        // Bindings on an IPv6 host address are the IPv6 side's (`ports6.rs`).
        for b in list.iter().filter(|b| !super::ports6::is_v6_binding(b)) {
            out.push(want(proto, port, b, eph)?);
        }
    }
    if h.publish_all_ports {
        for key in &c.config.exposed_ports {
            if h.port_bindings.contains_key(key) {
                continue;
            }
            let Some((port, proto)) = split_key(key) else {
                continue;
            };
            out.push(want(proto, port, &PortBinding::default(), eph)?);
        }
    }
    Ok(out)
}

fn want(proto: Proto, port: u16, b: &PortBinding, eph: (u16, u16)) -> Result<Want> {
    let host_ip = crate::config::parse::ports::host_ip(b)?;
    let (range, fixed) = match b.host_port.as_str() {
        "" | "0" => (eph, false),
        hp => {
            let r = crate::config::parse::port_range(hp)
                .filter(|(a, _)| *a > 0)
                .ok_or_else(|| Error::InvalidValue(format!("invalid hostPort: {hp}")))?;
            (r, r.0 == r.1)
        }
    };
    Ok(Want {
        proto,
        port,
        host_ip,
        range,
        fixed,
    })
}

fn clash(a: &PortMap, proto: Proto, ip: Option<Ipv4Addr>, port: u16) -> bool {
    a.proto == proto
        && a.host_port == port
        && (a.host_ip.is_none() || ip.is_none() || a.host_ip == ip)
}

fn shown(ip: Option<Ipv4Addr>) -> String {
    ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, u16, String, u16)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode(t: (String, String, String, u16, String, u16)) -> Result<PortRow> {
    let (container_id, proto, host_ip, host_port, ip, port) = t;
    let corrupt = || Error::Internal(format!("corrupt port record of container {container_id}"));
    Ok(PortRow {
        map: PortMap {
            proto: Proto::parse(&proto).ok_or_else(corrupt)?,
            host_ip: if host_ip.is_empty() {
                None
            } else {
                Some(host_ip.parse().map_err(|_| corrupt())?)
            },
            host_port,
            addr: ip.parse().map_err(|_| corrupt())?,
            port,
        },
        container_id,
    })
}

const COLUMNS: &str = "container_id, proto, host_ip, host_port, ip, port";

impl Db {
    /// Every published port, or those of one container.
    pub(crate) fn ports(&self, container_id: Option<&str>) -> Result<Vec<PortRow>> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        let (sql, args): (String, Vec<&str>) = match container_id {
            Some(c) => (
                format!("SELECT {COLUMNS} FROM ports WHERE container_id = ?1"),
                vec![c],
            ),
            None => (format!("SELECT {COLUMNS} FROM ports"), vec![]),
        };
        let mut st = conn.prepare_cached(&sql)?;
        for r in st.query_map(rusqlite::params_from_iter(args), row_of)? {
            out.push(decode(r?)?);
        }
        Ok(out)
    }

    /// Chooses and records the host ports of `wants` for container `id` (address `addr`),
    /// in one IMMEDIATE transaction: a fixed port that another container holds, or that a
    /// host process has bound, is refused (and nothing is recorded).
    fn allocate_ports(&self, id: &str, addr: Ipv4Addr, wants: &[Want]) -> Result<Vec<PortRow>> {
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let mut taken: Vec<PortRow> = {
            let mut st = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM ports"))?;
            let mut v = Vec::new();
            for r in st.query_map([], row_of)? {
                v.push(decode(r?)?);
            }
            v
        };
        let mut made = Vec::new();
        for w in wants {
            let mut chosen = None;
            let mut last_err = None;
            for hp in w.range.0..=w.range.1 {
                if let Some(holder) = taken.iter().find(|t| clash(&t.map, w.proto, w.host_ip, hp)) {
                    if w.fixed {
                        return Err(Error::Conflict(format!(
                            "Bind for {}:{hp}/{} failed: port is already allocated (published by container {})",
                            shown(w.host_ip),
                            w.proto,
                            holder.container_id
                        )));
                    }
                    continue;
                }
                match berth_network::ports::check_host_port(w.proto, w.host_ip, hp) {
                    Ok(()) => {
                        chosen = Some(hp);
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
                if hp == u16::MAX {
                    break;
                }
            }
            let Some(hp) = chosen else {
                return Err(match (last_err, w.fixed) {
                    (Some(e), true) => Error::Conflict(format!(
                        "Bind for {}:{}/{} failed: {} (a process of the host holds it)",
                        shown(w.host_ip),
                        w.range.0,
                        w.proto,
                        std::error::Error::source(&e)
                            .map_or(e.to_string(), |s| s.to_string())
                            .split(" (os error")
                            .next()
                            .unwrap_or_default()
                            .to_lowercase()
                    )),
                    _ => Error::Unavailable(format!(
                        "no free host port in {}-{} for {}/{}",
                        w.range.0, w.range.1, w.port, w.proto
                    )),
                });
            };
            let row = PortRow {
                container_id: id.to_string(),
                map: PortMap {
                    proto: w.proto,
                    host_ip: w.host_ip,
                    host_port: hp,
                    addr,
                    port: w.port,
                },
            };
            tx.execute(
                &format!("INSERT INTO ports ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    id,
                    w.proto.as_str(),
                    w.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                    hp,
                    addr.to_string(),
                    w.port
                ],
            )?;
            taken.push(row.clone());
            made.push(row);
        }
        tx.commit()?;
        Ok(made)
    }

    fn delete_ports(&self, container_id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM ports WHERE container_id = ?1", [container_id])?;
        Ok(())
    }
}

fn firewall() -> berth_network::Nftables {
    berth_network::Nftables::default()
}

/// Serialises the changes of the ports table between processes (held while a batch is
/// made from the records and applied), so that a rewrite from the records never drops
/// the elements another process has just added for rows it did not see yet.
pub(crate) fn lock_ports(engine: &Engine) -> Result<std::fs::File> {
    let p = engine.paths.runroot.join("ports.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io(format!("open {}", p.display()), e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| Error::io(format!("lock {}", p.display()), e.into()))?;
    Ok(f)
}

impl Engine {
    /// Rewrites the ports table from the records (one batch), leaving out `except`'s.
    pub(crate) fn apply_ports(&self, except: Option<&str>) -> Result<()> {
        let _lock = lock_ports(self)?;
        self.apply_ports_locked(except)
    }

    /// `apply_ports`, for a caller holding the ports lock.
    fn apply_ports_locked(&self, except: Option<&str>) -> Result<()> {
        let maps: Vec<PortMap> = self
            .db
            .ports(None)?
            .into_iter()
            .filter(|r| Some(r.container_id.as_str()) != except)
            .map(|r| r.map)
            .collect();
        firewall().apply_ports(&maps)?;
        Ok(())
    }

    /// The published ports of container `c` as Docker shows them
    /// (NetworkSettings.Ports): each exposed or published port with its host bindings
    /// (None: exposed only). Empty unless it runs on a bridge network.
    pub fn container_ports(&self, c: &Container) -> BTreeMap<String, Option<Vec<(String, u16)>>> {
        let mut out = BTreeMap::new();
        if !c.state.status.is_live()
            || !matches!(
                c.config.host.network_mode,
                crate::config::NetworkMode::Network(_)
            )
        {
            return out;
        }
        for k in &c.config.exposed_ports {
            out.insert(k.clone(), None);
        }
        for r in self.db.ports(Some(&c.id)).unwrap_or_default() {
            let key = format!("{}/{}", r.map.port, r.map.proto);
            let v: &mut Option<Vec<(String, u16)>> = out.entry(key).or_default();
            v.get_or_insert_with(Vec::new)
                .push((shown(r.map.host_ip), r.map.host_port));
        }
        for (key, ip, hp) in super::ports6::shown6(self, c) {
            let v: &mut Option<Vec<(String, u16)>> = out.entry(key).or_default();
            v.get_or_insert_with(Vec::new).push((ip, hp));
        }
        for v in out.values_mut().flatten() {
            v.sort();
        }
        out
    }
}

/// Publishes container `c`'s ports to `addr` on `bridge` (its endpoint is recorded). On
/// failure nothing of it is left.
pub(crate) fn publish(
    engine: &Engine,
    c: &Container,
    addr: Ipv4Addr,
    bridge: &str,
    port_ifname: &str,
) -> Result<()> {
    let wants = wants(c)?;
    if wants.is_empty() {
        return Ok(());
    }
    let rows = match engine.db.allocate_ports(&c.id, addr, &wants) {
        Err(Error::Conflict(m)) => {
            // Name the container holding the port rather than its id.
            let named = engine
                .db
                .containers()
                .unwrap_or_default()
                .into_iter()
                .find(|x| m.contains(&x.id))
                .map_or(m.clone(), |x| m.replace(&x.id, &x.name));
            return Err(Error::Conflict(named));
        }
        r => r?,
    };
    let made = (|| -> Result<()> {
        berth_network::ports::enable_route_localnet(bridge)?;
        berth_network::set_hairpin(port_ifname)?;
        let maps: Vec<PortMap> = rows.iter().map(|r| r.map).collect();
        let _lock = lock_ports(engine)?;
        if firewall().add_ports(&maps).is_err() {
            // A stale element, or no table yet: the whole table from the records.
            engine.apply_ports_locked(None)?;
        }
        Ok(())
    })();
    if let Err(e) = made {
        let _ = unpublish(engine, &c.id);
        return Err(e);
    }
    Ok(())
}

/// Takes container `id`'s ports out of the kernel, then out of the records.
pub(crate) fn unpublish(engine: &Engine, id: &str) -> Result<()> {
    let rows = engine.db.ports(Some(id))?;
    if rows.is_empty() {
        return Ok(());
    }
    let maps: Vec<PortMap> = rows.iter().map(|r| r.map).collect();
    let _lock = lock_ports(engine)?;
    if firewall().remove_ports(&maps).is_err() {
        engine.apply_ports_locked(Some(id))?;
    }
    engine.db.delete_ports(id)?;
    // The last port gone: so is the table (Berth leaves nothing it does not need).
    if engine.db.ports(None)?.is_empty() {
        engine.apply_ports_locked(None)?;
    }
    Ok(())
}

/// Port records whose container holds no endpoint any more (a crash between the two
/// releases): dropped, and the table rewritten from what remains.
pub(crate) fn reconcile(engine: &Engine) {
    let Ok(rows) = engine.db.ports(None) else {
        return;
    };
    let live: HashSet<String> = engine
        .db
        .endpoints(None)
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.container_id)
        .collect();
    let stale: HashSet<&str> = rows
        .iter()
        .map(|r| r.container_id.as_str())
        .filter(|c| !live.contains(*c))
        .collect();
    if stale.is_empty() {
        return;
    }
    for c in &stale {
        let _ = engine.db.delete_ports(c);
    }
    let _ = engine.apply_ports(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ranges_count_port_by_port() {
        let v: Vec<String> = ["6000-6002/udp", "80", "80/tcp", "7000/TCP"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            expand_exposed(v.iter()),
            ["6000/udp", "6001/udp", "6002/udp", "7000/tcp", "80/tcp"]
        );
        assert_eq!(split_key("80/udp"), Some((80, Proto::Udp)));
        assert_eq!(split_key("0/udp"), None);
    }

    #[test]
    fn clashes() {
        let m = PortMap {
            proto: Proto::Tcp,
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_port: 80,
            addr: Ipv4Addr::LOCALHOST,
            port: 80,
        };
        assert!(clash(&m, Proto::Tcp, None, 80));
        assert!(clash(&m, Proto::Tcp, Some(Ipv4Addr::LOCALHOST), 80));
        assert!(!clash(&m, Proto::Tcp, Some(Ipv4Addr::new(10, 0, 0, 1)), 80));
        assert!(!clash(&m, Proto::Udp, None, 80));
    }
}

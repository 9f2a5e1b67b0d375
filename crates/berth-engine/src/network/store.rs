//! Networks and endpoint allocations in the state database. An endpoint row is the
//! address (and veth, and pinned namespace) a container holds on a network: written
//! before any kernel object is made, so whatever a crash leaves is named by a row, and
//! removed only once those objects are gone. The database's uniqueness constraints
//! (one address per network, one endpoint per container and network) are what stop two
//! live containers from ever sharing an address, across processes.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::Network;
use crate::db::Db;
use crate::error::{Error, Result};

/// An address held by a container on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub network_id: String,
    pub container_id: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    /// The host end of the veth.
    pub ifname: String,
    /// The pinned network namespace file.
    pub netns: String,
    /// The interface inside the container (eth0, eth1...).
    pub device: String,
    /// The container's aliases on this network.
    pub aliases: Vec<String>,
}

fn encode(n: &Network) -> Result<String> {
    serde_json::to_string(n).map_err(|e| Error::Internal(format!("encode network: {e}")))
}

fn decode(s: &str, id: &str) -> Result<Network> {
    serde_json::from_str(s)
        .map_err(|e| Error::Internal(format!("corrupt record of network {id}: {e}")))
}

type RawEndpoint = [String; 9];

fn endpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEndpoint> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ])
}

fn endpoint_row(t: RawEndpoint) -> Result<EndpointRow> {
    let [
        id,
        network_id,
        container_id,
        ip,
        mac,
        ifname,
        netns,
        device,
        aliases,
    ] = t;
    let ip = ip
        .parse()
        .map_err(|_| Error::Internal(format!("corrupt endpoint {id}: address {ip:?}")))?;
    let aliases = serde_json::from_str(&aliases)
        .map_err(|_| Error::Internal(format!("corrupt endpoint {id}: aliases {aliases:?}")))?;
    Ok(EndpointRow {
        id,
        network_id,
        container_id,
        ip,
        mac,
        ifname,
        netns,
        device,
        aliases,
    })
}

const ENDPOINT_COLUMNS: &str =
    "id, network_id, container_id, ip, mac, ifname, netns, device, aliases";

/// What to allocate: the container, an address it asks for (`--ip`), a MAC it asks for.
pub struct Allocation<'a> {
    pub container_id: &'a str,
    pub container_name: &'a str,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
    pub netns: &'a str,
    /// The interface inside the container; None: the first ethN no other endpoint of the
    /// container has.
    pub device: Option<&'a str>,
    pub aliases: &'a [String],
}

impl Db {
    /// Inserts network `n`, made by `make` from the subnets already taken, in one
    /// immediate transaction (two creates never pick the same subnet). A taken name is a
    /// conflict.
    pub(crate) fn insert_network(
        &self,
        make: impl FnOnce(&[Network]) -> Result<Network>,
    ) -> Result<Network> {
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let existing = {
            let mut st = tx.prepare_cached("SELECT id, record FROM networks")?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut v = Vec::new();
            for r in rows {
                let (id, rec) = r?;
                v.push(decode(&rec, &id)?);
            }
            v
        };
        let n = make(&existing)?;
        if existing.iter().any(|x| x.name == n.name) {
            return Err(Error::Conflict(format!(
                "network with name {} already exists",
                n.name
            )));
        }
        tx.execute(
            "INSERT INTO networks (id, name, created, record) VALUES (?1, ?2, ?3, ?4)",
            params![n.id, n.name, n.created, encode(&n)?],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Every network, oldest first.
    pub(crate) fn networks(&self) -> Result<Vec<Network>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached("SELECT id, record FROM networks ORDER BY created, id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (id, rec) = r?;
            out.push(decode(&rec, &id)?);
        }
        Ok(out)
    }

    /// Deletes a network's record (its endpoints must be gone).
    pub(crate) fn delete_network(&self, id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM networks WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Allocates an endpoint on `net` in one immediate transaction: the address asked for
    /// (refused if another container holds it) or the first free one of the network's
    /// range (not its gateway).
    pub(crate) fn allocate(&self, net: &Network, a: &Allocation<'_>) -> Result<EndpointRow> {
        let (subnet, gateway, range) = net.ipv4()?;
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let used: HashSet<Ipv4Addr> = {
            let mut st = tx.prepare_cached("SELECT ip FROM endpoints WHERE network_id = ?1")?;
            let rows = st.query_map([&net.id], |r| r.get::<_, String>(0))?;
            let mut v = HashSet::new();
            for r in rows {
                if let Ok(ip) = r?.parse() {
                    v.insert(ip);
                }
            }
            v
        };
        let ip = match a.ip {
            Some(ip) => {
                if used.contains(&ip) {
                    return Err(Error::Conflict(format!(
                        "address {ip} is already in use on network {}",
                        net.name
                    )));
                }
                ip
            }
            // Every address of the range (its first included, as Docker's), but never the
            // subnet's own, its broadcast or the gateway.
            None => (0..)
                .map_while(|n| range.unwrap_or(subnet).nth(n))
                .find(|ip| {
                    *ip != gateway
                        && *ip != subnet.addr()
                        && *ip != subnet.broadcast()
                        && !used.contains(ip)
                        && subnet.contains(*ip)
                })
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "no address left on network {} ({subnet})",
                        net.name
                    ))
                })?,
        };
        let device = match a.device {
            Some(d) => d.to_string(),
            None => {
                let mut st =
                    tx.prepare_cached("SELECT device FROM endpoints WHERE container_id = ?1")?;
                let taken: HashSet<String> = st
                    .query_map([a.container_id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<_>>()?;
                (0..)
                    .map(|n| format!("eth{n}"))
                    .find(|d| !taken.contains(d))
                    .unwrap_or_default()
            }
        };
        let id = crate::container::new_id()?;
        let mac = berth_network::subnet::format_mac(
            &a.mac.unwrap_or_else(|| berth_network::subnet::mac_for(ip)),
        );
        let row = EndpointRow {
            ifname: format!("veth{}", &id[..11]),
            id,
            network_id: net.id.clone(),
            container_id: a.container_id.to_string(),
            ip,
            mac,
            netns: a.netns.to_string(),
            device,
            aliases: a.aliases.to_vec(),
        };
        let r = tx.execute(
            &format!(
                "INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                row.id,
                row.network_id,
                row.container_id,
                row.ip.to_string(),
                row.mac,
                row.ifname,
                row.netns,
                row.device,
                serde_json::to_string(&row.aliases).unwrap_or_else(|_| "[]".into())
            ],
        );
        match r {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(Error::Conflict(format!(
                    "endpoint with name {} already exists in network {}",
                    a.container_name, net.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit()?;
        Ok(row)
    }

    /// Every endpoint (of every network), or those of one container.
    pub(crate) fn endpoints(&self, container_id: Option<&str>) -> Result<Vec<EndpointRow>> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        let mut push = |t| -> Result<()> {
            out.push(endpoint_row(t)?);
            Ok(())
        };
        match container_id {
            Some(c) => {
                let mut st = conn.prepare_cached(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE container_id = ?1"
                ))?;
                for r in st.query_map([c], endpoint)? {
                    push(r?)?;
                }
            }
            None => {
                let mut st =
                    conn.prepare_cached(&format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints"))?;
                for r in st.query_map([], endpoint)? {
                    push(r?)?;
                }
            }
        }
        Ok(out)
    }

    /// Whether any endpoint exists at all (a cheap check before reconciling).
    pub(crate) fn any_endpoint(&self) -> Result<bool> {
        Ok(self
            .conn()?
            .query_row("SELECT 1 FROM endpoints LIMIT 1", [], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Deletes an endpoint row (its kernel objects must be gone).
    pub(crate) fn delete_endpoint(&self, id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM endpoints WHERE id = ?1", [id])?;
        Ok(())
    }
}

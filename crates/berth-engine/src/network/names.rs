//! The names the embedded resolver answers: on the networks a container is on, every
//! container holding an endpoint there answers to its name, its short id, its `--hostname`
//! and its `--network-alias`es (name, id and aliases also followed by `.NETWORK`).
//! A container whose run has ended has released its endpoint, so its names are gone.
//!
//! The resolver keeps these names in memory (`NameTable`, read in one query) and reads
//! them again whenever the store has changed since (`monitor/dns/cache.rs`).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use rusqlite::Connection;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::Result;

/// The pinned namespace in which the embedded resolver of container `c` must answer:
/// that of its endpoint on a user-defined network (None when it has none).
pub(crate) fn resolver_netns(engine: &Engine, c: &Container) -> Result<Option<PathBuf>> {
    if !crate::etc_files::uses_embedded_dns(c) {
        return Ok(None);
    }
    Ok(engine
        .db
        .endpoints(Some(&c.id))?
        .into_iter()
        .next()
        .map(|e| PathBuf::from(e.netns)))
}

/// The names of the networks of one container, as its resolver answers them: one compact
/// entry per endpoint (a resolver lives in every monitor, so this stays small: a few
/// dozen bytes per container), searched in full at each query (a few microseconds for
/// hundreds of containers).
#[derive(Debug, Default)]
pub(crate) struct NameTable {
    /// The networks' names (lower case).
    nets: Vec<String>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    ip: Ipv4Addr,
    /// Index in `nets`.
    net: usize,
    /// The container's name, short id and aliases (lower case, NUL-separated): each
    /// answers bare and followed by `.NETWORK`.
    names: Box<str>,
    /// Its hostname (lower case; empty: none), which answers bare only.
    host: Box<str>,
}

impl Entry {
    fn answers(&self, net: &str, q: &str) -> bool {
        let with_net = q
            .strip_suffix(net)
            .and_then(|b| b.strip_suffix('.'))
            .filter(|_| !net.is_empty());
        (!self.host.is_empty() && *self.host == *q)
            || self
                .names
                .split('\0')
                .any(|n| !n.is_empty() && (n == q || Some(n) == with_net))
    }
}

impl NameTable {
    /// The addresses of `name` (lower case), sorted: empty when it is not one of ours.
    pub(crate) fn lookup(&self, name: &str) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .entries
            .iter()
            .filter(|e| e.answers(self.nets.get(e.net).map_or("", String::as_str), name))
            .map(|e| e.ip)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The name of address `ip`: `NAME.NETWORK`, as Docker's resolver answers.
    pub(crate) fn reverse(&self, ip: Ipv4Addr) -> Option<String> {
        let e = self.entries.iter().find(|e| e.ip == ip)?;
        let name = e.names.split('\0').next().unwrap_or("");
        Some(format!(
            "{name}.{}",
            self.nets.get(e.net).map_or("", String::as_str)
        ))
    }

    /// The names of container `me`'s networks, read in one query on `conn` (one read
    /// transaction, so one consistent state of the store).
    pub(crate) fn load(conn: &Connection, me: &str) -> Result<NameTable> {
        let mut st = conn.prepare_cached(
            "SELECT e.ip, c.id, c.name, n.name,
                    ifnull(json_extract(c.config, '$.hostname'), ''),
                    ifnull(json_extract(c.config, '$.host.network_aliases'), '[]')
               FROM endpoints e
               JOIN containers c ON c.id = e.container_id
               JOIN networks n ON n.id = e.network_id
             WHERE e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?1)
             ORDER BY e.rowid",
        )?;
        let mut rows = st.query([me])?;
        let mut t = NameTable::default();
        while let Some(r) = rows.next()? {
            let ip: String = r.get(0)?;
            let Ok(ip) = ip.parse::<Ipv4Addr>() else {
                continue;
            };
            let id: String = r.get(1)?;
            let name = r.get::<_, String>(2)?.to_ascii_lowercase();
            let net_name = r.get::<_, String>(3)?.to_ascii_lowercase();
            // A hostname or aliases that are not what they should be (a hostile record)
            // are no names.
            let host = r
                .get::<_, String>(4)
                .map(|h| h.to_ascii_lowercase())
                .unwrap_or_default();
            let aliases: Vec<String> = r
                .get::<_, String>(5)
                .ok()
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default();
            let short = id.get(..12).unwrap_or(&id).to_ascii_lowercase();
            let net = match t.nets.iter().position(|n| *n == net_name) {
                Some(i) => i,
                None => {
                    t.nets.push(net_name);
                    t.nets.len() - 1
                }
            };
            let mut names = vec![name, short];
            // A NUL would split a name in two: no name has one.
            names.extend(
                aliases
                    .iter()
                    .filter(|a| !a.contains('\0'))
                    .map(|a| a.to_ascii_lowercase()),
            );
            t.entries.push(Entry {
                ip,
                net,
                names: names.join("\0").into_boxed_str(),
                host: host.into_boxed_str(),
            });
        }
        Ok(t)
    }
}

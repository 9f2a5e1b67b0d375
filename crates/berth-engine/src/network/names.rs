//! The names the embedded resolver answers: on the networks a container is on, every
//! container holding an endpoint there answers to its name, its short id, its `--hostname`
//! and its aliases on that network (its endpoint's: `--network-alias`, `network connect
//! --alias`; name, id and aliases also followed by `.NETWORK`), with its IPv4 address (A)
//! and, on a network with IPv6, its IPv6 address (AAAA); PTR for both (ip6.arpa too).
//! A container whose run has ended has released its endpoint, so its names are gone.
//!
//! The resolver keeps these names in memory (`NameTable`, read in one query) and reads
//! them again whenever the store has changed since (`monitor/dns/cache.rs`).

use std::net::{Ipv4Addr, Ipv6Addr};
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
    /// Its IPv6 address on a network with IPv6.
    ip6: Option<Ipv6Addr>,
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

    /// The IPv6 addresses of `name` (lower case), sorted: empty when it is not one of
    /// ours or has none.
    pub(crate) fn lookup6(&self, name: &str) -> Vec<Ipv6Addr> {
        let mut v: Vec<Ipv6Addr> = self
            .entries
            .iter()
            .filter(|e| e.answers(self.nets.get(e.net).map_or("", String::as_str), name))
            .filter_map(|e| e.ip6)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The name of address `ip`: `NAME.NETWORK`, as Docker's resolver answers.
    pub(crate) fn reverse(&self, ip: Ipv4Addr) -> Option<String> {
        self.entries
            .iter()
            .find(|e| e.ip == ip)
            .map(|e| self.full_name(e))
    }

    /// The name of IPv6 address `ip`: `NAME.NETWORK`.
    pub(crate) fn reverse6(&self, ip: Ipv6Addr) -> Option<String> {
        self.entries
            .iter()
            .find(|e| e.ip6 == Some(ip))
            .map(|e| self.full_name(e))
    }

    fn full_name(&self, e: &Entry) -> String {
        let name = e.names.split('\0').next().unwrap_or("");
        format!("{name}.{}", self.nets.get(e.net).map_or("", String::as_str))
    }

    /// The names of container `me`'s networks, read in one query on `conn` (one read
    /// transaction, so one consistent state of the store).
    pub(crate) fn load(conn: &Connection, me: &str) -> Result<NameTable> {
        let mut st = conn.prepare_cached(
            "SELECT e.ip, c.id, c.name, n.name,
                    ifnull(json_extract(c.config, '$.hostname'), ''),
                    e.aliases, ifnull(x.ip6, '')
               FROM endpoints e
               JOIN containers c ON c.id = e.container_id
               JOIN networks n ON n.id = e.network_id
               LEFT JOIN endpoints6 x ON x.endpoint_id = e.id
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
            let ip6 = r.get::<_, String>(6)?.parse::<Ipv6Addr>().ok();
            t.entries.push(Entry {
                ip,
                ip6,
                net,
                names: names.join("\0").into_boxed_str(),
                host: host.into_boxed_str(),
            });
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with networks `n1` (containers a and b) and `n2` (container c); a's
    /// config has a hostname and aliases, b's a hostile hostname and aliases.
    fn store() -> (tempfile::TempDir, Connection) {
        let d = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&d.path().join("engine.db")).unwrap();
        let conn = db.own_connection().unwrap();
        conn.execute_batch(
            r#"INSERT INTO networks VALUES ('N1', 'Net1', '', '{}'), ('N2', 'n2', '', '{}');
            INSERT INTO containers VALUES
              ('aaaaaaaaaaaa1111', 'A', '', '{"hostname":"Host-A"}', '{}'),
              ('bbbbbbbbbbbb2222', 'b', '', '{"hostname":7}', '{}'),
              ('cccccccccccc3333', 'c', '', '{}', '{}');
            INSERT INTO endpoints VALUES
              ('e1', 'N1', 'aaaaaaaaaaaa1111', '10.0.0.2', '', '', '', 'eth0', '["Web","db"]'),
              ('e2', 'N1', 'bbbbbbbbbbbb2222', '10.0.0.3', '', '', '', 'eth0', '"x"'),
              ('e3', 'N2', 'cccccccccccc3333', '10.1.0.2', '', '', '', 'eth0', '[]');
            INSERT INTO endpoints6 VALUES ('e1', 'N1', 'aaaaaaaaaaaa1111', 'fd00::2');"#,
        )
        .unwrap();
        (d, conn)
    }

    #[test]
    fn names_of_the_containers_networks_only() {
        let (_d, conn) = store();
        let t = NameTable::load(&conn, "bbbbbbbbbbbb2222").unwrap();
        let a: Vec<Ipv4Addr> = vec!["10.0.0.2".parse().unwrap()];
        for name in [
            "a",
            "a.net1",
            "aaaaaaaaaaaa",
            "aaaaaaaaaaaa.net1",
            "web",
            "web.net1",
            "db.net1",
            "host-a",
        ] {
            assert_eq!(t.lookup(name), a, "{name}");
        }
        // The hostname answers bare only; other networks' names and near misses not at all.
        for name in [
            "host-a.net1",
            "c",
            "c.n2",
            "a.n2",
            "a.",
            ".net1",
            "net1",
            "",
            "x",
        ] {
            assert!(t.lookup(name).is_empty(), "{name}");
        }
        assert_eq!(t.lookup("b"), vec!["10.0.0.3".parse::<Ipv4Addr>().unwrap()]);
        // IPv6: a's address on n1; b has none.
        let a6: Vec<Ipv6Addr> = vec!["fd00::2".parse().unwrap()];
        assert_eq!(t.lookup6("web.net1"), a6);
        assert!(t.lookup6("b").is_empty());
        assert_eq!(
            t.reverse6("fd00::2".parse().unwrap()).as_deref(),
            Some("a.net1")
        );
        assert_eq!(
            t.reverse("10.0.0.2".parse().unwrap()).as_deref(),
            Some("a.net1")
        );
        assert_eq!(t.reverse("10.1.0.2".parse().unwrap()), None);
        // A container on no network has no names.
        assert!(
            NameTable::load(&conn, "nosuch")
                .unwrap()
                .lookup("a")
                .is_empty()
        );
    }

    #[test]
    fn a_shared_alias_answers_every_address_once_sorted() {
        let (_d, conn) = store();
        conn.execute_batch(
            r#"INSERT INTO containers VALUES
              ('dddddddddddd4444', 'd', '', '{}', '{}');
            INSERT INTO endpoints VALUES
              ('e4', 'N1', 'dddddddddddd4444', '10.0.0.1', '', '', '', 'eth0', '["web","WEB"]');"#,
        )
        .unwrap();
        let t = NameTable::load(&conn, "aaaaaaaaaaaa1111").unwrap();
        let want: Vec<Ipv4Addr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(t.lookup("web"), want);
        assert_eq!(t.lookup("web.net1"), want);
    }
}

//! The names the embedded resolver answers, read from the store at each query (no cache
//! to go stale): on the networks a container is on, every container holding an endpoint
//! there answers to its name, its short id, its `--hostname` and its aliases on that
//! network (its endpoint's: `--network-alias`, `network connect --alias`; name, id and
//! aliases also followed by `.NETWORK`).
//! A container whose run has ended has released its endpoint, so its names are gone.

use std::net::Ipv4Addr;
use std::path::PathBuf;

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

impl crate::db::Db {
    /// The addresses `name` (lower case) has on the networks of container `me`: a
    /// container's name, short id, hostname or alias, or `NAME.NETWORK` for a name or
    /// alias (as Docker's resolver answers).
    pub(crate) fn dns_lookup(&self, me: &str, name: &str) -> Result<Vec<Ipv4Addr>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(
            "SELECT DISTINCT e.ip FROM endpoints e
               JOIN containers c ON c.id = e.container_id
               JOIN networks n ON n.id = e.network_id
             WHERE e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?1)
               AND (?2 IN (lower(c.name), substr(c.id, 1, 12),
                           lower(ifnull(json_extract(c.config, '$.hostname'), '')),
                           lower(c.name) || '.' || lower(n.name),
                           substr(c.id, 1, 12) || '.' || lower(n.name))
                    OR EXISTS (SELECT 1 FROM json_each(e.aliases) a
                               WHERE lower(a.value) = ?2
                                  OR lower(a.value) || '.' || lower(n.name) = ?2))
             ORDER BY e.ip",
        )?;
        let rows = st.query_map([me, name], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(ip) = r?.parse() {
                out.push(ip);
            }
        }
        Ok(out)
    }

    /// The name of address `ip` on the networks of container `me`: `NAME.NETWORK`, as
    /// Docker's resolver answers.
    pub(crate) fn dns_reverse(&self, me: &str, ip: Ipv4Addr) -> Result<Option<String>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(
            "SELECT c.name, n.name FROM endpoints e
               JOIN containers c ON c.id = e.container_id
               JOIN networks n ON n.id = e.network_id
             WHERE e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?1)
               AND e.ip = ?2
             LIMIT 1",
        )?;
        let mut rows = st.query_map([me, &ip.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        match rows.next() {
            Some(r) => {
                let (c, n) = r?;
                Ok(Some(format!("{c}.{n}").to_ascii_lowercase()))
            }
            None => Ok(None),
        }
    }
}

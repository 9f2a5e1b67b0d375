//! The IPv6 names of the embedded resolver: AAAA answers (the IPv6 addresses of the
//! endpoints the names of `names.rs` stand for, on networks with IPv6) and PTR answers
//! for those addresses under ip6.arpa. Read from the store at each query, as the IPv4
//! ones.

use std::net::Ipv6Addr;

use crate::error::Result;

impl crate::db::Db {
    /// The IPv6 addresses `name` (lower case) has on the networks of container `me` (the
    /// same names as `dns_lookup`'s).
    pub(crate) fn dns_lookup6(&self, me: &str, name: &str) -> Result<Vec<Ipv6Addr>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(
            "SELECT DISTINCT x.ip6 FROM endpoints e
               JOIN endpoints6 x ON x.endpoint_id = e.id
               JOIN containers c ON c.id = e.container_id
               JOIN networks n ON n.id = e.network_id
             WHERE e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?1)
               AND (?2 IN (lower(c.name), substr(c.id, 1, 12),
                           lower(ifnull(json_extract(c.config, '$.hostname'), '')),
                           lower(c.name) || '.' || lower(n.name),
                           substr(c.id, 1, 12) || '.' || lower(n.name))
                    OR EXISTS (SELECT 1 FROM json_each(c.config, '$.host.network_aliases') a
                               WHERE lower(a.value) = ?2
                                  OR lower(a.value) || '.' || lower(n.name) = ?2))
             ORDER BY x.ip6",
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

    /// The name of IPv6 address `ip` on the networks of container `me`: `NAME.NETWORK`.
    pub(crate) fn dns_reverse6(&self, me: &str, ip: Ipv6Addr) -> Result<Option<String>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(
            "SELECT c.name, n.name FROM endpoints6 x
               JOIN containers c ON c.id = x.container_id
               JOIN networks n ON n.id = x.network_id
             WHERE x.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?1)
               AND x.ip6 = ?2
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

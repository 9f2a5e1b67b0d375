//! The names of the container's networks, kept in memory between queries: read in one
//! query (`NameTable::load`) on a connection of the resolver's own, and read again as
//! soon as `PRAGMA data_version` says another connection has committed since (any
//! process's change of the store: a container started, stopped, renamed, a network
//! joined). So a query costs a hash lookup and that one pragma, and no answer comes from
//! a state older than the store's when the query arrived: a container that stopped stops
//! resolving at the next query, a new one resolves at its first.
//!
//! The connection stays open (the version compares only within one connection) with a
//! small page cache, which `shrink` gives back when the monitor trims itself.

use rusqlite::Connection;

use crate::engine::Engine;
use crate::error::Result;
use crate::network::names::NameTable;

/// Pages of the database the connection keeps cached, at most (in KiB, as SQLite's
/// negative `cache_size`): a reload reads them from the kernel's page cache anyway.
const CACHE_KIB: i64 = 256;

/// Turns off the connection's lookaside allocator: a per-connection arena (about 120 KiB
/// by default) that would stay resident in every monitor with a resolver. Plain malloc
/// serves the few allocations of a query instead. Best effort: SQLite refuses while
/// lookaside memory is in use, and the connection then simply keeps it.
fn no_lookaside(c: &Connection) {
    // SAFETY: the handle is this open connection's, used on this thread only, with no
    // statement running; SQLITE_DBCONFIG_LOOKASIDE takes (void *buf, int size, int count)
    // and a null buffer with size 0 and count 0 disables lookaside.
    unsafe {
        rusqlite::ffi::sqlite3_db_config(
            c.handle(),
            rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
            std::ptr::null_mut::<std::ffi::c_void>(),
            0 as std::ffi::c_int,
            0 as std::ffi::c_int,
        );
    }
}

#[derive(Default)]
pub(super) struct Names {
    conn: Option<Connection>,
    /// The connection's `data_version` when `table` was read.
    version: i64,
    table: Option<NameTable>,
}

impl Names {
    /// The names as the store has them now (for container `me`).
    pub(super) fn current(&mut self, engine: &Engine, me: &str) -> Result<&NameTable> {
        if self.conn.is_none() {
            let c = engine.db.own_connection()?;
            c.pragma_update(None, "cache_size", -CACHE_KIB)?;
            no_lookaside(&c);
            self.conn = Some(c);
            self.table = None;
        }
        let r = self.refresh(me);
        if r.is_err() {
            // Start again from a new connection at the next query.
            self.conn = None;
            self.table = None;
        }
        r?;
        self.table
            .as_ref()
            .ok_or_else(|| crate::error::Error::Internal("name table missing".into()))
    }

    fn refresh(&mut self, me: &str) -> Result<()> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        // Read before the table: a commit in between makes the next query read again
        // (never an old table taken for a new version).
        let v: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.table.is_none() || v != self.version {
            self.table = Some(NameTable::load(conn, me)?);
            self.version = v;
        }
        Ok(())
    }

    /// Gives back the connection's cached pages (the table stays).
    pub(super) fn shrink(&self) {
        if let Some(c) = &self.conn {
            let _ = c.release_memory();
        }
    }
}

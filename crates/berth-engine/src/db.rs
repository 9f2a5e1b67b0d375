//! The engine's records in SQLite (WAL, busy timeout): containers, volumes, networks and
//! their endpoints (`network/store.rs`, IPv6 addresses in `network/v6.rs`), published ports
//! (`network/ports.rs`, `network/ports6.rs`). Several
//! `berth` processes and monitors open it at once; every change is one short transaction,
//! and no transaction is held across slow work.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::container::{Container, State};
use crate::error::{Error, Result};

const SCHEMA_VERSION: i64 = 6;

/// Schema 5 added the tables `endpoints6` and `ports6` (IPv6, made by SCHEMA's CREATE TABLE
/// IF NOT EXISTS). Schema 6: an endpoint names its interface inside the container
/// (`device`: eth0, eth1...) and carries its network's aliases (a JSON array), as a
/// container may be on several networks; applied to every older database (2 to 5: the
/// releases before several networks per container).
const MIGRATIONS: &[berth_image::sqlite::Migration] = &[berth_image::sqlite::Migration {
    from: 2,
    to: 6,
    sql: "ALTER TABLE endpoints ADD COLUMN device TEXT NOT NULL DEFAULT 'eth0';
          ALTER TABLE endpoints ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';
          UPDATE endpoints SET aliases = ifnull((SELECT json_extract(c.config,
              '$.host.network_aliases') FROM containers c WHERE c.id = endpoints.container_id),
              '[]');",
}];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    driver TEXT NOT NULL,
    labels TEXT NOT NULL,
    options TEXT NOT NULL,
    anonymous INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    mac TEXT NOT NULL,
    ifname TEXT NOT NULL,
    netns TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT 'eth0',
    aliases TEXT NOT NULL DEFAULT '[]',
    UNIQUE (network_id, ip),
    UNIQUE (network_id, container_id)
);
CREATE TABLE IF NOT EXISTS endpoints6 (
    endpoint_id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ip6 TEXT NOT NULL,
    UNIQUE (network_id, ip6)
);
CREATE TABLE IF NOT EXISTS ports6 (
    container_id TEXT NOT NULL,
    proto TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    UNIQUE (proto, host_ip, host_port)
);
CREATE TABLE IF NOT EXISTS ports (
    container_id TEXT NOT NULL,
    proto TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    UNIQUE (proto, host_ip, host_port)
);
";

/// The state database: a pool of connections, so that threads of one process (a server's
/// requests) each use their own and never wait on each other except inside SQLite. A call
/// takes an idle connection (or opens one) and gives it back when done.
pub(crate) struct Db {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle connections kept for reuse; more are closed when given back.
const MAX_IDLE: usize = 4;

/// A connection taken from the pool; it goes back on drop.
pub(crate) struct Conn<'a> {
    db: &'a Db,
    conn: Option<Connection>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        self.conn
            .as_ref()
            .expect("connection present until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let mut idle = self.db.idle();
            if idle.len() < MAX_IDLE {
                idle.push(c);
            }
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("encode record: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("corrupt record {what}: {e}")))
}

impl Db {
    /// Opens (and creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Self::connect(path)?;
        Ok(Db {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![conn]),
        })
    }

    fn connect(path: &Path) -> Result<Connection> {
        Ok(berth_image::sqlite::open_migrating(
            path,
            SCHEMA,
            SCHEMA_VERSION,
            MIGRATIONS,
            "state database",
        )?)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A poisoned lock only means a thread panicked while pushing or popping.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one, or a new one.
    pub(crate) fn conn(&self) -> Result<Conn<'_>> {
        let reused = self.idle().pop();
        let conn = match reused {
            Some(c) => c,
            None => Self::connect(&self.path)?,
        };
        Ok(Conn {
            db: self,
            conn: Some(conn),
        })
    }

    /// A connection of its own, outside the pool, for a user that keeps it open (the
    /// embedded resolver: `PRAGMA data_version` compares only within one connection).
    pub(crate) fn own_connection(&self) -> Result<Connection> {
        Self::connect(&self.path)
    }

    /// Closes the idle connections (a monitor drops them between the rare moments it
    /// writes, to stay small).
    pub fn release(&self) {
        self.idle().clear();
    }

    /// Inserts a new container; a taken name is a conflict naming it.
    pub fn insert_container(&self, c: &Container) -> Result<()> {
        let r = self.conn()?.execute(
            "INSERT INTO containers (id, name, created, config, state) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.id, c.name, c.created, json(&c.config)?, json(&c.state)?],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(Error::Conflict(format!(
                    "the container name \"/{}\" is already in use; remove or rename that container to reuse the name",
                    c.name
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String, String)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    }

    fn decode(t: (String, String, String, String, String)) -> Result<Container> {
        let (id, name, created, config, state) = t;
        Ok(Container {
            config: parse(&config, &format!("config of container {id}"))?,
            state: parse(&state, &format!("state of container {id}"))?,
            id,
            name,
            created,
        })
    }

    /// Every container, oldest first.
    pub fn containers(&self) -> Result<Vec<Container>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(
            "SELECT id, name, created, config, state FROM containers ORDER BY created, id",
        )?;
        let rows = st.query_map([], Self::row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(Self::decode(r?)?);
        }
        Ok(out)
    }

    /// Finds a container by full id, name, or unique id prefix (Docker's rules).
    pub fn find(&self, key: &str) -> Result<Container> {
        let key = key.strip_prefix('/').unwrap_or(key);
        let q =
            "SELECT id, name, created, config, state FROM containers WHERE id = ?1 OR name = ?1";
        let conn = self.conn()?;
        if let Some(t) = conn
            .prepare_cached(q)?
            .query_row([key], Self::row)
            .optional()?
        {
            return Self::decode(t);
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut st = conn.prepare_cached(
                "SELECT id, name, created, config, state FROM containers WHERE id >= ?1 AND id < ?2 LIMIT 2",
            )?;
            let upper = format!("{key}g");
            let found: Vec<_> = st
                .query_map([key, upper.as_str()], Self::row)?
                .collect::<Result<_, _>>()?;
            let n = found.len();
            match (n, found.into_iter().next()) {
                (1, Some(t)) => return Self::decode(t),
                (2, _) => {
                    return Err(Error::invalid(
                        format!("container id prefix {key}"),
                        "it matches more than one container",
                    ));
                }
                _ => {}
            }
        }
        Err(Error::NoSuchContainer(key.to_string()))
    }

    /// Reads, changes and writes a container's state in one immediate transaction, so that
    /// concurrent updates (CLI and monitor) never lose each other's changes.
    pub fn update_state<T>(&self, id: &str, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let s: Option<String> = tx
            .query_row("SELECT state FROM containers WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let s = s.ok_or_else(|| Error::NoSuchContainer(id.to_string()))?;
        let mut state: State = parse(&s, &format!("state of container {id}"))?;
        let out = f(&mut state)?;
        tx.execute(
            "UPDATE containers SET state = ?1 WHERE id = ?2",
            params![json(&state)?, id],
        )?;
        tx.commit()?;
        Ok(out)
    }

    /// Replaces a container's configuration (`update`).
    pub fn set_config(&self, id: &str, config: &crate::config::ContainerConfig) -> Result<()> {
        let n = self.conn()?.execute(
            "UPDATE containers SET config = ?1 WHERE id = ?2",
            params![json(config)?, id],
        )?;
        if n == 0 {
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        Ok(())
    }

    /// Renames a container.
    pub fn rename(&self, id: &str, name: &str) -> Result<()> {
        match self.conn()?.execute(
            "UPDATE containers SET name = ?1 WHERE id = ?2",
            params![name, id],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(Error::Conflict(format!(
                    "the container name \"/{name}\" is already in use"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a container record.
    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }
}

//! The one way Berth opens its SQLite databases (the image store's and the engine's): WAL
//! with a busy timeout, so that several processes (CLI, monitors, a server) share a file;
//! the schema created under an immediate transaction; a newer schema refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Opens `path` (its directory is created), applying `schema` when the file's
/// `user_version` is below `version`. `what` names the database in errors.
pub fn open(path: &Path, schema: &str, version: i64, what: &str) -> Result<Connection> {
    open_migrating(path, schema, version, &[], what)
}

/// A change of an existing database's tables: `sql` runs, before the schema, on a database
/// whose `user_version` is at least `from` and below `to` (an older one has no such table
/// yet, and the schema makes it whole).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub from: i64,
    pub to: i64,
    pub sql: &'static str,
}

/// As `open`, with `migrations` applied to an older database, in the same immediate
/// transaction as the schema (the version read again inside it, so two processes never
/// migrate twice).
pub fn open_migrating(
    path: &Path,
    schema: &str,
    version: i64,
    migrations: &[Migration],
    what: &str,
) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            context: "create database directory",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path)?;
    // Records name images, containers and their environments: the owner's alone. SQLite
    // gives the -wal and -shm files the database's mode when it makes them.
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if let Ok(m) = std::fs::metadata(&p)
            && m.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| Error::Io {
                    context: "make database private",
                    path: p.clone(),
                    source,
                },
            )?;
        }
    }
    conn.busy_timeout(Duration::from_secs(30))?;
    // WAL lets readers go on while one process writes; NORMAL sync is durable at each
    // checkpoint and never corrupts on a crash.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Closing does not checkpoint: short-lived commands would each pay for a full
    // checkpoint and WAL deletion; SQLite checkpoints as the WAL grows instead.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v < version {
        let tx =
            rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)?;
        let v: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v < version {
            for m in migrations.iter().filter(|m| v >= m.from && v < m.to) {
                tx.execute_batch(m.sql)?;
            }
            tx.execute_batch(&format!("{schema} PRAGMA user_version = {version};"))?;
        }
        tx.commit()?;
    } else if v > version {
        return Err(Error::Unsupported(format!(
            "{what} {} has schema {v}, newer than this berth ({version})",
            path.display()
        )));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_once_and_newer_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/x.db");
        let schema = "CREATE TABLE IF NOT EXISTS t (a INTEGER);";
        let c = open(&p, schema, 1, "test database").unwrap();
        c.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
        drop(c);
        let c = open(&p, schema, 1, "test database").unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(c);
        let e = open(&p, schema, 0, "test database")
            .unwrap_err()
            .to_string();
        assert!(e.contains("test database") && e.contains("newer"), "{e}");
    }

    #[test]
    fn migrations_change_older_databases_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        let v1 = "CREATE TABLE IF NOT EXISTS t (a INTEGER);";
        let c = open(&p, v1, 1, "test database").unwrap();
        c.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
        drop(c);
        let v2 = "CREATE TABLE IF NOT EXISTS t (a INTEGER, b TEXT NOT NULL DEFAULT 'x');";
        let m = [Migration {
            from: 1,
            to: 2,
            sql: "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';",
        }];
        for _ in 0..2 {
            let c = open_migrating(&p, v2, 2, &m, "test database").unwrap();
            let b: String = c.query_row("SELECT b FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(b, "x");
        }
        // A new database gets the schema whole, without the migration.
        let q = d.path().join("y.db");
        let c = open_migrating(&q, v2, 2, &m, "test database").unwrap();
        c.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
    }
}

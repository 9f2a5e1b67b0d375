//! Image metadata in SQLite (WAL): images, their layers, tags, unpacked layers, snapshots
//! and users. Several `berth` processes open it at once.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::digest::Digest;
use crate::error::Result;
use crate::model::LayerRef;

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    created INTEGER NOT NULL,
    added INTEGER NOT NULL,
    size INTEGER NOT NULL,
    parent TEXT
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    blob_size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (name, image_id)
);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    added INTEGER NOT NULL,
    apparent_size INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS users_image ON users(image_id);
";

/// An image row with its layers, tags and repo digests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRecord {
    /// The image ID: the config digest.
    pub id: Digest,
    pub manifest: Digest,
    pub manifest_media_type: String,
    /// Creation time from the config (seconds since the epoch; 0 when unknown).
    pub created: i64,
    /// When it was added to this store.
    pub added: i64,
    /// Sum of the uncompressed layer sizes.
    pub size: u64,
    pub parent: Option<Digest>,
    pub layers: Vec<LayerRef>,
    /// Full tagged names, e.g. `docker.io/library/busybox:latest`.
    pub tags: Vec<String>,
    /// Full names pinned by manifest digest, e.g. `docker.io/library/busybox@sha256:...`.
    pub repo_digests: Vec<String>,
}

/// An unpacked layer: a row exists only once its directory is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerRow {
    /// Disk its files take (allocated blocks).
    pub(crate) size: u64,
    /// Sum of its files' sizes (holes included).
    pub(crate) apparent: u64,
}

/// A snapshot row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotRecord {
    pub id: String,
    pub image_id: Digest,
    pub kind: String,
    pub created: i64,
}

pub(crate) struct Db {
    conn: Connection,
}

/// A size as SQLite stores it (i64; no size reaches 2^63).
fn to_db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A size read back (a negative one, never written, reads as 0).
fn from_db(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn dg(s: String) -> Result<Digest> {
    s.parse()
}

impl Db {
    pub(crate) fn open(path: &Path) -> Result<Db> {
        let conn = crate::sqlite::open(path, SCHEMA, SCHEMA_VERSION, "image database")?;
        migrate(&conn)?;
        Ok(Db { conn })
    }

    pub(crate) fn write(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Schema 1 had no apparent size: its `size` was the layer tar's, the closest there is.
fn migrate(conn: &Connection) -> Result<()> {
    let has = |conn: &Connection| -> Result<bool> {
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('layers') WHERE name = 'apparent_size'",
            [],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    };
    if has(conn)? {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let res = (|| -> Result<()> {
        if !has(conn)? {
            conn.execute_batch(
                "ALTER TABLE layers ADD COLUMN apparent_size INTEGER NOT NULL DEFAULT 0;
                 UPDATE layers SET apparent_size = size;",
            )?;
        }
        Ok(())
    })();
    match res {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    res
}

pub(crate) fn insert_image(tx: &Transaction<'_>, rec: &ImageRecord) -> Result<()> {
    tx.execute(
        "INSERT INTO images (id, manifest_digest, manifest_media_type, created, added, size, parent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
             manifest_media_type = excluded.manifest_media_type",
        params![
            rec.id.to_string(),
            rec.manifest.to_string(),
            rec.manifest_media_type,
            rec.created,
            rec.added,
            to_db(rec.size),
            rec.parent.as_ref().map(|p| p.to_string()),
        ],
    )?;
    tx.execute(
        "DELETE FROM image_layers WHERE image_id = ?1",
        [rec.id.to_string()],
    )?;
    let mut st = tx.prepare(
        "INSERT INTO image_layers (image_id, idx, diff_id, blob_digest, blob_size, media_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, l) in rec.layers.iter().enumerate() {
        st.execute(params![
            rec.id.to_string(),
            i64::try_from(i).unwrap_or(i64::MAX),
            l.diff_id.to_string(),
            l.blob.to_string(),
            to_db(l.blob_size),
            l.media_type
        ])?;
    }
    Ok(())
}

/// Point `name` at `id`; returns the image it pointed to before, if another.
pub(crate) fn set_tag(tx: &Transaction<'_>, name: &str, id: &Digest) -> Result<Option<Digest>> {
    let old: Option<String> = tx
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "INSERT INTO tags (name, image_id) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, id.to_string()],
    )?;
    match old {
        Some(o) if o != id.to_string() => Ok(Some(dg(o)?)),
        _ => Ok(None),
    }
}

pub(crate) fn add_repo_digest(tx: &Transaction<'_>, name: &str, id: &Digest) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO repo_digests (name, image_id) VALUES (?1, ?2)",
        params![name, id.to_string()],
    )?;
    Ok(())
}

pub(crate) fn tag_target(conn: &Connection, name: &str) -> Result<Option<Digest>> {
    let v: Option<String> = conn
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    v.map(dg).transpose()
}

/// All images, with layers, tags and repo digests, in a handful of queries.
pub(crate) fn list_images(conn: &Connection) -> Result<Vec<ImageRecord>> {
    let mut out: Vec<ImageRecord> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT id, manifest_digest, manifest_media_type, created, added, size, parent FROM images",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let parent: Option<String> = r.get(6)?;
            index.insert(id.clone(), out.len());
            out.push(ImageRecord {
                id: dg(id)?,
                manifest: dg(r.get(1)?)?,
                manifest_media_type: r.get(2)?,
                created: r.get(3)?,
                added: r.get(4)?,
                size: from_db(r.get::<_, i64>(5)?),
                parent: parent.map(dg).transpose()?,
                layers: Vec::new(),
                tags: Vec::new(),
                repo_digests: Vec::new(),
            });
        }
    }
    {
        let mut st = conn.prepare_cached(
            "SELECT image_id, diff_id, blob_digest, blob_size, media_type FROM image_layers ORDER BY image_id, idx",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            if let Some(&i) = index.get(&id) {
                out[i].layers.push(LayerRef {
                    diff_id: dg(r.get(1)?)?,
                    blob: dg(r.get(2)?)?,
                    blob_size: from_db(r.get::<_, i64>(3)?),
                    media_type: r.get(4)?,
                });
            }
        }
    }
    for (table, tags) in [("tags", true), ("repo_digests", false)] {
        let mut st =
            conn.prepare_cached(&format!("SELECT name, image_id FROM {table} ORDER BY name"))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let id: String = r.get(1)?;
            if let Some(&i) = index.get(&id) {
                if tags {
                    out[i].tags.push(name);
                } else {
                    out[i].repo_digests.push(name);
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn get_image(conn: &Connection, id: &Digest) -> Result<Option<ImageRecord>> {
    // Small stores make the full listing cheap; keep one code path.
    Ok(list_images(conn)?.into_iter().find(|i| &i.id == id))
}

pub(crate) fn layer_row(conn: &Connection, diff_id: &Digest) -> Result<Option<LayerRow>> {
    let v: Option<(i64, i64)> = conn
        .query_row(
            "SELECT size, apparent_size FROM layers WHERE diff_id = ?1",
            [diff_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(v.map(|(s, a)| LayerRow {
        size: from_db(s),
        apparent: from_db(a),
    }))
}

/// Record a layer as complete (its directory is in place).
pub(crate) fn insert_layer(
    conn: &Connection,
    diff_id: &Digest,
    row: LayerRow,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO layers (diff_id, size, added, apparent_size) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(diff_id) DO UPDATE SET size = excluded.size,
             apparent_size = excluded.apparent_size",
        params![
            diff_id.to_string(),
            to_db(row.size),
            now,
            to_db(row.apparent)
        ],
    )?;
    Ok(())
}

pub(crate) fn all_layers(conn: &Connection) -> Result<Vec<(Digest, LayerRow)>> {
    let mut st = conn.prepare("SELECT diff_id, size, apparent_size FROM layers")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (d, s, a) = r?;
        out.push((
            dg(d)?,
            LayerRow {
                size: from_db(s),
                apparent: from_db(a),
            },
        ));
    }
    Ok(out)
}

/// Blob digests that hold each layer (from the images that list it).
pub(crate) fn layer_blobs(conn: &Connection) -> Result<HashMap<Digest, Digest>> {
    let mut st = conn.prepare("SELECT DISTINCT diff_id, blob_digest FROM image_layers")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for r in rows {
        let (d, b) = r?;
        out.insert(dg(d)?, dg(b)?);
    }
    Ok(out)
}

/// Users of an image: (kind, id) pairs, snapshots included.
pub(crate) fn users_of(conn: &Connection, id: &Digest) -> Result<Vec<(String, String)>> {
    let mut st = conn.prepare(
        "SELECT kind, id FROM users WHERE image_id = ?1
         UNION SELECT 'snapshot', id FROM snapshots WHERE image_id = ?1",
    )?;
    let rows = st.query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn get_snapshot(conn: &Connection, id: &str) -> Result<Option<SnapshotRecord>> {
    let row: Option<(String, String, i64)> = conn
        .query_row(
            "SELECT image_id, kind, created FROM snapshots WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((image, kind, created)) => Ok(Some(SnapshotRecord {
            id: id.to_owned(),
            image_id: dg(image)?,
            kind,
            created,
        })),
    }
}

pub(crate) fn list_snapshots(conn: &Connection) -> Result<Vec<SnapshotRecord>> {
    let mut st = conn.prepare("SELECT id, image_id, kind, created FROM snapshots")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, image, kind, created) = r?;
        out.push(SnapshotRecord {
            id,
            image_id: dg(image)?,
            kind,
            created,
        });
    }
    Ok(out)
}

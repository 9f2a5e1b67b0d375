//! The state database's schema 4 migration: endpoint rows of a schema 3 database (one
//! network per container) get their device and their container's aliases.

use crate::db::Db;

#[test]
fn schema_3_endpoints_get_a_device_and_their_aliases() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("engine.db");
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                 created TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL);
             CREATE TABLE endpoints (id TEXT PRIMARY KEY, network_id TEXT NOT NULL,
                 container_id TEXT NOT NULL, ip TEXT NOT NULL, mac TEXT NOT NULL,
                 ifname TEXT NOT NULL, netns TEXT NOT NULL,
                 UNIQUE (network_id, ip), UNIQUE (network_id, container_id));
             INSERT INTO containers VALUES ('c1', 'web', 't',
                 '{\"host\":{\"network_aliases\":[\"www\",\"w\"]}}', '{}');
             INSERT INTO containers VALUES ('c2', 'db', 't', '{}', '{}');
             INSERT INTO endpoints VALUES ('e1', 'n1', 'c1', '10.0.0.2', 'm', 'v1', '/x');
             INSERT INTO endpoints VALUES ('e2', 'n1', 'c2', '10.0.0.3', 'm', 'v2', '/y');
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let db = Db::open(&p).unwrap();
    let mut rows = db.endpoints(None).unwrap();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].device, "eth0");
    assert_eq!(rows[0].aliases, ["www", "w"]);
    assert_eq!(rows[1].aliases, Vec::<String>::new());
    drop(db);
    // Opened again: nothing runs twice.
    let db = Db::open(&p).unwrap();
    assert_eq!(db.endpoints(None).unwrap().len(), 2);
}

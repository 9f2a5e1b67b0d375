//! What a killed operation leaves: a half-deleted layer is never reused and `check
//! --verify` sees one; temporaries and trash of dead processes are reclaimed by the next
//! operation; garbage collection deletes files after releasing the store lock.

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_image::layer::tree;
use berth_image::{ImportOptions, NoProgress, Reference, SnapshotKind, Store};
use common::RawTar;

/// A pid no process has (above the kernel's largest pid_max).
const DEAD_PID: u32 = 4_194_304;

fn layer_tar(n: usize) -> Vec<u8> {
    let mut t = RawTar::new().dir("etc/");
    for i in 0..n {
        t = t.file(&format!("etc/f{i}"), format!("file {i}").as_bytes());
    }
    t.finish()
}

fn import(store: &Store, tar: &[u8], tag: &str) -> berth_image::ImageRecord {
    let opts = ImportOptions {
        reference: Some(Reference::parse_tagged(tag).unwrap()),
        source: "-".into(),
        ..Default::default()
    };
    store.import(tar, &opts).unwrap()
}

/// Run SQL on the store's database, as a killed process would have left it.
fn sql(store: &Store, q: &str) {
    let c = rusqlite::Connection::open(store.root().join("meta.db")).unwrap();
    c.execute_batch(q).unwrap();
}

/// Before: garbage collection deleted the layer's row, then its files; killed between,
/// it left a half-deleted directory that the next load took for an unpacked layer.
#[test]
fn half_deleted_layer_is_replaced_not_reused() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let archive = common::docker_archive(&[layer_tar(20)], "half:1");
    let img = store.load(&archive[..], None, &NoProgress).unwrap()[0]
        .image
        .clone();
    let dir = store.layer_dir(&img.layers[0].diff_id);
    let complete = tree::manifest(&dir).unwrap();
    // The kill: rows gone, half the files gone.
    sql(&store, "DELETE FROM images; DELETE FROM layers;");
    for i in 0..10 {
        fs::remove_file(dir.join(format!("etc/f{i}"))).unwrap();
    }
    store.load(&archive[..], None, &NoProgress).unwrap();
    let (diffs, n) = tree::differences(&complete, &tree::manifest(&dir).unwrap(), 3);
    assert_eq!(n, 0, "the layer was reused incomplete: {diffs:?}");
    let rep = store.check(true).unwrap();
    assert!(rep.problems.is_empty(), "{rep:?}");
}

#[test]
fn check_verify_finds_an_incomplete_layer() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let img = import(&store, &layer_tar(5), "v:1");
    let dir = store.layer_dir(&img.layers[0].diff_id);
    fs::remove_file(dir.join("etc/f3")).unwrap();
    // Without --verify nothing reads the files.
    let rep = store.check(false).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
    let rep = store.check(true).unwrap();
    assert!(rep.problems.is_empty(), "{rep:?}");
    assert_eq!(rep.repaired.len(), 1, "{rep:?}");
    assert!(
        rep.repaired[0].contains("missing etc/f3") && rep.repaired[0].contains("unpacked it again"),
        "{rep:?}"
    );
    assert_eq!(fs::read(dir.join("etc/f3")).unwrap(), b"file 3");
    // A layer a container uses is reported, not swapped under it.
    store
        .prepare_snapshot("c1", &img.id, Some(SnapshotKind::Overlay))
        .unwrap();
    fs::write(dir.join("etc/f1"), b"changed").unwrap();
    let rep = store.check(true).unwrap();
    assert_eq!(rep.problems.len(), 1, "{rep:?}");
    assert!(
        rep.problems[0].contains("etc/f1 differs") && rep.problems[0].contains("containers use it"),
        "{rep:?}"
    );
}

/// Leftovers named after a dead process go at the next operation, without `check`; those
/// of a live process stay.
#[test]
fn leftovers_of_dead_processes_are_reclaimed_by_the_next_operation() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let root = store.root().to_owned();
    for d in ["tmp", "trash"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(
        root.join(format!("tmp/blob-{DEAD_PID}-7-0")),
        b"half a blob",
    )
    .unwrap();
    fs::create_dir_all(root.join(format!("tmp/layer-{DEAD_PID}-7-1/usr/bin"))).unwrap();
    fs::write(
        root.join(format!("tmp/layer-{DEAD_PID}-7-1/usr/bin/x")),
        b"x",
    )
    .unwrap();
    fs::create_dir_all(root.join(format!("trash/{DEAD_PID}-7-2/a/b"))).unwrap();
    let mut live = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let start = berth_runtime::util::proc_stat(i32::try_from(live.id()).expect("a pid"))
        .unwrap()
        .start_time;
    let live_name = format!("blob-{}-{start}-0", live.id());
    fs::write(root.join("tmp").join(&live_name), b"being written").unwrap();

    import(&store, &layer_tar(2), "next:1");
    assert_eq!(common::listing(&root.join("tmp")), vec![live_name]);
    assert!(common::listing(&root.join("trash")).is_empty());

    live.kill().unwrap();
    live.wait().unwrap();
    import(&store, &layer_tar(3), "after:1");
    assert!(common::listing(&root.join("tmp")).is_empty());
}

/// A process killed between forgetting rows and moving files away (or while adding
/// content) leaves a lease: the next operation that finds the lock free collects.
#[test]
fn dead_lease_makes_the_next_operation_collect_garbage() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let keep = import(&store, &layer_tar(2), "keep:1");
    let gone = import(&store, &layer_tar(4), "gone:1");
    let root = store.root().to_owned();
    // rmi of gone:1 committed, then killed before it moved anything.
    sql(
        &store,
        &format!(
            "DELETE FROM images WHERE id = '{}'; DELETE FROM layers WHERE diff_id = '{}';",
            gone.id, gone.layers[0].diff_id
        ),
    );
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::write(root.join(format!("tmp/lease-{DEAD_PID}-7-0")), b"").unwrap();
    import(&store, &layer_tar(2), "keep:2");
    assert!(!store.layer_dir(&gone.layers[0].diff_id).exists());
    assert!(store.layer_dir(&keep.layers[0].diff_id).is_dir());
    // Every blob left is an image's.
    let mut referenced = std::collections::HashSet::new();
    for i in store.images().unwrap() {
        referenced.insert(i.id.clone());
        referenced.insert(i.manifest.clone());
        referenced.extend(i.layers.iter().map(|l| l.blob.clone()));
    }
    for (d, _) in store.blobs().list().unwrap().0 {
        assert!(referenced.contains(&d), "blob {d} left");
    }
    assert!(!store.blobs().exists(&gone.id));
    assert!(common::listing(&root.join("tmp")).is_empty());
    let rep = store.check(true).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
}

/// The store lock is free while a removed image's files are deleted.
#[test]
fn gc_deletes_after_releasing_the_lock() {
    let t = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(t.path()).unwrap());
    let img = import(&store, &layer_tar(20_000), "many:1");
    let lock_path = store.root().join("lock");
    let done = Arc::new(AtomicBool::new(false));
    let rm = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            store.remove("many:1", false).unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    let f = fs::File::open(&lock_path).unwrap();
    let try_shared =
        || rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_ok();
    let trash_dir = store.root().join("trash");
    // Wait for the removal to take the exclusive lock (or to be past it, deleting)...
    loop {
        if !try_shared() {
            break;
        }
        let _ = rustix::fs::flock(&f, rustix::fs::FlockOperation::Unlock);
        if !common::listing(&trash_dir).is_empty() && !done.load(Ordering::SeqCst) {
            break; // the lock is free while deleting
        }
        assert!(!done.load(Ordering::SeqCst), "removal never held the lock");
        std::thread::yield_now();
    }
    // ...then for the lock: it must come while the files are still being deleted.
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared).unwrap();
    let trash = common::listing(&trash_dir);
    let finished = done.load(Ordering::SeqCst);
    rm.join().unwrap();
    assert!(
        !finished && !trash.is_empty(),
        "the lock was held until the deletion ended"
    );
    assert!(!store.layer_dir(&img.layers[0].diff_id).exists());
    assert!(common::listing(&store.root().join("trash")).is_empty());
}

/// Before: removing a snapshot deleted its row, then its directory; killed in between, it
/// left the container's writable layer on disk, uncounted, and a second removal found
/// nothing to do. Now the directory goes to the trash first: whichever step the kill
/// interrupts, the next removal finishes.
#[test]
fn killed_snapshot_removal_is_finished_by_the_next() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let img = import(&store, &layer_tar(2), "snap:1");
    let root = store.root().to_owned();
    for (n, forget_row) in [(0, false), (1, true)] {
        let id = format!("c{n}");
        store
            .prepare_snapshot(&id, &img.id, Some(SnapshotKind::Overlay))
            .unwrap();
        let dir = root.join("snapshots").join(&id);
        fs::write(dir.join("upper/data"), b"the container's data").unwrap();
        // Killed after the rename into the trash (and, the second time, after the row
        // went too, while deleting the trash).
        fs::rename(&dir, root.join(format!("trash/{DEAD_PID}-7-{n}"))).unwrap();
        if forget_row {
            sql(&store, &format!("DELETE FROM snapshots WHERE id = '{id}'"));
            assert!(store.remove_snapshot(&id).is_err(), "the row is gone");
        } else {
            store.remove_snapshot(&id).unwrap();
        }
        assert!(store.snapshots().unwrap().is_empty());
        assert!(common::listing(&root.join("trash")).is_empty());
        assert!(common::listing(&root.join("snapshots")).is_empty());
    }
}

/// A snapshot creation killed before its row was written leaves a directory and a lease:
/// the next operation on the store removes the directory; those with rows stay.
#[test]
fn killed_snapshot_creation_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let img = import(&store, &layer_tar(2), "snap:1");
    let root = store.root().to_owned();
    for id in ["kept", "half"] {
        store
            .prepare_snapshot(id, &img.id, Some(SnapshotKind::Overlay))
            .unwrap();
    }
    sql(&store, "DELETE FROM snapshots WHERE id = 'half'");
    fs::write(root.join(format!("tmp/lease-{DEAD_PID}-7-0")), b"").unwrap();
    store
        .prepare_snapshot("next", &img.id, Some(SnapshotKind::Overlay))
        .unwrap();
    assert_eq!(
        common::listing(&root.join("snapshots")),
        vec!["kept".to_owned(), "next".to_owned()]
    );
    assert!(common::listing(&root.join("tmp")).is_empty());
    let rep = store.check(true).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
}

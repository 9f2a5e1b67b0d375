//! The store end to end: import, tag, save/load, snapshots, rm/prune, check.

mod common;

use std::fs;
use std::path::Path;

use berth_image::snapshot::{UnmountOnDrop, unmount};
use berth_image::{
    ArchiveFormat, CommitOptions, Error, ErrorKind, ImportOptions, NoProgress, Reference,
    SnapshotKind, Store,
};
use common::RawTar;

fn import_busybox(store: &Store, dir: &Path, tag: &str) -> Option<berth_image::ImageRecord> {
    let tar = common::busybox_rootfs_tar(dir)?;
    let opts = ImportOptions {
        changes: vec![r#"CMD ["/bin/sh"]"#.into()],
        reference: Some(Reference::parse_tagged(tag).unwrap()),
        source: "-".into(),
        ..Default::default()
    };
    Some(store.import(fs::File::open(tar).unwrap(), &opts).unwrap())
}

fn small_image(store: &Store, tag: &str, files: &[(&str, &[u8])]) -> berth_image::ImageRecord {
    let mut t = RawTar::new();
    for (p, d) in files {
        t = t.file(p, d);
    }
    let opts = ImportOptions {
        reference: Some(Reference::parse_tagged(tag).unwrap()),
        source: "-".into(),
        ..Default::default()
    };
    store.import(&t.finish()[..], &opts).unwrap()
}

#[test]
fn busybox_import_tag_save_load_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(&t.path().join("root")).unwrap();
    let Some(img) = import_busybox(&store, t.path(), "busybox:latest") else {
        return;
    };
    assert_eq!(img.layers.len(), 1);
    assert!(img.size > 1_000_000);
    store.tag("busybox", "localhost:5000/bb:v1").unwrap();
    assert_eq!(store.resolve("localhost:5000/bb:v1").unwrap().id, img.id);
    assert_eq!(store.resolve(img.id.short()).unwrap().id, img.id);
    assert_eq!(store.resolve(&img.id.to_string()).unwrap().id, img.id);
    let cfg = store.config_json(&img).unwrap();
    assert_eq!(cfg["config"]["Cmd"][0], "/bin/sh");

    for format in [ArchiveFormat::Docker, ArchiveFormat::Oci] {
        let archive = store
            .save(&["busybox:latest".into()], format, Vec::new())
            .unwrap();
        let other = tempfile::tempdir().unwrap();
        let s2 = Store::open(other.path()).unwrap();
        let loaded = s2.load(&archive[..], None, &NoProgress).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].image.id, img.id, "{format:?}");
        assert_eq!(loaded[0].image.manifest, img.manifest, "{format:?}");
        assert_eq!(loaded[0].names, vec!["busybox:latest".to_string()]);
        assert!(s2.layer_ready(&img.layers[0].diff_id).unwrap());
        let rep = s2.check(true).unwrap();
        assert!(
            rep.problems.is_empty() && rep.repaired.is_empty(),
            "{rep:?}"
        );
    }
    // rm, then load again: same digest.
    let archive = store
        .save(&["busybox".into()], ArchiveFormat::Docker, Vec::new())
        .unwrap();
    store.remove("localhost:5000/bb:v1", false).unwrap();
    let ev = store.remove("busybox", false).unwrap();
    assert!(
        ev.contains(&berth_image::RemoveEvent::Deleted(img.id.clone())),
        "{ev:?}"
    );
    assert!(store.images().unwrap().is_empty());
    assert_eq!(store.blobs().list().unwrap().0.len(), 0);
    let loaded = store.load(&archive[..], None, &NoProgress).unwrap();
    assert_eq!(loaded[0].image.manifest, img.manifest);
}

#[test]
fn docker_archive_classic_layout_loads() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let l1 = RawTar::new().file("a", b"1").file("b", b"2").finish();
    let l2 = RawTar::new().file(".wh.a", b"").file("c", b"3").finish();
    let ar = common::docker_archive(&[l1, l2], "classic:v1");
    let loaded = store.load(&ar[..], None, &NoProgress).unwrap();
    assert_eq!(loaded[0].names, vec!["classic:v1"]);
    assert_eq!(loaded[0].image.layers.len(), 2);
    let h = store.history(&loaded[0].image).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].created_by, "layer 1");
    // gzip-compressed archive too
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &ar).unwrap();
    let again = store
        .load(&gz.finish().unwrap()[..], None, &NoProgress)
        .unwrap();
    assert_eq!(again[0].image.id, loaded[0].image.id);
}

#[test]
fn hostile_layer_in_archive_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(&t.path().join("root")).unwrap();
    let evil = RawTar::new().file("../../evil", b"x").finish();
    let ar = common::docker_archive(&[evil], "evil:latest");
    let err = store.load(&ar[..], None, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("hostile"), "{err}");
    assert!(!t.path().join("evil").exists());
    assert!(store.images().unwrap().is_empty());
    let rep = store.check(false).unwrap();
    assert!(rep.problems.is_empty(), "{rep:?}");
}

#[test]
fn many_layers_overlay_snapshot_diff_commit() {
    if common::skip_unless_root("many_layers_overlay_snapshot_diff_commit") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let n = 120;
    let mut layers: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            RawTar::new()
                .dir("d/")
                .file(&format!("d/f{i}"), format!("{i}").as_bytes())
                .finish()
        })
        .collect();
    layers.push(RawTar::new().file("d/.wh.f0", b"").finish());
    let ar = common::docker_archive(&layers, "many:layers");
    let img = store
        .load(&ar[..], None, &NoProgress)
        .unwrap()
        .remove(0)
        .image;
    let spec = store
        .prepare_snapshot("c1", &img.id, Some(SnapshotKind::Overlay))
        .unwrap();
    let opt_len: usize = spec.lowerdirs.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        opt_len > 4096,
        "the test needs more than one page of lowerdirs ({opt_len})"
    );
    let mnt = t.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    store.mount_snapshot("c1", &mnt).unwrap();
    let guard = UnmountOnDrop(mnt.clone());
    assert!(!mnt.join("d/f0").exists(), "whiteout hides f0");
    assert_eq!(fs::read_to_string(mnt.join("d/f1")).unwrap(), "1");
    assert_eq!(
        fs::read_to_string(mnt.join(format!("d/f{}", n - 1))).unwrap(),
        format!("{}", n - 1)
    );
    fs::write(mnt.join("d/added"), b"new").unwrap();
    fs::remove_file(mnt.join("d/f5")).unwrap();
    // in use: rm refuses
    let err = store.remove("many:layers", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    unmount(&mnt).unwrap();
    drop(guard);
    let diff = store.diff_snapshot("c1", Vec::new()).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&diff[..]).entries().unwrap() {
        names.push(String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned());
    }
    assert!(
        names.contains(&"d/added".into()) && names.contains(&"d/.wh.f5".into()),
        "{names:?}"
    );
    let committed = store
        .commit_snapshot(
            "c1",
            &CommitOptions {
                reference: Some(Reference::parse_tagged("many:committed").unwrap()),
                changes: vec!["ENV A=1".into()],
                message: Some("test commit".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(committed.layers.len(), n + 2);
    assert_eq!(committed.parent.as_ref(), Some(&img.id));
    let mut exported = Vec::new();
    store.export_snapshot("c1", &mut exported).unwrap();
    assert!(exported.len() > 1024);
    store.remove_snapshot("c1").unwrap();
    // The committed image mounts with the change.
    store.prepare_snapshot("c2", &committed.id, None).unwrap();
    store.mount_snapshot("c2", &mnt).unwrap();
    let guard = UnmountOnDrop(mnt.clone());
    assert_eq!(fs::read_to_string(mnt.join("d/added")).unwrap(), "new");
    assert!(!mnt.join("d/f5").exists());
    drop(guard);
    store.remove_snapshot("c2").unwrap();
    let rep = store.check(false).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
}

#[test]
fn copy_snapshot_applies_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let l1 = RawTar::new().file("a", b"1").file("b", b"2").finish();
    let l2 = RawTar::new().file(".wh.a", b"").file("c", b"3").finish();
    let img = store
        .load(
            &common::docker_archive(&[l1, l2], "cp:x")[..],
            None,
            &NoProgress,
        )
        .unwrap()
        .remove(0)
        .image;
    let spec = store
        .prepare_snapshot("copy1", &img.id, Some(SnapshotKind::Copy))
        .unwrap();
    assert_eq!(common::listing(&spec.rootfs), vec!["b", "c"]);
    assert!(store.diff_snapshot("copy1", Vec::new()).is_err());
    let mut out = Vec::new();
    store.export_snapshot("copy1", &mut out).unwrap();
    assert!(
        store.prepare_snapshot("copy1", &img.id, None).is_err(),
        "duplicate id"
    );
    assert!(
        store.prepare_snapshot("../x", &img.id, None).is_err(),
        "bad id"
    );
    store.remove_snapshot("copy1").unwrap();
    assert!(matches!(
        store.remove_snapshot("copy1"),
        Err(Error::SnapshotNotFound(_))
    ));
}

#[test]
fn rm_users_prune_and_gc() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let a = small_image(&store, "a:1", &[("f", b"a")]);
    let b = small_image(&store, "b:1", &[("f", b"b")]);
    store.tag("a:1", "a:2").unwrap();
    // by-ID removal of a multi-tagged image needs -f
    let e = store.remove(a.id.short(), false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    // untag one name
    let ev = store.remove("a:2", false).unwrap();
    assert_eq!(ev, vec![berth_image::RemoveEvent::Untagged("a:2".into())]);
    // in use
    store.add_user(&b.id, "container", "c123").unwrap();
    let e = store.remove("b:1", false).unwrap_err();
    assert!(e.to_string().contains("c123"), "{e}");
    let ev = store.remove("b:1", true).unwrap();
    assert!(
        !ev.iter()
            .any(|e| matches!(e, berth_image::RemoveEvent::Deleted(_))),
        "kept while used"
    );
    assert!(store.image(&b.id).is_ok());
    let du = store.disk_usage().unwrap();
    assert_eq!((du.images, du.active_images), (2, 1));
    // prune (dangling) skips the used image
    let rep = store.prune(false).unwrap();
    assert!(rep.events.is_empty(), "{rep:?}");
    store.remove_user("container", "c123").unwrap();
    let rep = store.prune(false).unwrap();
    assert_eq!(
        rep.events,
        vec![berth_image::RemoveEvent::Deleted(b.id.clone())]
    );
    assert!(rep.gc.bytes_freed > 0);
    let rep = store.prune(true).unwrap();
    assert!(
        rep.events
            .contains(&berth_image::RemoveEvent::Deleted(a.id.clone()))
    );
    assert!(store.blobs().list().unwrap().0.is_empty());
    assert!(common::listing(&store.root().join("layers")).is_empty());
    assert!(matches!(store.resolve("a:1"), Err(Error::ImageNotFound(_))));
}

#[test]
fn shared_layers_counted_once() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let l = RawTar::new().file("shared", &[7u8; 10000]).finish();
    let u = RawTar::new().file("u", b"u").finish();
    store
        .load(
            &common::docker_archive(std::slice::from_ref(&l), "x:1")[..],
            None,
            &NoProgress,
        )
        .unwrap();
    store
        .load(
            &common::docker_archive(&[l, u], "y:1")[..],
            None,
            &NoProgress,
        )
        .unwrap();
    let du = store.disk_usage().unwrap();
    assert_eq!(du.layers, 2);
    assert!(
        du.shared_size > 10000 && du.unique_size < du.shared_size,
        "{du:?}"
    );
    store.remove("y:1", false).unwrap();
    // The shared layer survives the removal of one of its images.
    assert!(store.resolve("x:1").is_ok());
    assert_eq!(store.disk_usage().unwrap().layers, 1);
}

#[test]
fn check_repairs_crash_leftovers() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let img = small_image(&store, "c:1", &[("f", b"c")]);
    let root = store.root().to_owned();
    fs::write(root.join("blobs/sha256/.tmp-1-2-3"), b"half").unwrap();
    fs::create_dir_all(root.join("layers/.tmp-9-9-9/usr")).unwrap();
    fs::create_dir_all(root.join(format!("layers/{}", "a".repeat(64)))).unwrap();
    store.blobs().put(b"unreferenced", None).unwrap();
    fs::create_dir_all(root.join("snapshots/ghost/upper")).unwrap();
    let rep = store.check(false).unwrap();
    assert!(rep.problems.is_empty(), "{rep:?}");
    assert_eq!(rep.repaired.len(), 5, "{rep:?}");
    let rep = store.check(true).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
    // A missing layer directory is forgotten and unpacked again on use.
    fs::remove_dir_all(store.layer_dir(&img.layers[0].diff_id)).unwrap();
    let rep = store.check(false).unwrap();
    assert_eq!(rep.repaired.len(), 1, "{rep:?}");
    store
        .prepare_snapshot("s", &img.id, Some(SnapshotKind::Overlay))
        .unwrap();
    assert!(store.layer_ready(&img.layers[0].diff_id).unwrap());
    // A missing blob is a problem check cannot repair.
    fs::remove_file(store.blobs().path(&img.manifest)).unwrap();
    let rep = store.check(false).unwrap();
    assert_eq!(rep.problems.len(), 1, "{rep:?}");
}

#[test]
fn concurrent_stores_import_at_once() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_owned();
    Store::open(&root).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                for j in 0..5 {
                    small_image(
                        &store,
                        &format!("t{i}:{j}"),
                        &[("f", format!("{i}-{j}").as_bytes()), ("shared", b"s")],
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let store = Store::open(&root).unwrap();
    assert_eq!(store.images().unwrap().len(), 20);
    let rep = store.check(true).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
}

#[test]
fn corrupted_blob_is_not_trusted() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let img = small_image(&store, "z:1", &[("f", b"z")]);
    fs::write(store.blobs().path(&img.id), b"{}").unwrap();
    assert!(matches!(
        store.config_json(&img),
        Err(Error::DigestMismatch { .. })
    ));
    let rep = store.check(true).unwrap();
    assert_eq!(rep.problems.len(), 1, "{rep:?}");
}

/// An OCI archive whose manifest gives a layer a size other than the blob's is refused,
/// even though every digest matches.
#[test]
fn layer_size_must_match_the_manifest() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(&t.path().join("a")).unwrap();
    small_image(&store, "sized:1", &[("f", b"hello")]);
    let archive = store
        .save(&["sized:1".into()], ArchiveFormat::Oci, Vec::new())
        .unwrap();
    // The archive's files, by path.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ar = tar::Archive::new(&archive[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.push((p, data));
    }
    let get = |files: &[(String, Vec<u8>)], p: &str| {
        files
            .iter()
            .find(|(q, _)| q.trim_start_matches("./") == p)
            .map(|(_, d)| d.clone())
            .unwrap()
    };
    let mut index: serde_json::Value = serde_json::from_slice(&get(&files, "index.json")).unwrap();
    let mdigest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mpath = format!("blobs/sha256/{}", mdigest.trim_start_matches("sha256:"));
    let mut manifest: serde_json::Value = serde_json::from_slice(&get(&files, &mpath)).unwrap();
    let size = manifest["layers"][0]["size"].as_u64().unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(size + 1);
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let md = berth_image::Digest::of(&mbytes);
    index["manifests"][0]["digest"] = serde_json::json!(md.to_string());
    index["manifests"][0]["size"] = serde_json::json!(mbytes.len());
    files.retain(|(p, _)| p.trim_start_matches("./") != "index.json");
    files.push(("index.json".into(), serde_json::to_vec(&index).unwrap()));
    files.push((format!("blobs/sha256/{}", md.hex()), mbytes));
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_path(p).unwrap();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    let bad = b.into_inner().unwrap();
    let other = Store::open(&t.path().join("b")).unwrap();
    let err = other.load(&bad[..], None, &NoProgress).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
    assert!(other.images().unwrap().is_empty());
}

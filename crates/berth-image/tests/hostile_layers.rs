//! Hostile layers are refused with a clear error and leave the host untouched.

mod common;

use std::fs;
use std::path::Path;

use berth_image::layer::{UnpackOptions, WhiteoutMode, unpack_tar};
use berth_image::{Error, ErrorKind, Store};
use common::RawTar;

/// A sandbox: `layer/` is the unpack target, `outside/` must never change.
struct Sandbox {
    _t: tempfile::TempDir,
    layer: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn sandbox() -> Sandbox {
    let t = tempfile::tempdir().unwrap();
    let layer = t.path().join("a/b/layer");
    let outside = t.path().join("outside");
    fs::create_dir_all(&layer).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("target"), b"original").unwrap();
    Sandbox {
        _t: t,
        layer,
        outside,
    }
}

fn unpack(sb: &Sandbox, tar: &[u8]) -> berth_image::Result<()> {
    unpack_tar(tar, &sb.layer, "test-layer", &UnpackOptions::default()).map(|_| ())
}

fn untouched(sb: &Sandbox) {
    assert_eq!(common::listing(&sb.outside), vec!["target".to_string()]);
    assert_eq!(fs::read(sb.outside.join("target")).unwrap(), b"original");
    // Nothing escaped to the parents of the layer either.
    assert_eq!(
        common::listing(sb.layer.parent().unwrap()),
        vec!["layer".to_string()]
    );
    assert_eq!(
        common::listing(sb.layer.parent().unwrap().parent().unwrap()),
        vec!["b".to_string()]
    );
}

fn assert_hostile(r: berth_image::Result<()>, needle: &str) {
    match r {
        Err(e @ Error::HostileLayer { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
            assert_eq!(e.kind(), ErrorKind::Invalid);
        }
        other => panic!("expected a hostile-layer error, got {other:?}"),
    }
}

fn rel_outside(sb: &Sandbox) -> String {
    // from layer (a/b/layer) to outside: ../../../outside
    let _ = sb;
    "../../../outside".to_string()
}

#[test]
fn dotdot_path() {
    let sb = sandbox();
    let t = RawTar::new().file("../../../outside/evil", b"x").finish();
    assert_hostile(unpack(&sb, &t), "'..'");
    untouched(&sb);
}

#[test]
fn nested_dotdot_path() {
    let sb = sandbox();
    let t = RawTar::new()
        .dir("a/")
        .file("a/../../../../outside/evil", b"x")
        .finish();
    assert_hostile(unpack(&sb, &t), "'..'");
    untouched(&sb);
}

#[test]
fn absolute_path() {
    let sb = sandbox();
    let p = format!("{}/evil", sb.outside.display());
    let t = RawTar::new().file(&p, b"x").finish();
    assert_hostile(unpack(&sb, &t), "absolute");
    untouched(&sb);
}

#[test]
fn absolute_symlink_then_write_through_it() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("escape", &sb.outside.display().to_string())
        .file("escape/evil", b"x")
        .finish();
    assert_hostile(unpack(&sb, &t), "symlink");
    untouched(&sb);
}

#[test]
fn relative_symlink_escape() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("up", &rel_outside(&sb))
        .file("up/evil", b"x")
        .finish();
    assert_hostile(unpack(&sb, &t), "symlink");
    untouched(&sb);
}

#[test]
fn symlink_chain_escape() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("a", "b")
        .symlink("b", "c/../..")
        .dir("c/")
        .file("a/evil", b"x")
        .finish();
    assert_hostile(unpack(&sb, &t), "symlink");
    untouched(&sb);
}

#[test]
fn symlink_to_root_then_dir_entry_below() {
    let sb = sandbox();
    let t = RawTar::new().symlink("r", "/").dir("r/etc/").finish();
    assert_hostile(unpack(&sb, &t), "symlink");
    untouched(&sb);
}

#[test]
fn hardlink_outside() {
    let sb = sandbox();
    let t = RawTar::new()
        .hardlink("hl", &format!("{}/target", rel_outside(&sb)))
        .finish();
    assert_hostile(unpack(&sb, &t), "'..'");
    untouched(&sb);
}

#[test]
fn hardlink_absolute_target() {
    let sb = sandbox();
    let target = sb.outside.join("target").display().to_string();
    let t = RawTar::new().hardlink("hl", &target).finish();
    assert_hostile(unpack(&sb, &t), "absolute");
    untouched(&sb);
}

#[test]
fn hardlink_through_symlink() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("s", &sb.outside.display().to_string())
        .hardlink("hl", "s/target")
        .finish();
    assert_hostile(unpack(&sb, &t), "symlink");
    untouched(&sb);
    // and a later write through the link cannot happen: nothing was linked
    assert!(!sb.layer.join("hl").exists());
}

#[test]
fn hardlink_to_directory() {
    let sb = sandbox();
    let t = RawTar::new().dir("d/").hardlink("hl", "d").finish();
    assert_hostile(unpack(&sb, &t), "directory");
    untouched(&sb);
}

#[test]
fn file_replaces_symlink_instead_of_writing_through_it() {
    let sb = sandbox();
    let target = sb.outside.join("target").display().to_string();
    let t = RawTar::new()
        .symlink("f", &target)
        .file("f", b"new content")
        .finish();
    unpack(&sb, &t).unwrap();
    untouched(&sb);
    let md = fs::symlink_metadata(sb.layer.join("f")).unwrap();
    assert!(md.is_file());
    assert_eq!(fs::read(sb.layer.join("f")).unwrap(), b"new content");
}

#[test]
fn dir_replaces_symlink() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("d", &sb.outside.display().to_string())
        .dir("d/")
        .file("d/inside", b"x")
        .finish();
    unpack(&sb, &t).unwrap();
    untouched(&sb);
    assert!(fs::symlink_metadata(sb.layer.join("d")).unwrap().is_dir());
    assert!(sb.layer.join("d/inside").is_file());
}

#[test]
fn hardlink_then_overwrite_keeps_other_name_safe() {
    // A symlink pointing out, replaced by a hard link of an in-layer file: no write escapes.
    let sb = sandbox();
    let t = RawTar::new()
        .file("real", b"inside")
        .symlink("l", &sb.outside.join("target").display().to_string())
        .hardlink("l", "real")
        .finish();
    unpack(&sb, &t).unwrap();
    untouched(&sb);
    assert_eq!(fs::read(sb.layer.join("l")).unwrap(), b"inside");
}

#[test]
fn invalid_whiteout_names() {
    for name in [".wh..", ".wh.", "d/.wh.."] {
        let sb = sandbox();
        let t = RawTar::new().dir("d/").file(name, b"").finish();
        assert_hostile(unpack(&sb, &t), "whiteout");
        untouched(&sb);
    }
}

#[test]
fn whiteout_cannot_delete_outside_in_apply_mode() {
    let sb = sandbox();
    let t = RawTar::new()
        .symlink("s", &rel_outside(&sb))
        .file("s/.wh.target", b"")
        .finish();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Apply,
        ..UnpackOptions::default()
    };
    let r = unpack_tar(&t[..], &sb.layer, "test-layer", &opts);
    assert_hostile(r.map(|_| ()), "symlink");
    untouched(&sb);
}

#[test]
fn header_desync_pax_size() {
    // A PAX record claims size 0 while the ustar header claims 512 bytes that hold a hidden
    // "../evil" header. tar >= 0.4.46 follows the PAX size, so the hidden header is parsed
    // as an entry - and refused by the path checks. Either way nothing is written outside.
    let sb = sandbox();
    let hidden = {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        let old = h.as_old_mut();
        old.name[..26].copy_from_slice(b"../../../outside/evil-desy");
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    let mut pax = tar::Builder::new(Vec::new());
    pax.append_pax_extensions([("size", b"0".as_slice())])
        .unwrap();
    let pax = pax.into_inner().unwrap();
    let pax = &pax[..pax.len() - 1024]; // drop the end-of-archive blocks
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.as_old_mut().name[..5].copy_from_slice(b"inner");
    h.set_size(512);
    h.set_mode(0o644);
    h.set_cksum();
    let mut bytes = pax.to_vec();
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(&hidden);
    bytes.extend_from_slice(&[0u8; 1024]);
    let r = unpack(&sb, &bytes);
    assert!(r.is_err(), "desync archive must be refused");
    untouched(&sb);
}

#[test]
fn garbage_is_an_invalid_layer() {
    let sb = sandbox();
    let r = unpack(&sb, &[0x42u8; 2000]);
    assert!(matches!(r, Err(Error::InvalidLayer { .. })), "{r:?}");
    untouched(&sb);
}

#[test]
fn store_refusal_leaves_no_trace() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let tar = RawTar::new()
        .file("ok", b"fine")
        .file("../evil", b"x")
        .finish();
    let ing = store.begin_ingest().unwrap();
    let err = store
        .ingest_layer(&tar[..], None, "hostile", &ing)
        .unwrap_err();
    drop(ing);
    assert!(matches!(err, Error::HostileLayer { .. }), "{err}");
    assert!(!t.path().join("evil").exists());
    assert!(common::listing(&store.root().join("layers")).is_empty());
    assert!(common::listing(&store.root().join("tmp")).is_empty());
    assert!(common::listing(&store.root().join("trash")).is_empty());
    let (blobs, temps) = store.blobs().list().unwrap();
    assert!(blobs.is_empty() && temps.is_empty(), "{blobs:?} {temps:?}");
    let rep = store.check(true).unwrap();
    assert!(
        rep.problems.is_empty() && rep.repaired.is_empty(),
        "{rep:?}"
    );
    let _ = Path::new("/");
}

/// GNU tar's PAX sparse files (`--sparse --format=pax`): the tar library would unpack the
/// encoded sparse map as the file's content. Refused, with nothing written.
#[test]
fn pax_sparse_files_are_refused() {
    let sb = sandbox();
    for (version, keys) in [
        (
            "0.0",
            vec![
                ("GNU.sparse.size", "1048576"),
                ("GNU.sparse.numblocks", "1"),
            ],
        ),
        (
            "1.0",
            vec![("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")],
        ),
    ] {
        let mut b = tar::Builder::new(Vec::new());
        let exts: Vec<(&str, &[u8])> = keys.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        b.append_pax_extensions(exts).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path("GNUSparseFile.0/big").unwrap();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"data"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let r = unpack(&sb, &t);
        match r {
            Err(e @ Error::InvalidLayer { .. }) => {
                assert!(
                    e.to_string().contains("PAX-format sparse"),
                    "{version}: {e}"
                )
            }
            other => panic!("{version}: expected a refusal, got {other:?}"),
        }
        assert!(common::listing(&sb.layer).is_empty(), "{version}");
    }
    untouched(&sb);
}

/// Names with terminal escape sequences are quoted escaped in errors, never raw.
#[test]
fn hostile_bytes_never_reach_the_terminal_raw() {
    let sb = sandbox();
    let tar = RawTar::new()
        .file("../\x1b[2J\x1b]0;pwned\x07", b"x")
        .finish();
    let msg = unpack(&sb, &tar).unwrap_err().to_string();
    assert!(!msg.chars().any(|c| c.is_control()), "{msg:?}");
    assert!(msg.contains("\\u{1b}"), "{msg:?}");
    untouched(&sb);
}

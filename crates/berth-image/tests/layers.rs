//! Layer unpacking: whiteouts, metadata, and diffs of upper directories.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use berth_image::layer::diff::diff_dir;
use berth_image::layer::{UnpackOptions, WhiteoutMode, unpack_tar};
use common::RawTar;

fn overlay_opts() -> UnpackOptions {
    UnpackOptions::default()
}

fn apply_opts() -> UnpackOptions {
    UnpackOptions {
        whiteouts: WhiteoutMode::Apply,
        ..UnpackOptions::default()
    }
}

fn opaque(p: &Path) -> bool {
    let mut b = [0u8; 4];
    matches!(rustix::fs::lgetxattr(p, "trusted.overlay.opaque", &mut b), Ok(1) if b[0] == b'y')
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if common::skip_unless_root("whiteouts_become_overlay_whiteouts") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .dir("etc/")
        .file("etc/.wh.passwd", b"")
        .dir("var/")
        .file("var/.wh..wh..opq", b"")
        .file("var/new", b"n")
        .file(".wh.gone", b"")
        .finish();
    unpack_tar(&tar[..], t.path(), "l", &overlay_opts()).unwrap();
    let wh = fs::symlink_metadata(t.path().join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(
        fs::symlink_metadata(t.path().join("gone"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(opaque(&t.path().join("var")));
    assert!(t.path().join("var/new").is_file());
    assert!(!t.path().join("etc/.wh.passwd").exists());
    assert!(!t.path().join("var/.wh..wh..opq").exists());
}

#[test]
fn whiteouts_apply_as_deletions() {
    let t = tempfile::tempdir().unwrap();
    let lower = RawTar::new()
        .dir("etc/")
        .file("etc/passwd", b"p")
        .file("etc/keep", b"k")
        .dir("var/")
        .file("var/old1", b"1")
        .dir("var/sub/")
        .file("var/sub/old2", b"2")
        .finish();
    let upper = RawTar::new()
        .file("etc/.wh.passwd", b"")
        .file("var/new-before-marker", b"n")
        .file("var/.wh..wh..opq", b"")
        .file("var/new", b"n")
        .finish();
    unpack_tar(&lower[..], t.path(), "lower", &apply_opts()).unwrap();
    unpack_tar(&upper[..], t.path(), "upper", &apply_opts()).unwrap();
    assert!(!t.path().join("etc/passwd").exists());
    assert!(t.path().join("etc/keep").exists());
    assert_eq!(
        common::listing(&t.path().join("var")),
        vec!["new", "new-before-marker"]
    );
}

#[test]
fn metadata_is_kept() {
    let t = tempfile::tempdir().unwrap();
    let root = common::is_root();
    let mut tar = RawTar::new()
        .dir("d/")
        .file_with("d/suid", b"#!/bin/sh\n", 0o4755, 1000, 1001, 1_234_567_890)
        .file_with("d/ro", b"ro", 0o400, 0, 0, 1_000_000_000)
        .hardlink("d/ro-link", "d/ro")
        .symlink("d/sym", "/bin/busybox")
        .file_xattr("d/x", b"x", &[("user.berth", b"yes")])
        .device("d/fifo", tar::EntryType::Fifo, 0, 0);
    if root {
        tar = tar.device("d/null", tar::EntryType::Char, 1, 3).device(
            "d/loop",
            tar::EntryType::Block,
            7,
            0,
        );
    }
    let tar = tar.finish();
    unpack_tar(&tar[..], t.path(), "l", &overlay_opts()).unwrap();
    let p = |s: &str| t.path().join(s);
    let suid = fs::metadata(p("d/suid")).unwrap();
    assert_eq!(suid.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(suid.mtime(), 1_234_567_890);
    if root {
        assert_eq!((suid.uid(), suid.gid()), (1000, 1001));
    }
    let ro = fs::metadata(p("d/ro")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o777, 0o400);
    assert_eq!(ro.ino(), fs::metadata(p("d/ro-link")).unwrap().ino());
    assert_eq!(
        fs::read_link(p("d/sym")).unwrap(),
        Path::new("/bin/busybox")
    );
    let mut v = [0u8; 8];
    let n = rustix::fs::lgetxattr(p("d/x"), "user.berth", &mut v).unwrap();
    assert_eq!(&v[..n], b"yes");
    assert!(
        fs::symlink_metadata(p("d/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    if root {
        let null = fs::symlink_metadata(p("d/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
        assert!(
            fs::symlink_metadata(p("d/loop"))
                .unwrap()
                .file_type()
                .is_block_device()
        );
    }
    // Directory mtimes are set after their children were written.
    assert_eq!(fs::metadata(p("d")).unwrap().mtime(), 1_000_000_000);
}

#[test]
fn long_names_and_missing_parents() {
    let t = tempfile::tempdir().unwrap();
    let long = format!("{}/{}", "x".repeat(120), "y".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"hi"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    unpack_tar(&tar[..], t.path(), "l", &overlay_opts()).unwrap();
    assert_eq!(fs::read(t.path().join(&long)).unwrap(), b"hi");
}

#[test]
fn diff_round_trips_whiteouts() {
    if common::skip_unless_root("diff_round_trips_whiteouts") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let upper = t.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::create_dir_all(upper.join("var")).unwrap();
    fs::write(upper.join("etc/new"), b"new").unwrap();
    fs::hard_link(upper.join("etc/new"), upper.join("etc/new-link")).unwrap();
    std::os::unix::fs::symlink("new", upper.join("etc/sym")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("etc/passwd"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    rustix::fs::setxattr(
        upper.join("var"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let tar = diff_dir(&upper, Vec::new()).unwrap();
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
    }
    assert!(names.contains(&"etc/.wh.passwd".to_string()), "{names:?}");
    assert!(names.contains(&"var/.wh..wh..opq".to_string()), "{names:?}");
    // Unpacking the diff gives the same overlay view back.
    let again = t.path().join("again");
    fs::create_dir(&again).unwrap();
    unpack_tar(&tar[..], &again, "diff", &overlay_opts()).unwrap();
    assert!(
        fs::symlink_metadata(again.join("etc/passwd"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(opaque(&again.join("var")));
    assert_eq!(
        fs::metadata(again.join("etc/new")).unwrap().ino(),
        fs::metadata(again.join("etc/new-link")).unwrap().ino()
    );
    assert_eq!(
        fs::read_link(again.join("etc/sym")).unwrap(),
        Path::new("new")
    );
    // Deterministic.
    assert_eq!(diff_dir(&upper, Vec::new()).unwrap(), tar);
}

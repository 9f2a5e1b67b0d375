//! `layer::extract_tar`, the extraction `cp` uses: onto a host directory no symlink is
//! followed; inside a root, symlinks resolve in it; Docker's refusals; owners and set-id
//! bits; whiteout names are plain names.

mod common;

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use berth_image::Error;
use berth_image::layer::{ExtractOptions, Owners, Resolve, extract_tar};
use common::RawTar;
use rustix::fs::{Mode, OFlags};

const HOST: ExtractOptions = ExtractOptions {
    resolve: Resolve::NoSymlinks,
    owners: Owners::Caller,
    xattrs: false,
    devices: false,
};

fn open(p: &Path) -> rustix::fd::OwnedFd {
    rustix::fs::open(p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
}

fn extract(tar: &[u8], root: &Path, dir: &str, opts: &ExtractOptions) -> berth_image::Result<()> {
    let fd = open(root);
    extract_tar(tar, fd.as_fd(), Path::new(dir), "the test copy", opts)
}

fn refused(r: berth_image::Result<()>, needle: &str) {
    match r {
        Err(e @ Error::RefusedEntry { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
            assert!(msg.contains("the test copy"), "{msg:?}");
        }
        other => panic!("expected a refused entry, got {other:?}"),
    }
}

#[test]
fn host_extraction_follows_no_symlink() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dest");
    let outside = t.path().join("outside");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let out = outside.to_str().unwrap();
    // A symlink of the archive, then an entry through it: refused.
    let tar = RawTar::new()
        .symlink("l", out)
        .file("l/x", b"escaped")
        .finish();
    refused(extract(&tar, &dest, "", &HOST), "symlink");
    // Even a relative one that stays inside.
    fs::create_dir(dest.join("real")).unwrap();
    let tar = RawTar::new()
        .symlink("rel", "real")
        .file("rel/x", b"x")
        .finish();
    refused(extract(&tar, &dest, "", &HOST), "symlink");
    // A symlink as the last component is replaced, never written through.
    let tar = RawTar::new()
        .symlink("f", &format!("{out}/target"))
        .file("f", b"data")
        .finish();
    extract(&tar, &dest, "", &HOST).unwrap();
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"data");
    assert_eq!(common::listing(&outside), Vec::<String>::new());
    // Hard links stay inside.
    let tar = RawTar::new().hardlink("h", "../outside/x").finish();
    refused(extract(&tar, &dest, "", &HOST), "..");
}

#[test]
fn in_root_extraction_resolves_in_the_root() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("dst")).unwrap();
    let opts = ExtractOptions {
        resolve: Resolve::InRoot,
        owners: Owners::Caller,
        xattrs: true,
        devices: true,
    };
    // An absolute symlink under the destination leads to the root's /etc, not the host's.
    let name = format!("berth-extract-test-{}", std::process::id());
    let tar = RawTar::new()
        .symlink("up", "/")
        .file(&format!("up/etc/{name}"), b"inside")
        .finish();
    extract(&tar, &root, "/dst", &opts).unwrap();
    assert_eq!(fs::read(root.join("etc").join(&name)).unwrap(), b"inside");
    assert!(!Path::new("/etc").join(&name).exists());
    // The destination itself resolves in the root too.
    std::os::unix::fs::symlink("/etc", root.join("dst/etclink")).unwrap();
    let tar = RawTar::new().file("via", b"v").finish();
    extract(&tar, &root, "/dst/etclink", &opts).unwrap();
    assert_eq!(fs::read(root.join("etc/via")).unwrap(), b"v");
}

#[test]
fn dockers_refusals_and_plain_names() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dest");
    fs::create_dir_all(dest.join("dir")).unwrap();
    fs::write(dest.join("file"), "keep").unwrap();
    let tar = RawTar::new().file("dir", b"x").finish();
    refused(
        extract(&tar, &dest, "", &HOST),
        "overwrite a directory with a non-directory",
    );
    let tar = RawTar::new().dir("file/").finish();
    refused(
        extract(&tar, &dest, "", &HOST),
        "overwrite a non-directory with a directory",
    );
    assert_eq!(fs::read(dest.join("file")).unwrap(), b"keep");
    assert!(dest.join("dir").is_dir());
    let tar = RawTar::new()
        .device("null", tar::EntryType::Char, 1, 3)
        .finish();
    refused(extract(&tar, &dest, "", &HOST), "device node");
    assert!(!dest.join("null").exists());
    // Whiteout names mean nothing outside a layer.
    let tar = RawTar::new()
        .file(".wh.file", b"w")
        .file(".wh..wh..opq", b"o")
        .finish();
    extract(&tar, &dest, "", &HOST).unwrap();
    assert_eq!(fs::read(dest.join("file")).unwrap(), b"keep");
    assert_eq!(fs::read(dest.join(".wh.file")).unwrap(), b"w");
    assert!(dest.join(".wh..wh..opq").exists());
}

#[test]
fn caller_owned_entries_lose_set_id_bits() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    let tar = RawTar::new()
        .file_with("suid", b"x", 0o6755, 0, 0, 1)
        .finish();
    extract(&tar, &dest, "", &HOST).unwrap();
    let mode = fs::metadata(dest.join("suid"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o755);
    let keep = ExtractOptions {
        owners: Owners::Fixed {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        },
        ..HOST
    };
    extract(&tar, &dest, "", &keep).unwrap();
    let mode = fs::metadata(dest.join("suid"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o6755);
}

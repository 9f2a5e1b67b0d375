//! Sparse files and size ceilings: a 10 KB layer holding a GNU sparse file of 10 GiB
//! unpacks to a sparse file (its holes stay holes), the layer's recorded size is the disk
//! it takes, and ceilings on the apparent size refuse what crosses them, leaving nothing.

mod common;

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::{Error, ImportOptions, Limits, NoProgress, Reference, Store};
use common::RawTar;

const TEN_GIB: u64 = 10 << 30;
/// Where the test writes into the sparse file.
const DATA_AT: u64 = 5 << 30;

/// A layer tar made by GNU tar (`--sparse`, GNU format) of a 10 GiB file that holds
/// `hello` at 5 GiB and nothing else.
fn gnu_sparse_layer(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let f = fs::File::create(src.join("big")).unwrap();
    f.set_len(TEN_GIB).unwrap();
    f.write_all_at(b"hello", DATA_AT).unwrap();
    drop(f);
    let out = dir.join("sparse-layer.tar");
    let st = Command::new("tar")
        .args(["--sparse", "--format=gnu", "-cf"])
        .arg(&out)
        .arg("-C")
        .arg(&src)
        .arg("big")
        .status();
    assert!(
        st.is_ok_and(|s| s.success()),
        "GNU tar --sparse failed (apt-get install tar)"
    );
    fs::remove_file(src.join("big")).unwrap();
    let len = fs::metadata(&out).unwrap().len();
    assert!(len < 64 * 1024, "the layer tar is {len} bytes");
    out
}

fn import(store: &Store, tar: &Path, tag: &str) -> berth_image::Result<berth_image::ImageRecord> {
    let opts = ImportOptions {
        reference: Some(Reference::parse_tagged(tag).unwrap()),
        source: "-".into(),
        ..Default::default()
    };
    store.import(fs::File::open(tar).unwrap(), &opts)
}

/// Nothing of a refused operation stays: no image, blob, layer or temporary.
fn assert_empty(store: &Store) {
    assert!(store.images().unwrap().is_empty());
    let (blobs, temps) = store.blobs().list().unwrap();
    assert!(blobs.is_empty() && temps.is_empty(), "{blobs:?} {temps:?}");
    for d in ["layers", "tmp", "trash"] {
        assert!(
            common::listing(&store.root().join(d)).is_empty(),
            "{d}: {:?}",
            common::listing(&store.root().join(d))
        );
    }
    assert_eq!(store.disk_usage().unwrap().layers, 0);
}

#[test]
fn gnu_sparse_file_unpacks_sparse_and_counts_its_blocks() {
    let t = tempfile::tempdir().unwrap();
    let tar = gnu_sparse_layer(t.path());
    let store = Store::open(&t.path().join("root")).unwrap();
    let img = import(&store, &tar, "sparse:1").unwrap();
    let big = store.layer_dir(&img.layers[0].diff_id).join("big");
    let md = fs::metadata(&big).unwrap();
    assert_eq!(md.len(), TEN_GIB);
    assert!(
        md.blocks() * 512 <= 1 << 20,
        "the unpacked file takes {} bytes",
        md.blocks() * 512
    );
    let mut got = [0u8; 5];
    fs::File::open(&big)
        .unwrap()
        .read_exact_at(&mut got, DATA_AT)
        .unwrap();
    assert_eq!(&got, b"hello");
    // `images` and `system df` add up the disk taken; df reports the apparent size too.
    assert!(img.size <= 1 << 20, "image size {}", img.size);
    let du = store.disk_usage().unwrap();
    assert!(du.layers_size <= 1 << 20, "{du:?}");
    assert_eq!(du.layers_apparent_size, TEN_GIB, "{du:?}");
}

#[test]
fn layer_over_the_ceiling_is_refused_leaving_nothing() {
    let t = tempfile::tempdir().unwrap();
    let tar = gnu_sparse_layer(t.path());
    let store = Store::open(&t.path().join("root")).unwrap();
    store.set_limits(Limits {
        max_layer_size: Some(1 << 30),
        ..Limits::default()
    });
    let err = import(&store, &tar, "sparse:1").unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let msg = err.to_string();
    assert_eq!(
        msg,
        "refusing layer imported tarball: its files unpack to more than 1GiB (storage max-layer-size)"
    );
    assert_empty(&store);
}

#[test]
fn image_over_the_ceiling_is_refused_leaving_nothing() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let data: Vec<u8> = (0..600 * 1024u32).map(|i| (i % 251) as u8).collect();
    let a = RawTar::new().file("a", &data).finish();
    let b = RawTar::new().file("b", &data).finish();
    let archive = common::docker_archive(&[a, b], "two:1");
    store.set_limits(Limits {
        max_layer_size: Some(1 << 20),
        max_image_size: Some(1 << 20),
    });
    let err = store.load(&archive[..], None, &NoProgress).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::TooLarge { .. }), "{msg}");
    assert!(
        msg.contains("the layers of this image unpack to more than 1MiB (storage max-image-size)"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    // The first layer was complete, but nothing references it: collected at once.
    assert_empty(&store);
    // Within the ceilings the same archive loads.
    store.set_limits(Limits {
        max_layer_size: Some(1 << 20),
        max_image_size: Some(2 << 20),
    });
    store.load(&archive[..], None, &NoProgress).unwrap();
    assert!(store.resolve("two:1").is_ok());
}

#[test]
fn zeros_in_a_plain_file_become_holes() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let mut data = vec![0u8; 8 << 20];
    data[4 << 20] = 1;
    let tar = RawTar::new().file("zeros", &data).finish();
    let img = import_bytes(&store, &tar);
    let f = store.layer_dir(&img.layers[0].diff_id).join("zeros");
    let md = fs::metadata(&f).unwrap();
    assert_eq!(md.len(), 8 << 20);
    assert!(md.blocks() * 512 <= 64 * 1024, "{} blocks", md.blocks());
    assert_eq!(fs::read(&f).unwrap(), data);
}

fn import_bytes(store: &Store, tar: &[u8]) -> berth_image::ImageRecord {
    let opts = ImportOptions {
        source: "-".into(),
        ..Default::default()
    };
    store.import(tar, &opts).unwrap()
}

//! Entry points for fuzzing (cargo-fuzz targets in `fuzz/` and the proptests in
//! `tests/fuzz_props.rs` call these). They must never panic, whatever the input.

use crate::layer::{UnpackOptions, WhiteoutMode, decompress, unpack_tar};
use crate::model::{Document, parse_document, select_platform};
use crate::reference::Reference;

/// Parse arbitrary bytes as an image reference and exercise every accessor.
pub fn reference(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Reference::parse(s) {
        let _ = (
            r.name(),
            r.familiar(),
            r.familiar_name(),
            r.tagged_name(),
            r.to_string(),
        );
        // Printing and parsing again is stable.
        match Reference::parse(&r.to_string()) {
            Ok(again) => assert_eq!(again, r, "reprinted reference differs"),
            Err(e) => panic!("printed reference {r} does not parse: {e}"),
        }
    }
    let _ = Reference::parse_tagged(s);
}

/// Parse arbitrary bytes as a manifest or index and pick a platform.
pub fn manifest(data: &[u8]) {
    for mt in [
        None,
        Some(crate::model::MT_OCI_INDEX),
        Some(crate::model::MT_DOCKER_MANIFEST),
    ] {
        if let Ok(Document::Index(i)) = parse_document(data, mt, "fuzz") {
            let _ = select_platform(&i, &crate::model::Platform::host(), "fuzz");
        }
    }
    let _ = crate::model::parse_config(data, "fuzz");
}

/// Unpack arbitrary bytes (optionally compressed) as a layer into a scratch directory, in
/// both whiteout modes, and check nothing escaped it.
pub fn unpack(data: &[u8]) {
    let Ok(t) = tempfile_dir() else { return };
    let root = t.join("layer");
    for mode in [WhiteoutMode::Overlay, WhiteoutMode::Apply] {
        let _ = std::fs::remove_dir_all(&root);
        if std::fs::create_dir_all(&root).is_err() {
            return;
        }
        let opts = UnpackOptions {
            whiteouts: mode,
            same_owner: false,
            ..UnpackOptions::default()
        };
        if let Ok((_, r)) = decompress(data) {
            let _ = unpack_tar(r, &root, "fuzz", &opts);
        }
        let names: Vec<_> = std::fs::read_dir(&t)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("layer")],
            "a layer entry escaped"
        );
    }
    let _ = std::fs::remove_dir_all(&t);
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "berth-fuzz-{}-{}",
        std::process::id(),
        crate::trash::owned_name("fuzz")
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

//! The fuzz targets' bodies (`berth_image::fuzzing`) driven by proptest on stable Rust:
//! arbitrary and structured-but-mutated inputs must never panic or write outside a layer.

mod common;

use proptest::prelude::*;

fn tar_with(entries: &[(String, u8, String)]) -> Vec<u8> {
    let mut t = common::RawTar::new();
    for (path, kind, link) in entries {
        let path: String = path.chars().take(99).collect();
        let link: String = link.chars().take(99).collect();
        t = match kind % 5 {
            0 => t.file(&path, b"data"),
            1 => t.dir(&path),
            2 => t.symlink(&path, &link),
            3 => t.hardlink(&path, &link),
            _ => t.file(&format!("{path}/.wh.{link}"), b""),
        };
    }
    t.finish()
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("..".to_string()),
            Just(".".to_string()),
            Just("".to_string()),
            Just(".wh..wh..opq".to_string()),
            Just("/".to_string()),
            "[a-c]{1,2}",
        ],
        1..5,
    )
    .prop_map(|v| v.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reference_never_panics(s in "\\PC{0,80}") {
        berth_image::fuzzing::reference(s.as_bytes());
    }

    #[test]
    fn reference_like_inputs(s in "[a-zA-Z0-9._:/@-]{0,60}") {
        berth_image::fuzzing::reference(s.as_bytes());
    }

    #[test]
    fn manifest_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        berth_image::fuzzing::manifest(&data);
    }

    #[test]
    fn manifest_like_json(mt in "[a-z./+]{0,30}", n in 0usize..3) {
        let d = format!("sha256:{}", "a".repeat(64));
        let entries: Vec<String> = (0..n).map(|_| format!(r#"{{"mediaType":"{mt}","digest":"{d}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}"#)).collect();
        let doc = format!(r#"{{"schemaVersion":2,"mediaType":"{mt}","manifests":[{}]}}"#, entries.join(","));
        berth_image::fuzzing::manifest(doc.as_bytes());
    }

    #[test]
    fn unpack_random_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        berth_image::fuzzing::unpack(&data);
    }

    #[test]
    fn unpack_hostile_shaped_tars(entries in prop::collection::vec((path_strategy(), any::<u8>(), path_strategy()), 1..8)) {
        berth_image::fuzzing::unpack(&tar_with(&entries));
    }
}

//! The Dockerfile parser on any bytes: never panics, and what it accepts has stages, and
//! each instruction (and each stage's base) can be expanded without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use berth_build::{Kind, parse_bytes};
    let Ok(d) = parse_bytes("Dockerfile", data) else {
        return;
    };
    assert!(!d.stages.is_empty());
    let env = vec![
        ("A".to_string(), "a b".to_string()),
        ("E".to_string(), String::new()),
    ];
    let escape = d.directives.escape;
    for s in &d.stages {
        let _ = s.expand_base("Dockerfile", escape, &env);
        for i in &s.instructions {
            assert!(i.location.line >= s.location.line && i.location.end_line >= i.location.line);
            let _ = i.expand("Dockerfile", escape, &env);
            if let Kind::Onbuild(t) = &i.kind {
                assert!(!matches!(t.kind, Kind::Onbuild(_) | Kind::Maintainer(_)));
            }
        }
    }
});

//! The layers stay layers: every workspace crate depends only on crates below it, and the
//! `berth` CLI depends on berth-engine and on argument, output and terminal crates only, so
//! it cannot reach past the engine. A new crate must say where it sits (`LAYERS`).

use std::collections::BTreeMap;
use std::process::Command;

/// Each workspace crate's layer: a crate may depend on crates of lower layers only.
const LAYERS: [(&str, u32); 7] = [
    ("berth-runtime", 0),
    ("berth-image", 1),
    ("berth-registry", 2),
    ("berth-network", 2),
    ("berth-engine", 3),
    // Today the Dockerfile parser alone (no Berth dependency); its builder will start
    // RUN containers through berth-engine (issue 12).
    ("berth-build", 4),
    ("berth-cli", 5),
];

/// What the CLI may use besides berth-engine, and why.
const CLI_ALLOWED: [(&str, &str); 12] = [
    ("anyhow", "errors of the binary"),
    ("clap", "argument parsing"),
    (
        "clap_complete",
        "shell completions generated from the argument definitions",
    ),
    (
        "clap_mangen",
        "man pages generated from the argument definitions",
    ),
    ("indicatif", "progress bars"),
    ("serde", "output formats"),
    ("serde_json", "output formats"),
    ("tracing", "log output"),
    ("tracing-subscriber", "log output"),
    (
        "unicode-width",
        "table columns measured as docker's tabwriter does",
    ),
    (
        "nix",
        "the attach terminal: termios, signalfd, poll, the window-size ioctl",
    ),
    ("libc", "the attach terminal: struct winsize"),
];

#[test]
fn dependencies_point_down() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let layers: BTreeMap<&str, u32> = LAYERS.into_iter().collect();
    let packages = meta["packages"].as_array().expect("packages");
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(&mine) = layers.get(name) else {
            problems.push(format!(
                "{name} has no layer: add it to LAYERS in this test"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            // Normal dependencies only: tests may use lower crates as oracles.
            if !d["kind"].is_null() {
                continue;
            }
            let dep = d["name"].as_str().unwrap_or_default();
            if let Some(&theirs) = layers.get(dep)
                && theirs >= mine
            {
                problems.push(format!(
                    "{name} (layer {mine}) depends on {dep} (layer {theirs})"
                ));
            }
            if name == "berth-cli"
                && dep != "berth-engine"
                && !CLI_ALLOWED.iter().any(|(a, _)| *a == dep)
            {
                problems.push(format!(
                    "berth-cli depends on {dep}: the CLI calls berth-engine and uses only \
                     argument, output and terminal crates (CLI_ALLOWED)"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The CLI's sources name no crate below the engine (the dependency check above makes that
/// a build error too; this names the file).
#[test]
fn cli_sources_use_the_engine_only() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("read source");
                for lower in ["berth_runtime", "berth_image", "berth_registry", "oci_spec"] {
                    if text.contains(&format!("{lower}::")) {
                        bad.push(format!("{} uses {lower}", p.display()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

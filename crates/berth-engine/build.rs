//! Builds berth-init (init/berth-init.rs) as a static executable with the same rustc that
//! builds this crate; `spec::init` embeds it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=init/berth-init.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("build.rs: OUT_DIR is not set");
        std::process::exit(1);
    };
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let src = manifest.join("init/berth-init.rs");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = out_dir.join("berth-init");
    let mut cmd = Command::new(&rustc);
    cmd.args([
        "--edition",
        "2024",
        "--crate-type",
        "bin",
        "--crate-name",
        "berth_init",
    ])
    .args(["-C", "opt-level=s", "-C", "panic=abort"])
    .args(["-C", "target-feature=+crt-static", "-C", "strip=symbols"])
    .args(["-C", "lto=fat", "-C", "codegen-units=1"]);
    if let Ok(target) = std::env::var("TARGET") {
        cmd.args(["--target", &target]);
    }
    cmd.arg("-o").arg(&out).arg(&src);
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("build.rs: compiling {} failed ({s})", src.display());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("build.rs: running {}: {e}", PathBuf::from(&rustc).display());
            std::process::exit(1);
        }
    }
}

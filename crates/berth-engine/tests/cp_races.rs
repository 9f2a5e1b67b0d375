//! `cp` against a hostile container: a process inside it swaps a directory or a file with a
//! symlink to a host path (renameat2(RENAME_EXCHANGE) in a loop) while `cp` copies in or
//! out. Nothing may change on the host and no host file may come back in the copy.
//!
//! The racing process is a small static C program built with `cc` (the linker Rust itself
//! uses) and bind-mounted into the container. Run as root with `--include-ignored`.

mod engine_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_engine::config::{Mount, MountKind};
use berth_engine::{CopyOptions, StartMode};
use engine_common::Env;

/// How long and how often each race is tried.
const TRIES: usize = 200;
const BUDGET: Duration = Duration::from_secs(10);

const RACER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
/* racer DIR A B [C D...]: swaps DIR/A and DIR/B (then C and D...) with
   renameat2(RENAME_EXCHANGE), round and round until killed. */
int main(int argc, char **argv) {
    if (argc < 4 || argc % 2 != 0 || chdir(argv[1]) != 0) {
        perror("racer");
        return 2;
    }
    for (;;)
        for (int i = 2; i + 1 < argc; i += 2)
            syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE);
}
"#;

/// Builds the static racer into a directory of its own; returns that directory.
fn build_racer(env: &Env) -> PathBuf {
    let dir = env.dir.path().join("racer");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("racer.c");
    std::fs::write(&src, RACER_C).unwrap();
    let st = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("racer"))
        .arg(&src)
        .status()
        .expect("run cc (the C compiler Rust links with)");
    assert!(st.success(), "cc -static failed: is libc6-dev installed?");
    dir
}

/// Starts a container that runs `setup`, then the racer swapping the pairs of names in
/// `dir`; returns its id once the racer runs.
fn racing_container(env: &Env, name: &str, setup: &str, dir: &str, pairs: &str) -> String {
    let racer = build_racer(env);
    let mut config = env.config(&format!("{setup} && exec /racer/racer {dir} {pairs}"));
    config.host.mounts.push(Mount {
        kind: MountKind::Bind,
        source: racer.to_string_lossy().into_owned(),
        target: "/racer".into(),
        read_only: true,
        ..Default::default()
    });
    let id = env.create(name, config);
    env.engine.start(&id, StartMode::Now).expect("start");
    env.wait_for(10, "the racer", || {
        let pid = env.engine.container(&id).map(|c| c.state.pid).unwrap_or(0);
        pid > 0
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "racer")
    });
    id
}

/// A tar with a directory entry `name/` of mode `mode` and a file `name/f` in it.
fn dir_tar(name: &str, mode: u32) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(mode);
    h.set_size(0);
    t.append_data(&mut h, format!("{name}/"), std::io::empty())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(8);
    t.append_data(&mut h, format!("{name}/f"), &b"payload\n"[..])
        .unwrap();
    t.into_inner().unwrap()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
#[ignore = "needs root"]
fn cp_in_never_changes_a_host_directory() {
    let env = Env::new();
    let canary = env.dir.path().join("canary-dir");
    std::fs::create_dir(&canary).unwrap();
    std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o700)).unwrap();
    let setup = format!("mkdir -p /race/d && ln -s {} /race/s", canary.display());
    let id = racing_container(&env, "racy-in", &setup, "/race", "d s");
    let tar = dir_tar("d", 0o757);
    let (mut tries, mut failed, mut escapes) = (0, 0, 0);
    let end = Instant::now() + BUDGET;
    while tries < TRIES && Instant::now() < end {
        tries += 1;
        if env
            .engine
            .copy_in(&id, "/race", &mut &tar[..], &CopyOptions::default())
            .is_err()
        {
            failed += 1;
        }
        let written = canary.join("f");
        if mode_of(&canary) != 0o700 || written.exists() {
            escapes += 1;
            std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o700)).unwrap();
            let _ = std::fs::remove_file(&written);
        }
    }
    eprintln!("cp in: {tries} tries, {failed} refused, {escapes} changed the host directory");
    assert_eq!(
        escapes, 0,
        "{escapes} of {tries} copies into the container changed a host directory's mode"
    );
}

/// A container whose racer swaps, under /out, a file and a directory with symlinks to a
/// host file and a host directory holding another, both holding a secret; returns its id
/// and the secret (which must never come back out of the container).
fn racing_out_container(env: &Env, name: &str) -> (String, String) {
    let secret = format!("host-secret-{}-{name}", std::process::id());
    let canary = env.dir.path().join("canary-file");
    std::fs::write(&canary, &secret).unwrap();
    let tree = env.dir.path().join("canary-tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("x"), &secret).unwrap();
    let setup = format!(
        "mkdir -p /out/sub && echo inside > /out/f && echo inside > /out/sub/x && \
         ln -s {} /out/s && ln -s {} /out/hs",
        canary.display(),
        tree.display()
    );
    (
        racing_container(env, name, &setup, "/out", "f s sub hs"),
        secret,
    )
}

#[test]
#[ignore = "needs root"]
fn cp_out_never_reads_a_host_file() {
    let env = Env::new();
    let (id, secret) = racing_out_container(&env, "racy-out");
    let (mut tries, mut failed, mut escapes) = (0, 0, 0);
    let end = Instant::now() + BUDGET;
    while tries < TRIES && Instant::now() < end {
        tries += 1;
        let mut out = Vec::new();
        if env
            .engine
            .copy_out(&id, "/out", &mut out, &CopyOptions::default())
            .is_err()
        {
            failed += 1;
        }
        if out.windows(secret.len()).any(|w| w == secret.as_bytes()) {
            escapes += 1;
        }
    }
    eprintln!("cp out: {tries} tries, {failed} refused, {escapes} returned the host file");
    assert_eq!(
        escapes, 0,
        "{escapes} of {tries} copies out of the container returned a host file"
    );
}

#[test]
#[ignore = "needs root"]
fn export_never_reads_a_host_file() {
    // As cp_out_never_reads_a_host_file, for `export` of the running container: the
    // whole filesystem is walked while the racer swaps names under /out.
    let env = Env::new();
    let (id, secret) = racing_out_container(&env, "racy-export");
    let (mut tries, mut failed, mut escapes) = (0, 0, 0);
    let end = Instant::now() + BUDGET;
    while tries < TRIES / 4 && Instant::now() < end {
        tries += 1;
        let mut out = Vec::new();
        if env.engine.export(&id, &mut out).is_err() {
            failed += 1;
        }
        if out.windows(secret.len()).any(|w| w == secret.as_bytes()) {
            escapes += 1;
        }
    }
    eprintln!("export: {tries} tries, {failed} refused, {escapes} returned the host file");
    assert!(tries > failed, "every export failed");
    assert_eq!(
        escapes, 0,
        "{escapes} of {tries} exports of the container returned a host file"
    );
}

#[test]
#[ignore = "needs root"]
fn commit_without_pause_never_reads_a_host_file() {
    // As export_never_reads_a_host_file, for `commit --pause=false`: the layer is written
    // from the container's upper directory while the racer swaps names under /out.
    let env = Env::new();
    let (id, secret) = racing_out_container(&env, "racy-commit");
    let (mut tries, mut failed, mut escapes) = (0, 0, 0);
    let end = Instant::now() + BUDGET;
    while tries < TRIES / 8 && Instant::now() < end {
        tries += 1;
        let img =
            match env
                .engine
                .commit(&id, &berth_engine::image::CommitOptions::default(), false)
            {
                Ok(img) => img.id.to_string(),
                Err(_) => {
                    failed += 1;
                    continue;
                }
            };
        let saved = env
            .engine
            .image_save(
                std::slice::from_ref(&img),
                berth_engine::image::ArchiveFormat::Docker,
                Vec::new(),
            )
            .expect("save the committed image");
        if saved.windows(secret.len()).any(|w| w == secret.as_bytes()) {
            escapes += 1;
        }
        env.engine.image_remove(&img, true).expect("remove it");
    }
    eprintln!("commit: {tries} tries, {failed} refused, {escapes} held the host file");
    assert!(tries > failed, "every commit failed");
    assert_eq!(
        escapes, 0,
        "{escapes} of {tries} commits of the running container held a host file"
    );
}

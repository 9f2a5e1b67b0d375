//! Push and pull against Debian's docker-registry started on 127.0.0.1 (random port,
//! temporary storage). Skips with a message when docker-registry is missing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Berth;
use common::registry::Registry;

fn berth(root: &Path, config: &Path) -> Berth {
    let b = Berth::new(root);
    // BERTH_CONFIG is passed per command (see run_with_config).
    std::fs::write(config, common::NO_BRIDGE).unwrap();
    b
}

fn run_with_config(b: &Berth, config: &Path, args: &[&str]) -> String {
    let o = b
        .cmd()
        .env("BERTH_CONFIG", config)
        .env("BERTH_AUTH_FILE", config.with_extension("auth.json"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn busybox_push_rm_pull_same_digest() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::start(t.path()).expect("start docker-registry");
    let tar = common::busybox_tar(t.path(), 0);
    let cfg = t.path().join("berth.toml");
    let b = berth(&t.path().join("root"), &cfg);
    let run = |args: &[&str]| run_with_config(&b, &cfg, args);
    let name = format!("{}/test/busybox:v1", reg.host());
    run(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        tar.to_str().unwrap(),
        "busybox:latest",
    ]);
    run(&["tag", "busybox", &name]);
    let out = run(&["push", &name]);
    let digest = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{out}");
    let id = run(&["images", "-q", "--no-trunc", "busybox"])
        .trim()
        .to_owned();
    run(&["rmi", "busybox", &name]);
    assert_eq!(run(&["images", "-q"]), "");
    let out = run(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(run(&["images", "-q", "--no-trunc"]).trim(), id);
    // Docker's events of both: the reference is the actor, the repository its name.
    let events = run(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "event=push",
        "--filter",
        "event=pull",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}",
    ]);
    let repo_name = format!("{}/test/busybox", reg.host());
    assert_eq!(
        events,
        format!("image push {name} {repo_name}\nimage pull {name} {repo_name}\n")
    );
    let digests = run(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert_eq!(digests.trim(), digest);
    runs_under_the_runtime(&b.root, &name, t.path());
    // pull by digest, and a second push skips every blob
    run(&["pull", &format!("{}/test/busybox@{digest}", reg.host())]);
    run(&["push", &name]);
    // cross-repository mount
    let other = format!("{}/other/busybox:v2", reg.host());
    run(&["tag", &name, &other]);
    run(&["push", &other]);
    // --all-tags both ways: every local tag of the repository up, every listed tag down.
    let repo = format!("{}/tags/busybox", reg.host());
    run(&["tag", &name, &format!("{repo}:one")]);
    run(&["tag", &name, &format!("{repo}:two")]);
    let out = run(&["push", "--all-tags", &repo]);
    assert_eq!(out.matches("digest: sha256:").count(), 2, "{out}");
    run(&["rmi", &format!("{repo}:one"), &format!("{repo}:two")]);
    let out = run(&["pull", "-a", &repo]);
    assert_eq!(out.matches("Digest: sha256:").count(), 2, "{out}");
    let tags = run(&["images", "--format", "{{.Tag}}", &repo]);
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["one", "two"]);
    let (code, _, err) = b.run(&["pull", "-a", &format!("{repo}:one")]);
    assert_ne!(code, 0);
    assert!(err.contains("--all-tags"), "{err}");
    assert_eq!(run(&["system", "check"]).trim(), "no problems found");
}

/// The berth-runtime binary next to this test's (cargo builds it for the workspace's tests).
fn runtime_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let p = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("berth-runtime");
    assert!(
        p.exists(),
        "berth-runtime is not built: cargo build --workspace"
    );
    p
}

/// Mounts a snapshot of the pulled image and runs it under berth-runtime.
fn runs_under_the_runtime(root: &Path, image: &str, tmp: &Path) {
    let rt = runtime_binary();
    let store = berth_image::Store::open(root).unwrap();
    let img = store.resolve(image).unwrap();
    let bundle = tmp.join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    store.prepare_snapshot("pulled-rt", &img.id, None).unwrap();
    store.mount_snapshot("pulled-rt", &rootfs).unwrap();
    let _mounted = berth_image::snapshot::UnmountOnDrop(rootfs.clone());
    let st = Command::new(&rt)
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["process"]["args"] = serde_json::json!([
        "/bin/sh",
        "-c",
        "echo pulled-ok; /bin/busybox true && echo busybox-ok"
    ]);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let out = Command::new(&rt)
        .arg("--root")
        .arg(tmp.join("rt-state"))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(format!("pulled-{}", std::process::id()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pulled-ok\nbusybox-ok\n"
    );
    drop(_mounted);
    store.remove_snapshot("pulled-rt").unwrap();
}

#[test]
fn skopeo_copy_into_registry_is_pulled() {
    common::require("skopeo", "skopeo");
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::start(t.path()).expect("start docker-registry");
    let tar = common::busybox_tar(t.path(), 0);
    let cfg = t.path().join("berth.toml");
    let b = berth(&t.path().join("root"), &cfg);
    let run = |args: &[&str]| run_with_config(&b, &cfg, args);
    run(&["import", tar.to_str().unwrap(), "bb:1"]);
    let id = run(&["images", "-q", "--no-trunc"]).trim().to_owned();
    let oci = t.path().join("oci.tar");
    run(&[
        "save",
        "--format",
        "oci",
        "-o",
        oci.to_str().unwrap(),
        "bb:1",
    ]);
    let st = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}:1", oci.display()))
        .arg(format!("docker://{}/skopeo/bb:1", reg.host()))
        .status()
        .unwrap();
    assert!(st.success());
    // skopeo may convert the layer (e.g. compress it): the image ID stays the config digest.
    run(&["pull", &format!("{}/skopeo/bb:1", reg.host())]);
    let ids = run(&[
        "images",
        "-q",
        "--no-trunc",
        &format!("{}/skopeo/bb", reg.host()),
    ]);
    assert_eq!(ids.trim(), id);
    // The pulled manifest (skopeo compressed the layer) replaced the imported one: the old
    // blobs are garbage that prune/check remove, not problems.
    let first = run(&["system", "check"]);
    assert!(!first.contains("problem:"), "{first}");
    assert_eq!(
        run(&["system", "check", "--verify"]).trim(),
        "no problems found"
    );
    assert_eq!(run(&["images", "-q", "--no-trunc", "bb"]).trim(), id);
}

#[test]
fn mirror_serves_docker_io_and_chunked_push() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::start(t.path()).expect("start docker-registry");
    let tar = common::busybox_tar(t.path(), 1);
    let cfg = t.path().join("berth.toml");
    let b = berth(&t.path().join("root"), &cfg);
    let run = |args: &[&str]| run_with_config(&b, &cfg, args);
    run(&["import", tar.to_str().unwrap(), "seed:1"]);
    // Chunked upload: anything above 256 KiB goes in chunks.
    let name = format!("{}/library/busybox:mirrored", reg.host());
    run(&["tag", "seed:1", &name]);
    let o = b
        .cmd()
        .env("BERTH_CONFIG", &cfg)
        .env("BERTH_PUSH_CHUNK_SIZE", "262144")
        .args(["push", &name])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = run(&["images", "-q", "--no-trunc", "seed"])
        .trim()
        .to_owned();
    // docker.io/library/busybox comes from the mirror (there is no internet here).
    std::fs::write(
        &cfg,
        format!(
            "{}[registries.\"docker.io\"]\nmirrors = [\"http://{}\"]\n",
            common::NO_BRIDGE,
            reg.host()
        ),
    )
    .unwrap();
    let b2 = Berth::new(&t.path().join("root2"));
    let out = run_with_config(&b2, &cfg, &["pull", "busybox:mirrored"]);
    assert!(
        out.trim_end()
            .ends_with("docker.io/library/busybox:mirrored"),
        "{out}"
    );
    assert_eq!(
        run_with_config(&b2, &cfg, &["images", "-q", "--no-trunc", "busybox"]).trim(),
        id
    );
}

#[test]
fn sigkill_during_pull_leaves_a_usable_store() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::start(t.path()).expect("start docker-registry");
    let tar = common::busybox_tar(t.path(), 16);
    let cfg = t.path().join("berth.toml");
    let seed = berth(&t.path().join("seed"), &cfg);
    let name = format!("{}/big/busybox:1", reg.host());
    run_with_config(&seed, &cfg, &["import", tar.to_str().unwrap(), &name]);
    run_with_config(&seed, &cfg, &["push", &name]);
    let b = Berth::new(&t.path().join("root"));
    let start = Instant::now();
    run_with_config(
        &Berth::new(&t.path().join("scratch")),
        &cfg,
        &["pull", "-q", &name],
    );
    let window = u64::try_from(start.elapsed().as_micros()).unwrap();
    let mut x = (std::process::id() as u64) | 1;
    for _ in 0..10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = b
            .cmd()
            .env("BERTH_CONFIG", &cfg)
            .args(["pull", "-q", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(x % (window * 11 / 10).max(1)));
        let _ = child.kill();
        let _ = child.wait();
    }
    run_with_config(&b, &cfg, &["pull", &name]);
    let check = run_with_config(&b, &cfg, &["system", "check"]);
    assert!(!check.contains("problem:"), "{check}");
    assert_eq!(
        run_with_config(&b, &cfg, &["system", "check", "--verify"]).trim(),
        "no problems found"
    );
}

//! The engine's image operations on a real store: list filters, tag and remove, import,
//! save and load round trips, prune, the `run --pull` decision and error classes.
//!
//! They need /bin/busybox (Debian's busybox-static) for the test image; without it each
//! test prints why and passes without doing anything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_engine::image::{
    ArchiveFormat, ImageRow, ImportOptions, NoProgress, Platform, PullDecision, Reference,
    RemoveEvent, check_import,
};
use berth_engine::{Engine, Error, ErrorKind};

/// An engine on a temporary data root and the busybox rootfs tar
/// (scripts/mk-busybox-tar.sh); panics without busybox-static.
fn setup() -> (tempfile::TempDir, Engine, PathBuf) {
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox missing: apt-get install busybox-static"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = dir.path().join("busybox.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mk-busybox-tar.sh");
    let st = Command::new("sh")
        .arg(script)
        .arg(&tar)
        .status()
        .expect("run mk-busybox-tar.sh");
    assert!(st.success());
    let engine = Engine::open(&dir.path().join("root"), None).expect("open engine");
    (dir, engine, tar)
}

/// Imports the busybox tar as `name` with Dockerfile `changes` (and `platform`).
fn import(e: &Engine, tar: &Path, name: &str, changes: &[&str], platform: Option<&str>) -> String {
    let opts = ImportOptions {
        changes: changes.iter().map(|c| c.to_string()).collect(),
        message: None,
        platform: platform.map(|p| p.parse::<Platform>().expect("platform")),
        reference: Some(Reference::parse_tagged(name).expect("reference")),
        source: tar.display().to_string(),
    };
    let f = std::fs::File::open(tar).expect("open tar");
    e.image_import(f, &opts).expect("import").id.to_string()
}

fn list(e: &Engine, filters: &[&str], repository: Option<&str>) -> Vec<ImageRow> {
    let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
    e.images(&filters, repository).expect("images")
}

/// `repo:tag` of each row (`<none>:<none>` when dangling).
fn names(rows: &[ImageRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{}:{}",
                r.repository.as_deref().unwrap_or("<none>"),
                r.tag.as_deref().unwrap_or("<none>")
            )
        })
        .collect()
}

#[test]
fn list_filters() {
    let (_dir, e, tar) = setup();
    // alpha (labelled), then beta twice (the first beta becomes dangling), one second
    // apart so that before= and since= can tell them apart.
    let alpha = import(&e, &tar, "alpha:1", &["LABEL tier=db"], None);
    std::thread::sleep(Duration::from_millis(1100));
    let old_beta = import(&e, &tar, "beta:1", &[r#"CMD ["x"]"#], None);
    std::thread::sleep(Duration::from_millis(1100));
    let beta = import(&e, &tar, "beta:1", &[r#"CMD ["y"]"#], None);
    e.image_tag("beta:1", "localhost:5000/team/beta:2")
        .expect("tag");

    let all = list(&e, &[], None);
    assert_eq!(
        names(&all),
        [
            "beta:1",
            "localhost:5000/team/beta:2",
            "<none>:<none>",
            "alpha:1"
        ],
        "newest first, one row per tag"
    );
    assert_eq!(all[0].id.to_string(), beta);
    assert_eq!(all[2].id.to_string(), old_beta);
    assert_eq!(all[3].id.to_string(), alpha);
    assert!(
        all.iter()
            .all(|r| r.size > 0 && r.created > 0 && r.digest.is_none())
    );

    assert_eq!(
        names(&list(&e, &["dangling=true"], None)),
        ["<none>:<none>"]
    );
    assert_eq!(
        names(&list(&e, &["dangling=false"], None)),
        ["beta:1", "localhost:5000/team/beta:2", "alpha:1"]
    );
    // Go path.Match globs: `*` and `?` stop at `/`; a pattern matches repo or repo:tag.
    assert_eq!(names(&list(&e, &["reference=be*"], None)), ["beta:1"]);
    assert_eq!(names(&list(&e, &["reference=beta:?"], None)), ["beta:1"]);
    assert_eq!(
        names(&list(&e, &["reference=*/*/beta"], None)),
        ["localhost:5000/team/beta:2"]
    );
    assert!(
        list(&e, &["reference=*"], None)
            .iter()
            .all(|r| r.tag.is_some())
    );
    assert_eq!(
        names(&list(&e, &["reference=alpha", "reference=beta"], None)),
        ["beta:1", "alpha:1"]
    );
    assert_eq!(names(&list(&e, &[], Some("alpha"))), ["alpha:1"]);
    assert_eq!(names(&list(&e, &[], Some("alpha:2"))), Vec::<String>::new());
    assert_eq!(names(&list(&e, &["label=tier"], None)), ["alpha:1"]);
    assert_eq!(names(&list(&e, &["label=tier=db"], None)), ["alpha:1"]);
    assert!(list(&e, &["label=tier=web"], None).is_empty());
    assert_eq!(
        names(&list(&e, &["before=beta:1"], None)),
        ["<none>:<none>", "alpha:1"]
    );
    assert_eq!(
        names(&list(&e, &["since=alpha:1", "dangling=false"], None)),
        ["beta:1", "localhost:5000/team/beta:2"]
    );

    let err = |f: &str| {
        e.images(&[f.to_string()], None)
            .expect_err("a bad filter is refused")
    };
    let bogus = err("bogus=1");
    assert_eq!(
        (bogus.kind(), bogus.to_string().as_str()),
        (ErrorKind::Invalid, "invalid filter 'bogus'")
    );
    assert_eq!(err("dangling=maybe").kind(), ErrorKind::Invalid);
    assert_eq!(
        err("novalue").to_string(),
        "bad format of filter (expected name=value)"
    );
    assert_eq!(err("before=nothere").kind(), ErrorKind::NotFound);
}

#[test]
fn tag_remove_inspect_history_prune() {
    let (_dir, e, tar) = setup();
    let id = import(&e, &tar, "busybox:latest", &[r#"CMD ["/bin/sh"]"#], None);
    e.image_tag("busybox", "other:2").expect("tag");
    assert_eq!(e.image("other:2").expect("resolve").id.to_string(), id);
    assert_eq!(e.image(&id[7..19]).expect("short id").id.to_string(), id);

    let v = e.image_inspect("busybox").expect("inspect");
    assert_eq!(v.id, id.as_str());
    assert_eq!(v.config.cmd, Some(serde_json::json!(["/bin/sh"])));
    assert!(v.comment.starts_with("Imported from"), "{v:?}");
    let h = e.image_history("busybox").expect("history");
    assert_eq!(h[0].id.as_deref(), Some(id.as_str()));
    assert!(h[0].comment.starts_with("Imported from"), "{h:?}");

    let ev = e.image_remove("other:2", false).expect("untag");
    assert_eq!(ev, [RemoveEvent::Untagged("other:2".into())]);
    let ev = e.image_remove("busybox", false).expect("remove");
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0], RemoveEvent::Untagged("busybox:latest".into()));
    assert!(matches!(&ev[1], RemoveEvent::Deleted(d) if d.to_string() == id));
    let err = e.image_remove("busybox", false).expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "no such image: busybox");
    assert_eq!(
        e.image_tag("nothere", "x:1").expect_err("no source").kind(),
        ErrorKind::NotFound
    );

    // prune: the dangling image only, then (all) the unused tagged one.
    import(&e, &tar, "p:1", &[], None);
    std::thread::sleep(Duration::from_millis(1100));
    import(&e, &tar, "p:1", &["ENV A=1"], None);
    let rep = e.image_prune(false).expect("prune");
    assert!(
        rep.events.len() == 1 && matches!(rep.events[0], RemoveEvent::Deleted(_)),
        "{:?}",
        rep.events
    );
    let rep = e.image_prune(true).expect("prune all");
    assert!(rep.events.contains(&RemoveEvent::Untagged("p:1".into())));
    assert!(rep.gc.bytes_freed > 0, "{:?}", rep.gc);
    assert!(list(&e, &[], None).is_empty());
    assert!(e.system_check(false).expect("check").problems.is_empty());
}

#[test]
fn import_save_load_round_trip() {
    let (dir, e, tar) = setup();
    let id = import(&e, &tar, "busybox:latest", &["ENV A=1"], None);
    let du = e.disk_usage().expect("df");
    assert_eq!((du.images, du.layers), (1, 1));
    let usage = e.images_usage().expect("df -v");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].repository.as_deref(), usage[0].tag.as_deref()),
        (Some("busybox"), Some("latest"))
    );
    assert_eq!(usage[0].containers, 0);

    for format in [ArchiveFormat::Docker, ArchiveFormat::Oci] {
        let saved = e
            .image_save(&["busybox:latest".to_string()], format, Vec::new())
            .expect("save");
        e.image_remove("busybox", false).expect("remove");
        assert!(list(&e, &[], None).is_empty());
        let loaded = e
            .image_load(saved.as_slice(), None, &NoProgress)
            .expect("load");
        assert_eq!(loaded.len(), 1, "{format:?}");
        assert_eq!(loaded[0].image.id.to_string(), id, "{format:?}");
        if format == ArchiveFormat::Docker {
            assert_eq!(loaded[0].names, ["busybox:latest"]);
        }
        // An OCI layout names images by annotation; tag again for the next round.
        if e.image("busybox:latest").is_err() {
            e.image_tag(&id, "busybox:latest").expect("tag");
        }
    }
    // A second engine on the same root sees the same store.
    let again = Engine::open(&dir.path().join("root"), None).expect("reopen");
    assert_eq!(names(&list(&again, &[], None)), ["busybox:latest"]);
}

#[test]
fn import_refuses_digests_and_urls() {
    let opts = |source: &str, reference: &str| ImportOptions {
        source: source.into(),
        reference: Some(Reference::parse_tagged(reference).expect("reference")),
        ..Default::default()
    };
    let digest = format!("x@sha256:{}", "a".repeat(64));
    let err = check_import(&opts("-", &digest)).expect_err("digest");
    assert_eq!(
        (err.kind(), err.to_string().as_str()),
        (ErrorKind::Invalid, "import reference cannot carry a digest")
    );
    let err = check_import(&opts("https://example.com/x.tar", "x:1")).expect_err("url");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(check_import(&opts("/tmp/x.tar", "x:1")).is_ok());
}

#[test]
fn pull_decision() {
    let (_dir, e, tar) = setup();
    let d = |image: &str, policy: &str, platform: Option<&str>| {
        e.pull_decision(image, policy, platform)
    };
    // Missing image.
    let err = d("nothere", "never", None).expect_err("never pulls");
    assert_eq!(
        (err.kind(), err.to_string().as_str()),
        (ErrorKind::NotFound, "no such image: nothere")
    );
    assert_eq!(
        d("nothere", "missing", None).expect("missing"),
        PullDecision::PullMissing
    );
    assert_eq!(
        d("nothere", "always", None).expect("always"),
        PullDecision::PullMissing
    );
    let err = d("nothere", "sometimes", None).expect_err("bad policy");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        err.to_string(),
        r#"invalid pull policy "sometimes": use always, missing or never"#
    );

    // A local image of the host's platform, and one of another platform.
    import(&e, &tar, "here:1", &[], None);
    import(&e, &tar, "arm:1", &[], Some("linux/arm64"));
    assert_eq!(
        d("here:1", "missing", None).expect("here"),
        PullDecision::UseLocal
    );
    assert_eq!(
        d("here:1", "never", Some("linux/amd64")).expect("here"),
        PullDecision::UseLocal
    );
    assert_eq!(
        d("here:1", "always", None).expect("always"),
        PullDecision::PullAgain
    );
    assert_eq!(
        d("here:1", "sometimes", None).expect_err("bad").kind(),
        ErrorKind::Invalid
    );
    let err = d("arm:1", "never", Some("linux/amd64")).expect_err("mismatch");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        "image with reference arm:1 was found but its platform (linux/arm64) does not match \
         the specified platform (linux/amd64)"
    );
    assert_eq!(
        d("arm:1", "missing", Some("linux/amd64")).expect("mismatch pulls"),
        PullDecision::PullMissing
    );
    assert_eq!(
        d("arm:1", "never", Some("linux/arm64")).expect("match"),
        PullDecision::UseLocal
    );
    assert_eq!(
        d("arm:1", "missing", Some("linux"))
            .expect_err("bad platform")
            .kind(),
        ErrorKind::Invalid
    );
}

#[test]
fn registry_errors_have_engine_classes() {
    let kind = |e: berth_registry::Error| Error::from(e).kind();
    assert_eq!(
        kind(berth_registry::Error::ManifestUnknown("x".into())),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(berth_registry::Error::Unauthorized("x".into())),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(berth_registry::Error::Unavailable {
            registry: "r".into(),
            reason: "down".into()
        }),
        ErrorKind::Unavailable
    );
    assert_eq!(
        kind(berth_registry::Error::Credentials {
            path: "p".into(),
            reason: "bad".into()
        }),
        ErrorKind::Internal
    );
    // An image-store error inside a registry error keeps the store's class.
    let conflict = berth_registry::Error::Image(berth_image::Error::Conflict("in use".into()));
    assert_eq!(kind(conflict), ErrorKind::Conflict);
    let e = Error::from(berth_registry::Error::Unauthorized("localhost:5000".into()));
    assert_eq!(
        e.to_string(),
        "unauthorized: authentication required for localhost:5000"
    );
}

/// Runs `credentials_in_child` in a child process of this test binary with its own
/// credentials file and registry configuration (the environment of this process is shared
/// by the tests running in parallel, so it is never changed here).
#[test]
fn login_rolls_back_and_logout_forgets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "").expect("write config");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "credentials_in_child", "--nocapture"])
        .env("BERTH_TEST_CREDENTIALS_CHILD", "1")
        .env("BERTH_AUTH_FILE", dir.path().join("auth.json"))
        .env("BERTH_CONFIG", &config)
        .output()
        .expect("run the child");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child of `login_rolls_back_and_logout_forgets`; does nothing in a normal run.
#[test]
fn credentials_in_child() {
    use berth_registry::auth::{self, Credentials};
    if std::env::var_os("BERTH_TEST_CREDENTIALS_CHILD").is_none() {
        return;
    }
    // Nothing listens on port 1: the login check fails and nothing is stored.
    let server = "127.0.0.1:1";
    let err = Engine::registry_login(Some(server), "u", "p").expect_err("nobody answers");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(auth::lookup(server), None);
    // A refused login keeps the credentials that were there.
    let old = Credentials {
        username: "old".into(),
        password: "secret".into(),
    };
    auth::store(server, &old).expect("store");
    Engine::registry_login(Some(&format!("http://{server}/v2/")), "new", "p")
        .expect_err("nobody answers");
    assert_eq!(auth::lookup(server), Some(old));

    let out = Engine::registry_logout(Some(server)).expect("logout");
    assert_eq!((out.registry.as_str(), out.removed), (server, true));
    assert_eq!(auth::lookup(server), None);
    let out = Engine::registry_logout(Some("https://index.docker.io/v1/")).expect("logout");
    assert_eq!((out.registry.as_str(), out.removed), ("docker.io", false));
}

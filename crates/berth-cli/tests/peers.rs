//! Interoperability: skopeo, umoci, docker and podman read what `berth save` writes, and
//! `berth load` reads what they write. Each test skips with a message when a peer is missing.

mod common;

use std::process::Command;

use common::Berth;
use common::dockerd::Dockerd;

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A berth store holding busybox:latest; returns (tempdir, berth, image id, manifest digest).
fn setup() -> (tempfile::TempDir, Berth, String, String) {
    let t = tempfile::tempdir().unwrap();
    let tar = common::busybox_tar(t.path(), 0);
    let b = Berth::new(&t.path().join("root"));
    let id = b.ok(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        tar.to_str().unwrap(),
        "busybox:latest",
    ]);
    let manifest = b.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Descriptor.digest}}",
        "busybox",
    ]);
    (t, b, id.trim().to_owned(), manifest.trim().to_owned())
}

#[test]
fn skopeo_and_umoci_read_oci_save() {
    common::require("skopeo", "skopeo");
    let (t, b, id, manifest) = setup();
    let oci = t.path().join("oci.tar");
    b.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        oci.to_str().unwrap(),
        "busybox",
    ]);
    let out =
        run(Command::new("skopeo")
            .args(["inspect", &format!("oci-archive:{}:latest", oci.display())]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], manifest.as_str());
    // skopeo copy to an OCI dir and to a docker-archive; berth loads skopeo's docker-archive.
    let dir = t.path().join("copied");
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}:latest", oci.display()),
        &format!("oci:{}:latest", dir.display()),
    ]));
    let da = t.path().join("skopeo-docker.tar");
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}:latest", oci.display()),
        &format!("docker-archive:{}:skopeo/bb:1", da.display()),
    ]));
    let out = b.ok(&["load", "-i", da.to_str().unwrap()]);
    assert!(out.contains("Loaded image: skopeo/bb:1"), "{out}");
    assert_eq!(
        b.ok(&["images", "-q", "--no-trunc", "skopeo/bb"]).trim(),
        id
    );
    // umoci unpacks the layout written by skopeo from our archive, and our own layout.
    common::require("umoci", "umoci");
    let layout = t.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-xf")
        .arg(&oci));
    let bundle = t.path().join("bundle");
    let mut umoci = Command::new("umoci");
    umoci.args(["unpack"]);
    if !common::is_root() {
        umoci.arg("--rootless");
    }
    run(umoci
        .args(["--image", &format!("{}:latest", layout.display())])
        .arg(&bundle));
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    assert!(bundle.join("config.json").is_file());
}

#[test]
#[ignore = "needs root"]
fn docker_loads_berth_save_and_back() {
    common::require("dockerd", "docker.io");
    let (t, b, id, _) = setup();
    let ddir = tempfile::Builder::new()
        .prefix("berth-dk")
        .tempdir_in("/tmp")
        .unwrap();
    let Some(d) = Dockerd::start(ddir.path()) else {
        panic!("dockerd failed to start");
    };
    let saved = t.path().join("bb.tar");
    b.ok(&["save", "-o", saved.to_str().unwrap(), "busybox"]);
    let out = run(d.docker().args(["load", "-i", saved.to_str().unwrap()]));
    assert!(out.contains("busybox:latest"), "{out}");
    let did = run(d
        .docker()
        .args(["image", "inspect", "-f", "{{.Id}}", "busybox:latest"]));
    assert_eq!(did.trim(), id);
    // And back: what docker save writes loads in berth with the same ID.
    run(d.docker().args(["tag", "busybox:latest", "fromdocker:1"]));
    let dsave = t.path().join("docker-save.tar");
    run(d
        .docker()
        .args(["save", "-o", dsave.to_str().unwrap(), "fromdocker:1"]));
    let out = b.ok(&["load", "-i", dsave.to_str().unwrap()]);
    assert!(out.contains("Loaded image: fromdocker:1"), "{out}");
    assert_eq!(
        b.ok(&["images", "-q", "--no-trunc", "fromdocker"]).trim(),
        id
    );
    drop(d);
}

#[test]
#[ignore = "needs root"]
fn podman_save_loads_and_back() {
    common::require("podman", "podman");
    let (t, b, id, _) = setup();
    let pdir = t.path().join("podman");
    std::fs::create_dir(&pdir).unwrap();
    let conf = pdir.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\",\"nproc=32768:32768\"]\n[engine]\nruntime = \"runc\"\n",
    )
    .unwrap();
    let podman = || {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &conf)
            .arg("--root")
            .arg(pdir.join("root"))
            .arg("--runroot")
            .arg(pdir.join("run"))
            .args(["--storage-driver", "vfs"]);
        c
    };
    let saved = t.path().join("bb.tar");
    b.ok(&["save", "-o", saved.to_str().unwrap(), "busybox"]);
    run(podman().args(["load", "-i", saved.to_str().unwrap()]));
    let pid = run(podman().args(["image", "inspect", "-f", "{{.Id}}", "busybox:latest"]));
    assert_eq!(format!("sha256:{}", pid.trim()), id);
    for (fmt, name) in [("docker-archive", "pd"), ("oci-archive", "po")] {
        run(podman().args(["tag", "busybox:latest", &format!("localhost/{name}:1")]));
        let out = t.path().join(format!("{name}.tar"));
        run(podman().args([
            "save",
            "--format",
            fmt,
            "-o",
            out.to_str().unwrap(),
            &format!("localhost/{name}:1"),
        ]));
        let loaded = b.ok(&["load", "-i", out.to_str().unwrap()]);
        assert!(loaded.contains("Loaded image"), "{fmt}: {loaded}");
    }
    assert_eq!(
        b.ok(&["images", "-q", "--no-trunc", "localhost/pd"]).trim(),
        id
    );
    let _ = run(podman().args(["rmi", "-a", "-f"]));
}

//! `berth image ...` end to end through the binary.

mod common;

use common::Berth;

#[test]
fn busybox_round_trip_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let tar = common::busybox_tar(t.path(), 0);
    let b = Berth::new(&t.path().join("root"));
    let tar = tar.to_str().unwrap();
    let id = b.ok(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        "-c",
        "ENV A=1",
        "-m",
        "test import",
        tar,
        "busybox:latest",
    ]);
    let id = id.trim().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    b.ok(&["tag", "busybox", "localhost:5000/bb:v1"]);

    let out = b.ok(&["images"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        out.contains("busybox ") && out.contains("localhost:5000/bb"),
        "{out}"
    );
    assert!(out.contains(&id[7..19]), "{out}");
    assert!(out.contains("MB"), "{out}");

    // One line per tag, as Docker's.
    assert_eq!(b.ok(&["images", "-q"]), format!("{0}\n{0}\n", &id[7..19]));
    assert_eq!(
        b.ok(&[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "-f",
            "reference=busy*"
        ])
        .trim(),
        "busybox:latest"
    );
    let json_line = b.ok(&["images", "--format", "json", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(json_line.lines().next().unwrap()).unwrap();
    assert_eq!(v["Tag"], "latest");
    assert_eq!(b.ok(&["images", "-f", "dangling=true", "-q"]), "");

    let insp = b.ok(&["image", "inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&insp).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Config"]["Cmd"][0], "/bin/sh");
    assert_eq!(v[0]["Config"]["Env"][0], "A=1");
    assert_eq!(
        b.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            "busybox"
        ])
        .trim(),
        "linux/amd64"
    );
    assert!(b.ok(&["history", "busybox"]).contains("test import"));

    let saved = t.path().join("bb.tar");
    b.ok(&["save", "-o", saved.to_str().unwrap(), "busybox:latest"]);
    let out = b.ok(&["rmi", "busybox", "localhost:5000/bb:v1"]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    assert_eq!(b.ok(&["images", "-q"]), "");
    let out = b.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert_eq!(b.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    // stdin/stdout paths too
    let out = b.cmd().args(["save", "busybox"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        std::fs::read(&saved).unwrap(),
        "save is deterministic"
    );
    // stdin forms: import - and load without -i
    let o = b
        .cmd()
        .args(["import", "-", "fromstdin:1"])
        .stdin(std::fs::File::open(tar).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = b
        .cmd()
        .args(["load"])
        .stdin(std::fs::File::open(&saved).unwrap())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Loaded image: busybox:latest"));
    let check = b.ok(&["system", "check"]);
    assert_eq!(check.trim(), "no problems found");
    let df = b.ok(&["system", "df"]);
    assert!(
        df.contains("Images") && df.contains("Local Volumes") && df.contains("Build Cache"),
        "{df}"
    );
    // Beside Size (the disk taken), what the files say they hold.
    let df = b.ok(&["system", "df", "--format", "{{.Type}} {{.ApparentSize}}"]);
    assert!(
        df.contains("Images ") && df.contains("Containers 0B"),
        "{df}"
    );
}

#[test]
fn errors_are_one_line_with_exit_code_1() {
    let t = tempfile::tempdir().unwrap();
    let b = Berth::new(t.path());
    let (code, _, err) = b.run(&["rmi", "foo"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Error: No such image: foo");
    let (code, out, err) = b.run(&["image", "inspect", "foo"]);
    assert_eq!((code, out.trim()), (1, "[]"));
    assert_eq!(err.trim(), "Error: No such image: foo");
    let (code, _, err) = b.run(&["tag", "foo", "bar"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error: No such image"), "{err}");
    let (code, _, err) = b.run(&["import", "/nonexistent.tar"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = b.run(&["import", "-c", "RUN rm -rf /", "/dev/null"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = b.run(&["images", "-f", "bogus=1"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = b.run(&["image", "prune", "-f"]);
    assert_eq!(code, 0);
}

#[test]
fn prune_reports_what_it_freed() {
    let t = tempfile::tempdir().unwrap();
    let tar = common::busybox_tar(t.path(), 0);
    let b = Berth::new(&t.path().join("root"));
    let tar = tar.to_str().unwrap();
    b.ok(&["import", tar, "a:1"]);
    b.ok(&["import", "-c", "CMD [\"x\"]", tar, "a:1"]); // the first becomes dangling
    let out = b.ok(&[
        "images",
        "-f",
        "dangling=true",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(out.trim(), "<none>:<none>");
    let out = b.ok(&["image", "prune", "-f"]);
    assert!(
        out.contains("deleted: sha256:") && out.contains("Total reclaimed space:"),
        "{out}"
    );
    let out = b.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: a:1"), "{out}");
    assert_eq!(b.ok(&["images", "-q"]), "");
}

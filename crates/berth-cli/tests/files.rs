//! Files in and out of containers (cp, commit, export, diff) and volumes.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::Env;

#[test]
#[ignore = "needs root"]
fn cp_both_ways_and_tar_streams() {
    let env = Env::with_busybox();
    let b = &env.b;
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/f.txt"), "from host\n").unwrap();
    std::fs::write(host.join("one.txt"), "one\n").unwrap();
    b.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let h = |p: &str| host.join(p).to_str().unwrap().to_string();

    // Host → running container: a file, a directory, into an existing directory.
    b.ok(&["cp", &h("one.txt"), "box:/tmp/one.txt"]);
    b.ok(&["cp", &h("tree"), "box:/opt"]);
    b.ok(&["cp", &h("tree"), "box:/opt"]);
    assert_eq!(b.ok(&["exec", "box", "cat", "/tmp/one.txt"]), "one\n");
    assert_eq!(
        b.ok(&["exec", "box", "cat", "/opt/sub/f.txt"]),
        "from host\n"
    );
    assert_eq!(
        b.ok(&["exec", "box", "cat", "/opt/tree/sub/f.txt"]),
        "from host\n"
    );

    // Container → host, running and stopped.
    b.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "mkdir -p /data/d && echo inside > /data/d/x && ln -s /etc/passwd /data/d/link",
    ]);
    b.ok(&["cp", "box:/data/d", &h("out")]);
    assert_eq!(
        std::fs::read_to_string(host.join("out/x")).unwrap(),
        "inside\n"
    );
    let link = std::fs::read_link(host.join("out/link")).unwrap();
    assert_eq!(
        link.to_str().unwrap(),
        "/etc/passwd",
        "symlinks are copied as links"
    );
    b.ok(&["stop", "-t", "0", "box"]);
    b.ok(&["cp", "box:/data/d/x", &h("x-stopped")]);
    assert_eq!(
        std::fs::read_to_string(host.join("x-stopped")).unwrap(),
        "inside\n"
    );
    b.ok(&["cp", &h("one.txt"), "box:/root/"]);
    b.ok(&["start", "box"]);
    assert_eq!(b.ok(&["exec", "box", "cat", "/root/one.txt"]), "one\n");

    // Tar through stdout and stdin.
    let o = b.cmd().args(["cp", "box:/data/d/x", "-"]).output().unwrap();
    assert!(o.status.success());
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["x"]);
    let mut t = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(4);
    hd.set_mode(0o644);
    hd.set_cksum();
    t.append_data(&mut hd, "streamed.txt", &b"tar\n"[..])
        .unwrap();
    let data = t.into_inner().unwrap();
    let mut child = b
        .cmd()
        .args(["cp", "-", "box:/tmp"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(b.ok(&["exec", "box", "cat", "/tmp/streamed.txt"]), "tar\n");

    // Escapes are refused: a tar with ../ and a symlink pointing out of the container.
    let mut t = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(4);
    hd.set_mode(0o644);
    {
        let name = b"../../../../escape.txt";
        let raw = hd.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name);
    }
    hd.set_cksum();
    t.append(&hd, &b"bad\n"[..]).unwrap();
    let data = t.into_inner().unwrap();
    let mut child = b
        .cmd()
        .args(["cp", "-", "box:/tmp"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "a ../ entry was accepted");
    assert!(!std::path::Path::new("/escape.txt").exists());
    b.ok(&["exec", "box", "ln", "-s", "/", "/tmp/hostroot"]);
    b.ok(&[
        "cp",
        &h("one.txt"),
        "box:/tmp/hostroot/etc/berth-escape-test",
    ]);
    assert!(
        !std::path::Path::new("/etc/berth-escape-test").exists(),
        "symlink escaped to the host"
    );
    assert_eq!(
        b.ok(&["exec", "box", "cat", "/etc/berth-escape-test"]),
        "one\n"
    );
    // A symlink as the last component is followed inside the container (as Docker does),
    // never to the host.
    b.ok(&[
        "exec",
        "box",
        "ln",
        "-s",
        "/etc/berth-final-escape",
        "/tmp/final",
    ]);
    b.ok(&["cp", &h("one.txt"), "box:/tmp/final"]);
    assert!(
        !std::path::Path::new("/etc/berth-final-escape").exists(),
        "final symlink followed to the host"
    );
    assert_eq!(b.ok(&["exec", "box", "cat", "/tmp/final"]), "one\n");
    let (code, _, err) = b.run(&["cp", "box:/no/such/file", &h("nothing")]);
    assert_eq!(code, 1);
    assert!(err.contains("/no/such/file"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn cp_flags_messages_and_contents() {
    let env = Env::with_busybox();
    let b = &env.b;
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let h = |p: &str| host.join(p).to_str().unwrap().to_string();
    b.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    b.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "mkdir -p /d/sub && echo f > /d/f && echo g > /d/sub/g && ln -s /d/f /lnk && \
         chown 1234:5678 /d/f",
    ]);

    // Without a terminal on stdout, nothing but errors (the summary is in
    // cp_summary_only_on_a_terminal).
    let (code, out, err) = b.run(&["cp", "box:/d", &h("d")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    let (_, _, err) = b.run(&["cp", "-q", "box:/d/f", &h("quiet")]);
    assert_eq!(err, "");
    // The tar stream of `cp -`, as current Docker writes it: directories named with a
    // trailing slash, numeric owners without names (moby's archive no longer looks names
    // up), links as links.
    let o = b.cmd().args(["cp", "box:/d", "-"]).output().unwrap();
    assert!(o.status.success());
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let hd = e.header();
        let raw = String::from_utf8_lossy(&hd.as_old().name)
            .trim_end_matches('\0')
            .to_owned();
        assert_eq!(hd.username().unwrap(), Some(""), "{raw}");
        assert_eq!(hd.groupname().unwrap(), Some(""), "{raw}");
        seen.push(format!("{raw} {}:{}", hd.uid().unwrap(), hd.gid().unwrap()));
    }
    assert_eq!(
        seen,
        ["d/ 0:0", "d/f 1234:5678", "d/sub/ 0:0", "d/sub/g 0:0"],
        "{seen:?}"
    );
    // `SRC/.` copies the contents into an existing directory.
    std::fs::create_dir(host.join("contents")).unwrap();
    b.ok(&["cp", "box:/d/.", &h("contents")]);
    assert_eq!(
        std::fs::read_to_string(host.join("contents/sub/g")).unwrap(),
        "g\n"
    );
    assert!(!host.join("contents/d").exists());
    // -L follows a final symlink; without it the link is copied.
    b.ok(&["cp", "box:/lnk", &h("link")]);
    assert_eq!(
        std::fs::read_link(host.join("link")).unwrap().to_str(),
        Some("/d/f")
    );
    b.ok(&["cp", "-L", "box:/lnk", &h("followed")]);
    assert_eq!(
        std::fs::read_to_string(host.join("followed")).unwrap(),
        "f\n"
    );
    // -a keeps owners into the container; without it they are root's.
    let src = host.join("owned");
    std::fs::write(&src, "o\n").unwrap();
    std::os::unix::fs::chown(&src, Some(4321), Some(8765)).unwrap();
    b.ok(&["cp", "-a", src.to_str().unwrap(), "box:/tmp/kept"]);
    b.ok(&["cp", src.to_str().unwrap(), "box:/tmp/root"]);
    assert_eq!(
        b.ok(&[
            "exec",
            "box",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/kept",
            "/tmp/root"
        ]),
        "4321:8765\n0:0\n"
    );
    // Docker's refusals, exit code 1.
    let (code, _, err) = b.run(&["cp", "box:/d", &h("quiet")]);
    assert_eq!(code, 1);
    assert!(
        err.to_lowercase().contains("cannot copy directory"),
        "{err}"
    );
    let (code, _, err) = b.run(&["cp", "box:/d/f", &h("missing/")]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = b.run(&["cp", &h("nothing-here"), "box:/tmp"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing-here"), "{err}");
}

/// docker's client prints "Successfully copied SIZE to DEST" on stderr when its stdout is
/// a terminal (docker 28: `opts.quiet = !dockerCLI.Out().IsTerminal()`), whatever stderr
/// is, and names a host destination by its absolute path.
#[test]
#[ignore = "needs root"]
fn cp_summary_only_on_a_terminal() {
    let env = Env::with_busybox();
    let b = &env.b;
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    b.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    b.ok(&["exec", "box", "sh", "-c", "echo hello > /f"]);
    let pty = nix::pty::openpty(None, None).unwrap();
    let o = b
        .cmd()
        .current_dir(&host)
        .args(["cp", "box:/f", "./sub/../rel"])
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("Successfully copied 2.05kB to {}/rel\n", host.display())
    );
    let o = b
        .cmd()
        .args(["cp", &format!("{}/rel", host.display()), "box:/tmp/"])
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "Successfully copied 2.05kB to box:/tmp/\n"
    );
    // -q, or a stdout that is no terminal (stderr one): nothing.
    for (args, quiet_stdout) in [(vec!["cp", "-q"], false), (vec!["cp"], true)] {
        let mut c = b.cmd();
        c.args(&args)
            .args(["box:/f", &format!("{}/again", host.display())]);
        if quiet_stdout {
            c.stdout(Stdio::piped())
                .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
        } else {
            c.stdout(Stdio::from(pty.slave.try_clone().unwrap()))
                .stderr(Stdio::piped());
        }
        let o = c.output().unwrap();
        assert!(o.status.success());
        assert!(o.stderr.is_empty() && o.stdout.is_empty(), "{args:?}");
    }
    drop(pty);
}

/// `commit` pauses a running container while it reads its changes (unless
/// `--pause=false`) and logs the commit before the unpause, as Docker does.
#[test]
#[ignore = "needs root"]
fn commit_pauses_a_running_container() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "-d", "--name", "cr", "busybox", "sleep", "1000"]);
    let since = b.ok(&["inspect", "-f", "{{.Created}}", "cr"]);
    b.ok(&["commit", "cr", "paused"]);
    b.ok(&["commit", "--pause=false", "cr", "unpaused"]);
    b.ok(&["pause", "cr"]);
    b.ok(&["commit", "cr", "already"]);
    assert_eq!(
        b.ok(&["inspect", "-f", "{{.State.Status}}", "cr"]),
        "paused\n"
    );
    b.ok(&["unpause", "cr"]);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let actions = b.ok(&[
        "events",
        "--since",
        since.trim(),
        "--until",
        &until.to_string(),
        "--filter",
        "container=cr",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = actions
        .lines()
        .filter(|a| !matches!(*a, "create" | "start"))
        .collect();
    assert_eq!(
        actions,
        [
            "pause", "commit", "unpause", "commit", "pause", "commit", "unpause"
        ]
    );
}

#[test]
#[ignore = "needs root"]
fn commit_export_diff() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["run", "--name", "src", "busybox", "sh", "-c", "echo made > /made.txt; rm /etc/hostname.orig 2>/dev/null; rm /bin/true; echo x >> /etc/profile"]);
    let diff = b.ok(&["diff", "src"]);
    assert!(diff.contains("A /made.txt"), "{diff}");
    assert!(diff.contains("D /bin/true"), "{diff}");
    assert!(diff.contains("C /etc"), "{diff}");
    // The mount points berth puts over the image are in the snapshot's init layer, not
    // changes of the container (as with Docker's init layer).
    for mp in [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/mtab",
        "/proc",
        "/dev",
    ] {
        assert!(!diff.lines().any(|l| l[2..] == *mp), "{mp} in diff: {diff}");
    }
    b.ok(&["run", "--name", "quiet", "busybox", "true"]);
    assert_eq!(
        b.ok(&["diff", "quiet"]),
        "",
        "a container that changed nothing"
    );

    let id = b.ok(&[
        "commit",
        "-m",
        "added a file",
        "-c",
        "CMD [\"cat\", \"/made.txt\"]",
        "src",
        "made:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(b.ok(&["run", "--rm", "made:1"]), "made\n");
    assert_eq!(
        b.run(&["run", "--rm", "made:1", "test", "-e", "/bin/true"])
            .0,
        1
    );
    let hist = b.ok(&["history", "made:1"]);
    assert!(hist.contains("added a file"), "{hist}");

    let tarpath = env.dir.path().join("export.tar");
    b.ok(&["export", "-o", tarpath.to_str().unwrap(), "src"]);
    let mut ar = tar::Archive::new(std::fs::File::open(&tarpath).unwrap());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "made.txt"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.trim_start_matches("./") == "bin/true")
    );
    // Re-import the export as an image.
    b.ok(&["import", tarpath.to_str().unwrap(), "reimported"]);
    assert_eq!(
        b.ok(&["run", "--rm", "reimported", "cat", "/made.txt"]),
        "made\n"
    );
}

#[test]
#[ignore = "needs root"]
fn volumes_outlive_containers() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["volume", "create", "--label", "k=v", "data"]);
    b.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "data:/data:ro",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let (code, _, _) = b.run(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "busybox",
        "touch",
        "/data/g",
    ]);
    assert_eq!(code, 1, "a :ro volume was writable");
    // A named volume created on first use, and populated from the image's directory.
    b.ok(&[
        "run",
        "--name",
        "user",
        "-v",
        "auto:/etc",
        "busybox",
        "true",
    ]);
    assert!(b.ok(&["volume", "ls", "-q"]).contains("auto"));
    assert!(
        b.ok(&[
            "run",
            "--rm",
            "-v",
            "auto:/x",
            "busybox",
            "cat",
            "/x/passwd"
        ])
        .contains("root:")
    );
    let (code, _, err) = b.run(&["volume", "rm", "auto"]);
    assert_eq!(code, 1);
    assert!(err.contains("in use"), "{err}");
    b.ok(&["rm", "user"]);
    b.ok(&["volume", "rm", "auto"]);

    // Anonymous volumes: kept by rm, removed by rm -v.
    b.ok(&["create", "--name", "anon", "-v", "/scratch", "busybox"]);
    let vols = b.ok(&["volume", "ls", "-q"]);
    assert_eq!(vols.lines().count(), 2, "{vols}");
    b.ok(&["rm", "-v", "anon"]);
    assert_eq!(b.ok(&["volume", "ls", "-q"]).trim(), "data");

    // --mount, bind mounts, tmpfs, --volumes-from.
    let hostdir = env.dir.path().join("bind");
    std::fs::create_dir(&hostdir).unwrap();
    std::fs::write(hostdir.join("h"), "host file\n").unwrap();
    let spec = format!("type=bind,source={},target=/b,readonly", hostdir.display());
    assert_eq!(
        b.ok(&["run", "--rm", "--mount", &spec, "busybox", "cat", "/b/h"]),
        "host file\n"
    );
    let bind = format!("{}:/b", hostdir.display());
    b.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo back > /b/back",
    ]);
    assert_eq!(
        std::fs::read_to_string(hostdir.join("back")).unwrap(),
        "back\n"
    );
    let mounts = b.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m",
        "busybox",
        "grep",
        " /t ",
        "/proc/mounts",
    ]);
    assert!(
        mounts.contains("tmpfs") && mounts.contains("size=1024k"),
        "{mounts}"
    );
    b.ok(&[
        "create",
        "--name",
        "holder",
        "--mount",
        "type=volume,source=data,target=/shared",
        "busybox",
    ]);
    assert_eq!(
        b.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "holder",
            "busybox",
            "cat",
            "/shared/f"
        ]),
        "kept\n"
    );
    let ins = b.ok(&["inspect", "-f", "{{json .Mounts}}", "holder"]);
    assert!(
        ins.contains("\"Name\":\"data\"") && ins.contains("\"Destination\":\"/shared\""),
        "{ins}"
    );

    // Inspect, filters, bad input.
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(v[0]["Labels"]["k"], "v");
    assert!(
        v[0]["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with("/volumes/data/_data")
    );
    assert_eq!(
        b.ok(&["volume", "ls", "-q", "--filter", "label=k=v"])
            .trim(),
        "data"
    );
    assert_eq!(
        b.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]),
        ""
    );
    assert_eq!(b.run(&["volume", "create", "../evil"]).0, 1);
    assert_eq!(
        b.run(&["run", "--rm", "-v", "data:relative", "busybox"]).0,
        125
    );
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--mount",
            "type=nonsense,target=/x",
            "busybox"
        ])
        .0,
        125
    );
    b.ok(&["rm", "holder"]);

    // The local driver's type/device/o: a size-limited tmpfs, and a bind volume whose
    // directory survives `volume rm`.
    b.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m,uid=1000",
        "small",
    ]);
    let out = b.ok(&[
        "run",
        "--rm",
        "-v",
        "small:/v",
        "busybox",
        "sh",
        "-c",
        "stat -c %u /v; df -k /v | tail -1",
    ]);
    assert!(out.starts_with("1000\n") && out.contains(" 1024 "), "{out}");
    assert!(
        !env.leftover_mounts()
            .iter()
            .any(|m| m.contains("/volumes/small/")),
        "tmpfs volume left mounted"
    );
    let (code, _, err) = b.run(&["volume", "create", "-o", "size=1m", "quota"]);
    assert_eq!(code, 1);
    assert!(err.contains("quota"), "{err}");
    let src = env.dir.path().join("bindsrc");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("keep"), "mine\n").unwrap();
    let dev = format!("device={}", src.display());
    b.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &dev,
        "bound",
    ]);
    assert_eq!(
        b.ok(&["run", "--rm", "-v", "bound:/b", "busybox", "cat", "/b/keep"]),
        "mine\n"
    );
    b.ok(&["volume", "rm", "bound", "small"]);
    assert_eq!(std::fs::read_to_string(src.join("keep")).unwrap(), "mine\n");
    let pruned = b.ok(&["volume", "prune", "-f", "-a"]);
    assert!(pruned.contains("data"), "{pruned}");
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
}

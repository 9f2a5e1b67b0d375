//! Docker compatibility that the differential test cannot show: output into a pipe whose
//! reader is gone, `berth -v`, and a container's loopback and `/.dockerenv` without a
//! dockerd to compare with.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use common::{Berth, Env};

/// Runs `args` with standard output the write end of a real pipe whose read end is already
/// closed (what `berth ... | head -1` is once `head` has gone); returns the signal that
/// ended berth, its exit code, and its stderr.
fn into_closed_pipe(b: &Berth, args: &[&str]) -> (Option<i32>, Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = b
        .cmd()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run berth");
    (
        out.status.signal(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs root"]
fn a_reader_that_went_away_ends_berth_by_sigpipe_quietly() {
    let env = Env::with_busybox();
    env.b.ok(&["create", "--name", "piped", "busybox", "true"]);
    // println! paths (inspect), table writers (ps, images) and the names of `rm`.
    for args in [
        &["inspect", "busybox"][..],
        &["inspect", "piped"],
        &["ps", "-a"],
        &["images"],
        &["volume", "ls"],
        &["rm", "piped"],
    ] {
        let (signal, code, err) = into_closed_pipe(&env.b, args);
        assert_eq!(
            (signal, code, err.as_str()),
            (Some(libc::SIGPIPE), None, ""),
            "berth {args:?}"
        );
    }
}

#[test]
fn dash_v_prints_the_version_as_docker_does() {
    let d = tempfile::tempdir().unwrap();
    let b = Berth::new(d.path());
    let (code, out, err) = b.run(&["-v"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("berth "), "{out}");
    assert_eq!(b.run(&["--version"]).1, out);
    // A command group without a command shows its help and succeeds, as docker's.
    let (code, out, _) = b.run(&["container"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
}

#[test]
#[ignore = "needs root"]
fn a_container_has_loopback_up_and_a_dockerenv() {
    let env = Env::with_busybox();
    for net in ["none", "host"] {
        let out = env.b.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            "busybox",
            "sh",
            "-c",
            "ping -c 1 -W 2 127.0.0.1 >/dev/null && echo up; stat -c '%a %s' /.dockerenv",
        ]);
        assert_eq!(out, "up\n755 0\n", "--network {net}");
    }
    // A server on localhost inside the container answers a client in it.
    let out = env.b.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hello > /tmp/index.html; httpd -f -p 127.0.0.1:8080 -h /tmp & \
         for i in $(seq 100); do wget -q -O - http://127.0.0.1:8080/index.html && break; \
         sleep 0.1; done",
    ]);
    assert_eq!(out, "hello\n");
    // Not part of what `diff` or `commit` see.
    env.b.ok(&["create", "--name", "fresh", "busybox"]);
    assert_eq!(env.b.ok(&["diff", "fresh"]), "");
}

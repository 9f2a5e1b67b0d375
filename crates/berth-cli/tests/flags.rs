//! `run`/`create` flags beyond the basics: unknown flags, `--cidfile`, cgroup placement and
//! namespace, swappiness, block IO throttles, and bad values refused at create.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use common::Env;

/// Removes a parent cgroup made for `--cgroup-parent` in every hierarchy, even on failure.
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let _ = std::fs::remove_dir(h.path().join(&self.0));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.0));
    }
}

fn block_device() -> Option<String> {
    std::fs::read_dir("/dev").ok()?.flatten().find_map(|e| {
        let ft = e.file_type().ok()?;
        ft.is_block_device()
            .then(|| e.path().to_string_lossy().into_owned())
    })
}

#[test]
#[ignore = "needs root"]
fn unknown_flags_and_bad_values_change_nothing() {
    let env = Env::with_busybox();
    let b = &env.b;
    let (code, _, err) = b.run(&["run", "--rm", "--no-such-flag", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.to_lowercase().contains("unknown flag: --no-such-flag"),
        "{err}"
    );
    // The command's own options after the image still belong to it.
    assert_eq!(b.ok(&["run", "--rm", "busybox", "echo", "-n", "x"]), "x");
    let bad: [(&[&str], &str); 11] = [
        (&["--blkio-weight", "5"], "from 10 to 1000"),
        (
            &["--cpuset-cpus", "999"],
            "Requested CPUs are not available",
        ),
        (
            &["--memory-swappiness", "101"],
            "valid memory swappiness range",
        ),
        (&["--cgroup-parent", "a/../b"], "not a valid cgroup path"),
        (
            &["--device-read-bps", "/dev/null:1mb"],
            "not a block device",
        ),
        (&["--cgroupns", "shared"], "invalid --cgroupns"),
        (&["--gpus", "all"], "--gpus is not supported"),
        (&["--runtime", "runc"], "invalid runtime name: runc"),
        (&["--cpu-count", "2"], "only supported for Windows"),
        (
            &["--cpu-rt-period", "1000", "--cpu-rt-runtime", "2000"],
            "cannot be higher than cpu real-time period",
        ),
        (&["--annotation", "novalue"], "invalid --annotation"),
    ];
    for (flags, msg) in bad {
        // `run` exits 125 for every refusal, as docker's run; `create` exits 1 for those
        // docker's daemon makes (flags2.cases compares both).
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.push("busybox");
        let (code, _, err) = b.run(&args);
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert!(
            err.to_lowercase().contains(&msg.to_lowercase()),
            "{flags:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{flags:?}: {err}");
    }
    assert_eq!(
        b.ok(&["ps", "-aq"]),
        "",
        "a refused create left a container"
    );
}

#[test]
#[ignore = "needs root"]
fn cidfile_is_written_once() {
    let env = Env::with_busybox();
    let b = &env.b;
    let file = env.dir.path().join("cid");
    let f = file.to_str().unwrap();
    let id = b.ok(&["create", "--cidfile", f, "busybox", "true"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), id.trim());
    let (code, _, err) = b.run(&["run", "--rm", "--cidfile", f, "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.to_lowercase().contains("container id file found"),
        "{err}"
    );
    assert_eq!(b.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
#[ignore = "needs root"]
fn cgroup_placement_namespace_and_limits() {
    // Declared first so that it is dropped last, after the containers are gone.
    let parent = format!("berth-test-{}", std::process::id());
    let _cleanup = CgroupParent(parent.clone());
    let env = Env::with_busybox();
    let b = &env.b;
    // Docker's default cgroup namespace: private on a cgroup v2 host, the host's on v1 and
    // hybrid ones; in a private one the container sees itself at the root.
    let v2 = std::fs::read_to_string("/proc/self/cgroup")
        .is_ok_and(|c| c.lines().all(|l| l.starts_with("0::")));
    let dflt = b.ok(&["create", "busybox"]);
    let mode = env.field(dflt.trim(), "{{.HostConfig.CgroupnsMode}}");
    assert_eq!(mode, if v2 { "private" } else { "host" });
    b.ok(&["rm", dflt.trim()]);
    let own = b.ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "private",
        "busybox",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
    let id = b.ok(&[
        "run",
        "-d",
        "--cgroupns",
        "host",
        "--cgroup-parent",
        &parent,
        "busybox",
        "sleep",
        "100",
    ]);
    let id = id.trim();
    let seen = b.ok(&["exec", id, "cat", "/proc/self/cgroup"]);
    let want = format!("/{parent}/{id}");
    assert!(seen.lines().any(|l| l.ends_with(&want)), "{seen}");
    assert_eq!(
        env.field(
            id,
            "{{.HostConfig.CgroupnsMode}} {{.HostConfig.CgroupParent}}"
        ),
        format!("host {parent}")
    );
    b.ok(&["rm", "-f", id]);

    // Swappiness is a cgroup v1 memory knob.
    if Path::new("/sys/fs/cgroup/memory/memory.swappiness").exists() {
        let v = b.ok(&[
            "run",
            "--rm",
            "--memory-swappiness",
            "7",
            "busybox",
            "cat",
            "/sys/fs/cgroup/memory/memory.swappiness",
        ]);
        assert_eq!(v.trim(), "7");
    }
    let Some(dev) = block_device() else {
        return;
    };
    let (file_bps, file_iops) = if Path::new("/sys/fs/cgroup/blkio").exists() {
        (
            "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device",
            "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
        )
    } else {
        ("/sys/fs/cgroup/io.max", "/sys/fs/cgroup/io.max")
    };
    let out = b.ok(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-iops",
        &format!("{dev}:100"),
        "busybox",
        "cat",
        file_bps,
        file_iops,
    ]);
    assert!(
        out.contains(" 1048576") || out.contains("rbps=1048576"),
        "{out}"
    );
    assert!(out.contains(" 100") || out.contains("wiops=100"), "{out}");
}

#[test]
#[ignore = "needs root"]
fn annotations_reach_the_runtime_spec() {
    let env = Env::with_busybox();
    let b = &env.b;
    let id = b.ok(&[
        "create",
        "--annotation",
        "com.example.team=infra",
        "busybox",
        "true",
    ]);
    let id = id.trim();
    assert_eq!(
        env.field(id, "{{json .HostConfig.Annotations}}"),
        r#"{"com.example.team":"infra"}"#
    );
    b.ok(&["start", "-a", id]);
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.root.join("containers").join(id).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["annotations"]["com.example.team"], "infra", "{spec}");
}

#[test]
#[ignore = "needs root"]
fn update_changes_limits_and_restart_policy() {
    let env = Env::with_busybox();
    let b = &env.b;
    if !Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        eprintln!("skipping: needs the cgroup v1 memory controller");
        return;
    }
    b.ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "-m",
        "64m",
        "--pids-limit",
        "10",
        "busybox",
        "sleep",
        "100",
    ]);
    let files = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max";
    assert_eq!(b.ok(&["exec", "up", "sh", "-c", files]), "67108864\n10\n");
    assert_eq!(
        b.ok(&[
            "update",
            "-m",
            "128m",
            "--memory-swap",
            "256m",
            "--pids-limit",
            "20",
            "--restart",
            "always",
            "up",
        ]),
        "up\n"
    );
    assert_eq!(b.ok(&["exec", "up", "sh", "-c", files]), "134217728\n20\n");
    assert_eq!(
        env.field(
            "up",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.RestartPolicy.Name}}"
        ),
        "134217728 268435456 always"
    );
    b.ok(&["update", "--pids-limit", "-1", "up"]);
    assert_eq!(
        b.ok(&["exec", "up", "cat", "/sys/fs/cgroup/pids/pids.max"]),
        "max\n"
    );
    // Refused updates change nothing.
    for (args, msg) in [
        (
            &["-m", "512m"][..],
            "update the memoryswap at the same time",
        ),
        (&["--blkio-weight", "5"][..], "from 10 to 1000"),
    ] {
        let mut v = vec!["update"];
        v.extend_from_slice(args);
        v.push("up");
        let (code, _, err) = b.run(&v);
        assert_ne!(code, 0);
        assert!(err.contains(msg), "{err}");
    }
    assert_eq!(env.field("up", "{{.HostConfig.Memory}}"), "134217728");
    // A stopped container gets the new limits at its next start.
    b.ok(&["stop", "-t", "0", "up"]);
    b.ok(&["update", "-m", "100m", "--memory-swap", "200m", "up"]);
    b.ok(&["start", "up"]);
    assert_eq!(
        b.ok(&[
            "exec",
            "up",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes"
        ]),
        "104857600\n"
    );
    b.ok(&[
        "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "100",
    ]);
    let (code, _, err) = b.run(&["update", "--restart", "always", "gone"]);
    assert_ne!(code, 0);
    assert!(err.contains("AutoRemove"), "{err}");
    // rm -f of a --rm container is not an error when its monitor removed it first.
    assert_eq!(b.ok(&["rm", "-f", "gone"]), "gone\n");
}

#[test]
#[ignore = "needs root"]
fn attach_streams_are_recorded_as_docker_does() {
    let env = Env::with_busybox();
    let b = &env.b;
    b.ok(&["create", "--name", "plain", "busybox"]);
    b.ok(&[
        "create", "--name", "some", "-a", "stdin", "-a", "STDOUT", "busybox",
    ]);
    b.ok(&["run", "-d", "--name", "bg", "busybox", "true"]);
    let streams = "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}";
    assert_eq!(env.field("plain", streams), "false true true");
    assert_eq!(env.field("some", streams), "true true false");
    assert_eq!(env.field("bg", streams), "false false false");
    let (code, _, err) = b.run(&["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.to_lowercase().contains("conflicting options"), "{err}");
    // run -a stderr relays only stderr.
    let (code, out, err) = b.run(&[
        "run",
        "--rm",
        "-a",
        "stderr",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(code, 0);
    assert_eq!((out.as_str(), err.as_str()), ("", "err\n"));
}

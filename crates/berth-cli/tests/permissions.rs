//! What another user of the host can reach of a populated data root: nothing. Containers'
//! environments (the state database and config.json), logs, layers (with setuid binaries)
//! and running root filesystems are root's alone. Run as root (it switches to nobody).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Env;

/// Runs `script` as nobody (uid/gid 65534, no groups); returns (exit code, output).
fn as_nobody(script: &str) -> (i32, String) {
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
        ])
        .arg(script)
        .output()
        .expect("run setpriv (util-linux)");
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
#[ignore = "needs root"]
fn another_user_reaches_nothing() {
    let env = Env::with_busybox();
    let b = &env.b;
    // The temporary directory around the data root is open, like /var/lib: only Berth's
    // own modes may keep nobody out.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // An image whose layer holds a setuid-root binary.
    let tar = env.dir.path().join("suid.tar");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -e; d=$(mktemp -d); cp /bin/busybox $d/probe; chmod 4755 $d/probe; \
             tar -C $d --owner=0 --group=0 -cf {} probe; rm -rf $d",
            tar.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    b.ok(&["import", tar.to_str().unwrap(), "suid"]);
    let id = b
        .ok(&[
            "run",
            "-d",
            "--name",
            "secretive",
            "-e",
            "SECRET=hunter2",
            "busybox",
            "sh",
            "-c",
            "echo secret-output; sleep 30",
        ])
        .trim()
        .to_string();
    env.wait_for(10, "the log line", || {
        b.run(&["logs", "secretive"]).1.contains("secret-output")
    });
    let root = &b.root;
    let runroot = root.join("run");
    let dir = root.join("containers").join(&id);
    let log = dir.join(format!("{id}-json.log"));
    let layer = std::fs::read_dir(root.join("image/layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("probe"))
        .find(|p| p.exists())
        .expect("the probe's layer");
    assert_eq!(mode(&layer) & 0o4000, 0o4000, "the probe is setuid");
    // Modes as the engine leaves them.
    assert_eq!(mode(root), 0o700);
    assert_eq!(mode(&runroot), 0o700);
    assert_eq!(mode(&root.join("image")), 0o700);
    for f in [root.join("engine.db"), dir.join("config.json"), log.clone()] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    // And what nobody gets of them.
    let pid = env.field("secretive", "{{.State.Pid}}");
    for (what, script) in [
        ("list the data root", format!("ls {}", root.display())),
        (
            "read the state",
            format!("cat {}/engine.db", root.display()),
        ),
        (
            "read the config",
            format!("cat {}/config.json", dir.display()),
        ),
        ("read the log", format!("cat {}", log.display())),
        ("run the setuid probe", format!("{} id", layer.display())),
        ("list the run root", format!("ls {}", runroot.display())),
        (
            "read the rootfs",
            format!("ls {}/rootfs/etc", dir.display()),
        ),
        (
            "read the container's root",
            format!("ls /proc/{pid}/root/etc"),
        ),
    ] {
        let (code, out) = as_nobody(&script);
        assert_ne!(code, 0, "nobody could {what}: {out}");
        assert!(
            out.contains("Permission denied"),
            "{what}: expected a refusal, got: {out}"
        );
        assert!(
            !out.contains("hunter2") && !out.contains("secret-output"),
            "{what}: {out}"
        );
    }
    // A root that an older berth (or a user) left open is closed again on first use.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.ok(&["ps"]);
    assert_eq!(mode(root), 0o700);
}

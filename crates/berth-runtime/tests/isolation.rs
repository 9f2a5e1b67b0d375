//! Security and namespace settings: seccomp, user namespaces, joining namespaces by path,
//! rlimits and OOM score on this host, sysctls, --no-pivot, preserved descriptors, and
//! terminals (console socket and `run` with a pty).

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Stdio;

use common::{BIN, Env, require_root, uid};
use serde_json::json;

#[test]
#[ignore = "needs root"]
fn seccomp_profile_is_enforced() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/x && echo made; chmod 600 /tmp 2>&1; echo done",
    ]);
    env.config["root"]["readonly"] = json!(false);
    env.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 384, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_KILL"}
        ]
    });
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(!out.contains("made"), "mkdir was allowed: {out}");
    assert!(
        err.contains("Permission denied"),
        "errnoRet 13 is EACCES: {err}"
    );
    assert!(
        out.contains("Operation not permitted"),
        "chmod 600 denied: {out}"
    );
    assert!(out.contains("done"));

    // An unknown action is refused at create, naming the field.
    env.config["linux"]["seccomp"]["defaultAction"] = json!("SCMP_ACT_EXPLODE");
    env.write_config();
    let (code, _, err) = env.run_container();
    assert_eq!(code, 1);
    assert!(err.contains("linux.seccomp.defaultAction"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn user_namespace_maps_ids() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "cat /proc/self/uid_map; id -u; touch /tmp/f && stat -c %u /tmp/f",
    ]);
    // The container's root is host uid 100000; give it ownership of its rootfs.
    let rootfs = env.bundle.join("rootfs");
    let st = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(st.success());
    env.config["root"]["readonly"] = json!(false);
    let mut ns = env.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .clone();
    ns.push(json!({"type": "user"}));
    env.config["linux"]["namespaces"] = json!(ns);
    env.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    env.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    let first: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["0", "100000", "65536"], "{out}");
    assert!(
        out.contains("\n0\n0\n"),
        "root inside, owning its files: {out}"
    );
    let host_uid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(rootfs.join("tmp/f")).unwrap());
    assert_eq!(host_uid, 100000);

    // exec joins the user namespace too (through an intermediate process).
    env.config["process"]["args"] = json!(["/bin/sleep", "100"]);
    env.write_config();
    let id = uid("userns-exec");
    let b = env.bundle.to_string_lossy().into_owned();
    env.ok(&["run", "-d", "--bundle", &b, &id]);
    let out = env.ok(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    env.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "needs root"]
fn namespaces_can_be_joined_by_path() {
    require_root();
    let mut a = Env::new(&["/bin/sleep", "100"]);
    a.config["hostname"] = json!("shared-uts");
    a.write_config();
    let ida = uid("nsa");
    let ba = a.bundle.to_string_lossy().into_owned();
    a.ok(&["run", "-d", "--bundle", &ba, &ida]);
    let pid = a.state(&ida)["pid"].as_i64().unwrap();

    let mut b = Env::new(&[
        "/bin/sh",
        "-c",
        "hostname; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let ns: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str().unwrap() {
            "uts" => json!({"type": "uts", "path": format!("/proc/{pid}/ns/uts")}),
            "pid" => json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")}),
            "network" => json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}),
            _ => n.clone(),
        })
        .collect();
    b.config["linux"]["namespaces"] = json!(ns);
    b.config["hostname"] = serde_json::Value::Null;
    b.write_config();
    let (code, out, err) = b.run_container();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "shared-uts", "{out}");
    assert!(
        lines[1].parse::<u32>().unwrap() >= 2,
        "sees A's sleep too: {out}"
    );
    assert_eq!(
        lines[2].trim(),
        "/bin/sleep 100",
        "pid 1 is A's init: {out}"
    );
    a.ok(&["delete", "--force", &ida]);
}

#[test]
#[ignore = "needs root"]
fn host_limits_give_clear_errors() {
    require_root();
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let has_sys_resource = caps_has_sys_resource();
    let mut env = Env::new(&["/bin/true"]);
    env.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "hard": hard + 1000, "soft": 1024}]);
    env.write_config();
    let (code, _, err) = env.run_container();
    if has_sys_resource {
        assert_eq!(code, 0, "{err}");
    } else {
        assert_eq!(code, 1);
        assert!(
            err.contains("process.rlimits RLIMIT_NOFILE") && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
    }
    let mut env = Env::new(&["/bin/sh", "-c", "cat /proc/self/oom_score_adj"]);
    env.config["process"]["oomScoreAdj"] = json!(-500);
    env.write_config();
    let (code, out, err) = env.run_container();
    if has_sys_resource {
        assert_eq!(out.trim(), "-500", "{err}");
    } else {
        assert_eq!(code, 1);
        assert!(
            err.contains("process.oomScoreAdj -500") && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
    }
    // A raise is always allowed.
    env.config["process"]["oomScoreAdj"] = json!(300);
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "300");
}

fn caps_has_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    u64::from_str_radix(eff, 16).unwrap() & (1 << 24) != 0
}

#[test]
#[ignore = "needs root"]
fn sysctl_no_pivot_and_preserved_fds() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward; cat <&3",
    ]);
    env.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    env.write_config();
    let data = env.tmp.path().join("fd3");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    let id = uid("misc");
    let mut c = std::process::Command::new(BIN);
    c.arg("--root")
        .arg(&env.root)
        .args(["run", "--no-pivot", "--preserve-fds", "1", "--bundle"]);
    c.arg(&env.bundle).arg(&id);
    let fd = f.as_raw_fd();
    // SAFETY: dup2 in the child before exec, onto descriptor 3 which the runtime passes on.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
            // dup2 onto itself would keep close-on-exec: clear it explicitly then.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\nthrough fd 3\n");
    // A sysctl that is not namespaced would change the host: refused.
    env.config["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    env.write_config();
    let (code, _, err) = env.run_container();
    assert_eq!(code, 1);
    assert!(err.contains("linux.sysctl.kernel.panic"), "{err}");
}

fn recv_fd(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let (s, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the descriptor just arrived over SCM_RIGHTS and is ours.
            return unsafe { std::os::fd::FromRawFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor received");
}

fn read_until(f: &mut std::fs::File, needle: &str) -> String {
    let mut acc = String::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !acc.contains(needle) && std::time::Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => acc.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    acc
}

#[test]
#[ignore = "needs root"]
fn terminal_through_console_socket() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "tty; stty size; echo ready; read line; echo got-$line",
    ]);
    env.config["process"]["terminal"] = json!(true);
    env.config["process"]["consoleSize"] = json!({"height": 40, "width": 132});
    env.write_config();
    let sock = env.tmp.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = uid("tty");
    let b = env.bundle.to_string_lossy().into_owned();
    let t = std::thread::spawn(move || recv_fd(&listener));
    env.ok(&[
        "create",
        "--console-socket",
        &sock.to_string_lossy(),
        "--bundle",
        &b,
        &id,
    ]);
    let master = t.join().unwrap();
    env.ok(&["start", &id]);
    let mut f = std::fs::File::from(master);
    let out = read_until(&mut f, "ready");
    assert!(
        out.contains("/dev/console") || out.contains("/dev/pts/"),
        "{out}"
    );
    assert!(out.contains("40 132"), "{out}");
    f.write_all(b"hello\n").unwrap();
    let out = read_until(&mut f, "got-hello");
    assert!(out.contains("got-hello"), "{out}");
    env.wait_status(&id, "stopped");
    env.ok(&["delete", &id]);
    // Without a console socket, create refuses a terminal.
    let out = env.run(&["create", "--bundle", &b, &uid("tty")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--console-socket"));
}

#[test]
#[ignore = "needs root"]
fn run_relays_its_own_terminal() {
    require_root();
    let mut env = Env::new(&["/bin/sh"]);
    env.config["process"]["terminal"] = json!(true);
    env.write_config();
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let id = uid("runtty");
    let mut c = std::process::Command::new(BIN);
    c.arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg(&id);
    c.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(slave);
    let mut m = std::fs::File::from(pty.master);
    m.write_all(b"echo hi-$((40+2)); exit 7\n").unwrap();
    let out = read_until(&mut m, "hi-42");
    assert!(out.contains("hi-42"), "{out}");
    let st = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(st.code(), Some(7), "{err}");
}

#[test]
#[ignore = "needs root"]
fn time_namespace_domainname_umask_and_recursive_read_only() {
    require_root();
    let mut env = Env::new(&[
        "/bin/sh",
        "-c",
        "cut -d. -f1 /proc/uptime; cat /proc/sys/kernel/domainname; umask; \
         touch /data/x 2>/dev/null && echo data-rw || echo data-ro; \
         touch /data/sub/y 2>/dev/null && echo sub-rw || echo sub-ro",
    ]);
    let mut ns = env.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .clone();
    ns.push(json!({"type": "time"}));
    env.config["linux"]["namespaces"] = json!(ns);
    env.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1_000_000, "nanosecs": 0}});
    env.config["domainname"] = json!("example.test");
    env.config["process"]["user"]["umask"] = json!(0o077);
    // A host directory with a mount inside it, bound recursively read-only ("rro").
    let host = env.tmp.path().join("data");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    let mut mounts = env.config["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": host,
                       "options": ["rbind", "rro"]}),
    );
    env.config["mounts"] = json!(mounts);
    env.write_config();
    let (code, out, err) = env.run_container();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let uptime: u64 = lines[0].parse().unwrap();
    assert!(uptime >= 1_000_000, "boottime offset applied: {out}");
    assert_eq!(lines[1], "example.test");
    assert_eq!(lines[2], "0077");
    assert_eq!(&lines[3..], ["data-ro", "sub-ro"], "{out}");
}

/// With --no-pivot the host's /proc is still beneath the chroot; a process that may create
/// a user namespace must not be able to mount a fresh procfs because of it. runc refuses
/// the same mount; both runtimes must agree.
#[test]
#[ignore = "needs root"]
fn no_pivot_leaves_no_procfs_to_mount() {
    require_root();
    assert!(
        std::path::Path::new("/usr/sbin/runc").exists() || common::which("runc"),
        "runc is missing: apt-get install runc"
    );
    let probe = "unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED' 2>&1; echo done";
    let mut env = Env::new(&["/bin/sh", "-c", probe]);
    env.config["root"]["readonly"] = json!(false);
    // The capabilities that let it map root in a user namespace (Docker's default set has
    // SETFCAP, SETUID and SETGID).
    for set in ["bounding", "effective", "permitted"] {
        env.config["process"]["capabilities"][set] = json!([
            "CAP_SETFCAP",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_KILL",
            "CAP_AUDIT_WRITE"
        ]);
    }
    for set in ["inheritable", "ambient"] {
        if let Some(caps) = env.config["process"]["capabilities"].as_object_mut() {
            caps.remove(set);
        }
    }
    env.write_config();
    let b = env.bundle.to_string_lossy().into_owned();
    let ours = env.ok(&["run", "--no-pivot", "--bundle", &b, &uid("nopivot")]);
    let runc_root = env.tmp.path().join("runc-state");
    let theirs = std::process::Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["run", "--no-pivot", "--bundle", &b, &uid("nopivot-runc")])
        .stdin(Stdio::null())
        .output()
        .expect("run runc");
    let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
    assert!(theirs.contains("permission denied"), "runc: {theirs}");
    assert!(
        !ours.contains("MOUNTED"),
        "berth-runtime mounted a procfs: {ours}"
    );
    assert!(ours.contains("permission denied"), "berth-runtime: {ours}");
    // Without --no-pivot it was refused already.
    let pivoted = env.ok(&["run", "--bundle", &b, &uid("pivot")]);
    assert!(pivoted.contains("permission denied"), "{pivoted}");
}

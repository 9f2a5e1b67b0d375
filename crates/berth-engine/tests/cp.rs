//! `cp` through the engine, as Docker does it: final symlinks copied as links unless `-L`,
//! `-a` keeping owners, `SRC/.` copying contents only, a missing destination taking the
//! source's content under its own name, Docker's refusals, and tar streams. Real
//! containers: run as root with `--include-ignored`.

mod engine_common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_engine::{CopyError, CopyOptions, Error, ErrorKind, StartMode};
use engine_common::Env;

/// (Runs again when a test restarts the container, so it must succeed twice.)
const SETUP: &str = "mkdir -p /data/d/sub /data/empty && echo f > /data/d/f && \
    echo g > /data/d/sub/g && ln -sf /data/d/f /data/link && ln -sfn d /data/dlink && \
    chown 1234:5678 /data/d/f && chmod 4755 /data/d/f && \
    { [ -e /data/null ] || mknod /data/null c 1 3; }";

/// A running container whose /data holds a small tree; returns (env, id, pid, host dir).
fn setup() -> (Env, String, i32, PathBuf) {
    let env = Env::new();
    let id = env.create("files", env.config(&format!("{SETUP} && exec sleep 1000")));
    env.engine.start(&id, StartMode::Now).expect("start");
    let mut pid = 0;
    env.wait_for(10, "the setup", || {
        pid = env.engine.container(&id).map(|c| c.state.pid).unwrap_or(0);
        pid > 0
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
    });
    let host = env.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    (env, id, pid, host)
}

const PLAIN: CopyOptions = CopyOptions {
    archive: false,
    follow_link: false,
};
const FOLLOW: CopyOptions = CopyOptions {
    archive: false,
    follow_link: true,
};
const ARCHIVE: CopyOptions = CopyOptions {
    archive: true,
    follow_link: false,
};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Names and types in a tar stream.
fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType)> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            (p, e.header().entry_type())
        })
        .collect()
}

fn copy_error(r: berth_engine::Result<u64>) -> CopyError {
    match r {
        Err(Error::Copy(e)) => e,
        other => panic!("expected a copy error, got {other:?}"),
    }
}

#[test]
#[ignore = "needs root"]
fn final_symlinks_are_links_unless_followed() {
    let (env, id, pid, host) = setup();
    let e = &env.engine;
    // Container → host.
    e.copy_to_host(&id, "/data/link", &host.join("l1"), &PLAIN)
        .unwrap();
    assert_eq!(
        std::fs::read_link(host.join("l1")).unwrap(),
        Path::new("/data/d/f")
    );
    e.copy_to_host(&id, "/data/link", &host.join("l2"), &FOLLOW)
        .unwrap();
    assert_eq!(read(&host.join("l2")), "f\n");
    // -L on a link to a directory, into an existing directory: named as the link.
    std::fs::create_dir(host.join("into")).unwrap();
    e.copy_to_host(&id, "/data/dlink", &host.join("into"), &FOLLOW)
        .unwrap();
    assert_eq!(read(&host.join("into/dlink/sub/g")), "g\n");
    // As a stream.
    let mut out = Vec::new();
    e.copy_out(&id, "/data/link", &mut out, &PLAIN).unwrap();
    assert_eq!(
        entries(&out),
        vec![("link".to_string(), tar::EntryType::Symlink)]
    );
    let mut out = Vec::new();
    e.copy_out(&id, "/data/link", &mut out, &FOLLOW).unwrap();
    assert_eq!(
        entries(&out),
        vec![("link".to_string(), tar::EntryType::Regular)]
    );
    // Host → container.
    std::fs::write(host.join("target"), "host\n").unwrap();
    std::os::unix::fs::symlink(host.join("target"), host.join("hlink")).unwrap();
    e.copy_from_host(&host.join("hlink"), &id, "/tmp/h1", &PLAIN)
        .unwrap();
    let inside = PathBuf::from(format!("/proc/{pid}/root/tmp"));
    assert_eq!(
        std::fs::read_link(inside.join("h1")).unwrap(),
        host.join("target")
    );
    e.copy_from_host(&host.join("hlink"), &id, "/tmp/h2", &FOLLOW)
        .unwrap();
    assert_eq!(read(&inside.join("h2")), "host\n");
}

#[test]
#[ignore = "needs root"]
fn archive_mode_keeps_owners() {
    let (env, id, pid, host) = setup();
    let e = &env.engine;
    let inside = PathBuf::from(format!("/proc/{pid}/root/tmp"));
    // Container → host: the caller's without -a (set-id bits dropped), kept with -a.
    e.copy_to_host(&id, "/data/d/f", &host.join("mine"), &PLAIN)
        .unwrap();
    let m = std::fs::metadata(host.join("mine")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    assert_eq!(m.permissions().mode() & 0o7777, 0o755, "set-uid kept");
    e.copy_to_host(&id, "/data/d/f", &host.join("kept"), &ARCHIVE)
        .unwrap();
    let m = std::fs::metadata(host.join("kept")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    // Host → container: root without -a, kept with -a.
    let src = host.join("owned");
    std::fs::write(&src, "owned\n").unwrap();
    std::os::unix::fs::chown(&src, Some(4321), Some(8765)).unwrap();
    e.copy_from_host(&src, &id, "/tmp/as-root", &PLAIN).unwrap();
    let m = std::fs::metadata(inside.join("as-root")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    e.copy_from_host(&src, &id, "/tmp/as-is", &ARCHIVE).unwrap();
    let m = std::fs::metadata(inside.join("as-is")).unwrap();
    assert_eq!((m.uid(), m.gid()), (4321, 8765));
    // A tar stream keeps the container's owners.
    let mut out = Vec::new();
    e.copy_out(&id, "/data/d/f", &mut out, &PLAIN).unwrap();
    let mut ar = tar::Archive::new(&out[..]);
    let first = ar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(
        (first.header().uid().unwrap(), first.header().gid().unwrap()),
        (1234, 5678)
    );
}

#[test]
#[ignore = "needs root"]
fn destinations_follow_dockers_rules() {
    let (env, id, pid, host) = setup();
    let e = &env.engine;
    let inside = PathBuf::from(format!("/proc/{pid}/root"));
    // Into an existing directory: under the source's name; `SRC/.`: its contents only.
    std::fs::create_dir(host.join("whole")).unwrap();
    e.copy_to_host(&id, "/data/d", &host.join("whole"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("whole/d/sub/g")), "g\n");
    std::fs::create_dir(host.join("contents")).unwrap();
    e.copy_to_host(&id, "/data/d/.", &host.join("contents"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("contents/sub/g")), "g\n");
    assert!(!host.join("contents/d").exists());
    // A missing destination takes the content under its own name.
    e.copy_to_host(&id, "/data/d", &host.join("renamed"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("renamed/f")), "f\n");
    e.copy_to_host(&id, "/data/d/.", &host.join("renamed2"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("renamed2/sub/g")), "g\n");
    e.copy_to_host(&id, "/data/d/f", &host.join("file"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("file")), "f\n");
    // A file replaces a file; a file into a directory keeps its name.
    e.copy_to_host(&id, "/data/d/sub/g", &host.join("file"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("file")), "g\n");
    e.copy_to_host(&id, "/data/d/sub/g", &host.join("whole"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("whole/g")), "g\n");
    // The same rules into the container.
    e.copy_from_host(&host.join("whole"), &id, "/data/empty", &PLAIN)
        .unwrap();
    assert_eq!(read(&inside.join("data/empty/whole/d/f")), "f\n");
    e.copy_from_host(&host.join("whole/."), &id, "/data/empty", &PLAIN)
        .unwrap();
    assert_eq!(read(&inside.join("data/empty/g")), "g\n");
    e.copy_from_host(&host.join("whole"), &id, "/data/new", &PLAIN)
        .unwrap();
    assert_eq!(read(&inside.join("data/new/d/sub/g")), "g\n");
    e.copy_from_host(&host.join("file"), &id, "/data/d/f", &PLAIN)
        .unwrap();
    assert_eq!(read(&inside.join("data/d/f")), "g\n");
    // Through a symlink at the destination, resolved in the container.
    e.copy_from_host(&host.join("file"), &id, "/data/dlink/via-link", &PLAIN)
        .unwrap();
    assert_eq!(read(&inside.join("data/d/via-link")), "g\n");

    // Docker's refusals.
    let err = copy_error(e.copy_to_host(&id, "/data/d", &host.join("file"), &PLAIN));
    assert!(matches!(err, CopyError::DirectoryOntoFile { .. }), "{err}");
    let err = copy_error(e.copy_from_host(&host.join("whole"), &id, "/data/d/f", &PLAIN));
    assert!(matches!(err, CopyError::DirectoryOntoFile { .. }), "{err}");
    let err = copy_error(e.copy_to_host(&id, "/data/d/f", &host.join("nodir/"), &PLAIN));
    assert!(matches!(err, CopyError::NoSuchDirectory(_)), "{err}");
    let err = copy_error(e.copy_to_host(&id, "/data/d/f", &host.join("no/such/x"), &PLAIN));
    assert!(matches!(err, CopyError::NoSuchDirectory(_)), "{err}");
    let err = copy_error(e.copy_to_host(&id, "/data/d/f/.", &host.join("x"), &PLAIN));
    assert!(matches!(err, CopyError::NotADirectory(_)), "{err}");
    let err = copy_error(e.copy_in(&id, "/data/d/f", &mut &b""[..], &PLAIN));
    assert!(matches!(err, CopyError::StreamDestination(_)), "{err}");
    let r = e.copy_to_host(&id, "/no/such", &host.join("x"), &PLAIN);
    let err = r.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("/no/such"), "{err}");
    // A directory entry onto a file (and the reverse) is refused, as Docker does.
    std::fs::create_dir_all(host.join("clash")).unwrap();
    std::fs::write(host.join("clash/sub"), "file\n").unwrap();
    let r = e.copy_to_host(&id, "/data/d/.", &host.join("clash"), &PLAIN);
    assert!(
        matches!(
            r,
            Err(Error::Image(berth_image::Error::RefusedEntry { .. }))
        ),
        "{r:?}"
    );
    assert_eq!(read(&host.join("clash/sub")), "file\n");
    // Device nodes are not created on the host.
    let r = e.copy_to_host(&id, "/data/null", &host.join("null"), &PLAIN);
    assert!(
        matches!(
            r,
            Err(Error::Image(berth_image::Error::RefusedEntry { .. }))
        ),
        "{r:?}"
    );
    assert!(!host.join("null").exists());
}

#[test]
#[ignore = "needs root"]
fn stopped_containers_and_streams() {
    let (env, id, _pid, host) = setup();
    let e = &env.engine;
    e.stop(&id, Some(std::time::Duration::ZERO), None)
        .expect("stop");
    e.copy_to_host(&id, "/data/d/sub", &host.join("sub"), &PLAIN)
        .unwrap();
    assert_eq!(read(&host.join("sub/g")), "g\n");
    // A stream out and back in, into a stopped container.
    let mut out = Vec::new();
    let n = e.copy_out(&id, "/data/d/.", &mut out, &PLAIN).unwrap();
    assert_eq!(n, out.len() as u64);
    let names: Vec<String> = entries(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["./", "f", "sub/", "sub/g"]);
    let n = e.copy_in(&id, "/tmp", &mut &out[..], &PLAIN).unwrap();
    assert_eq!(n, out.len() as u64);
    e.start(&id, StartMode::Now).expect("start");
    let mut back = Vec::new();
    e.copy_out(&id, "/tmp/sub/g", &mut back, &PLAIN).unwrap();
    assert_eq!(
        entries(&back),
        vec![("g".to_string(), tar::EntryType::Regular)]
    );
}

//! Kill `berth load`, `import`, `run`, `create` and `rm` with SIGKILL at random points; every
//! later operation succeeds and `berth system check` finds nothing wrong.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Berth;

/// A tiny xorshift generator seeded from the clock (printed, to reproduce a failure).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("BERTH_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .and_then(|d| u64::try_from(d.as_nanos()).ok())
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("crash test seed: {seed} (set BERTH_TEST_SEED to repeat)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Starts `berth ARGS` with its output discarded.
fn spawn_quiet(b: &Berth, args: &[&str]) -> std::process::Child {
    b.cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn timed(b: &Berth, args: &[&str]) -> Duration {
    let start = Instant::now();
    b.ok(args);
    start.elapsed()
}

#[test]
fn sigkill_during_load_and_import_leaves_a_usable_store() {
    let t = tempfile::tempdir().unwrap();
    let tar = common::busybox_tar(t.path(), 24);
    let tar = tar.to_str().unwrap().to_owned();
    // An archive to load, made in a separate store.
    let seed = Berth::new(&t.path().join("seed"));
    seed.ok(&["import", &tar, "big:1"]);
    let archive = t.path().join("big-archive.tar");
    seed.ok(&["save", "-o", archive.to_str().unwrap(), "big:1"]);
    let archive = archive.to_str().unwrap().to_owned();
    let id = seed.ok(&["images", "-q", "--no-trunc"]).trim().to_owned();

    // Calibrate the kill window on a scratch store.
    let scratch = Berth::new(&t.path().join("scratch"));
    let load_time = timed(&scratch, &["load", "-q", "-i", &archive]);
    let import_time = timed(&scratch, &["import", &tar, "x:1"]);

    let b = Berth::new(&t.path().join("root"));
    let mut rng = Rng::new();
    let rounds = 16;
    let mut killed = 0;
    for i in 0..rounds {
        let (args, window): (Vec<&str>, Duration) = if i % 2 == 0 {
            (vec!["load", "-q", "-i", &archive], load_time)
        } else {
            (vec!["import", &tar, "imp:1"], import_time)
        };
        let mut child = spawn_quiet(&b, &args);
        let wait = rng.below(u64::try_from(window.as_micros() * 11 / 10).unwrap());
        std::thread::sleep(Duration::from_micros(wait));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    eprintln!("killed {killed} of {rounds} operations mid-way");
    // Everything works afterwards.
    let out = b.ok(&["load", "-i", &archive]);
    assert!(out.contains("Loaded image: big:1"), "{out}");
    b.ok(&["import", &tar, "imp:1"]);
    let check = b.ok(&["system", "check"]);
    eprintln!("first check after the kills:\n{check}");
    assert!(!check.contains("problem:"), "{check}");
    assert_eq!(
        b.ok(&["system", "check", "--verify"]).trim(),
        "no problems found"
    );
    let ids = b.ok(&["images", "-q", "--no-trunc", "big"]);
    assert_eq!(ids.trim(), id);
    // The store is fully usable: save round-trips.
    let again = t.path().join("again.tar");
    b.ok(&["save", "-o", again.to_str().unwrap(), "big:1"]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&archive).unwrap()
    );
}

/// Monitors (and anything else) still running with `root` in their command line.
fn processes_of(root: &std::path::Path) -> Vec<i32> {
    let monitor = &common::monitor_bin();
    common::pids_of(monitor)
        .into_iter()
        .filter(|p| common::mentions(*p, root))
        .collect()
}

#[test]
#[ignore = "needs root"]
fn sigkill_during_container_commands_leaves_a_usable_store() {
    let env = common::Env::with_busybox();
    let b = &env.b;
    let mut rng = Rng::new();
    for i in 0..40 {
        let ids = b.ok(&["ps", "-aq"]);
        let some: Vec<&str> = ids.lines().take(2).collect();
        let mut args: Vec<&str> = match i % 4 {
            0 => vec!["run", "-d", "busybox", "sleep", "100"],
            1 => vec!["run", "--rm", "busybox", "true"],
            2 => vec!["rm", "-f"],
            _ => vec!["create", "-v", "/data", "busybox"],
        };
        if args[0] == "rm" {
            if some.is_empty() {
                continue;
            }
            args.extend(some);
        }
        let mut child = spawn_quiet(b, &args);
        std::thread::sleep(Duration::from_millis(rng.below(40)));
        let _ = child.kill();
        let _ = child.wait();
    }
    // Every container is listed, inspectable and removable; the store checks clean.
    let ids = b.ok(&["ps", "-aq", "--no-trunc"]);
    for id in ids.lines() {
        b.ok(&["inspect", id]);
    }
    let mut rm = vec!["rm", "-f", "-v"];
    rm.extend(ids.lines());
    if rm.len() > 3 {
        b.ok(&rm);
    }
    b.ok(&["volume", "prune", "-f"]);
    b.ok(&["system", "check"]);
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(b.ok(&["run", "--rm", "busybox", "echo", "ok"]), "ok\n");
    // A monitor whose starter died before attaching gives up at once (the deadline only
    // bounds a failure).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !processes_of(&b.root).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_of(&b.root), Vec::<i32>::new(), "monitors left");
    assert!(
        env.leftover_mounts().is_empty(),
        "{:?}",
        env.leftover_mounts()
    );
    let left: Vec<_> = std::fs::read_dir(b.root.join("containers"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "container directories left: {left:?}");
}

//! `run --rm` killed before its container starts: the container (and whatever the start
//! had prepared) is removed by the next command that sees it, not left *created* forever.
//! Kills at random points of `run --rm`, then one `ps -a` must show nothing and nothing
//! may stay mounted. Root only.

mod common;

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Env;

#[test]
#[ignore = "needs root"]
fn killed_run_rm_leaves_no_container() {
    let env = Env::with_busybox();
    let b = &env.b;
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() as u64 | 1);
    eprintln!("seed {seed}");
    let iterations: u64 = std::env::var("BERTH_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut killed_early = 0;
    for i in 0..iterations {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // 2-40 ms: create, the snapshot, the start, the monitor's attach wait.
        let delay = Duration::from_millis(2 + seed % 39);
        let mut child = b
            .cmd()
            .args(["run", "--rm", "busybox", "sh", "-c", "sleep 0.2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_early += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // A container that did start runs out its 0.2 s and removes itself.
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    assert!(killed_early > 0, "no run was killed before it ended");
    // Whatever started is gone within its run time; whatever did not is removed now.
    env.wait_for(10, "every --rm container to go", || {
        b.ok(&["ps", "-aq"]).trim().is_empty()
    });
    assert!(
        env.leftover_mounts().is_empty(),
        "{:?}",
        env.leftover_mounts()
    );
}

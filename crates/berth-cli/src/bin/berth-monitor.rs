//! `berth-monitor`: the per-container monitor process (see `berth_engine::monitor`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = match berth_engine::monitor::Args::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            std::process::exit(2);
        }
    };
    // Leave the starter at once: it reaps this first process, and the monitor carries on as
    // an orphan of init, in its own session, outside the starter's process tree.
    // SAFETY: single-threaded here; the child only continues this program.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            eprintln!("berth-monitor: fork: {e}");
            std::process::exit(1);
        }
    }
    berth_engine::monitor::run(a)
}

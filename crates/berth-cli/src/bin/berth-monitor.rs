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
    // Its own session, away from the starter's terminal and its signals. The starter does
    // not wait for us: when it exits we are reparented to init (or the nearest subreaper).
    let _ = nix::unistd::setsid();
    berth_engine::monitor::run(a)
}

//! `berth-monitor`: the per-container monitor process (see `berth_engine`'s monitor module),
//! and the helper that runs `exec` processes for callers that cannot fork.

fn main() {
    berth_engine::monitor_main()
}

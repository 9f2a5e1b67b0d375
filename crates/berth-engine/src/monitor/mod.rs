//! The per-container monitor: one small process per running container (the `berth-monitor`
//! binary). It creates the container through the runtime library, holds its stdio (pipes or
//! a pty), writes its log, serves attach clients, records its exit status (OOM kills
//! included), applies the restart policy, runs health checks, and exits once the container
//! has stopped for good. No other Berth process is on the container's data path, so any of
//! them can be killed without touching the container.

mod dns;
mod health;
mod io;
mod keeper;
pub(crate) mod trim;

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_runtime::Runtime;

use crate::config::{RestartName, RestartPolicy};
use crate::container::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// Command-line arguments of the monitor.
#[derive(Debug, Clone)]
pub struct Args {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub id: String,
    /// Write end of the pipe the starter reads: "ok PID", "created" or "error CODE MSG".
    pub notify_fd: RawFd,
    /// Create the container but start it only when an attach client asks (`run` without -d);
    /// the pid of the starter, who will attach.
    pub attach_wait: Option<i32>,
    /// The protocol version the starter speaks (`--proto`; 1 when not given).
    pub proto: u32,
    /// `--adopt`: take over a container whose monitor died, instead of starting one.
    pub adopt: bool,
    /// `--held ROLE=FD`: what the dead monitor's keeper kept for the adopter.
    pub held: Vec<(keeper::Role, RawFd)>,
    /// `--ready FD`: closed once the adopter is recorded as the container's monitor.
    pub ready_fd: Option<RawFd>,
}

impl Args {
    /// Parses `--root R --runroot RR --id ID --notify-fd N [--proto V]
    /// [--attach-wait STARTER_PID]`.
    pub fn parse(args: &[String]) -> Result<Args> {
        let mut a = Args {
            root: PathBuf::new(),
            runroot: PathBuf::new(),
            id: String::new(),
            notify_fd: -1,
            attach_wait: None,
            proto: 1,
            adopt: false,
            held: Vec::new(),
            ready_fd: None,
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            if k == "--adopt" {
                a.adopt = true;
                continue;
            }
            let mut val = || {
                it.next().cloned().ok_or_else(|| {
                    Error::invalid("monitor arguments", format!("{k} needs a value"))
                })
            };
            match k.as_str() {
                "--root" => a.root = PathBuf::from(val()?),
                "--runroot" => a.runroot = PathBuf::from(val()?),
                "--id" => a.id = val()?,
                "--notify-fd" => {
                    a.notify_fd = val()?
                        .parse()
                        .map_err(|_| Error::invalid("monitor arguments", "bad --notify-fd"))?
                }
                "--proto" => {
                    a.proto = val()?
                        .parse()
                        .map_err(|_| Error::invalid("monitor arguments", "bad --proto"))?
                }
                "--held" => {
                    let v = val()?;
                    let held = v
                        .split_once('=')
                        .and_then(|(r, n)| Some((keeper::Role::from_name(r)?, n.parse().ok()?)))
                        .filter(|(_, n): &(keeper::Role, RawFd)| *n >= 3)
                        .ok_or_else(|| {
                            Error::invalid("monitor arguments", format!("bad --held {v}"))
                        })?;
                    a.held.push(held);
                }
                "--ready" => {
                    a.ready_fd = Some(
                        val()?
                            .parse()
                            .ok()
                            .filter(|n: &RawFd| *n >= 3)
                            .ok_or_else(|| Error::invalid("monitor arguments", "bad --ready"))?,
                    )
                }
                "--attach-wait" => {
                    a.attach_wait = Some(val()?.parse().map_err(|_| {
                        Error::invalid("monitor arguments", "bad --attach-wait pid")
                    })?)
                }
                other => {
                    return Err(Error::invalid(
                        "monitor arguments",
                        format!("unknown {other}"),
                    ));
                }
            }
        }
        if a.id.is_empty() || (a.notify_fd < 0 && !a.adopt) || a.root.as_os_str().is_empty() {
            return Err(Error::invalid(
                "monitor arguments",
                "--root, --id and --notify-fd (or --adopt) are required",
            ));
        }
        crate::proto::check_starter(a.proto)?;
        Ok(a)
    }
}

/// The starter's end of the notify pipe.
pub(crate) struct Notify(Option<OwnedFd>);

impl Notify {
    fn send(&mut self, msg: &str) {
        if let Some(fd) = &self.0 {
            let _ = nix::unistd::write(fd, format!("{msg}\n").as_bytes());
        }
    }

    fn close(&mut self) {
        self.0 = None;
    }
}

/// Whether the restart policy brings the container back after it exited with `code`.
pub fn should_restart(p: &RestartPolicy, code: i32, manually_stopped: bool, restarts: u32) -> bool {
    if manually_stopped {
        return false;
    }
    match p.name {
        RestartName::No => false,
        RestartName::Always | RestartName::UnlessStopped => true,
        RestartName::OnFailure => code != 0 && (p.max_retries == 0 || restarts < p.max_retries),
    }
}

/// The delay before restart `n` (0-based): 100 ms doubling, at most a minute, as Docker.
pub fn restart_delay(n: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << n.min(10))).min(Duration::from_secs(60))
}

/// The `berth-monitor` binary: `berth-monitor --root ... --id ... --notify-fd 3 ...` runs a
/// container's monitor; `berth-monitor exec --root ... --id ... --control-fd 3 ...` an exec
/// helper (`crate::exec`). Never returns.
pub fn main() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Only the descriptors the starter meant for us: 0-2, and the notify pipe or control
    // socket (3), or what a keeper held (3...). A starter from this berth closed the rest
    // already; one from an older berth may not have.
    let passed = args
        .iter()
        .filter(|a| *a == "--held" || *a == "--ready")
        .count();
    let first_free = 4 + u32::try_from(passed.saturating_sub(1)).unwrap_or(0);
    // SAFETY: close_range on descriptors no code of this process uses yet.
    unsafe { libc::syscall(libc::SYS_close_range, first_free, u32::MAX, 0u32) };
    if args.first().is_some_and(|a| a == "exec") {
        crate::exec::helper_main(&args[1..]);
    }
    let a = match Args::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            // Tell the starter why, when it said where to.
            let fd = args
                .iter()
                .position(|x| x == "--notify-fd")
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse::<RawFd>().ok());
            if let Some(fd) = fd.filter(|fd| *fd >= 3) {
                // SAFETY: the starter passed this descriptor for our notification.
                let mut n = Notify(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
                n.send(&format!("error 125 berth-monitor: {e}"));
            }
            eprintln!("berth-monitor: {e}");
            std::process::exit(2);
        }
    };
    // Its own session, away from the starter's terminal and its signals (the spawn made
    // one already; an older starter may not have).
    let _ = nix::unistd::setsid();
    run(a)
}

/// Runs the monitor. Never returns.
fn run(a: Args) -> ! {
    let mut notify = Notify(if a.notify_fd >= 0 {
        // SAFETY: the notify descriptor was passed to us by the starter and is ours to own.
        Some(unsafe { OwnedFd::from_raw_fd(a.notify_fd) })
    } else {
        None
    });
    // SAFETY: the keeper passed this descriptor for us to close once adopted.
    let ready = a.ready_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: each held descriptor was passed to us by the keeper and is ours to own.
    let held: Vec<(keeper::Role, OwnedFd)> = a
        .held
        .iter()
        .map(|(r, fd)| (*r, unsafe { OwnedFd::from_raw_fd(*fd) }))
        .collect();
    // An adopter takes its keeper at once, while it is small (a fork of it): it holds the
    // only copies of the container's stdio. A new monitor forks its keeper once the
    // container has started (off the start path; see `io::KEEPER_AFTER`).
    let keeper = if a.adopt {
        keeper::Keeper::start(&keeper::KeeperArgs {
            root: a.root.clone(),
            runroot: a.runroot.clone(),
            id: a.id.clone(),
        })
        .ok()
    } else {
        None
    };
    let code = match run_inner(&a, &mut notify, keeper, held, ready) {
        Ok(()) => 0,
        Err(e) => {
            notify.send(&format!("error {} {}", crate::exit_code_for(&e), e));
            // The attach socket goes with us (the runtime root keeps nothing of a failed run).
            if let Ok(engine) = Engine::open(&a.root, Some(&a.runroot)) {
                let _ = std::fs::remove_dir_all(engine.paths.run_dir(&a.id));
            }
            1
        }
    };
    std::process::exit(code)
}

fn run_inner(
    a: &Args,
    notify: &mut Notify,
    keeper: Option<keeper::Keeper>,
    held: Vec<(keeper::Role, OwnedFd)>,
    ready: Option<OwnedFd>,
) -> Result<()> {
    let engine = Engine::open(&a.root, Some(&a.runroot))?;
    let mut c = engine.db.find(&a.id)?;
    forget_start_only(&mut c);
    let run_dir = engine.paths.run_dir(&c.id);
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| Error::io(format!("create {}", run_dir.display()), e))?;
    let rt = Runtime::new(engine.paths.runtime_root())?;
    // An adopted container is watched as it is (or restarted now, if its monitor died in
    // the delay before a restart); otherwise each run begins with a create.
    let mut adopted_run = None;
    let mut m = if a.adopt {
        let Some(m) = io::Monitor::adopt(&engine, &c, notify, keeper, held, &rt)? else {
            // Another monitor is in charge.
            return Ok(());
        };
        // Recorded: the keeper that started us may go.
        drop(ready);
        match c.state.status {
            Status::Running | Status::Paused if m.has_init() => adopted_run = Some(true),
            // The runtime forgot it (or the host restarted): the exit status is lost.
            Status::Running | Status::Paused => adopted_run = Some(false),
            Status::Restarting => {}
            // Created (its starter's monitor died before the start) or already stopped.
            _ => {
                let mut m = m;
                let res = adopt_abandoned(&engine, &rt, &c);
                m.dismiss_keeper();
                let _ = std::fs::remove_dir_all(&run_dir);
                return res;
            }
        }
        m
    } else {
        io::Monitor::new(&engine, &c, notify, a.attach_wait, keeper)?
    };
    let res = supervise_runs(&engine, &rt, &c, &mut m, adopted_run);
    m.dismiss_keeper();
    let _ = std::fs::remove_dir_all(&run_dir);
    res
}

/// Drops from the monitor's copy of the container what only its start reads: the port
/// bindings and exposed ports (1,000 published ports are some 200 kB of small heap
/// objects, kept for the container's life by the monitor and, through the fork, its
/// keeper). The start that needs them (`Engine::start`, in the starter) reads the record;
/// the monitor's restarts keep the endpoint and ports of the run, and what it reads for
/// its decisions (`fresh`) comes from the store each time.
fn forget_start_only(c: &mut crate::Container) {
    c.config.host.port_bindings = Default::default();
    c.config.exposed_ports = Vec::new();
}

/// An adopted container that was not running: its runtime leftovers and mounts go, and an
/// auto-remove container that never started goes too.
fn adopt_abandoned(engine: &Engine, rt: &Runtime, c: &crate::Container) -> Result<()> {
    if let Ok(old) = rt.load(&c.id) {
        let _ = old.delete(true);
    }
    crate::teardown::unmount_rootfs(engine, &c.id)?;
    if c.state.status == Status::Created && c.config.host.auto_remove {
        engine.remove_records(c, true)?;
        engine.event("container", "destroy", c, &[]);
    }
    Ok(())
}

/// Runs the container (and again, as its restart policy says) until it is done for good.
/// `adopted`: the first run is an adopted one (Some(false): its exit status is lost).
fn supervise_runs(
    engine: &Engine,
    rt: &Runtime,
    c: &crate::Container,
    m: &mut io::Monitor<'_>,
    mut adopted: Option<bool>,
) -> Result<()> {
    // Names answer before the container runs (its namespace is pinned already); an
    // adopter answers again as soon as it is in charge.
    m.open_dns();
    loop {
        let status = match adopted.take() {
            Some(true) => m.supervise(rt)?,
            Some(false) => m.dead_init_code(),
            None => {
                // Leftovers of an earlier monitor (killed) are removed first.
                if let Ok(old) = rt.load(&c.id) {
                    let _ = old.delete(true);
                }
                let started = m.create(rt)?;
                if !started {
                    // Attach-wait: the starter's client asks for the start.
                    m.wait_for_start(rt)?;
                }
                m.supervise(rt)?
            }
        };
        let (code, oom) = m.finish_run(rt, status)?;
        let fresh = engine.db.find(&c.id)?;
        let restart = should_restart(
            &fresh.config.host.restart_policy,
            code,
            fresh.state.manually_stopped,
            fresh.state.restart_count,
        );
        // Docker releases the volumes before it logs the exit.
        crate::volumes::unmount_events(engine, &fresh);
        engine.die_event(&fresh, code);
        if oom {
            engine.event("container", "oom", &fresh, &[]);
        }
        if !restart {
            // Cleanup (--rm included) is done before the client hears of the exit, so
            // `run --rm` returns with the container gone, as Docker's.
            let res = crate::teardown::after_final_exit(engine, &fresh);
            m.last_exit(code);
            return res;
        }
        let n = fresh.state.restart_count;
        engine.db.update_state(&c.id, |s| {
            s.status = Status::Restarting;
            s.restart_count += 1;
            Ok(())
        })?;
        let deadline = Instant::now() + restart_delay(n);
        // Stop or rm during the delay wins over the restart.
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            if engine.db.find(&c.id)?.state.manually_stopped {
                engine.db.update_state(&c.id, |s| {
                    s.status = Status::Exited;
                    Ok(())
                })?;
                let res = crate::teardown::after_final_exit(engine, &engine.db.find(&c.id)?);
                m.last_exit(code);
                return res;
            }
        }
        // The next run mounts the volumes again, as Docker's start does.
        crate::volumes::mount_events(engine, &fresh);
        m.reopen_stdio()?;
    }
}

/// The starter side: waits for the monitor's notification on `fd`.
pub(crate) fn read_notify(fd: OwnedFd) -> Result<String> {
    let mut f = std::fs::File::from(fd);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    use std::io::Read;
    loop {
        match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read the monitor's notification", e)),
        }
    }
    let line = String::from_utf8_lossy(&buf).trim().to_string();
    if line.is_empty() {
        return Err(Error::Internal(
            "the container monitor exited without reporting".into(),
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_rules() {
        let p = |name, max| RestartPolicy {
            name,
            max_retries: max,
        };
        assert!(!should_restart(&p(RestartName::No, 0), 1, false, 0));
        assert!(should_restart(&p(RestartName::Always, 0), 0, false, 9));
        assert!(!should_restart(&p(RestartName::Always, 0), 0, true, 0));
        assert!(should_restart(&p(RestartName::OnFailure, 3), 1, false, 2));
        assert!(!should_restart(&p(RestartName::OnFailure, 3), 1, false, 3));
        assert!(!should_restart(&p(RestartName::OnFailure, 0), 0, false, 0));
        assert_eq!(restart_delay(0), Duration::from_millis(100));
        assert_eq!(restart_delay(3), Duration::from_millis(800));
        assert_eq!(restart_delay(30), Duration::from_secs(60));
    }
}

//! Health checks, run by the monitor: the check command is exec'd in the container every
//! interval (through the runtime library), with a timeout; its results move the health status
//! between starting, healthy and unhealthy as Docker does (failures in the start period do
//! not count against the retries).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use berth_runtime::{ExecOptions, Runtime};

use crate::config::HealthConfig;
use crate::container::{Container, HealthResult};
use crate::engine::Engine;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const MAX_OUTPUT: usize = 4096;

struct Running {
    pid: i32,
    started: Instant,
    start_rfc: String,
    output: OwnedFd,
    result: Option<i32>,
    /// The actor of its exec events (the container's, with the check's exec ID).
    actor: crate::events::Actor,
}

pub(crate) struct Checker {
    cfg: Option<HealthConfig>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    start_interval: Duration,
    retries: u32,
    /// The status is still "starting" (no check has passed, none made it unhealthy).
    starting: bool,
    next: Option<Instant>,
    started: Option<Instant>,
    running: Option<Running>,
}

fn dur(ns: u64, default: Duration) -> Duration {
    if ns == 0 {
        default
    } else {
        Duration::from_nanos(ns)
    }
}

impl Checker {
    pub(crate) fn new(c: &Container) -> Checker {
        let cfg = if c.config.no_healthcheck {
            None
        } else {
            c.config
                .healthcheck
                .clone()
                .filter(|h| !h.test.is_empty() && h.test[0] != "NONE")
        };
        let (interval, timeout, start_period, start_interval, retries) = match &cfg {
            Some(h) => (
                dur(h.interval_ns, DEFAULT_INTERVAL),
                dur(h.timeout_ns, DEFAULT_TIMEOUT),
                Duration::from_nanos(h.start_period_ns),
                dur(h.start_interval_ns, DEFAULT_START_INTERVAL),
                if h.retries == 0 {
                    DEFAULT_RETRIES
                } else {
                    h.retries
                },
            ),
            None => (
                DEFAULT_INTERVAL,
                DEFAULT_TIMEOUT,
                Duration::ZERO,
                DEFAULT_START_INTERVAL,
                DEFAULT_RETRIES,
            ),
        };
        Checker {
            cfg,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
            starting: true,
            next: None,
            started: None,
            running: None,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.cfg.is_some()
    }

    /// The container (re)started: the status is "starting" again.
    pub(crate) fn started(&mut self) {
        if self.enabled() {
            let now = Instant::now();
            self.started = Some(now);
            self.starting = true;
            self.next = Some(now + self.next_interval());
        }
    }

    /// Docker's timing: the interval after the start period; within it, the start
    /// interval while the status is "starting", and never past the end of the period (the
    /// first check after it runs as it ends).
    fn next_interval(&self) -> Duration {
        let elapsed = self.started.map(|s| s.elapsed()).unwrap_or(Duration::MAX);
        if elapsed >= self.start_period {
            return self.interval;
        }
        let remaining = self.start_period - elapsed;
        if remaining < self.interval {
            remaining
        } else if self.starting {
            self.start_interval
        } else {
            self.interval
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(r.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.next = None;
    }

    /// How long until the monitor must look at checks again.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        let now = Instant::now();
        if let Some(r) = &self.running {
            return Some(
                (r.started + self.timeout)
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(5)),
            );
        }
        self.next.map(|n| n.saturating_duration_since(now))
    }

    /// A child exited: if it was the check, remember its code.
    pub(crate) fn reaped(&mut self, pid: i32, code: i32) {
        if let Some(r) = &mut self.running
            && r.pid == pid
        {
            r.result = Some(code);
        }
    }

    fn args(&self) -> Vec<String> {
        let Some(h) = &self.cfg else { return vec![] };
        match h.test.first().map(String::as_str) {
            Some("CMD") => h.test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), h.test[1..].join(" ")],
            _ => h.test.clone(),
        }
    }

    /// Starts a due check, finishes a completed or timed-out one.
    pub(crate) fn tick(&mut self, engine: &Engine, c: &Container, rt: &Runtime) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        if let Some(r) = &self.running {
            let timed_out = now >= r.started + self.timeout;
            if r.result.is_none() && timed_out {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(r.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if let Some(code) = r.result {
                let r = self.running.take();
                if let Some(r) = r {
                    let mut actor = r.actor.clone();
                    actor.attributes.insert("exitCode".into(), code.to_string());
                    crate::events::append(&engine.paths, "container", "exec_die", actor);
                    let mut out = String::new();
                    let mut buf = [0u8; MAX_OUTPUT];
                    if let Ok(n) = nix::unistd::read(&r.output, &mut buf) {
                        out = String::from_utf8_lossy(&buf[..n]).into_owned();
                    }
                    if timed_out && code == 137 {
                        out = format!("Health check exceeded timeout ({:?})", self.timeout);
                    }
                    self.record(engine, c, r.start_rfc, code, out);
                }
                self.next = Some(Instant::now() + self.next_interval());
            }
            return;
        }
        if self.next.is_some_and(|n| now >= n) {
            self.next = None;
            match self.start_check(engine, c, rt) {
                Some(r) => self.running = Some(r),
                None => {
                    let t = berth_runtime::util::rfc3339(std::time::SystemTime::now());
                    self.record(engine, c, t, -1, "could not run the health check".into());
                    self.next = Some(Instant::now() + self.next_interval());
                }
            }
        }
    }

    fn start_check(&self, engine: &Engine, c: &Container, rt: &Runtime) -> Option<Running> {
        let bundle = engine.paths.bundle(&c.id).join("config.json");
        let spec = berth_runtime::spec::parse_spec(&std::fs::read(bundle).ok()?).ok()?;
        let mut process = spec.process().clone()?;
        process.set_args(Some(self.args()));
        process.set_terminal(Some(false));
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
        let devnull = std::fs::File::open("/dev/null").ok()?;
        let container = rt.load(&c.id).ok()?;
        // A check is an exec for Docker, with the same events.
        let actor = crate::events::container_actor(c, &[("execID", crate::events::new_exec_id())]);
        for action in ["exec_create", "exec_start"] {
            crate::events::append(
                &engine.paths,
                "container",
                &crate::events::exec_action(action, &self.args()),
                actor.clone(),
            );
        }
        let ex = container
            .exec(&ExecOptions {
                process,
                console_socket: None,
                keep_console: false,
                pid_file: None,
                preserve_fds: 0,
                stdio: Some([devnull.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]),
            })
            .ok()?;
        drop(w);
        let _ = r.as_fd();
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        if let Ok(fl) = fcntl(r.as_fd(), FcntlArg::F_GETFL) {
            let _ = fcntl(
                r.as_fd(),
                FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
            );
        }
        Some(Running {
            pid: ex.pid,
            started: Instant::now(),
            start_rfc: berth_runtime::util::rfc3339(std::time::SystemTime::now()),
            output: r,
            result: None,
            actor,
        })
    }

    fn record(&mut self, engine: &Engine, c: &Container, start: String, code: i32, output: String) {
        let in_start_period = self
            .started
            .is_some_and(|s| s.elapsed() < self.start_period);
        let retries = self.retries;
        let result = HealthResult {
            start,
            end: berth_runtime::util::rfc3339(std::time::SystemTime::now()),
            exit_code: code,
            output,
        };
        let updated = engine.db.update_state(&c.id, |s| {
            let h = s.health.get_or_insert_with(Default::default);
            let before = h.status.clone();
            if code == 0 {
                h.failing_streak = 0;
                h.status = "healthy".into();
            } else if !in_start_period {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = "unhealthy".into();
                }
            }
            if h.status.is_empty() {
                h.status = "starting".into();
            }
            h.log.push(result);
            if h.log.len() > 5 {
                h.log.remove(0);
            }
            Ok((h.status.clone(), before != h.status))
        });
        let changed = match updated {
            Ok((status, changed)) => {
                self.starting = status == "starting";
                changed.then_some(status)
            }
            Err(_) => None,
        };
        if let Some(status) = changed {
            engine.event("container", &format!("health_status: {status}"), c, &[]);
        }
    }
}

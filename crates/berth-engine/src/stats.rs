//! Resource usage of running containers (`stats`, the API's `/containers/ID/stats`) and
//! their processes (`top`): cgroup counters from the runtime, CPU share computed from two
//! samples against the host's CPU time, memory as Docker counts it (without the inactive
//! page cache), network bytes from the container's /proc.

use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// One container's usage, computed as Docker's CLI shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerStats {
    /// The container as the caller named it, or its short ID when it asked for every one
    /// (Docker's `{{.Container}}`).
    pub container: String,
    pub id: String,
    pub name: String,
    /// Percent of one CPU times the number of CPUs (200% = two CPUs busy).
    pub cpu_percent: f64,
    /// Bytes in use (page cache that can be dropped not counted) and the limit (the
    /// host's memory when unlimited).
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    /// Network bytes received and sent (loopback not counted).
    pub net_rx: u64,
    pub net_tx: u64,
    /// Block device bytes read and written.
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// The processes of a container, as `ps` in its pid namespace lists them (`top`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// Which containers a stats stream covers.
#[derive(Debug, Clone, Default)]
pub struct StatsTargets {
    /// These (names or ids); empty: every running one (every one with `all`).
    pub names: Vec<String>,
    pub all: bool,
}

/// The host's CPU time (all CPUs, all modes but guest), in nanoseconds.
fn system_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks * (1_000_000_000 / 100)
}

/// Bytes of memory the host has (MemTotal).
pub(crate) fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn net_io(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let (mut rx, mut tx) = (0, 0);
    for line in text.lines().skip(2) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// Raw counters at one moment.
struct Sample {
    cpu: u64,
    system: u64,
    stats: berth_runtime::Stats,
}

fn compute(
    key: &str,
    c: &Container,
    prev: Option<&Sample>,
    cur: Option<&Sample>,
) -> ContainerStats {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut out = ContainerStats {
        container: key.to_owned(),
        id: c.id.clone(),
        name: c.name.clone(),
        ..Default::default()
    };
    if let Some(s) = cur {
        if let Some(p) = prev {
            let dc = s.cpu.saturating_sub(p.cpu) as f64;
            let ds = s.system.saturating_sub(p.system) as f64;
            if ds > 0.0 {
                out.cpu_percent = dc / ds * cpus * 100.0;
            }
        }
        let m = &s.stats.memory;
        let inactive = m
            .raw
            .get("total_inactive_file")
            .or_else(|| m.raw.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        out.mem_usage = m.usage.saturating_sub(inactive);
        let host = host_memory();
        out.mem_limit = if m.limit == u64::MAX {
            host
        } else {
            m.limit.min(host.max(1))
        };
        out.pids = s.stats.pids.current;
        for b in &s.stats.blkio {
            match b.op.as_str() {
                "Read" | "read" => out.block_read += b.value,
                "Write" | "write" => out.block_write += b.value,
                _ => {}
            }
        }
    }
    if c.state.pid > 0 {
        (out.net_rx, out.net_tx) = net_io(c.state.pid);
    }
    if out.mem_limit > 0 {
        out.mem_percent = out.mem_usage as f64 / out.mem_limit as f64 * 100.0;
    }
    out
}

impl Engine {
    fn sample(&self, rt: &berth_runtime::Runtime, c: &Container) -> Option<Sample> {
        let stats = rt.load(&c.id).ok()?.stats().ok()?;
        Some(Sample {
            cpu: stats.cpu.usage_total,
            system: system_cpu_ns(),
            stats,
        })
    }

    /// The targets, each with the key `{{.Container}}` shows: the name given, else the
    /// short ID.
    fn stats_targets(&self, t: &StatsTargets) -> Result<Vec<(String, Container)>> {
        if t.names.is_empty() {
            return Ok(self
                .containers()?
                .into_iter()
                .filter(|c| t.all || c.state.status == Status::Running)
                .map(|c| (c.id.chars().take(12).collect(), c))
                .collect());
        }
        t.names
            .iter()
            .map(|n| Ok((n.clone(), self.container(n)?)))
            .collect()
    }

    /// Samples the targets' usage and calls `sink` with it: first after half a second (CPU
    /// use needs two samples), then every second, until `sink` returns false (a one-shot
    /// `--no-stream` returns false at once) or `cancel` fires (`Error::Cancelled`). The
    /// targets are looked up again at each round, so containers come and go.
    pub fn stats_stream(
        &self,
        targets: &StatsTargets,
        cancel: &Cancel,
        mut sink: impl FnMut(&[ContainerStats]) -> bool,
    ) -> Result<()> {
        let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
        let mut prev: Vec<(String, Option<Sample>)> = Vec::new();
        let mut first = true;
        loop {
            let cs = self.stats_targets(targets)?;
            let t0 = Instant::now();
            if first {
                prev = cs
                    .iter()
                    .map(|(_, c)| (c.id.clone(), self.sample(&rt, c)))
                    .collect();
                cancel.sleep(Duration::from_millis(500), "stats")?;
                first = false;
            }
            let cur: Vec<(String, Option<Sample>)> = cs
                .iter()
                .map(|(_, c)| (c.id.clone(), self.sample(&rt, c)))
                .collect();
            let find = |v: &[(String, Option<Sample>)], id: &str| -> Option<usize> {
                v.iter().position(|(i, s)| i == id && s.is_some())
            };
            let rows: Vec<ContainerStats> = cs
                .iter()
                .map(|(key, c)| {
                    let p = find(&prev, &c.id).and_then(|i| prev[i].1.as_ref());
                    let s = find(&cur, &c.id).and_then(|i| cur[i].1.as_ref());
                    compute(key, c, p, s)
                })
                .collect();
            if !sink(&rows) {
                return Ok(());
            }
            prev = cur;
            cancel.sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()), "stats")?;
        }
    }

    /// The processes of a running (or paused) container, listed by `ps` with `ps_args`
    /// (default `-ef`); the last column (the command) keeps its spaces.
    pub fn top(&self, key: &str, ps_args: &[String]) -> Result<Top> {
        let c = self.container(key)?;
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let rt = berth_runtime::Runtime::new(self.paths.runtime_root())?;
        let (header, lines) = rt.load(&c.id)?.ps(ps_args)?;
        let titles: Vec<String> = header.split_whitespace().map(String::from).collect();
        let processes = lines
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let n = titles.len().saturating_sub(1).min(f.len());
                let mut r: Vec<String> = f[..n].iter().map(|s| s.to_string()).collect();
                r.push(f[n..].join(" "));
                r
            })
            .collect();
        Ok(Top { titles, processes })
    }
}

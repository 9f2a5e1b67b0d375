//! `stats` and `top`, from the cgroups of the running containers.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use berth_engine::{Container, Engine, Status};
use berth_runtime::Runtime;
use clap::Args;
use serde_json::{Value, json};

use super::engine;
use crate::cli::Global;
use crate::output::{self, Format};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Docker's units.BytesSize: binary units, 4 significant digits ("736KiB", "23.54GiB").
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

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

fn host_memory() -> u64 {
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
    let mut rx = 0;
    let mut tx = 0;
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

struct Sample {
    cpu: u64,
    system: u64,
    stats: berth_runtime::Stats,
}

fn sample(rt: &Runtime, c: &Container) -> Option<Sample> {
    let rc = rt.load(&c.id).ok()?;
    Some(Sample {
        stats: rc.stats().ok()?,
        cpu: 0,
        system: system_cpu_ns(),
    })
    .map(|mut s| {
        s.cpu = s.stats.cpu.usage_total;
        s
    })
}

fn row(c: &Container, prev: Option<&Sample>, cur: Option<&Sample>, no_trunc: bool) -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let (mut cpu, mut mem, mut limit, mut pids, mut blk_r, mut blk_w) =
        (0.0, 0u64, 0u64, 0u64, 0u64, 0u64);
    if let Some(s) = cur {
        if let Some(p) = prev {
            let dc = s.cpu.saturating_sub(p.cpu) as f64;
            let ds = s.system.saturating_sub(p.system) as f64;
            if ds > 0.0 {
                cpu = dc / ds * cpus * 100.0;
            }
        }
        let m = &s.stats.memory;
        let inactive = m
            .raw
            .get("total_inactive_file")
            .or_else(|| m.raw.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        mem = m.usage.saturating_sub(inactive);
        limit = if m.limit == u64::MAX {
            host_memory()
        } else {
            m.limit.min(host_memory().max(1))
        };
        pids = s.stats.pids.current;
        for b in &s.stats.blkio {
            match b.op.as_str() {
                "Read" | "read" => blk_r += b.value,
                "Write" | "write" => blk_w += b.value,
                _ => {}
            }
        }
    }
    let (rx, tx) = if c.state.pid > 0 {
        net_io(c.state.pid)
    } else {
        (0, 0)
    };
    let mem_perc = if limit > 0 {
        mem as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    json!({
        "Container": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Name": c.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", binary_size(mem), binary_size(limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": format!("{} / {}", output::human_size(rx), output::human_size(tx)),
        "BlockIO": format!("{} / {}", output::human_size(blk_r), output::human_size(blk_w)),
        "PIDs": pids.to_string(),
    })
}

fn targets(e: &Engine, a: &StatsArgs) -> Result<Vec<Container>> {
    if a.containers.is_empty() {
        return Ok(e
            .containers()?
            .into_iter()
            .filter(|c| a.all || c.state.status == Status::Running)
            .collect());
    }
    a.containers.iter().map(|n| Ok(e.container(n)?)).collect()
}

pub fn stats(g: &Global, a: StatsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let rt = Runtime::new(e.paths.runtime_root())?;
    let columns = [
        ("CONTAINER ID", "ID"),
        ("NAME", "Name"),
        ("CPU %", "CPUPerc"),
        ("MEM USAGE / LIMIT", "MemUsage"),
        ("MEM %", "MemPerc"),
        ("NET I/O", "NetIO"),
        ("BLOCK I/O", "BlockIO"),
        ("PIDS", "PIDs"),
    ];
    let format = Format::parse(a.format.as_deref());
    let mut prev: Vec<(String, Option<Sample>)> = Vec::new();
    let mut first = true;
    loop {
        let cs = targets(&e, &a)?;
        let t0 = Instant::now();
        if first {
            prev = cs.iter().map(|c| (c.id.clone(), sample(&rt, c))).collect();
            std::thread::sleep(Duration::from_millis(500));
            first = false;
        }
        let cur: Vec<(String, Option<Sample>)> =
            cs.iter().map(|c| (c.id.clone(), sample(&rt, c))).collect();
        let rows: Vec<Value> = cs
            .iter()
            .map(|c| {
                let p = prev
                    .iter()
                    .find(|(id, _)| id == &c.id)
                    .and_then(|(_, s)| s.as_ref());
                let s = cur
                    .iter()
                    .find(|(id, _)| id == &c.id)
                    .and_then(|(_, s)| s.as_ref());
                row(c, p, s, a.no_trunc)
            })
            .collect();
        if !a.no_stream {
            // Clear the screen, as docker does while streaming.
            print!("\x1b[2J\x1b[H");
        }
        output::print_rows(&format, &columns, &rows)?;
        std::io::stdout().flush()?;
        if a.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        prev = cur;
        std::thread::sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()));
    }
}

pub fn top(g: &Global, a: TopArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let c = e.container(&a.container)?;
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        bail!("container {} is not running", c.id);
    }
    let rt = Runtime::new(e.paths.runtime_root())?;
    let (header, lines) = rt.load(&c.id)?.ps(&a.ps_args)?;
    let header: Vec<String> = header.split_whitespace().map(String::from).collect();
    let mut rows = vec![header.clone()];
    for l in lines {
        // The last column (the command) keeps its spaces.
        let f: Vec<&str> = l.split_whitespace().collect();
        let n = header.len().saturating_sub(1).min(f.len());
        let mut r: Vec<String> = f[..n].iter().map(|s| s.to_string()).collect();
        r.push(f[n..].join(" "));
        rows.push(r);
    }
    print!("{}", output::table(&rows));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(736 * 1024), "736KiB");
        assert_eq!(binary_size(25_274_000_000), "23.54GiB");
    }
}

//! `stats` and `top`: the engine's numbers in Docker's columns.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use berth_engine::{Cancel, ContainerStats, StatsTargets};
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
    /// Containers, by name or ID (default: all running ones)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps (default -ef)
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

fn row(s: &ContainerStats, no_trunc: bool) -> Value {
    let id: String = if no_trunc {
        s.id.clone()
    } else {
        s.id.chars().take(12).collect()
    };
    json!({
        "Container": s.container,
        "ID": id,
        "Name": s.name,
        "CPUPerc": format!("{:.2}%", s.cpu_percent),
        "MemUsage": format!("{} / {}", binary_size(s.mem_usage), binary_size(s.mem_limit)),
        "MemPerc": format!("{:.2}%", s.mem_percent),
        "NetIO": format!("{} / {}", output::human_size(s.net_rx), output::human_size(s.net_tx)),
        "BlockIO": format!(
            "{} / {}",
            output::human_size(s.block_read),
            output::human_size(s.block_write)
        ),
        "PIDs": s.pids.to_string(),
    })
}

pub fn stats(g: &Global, a: StatsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
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
    let targets = StatsTargets {
        names: a.containers.clone(),
        all: a.all,
    };
    let mut failed: Option<anyhow::Error> = None;
    e.stats_stream(&targets, &Cancel::new(), |stats| {
        let rows: Vec<Value> = stats.iter().map(|s| row(s, a.no_trunc)).collect();
        if !a.no_stream {
            // Clear the screen, as docker does while streaming.
            print!("\x1b[2J\x1b[H");
        }
        let kind = output::Rows::of(&crate::template::docker::STATS);
        if let Err(err) = output::print_rows_as(&format, &columns, &rows, &kind)
            .and_then(|_| Ok(std::io::stdout().flush()?))
        {
            failed = Some(err);
            return false;
        }
        !a.no_stream
    })?;
    match failed {
        Some(err) => Err(err),
        None => Ok(ExitCode::SUCCESS),
    }
}

pub fn top(g: &Global, a: TopArgs) -> Result<ExitCode> {
    let top = engine(g)?.top(&a.container, &a.ps_args)?;
    let mut rows = vec![top.titles];
    rows.extend(top.processes);
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

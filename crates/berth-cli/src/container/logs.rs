//! `logs`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use berth_engine::filters::time_filter;
use berth_engine::logs::LogsOptions;
use clap::Args;

use super::engine;
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line).
    #[arg(short = 'n', long, default_value = "all", allow_hyphen_values = true)]
    pub tail: String,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m").
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time.
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show extra details.
    #[arg(long)]
    pub details: bool,
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn logs(g: &Global, a: LogsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let o = LogsOptions {
        tail: berth_engine::logs::tail_lines(&a.tail),
        since: a
            .since
            .as_deref()
            .map(|t| time_filter(t, "--since"))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|t| time_filter(t, "--until"))
            .transpose()?,
        follow: a.follow,
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let mut broken = false;
    // `--details`: the record's attributes (none in Berth) and a space before each line.
    let details = if a.details { " " } else { "" };
    e.logs(&a.container, &o, &berth_engine::Cancel::new(), |r| {
        let line = if a.timestamps {
            format!("{} {details}{}", r.time, r.log)
        } else {
            format!("{details}{}", r.log)
        };
        let res = if r.stream == "stderr" {
            err.write_all(line.as_bytes())
        } else {
            out.write_all(line.as_bytes())
                .and_then(|_| if a.follow { out.flush() } else { Ok(()) })
        };
        if res.is_err() {
            broken = true;
            return false;
        }
        true
    })?;
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

//! `ps`: docker's columns, filters and formats.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use berth_engine::{Container, Engine, Status};
use clap::Args;
use serde_json::{Value, json};

use super::engine;
use crate::cli::Global;
use crate::output::{self, Format};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided.
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    pub format: Option<String>,
}

/// Parses a time for --since/--until/until= filters: RFC 3339, a unix time, or a Go
/// duration ago ("10m").
pub fn time_filter(v: &str) -> Result<String> {
    if v.contains('T') || (v.contains('-') && v.len() >= 10) {
        return Ok(v.to_string());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let secs = if let Ok(n) = v.parse::<f64>() {
        n
    } else {
        now - berth_engine::config::parse::duration_ns("--since", v)? as f64 / 1e9
    };
    let t = UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0));
    Ok(berth_runtime::util::rfc3339(t))
}

/// Seconds since the epoch of an RFC 3339 time (0 if unparsable).
pub fn unix_of(rfc: &str) -> i64 {
    // YYYY-MM-DDTHH:MM:SS
    let b = rfc.as_bytes();
    if b.len() < 19 {
        return 0;
    }
    let n = |r: std::ops::Range<usize>| rfc.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (y, mo, d, h, mi, s) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60 + s
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// docker's STATUS text: "Up 5 seconds", "Exited (0) 3 seconds ago", "Created", ...
pub fn status_text(c: &Container) -> String {
    let s = &c.state;
    let since = |t: &str| output::human_duration(now() - unix_of(t));
    let health = s
        .health
        .as_ref()
        .map(|h| match h.status.as_str() {
            "starting" => " (health: starting)".to_string(),
            "" => String::new(),
            other => format!(" ({other})"),
        })
        .unwrap_or_default();
    match s.status {
        Status::Running => format!("Up {}{health}", since(&s.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(&s.started_at)),
        Status::Restarting => format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at)),
        Status::Exited => format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at)),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// The command line as docker shows it.
pub fn command_text(c: &Container) -> String {
    c.config.resolved_args.join(" ")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// One row, with docker's template field names.
pub fn row(e: &Engine, c: &Container, no_trunc: bool, size: bool) -> Value {
    let cmd = command_text(c);
    let cmd = if no_trunc {
        format!("\"{cmd}\"")
    } else {
        format!("\"{}\"", truncate(&cmd, 20))
    };
    let created = unix_of(&c.created);
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mounts: Vec<String> = c
        .config
        .host
        .mounts
        .iter()
        .map(|m| {
            if m.source.is_empty() {
                m.target.clone()
            } else {
                m.source.clone()
            }
        })
        .collect();
    let mut v = json!({
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": c.config.image,
        "Command": cmd,
        "CreatedAt": crate::output::go_time(unix_of(&c.created)),
        "RunningFor": format!("{} ago", output::human_duration(now() - created)),
        "Ports": "",
        "State": c.state.status.as_str(),
        "Status": status_text(c),
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": c.config.host.network_mode.docker_name(),
        "LocalVolumes": c.config.host.mounts.iter().filter(|m| m.kind == berth_engine::config::MountKind::Volume).count().to_string(),
        "Size": "",
    });
    if size {
        let rw = e.rw_size(&c.id);
        let virt = e
            .store()
            .ok()
            .and_then(|s| s.resolve(&c.config.image_id).ok())
            .map(|i| i.size)
            .unwrap_or(0);
        v["Size"] = json!(format!(
            "{} (virtual {})",
            output::human_size(rw),
            output::human_size(rw + virt)
        ));
    }
    v
}

struct Filters {
    items: Vec<(String, String)>,
}

impl Filters {
    fn parse(raw: &[String]) -> Result<Filters> {
        let mut items = Vec::new();
        for f in raw {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
            if !matches!(
                k,
                "status"
                    | "name"
                    | "label"
                    | "ancestor"
                    | "exited"
                    | "id"
                    | "before"
                    | "since"
                    | "health"
                    | "volume"
                    | "network"
                    | "expose"
                    | "publish"
                    | "is-task"
            ) {
                bail!("invalid filter '{k}'");
            }
            if k == "status"
                && !matches!(
                    v,
                    "created"
                        | "restarting"
                        | "running"
                        | "removing"
                        | "paused"
                        | "exited"
                        | "dead"
                )
            {
                bail!("invalid filter 'status={v}'");
            }
            items.push((k.to_string(), v.to_string()));
        }
        Ok(Filters { items })
    }

    fn keys(&self, k: &str) -> Vec<&str> {
        self.items
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Docker's rules: values of one key are OR-ed, keys are AND-ed.
    fn matches(&self, e: &Engine, c: &Container, all: &[Container]) -> bool {
        let any = |k: &str, f: &dyn Fn(&str) -> bool| {
            let vs = self.keys(k);
            vs.is_empty() || vs.iter().any(|v| f(v))
        };
        any("status", &|v| c.state.status.as_str() == v)
            && any("name", &|v| c.name.contains(v.trim_start_matches('/')))
            && any("id", &|v| c.id.starts_with(v))
            && any("exited", &|v| {
                c.state.status == Status::Exited && v.parse() == Ok(c.state.exit_code)
            })
            && any("health", &|v| {
                let h = c
                    .state
                    .health
                    .as_ref()
                    .map(|h| h.status.as_str())
                    .unwrap_or("none");
                h == v
            })
            && any("label", &|v| match v.split_once('=') {
                Some((k, val)) => c.config.labels.get(k).is_some_and(|x| x == val),
                None => c.config.labels.contains_key(v),
            })
            && any("ancestor", &|v| {
                c.config.image == v
                    || c.config
                        .image_id
                        .trim_start_matches("sha256:")
                        .starts_with(v.trim_start_matches("sha256:"))
                    || e.store()
                        .ok()
                        .and_then(|s| s.resolve(v).ok())
                        .is_some_and(|i| i.id.to_string() == c.config.image_id)
            })
            && any("volume", &|v| {
                c.config
                    .host
                    .mounts
                    .iter()
                    .any(|m| m.source == v || m.target == v)
            })
            && any("network", &|v| c.config.host.network_mode.docker_name() == v)
            && any("expose", &|v| {
                let want = if v.contains('/') {
                    v.to_string()
                } else {
                    format!("{v}/tcp")
                };
                c.config.exposed_ports.contains(&want)
            })
            // No port is published before bridge networks exist; no container is a task.
            && any("publish", &|_| false)
            && any("is-task", &|v| v == "false")
            && any("before", &|v| {
                all.iter()
                    .find(|o| o.name == v || o.id.starts_with(v))
                    .is_some_and(|o| c.created < o.created)
            })
            && any("since", &|v| {
                all.iter()
                    .find(|o| o.name == v || o.id.starts_with(v))
                    .is_some_and(|o| c.created > o.created)
            })
    }
}

pub fn ps(g: &Global, a: PsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let filters = Filters::parse(&a.filter)?;
    let all = e.containers()?;
    let mut list: Vec<&Container> = all.iter().collect();
    // Newest first, as docker lists them.
    list.sort_by(|x, y| y.created.cmp(&x.created));
    let limit = if a.latest { 1 } else { a.last };
    let show_all = a.all
        || limit > 0
        || filters.keys("status").iter().any(|s| *s != "running")
        || !filters.keys("exited").is_empty();
    list.retain(|c| (show_all || c.state.status.is_live()) && filters.matches(&e, c, &all));
    if limit > 0 {
        list.truncate(limit as usize);
    }
    if a.quiet {
        let mut out = String::new();
        for c in &list {
            out.push_str(if a.no_trunc { &c.id } else { c.short_id() });
            out.push('\n');
        }
        print!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| row(&e, c, a.no_trunc, a.size))
        .collect();
    let mut columns = vec![
        ("CONTAINER ID", "ID"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
        ("NAMES", "Names"),
    ];
    if a.size {
        columns.push(("SIZE", "Size"));
    }
    output::print_rows(&Format::parse(a.format.as_deref()), &columns, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(unix_of("1970-01-01T00:00:00.000000000Z"), 0);
        assert_eq!(unix_of("2023-11-14T22:13:20Z"), 1_700_000_000);
        assert_eq!(
            truncate("abcdefghijklmnopqrstuvwxyz", 20).chars().count(),
            20
        );
        assert!(time_filter("10m").unwrap().starts_with("20"));
    }
}

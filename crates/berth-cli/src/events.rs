//! `events`: what happened to containers, volumes and images, as docker prints it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use crate::cli::Global;
use crate::container::engine;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp.
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type=, event=, container=, image=, label=).
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format the output using the given Go template ("json" for JSON lines).
    #[arg(long)]
    pub format: Option<String>,
}

fn nanos_of(rfc: &str) -> i64 {
    crate::container::unix_of(rfc) * 1_000_000_000
        + rfc
            .get(20..29)
            .and_then(|f| f.trim_end_matches('Z').parse::<i64>().ok())
            .unwrap_or(0)
}

pub fn events(g: &Global, a: EventsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let since = a
        .since
        .as_deref()
        .map(crate::container::time_filter)
        .transpose()?
        .map(|t| nanos_of(&t));
    let until = a
        .until
        .as_deref()
        .map(crate::container::time_filter)
        .transpose()?
        .map(|t| nanos_of(&t));
    let mut filters: Vec<(String, String)> = Vec::new();
    for f in &a.filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        if !matches!(
            k,
            "type" | "event" | "container" | "image" | "volume" | "label"
        ) {
            bail!("invalid filter '{k}'");
        }
        filters.push((k.to_string(), v.to_string()));
    }
    let matches = |ev: &berth_engine::events::Event| {
        let group = |k: &str, f: &dyn Fn(&str) -> bool| {
            let vs: Vec<&str> = filters
                .iter()
                .filter(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
                .collect();
            vs.is_empty() || vs.iter().any(|v| f(v))
        };
        let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str).unwrap_or("");
        group("type", &|v| ev.kind == v)
            && group("event", &|v| {
                ev.action == v || ev.action.starts_with(&format!("{v}:"))
            })
            && group("container", &|v| {
                ev.kind == "container" && (ev.actor.id.starts_with(v) || attr("name") == v)
            })
            && group("volume", &|v| ev.kind == "volume" && ev.actor.id == v)
            && group("image", &|v| attr("image") == v)
            && group("label", &|v| match v.split_once('=') {
                Some((k, x)) => attr(k) == x,
                None => ev.actor.attributes.contains_key(v),
            })
    };
    let path = e.paths.events_log();
    let mut offset = if since.is_some() {
        0
    } else {
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
    };
    let mut out = std::io::stdout();
    loop {
        let (evs, pos) = berth_engine::events::read_from(&path, offset)?;
        offset = pos;
        for ev in evs {
            if since.is_some_and(|s| ev.time_nano < s) || !matches(&ev) {
                continue;
            }
            if until.is_some_and(|u| ev.time_nano > u) {
                return Ok(ExitCode::SUCCESS);
            }
            let line = match a.format.as_deref() {
                Some("json") => serde_json::to_string(&ev)?,
                Some(t) => crate::output::render(t, &serde_json::to_value(&ev)?)?,
                None => {
                    let t = berth_runtime::util::rfc3339(
                        std::time::UNIX_EPOCH + Duration::from_nanos(ev.time_nano.max(0) as u64),
                    );
                    let attrs: Vec<String> = ev
                        .actor
                        .attributes
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    format!(
                        "{} {} {} {} ({})",
                        t,
                        ev.kind,
                        ev.action,
                        ev.actor.id,
                        attrs.join(", ")
                    )
                }
            };
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if let Some(u) = until
            && crate::container::now_nanos() > u
        {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

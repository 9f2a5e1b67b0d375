//! `events`: what happened to containers, volumes and images, as docker prints it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use berth_engine::Cancel;
use berth_engine::events::EventsOptions;
use berth_engine::filters::Filters;
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

pub fn events(g: &Global, a: EventsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let o = EventsOptions {
        since: a.since.clone(),
        until: a.until.clone(),
        filters: Filters::parse(&a.filter)?,
    };
    // docker refuses a bad template before it reads any event: one that does not parse, or
    // fails over an empty message (`{{.badField}}`).
    let bad = |e: crate::template::Error| {
        crate::output::template_failure(&format!("Error parsing format: {e}"), 64)
    };
    let tmpl = match a.format.as_deref() {
        Some(t) if !crate::gojson::is_whole_json(t) => {
            let t = crate::template::Template::parse("", t).map_err(bad)?;
            let empty = serde_json::json!({
                "status": "", "id": "", "from": "", "Type": "", "Action": "",
                "Actor": {"ID": "", "Attributes": null}, "scope": "", "time": 0, "timeNano": 0,
            });
            t.execute(&empty, &crate::template::docker::EVENT)
                .map_err(bad)?;
            Some(t)
        }
        _ => None,
    };
    let mut out = std::io::stdout();
    let mut failed: Option<anyhow::Error> = None;
    e.events(&o, &Cancel::new(), |ev| {
        let line = match a.format.as_deref() {
            // The event itself, its keys in Docker's order.
            Some(f) if crate::gojson::is_whole_json(f) => {
                crate::gojson::to_string(ev).map_err(anyhow::Error::from)
            }
            Some(_) => match (template_value(ev), &tmpl) {
                (Ok(v), Some(t)) => t.execute(&v, &crate::template::docker::EVENT).map_err(|e| {
                    crate::output::template_failure(&format!("Error parsing format: {e}"), 64)
                }),
                (Err(e), _) => Err(e),
                (Ok(_), None) => Ok(String::new()),
            },
            None => Ok(pretty(ev)),
        };
        match line {
            // A reader that went away ends the stream quietly.
            Ok(l) => writeln!(out, "{l}").and_then(|_| out.flush()).is_ok(),
            Err(err) => {
                failed = Some(err);
                false
            }
        }
    })?;
    match failed {
        Some(err) => Err(err),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The event as templates see it: Docker's message has the legacy fields even when they
/// are empty (`{{.ID}}` of a volume event is "").
fn template_value(ev: &berth_engine::events::Event) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(ev)?;
    if let Some(m) = v.as_object_mut() {
        for k in ["status", "id", "from", "scope"] {
            m.entry(k).or_insert_with(|| "".into());
        }
    }
    Ok(v)
}

/// Docker's default line: time, type, action, actor, and the attributes (sorted) in
/// parentheses when there are any.
fn pretty(ev: &berth_engine::events::Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        event_time(ev.time_nano),
        ev.kind,
        ev.action,
        ev.actor.id
    );
    if !ev.actor.attributes.is_empty() {
        let attrs: Vec<String> = ev
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// An event's time as docker prints it (RFC 3339 with nanoseconds).
fn event_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    crate::output::rfc3339(secs, frac)
}

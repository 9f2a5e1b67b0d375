//! `berth events`: an append-only JSON-lines file of what happened to containers, volumes
//! and images, with Docker's field names. Appends are single writes with O_APPEND, so
//! concurrent writers never interleave a line.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paths::Paths;

/// Rotate the events file above this size (one older file is kept).
const MAX_EVENTS_SIZE: u64 = 8 * 1024 * 1024;

/// One event, in Docker's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Appends an event (errors are ignored: events must never make an operation fail).
pub(crate) fn append(
    paths: &Paths,
    kind: &str,
    action: &str,
    id: &str,
    name: &str,
    image: &str,
    extra: &[(&str, String)],
) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut attributes = std::collections::BTreeMap::new();
    if !name.is_empty() {
        attributes.insert("name".to_string(), name.to_string());
    }
    if !image.is_empty() {
        attributes.insert("image".to_string(), image.to_string());
    }
    for (k, v) in extra {
        attributes.insert(k.to_string(), v.clone());
    }
    let ev = Event {
        kind: kind.into(),
        action: action.into(),
        actor: Actor {
            id: id.into(),
            attributes,
        },
        // Saturating: i64 seconds last for ever, nanoseconds until 2262.
        time: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        time_nano: i64::try_from(now.as_nanos()).unwrap_or(i64::MAX),
    };
    let Ok(mut line) = serde_json::to_vec(&ev) else {
        return;
    };
    line.push(b'\n');
    let path = paths.events_log();
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_EVENTS_SIZE) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
    {
        let _ = f.write_all(&line);
    }
}

/// The exit code of the last `die` event of container `id` recorded at or after byte
/// `offset` of the events log (the older file too, if the log rotated meanwhile).
pub(crate) fn exit_code_since(paths: &Paths, id: &str, offset: u64) -> Option<i32> {
    let path = paths.events_log();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut evs = Vec::new();
    if size < offset {
        // Rotated: the part after `offset` is in the older file.
        if let Ok((old, _)) = read_from(&path.with_extension("log.1"), offset) {
            evs.extend(old);
        }
        evs.extend(read_from(&path, 0).map(|r| r.0).unwrap_or_default());
    } else {
        evs.extend(read_from(&path, offset).map(|r| r.0).unwrap_or_default());
    }
    evs.iter()
        .rev()
        .filter(|e| e.kind == "container" && e.action == "die" && e.actor.id == id)
        .find_map(|e| e.actor.attributes.get("exitCode")?.parse().ok())
}

/// Reads events from `path` starting at byte `offset`; returns them and the new offset.
pub(crate) fn read_from(path: &Path, offset: u64) -> Result<(Vec<Event>, u64)> {
    crate::logfile::read_json_lines(path, offset)
}

/// What `events` streams.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Past events from this time (`--since`: RFC 3339, unix time or a duration ago); without
    /// it, only new events.
    pub since: Option<String>,
    /// Stop at this time (`--until`); without it, stream until cancelled.
    pub until: Option<String>,
    /// type=, event=, container=, image=, volume=, label=.
    pub filters: crate::filters::Filters,
}

const EVENT_FILTERS: [&str; 6] = ["type", "event", "container", "image", "volume", "label"];

fn event_matches(f: &crate::filters::Filters, ev: &Event) -> bool {
    let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    f.any("type", |v| ev.kind == v)
        && f.any("event", |v| {
            ev.action == v || ev.action.starts_with(&format!("{v}:"))
        })
        && f.any("container", |v| {
            ev.kind == "container" && (ev.actor.id.starts_with(v) || attr("name") == v)
        })
        && f.any("volume", |v| ev.kind == "volume" && ev.actor.id == v)
        && f.any("image", |v| attr("image") == v)
        // Every label filter must hold (Docker's MatchKVList); container events carry the
        // container's labels among their attributes.
        && f.labels_match("label", &ev.actor.attributes)
}

impl crate::engine::Engine {
    /// Calls `sink` with each event `o` selects, oldest first: the recorded ones from
    /// `since`, then new ones as they happen, until `until` passes, `sink` returns false or
    /// `cancel` fires (`Error::Cancelled`).
    pub fn events(
        &self,
        o: &EventsOptions,
        cancel: &crate::cancel::Cancel,
        mut sink: impl FnMut(&Event) -> bool,
    ) -> Result<()> {
        o.filters.check_keys(&EVENT_FILTERS)?;
        let bound = |t: &Option<String>, what: &str| -> Result<Option<i64>> {
            t.as_deref()
                .map(|v| crate::filters::time_filter(v, what).map(|t| crate::filters::nanos_of(&t)))
                .transpose()
        };
        let since = bound(&o.since, "--since")?;
        let until = bound(&o.until, "--until")?;
        let path = self.paths.events_log();
        let mut offset = if since.is_some() {
            0
        } else {
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        };
        loop {
            let (evs, pos) = read_from(&path, offset)?;
            offset = pos;
            for ev in evs {
                if since.is_some_and(|s| ev.time_nano < s) || !event_matches(&o.filters, &ev) {
                    continue;
                }
                if until.is_some_and(|u| ev.time_nano > u) {
                    return Ok(());
                }
                if !sink(&ev) {
                    return Ok(());
                }
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            if until.is_some_and(|u| now > u) {
                return Ok(());
            }
            cancel.sleep(std::time::Duration::from_millis(100), "events")?;
        }
    }
}

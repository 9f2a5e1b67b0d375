//! `berth events`: an append-only JSON-lines file of what happened to containers, volumes
//! and images, with Docker's field names (`record` writes it), read back and filtered as
//! Docker's daemon filters its event stream.

mod record;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paths::Paths;

pub(crate) use record::{
    actor, append, append_to, container_actor, event_now, exec_action, exec_duration, image_actor,
    new_exec_id,
};

/// One event, in Docker's shape (its JSON keys, in its order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Legacy fields (API < 1.52): the action, the actor's ID and, for containers, the
    /// image; set for container and image events only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// "local" (Berth has no swarm scope).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
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

impl Event {
    /// Fills the legacy fields and the scope as Docker's daemon does (events recorded by
    /// older builds lack them).
    pub(crate) fn fill_legacy(&mut self) {
        if self.scope.is_empty() {
            self.scope = "local".into();
        }
        if matches!(self.kind.as_str(), "container" | "image") && self.status.is_empty() {
            self.status = self.action.clone();
            self.id = self.actor.id.clone();
            if self.kind == "container" {
                self.from = self
                    .actor
                    .attributes
                    .get("image")
                    .cloned()
                    .unwrap_or_default();
            }
        }
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
    /// type=, event=, container=, image=, volume=, network=, label=, scope=.
    pub filters: crate::filters::Filters,
}

const EVENT_FILTERS: [&str; 8] = [
    "type",
    "event",
    "container",
    "image",
    "volume",
    "network",
    "label",
    "scope",
];

/// Docker's `FuzzyMatch`: no values, or one equal to `source` or a prefix of it.
fn fuzzy(f: &crate::filters::Filters, key: &str, source: &str) -> bool {
    f.any(key, |v| source.starts_with(v))
}

/// An image reference without its tag (Docker's `stripTag`), or `s` when it is none.
fn strip_tag(s: &str) -> String {
    berth_image::Reference::parse(s)
        .map(|r| r.familiar_name())
        .unwrap_or_else(|_| s.to_owned())
}

/// Whether `ev` passes the filters, as Docker's daemon decides (`daemon/events/filter.go`).
fn event_matches(f: &crate::filters::Filters, ev: &Event) -> bool {
    let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    // Actions with a detail (`exec_start: CMD`, `health_status: healthy`) match their
    // prefix when the filter names one of those without the colon.
    let fuzzy_event = f
        .get("event")
        .iter()
        .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"));
    let event_ok = if fuzzy_event {
        fuzzy(f, "event", &ev.action)
    } else {
        f.any("event", |v| ev.action == v)
    };
    let named = |key: &str| fuzzy(f, key, &ev.actor.id) || fuzzy(f, key, attr("name"));
    let image_name = if ev.kind == "image" {
        attr("name")
    } else {
        attr("image")
    };
    event_ok
        && f.any("type", |v| ev.kind == v)
        && f.any("scope", |v| ev.scope == v)
        && named("container")
        && named("volume")
        && named("network")
        && f.any("image", |v| {
            v == ev.actor.id
                || v == image_name
                || v == strip_tag(&ev.actor.id)
                || v == strip_tag(image_name)
        })
        && f.labels_match("label", &ev.actor.attributes)
}

/// Reads the recorded events from the start: the rotated file's, then the current one's;
/// returns them and the offset in the current file.
fn read_all(path: &Path) -> Result<(Vec<Event>, u64)> {
    let mut evs = read_from(&path.with_extension("log.1"), 0)
        .map(|r| r.0)
        .unwrap_or_default();
    let (cur, pos) = read_from(path, 0)?;
    evs.extend(cur);
    Ok((evs, pos))
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
        let now_nanos = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        };
        let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut first = true;
        loop {
            // Writers stamp an event just before they append it: once `until` is before
            // the time of a read, that read was the last one needed.
            let read_at = now_nanos();
            let (evs, pos) = if first && since.is_some() {
                read_all(&path)?
            } else {
                read_from(&path, offset)?
            };
            first = false;
            offset = pos;
            for mut ev in evs {
                ev.fill_legacy();
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
            if until.is_some_and(|u| read_at > u) {
                return Ok(());
            }
            cancel.sleep(std::time::Duration::from_millis(100), "events")?;
        }
    }
}

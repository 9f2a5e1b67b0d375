//! Recording events: one JSON line per event, appended with a single O_APPEND write (so
//! concurrent writers never interleave a line), in Docker's shape: the actor's attributes
//! as Docker's daemon fills them (a container's labels, image and name; a volume's driver;
//! an image's labels and name) and the legacy `status`, `id` and `from` fields that API
//! versions before 1.52 still carry for container and image events.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Actor, Event};
use crate::container::Container;
use crate::paths::Paths;

/// Rotate the events file above this size (one older file is kept).
const MAX_EVENTS_SIZE: u64 = 8 * 1024 * 1024;

/// The actor of a container event, as Docker's `LogContainerEventWithAttributes`: the
/// event's own attributes, then the container's labels over them, then `image` (as the
/// user named it) and `name`.
pub(crate) fn container_actor(c: &Container, extra: &[(&str, String)]) -> Actor {
    let mut attributes: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    for (k, v) in &c.config.labels {
        attributes.insert(k.clone(), v.clone());
    }
    if !c.config.image.is_empty() {
        attributes.insert("image".into(), c.config.image.clone());
    }
    attributes.insert("name".into(), c.name.trim_start_matches('/').to_owned());
    Actor {
        id: c.id.clone(),
        attributes,
    }
}

/// The actor of an image event: the image's labels, then `name` (a reference, or the
/// image's ID for untag, delete, load, save and import, as Docker's).
pub(crate) fn image_actor(id: &str, name: &str, labels: &BTreeMap<String, String>) -> Actor {
    let mut attributes = labels.clone();
    if !name.is_empty() {
        attributes.insert("name".into(), name.to_owned());
    }
    Actor {
        id: id.to_owned(),
        attributes,
    }
}

/// An actor with the given attributes (volumes, prune reports).
pub(crate) fn actor(id: &str, attributes: &[(&str, String)]) -> Actor {
    Actor {
        id: id.to_owned(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

/// The event of `kind` and `action` by `actor`, now, with the legacy fields Docker fills.
pub(crate) fn event_now(kind: &str, action: &str, actor: Actor) -> Event {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut ev = Event {
        status: String::new(),
        id: String::new(),
        from: String::new(),
        kind: kind.into(),
        action: action.into(),
        actor,
        scope: "local".into(),
        // Saturating: i64 seconds last for ever, nanoseconds until 2262.
        time: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        time_nano: i64::try_from(now.as_nanos()).unwrap_or(i64::MAX),
    };
    ev.fill_legacy();
    ev
}

/// Appends an event of `kind` and `action` by `actor` (errors are ignored: events must
/// never make an operation fail).
pub(crate) fn append(paths: &Paths, kind: &str, action: &str, actor: Actor) {
    append_to(&paths.events_log(), &event_now(kind, action, actor));
}

/// Appends `ev` to the events log at `path`, rotating it when it has grown too big.
pub(crate) fn append_to(path: &Path, ev: &Event) {
    let Ok(mut line) = serde_json::to_vec(ev) else {
        return;
    };
    line.push(b'\n');
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_EVENTS_SIZE) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
    {
        let _ = f.write_all(&line);
    }
}

/// Docker's `execDuration` of a `die`: whole seconds since the run started.
pub(crate) fn exec_duration(started_at: &str) -> String {
    let started = crate::filters::unix_of(started_at);
    if started <= 0 {
        return "0".into();
    }
    (crate::time::now_unix() - started).max(0).to_string()
}

/// A new exec instance's ID (64 hex digits, as Docker's).
pub(crate) fn new_exec_id() -> String {
    crate::container::new_id().unwrap_or_default()
}

/// Docker's action of an exec event: `exec_create: ENTRYPOINT ARGS` (the space is there
/// even without arguments).
pub(crate) fn exec_action(action: &str, cmd: &[String]) -> String {
    let (first, rest) = cmd
        .split_first()
        .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
    format!("{action}: {first} {}", rest.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_actions_as_docker() {
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            exec_action("exec_create", &cmd(&["true"])),
            "exec_create: true "
        );
        assert_eq!(
            exec_action("exec_start", &cmd(&["sh", "-c", "exit 3"])),
            "exec_start: sh -c exit 3"
        );
    }

    #[test]
    fn legacy_fields() {
        let ev = event_now(
            "container",
            "start",
            actor("abc", &[("image", "bb".into())]),
        );
        assert_eq!((ev.status.as_str(), ev.id.as_str()), ("start", "abc"));
        assert_eq!(ev.from, "bb");
        let v = event_now("volume", "create", actor("v", &[]));
        assert!(v.status.is_empty() && v.id.is_empty() && v.from.is_empty());
        let line = serde_json::to_string(&ev).unwrap();
        assert!(
            line.starts_with(r#"{"status":"start","id":"abc","from":"bb","Type":"container""#),
            "{line}"
        );
        assert!(line.contains(r#""scope":"local","time":"#), "{line}");
    }
}

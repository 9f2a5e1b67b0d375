//! What differs between any two runs of the same command line, made equal: ids, digests,
//! times, durations, sizes and table padding; and a comparison of JSON documents that names
//! each difference by its path.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

fn rules() -> &'static [(Regex, &'static str)] {
    static R: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    R.get_or_init(|| {
        [
            // A volume's data directory is under each side's own root.
            (
                r#"/[^\s"',]*/volumes/([^/\s"',]+)/_data"#,
                "<root>/volumes/$1/_data",
            ),
            (r"sha256:[0-9a-f]{64}", "sha256:<digest>"),
            (r"\b[0-9a-f]{64}\b", "<id>"),
            (r"\b[0-9a-f]{12}\b", "<id12>"),
            (
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
                "<time>",
            ),
            (
                r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}( [+-]\d{4} [A-Z]+)?",
                "<time>",
            ),
            (
                r"(Less than a second|About a minute|About an hour|an? (minute|hour)|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))",
                "<dur>",
            ),
            (
                r"\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB|TB|KiB|MiB|GiB)\b",
                "<size>",
            ),
            // Event times in JSON lines (`events --format json`).
            (r#""(time|timeNano)":\d+"#, r#""$1":<n>"#),
            (r"[ \t]{2,}", "  "),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).expect("a valid rule"), to))
        .collect()
    })
}

/// The text with ids, times, durations and sizes replaced and table padding collapsed.
pub fn text(s: &str) -> String {
    let mut out = s.to_owned();
    for (re, to) in rules() {
        out = re.replace_all(&out, *to).into_owned();
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Keys never compared: host paths, process ids and the storage driver's internals, which
/// are Berth's own by design.
const ALWAYS_IGNORED: &[&str] = &[
    "Pid",
    "ResolvConfPath",
    "HostnamePath",
    "HostsPath",
    "LogPath",
    "GraphDriver",
    "SandboxKey",
    "SandboxID",
];

/// Keys (by name or path, as `ignore:`) compared with [`json_diff`]'s care.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// Not compared.
    pub ignore: &'a [String],
    /// Arrays compared as sets: Docker builds them from Go maps, in no fixed order.
    pub unordered: &'a [String],
}

/// The differences between two JSON documents, each as `PATH: what`.
pub fn json_diff(berth: &Value, docker: &Value, keys: Keys<'_>) -> Vec<String> {
    let mut out = Vec::new();
    walk("", berth, docker, keys, &mut out);
    out
}

/// Whether `key` (at `path`) is in `list`: by its name, or by its path from the top (where
/// an inspect's outer array index is left out: `State.Pid`).
fn listed(path: &str, key: &str, list: &[String]) -> bool {
    let from_top = match path.strip_prefix('[') {
        Some(rest) => rest.split_once("].").map_or(path, |(_, p)| p),
        None => path,
    };
    list.iter().any(|i| i == key || i == from_top)
}

fn ignored(path: &str, key: &str, ignore: &[String]) -> bool {
    ALWAYS_IGNORED.contains(&key) || listed(path, key, ignore)
}

/// A copy of `v` with every string normalised.
fn normalised(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(text(s)),
        Value::Array(a) => Value::Array(a.iter().map(normalised).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalised(v))).collect())
        }
        other => other.clone(),
    }
}

/// The items in the order of their normalised text.
fn sorted(a: &[Value]) -> Vec<Value> {
    let mut v = a.to_vec();
    v.sort_by_cached_key(|x| normalised(x).to_string());
    v
}

fn walk(path: &str, b: &Value, d: &Value, keys: Keys<'_>, out: &mut Vec<String>) {
    match (b, d) {
        (Value::Object(bm), Value::Object(dm)) => {
            for (k, dv) in dm {
                let p = join(path, k);
                if ignored(&p, k, keys.ignore) {
                    continue;
                }
                match bm.get(k) {
                    Some(bv) => walk(&p, bv, dv, keys, out),
                    None => out.push(format!("{p}: missing in berth (docker: {})", short(dv))),
                }
            }
            for (k, bv) in bm {
                let p = join(path, k);
                if !dm.contains_key(k) && !ignored(&p, k, keys.ignore) {
                    out.push(format!("{p}: only in berth ({})", short(bv)));
                }
            }
        }
        (Value::Array(ba), Value::Array(da)) => {
            if ba.len() != da.len() {
                out.push(format!(
                    "{path}: {} items in berth, {} in docker",
                    ba.len(),
                    da.len()
                ));
            }
            let key = path.rsplit('.').next().unwrap_or(path);
            let (ba, da) = if listed(path, key, keys.unordered) {
                (sorted(ba), sorted(da))
            } else {
                (ba.clone(), da.clone())
            };
            for (i, (bv, dv)) in ba.iter().zip(&da).enumerate() {
                walk(&format!("{path}[{i}]"), bv, dv, keys, out);
            }
        }
        (Value::String(bs), Value::String(ds)) => {
            if text(bs) != text(ds) {
                out.push(format!("{path}: berth {bs:?}, docker {ds:?}"));
            }
        }
        _ => {
            if b != d {
                out.push(format!("{path}: berth {}, docker {}", short(b), short(d)));
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_what_varies() {
        assert_eq!(
            text("abc123def456  Up 3 seconds   2.5MB\t x"),
            "<id12>  Up <dur>  <size>  x"
        );
        assert_eq!(
            text(&format!(
                "2026-12-06T08:13:27.123456789Z sha256:{}",
                "a".repeat(64)
            )),
            "<time> sha256:<digest>"
        );
        assert_eq!(
            text("/tmp/x/docker/data/volumes/v1/_data /r/volumes/v1/_data"),
            "<root>/volumes/v1/_data <root>/volumes/v1/_data"
        );
        assert_eq!(
            text(r#"{"time":1796546233,"timeNano":1796546233491708750}"#),
            r#"{"time":<n>,"timeNano":<n>}"#
        );
    }
}

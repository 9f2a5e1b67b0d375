//! Docker's `--filter key=value` sets, parsed and applied in the engine so that every front
//! end filters the same way: the CLI passes `key=value` strings, the API a JSON map of
//! lists. Values of one key are OR-ed, keys are AND-ed. Each listing says which keys it
//! takes; an unknown key is an error naming it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// A set of filters: key to the values given for it, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// No filter.
    pub fn none() -> Filters {
        Filters::default()
    }

    /// From `key=value` strings (the CLI's `--filter`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Filters> {
        let mut f = Filters::default();
        for item in items {
            let (k, v) = item.as_ref().split_once('=').ok_or_else(|| {
                Error::InvalidValue("bad format of filter (expected name=value)".into())
            })?;
            f.add(k, v);
        }
        Ok(f)
    }

    /// From the Docker API's map of lists.
    pub fn from_map(m: BTreeMap<String, Vec<String>>) -> Filters {
        Filters(m)
    }

    /// Adds one value for `key`.
    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Refuses keys not in `allowed` (Docker's "invalid filter 'k'").
    pub fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::InvalidValue(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// The values given for `key`.
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    /// True when `key` has no values, or when `f` holds for one of them.
    pub fn any(&self, key: &str, f: impl Fn(&str) -> bool) -> bool {
        let vs = self.get(key);
        vs.is_empty() || vs.iter().any(|v| f(v))
    }

    /// Docker's `Match`: true when `key` has no values, or when one of them equals `source`
    /// or is a regular expression found in it (`name=^web$`, `name=web`).
    pub fn any_match(&self, key: &str, source: &str) -> bool {
        self.any(key, |v| pattern_matches(v, source))
    }

    /// Refuses a value of `key` that `valid` rejects: "invalid filter 'key=value': why".
    pub fn check_values(&self, key: &str, valid: impl Fn(&str) -> Option<String>) -> Result<()> {
        for v in self.get(key) {
            if let Some(why) = valid(v) {
                return Err(Error::InvalidValue(format!(
                    "invalid filter '{key}={v}': {why}"
                )));
            }
        }
        Ok(())
    }

    /// `label=k` / `label=k=v` filters (under `key`) against `labels`: every one must hold.
    pub fn labels_match(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        self.get(key).iter().all(|l| label_matches(labels, l))
    }
}

/// Whether `pattern` equals `source` or, as a regular expression, matches in it. A pattern
/// that is no valid expression (or too big a one) matches only itself, as Docker's
/// `filters.Match` skips values that do not compile. The regex crate runs in linear time,
/// so a hostile pattern cannot make a listing hang.
pub fn pattern_matches(pattern: &str, source: &str) -> bool {
    pattern == source
        || regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .is_ok_and(|re| re.is_match(source))
}

/// `k` (present) or `k=v` (present with that value).
pub fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// A time as `--since`, `--until` and `until=` take it: RFC 3339, a unix time (with a
/// fraction), or a Go duration before now ("10m"; "-10s" is after now). Returns RFC 3339 (UTC), which sorts as
/// the times recorded in the state and logs do. `what` names the flag in errors.
pub fn time_filter(v: &str, what: &str) -> Result<String> {
    if v.contains('T') || (v.contains('-') && v.len() >= 10) {
        return Ok(v.to_string());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let secs = match v.parse::<f64>() {
        Ok(n) if n.is_finite() => n,
        // A Go duration may carry a sign: "-5s" is five seconds from now.
        _ => match v.strip_prefix('-') {
            Some(d) => now + crate::config::parse::duration_ns(what, d)? as f64 / 1e9,
            None => {
                let d = v.strip_prefix('+').unwrap_or(v);
                now - crate::config::parse::duration_ns(what, d)? as f64 / 1e9
            }
        },
    };
    let t = UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0));
    Ok(berth_runtime::util::rfc3339(t))
}

/// Seconds since the epoch of an RFC 3339 time (0 when it does not parse).
pub fn unix_of(rfc: &str) -> i64 {
    crate::time::parse_rfc3339(rfc).unwrap_or(0)
}

/// Nanoseconds since the epoch of an RFC 3339 time, the fraction included.
pub fn nanos_of(rfc: &str) -> i64 {
    let frac = rfc
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| {
            let digits: String = r.chars().take_while(char::is_ascii_digit).take(9).collect();
            format!("{digits:0<9}").parse::<i64>().unwrap_or(0)
        })
        .unwrap_or(0);
    unix_of(rfc) * 1_000_000_000 + frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let f = Filters::parse(&["status=running", "status=paused", "label=a=b"]).unwrap();
        assert_eq!(f.get("status"), ["running", "paused"]);
        assert!(f.any("status", |v| v == "paused"));
        assert!(!f.any("status", |v| v == "exited"));
        assert!(f.any("name", |_| false), "no values: no constraint");
        f.check_keys(&["status", "label"]).unwrap();
        let e = f.check_keys(&["status"]).unwrap_err().to_string();
        assert_eq!(e, "invalid filter 'label'");
        assert!(Filters::parse(&["oops"]).is_err());
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "b".to_string());
        assert!(f.labels_match("label", &labels));
        assert!(label_matches(&labels, "a"));
        assert!(!label_matches(&labels, "a=c"));
        // The API's form: the same filters.
        let m = Filters::from_map(BTreeMap::from([
            (
                "status".to_string(),
                vec!["running".to_string(), "paused".to_string()],
            ),
            ("label".to_string(), vec!["a=b".to_string()]),
        ]));
        assert_eq!(m, f);
    }

    #[test]
    fn patterns_and_values() {
        assert!(pattern_matches("^t_c$", "t_c"));
        assert!(pattern_matches("t_", "t_c"));
        assert!(pattern_matches("t.c", "t_c"));
        assert!(!pattern_matches("^t_c$", "t_cd"));
        // Not an expression: only itself.
        assert!(pattern_matches("a(", "a("));
        assert!(!pattern_matches("a(", "a(b"));
        let f = Filters::parse(&["name=^web$", "exited=x"]).unwrap();
        assert!(f.any_match("name", "web"));
        assert!(!f.any_match("name", "web2"));
        assert!(f.any_match("id", "anything"), "no values: no constraint");
        let e = f
            .check_values("exited", |v| v.parse::<i32>().err().map(|e| e.to_string()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid filter 'exited=x': invalid digit found in string"
        );
    }

    #[test]
    fn times() {
        assert_eq!(unix_of("1970-01-01T00:00:00.000000000Z"), 0);
        assert_eq!(unix_of("2023-11-14T22:13:20Z"), 1_700_000_000);
        assert_eq!(
            nanos_of("2023-11-14T22:13:20.5Z"),
            1_700_000_000_500_000_000
        );
        assert!(time_filter("10m", "--since").unwrap().starts_with("20"));
        assert!(
            time_filter("1700000000", "--since")
                .unwrap()
                .starts_with("2023-11-14T22:13:20")
        );
        assert!(time_filter("soon", "--since").is_err());
        // A negative duration is in the future.
        let later = time_filter("-1h", "--until").unwrap();
        let now = time_filter("0s", "--until").unwrap();
        assert!(unix_of(&later) > unix_of(&now) + 3000, "{later} {now}");
    }
}

//! `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
//! [--retries=N] CMD command` and `HEALTHCHECK NONE`, as Docker's builder reads them.

use serde_json::{Map, Value, json};

use super::words::json_array;

/// The `Healthcheck` object the instruction describes (durations in nanoseconds, unset
/// ones left out, as Docker stores them).
pub(super) fn healthcheck(rest: &str) -> Result<Value, String> {
    let mut hc = Map::new();
    let mut s = rest.trim_start();
    // Flags first, each `--name=value`.
    while let Some(flag) = s.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (name, value) = match flag[..end].split_once('=') {
            Some((n, v)) => (n, v),
            None => {
                return Err(format!("Missing a value on flag: --{}", &flag[..end]));
            }
        };
        let key = match name {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("invalid value {value:?} for --retries"))?;
                if n < 1 {
                    return Err(format!("--retries must be at least 1 (not {n})"));
                }
                hc.insert("Retries".into(), json!(n));
                s = flag[end..].trim_start();
                continue;
            }
            other => return Err(format!("Unknown flag: {other}")),
        };
        let ns = go_duration(value)?;
        if ns != 0 && ns < 1_000_000 {
            return Err(format!("Interval {name:?} cannot be less than 1ms"));
        }
        if ns != 0 {
            hc.insert(key.into(), json!(ns));
        }
        s = flag[end..].trim_start();
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    let (kind, cmd) = (&s[..end], s[end..].trim());
    match kind.to_ascii_uppercase().as_str() {
        "" => Err("HEALTHCHECK requires at least one argument".into()),
        "NONE" => {
            if !cmd.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            Ok(json!({"Test": ["NONE"]}))
        }
        "CMD" => {
            if cmd.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            let test: Vec<String> = match json_array(cmd)? {
                Some(args) => std::iter::once("CMD".to_owned()).chain(args).collect(),
                None => vec!["CMD-SHELL".into(), cmd.into()],
            };
            hc.insert("Test".into(), json!(test));
            Ok(Value::Object(hc))
        }
        other => Err(format!("Unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
}

/// Go's `time.ParseDuration` ("1m30s", "500ms", "1.5h", "0"), in nanoseconds.
pub(super) fn go_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let t = s.strip_prefix('+').unwrap_or(s);
    if t == "0" {
        return Ok(0);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = next;
    }
    if !total.is_finite() || total >= 9.2e18 {
        return Err(bad());
    }
    // Whole nanoseconds, as Go truncates: the value is finite, positive and in range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("500ms"), Ok(500_000_000));
        assert_eq!(go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(go_duration("0"), Ok(0));
        for bad in ["", "x", "5", "-1s", "1d", "s", ".s"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            healthcheck(
                "--interval=1m30s --timeout=500ms --start-period=2s --retries=4 CMD [\"a\",\"b\"]"
            ),
            Ok(
                json!({"Test": ["CMD", "a", "b"], "Interval": 90_000_000_000u64,
                "Timeout": 500_000_000u64, "StartPeriod": 2_000_000_000u64, "Retries": 4})
            )
        );
        assert_eq!(
            healthcheck("cmd  curl -f http://x/ || exit 1"),
            Ok(json!({"Test": ["CMD-SHELL", "curl -f http://x/ || exit 1"]}))
        );
        assert_eq!(healthcheck("NONE"), Ok(json!({"Test": ["NONE"]})));
        for bad in [
            "",
            "CMD",
            "NONE x",
            "FOO x",
            "--interval=1ns CMD x",
            "--retries=0 CMD x",
            "--bogus=1 CMD x",
            "--interval CMD x",
            "--interval=x CMD x",
        ] {
            assert!(healthcheck(bad).is_err(), "{bad}");
        }
    }
}

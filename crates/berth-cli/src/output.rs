//! Output helpers shared by command groups: docker-style sizes and durations, aligned
//! tables, a Go-template subset for `--format`, and error printing.

use std::collections::BTreeMap;
use std::io::Write;

use berth_engine::time::{format_rfc3339, now_unix};
use serde_json::Value;

/// Print `Error: <Message>` (first letter capitalized, like docker) on stderr.
pub fn print_error(e: &anyhow::Error) {
    // A reader that went away (`berth export c | head`) is not worth a message, as with
    // any Unix tool killed by SIGPIPE.
    let broken_pipe = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe && crate::pipe::stdout_reader_gone() {
        crate::pipe::die_by_sigpipe();
    }
    if broken_pipe {
        return;
    }
    let msg = format!("{e:#}");
    // Messages quote names from images, archives and containers: never let their bytes
    // drive the terminal.
    let msg: String = msg
        .chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect();
    // A bad flag value is a usage error, printed as docker's client prints it.
    if let Some(usage) = crate::usage::flag_value_error(&msg) {
        let _ = write!(std::io::stderr(), "{usage}");
        return;
    }
    let _ = writeln!(std::io::stderr(), "Error: {}", capitalize(&msg));
}

/// Prints `warning` and Docker's "Are you sure you want to continue? [y/N]" on stderr and
/// reads the answer from stdin; anything but y/yes is no.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::BufRead;
    let mut err = std::io::stderr();
    writeln!(err, "{warning}")?;
    write!(err, "Are you sure you want to continue? [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A time as Go prints a `time.Time` in UTC ("2026-11-23 08:10:56 +0000 UTC"), which is
/// what docker's `{{.CreatedAt}}` shows.
pub fn go_time(unix: i64) -> String {
    let s = format_rfc3339(unix, 0);
    match (s.get(..10), s.get(11..19)) {
        (Some(d), Some(t)) => format!("{d} {t} +0000 UTC"),
        _ => s,
    }
}

/// RFC 3339 in UTC with nanoseconds, always nine digits ("2026-11-23T08:10:56.000000123Z"),
/// as docker prints event times.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    berth_engine::time::format_rfc3339_nanos(secs, nanos)
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn human_size(bytes: u64) -> String {
    human_size_precision(bytes, 3)
}

/// Docker's `units.HumanSize`: decimal units, 4 significant digits ("1.986MB").
pub fn human_size4(bytes: u64) -> String {
    human_size_precision(bytes, 4)
}

/// Docker's `units.HumanSizeWithPrecision`: decimal units, `digits` significant digits.
fn human_size_precision(bytes: u64, digits: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", g(size, digits), UNITS[i])
}

/// `%.Ng` for values in [0, 1000).
fn g(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let int_digits = if v >= 100.0 {
        3
    } else if v >= 10.0 {
        2
    } else {
        1
    };
    let decimals = digits.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// "2 hours ago" for a unix timestamp.
pub fn ago(ts: i64) -> String {
    format!("{} ago", berth_engine::human_duration(now_unix() - ts))
}

/// Docker's tabwriter (minwidth 10, padding 3): align columns, last one unpadded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let w = (widths[i] + 3).max(10);
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A parsed `--format` value.
pub enum Format {
    /// The default table.
    Table,
    /// One JSON object per line.
    Json,
    /// A Go-template subset; `table` prefix prints a header row.
    Template { tmpl: String, table: bool },
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            None | Some("") | Some("table") => Format::Table,
            Some("json") => Format::Json,
            Some(t) => match t.strip_prefix("table") {
                Some(rest) => Format::Template {
                    tmpl: rest.trim_start().to_owned(),
                    table: true,
                },
                None => Format::Template {
                    tmpl: t.to_owned(),
                    table: false,
                },
            },
        }
    }
}

/// Render a Go-template subset: `{{.Field}}`, `{{.A.B}}`, `{{json .}}`, `{{json .Field}}`,
/// `{{upper .F}}`, `{{lower .F}}`, `{{join .F ","}}`, `{{index .F "key"}}`; `\t` and `\n`
/// escapes.
pub fn render(tmpl: &str, v: &Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&unescape(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            anyhow::anyhow!("template parsing error: unclosed action in {tmpl:?}")
        })?;
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&eval(action, v)?);
        rest = &after[end + 2..];
    }
    out.push_str(&unescape(rest));
    Ok(out)
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// A member by its name, else by the same name in another case: Docker's templates see Go
/// field names (`.Status`) where the JSON has lower-case keys (`status` in events).
fn member<'a>(m: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn lookup<'a>(path: &str, v: &'a Value) -> anyhow::Result<&'a Value> {
    if path == "." {
        return Ok(v);
    }
    static NULL: Value = Value::Null;
    let mut cur = v;
    for (i, part) in path.trim_start_matches('.').split('.').enumerate() {
        cur = match cur {
            // An unknown top-level field is an error, as in Docker's templates; an absent
            // member further down reads as nil (an unset pointer or a map's missing key).
            Value::Object(m) if i == 0 => member(m, part)
                .ok_or_else(|| anyhow::anyhow!("template: can't evaluate field {part}"))?,
            Value::Object(m) => member(m, part).unwrap_or(&NULL),
            Value::Null => anyhow::bail!("template: nil pointer evaluating {path}"),
            _ => anyhow::bail!("template: can't evaluate field {part} in {path}"),
        };
    }
    Ok(cur)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let m: BTreeMap<_, _> = m.iter().collect();
            format!(
                "map[{}]",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", plain(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        other => other.to_string(),
    }
}

fn eval(action: &str, v: &Value) -> anyhow::Result<String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        [field] if field.starts_with('.') => Ok(plain(lookup(field, v)?)),
        ["json", field] => Ok(serde_json::to_string(lookup(field, v)?)?),
        ["index", field, key] => {
            let v = lookup(field, v)?;
            let key = key.trim_matches('"');
            let got = match v {
                Value::Object(m) => m.get(key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            match got {
                Some(x) => Ok(plain(x)),
                // A missing key indexes to the map's zero value: nothing, for the string
                // maps (labels, options) templates index, as in Docker.
                None if matches!(v, Value::Object(_)) => Ok(String::new()),
                None => {
                    anyhow::bail!("template: error calling index: cannot index {field} with {key}")
                }
            }
        }
        // Docker's `.Label "key"` on list rows: one label, from a "k=v,..." string or a map.
        [".Label", key] => {
            let key = key.trim_matches('"');
            let got = match v.get("Labels") {
                Some(Value::Object(m)) => m.get(key).map(plain),
                Some(Value::String(s)) => s
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string()),
                _ => None,
            };
            Ok(got.unwrap_or_default())
        }
        ["len", field] => match lookup(field, v)? {
            Value::Array(a) => Ok(a.len().to_string()),
            Value::Object(m) => Ok(m.len().to_string()),
            Value::String(s) => Ok(s.len().to_string()),
            Value::Null => Ok("0".into()),
            _ => anyhow::bail!("template: error calling len: len of type {field} is not supported"),
        },
        ["upper", field] => Ok(plain(lookup(field, v)?).to_uppercase()),
        ["lower", field] => Ok(plain(lookup(field, v)?).to_lowercase()),
        ["join", field, sep] => {
            let sep = sep.trim_matches('"');
            match lookup(field, v)? {
                Value::Array(a) => Ok(a.iter().map(plain).collect::<Vec<_>>().join(sep)),
                other => Ok(plain(other)),
            }
        }
        _ => anyhow::bail!("template: unsupported action {{{{{action}}}}}"),
    }
}

/// Print rows of JSON objects in the requested format; `columns` are (header, field).
pub fn print_rows(format: &Format, columns: &[(&str, &str)], rows: &[Value]) -> anyhow::Result<()> {
    let mut out = String::new();
    match format {
        Format::Json => {
            for r in rows {
                out.push_str(&crate::gojson::to_string(r)?);
                out.push('\n');
            }
        }
        Format::Table => {
            let mut t = vec![
                columns
                    .iter()
                    .map(|(h, _)| h.to_string())
                    .collect::<Vec<_>>(),
            ];
            for r in rows {
                t.push(columns.iter().map(|(_, f)| plain(&r[*f])).collect());
            }
            out = table(&t);
        }
        Format::Template { tmpl, table: true } => {
            let header = header_row(tmpl, columns);
            let mut t: Vec<Vec<String>> = vec![header.split('\t').map(str::to_owned).collect()];
            for r in rows {
                t.push(render(tmpl, r)?.split('\t').map(str::to_owned).collect());
            }
            out = table(&t);
        }
        Format::Template { tmpl, table: false } => {
            for r in rows {
                out.push_str(&render(tmpl, r)?);
                out.push('\n');
            }
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

/// The header of a `table` template: field names replaced by column titles.
fn header_row(tmpl: &str, columns: &[(&str, &str)]) -> String {
    let mut h = unescape(tmpl);
    for (title, field) in columns {
        h = h.replace(&format!("{{{{.{field}}}}}"), title);
    }
    // Any other action gets a title derived as docker's formatter does: `.Label "a.b-c"`
    // is "B C"; a field is its name split into upper-case words ("CreatedAt": "CREATED AT").
    let mut out = String::new();
    let mut rest = h.as_str();
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&derived_title(&rest[start + 2..start + len]));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn derived_title(action: &str) -> String {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        [".Label", key] => {
            let key = key.trim_matches('"');
            let last = key.rsplit('.').next().unwrap_or(key);
            last.replace(['-', '_'], " ").to_uppercase()
        }
        _ => {
            let field = words.last().copied().unwrap_or("");
            let field = field.rsplit('.').next().unwrap_or(field);
            let mut t = String::new();
            let mut prev_lower = false;
            for ch in field.chars() {
                if ch.is_uppercase() && prev_lower {
                    t.push(' ');
                }
                prev_lower = ch.is_lowercase();
                t.extend(ch.to_uppercase());
            }
            t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(4_256_000), "4.26MB");
        assert_eq!(human_size(55_100_000), "55.1MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
        assert_eq!(human_size4(1_986_000), "1.986MB");
        assert_eq!(human_size4(0), "0B");
    }

    #[test]
    fn tables_align() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into(), "SIZE".into()],
            vec!["busybox".into(), "latest".into(), "4.26MB".into()],
        ]);
        assert_eq!(
            t,
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"
        );
    }

    #[test]
    fn templates() {
        let v = json!({"Repository": "busybox", "Tag": "latest", "Labels": {"a": "b"}, "L": ["x", "y"]});
        assert_eq!(
            render("{{.Repository}}:{{.Tag}}", &v).unwrap(),
            "busybox:latest"
        );
        assert_eq!(
            render("{{ .Repository }}\\t{{json .Labels}}", &v).unwrap(),
            "busybox\t{\"a\":\"b\"}"
        );
        assert_eq!(render("{{join .L \",\"}}", &v).unwrap(), "x,y");
        assert_eq!(render("{{upper .Tag}}", &v).unwrap(), "LATEST");
        assert_eq!(render("{{len .L}} {{len .Labels}}", &v).unwrap(), "2 1");
        assert_eq!(
            render("{{.Label \"a\"}}|{{.Label \"zz\"}}", &v).unwrap(),
            "b|"
        );
        let row = json!({"Labels": "app=web,tier=db"});
        assert_eq!(render("{{.Label \"tier\"}}", &row).unwrap(), "db");
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            header_row(
                "table {{.Names}}\\t{{.Label \"com.example.team-name\"}}\\t{{.CreatedAt}}\\t{{json .ID}}",
                &[("NAMES", "Names")]
            ),
            "table NAMES\tTEAM NAME\tCREATED AT\tID"
        );
        // Go field names reach lower-case JSON keys (events' "status").
        let e = json!({"status": "die", "Actor": {"Attributes": {"name": "w1"}}});
        assert_eq!(
            render("{{.Status}} {{.Actor.Attributes.name}}", &e).unwrap(),
            "die w1"
        );
        assert_eq!(
            render("{{index .Labels \"a\"}} {{index .L 1}}", &v).unwrap(),
            "b y"
        );
        assert!(render("{{.Nope}}", &v).is_err());
        assert!(render("{{.Repository", &v).is_err());
        assert!(render("{{range .L}}", &v).is_err());
    }
}

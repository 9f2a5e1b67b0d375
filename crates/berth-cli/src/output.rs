//! Output helpers shared by command groups: docker-style sizes and durations, aligned
//! tables, `--format` templates as docker runs them (the language is in `template`), and
//! error printing.

use std::io::Write;

use berth_engine::time::{format_rfc3339, now_unix};
use serde_json::Value;

use crate::template::{Schema, Template, docker};

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
    human_size_prec(bytes, 3)
}

/// Docker's `units.HumanSize`: decimal units, 4 significant digits ("1.986MB").
pub fn human_size4(bytes: u64) -> String {
    human_size_prec(bytes, 4)
}

/// Docker's `units.HumanSizeWithPrecision(size, prec)` (`units.HumanSize` is precision 4).
pub fn human_size_prec(bytes: u64, prec: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", g(size, prec), UNITS[i])
}

/// `%.{prec}g` for values in [0, 1000).
fn g(v: f64, prec: usize) -> String {
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
    let decimals = prec.saturating_sub(int_digits);
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

/// Docker's tabwriter (minwidth 10, padding 3) over rows of cells.
pub fn table(rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    crate::tabwriter::align(&text, 10, 3)
}

/// `v` with every object's keys sorted, as Go marshals a map (serde_json keeps the
/// order keys were inserted in, which is a struct's field order).
pub fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// JSON with 4-space indentation, as docker prints inspect results.
pub fn json_indented<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

/// A parsed `--format` value of a list command.
pub enum Format {
    /// The default table.
    Table,
    /// One JSON object per line.
    Json,
    /// A Go template (docker's preparation done: `table` cut off, spaces trimmed, `\t` and
    /// `\n` escapes replaced); `table` aligns the rows under a header row.
    Template { tmpl: String, table: bool },
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            None | Some("") | Some("table") => Format::Table,
            Some("json") => Format::Json,
            Some(t) => {
                let (rest, table) = match t.strip_prefix("table") {
                    Some(rest) => (rest, true),
                    None => (t, false),
                };
                Format::Template {
                    tmpl: rest
                        .trim_matches(' ')
                        .replace("\\t", "\t")
                        .replace("\\n", "\n"),
                    table,
                }
            }
        }
    }
}

/// How a list command reports template errors, and the Go type of its rows.
pub struct Rows {
    pub schema: &'static Schema,
    /// Prefixes of docker's messages: "template parsing error" for most commands; `ps`
    /// says "failed to parse template" and "failed to execute template".
    pub parse_error: &'static str,
    pub exec_error: &'static str,
}

impl Rows {
    pub const fn of(schema: &'static Schema) -> Rows {
        Rows {
            schema,
            parse_error: "template parsing error",
            exec_error: "template parsing error",
        }
    }
}

/// Writes `msg` on stderr as docker does for template errors (no "Error:" prefix) and
/// returns the error that exits with `code`.
pub fn template_failure(msg: &str, code: u8) -> anyhow::Error {
    let _ = writeln!(std::io::stderr(), "{msg}");
    anyhow::Error::new(crate::container::Exit(code))
}

/// Render a Go template over `v` as `docker inspect` does (a typed view, then the raw
/// JSON when that fails); errors read "template parsing error: ...".
#[allow(dead_code)] // kept for command groups that render one value
pub fn render(tmpl: &str, v: &Value) -> anyhow::Result<String> {
    let t =
        Template::parse("", tmpl).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
    docker::inspect(&t, v, &docker::CONTAINER, true)
        .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))
}

/// Prints inspect values through the template `tmpl` as docker does: a parse error exits
/// 64 before anything is printed; an element whose template fails is left out and its
/// error reported at the end (exit 1); nothing printed at all still prints an empty line.
/// Each value comes with its schema and whether docker falls back to its raw JSON.
pub fn print_inspect(
    values: &[(Value, &'static Schema, bool)],
    tmpl: &str,
) -> anyhow::Result<Vec<String>> {
    let t = match Template::parse("", tmpl) {
        Ok(t) => t,
        Err(e) => {
            return Err(template_failure(
                &format!("template parsing error: {e}"),
                64,
            ));
        }
    };
    let mut out = String::new();
    let mut errors = Vec::new();
    for (v, schema, fallback) in values {
        match docker::inspect(&t, v, schema, *fallback) {
            Ok(s) => {
                out.push_str(&s);
                out.push('\n');
            }
            Err(e) => errors.push(format!("template parsing error: {e}")),
        }
    }
    if out.is_empty() {
        out.push('\n');
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(errors)
}

/// `info --format` and `version --format`: parse errors exit 64; an execution error
/// prints what was written and an empty line, then the error, and exits 1.
pub fn print_template(name: &str, tmpl: &str, v: &Value, schema: &Schema) -> anyhow::Result<()> {
    let t = match Template::parse(name, tmpl) {
        Ok(t) => t,
        Err(e) => {
            return Err(template_failure(
                &format!("template parsing error: {e}"),
                64,
            ));
        }
    };
    let mut out = std::io::stdout();
    match t.execute_with(v, schema, &[]) {
        Ok(s) => {
            out.write_all(format!("{s}\n").as_bytes())?;
            Ok(())
        }
        Err((e, partial)) => {
            out.write_all(format!("{partial}\n").as_bytes())?;
            Err(template_failure(&e.to_string(), 1))
        }
    }
}

/// Print rows of JSON objects in the requested format; `columns` are (header, field).
#[allow(dead_code)] // kept for command groups without a Go type of their own
pub fn print_rows(format: &Format, columns: &[(&str, &str)], rows: &[Value]) -> anyhow::Result<()> {
    static ROWS: Schema = docker::row("*formatter.rowContext");
    print_rows_as(format, columns, rows, &Rows::of(&ROWS))
}

/// [`print_rows`] with the command's Go type and error wording.
pub fn print_rows_as(
    format: &Format,
    columns: &[(&str, &str)],
    rows: &[Value],
    kind: &Rows,
) -> anyhow::Result<()> {
    let default;
    let (tmpl, table) = match format {
        Format::Json => {
            let mut out = String::new();
            for r in rows {
                // docker's rows marshal themselves as maps with json.Marshal, which sorts
                // the keys and escapes HTML.
                out.push_str(&crate::template::escape_html_json(&serde_json::to_string(
                    &sorted_keys(r),
                )?));
                out.push('\n');
            }
            std::io::stdout().write_all(out.as_bytes())?;
            return Ok(());
        }
        Format::Table => {
            default = columns
                .iter()
                .map(|(_, f)| format!("{{{{.{f}}}}}"))
                .collect::<Vec<_>>()
                .join("\t");
            (default.as_str(), true)
        }
        Format::Template { tmpl, table } => (tmpl.as_str(), *table),
    };
    let t = match Template::parse("", tmpl) {
        Ok(t) => t,
        Err(e) => return Err(template_failure(&format!("{}: {e}", kind.parse_error), 1)),
    };
    let mut body = String::new();
    for r in rows {
        match t.execute(r, kind.schema) {
            Ok(s) => body.push_str(&s),
            Err(e) => return Err(template_failure(&format!("{}: {e}", kind.exec_error), 1)),
        }
        body.push('\n');
    }
    let out = if table {
        let titles: Vec<(&str, &str)> = columns.iter().map(|(h, f)| (*f, *h)).collect();
        let mut all = docker::header(&t, &titles, rows);
        all.push('\n');
        all.push_str(&body);
        crate::tabwriter::align(&all, 10, 3)
    } else {
        body
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
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
        assert_eq!(human_size_prec(1_986_000, 4), "1.986MB");
        assert_eq!(human_size_prec(1_000, 4), "1kB");
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
        // inspect templates keep `\t` as it is; list formats replace it.
        assert_eq!(
            render("{{ .Repository }}\\t{{json .Labels}}", &v).unwrap(),
            "busybox\\t{\"a\":\"b\"}"
        );
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        // Go field names reach lower-case JSON keys (events' "status").
        let e = json!({"status": "die", "Actor": {"Attributes": {"name": "w1"}}});
        assert_eq!(
            render("{{.Status}} {{.Actor.Attributes.name}}", &e).unwrap(),
            "die w1"
        );
        // Fields of docker's events.Message that the JSON may leave out read as "".
        let t = Template::parse("", "[{{.ID}}][{{.From}}][{{.Status}}] {{.Action}}").unwrap();
        let ev = json!({"Action": "create", "Type": "volume", "Actor": {"ID": "v"}});
        assert_eq!(
            t.execute(&ev, &docker::EVENT).as_deref(),
            Ok("[][][] create")
        );
        let err = |t: &str| {
            render(t, &v)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err("{{.Nope}}"),
            "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
        assert_eq!(
            err("{{.Repository"),
            "template parsing error: template: :1: unclosed action"
        );
        assert_eq!(
            err("{{range .L}}"),
            "template parsing error: template: :1: unexpected EOF"
        );
    }

    #[test]
    fn formats_as_docker_prepares_them() {
        let Format::Template { tmpl, table } = Format::parse(Some("table  {{.A}}\\t{{.B}} "))
        else {
            panic!("a template")
        };
        assert_eq!((tmpl.as_str(), table), ("{{.A}}\t{{.B}}", true));
        assert!(matches!(Format::parse(Some("table")), Format::Table));
        assert!(matches!(Format::parse(Some("json")), Format::Json));
    }
}

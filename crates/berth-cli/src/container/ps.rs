//! `ps`: docker's columns, filters and formats.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use berth_engine::filters::Filters;
use berth_engine::{ContainerSummary, ListOptions, human_duration};
use clap::Args;
use serde_json::{Value, json};

use super::engine;
use crate::cli::Global;
use crate::output::{self, Format};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided.
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    pub format: Option<String>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Docker's `Ellipsis`: at most `n` characters, the last one `…` when cut.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Go's `strconv.Quote`: double quotes, with `"` and `\` escaped and control characters
/// written as escapes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Docker's `Size` of a container: the writable layer's, with the virtual size when it
/// is known ("0B" when sizes were not computed).
fn size_text(c: &ContainerSummary) -> String {
    let rw = output::human_size(c.size_rw.unwrap_or(0));
    match c.size_root_fs {
        Some(all) if all > 0 => format!("{rw} (virtual {})", output::human_size(all)),
        _ => rw,
    }
}

/// Whether a `--format` template shows `.Size` (then ps computes sizes, as Docker's does
/// when its template uses the field; `{{json .}}` uses every field).
pub fn template_uses_size(format: Option<&str>) -> bool {
    match format {
        None | Some("json") | Some("table") | Some("") => false,
        Some(t) => t.contains(".Size") || crate::gojson::is_whole_json(t),
    }
}

/// One row, with docker's template field names.
pub fn row(c: &ContainerSummary, no_trunc: bool) -> Value {
    let cmd = if no_trunc {
        go_quote(&c.command)
    } else {
        go_quote(&truncate(&c.command, 20))
    };
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| if no_trunc { m.clone() } else { truncate(m, 15) })
        .collect();
    json!({
        "ID": if no_trunc { c.id.clone() } else { short(&c.id) },
        "Image": c.image,
        "Command": cmd,
        "CreatedAt": crate::output::go_time(c.created_unix),
        "RunningFor": format!("{} ago", human_duration(now() - c.created_unix)),
        "Ports": displayable_ports(&c.ports),
        "State": c.state.as_str(),
        "Status": c.status,
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": c.network,
        "LocalVolumes": c.local_volumes.to_string(),
        // The image's platform is not recorded with the container (Docker's is null
        // for images from its graph drivers too).
        "Platform": null,
        "Size": size_text(c),
    })
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// docker checks a `--format` template before listing: it parses it and runs it over an
/// empty row ("failed to parse template", "failed to execute template", exit 1, even when
/// nothing is listed), and asks for sizes when the template shows `.Size` (`{{json .}}`
/// does). It checks the format as given: "table {{.X}}", "json" and "table" are templates
/// too (which places errors after "table ").
fn check_format(format: Option<&str>) -> Result<bool> {
    let Some(tmpl) = format.filter(|f| !f.is_empty()) else {
        return Ok(false);
    };
    let t = crate::template::Template::parse("", tmpl)
        .map_err(|e| output::template_failure(&format!("failed to parse template: {e}"), 1))?;
    let empty: serde_json::Map<String, Value> = EMPTY_ROW
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    t.execute(&Value::Object(empty), &crate::template::docker::PS)
        .map_err(|e| output::template_failure(&format!("failed to execute template: {e}"), 1))?;
    Ok(tmpl.contains(".Size") || tmpl.contains("json ."))
}

/// A `ps` row of an empty container, as docker's ContainerContext shows it.
const EMPTY_ROW: [(&str, &str); 14] = [
    ("ID", ""),
    ("Image", "<no image>"),
    ("Command", "\"\""),
    ("CreatedAt", "1970-01-01 00:00:00 +0000 UTC"),
    ("RunningFor", "56 years ago"),
    ("Ports", ""),
    ("State", ""),
    ("Status", ""),
    ("Names", ""),
    ("Labels", ""),
    ("Mounts", ""),
    ("Networks", ""),
    ("LocalVolumes", "0"),
    ("Size", "0B"),
];

pub fn ps(g: &Global, a: PsArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    if a.quiet && a.format.as_deref().is_some_and(|f| !f.is_empty()) {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let size = check_format(a.format.as_deref())? && !a.quiet || a.size;
    let limit = if a.latest {
        Some(1)
    } else {
        usize::try_from(a.last).ok().filter(|n| *n > 0)
    };
    let list = e.list(&ListOptions {
        all: a.all,
        limit,
        size: size || (template_uses_size(a.format.as_deref()) && !a.quiet),
        filters: Filters::parse(&a.filter)?,
    })?;
    if a.quiet {
        let mut out = String::new();
        for c in &list {
            out.push_str(&if a.no_trunc {
                c.id.clone()
            } else {
                short(&c.id)
            });
            out.push('\n');
        }
        print!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Value> = list.iter().map(|c| row(c, a.no_trunc)).collect();
    let mut columns = vec![
        ("CONTAINER ID", "ID"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
        ("NAMES", "Names"),
    ];
    if a.size {
        columns.push(("SIZE", "Size"));
    }
    let kind = output::Rows {
        schema: &crate::template::docker::PS,
        parse_error: "failed to parse template",
        exec_error: "failed to execute template",
    };
    output::print_rows_as(&Format::parse(a.format.as_deref()), &columns, &rows, &kind)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_go() {
        assert_eq!(go_quote("echo 'a b'"), "\"echo 'a b'\"");
        assert_eq!(go_quote("x \"y\"\n\u{1}"), "\"x \\\"y\\\"\\n\\x01\"");
        assert!(template_uses_size(Some("{{.Names}} {{.Size}}")));
        assert!(template_uses_size(Some("{{json .}}")));
        assert!(!template_uses_size(Some("json")) && !template_uses_size(None));
    }

    #[test]
    fn truncation() {
        assert_eq!(
            truncate("abcdefghijklmnopqrstuvwxyz", 20).chars().count(),
            20
        );
    }
}

/// Docker's PORTS text (cli/command/formatter DisplayablePorts): ports published on the
/// same port number, or only exposed, grouped into ranges per address and protocol
/// ("0.0.0.0:8000-8002->8000-8002/tcp", "80-81/tcp"); the others one by one after them
/// ("0.0.0.0:8080->80/tcp").
pub fn displayable_ports(ports: &[berth_engine::PortSummary]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.private_port, &a.ip, a.public_port, &a.proto).cmp(&(
            b.private_port,
            &b.ip,
            b.public_port,
            &b.proto,
        ))
    });
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for p in &ports {
        let key = if p.ip.is_empty() {
            p.proto.clone()
        } else if p.public_port != p.private_port {
            mappings.push(format!(
                "{}->{}/{}",
                join_host_port(&p.ip, &p.public_port.to_string()),
                p.private_port,
                p.proto
            ));
            continue;
        } else {
            format!("{}/{}", p.ip, p.proto)
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, p.private_port, p.private_port)),
            Some(g) if g.2.checked_add(1) == Some(p.private_port) => g.2 = p.private_port,
            Some(g) => {
                result.push(form_group(&g.0, g.1, g.2));
                *g = (key, p.private_port, p.private_port);
            }
        }
    }
    result.extend(groups.iter().map(|g| form_group(&g.0, g.1, g.2)));
    result.extend(mappings);
    result.join(", ")
}

/// "ip:port", an IPv6 address in brackets (Go's net.JoinHostPort, as Docker prints it).
pub fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, proto) = match key.rsplit_once('/') {
        Some((ip, proto)) => (ip, proto),
        None => ("", key),
    };
    let mut g = first.to_string();
    if first != last {
        g = format!("{g}-{last}");
    }
    if !ip.is_empty() {
        g = format!("{}->{g}", join_host_port(ip, &g));
    }
    format!("{g}/{proto}")
}

#[cfg(test)]
mod port_tests {
    use super::*;

    fn p(ip: &str, private: u16, public: u16, proto: &str) -> berth_engine::PortSummary {
        berth_engine::PortSummary {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            proto: proto.into(),
        }
    }

    #[test]
    fn docker_ports_text() {
        let v = [
            p("0.0.0.0", 80, 8080, "tcp"),
            p("", 5000, 0, "tcp"),
            p("", 5001, 0, "tcp"),
            p("0.0.0.0", 9000, 9000, "udp"),
            p("0.0.0.0", 9001, 9001, "udp"),
            p("", 53, 0, "udp"),
        ];
        assert_eq!(
            displayable_ports(&v),
            "53/udp, 5000-5001/tcp, 0.0.0.0:9000-9001->9000-9001/udp, 0.0.0.0:8080->80/tcp"
        );
        assert_eq!(displayable_ports(&[]), "");
    }
}

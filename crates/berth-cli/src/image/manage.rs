//! `rm`, `tag`, `inspect`, `history` and `prune`.

use std::io::Write;
use std::process::ExitCode;

use berth_engine::Engine;
use berth_engine::image::{PruneReport, RemoveEvent};
use berth_engine::time::format_rfc3339;
use serde_json::{Value, json};

use super::{HistoryArgs, InspectArgs, PruneArgs, RmArgs, TagArgs};
use crate::output::{Format, Rows, ago, human_size, print_error, print_rows_as};
use crate::template::docker;

pub fn rm(e: &Engine, a: RmArgs) -> anyhow::Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    let mut out = std::io::stdout().lock();
    for name in &a.images {
        match e.image_remove(name, a.force) {
            Ok(events) => {
                for e in events {
                    match e {
                        RemoveEvent::Untagged(t) => writeln!(out, "Untagged: {t}")?,
                        RemoveEvent::Deleted(d) => writeln!(out, "Deleted: {d}")?,
                    }
                }
            }
            Err(e) => {
                out.flush()?;
                // `rmi -f` of an image that is not there: said, but no failure (docker).
                let missing = e.kind() == berth_engine::ErrorKind::NotFound;
                print_error(&e.into());
                if !(a.force && missing) {
                    code = ExitCode::from(1);
                }
            }
        }
    }
    Ok(code)
}

pub fn tag(e: &Engine, a: TagArgs) -> anyhow::Result<ExitCode> {
    e.image_tag(&a.source, &a.target)?;
    Ok(ExitCode::SUCCESS)
}

pub fn inspect(e: &Engine, a: InspectArgs) -> anyhow::Result<ExitCode> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &a.images {
        match e.image_inspect(name) {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    let objects: Vec<_> = found
        .into_iter()
        .map(|i| crate::container::inspect::Object::Image(Box::new(i)))
        .collect();
    let failed = crate::container::print_values(&objects, a.format.as_deref())?;
    for f in &failed {
        eprintln!("{f}");
    }
    if !failed.is_empty() {
        for e in errors {
            print_error(&e.into());
        }
        return Ok(ExitCode::from(1));
    }
    let code = if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    for e in errors {
        print_error(&e.into());
    }
    Ok(code)
}

pub fn history(e: &Engine, a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let rows = e.image_history(&a.image)?;
    if a.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(&short_or_missing(r.id.as_deref(), a.no_trunc));
            out.push('\n');
        }
        std::io::stdout().write_all(out.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let vals: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut by = r.created_by.clone();
            if !a.no_trunc && by.chars().count() > 45 {
                by = by.chars().take(44).collect::<String>() + "…";
            }
            json!({
                "ID": short_or_missing(r.id.as_deref(), a.no_trunc),
                "CreatedSince": if a.human { ago(r.created) } else { format_rfc3339(r.created, 0) },
                "CreatedAt": format_rfc3339(r.created, 0),
                "CreatedBy": by,
                "Size": if a.human { human_size(r.size) } else { r.size.to_string() },
                "Comment": r.comment,
            })
        })
        .collect();
    let cols = [
        ("IMAGE", "ID"),
        ("CREATED", "CreatedSince"),
        ("CREATED BY", "CreatedBy"),
        ("SIZE", "Size"),
        ("COMMENT", "Comment"),
    ];
    print_rows_as(
        &Format::parse(a.format.as_deref()),
        &cols,
        &vals,
        &Rows::of(&docker::HISTORY),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn short_or_missing(id: Option<&str>, no_trunc: bool) -> String {
    match id {
        None => "<missing>".into(),
        Some(id) if no_trunc => id.to_owned(),
        Some(id) => id.trim_start_matches("sha256:").chars().take(12).collect(),
    }
}

pub fn prune(e: &Engine, a: PruneArgs) -> anyhow::Result<ExitCode> {
    if !a.filter.is_empty() {
        anyhow::bail!("prune filters are not supported yet");
    }
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !crate::output::confirm(&format!("WARNING! This will remove {what}."))? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let rep = e.image_prune(a.all)?;
    let mut out = String::new();
    deleted_images(&mut out, &rep);
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(rep.gc.bytes_freed)
    ));
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Docker's "Deleted Images:" section (nothing when nothing was removed).
pub(crate) fn deleted_images(out: &mut String, rep: &PruneReport) {
    if rep.events.is_empty() {
        return;
    }
    out.push_str("Deleted Images:\n");
    for e in &rep.events {
        match e {
            RemoveEvent::Untagged(t) => out.push_str(&format!("untagged: {t}\n")),
            RemoveEvent::Deleted(d) => out.push_str(&format!("deleted: {d}\n")),
        }
    }
    out.push('\n');
}

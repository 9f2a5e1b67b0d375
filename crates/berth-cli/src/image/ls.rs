//! `berth images` / `berth image ls`: the rows come from `Engine::images`, filtered there.

use std::io::Write;
use std::process::ExitCode;

use berth_engine::Engine;
use serde_json::{Value, json};

use super::LsArgs;
use crate::output::{Format, Rows, ago, human_size, print_rows_as};

pub fn run(e: &Engine, a: LsArgs) -> anyhow::Result<ExitCode> {
    let images = e.images(&a.filter, a.repository.as_deref())?;
    let none = || "<none>".to_owned();
    let rows: Vec<Value> = images
        .into_iter()
        .map(|img| {
            let id = if a.no_trunc {
                img.id.to_string()
            } else {
                img.id.short().to_owned()
            };
            json!({
                "Containers": "N/A",
                "CreatedAt": crate::output::go_time(img.created),
                "CreatedSince": ago(img.created),
                "Digest": img.digest.map(|d| d.to_string()).unwrap_or_else(none),
                "ID": id,
                "Repository": img.repository.unwrap_or_else(none),
                "SharedSize": "N/A",
                "Size": human_size(img.size),
                "Tag": img.tag.unwrap_or_else(none),
                "UniqueSize": "N/A",
                "VirtualSize": crate::output::human_size4(img.size),
            })
        })
        .collect();
    if a.quiet {
        // One line per row, as Docker's: an image with two tags is listed twice.
        let mut out = String::new();
        for r in &rows {
            out.push_str(r["ID"].as_str().unwrap_or_default());
            out.push('\n');
        }
        std::io::stdout().write_all(out.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut cols = vec![("REPOSITORY", "Repository"), ("TAG", "Tag")];
    if a.digests {
        cols.push(("DIGEST", "Digest"));
    }
    cols.extend([
        ("IMAGE ID", "ID"),
        ("CREATED", "CreatedSince"),
        ("SIZE", "Size"),
    ]);
    print_rows_as(
        &Format::parse(a.format.as_deref()),
        &cols,
        &rows,
        &Rows::of(&crate::template::docker::IMAGES),
    )?;
    Ok(ExitCode::SUCCESS)
}

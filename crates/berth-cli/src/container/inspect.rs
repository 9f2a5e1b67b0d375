//! `inspect`: containers, images and volumes in Docker's JSON shape (the engine's inspect
//! models), printed as JSON or through a template.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::engine;
use crate::cli::Global;
use crate::template::{Schema, docker};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for the specified type (container, image, volume).
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Prints values as a JSON array (compact for `--format json`) or through a template, one
/// line each; each value comes with the Go type docker reads it as, and whether docker falls
/// back to its raw JSON. Returns the template errors, which the caller reports (exit 1).
pub fn print(
    values: &[(Value, &'static Schema, bool)],
    format: Option<&str>,
) -> Result<Vec<String>> {
    let plain = || values.iter().map(|(v, _, _)| v.clone()).collect::<Vec<_>>();
    let text = match format {
        None | Some("") => crate::output::json_indented(&plain())?,
        Some("json") => serde_json::to_string(&plain())?,
        Some(t) => return crate::output::print_inspect(values, t),
    };
    // A reader that went away is an error (reported quietly), not a panic.
    std::io::Write::write_all(&mut std::io::stdout(), format!("{text}\n").as_bytes())?;
    Ok(Vec::new())
}

pub fn inspect(g: &Global, a: InspectArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        let kind = a.kind.as_deref();
        if kind.is_none_or(|k| k == "container") {
            match e.inspect(n) {
                Ok(c) => {
                    values.push((serde_json::to_value(c)?, &docker::CONTAINER, true));
                    continue;
                }
                Err(err) if err.kind() != berth_engine::ErrorKind::NotFound => {
                    return Err(err.into());
                }
                Err(_) => {}
            }
        }
        if kind.is_none_or(|k| k == "image") {
            match e.image_inspect(n) {
                Ok(v) => {
                    values.push((v, &docker::IMAGE, true));
                    continue;
                }
                Err(err) if err.kind() != berth_engine::ErrorKind::NotFound => {
                    return Err(err.into());
                }
                Err(_) => {}
            }
        }
        if kind.is_none_or(|k| k == "volume")
            && let Ok(v) = e.volume_inspect(n)
        {
            values.push((serde_json::to_value(v)?, &docker::VOLUME, true));
            continue;
        }
        missing.push(n.clone());
    }
    let failed = print(&values, a.format.as_deref())?;
    for f in &failed {
        eprintln!("{f}");
    }
    for m in &missing {
        eprintln!("Error: No such object: {m}");
    }
    if !missing.is_empty() || !failed.is_empty() {
        return Err(anyhow::Error::new(super::Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

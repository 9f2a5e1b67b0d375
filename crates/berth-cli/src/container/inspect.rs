//! `inspect`: containers, images and volumes in Docker's JSON shape (the engine's inspect
//! models), printed as JSON or through a template.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::engine;
use crate::cli::Global;

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
    /// Containers, images or volumes, by name or ID (containers first, as docker looks
    /// them up; --type chooses)
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// Prints values as a JSON array or through a template, one line each.
pub fn print(values: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None | Some("") | Some("json") => println!("{}", serde_json::to_string_pretty(values)?),
        Some(t) => {
            let mut out = String::new();
            for v in values {
                out.push_str(&crate::output::render(t, v)?);
                out.push('\n');
            }
            print!("{out}");
        }
    }
    Ok(())
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
                    values.push(serde_json::to_value(c)?);
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
                    values.push(v);
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
            values.push(serde_json::to_value(v)?);
            continue;
        }
        missing.push(n.clone());
    }
    print(&values, a.format.as_deref())?;
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("Error: No such object: {m}");
        }
        return Err(anyhow::Error::new(super::Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

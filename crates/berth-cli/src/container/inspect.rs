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
    /// Return JSON for the specified type (container, image, volume, network).
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
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

/// `container inspect`: containers only, as docker's ("No such container" for an image).
pub fn inspect_containers(g: &Global, a: InspectArgs) -> Result<ExitCode> {
    if a.kind.is_some() {
        crate::output::print_error(&anyhow::anyhow!("unknown flag: --type"));
        return Err(anyhow::Error::new(super::Exit(125)));
    }
    inspect_kind(g, a, Some("container"), "container")
}

/// `inspect`: containers, images, volumes and networks, or the kind `--type` names.
pub fn inspect(g: &Global, a: InspectArgs) -> Result<ExitCode> {
    let kind = a.kind.clone();
    inspect_kind(g, a, kind.as_deref(), "object")
}

fn inspect_kind(g: &Global, a: InspectArgs, kind: Option<&str>, what: &str) -> Result<ExitCode> {
    let e = engine(g)?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
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
        if kind.is_none_or(|k| k == "network")
            && let Ok(v) = e.network_inspect(n)
        {
            values.push(serde_json::to_value(v)?);
            continue;
        }
        missing.push(n.clone());
    }
    print(&values, a.format.as_deref())?;
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("Error: No such {what}: {m}");
        }
        return Err(anyhow::Error::new(super::Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

//! `volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use berth_engine::filters::Filters;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cli::Global;
use crate::container::{Exit, engine};
use crate::output::{self, Format};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name (local only).
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options (uid=, gid=, mode=).
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// The volume's name ([a-zA-Z0-9][a-zA-Z0-9_.-]+; default: a random one)
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true").
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Volumes, by name
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes.
    #[arg(short, long)]
    pub force: bool,
    /// Volumes, by name
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>").
    #[arg(long)]
    pub filter: Vec<String>,
}

fn kv(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => m.insert(k.to_string(), v.to_string()),
            None if what == "label" => m.insert(i.clone(), String::new()),
            None => bail!("invalid {what} {i:?}: use key=value"),
        };
    }
    Ok(m)
}

pub fn run(g: &Global, cmd: VolumeCommand) -> Result<ExitCode> {
    let e = engine(g)?;
    match cmd {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                bail!("volume driver {:?} is not supported (only local)", a.driver);
            }
            let v = e.volume_create(
                a.name.as_deref(),
                kv(&a.label, "label")?,
                kv(&a.opt, "option")?,
            )?;
            println!("{}", v.name);
        }
        VolumeCommand::Ls(a) => {
            let list = e.volume_list(&Filters::parse(&a.filter)?)?;
            if a.quiet {
                for v in &list {
                    println!("{}", v.name);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Value> = list
                .iter()
                // Docker's list has no usage data (Links, Size).
                .map(|v| row(&v.name, &v.driver, &v.labels, &v.mountpoint, None))
                .collect();
            output::print_rows_as(
                &Format::parse(a.format.as_deref()),
                &[("DRIVER", "Driver"), ("VOLUME NAME", "Name")],
                &rows,
                &output::Rows::of(&crate::template::docker::VOLUMES),
            )?;
        }
        VolumeCommand::Inspect(a) => {
            let mut values = Vec::new();
            let mut missing = false;
            for n in &a.names {
                match e.volume(n) {
                    Ok(_) => values.push(crate::container::inspect::Object::Volume(
                        e.volume_inspect(n)?,
                    )),
                    Err(err) => {
                        output::print_error(&err.into());
                        missing = true;
                    }
                }
            }
            let failed = crate::container::print_values(&values, a.format.as_deref())?;
            for f in &failed {
                eprintln!("{f}");
            }
            if missing || !failed.is_empty() {
                return Err(anyhow::Error::new(Exit(1)));
            }
        }
        VolumeCommand::Rm(a) => {
            let mut failed = false;
            for n in &a.names {
                match e.volume_remove(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(err) => {
                        output::print_error(&err.into());
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(anyhow::Error::new(Exit(1)));
            }
        }
        VolumeCommand::Prune(a) => {
            let what = if a.all {
                "all local volumes not used by at least one container"
            } else {
                "anonymous local volumes not used by at least one container"
            };
            if !a.force && !output::confirm(&format!("WARNING! This will remove {what}."))? {
                return Ok(ExitCode::SUCCESS);
            }
            let (removed, freed) = e.volume_prune(a.all, &Filters::parse(&a.filter)?)?;
            let mut out = String::new();
            deleted_volumes(&mut out, &removed);
            out.push_str(&format!(
                "Total reclaimed space: {}\n",
                output::human_size(freed)
            ));
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's "Deleted Volumes:" section (nothing when nothing was removed).
pub(crate) fn deleted_volumes(out: &mut String, removed: &[String]) {
    if removed.is_empty() {
        return;
    }
    out.push_str("Deleted Volumes:\n");
    for r in removed {
        out.push_str(r);
        out.push('\n');
    }
    out.push('\n');
}

/// A volume as docker's list rows show it (`volume ls`, `system df -v`); `usage` is
/// (links, size) when known, else N/A. Berth has no cluster volumes (Group, Availability,
/// Status: N/A).
pub fn row(
    name: &str,
    driver: &str,
    labels: &std::collections::BTreeMap<String, String>,
    mountpoint: &std::path::Path,
    usage: Option<(usize, u64)>,
) -> Value {
    let labels: Vec<String> = labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
    let (links, size) = usage.map_or(("N/A".into(), "N/A".into()), |(l, s)| {
        (l.to_string(), crate::output::human_size4(s))
    });
    json!({"Availability": "N/A", "Driver": driver, "Group": "N/A",
           "Labels": labels.join(","), "Links": links, "Mountpoint": mountpoint,
           "Name": name, "Scope": "local", "Size": size, "Status": "N/A"})
}

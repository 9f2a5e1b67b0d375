//! `berth system df` and `berth system check`.

use std::io::Write;
use std::process::ExitCode;

use berth_engine::Engine;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::Global;
use crate::container::engine;
use crate::output::{Format, human_size, print_rows};

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
    /// Find and repair what an interrupted berth left in the store.
    Check(CheckArgs),
    /// Remove stopped containers, dangling (with -a: unused) images and, with --volumes,
    /// unused anonymous volumes.
    Prune(PruneArgs),
    /// Start the containers whose restart policy says they should run (always, and
    /// unless-stopped unless stopped by the user): the boot-time job of a daemonless engine.
    Restore,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Show detailed information on space usage.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>", "until=<timestamp>").
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Re-hash every blob too (slow).
    #[arg(long)]
    pub verify: bool,
    /// Output JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, cmd: SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Df(a) => df(&engine(g)?, a),
        SystemCommand::Check(a) => check(&engine(g)?, a),
        SystemCommand::Restore => restore(g),
        SystemCommand::Prune(a) => prune(g, a),
    }
}

/// Prints the name of each container started again; a container that fails to start is
/// reported on stderr and makes the exit code 1, the others still start.
fn restore(g: &Global) -> anyhow::Result<ExitCode> {
    let engine = crate::container::engine(g)?;
    let mut failed = false;
    for (c, res) in engine.restore()? {
        match res {
            Ok(()) => println!("{}", c.name),
            Err(e) => {
                failed = true;
                eprintln!("Error: cannot restore container {}: {e}", c.name);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn pct(part: u64, whole: u64) -> String {
    match (part * 100).checked_div(whole) {
        Some(p) => format!("{p}%"),
        None => "0%".into(),
    }
}

fn df(e: &Engine, a: DfArgs) -> anyhow::Result<ExitCode> {
    let du = e.disk_usage()?;
    let images_size = du.layers_size + du.blobs_size;
    let rows = vec![
        json!({
            "Type": "Images", "TotalCount": du.images.to_string(), "Active": du.active_images.to_string(),
            "Size": human_size(images_size),
            "ApparentSize": human_size(du.layers_apparent_size + du.blobs_size),
            "Reclaimable": format!("{} ({})", human_size(du.reclaimable), pct(du.reclaimable, images_size)),
        }),
        json!({
            "Type": "Layers", "TotalCount": du.layers.to_string(), "Active": "",
            "Size": human_size(du.layers_size),
            // Sizes are the disk taken; what the files say they hold (sparse files' holes
            // included) is beside them, for --format.
            "ApparentSize": human_size(du.layers_apparent_size),
            "Reclaimable": format!("shared {} / unique {}", human_size(du.shared_size), human_size(du.unique_size)),
        }),
        json!({
            "Type": "Containers", "TotalCount": du.snapshots.to_string(), "Active": du.snapshots.to_string(),
            "Size": human_size(du.snapshots_size), "ApparentSize": human_size(du.snapshots_apparent_size),
            "Reclaimable": "0B (0%)",
        }),
    ];
    let cols = [
        ("TYPE", "Type"),
        ("TOTAL", "TotalCount"),
        ("ACTIVE", "Active"),
        ("SIZE", "Size"),
        ("RECLAIMABLE", "Reclaimable"),
    ];
    print_rows(&Format::parse(a.format.as_deref()), &cols, &rows)?;
    if a.verbose {
        let mut out = String::from("\nImages space usage:\n\n");
        let mut t = vec![
            vec!["REPOSITORY", "TAG", "IMAGE ID", "SIZE", "CONTAINERS"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
        ];
        let none = || "<none>".to_owned();
        for img in e.images_usage()? {
            t.push(vec![
                img.repository.unwrap_or_else(none),
                img.tag.unwrap_or_else(none),
                img.id.short().to_owned(),
                human_size(img.size),
                img.containers.to_string(),
            ]);
        }
        out.push_str(&crate::output::table(&t));
        std::io::stdout().write_all(out.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check(e: &Engine, a: CheckArgs) -> anyhow::Result<ExitCode> {
    let rep = e.system_check(a.verify)?;
    let mut out = String::new();
    if a.json {
        out = serde_json::to_string_pretty(&rep)?;
        out.push('\n');
    } else {
        for r in &rep.repaired {
            out.push_str(&format!("repaired: {r}\n"));
        }
        for p in &rep.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
        if rep.repaired.is_empty() && rep.problems.is_empty() {
            out.push_str("no problems found\n");
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(if rep.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `system prune`: container prune, network prune, then volume prune (--volumes), then
/// image prune, as Docker orders them; one confirmation for all.
fn prune(g: &Global, a: PruneArgs) -> anyhow::Result<ExitCode> {
    if !a.filter.is_empty() {
        // The image store's prune takes no filters yet: refuse rather than prune more
        // than asked.
        anyhow::bail!(
            "--filter is not supported by system prune yet: use container prune --filter"
        );
    }
    if !a.force {
        let mut what = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if a.volumes {
            what.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        what.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        if !crate::output::confirm(&what)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let engine = crate::container::engine(g)?;
    let mut out = String::new();
    let (containers, mut freed) =
        engine.prune_containers(&berth_engine::filters::Filters::none())?;
    if !containers.is_empty() {
        out.push_str("Deleted Containers:\n");
        for c in &containers {
            out.push_str(c);
            out.push('\n');
        }
        out.push('\n');
    }
    let networks = engine.network_prune(&berth_engine::filters::Filters::none())?;
    crate::network::deleted_networks(&mut out, &networks);
    if a.volumes {
        let (volumes, bytes) =
            engine.volume_prune(false, &berth_engine::filters::Filters::none())?;
        crate::volume::deleted_volumes(&mut out, &volumes);
        freed += bytes;
    }
    let rep = engine.image_prune(a.all)?;
    crate::image::deleted_images(&mut out, &rep);
    freed += rep.gc.bytes_freed;
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        crate::output::human_size(freed)
    ));
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

//! `berth system df` and `berth system check`.

use std::io::Write;
use std::process::ExitCode;

use berth_engine::{Engine, SystemDf};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cli::Global;
use crate::container::engine;
use crate::output::{Format, human_size, human_size4, print_rows_as};

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

/// Docker's RECLAIMABLE: the bytes, with their share of `total` when there is any.
fn reclaimable(part: u64, total: u64) -> String {
    match (part.saturating_mul(100)).checked_div(total) {
        Some(p) => format!("{} ({p}%)", human_size4(part)),
        None => human_size4(part),
    }
}

/// The summary rows: images, containers, local volumes, build cache.
fn df_rows(du: &SystemDf) -> Vec<Value> {
    let s = &du.store;
    // Images: the disk that layers and blobs take (with what their files hold beside
    // it, for --format); reclaimable is what removing the images no container uses frees.
    let images_size = s.layers_size + s.blobs_size;
    let active_images = du.images.iter().filter(|i| i.containers > 0).count();
    let containers_size: u64 = du.containers.iter().filter_map(|c| c.size_rw).sum();
    let stopped_size: u64 = du
        .containers
        .iter()
        .filter(|c| !c.is_active())
        .filter_map(|c| c.size_rw)
        .sum();
    let volumes_size: u64 = du.volumes.iter().map(|v| v.size).sum();
    let unused_volumes: u64 = du
        .volumes
        .iter()
        .filter(|v| v.links == 0)
        .map(|v| v.size)
        .sum();
    vec![
        json!({
            "Type": "Images", "TotalCount": du.images.len().to_string(),
            "Active": active_images.to_string(),
            "Size": human_size4(images_size),
            "ApparentSize": human_size4(s.layers_apparent_size + s.blobs_size),
            "Reclaimable": reclaimable(s.reclaimable, images_size),
        }),
        json!({
            "Type": "Containers", "TotalCount": du.containers.len().to_string(),
            "Active": du.containers.iter().filter(|c| c.is_active()).count().to_string(),
            "Size": human_size4(containers_size),
            "ApparentSize": human_size4(s.snapshots_apparent_size),
            "Reclaimable": reclaimable(stopped_size, containers_size),
        }),
        json!({
            "Type": "Local Volumes", "TotalCount": du.volumes.len().to_string(),
            "Active": du.volumes.iter().filter(|v| v.links > 0).count().to_string(),
            "Size": human_size4(volumes_size),
            "ApparentSize": human_size4(volumes_size),
            "Reclaimable": reclaimable(unused_volumes, volumes_size),
        }),
        json!({
            "Type": "Build Cache", "TotalCount": "0", "Active": "0",
            "Size": "0B", "ApparentSize": "0B", "Reclaimable": "0B",
        }),
    ]
}

fn df(e: &Engine, a: DfArgs) -> anyhow::Result<ExitCode> {
    let du = e.system_df()?;
    let format = Format::parse(a.format.as_deref());
    if a.verbose {
        return match a.format.as_deref() {
            None | Some("") | Some("table") => {
                print!("{}", df_verbose(&du));
                Ok(ExitCode::SUCCESS)
            }
            Some(f) => df_verbose_formatted(e, &du, f),
        };
    }
    let cols = [
        ("TYPE", "Type"),
        ("TOTAL", "TotalCount"),
        ("ACTIVE", "Active"),
        ("SIZE", "Size"),
        ("RECLAIMABLE", "Reclaimable"),
    ];
    print_rows_as(
        &format,
        &cols,
        &df_rows(&du),
        &crate::output::Rows::of(&crate::template::docker::DF),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `system df -v --format`: docker runs the format once, over one value holding the four
/// lists (Images, Containers, Volumes, BuildCache) of the list commands' rows; `json`
/// prints that value.
fn df_verbose_formatted(e: &Engine, du: &SystemDf, format: &str) -> anyhow::Result<ExitCode> {
    let none = || "<none>".to_owned();
    let images: Vec<Value> = du
        .images
        .iter()
        .map(|img| {
            json!({
                "Containers": img.containers.to_string(),
                "CreatedAt": crate::output::go_time(img.created),
                "CreatedSince": crate::output::ago(img.created),
                "Digest": "",
                "ID": img.id.to_string(),
                "Repository": img.repository.clone().unwrap_or_else(none),
                "SharedSize": human_size4(img.shared_size),
                "Size": human_size(img.size),
                "Tag": img.tag.clone().unwrap_or_else(none),
                "UniqueSize": human_size4(img.unique_size),
                "VirtualSize": human_size4(img.size),
            })
        })
        .collect();
    let containers: Vec<Value> = du
        .containers
        .iter()
        .map(|c| {
            let c = berth_engine::ContainerSummary {
                size_root_fs: None,
                ..c.clone()
            };
            crate::container::ps::row(&c, true)
        })
        .collect();
    let mut volumes = Vec::new();
    for v in &du.volumes {
        let vi = e.volume_inspect(&v.name)?;
        volumes.push(crate::volume::row(
            &v.name,
            &vi.driver,
            &vi.labels,
            &vi.mountpoint,
            Some((v.links, v.size)),
        ));
    }
    let all = json!({
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    });
    if crate::gojson::is_whole_json(format) {
        println!("{}", crate::gojson::to_string(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    let tmpl = format.strip_prefix("table").unwrap_or(format).trim_start();
    let t = crate::template::Template::parse("", tmpl)
        .map_err(|e| crate::output::template_failure(&format!("template parsing error: {e}"), 1))?;
    match t.execute(&all, &crate::template::docker::DF_VERBOSE) {
        Ok(s) => {
            std::io::stdout().write_all(format!("{s}\n").as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(crate::output::template_failure(&e.to_string(), 1)),
    }
}

/// `system df -v`: Docker's four sections, one table each.
fn df_verbose(du: &SystemDf) -> String {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = String::from("Images space usage:\n\n");
    let mut t = vec![strings(&[
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ])];
    let none = || "<none>".to_owned();
    for img in &du.images {
        t.push(vec![
            img.repository.clone().unwrap_or_else(none),
            img.tag.clone().unwrap_or_else(none),
            img.id.short().to_owned(),
            if img.created > 0 {
                crate::output::ago(img.created)
            } else {
                String::new()
            },
            human_size(img.size),
            human_size4(img.shared_size),
            human_size4(img.unique_size),
            img.containers.to_string(),
        ]);
    }
    out.push_str(&crate::output::table(&t));
    out.push_str("\nContainers space usage:\n\n");
    let mut t = vec![strings(&[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ])];
    for c in &du.containers {
        // Without the virtual size, as Docker shows it here.
        let c = berth_engine::ContainerSummary {
            size_root_fs: None,
            ..c.clone()
        };
        let r = crate::container::ps::row(&c, false);
        t.push(
            [
                "ID",
                "Image",
                "Command",
                "LocalVolumes",
                "Size",
                "RunningFor",
                "Status",
                "Names",
            ]
            .iter()
            .map(|k| r[*k].as_str().unwrap_or_default().to_owned())
            .collect(),
        );
    }
    out.push_str(&crate::output::table(&t));
    out.push_str("\nLocal Volumes space usage:\n\n");
    let mut t = vec![strings(&["VOLUME NAME", "LINKS", "SIZE"])];
    for v in &du.volumes {
        t.push(vec![
            v.name.clone(),
            v.links.to_string(),
            human_size4(v.size),
        ]);
    }
    out.push_str(&crate::output::table(&t));
    out.push_str("\nBuild cache usage: 0B\n\n");
    out.push_str(&crate::output::table(&[strings(&[
        "CACHE ID",
        "CACHE TYPE",
        "SIZE",
        "CREATED",
        "LAST USED",
        "USAGE",
        "SHARED",
    ])]));
    out
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

//! stop, restart, kill, pause, unpause, rm, wait, rename, port, container prune.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use berth_engine::StartMode;
use clap::Args;

use super::{Exit, engine};
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u64>,
    /// Signal to send to the container.
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    pub port: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>").
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Runs `f` on every name (in parallel threads when there are several, so that stopping
/// 50 containers costs one timeout, not 50), printing each name on success and each error
/// on stderr; exits 1 if any failed.
pub(crate) fn each(
    g: &Global,
    names: &[String],
    f: impl Fn(&berth_engine::Engine, &str) -> Result<()> + Sync,
) -> Result<ExitCode> {
    let mut failed = false;
    if names.len() == 1 {
        let e = engine(g)?;
        match f(&e, &names[0]) {
            Ok(()) => println!("{}", names[0]),
            Err(err) => {
                crate::output::print_error(&err);
                failed = true;
            }
        }
    } else {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    let f = &f;
                    s.spawn(move || -> Result<()> {
                        let e = engine(g)?;
                        f(&e, n)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("worker panicked")))
                })
                .collect()
        });
        for (n, r) in names.iter().zip(results) {
            match r {
                Ok(()) => println!("{n}"),
                Err(err) => {
                    crate::output::print_error(&err);
                    failed = true;
                }
            }
        }
    }
    if failed {
        return Err(anyhow::Error::new(Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stop(g: &Global, a: StopArgs, restart: bool) -> Result<ExitCode> {
    let timeout = a.time.map(Duration::from_secs);
    each(g, &a.containers, |e, n| {
        e.stop(n, timeout, a.signal.as_deref())?;
        if restart {
            e.start(n, StartMode::Now)?;
        }
        Ok(())
    })
}

pub fn kill(g: &Global, a: KillArgs) -> Result<ExitCode> {
    each(g, &a.containers, |e, n| Ok(e.kill(n, &a.signal)?))
}

pub fn pause(g: &Global, a: NamesArgs, pause: bool) -> Result<ExitCode> {
    each(g, &a.containers, |e, n| {
        if pause { e.pause(n) } else { e.unpause(n) }.map_err(Into::into)
    })
}

pub fn rm(g: &Global, a: RmArgs) -> Result<ExitCode> {
    each(
        g,
        &a.containers,
        |e, n| Ok(e.remove(n, a.force, a.volumes)?),
    )
}

pub fn wait(g: &Global, a: NamesArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let mut failed = false;
    for n in &a.containers {
        match e.wait(n, &berth_engine::Cancel::new()) {
            Ok(code) => println!("{code}"),
            Err(err) => {
                crate::output::print_error(&err.into());
                failed = true;
            }
        }
    }
    if failed {
        return Err(anyhow::Error::new(Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rename(g: &Global, a: RenameArgs) -> Result<ExitCode> {
    engine(g)?.rename(&a.container, &a.new_name)?;
    Ok(ExitCode::SUCCESS)
}

pub fn port(g: &Global, a: PortArgs) -> Result<ExitCode> {
    // Containers have no published ports until bridge networks exist.
    let c = engine(g)?.container(&a.container)?;
    if let Some(p) = a.port {
        anyhow::bail!("no public port '{p}' published for {}", c.short_id());
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the stopped containers that `filters` (until=, label=, label!=) select;
/// returns their ids and the bytes their writable layers held.
pub(crate) fn prune_containers(
    e: &berth_engine::Engine,
    filters: &[String],
) -> Result<(Vec<String>, u64)> {
    let mut until: Option<String> = None;
    let mut labels: Vec<(String, Option<String>, bool)> = Vec::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}"))?;
        match k {
            "until" => until = Some(super::ps::time_filter(v)?),
            "label" | "label!" => {
                let (lk, lv) = match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.to_string(), None),
                };
                labels.push((lk, lv, k == "label!"));
            }
            _ => anyhow::bail!("invalid filter '{k}'"),
        }
    }
    let mut deleted = Vec::new();
    let mut freed = 0u64;
    for c in e.containers()? {
        if c.state.status.is_live() {
            continue;
        }
        if until.as_deref().is_some_and(|u| c.created.as_str() >= u) {
            continue;
        }
        let label_ok = labels.iter().all(|(k, v, neg)| {
            let has = match v {
                Some(v) => c.config.labels.get(k) == Some(v),
                None => c.config.labels.contains_key(k),
            };
            has != *neg
        });
        if !label_ok {
            continue;
        }
        freed += e.rw_size(&c.id);
        e.remove(&c.id, false, false)?;
        deleted.push(c.id);
    }
    Ok((deleted, freed))
}

pub fn prune(g: &Global, a: PruneArgs) -> Result<ExitCode> {
    if !a.force && !crate::output::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let (deleted, freed) = prune_containers(&engine(g)?, &a.filter)?;
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for d in &deleted {
            println!("{d}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(freed)
    );
    Ok(ExitCode::SUCCESS)
}

//! stop, restart, kill, pause, unpause, rm, wait, rename, port, container prune.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use berth_engine::filters::Filters;
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
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
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
    /// Containers, by name or ID (or a unique prefix of an ID)
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// Container, by name or ID (or a unique prefix of its ID)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Only this private port: PORT[/PROTO] (tcp when no protocol is given)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
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
    each_opt(g, names, false, f)
}

/// `each`; with `missing_ok` (`rm -f`), an object that does not exist is reported on
/// stderr but is no failure, as docker's `rm -f` has it.
pub(crate) fn each_opt(
    g: &Global,
    names: &[String],
    missing_ok: bool,
    f: impl Fn(&berth_engine::Engine, &str) -> Result<()> + Sync,
) -> Result<ExitCode> {
    let e = engine(g)?;
    let results: Vec<Result<()>> = if names.len() == 1 {
        vec![f(&e, &names[0])]
    } else {
        // One engine for every thread: it is Send + Sync.
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    let (f, e) = (&f, &e);
                    s.spawn(move || f(e, n))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("worker panicked")))
                })
                .collect()
        })
    };
    let mut failed = false;
    for (n, r) in names.iter().zip(results) {
        match r {
            Ok(()) => println!("{n}"),
            Err(err) => {
                crate::output::print_error(&err);
                failed |= !(missing_ok && is_not_found(&err));
            }
        }
    }
    if failed {
        return Err(anyhow::Error::new(Exit(1)));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `err` says the object does not exist.
pub(crate) fn is_not_found(err: &anyhow::Error) -> bool {
    err.downcast_ref::<berth_engine::Error>()
        .is_some_and(|e| e.kind() == berth_engine::ErrorKind::NotFound)
}

pub fn stop(g: &Global, a: StopArgs, restart: bool) -> Result<ExitCode> {
    let timeout = a.time.map(Duration::from_secs);
    each(g, &a.containers, |e, n| {
        if restart {
            e.restart(n, timeout, a.signal.as_deref())?;
        } else {
            e.stop(n, timeout, a.signal.as_deref())?;
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
    each_opt(g, &a.containers, a.force, |e, n| {
        Ok(e.remove(n, a.force, a.volumes)?)
    })
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
    let e = engine(g)?;
    let c = e.container(&a.container)?;
    let ports = e.container_ports(&c);
    let mut out = Vec::new();
    if let Some(p) = &a.port {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        if port.parse::<u16>().is_err() {
            anyhow::bail!("invalid port ({port}): not a number from 0 to 65535");
        }
        match ports.get(&format!("{port}/{proto}")) {
            Some(Some(list)) if !list.is_empty() => {
                out.extend(
                    list.iter()
                        .map(|(ip, hp)| super::ps::join_host_port(ip, &hp.to_string())),
                );
            }
            _ => anyhow::bail!("No public port '{p}' published for {}", a.container),
        }
    } else {
        for (k, list) in &ports {
            for (ip, hp) in list.iter().flatten() {
                out.push(format!(
                    "{k} -> {}",
                    super::ps::join_host_port(ip, &hp.to_string())
                ));
            }
        }
    }
    out.sort_by(|x, y| natural_cmp(x, y));
    for l in out {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's natural order (sortorder.NaturalLess): runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let n = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (n(a), n(b));
                let (da, db) = (&a[..na], &b[..nb]);
                let trim = |d: &[u8]| {
                    let z = d.iter().take_while(|c| **c == b'0').count();
                    d[z..].to_vec()
                };
                let (ta, tb) = (trim(da), trim(db));
                let o = ta.len().cmp(&tb.len()).then(ta.cmp(&tb));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

pub fn prune(g: &Global, a: PruneArgs) -> Result<ExitCode> {
    if !a.force && !crate::output::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let (deleted, freed) = engine(g)?.prune_containers(&Filters::parse(&a.filter)?)?;
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

#[cfg(test)]
mod port_tests {
    #[test]
    fn natural_order() {
        let mut v = vec![
            "90/tcp -> 0.0.0.0:1",
            "8080/tcp -> 0.0.0.0:2",
            "100/udp -> 0.0.0.0:3",
        ];
        v.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "90/tcp -> 0.0.0.0:1",
                "100/udp -> 0.0.0.0:3",
                "8080/tcp -> 0.0.0.0:2"
            ]
        );
    }
}

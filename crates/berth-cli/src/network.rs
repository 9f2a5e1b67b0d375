//! `network create|ls|inspect|rm|prune|connect|disconnect`: flags and output over the
//! engine's networks.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use berth_engine::filters::Filters;
use berth_engine::{Network, NetworkCreate};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cli::Global;
use crate::container::{Exit, engine};
use crate::output::{self, Format};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container.
    #[arg(long)]
    pub alias: Vec<String>,
    /// Driver options for the network (not supported).
    #[arg(long = "driver-opt")]
    pub driver_opt: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104").
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (not supported yet).
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container (refused: names resolve on user-defined networks).
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a link-local address for the container (not supported).
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    pub force: bool,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network (bridge only).
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet.
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range.
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv6 networking.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Enable manual container attachment.
    #[arg(long)]
    pub attachable: bool,
    /// Set metadata on a network.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options.
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// The new network's name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "driver=bridge").
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics (no more than the default here).
    #[arg(short, long)]
    pub verbose: bool,
    /// Networks to inspect, by name or ID
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist.
    #[arg(short, long)]
    pub force: bool,
    /// Networks to remove, by name or ID
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>").
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

/// Go's `time.Time` String() of an RFC 3339 UTC time: "2026-12-06 09:15:07.5225 +0000 UTC".
fn go_time(rfc: &str) -> String {
    let (Some(d), Some(t)) = (rfc.get(..10), rfc.get(11..)) else {
        return rfc.to_string();
    };
    let t = t.trim_end_matches('Z');
    let t = match t.split_once('.') {
        Some((hms, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                hms.to_string()
            } else {
                format!("{hms}.{frac}")
            }
        }
        None => t.to_string(),
    };
    format!("{d} {t} +0000 UTC")
}

fn row(n: &Network, no_trunc: bool) -> Value {
    let id = if no_trunc {
        n.id.as_str()
    } else {
        &n.id[..12.min(n.id.len())]
    };
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": "local",
        "IPv4": (n.driver == "bridge").to_string(),
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "CreatedAt": go_time(&n.created),
    })
}

pub fn run(g: &Global, cmd: NetworkCommand) -> Result<ExitCode> {
    let e = engine(g)?;
    match cmd {
        NetworkCommand::Create(a) => {
            let n = e.network_create(&NetworkCreate {
                name: a.name.clone(),
                driver: a.driver.clone(),
                subnets: a.subnet.clone(),
                gateways: a.gateway.clone(),
                ip_ranges: a.ip_range.clone(),
                internal: a.internal,
                ipv6: a.ipv6.unwrap_or(false),
                attachable: a.attachable,
                labels: kv(&a.label, "label")?,
                options: kv(&a.opt, "option")?,
            })?;
            println!("{}", n.id);
        }
        NetworkCommand::Ls(a) => {
            let list = e.network_list(&Filters::parse(&a.filter)?)?;
            if a.quiet {
                for n in &list {
                    println!(
                        "{}",
                        row(&n.clone(), a.no_trunc)["ID"].as_str().unwrap_or("")
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Value> = list.iter().map(|n| row(n, a.no_trunc)).collect();
            output::print_rows(
                &Format::parse(a.format.as_deref()),
                &[
                    ("NETWORK ID", "ID"),
                    ("NAME", "Name"),
                    ("DRIVER", "Driver"),
                    ("SCOPE", "Scope"),
                ],
                &rows,
            )?;
        }
        NetworkCommand::Inspect(a) => {
            let mut values = Vec::new();
            let mut missing = false;
            for n in &a.names {
                match e.network_inspect(n) {
                    Ok(v) => values.push(crate::container::inspect::Object::Network(Box::new(v))),
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
        NetworkCommand::Rm(a) => {
            let mut failed = false;
            for n in &a.names {
                match e.network_remove(n) {
                    Ok(()) => println!("{n}"),
                    Err(berth_engine::Error::NoSuchNetwork(_)) if a.force => {}
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
        NetworkCommand::Connect(a) => {
            let unsupported = [
                ("--link-local-ip", !a.link_local_ip.is_empty()),
                ("--driver-opt", !a.driver_opt.is_empty()),
            ];
            if let Some((flag, _)) = unsupported.iter().find(|(_, set)| *set) {
                bail!("{flag} is not supported by this version of berth yet");
            }
            e.network_connect(
                &a.network,
                &a.container,
                &berth_engine::ConnectRequest {
                    aliases: a.alias.clone(),
                    ipv4_address: a.ip.clone(),
                    ipv6_address: a.ip6.clone(),
                    links: a.link.clone(),
                },
            )?;
        }
        NetworkCommand::Disconnect(a) => {
            e.network_disconnect(&a.network, &a.container, a.force)?;
        }
        NetworkCommand::Prune(a) => {
            if !a.force
                && !output::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )?
            {
                return Ok(ExitCode::SUCCESS);
            }
            let removed = e.network_prune(&Filters::parse(&a.filter)?)?;
            let mut out = String::new();
            deleted_networks(&mut out, &removed);
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's "Deleted Networks:" section (nothing when nothing was removed).
pub(crate) fn deleted_networks(out: &mut String, removed: &[String]) {
    if removed.is_empty() {
        return;
    }
    out.push_str("Deleted Networks:\n");
    for r in removed {
        out.push_str(r);
        out.push('\n');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_times() {
        assert_eq!(
            super::go_time("2026-12-06T09:15:07.522579380Z"),
            "2026-12-06 09:15:07.52257938 +0000 UTC"
        );
        assert_eq!(
            super::go_time("2026-12-06T09:15:07.000000000Z"),
            "2026-12-06 09:15:07 +0000 UTC"
        );
    }
}

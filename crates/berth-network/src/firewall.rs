//! The firewall: what the kernel lets through between Berth's networks and the world.
//!
//! The rules are fixed and few; what changes is the content of named sets (bridges,
//! internal bridges, subnets), one element per network. So a container joining or leaving
//! a network changes nothing here, and a network's creation or removal is one atomic batch
//! that writes the whole desired state of Berth's own tables (and nothing else: Berth
//! never flushes or rewrites a table it does not own).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::ports::PortMap;
use crate::subnet::Ipv4Net;

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallNet {
    /// The bridge's name.
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The IPv6 subnet of a network with IPv6 (`--ipv6`).
    pub subnet6: Option<crate::subnet6::Ipv6Net>,
    /// No way out (no masquerade, nothing forwarded to or from other interfaces).
    pub internal: bool,
}

/// A firewall backend: it makes the kernel's rules match `nets`, the whole set of Berth's
/// networks, in one atomic change.
pub trait Firewall {
    /// Installs the rules for exactly `nets` (an empty slice removes Berth's tables).
    fn apply(&self, nets: &[FirewallNet]) -> Result<()>;
    /// Makes the published ports exactly `ports` (none: no trace of them).
    fn apply_ports(&self, ports: &[PortMap]) -> Result<()>;
    /// Publishes one container's ports, all or none (a port already mapped fails it).
    fn add_ports(&self, ports: &[PortMap]) -> Result<()>;
    /// Withdraws one container's ports, all or none (one missing fails it).
    fn remove_ports(&self, ports: &[PortMap]) -> Result<()>;
}

/// The nftables backend: tables `inet berth` (filter, hook forward) and `ip berth-nat`
/// (masquerade, hook postrouting), written as one JSON batch through `nft -j -f -`.
#[derive(Debug, Clone)]
pub struct Nftables {
    /// The nft binary.
    pub nft: std::path::PathBuf,
}

impl Default for Nftables {
    fn default() -> Self {
        Nftables { nft: "nft".into() }
    }
}

/// The filter table's name (family inet).
pub const FILTER_TABLE: &str = "berth";
/// The NAT table's name (family ip).
pub const NAT_TABLE: &str = "berth-nat";

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn matches(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn rule(family: &str, table: &str, chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": family, "table": table, "chain": chain, "expr": expr}}})
}

fn set(family: &str, table: &str, name: &str, typ: Value, flags: &[&str]) -> Vec<Value> {
    let mut s = json!({"family": family, "table": table, "name": name, "type": typ});
    if !flags.is_empty() {
        s["flags"] = json!(flags);
    }
    let id = json!({"family": family, "table": table, "name": name});
    vec![json!({"add": {"set": s}}), json!({"flush": {"set": id}})]
}

fn elements(family: &str, table: &str, name: &str, elem: Vec<Value>) -> Option<Value> {
    (!elem.is_empty()).then(|| {
        json!({"add": {"element": {"family": family, "table": table, "name": name, "elem": elem}}})
    })
}

/// The batch that makes Berth's tables hold exactly `nets`.
pub fn batch(nets: &[FirewallNet]) -> Value {
    let (inet, f) = ("inet", FILTER_TABLE);
    let (ip, n) = ("ip", NAT_TABLE);
    let mut cmds = vec![
        json!({"add": {"table": {"family": inet, "name": f}}}),
        json!({"add": {"table": {"family": ip, "name": n}}}),
    ];
    if nets.is_empty() {
        cmds.push(json!({"delete": {"table": {"family": inet, "name": f}}}));
        cmds.push(json!({"delete": {"table": {"family": ip, "name": n}}}));
        cmds.extend(crate::firewall6::batch6(nets));
        return json!({"nftables": cmds});
    }
    cmds.extend(set(inet, f, "bridges", json!("ifname"), &[]));
    cmds.extend(set(inet, f, "internal", json!("ifname"), &[]));
    cmds.extend(set(inet, f, "same", json!(["ifname", "ifname"]), &[]));
    cmds.extend(set(ip, n, "bridges", json!("ifname"), &[]));
    cmds.extend(set(ip, n, "subnets", json!("ipv4_addr"), &["interval"]));
    let chain = |family: &str, table: &str, name: &str, typ: &str, hook: &str, prio: i32| {
        let id = json!({"family": family, "table": table, "name": name});
        let mut c = id.clone();
        c["type"] = json!(typ);
        c["hook"] = json!(hook);
        c["prio"] = json!(prio);
        c["policy"] = json!("accept");
        vec![
            json!({"add": {"chain": c}}),
            json!({"flush": {"chain": id}}),
        ]
    };
    cmds.extend(chain(inet, f, "forward", "filter", "forward", 0));
    cmds.extend(chain(inet, f, "prerouting", "filter", "prerouting", -300));
    cmds.extend(chain(ip, n, "postrouting", "nat", "postrouting", 100));
    let accept = json!({"accept": null});
    let drop = json!({"drop": null});
    let fwd = |expr: Vec<Value>| rule(inet, f, "forward", expr);
    // Between the containers of one network (seen here when br_netfilter is loaded).
    cmds.push(fwd(vec![
        matches(
            "==",
            json!({"concat": [meta("iifname"), meta("oifname")]}),
            json!("@same"),
        ),
        accept.clone(),
    ]));
    // Internal networks: nothing in or out.
    cmds.push(fwd(vec![
        matches("==", meta("iifname"), json!("@internal")),
        drop.clone(),
    ]));
    cmds.push(fwd(vec![
        matches("==", meta("oifname"), json!("@internal")),
        drop.clone(),
    ]));
    // Published ports (DNAT by the `ip berth-ports` table): new connections in.
    cmds.push(fwd(vec![
        matches("in", json!({"ct": {"key": "status"}}), json!("dnat")),
        accept.clone(),
    ]));
    // Isolation between networks.
    cmds.push(fwd(vec![
        matches("==", meta("iifname"), json!("@bridges")),
        matches("==", meta("oifname"), json!("@bridges")),
        drop.clone(),
    ]));
    // Replies come back in; containers go out; nothing else comes in.
    cmds.push(fwd(vec![
        matches("==", meta("oifname"), json!("@bridges")),
        matches(
            "in",
            json!({"ct": {"key": "state"}}),
            json!(["established", "related"]),
        ),
        accept.clone(),
    ]));
    cmds.push(fwd(vec![
        matches("==", meta("iifname"), json!("@bridges")),
        accept,
    ]));
    cmds.push(fwd(vec![
        matches("==", meta("oifname"), json!("@bridges")),
        drop,
    ]));
    // Masquerade what leaves a network's subnet for anywhere but a bridge of Berth's.
    cmds.push(rule(
        ip,
        n,
        "postrouting",
        vec![
            matches(
                "==",
                json!({"payload": {"protocol": "ip", "field": "saddr"}}),
                json!("@subnets"),
            ),
            matches("!=", meta("oifname"), json!("@bridges")),
            json!({"masquerade": null}),
        ],
    ));
    // Published ports: a connection from 127.0.0.0/8 (routed out of a bridge thanks to
    // route_localnet), or from a container to a port published on a host address
    // (hairpin: the reply would otherwise skip the host), leaves with the bridge's
    // address. Clients from elsewhere keep theirs.
    let lo8 = json!({"prefix": {"addr": "127.0.0.0", "len": 8}});
    for src in [json!("@subnets"), lo8.clone()] {
        cmds.push(rule(
            ip,
            n,
            "postrouting",
            vec![
                matches("in", json!({"ct": {"key": "status"}}), json!("dnat")),
                matches(
                    "==",
                    json!({"payload": {"protocol": "ip", "field": "saddr"}}),
                    src,
                ),
                matches("==", meta("oifname"), json!("@bridges")),
                json!({"masquerade": null}),
            ],
        ));
    }
    // route_localnet on a bridge must not let a container reach the host's loopback.
    cmds.push(rule(
        inet,
        f,
        "prerouting",
        vec![
            matches("==", meta("iifname"), json!("@bridges")),
            matches(
                "==",
                json!({"payload": {"protocol": "ip", "field": "daddr"}}),
                lo8,
            ),
            json!({"drop": null}),
        ],
    ));
    let names: Vec<Value> = nets.iter().map(|x| json!(x.bridge)).collect();
    let internal: Vec<Value> = nets
        .iter()
        .filter(|x| x.internal)
        .map(|x| json!(x.bridge))
        .collect();
    let same: Vec<Value> = nets
        .iter()
        .map(|x| json!({"concat": [x.bridge, x.bridge]}))
        .collect();
    let subnets: Vec<Value> = nets
        .iter()
        .filter(|x| !x.internal)
        .map(|x| json!({"prefix": {"addr": x.subnet.addr().to_string(), "len": x.subnet.prefix()}}))
        .collect();
    cmds.extend(elements(inet, f, "bridges", names.clone()));
    cmds.extend(elements(inet, f, "internal", internal));
    cmds.extend(elements(inet, f, "same", same));
    cmds.extend(elements(ip, n, "bridges", names));
    cmds.extend(elements(ip, n, "subnets", subnets));
    cmds.extend(crate::firewall6::batch6(nets));
    json!({"nftables": cmds})
}

impl Firewall for Nftables {
    fn apply(&self, nets: &[FirewallNet]) -> Result<()> {
        let text = batch(nets).to_string();
        let mut child = Command::new(&self.nft)
            .args(["-j", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("run {}", self.nft.display()), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(format!("write to {}", self.nft.display()), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("wait for {}", self.nft.display()), e))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            let first = msg
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed");
            return Err(Error::Firewall(format!(
                "nft refused the batch ({}): {first}",
                out.status
            )));
        }
        if nets.iter().any(|x| !x.internal) {
            enable_forwarding()?;
        }
        if nets.iter().any(|x| !x.internal && x.subnet6.is_some()) {
            crate::link6::enable_forwarding6()?;
        }
        Ok(())
    }

    fn apply_ports(&self, ports: &[PortMap]) -> Result<()> {
        crate::ports::apply_ports(&self.nft, ports)
    }

    fn add_ports(&self, ports: &[PortMap]) -> Result<()> {
        crate::ports::add_ports(&self.nft, ports)
    }

    fn remove_ports(&self, ports: &[PortMap]) -> Result<()> {
        crate::ports::remove_ports(&self.nft, ports)
    }
}

/// Turns on IPv4 forwarding in the caller's network namespace (needed for a way out).
pub fn enable_forwarding() -> Result<()> {
    let p = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(p).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(p, b"1").map_err(|e| Error::io(format!("write {p}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_holds_only_berths_tables() {
        let nets = vec![
            FirewallNet {
                bridge: "br-1".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
                subnet6: Some("fd00:1::/64".parse().unwrap()),
                internal: false,
            },
            FirewallNet {
                bridge: "br-2".into(),
                subnet: "172.19.0.0/16".parse().unwrap(),
                subnet6: None,
                internal: true,
            },
        ];
        let b = batch(&nets);
        let cmds = b["nftables"].as_array().unwrap();
        for c in cmds {
            let (verb, obj) = c.as_object().unwrap().iter().next().unwrap();
            assert_ne!(verb, "flush ruleset");
            let o = obj.as_object().unwrap().values().next().unwrap();
            let table = o.get("table").or_else(|| o.get("name")).unwrap();
            assert!(
                table == FILTER_TABLE
                    || table == NAT_TABLE
                    || table == crate::firewall6::NAT6_TABLE
                    || o.get("table").is_some(),
                "{c}"
            );
            if let Some(t) = o.get("table") {
                assert!(
                    t == FILTER_TABLE || t == NAT_TABLE || t == crate::firewall6::NAT6_TABLE,
                    "{c}"
                );
            }
        }
        let text = b.to_string();
        // The internal network is not masqueraded.
        assert!(text.contains("172.18.0.0") && !text.contains("172.19.0.0"));
        assert!(text.contains("fd00:1::"), "{text}");
        let empty = batch(&[]).to_string();
        assert!(empty.contains("delete"), "{empty}");
    }
}

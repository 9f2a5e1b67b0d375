//! The IPv6 part of the firewall batch: table `ip6 berth-nat`, the IPv6 twin of
//! `ip berth-nat`. Outbound NAT66: what leaves the IPv6 subnet of a network that is not
//! internal for anywhere but a Berth bridge is masqueraded (as Docker does with
//! ip6tables), and so are connections to a published port from the host's loopback (::1)
//! or from a container through a host address (hairpin). Filtering needs nothing more:
//! the rules of `inet berth` match interfaces and connection states, so they hold for
//! both families already.

use serde_json::{Value, json};

use crate::firewall::FirewallNet;

/// The IPv6 NAT table's name (family ip6).
pub const NAT6_TABLE: &str = "berth-nat";

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn matches(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn saddr6() -> Value {
    json!({"payload": {"protocol": "ip6", "field": "saddr"}})
}

/// The commands that make table `ip6 berth-nat` match `nets` (deleted when no network
/// has IPv6). Part of the one batch of `firewall::batch`.
pub fn batch6(nets: &[FirewallNet]) -> Vec<Value> {
    let (fam, t) = ("ip6", NAT6_TABLE);
    let mut cmds = vec![json!({"add": {"table": {"family": fam, "name": t}}})];
    if !nets.iter().any(|n| n.subnet6.is_some()) {
        cmds.push(json!({"delete": {"table": {"family": fam, "name": t}}}));
        return cmds;
    }
    for (name, typ, flags) in [
        ("bridges", json!("ifname"), json!([])),
        ("subnets", json!("ipv6_addr"), json!(["interval"])),
    ] {
        let mut s = json!({"family": fam, "table": t, "name": name, "type": typ});
        if flags.as_array().is_some_and(|f| !f.is_empty()) {
            s["flags"] = flags;
        }
        cmds.push(json!({"add": {"set": s}}));
        cmds.push(json!({"flush": {"set": {"family": fam, "table": t, "name": name}}}));
    }
    let id = json!({"family": fam, "table": t, "name": "postrouting"});
    let mut c = id.clone();
    c["type"] = json!("nat");
    c["hook"] = json!("postrouting");
    c["prio"] = json!(100);
    c["policy"] = json!("accept");
    cmds.push(json!({"add": {"chain": c}}));
    cmds.push(json!({"flush": {"chain": id}}));
    let rule = |expr: Vec<Value>| json!({"add": {"rule": {"family": fam, "table": t, "chain": "postrouting", "expr": expr}}});
    cmds.push(rule(vec![
        matches("==", saddr6(), json!("@subnets")),
        matches("!=", meta("oifname"), json!("@bridges")),
        json!({"masquerade": null}),
    ]));
    for src in [json!("@subnets"), json!("::1")] {
        cmds.push(rule(vec![
            matches("in", json!({"ct": {"key": "status"}}), json!("dnat")),
            matches("==", saddr6(), src),
            matches("==", meta("oifname"), json!("@bridges")),
            json!({"masquerade": null}),
        ]));
    }
    let bridges: Vec<Value> = nets.iter().map(|n| json!(n.bridge)).collect();
    let subnets: Vec<Value> = nets
        .iter()
        .filter(|n| !n.internal)
        .filter_map(|n| n.subnet6)
        .map(|s| json!({"prefix": {"addr": s.addr().to_string(), "len": s.prefix()}}))
        .collect();
    for (name, elem) in [("bridges", bridges), ("subnets", subnets)] {
        if !elem.is_empty() {
            cmds.push(
                json!({"add": {"element": {"family": fam, "table": t, "name": name, "elem": elem}}}),
            );
        }
    }
    cmds
}

//! Repeated `--network` (docker 28: the first is the container's primary network, the
//! others are joined too) and its long syntax `name=NET,alias=A,ip=IP,ip6=IP6,mac-address=M`
//! (Docker's NetworkAttachmentOpts), with the legacy `--network-alias`, `--ip` and
//! `--mac-address` applied to the first network, as docker's client does.

use crate::config::{NetworkAttachment, NetworkMode};
use crate::error::{Error, Result};

/// One `--network` value: a name, or the long syntax.
pub fn network_attachment(value: &str) -> Result<NetworkAttachment> {
    let bad = |msg: String| {
        Error::InvalidValue(format!(
            "invalid argument {value:?} for \"--network\" flag: {msg}"
        ))
    };
    // Docker's test for the long syntax: a `word=word` in it.
    let long = value.split(',').any(|f| {
        f.split_once('=')
            .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty())
    });
    if !long {
        return Ok(NetworkAttachment {
            network: value.to_string(),
            ..Default::default()
        });
    }
    let mut a = NetworkAttachment::default();
    for field in value.split(',') {
        let Some((k, v)) = field.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(bad(format!("invalid field {field}")));
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => a.network = v.to_string(),
            "alias" => a.aliases.push(v.to_string()),
            "ip" => a.ipv4_address = Some(v.to_string()),
            "ip6" => a.ipv6_address = Some(v.to_string()),
            "mac-address" => a.mac_address = Some(v.to_string()),
            k @ ("link-local-ip" | "driver-opt" | "gw-priority") => {
                return Err(Error::Unsupported(format!(
                    "--network {k}= is not supported by this version of berth yet"
                )));
            }
            k => return Err(bad(format!("invalid field key {k}"))),
        }
    }
    if a.network.is_empty() {
        return Err(bad("network name not specified".into()));
    }
    Ok(a)
}

/// What the `--network` values and the legacy flags make: the primary network mode and
/// its settings, and the other networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks {
    pub mode: NetworkMode,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    /// The first network's `ip6=` (the caller checks it against `--ip6`).
    pub ipv6_address: Option<String>,
    pub mac_address: Option<String>,
    pub others: Vec<NetworkAttachment>,
}

/// Docker's user-defined network: not the default bridge, host, none or another's.
fn user_defined(name: &str) -> bool {
    !matches!(name, "" | "default" | "bridge" | "host" | "none") && !name.starts_with("container:")
}

/// Every `--network` value (none given: `default`), with `--network-alias`, `--ip` and
/// `--mac-address` for the first, as docker 28's client reads them.
pub fn networks(
    values: &[String],
    aliases: &[String],
    ip: Option<&str>,
    mac: Option<&str>,
) -> Result<Networks> {
    let mut atts = values
        .iter()
        .map(|v| network_attachment(v))
        .collect::<Result<Vec<_>>>()?;
    if atts.is_empty() {
        atts.push(NetworkAttachment {
            network: "default".into(),
            ..Default::default()
        });
    }
    let conflict = |what: &str| {
        Error::InvalidValue(format!("conflicting options: cannot specify both {what}"))
    };
    let first = &mut atts[0];
    if !aliases.is_empty() {
        if !first.aliases.is_empty() {
            return Err(conflict("--network-alias and per-network alias"));
        }
        first.aliases = aliases.to_vec();
    }
    if let Some(ip) = ip {
        if first.ipv4_address.is_some() {
            return Err(conflict("--ip and per-network IPv4 address"));
        }
        first.ipv4_address = Some(ip.to_string());
    }
    if let Some(m) = mac {
        if first.mac_address.is_some() {
            return Err(conflict("--mac-address and per-network MAC address"));
        }
        first.mac_address = Some(m.to_string());
    }
    for (i, a) in atts.iter().enumerate() {
        if atts[..i].iter().any(|b| b.network == a.network) {
            return Err(Error::InvalidValue(format!(
                "network {:?} is specified multiple times",
                a.network
            )));
        }
    }
    let users = atts.iter().filter(|a| user_defined(&a.network)).count();
    if users > 0 && users < atts.len() {
        return Err(Error::InvalidValue(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    let mut it = atts.into_iter();
    let first = it.next().unwrap_or_default();
    Ok(Networks {
        mode: super::network(&first.network)?,
        aliases: first.aliases,
        ipv4_address: first.ipv4_address,
        ipv6_address: first.ipv6_address,
        mac_address: first.mac_address,
        others: it.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn first_is_primary_and_legacy_flags_apply_to_it() {
        let n = networks(
            &s(&["a", "name=b,alias=x,ip=10.0.0.5"]),
            &s(&["y"]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(n.mode, NetworkMode::Network("a".into()));
        assert_eq!(n.aliases, s(&["y"]));
        assert_eq!(n.others.len(), 1);
        assert_eq!(n.others[0].network, "b");
        assert_eq!(n.others[0].aliases, s(&["x"]));
        assert_eq!(n.others[0].ipv4_address.as_deref(), Some("10.0.0.5"));
    }

    #[test]
    fn refusals_are_dockers() {
        let e = |v: &[&str]| networks(&s(v), &[], None, None).unwrap_err().to_string();
        assert!(e(&["a", "a"]).contains("network \"a\" is specified multiple times"));
        assert!(e(&["a", "none"]).contains("cannot attach both user-defined"));
        assert!(e(&["bridge", "a"]).contains("cannot attach both user-defined"));
        assert!(e(&["name=a,foo=1"]).contains("invalid field key foo"));
        assert!(e(&["alias=x,ip=1"]).contains("network name not specified"));
        let c = networks(&s(&["name=a,alias=x"]), &s(&["y"]), None, None).unwrap_err();
        assert!(
            c.to_string()
                .contains("--network-alias and per-network alias")
        );
        assert_eq!(
            networks(&[], &[], None, None).unwrap().mode,
            NetworkMode::Default
        );
    }
}

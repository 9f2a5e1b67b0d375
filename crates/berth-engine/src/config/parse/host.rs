//! How the container sits on the host: `--network`, the namespace modes (`--ipc`, `--pid`,
//! `--uts`, `--cgroupns`), `--sysctl`, and the logging flags over berth.toml's defaults.

use std::collections::BTreeMap;

use super::size;
use crate::config::{LogConfig, NetworkMode};
use crate::error::{Error, Result};

/// `--network none|host|container:NAME|NETWORK` ("" and "default" are
/// [`NetworkMode::Default`], which `create` makes `bridge`, as Docker's). Whether NETWORK
/// exists is checked by `create`.
pub fn network(s: &str) -> Result<NetworkMode> {
    Ok(match s {
        "none" => NetworkMode::None,
        "" | "default" => NetworkMode::Default,
        "host" => NetworkMode::Host,
        n if n.starts_with("container:") => {
            NetworkMode::Container(n["container:".len()..].to_string())
        }
        other => {
            if other.len() > 128 || other.chars().any(|c| c.is_control() || c == '/') {
                bail!("network {other:?} not found: not a valid network name");
            }
            NetworkMode::Network(other.to_string())
        }
    })
}

/// Where an `--add-host` name points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTarget {
    Ip(std::net::IpAddr),
    /// `host-gateway`: the host's address on the container's network (its gateway).
    Gateway,
}

/// `--add-host NAME:IP` (or `NAME=IP`; an IPv6 address may be in brackets; IP may be
/// `host-gateway`), as docker's client checks it.
pub fn extra_host(s: &str) -> Result<(&str, HostTarget)> {
    let bad = || {
        Error::InvalidValue(format!(
            "invalid argument {s:?} for \"--add-host\" flag: bad format for add-host: {s:?}"
        ))
    };
    // NAME=IP first: an IPv6 address holds colons.
    let (name, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(bad)?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    if ip == "host-gateway" {
        return Ok((name, HostTarget::Gateway));
    }
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    let ip = ip.parse().map_err(|_| {
        Error::InvalidValue(format!(
            "invalid argument {s:?} for \"--add-host\" flag: invalid IP address in add-host: {ip:?}"
        ))
    })?;
    Ok((name, HostTarget::Ip(ip)))
}

/// `--ip`: an IPv4 address (Docker's "invalid IPv4 address: X").
pub fn ipv4_address(s: &str) -> Result<std::net::Ipv4Addr> {
    s.parse()
        .map_err(|_| Error::InvalidValue(format!("invalid IPv4 address: {s}")))
}

/// `--ip6`: an IPv6 address (Docker's "invalid IPv6 address: X").
pub fn ipv6_address(s: &str) -> Result<std::net::Ipv6Addr> {
    s.parse()
        .map_err(|_| Error::InvalidValue(format!("invalid IPv6 address: {s}")))
}

/// `--mac-address`: six hex bytes, unicast (Docker's "X is not a valid mac address").
pub fn mac_address(s: &str) -> Result<[u8; 6]> {
    berth_network::subnet::parse_mac(s)
        .map_err(|_| Error::InvalidValue(format!("{s} is not a valid mac address")))
}

/// `--ipc`, `--pid` and `--uts` (`flag` names which), kept as given, as Docker records
/// them: `--ipc` "" (private), "private", "shareable", "none", "host" or "container:NAME";
/// `--pid` "", "host" or "container:NAME"; `--uts` "" or "host".
pub fn namespace_mode(flag: &str, s: &str) -> Result<String> {
    let (what, extra): (&str, &[&str]) = match flag {
        "--ipc" => ("IPC", &["private", "shareable", "none"]),
        "--pid" => ("PID", &[]),
        _ => ("UTS", &[]),
    };
    let joins = flag != "--uts";
    match s {
        "" | "host" => Ok(s.to_string()),
        m if extra.contains(&m) => Ok(m.to_string()),
        m if joins && m.len() > "container:".len() && m.starts_with("container:") => {
            Ok(m.to_string())
        }
        m => bail!("{flag}: invalid {what} mode {m:?}"),
    }
}

/// `--cgroupns host|private` ("": the host's default, which `create` records).
pub fn cgroupns_mode(s: &str) -> Result<String> {
    match s {
        "" | "host" | "private" => Ok(s.to_string()),
        m => bail!("invalid --cgroupns {m:?}: use host or private"),
    }
}

/// `--sysctl key=value` (which keys a container may set is checked at create).
pub fn sysctls(items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => bail!("invalid --sysctl {s:?}: use key=value"),
        })
        .collect()
}

/// `--log-driver json-file|none` and `--log-opt max-size=SIZE|-1, max-file=N` over
/// `defaults` (berth.toml's `[log-opts]`, `Engine::settings`); each option is also kept as
/// given (`LogConfig::opts`, what `inspect` shows).
pub fn log_config(
    driver: Option<&str>,
    opts: &[String],
    defaults: &LogConfig,
) -> Result<LogConfig> {
    let mut log = defaults.clone();
    match driver {
        None | Some("json-file") => {}
        Some("none") => {
            if !opts.is_empty() {
                bail!("the none logging driver takes no --log-opt");
            }
            log.disabled = true;
            log.opts.clear();
        }
        Some(other) => bail!("logging driver {other:?} is not supported (json-file or none)"),
    }
    for o in opts {
        let Some((k, v)) = o.split_once('=') else {
            bail!("invalid --log-opt {o:?}");
        };
        match k {
            "max-size" if v == "-1" => log.max_size = 0,
            "max-size" => log.max_size = size("--log-opt max-size", v)?,
            "max-file" => {
                log.max_file = v
                    .parse()
                    .map_err(|_| Error::InvalidValue(format!("invalid max-file {v:?}")))?
            }
            _ => bail!("unknown log opt '{k}' for json-file log driver"),
        }
        log.opts.insert(k.to_string(), v.to_string());
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(network("").unwrap(), NetworkMode::Default);
        use std::net::IpAddr;
        let ip = |s: &str| HostTarget::Ip(s.parse::<IpAddr>().unwrap());
        assert_eq!(extra_host("db:10.0.0.5").unwrap(), ("db", ip("10.0.0.5")));
        assert_eq!(extra_host("db=::1").unwrap(), ("db", ip("::1")));
        assert_eq!(extra_host("db:[::1]").unwrap(), ("db", ip("::1")));
        assert_eq!(
            extra_host("gw:host-gateway").unwrap(),
            ("gw", HostTarget::Gateway)
        );
        for bad in ["db", "db:nope", ":1.2.3.4", "a b:1.2.3.4"] {
            assert!(extra_host(bad).is_err(), "{bad}");
        }
        assert_eq!(network("host").unwrap(), NetworkMode::Host);
        assert_eq!(
            network("container:db").unwrap(),
            NetworkMode::Container("db".into())
        );
        assert_eq!(
            network("bridge").unwrap(),
            NetworkMode::Network("bridge".into())
        );
        assert_eq!(network("default").unwrap(), NetworkMode::Default);
        assert_eq!(
            network("front").unwrap(),
            NetworkMode::Network("front".into())
        );
        assert!(network("a/b").is_err());
        assert_eq!(
            ipv4_address("nope").unwrap_err().to_string(),
            "invalid IPv4 address: nope"
        );
        assert_eq!(
            mac_address("nope").unwrap_err().to_string(),
            "nope is not a valid mac address"
        );
    }

    #[test]
    fn namespaces() {
        for ok in ["", "private", "shareable", "none", "host", "container:x"] {
            assert_eq!(namespace_mode("--ipc", ok).unwrap(), ok);
        }
        for ok in ["", "host", "container:x"] {
            assert_eq!(namespace_mode("--pid", ok).unwrap(), ok);
        }
        assert_eq!(namespace_mode("--uts", "host").unwrap(), "host");
        assert_eq!(
            namespace_mode("--uts", "container:x")
                .unwrap_err()
                .to_string(),
            "--uts: invalid UTS mode \"container:x\""
        );
        assert_eq!(
            namespace_mode("--pid", "private").unwrap_err().to_string(),
            "--pid: invalid PID mode \"private\""
        );
        assert!(namespace_mode("--ipc", "container:").is_err());
        assert!(namespace_mode("--ipc", "bogus").is_err());
        assert_eq!(cgroupns_mode("host").unwrap(), "host");
        assert_eq!(cgroupns_mode("").unwrap(), "");
        assert_eq!(
            cgroupns_mode("shared").unwrap_err().to_string(),
            "invalid --cgroupns \"shared\": use host or private"
        );
    }

    #[test]
    fn sysctl_values() {
        let s = sysctls(&["net.ipv4.ip_forward=1".into(), "kernel.msgmax=a=b".into()]).unwrap();
        assert_eq!(s["net.ipv4.ip_forward"], "1");
        assert_eq!(s["kernel.msgmax"], "a=b");
        assert_eq!(
            sysctls(&["novalue".into()]).unwrap_err().to_string(),
            "invalid --sysctl \"novalue\": use key=value"
        );
    }

    #[test]
    fn logging() {
        let defaults = LogConfig {
            disabled: false,
            max_size: 4096,
            max_file: 2,
            opts: [("max-file".to_string(), "2".to_string())].into(),
        };
        assert_eq!(log_config(None, &[], &defaults).unwrap(), defaults);
        let l = log_config(Some("json-file"), &["max-size=1k".into()], &defaults).unwrap();
        assert_eq!((l.max_size, l.max_file), (1024, 2));
        // As given, over berth.toml's.
        assert_eq!(l.opts["max-size"], "1k");
        assert_eq!(l.opts["max-file"], "2");
        let l = log_config(
            None,
            &["max-size=-1".into(), "max-file=7".into()],
            &defaults,
        )
        .unwrap();
        assert_eq!((l.max_size, l.max_file), (0, 7));
        let none = log_config(Some("none"), &[], &defaults).unwrap();
        assert!(none.disabled && none.opts.is_empty());
        let err = |d: Option<&str>, o: &str| {
            log_config(d, &[o.to_string()], &defaults)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(Some("none"), "max-file=1"),
            "the none logging driver takes no --log-opt"
        );
        assert_eq!(
            err(Some("syslog"), "max-file=1"),
            "logging driver \"syslog\" is not supported (json-file or none)"
        );
        assert!(err(None, "max-size=lots").contains("max-size"));
        assert_eq!(err(None, "max-file=x"), "invalid max-file \"x\"");
        assert_eq!(err(None, "nokey"), "invalid --log-opt \"nokey\"");
        assert_eq!(
            err(None, "compress=true"),
            "unknown log opt 'compress' for json-file log driver"
        );
    }
}

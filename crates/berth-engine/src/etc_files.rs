//! The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, written into the
//! container's directory and bind-mounted by the spec.

use std::net::IpAddr;
use std::path::Path;

use crate::container::Container;
use crate::error::{Error, Result};

/// The container's hostname: the configured one, else the short id (as Docker).
pub fn hostname(c: &Container) -> String {
    c.config
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| c.short_id().to_string())
}

/// The /etc/hosts text: `--add-host` entries, then `links` (lines of `network/links.rs`),
/// then the container's own addresses on its network, if any.
/// `gateway` is what `host-gateway` stands for.
pub fn hosts(c: &Container, net: &NetFacts<'_>) -> Result<String> {
    let (own, links, gateway) = (net.own, net.links, net.gateway);
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for h in &c.config.host.extra_hosts {
        let (name, target) = crate::config::parse::extra_host(h)?;
        let ip = match target {
            crate::config::parse::HostTarget::Ip(ip) => ip,
            crate::config::parse::HostTarget::Gateway => gateway.ok_or_else(|| {
                Error::invalid(
                    format!("--add-host {h:?}"),
                    "host-gateway needs a bridge network to take the host's address from",
                )
            })?,
        };
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for l in links {
        s.push_str(l);
        s.push('\n');
    }
    for ip in own {
        s.push_str(&format!("{ip}\t{}\n", hostname(c)));
    }
    Ok(s)
}

fn is_loopback_nameserver(line: &str) -> bool {
    line.split_whitespace()
        .nth(1)
        .and_then(|a| a.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
}

/// The embedded resolver's address inside a container (Docker's).
pub const EMBEDDED_DNS: &str = "127.0.0.11";

/// Whether the container's names are served by the embedded resolver: one of its networks
/// is user-defined (not the default `bridge`, `host`, `none`, or another's).
pub fn uses_embedded_dns(c: &Container) -> bool {
    c.config
        .host
        .attachments()
        .iter()
        .any(|a| a.network != "bridge")
}

/// The /etc/resolv.conf text, as Docker writes it. On a user-defined network
/// (`uses_embedded_dns`): the embedded resolver (which forwards to --dns, else the
/// nameservers of berth.toml's `dns`, else the host's), the search domains and options
/// of --dns-search/--dns-option or the host's, and `ndots:0` unless an ndots is given.
/// Elsewhere: --dns, else berth.toml's `dns` (`default_dns`), else the host's
/// nameservers without loopback ones (unreachable from the container), else Google's
/// public servers.
pub fn resolv_conf(c: &Container, host_resolv: &str, default_dns: &[String]) -> String {
    let h = &c.config.host;
    let embedded = uses_embedded_dns(c);
    let mut out = String::new();
    let given: &[String] = if h.dns.is_empty() {
        default_dns
    } else {
        &h.dns
    };
    let mut nameservers: Vec<String> = if embedded {
        vec![format!("nameserver {EMBEDDED_DNS}")]
    } else {
        given.iter().map(|d| format!("nameserver {d}")).collect()
    };
    let from_host = !embedded && given.is_empty();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host_resolv.lines() {
        let l = line.trim();
        if l.starts_with("nameserver") && from_host && !is_loopback_nameserver(l) {
            nameservers.push(l.to_string());
        } else if let Some(rest) = l.strip_prefix("search") {
            if h.dns_search.is_empty() {
                search.extend(rest.split_whitespace().map(String::from));
            }
        } else if let Some(rest) = l.strip_prefix("options")
            && h.dns_options.is_empty()
        {
            options.extend(rest.split_whitespace().map(String::from));
        }
    }
    if nameservers.is_empty() {
        nameservers = vec!["nameserver 8.8.8.8".into(), "nameserver 8.8.4.4".into()];
    }
    if !h.dns_search.is_empty() {
        search = h.dns_search.clone();
    }
    if !h.dns_options.is_empty() {
        options = h.dns_options.clone();
    }
    if embedded && !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    for n in nameservers {
        out.push_str(&n);
        out.push('\n');
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The host's resolver configuration.
pub fn host_resolv_conf() -> String {
    std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
}

/// What the network side tells the files.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetFacts<'a> {
    /// The container's own addresses on its networks (on each, IPv4 then IPv6).
    pub own: &'a [IpAddr],
    /// /etc/hosts lines of its links (`network/links.rs`).
    pub links: &'a [String],
    /// The host's address on the container's network (`--add-host X:host-gateway`).
    pub gateway: Option<IpAddr>,
}

/// Writes the three files into `dir` (`default_dns`: berth.toml's `dns`).
pub fn write(dir: &Path, c: &Container, net: &NetFacts<'_>, default_dns: &[String]) -> Result<()> {
    let host_resolv = host_resolv_conf();
    for (name, text) in [
        ("hostname", format!("{}\n", hostname(c))),
        ("hosts", hosts(c, net)?),
        ("resolv.conf", resolv_conf(c, &host_resolv, default_dns)),
    ] {
        berth_runtime::util::write_replace(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::State;

    fn c() -> Container {
        Container {
            id: "0123456789abcdef".repeat(4),
            name: "x".into(),
            created: String::new(),
            config: Default::default(),
            state: State::default(),
        }
    }

    #[test]
    fn files() {
        let mut c = c();
        assert_eq!(hostname(&c), "0123456789ab");
        c.config.host.extra_hosts = vec!["db:10.0.0.5".into()];
        assert!(
            hosts(&c, &NetFacts::default())
                .unwrap()
                .ends_with("10.0.0.5\tdb\n")
        );
        let own = hosts(
            &c,
            &NetFacts {
                own: &["172.18.0.2".parse().unwrap()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            own.ends_with("10.0.0.5\tdb\n172.18.0.2\t0123456789ab\n"),
            "{own}"
        );
        c.config.host.extra_hosts = vec!["db:nope".into()];
        assert!(hosts(&c, &NetFacts::default()).is_err());
        let host = "nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch lan\noptions edns0\n";
        let r = resolv_conf(&c, host, &[]);
        assert_eq!(r, "nameserver 10.1.1.1\nsearch lan\noptions edns0\n");
        assert!(resolv_conf(&c, "nameserver 127.0.0.1\n", &[]).contains("8.8.8.8"));
        let conf = resolv_conf(&c, host, &["10.9.9.9".into()]);
        assert!(
            conf.starts_with("nameserver 10.9.9.9\nsearch lan"),
            "{conf}"
        );
        c.config.host.dns = vec!["1.1.1.1".into()];
        assert!(resolv_conf(&c, host, &[]).starts_with("nameserver 1.1.1.1\nsearch lan"));
        // A user-defined network: the embedded resolver, whatever --dns says.
        c.config.host.network_mode = crate::config::NetworkMode::Network("front".into());
        assert_eq!(
            resolv_conf(&c, host, &[]),
            "nameserver 127.0.0.11\nsearch lan\noptions edns0 ndots:0\n"
        );
        c.config.host.dns_search = vec!["corp".into()];
        c.config.host.dns_options = vec!["ndots:2".into()];
        assert_eq!(
            resolv_conf(&c, host, &[]),
            "nameserver 127.0.0.11\nsearch corp\noptions ndots:2\n"
        );
        // The default bridge keeps Docker's: no embedded resolver.
        c.config.host.network_mode = crate::config::NetworkMode::Network("bridge".into());
        assert!(resolv_conf(&c, host, &[]).starts_with("nameserver 1.1.1.1\n"));
    }
}

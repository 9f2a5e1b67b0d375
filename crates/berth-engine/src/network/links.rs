//! `--link NAME[:ALIAS]`, Docker's legacy links: checked at create (the container exists,
//! this container has a network of its own); at start the linked container must be
//! running on a network this one joined, and it appears in this container's /etc/hosts
//! (`IP\tALIAS HOSTNAME NAME`) and, on the default `bridge` network, in its environment
//! (`ALIAS_PORT_80_TCP=tcp://IP:80`, `ALIAS_NAME`, `ALIAS_ENV_X` ... as Docker writes
//! them, but not the `_START`/`_END` variables Docker adds for runs of consecutive ports).
//! On user-defined networks Docker resolves the alias through its DNS for this
//! container only; Berth writes the same hosts line, which resolves the same way.

use std::net::Ipv4Addr;

use crate::config::{ContainerConfig, NetworkMode};
use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// One `--link` value: (container, alias).
pub(crate) fn parse(link: &str) -> Result<(&str, &str)> {
    let (name, alias) = link.split_once(':').unwrap_or((link, link));
    let (name, alias) = (name.trim_start_matches('/'), alias.trim_start_matches('/'));
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if !valid(name) || !valid(alias) {
        return Err(Error::InvalidValue(format!(
            "invalid link {link:?}: use NAME or NAME:ALIAS"
        )));
    }
    Ok((name, alias))
}

/// Create-time checks (Docker's daemon's): every linked container exists and has a
/// network namespace of its own, and so has this container.
pub(crate) fn check(engine: &Engine, cfg: &ContainerConfig) -> Result<()> {
    if cfg.host.links.is_empty() {
        return Ok(());
    }
    if !matches!(cfg.host.network_mode, NetworkMode::Network(_)) {
        return Err(Error::InvalidValue(format!(
            "conflicting options: {} type networking can't be used with links. This would result in undefined behavior",
            cfg.host.network_mode.docker_name()
        )));
    }
    for l in &cfg.host.links {
        let (name, _) = parse(l)?;
        let child = engine.container(name).map_err(|e| match e {
            Error::NoSuchContainer(n) => Error::InvalidValue(format!(
                "could not get container for {n}: No such container: {n}"
            )),
            e => e,
        })?;
        if let NetworkMode::Container(_) = child.config.host.network_mode {
            return Err(Error::InvalidValue(format!(
                "conflicting options: container {name} shares another container's network namespace and cannot be linked to"
            )));
        }
    }
    Ok(())
}

/// What the links of `c` add at start: /etc/hosts lines and environment variables.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub hosts: Vec<String>,
    pub env: Vec<String>,
}

/// Resolves the links of `c`, which joined network `network` (None: no network of its
/// own). Fails when a linked container is gone, not running, or not on that network.
pub(crate) fn resolve(engine: &Engine, c: &Container, network: Option<&str>) -> Result<Resolved> {
    let mut out = Resolved::default();
    if c.config.host.links.is_empty() {
        return Ok(out);
    }
    let Some(net_name) = network else {
        return Ok(out);
    };
    let net = engine.network(net_name)?;
    for l in &c.config.host.links {
        let (name, alias) = parse(l)?;
        let child = engine.container(name)?;
        if !child.state.status.is_live() {
            return Err(Error::Conflict(format!(
                "Cannot link to a non running container: /{} AS /{}/{alias}",
                child.name, c.name
            )));
        }
        let ip = engine
            .db
            .endpoints(Some(&child.id))?
            .into_iter()
            .find(|e| e.network_id == net.id)
            .map(|e| e.ip)
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "Cannot link to /{}, as it does not belong to the network {}",
                    child.name, net.name
                ))
            })?;
        let mut names = vec![alias.to_string(), crate::etc_files::hostname(&child)];
        if alias != child.name {
            names.push(child.name.clone());
        }
        out.hosts.push(format!("{ip}\t{}", names.join(" ")));
        if net.builtin && net.name == "bridge" {
            out.env.extend(env(&c.name, alias, &child, ip));
        }
    }
    Ok(out)
}

/// Docker's legacy link variables for `child` seen as `alias` from `parent`.
fn env(parent: &str, alias: &str, child: &Container, ip: Ipv4Addr) -> Vec<String> {
    let prefix = alias.to_ascii_uppercase().replace('-', "_");
    let mut out = vec![format!("{prefix}_NAME=/{parent}/{alias}")];
    let mut ports: Vec<(u16, String)> = child
        .config
        .exposed_ports
        .iter()
        .filter_map(|k| super::ports::split_key(k).map(|(p, _)| (p, proto_name(k))))
        .collect();
    ports.sort();
    if let Some((p, proto)) = ports.first() {
        out.push(format!("{prefix}_PORT={proto}://{ip}:{p}"));
    }
    for (p, proto) in &ports {
        let up = proto.to_ascii_uppercase();
        out.push(format!("{prefix}_PORT_{p}_{up}={proto}://{ip}:{p}"));
        out.push(format!("{prefix}_PORT_{p}_{up}_ADDR={ip}"));
        out.push(format!("{prefix}_PORT_{p}_{up}_PORT={p}"));
        out.push(format!("{prefix}_PORT_{p}_{up}_PROTO={proto}"));
    }
    for e in &child.config.env {
        if let Some((k, v)) = e.split_once('=')
            && k != "HOME"
            && k != "PATH"
        {
            out.push(format!("{prefix}_ENV_{k}={v}"));
        }
    }
    out
}

/// The protocol of an exposed-port key ("80/udp" is "udp"), lower case.
fn proto_name(key: &str) -> String {
    key.split_once('/')
        .map(|(_, p)| p.to_ascii_lowercase())
        .unwrap_or_else(|| "tcp".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links() {
        assert_eq!(parse("db").unwrap(), ("db", "db"));
        assert!(parse("/db:/web/x").is_err());
        assert_eq!(parse("db:dbx").unwrap(), ("db", "dbx"));
        assert!(parse("").is_err());
        assert!(parse("db:").is_err());
        assert!(parse("a b").is_err());
    }

    #[test]
    fn link_environment_as_docker() {
        let mut child = Container {
            id: "0123456789abcdef".into(),
            name: "db".into(),
            created: String::new(),
            config: ContainerConfig::default(),
            state: Default::default(),
        };
        child.config.exposed_ports = vec!["5432/tcp".into(), "53/udp".into()];
        child.config.env = vec!["PATH=/x".into(), "FOO=bar=1".into()];
        let e = env("web", "my-db", &child, "172.17.0.2".parse().unwrap());
        assert_eq!(
            e,
            [
                "MY_DB_NAME=/web/my-db",
                "MY_DB_PORT=udp://172.17.0.2:53",
                "MY_DB_PORT_53_UDP=udp://172.17.0.2:53",
                "MY_DB_PORT_53_UDP_ADDR=172.17.0.2",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_5432_TCP=tcp://172.17.0.2:5432",
                "MY_DB_PORT_5432_TCP_ADDR=172.17.0.2",
                "MY_DB_PORT_5432_TCP_PORT=5432",
                "MY_DB_PORT_5432_TCP_PROTO=tcp",
                "MY_DB_ENV_FOO=bar=1",
            ]
        );
    }
}

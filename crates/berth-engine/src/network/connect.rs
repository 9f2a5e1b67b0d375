//! `network connect` and `network disconnect`: a container's networks changed after
//! create. The container's record changes (`HostConfig.networks`, or `primary_detached`
//! for its first network); a running container gets (or loses) the endpoint at once, in
//! its pinned namespace: a veth as its next free `ethN`, the address, no default route
//! unless it had no other endpoint. A created or stopped container joins at its next
//! start. Names on the network appear and go with the endpoint row (the resolvers read
//! the store at each query).

use super::Network;
use super::endpoint::{How, check_endpoint, joinable, make_endpoint, netns_path, release_one};
use crate::config::{NetworkAttachment, NetworkMode};
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What `network connect` asks for besides the network and the container.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    /// `--alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ipv4_address: Option<String>,
    /// `--ip6` (the network must have IPv6 and a subnet the user gave, as Docker).
    pub ipv6_address: Option<String>,
    /// `--link`: refused (legacy links are the default bridge's; Berth has none).
    pub links: Vec<String>,
}

/// The container's namespace exists (its endpoints are live) in these states.
fn live(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

const HOST: &str =
    "container cannot be disconnected from host network or connected to host network";
const NONE: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

const SHARED: &str = "container sharing network namespace with another container or host cannot be connected to any other network";

/// Docker's refusals for connecting container `c` to network `n` when either is not a
/// bridge network (host, none, another container's namespace).
fn check_mode(c: &Container, n: &Network) -> Result<()> {
    let mode = &c.config.host.network_mode;
    match (n.driver.as_str(), mode) {
        ("host", NetworkMode::Host) | ("null", NetworkMode::None) => Err(Error::Conflict(format!(
            "endpoint with name {} already exists in network {}",
            c.name, n.name
        ))),
        ("host", _) => Err(Error::Conflict(HOST.into())),
        (_, NetworkMode::Host | NetworkMode::Container(_)) => Err(Error::Conflict(SHARED.into())),
        ("null", _) | (_, NetworkMode::None) => Err(Error::Conflict(NONE.into())),
        _ => Ok(()),
    }
}

/// The /etc/hosts lines of one endpoint of `c` (its IPv4 address, then its IPv6 one).
fn hosts_lines(
    c: &Container,
    ip: std::net::Ipv4Addr,
    ip6: Option<std::net::Ipv6Addr>,
) -> Vec<String> {
    let name = crate::etc_files::hostname(c);
    super::endpoint::endpoint_addrs(ip, ip6)
        .into_iter()
        .map(|a| crate::etc_hosts::line(a, &name))
        .collect()
}

/// Docker's `network connect` (at start) or `disconnect` (at the end of a run) event of a
/// container on `none` or `host`, which hold no endpoint row (`container:` has none).
pub(crate) fn mode_event(engine: &Engine, c: &Container, action: &str) {
    let name = match c.config.host.network_mode {
        NetworkMode::None => "none",
        NetworkMode::Host => "host",
        _ => return,
    };
    if let Ok(n) = engine.network(name) {
        event(engine, action, &n, c);
    }
}

/// Records Docker's `network connect` or `disconnect` event of container `c` on `n`.
pub(super) fn event(engine: &Engine, action: &str, n: &Network, c: &Container) {
    crate::events::append(
        &engine.paths,
        "network",
        action,
        crate::events::actor(
            &n.id,
            &[
                ("container", c.id.clone()),
                ("name", n.name.clone()),
                ("type", n.driver.clone()),
            ],
        ),
    );
}

impl Engine {
    /// `network connect NET CTR`: checks everything first (a refused request changes
    /// nothing), records the network, and makes the endpoint of a running container.
    pub fn network_connect(&self, net: &str, container: &str, req: &ConnectRequest) -> Result<()> {
        let n = self.network(net)?;
        let found = self.container(container)?;
        let _lock = self.lock_container(&found.id)?;
        let mut c = self.container(&found.id)?;
        check_mode(&c, &n)?;
        if !req.links.is_empty() {
            return Err(Error::Unsupported(
                "--link is not supported by berth: containers on a user-defined network reach each other by name (use --alias)".into(),
            ));
        }
        let n = joinable(self, &n.id)?;
        let had_resolver = crate::etc_files::uses_embedded_dns(&c);
        if c.config
            .host
            .attachments()
            .iter()
            .any(|a| a.network == n.name)
        {
            return Err(Error::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        check_endpoint(&n, &req.aliases, req.ipv4_address.as_deref(), None)?;
        if let Some(ip6) = &req.ipv6_address {
            super::v6::check_ip6(ip6, Some(&n))?;
        }
        let h = &mut c.config.host;
        if h.network_mode == NetworkMode::Network(n.name.clone()) {
            h.primary_detached = false;
            h.network_aliases = req.aliases.clone();
            h.ipv4_address = req.ipv4_address.clone();
            h.ipv6_address = req.ipv6_address.clone();
            h.mac_address = None;
        } else {
            h.networks.push(NetworkAttachment {
                network: n.name.clone(),
                aliases: req.aliases.clone(),
                ipv4_address: req.ipv4_address.clone(),
                ipv6_address: req.ipv6_address.clone(),
                mac_address: None,
            });
        }
        if live(&c) {
            let path = netns_path(self, &c.id);
            if !path.exists() {
                return Err(Error::Conflict(format!(
                    "container {} has no network namespace of its own to connect (restart it first)",
                    c.name
                )));
            }
            let had_none = self.db.endpoints(Some(&c.id))?.is_empty();
            let atts = c.config.host.attachments();
            let a = atts
                .iter()
                .find(|a| a.network == n.name)
                .ok_or_else(|| Error::Internal(format!("network {} not recorded", n.name)))?;
            let how = How {
                path: &path,
                make_ns: false,
                default_route: had_none,
                ports: false,
            };
            let (row, ip6) = make_endpoint(self, &c, &n, a, &how)?;
            // Docker adds the container's new addresses to its /etc/hosts.
            let lines = hosts_lines(&c, row.ip, ip6);
            if let Err(e) = crate::etc_hosts::update(&self.hosts_path(&c), &lines, &[]) {
                let _ = self.release_endpoint_on(&c, &n);
                return Err(e);
            }
        }
        if let Err(e) = self.db.set_config(&c.id, &c.config) {
            if live(&c) {
                let _ = self.release_endpoint_on(&c, &n);
            }
            return Err(e);
        }
        event(self, "connect", &n, &c);
        if live(&c) && !had_resolver && crate::etc_files::uses_embedded_dns(&c) {
            // Docker starts the embedded resolver at once and points resolv.conf at it.
            super::live_dns::open_resolver(self, &c).map_err(|e| {
                Error::Internal(format!(
                    "container {} is connected to network {}, but its embedded resolver did not start ({e}): names resolve after its next start",
                    c.name, n.name
                ))
            })?;
        }
        Ok(())
    }

    /// The endpoint of container `c` on `n`, if it holds one: released. Returns the
    /// /etc/hosts lines of the addresses it had.
    fn release_endpoint_on(&self, c: &Container, n: &Network) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for row in self.db.endpoints(Some(&c.id))? {
            if row.network_id == n.id {
                let ip6 = self.db.endpoint6(&row.id)?;
                release_one(self, &row)?;
                lines.extend(hosts_lines(c, row.ip, ip6));
            }
        }
        Ok(lines)
    }

    /// The container directory's hosts file (bind-mounted on its /etc/hosts).
    fn hosts_path(&self, c: &Container) -> std::path::PathBuf {
        self.paths.container_dir(&c.id).join("hosts")
    }

    /// `network disconnect NET CTR`: forgets the network (and removes the endpoint of a
    /// running container). With `force`, a network that no longer exists is forgotten by
    /// name.
    pub fn network_disconnect(&self, net: &str, container: &str, force: bool) -> Result<()> {
        let found = match self.network(net) {
            Ok(n) => Some(n),
            Err(Error::NoSuchNetwork(_)) if force => None,
            Err(e) => return Err(e),
        };
        let c = self.container(container)?;
        let _lock = self.lock_container(&c.id)?;
        let mut c = self.container(&c.id)?;
        let name = found.as_ref().map_or(net, |n| n.name.as_str()).to_string();
        match (
            found.as_ref().map(|n| n.driver.as_str()),
            &c.config.host.network_mode,
        ) {
            (Some("host"), NetworkMode::Host) => return Err(Error::Conflict(HOST.into())),
            // Nothing to take away: the container keeps its namespace with only `lo`.
            (Some("null"), NetworkMode::None) => return Ok(()),
            _ => {}
        }
        let attached = c
            .config
            .host
            .attachments()
            .iter()
            .any(|a| a.network == name);
        if !attached {
            let the = if found.is_some() { "" } else { "the " };
            return Err(Error::Conflict(format!(
                "container {} is not connected to {the}network {name}",
                c.id
            )));
        }
        let h = &mut c.config.host;
        if h.network_mode == NetworkMode::Network(name.clone()) {
            h.primary_detached = true;
            h.network_aliases.clear();
            h.ipv4_address = None;
            h.ipv6_address = None;
            h.mac_address = None;
        } else {
            h.networks.retain(|x| x.network != name);
        }
        let gone = match &found {
            Some(n) => self.release_endpoint_on(&c, n)?,
            None => Vec::new(),
        };
        self.db.set_config(&c.id, &c.config)?;
        if let Some(n) = &found {
            event(self, "disconnect", n, &c);
        }
        if !gone.is_empty() {
            // Current Docker (28) removes the lines of the addresses gone, and only those.
            crate::etc_hosts::update(&self.hosts_path(&c), &[], &gone)?;
        }
        Ok(())
    }
}

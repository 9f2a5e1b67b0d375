//! `network inspect`: Docker's JSON for a network, with the containers attached to it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Network;
use crate::engine::Engine;
use crate::error::Result;

/// One attached container, as Docker shows it under `Containers`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// An IPAM pool of a network.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: String,
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    pub network: String,
}

/// A network in Docker's `network inspect` shape.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInspect {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl Engine {
    /// `network inspect` of one network.
    pub fn network_inspect(&self, key: &str) -> Result<NetworkInspect> {
        let n = self.network(key)?;
        super::reconcile(self);
        Ok(self.network_json(&n))
    }

    pub(crate) fn network_json(&self, n: &Network) -> NetworkInspect {
        let prefix = n
            .subnet
            .parse::<berth_network::Ipv4Net>()
            .map(|s| s.prefix())
            .unwrap_or(0);
        let containers = self
            .db
            .endpoints(None)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.network_id == n.id)
            .map(|e| {
                let ipv6_address = match (self.db.endpoint6(&e.id), n.ipv6()) {
                    (Ok(Some(ip6)), Ok(Some((s6, _, _)))) => format!("{ip6}/{}", s6.prefix()),
                    _ => String::new(),
                };
                let name = self
                    .db
                    .find(&e.container_id)
                    .map(|c| c.name)
                    .unwrap_or_default();
                (
                    e.container_id.clone(),
                    NetworkContainer {
                        name,
                        endpoint_id: e.id.clone(),
                        mac_address: e.mac.clone(),
                        ipv4_address: format!("{}/{prefix}", e.ip),
                        ipv6_address,
                    },
                )
            })
            .collect();
        let mut config = if n.subnet.is_empty() {
            Vec::new()
        } else {
            vec![IpamConfig {
                subnet: n.subnet.clone(),
                ip_range: n.ip_range.clone(),
                gateway: if n.show_gateway {
                    n.gateway.clone()
                } else {
                    String::new()
                },
            }]
        };
        if n.enable_ipv6 && !n.subnet6.is_empty() {
            config.push(IpamConfig {
                subnet: n.subnet6.clone(),
                ip_range: n.ip_range6.clone(),
                gateway: if n.show_gateway6 {
                    n.gateway6.clone()
                } else {
                    String::new()
                },
            });
        }
        NetworkInspect {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local".into(),
            driver: n.driver.clone(),
            enable_ipv6: n.enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                // Docker's built-ins other than bridge show null here.
                options: n.has_endpoints().then(BTreeMap::new),
                config,
            },
            internal: n.internal,
            attachable: n.attachable,
            ingress: false,
            config_from: ConfigFrom {
                network: String::new(),
            },
            config_only: false,
            containers,
            options: n.options.clone(),
            labels: n.labels.clone(),
        }
    }
}

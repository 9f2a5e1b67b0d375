//! The kernel side of Berth's networks: bridges, veth endpoints, macvlan and ipvlan
//! endpoints (`vlan`), pinned network namespaces and the firewall. Given a network namespace path and a network's settings it creates an
//! endpoint and returns it; it knows nothing of containers' lifecycle (the engine owns
//! that, and the address allocations).
//!
//! Netlink goes through `rtnetlink`, each call on a thread of its own with a
//! single-threaded tokio runtime (the thread calls `setns` first when it must act inside
//! a container's namespace, so its netlink socket belongs there), so callers stay
//! synchronous and single-threaded processes (monitors) stay single-threaded after a call.

pub mod dns;
mod error;
pub mod firewall;
pub mod firewall6;
mod link;
mod link6;
pub mod netns;
pub mod ports;
pub mod ports6;
pub mod subnet;
pub mod subnet6;
mod vlan;

pub use error::{Error, Result};
pub use firewall::{Firewall, FirewallNet, Nftables};
pub use link::{
    Bridge, CONTAINER_IFNAME, Detaching, Endpoint, EndpointSpec, attach, bridge_exists, detach,
    detach_begin, ensure_bridge, link_exists, remove_bridge, set_hairpin, set_isolated,
};
pub use link6::{Endpoint6Spec, attach6};
pub use ports::{PortMap, Proto};
pub use subnet::{Ipv4Net, Pool};
pub use subnet6::{Ipv6Net, Pool6};
pub use vlan::{IpVlanKind, MacVlanKind, Vlan, attach_vlan, detach_in};

//! The Berth engine: containers, volumes, networks and images as user objects.
//!
//! `Engine` is the one interface over the state (SQLite, WAL) that the CLI, the API server
//! and orchestration call; every running container has its own monitor process
//! (`monitor`, the `berth-monitor` binary), so no Berth process is a single point of failure.

pub mod attach;
mod cancel;
pub mod config;
mod container;
mod copyup;
pub mod cp;
mod db;
mod df;
mod engine;
mod error;
mod etc_files;
mod etc_hosts;
pub mod events;
pub mod exec;
mod files;
pub mod filters;
pub mod image;
pub mod inspect;
mod lifecycle;
mod list;
mod logfile;
pub mod logs;
mod monitor;
pub mod network;
mod paths;
mod pidfd;
mod proto;
mod restore;
pub mod settings;
mod spawn;
mod spec;
/// Berth's calendar (RFC 3339 in UTC), shared by every layer.
pub mod time {
    pub use berth_runtime::time::{format_rfc3339, format_rfc3339_nanos, now_unix, parse_rfc3339};
}
mod stats;
mod stop;
mod system;
mod teardown;
mod update;
mod voldriver;
mod volumes;

pub use attach::{AttachStreams, Attachment};
pub use cancel::Cancel;
pub use container::{Container, Health, HealthResult, State, Status};
pub use cp::{CopyError, CopyOptions};
pub use df::{SystemDf, VolumeUsage};
pub use engine::{Engine, exit_code_for};
pub use error::{Error, ErrorKind, Result};
pub use exec::{ExecConfig, ExecIo, ExecProcess};
pub use files::Change;
pub use inspect::{ContainerInspect, ImageInspect, VolumeInspect};
pub use lifecycle::{CreateRequest, StartMode, Started};
pub use list::{ContainerSummary, ListOptions, PortSummary, human_duration};
pub use logfile::Record;
pub use network::{ConnectRequest, Network, NetworkCreate, NetworkInspect};
pub use stats::{ContainerStats, StatsTargets, Top};
pub use system::{API_VERSION, Info, MIN_API_VERSION, VersionInfo, version};
pub use update::UpdateRequest;
pub use volumes::Volume;

/// The entry point of the `berth-monitor` binary (a container's monitor, or an exec
/// helper). Not for other callers.
#[doc(hidden)]
pub fn monitor_main() -> ! {
    monitor::main()
}

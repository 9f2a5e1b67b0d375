//! The distribution-spec client: pull, push, auth, mirrors, progress. It writes to disk only
//! through `berth-image`. See README.md.

pub mod auth;
mod client;
pub mod config;
mod error;
mod pull;
mod push;
mod tags;

pub use client::Client;
pub use config::{RegistryConfig, RegistrySettings};
pub use error::{Error, ErrorKind, Result};
pub use pull::{PARALLEL_LAYERS, Pulled};
pub use push::{CHUNK, Pushed};

/// Check credentials against a registry (`berth login`): GET /v2/ with the auth dance.
pub fn login_check(client: &Client, registry: &str) -> Result<()> {
    client.check_login(registry)
}

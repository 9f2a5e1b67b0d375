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

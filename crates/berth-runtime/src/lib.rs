//! The Berth OCI runtime.
//!
//! Runs a process in a container from an OCI runtime bundle (config.json + rootfs):
//! namespaces, cgroups (v1, v2 and hybrid hosts), mounts and pivot_root, devices,
//! capabilities, seccomp, rlimits, hooks and terminals. The `berth-runtime` binary puts a
//! runc-compatible command line on top; the engine calls this library directly.
//!
//! Container processes are forked from the caller, which must therefore be
//! single-threaded (the CLI, or a per-container monitor): [`Runtime::create`] and
//! [`Container::exec`] refuse to run from a multi-threaded process.

pub mod cgroups;
mod channel;
mod console;
mod create;
mod error;
mod exec;
pub mod features;
pub mod hooks;
mod init;
pub mod mounts;
mod ops;
pub mod process;
mod rootfs;
pub mod seccomp;
mod spawn;
pub mod spec;
mod state;
pub mod supervise;
mod sys;
pub mod time;
pub mod util;

pub use cgroups::{CgroupMode, Layout, Stats};
pub use console::{get_size, set_size};
pub use create::{CreateOptions, Created};
pub use error::{Error, ErrorKind, ExecFailure, Result};
pub use exec::{ExecOptions, Execed};
pub use state::{Container, Runtime, Saved, Status, validate_id};

/// The default state directory of the runtime.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

//! Berth's image store: content-addressed blobs, the OCI/Docker image model, layer unpack
//! and diff, overlay snapshots, archives and garbage collection. See README.md.
//!
//! Entry point: [`Store::open`] on a data root; everything lives under `<root>/image`.

pub mod archive;
mod blobs;
mod build;
pub mod changes;
mod check;
mod db;
pub mod digest;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gc;
mod ingest;
pub mod init_layer;
pub mod inspect;
pub mod layer;
pub mod model;
pub mod reference;
pub mod snapshot;
pub mod sqlite;
mod store;
pub mod time;
mod trash;
mod usage;
mod verify;

pub use archive::{ArchiveFormat, LoadProgress, LoadedImage, NoProgress};
pub use blobs::{BlobStore, BlobWriter};
pub use build::{CommitOptions, ImportOptions};
pub use check::CheckReport;
pub use db::{ImageRecord, SnapshotRecord};
pub use digest::{Algorithm, Digest};
pub use error::{Error, ErrorKind, Result, in_use_message, printable};
pub use gc::{GcReport, PruneReport, RemoveEvent};
pub use ingest::{DEFAULT_MAX_IMAGE_SIZE, DEFAULT_MAX_LAYER_SIZE, Ingest, IngestedLayer, Limits};
pub use init_layer::InitEntry;
pub use model::{LayerRef, Platform};
pub use reference::Reference;
pub use snapshot::{MountSpec, SnapshotKind};
pub use store::{LockGuard, Store};
pub use usage::DiskUsage;

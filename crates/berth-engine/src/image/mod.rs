//! Images and registries as the engine's user objects: listing with Docker's filters,
//! inspect, history, tag, remove, prune, save, load, import, pull, push, registry logins,
//! the `run --pull` decision, disk usage and the store check. Front ends call these
//! `Engine` methods and see only the data types re-exported here, never the image store or
//! the registry client.

mod list;
mod manage;
mod registry;

/// Progress callbacks while layers stream in or out (load, pull, push): `begin` with the
/// layer's id and size, `advance` with the bytes done, `end` with a status word.
pub use berth_image::LoadProgress as Progress;
pub use berth_image::{
    ArchiveFormat, CheckReport, CommitOptions, Digest, DiskUsage, GcReport, ImageRecord,
    ImportOptions, LoadedImage, NoProgress, Platform, PruneReport, Reference, RemoveEvent,
    inspect::HistoryRow,
};

pub use list::{ImageRow, ImageUsage};
pub use manage::check_import;
pub use registry::{Logout, PendingPull, PendingPush, PullDecision, Pulled, Pushed};

//! Image archives: docker-archive and OCI image layout tars.

mod load;
mod save;

pub use load::LoadedImage;

/// Which archive `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// docker-archive: `manifest.json` + `repositories`, laid out as an OCI layout too
    /// (what Docker ≥ 25 writes; `docker load` and older readers accept it).
    Docker,
    /// A plain OCI image layout (`oci-layout`, `index.json`, `blobs/`).
    Oci,
}

/// Progress callbacks while an archive's layers stream in (`id` is the layer's digest or
/// path in the archive).
pub trait LoadProgress {
    fn begin(&self, _id: &str, _size: u64) {}
    fn advance(&self, _id: &str, _done: u64) {}
    fn end(&self, _id: &str, _status: &str) {}
}

/// No progress output.
pub struct NoProgress;

impl LoadProgress for NoProgress {}

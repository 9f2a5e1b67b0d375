//! Single-image operations (resolve, inspect, history, tag, remove), prune, archives (save,
//! load, import) and the store-wide reports of `system df` and `system check`.

use std::io::{Read, Write};

use berth_image::inspect::HistoryRow;
use berth_image::{
    ArchiveFormat, CheckReport, DiskUsage, ImageRecord, ImportOptions, LoadProgress, LoadedImage,
    Platform, PruneReport, RemoveEvent,
};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Refuses what `import` cannot do: a reference with a digest (the new image has no
/// manifest digest yet) and a URL source. Front ends call it before they open the source;
/// [`Engine::image_import`] checks again.
pub fn check_import(opts: &ImportOptions) -> Result<()> {
    if opts
        .reference
        .as_ref()
        .is_some_and(|r| r.digest().is_some())
    {
        return Err(Error::InvalidValue(
            "import reference cannot carry a digest".into(),
        ));
    }
    if opts.source.contains("://") {
        return Err(Error::Unsupported(
            "importing from a URL is not supported: download the tarball and pass the file".into(),
        ));
    }
    Ok(())
}

impl Engine {
    /// Finds an image the way docker does: name[:tag], name@digest, full or short ID.
    pub fn image(&self, name: &str) -> Result<ImageRecord> {
        Ok(self.store()?.resolve(name)?)
    }

    /// The history of an image, newest first.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryRow>> {
        let store = self.store()?;
        Ok(store.history(&store.resolve(name)?)?)
    }

    /// Tags the image `source` as `target`.
    pub fn image_tag(&self, source: &str, target: &str) -> Result<()> {
        self.store()?.tag(source, target)?;
        Ok(())
    }

    /// Removes a tag, or an image (`force`: also one that is tagged more than once or
    /// used), like `docker rmi`; returns Docker's Untagged/Deleted steps.
    pub fn image_remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        self.store()?.remove(name, force).map_err(|e| match e {
            // A container's writable layer holds the image: name the container, as
            // Docker does ("stopped container 4c7f2514995d").
            berth_image::Error::InUse {
                reference,
                user_kind,
                user_id,
                image,
            } if user_kind == "snapshot" => match self.db.find(&user_id) {
                Ok(c) => {
                    let who = match (&reference, c.state.status.is_live()) {
                        (Some(_), _) => "container",
                        (None, true) => "running container",
                        (None, false) => "stopped container",
                    };
                    Error::Conflict(format!(
                        "conflict: {}",
                        berth_image::in_use_message(
                            reference.as_deref(),
                            who,
                            c.short_id(),
                            &image
                        )
                    ))
                }
                Err(_) => berth_image::Error::InUse {
                    reference,
                    user_kind,
                    user_id,
                    image,
                }
                .into(),
            },
            other => other.into(),
        })
    }

    /// Removes dangling images (`all`: every image no container uses) and collects the
    /// garbage.
    pub fn image_prune(&self, all: bool) -> Result<PruneReport> {
        Ok(self.store()?.prune(all)?)
    }

    /// Writes `names` as one archive to `out` and gives the writer back (unflushed).
    pub fn image_save<W: Write>(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: W,
    ) -> Result<W> {
        Ok(self.store()?.save(names, format, out)?)
    }

    /// Loads every image of a docker-archive or OCI-layout tar (plain or compressed);
    /// `platform` picks from multi-platform indexes (default: the host's).
    pub fn image_load<R: Read>(
        &self,
        input: R,
        platform: Option<&Platform>,
        progress: &dyn LoadProgress,
    ) -> Result<Vec<LoadedImage>> {
        Ok(self.store()?.load(input, platform, progress)?)
    }

    /// Makes an image of one layer from a rootfs tarball, like `docker import`.
    pub fn image_import<R: Read>(&self, input: R, opts: &ImportOptions) -> Result<ImageRecord> {
        check_import(opts)?;
        Ok(self.store()?.import(input, opts)?)
    }

    /// The disk usage of images, layers and container snapshots (`system df`).
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        Ok(self.store()?.disk_usage()?)
    }

    /// Finds (and repairs what it can of) what an interrupted berth left in the image
    /// store; `verify` re-hashes every blob too.
    pub fn system_check(&self, verify: bool) -> Result<CheckReport> {
        Ok(self.store()?.check(verify)?)
    }
}

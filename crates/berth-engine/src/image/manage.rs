//! Single-image operations (resolve, inspect, history, tag, remove), prune, archives (save,
//! load, import) and the store-wide reports of `system df` and `system check`.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use berth_image::inspect::HistoryRow;
use berth_image::{
    ArchiveFormat, CheckReport, Digest, DiskUsage, ImageRecord, ImportOptions, LoadProgress,
    LoadedImage, Platform, PruneReport, RemoveEvent, Store,
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

/// The labels of `img`'s configuration (its events carry them); none when unreadable.
pub(crate) fn labels_of(store: &Store, img: &ImageRecord) -> BTreeMap<String, String> {
    store
        .config_json(img)
        .ok()
        .and_then(|v| v.pointer("/config/Labels").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

impl Engine {
    /// Records an image event as Docker's daemon does: the actor is `id` with the image's
    /// labels and `name`.
    pub(crate) fn image_event(
        &self,
        action: &str,
        id: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) {
        crate::events::append(
            &self.paths,
            "image",
            action,
            crate::events::image_actor(id, name, labels),
        );
    }

    /// The `untag` and `delete` events of a removal, in its order: an untag belongs to
    /// the image whose deletion follows it, or else to `img` (the one named); an untagged
    /// image still has its labels, a deleted one no longer has them.
    fn removal_events(
        &self,
        steps: &[RemoveEvent],
        img: Option<&Digest>,
        labels: &BTreeMap<Digest, BTreeMap<String, String>>,
    ) {
        let none = BTreeMap::new();
        let mut untags = 0;
        for step in steps {
            match step {
                RemoveEvent::Untagged(_) => untags += 1,
                RemoveEvent::Deleted(d) => {
                    let id = d.to_string();
                    for _ in 0..std::mem::take(&mut untags) {
                        self.image_event("untag", &id, &id, labels.get(d).unwrap_or(&none));
                    }
                    self.image_event("delete", &id, &id, &none);
                }
            }
        }
        if let Some(d) = img {
            let id = d.to_string();
            for _ in 0..untags {
                self.image_event("untag", &id, &id, labels.get(d).unwrap_or(&none));
            }
        }
    }

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
        let store = self.store()?;
        let img = store.tag(source, target)?;
        let name = berth_image::Reference::parse_tagged(target)?.familiar();
        self.image_event("tag", &img.id.to_string(), &name, &labels_of(store, &img));
        Ok(())
    }

    /// Removes a tag, or an image (`force`: also one that is tagged more than once or
    /// used), like `docker rmi`; returns Docker's Untagged/Deleted steps.
    pub fn image_remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let store = self.store()?;
        let img = store.resolve(name)?;
        let labels = BTreeMap::from([(img.id.clone(), labels_of(store, &img))]);
        let steps = store.remove(name, force).map_err(|e| match e {
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
        })?;
        self.removal_events(&steps, Some(&img.id), &labels);
        Ok(steps)
    }

    /// Removes dangling images (`all`: every image no container uses) and collects the
    /// garbage.
    pub fn image_prune(&self, all: bool) -> Result<PruneReport> {
        let store = self.store()?;
        let labels = store
            .images()?
            .iter()
            .map(|i| (i.id.clone(), labels_of(store, i)))
            .collect();
        let rep = store.prune(all)?;
        self.removal_events(&rep.events, None, &labels);
        crate::events::append(
            &self.paths,
            "image",
            "prune",
            crate::events::actor("", &[("reclaimed", rep.gc.bytes_freed.to_string())]),
        );
        Ok(rep)
    }

    /// Writes `names` as one archive to `out` and gives the writer back (unflushed).
    pub fn image_save<W: Write>(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: W,
    ) -> Result<W> {
        let store = self.store()?;
        let out = store.save(names, format, out)?;
        let mut saved = Vec::new();
        for n in names {
            if let Ok(img) = store.resolve(n)
                && !saved.contains(&img.id)
            {
                let id = img.id.to_string();
                self.image_event("save", &id, &id, &labels_of(store, &img));
                saved.push(img.id);
            }
        }
        Ok(out)
    }

    /// Loads every image of a docker-archive or OCI-layout tar (plain or compressed);
    /// `platform` picks from multi-platform indexes (default: the host's).
    pub fn image_load<R: Read>(
        &self,
        input: R,
        platform: Option<&Platform>,
        progress: &dyn LoadProgress,
    ) -> Result<Vec<LoadedImage>> {
        let store = self.store()?;
        let loaded = store.load(input, platform, progress)?;
        for l in &loaded {
            let id = l.image.id.to_string();
            self.image_event("load", &id, &id, &labels_of(store, &l.image));
        }
        Ok(loaded)
    }

    /// Makes an image of one layer from a rootfs tarball, like `docker import`.
    pub fn image_import<R: Read>(&self, input: R, opts: &ImportOptions) -> Result<ImageRecord> {
        check_import(opts)?;
        let store = self.store()?;
        let img = store.import(input, opts)?;
        let id = img.id.to_string();
        let labels = labels_of(store, &img);
        if let Some(r) = &opts.reference {
            self.image_event("tag", &id, &r.familiar(), &labels);
        }
        self.image_event("import", &id, &id, &labels);
        Ok(img)
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

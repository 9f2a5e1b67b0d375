//! Making new images: `import` of a rootfs tarball and `commit` of a snapshot.

use std::io::Read;

use serde_json::{Map, Value, json};

use crate::changes::{apply_changes, merge_commit, prune_empty};
use crate::db::ImageRecord;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::ingest::Ingest;
use crate::layer::decompress;
use crate::model::{LayerRef, MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, Platform};
use crate::reference::Reference;
use crate::store::Store;
use crate::time::{format_rfc3339, now_unix};

/// Options of [`Store::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--change` instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME,
    /// STOPSIGNAL).
    pub changes: Vec<String>,
    /// `-m`: the history comment.
    pub message: Option<String>,
    pub platform: Option<Platform>,
    /// The name to tag the new image with.
    pub reference: Option<Reference>,
    /// Where the tarball came from (for the default comment, "Imported from SOURCE"): `-`
    /// for a file or standard input, as Docker's client says.
    pub source: String,
}

/// Options of [`Store::commit_snapshot`].
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `-c` instructions, applied over `config`.
    pub changes: Vec<String>,
    /// `-m`: the history comment.
    pub message: Option<String>,
    /// `-a`: the image's and the history entry's author.
    pub author: Option<String>,
    pub reference: Option<Reference>,
    /// The container's configuration in Docker's image config keys (`User`, `Env`, `Cmd`,
    /// `Entrypoint`, `Healthcheck`, ...): what the new image runs. `None` keeps the base
    /// image's.
    pub config: Option<Map<String, Value>>,
    /// The history entry's `created_by` (Docker writes the container's command).
    pub created_by: String,
}

/// The diff ID of an empty layer (a tar of nothing but its end blocks): a commit without
/// changes adds no layer, only a history entry marked `empty_layer`, as Docker's does.
const EMPTY_TAR: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

impl Store {
    /// Make an image of one layer from a rootfs tarball (plain, gzip or zstd), like
    /// `docker import`.
    pub fn import<R: Read>(&self, reader: R, opts: &ImportOptions) -> Result<ImageRecord> {
        let ing = self.begin_ingest()?;
        let (_, plain) = decompress(reader).map_err(|e| Error::InvalidLayer {
            layer: "imported tarball".into(),
            reason: e.to_string(),
        })?;
        let layer = self.ingest_layer(plain, None, "imported tarball", &ing)?;
        let platform = opts.platform.clone().unwrap_or_else(Platform::host);
        let now = format_rfc3339(now_unix(), 0);
        let mut cfg = Map::new();
        apply_changes(&mut cfg, &opts.changes)?;
        prune_empty(&mut cfg);
        let comment = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {}", opts.source));
        // As Docker's: the comment in the config and its one history entry, which has no
        // CREATED BY.
        let mut config = json!({
            "architecture": platform.arch,
            "os": platform.os,
            "created": now,
            "comment": comment,
            "config": Value::Object(cfg),
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
            "history": [{"created": now, "comment": comment}],
        });
        if let Some(v) = &platform.variant {
            config["variant"] = json!(v);
        }
        let l = LayerRef {
            blob: layer.blob,
            blob_size: layer.blob_size,
            media_type: MT_OCI_LAYER.into(),
            diff_id: layer.diff_id,
        };
        let img = self.finish_image(&config, vec![l], None, opts.reference.as_ref())?;
        ing.finish();
        Ok(img)
    }

    /// Make a new image from snapshot `id`: its base image plus one layer of its changes
    /// (none when nothing changed), with `opts.config` (else the base image's) and the
    /// changes over it, and a history entry.
    pub fn commit_snapshot(&self, id: &str, opts: &CommitOptions) -> Result<ImageRecord> {
        let ing = self.begin_ingest()?;
        let snap = self.snapshot(id)?;
        let base = self.image(&snap.image_id)?;
        let bad = |why: &str| Error::manifest(format!("config of image {}", base.id), why);
        let mut config: Value =
            serde_json::from_slice(&self.config_bytes(&base)?).map_err(|e| Error::Json {
                what: format!("config of image {}", base.id),
                source: e,
            })?;
        let Some(obj) = config.as_object_mut() else {
            return Err(bad("not an object"));
        };
        // What the image runs: the container's configuration with the changes over it;
        // what they leave empty comes back from the container's (Docker's merge).
        let orig = match &opts.config {
            Some(c) => c.clone(),
            None => obj
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        let mut cfg = orig.clone();
        apply_changes(&mut cfg, &opts.changes)?;
        if opts.config.is_some() {
            merge_commit(&mut cfg, &orig);
        }
        prune_empty(&mut cfg);
        let mut w = self.blob_writer(None)?;
        self.diff_snapshot(id, &mut w)?;
        let (blob, blob_size) = w.commit()?;
        let layer = LayerRef {
            diff_id: blob.clone(),
            blob,
            blob_size,
            media_type: MT_OCI_LAYER.into(),
        };
        let empty = layer.diff_id.to_string() == EMPTY_TAR;
        if !empty {
            self.ensure_layer_in(&layer, &ing)?;
        }
        let now = format_rfc3339(now_unix(), 0);
        obj.insert("created".into(), json!(now));
        // The image's comment is the commit's message, as Docker's (not the base's).
        match &opts.message {
            Some(m) => obj.insert("comment".into(), json!(m)),
            None => obj.remove("comment"),
        };
        match &opts.author {
            Some(a) => obj.insert("author".into(), json!(a)),
            None => obj.remove("author"),
        };
        obj.insert("config".into(), Value::Object(cfg));
        if !empty {
            let rootfs = obj
                .entry("rootfs")
                .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
            rootfs
                .get_mut("diff_ids")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| bad("no rootfs.diff_ids"))?
                .push(json!(layer.diff_id.to_string()));
        }
        let mut hist = json!({"created": now});
        if !opts.created_by.is_empty() {
            hist["created_by"] = json!(opts.created_by);
        }
        if let Some(m) = opts.message.as_deref().filter(|m| !m.is_empty()) {
            hist["comment"] = json!(m);
        }
        if let Some(a) = opts.author.as_deref().filter(|a| !a.is_empty()) {
            hist["author"] = json!(a);
        }
        if empty {
            hist["empty_layer"] = json!(true);
        }
        let history = obj.entry("history").or_insert_with(|| json!([]));
        if history.is_null() {
            *history = json!([]);
        }
        history
            .as_array_mut()
            .ok_or_else(|| bad("history is not a list"))?
            .push(hist);
        let mut layers = base.layers.clone();
        if !empty {
            layers.push(layer);
        }
        let img = self.finish_image(
            &config,
            layers,
            Some(base.id.clone()),
            opts.reference.as_ref(),
        )?;
        ing.finish();
        Ok(img)
    }

    /// Store config and an OCI manifest for `layers` (blobs stored, layers unpacked) and
    /// register the image.
    pub(crate) fn finish_image(
        &self,
        config: &Value,
        layers: Vec<LayerRef>,
        parent: Option<Digest>,
        tag: Option<&Reference>,
    ) -> Result<ImageRecord> {
        let config_bytes = serde_json::to_vec(config).map_err(|e| Error::Json {
            what: "new image config".into(),
            source: e,
        })?;
        let config_digest = self.blobs().put(&config_bytes, None)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": config_digest.to_string(), "size": config_bytes.len()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type, "digest": l.blob.to_string(), "size": l.blob_size
            })).collect::<Vec<_>>(),
        });
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Json {
            what: "new image manifest".into(),
            source: e,
        })?;
        let manifest_digest = self.blobs().put(&manifest_bytes, None)?;
        let created = config
            .get("created")
            .and_then(Value::as_str)
            .and_then(crate::time::parse_rfc3339)
            .unwrap_or(0);
        let rec = ImageRecord {
            id: config_digest,
            manifest: manifest_digest,
            manifest_media_type: MT_OCI_MANIFEST.into(),
            created,
            added: now_unix(),
            size: self.layers_size(&layers)?,
            parent,
            layers,
            tags: Vec::new(),
            repo_digests: Vec::new(),
        };
        let tags: Vec<Reference> = tag.cloned().into_iter().collect();
        self.register(&rec, &tags, &[])
    }
}

impl Store {
    /// Record an image fetched from elsewhere (a registry pull, part of `ing`): stores the
    /// manifest and config (checked against their digests) and registers the image with
    /// `tag` and `repo_digest` (`name@sha256:...`). Its layer blobs must be stored.
    #[allow(clippy::too_many_arguments)]
    pub fn add_image(
        &self,
        manifest: &[u8],
        manifest_digest: &Digest,
        media_type: &str,
        config: &[u8],
        layers: Vec<LayerRef>,
        tag: Option<&Reference>,
        repo_digest: Option<String>,
        ing: &Ingest<'_>,
    ) -> Result<ImageRecord> {
        self.blobs().put(manifest, Some(manifest_digest))?;
        let cfg = crate::model::parse_config(config, &manifest_digest.to_string())?;
        let config_digest = self.blobs().put(config, None)?;
        for l in &layers {
            if !self.layer_ready(&l.diff_id)? {
                self.ensure_layer_in(l, ing)?;
            }
        }
        let rec = ImageRecord {
            id: config_digest,
            manifest: manifest_digest.clone(),
            manifest_media_type: media_type.to_owned(),
            created: cfg
                .created()
                .as_deref()
                .and_then(crate::time::parse_rfc3339)
                .unwrap_or(0),
            added: now_unix(),
            size: self.layers_size(&layers)?,
            parent: None,
            layers,
            tags: Vec::new(),
            repo_digests: Vec::new(),
        };
        let tags: Vec<Reference> = tag.cloned().into_iter().collect();
        let rd: Vec<String> = repo_digest.into_iter().collect();
        self.register(&rec, &tags, &rd)
    }

    /// Remember that `image` is in repository `name` under its manifest digest
    /// (`name@sha256:...`), e.g. after a push.
    pub fn add_repo_digest(&self, image: &Digest, name_at_digest: &str) -> Result<()> {
        let mut db = self.db();
        let tx = db.write()?;
        crate::db::add_repo_digest(&tx, name_at_digest, image)?;
        tx.commit()?;
        Ok(())
    }
}

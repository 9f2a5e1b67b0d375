//! `load`: read a docker-archive (classic `<id>/layer.tar` or Docker ≥ 25 `blobs/...`), an
//! OCI image layout tar (what `save --format oci`, skopeo and podman write), plain or
//! compressed. Layer blobs are stored and unpacked in one pass as they stream in.

use std::collections::HashMap;
use std::io::{self, Read};

use oci_spec::image::ImageManifest;
use serde::Deserialize;
use serde_json::{Value, json};

use super::LoadProgress;
use crate::db::ImageRecord;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::ingest::{Ingest, IngestedLayer};
use crate::layer::{Compression, decompress, peek};
use crate::model::{
    self, Document, LayerRef, MAX_JSON, MT_OCI_CONFIG, MT_OCI_MANIFEST, Platform, digest_of,
};
use crate::reference::Reference;
use crate::store::Store;
use crate::time::now_unix;

/// What `load` added.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub image: ImageRecord,
    /// Names (familiar form) the archive gave it.
    pub names: Vec<String>,
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Everything read from the archive stream.
#[derive(Default)]
struct Contents {
    /// Small JSON files by path.
    json: HashMap<String, Vec<u8>>,
    /// Layers stored while streaming, by path.
    layers: HashMap<String, std::result::Result<IngestedLayer, String>>,
    /// Symlinks (classic docker-archive dedups layers this way): path → target path.
    links: HashMap<String, String>,
}

impl Contents {
    fn resolve<'a>(&'a self, mut p: &'a str) -> &'a str {
        for _ in 0..16 {
            match self.links.get(p) {
                Some(t) => p = t,
                None => break,
            }
        }
        p
    }
}

fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// `blobs/<algo>/<hex>` → digest.
fn blob_digest(path: &str) -> Option<Digest> {
    let rest = path.strip_prefix("blobs/")?;
    let (algo, hex) = rest.split_once('/')?;
    format!("{algo}:{hex}").parse().ok()
}

impl Store {
    /// Load every image of an archive; `platform` picks from multi-platform indexes.
    pub fn load<R: Read>(
        &self,
        reader: R,
        platform: Option<&Platform>,
        progress: &dyn LoadProgress,
    ) -> Result<Vec<LoadedImage>> {
        let ing = self.begin_ingest()?;
        let (_, plain) = decompress(reader).ctx("read archive", "-")?;
        let contents = self.read_archive(plain, progress, &ing)?;
        let platform = platform.cloned().unwrap_or_else(Platform::host);
        let mut out = Vec::new();
        if let Some(index) = contents.json.get("index.json") {
            out = self.load_oci(&contents, index, &platform, &ing)?;
        } else if let Some(m) = contents.json.get("manifest.json") {
            let entries: Vec<DockerManifestEntry> = serde_json::from_slice(m)
                .map_err(|e| Error::InvalidArchive(format!("manifest.json: {e}")))?;
            for e in entries {
                out.push(self.load_docker_entry(&contents, &e, &ing)?);
            }
        }
        // docker-archive with both: names from manifest.json win when index.json had none.
        if let (Some(m), true) = (
            contents.json.get("manifest.json"),
            contents.json.contains_key("index.json"),
        ) && let Ok(entries) = serde_json::from_slice::<Vec<DockerManifestEntry>>(m)
        {
            for e in entries {
                let cfg = blob_digest(contents.resolve(&clean(&e.config)));
                let tags = e.repo_tags.unwrap_or_default();
                if let Some(li) = out.iter_mut().find(|li| Some(&li.image.id) == cfg.as_ref()) {
                    let refs = parse_names(&tags)?;
                    if !refs.is_empty() {
                        li.image = self.register(&li.image, &refs, &[])?;
                        for t in refs.iter().map(|r| r.familiar()) {
                            if !li.names.contains(&t) {
                                li.names.push(t);
                            }
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(Error::InvalidArchive(
                "no manifest.json or index.json: not a docker-archive or OCI layout".into(),
            ));
        }
        ing.finish();
        Ok(out)
    }

    fn read_archive<R: Read>(
        &self,
        plain: R,
        progress: &dyn LoadProgress,
        ing: &Ingest<'_>,
    ) -> Result<Contents> {
        let mut c = Contents::default();
        let mut ar = tar::Archive::new(plain);
        let entries = ar
            .entries()
            .map_err(|e| Error::InvalidArchive(crate::error::printable(&e.to_string())))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| {
                Error::InvalidArchive(crate::error::printable(&format!("reading tar: {e}")))
            })?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = clean(&raw);
            let et = entry.header().entry_type();
            if et.is_symlink() || et.is_hard_link() {
                if let Some(t) = entry.link_name_bytes() {
                    let t = String::from_utf8_lossy(&t).into_owned();
                    let target = if et.is_symlink() {
                        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                        clean(&format!("{dir}/{t}"))
                    } else {
                        clean(&t)
                    };
                    c.links.insert(path, target);
                }
                continue;
            }
            if !et.is_file() {
                continue;
            }
            let size = entry.size();
            let (head, mut rd) = peek(&mut entry, 512).ctx("read archive entry", &path)?;
            let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
            if size <= MAX_JSON && matches!(first, Some(b'{') | Some(b'[')) {
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                rd.read_to_end(&mut buf).ctx("read archive entry", &path)?;
                c.json.insert(path, buf);
                continue;
            }
            let expected = blob_digest(&path);
            if let Some(d) = &expected
                && self.blobs().exists(d)
            {
                continue; // resolved from the store later
            }
            let name = expected.as_ref().map_or(path.clone(), |d| d.to_string());
            progress.begin(&name, size);
            let counted = Counting {
                inner: rd,
                done: 0,
                name: &name,
                progress,
            };
            let res = self.ingest_layer(counted, expected.as_ref(), &name, ing);
            progress.end(&name, if res.is_ok() { "Loaded" } else { "Failed" });
            match res {
                Ok(l) => {
                    c.layers.insert(path, Ok(l));
                }
                // A digest mismatch or a ceiling crossed is fatal; other failures matter
                // only if a manifest lists this file as a layer.
                Err(e @ (Error::DigestMismatch { .. } | Error::TooLarge { .. })) => return Err(e),
                Err(e) => {
                    c.layers.insert(path, Err(e.to_string()));
                }
            }
        }
        Ok(c)
    }

    /// The layer stored under `path`, or an already stored blob it names.
    fn layer_at(
        &self,
        c: &Contents,
        path: &str,
        diff_id: &Digest,
        ing: &Ingest<'_>,
    ) -> Result<LayerRef> {
        let path = c.resolve(path);
        match c.layers.get(path) {
            Some(Ok(l)) => {
                if &l.diff_id != diff_id {
                    return Err(Error::DigestMismatch {
                        what: format!("layer {path}"),
                        expected: diff_id.to_string(),
                        actual: l.diff_id.to_string(),
                    });
                }
                Ok(LayerRef {
                    blob: l.blob.clone(),
                    blob_size: l.blob_size,
                    media_type: l.compression.oci_layer_media_type().into(),
                    diff_id: l.diff_id.clone(),
                })
            }
            Some(Err(e)) => Err(Error::InvalidArchive(format!("layer {path}: {e}"))),
            None => {
                let Some(d) = blob_digest(path).filter(|d| self.blobs().exists(d)) else {
                    return Err(Error::InvalidArchive(format!("layer {path} is missing")));
                };
                let f = self.blobs().open_blob(&d)?;
                let (head, _) = peek(f, 8).ctx("read blob", self.blobs().path(&d))?;
                let l = LayerRef {
                    blob_size: self.blobs().size(&d)?,
                    blob: d,
                    media_type: Compression::detect(&head).oci_layer_media_type().into(),
                    diff_id: diff_id.clone(),
                };
                self.ensure_layer_in(&l, ing)?;
                Ok(l)
            }
        }
    }

    fn load_docker_entry(
        &self,
        c: &Contents,
        e: &DockerManifestEntry,
        ing: &Ingest<'_>,
    ) -> Result<LoadedImage> {
        let cpath = c.resolve(&clean(&e.config)).to_owned();
        let config = c
            .json
            .get(&cpath)
            .ok_or_else(|| Error::InvalidArchive(format!("config {cpath} is missing")))?;
        let cfg = model::parse_config(config, &cpath)?;
        let diff_ids: Vec<Digest> = cfg
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse())
            .collect::<Result<_>>()?;
        if diff_ids.len() != e.layers.len() {
            return Err(Error::InvalidArchive(format!(
                "{cpath}: {} layers listed, config has {} diff ids",
                e.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (p, d) in e.layers.iter().zip(&diff_ids) {
            layers.push(self.layer_at(c, &clean(p), d, ing)?);
        }
        let config_digest = self.blobs().put(config, None)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.blob.to_string(), "size": l.blob_size})).collect::<Vec<Value>>(),
        });
        let mbytes = serde_json::to_vec(&manifest).map_err(|e| Error::Json {
            what: "manifest".into(),
            source: e,
        })?;
        let mdigest = self.blobs().put(&mbytes, None)?;
        let refs = parse_names(e.repo_tags.as_deref().unwrap_or(&[]))?;
        self.register_loaded(
            config_digest,
            mdigest,
            MT_OCI_MANIFEST,
            cfg.created().clone(),
            layers,
            &refs,
        )
    }

    fn load_oci(
        &self,
        c: &Contents,
        index: &[u8],
        platform: &Platform,
        ing: &Ingest<'_>,
    ) -> Result<Vec<LoadedImage>> {
        let Document::Index(idx) =
            model::parse_document(index, Some(model::MT_OCI_INDEX), "index.json")?
        else {
            return Err(Error::InvalidArchive(
                "index.json is not an image index".into(),
            ));
        };
        let mut out: Vec<LoadedImage> = Vec::new();
        for desc in idx.manifests() {
            let ann = desc.annotations().clone().unwrap_or_default();
            let name = ann.get("io.containerd.image.name").cloned().or_else(|| {
                ann.get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(':') || n.contains('/'))
                    .cloned()
            });
            let refs = parse_names(&name.into_iter().collect::<Vec<_>>())?;
            let (mdigest, mt) =
                self.pick_manifest(c, &digest_of(desc)?, desc.media_type().as_ref(), platform)?;
            let loaded = self.load_oci_manifest(c, &mdigest, &mt, &refs, ing)?;
            match out.iter_mut().find(|l| l.image.id == loaded.image.id) {
                Some(l) => {
                    l.image = loaded.image;
                    l.names.extend(loaded.names);
                }
                None => out.push(loaded),
            }
        }
        Ok(out)
    }

    /// Follow nested indexes down to the manifest for `platform`.
    fn pick_manifest(
        &self,
        c: &Contents,
        d: &Digest,
        mt: &str,
        platform: &Platform,
    ) -> Result<(Digest, String)> {
        let (mut d, mut mt) = (d.clone(), mt.to_owned());
        for _ in 0..4 {
            let bytes = self.json_blob(c, &d)?;
            match model::parse_document(&bytes, Some(&mt), &d.to_string())? {
                Document::Manifest(_) => return Ok((d, mt)),
                Document::Index(i) => {
                    let sel = model::select_platform(&i, platform, &d.to_string())?;
                    d = digest_of(&sel)?;
                    mt = sel.media_type().to_string();
                }
            }
        }
        Err(Error::InvalidArchive(format!("index {d} nests too deep")))
    }

    /// A JSON blob from the archive (checked) or the store.
    fn json_blob(&self, c: &Contents, d: &Digest) -> Result<Vec<u8>> {
        let p = format!("blobs/{}/{}", d.algorithm().name(), d.hex());
        if let Some(b) = c.json.get(c.resolve(&p)) {
            self.blobs().put(b, Some(d))?;
            return Ok(b.clone());
        }
        if self.blobs().exists(d) {
            return self.blobs().read(d, MAX_JSON);
        }
        Err(Error::InvalidArchive(format!("blob {d} is missing")))
    }

    fn load_oci_manifest(
        &self,
        c: &Contents,
        md: &Digest,
        mt: &str,
        refs: &[Reference],
        ing: &Ingest<'_>,
    ) -> Result<LoadedImage> {
        let mbytes = self.json_blob(c, md)?;
        let m: ImageManifest = serde_json::from_slice(&mbytes)
            .map_err(|e| Error::manifest(md.to_string(), e.to_string()))?;
        let cd = digest_of(m.config())?;
        let cbytes = self.json_blob(c, &cd)?;
        let parts = model::image_parts(&m, &cbytes, &md.to_string())?;
        let mut layers = Vec::new();
        for l in &parts.layers {
            let p = format!("blobs/{}/{}", l.blob.algorithm().name(), l.blob.hex());
            let mut got = self.layer_at(c, &p, &l.diff_id, ing)?;
            if got.blob != l.blob {
                return Err(Error::DigestMismatch {
                    what: format!("layer {p}"),
                    expected: l.blob.to_string(),
                    actual: got.blob.to_string(),
                });
            }
            if got.blob_size != l.blob_size {
                return Err(Error::SizeMismatch {
                    what: format!("layer {p} (the manifest's size)"),
                    expected: l.blob_size,
                    actual: got.blob_size,
                });
            }
            got.media_type = l.media_type.clone();
            layers.push(got);
        }
        let cfg = model::parse_config(&cbytes, &cd.to_string())?;
        self.register_loaded(cd, md.clone(), mt, cfg.created().clone(), layers, refs)
    }

    fn register_loaded(
        &self,
        config: Digest,
        manifest: Digest,
        mt: &str,
        created: Option<String>,
        layers: Vec<LayerRef>,
        refs: &[Reference],
    ) -> Result<LoadedImage> {
        let rec = ImageRecord {
            id: config,
            manifest,
            manifest_media_type: mt.to_owned(),
            created: created
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
        let image = self.register(&rec, refs, &[])?;
        Ok(LoadedImage {
            image,
            names: refs.iter().map(|r| r.familiar()).collect(),
        })
    }
}

fn parse_names(names: &[String]) -> Result<Vec<Reference>> {
    names
        .iter()
        .map(|n| Reference::parse_tagged(n))
        .collect::<Result<Vec<_>>>()
        .map(|v| v.into_iter().filter(|r| r.tag().is_some()).collect())
}

/// Reports progress while a layer streams in.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    name: &'a str,
    progress: &'a dyn LoadProgress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.advance(self.name, self.done);
        Ok(n)
    }
}

//! Pull: manifests negotiated by `Accept`, every blob checked by digest, layers downloaded in
//! parallel and unpacked while they download (the HTTP body streams straight into
//! `Store::ingest_layer`). Mirrors are tried first, in order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_image::digest::{Digest, Hasher};
use berth_image::model::{self, Document, LayerRef, MAX_JSON, Platform};
use berth_image::{ImageRecord, Ingest, LoadProgress, Reference, Store};

use crate::client::{Client, Payload, Session};
use crate::error::{Error, Result};

/// Layers downloaded at once.
pub const PARALLEL_LAYERS: usize = 3;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: ImageRecord,
    pub manifest: Digest,
    /// The endpoint that served it (a mirror or the registry).
    pub endpoint: String,
    /// Layers fetched (the rest were already stored).
    pub downloaded: usize,
}

impl Client {
    /// Pull `r` (tag or digest) for `platform` into `store`.
    pub fn pull(
        &self,
        store: &Store,
        r: &Reference,
        platform: &Platform,
        progress: &(dyn LoadProgress + Sync),
    ) -> Result<Pulled> {
        // The store's lock, a lease, and the ceilings on what this pull unpacks.
        let ing = store.begin_ingest()?;
        let endpoints = self.cfg.endpoints(r.domain());
        let mut last = None;
        for (i, ep) in endpoints.iter().enumerate() {
            let is_mirror = i + 1 < endpoints.len();
            let s = match Session::new(self, r.domain(), r.path(), ep, "pull") {
                Ok(s) => s,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match pull_from(&s, store, r, platform, progress, &ing) {
                Ok(p) => {
                    ing.finish();
                    return Ok(p);
                }
                Err(e) if is_mirror && !matches!(e, Error::Image(_)) => {
                    tracing::info!("mirror {ep} failed for {r}: {e}; trying the next endpoint");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::ManifestUnknown(r.to_string())))
    }
}

fn sha256(data: &[u8], algo_of: &Digest) -> Digest {
    let mut h = Hasher::new(algo_of.algorithm());
    h.update(data);
    h.finish()
}

/// GET a manifest by tag or digest; returns bytes, media type and verified digest.
fn get_manifest(
    s: &Session<'_>,
    reference: &str,
    pinned: Option<&Digest>,
) -> Result<(Vec<u8>, String, Digest)> {
    let url = s.url(&format!("manifests/{reference}"));
    let mut resp = s.send("GET", &url, &[("Accept", ACCEPT)], Payload::Empty)?;
    match resp.status().as_u16() {
        200 => {}
        404 => {
            return Err(Error::ManifestUnknown(format!(
                "{}/{}:{reference}",
                s.registry, s.repo
            )));
        }
        _ => return Err(s.status_error(&format!("manifest {reference}"), resp)),
    }
    let mt = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let header_digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok());
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON)
        .read_to_vec()
        .map_err(|e| s.unavailable(e.to_string()))?;
    let want = pinned.or(header_digest.as_ref());
    let actual = match want {
        Some(w) => sha256(&bytes, w),
        None => Digest::of(&bytes),
    };
    if let Some(w) = want
        && &actual != w
    {
        return Err(berth_image::Error::DigestMismatch {
            what: format!("manifest {reference} from {}", s.base),
            expected: w.to_string(),
            actual: actual.to_string(),
        }
        .into());
    }
    Ok((bytes, mt, actual))
}

fn get_small_blob(s: &Session<'_>, d: &Digest) -> Result<Vec<u8>> {
    let mut resp = s.send("GET", &s.url(&format!("blobs/{d}")), &[], Payload::Empty)?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(Error::BlobUnknown(d.to_string())),
        _ => return Err(s.status_error(&format!("blob {d}"), resp)),
    }
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON)
        .read_to_vec()
        .map_err(|e| s.unavailable(e.to_string()))?;
    let actual = sha256(&bytes, d);
    if &actual != d {
        return Err(berth_image::Error::DigestMismatch {
            what: format!("blob from {}", s.base),
            expected: d.to_string(),
            actual: actual.to_string(),
        }
        .into());
    }
    Ok(bytes)
}

fn pull_from(
    s: &Session<'_>,
    store: &Store,
    r: &Reference,
    platform: &Platform,
    progress: &(dyn LoadProgress + Sync),
    ing: &Ingest<'_>,
) -> Result<Pulled> {
    let reference = match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    let (mut bytes, mut mt, mut digest) = get_manifest(s, &reference, r.digest())?;
    let mut manifest = None;
    for _ in 0..3 {
        match model::parse_document(
            &bytes,
            Some(&mt).filter(|m| !m.is_empty()).map(|m| m.as_str()),
            &digest.to_string(),
        )? {
            Document::Manifest(m) => {
                manifest = Some(m);
                break;
            }
            Document::Index(idx) => {
                let d = model::select_platform(&idx, platform, &r.to_string())?;
                let dd = model::digest_of(&d)?;
                (bytes, mt, digest) = get_manifest(s, &dd.to_string(), Some(&dd))?;
            }
        }
    }
    let Some(m) = manifest else {
        return Err(Error::Protocol {
            registry: s.base.clone(),
            reason: "indexes nest too deep".into(),
        });
    };
    if mt.is_empty() {
        mt = m
            .media_type()
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| model::MT_OCI_MANIFEST.to_owned());
    }
    let cd = model::digest_of(m.config())?;
    let config = if store.blobs().exists(&cd) {
        store.blobs().read(&cd, MAX_JSON)?
    } else {
        get_small_blob(s, &cd)?
    };
    let parts = model::image_parts(&m, &config, &digest.to_string())?;
    let todo: Vec<&LayerRef> = parts
        .layers
        .iter()
        .filter(|l| {
            !(store.blobs().exists(&l.blob) && store.layer_ready(&l.diff_id).unwrap_or(false))
        })
        .collect();
    let downloaded = todo.len();
    fetch_layers(s, store, &todo, progress, ing)?;
    let tag = r.tag().and_then(|t| r.with_tag(t).ok());
    let repo_digest = format!("{}@{digest}", r.name());
    let image = store.add_image(
        &bytes,
        &digest,
        &mt,
        &config,
        parts.layers.clone(),
        tag.as_ref(),
        Some(repo_digest),
        ing,
    )?;
    Ok(Pulled {
        image,
        manifest: digest,
        endpoint: s.base.clone(),
        downloaded,
    })
}

/// Download layers with `PARALLEL_LAYERS` workers, each unpacking as bytes arrive.
fn fetch_layers(
    s: &Session<'_>,
    store: &Store,
    todo: &[&LayerRef],
    progress: &(dyn LoadProgress + Sync),
    ing: &Ingest<'_>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_LAYERS.min(todo.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(l) = todo.get(i) else { break };
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    if let Err(e) = fetch_layer(s, store, l, progress, ing) {
                        if let Ok(mut fe) = first_error.lock() {
                            fe.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    match first_error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

fn fetch_layer(
    s: &Session<'_>,
    store: &Store,
    l: &LayerRef,
    progress: &(dyn LoadProgress + Sync),
    ing: &Ingest<'_>,
) -> Result<()> {
    let id = l.blob.to_string();
    if store.blobs().exists(&l.blob) {
        // Blob stored but not unpacked (e.g. after `system check`): unpack locally.
        store.ensure_layer_in(l, ing)?;
        return Ok(());
    }
    let resp = s.send(
        "GET",
        &s.url(&format!("blobs/{}", l.blob)),
        &[],
        Payload::Empty,
    )?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(Error::BlobUnknown(id)),
        _ => return Err(s.status_error(&format!("blob {}", l.blob), resp)),
    }
    progress.begin(&id, l.blob_size);
    // The manifest says how many bytes the layer has: a registry that sends more (or
    // fewer) is refused, and never makes us read an endless stream.
    let reader = Counting {
        inner: std::io::Read::take(
            resp.into_body().into_reader(),
            l.blob_size.saturating_add(1),
        ),
        done: 0,
        id: &id,
        progress,
    };
    let res = store.ingest_layer(reader, Some(&l.blob), &id, ing);
    progress.end(
        &id,
        if res.is_ok() {
            "Pull complete"
        } else {
            "Failed"
        },
    );
    let got = res?;
    if got.blob_size != l.blob_size {
        return Err(berth_image::Error::SizeMismatch {
            what: format!("layer {id} (the manifest's size)"),
            expected: l.blob_size,
            actual: got.blob_size,
        }
        .into());
    }
    if got.diff_id != l.diff_id {
        return Err(berth_image::Error::DigestMismatch {
            what: format!("diff id of layer {id}"),
            expected: l.diff_id.to_string(),
            actual: got.diff_id.to_string(),
        }
        .into());
    }
    Ok(())
}

struct Counting<'a, R> {
    inner: R,
    done: u64,
    id: &'a str,
    progress: &'a (dyn LoadProgress + Sync),
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.advance(self.id, self.done);
        Ok(n)
    }
}

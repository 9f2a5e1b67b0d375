//! Push: blobs the registry has are skipped (HEAD), blobs another repository of the same
//! registry has are mounted, the rest uploaded monolithically (or in chunks when large),
//! then the manifest is PUT under the tag.

use berth_image::digest::Digest;
use berth_image::{ImageRecord, LoadProgress, Reference, Store};

use crate::client::{Client, Payload, Session};
use crate::error::{Error, Result};

/// Blobs larger than this are uploaded in chunks of this size.
pub const CHUNK: u64 = 32 << 20;

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub manifest: Digest,
    pub uploaded: usize,
    pub skipped: usize,
    pub mounted: usize,
}

impl Client {
    /// Push `image` as `target` (registry/repo:tag); mirrors are never pushed to.
    pub fn push(
        &self,
        store: &Store,
        image: &ImageRecord,
        target: &Reference,
        progress: &dyn LoadProgress,
    ) -> Result<Pushed> {
        let Some(tag) = target.tag() else {
            return Err(berth_image::Error::InvalidReference(format!(
                "{target}: push needs a tag"
            ))
            .into());
        };
        let endpoints = self.cfg.endpoints(target.domain());
        let base = endpoints.last().cloned().unwrap_or_default();
        let s = Session::new(self, target.domain(), target.path(), &base, "pull,push")?;
        // Another repository of this registry that has the image: source for mounts.
        let from = image
            .tags
            .iter()
            .chain(&image.repo_digests)
            .filter_map(|t| Reference::parse(t).ok())
            .find(|r| r.domain() == target.domain() && r.path() != target.path())
            .map(|r| r.path().to_owned());
        let mut out = Pushed {
            manifest: image.manifest.clone(),
            uploaded: 0,
            skipped: 0,
            mounted: 0,
        };
        let mut blobs: Vec<Digest> = image.layers.iter().map(|l| l.blob.clone()).collect();
        blobs.push(image.id.clone());
        for d in &blobs {
            let id = d.to_string();
            progress.begin(&id, store.blobs().size(d).unwrap_or(0));
            let status = push_blob(&s, store, d, from.as_deref())?;
            match status {
                BlobStatus::Exists => out.skipped += 1,
                BlobStatus::Mounted => out.mounted += 1,
                BlobStatus::Uploaded => out.uploaded += 1,
            }
            progress.end(
                &id,
                match status {
                    BlobStatus::Exists => "Layer already exists",
                    BlobStatus::Mounted => "Mounted",
                    BlobStatus::Uploaded => "Pushed",
                },
            );
        }
        let manifest = store.manifest_bytes(image)?;
        let mt = if image.manifest_media_type.is_empty() {
            berth_image::model::MT_OCI_MANIFEST
        } else {
            image.manifest_media_type.as_str()
        };
        let resp = s.send(
            "PUT",
            &s.url(&format!("manifests/{tag}")),
            &[("Content-Type", mt)],
            Payload::Bytes(&manifest),
        )?;
        if resp.status().as_u16() != 201 && resp.status().as_u16() != 200 {
            return Err(s.status_error(&format!("manifest {tag}"), resp));
        }
        store.add_repo_digest(&image.id, &format!("{}@{}", target.name(), image.manifest))?;
        Ok(out)
    }
}

enum BlobStatus {
    Exists,
    Mounted,
    Uploaded,
}

fn location(s: &Session<'_>, resp: &ureq::http::Response<ureq::Body>) -> Result<String> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| s.absolute(l))
        .ok_or_else(|| Error::Protocol {
            registry: s.base.clone(),
            reason: "upload response without Location".into(),
        })
}

fn with_query(url: &str, q: &str) -> String {
    if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

fn push_blob(s: &Session<'_>, store: &Store, d: &Digest, from: Option<&str>) -> Result<BlobStatus> {
    let head = s.send("HEAD", &s.url(&format!("blobs/{d}")), &[], Payload::Empty)?;
    if head.status().as_u16() == 200 {
        return Ok(BlobStatus::Exists);
    }
    let start = match from {
        Some(f) => s.url(&format!("blobs/uploads/?mount={d}&from={f}")),
        None => s.url("blobs/uploads/"),
    };
    let resp = s.send("POST", &start, &[], Payload::Empty)?;
    match resp.status().as_u16() {
        201 => return Ok(BlobStatus::Mounted),
        202 => {}
        _ => return Err(s.status_error(&format!("start upload of {d}"), resp)),
    }
    let mut loc = location(s, &resp)?;
    let file = store.blobs().open_blob(d)?;
    let size = store.blobs().size(d)?;
    let chunk = s.chunk_size();
    if size <= chunk {
        let resp = s.send(
            "PUT",
            &with_query(&loc, &format!("digest={d}")),
            &[("Content-Type", "application/octet-stream")],
            Payload::File(&file),
        )?;
        if resp.status().as_u16() != 201 {
            return Err(s.status_error(&format!("upload of {d}"), resp));
        }
        return Ok(BlobStatus::Uploaded);
    }
    // Chunked: PATCH ranges, then PUT ?digest with no body.
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    let mut off = 0u64;
    // Only a capacity hint (chunk < size, a blob on disk): read_to_end grows the buffer when
    // a chunk does not fit usize.
    let mut buf = Vec::with_capacity(usize::try_from(chunk).unwrap_or(0));
    while off < size {
        buf.clear();
        f.seek(SeekFrom::Start(off))
            .map_err(|e| s.unavailable(e.to_string()))?;
        (&mut f)
            .take(chunk)
            .read_to_end(&mut buf)
            .map_err(|e| s.unavailable(e.to_string()))?;
        let end = off + buf.len() as u64 - 1;
        let range = format!("{off}-{end}");
        let resp = s.send(
            "PATCH",
            &loc,
            &[
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", &range),
            ],
            Payload::Bytes(&buf),
        )?;
        if resp.status().as_u16() != 202 {
            return Err(s.status_error(&format!("chunk {range} of {d}"), resp));
        }
        loc = location(s, &resp)?;
        off = end + 1;
    }
    let resp = s.send(
        "PUT",
        &with_query(&loc, &format!("digest={d}")),
        &[],
        Payload::Empty,
    )?;
    if resp.status().as_u16() != 201 {
        return Err(s.status_error(&format!("finish upload of {d}"), resp));
    }
    Ok(BlobStatus::Uploaded)
}

//! `save`: a docker-archive tar (which is also an OCI layout, as Docker ≥ 25 writes it) or a
//! plain OCI image layout tar.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::ArchiveFormat;
use crate::db::ImageRecord;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::model::{MT_OCI_INDEX, MT_OCI_MANIFEST};
use crate::reference::Reference;
use crate::store::Store;

/// One image to save and the names to record for it.
struct Item {
    image: ImageRecord,
    names: Vec<Reference>,
}

impl Store {
    /// Write the images named by `refs` (names, name:tag, IDs) as one archive.
    pub fn save<W: Write>(&self, refs: &[String], format: ArchiveFormat, out: W) -> Result<W> {
        if refs.is_empty() {
            return Err(Error::invalid("save", "no image given"));
        }
        let items = self.save_items(refs)?;
        let mut b = tar::Builder::new(out);
        let mut written: HashSet<Digest> = HashSet::new();
        add_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add_dir(&mut b, "blobs/")?;
        add_dir(&mut b, "blobs/sha256/")?;
        for it in &items {
            for l in &it.image.layers {
                self.add_blob(&mut b, &l.blob, &mut written)?;
            }
            self.add_blob(&mut b, &it.image.id, &mut written)?;
            self.add_blob(&mut b, &it.image.manifest, &mut written)?;
        }
        let mut index_manifests = Vec::new();
        let mut docker_manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for it in &items {
            let img = &it.image;
            let size = self.blobs().size(&img.manifest)?;
            let desc = |ann: Option<Value>| {
                let mut d = json!({
                    "mediaType": if img.manifest_media_type.is_empty() { MT_OCI_MANIFEST } else { img.manifest_media_type.as_str() },
                    "digest": img.manifest.to_string(),
                    "size": size,
                });
                if let Some(a) = ann {
                    d["annotations"] = a;
                }
                d
            };
            if it.names.is_empty() {
                index_manifests.push(desc(None));
            }
            for n in &it.names {
                let tag = n.tag().unwrap_or("latest");
                index_manifests.push(desc(Some(json!({
                    "io.containerd.image.name": n.to_string(),
                    "org.opencontainers.image.ref.name": tag,
                }))));
                if let Some(top) = img.layers.last() {
                    repositories
                        .entry(n.familiar_name())
                        .or_default()
                        .insert(tag.to_owned(), top.blob.hex().to_owned());
                }
            }
            docker_manifest.push(json!({
                "Config": blob_path(&img.id),
                "RepoTags": it.names.iter().map(|n| n.familiar()).collect::<Vec<_>>(),
                "Layers": img.layers.iter().map(|l| blob_path(&l.blob)).collect::<Vec<_>>(),
            }));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": MT_OCI_INDEX,
            "manifests": index_manifests,
        });
        add_bytes(&mut b, "index.json", &to_vec(&index)?)?;
        if format == ArchiveFormat::Docker {
            add_bytes(
                &mut b,
                "manifest.json",
                &to_vec(&Value::Array(docker_manifest))?,
            )?;
            if !repositories.is_empty() {
                add_bytes(&mut b, "repositories", &to_vec(&json!(repositories))?)?;
            }
        }
        b.into_inner().ctx("finish archive", Path::new("-"))
    }

    fn save_items(&self, refs: &[String]) -> Result<Vec<Item>> {
        let mut items: Vec<Item> = Vec::new();
        for r in refs {
            let mut found: Vec<(ImageRecord, Option<Reference>)> = Vec::new();
            let bare = Reference::parse(r)
                .ok()
                .filter(|p| p.tag().is_none() && p.digest().is_none());
            if let Some(p) = bare {
                // A bare repository name: every tag in it.
                let name = p.name();
                for img in self.images()? {
                    for t in &img.tags {
                        if t.strip_prefix(&name)
                            .is_some_and(|rest| rest.starts_with(':'))
                        {
                            found.push((img.clone(), Reference::parse(t).ok()));
                        }
                    }
                }
            }
            if found.is_empty() {
                let img = self.resolve(r)?;
                let name = Reference::parse_tagged(r)
                    .ok()
                    .filter(|n| n.tagged_name().is_some_and(|t| img.tags.contains(&t)));
                found.push((img, name));
            }
            for (img, name) in found {
                match items.iter_mut().find(|i| i.image.id == img.id) {
                    Some(i) => {
                        if let Some(n) = name
                            && !i.names.contains(&n)
                        {
                            i.names.push(n);
                        }
                    }
                    None => items.push(Item {
                        image: img,
                        names: name.into_iter().collect(),
                    }),
                }
            }
        }
        Ok(items)
    }

    fn add_blob<W: Write>(
        &self,
        b: &mut tar::Builder<W>,
        d: &Digest,
        written: &mut HashSet<Digest>,
    ) -> Result<()> {
        if !written.insert(d.clone()) {
            return Ok(());
        }
        let f = self.blobs().open_blob(d)?;
        let size = f.metadata().ctx("stat blob", self.blobs().path(d))?.len();
        let mut h = header(size, tar::EntryType::Regular);
        b.append_data(
            &mut h,
            blob_path(d),
            io::BufReader::with_capacity(1 << 20, f),
        )
        .ctx("write blob to archive", self.blobs().path(d))
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

fn header(size: u64, t: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(t);
    h.set_size(size);
    h.set_mode(if t == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn add_bytes<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = header(data.len() as u64, tar::EntryType::Regular);
    b.append_data(&mut h, path, data)
        .ctx("write archive entry", path)
}

fn add_dir<W: Write>(b: &mut tar::Builder<W>, path: &str) -> Result<()> {
    let mut h = header(0, tar::EntryType::Directory);
    b.append_data(&mut h, path, io::empty())
        .ctx("write archive entry", path)
}

fn to_vec(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Json {
        what: "archive index".into(),
        source: e,
    })
}

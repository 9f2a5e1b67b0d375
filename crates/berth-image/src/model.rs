//! The image model: media types, manifests and indexes (OCI and Docker schema 2), platform
//! selection and the parts of the image config Berth reads.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MT_DOCKER_LAYER_FOREIGN: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Largest manifest, index or config Berth reads into memory.
pub const MAX_JSON: u64 = 4 << 20;

/// A platform: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this host (linux/amd64 here).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: if arch == "arm64" {
                Some("v8".into())
            } else {
                None
            },
        }
    }

    /// Whether an image of `os`/`arch`[/`variant`] runs as this platform.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        if self.os != os || self.arch != arch {
            return false;
        }
        match (&self.variant, variant) {
            (Some(want), Some(got)) => want == got,
            // arm64 manifests often omit v8
            _ => true,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(Error::invalid(
                format!("platform {s:?}"),
                "expected os/arch[/variant]",
            )),
        }
    }
}

/// A parsed manifest-like document.
pub enum Document {
    Index(Box<ImageIndex>),
    Manifest(Box<ImageManifest>),
}

/// Parse a manifest or index; `media_type` is the type announced by whoever handed it to us
/// (registry Content-Type, descriptor), checked against the document's own.
pub fn parse_document(bytes: &[u8], media_type: Option<&str>, what: &str) -> Result<Document> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let p: Probe =
        serde_json::from_slice(bytes).map_err(|e| Error::manifest(what, e.to_string()))?;
    if p.schema_version != Some(2) {
        return Err(Error::manifest(
            what,
            "schemaVersion must be 2 (schema 1 is not supported)",
        ));
    }
    let mt = p.media_type.as_deref().or(media_type);
    let is_index = match mt {
        Some(MT_OCI_INDEX) | Some(MT_DOCKER_LIST) => true,
        Some(MT_OCI_MANIFEST) | Some(MT_DOCKER_MANIFEST) => false,
        Some(other) => {
            return Err(Error::manifest(
                what,
                format!("unsupported media type {other}"),
            ));
        }
        None => p.manifests.is_some() && p.config.is_none(),
    };
    if let (Some(inner), Some(outer)) = (p.media_type.as_deref(), media_type)
        && inner != outer
        && !(is_json_alias(inner, outer))
    {
        return Err(Error::manifest(
            what,
            format!("media type {outer} does not match the document's {inner}"),
        ));
    }
    if is_index {
        let idx: ImageIndex =
            serde_json::from_slice(bytes).map_err(|e| Error::manifest(what, e.to_string()))?;
        Ok(Document::Index(Box::new(idx)))
    } else {
        let m: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| Error::manifest(what, e.to_string()))?;
        Ok(Document::Manifest(Box::new(m)))
    }
}

fn is_json_alias(a: &str, b: &str) -> bool {
    // Some registries announce application/json.
    a == "application/json" || b == "application/json"
}

/// Pick the manifest for `platform` from an index.
pub fn select_platform(idx: &ImageIndex, platform: &Platform, what: &str) -> Result<Descriptor> {
    let mut fallback = None;
    for d in idx.manifests() {
        let mt = d.media_type().to_string();
        if mt != MT_OCI_MANIFEST && mt != MT_DOCKER_MANIFEST {
            continue;
        }
        match d.platform() {
            Some(p) => {
                let os = p.os().to_string();
                let arch = p.architecture().to_string();
                if platform.matches(&os, &arch, p.variant().as_deref()) {
                    return Ok(d.clone());
                }
            }
            None => {
                if fallback.is_none() {
                    fallback = Some(d.clone());
                }
            }
        }
    }
    // Attestation manifests carry platform unknown/unknown; a platform-less single entry
    // (as some tools write) is taken as the image.
    if idx.manifests().len() == 1
        && let Some(d) = fallback
    {
        return Ok(d);
    }
    Err(Error::PlatformNotFound {
        platform: platform.to_string(),
        what: what.to_owned(),
    })
}

/// Convert an oci-spec digest to ours (validating it).
pub fn digest_of(d: &Descriptor) -> Result<Digest> {
    d.digest().to_string().parse()
}

/// A layer as listed in a manifest, with the matching diff ID from the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub blob: Digest,
    pub blob_size: u64,
    pub media_type: String,
    pub diff_id: Digest,
}

/// What Berth needs from a manifest plus its config.
#[derive(Debug, Clone)]
pub struct ImageParts {
    pub config: Digest,
    pub config_size: u64,
    pub config_media_type: String,
    pub layers: Vec<LayerRef>,
}

/// Check a manifest against its config and pair layers with diff IDs.
pub fn image_parts(m: &ImageManifest, config_bytes: &[u8], what: &str) -> Result<ImageParts> {
    let config = digest_of(m.config())?;
    let cfg = parse_config(config_bytes, what)?;
    let diff_ids = cfg.rootfs().diff_ids();
    if diff_ids.len() != m.layers().len() {
        return Err(Error::manifest(
            what,
            format!(
                "{} layers but the config lists {} diff ids",
                m.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(diff_ids.len());
    for (l, diff) in m.layers().iter().zip(diff_ids) {
        let mt = l.media_type().to_string();
        if !is_layer_media_type(&mt) {
            return Err(Error::manifest(
                what,
                format!("unsupported layer media type {mt}"),
            ));
        }
        layers.push(LayerRef {
            blob: digest_of(l)?,
            blob_size: l.size(),
            media_type: mt,
            diff_id: diff.parse()?,
        });
    }
    Ok(ImageParts {
        config,
        config_size: m.config().size(),
        config_media_type: m.config().media_type().to_string(),
        layers,
    })
}

pub fn is_layer_media_type(mt: &str) -> bool {
    matches!(
        mt,
        MT_OCI_LAYER
            | MT_OCI_LAYER_GZIP
            | MT_OCI_LAYER_ZSTD
            | MT_DOCKER_LAYER_GZIP
            | MT_DOCKER_LAYER_FOREIGN
    ) || mt.starts_with("application/vnd.oci.image.layer.nondistributable.v1.tar")
}

/// Parse an image config.
pub fn parse_config(bytes: &[u8], what: &str) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes).map_err(|e| Error::Json {
        what: format!("config of {what}"),
        source: e,
    })
}

/// The ChainID of a list of diff IDs (OCI image-spec definition).
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    let mut it = diff_ids.iter();
    let mut cur = it.next()?.clone();
    for d in it {
        cur = Digest::of(format!("{cur} {d}").as_bytes());
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn index_platform_selection() {
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_DOCKER_LIST}","manifests":[
            {{"mediaType":"{MT_DOCKER_MANIFEST}","digest":"{}","size":10,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
            {{"mediaType":"{MT_DOCKER_MANIFEST}","digest":"{}","size":10,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            d(1),
            d(2)
        );
        let Document::Index(i) = parse_document(idx.as_bytes(), None, "t").unwrap() else {
            panic!("not an index")
        };
        let amd = select_platform(&i, &"linux/amd64".parse().unwrap(), "t").unwrap();
        assert_eq!(amd.digest().to_string(), d(2));
        let arm = select_platform(&i, &"linux/arm64/v8".parse().unwrap(), "t").unwrap();
        assert_eq!(arm.digest().to_string(), d(1));
        assert!(select_platform(&i, &"linux/s390x".parse().unwrap(), "t").is_err());
    }

    #[test]
    fn manifest_and_config() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_DOCKER_MANIFEST}","config":{{"mediaType":"{MT_DOCKER_CONFIG}","digest":"{}","size":5}},"layers":[{{"mediaType":"{MT_DOCKER_LAYER_GZIP}","digest":"{}","size":7}}]}}"#,
            d(3),
            d(4)
        );
        let Document::Manifest(man) =
            parse_document(m.as_bytes(), Some(MT_DOCKER_MANIFEST), "t").unwrap()
        else {
            panic!("not a manifest")
        };
        let cfg = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{"Cmd":["/bin/sh"]}}}}"#,
            d(5)
        );
        let parts = image_parts(&man, cfg.as_bytes(), "t").unwrap();
        assert_eq!(parts.layers[0].diff_id.to_string(), d(5));
        assert_eq!(parts.layers[0].blob_size, 7);
        // mismatched layer count
        let cfg0 =
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(image_parts(&man, cfg0.as_bytes(), "t").is_err());
        // wrong announced type
        assert!(parse_document(m.as_bytes(), Some(MT_OCI_INDEX), "t").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "{}",
            "[]",
            r#"{"schemaVersion":1}"#,
            r#"{"schemaVersion":2,"mediaType":"text/plain"}"#,
            r#"{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1,"mediaType":"x"},"layers":[]}"#,
        ] {
            assert!(parse_document(s.as_bytes(), None, "t").is_err(), "{s}");
        }
    }

    #[test]
    fn chain_ids() {
        let a: Digest = d(1).parse().unwrap();
        let b: Digest = d(2).parse().unwrap();
        assert_eq!(chain_id(std::slice::from_ref(&a)), Some(a.clone()));
        assert_eq!(
            chain_id(&[a.clone(), b.clone()]),
            Some(Digest::of(format!("{a} {b}").as_bytes()))
        );
        assert_eq!(chain_id(&[]), None);
    }
}

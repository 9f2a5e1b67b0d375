//! The image inspect model: Docker's ImageInspect (Engine API v1.50) in its order. Its
//! `Config` is the image's, with the keys current Docker always sends (empty when the image
//! has none: Cmd, Entrypoint, Env, Labels, OnBuild, User, Volumes, WorkingDir) and the
//! others only when set; the keys of a container's config that API 1.50 dropped
//! (Hostname, AttachStdin...) are not there, nor are `Container`, `ContainerConfig` and
//! `VirtualSize`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: ImageInspectConfig,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    pub size: u64,
    pub graph_driver: ImageGraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: ImageMetadata,
    /// The image's manifest (as current Docker shows with its containerd image store).
    pub descriptor: Descriptor,
}

/// The image's own config (Docker's DockerOCIImageConfig plus the keys it always sends),
/// its keys in the order Docker's daemon prints them.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspectConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<Value>,
    pub cmd: Option<Value>,
    pub entrypoint: Option<Value>,
    pub env: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    pub labels: Option<Value>,
    pub on_build: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<Value>,
    pub user: String,
    pub volumes: Option<Value>,
    pub working_dir: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageGraphDriver {
    pub data: BTreeMap<String, String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageMetadata {
    pub last_tag_time: String,
}

/// An OCI descriptor (lower-case keys, as the OCI spec's).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// A value that is there and not null.
fn present(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| !v.is_null()).cloned()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

impl ImageInspectConfig {
    /// From an image config document's "config" object (or null).
    fn of(c: Option<&Value>) -> ImageInspectConfig {
        let get = |k: &str| present(c.and_then(|c| c.get(k)));
        ImageInspectConfig {
            args_escaped: get("ArgsEscaped").filter(|v| v.as_bool() == Some(true)),
            cmd: get("Cmd"),
            entrypoint: get("Entrypoint"),
            env: get("Env"),
            exposed_ports: get("ExposedPorts"),
            healthcheck: get("Healthcheck"),
            labels: get("Labels"),
            on_build: get("OnBuild"),
            shell: get("Shell"),
            stop_signal: get("StopSignal").filter(|v| v.as_str().is_some_and(|s| !s.is_empty())),
            user: text(c.and_then(|c| c.get("User"))),
            volumes: get("Volumes"),
            working_dir: text(c.and_then(|c| c.get("WorkingDir"))),
        }
    }
}

impl Engine {
    /// An image in `docker image inspect`'s shape.
    pub fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        let store = self.store()?;
        let img = store.resolve(name)?;
        let cfg = store.config_json(&img)?;
        let layer_dirs: Vec<String> = img
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_dir(&l.diff_id).display().to_string())
            .collect();
        let created = cfg
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| crate::time::format_rfc3339(img.created, 0));
        Ok(ImageInspect {
            id: img.id.to_string(),
            repo_tags: img.familiar_tags(),
            repo_digests: img
                .repo_digests
                .iter()
                .filter_map(|r| berth_image::Reference::parse(r).ok())
                .map(|r| r.familiar())
                .collect(),
            parent: img
                .parent
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            comment: text(cfg.get("comment")),
            created,
            docker_version: text(cfg.get("docker_version")),
            author: text(cfg.get("author")),
            config: ImageInspectConfig::of(cfg.get("config")),
            architecture: text(cfg.get("architecture")),
            variant: cfg
                .get("variant")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(String::from),
            os: text(cfg.get("os")),
            os_version: cfg
                .get("os.version")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(String::from),
            size: img.size,
            graph_driver: ImageGraphDriver {
                name: "overlay".into(),
                data: [("LowerDir".to_string(), layer_dirs.join(":"))].into(),
            },
            root_fs: RootFs {
                kind: "layers".into(),
                layers: img.layers.iter().map(|l| l.diff_id.to_string()).collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: crate::time::format_rfc3339(img.added, 0),
            },
            descriptor: Descriptor {
                media_type: img.manifest_media_type.clone(),
                digest: img.manifest.to_string(),
                size: store.blobs().size(&img.manifest).unwrap_or(0),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_as_current_docker() {
        let c = ImageInspectConfig::of(Some(&serde_json::json!({"Cmd": ["sh"]})));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({
                "Cmd": ["sh"], "Entrypoint": null, "Env": null, "Labels": null,
                "OnBuild": null, "User": "", "Volumes": null, "WorkingDir": "",
            })
        );
        let c = ImageInspectConfig::of(Some(&serde_json::json!({
            "StopSignal": "SIGQUIT", "ExposedPorts": {"80/tcp": {}}, "User": "nobody",
        })));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["StopSignal"], "SIGQUIT");
        assert_eq!(v["ExposedPorts"]["80/tcp"], serde_json::json!({}));
        assert_eq!(v["User"], "nobody");
        assert!(v.get("Healthcheck").is_none() && v.get("Hostname").is_none());
        // An image without a config object.
        assert_eq!(ImageInspectConfig::of(None).user, "");
    }
}

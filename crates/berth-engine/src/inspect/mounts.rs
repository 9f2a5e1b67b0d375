//! A container's mounts as Docker shows them: `-v` entries as given (HostConfig.Binds),
//! `--mount` entries as Docker's client sends them (HostConfig.Mounts), `--tmpfs` entries
//! with their options (HostConfig.Tmpfs), anonymous `-v` volumes and the image's VOLUMEs
//! (Config.Volumes), and every mount but `--tmpfs` as mounted (Mounts, with Docker's Mode
//! and Propagation).

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{BindOptions, InspectMount, MountSpec, TmpfsOptions, VolumeOptions};
use crate::config::{Mount, MountKind};
use crate::paths::Paths;

/// What follows the target in a `-v` or `--tmpfs` value as written ("ro,z"; "" for none).
fn options_part(m: &Mount) -> Option<&str> {
    if m.spec.is_empty() {
        return None;
    }
    Some(match m.kind {
        MountKind::Tmpfs => m.spec.split_once(':').map_or("", |(_, o)| o),
        _ => {
            let parts: Vec<&str> = m.spec.split(':').collect();
            match parts.as_slice() {
                [_, o] if !o.starts_with('/') => o,
                [_, _, o] => o,
                _ => "",
            }
        }
    })
}

/// The options of a `-v` mount recorded before its value was (older records).
fn options_rebuilt(m: &Mount) -> String {
    let mut v: Vec<&str> = Vec::new();
    if m.read_only {
        v.push("ro");
    }
    if !m.relabel.is_empty() {
        v.push(&m.relabel);
    }
    if !m.propagation.is_empty() {
        v.push(&m.propagation);
    }
    if m.no_copy {
        v.push("nocopy");
    }
    v.join(",")
}

/// Whether `m` is a `--tmpfs` one (which Docker keeps apart from the mounts).
fn is_tmpfs_flag(m: &Mount) -> bool {
    m.kind == MountKind::Tmpfs && !m.from_mount_flag
}

/// HostConfig.Binds: the `-v` values with a source (a host path or a volume name), as given.
pub(super) fn binds(mounts: &[Mount]) -> Option<Vec<String>> {
    let v: Vec<String> = mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs && !m.from_mount_flag && !m.anonymous)
        .filter(|m| !m.source.is_empty())
        .map(|m| {
            if m.spec.is_empty() {
                let o = options_rebuilt(m);
                let sep = if o.is_empty() { "" } else { ":" };
                format!("{}:{}{sep}{o}", m.source, m.target)
            } else {
                m.spec.clone()
            }
        })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// HostConfig.Tmpfs: each `--tmpfs` target with its options as written.
pub(super) fn tmpfs(mounts: &[Mount]) -> BTreeMap<String, String> {
    mounts
        .iter()
        .filter(|m| is_tmpfs_flag(m))
        .map(|m| {
            let opts = options_part(m).map_or_else(|| m.options.join(","), str::to_string);
            (m.target.clone(), opts)
        })
        .collect()
}

/// HostConfig.Mounts: the `--mount` ones, as Docker's client sends them.
pub(super) fn mount_specs(mounts: &[Mount]) -> Option<Vec<MountSpec>> {
    let v: Vec<MountSpec> = mounts
        .iter()
        .filter(|m| m.from_mount_flag)
        .map(|m| MountSpec {
            kind: kind_name(m.kind).into(),
            // An anonymous volume was named at create; the user gave no source.
            source: if m.anonymous {
                String::new()
            } else {
                m.source.clone()
            },
            target: m.target.clone(),
            read_only: m.read_only,
            bind_options: (m.kind == MountKind::Bind && !m.propagation.is_empty()).then(|| {
                BindOptions {
                    propagation: m.propagation.clone(),
                }
            }),
            volume_options: (m.kind == MountKind::Volume && m.no_copy).then(|| VolumeOptions {
                no_copy: true,
                driver_config: BTreeMap::new(),
            }),
            tmpfs_options: (m.kind == MountKind::Tmpfs
                && (m.tmpfs_size.is_some() || m.tmpfs_mode.is_some()))
            .then_some(TmpfsOptions {
                size_bytes: m.tmpfs_size,
                mode: m.tmpfs_mode,
            }),
        })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// Config.Volumes: the image's VOLUMEs and the anonymous `-v` volumes (`None`: neither).
pub(super) fn config_volumes(
    mounts: &[Mount],
    image_volumes: &[String],
) -> Option<BTreeMap<String, Value>> {
    let v: BTreeMap<String, Value> = image_volumes
        .iter()
        .cloned()
        .chain(
            mounts
                .iter()
                .filter(|m| m.anonymous && !m.from_mount_flag)
                .map(|m| m.target.clone()),
        )
        .map(|t| (t, serde_json::json!({})))
        .collect();
    (!v.is_empty()).then_some(v)
}

fn kind_name(k: MountKind) -> &'static str {
    match k {
        MountKind::Bind => "bind",
        MountKind::Volume => "volume",
        MountKind::Tmpfs => "tmpfs",
    }
}

/// Mounts: every mount but the `--tmpfs` ones, with Docker's Mode (a `-v` value's options
/// as written, "z" for a named or `--mount` volume without any) and Propagation (bind
/// mounts: as given, else "rprivate").
pub(super) fn mount_points(paths: &Paths, mounts: &[Mount]) -> Vec<InspectMount> {
    mounts
        .iter()
        .filter(|m| !is_tmpfs_flag(m))
        .map(|m| {
            let volume = m.kind == MountKind::Volume;
            let mode = if m.from_mount_flag {
                if volume {
                    "z".to_string()
                } else {
                    String::new()
                }
            } else {
                let o = options_part(m).map_or_else(|| options_rebuilt(m), str::to_string);
                if o.is_empty() && volume && !m.anonymous {
                    "z".to_string()
                } else {
                    o
                }
            };
            InspectMount {
                kind: kind_name(m.kind).into(),
                name: volume.then(|| m.source.clone()),
                source: match m.kind {
                    MountKind::Bind => m.source.clone(),
                    MountKind::Volume => paths.volume_data(&m.source).display().to_string(),
                    MountKind::Tmpfs => String::new(),
                },
                destination: m.target.clone(),
                driver: volume.then(|| "local".to_string()),
                mode,
                rw: !m.read_only,
                propagation: match m.kind {
                    MountKind::Bind if m.propagation.is_empty() => "rprivate".into(),
                    MountKind::Bind => m.propagation.clone(),
                    _ => String::new(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::{mount_flag, tmpfs_flag, volume_flag};

    fn named(mut m: Mount) -> Mount {
        if m.kind == MountKind::Volume && m.source.is_empty() {
            m.source = "a".repeat(64);
            m.anonymous = true;
        }
        m
    }

    #[test]
    fn as_docker_shows_them() {
        let mounts: Vec<Mount> = [
            volume_flag("vol:/a"),
            volume_flag("/etc:/h:ro,z"),
            volume_flag("/anon"),
            mount_flag("type=volume,dst=/k"),
            mount_flag("type=bind,src=/etc,dst=/n,bind-propagation=shared,readonly"),
            mount_flag("type=tmpfs,dst=/p,tmpfs-size=1m,tmpfs-mode=1770"),
            tmpfs_flag("/t:rw,size=2m,noexec"),
        ]
        .into_iter()
        .map(|m| named(m.unwrap()))
        .collect();
        assert_eq!(
            binds(&mounts).unwrap(),
            ["vol:/a".to_string(), "/etc:/h:ro,z".into()]
        );
        assert_eq!(tmpfs(&mounts)["/t"], "rw,size=2m,noexec");
        let specs = serde_json::to_value(mount_specs(&mounts)).unwrap();
        assert_eq!(
            specs,
            serde_json::json!([
                {"Type": "volume", "Target": "/k"},
                {"Type": "bind", "Source": "/etc", "Target": "/n", "ReadOnly": true,
                 "BindOptions": {"Propagation": "shared"}},
                {"Type": "tmpfs", "Target": "/p",
                 "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}},
            ])
        );
        let vols = config_volumes(&mounts, &["/img".to_string()]).unwrap();
        assert_eq!(vols.keys().collect::<Vec<_>>(), ["/anon", "/img"]);
        let paths = Paths::new(
            std::path::Path::new("/r"),
            Some(std::path::Path::new("/rr")),
        );
        let points = mount_points(&paths, &mounts);
        let modes: Vec<(&str, &str, &str)> = points
            .iter()
            .map(|p| {
                (
                    p.destination.as_str(),
                    p.mode.as_str(),
                    p.propagation.as_str(),
                )
            })
            .collect();
        assert_eq!(
            modes,
            [
                ("/a", "z", ""),
                ("/h", "ro,z", "rprivate"),
                ("/anon", "", ""),
                ("/k", "z", ""),
                ("/n", "", "shared"),
                ("/p", "", ""),
            ]
        );
        assert!(!points[1].rw && points[0].rw);
        assert_eq!(points[0].source, "/r/volumes/vol/_data");
    }
}

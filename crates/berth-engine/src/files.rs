//! A container's files: `diff`, `export`, `commit` (`cp` is in [`crate::cp`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::config::MountKind;
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The keys of a container's Config that an image config has: what a commit keeps.
const IMAGE_KEYS: [&str; 11] = [
    "User",
    "ExposedPorts",
    "Env",
    "Cmd",
    "Healthcheck",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "OnBuild",
    "Labels",
    "StopSignal",
];

/// One change of `diff`: 'A' added, 'C' changed, 'D' deleted.
pub type Change = (char, String);

impl Engine {
    /// Bytes in the container's writable layer (`ps -s`, `container prune`); 0 when its
    /// snapshot is gone.
    pub fn rw_size(&self, id: &str) -> u64 {
        self.store()
            .and_then(|s| Ok(s.mount_spec(id)?))
            .map(|m| crate::volumes::dir_size(&m.upperdir))
            .unwrap_or(0)
    }

    /// `diff`: what changed in the container's filesystem.
    pub fn diff(&self, key: &str) -> Result<Vec<Change>> {
        let c = self.container(key)?;
        let spec = self.store()?.mount_spec(&c.id)?;
        let mut out = Vec::new();
        let upper = rustix::fs::open(
            &spec.upperdir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        match upper {
            Ok(upper) => walk_changes(&upper, Path::new("/"), &spec.lowerdirs, &mut out)?,
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("open {}", spec.upperdir.display()),
                    e.into(),
                ));
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// `export`: the container's filesystem as a tar.
    pub fn export(&self, key: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(key)?;
        // Walked by descriptors (cp_out), so a running container that swaps a directory
        // for a symlink meanwhile never makes the export read a host file.
        self.store()?
            .with_snapshot_root(&c.id, |root| -> Result<()> {
                let dir = rustix::fs::open(
                    root,
                    rustix::fs::OFlags::PATH
                        | rustix::fs::OFlags::DIRECTORY
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| Error::io(format!("open the filesystem of {}", c.name), e.into()))?;
                crate::cp::cp_out::write_tree_tar(dir, &c.name, out)?;
                Ok(())
            })
    }

    /// `commit`: a new image from the container's changes (paused meanwhile if running
    /// and `pause`), which runs what the container runs: its configuration (as `inspect`
    /// shows it: the image's with the container's flags over it) with `opts.changes` over
    /// it, as Docker's commit does. The history entry names the container's command.
    pub fn commit(
        &self,
        key: &str,
        opts: &berth_image::CommitOptions,
        pause: bool,
    ) -> Result<berth_image::ImageRecord> {
        let c = self.container(key)?;
        let (config, created_by) = self.commit_config(&c)?;
        let opts = berth_image::CommitOptions {
            config: Some(config),
            created_by,
            ..opts.clone()
        };
        let paused = pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let res = self.store()?.commit_snapshot(&c.id, &opts);
        // Docker logs the commit while the container is still paused.
        if res.is_ok() {
            self.event("container", "commit", &c, &[]);
        }
        if paused {
            self.unpause(&c.id)?;
        }
        res.map_err(Into::into)
    }
}

impl Engine {
    /// The container's configuration in image config keys, and its command line (the
    /// history's `created_by`, Docker's `Cmd` joined by blanks).
    fn commit_config(&self, c: &Container) -> Result<(Map<String, Value>, String)> {
        let full = serde_json::to_value(&self.inspect(&c.id)?.config)
            .map_err(|e| Error::Internal(format!("container config as JSON: {e}")))?;
        let mut cfg: Map<String, Value> = IMAGE_KEYS
            .iter()
            .filter_map(|k| full.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        // Docker omits the health check's unset durations.
        if let Some(Value::Object(h)) = cfg.get_mut("Healthcheck") {
            h.retain(|_, v| v.as_u64() != Some(0) && !v.is_null());
        }
        // The image's labels and volumes are the container's too (under its own labels),
        // and so are its anonymous `-v /path` volumes.
        let store = self.store()?;
        let image = store
            .resolve(&c.config.image_id)
            .and_then(|img| store.config_json(&img))
            .unwrap_or(Value::Null);
        let image = image
            .get("config")
            .filter(|c| c.is_object())
            .unwrap_or(&image);
        let mut volumes: Map<String, Value> = match image.get("Volumes") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        if let Some(Value::Object(m)) = full.get("Volumes") {
            volumes.extend(m.clone());
        }
        for m in &c.config.host.mounts {
            let anonymous = m.kind == MountKind::Volume
                && !m.from_mount_flag
                && self.volume(&m.source).is_ok_and(|v| v.anonymous);
            if anonymous {
                volumes.insert(m.target.clone(), json!({}));
            }
        }
        cfg.insert("Volumes".into(), Value::Object(volumes));
        if let Some(Value::Object(il)) = image.get("Labels") {
            let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            if let Some(l) = labels.as_object_mut() {
                for (k, v) in il {
                    l.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        let created_by = full
            .get("Cmd")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        Ok((cfg, created_by))
    }
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

/// Lists what changed under directory `dir` (open on the upper directory, or one of its
/// subdirectories, at `rel`). By descriptors, never following a symlink: a running
/// container swapping a directory for a symlink to a host path cannot make `diff` list
/// the host's directory.
fn walk_changes(
    dir: &std::os::fd::OwnedFd,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> Result<()> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use std::os::unix::ffi::OsStrExt;
    let entries = rustix::fs::Dir::read_from(dir)
        .map_err(|e| Error::io(format!("read {}", rel.display()), e.into()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let crel = rel.join(std::ffi::OsStr::from_bytes(name));
        let lower_rel = crel.strip_prefix("/").unwrap_or(&crel).to_path_buf();
        let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let ft = FileType::from_raw_mode(st.st_mode);
        let shown = crel.to_string_lossy().into_owned();
        if ft == FileType::CharacterDevice && st.st_rdev == 0 {
            out.push(('D', shown));
            continue;
        }
        let kind = if in_lower(lowers, &lower_rel) {
            'C'
        } else {
            'A'
        };
        out.push((kind, shown));
        if ft == FileType::Directory {
            // Swapped for something else meanwhile: nothing to list under it.
            if let Ok(sub) = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                walk_changes(&sub, &crel, lowers, out)?;
            }
        }
    }
    Ok(())
}

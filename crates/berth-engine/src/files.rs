//! A container's files: `diff`, `export`, `commit` (`cp` is in [`crate::cp`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};

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
        walk_changes(&spec.upperdir, Path::new("/"), &spec.lowerdirs, &mut out)?;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// `export`: the container's filesystem as a tar.
    pub fn export(&self, key: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(key)?;
        self.store()?.export_snapshot(&c.id, out)?;
        Ok(())
    }

    /// `commit`: a new image from the container's changes (paused meanwhile if running).
    pub fn commit(
        &self,
        key: &str,
        opts: &berth_image::CommitOptions,
        pause: bool,
    ) -> Result<berth_image::ImageRecord> {
        let c = self.container(key)?;
        let mut opts = opts.clone();
        if opts.created_by.is_empty() {
            // Docker's history says what the container ran: its Cmd.
            let store = self.store()?;
            let image_config = store
                .resolve(&c.config.image_id)
                .and_then(|img| store.config_json(&img))
                .unwrap_or(serde_json::Value::Null);
            let eff = crate::spec::effective(&c.config, &image_config);
            opts.created_by = eff.cmd.unwrap_or_default().join(" ");
        }
        let paused = pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let res = self.store()?.commit_snapshot(&c.id, &opts);
        if paused {
            self.unpause(&c.id)?;
        }
        let img = res?;
        self.event("container", "commit", &c, &[]);
        Ok(img)
    }
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

fn walk_changes(upper: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = upper.join(rel.strip_prefix("/").unwrap_or(rel));
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let crel = rel.join(&name);
        let lower_rel = crel.strip_prefix("/").unwrap_or(&crel).to_path_buf();
        let Ok(meta) = entry.metadata() else { continue };
        let shown = crel.to_string_lossy().into_owned();
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push(('D', shown));
            continue;
        }
        let kind = if in_lower(lowers, &lower_rel) {
            'C'
        } else {
            'A'
        };
        out.push((kind, shown));
        if meta.is_dir() {
            walk_changes(upper, &crel, lowers, out)?;
        }
    }
    Ok(())
}

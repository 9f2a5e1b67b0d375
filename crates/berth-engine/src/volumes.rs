//! Volumes: directories under `<root>/volumes/<name>/_data` that outlive containers. Named
//! volumes are created by `volume create` or on first use; anonymous ones (the image's
//! VOLUMEs, `-v /path`) get a random name and go with their container on `rm -v`. A new,
//! empty volume is filled from the image's content at its mount point (Docker's copy-up).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::config::MountKind;
use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::spec::ResolvedMount;

/// A volume record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

/// Checks a volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    if !crate::container::is_valid_name(name) {
        return Err(Error::invalid(
            format!("volume name {name:?}"),
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ));
    }
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String, String, bool)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode(t: (String, String, String, String, String, bool)) -> Volume {
    Volume {
        name: t.0,
        created: t.1,
        driver: t.2,
        labels: serde_json::from_str(&t.3).unwrap_or_default(),
        options: serde_json::from_str(&t.4).unwrap_or_default(),
        anonymous: t.5,
    }
}

impl Engine {
    /// Creates a named volume (`-o uid=N,gid=N,mode=OCTAL` set the owner and mode of its
    /// root); without a name, one is made up (64 hex digits, as Docker's). Creating one that
    /// exists returns it, as Docker does.
    pub fn volume_create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        let generated;
        let name = match name {
            Some(n) => n,
            None => {
                generated = crate::container::new_id()?;
                &generated
            }
        };
        validate_name(name)?;
        crate::voldriver::validate(&options)?;
        if let Ok(v) = self.volume(name) {
            return Ok(v);
        }
        self.insert_volume(name, &labels, &options, false)?;
        let v = self.volume(name)?;
        if let Err(e) = make_dir(self, &v) {
            let _ = self
                .db
                .conn()?
                .execute("DELETE FROM volumes WHERE name = ?1", [name]);
            return Err(e);
        }
        volume_event(self, "create", &v);
        Ok(v)
    }

    fn insert_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        options: &BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<()> {
        let enc =
            |m: &BTreeMap<String, String>| serde_json::to_string(m).unwrap_or_else(|_| "{}".into());
        self.db.conn()?.execute(
            "INSERT OR IGNORE INTO volumes (name, created, driver, labels, options, anonymous)
             VALUES (?1, ?2, 'local', ?3, ?4, ?5)",
            params![
                name,
                berth_runtime::util::rfc3339(SystemTime::now()),
                enc(labels),
                enc(options),
                anonymous
            ],
        )?;
        Ok(())
    }

    /// A volume by name.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.db
            .conn()?
            .query_row(
                "SELECT name, created, driver, labels, options, anonymous FROM volumes WHERE name = ?1",
                [name],
                row,
            )
            .optional()?
            .map(decode)
            .ok_or_else(|| Error::NoSuchVolume(name.to_string()))
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let conn = self.db.conn()?;
        let mut st = conn.prepare(
            "SELECT name, created, driver, labels, options, anonymous FROM volumes ORDER BY name",
        )?;
        let v = st.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(v.into_iter().map(decode).collect())
    }

    /// The containers (any state) that mount volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .containers()?
            .into_iter()
            .filter(|c| {
                c.config
                    .host
                    .mounts
                    .iter()
                    .any(|m| m.kind == MountKind::Volume && m.source == name)
            })
            .map(|c| c.id)
            .collect())
    }

    /// Removes a volume; one in use is refused (unless `force`, which Docker also refuses
    /// for volumes in use).
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let v = match self.volume(name) {
            Ok(v) => v,
            Err(Error::NoSuchVolume(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            let ids: Vec<&str> = users.iter().map(|u| &u[..12.min(u.len())]).collect();
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        crate::voldriver::remove_dir(self, &v.name)?;
        self.db
            .conn()?
            .execute("DELETE FROM volumes WHERE name = ?1", [name])?;
        volume_event(self, "destroy", &v);
        Ok(())
    }

    /// The volumes `filters` select (dangling=, name=, label=, driver=), by name.
    pub fn volume_list(&self, filters: &Filters) -> Result<Vec<crate::VolumeInspect>> {
        filters.check_keys(&["dangling", "name", "label", "driver"])?;
        let mut out = Vec::new();
        for v in self.volumes()? {
            let keep = filters.any_match("name", &v.name)
                && filters.any("driver", |d| v.driver == d)
                && filters.labels_match("label", &v.labels);
            if !keep {
                continue;
            }
            if !filters.get("dangling").is_empty() {
                let unused = self.volume_users(&v.name)?.is_empty();
                if !filters.any("dangling", |d| matches!(d, "true" | "1") == unused) {
                    continue;
                }
            }
            out.push(self.volume_json(&v));
        }
        Ok(out)
    }

    /// Removes unused volumes (anonymous ones only, unless `all` or the filter all=true)
    /// that `filters` (label=) select; returns the removed names and the bytes freed.
    pub fn volume_prune(&self, all: bool, filters: &Filters) -> Result<(Vec<String>, u64)> {
        filters.check_keys(&["label", "all"])?;
        let all = all
            || filters
                .get("all")
                .iter()
                .any(|v| matches!(v.as_str(), "true" | "1"));
        let mut removed = Vec::new();
        let mut freed = 0;
        for v in self.volumes()? {
            if (!all && !v.anonymous)
                || !filters.labels_match("label", &v.labels)
                || !self.volume_users(&v.name)?.is_empty()
            {
                continue;
            }
            freed += dir_size(&self.paths.volumes().join(&v.name));
            self.volume_remove(&v.name, false)?;
            removed.push(v.name);
        }
        crate::events::append(
            &self.paths,
            "volume",
            "prune",
            crate::events::actor("", &[("reclaimed", freed.to_string())]),
        );
        Ok((removed, freed))
    }
}

fn make_dir(engine: &Engine, v: &Volume) -> Result<()> {
    let data = engine.paths.volume_data(&v.name);
    std::fs::create_dir_all(&data)
        .map_err(|e| Error::io(format!("create {}", data.display()), e))?;
    let num = |k: &str| -> Result<Option<u32>> {
        v.options
            .get(k)
            .map(|s| {
                let radix = if k == "mode" { 8 } else { 10 };
                u32::from_str_radix(s, radix)
                    .map_err(|_| Error::invalid(format!("volume option {k}={s:?}"), "not a number"))
            })
            .transpose()
    };
    let (uid, gid, mode) = (num("uid")?, num("gid")?, num("mode")?);
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(&data, uid, gid)
            .map_err(|e| Error::io(format!("chown {}", data.display()), e))?;
    }
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(m))
            .map_err(|e| Error::io(format!("chmod {}", data.display()), e))?;
    }
    Ok(())
}

/// Records and makes an anonymous volume for container `id`.
pub(crate) fn create_anonymous(engine: &Engine, name: &str, id: &str) -> Result<()> {
    let mut labels = BTreeMap::new();
    labels.insert("com.docker.volume.anonymous".to_string(), String::new());
    labels.insert("org.berth.container".to_string(), id.to_string());
    engine.insert_volume(name, &labels, &BTreeMap::new(), true)?;
    let v = engine.volume(name)?;
    make_dir(engine, &v)?;
    volume_event(engine, "create", &v);
    Ok(())
}

/// Creates the named volumes that `c` mounts and that do not exist yet: at `create`, as
/// Docker's daemon does (a start creates them too, should one have gone meanwhile). Their
/// names go to `made`, so that a create that fails later can remove them again.
pub(crate) fn create_named_of(
    engine: &Engine,
    c: &Container,
    made: &mut Vec<String>,
) -> Result<()> {
    for m in &c.config.host.mounts {
        if m.kind == MountKind::Volume
            && !m.source.is_empty()
            && !made.contains(&m.source)
            && matches!(engine.volume(&m.source), Err(Error::NoSuchVolume(_)))
        {
            engine.volume_create(Some(&m.source), BTreeMap::new(), BTreeMap::new())?;
            made.push(m.source.clone());
        }
    }
    Ok(())
}

/// Records a volume event with Docker's attributes (the driver).
fn volume_event(engine: &Engine, action: &str, v: &Volume) {
    crate::events::append(
        &engine.paths,
        "volume",
        action,
        crate::events::actor(&v.name, &[("driver", v.driver.clone())]),
    );
}

/// The volumes `c` mounts, each with its driver ("local" when it is gone).
fn volume_mounts<'a>(
    engine: &'a Engine,
    c: &'a Container,
) -> impl Iterator<Item = (&'a crate::config::Mount, String)> + 'a {
    c.config
        .host
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .map(|m| {
            let driver = engine
                .volume(&m.source)
                .map_or_else(|_| "local".into(), |v| v.driver);
            (m, driver)
        })
}

/// The `mount` events of a start: one per volume `c` mounts, with Docker's attributes.
pub(crate) fn mount_events(engine: &Engine, c: &Container) {
    for (m, driver) in volume_mounts(engine, c) {
        let attrs = [
            ("driver", driver),
            ("container", c.id.clone()),
            ("destination", m.target.clone()),
            ("read/write", (!m.read_only).to_string()),
            ("propagation", m.propagation.clone()),
        ];
        let actor = crate::events::actor(&m.source, &attrs);
        crate::events::append(&engine.paths, "volume", "mount", actor);
    }
}

/// The `unmount` events of the end of a run: one per volume `c` mounts.
pub(crate) fn unmount_events(engine: &Engine, c: &Container) {
    for (m, driver) in volume_mounts(engine, c) {
        let actor = crate::events::actor(
            &m.source,
            &[("driver", driver), ("container", c.id.clone())],
        );
        crate::events::append(&engine.paths, "volume", "unmount", actor);
    }
}

/// `rm -v`: the container's anonymous volumes go too (when no other container uses them).
pub(crate) fn remove_anonymous_of(engine: &Engine, c: &Container) -> Result<()> {
    for m in &c.config.host.mounts {
        if m.kind != MountKind::Volume {
            continue;
        }
        if let Ok(v) = engine.volume(&m.source)
            && v.anonymous
            && engine.volume_users(&v.name)?.iter().all(|u| u == &c.id)
        {
            crate::voldriver::remove_dir(engine, &v.name)?;
            engine
                .db
                .conn()?
                .execute("DELETE FROM volumes WHERE name = ?1", [&v.name])?;
            volume_event(engine, "destroy", &v);
        }
    }
    Ok(())
}

/// `rm` without -v: anonymous volumes stay, dangling, as with Docker.
pub(crate) fn release_anonymous_of(_engine: &Engine, _c: &Container) -> Result<()> {
    Ok(())
}

/// The container's mounts with host sources: volumes created on first use and filled from
/// the image when new and empty.
pub(crate) fn resolve_mounts(
    engine: &Engine,
    c: &Container,
    rootfs: &Path,
) -> Result<Vec<ResolvedMount>> {
    let mut out = Vec::new();
    for m in &c.config.host.mounts {
        let source = match m.kind {
            MountKind::Bind => {
                crate::config::validate::bind_source_exists(m)?;
                let p = Path::new(&m.source);
                if !p.exists() {
                    // `-v /host:/ctr` makes a missing host directory, as Docker does.
                    std::fs::create_dir_all(p)
                        .map_err(|e| Error::io(format!("create bind source {}", p.display()), e))?;
                }
                p.to_path_buf()
            }
            MountKind::Volume => {
                let fresh = engine.volume(&m.source).is_err();
                if fresh {
                    engine.volume_create(Some(&m.source), BTreeMap::new(), BTreeMap::new())?;
                }
                let data = engine.paths.volume_data(&m.source);
                let v = engine.volume(&m.source)?;
                if !data.exists() {
                    make_dir(engine, &v)?;
                }
                crate::voldriver::mount(engine, &v)?;
                let empty = std::fs::read_dir(&data)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
                if empty && !m.no_copy {
                    crate::copyup::copy_from_rootfs(rootfs, &m.target, &data)?;
                }
                data
            }
            MountKind::Tmpfs => std::path::PathBuf::from("tmpfs"),
        };
        out.push(ResolvedMount::from_config(m, source));
    }
    Ok(out)
}

/// Bytes used under `p` (not following symlinks).
pub fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

//! The local volume driver's options, as Docker's: `type`, `device` and `o` mount a
//! filesystem on the volume's `_data` while containers use it (`-o type=tmpfs -o
//! device=tmpfs -o o=size=64m,uid=1000`, or `-o type=none -o o=bind -o device=/srv/x`);
//! `uid`, `gid` and `mode` set the owner and mode of a plain volume's root; `size` needs a
//! size-limited filesystem (tmpfs here; this host's disk has no project quotas).

use std::collections::BTreeMap;
use std::path::Path;

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::volumes::Volume;

/// Checks a volume's driver options.
pub fn validate(options: &BTreeMap<String, String>) -> Result<()> {
    for k in options.keys() {
        if !matches!(
            k.as_str(),
            "uid" | "gid" | "mode" | "type" | "device" | "o" | "size"
        ) {
            return Err(Error::invalid(
                format!("volume option {k:?}"),
                "the local driver takes type, device, o, size, uid, gid and mode",
            ));
        }
    }
    let kind = options.get("type").map(String::as_str);
    if kind.is_some() != options.contains_key("device") {
        return Err(Error::invalid(
            "volume options",
            "type and device go together",
        ));
    }
    if kind.is_some()
        && (options.contains_key("uid")
            || options.contains_key("gid")
            || options.contains_key("mode"))
    {
        return Err(Error::invalid(
            "volume options",
            "with type, give uid, gid and mode in o",
        ));
    }
    if options.contains_key("size") && kind != Some("tmpfs") {
        return Err(Error::invalid(
            "volume option size",
            "quota size requested but no quota support (use -o type=tmpfs -o device=tmpfs)",
        ));
    }
    if options.contains_key("o") && kind.is_none() {
        return Err(Error::invalid("volume option o", "needs type and device"));
    }
    let o = mount_options(options);
    let parsed = berth_runtime::mounts::parse_options(&o)
        .map_err(|e| Error::invalid("volume option o", e))?;
    if parsed.bind {
        let dev = options.get("device").map(String::as_str).unwrap_or("");
        if !Path::new(dev).is_absolute() || !Path::new(dev).is_dir() {
            return Err(Error::invalid(
                format!("volume device {dev:?}"),
                "a bind volume needs an existing absolute directory",
            ));
        }
    }
    Ok(())
}

fn mount_options(options: &BTreeMap<String, String>) -> Vec<String> {
    let mut o: Vec<String> = options
        .get("o")
        .map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if let Some(sz) = options.get("size") {
        o.push(format!("size={sz}"));
    }
    o
}

/// Mounts the volume's filesystem on its `_data` unless it is there already (for a volume
/// with `type`; nothing for a plain one).
pub(crate) fn mount(engine: &Engine, v: &Volume) -> Result<()> {
    let (Some(kind), Some(device)) = (v.options.get("type"), v.options.get("device")) else {
        return Ok(());
    };
    let data = engine.paths.volume_data(&v.name);
    if crate::teardown::is_mountpoint(&data) {
        return Ok(());
    }
    let o = berth_runtime::mounts::parse_options(&mount_options(&v.options))
        .map_err(|e| Error::invalid(format!("volume {} option o", v.name), e))?;
    let mut flags = o.flags;
    if o.bind {
        flags |= nix::mount::MsFlags::MS_BIND;
        if o.recursive {
            flags |= nix::mount::MsFlags::MS_REC;
        }
    }
    let fstype = (!o.bind && kind != "none").then_some(kind.as_str());
    let data_opts = o.data.join(",");
    nix::mount::mount(
        Some(device.as_str()),
        &data,
        fstype,
        flags,
        (!data_opts.is_empty()).then_some(data_opts.as_str()),
    )
    .map_err(|e| {
        Error::io(
            format!("mount volume {} ({kind} {device})", v.name),
            e.into(),
        )
    })?;
    if o.bind && flags.contains(nix::mount::MsFlags::MS_RDONLY) {
        // A bind mount takes read-only only on a remount.
        let _ = nix::mount::mount(
            None::<&str>,
            &data,
            None::<&str>,
            flags | nix::mount::MsFlags::MS_REMOUNT,
            None::<&str>,
        );
    }
    Ok(())
}

/// Unmounts the volume's filesystem when no running container other than `except` uses it
/// (Docker's local driver does the same: a tmpfs volume's content lasts while it is used).
pub(crate) fn release(engine: &Engine, name: &str, except: &str) -> Result<()> {
    let Ok(v) = engine.volume(name) else {
        return Ok(());
    };
    if !v.options.contains_key("type") {
        return Ok(());
    }
    for c in engine.db.containers()? {
        let uses = c
            .config
            .host
            .mounts
            .iter()
            .any(|m| m.kind == crate::config::MountKind::Volume && m.source == name);
        if uses
            && c.id != except
            && matches!(
                c.state.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        {
            return Ok(());
        }
    }
    unmount(engine, name)
}

/// Unmounts whatever is mounted on the volume's `_data`.
pub(crate) fn unmount(engine: &Engine, name: &str) -> Result<()> {
    let data = engine.paths.volume_data(name);
    if crate::teardown::is_mountpoint(&data) {
        nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| Error::io(format!("unmount volume {name}"), e.into()))?;
    }
    Ok(())
}

/// Removes a volume's directory, after unmounting its filesystem: never deletes through a
/// mount (a bind volume's device is the user's directory).
pub(crate) fn remove_dir(engine: &Engine, name: &str) -> Result<()> {
    unmount(engine, name)?;
    let data = engine.paths.volume_data(name);
    if crate::teardown::is_mountpoint(&data) {
        return Err(Error::Conflict(format!("volume {name} is still mounted")));
    }
    let dir = engine.paths.volumes().join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("remove {}", dir.display()), e)),
    }
}

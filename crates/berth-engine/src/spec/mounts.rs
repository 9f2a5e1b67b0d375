//! The container's mounts in Docker's order: the standard filesystems (/proc, /dev,
//! /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm), then the per-container
//! /etc/resolv.conf, /etc/hostname and /etc/hosts and the user's mounts (sorted by depth, so
//! a parent is mounted before what lies inside it), then the init binary.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::mount_opts::{PROPAGATIONS, ensure_propagation, merge_tmpfs_options};
use super::process::clean_path;
use crate::config::{self, MountKind};
use crate::{Error, Result};

/// A mount of the container with its source resolved to a host path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedMount {
    pub kind: MountKind,
    /// Host path (bind, volume directory); ignored for tmpfs.
    pub source: PathBuf,
    /// Absolute path in the container.
    pub target: String,
    pub read_only: bool,
    /// "rprivate", "rshared", ...; empty for the default (rprivate for binds).
    pub propagation: String,
    /// Extra options (tmpfs "size=64m", "exec", bind "nosuid", ...).
    pub options: Vec<String>,
}

impl ResolvedMount {
    /// A resolved mount for a configured one, with `source` its host path; tmpfs size and
    /// mode become options.
    pub fn from_config(m: &config::Mount, source: PathBuf) -> ResolvedMount {
        let mut options = m.options.clone();
        if m.kind == MountKind::Tmpfs {
            if let Some(size) = m.tmpfs_size {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = m.tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
        }
        ResolvedMount {
            kind: m.kind,
            source,
            target: m.target.clone(),
            read_only: m.read_only,
            propagation: m.propagation.clone(),
            options,
        }
    }
}

/// How /dev/shm is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shm {
    /// A private tmpfs of this size.
    Private(u64),
    /// The host's /dev/shm (`--ipc host`).
    Host,
    /// None (`--ipc none`).
    None,
}

/// Everything the mount list depends on.
pub(crate) struct MountPlan<'a> {
    pub privileged: bool,
    pub read_only_rootfs: bool,
    pub shm: Shm,
    pub container_dir: &'a Path,
    pub user: &'a [ResolvedMount],
    pub init: Option<&'a Path>,
}

/// Path of the init binary in the container.
pub const INIT_PATH: &str = "/sbin/berth-init";

pub(crate) fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(src)));
    m.set_options(Some(opts.iter().map(|s| s.to_string()).collect()));
    m
}

fn defaults(privileged: bool, shm: Shm) -> Vec<Mount> {
    let ro_unless_priv = if privileged { "rw" } else { "ro" };
    let mut v = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", ro_unless_priv],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", ro_unless_priv],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ];
    match shm {
        Shm::Private(size) => v.push(mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                &format!("size={size}"),
            ],
        )),
        Shm::Host => v.push(mount(
            "/dev/shm",
            "bind",
            "/dev/shm",
            &["rbind", "nosuid", "noexec", "nodev", "rprivate"],
        )),
        Shm::None => {}
    }
    v
}

fn check_target(t: &str) -> Result<String> {
    if !t.starts_with('/') {
        return Err(Error::invalid(
            "mount",
            format!("invalid mount path: '{t}' mount path must be absolute"),
        ));
    }
    let t = clean_path(t);
    if t == "/" {
        return Err(Error::invalid(
            "mount",
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(t)
}

fn user_mount(m: &ResolvedMount, target: &str) -> Result<Mount> {
    if !m.propagation.is_empty() && !PROPAGATIONS.contains(&m.propagation.as_str()) {
        return Err(Error::invalid(
            "mount",
            format!("invalid propagation mode {:?} for {target}", m.propagation),
        ));
    }
    let src = m.source.to_string_lossy();
    match m.kind {
        MountKind::Tmpfs => {
            let mut opts: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            opts.extend(
                m.options
                    .iter()
                    .flat_map(|o| o.split(','))
                    .map(String::from),
            );
            if m.read_only {
                opts.push("ro".into());
            }
            let opts = merge_tmpfs_options(&opts)?;
            let o: Vec<&str> = opts.iter().map(String::as_str).collect();
            Ok(mount(target, "tmpfs", "tmpfs", &o))
        }
        MountKind::Bind | MountKind::Volume => {
            if !m.source.is_absolute() {
                return Err(Error::invalid(
                    "mount",
                    format!("source {src:?} of {target} is not an absolute host path"),
                ));
            }
            let recursive = !m.options.iter().any(|o| o == "bind");
            let mut opts = vec![if recursive { "rbind" } else { "bind" }.to_string()];
            if m.read_only {
                opts.push("ro".into());
            }
            let prop = match (m.kind, m.propagation.as_str()) {
                (MountKind::Bind, "") => "rprivate",
                (_, p) => p,
            };
            if !prop.is_empty() {
                opts.push(prop.into());
            }
            opts.extend(
                m.options
                    .iter()
                    .filter(|o| !matches!(o.as_str(), "bind" | "rbind" | ""))
                    .cloned(),
            );
            let o: Vec<&str> = opts.iter().map(String::as_str).collect();
            Ok(mount(target, "bind", &src, &o))
        }
    }
}

fn depth(m: &Mount) -> usize {
    m.destination().to_string_lossy().matches('/').count()
}

/// The user's mounts, validated, with their cleaned targets.
fn user_mounts(user: &[ResolvedMount]) -> Result<(HashSet<String>, Vec<Mount>)> {
    let mut targets = HashSet::new();
    let mut users = Vec::new();
    for m in user {
        let t = check_target(&m.target)?;
        if !targets.insert(t.clone()) {
            return Err(Error::invalid(
                "mount",
                format!("duplicate mount point: {t}"),
            ));
        }
        users.push(user_mount(m, &t)?);
    }
    Ok((targets, users))
}

/// Checks, at create, what `build` would refuse of the configured mounts (targets,
/// propagation, tmpfs options); volume sources, unknown until a start, stand in as "/".
pub(crate) fn check(mounts: &[config::Mount]) -> Result<()> {
    let resolved: Vec<ResolvedMount> = mounts
        .iter()
        .map(|m| {
            let source = match m.kind {
                MountKind::Bind => PathBuf::from(&m.source),
                _ => PathBuf::from("/"),
            };
            ResolvedMount::from_config(m, source)
        })
        .collect();
    user_mounts(&resolved).map(|_| ())
}

/// Builds the mount list and the rootfs propagation it needs (Some("shared") or
/// Some("rslave") when a bind mount propagates that way, as Docker does).
pub(crate) fn build(plan: &MountPlan) -> Result<(Vec<Mount>, Option<String>)> {
    let (targets, users) = user_mounts(plan.user)?;
    let dev_overridden = targets.contains("/dev");
    let mut out: Vec<Mount> = defaults(plan.privileged, plan.shm)
        .into_iter()
        .filter(|m| {
            let d = m.destination().to_string_lossy();
            !(targets.contains(d.as_ref()) || dev_overridden && d.starts_with("/dev/"))
        })
        .collect();
    if plan.read_only_rootfs {
        for m in &mut out {
            let d = m.destination().to_string_lossy().into_owned();
            if !matches!(
                d.as_str(),
                "/proc" | "/dev" | "/dev/pts" | "/dev/shm" | "/dev/mqueue"
            ) {
                let opts = m.options_mut().get_or_insert_with(Vec::new);
                if !opts.iter().any(|o| o == "ro") {
                    opts.retain(|o| o != "rw");
                    opts.push("ro".into());
                }
            }
        }
    }
    // The per-container network files, unless the user mounts over them.
    let mut rest = Vec::new();
    for (file, dest) in [
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
    ] {
        let src = plan.container_dir.join(file);
        if targets.contains(dest) || !src.exists() {
            continue;
        }
        let mut opts = vec!["rbind", "rprivate"];
        if plan.read_only_rootfs {
            opts.push("ro");
        }
        rest.push(mount(dest, "bind", &src.to_string_lossy(), &opts));
    }
    rest.extend(users);
    rest.sort_by_key(depth);
    out.extend(rest);
    if let Some(init) = plan.init {
        out.push(mount(
            INIT_PATH,
            "bind",
            &init.to_string_lossy(),
            &["bind", "ro"],
        ));
    }
    let mut rootfs_propagation = None;
    for m in plan.user {
        match m.propagation.as_str() {
            "shared" | "rshared" => {
                ensure_propagation(&m.source, &["shared:"], "shared")?;
                rootfs_propagation = Some("shared".to_string());
            }
            "slave" | "rslave" => {
                ensure_propagation(&m.source, &["shared:", "master:"], "shared or slave")?;
                if rootfs_propagation.is_none() {
                    rootfs_propagation = Some("rslave".to_string());
                }
            }
            _ => {}
        }
    }
    Ok((out, rootfs_propagation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(ms: &[Mount]) -> Vec<String> {
        ms.iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect()
    }

    fn opts(ms: &[Mount], d: &str) -> Vec<String> {
        ms.iter()
            .find(|m| m.destination() == Path::new(d))
            .and_then(|m| m.options().clone())
            .unwrap_or_default()
    }

    fn plan<'a>(dir: &'a Path, user: &'a [ResolvedMount]) -> MountPlan<'a> {
        MountPlan {
            privileged: false,
            read_only_rootfs: false,
            shm: Shm::Private(64 << 20),
            container_dir: dir,
            user,
            init: None,
        }
    }

    fn bind(src: &str, t: &str) -> ResolvedMount {
        ResolvedMount {
            kind: MountKind::Bind,
            source: src.into(),
            target: t.into(),
            ..Default::default()
        }
    }

    fn container_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in ["hosts", "hostname", "resolv.conf"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        d
    }

    #[test]
    fn dockers_order_and_options() {
        let d = container_dir();
        let user = vec![
            bind("/srv/a", "/data/deep/x"),
            bind("/srv/b", "/etc"),
            ResolvedMount {
                kind: MountKind::Tmpfs,
                target: "/run/".into(),
                options: vec!["size=1m".into(), "exec".into()],
                ..Default::default()
            },
        ];
        let mut p = plan(d.path(), &user);
        let init = PathBuf::from("/usr/lib/berth/berth-init");
        p.init = Some(&init);
        let (ms, prop) = build(&p).unwrap();
        assert_eq!(
            dests(&ms),
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc",
                "/run",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts",
                "/data/deep/x",
                INIT_PATH
            ]
        );
        assert!(prop.is_none());
        assert_eq!(opts(&ms, "/proc"), ["nosuid", "noexec", "nodev"]);
        assert_eq!(
            opts(&ms, "/dev"),
            ["nosuid", "strictatime", "mode=755", "size=65536k"]
        );
        assert!(opts(&ms, "/dev/pts").contains(&"newinstance".into()));
        assert!(opts(&ms, "/dev/pts").contains(&"gid=5".into()));
        assert!(opts(&ms, "/sys").contains(&"ro".into()));
        assert!(opts(&ms, "/sys/fs/cgroup").contains(&"ro".into()));
        assert!(opts(&ms, "/dev/shm").contains(&format!("size={}", 64 << 20)));
        assert_eq!(opts(&ms, "/etc/hosts"), ["rbind", "rprivate"]);
        assert_eq!(opts(&ms, "/etc"), ["rbind", "rprivate"]);
        assert_eq!(
            opts(&ms, "/run"),
            ["nosuid", "nodev", "rprivate", "size=1m", "exec"]
        );
        assert_eq!(opts(&ms, INIT_PATH), ["bind", "ro"]);
    }

    #[test]
    fn privileged_and_read_only_root() {
        let d = container_dir();
        let user = vec![bind("/srv", "/srv")];
        let mut p = plan(d.path(), &user);
        p.privileged = true;
        let (ms, _) = build(&p).unwrap();
        assert!(opts(&ms, "/sys").contains(&"rw".into()));
        assert!(!opts(&ms, "/sys/fs/cgroup").contains(&"ro".into()));
        p.privileged = false;
        p.read_only_rootfs = true;
        let (ms, _) = build(&p).unwrap();
        assert!(opts(&ms, "/etc/hosts").contains(&"ro".into()));
        assert!(!opts(&ms, "/srv").contains(&"ro".into()));
        assert!(!opts(&ms, "/dev/shm").contains(&"ro".into()));
        assert!(!opts(&ms, "/proc").contains(&"ro".into()));
    }

    #[test]
    fn user_mounts_replace_defaults() {
        let d = container_dir();
        let user = vec![
            ResolvedMount {
                kind: MountKind::Tmpfs,
                target: "/dev/shm".into(),
                ..Default::default()
            },
            bind("/tmp/h", "/etc/hosts"),
        ];
        let (ms, _) = build(&plan(d.path(), &user)).unwrap();
        assert_eq!(dests(&ms).iter().filter(|x| *x == "/dev/shm").count(), 1);
        assert_eq!(
            opts(&ms, "/dev/shm"),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
        assert_eq!(dests(&ms).iter().filter(|x| *x == "/etc/hosts").count(), 1);
        let user = vec![bind("/dev", "/dev")];
        let (ms, _) = build(&plan(d.path(), &user)).unwrap();
        assert!(!dests(&ms).iter().any(|x| x.starts_with("/dev/")));
        let mut p = plan(d.path(), &[]);
        p.shm = Shm::None;
        assert!(!dests(&build(&p).unwrap().0).contains(&"/dev/shm".to_string()));
        p.shm = Shm::Host;
        let ms = build(&p).unwrap().0;
        assert_eq!(opts(&ms, "/dev/shm")[0], "rbind");
    }

    #[test]
    fn bind_and_volume_options() {
        let d = tempfile::tempdir().unwrap();
        let user = vec![
            ResolvedMount {
                read_only: true,
                ..bind("/", "/host")
            },
            ResolvedMount {
                kind: MountKind::Volume,
                read_only: true,
                options: vec!["nosuid".into()],
                ..bind("/var/lib/berth/volumes/v/_data", "/v")
            },
            ResolvedMount {
                options: vec!["bind".into()],
                propagation: "private".into(),
                ..bind("/x", "/x")
            },
        ];
        let (ms, prop) = build(&plan(d.path(), &user)).unwrap();
        assert_eq!(opts(&ms, "/host"), ["rbind", "ro", "rprivate"]);
        assert_eq!(opts(&ms, "/v"), ["rbind", "ro", "nosuid"]);
        assert_eq!(opts(&ms, "/x"), ["bind", "private"]);
        assert!(prop.is_none());
        // A slave bind needs a shared or slave source mount and makes the rootfs rslave.
        let user = vec![ResolvedMount {
            propagation: "rslave".into(),
            ..bind("/", "/host")
        }];
        match build(&plan(d.path(), &user)) {
            Ok((ms, prop)) => {
                assert_eq!(opts(&ms, "/host"), ["rbind", "rslave"]);
                assert_eq!(prop.as_deref(), Some("rslave"));
            }
            Err(e) => assert!(e.to_string().contains("not a shared or slave mount"), "{e}"),
        }
    }

    #[test]
    fn bad_mounts() {
        let d = tempfile::tempdir().unwrap();
        let e = |user: Vec<ResolvedMount>| build(&plan(d.path(), &user)).unwrap_err().to_string();
        assert!(e(vec![bind("/x", "/")]).contains("destination can't be '/'"));
        assert!(e(vec![bind("/x", "/a/..")]).contains("destination can't be '/'"));
        assert!(e(vec![bind("/x", "rel")]).contains("must be absolute"));
        assert!(e(vec![bind("/x", "/d"), bind("/y", "/d/")]).contains("duplicate mount point: /d"));
        assert!(e(vec![bind("rel", "/d")]).contains("absolute host path"));
        let mut m = bind("/x", "/d");
        m.propagation = "sideways".into();
        assert!(e(vec![m]).contains("invalid propagation"));
        let t = ResolvedMount {
            kind: MountKind::Tmpfs,
            target: "/t".into(),
            options: vec!["bogus".into()],
            ..Default::default()
        };
        assert!(e(vec![t]).contains("invalid tmpfs option"));
    }

    #[test]
    fn from_config_folds_tmpfs_size_and_mode() {
        let m = config::Mount {
            kind: MountKind::Tmpfs,
            target: "/t".into(),
            tmpfs_size: Some(1 << 20),
            tmpfs_mode: Some(0o1777),
            options: vec!["exec".into()],
            ..Default::default()
        };
        let r = ResolvedMount::from_config(&m, PathBuf::new());
        assert_eq!(r.options, ["exec", "size=1048576", "mode=1777"]);
    }
}

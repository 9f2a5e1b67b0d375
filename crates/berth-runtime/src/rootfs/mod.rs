//! The container's root filesystem: propagation, the spec's mounts, /dev, pivot_root, masked
//! and read-only paths. Runs in the container's mount namespace (the init process).
//!
//! Every mount destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), so a
//! symlink in the image can never send a mount outside it; the mount then targets the
//! resolved descriptor through /proc/self/fd.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::mount::{MsFlags, mount};
use oci_spec::runtime::{Mount, Spec};
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::mounts::{self, MountOptions};
use crate::sys;

pub(crate) mod devices;
mod pivot;

use devices::{create_device, default_devices, default_symlinks};
pub use pivot::pivot;

/// What to create when a path is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    No,
    Dir,
    File,
}

fn io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// Opens `path` (absolute inside the container) under `root` as an O_PATH descriptor,
/// creating missing directories (and the last component as `create` says).
pub fn open_in_root(root: &OwnedFd, path: &Path, create: Create, follow: bool) -> Result<OwnedFd> {
    let comps: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    if !follow {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    let open = |n: usize| {
        let p: PathBuf = comps[..n].iter().collect();
        let p = if n == 0 { PathBuf::from(".") } else { p };
        rustix::fs::openat2(
            root,
            &p,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )
    };
    let prefix = |n: usize| -> PathBuf { comps[..n].iter().collect() };
    match open(comps.len()) {
        Ok(fd) => return Ok(fd),
        Err(rustix::io::Errno::NOENT) if create != Create::No => {}
        Err(e) => return Err(io(e)).ctx(|| format!("resolve {} in the rootfs", path.display())),
    }
    // The deepest ancestor that exists (usually the parent).
    let mut k = comps.len();
    let mut parent = loop {
        if k == 0 {
            break open(0).map_err(io).ctx(|| "open the rootfs")?;
        }
        k -= 1;
        match open(k) {
            Ok(fd) => break fd,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => {
                return Err(io(e)).ctx(|| format!("resolve {} in the rootfs", prefix(k).display()));
            }
        }
    };
    for i in k..comps.len() {
        let name = comps[i];
        if i + 1 == comps.len() && create == Create::File {
            let f = rustix::fs::openat(
                &parent,
                name,
                OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            );
            match f {
                Ok(_) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(io(e)).ctx(|| format!("create {} in the rootfs", path.display()));
                }
            }
        } else {
            match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    let p = prefix(i + 1);
                    return Err(io(e)).ctx(|| format!("create {} in the rootfs", p.display()));
                }
            }
        }
        // What we just made, opened without following anything; if something else was
        // there (a symlink), resolve it properly inside the rootfs instead.
        parent = match rustix::fs::openat2(
            &parent,
            name,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        ) {
            Ok(fd) => fd,
            Err(_) => open(i + 1)
                .map_err(io)
                .ctx(|| format!("resolve {} in the rootfs", prefix(i + 1).display()))?,
        };
    }
    Ok(parent)
}

fn mount_fd(
    src: Option<&str>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(
        src,
        sys::fd_path(target.as_fd()).as_str(),
        fstype,
        flags,
        data,
    )
}

/// Everything the rootfs setup needs to know.
pub struct RootfsCtx<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub cgroup: &'a Cgroup,
    /// Whether the container has its own user namespace (mknod and some mounts fail there).
    pub userns: bool,
}

/// Sets up propagation, the rootfs bind mount, every mount of the spec and /dev.
/// Returns a descriptor of the (bind-mounted) rootfs.
pub fn prepare(ctx: &RootfsCtx) -> Result<OwnedFd> {
    let linux = ctx.spec.linux().as_ref();
    let prop = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let flag = prop
        .and_then(mounts::propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(None::<&str>, "/", None::<&str>, flag, None::<&str>)
        .ctx(|| "set the propagation of / in the container's mount namespace")?;
    if flag.contains(MsFlags::MS_SHARED) {
        make_parent_private(ctx.rootfs)?;
    }
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind mount the rootfs {}", ctx.rootfs.display()))?;
    let root: OwnedFd = rustix::fs::open(
        ctx.rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)
    .ctx(|| format!("open the rootfs {}", ctx.rootfs.display()))?;

    let ms = ctx.spec.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in ms.iter().enumerate() {
        mount_entry(ctx, &root, m).map_err(|e| match e {
            Error::Sys { context, cause } => Error::Sys {
                context: format!("mounts[{i}]: {context}"),
                cause,
            },
            Error::Io { context, cause } => Error::Io {
                context: format!("mounts[{i}]: {context}"),
                cause,
            },
            other => other,
        })?;
    }
    let dev_is_bind = ms.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    if !dev_is_bind || !devices.is_empty() {
        let dev_dir = open_in_root(&root, Path::new("/dev"), Create::Dir, true)?;
        if !dev_is_bind {
            for d in default_devices() {
                if !devices.iter().any(|x| x.path() == d.path()) {
                    create_device(ctx, &root, &dev_dir, &d)?;
                }
            }
            default_symlinks(&dev_dir)?;
        }
        for d in devices {
            create_device(ctx, &root, &dev_dir, d)?;
        }
    }
    Ok(root)
}

fn make_parent_private(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo")?;
    let mut best: Option<(&str, bool)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(mp) = f.get(4) else { continue };
        if rootfs.starts_with(mp) && best.is_none_or(|(b, _)| mp.len() >= b.len()) {
            let shared = f
                .iter()
                .skip(6)
                .take_while(|x| **x != "-")
                .any(|x| x.starts_with("shared:"));
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        mount(
            None::<&str>,
            mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .ctx(|| format!("make {mp} private for pivot_root"))?;
    }
    Ok(())
}

fn mount_entry(ctx: &RootfsCtx, root: &OwnedFd, m: &Mount) -> Result<()> {
    let opts = mounts::parse_options(m.options().as_deref().unwrap_or(&[]))
        .map_err(|msg| Error::spec("mounts.options", msg))?;
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "" });
    let dest = m.destination();
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(ctx, root, dest, &opts);
    }
    if opts.bind || typ == "bind" {
        return bind_entry(ctx, root, m, &opts);
    }
    // proc and sysfs must not land on a symlink (CVE-2019-19921).
    let follow = !matches!(typ, "proc" | "sysfs");
    let target = open_in_root(root, dest, Create::Dir, follow)?;
    let src = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.to_string());
    let data = opts.data_string();
    let flags = opts.flags & !MsFlags::MS_REMOUNT;
    let res = mount_fd(Some(&src), &target, Some(typ), flags, data.as_deref());
    match res {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if ctx.userns && matches!(typ, "sysfs" | "mqueue") => {
            // Without a network (ipc) namespace owned by our user namespace, the kernel
            // refuses a new sysfs (mqueue): bind the host's instead, as runc does.
            let host = if typ == "sysfs" {
                "/sys"
            } else {
                "/dev/mqueue"
            };
            mount_fd(
                Some(host),
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .ctx(|| format!("bind {host} on {}", dest.display()))?;
        }
        Err(e) => {
            return Err(e).ctx(|| {
                format!(
                    "mount {src} on {} (type {typ}, options {:?})",
                    dest.display(),
                    m.options().as_deref().unwrap_or(&[])
                )
            });
        }
    }
    after_mount(root, dest, &opts)
}

fn bind_entry(ctx: &RootfsCtx, root: &OwnedFd, m: &Mount, opts: &MountOptions) -> Result<()> {
    let dest = m.destination();
    let src = m.source().as_ref().ok_or_else(|| {
        Error::spec(
            "mounts.source",
            format!("bind mount on {} has no source", dest.display()),
        )
    })?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        ctx.bundle.join(src)
    };
    let meta = std::fs::metadata(&src).ctx(|| format!("bind source {}", src.display()))?;
    let kind = if meta.is_dir() {
        Create::Dir
    } else {
        Create::File
    };
    let target = open_in_root(root, dest, kind, true)?;
    let mut flags = MsFlags::MS_BIND;
    if opts.recursive {
        flags |= MsFlags::MS_REC;
    }
    mount_fd(Some(&src.to_string_lossy()), &target, None, flags, None)
        .ctx(|| format!("bind mount {} on {}", src.display(), dest.display()))?;
    let extra = opts.flags & !(MsFlags::MS_REC | MsFlags::MS_BIND | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount(root, dest, extra)?;
    }
    after_mount(root, dest, opts)
}

/// Remounts a bind mount with `flags`, keeping the flags the kernel locks in user namespaces.
fn remount(root: &OwnedFd, dest: &Path, flags: MsFlags) -> Result<()> {
    let fd = open_in_root(root, dest, Create::No, true)?;
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount_fd(None, &fd, None, base | flags, None) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => {
            let st =
                nix::sys::statvfs::fstatvfs(&fd).ctx(|| format!("statvfs {}", dest.display()))?;
            let locked = MsFlags::from_bits_truncate(st.flags().bits() as libc::c_ulong)
                & (MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOATIME
                    | MsFlags::MS_NODIRATIME
                    | MsFlags::MS_RELATIME);
            mount_fd(None, &fd, None, base | flags | locked, None)
                .ctx(|| format!("remount {} with {flags:?}", dest.display()))
        }
        Err(e) => Err(e).ctx(|| format!("remount {} with {flags:?}", dest.display())),
    }
}

fn after_mount(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    let fd = open_in_root(root, dest, Create::No, true)?;
    for p in &opts.propagation {
        mount_fd(None, &fd, None, *p, None)
            .ctx(|| format!("set propagation {p:?} on {}", dest.display()))?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        // `fd` was opened after the mount, so it is the mount's root.
        sys::mount_setattr_recursive(fd.as_fd(), opts.rec_set, opts.rec_clear)
            .ctx(|| format!("set recursive attributes on {}", dest.display()))?;
    }
    Ok(())
}

/// Mounts the container's cgroups: cgroup2 directly on a v2 host with a cgroup namespace,
/// else a tmpfs with each hierarchy's container directory bound into it.
fn mount_cgroups(ctx: &RootfsCtx, root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let base = opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let target = open_in_root(root, dest, Create::Dir, true)?;
    if ctx.cgroup.mode == crate::cgroups::CgroupMode::Unified {
        let cgns = crate::spec::has_new_ns(ctx.spec, oci_spec::runtime::LinuxNamespaceType::Cgroup);
        if cgns {
            // A cgroup2 mount shows the cgroup namespace's root (made after joining).
            return mount_fd(Some("cgroup2"), &target, Some("cgroup2"), opts.flags, None)
                .ctx(|| format!("mount cgroup2 on {}", dest.display()));
        }
        let dir = ctx
            .cgroup
            .unified_dir()
            .unwrap_or(Path::new("/sys/fs/cgroup"));
        mount_fd(
            Some(&dir.to_string_lossy()),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .ctx(|| format!("bind {} on {}", dir.display(), dest.display()))?;
        if ro {
            remount(root, dest, base | MsFlags::MS_RDONLY)?;
        }
        return Ok(());
    }
    mount_fd(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .ctx(|| format!("mount tmpfs on {}", dest.display()))?;
    // The tmpfs is ours and empty: its entries need no resolution inside the rootfs.
    let top = open_in_root(root, dest, Create::No, true)?;
    for (h, dir) in &ctx.cgroup.dirs {
        let Some(name) = h.mount.file_name() else {
            continue;
        };
        let sub = dest.join(name);
        rustix::fs::mkdirat(&top, name, Mode::from_raw_mode(0o755))
            .map_err(io)
            .ctx(|| format!("create {}", sub.display()))?;
        let t = rustix::fs::openat(
            &top,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .ctx(|| format!("open {}", sub.display()))?;
        mount_fd(
            Some(&dir.to_string_lossy()),
            &t,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .ctx(|| format!("bind {} on {}", dir.display(), sub.display()))?;
    }
    // Co-mounted controllers ("cpu,cpuacct") get the host's convenience symlinks.
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            if let Ok(link) = std::fs::read_link(e.path())
                && ctx
                    .cgroup
                    .dirs
                    .iter()
                    .any(|(h, _)| h.mount.file_name() == Some(link.as_os_str()))
            {
                let _ = rustix::fs::symlinkat(&link, &top, e.file_name());
            }
        }
    }
    // One call makes the tmpfs and every bind below it read-only/nosuid/...; per-mount
    // remounts are the fallback for kernels without mount_setattr.
    let mut set = 0;
    for (f, a) in [
        (MsFlags::MS_NOSUID, mounts::attr::NOSUID),
        (MsFlags::MS_NODEV, mounts::attr::NODEV),
        (MsFlags::MS_NOEXEC, mounts::attr::NOEXEC),
        (MsFlags::MS_RDONLY, mounts::attr::RDONLY),
    ] {
        if opts.flags.contains(f) {
            set |= a;
        }
    }
    match sys::mount_setattr_recursive(top.as_fd(), set, 0) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let flags = base
                | if ro {
                    MsFlags::MS_RDONLY
                } else {
                    MsFlags::empty()
                };
            for (h, _) in &ctx.cgroup.dirs {
                if let Some(name) = h.mount.file_name() {
                    remount(root, &dest.join(name), flags)?;
                }
            }
            remount(root, dest, flags)
        }
        Err(e) => Err(e).ctx(|| format!("set the attributes of {}", dest.display())),
    }
}

/// After pivot: masked paths, read-only paths, sysctls, read-only root and propagation.
pub fn finish(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    // Sysctls first: /proc/sys becomes read-only below.
    if let Some(sysctl) = linux.sysctl() {
        for (k, v) in sysctl {
            let file = Path::new("/proc/sys").join(k.replace('.', "/"));
            std::fs::write(&file, v).ctx(|| format!("sysctl {k}={v}"))?;
        }
    }
    for p in linux.masked_paths().as_deref().unwrap_or(&[]) {
        let path = Path::new(p);
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        let res = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0,mode=755"),
            )
        } else {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        res.ctx(|| format!("mask {p}"))?;
    }
    for p in linux.readonly_paths().as_deref().unwrap_or(&[]) {
        let path = Path::new(p);
        if !sys::exists_nofollow(path) {
            continue;
        }
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| format!("bind {p} read-only"))?;
        remount_path_ro(path)?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount_path_ro(Path::new("/"))?;
    }
    if let Some(prop) = linux
        .rootfs_propagation()
        .as_deref()
        .and_then(mounts::propagation_flag)
    {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .ctx(|| "set the rootfs propagation")?;
    }
    Ok(())
}

fn remount_path_ro(path: &Path) -> Result<()> {
    let st = nix::sys::statvfs::statvfs(path).ctx(|| format!("statvfs {}", path.display()))?;
    let keep = MsFlags::from_bits_truncate(st.flags().bits() as libc::c_ulong)
        & (MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME);
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
        None::<&str>,
    )
    .ctx(|| format!("remount {} read-only", path.display()))
}

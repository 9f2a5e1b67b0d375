//! Safe extraction of a layer tar into a directory.
//!
//! Every path is checked (no absolute paths, no `..`), parents are opened with `openat2`
//! (`RESOLVE_BENEATH` for layers, so a symlink can never lead a write outside the layer), and
//! the last component is always created with `*at` calls that do not follow symlinks; owner,
//! mode and times are set on descriptors (`meta.rs`), never by path.
//! Whiteouts become overlayfs whiteouts (char device 0:0, `trusted.overlay.opaque=y`) or, in
//! `Apply` mode (plain-copy snapshots), deletions.
//!
//! The same machinery extracts other archives (`docker cp`) under other rules: see
//! [`super::extract`], which drives it with its own [`Policy`].
//!
//! Files are written sparse: a block of zeros becomes a hole (as `cp --sparse` does), so a
//! GNU sparse entry, or a file of zeros, takes no more disk than its data. What a layer
//! unpacks to is counted twice: the apparent size of its files (checked against the
//! ceilings of [`UnpackOptions`] before any byte is written) and the blocks they really
//! take ([`UnpackStats`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::extract::Owners;
use super::fsutil::{clear_dir_except, lstat_type, open_dir_nofollow, remove_all_at};
use super::meta::times;
use super::read_full;
use crate::error::{Error, Result};

pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What to do with OCI whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Turn them into overlayfs whiteouts (layer directories used as overlay lowers).
    Overlay,
    /// Delete what they hide (applying layers onto one directory).
    Apply,
}

/// Options for [`unpack_tar`].
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    pub whiteouts: WhiteoutMode,
    /// Set owners from the tar headers (needs CAP_CHOWN; failures are errors when true).
    pub same_owner: bool,
    /// Refuse the layer when its regular files add up to more than this many bytes
    /// (apparent size: holes count), before writing the file that crosses it.
    pub max_size: Option<u64>,
    /// A ceiling shared by every layer of one operation (a pull, load or import).
    pub budget: Option<Arc<SizeBudget>>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            whiteouts: WhiteoutMode::Overlay,
            same_owner: rustix::process::geteuid().is_root(),
            max_size: None,
            budget: None,
        }
    }
}

/// A ceiling on the apparent bytes that the layers of one operation may unpack, shared by
/// the threads that unpack them.
#[derive(Debug)]
pub struct SizeBudget {
    limit: u64,
    used: AtomicU64,
}

impl SizeBudget {
    pub fn new(limit: u64) -> SizeBudget {
        SizeBudget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Apparent bytes unpacked so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Take `n` bytes; false (and nothing taken) when that would cross the limit.
    fn reserve(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }
}

/// What a layer unpacked to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Sum of the sizes of its regular files (holes included).
    pub apparent: u64,
    /// Disk its regular files take (allocated blocks).
    pub allocated: u64,
}

/// What an extraction may do, and how it names what it refuses.
#[derive(Debug, Clone)]
pub(crate) struct Policy<'a> {
    /// Whiteout handling; None: `.wh.` names are plain names.
    pub whiteouts: Option<WhiteoutMode>,
    pub owners: Owners,
    /// Drop set-uid/set-gid bits (they were meant for the archive's owner).
    pub drop_setid: bool,
    /// Restore `SCHILY.xattr.*` records.
    pub xattrs: bool,
    /// Create character and block devices (else they are refused).
    pub devices: bool,
    /// Replace an existing entry of another kind (a directory by a file or the reverse);
    /// else refuse, as `docker cp` does.
    pub replace_other_kinds: bool,
    /// Ceiling on the apparent size of the regular files (`UnpackOptions::max_size`).
    pub max_size: Option<u64>,
    /// Ceiling shared with other extractions (`UnpackOptions::budget`).
    pub budget: Option<Arc<SizeBudget>>,
    /// What errors name.
    pub subject: Subject<'a>,
}

/// What is being extracted, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    /// A layer, by name: errors are `HostileLayer` / `InvalidLayer`.
    Layer(&'a str),
    /// Another archive, described (e.g. "the copy into box:/tmp"): errors are
    /// `RefusedEntry` / `InvalidArchive`.
    Archive(&'a str),
}

impl Subject<'_> {
    /// What the extraction writes into, in messages.
    fn noun(self) -> &'static str {
        match self {
            Subject::Layer(_) => "layer",
            Subject::Archive(_) => "destination",
        }
    }
}

/// Where entries go: `prefix` (a path under `root`, resolved with `resolve` for every
/// entry) is the directory the archive's paths are relative to.
pub(crate) struct Target<'a> {
    pub root: BorrowedFd<'a>,
    pub prefix: Vec<u8>,
    pub resolve: ResolveFlags,
}

pub(super) struct Ctx<'a> {
    target: Target<'a>,
    pub(super) policy: &'a Policy<'a>,
    dir_times: Vec<(Vec<u8>, u64)>,
    /// Paths written by this layer (only tracked in Apply mode).
    written: HashSet<Vec<u8>>,
    buf: Vec<u8>,
    stats: UnpackStats,
}

/// Extract an uncompressed tar stream into the existing directory `dest`.
/// `layer` names the layer in error messages.
pub fn unpack_tar<R: Read>(
    reader: R,
    dest: &std::path::Path,
    layer: &str,
    opts: &UnpackOptions,
) -> Result<UnpackStats> {
    let root = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Io {
        context: "open layer directory",
        path: dest.to_owned(),
        source: e.into(),
    })?;
    let policy = Policy {
        whiteouts: Some(opts.whiteouts),
        owners: if opts.same_owner {
            Owners::FromArchive
        } else {
            Owners::Caller
        },
        drop_setid: false,
        xattrs: true,
        devices: true,
        replace_other_kinds: true,
        max_size: opts.max_size,
        budget: opts.budget.clone(),
        subject: Subject::Layer(layer),
    };
    let target = Target {
        root: root.as_fd(),
        prefix: Vec::new(),
        resolve: ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    };
    run(reader, target, &policy)
}

/// Extract `reader` into `target` under `policy`.
pub(crate) fn run<R: Read>(
    reader: R,
    target: Target<'_>,
    policy: &Policy<'_>,
) -> Result<UnpackStats> {
    let mut ctx = Ctx {
        target,
        policy,
        dir_times: Vec::new(),
        written: HashSet::new(),
        buf: vec![0u8; 256 * 1024],
        stats: UnpackStats::default(),
    };
    let base = ctx
        .open_dir(b"")
        .map_err(|e| ctx.sys(b".", &format!("open the {}", policy.subject.noun()), e))?;
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| ctx.invalid(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ctx.invalid(format!("reading tar: {e}")))?;
        ctx.entry(&mut entry)?;
    }
    // Directory mtimes last: creating children changed them. Relative to the destination
    // opened once, through real directories only.
    for (rel, mtime) in ctx.dir_times.iter().rev() {
        if let Ok(fd) = open_dir_nofollow(&base, rel) {
            let _ = rustix::fs::futimens(&fd, &times(*mtime));
        }
    }
    Ok(ctx.stats)
}

/// Split a tar path into checked components. Refuses absolute paths and `..`.
pub(crate) fn clean_path(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("has an absolute path");
    }
    if raw.contains(&0) {
        return Err("has a NUL byte in its path");
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("has a '..' path component"),
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Ctx<'_> {
    pub(super) fn hostile(&self, entry: &[u8], reason: impl Into<String>) -> Error {
        let entry = String::from_utf8_lossy(entry).into_owned();
        match self.policy.subject {
            Subject::Layer(layer) => Error::HostileLayer {
                layer: layer.to_owned(),
                entry,
                reason: reason.into(),
            },
            Subject::Archive(what) => Error::RefusedEntry {
                what: what.to_owned(),
                entry,
                reason: reason.into(),
            },
        }
    }

    pub(super) fn invalid(&self, reason: impl Into<String>) -> Error {
        let reason = crate::error::printable(&reason.into());
        match self.policy.subject {
            Subject::Layer(layer) => Error::InvalidLayer {
                layer: layer.to_owned(),
                reason,
            },
            Subject::Archive(what) => Error::InvalidArchive(format!("{what}: {reason}")),
        }
    }

    pub(super) fn sys(&self, entry: &[u8], what: &str, e: Errno) -> Error {
        if e == Errno::XDEV {
            let noun = self.policy.subject.noun();
            return self.hostile(entry, format!("leads outside the {noun} through a symlink"));
        }
        if e == Errno::LOOP && matches!(self.policy.subject, Subject::Archive(_)) {
            return self.hostile(entry, "leads through a symlink");
        }
        self.invalid(format!(
            "entry {:?}: {what}: {}",
            String::from_utf8_lossy(entry),
            io::Error::from(e)
        ))
    }

    /// Open the directory `rel` ("" for the destination itself) of the destination.
    fn open_dir(&self, rel: &[u8]) -> std::result::Result<OwnedFd, Errno> {
        let t = &self.target;
        let mut path = t.prefix.clone();
        if !rel.is_empty() {
            if !path.is_empty() && !path.ends_with(b"/") {
                path.push(b'/');
            }
            path.extend_from_slice(rel);
        }
        if path.is_empty() {
            path.push(b'.');
        }
        rustix::fs::openat2(
            t.root,
            OsStr::from_bytes(&path),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            t.resolve,
        )
    }

    /// Open (creating missing directories) the parent directory `comps` of an entry.
    fn parent(&self, entry: &[u8], comps: &[&[u8]]) -> Result<OwnedFd> {
        let rel = comps.join(&b'/');
        match self.open_dir(&rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(self.sys(entry, "open parent directory", e)),
        }
        let root_what = format!("open the {} root", self.policy.subject.noun());
        let mut cur = self
            .open_dir(b"")
            .map_err(|e| self.sys(entry, &root_what, e))?;
        for i in 0..comps.len() {
            let prefix = comps[..=i].join(&b'/');
            cur = match self.open_dir(&prefix) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    let created = match rustix::fs::mkdirat(
                        &cur,
                        OsStr::from_bytes(comps[i]),
                        Mode::from(0o755),
                    ) {
                        Ok(()) => true,
                        Err(Errno::EXIST) => false,
                        Err(e) => return Err(self.sys(entry, "create parent directory", e)),
                    };
                    let fd = self
                        .open_dir(&prefix)
                        .map_err(|e| self.sys(entry, "open parent directory", e))?;
                    if created {
                        // 0755 whatever the umask: two unpacks of a layer are identical.
                        rustix::fs::fchmod(&fd, Mode::from(0o755))
                            .map_err(|e| self.sys(entry, "chmod", e))?;
                    }
                    fd
                }
                Err(e) => return Err(self.sys(entry, "open parent directory", e)),
            };
        }
        Ok(cur)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(());
        }
        if is_pax_sparse(entry) {
            // The tar library does not read PAX sparse maps: it would unpack the encoded map
            // and fragments as the file's content. Refused rather than unpacked wrong.
            return Err(self.invalid(format!(
                "entry {:?} is a PAX-format sparse file, which berth does not support \
                 (repack the layer without --sparse or with GNU sparse headers)",
                lossy(&raw)
            )));
        }
        let comps = clean_path(&raw).map_err(|why| self.hostile(&raw, why))?;
        let Some((name, parents)) = comps.split_last() else {
            // The destination itself ("./").
            if kind.is_dir() {
                let root_what = format!("open the {} root", self.policy.subject.noun());
                let fd = self
                    .open_dir(b"")
                    .map_err(|e| self.sys(&raw, &root_what, e))?;
                self.set_meta_fd(&raw, &fd, entry, true)?;
                self.dir_times
                    .push((Vec::new(), entry.header().mtime().unwrap_or(0)));
            }
            return Ok(());
        };
        let name: &[u8] = name;
        let parent = self.parent(&raw, parents)?;

        if let Some(mode) = self.policy.whiteouts {
            if name == OPAQUE_MARKER {
                return self.opaque(mode, &raw, &parent, parents);
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/')
                {
                    return Err(self.hostile(&raw, "is a whiteout of an invalid name"));
                }
                return self.whiteout(mode, &raw, &parent, parents, hidden);
            }
        }
        let osname = OsStr::from_bytes(name);
        match kind {
            EntryType::Directory => {
                match lstat_type(&parent, osname).map_err(|e| self.sys(&raw, "stat", e))? {
                    Some(FileType::Directory) => {}
                    Some(_) if !self.policy.replace_other_kinds => {
                        return Err(
                            self.hostile(&raw, "would overwrite a non-directory with a directory")
                        );
                    }
                    Some(_) => {
                        remove_all_at(&parent, osname).map_err(|e| self.sys(&raw, "replace", e))?;
                        self.mkdir(&raw, &parent, osname)?;
                    }
                    None => self.mkdir(&raw, &parent, osname)?,
                }
                let fd = rustix::fs::openat(
                    &parent,
                    osname,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.sys(&raw, "open directory", e))?;
                self.set_meta_fd(&raw, &fd, entry, true)?;
                self.dir_times
                    .push((comps.join(&b'/'), entry.header().mtime().unwrap_or(0)));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                // For a GNU sparse entry the size is the file's, holes included.
                self.reserve(entry.size())?;
                self.replace(&raw, &parent, osname)?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
                let fd = rustix::fs::openat(
                    &parent,
                    osname,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from(mode & 0o777),
                )
                .map_err(|e| self.sys(&raw, "create file", e))?;
                let file = File::from(fd);
                let mut buf = std::mem::take(&mut self.buf);
                let res = copy_sparse(entry, &file, &mut buf);
                self.buf = buf;
                res.map_err(|e| self.invalid(format!("entry {:?}: {e}", lossy(&raw))))?;
                let md = file
                    .metadata()
                    .map_err(|e| self.invalid(format!("entry {:?}: stat: {e}", lossy(&raw))))?;
                self.stats.allocated += md.blocks() * 512;
                let fd = OwnedFd::from(file);
                self.set_meta_fd(&raw, &fd, entry, false)?;
                rustix::fs::futimens(&fd, &times(entry.header().mtime().unwrap_or(0)))
                    .map_err(|e| self.sys(&raw, "set times", e))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        self.invalid(format!("symlink {:?} without target", lossy(&raw)))
                    })?
                    .into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(
                        self.invalid(format!("symlink {:?} has an invalid target", lossy(&raw)))
                    );
                }
                self.replace(&raw, &parent, osname)?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, osname)
                    .map_err(|e| self.sys(&raw, "create symlink", e))?;
                self.set_meta_at(&raw, &parent, osname, entry, true)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        self.invalid(format!("hard link {:?} without target", lossy(&raw)))
                    })?
                    .into_owned();
                let tcomps = clean_path(&target).map_err(|why| {
                    self.hostile(&raw, format!("is a hard link whose target {why}"))
                })?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    let noun = self.policy.subject.noun();
                    return Err(self.hostile(&raw, format!("is a hard link to the {noun} root")));
                };
                if tcomps == comps {
                    return Err(
                        self.invalid(format!("hard link {:?} points to itself", lossy(&raw)))
                    );
                }
                let tparent = self
                    .open_dir(&tparents.join(&b'/'))
                    .map_err(|e| self.sys(&raw, "open hard link target", e))?;
                let tos = OsStr::from_bytes(tname);
                match lstat_type(&tparent, tos)
                    .map_err(|e| self.sys(&raw, "stat link target", e))?
                {
                    None => {
                        return Err(self.invalid(format!(
                            "hard link {:?} to missing {:?}",
                            lossy(&raw),
                            lossy(&target)
                        )));
                    }
                    Some(FileType::Directory) => {
                        return Err(self.hostile(&raw, "is a hard link to a directory"));
                    }
                    Some(_) => {}
                }
                self.replace(&raw, &parent, osname)?;
                rustix::fs::linkat(&tparent, tos, &parent, osname, AtFlags::empty())
                    .map_err(|e| self.sys(&raw, "create hard link", e))?;
            }
            EntryType::Char | EntryType::Block if !self.policy.devices => {
                return Err(self.hostile(&raw, "is a device node, which is refused here"));
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ft, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                        let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                        let ft = if kind == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rustix::fs::makedev(major, minor))
                    }
                };
                self.replace(&raw, &parent, osname)?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                rustix::fs::mknodat(&parent, osname, ft, Mode::from(mode), dev)
                    .map_err(|e| self.sys(&raw, "create device node", e))?;
                self.set_meta_at(&raw, &parent, osname, entry, false)?;
            }
            other => {
                return Err(self.invalid(format!(
                    "entry {:?} has unsupported type {other:?}",
                    lossy(&raw)
                )));
            }
        }
        if self.policy.whiteouts == Some(WhiteoutMode::Apply) {
            self.written.insert(comps.join(&b'/'));
        }
        Ok(())
    }

    /// Count `size` apparent bytes against the layer's and the operation's ceilings.
    fn reserve(&mut self, size: u64) -> Result<()> {
        let layer = match self.policy.subject {
            Subject::Layer(l) | Subject::Archive(l) => l,
        };
        let total = self.stats.apparent.saturating_add(size);
        if let Some(max) = self.policy.max_size
            && total > max
        {
            return Err(Error::TooLarge {
                layer: layer.to_owned(),
                what: "its files",
                limit: max,
                setting: "max-layer-size",
            });
        }
        if let Some(b) = &self.policy.budget
            && !b.reserve(size)
        {
            return Err(Error::TooLarge {
                layer: layer.to_owned(),
                what: "the layers of this image",
                limit: b.limit(),
                setting: "max-image-size",
            });
        }
        self.stats.apparent = total;
        Ok(())
    }

    fn mkdir(&self, raw: &[u8], parent: &OwnedFd, name: &OsStr) -> Result<()> {
        rustix::fs::mkdirat(parent, name, Mode::from(0o755))
            .map_err(|e| self.sys(raw, "create directory", e))
    }

    /// Remove whatever is at `name` so a new non-directory entry can be created (refusing
    /// to remove a directory unless the policy replaces other kinds).
    fn replace(&self, raw: &[u8], parent: &OwnedFd, name: &OsStr) -> Result<()> {
        if !self.policy.replace_other_kinds
            && lstat_type(parent, name).map_err(|e| self.sys(raw, "stat", e))?
                == Some(FileType::Directory)
        {
            return Err(self.hostile(raw, "would overwrite a directory with a non-directory"));
        }
        remove_all_at(parent, name).map_err(|e| self.sys(raw, "replace", e))
    }

    fn opaque(
        &mut self,
        mode: WhiteoutMode,
        raw: &[u8],
        parent: &OwnedFd,
        parents: &[&[u8]],
    ) -> Result<()> {
        match mode {
            WhiteoutMode::Overlay => {
                rustix::fs::fsetxattr(parent, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(|e| self.sys(raw, "mark directory opaque", e))
            }
            WhiteoutMode::Apply => {
                let prefix = parents.join(&b'/');
                let written = &self.written;
                let mut keep = |n: &[u8]| {
                    let mut p = prefix.clone();
                    if !p.is_empty() {
                        p.push(b'/');
                    }
                    p.extend_from_slice(n);
                    written.contains(&p)
                };
                clear_dir_except(parent, &mut keep)
                    .map_err(|e| self.sys(raw, "clear opaque directory", e))
            }
        }
    }

    fn whiteout(
        &mut self,
        mode: WhiteoutMode,
        raw: &[u8],
        parent: &OwnedFd,
        parents: &[&[u8]],
        hidden: &[u8],
    ) -> Result<()> {
        let name = OsStr::from_bytes(hidden);
        match mode {
            WhiteoutMode::Overlay => {
                self.replace(raw, parent, name)?;
                rustix::fs::mknodat(parent, name, FileType::CharacterDevice, Mode::empty(), 0)
                    .map_err(|e| self.sys(raw, "create whiteout", e))
            }
            WhiteoutMode::Apply => {
                let mut p = parents.join(&b'/');
                if !p.is_empty() {
                    p.push(b'/');
                }
                p.extend_from_slice(hidden);
                if self.written.contains(&p) {
                    return Ok(());
                }
                self.replace(raw, parent, name)
            }
        }
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the entry carries PAX sparse records (GNU tar's `--sparse --format=pax`: the
/// `GNU.sparse.*` keys of formats 0.0, 0.1 and 1.0).
fn is_pax_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> bool {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return false;
    };
    exts.flatten()
        .any(|e| e.key().is_ok_and(|k| k.starts_with("GNU.sparse.")))
}

/// Hole granularity: the page and usual filesystem block size.
const SPARSE_BLOCK: usize = 4096;

static ZEROS: [u8; SPARSE_BLOCK] = [0; SPARSE_BLOCK];

fn is_zero(b: &[u8]) -> bool {
    // A memcmp against zeros: fast also in unoptimized builds.
    b == &ZEROS[..b.len()]
}

/// Copy `r` into the new empty file `f`, leaving a hole for every aligned block of zeros
/// (as `cp --sparse=always`), then set the length (a hole may end the file). `buf`'s
/// length must be a multiple of [`SPARSE_BLOCK`]. Returns the file's size.
fn copy_sparse<R: Read>(r: &mut R, f: &File, buf: &mut [u8]) -> io::Result<u64> {
    let mut off = 0u64;
    loop {
        let n = read_full(r, buf)?;
        let mut i = 0;
        while i < n {
            let start = i;
            while i < n && !is_zero(&buf[i..n.min(i + SPARSE_BLOCK)]) {
                i = n.min(i + SPARSE_BLOCK);
            }
            if i > start {
                f.write_all_at(&buf[start..i], off + start as u64)?;
            }
            while i < n && is_zero(&buf[i..n.min(i + SPARSE_BLOCK)]) {
                i = n.min(i + SPARSE_BLOCK);
            }
        }
        off += n as u64;
        if n < buf.len() {
            break;
        }
    }
    f.set_len(off)?;
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_blocks_become_holes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        let f = File::create(&p).unwrap();
        // 1 MiB of zeros, one byte, 1 MiB of zeros, a short tail of zeros.
        let mut data = vec![0u8; 2 * 1024 * 1024 + 100];
        data[1024 * 1024 + 5] = 7;
        let mut buf = vec![0u8; 64 * 1024];
        assert_eq!(
            copy_sparse(&mut &data[..], &f, &mut buf).unwrap(),
            data.len() as u64
        );
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), data);
        let md = std::fs::metadata(&p).unwrap();
        assert!(md.blocks() * 512 <= 8192, "{} blocks", md.blocks());
    }
}

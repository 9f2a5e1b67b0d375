//! Extraction of an archive that is not a layer (`docker cp`) into a directory given by
//! descriptor, with the layer unpacker's guarantees: every entry's parent is opened with
//! `openat2` under the caller's resolution rules, the last component is created with `*at`
//! calls that do not follow symlinks, and owner, mode and times are set on descriptors. A
//! process that swaps a directory of the destination for a symlink while the archive is
//! extracted can make the extraction fail, never write, chmod or chown elsewhere.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fd::BorrowedFd;
use rustix::fs::ResolveFlags;

use super::unpack::{Policy, Subject, Target, run};
use crate::error::Result;

/// Who owns the extracted entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// The uid/gid of the archive's headers (needs CAP_CHOWN).
    FromArchive,
    /// This uid/gid for every entry (`docker cp` into a container without `-a`: its root).
    Fixed { uid: u32, gid: u32 },
    /// Whoever extracts (no chown). Set-uid/set-gid bits are dropped by [`extract_tar`]:
    /// they were meant for the archive's owner, not the caller.
    Caller,
}

/// How the paths of the destination and of the archive's entries are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Inside `root`, as a process chrooted there would resolve them (RESOLVE_IN_ROOT):
    /// symlinks are followed but never out of `root`. For a container's root.
    InRoot,
    /// Beneath `root`, following no symlink at all (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS):
    /// an entry under a symlink is refused. For a host directory, where the archive's
    /// symlinks were made by someone else.
    NoSymlinks,
}

/// Options for [`extract_tar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    pub resolve: Resolve,
    pub owners: Owners,
    /// Restore `SCHILY.xattr.*` records (trusted.overlay.* never).
    pub xattrs: bool,
    /// Create character and block devices; else such entries are refused.
    pub devices: bool,
}

/// Extracts the uncompressed tar `reader` into the directory `dir` under `root` (`""` or
/// `"/"`: `root` itself), resolving `dir` and every entry's parent with `opts.resolve`.
/// Entries with absolute paths or `..` are refused; an entry replaces what it finds, except
/// a directory by a non-directory or the reverse, which is refused (`docker cp`'s rule);
/// hard links must point inside the destination. `what` describes the extraction in errors
/// ("the copy into box:/tmp"): refused entries are [`crate::Error::RefusedEntry`].
pub fn extract_tar<R: Read>(
    reader: R,
    root: BorrowedFd<'_>,
    dir: &Path,
    what: &str,
    opts: &ExtractOptions,
) -> Result<()> {
    let prefix = dir.as_os_str().as_bytes();
    let prefix = prefix
        .iter()
        .position(|&b| b != b'/')
        .map_or(&[][..], |i| &prefix[i..]);
    let policy = Policy {
        whiteouts: None,
        owners: opts.owners,
        drop_setid: opts.owners == Owners::Caller,
        xattrs: opts.xattrs,
        devices: opts.devices,
        replace_other_kinds: false,
        max_size: None,
        budget: None,
        subject: Subject::Archive(what),
    };
    let resolve = match opts.resolve {
        Resolve::InRoot => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        Resolve::NoSymlinks => {
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
        }
    };
    let target = Target {
        root,
        prefix: prefix.to_vec(),
        resolve,
    };
    run(reader, target, &policy).map(|_| ())
}

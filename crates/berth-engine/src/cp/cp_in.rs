//! The destination side of `cp`: a tar extracted by berth-image's descriptor-based
//! extraction (`berth_image::layer::extract_tar`, the layer unpacker's code), never by
//! path.
//!
//! Into a container, paths resolve inside its root (RESOLVE_IN_ROOT): its symlinks are
//! followed as the container sees them and never lead out; entries belong to its root
//! unless `-a`. Onto the host, the archive came from a container that may be hostile: no
//! symlink is followed at all under the destination directory (RESOLVE_NO_SYMLINKS), device
//! nodes and extended attributes are refused, and without `-a` entries belong to the caller
//! with their set-id bits dropped.

use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::path::Path;

use berth_image::layer::{ExtractOptions, Owners, Resolve, extract_tar};

use crate::error::Result;

/// A reader that counts what it read.
pub(crate) struct CountingReader<R> {
    pub inner: R,
    pub bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Extracts `input` into directory `dir` of the container whose root is `root`. `what`
/// describes the copy in errors.
pub(crate) fn into_container(
    input: &mut dyn Read,
    root: BorrowedFd<'_>,
    dir: &Path,
    what: &str,
    keep_owners: bool,
) -> Result<()> {
    let opts = ExtractOptions {
        resolve: Resolve::InRoot,
        owners: if keep_owners {
            Owners::FromArchive
        } else {
            Owners::Fixed { uid: 0, gid: 0 }
        },
        xattrs: true,
        devices: true,
    };
    extract_tar(input, root, dir, what, &opts)?;
    Ok(())
}

/// Extracts `input` into the host directory `dir` (a descriptor).
pub(crate) fn onto_host(
    input: &mut dyn Read,
    dir: BorrowedFd<'_>,
    what: &str,
    keep_owners: bool,
) -> Result<()> {
    let opts = ExtractOptions {
        resolve: Resolve::NoSymlinks,
        owners: if keep_owners {
            Owners::FromArchive
        } else {
            Owners::Caller
        },
        xattrs: false,
        devices: false,
    };
    extract_tar(input, dir, Path::new(""), what, &opts)?;
    Ok(())
}

//! Network namespaces pinned by a file: a new namespace is bind-mounted (its nsfs inode) on
//! an empty file, so it outlives every process in it until the file is unmounted, and a
//! thread can join it by path to act inside it.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path {}", p.display()), "it holds a NUL byte"))
}

/// Creates a new network namespace pinned at `path` (an empty file made for it; its
/// directory must exist). A namespace already pinned there is replaced.
pub fn create(path: &Path) -> Result<()> {
    remove(path)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    let target = cstr(path)?;
    // A thread of its own enters the new namespace (unshare of the network namespace acts
    // on the calling thread only) and ends with it; the caller's threads stay where they are.
    let res = std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            // SAFETY: unshare only changes this thread's network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(Error::io(
                    "create a network namespace",
                    std::io::Error::last_os_error(),
                ));
            }
            let src = c"/proc/thread-self/ns/net";
            // SAFETY: both strings are NUL-terminated and outlive the call; a bind mount
            // reads nothing else.
            let r = unsafe {
                libc::mount(
                    src.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if r != 0 {
                return Err(Error::io(
                    format!("pin the network namespace on {}", path.display()),
                    std::io::Error::last_os_error(),
                ));
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::invalid(
                format!("network namespace {}", path.display()),
                "the thread creating it panicked",
            ))
        })
    });
    if res.is_err() {
        let _ = std::fs::remove_file(path);
    }
    res
}

/// Unpins and removes the namespace file at `path` (nothing there is not an error). The
/// namespace goes when nothing else holds it, and its interfaces with it.
pub fn remove(path: &Path) -> Result<()> {
    let p = cstr(path)?;
    // Unmount every layer (a file bind-mounted twice by a crashed retry has two).
    loop {
        // SAFETY: a NUL-terminated path that outlives the call.
        if unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) } != 0 {
            break;
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("remove {}", path.display()), e)),
    }
}

/// Runs `f` on a thread of its own inside the network namespace pinned at `path` (to open
/// sockets there: a socket stays in the namespace it was made in, whichever thread or
/// process uses it later). The thread ends before this returns, so a single-threaded
/// caller is single-threaded again.
pub fn run_in<T: Send>(
    path: &Path,
    what: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send,
) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            enter(path)?;
            f().map_err(|e| Error::io(format!("{what} in {}", path.display()), e))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::invalid(
                format!("network namespace {}", path.display()),
                format!("the thread to {what} panicked"),
            ))
        })
    })
}

/// Moves the calling thread into the network namespace pinned at `path`.
pub(crate) fn enter(path: &Path) -> Result<()> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("open network namespace {}", path.display()), e))?;
    // SAFETY: setns with a descriptor we own, for the network namespace only; it changes
    // this thread alone.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(Error::io(
            format!("enter network namespace {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

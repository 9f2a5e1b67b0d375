//! Starting Berth's helper processes (container monitors, exec helpers) from a caller that
//! may have many threads (a server): `posix_spawn` (vfork: no copy of the caller's page
//! tables), each descriptor the child needs put in place by `dup2` in the child only, every
//! other descriptor closed, signal mask and dispositions reset, in a session of its own. No
//! descriptor's close-on-exec flag is ever cleared in the caller, so no other thread's child
//! can inherit what was meant for this one.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Descriptors at or above this are free for the temporary copies made before a spawn.
const HIGH_FD: RawFd = 64;

fn cstr(s: &std::ffi::OsStr, what: &str) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| Error::invalid(what.to_string(), "contains a NUL byte"))
}

/// Owns the spawn attributes and file actions, destroyed on drop.
struct Attrs {
    fa: libc::posix_spawn_file_actions_t,
    attr: libc::posix_spawnattr_t,
}

impl Drop for Attrs {
    fn drop(&mut self) {
        // SAFETY: both were initialised by `Attrs::new` and are destroyed once, here.
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.fa);
            libc::posix_spawnattr_destroy(&mut self.attr);
        }
    }
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::io(
            what.to_string(),
            std::io::Error::from_raw_os_error(rc),
        ))
    }
}

impl Attrs {
    fn new() -> Result<Box<Attrs>> {
        // SAFETY: zeroed storage is what posix_spawn_*_init expect to initialise; the box
        // keeps the objects at one address for the life of the spawn.
        let mut a: Box<Attrs> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: initialising objects we own.
        let rc = unsafe { libc::posix_spawn_file_actions_init(&mut a.fa) };
        check(rc, "spawn file actions")?;
        // SAFETY: as above. (If this fails, Drop destroys an initialised `fa` and an
        // attr that glibc's destroy ignores.)
        let rc = unsafe { libc::posix_spawnattr_init(&mut a.attr) };
        check(rc, "spawn attributes")?;
        Ok(a)
    }
}

/// Starts `program` with `args`, giving it exactly the descriptors in `fds` (source,
/// number in the child); standard descriptors not given are /dev/null. Returns its pid.
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    fds: &[(BorrowedFd<'_>, RawFd)],
) -> Result<i32> {
    let what = || format!("start {}", program.display());
    let path = cstr(program.as_os_str(), "helper path")?;
    let mut argv = vec![path.clone()];
    for a in args {
        argv.push(cstr(a, "helper argument")?);
    }
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    // Copies above every target number, so that no dup2 of the child overwrites a source
    // that a later one still needs. They keep close-on-exec here; dup2 clears it on the
    // child's copy only.
    let mut copies: Vec<(OwnedFd, RawFd)> = Vec::with_capacity(fds.len());
    for (src, dst) in fds {
        if !(0..HIGH_FD).contains(dst) {
            return Err(Error::Internal(format!(
                "descriptor {dst} out of range for a helper"
            )));
        }
        // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor we borrow into a new one we own.
        let n = unsafe { libc::fcntl(src.as_raw_fd(), libc::F_DUPFD_CLOEXEC, HIGH_FD) };
        if n < 0 {
            return Err(Error::io(what(), std::io::Error::last_os_error()));
        }
        // SAFETY: `n` is a new descriptor that nothing else owns.
        copies.push((unsafe { OwnedFd::from_raw_fd(n) }, *dst));
    }
    let devnull = c"/dev/null";
    let mut a = Attrs::new()?;
    for (copy, dst) in &copies {
        // SAFETY: `a.fa` is initialised; the descriptors are valid until after the spawn.
        let rc =
            unsafe { libc::posix_spawn_file_actions_adddup2(&mut a.fa, copy.as_raw_fd(), *dst) };
        check(rc, "spawn file actions")?;
    }
    for std_fd in 0..3 {
        if !copies.iter().any(|(_, d)| *d == std_fd) {
            // SAFETY: `a.fa` is initialised; the path is a NUL-terminated static string.
            let rc = unsafe {
                libc::posix_spawn_file_actions_addopen(
                    &mut a.fa,
                    std_fd,
                    devnull.as_ptr(),
                    libc::O_RDWR,
                    0,
                )
            };
            check(rc, "spawn file actions")?;
        }
    }
    let first_free = copies.iter().map(|(_, d)| *d + 1).max().unwrap_or(0).max(3);
    // SAFETY: `a.fa` is initialised.
    let rc = unsafe { libc::posix_spawn_file_actions_addclosefrom_np(&mut a.fa, first_free) };
    check(rc, "spawn file actions")?;
    // SAFETY: sigset_t values we own, initialised by sigemptyset/sigfillset before use.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigfillset(&mut all);
        check(
            libc::posix_spawnattr_setsigmask(&mut a.attr, &none),
            "spawn attributes",
        )?;
        check(
            libc::posix_spawnattr_setsigdefault(&mut a.attr, &all),
            "spawn attributes",
        )?;
        let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        let flags = libc::c_short::try_from(flags)
            .map_err(|_| Error::Internal("posix_spawn flags overflow".into()))?
            | libc::POSIX_SPAWN_SETSID;
        check(
            libc::posix_spawnattr_setflags(&mut a.attr, flags),
            "spawn attributes",
        )?;
    }
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|s| s.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|s| s.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: the path, argv and envp arrays are
    // NUL-terminated and outlive it, and the attributes are initialised.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &a.fa,
            &a.attr,
            argv_p.as_ptr(),
            envp_p.as_ptr(),
        )
    };
    drop(copies);
    if rc != 0 {
        return Err(Error::io(what(), std::io::Error::from_raw_os_error(rc)));
    }
    Ok(pid)
}

/// Helpers this process started and has not waited for. A long-running caller (a server)
/// would otherwise collect a zombie for every monitor that ends; each spawn reaps those
/// that have ended, without touching children that are not ours. Clones share the list
/// (an exec process hands its helper over when dropped unwaited).
#[derive(Default, Clone)]
pub(crate) struct Children(Arc<Mutex<Vec<i32>>>);

impl Children {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<i32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers `pid` to be reaped later.
    pub(crate) fn adopt(&self, pid: i32) {
        self.list().push(pid);
    }

    /// Reaps the remembered helpers that have exited.
    pub(crate) fn reap(&self) {
        self.list().retain(|&pid| {
            let mut status = 0;
            // SAFETY: waitpid on a pid we spawned, with a status we own.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            r == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_given_descriptors_reach_the_child() {
        // A descriptor without close-on-exec at a known number, as a careless thread of a
        // server might leave one.
        let (stray, _keep) = nix::unistd::pipe().unwrap();
        // SAFETY: F_DUPFD (no close-on-exec) of a descriptor we own, at 40 or above.
        let n = unsafe { libc::fcntl(stray.as_raw_fd(), libc::F_DUPFD, 40) };
        assert!(n >= 40);
        // SAFETY: a new descriptor we own.
        let stray_copy = unsafe { OwnedFd::from_raw_fd(n) };
        let run = |prog: &str, args: &[&str]| -> String {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            let pid = spawn(Path::new(prog), &args, &[(std::os::fd::AsFd::as_fd(&w), 1)]).unwrap();
            drop(w);
            let mut out = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut out).unwrap();
            let mut st = 0;
            // SAFETY: waiting for the child we spawned.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            out
        };
        // 0 and 2 on /dev/null, 1 ours, 3 the directory `ls` reads: nothing else.
        let fds = run("/bin/ls", &["/proc/self/fd"]);
        assert_eq!(
            fds.split_whitespace().collect::<Vec<_>>(),
            ["0", "1", "2", "3"],
            "{fds}"
        );
        let null = run("/bin/readlink", &["/proc/self/fd/0", "/proc/self/fd/2"]);
        assert_eq!(null, "/dev/null\n/dev/null\n");
        // Its own session: the session id is its pid.
        let stat = run("/usr/bin/cut", &["-d ", "-f1,6", "/proc/self/stat"]);
        let ids: Vec<&str> = stat.split_whitespace().collect();
        assert_eq!(ids.len(), 2, "{stat}");
        assert_eq!(ids[0], ids[1], "{stat}");
        drop(stray_copy);
    }

    #[test]
    fn children_are_reaped() {
        let c = Children::default();
        let pid = spawn(Path::new("/bin/true"), &[], &[]).unwrap();
        c.adopt(pid);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !c.list().is_empty() && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(5));
            c.reap();
        }
        assert!(c.list().is_empty());
        // Reaped: no zombie left under that pid.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}

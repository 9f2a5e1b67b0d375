//! Thin wrappers for system calls that nix and rustix do not cover. Each wrapper returns an
//! `std::io::Error` on failure.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

/// `struct mount_attr` of linux/mount.h.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const AT_RECURSIVE: libc::c_uint = 0x8000;
const AT_EMPTY_PATH: libc::c_uint = 0x1000;

fn cvt(r: libc::c_long) -> std::io::Result<libc::c_long> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Sets and clears mount attributes on the mount at `fd` and every mount below it.
pub fn mount_setattr_recursive(fd: BorrowedFd<'_>, set: u64, clear: u64) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr of the size we pass, and the empty path with
    // AT_EMPTY_PATH makes the kernel act on `fd` itself.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(|_| ())
}

/// Marks every descriptor from `first` (not negative) upwards close-on-exec.
pub fn cloexec_from(first: RawFd) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        // Older kernels: walk /proc/self/fd instead.
        if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<i32> = rd
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            for fd in fds.into_iter().filter(|f| *f >= first) {
                // SAFETY: F_SETFD on a descriptor number only changes its flags (EBADF if
                // it was the directory handle, which is already closed).
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
    }
}

/// Joins a new anonymous session keyring (as runc does unless --no-new-keyring).
pub fn join_session_keyring(name: &str) -> std::io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let c = CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING) reads the NUL-terminated name only.
    cvt(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) })
        .map(|_| ())
}

/// Sets the I/O priority of the calling process: `class` (1-3) and `level` (0-7).
pub fn ioprio_set(class: u8, level: u8) -> std::io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    let value = (libc::c_int::from(class) << 13) | libc::c_int::from(level);
    // SAFETY: ioprio_set takes plain integers.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) }).map(|_| ())
}

/// `struct sched_attr` (version 1 layout).
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// SCHED_ATTR_SIZE_VER1, the size of the layout above.
const SCHED_ATTR_SIZE: u32 = 56;
const _: () = assert!(std::mem::size_of::<SchedAttr>() == SCHED_ATTR_SIZE as usize);

/// Sets the scheduling policy of the calling thread.
pub fn sched_setattr(attr: &mut SchedAttr) -> std::io::Result<()> {
    attr.size = SCHED_ATTR_SIZE;
    // SAFETY: `attr` is a valid sched_attr whose size field matches its size.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0) }).map(|_| ())
}

/// pivot_root(2) with both arguments ".", the idiom that needs no put-old directory.
pub fn pivot_root_dot() -> std::io::Result<()> {
    // SAFETY: both arguments are valid NUL-terminated strings.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) }).map(|_| ())
}

/// The path through /proc that names an open descriptor.
pub fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Whether `p` exists (without following a final symlink).
pub fn exists_nofollow(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// dup2(2) on raw descriptor numbers (stdio targets are not owned values).
pub fn dup2(old: RawFd, new: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 only manipulates the descriptor table; `new` is replaced atomically.
    let r = unsafe { libc::dup2(old, new) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Restores the default disposition of the signals in `ignored` (bit N-1 for signal N) and
/// empties the signal mask, so the container process does not inherit the runtime's (Rust
/// ignores SIGPIPE; `run` blocks signals). Handled signals need nothing: execve resets them.
pub fn reset_signals(ignored: u64) {
    for sig in 1..=64 {
        if ignored & (1u64 << (sig - 1)) == 0 || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL installs no handler code; invalid numbers just fail.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// Brings the loopback interface of the calling process's network namespace up (SIOCSIFFLAGS
/// with IFF_UP on "lo"), as Docker's engine does in every network namespace it creates: a
/// new network namespace has `lo` down, so nothing in it could talk to 127.0.0.1.
pub(crate) fn loopback_up() -> crate::error::Result<()> {
    use crate::error::Context;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    use std::os::fd::AsRawFd;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx(|| "open a socket to bring the loopback interface up")?;
    // SAFETY: ifreq is plain data; all zeroes is a valid value (an empty name, no flags).
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(c"lo".to_bytes_with_nul()) {
        *dst = libc::c_char::from_ne_bytes([*src]);
    }
    // IFF_UP is 1: it fits the short that ifreq keeps the flags in.
    let up = libc::c_short::try_from(libc::IFF_UP).unwrap_or(1);
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of `ifr`, a valid ifreq
    // that lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "read the flags of lo");
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags.
    unsafe {
        ifr.ifr_ifru.ifru_flags |= up;
    }
    // SAFETY: SIOCSIFFLAGS reads `ifr`, a valid ifreq holding the name and the new flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "bring lo up");
    }
    Ok(())
}

//! berth-init: the init process of `berth run --init`.
//!
//! Usage: `berth-init [-g] [--] COMMAND [ARG...]`
//!
//! Runs as pid 1 of a container: it starts COMMAND in a process group of its own (made the
//! terminal's foreground group when stdin is a terminal), forwards every signal it can catch
//! to it (`-g`: to its whole process group), reaps every zombie that is reparented to it,
//! and exits with COMMAND's exit code (128+N when a signal N killed it). When it is not pid
//! 1 it makes itself a child subreaper so that it still reaps the orphans below it.
//!
//! It must run in any image, so build.rs compiles this file alone, with std only, into a
//! static executable (no dynamic loader or libc needed in the image). The few libc calls
//! std does not wrap are declared here.

use std::ffi::c_int;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// glibc's sigset_t (1024 bits).
#[repr(C)]
struct SigSet {
    bits: [u64; 16],
}

/// siginfo_t (128 bytes); only its size matters here.
#[repr(C)]
struct SigInfo {
    data: [u64; 16],
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigdelset(set: *mut SigSet, sig: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigtimedwait(set: *const SigSet, info: *mut SigInfo, timeout: *const Timespec) -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn getpid() -> c_int;
    fn setpgid(pid: c_int, pgid: c_int) -> c_int;
    fn tcsetpgrp(fd: c_int, pgrp: c_int) -> c_int;
    fn isatty(fd: c_int) -> c_int;
    fn prctl(option: c_int, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> c_int;
}

const SIG_BLOCK: c_int = 0;
const SIG_SETMASK: c_int = 2;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const WNOHANG: c_int = 1;
const PR_SET_CHILD_SUBREAPER: c_int = 36;

// Signal numbers of Linux on x86, arm, riscv, s390 and powerpc.
const SIGILL: c_int = 4;
const SIGTRAP: c_int = 5;
const SIGABRT: c_int = 6;
const SIGBUS: c_int = 7;
const SIGFPE: c_int = 8;
const SIGSEGV: c_int = 11;
const SIGCHLD: c_int = 17;
const SIGTTIN: c_int = 21;
const SIGTTOU: c_int = 22;
const SIGSYS: c_int = 31;

/// Signals raised by faults in this process itself: never blocked, never forwarded.
const SYNCHRONOUS: [c_int; 7] = [SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS];

fn usage() -> ! {
    eprintln!("usage: berth-init [-g] [--] COMMAND [ARG...]");
    std::process::exit(2);
}

/// The exit code for a wait status: the code, or 128 + the signal that killed it.
fn exit_code(status: c_int) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut group = false;
    while let Some(a) = args.first() {
        match a.as_str() {
            "--" => {
                args.remove(0);
                break;
            }
            "-g" => {
                group = true;
                args.remove(0);
            }
            "-s" | "-v" => {
                args.remove(0);
            }
            "-h" | "--help" => usage(),
            s if s.starts_with('-') => usage(),
            _ => break,
        }
    }
    if args.is_empty() {
        usage();
    }

    // Every signal but the synchronous ones (and the terminal stops, ignored below) is
    // blocked here and collected with sigtimedwait: a blocked signal reaches pid 1 even
    // though it has no handler.
    let mut set = SigSet { bits: [0; 16] };
    let mut empty = SigSet { bits: [0; 16] };
    // SAFETY: both sets are valid, writable sigset_t-sized buffers.
    unsafe {
        sigfillset(&mut set);
        sigemptyset(&mut empty);
        for s in SYNCHRONOUS.iter().chain(&[SIGTTIN, SIGTTOU]) {
            sigdelset(&mut set, *s);
        }
    }
    // SAFETY: `set` is initialized; the old mask is not needed. Ignoring SIGTTIN/SIGTTOU
    // only changes this process's dispositions.
    unsafe {
        pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut());
        signal(SIGTTIN, SIG_IGN);
        signal(SIGTTOU, SIG_IGN);
    }
    // SAFETY: getpid and prctl(PR_SET_CHILD_SUBREAPER) have no memory arguments.
    unsafe {
        if getpid() != 1 {
            prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    }

    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (setpgid, isatty, tcsetpgrp, signal, pthread_sigmask) on
    // memory it owns.
    unsafe {
        cmd.pre_exec(move || {
            setpgid(0, 0);
            if isatty(0) == 1 {
                // SIGTTOU is still ignored, so a background group may take the terminal.
                tcsetpgrp(0, getpid());
            }
            // Start the command with default dispositions and an empty mask.
            for s in 1..32 {
                signal(s, SIG_DFL);
            }
            pthread_sigmask(SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c.id() as c_int,
        Err(e) => {
            eprintln!("berth-init: exec {} failed: {e}", args[0]);
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => 1,
            };
            std::process::exit(code);
        }
    };
    let target = if group { -child } else { child };

    let timeout = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    let mut info = SigInfo { data: [0; 16] };
    loop {
        // SAFETY: `set`, `info` and `timeout` are valid for the call.
        let sig = unsafe { sigtimedwait(&set, &mut info, &timeout) };
        if sig > 0 && sig != SIGCHLD {
            // SAFETY: kill has no memory arguments; a vanished child (ESRCH) is fine.
            unsafe {
                kill(target, sig);
            }
            continue;
        }
        // SIGCHLD, a timeout or an interruption: reap whatever has exited.
        let mut child_status = None;
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid int to write.
            let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                child_status = Some(status);
            }
        }
        if let Some(status) = child_status {
            std::process::exit(exit_code(status));
        }
    }
}

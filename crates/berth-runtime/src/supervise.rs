//! Foreground supervision for `run` and `exec` without `--detach`: forward signals to the
//! process, relay a pty to our own terminal (raw mode), and return its exit code.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Context, Result};

const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Signals blocked while supervising (delivered through a signalfd instead).
fn sigset() -> SigSet {
    let mut s = SigSet::empty();
    s.add(Signal::SIGCHLD);
    for sig in FORWARDED {
        s.add(sig);
    }
    s
}

/// Blocks the supervised signals. Call before creating the process, so that none is lost.
pub fn block_signals() -> Result<SigSet> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&sigset()),
        Some(&mut old),
    )
    .ctx(|| "block signals")?;
    Ok(old)
}

struct RawMode {
    fd: i32,
    saved: Termios,
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: fd 0 stays open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

fn exit_code(st: WaitStatus) -> Option<i32> {
    match st {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// Waits for `pid` (a child of this process), forwarding signals and relaying `console`.
/// Returns its exit code (128+N when killed by signal N).
pub fn supervise(pid: i32, console: Option<OwnedFd>) -> Result<i32> {
    let target = Pid::from_raw(pid);
    let sfd = SignalFd::with_flags(&sigset(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .ctx(|| "signalfd")?;
    let stdin = std::io::stdin();
    let stdin_fd = stdin.as_fd();
    let _raw = match &console {
        Some(m) if termios::tcgetattr(stdin_fd).is_ok() => {
            let saved = termios::tcgetattr(stdin_fd).ctx(|| "read terminal mode")?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin_fd, SetArg::TCSANOW, &raw).ctx(|| "set raw mode")?;
            if let Some((r, c)) = crate::console::get_size(stdin_fd) {
                let _ = crate::console::set_size(m.as_fd(), r, c);
            }
            Some(RawMode {
                fd: stdin_fd.as_raw_fd(),
                saved,
            })
        }
        _ => None,
    };
    // The process may have exited before the signalfd existed; what it wrote to its
    // terminal is still in the pty.
    if let Some(code) = reap(target) {
        if let Some(m) = &console {
            drain(m.as_fd(), &mut vec![0u8; 32 * 1024]);
        }
        return Ok(code);
    }
    let mut stdin_open = console.is_some();
    let mut master_open = console.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let (mut si, mut mi) = (None, None);
        if let Some(m) = &console {
            if stdin_open {
                si = Some(fds.len());
                fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
            }
            if master_open {
                mi = Some(fds.len());
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "poll"),
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents()).is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let (sig_ready, stdin_ready, master_ready) = (ready(Some(0)), ready(si), ready(mi));
        drop(fds);
        if master_ready && let Some(m) = &console {
            master_open = copy(m.as_fd(), std::io::stdout().as_fd(), &mut buf);
        }
        if stdin_ready && let Some(m) = &console {
            stdin_open = copy(stdin_fd, m.as_fd(), &mut buf);
        }
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let Some(sig) = i32::try_from(info.ssi_signo)
                    .ok()
                    .and_then(|n| Signal::try_from(n).ok())
                else {
                    continue;
                };
                if sig == Signal::SIGCHLD {
                    continue;
                }
                if sig == Signal::SIGWINCH {
                    if let (Some(m), Some((r, c))) = (&console, crate::console::get_size(stdin_fd))
                    {
                        let _ = crate::console::set_size(m.as_fd(), r, c);
                    }
                    continue;
                }
                let _ = nix::sys::signal::kill(target, sig);
            }
            if let Some(code) = reap(target) {
                if let Some(m) = &console {
                    drain(m.as_fd(), &mut buf);
                }
                return Ok(code);
            }
        }
    }
}

/// Reaps exited children (ours, and orphans reparented to us); the target's exit code once
/// it has exited.
fn reap(target: Pid) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(st) => {
                if st.pid() == Some(target)
                    && let Some(code) = exit_code(st)
                {
                    return Some(code);
                }
            }
        }
    }
}

/// Copies what is readable from `from` to `to`; false when `from` is finished.
fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8]) -> bool {
    match nix::unistd::read(from, buf) {
        Ok(0) => false,
        Ok(n) => write_all(to, &buf[..n]),
        Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

fn write_all(to: BorrowedFd<'_>, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match nix::unistd::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Relays what the process wrote before exiting.
fn drain(m: BorrowedFd<'_>, buf: &mut [u8]) {
    loop {
        let mut fds = [PollFd::new(m, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => {
                if !copy(m, std::io::stdout().as_fd(), buf) {
                    return;
                }
            }
            _ => return,
        }
    }
}

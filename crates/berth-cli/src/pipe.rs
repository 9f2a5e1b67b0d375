//! A reader that goes away (`berth inspect c | head -1`): Berth ends as any Unix tool
//! killed by SIGPIPE does, and as docker does: quietly, by the signal (the shell sees 141).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe is an EPIPE error: `println!` panics on
//! it, other writers return it. Berth keeps ignoring SIGPIPE (its sockets to monitors and
//! helpers must see EPIPE, not die of it) and instead dies by the signal when standard
//! output is the pipe that was closed: from the panic hook, and from `print_error` for an
//! error caused by a broken pipe.

use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, Signal, raise, signal};

/// Installs the panic hook: a panic while standard output's reader is gone (the panic of
/// `println!` on EPIPE) ends the process by SIGPIPE, without a message; any other panic is
/// reported as before.
pub fn die_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_reader_gone() {
            die_by_sigpipe();
        }
        default(info);
    }));
}

/// Whether standard output is a pipe or socket whose reading end is closed: poll reports
/// POLLERR on the write end of a pipe without readers (POLLHUP for a socket).
pub fn stdout_reader_gone() -> bool {
    let out = std::io::stdout();
    let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLOUT)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

/// Ends the process by SIGPIPE (default action, unblocked); exits 141 should it survive.
pub fn die_by_sigpipe() -> ! {
    // SAFETY: SIG_DFL installs no handler code; the process is about to die of the signal.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    let _ = set.thread_unblock();
    let _ = raise(Signal::SIGPIPE);
    std::process::exit(128 + Signal::SIGPIPE as i32)
}

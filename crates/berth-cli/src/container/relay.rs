//! The client side of attach: our terminal (or pipes) to and from a container's monitor,
//! with raw mode, window sizes, docker's detach keys (ctrl-p ctrl-q) and signal proxying.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use anyhow::Result;
use berth_engine::Attachment;
use berth_engine::attach::Output;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};

/// How the relay ended.
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The user detached (the container goes on).
    Detached,
    /// The stream ended without an exit code.
    Closed,
}

/// The signals a client handles: SIGWINCH (a terminal's new size) and those it proxies to
/// the container's process.
pub const SIGNALS: [Signal; 7] = [
    Signal::SIGWINCH,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Our terminal (stdin) in raw mode, restored when dropped.
pub struct Raw {
    saved: Termios,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Puts stdin in raw mode when it is a terminal (None when it is not).
pub fn raw_mode() -> Result<Option<Raw>> {
    let stdin = std::io::stdin();
    let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
        return Ok(None);
    };
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
    Ok(Some(Raw { saved }))
}

/// Parses docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-x") into bytes.
pub fn detach_keys(spec: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for k in spec.split(',') {
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c {
                "@" => 0,
                "[" => 27,
                "\\" => 28,
                "]" => 29,
                "^" => 30,
                "_" => 31,
                c if c.len() == 1 && c.as_bytes()[0].is_ascii_lowercase() => {
                    c.as_bytes()[0] - b'a' + 1
                }
                _ => anyhow::bail!("invalid detach keys {spec:?}"),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            anyhow::bail!("invalid detach keys {spec:?}");
        }
    }
    Ok(out)
}

pub struct RelayOptions<'a> {
    pub tty: bool,
    pub stdin: bool,
    pub detach_keys: Vec<u8>,
    /// Forward SIGINT/SIGTERM/... to this container (docker's --sig-proxy, without a tty).
    pub sig_proxy: Option<(&'a berth_engine::Engine, String)>,
    /// Send START once attached (run without -d, start -a).
    pub start: bool,
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// The size of the terminal on `fd` (rows, columns), if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize we own; the descriptor is borrowed for the call.
    unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }.ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

fn resize(a: &Attachment) {
    if let Some((r, c)) = window_size(std::io::stdout().as_fd()) {
        let _ = a.resize(r, c);
    }
}

/// Relays until the container exits or the user detaches.
pub fn relay(mut sock: Attachment, o: RelayOptions<'_>) -> Result<Ended> {
    let stdin = std::io::stdin();
    let stdin_fd = stdin.as_fd();
    let _raw = if o.tty && o.stdin { raw_mode()? } else { None };
    let mut set = SigSet::empty();
    for s in SIGNALS {
        set.add(s);
    }
    set.thread_block()?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    if o.tty {
        resize(&sock);
    }
    if o.start {
        sock.start()?;
    }
    let mut stdin_open = o.stdin;
    let mut inbuf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[1] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let Some(sig) = i32::try_from(info.ssi_signo)
                    .ok()
                    .and_then(|n| Signal::try_from(n).ok())
                else {
                    continue;
                };
                if sig == Signal::SIGWINCH {
                    if o.tty {
                        resize(&sock);
                    }
                } else if let Some((engine, id)) = &o.sig_proxy {
                    let _ = engine.kill(id, sig.as_str());
                } else if !o.tty {
                    // Without a proxy, the user's ctrl-c ends the client only.
                    return Ok(Ended::Detached);
                }
            }
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match nix::unistd::read(stdin_fd, &mut inbuf) {
                Ok(0) => {
                    stdin_open = false;
                    sock.close_stdin()?;
                }
                Ok(n) => {
                    let data = &inbuf[..n];
                    if o.tty && !o.detach_keys.is_empty() {
                        for &b in data {
                            if b == o.detach_keys[matched] {
                                matched += 1;
                                if matched == o.detach_keys.len() {
                                    return Ok(Ended::Detached);
                                }
                            } else {
                                matched = usize::from(b == o.detach_keys[0]);
                            }
                        }
                    }
                    sock.send_stdin(data)?;
                }
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
        if ready[0] {
            let Some(frames) = sock.read()? else {
                let _ = out.flush();
                return Ok(Ended::Closed);
            };
            for f in frames {
                match f {
                    Output::Stdout(data) => {
                        out.write_all(&data)?;
                        out.flush()?;
                    }
                    Output::Stderr(data) => {
                        err.write_all(&data)?;
                        err.flush()?;
                    }
                    Output::Exit(code) => return Ok(Ended::Exited(code)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(detach_keys("a,ctrl-x").unwrap(), vec![b'a', 24]);
        assert!(detach_keys("ctrl-").is_err());
    }
}

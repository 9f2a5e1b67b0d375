//! Terminals: the pty created inside the container, handing its master to whoever holds the
//! console socket, and the raw-mode proxy `run` uses when it owns the terminal itself.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::error::{Context, Result};

/// A new pty pair.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_name: String,
}

/// Opens a pty through /dev/ptmx (the container's, once it is its root).
pub fn open_pty() -> Result<Pty> {
    use nix::fcntl::OFlag;
    let m = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx")?;
    nix::pty::grantpt(&m).ctx(|| "grantpt")?;
    nix::pty::unlockpt(&m).ctx(|| "unlockpt")?;
    let name = nix::pty::ptsname_r(&m).ctx(|| "ptsname")?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {name}"))?;
    // SAFETY: PtyMaster owned a valid descriptor; into_raw_fd hands that ownership to us.
    let master = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(m.into_raw_fd()) };
    Ok(Pty {
        master,
        slave,
        slave_name: name,
    })
}

/// Sets the window size of a terminal.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "set the terminal size");
    }
    Ok(())
}

/// Gets the window size of a terminal.
pub fn get_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into the winsize struct we own.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some((ws.ws_row, ws.ws_col))
}

/// Makes `slave` the controlling terminal and the stdio of the calling process.
pub fn become_stdio(slave: &OwnedFd) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument; the caller has called setsid().
    let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "make the pty the controlling terminal");
    }
    for target in 0..3 {
        crate::sys::dup2(slave.as_raw_fd(), target).ctx(|| "dup the pty onto stdio")?;
    }
    Ok(())
}

/// Sends a descriptor over a connected unix socket with `payload` as data.
pub fn send_over(s: &UnixStream, fd: BorrowedFd<'_>, payload: &str) -> nix::Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(payload.as_bytes())];
    sendmsg::<()>(
        s.as_fd().as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map(|_| ())
}

//! Terminals: the pty created inside the container, handing its master to whoever holds the
//! console socket, and the raw-mode proxy `run` uses when it owns the terminal itself.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::error::{Context, Error, Result};

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

/// The window size a process's `consoleSize` asks for, as (rows, columns): refused when a
/// dimension does not fit a window size (0-65535). `field` names the consoleSize object.
pub fn spec_size(size: &oci_spec::runtime::Box, field: &str) -> Result<(u16, u16)> {
    let dim = |name: &str, v: u64| {
        u16::try_from(v).map_err(|_| {
            Error::spec(
                format!("{field}.{name}"),
                format!("{v} is out of range 0-{}", u16::MAX),
            )
        })
    };
    Ok((dim("height", size.height())?, dim("width", size.width())?))
}

/// Sets the window size of the pty `fd` to what `consoleSize` asks for (nothing when absent).
pub fn set_spec_size(fd: BorrowedFd<'_>, size: Option<&oci_spec::runtime::Box>) -> Result<()> {
    match size {
        Some(sz) => {
            let (rows, cols) = spec_size(sz, "process.consoleSize")?;
            set_size(fd, rows, cols)
        }
        None => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_sizes_must_fit_a_window_size() {
        let size = |height: u64, width: u64| {
            oci_spec::runtime::BoxBuilder::default()
                .height(height)
                .width(width)
                .build()
                .unwrap()
        };
        assert_eq!(spec_size(&size(24, 80), "p").unwrap(), (24, 80));
        assert_eq!(spec_size(&size(65535, 0), "p").unwrap(), (65535, 0));
        let e = spec_size(&size(24, 65536), "process.consoleSize").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.json: process.consoleSize.width: 65536 is out of range 0-65535"
        );
    }
}

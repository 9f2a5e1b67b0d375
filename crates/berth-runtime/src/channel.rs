//! The message channel between the runtime and the processes it forks (a SOCK_SEQPACKET
//! socketpair carrying small JSON messages and, optionally, one file descriptor).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, ExecFailure, Result};

/// Why a forked child failed, in a form that keeps what callers act on: an exec failure
/// stays typed (its exit code is 126 or 127), anything else is its message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Failure {
    Exec { path: String, cause: ExecFailure },
    Other(String),
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Failure {
        match e {
            Error::Exec { path, cause } => Failure::Exec {
                path: path.clone(),
                cause: cause.clone(),
            },
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        match f {
            Failure::Exec { path, cause } => Error::Exec { path, cause },
            Failure::Other(m) => Error::Init(m),
        }
    }
}

/// Messages exchanged during container creation and exec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Msg {
    /// Child → runtime: write my uid/gid maps (I unshared a user namespace).
    IdMapRequest,
    /// Runtime → child: maps written.
    IdMapDone,
    /// Runtime → child: the cgroups exist and the child is in them.
    CgroupReady,
    /// Intermediate → runtime: the pid of the container process.
    Pid(i32),
    /// Init → runtime: run the prestart/createRuntime hooks now.
    HooksRequest,
    /// Runtime → init: hooks done.
    HooksDone,
    /// Init → runtime: here is the pty master (attached as a file descriptor).
    Console(String),
    /// Init → runtime: the container is created (waiting for start), or the exec'd process
    /// is about to run.
    Ready,
    /// Any child → runtime: setup failed.
    Failed(Failure),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// Creates a connected pair (close-on-exec).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "socketpair")?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Sends a message.
    pub fn send(&self, m: &Msg) -> Result<()> {
        self.send_with_fd(m, None)
    }

    /// Sends a message with a file descriptor attached.
    pub fn send_with_fd(&self, m: &Msg, fd: Option<RawFd>) -> Result<()> {
        let buf = serde_json::to_vec(m).map_err(|e| Error::Init(format!("encode: {e}")))?;
        let iov = [IoSlice::new(&buf)];
        let fds;
        let cmsgs: &[ControlMessage] = match fd {
            Some(f) => {
                fds = [f];
                &[ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .ctx(|| "send on the init channel")?;
        Ok(())
    }

    /// Receives a message; None when the other end is closed.
    pub fn recv(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(r) => {
                    let mut fd = None;
                    for c in r.cmsgs().ctx(|| "control message")? {
                        if let ControlMessageOwned::ScmRights(v) = c {
                            for (i, raw) in v.into_iter().enumerate() {
                                // SAFETY: SCM_RIGHTS gave us a fresh descriptor we now own.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                if i == 0 {
                                    fd = Some(owned);
                                }
                            }
                        }
                    }
                    break (r.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "receive on the init channel"),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let m = serde_json::from_slice(&buf[..n])
            .map_err(|e| Error::Init(format!("malformed message from init: {e}")))?;
        Ok(Some((m, fd)))
    }

    /// Receives and requires a message (EOF is an error naming `waiting_for`).
    pub fn expect(&self, waiting_for: &str) -> Result<(Msg, Option<OwnedFd>)> {
        match self.recv()? {
            Some((Msg::Failed(f), _)) => Err(f.into()),
            Some(m) => Ok(m),
            None => Err(Error::Init(format!(
                "container init exited before {waiting_for}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fd() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Msg::Pid(42)).unwrap();
        assert_eq!(b.recv().unwrap().unwrap().0, Msg::Pid(42));
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&Msg::Console("/dev/pts/0".into()), Some(f.as_raw_fd()))
            .unwrap();
        let (m, fd) = b.recv().unwrap().unwrap();
        assert_eq!(m, Msg::Console("/dev/pts/0".into()));
        assert!(fd.is_some());
        a.send(&Msg::Failed(Failure::Other("boom".into()))).unwrap();
        assert_eq!(b.expect("x").unwrap_err().to_string(), "boom");
        // An exec failure arrives typed, with the message users see.
        let e = Error::Exec {
            path: "nope".into(),
            cause: ExecFailure::NotInPath,
        };
        a.send(&Msg::Failed(Failure::from(&e))).unwrap();
        let got = b.expect("x").unwrap_err();
        assert_eq!(got.exec_exit_code(), Some(127));
        assert_eq!(
            got.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }
}

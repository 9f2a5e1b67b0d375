//! The control protocol between the engine and an exec helper (`berth-monitor exec`), over
//! a SOCK_SEQPACKET socketpair (the helper's end is its descriptor 3). One message is one
//! datagram:
//!
//! - engine → helper, first: the request, JSON `{"process": <OCI process>, "detach": bool}`;
//! - helper → engine, then: `ok PID` (with the pty master attached by SCM_RIGHTS when the
//!   process has a terminal and is not detached) or `error CODE MSG` (CODE 126/127: the
//!   process could not be executed, as Docker counts; 125: the helper itself failed);
//! - engine → helper, any number: `signal N` (the helper sends signal N to its child as
//!   long as it has not reaped it, so a reused pid is never hit);
//! - helper → engine, last: `exit CODE` (128+N for signal N) once it has reaped the
//!   process; the helper then exits.
//!
//! Either side may be gone: the helper goes on until its process exits when the engine
//! closes its end, and the engine reports an error (never a made-up exit code) when the
//! helper closes its end without `exit`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the engine asks the helper to run.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub process: oci_spec::runtime::Process,
    /// The engine does not wait: the helper keeps (and drains) a pty master itself.
    pub detach: bool,
    /// The actor of the `exec_die` event the helper records when the process exits (the
    /// container's attributes and the exec's ID); none: no event.
    #[serde(default)]
    pub die_event: Option<crate::events::Actor>,
}

/// A helper's message to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Ok(i32),
    Error { code: i32, msg: String },
    Exit(i32),
}

impl Reply {
    pub(crate) fn encode(&self) -> String {
        match self {
            Reply::Ok(pid) => format!("ok {pid}"),
            Reply::Error { code, msg } => format!("error {code} {msg}"),
            Reply::Exit(code) => format!("exit {code}"),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Reply> {
        let bad = || Error::Internal(format!("malformed message from the exec helper: {text:?}"));
        let (word, rest) = text.split_once(' ').ok_or_else(bad)?;
        let num = |s: &str| s.parse::<i32>().map_err(|_| bad());
        match word {
            "ok" => Ok(Reply::Ok(num(rest)?)),
            "exit" => Ok(Reply::Exit(num(rest)?)),
            "error" => {
                let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
                Ok(Reply::Error {
                    code: num(code)?,
                    msg: msg.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }
}

/// Parses the engine's `signal N`.
pub(crate) fn parse_signal(text: &str) -> Option<i32> {
    text.strip_prefix("signal ")?.parse().ok()
}

/// Sends one message, with `fd` attached when given. A peer that is gone is `EPIPE`
/// (never SIGPIPE).
pub(crate) fn send(
    sock: BorrowedFd<'_>,
    msg: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> nix::Result<()> {
    let iov = [IoSlice::new(msg)];
    let raw: [RawFd; 1] = [fd.map_or(-1, |f| f.as_raw_fd())];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if fd.is_some() { &cmsg } else { &[] };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// What one receive gave.
pub(crate) enum Received {
    /// A message, with the descriptor attached to it.
    Msg(Vec<u8>, Option<OwnedFd>),
    /// The peer closed its end.
    Closed,
    /// Nothing to read (only without `block`).
    Empty,
}

/// Receives one message of any size (received descriptors are close-on-exec).
pub(crate) fn recv(sock: BorrowedFd<'_>, block: bool) -> Result<Received> {
    let flags = if block {
        MsgFlags::empty()
    } else {
        MsgFlags::MSG_DONTWAIT
    };
    // The size of the next datagram first (MSG_TRUNC with MSG_PEEK returns its length).
    let mut probe = [0u8; 1];
    let len = loop {
        let mut iov = [IoSliceMut::new(&mut probe)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            None,
            flags | MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
        ) {
            Ok(r) => break r.bytes,
            Err(nix::errno::Errno::EINTR) => continue,
            // A peer that closed with our message unread.
            Err(nix::errno::Errno::ECONNRESET) => return Ok(Received::Closed),
            Err(nix::errno::Errno::EAGAIN) if !block => return Ok(Received::Empty),
            Err(e) => return Err(Error::io("receive on the exec control socket", e.into())),
        }
    };
    let mut buf = vec![0u8; len.max(1)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            flags | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(r) => {
                let mut fd = None;
                for c in r.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        for raw in v {
                            // SAFETY: SCM_RIGHTS gave us a new descriptor that we now own.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            fd.get_or_insert(owned);
                        }
                    }
                }
                let n = r.bytes;
                if n == 0 && len == 0 {
                    return Ok(Received::Closed);
                }
                buf.truncate(n);
                return Ok(Received::Msg(buf, fd));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if !block => return Ok(Received::Empty),
            Err(e) => return Err(Error::io("receive on the exec control socket", e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn replies_round_trip() {
        for r in [
            Reply::Ok(42),
            Reply::Exit(137),
            Reply::Error {
                code: 127,
                msg: "exec: \"x\": executable file not found in $PATH".into(),
            },
        ] {
            assert_eq!(Reply::parse(&r.encode()).unwrap(), r);
        }
        assert!(Reply::parse("exit").is_err());
        assert!(Reply::parse("exit zero").is_err());
        assert!(Reply::parse("hello 1").is_err());
        assert_eq!(parse_signal("signal 15"), Some(15));
        assert_eq!(parse_signal("signal x"), None);
    }

    #[test]
    fn messages_and_descriptors_cross() {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        assert!(matches!(recv(b.as_fd(), false).unwrap(), Received::Empty));
        let big = vec![b'x'; 100_000];
        send(a.as_fd(), &big, None).unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        send(a.as_fd(), b"ok 7", Some(null.as_fd())).unwrap();
        match recv(b.as_fd(), true).unwrap() {
            Received::Msg(m, None) => assert_eq!(m, big),
            _ => panic!("expected the large message"),
        }
        match recv(b.as_fd(), true).unwrap() {
            Received::Msg(m, Some(_)) => assert_eq!(m, b"ok 7"),
            _ => panic!("expected a message with a descriptor"),
        }
        drop(a);
        assert!(matches!(recv(b.as_fd(), true).unwrap(), Received::Closed));
    }
}

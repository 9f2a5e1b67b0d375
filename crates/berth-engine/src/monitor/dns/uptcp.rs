//! Queries forwarded upstream over TCP (those a container asked over TCP, and those
//! whose UDP answer came back truncated): one connection per query from a socket in the monitor's own
//! namespace, as the UDP forwards. Everything is non-blocking and driven by the monitor's
//! poll loop (connect in progress, the framed query written as the socket takes it, the
//! framed answer read as it comes), so a slow or silent upstream never holds the loop up;
//! connections are few (`MAX`) and each has a deadline, after which the next upstream is
//! asked (or the client gets SERVFAIL after the last).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use berth_network::dns::{self, Query};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, connect, socket,
};
use rustix::event::PollFlags;

use super::{Client, UPSTREAM_TIMEOUT};

/// Upstream TCP connections at once, at most (more queries get SERVFAIL).
pub(super) const MAX: usize = 16;

/// One query on its way to an upstream, or its answer on its way back.
struct Up {
    stream: TcpStream,
    /// Still connecting (the first writable wakeup says how it went).
    connecting: bool,
    f: Fwd,
    server: usize,
    /// What is left to write (length prefix and query).
    out: Vec<u8>,
    /// What came back so far.
    inbuf: Vec<u8>,
    deadline: Instant,
}

/// A query to forward over TCP.
pub(super) struct Fwd {
    pub(super) client: Client,
    pub(super) query: Query,
    /// The query with our id, as the upstream gets it (framed again for each server).
    pub(super) msg: Vec<u8>,
    pub(super) upstream_id: u16,
    /// Asked over UDP (and answered truncated there).
    pub(super) udp: Option<UdpAsked>,
}

impl Fwd {
    fn failed(self) -> Done {
        Done {
            client: self.client,
            query: self.query,
            answer: None,
            udp: self.udp,
        }
    }
}

/// For a query a client asked over UDP: the truncated answer it gets if TCP fails too,
/// and the size of the largest answer it takes.
#[derive(Clone)]
pub(super) struct UdpAsked {
    pub(super) truncated: Vec<u8>,
    pub(super) limit: usize,
}

/// A finished query: the client and its answer (None: every upstream failed).
pub(super) struct Done {
    pub(super) client: Client,
    pub(super) query: Query,
    pub(super) answer: Option<Vec<u8>>,
    pub(super) udp: Option<UdpAsked>,
}

#[derive(Default)]
pub(super) struct UpTcp {
    ups: Vec<Up>,
}

/// A non-blocking connection to `addr`, in progress.
fn start_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let r = match addr {
        SocketAddr::V4(a) => connect(raw, &SockaddrIn::from(a)),
        SocketAddr::V6(a) => connect(raw, &SockaddrIn6::from(a)),
    };
    match r {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => Ok(TcpStream::from(fd)),
        Err(e) => Err(e.into()),
    }
}

fn framed(msg: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(msg.len()).ok()?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    Some(out)
}

impl UpTcp {
    pub(super) fn len(&self) -> usize {
        self.ups.len()
    }

    pub(super) fn waiting(&self, client: Client) -> bool {
        self.ups.iter().any(|u| u.f.client == client)
    }

    /// Sends `f` to `upstreams[server]` or a later one; what could be sent to none comes
    /// back as failed at once.
    pub(super) fn start(
        &mut self,
        upstreams: &[SocketAddr],
        server: usize,
        f: Fwd,
    ) -> Option<Done> {
        let Some(out) = framed(&f.msg) else {
            return Some(f.failed());
        };
        for (s, addr) in upstreams.iter().enumerate().skip(server) {
            if let Ok(stream) = start_connect(*addr) {
                self.ups.push(Up {
                    stream,
                    connecting: true,
                    f,
                    server: s,
                    out,
                    inbuf: Vec::new(),
                    deadline: Instant::now() + UPSTREAM_TIMEOUT,
                });
                return None;
            }
        }
        Some(f.failed())
    }

    pub(super) fn poll_fds<'a>(&'a self, v: &mut Vec<(BorrowedFd<'a>, PollFlags)>) {
        for u in &self.ups {
            let ev = if u.connecting || !u.out.is_empty() {
                PollFlags::OUT
            } else {
                PollFlags::IN
            };
            v.push((u.stream.as_fd(), ev));
        }
    }

    /// Moves the ready connections on (same order as `poll_fds`), and gives up on those
    /// past their deadline: answers that are complete, and queries to send on to the next
    /// upstream (`retry`, which calls `start` again) or failed.
    pub(super) fn on_ready(&mut self, ready: &[bool], upstreams: &[SocketAddr]) -> Vec<Done> {
        let now = Instant::now();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        let ups = std::mem::take(&mut self.ups);
        for (i, mut u) in ups.into_iter().enumerate() {
            let r = ready.get(i).copied().unwrap_or(false);
            let state = if r { step(&mut u) } else { Step::Wait };
            match state {
                Step::Answer(a)
                    if dns::tcp_reply_matches(&a, u.f.upstream_id, &u.f.query.question) =>
                {
                    done.push(Done {
                        client: u.f.client,
                        answer: Some(dns::with_id(&a, u.f.query.id)),
                        query: u.f.query,
                        udp: u.f.udp,
                    });
                }
                // A broken connection, or an answer to something else: the next server.
                Step::Answer(_) | Step::Failed => failed.push(u),
                Step::Wait if now >= u.deadline => failed.push(u),
                Step::Wait => self.ups.push(u),
            }
        }
        for u in failed {
            let next = u.server + 1;
            if let Some(d) = self.start(upstreams, next, u.f) {
                done.push(d);
            }
        }
        done
    }

    /// How long until the first deadline.
    pub(super) fn next_timeout(&self) -> Option<Duration> {
        self.ups
            .iter()
            .map(|u| u.deadline.saturating_duration_since(Instant::now()))
            .min()
    }
}

enum Step {
    Wait,
    Failed,
    Answer(Vec<u8>),
}

/// One ready connection: finish connecting, write what the socket takes, read what came.
fn step(u: &mut Up) -> Step {
    if u.connecting {
        match u.stream.take_error() {
            Ok(None) => u.connecting = false,
            _ => return Step::Failed,
        }
    }
    while !u.out.is_empty() {
        match u.stream.write(&u.out) {
            Ok(0) => return Step::Failed,
            Ok(n) => {
                u.out.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Step::Wait,
            Err(_) => return Step::Failed,
        }
    }
    let mut buf = [0u8; 4096];
    loop {
        match u.stream.read(&mut buf) {
            Ok(0) => return Step::Failed,
            Ok(n) => u.inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => return Step::Failed,
        }
        if u.inbuf.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([u.inbuf[0], u.inbuf[1]]));
            if u.inbuf.len() >= 2 + len {
                return Step::Answer(u.inbuf[2..2 + len].to_vec());
            }
        }
    }
    Step::Wait
}

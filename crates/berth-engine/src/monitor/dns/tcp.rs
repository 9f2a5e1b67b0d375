//! DNS over TCP on 127.0.0.11:53 (RFC 7766 framing: a two-byte length before each
//! message), for clients that ask over TCP or retry there. Connections are few and
//! bounded (count, buffered bytes, idle time); a client that breaks a limit is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

/// Connections at once, at most (more are closed at once).
const MAX_CONNS: usize = 16;
/// A connection with nothing to do for this long is closed.
const IDLE: Duration = Duration::from_secs(10);
/// Answers waiting for a client that does not read, at most.
const MAX_OUT: usize = 256 * 1024;

struct Conn {
    id: u64,
    stream: TcpStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    last: Instant,
    dead: bool,
}

#[derive(Default)]
pub(super) struct Conns {
    conns: Vec<Conn>,
    next_id: u64,
}

impl Conns {
    pub(super) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Each connection: input always, output while answers wait.
    pub(super) fn poll_fds<'a>(&'a self, v: &mut Vec<(BorrowedFd<'a>, PollFlags)>) {
        for c in &self.conns {
            let mut ev = if c.dead {
                PollFlags::empty()
            } else {
                PollFlags::IN
            };
            if !c.outbuf.is_empty() {
                ev |= PollFlags::OUT;
            }
            v.push((c.stream.as_fd(), ev));
        }
    }

    pub(super) fn accept(&mut self, l: &TcpListener) {
        for _ in 0..MAX_CONNS {
            let Ok((stream, _)) = l.accept() else { return };
            if self.conns.len() >= MAX_CONNS || stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.next_id += 1;
            self.conns.push(Conn {
                id: self.next_id,
                stream,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                last: Instant::now(),
                dead: false,
            });
        }
    }

    /// Reads and writes the ready connections (in `poll_fds` order); the complete
    /// messages received, with their connection's id.
    pub(super) fn on_ready(&mut self, ready: &[bool]) -> Vec<(u64, Vec<u8>)> {
        let mut msgs = Vec::new();
        for (c, r) in self.conns.iter_mut().zip(ready) {
            if !*r {
                continue;
            }
            if c.dead {
                flush(c);
                continue;
            }
            c.last = Instant::now();
            let mut buf = [0u8; 4096];
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        c.dead = true;
                        break;
                    }
                    Ok(n) => {
                        c.inbuf.extend_from_slice(&buf[..n]);
                        // One message is at most 2 + 65535 bytes; a client that sends
                        // more before reading its answers waits (we stop reading).
                        if c.inbuf.len() > 2 + usize::from(u16::MAX) {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        c.dead = true;
                        break;
                    }
                }
            }
            while c.inbuf.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([c.inbuf[0], c.inbuf[1]]));
                if len == 0 {
                    c.dead = true;
                    break;
                }
                if c.inbuf.len() < 2 + len {
                    break;
                }
                msgs.push((c.id, c.inbuf[2..2 + len].to_vec()));
                c.inbuf.drain(..2 + len);
            }
            flush(c);
        }
        msgs
    }

    /// Queues an answer for connection `id` (gone: dropped).
    pub(super) fn send(&mut self, id: u64, msg: &[u8]) {
        let Some(c) = self.conns.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let Ok(len) = u16::try_from(msg.len()) else {
            return;
        };
        if c.outbuf.len() + msg.len() + 2 > MAX_OUT {
            c.dead = true;
            return;
        }
        c.outbuf.extend_from_slice(&len.to_be_bytes());
        c.outbuf.extend_from_slice(msg);
        c.last = Instant::now();
        flush(c);
    }

    /// Closes the connections that are done (closed by the client or broken: once what
    /// is queued for them is written) and those idle too long (`waiting(id)`: a query
    /// of that connection is forwarded and pending, so it is not idle).
    pub(super) fn expire(&mut self, waiting: impl Fn(u64) -> bool) {
        let now = Instant::now();
        self.conns.retain(|c| {
            let idle = now >= c.last + IDLE;
            let done = if c.dead {
                c.outbuf.is_empty() || idle
            } else {
                idle && c.outbuf.is_empty() && !waiting(c.id)
            };
            !done
        });
    }

    /// How long until the first idle connection is closed.
    pub(super) fn next_timeout(&self) -> Option<Duration> {
        self.conns
            .iter()
            .map(|c| (c.last + IDLE).saturating_duration_since(Instant::now()))
            .min()
    }
}

/// Writes what the connection can take now.
fn flush(c: &mut Conn) {
    while !c.outbuf.is_empty() {
        match c.stream.write(&c.outbuf) {
            Ok(0) => {
                c.dead = true;
                c.outbuf.clear();
                return;
            }
            Ok(n) => {
                c.outbuf.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => {
                c.dead = true;
                c.outbuf.clear();
                return;
            }
        }
    }
}

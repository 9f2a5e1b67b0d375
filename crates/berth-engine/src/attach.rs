//! Attaching to a container: a connection to its monitor's socket that carries the
//! container's output to the client and the client's input, window size and start request
//! to the container. The frames are the monitor protocol's (`proto`, private); this is the
//! client side every front end uses (the CLI's terminal relay, later the API's hijacked
//! connections).

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::proto::{self, Hello};

/// Which streams an attached client wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Receive the exit code (`Output::Exit`) when the container stops for good.
    pub exit_code: bool,
}

/// What arrives from the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container stopped for good with this code; nothing follows.
    Exit(i32),
}

/// A client's connection to a container's monitor.
pub struct Attachment {
    sock: UnixStream,
    buf: Vec<u8>,
    /// The container as it was when attaching.
    pub container: Container,
}

impl Attachment {
    fn send(&self, kind: u8, payload: &[u8]) -> Result<()> {
        (&self.sock)
            .write_all(&proto::client_frame(kind, payload))
            .map_err(|e| Error::io("send to the container's monitor", e))
    }

    /// Starts a container created for an attach (`StartMode::OnAttach`): sent once the
    /// client is ready, so that no output is lost.
    pub fn start(&self) -> Result<()> {
        self.send(proto::START, &[])
    }

    /// Input for the container's stdin.
    pub fn send_stdin(&self, data: &[u8]) -> Result<()> {
        self.send(proto::STDIN, data)
    }

    /// Closes the container's stdin (without a terminal) once what was sent is taken.
    pub fn close_stdin(&self) -> Result<()> {
        self.send(proto::STDIN_CLOSE, &[])
    }

    /// The container's terminal size.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let mut p = rows.to_be_bytes().to_vec();
        p.extend_from_slice(&cols.to_be_bytes());
        self.send(proto::RESIZE, &p)
    }

    /// Reads what has arrived (blocking until something does): the complete frames, or
    /// `None` when the monitor closed the connection.
    pub fn read(&mut self) -> Result<Option<Vec<Output>>> {
        let mut chunk = [0u8; 32 * 1024];
        let n = loop {
            match (&self.sock).read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A reset connection is a closed one.
                Err(_) => break 0,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        let out = proto::take_stream_frames(&mut self.buf)
            .into_iter()
            .filter_map(|(stream, payload)| match stream {
                proto::STDOUT => Some(Output::Stdout(payload)),
                proto::STDERR => Some(Output::Stderr(payload)),
                proto::EXIT => <[u8; 4]>::try_from(payload.as_slice())
                    .ok()
                    .map(|b| Output::Exit(i32::from_be_bytes(b))),
                _ => None,
            })
            .collect();
        Ok(Some(out))
    }
}

/// The connection's descriptor, to wait for output with poll(2).
impl AsFd for Attachment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Engine {
    /// Connects to a running (or attach-waiting) container's monitor.
    pub fn attach(&self, key: &str, streams: AttachStreams) -> Result<Attachment> {
        let c = self.container(key)?;
        crate::proto::check_monitor(c.state.monitor_proto, &c.name)?;
        let sock = self.paths.attach_socket(&c.id);
        let s = crate::paths::Paths::with_socket_path(&sock, |p| UnixStream::connect(p)).map_err(
            |e| {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) {
                    Error::Conflict(format!(
                        "you cannot attach to a stopped container, start it first ({})",
                        c.name
                    ))
                } else {
                    Error::io(format!("connect to {}", sock.display()), e)
                }
            },
        )?;
        let hello = Hello {
            stdin: streams.stdin,
            stdout: streams.stdout,
            stderr: streams.stderr,
            want_exit: streams.exit_code,
        };
        let body = serde_json::to_vec(&hello)
            .map_err(|e| Error::Internal(format!("encode attach request: {e}")))?;
        (&s).write_all(&proto::client_frame(proto::HELLO, &body))
            .map_err(|e| Error::io("send the attach request", e))?;
        Ok(Attachment {
            sock: s,
            buf: Vec::new(),
            container: c,
        })
    }
}

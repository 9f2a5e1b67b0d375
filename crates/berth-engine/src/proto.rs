//! The attach protocol between a client (`berth run`, `attach`, `start -a`) and a container's
//! monitor, over the monitor's unix socket.
//!
//! Client → monitor: frames `[kind: u8][len: u32 BE][payload]`; the first is `HELLO` with a
//! JSON `Hello`. Monitor → client: Docker's multiplexed stream (8-byte header
//! `[stream, 0, 0, 0, len: u32 BE]`, stream 1 stdout, 2 stderr; a tty's output is all
//! stdout). When the container is gone for good and the client asked for it, a last `EXIT`
//! frame (stream 0xff, payload the exit code as i32 BE) precedes the end of the stream.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The version of this protocol (and of the monitor's command line) that this berth
/// speaks. Monitors outlive upgrades of the `berth` binary: each running container records
/// its monitor's version (`State::monitor_proto`), and a client checks it before talking.
///
/// - 1: the first protocol (recorded as 0 by monitors that predate versions).
/// - 2: the same frames; the monitor records its version and takes `--proto` and
///   `--notify-fd 3` from a spawn that passes it no other descriptor.
/// - 3: `OPEN_DNS` (start the embedded resolver now, answered by a `DNS_OPENED` frame);
///   a monitor of 2 ignores it.
pub const VERSION: u32 = 3;

/// The oldest monitor protocol this berth can still talk to.
pub const OLDEST: u32 = 1;

/// Checks the `--proto` that a starter passed to this berth-monitor (a container's monitor
/// or an exec helper): they must come from the same build.
pub(crate) fn check_starter(starter: u32) -> Result<()> {
    if starter != VERSION {
        return Err(Error::Unsupported(format!(
            "this berth-monitor speaks protocol {VERSION}, its starter {starter}: install berth \
             and berth-monitor from the same build"
        )));
    }
    Ok(())
}

/// The arguments every `berth-monitor` of this berth gets: where the data is, which
/// container, and the protocol this berth speaks.
pub fn monitor_args(
    root: &std::path::Path,
    runroot: &std::path::Path,
    id: &str,
) -> Vec<std::ffi::OsString> {
    vec![
        "--root".into(),
        root.into(),
        "--runroot".into(),
        runroot.into(),
        "--id".into(),
        id.into(),
        "--proto".into(),
        VERSION.to_string().into(),
    ]
}

/// Checks that a client of this berth can talk to a monitor that recorded `recorded`
/// (0: a monitor from before versions, which speaks 1).
pub fn check_monitor(recorded: u32, container: &str) -> Result<()> {
    let v = recorded.max(1);
    if v > VERSION {
        return Err(Error::Unsupported(format!(
            "container {container} is run by a monitor that speaks protocol {v}, newer than this \
             berth's ({VERSION}): use the berth that started it, or restart the container"
        )));
    }
    if v < OLDEST {
        return Err(Error::Unsupported(format!(
            "container {container} is run by a monitor that speaks protocol {v}, older than this \
             berth can talk to ({OLDEST}): restart the container"
        )));
    }
    Ok(())
}

/// Client frame kinds.
pub const HELLO: u8 = 4;
pub const STDIN: u8 = 0;
pub const STDIN_CLOSE: u8 = 1;
pub const RESIZE: u8 = 2;
pub const START: u8 = 3;
/// `network connect` gave a running container its first user-defined network: the
/// monitor starts its embedded resolver (reading the container's record again) and
/// answers with a `DNS_OPENED` frame (payload empty: it answers; else the error's text).
pub const OPEN_DNS: u8 = 5;
/// The monitor's answer to `OPEN_DNS`.
pub const DNS_OPENED: u8 = 0xfe;

/// Monitor stream ids.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 0xff;

/// The first frame of a client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hello {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Send the `EXIT` frame when the container exits for good.
    pub want_exit: bool,
}

/// Encodes a client frame.
pub fn client_frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + payload.len());
    push_frames(&mut v, &[kind], payload, u32::MAX);
    v
}

/// Encodes a monitor frame (non-tty streams and `EXIT`).
pub fn stream_frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    push_frames(&mut v, &[stream, 0, 0, 0], payload, u32::MAX);
    v
}

/// Appends `payload` as frames of `head` and a big-endian u32 length. A frame holds at most
/// `max` bytes (u32::MAX: its length is a u32): the rest of a longer payload, such as the
/// stdin data a front end passes on, follows in frames of the same kind.
fn push_frames(v: &mut Vec<u8>, head: &[u8], payload: &[u8], max: u32) {
    let mut rest = payload;
    loop {
        let n = u32::try_from(rest.len()).map_or(max, |n| n.min(max));
        let (chunk, tail) = rest.split_at(n as usize);
        v.extend_from_slice(head);
        v.extend_from_slice(&n.to_be_bytes());
        v.extend_from_slice(chunk);
        rest = tail;
        if rest.is_empty() {
            return;
        }
    }
}

/// Splits complete client frames off the front of `buf`: (kind, payload) each.
pub fn take_client_frames(buf: &mut Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while buf.len() - pos >= 5 {
        let len =
            u32::from_be_bytes([buf[pos + 1], buf[pos + 2], buf[pos + 3], buf[pos + 4]]) as usize;
        if buf.len() - pos - 5 < len {
            break;
        }
        out.push((buf[pos], buf[pos + 5..pos + 5 + len].to_vec()));
        pos += 5 + len;
    }
    buf.drain(..pos);
    out
}

/// Splits complete monitor frames off the front of `buf`: (stream, payload) each.
pub fn take_stream_frames(buf: &mut Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while buf.len() - pos >= 8 {
        let len =
            u32::from_be_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]) as usize;
        if buf.len() - pos - 8 < len {
            break;
        }
        out.push((buf[pos], buf[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len;
    }
    buf.drain(..pos);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_versions() {
        check_monitor(0, "old").unwrap();
        check_monitor(1, "v1").unwrap();
        check_monitor(VERSION, "now").unwrap();
        let e = check_monitor(VERSION + 1, "web").unwrap_err().to_string();
        assert!(e.contains("container web") && e.contains("newer"), "{e}");
    }

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut wire = client_frame(HELLO, br#"{"stdin":true}"#);
        wire.extend(client_frame(STDIN, b"abc"));
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(3) {
            buf.extend_from_slice(chunk);
            got.extend(take_client_frames(&mut buf));
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], (STDIN, b"abc".to_vec()));
        let h: Hello = serde_json::from_slice(&got[0].1).unwrap();
        assert!(h.stdin && !h.stdout);
        let mut s = stream_frame(STDERR, b"oops");
        s.extend(stream_frame(EXIT, &7i32.to_be_bytes()));
        let f = take_stream_frames(&mut s);
        assert_eq!(f[0], (STDERR, b"oops".to_vec()));
        assert_eq!(f[1].0, EXIT);
        assert!(s.is_empty());
    }

    #[test]
    fn long_payloads_go_on_in_further_frames() {
        let mut v = Vec::new();
        push_frames(&mut v, &[STDIN], b"abcdefg", 3);
        let f = take_client_frames(&mut v);
        let parts: Vec<&[u8]> = f.iter().map(|(_, p)| p.as_slice()).collect();
        assert_eq!(parts, [&b"abc"[..], b"def", b"g"]);
        assert!(f.iter().all(|(k, _)| *k == STDIN));
        // An empty payload is still one frame (START has none).
        assert_eq!(client_frame(START, &[]), [START, 0, 0, 0, 0]);
    }
}

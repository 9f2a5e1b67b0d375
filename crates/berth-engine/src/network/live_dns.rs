//! A running container that had no embedded resolver (it was on the default `bridge`
//! only) and is `network connect`ed to a user-defined network resolves that network's
//! names at once, as Docker's: its monitor is asked (`proto::OPEN_DNS`, on its attach
//! socket) to bind 127.0.0.11:53 in the container's namespace, and once it answers, the
//! container's resolv.conf is rewritten in place to name it (as at a start on such a
//! network).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::proto;

/// How long the monitor has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Starts the resolver of running container `c` (its record already has the new
/// network) and points its resolv.conf at it.
pub(super) fn open_resolver(engine: &Engine, c: &Container) -> Result<()> {
    if c.state.monitor_proto < 3 {
        return Err(Error::Unsupported(format!(
            "the monitor of {} predates live resolvers: names resolve after its next start",
            c.name
        )));
    }
    let sock = engine.paths.attach_socket(&c.id);
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {}", sock.display()), e);
    let mut s = crate::paths::Paths::with_socket_path(&sock, |p| UnixStream::connect(p))
        .map_err(|e| io("connect to", e))?;
    s.set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(|e| io("set a timeout on", e))?;
    let hello = serde_json::to_vec(&proto::Hello::default())
        .map_err(|e| Error::Internal(format!("encode the hello: {e}")))?;
    let mut req = proto::client_frame(proto::HELLO, &hello);
    req.extend(proto::client_frame(proto::OPEN_DNS, &[]));
    s.write_all(&req).map_err(|e| io("write to", e))?;
    // Frames until the answer (this client asked for no stream: nothing else is sent).
    loop {
        let mut head = [0u8; 8];
        s.read_exact(&mut head)
            .map_err(|e| io("read the answer from", e))?;
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len > 64 * 1024 {
            return Err(Error::Internal(format!(
                "the monitor of {} sent a frame of {len} bytes",
                c.name
            )));
        }
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload)
            .map_err(|e| io("read the answer from", e))?;
        if head[0] != proto::DNS_OPENED {
            continue;
        }
        if !payload.is_empty() {
            return Err(Error::Internal(
                String::from_utf8_lossy(&payload).into_owned(),
            ));
        }
        break;
    }
    let text = crate::etc_files::resolv_conf(
        c,
        &crate::etc_files::host_resolv_conf(),
        &engine.settings()?.dns,
    );
    crate::etc_hosts::rewrite(
        &engine.paths.container_dir(&c.id).join("resolv.conf"),
        &text,
    )
}

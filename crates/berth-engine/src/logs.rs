//! Reading a container's log (`berth logs`): tail, since/until, follow.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::logfile::{self, Record};
use crate::proto::{self, Hello};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Only the last N records (None: all).
    pub tail: Option<usize>,
    /// RFC 3339 bounds (records are compared by their time strings, which sort correctly).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Keep reading until the container stops.
    pub follow: bool,
}

fn in_range(r: &Record, o: &LogsOptions) -> bool {
    o.since.as_deref().is_none_or(|s| r.time.as_str() >= s)
        && o.until.as_deref().is_none_or(|u| r.time.as_str() < u)
}

impl Engine {
    /// Calls `sink` with each record; with `follow`, waits for more until the container has
    /// stopped (or `sink` returns false, or `cancel` fires: `Error::Cancelled`).
    pub fn logs(
        &self,
        key: &str,
        o: &LogsOptions,
        cancel: &Cancel,
        mut sink: impl FnMut(&Record) -> bool,
    ) -> Result<()> {
        let c = self.container(key)?;
        if c.config.host.log.disabled {
            return Err(Error::Unsupported(format!(
                "configured logging driver does not support reading (container {} logs with none)",
                c.name
            )));
        }
        let path = self.paths.log_file(&c.id);
        let all = logfile::read_all(&path)?;
        let mut recs: Vec<&Record> = all.iter().filter(|r| in_range(r, o)).collect();
        if let Some(n) = o.tail {
            let skip = recs.len().saturating_sub(n);
            recs.drain(..skip);
        }
        for r in recs {
            if !sink(r) {
                return Ok(());
            }
        }
        if !o.follow {
            return Ok(());
        }
        let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        loop {
            let live = self
                .container(&c.id)
                .map(|c| c.state.status.is_live())
                .unwrap_or(false);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size < offset {
                // Rotated: the new live file starts from zero.
                offset = 0;
            }
            let (new, pos) = logfile::read_file(&path, offset)?;
            offset = pos;
            for r in new.iter().filter(|r| in_range(r, o)) {
                if !sink(r) {
                    return Ok(());
                }
            }
            if !live {
                return Ok(());
            }
            if let Some(u) = &o.until
                && berth_runtime::util::rfc3339(std::time::SystemTime::now()) >= *u
            {
                return Ok(());
            }
            cancel.sleep(Duration::from_millis(100), "logs")?;
        }
    }

    /// Connects to a running (or attach-waiting) container's monitor.
    pub fn attach(&self, key: &str, hello: &Hello) -> Result<(UnixStream, crate::Container)> {
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
        let body = serde_json::to_vec(hello)
            .map_err(|e| Error::Internal(format!("encode attach request: {e}")))?;
        use std::io::Write;
        (&s).write_all(&proto::client_frame(proto::HELLO, &body))
            .map_err(|e| Error::io("send the attach request", e))?;
        Ok((s, c))
    }
}

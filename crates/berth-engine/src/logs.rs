//! Reading a container's log (`berth logs`): tail, since/until, follow.

use std::time::Duration;

use crate::cancel::Cancel;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::logfile::{self, Record};

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

/// `--tail` (the API's `tail`) as Docker's daemon reads it: a number of lines; anything
/// else ("all", a negative number, a typo) means every line.
pub fn tail_lines(s: &str) -> Option<usize> {
    s.trim()
        .parse::<i64>()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
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
}

#[cfg(test)]
mod tests {
    use super::tail_lines;

    #[test]
    fn tail_as_docker_reads_it() {
        assert_eq!(tail_lines("3"), Some(3));
        assert_eq!(tail_lines("+2"), Some(2));
        assert_eq!(tail_lines("0"), Some(0));
        for all in ["all", "-1", "-5", "abc", "1.5", "", "99999999999999999999"] {
            assert_eq!(tail_lines(all), None, "{all}");
        }
    }
}

//! Small helpers: time formatting, /proc parsing, atomic files.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Context, Result};

/// Formats a time as RFC 3339 in UTC with nanoseconds, as runc does.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What /proc/PID/stat says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (R, S, D, Z, T, ...).
    pub state: char,
    /// Start time in clock ticks after boot (field 22).
    pub start_time: u64,
    /// Parent pid.
    pub ppid: i32,
}

/// Parses the contents of /proc/PID/stat.
pub fn parse_stat(s: &str) -> Option<ProcStat> {
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state).
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Reads /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

/// Whether the process `pid` started at `start_time` is alive (and not a zombie).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some(st) => st.start_time == start_time && st.state != 'Z' && st.state != 'X',
        None => false,
    }
}

/// What the runtime needs from /proc/self/status before forking: its thread count and the
/// signals it ignores (ignored dispositions survive execve, so the container process must
/// get them reset).
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfStatus {
    pub threads: usize,
    /// Bit N-1 set: signal N is ignored.
    pub ignored_signals: u64,
}

/// What reading /proc/self/status is for, in its errors.
const STATUS_CONTEXT: &str =
    "read /proc/self/status (to check that this process is single-threaded)";

/// Reads /proc/self/status once. Fails when it cannot be read or has no thread count: the
/// callers must then not fork (a process that may have other threads is not safe to fork).
pub fn self_status() -> Result<SelfStatus> {
    let text = std::fs::read_to_string("/proc/self/status").ctx(|| STATUS_CONTEXT)?;
    parse_self_status(&text)
}

fn parse_self_status(text: &str) -> Result<SelfStatus> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let threads = field("Threads:")
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "no valid Threads: line")
        })
        .ctx(|| STATUS_CONTEXT)?;
    Ok(SelfStatus {
        threads,
        ignored_signals: field("SigIgn:")
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(u64::MAX),
    })
}

/// The number of threads of this process.
pub fn thread_count() -> Result<usize> {
    Ok(self_status()?.threads)
}

/// Writes a file atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, true)
}

/// Replaces a file atomically (temp file + rename) without fsync, for volatile state.
pub fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, false)
}

fn write_file(path: &Path, data: &[u8], sync: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.ctx(|| format!("write {}", path.display()))
}

/// Maps a signal name ("TERM", "SIGTERM", "sigkill") or number ("15") to a signal.
pub fn parse_signal(s: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    let name = match name.as_str() {
        "SIGCLD" => "SIGCHLD".to_string(),
        "SIGPOLL" => "SIGIO".to_string(),
        "SIGIOT" => "SIGABRT".to_string(),
        _ => name,
    };
    nix::sys::signal::Signal::from_str(&name).ok()
}

/// Prints `label` with the microseconds since the first call, when BERTH_RUNTIME_TRACE is
/// set: a cheap way to see where a container start spends its time.
pub fn trace(label: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<Option<std::time::Instant>> = OnceLock::new();
    let start = START
        .get_or_init(|| std::env::var_os("BERTH_RUNTIME_TRACE").map(|_| std::time::Instant::now()));
    if let Some(s) = start {
        eprintln!(
            "[{:>6}us pid {}] {label}",
            s.elapsed().as_micros(),
            std::process::id()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert!(rfc3339(leap).starts_with("2000-02-29T"));
    }

    #[test]
    fn parses_stat_with_odd_names() {
        let s = "123 (a b) c)) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        let st = parse_stat(s).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.start_time, 98765);
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).unwrap();
        assert!(process_alive(me, st.start_time));
        assert!(!process_alive(me, st.start_time + 1));
    }

    #[test]
    fn self_status_fails_closed() {
        let st = parse_self_status("Name:\tx\nThreads:\t3\nSigIgn:\t0000000000001000\n").unwrap();
        assert_eq!(st.threads, 3);
        assert_eq!(st.ignored_signals, 0x1000);
        // Without a thread count the caller must not fork: an error, never "1 thread".
        assert!(parse_self_status("Name:\tx\n").is_err());
        assert!(parse_self_status("Threads:\tmany\n").is_err());
        assert!(self_status().unwrap().threads >= 1);
    }

    #[test]
    fn signals() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("TERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("sigusr1"), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("bogus"), None);
    }
}

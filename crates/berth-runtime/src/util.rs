//! Small helpers: time formatting, /proc parsing, atomic files, checked numeric
//! conversions.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Context, Result};

/// RFC 3339 in UTC with nanoseconds (always nine digits), as runc and Docker record times.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    crate::time::format_rfc3339_nanos(secs, d.subsec_nanos())
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

/// Writes a file atomically: temp file in the same directory, fsync, rename (mode 0644).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, true, 0o644)
}

/// Replaces a file atomically (temp file + rename) without fsync, for volatile state
/// (mode 0644: what containers read, such as /etc/hosts).
pub fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, false, 0o644)
}

/// `write_replace` for files only their owner may read (mode 0600): state, configs that
/// hold a container's environment.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, false, 0o600)
}

/// Creates `dir` (and its parents) and makes it private to its owner with `mode`: an
/// existing directory that lets group or others in is corrected.
pub fn private_dir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .ctx(|| format!("create {}", dir.display()))?;
    let meta = std::fs::metadata(dir).ctx(|| format!("stat {}", dir.display()))?;
    if meta.permissions().mode() & 0o7777 != mode {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .ctx(|| format!("make {} private (mode {mode:o})", dir.display()))?;
    }
    Ok(())
}

fn write_file(path: &Path, data: &[u8], sync: bool, mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and call, so that two threads never share a temporary file.
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away: the mode is what the caller asked for.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
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

/// 2^63 and 2^64 as floats (exact): the first values past i64's and u64's ranges.
const F64_2_POW_63: f64 = 9_223_372_036_854_775_808.0;
const F64_2_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// `v` rounded toward zero, when it is finite and within i64's range (None otherwise, where
/// an `as` cast would saturate silently).
pub fn f64_to_i64(v: f64) -> Option<i64> {
    if !(-F64_2_POW_63..F64_2_POW_63).contains(&v) {
        return None;
    }
    // The range check above (which NaN fails) leaves only values whose integer part is an
    // i64; dropping the fraction is what this function is for.
    #[allow(clippy::cast_possible_truncation)]
    Some(v as i64)
}

/// `v` rounded toward zero, when it is finite, not negative and within u64's range (None
/// otherwise, where an `as` cast would saturate silently).
pub fn f64_to_u64(v: f64) -> Option<u64> {
    if !(0.0..F64_2_POW_64).contains(&v) {
        return None;
    }
    // The range check above (which NaN fails) leaves only values whose integer part is a
    // u64; dropping the fraction is what this function is for.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(v as u64)
}

/// Takes ownership of the descriptor a system call returned; a negative `r` gives the
/// call's error (errno).
///
/// # Safety
/// A non-negative `r` must be a new descriptor that nothing else owns or closes.
pub unsafe fn owned_fd(r: libc::c_long) -> std::io::Result<OwnedFd> {
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = RawFd::try_from(r).map_err(|_| {
        std::io::Error::other(format!("system call returned descriptor {r}, out of range"))
    })?;
    // SAFETY: the caller promises that `fd` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
        let me = nix::unistd::getpid().as_raw();
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
    fn float_conversions_refuse_what_would_saturate() {
        assert_eq!(f64_to_i64(1.9), Some(1));
        assert_eq!(f64_to_i64(-1.9), Some(-1));
        assert_eq!(f64_to_i64(-F64_2_POW_63), Some(i64::MIN));
        assert_eq!(f64_to_i64(F64_2_POW_63), None);
        assert_eq!(f64_to_i64(f64::NAN), None);
        assert_eq!(f64_to_i64(f64::NEG_INFINITY), None);
        assert_eq!(f64_to_u64(0.5), Some(0));
        assert_eq!(f64_to_u64(1e19), Some(10_000_000_000_000_000_000));
        assert_eq!(f64_to_u64(F64_2_POW_64), None);
        assert_eq!(f64_to_u64(-0.5), None);
        assert_eq!(f64_to_u64(f64::INFINITY), None);
        assert_eq!(f64_to_u64(f64::NAN), None);
    }

    #[test]
    fn owned_fd_passes_on_errors() {
        // SAFETY: a negative value is never taken as a descriptor.
        assert!(unsafe { owned_fd(-1) }.is_err());
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

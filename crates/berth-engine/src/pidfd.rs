//! A container's init watched through a pidfd, whoever its parent is. A monitor that
//! adopted a container is not its init's parent, so waitpid cannot give the exit status:
//! the kernel keeps it for pidfd holders once the process is reaped (PIDFD_GET_INFO with
//! PIDFD_INFO_EXIT, Linux 6.15), and /proc/PID/stat shows it while the process is a zombie.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A pidfd for `pid`, checked to be the process that started at `start` (clock ticks).
pub(crate) fn open(pid: i32, start: u64) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Error::io(
            format!("open a pidfd of process {pid}"),
            std::io::Error::last_os_error(),
        ));
    }
    let fd = i32::try_from(fd).map_err(|_| Error::Internal("pidfd out of range".into()))?;
    // SAFETY: pidfd_open returned a new descriptor that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Opened after the check would race a reuse; checked after the open, the pidfd pins
    // the process we verified (a reused pid would be another process, another start).
    match berth_runtime::util::proc_stat(pid) {
        Some(st) if st.start_time == start => Ok(fd),
        _ => Err(Error::Conflict(format!("process {pid} is gone"))),
    }
}

/// The pid a pidfd refers to (from /proc/self/fdinfo), if it still has one.
pub(crate) fn pid_of(fd: BorrowedFd<'_>) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|p: &i32| *p > 0)
}

/// Linux's struct pidfd_info up to exit_code (PIDFD_INFO_SIZE_VER0, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

const PIDFD_INFO_EXIT: u64 = 1 << 3;
// _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info of 64 bytes).
const PIDFD_GET_INFO: libc::c_ulong = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;

/// The exit status (as waitpid reports it) the kernel keeps for a reaped process.
fn reaped_status(fd: BorrowedFd<'_>) -> Option<i32> {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..Default::default()
    };
    // SAFETY: the ioctl fills the 64-byte struct we own, the size its number encodes.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), PIDFD_GET_INFO, &mut info as *mut PidfdInfo) };
    (r == 0 && info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code)
}

/// The exit status of a zombie `pid` that started at `start` (field 52 of its stat).
pub(crate) fn zombie_status(pid: i32, start: u64) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: f[0] is field 3 (state), so field N is f[N - 3].
    let state = f.first()?;
    let started: u64 = f.get(22 - 3)?.parse().ok()?;
    if *state != "Z" || started != start {
        return None;
    }
    f.get(52 - 3)?.parse().ok()
}

/// Docker's exit code for a wait status: the code, or 128 + the signal.
pub(crate) fn exit_code(status: i32) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// The exit code of the process `fd` refers to (pid `pid`, started at `start`), once its
/// pidfd said it exited: from the kernel's record when it was reaped, else from its stat
/// while it is a zombie. None if neither tells within a few seconds.
pub(crate) fn exit_code_of(fd: BorrowedFd<'_>, pid: i32, start: u64) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = reaped_status(fd).or_else(|| zombie_status(pid, start)) {
            return Some(exit_code(st));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A process that is not our child: its exit code still reaches a pidfd holder.
    #[test]
    fn exit_code_of_a_process_we_did_not_fork() {
        let sh = "sleep 0.2 & echo $!; exit 0";
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", sh])
            .output()
            .unwrap();
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let start = berth_runtime::util::proc_stat(pid).unwrap().start_time;
        let fd = open(pid, start).unwrap();
        assert_eq!(pid_of(fd.as_fd()), Some(pid));
        let mut pfd = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(5000u16)).unwrap();
        assert_eq!(exit_code_of(fd.as_fd(), pid, start), Some(0));
        assert!(open(pid, start + 1).is_err());
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(3 << 8), 3);
    }
}

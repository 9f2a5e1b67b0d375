//! The container process's own settings: rlimits, OOM score, scheduling, user and groups,
//! capabilities, no_new_privs, seccomp, LSM labels, environment, and finally execve.

use std::collections::HashSet;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimitType, Process};

use crate::error::{Context, Error, ExecFailure, Result};
use crate::seccomp;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn rlimit_resource(t: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource as R;
    match t {
        PosixRlimitType::RlimitCpu => R::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => R::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => R::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => R::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => R::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => R::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => R::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => R::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => R::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => R::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => R::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => R::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => R::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => R::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => R::RLIMIT_RTTIME,
    }
}

fn has_cap(cap: Cap) -> bool {
    caps::has_cap(None, CapSet::Effective, cap).unwrap_or(false)
}

/// Settings applied while still privileged, before the container is reported created, so
/// that their errors reach `create`: rlimits, OOM score, I/O priority, scheduler, CPU
/// affinity.
pub fn apply_early(p: &Process) -> Result<()> {
    for r in p.rlimits().as_deref().unwrap_or(&[]) {
        let res = rlimit_resource(r.typ());
        if let Err(e) = nix::sys::resource::setrlimit(res, r.soft(), r.hard()) {
            let name = serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| format!("{:?}", r.typ()));
            let (_, cur_hard) = nix::sys::resource::getrlimit(res).unwrap_or((0, 0));
            if e == nix::errno::Errno::EPERM
                && r.hard() > cur_hard
                && !has_cap(Cap::CAP_SYS_RESOURCE)
            {
                return Err(Error::NotPermitted {
                    setting: format!("process.rlimits {name}"),
                    msg: format!(
                        "hard limit {} is above the current hard limit {cur_hard}; raising it needs \
                         CAP_SYS_RESOURCE, which this process lacks",
                        r.hard()
                    ),
                });
            }
            return Err(e).ctx(|| format!("setrlimit {name} {}:{}", r.soft(), r.hard()));
        }
    }
    if let Some(adj) = p.oom_score_adj() {
        set_oom_score_adj(adj)?;
    }
    if let Some(io) = p.io_priority() {
        let (class, level) = io_priority(io, "process")?;
        crate::sys::ioprio_set(class, level)
            .ctx(|| format!("process.ioPriority: set class {class} priority {level}"))?;
    }
    if let Some(s) = p.scheduler() {
        set_scheduler(s)?;
    }
    if let Some(aff) = p.exec_cpu_affinity() {
        let list = aff
            .cpu_affinity_final()
            .as_deref()
            .or(aff.initial().as_deref());
        if let Some(list) = list {
            set_affinity(list)?;
        }
    }
    Ok(())
}

fn set_oom_score_adj(adj: i32) -> Result<()> {
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    match std::fs::write("/proc/self/oom_score_adj", adj.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(Error::NotPermitted {
            setting: format!("process.oomScoreAdj {adj}"),
            msg: format!(
                "lowering the OOM score adjustment below the current {current} needs \
                 CAP_SYS_RESOURCE, which this process lacks"
            ),
        }),
        Err(e) => Err(e).ctx(|| format!("process.oomScoreAdj: write {adj}")),
    }
}

/// Checks the numbers of a process object that the kernel takes in narrower types (`field`
/// names the process object), so that they fail before anything starts.
pub(crate) fn check_numbers(p: &Process, field: &str) -> Result<()> {
    if let Some(io) = p.io_priority() {
        io_priority(io, field)?;
    }
    if let Some(s) = p.scheduler() {
        sched_priority(s, field)?;
    }
    if let Some(size) = p.console_size() {
        crate::console::spec_size(&size, &format!("{field}.consoleSize"))?;
    }
    Ok(())
}

/// The I/O priority `ioPriority` asks for, as (class, level): the spec's levels are 0-7
/// (higher values would spill into the kernel's hint bits).
fn io_priority(io: &oci_spec::runtime::LinuxIOPriority, field: &str) -> Result<(u8, u8)> {
    use oci_spec::runtime::IOPriorityClass as C;
    let class = match io.class() {
        C::IoprioClassRt => 1,
        C::IoprioClassBe => 2,
        C::IoprioClassIdle => 3,
    };
    let level = u8::try_from(io.priority())
        .ok()
        .filter(|l| *l <= 7)
        .ok_or_else(|| {
            Error::spec(
                format!("{field}.ioPriority.priority"),
                format!("{} is out of range 0-7", io.priority()),
            )
        })?;
    Ok((class, level))
}

/// The scheduler's static priority as sched_attr takes it (unsigned).
fn sched_priority(s: &oci_spec::runtime::Scheduler, field: &str) -> Result<u32> {
    let p = s.priority().unwrap_or(0);
    u32::try_from(p).map_err(|_| {
        Error::spec(
            format!("{field}.scheduler.priority"),
            format!("{p} must not be negative"),
        )
    })
}

/// The first descriptor after the `n` preserved ones (3 + n); refused when it is past what
/// a descriptor number can be.
pub(crate) fn preserved_end(n: u32) -> Result<std::os::fd::RawFd> {
    std::os::fd::RawFd::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(3))
        .ok_or_else(|| Error::arg("--preserve-fds", format!("{n} is too large")))
}

fn set_scheduler(s: &oci_spec::runtime::Scheduler) -> Result<()> {
    use oci_spec::runtime::{LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P};
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().as_deref().unwrap_or(&[]) {
        flags |= match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        };
    }
    let mut attr = crate::sys::SchedAttr {
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: sched_priority(s, "process")?,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    crate::sys::sched_setattr(&mut attr)
        .ctx(|| format!("process.scheduler: policy {:?}", s.policy()))
}

fn set_affinity(list: &str) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = match (a.trim().parse(), b.trim().parse()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => {
                return Err(Error::spec(
                    "process.execCPUAffinity",
                    format!("{list:?} is not a cpu list"),
                ));
            }
        };
        for cpu in a..=b {
            set.set(cpu)
                .ctx(|| format!("process.execCPUAffinity: cpu {cpu}"))?;
        }
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .ctx(|| format!("process.execCPUAffinity: set {list}"))
}

/// The executable `arg0` resolves to with `env`'s PATH, checked for existence.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let failed = |cause| Error::Exec {
        path: arg0.to_string(),
        cause,
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        let meta = std::fs::metadata(&p).map_err(|e| {
            failed(ExecFailure::from_errno(
                e.raw_os_error().unwrap_or(0),
                || e.to_string(),
            ))
        })?;
        if meta.is_dir() {
            return Err(failed(ExecFailure::IsDirectory));
        }
        return Ok(p);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand)
            && m.is_file()
            && m.permissions().mode() & 0o111 != 0
        {
            return Ok(cand);
        }
    }
    Err(failed(ExecFailure::NotInPath))
}

/// What `finalize` needs besides the process.
pub struct Finalize<'a> {
    pub process: &'a Process,
    pub seccomp: Option<&'a seccomp::Compiled>,
    /// A connected socket to send the seccomp notify descriptor to.
    pub seccomp_listener: Option<&'a std::os::unix::net::UnixStream>,
    /// The state JSON sent along with the notify descriptor.
    pub seccomp_state: &'a str,
    pub new_keyring: bool,
    /// Descriptors 3..3+N stay open across exec.
    pub preserve_fds: u32,
    /// The executable, resolved by `find_executable`.
    pub exe: &'a Path,
    /// Whether setgroups(2) is allowed (false in a user namespace with setgroups denied).
    pub setgroups: bool,
}

/// Drops privileges as the process asks and executes it. Returns only on error.
pub fn finalize(f: &Finalize) -> Result<Infallible> {
    let p = f.process;
    if f.new_keyring
        && let Err(e) = crate::sys::join_session_keyring("_ses.berth")
        && !matches!(
            e.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EACCES)
        )
    {
        return Err(e).ctx(|| "join a new session keyring");
    }
    if let Some(prof) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
        let file = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(file, format!("exec {prof}"))
            .ctx(|| format!("apply AppArmor profile {prof}"))?;
    }
    if let Some(label) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
        std::fs::write("/proc/self/attr/exec", label)
            .ctx(|| format!("apply SELinux label {label}"))?;
    }
    let nnp = p.no_new_privileges() == Some(true);
    if !nnp && let Some(sc) = f.seccomp {
        load_seccomp(f, sc)?;
    }
    let user = p.user();
    let cwd = p.cwd();
    nix::unistd::chdir(cwd.as_path()).ctx(|| format!("chdir to cwd {}", cwd.display()))?;
    if let Some(c) = p.capabilities() {
        drop_bounding(c)?;
    }
    nix::sys::prctl::set_keepcaps(true).ctx(|| "keep capabilities across setuid")?;
    if f.setgroups {
        let gids: Vec<nix::unistd::Gid> = user
            .additional_gids()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&gids).ctx(|| format!("setgroups {:?}", user.additional_gids()))?;
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setgid {}", user.gid()))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setuid {}", user.uid()))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "clear keepcaps")?;
    if let Some(c) = p.capabilities() {
        set_caps(c)?;
    }
    // Running as the user now: the cwd may have been reachable only as root.
    let _ = nix::unistd::chdir(cwd.as_path());
    if nnp {
        nix::sys::prctl::set_no_new_privs().ctx(|| "set no_new_privs")?;
        if let Some(sc) = f.seccomp {
            load_seccomp(f, sc)?;
        }
    }
    let umask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        umask as libc::mode_t,
    ));
    let end = preserved_end(f.preserve_fds)?;
    for fd in 3..end {
        // SAFETY: F_SETFD only changes the flags of a descriptor the caller asked to pass on.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    crate::sys::cloexec_from(end);
    crate::util::trace("init: exec");
    exec(f.exe, p)
}

fn load_seccomp(f: &Finalize, sc: &seccomp::Compiled) -> Result<()> {
    let notify = seccomp::load(sc)?;
    if let (Some(fd), Some(sock)) = (notify, f.seccomp_listener) {
        use std::os::fd::AsFd;
        crate::console::send_over(sock, fd.as_fd(), f.seccomp_state)
            .ctx(|| "send the seccomp notify descriptor to the listener")?;
    }
    Ok(())
}

fn exec(exe: &Path, p: &Process) -> Result<Infallible> {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| Error::spec("process.args", format!("{s:?} contains NUL")))
    };
    let argv: Vec<CString> = p
        .args()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<_>>()?;
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect::<Result<_>>()?;
    let path = CString::new(exe.as_os_str().as_bytes())
        .map_err(|_| Error::spec("process.args", "executable path contains NUL"))?;
    // ETXTBSY: another process still holds the file open for writing. A multi-threaded
    // engine that just wrote it (berth-init) cannot stop its other threads' children from
    // inheriting that descriptor between their fork and exec; it is gone within moments.
    let mut e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    for _ in 0..50 {
        if e != nix::errno::Errno::ETXTBSY {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
        e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    }
    Err(Error::Exec {
        path: exe.display().to_string(),
        cause: ExecFailure::from_errno(e as i32, || e.desc().to_lowercase()),
    })
}

/// The home directory of `uid` from the container's /etc/passwd, or "/".
fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
            })
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// The highest capability this kernel knows.
fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Converts the spec's capability names to the caps crate's set, dropping ones this kernel
/// does not know (as runc does).
pub fn cap_set(list: Option<&Capabilities>) -> Result<CapsHashSet> {
    let last = last_cap();
    let mut out = HashSet::new();
    for c in list.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let cap = Cap::from_str(&name).map_err(|_| {
            Error::spec("process.capabilities", format!("unknown capability {name}"))
        })?;
        if cap.index() <= last {
            out.insert(cap);
        }
    }
    Ok(out)
}

fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = cap_set(c.bounding().as_ref())?;
    let last = last_cap();
    for cap in caps::all() {
        if cap.index() <= last && !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::Init(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    Ok(())
}

fn set_caps(c: &LinuxCapabilities) -> Result<()> {
    let err = |what: &str, e: caps::errors::CapsError| {
        Error::Init(format!("set {what} capabilities: {e}"))
    };
    let permitted = cap_set(c.permitted().as_ref())?;
    let effective = cap_set(c.effective().as_ref())?;
    let inheritable = cap_set(c.inheritable().as_ref())?;
    // Order matters: inheritable while CAP_SETPCAP is still effective, then effective (it
    // must stay within permitted), then permitted.
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(|e| err("inheritable", e))?;
    caps::set(None, CapSet::Effective, &effective).map_err(|e| err("effective", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| err("permitted", e))?;
    let ambient = cap_set(c.ambient().as_ref())?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    for cap in ambient {
        // The kernel only allows ambient capabilities that are permitted and inheritable.
        if permitted.contains(&cap) && inheritable.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| err("ambient", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_executable("sh", &env).unwrap(), Path::new("/bin/sh"));
        let e = find_executable("no-such-thing-here", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        let e = find_executable("/no/such", &env).unwrap_err().to_string();
        assert!(e.contains("no such file or directory"), "{e}");
    }

    #[test]
    fn capability_names() {
        let caps: Capabilities =
            serde_json::from_str(r#"["CAP_CHOWN","CAP_NET_BIND_SERVICE"]"#).unwrap();
        let set = cap_set(Some(&caps)).unwrap();
        assert!(set.contains(&Cap::CAP_CHOWN) && set.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn numbers_the_kernel_cannot_take_are_refused() {
        let p: Process = serde_json::from_str(
            r#"{"cwd": "/", "user": {"uid": 0, "gid": 0},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 7},
                "scheduler": {"policy": "SCHED_FIFO", "priority": 10}}"#,
        )
        .unwrap();
        check_numbers(&p, "process").unwrap();
        assert_eq!(
            io_priority(p.io_priority().as_ref().unwrap(), "p").unwrap(),
            (2, 7)
        );
        assert_eq!(
            sched_priority(p.scheduler().as_ref().unwrap(), "p").unwrap(),
            10
        );

        let p: Process = serde_json::from_str(
            r#"{"cwd": "/", "user": {"uid": 0, "gid": 0},
                "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 8}}"#,
        )
        .unwrap();
        let e = check_numbers(&p, "process").unwrap_err().to_string();
        assert_eq!(
            e,
            "config.json: process.ioPriority.priority: 8 is out of range 0-7"
        );

        let p: Process = serde_json::from_str(
            r#"{"cwd": "/", "user": {"uid": 0, "gid": 0},
                "scheduler": {"policy": "SCHED_OTHER", "priority": -1}}"#,
        )
        .unwrap();
        let e = check_numbers(&p, "process").unwrap_err().to_string();
        assert_eq!(
            e,
            "config.json: process.scheduler.priority: -1 must not be negative"
        );
    }

    #[test]
    fn preserved_descriptors_must_be_descriptor_numbers() {
        assert_eq!(preserved_end(0).unwrap(), 3);
        assert_eq!(preserved_end(2).unwrap(), 5);
        assert_eq!(
            preserved_end(i32::MAX.unsigned_abs() - 3).unwrap(),
            i32::MAX
        );
        let e = preserved_end(u32::MAX).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid argument --preserve-fds: 4294967295 is too large"
        );
        assert!(preserved_end(i32::MAX.unsigned_abs() - 2).is_err());
    }
}

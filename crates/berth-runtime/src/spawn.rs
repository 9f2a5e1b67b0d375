//! How container processes are forked.
//!
//! Without a user namespace, one fork is enough: the runtime points its *children's* pid
//! and time namespaces at the container's (unshare or setns, which leave the runtime itself
//! where it is), forks (born in the container's cgroup2 cgroup, when there is one), and
//! points them back; the child joins its v1 cgroups and unshares or joins the other
//! namespaces itself, on the other CPU, while the runtime applies the limits. With a user
//! namespace the pid namespace must be created inside it, so an
//! intermediate process does the unsharing and forks the init (see `init::intermediate`).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::init::{join_namespaces, ns_flag};
use crate::spec;

/// Whether one fork can make the container's process (no user namespace to create or join).
pub(crate) fn direct_possible(spec: &Spec) -> bool {
    !spec::has_ns(spec, LinuxNamespaceType::User)
}

/// The runtime's own pid and time namespaces, to return to after forking.
pub(crate) struct ForChildren {
    pid: Option<OwnedFd>,
    time: Option<OwnedFd>,
}

fn open_ns(p: &Path) -> Result<OwnedFd> {
    let f = std::fs::File::open(p).ctx(|| format!("open namespace {}", p.display()))?;
    Ok(OwnedFd::from(f))
}

/// The time offsets the spec asks for, in /proc/PID/timens_offsets format.
pub(crate) fn time_offsets(spec: &Spec) -> Option<String> {
    let offsets = spec.linux().as_ref()?.time_offsets().as_ref()?;
    let mut text = String::new();
    for (clock, o) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    Some(text)
}

impl ForChildren {
    /// Points the pid and time namespaces of our next child at the container's: new ones
    /// (unshare), or the ones in `joins` (type → path).
    pub(crate) fn enter(
        want: &[(LinuxNamespaceType, Option<PathBuf>)],
        offsets: Option<&str>,
    ) -> Result<ForChildren> {
        let mut g = ForChildren {
            pid: None,
            time: None,
        };
        for (t, path) in want {
            let (own, flag) = match t {
                LinuxNamespaceType::Pid => ("/proc/self/ns/pid", CloneFlags::CLONE_NEWPID),
                LinuxNamespaceType::Time => (
                    "/proc/self/ns/time",
                    CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
                ),
                _ => continue,
            };
            let saved = open_ns(Path::new(own))?;
            match path {
                Some(p) => {
                    let fd = open_ns(p)?;
                    nix::sched::setns(fd.as_fd(), flag)
                        .ctx(|| format!("join {t} namespace {}", p.display()))?;
                }
                None => {
                    nix::sched::unshare(flag).ctx(|| format!("unshare a {t} namespace"))?;
                    if *t == LinuxNamespaceType::Time
                        && let Some(text) = offsets
                    {
                        std::fs::write("/proc/self/timens_offsets", text)
                            .ctx(|| "linux.timeOffsets: write timens_offsets")?;
                    }
                }
            }
            if *t == LinuxNamespaceType::Pid {
                g.pid = Some(saved);
            } else {
                g.time = Some(saved);
            }
        }
        Ok(g)
    }

    /// Returns to our own namespaces for children.
    pub(crate) fn restore(mut self) -> Result<()> {
        self.restore_inner()
    }

    fn restore_inner(&mut self) -> Result<()> {
        if let Some(fd) = self.pid.take() {
            nix::sched::setns(fd.as_fd(), CloneFlags::CLONE_NEWPID)
                .ctx(|| "return to the runtime's pid namespace")?;
        }
        if let Some(fd) = self.time.take() {
            nix::sched::setns(
                fd.as_fd(),
                CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
            )
            .ctx(|| "return to the runtime's time namespace")?;
        }
        Ok(())
    }
}

impl Drop for ForChildren {
    fn drop(&mut self) {
        let _ = self.restore_inner();
    }
}

/// The pid and time entries of the spec's namespaces (new or joined).
pub(crate) fn for_children(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
    spec::namespaces(spec)
        .iter()
        .filter(|n| matches!(n.typ(), LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
        .map(|n| (n.typ(), n.path().clone()))
        .collect()
}

/// In the forked child of the direct path: join the cgroups, then the other namespaces
/// given by path, and unshare the other new ones (the cgroup namespace after the cgroups).
pub(crate) fn enter_own_namespaces(
    spec: &Spec,
    cgroup: &Cgroup,
    ignored_signals: u64,
    in_unified: bool,
) -> Result<()> {
    crate::sys::reset_signals(ignored_signals);
    cgroup.join_self(in_unified)?;
    let others = |t: LinuxNamespaceType| {
        !matches!(
            t,
            LinuxNamespaceType::Pid | LinuxNamespaceType::Time | LinuxNamespaceType::User
        )
    };
    let joins: Vec<_> = spec::namespaces(spec)
        .iter()
        .filter(|n| others(n.typ()))
        .filter_map(|n| n.path().clone().map(|p| (n.typ(), p)))
        .collect();
    join_namespaces(&joins)?;
    let mut flags = CloneFlags::empty();
    for n in spec::namespaces(spec).iter().filter(|n| n.path().is_none()) {
        if others(n.typ()) {
            flags |= ns_flag(n.typ());
        }
    }
    if !flags.is_empty() {
        nix::sched::unshare(flags).ctx(|| format!("unshare namespaces {flags:?}"))?;
    }
    Ok(())
}

/// Joins the namespaces of a running container (pid and time are for children and come
/// from `ForChildren`), for `exec` on the direct path.
pub(crate) fn join_container(
    targets: &[(LinuxNamespaceType, PathBuf)],
    ignored_signals: u64,
) -> Result<()> {
    crate::sys::reset_signals(ignored_signals);
    let rest: Vec<_> = targets
        .iter()
        .filter(|(t, _)| !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
        .cloned()
        .collect();
    if rest.iter().any(|(t, _)| *t == LinuxNamespaceType::User) {
        return Err(Error::Init(
            "internal: user namespace on the direct path".into(),
        ));
    }
    join_namespaces(&rest)
}

/// How a child was made.
pub(crate) enum Forked {
    /// In the child; `in_unified` says whether it was born in the container's cgroup2 cgroup.
    Child {
        in_unified: bool,
    },
    Parent(nix::unistd::Pid),
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks, with the child born in the cgroup2 directory `cgroup` when given (clone3 with
/// CLONE_INTO_CGROUP: no migration, hence no threadgroup lock); falls back to fork(2).
///
/// # Safety
/// Like fork: the caller must be single-threaded, and the child must only run code that is
/// fine in a forked copy and end with execve or _exit. The raw clone3 does not run glibc's
/// fork handlers, which a single-threaded process does not need.
pub(crate) unsafe fn fork_into(cgroup: Option<std::os::fd::BorrowedFd<'_>>) -> Result<Forked> {
    use std::os::fd::AsRawFd;
    // An open descriptor is never negative (were it, plain fork would do).
    if let Some(cgroup) = cgroup.and_then(|fd| u64::try_from(fd.as_raw_fd()).ok()) {
        let args = CloneArgs {
            flags: CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup,
            ..Default::default()
        };
        // SAFETY: `args` is a valid clone_args of the size passed; without CLONE_VM and
        // with no stack the child continues on a copy of our stack, like fork.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if r == 0 {
            return Ok(Forked::Child { in_unified: true });
        }
        if r > 0 {
            let pid = libc::pid_t::try_from(r)
                .map_err(|_| std::io::Error::other(format!("pid {r} is out of range")))
                .ctx(|| "clone3")?;
            return Ok(Forked::Parent(nix::unistd::Pid::from_raw(pid)));
        }
        // Old kernel or a cgroup clone3 will not take: plain fork, then migrate.
    }
    // SAFETY: see the function's contract.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork")? {
        nix::unistd::ForkResult::Child => Ok(Forked::Child { in_unified: false }),
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
    }
}

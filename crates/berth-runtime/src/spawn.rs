//! How container processes are forked.
//!
//! Without a user namespace, one fork is enough: the runtime points its *children's* pid
//! and time namespaces at the container's (unshare or setns, which leave the runtime itself
//! where it is), forks, and points them back; the child unshares or joins the other
//! namespaces itself, on the other CPU, while the runtime sets up the cgroups and moves it
//! into them. With a user namespace the pid namespace must be created inside it, so an
//! intermediate process does the unsharing and forks the init (see `init::intermediate`).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

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

/// In the forked child of the direct path: join the other namespaces given by path and
/// unshare the other new ones (the cgroup namespace comes later, after the cgroups).
pub(crate) fn enter_own_namespaces(spec: &Spec) -> Result<()> {
    crate::sys::reset_signals();
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
        if others(n.typ()) && n.typ() != LinuxNamespaceType::Cgroup {
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
pub(crate) fn join_container(targets: &[(LinuxNamespaceType, PathBuf)]) -> Result<()> {
    crate::sys::reset_signals();
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

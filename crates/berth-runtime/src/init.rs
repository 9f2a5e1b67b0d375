//! The processes the runtime forks to make a container:
//!
//! 1. the *intermediate* joins the cgroup and the namespaces given by path, unshares the new
//!    ones (asking the runtime to write uid/gid maps for a new user namespace), forks the
//!    init and exits;
//! 2. the *init* (pid 1 of a new pid namespace) sets up the rootfs, pivots into it, reports
//!    "created", waits on the exec fifo for `start`, drops privileges and executes the user's
//!    process.
//!
//! Both run in forked copies of a single-threaded runtime process and never return: they
//! end with `_exit` or `execve`.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::Cgroup;
use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::process;
use crate::rootfs;
use crate::seccomp;
use crate::spec::{self, Bundle};

/// What the forked processes need; it lives in the runtime's memory, copied by fork.
pub(crate) struct InitArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub cgroup: &'a Cgroup,
    pub ch: &'a Channel,
    /// The exec fifo, opened read-write (None: start right away).
    pub fifo: Option<RawFd>,
    pub seccomp: Option<&'a seccomp::Compiled>,
    pub seccomp_listener: Option<&'a UnixStream>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub stdio: Option<[RawFd; 3]>,
    /// Bring `lo` up in a new network namespace (`CreateOptions::loopback_up`).
    pub loopback_up: bool,
    /// Whether prestart/createRuntime hooks exist (the init then asks the runtime to run them).
    pub runtime_hooks: bool,
    /// Whether the init is forked directly by the runtime (it then waits for the cgroups
    /// itself, see `spawn`), rather than by an intermediate.
    pub direct: bool,
    /// Signals the runtime ignores, to reset in the child (see `sys::reset_signals`).
    pub ignored_signals: u64,
}

/// Ends a forked child: report the error on the channel and exit.
pub(crate) fn child_exit(ch: &Channel, res: Result<()>) -> ! {
    let code = match res {
        Ok(()) => 0,
        Err(e) => {
            let _ = ch.send(&Msg::Failed((&e).into()));
            1
        }
    };
    // SAFETY: _exit ends the forked child without running the parent's destructors or
    // atexit handlers, which belong to the runtime process.
    unsafe { libc::_exit(code) }
}

pub(crate) fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Opens every namespace to join first (paths may vanish once we switch mount namespaces),
/// then joins the user namespace before the others.
pub(crate) fn join_namespaces(targets: &[(LinuxNamespaceType, std::path::PathBuf)]) -> Result<()> {
    let mut fds: Vec<(LinuxNamespaceType, OwnedFd, &Path)> = Vec::new();
    for (t, p) in targets {
        let f = std::fs::File::open(p).ctx(|| format!("open {t} namespace {}", p.display()))?;
        fds.push((*t, OwnedFd::from(f), p));
    }
    fds.sort_by_key(|(t, _, _)| if *t == LinuxNamespaceType::User { 0 } else { 1 });
    for (t, fd, p) in &fds {
        nix::sched::setns(fd.as_fd(), ns_flag(*t))
            .ctx(|| format!("join {t} namespace {}", p.display()))?;
    }
    Ok(())
}

/// The intermediate process. Never returns.
pub(crate) fn intermediate(a: &InitArgs, in_unified: bool) -> ! {
    let res = intermediate_inner(a, in_unified);
    child_exit(a.ch, res)
}

fn intermediate_inner(a: &InitArgs, in_unified: bool) -> Result<()> {
    crate::sys::reset_signals(a.ignored_signals);
    let spec = &a.bundle.spec;
    // Join the cgroups first, with the host's privileges (a new user namespace has none
    // over cgroupfs); the init inherits them.
    a.cgroup.join_self(in_unified)?;
    let joins: Vec<_> = spec::namespaces(spec)
        .iter()
        .filter_map(|n| n.path().clone().map(|p| (n.typ(), p)))
        .collect();
    join_namespaces(&joins)?;
    let mut flags = CloneFlags::empty();
    for n in spec::namespaces(spec).iter().filter(|n| n.path().is_none()) {
        flags |= ns_flag(n.typ());
    }
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER).ctx(|| "unshare the user namespace")?;
        a.ch.send(&Msg::IdMapRequest)?;
        match a.ch.expect("uid/gid maps were written")? {
            (Msg::IdMapDone, _) => {}
            (m, _) => {
                return Err(Error::Init(format!(
                    "unexpected {m:?} while waiting for id maps"
                )));
            }
        }
        let root_g = nix::unistd::Gid::from_raw(0);
        let root_u = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresgid(root_g, root_g, root_g)
            .ctx(|| "become gid 0 in the user namespace")?;
        nix::unistd::setresuid(root_u, root_u, root_u)
            .ctx(|| "become uid 0 in the user namespace")?;
        flags.remove(CloneFlags::CLONE_NEWUSER);
    }
    nix::sched::unshare(flags).ctx(|| format!("unshare namespaces {flags:?}"))?;
    if let Some(text) = crate::spawn::time_offsets(spec) {
        std::fs::write("/proc/self/timens_offsets", text)
            .ctx(|| "linux.timeOffsets: write timens_offsets")?;
    }
    // SAFETY: this process is a single-threaded fork; the child only runs init code and
    // ends with execve or _exit.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork the container init")? {
        nix::unistd::ForkResult::Child => container_init(a),
        nix::unistd::ForkResult::Parent { child } => {
            a.ch.send(&Msg::Pid(child.as_raw()))?;
            Ok(())
        }
    }
}

/// Waits until the runtime has applied the cgroup limits (the process must not run before).
fn wait_for_limits(ch: &Channel) -> Result<()> {
    match ch.expect("the cgroup limits were applied")? {
        (Msg::CgroupReady, _) => Ok(()),
        (m, _) => Err(Error::Init(format!(
            "unexpected {m:?} while waiting for the cgroup limits"
        ))),
    }
}

/// The init forked directly by the runtime: enters its namespaces, then goes on as the init.
pub(crate) fn direct_init(a: &InitArgs, in_unified: bool) -> ! {
    if let Err(e) =
        crate::spawn::enter_own_namespaces(&a.bundle.spec, a.cgroup, a.ignored_signals, in_unified)
    {
        child_exit(a.ch, Err(e));
    }
    container_init(a)
}

/// The container's init. Never returns.
fn container_init(a: &InitArgs) -> ! {
    let res = init_until_ready(a);
    let prepared = match res {
        Ok(p) => p,
        Err(e) => child_exit(a.ch, Err(e)),
    };
    // Created: from here on the runtime may be gone, so errors go to the container's stderr.
    let err = after_start(a, &prepared).unwrap_err();
    let code = err.exec_exit_code().unwrap_or(1);
    let _ = writeln!(std::io::stderr(), "berth-runtime: {err}");
    // SAFETY: ends the forked init without running the runtime's destructors.
    unsafe { libc::_exit(code) }
}

struct Prepared {
    exe: std::path::PathBuf,
    host_pid: i32,
}

fn hook_state(a: &InitArgs, status: &str, pid: i32) -> Vec<u8> {
    let spec = &a.bundle.spec;
    let mut v = serde_json::json!({
        "ociVersion": spec.version(),
        "id": a.id,
        "status": status,
        "pid": pid,
        "bundle": a.bundle.dir,
    });
    if let Some(ann) = spec.annotations().as_ref().filter(|a| !a.is_empty()) {
        v["annotations"] = serde_json::json!(ann);
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

fn init_until_ready(a: &InitArgs) -> Result<Prepared> {
    let spec: &Spec = &a.bundle.spec;
    // Before any mount changes, /proc is still the host's: it names our host pid.
    let host_pid: i32 = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    nix::unistd::setsid().ctx(|| "setsid")?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "required"))?;
    let userns = spec::has_ns(spec, LinuxNamespaceType::User);
    let ctx = rootfs::RootfsCtx {
        spec,
        bundle: &a.bundle.dir,
        rootfs: &a.bundle.rootfs,
        cgroup: a.cgroup,
        userns,
    };
    crate::util::trace("init: start");
    // In the container's own network namespace now (unshared, not joined by path), with
    // CAP_NET_ADMIN over it, and before any hook or the process runs.
    let own_netns = spec::namespaces(spec)
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    if a.loopback_up && own_netns {
        crate::sys::loopback_up()?;
    }
    let _root = rootfs::prepare(&ctx)?;
    // The runtime applied the limits meanwhile (it says so once).
    wait_for_limits(a.ch)?;
    crate::util::trace("init: mounts done");
    if a.runtime_hooks {
        a.ch.send(&Msg::HooksRequest)?;
        match a.ch.expect("the createRuntime hooks ran")? {
            (Msg::HooksDone, _) => {}
            (m, _) => {
                return Err(Error::Init(format!(
                    "unexpected {m:?} while waiting for hooks"
                )));
            }
        }
    }
    hooks::run(
        hooks::Kind::CreateContainer,
        spec.hooks().as_ref(),
        &hook_state(a, "creating", host_pid),
    )?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx(|| format!("sethostname {h}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: setdomainname reads `len` bytes from a valid buffer.
        let r = unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) };
        if r < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| format!("setdomainname {d}"));
        }
    }
    rootfs::pivot(&a.bundle.rootfs, a.no_pivot)?;
    crate::util::trace("init: pivoted");
    if process.terminal() == Some(true) {
        let pty = crate::console::open_pty()?;
        if !Path::new("/dev/console").exists() {
            std::fs::File::create("/dev/console").ctx(|| "create /dev/console")?;
        }
        nix::mount::mount(
            Some(pty.slave_name.as_str()),
            "/dev/console",
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind {} on /dev/console", pty.slave_name))?;
        crate::console::set_spec_size(pty.slave.as_fd(), process.console_size().as_ref())?;
        a.ch.send_with_fd(
            &Msg::Console(pty.slave_name.clone()),
            Some(pty.master.as_raw_fd()),
        )?;
        drop(pty.master);
        crate::console::become_stdio(&pty.slave)?;
    } else if let Some(fds) = a.stdio {
        for (i, fd) in (0..).zip(fds) {
            crate::sys::dup2(fd, i).ctx(|| format!("set up stdio {i}"))?;
        }
    }
    rootfs::finish(spec)?;
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        set_personality(p)?;
    }
    process::apply_early(process)?;
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    let exe = process::find_executable(&args[0], env)?;
    crate::util::trace("init: ready");
    a.ch.send(&Msg::Ready)?;
    Ok(Prepared { exe, host_pid })
}

fn set_personality(p: &oci_spec::runtime::LinuxPersonality) -> Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain as D;
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::spec(
            "linux.personality.flags",
            "personality flags are not supported",
        ));
    }
    let persona = match p.domain() {
        D::PerLinux => nix::sys::personality::Persona::empty(),
        D::PerLinux32 => nix::sys::personality::Persona::from_bits_retain(0x0008),
    };
    nix::sys::personality::set(persona).ctx(|| format!("set personality {:?}", p.domain()))?;
    Ok(())
}

fn after_start(a: &InitArgs, prep: &Prepared) -> Result<std::convert::Infallible> {
    if let Some(fifo) = a.fifo {
        let mut b = [0u8; 1];
        loop {
            match nix::unistd::read(borrow(fifo), &mut b) {
                Ok(1) => break,
                Ok(_) => return Err(Error::Init("exec fifo closed before start".into())),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "wait for start on the exec fifo"),
            }
        }
        let _ = nix::unistd::close(fifo);
    }
    crate::util::trace("init: started");
    let spec = &a.bundle.spec;
    hooks::run(
        hooks::Kind::StartContainer,
        spec.hooks().as_ref(),
        &hook_state(a, "created", prep.host_pid),
    )?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "required"))?;
    let notify_state = seccomp_state(a, prep.host_pid);
    process::finalize(&process::Finalize {
        process,
        seccomp: a.seccomp,
        seccomp_listener: a.seccomp_listener,
        seccomp_state: &notify_state,
        new_keyring: !a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        exe: &prep.exe,
        setgroups: true,
    })
}

/// The ContainerProcessState sent with a seccomp notify descriptor.
pub(crate) fn seccomp_state(a: &InitArgs, pid: i32) -> String {
    let meta = a
        .seccomp
        .map(|s| s.listener_metadata.clone())
        .unwrap_or_default();
    let state: serde_json::Value =
        serde_json::from_slice(&hook_state(a, "creating", pid)).unwrap_or_default();
    serde_json::json!({
        "ociVersion": a.bundle.spec.version(),
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": meta,
        "state": state,
    })
    .to_string()
}

fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the fifo descriptor stays open until after the read that uses it.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

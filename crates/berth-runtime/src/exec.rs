//! `exec`: start another process in a running container's namespaces and cgroup.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{child_exit, join_namespaces};
use crate::process;
use crate::seccomp;
use crate::spawn::{self, ForChildren, Forked};
use crate::state::{Container, Status};
use crate::util;

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// Keep the pty master and return it.
    pub keep_console: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub stdio: Option<[RawFd; 3]>,
}

/// A started exec process.
#[derive(Debug)]
pub struct Execed {
    /// Host pid of the process (a child of the caller).
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

fn ns_file(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

impl Container {
    /// Runs `o.process` inside the container. The process is a child of the caller.
    pub fn exec(&self, o: &ExecOptions) -> Result<Execed> {
        let status = self.status();
        if !matches!(status, Status::Running | Status::Created) {
            return Err(Error::InvalidState {
                id: self.saved.id.clone(),
                status: status.to_string(),
                op: "exec (it must be running)",
            });
        }
        let self_status = util::self_status()?;
        if self_status.threads > 1 {
            return Err(Error::MultiThreaded(self_status.threads));
        }
        let ignored = self_status.ignored_signals;
        crate::spec::validate_process(&o.process, "process")?;
        crate::process::preserved_end(o.preserve_fds)?;
        if o.process.terminal() == Some(true) && o.console_socket.is_none() && !o.keep_console {
            return Err(Error::arg(
                "--console-socket",
                "required for a terminal when detaching",
            ));
        }
        let spec = &self.saved.spec;
        let compiled = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(s) => Some(seccomp::compile_cached(s, &self.seccomp_cache_dir())?),
            None => None,
        };
        let console_sock = match &o.console_socket {
            Some(p) => Some(
                UnixStream::connect(p)
                    .ctx(|| format!("connect to console socket {}", p.display()))?,
            ),
            None => None,
        };
        let targets: Vec<_> = crate::spec::namespaces(spec)
            .iter()
            .map(|n| {
                let p = PathBuf::from(format!("/proc/{}/ns/{}", self.saved.pid, ns_file(n.typ())));
                (n.typ(), p)
            })
            .collect();
        let (parent_ch, child_ch) = Channel::pair()?;
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "become a child subreaper")?;
        // Without a user namespace, one fork does it (see `spawn`).
        let direct = spawn::direct_possible(spec);
        let guard = if direct {
            let want: Vec<_> = targets
                .iter()
                .filter(|(t, _)| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
                .map(|(t, p)| (*t, Some(p.clone())))
                .collect();
            Some(ForChildren::enter(&want, None)?)
        } else {
            None
        };
        let unified = self.saved.cgroup.unified_handle();
        // SAFETY: single-threaded (checked above); the child ends with _exit or execve.
        let inter = match unsafe { spawn::fork_into(unified.as_ref().map(|f| f.as_fd())) }? {
            Forked::Child { in_unified } => {
                drop(parent_ch);
                let joined = self.saved.cgroup.join_self(in_unified);
                let res = if direct {
                    joined
                        .and_then(|_| spawn::join_container(&targets, ignored))
                        .and_then(|_| exec_child(&child_ch, o, compiled.as_ref()).map(|_| ()))
                } else {
                    joined.and_then(|_| {
                        intermediate(&targets, &child_ch, o, compiled.as_ref(), ignored)
                    })
                };
                child_exit(&child_ch, res)
            }
            Forked::Parent(child) => child,
        };
        drop(unified);
        if let Some(g) = guard
            && let Err(e) = g.restore()
        {
            let _ = nix::sys::signal::kill(inter, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(inter, None);
            return Err(e);
        }
        drop(child_ch);
        let mut pid = if direct { inter.as_raw() } else { 0 };
        let mut console = None;
        let res = loop {
            match parent_ch.recv() {
                Ok(None) => break Ok(()),
                Ok(Some((Msg::Pid(p), _))) => pid = p,
                Ok(Some((Msg::Console(name), Some(fd)))) => match &console_sock {
                    Some(s) => {
                        if let Err(e) = crate::console::send_over(s, fd.as_fd(), &name) {
                            break Err(e).ctx(|| "send the pty to the console socket");
                        }
                    }
                    None => console = Some(fd),
                },
                Ok(Some((Msg::Failed(f), _))) => break Err(f.into()),
                Ok(Some((m, _))) => {
                    break Err(Error::Init(format!("unexpected message {m:?} from exec")));
                }
                Err(e) => break Err(e),
            }
        };
        if !direct {
            let _ = waitpid(inter, None);
        }
        if let Err(e) = res {
            if pid > 0 {
                let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
            }
            return Err(e);
        }
        if pid <= 0 {
            return Err(Error::Init("exec process did not start".into()));
        }
        if let Some(p) = &o.pid_file {
            util::write_atomic(p, pid.to_string().as_bytes())?;
        }
        Ok(Execed { pid, console })
    }
}

/// Joins the container's namespaces (user first) and forks the process (already in the
/// container's cgroups).
fn intermediate(
    targets: &[(LinuxNamespaceType, PathBuf)],
    ch: &Channel,
    o: &ExecOptions,
    compiled: Option<&seccomp::Compiled>,
    ignored_signals: u64,
) -> Result<()> {
    crate::sys::reset_signals(ignored_signals);
    join_namespaces(targets)?;
    // SAFETY: single-threaded fork; the child ends with execve or _exit.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork the exec process")? {
        nix::unistd::ForkResult::Child => {
            let res = exec_child(ch, o, compiled);
            child_exit(ch, res.map(|_| ()))
        }
        nix::unistd::ForkResult::Parent { child } => ch.send(&Msg::Pid(child.as_raw())),
    }
}

fn exec_child(
    ch: &Channel,
    o: &ExecOptions,
    compiled: Option<&seccomp::Compiled>,
) -> Result<std::convert::Infallible> {
    nix::unistd::setsid().ctx(|| "setsid")?;
    let p = &o.process;
    if p.terminal() == Some(true) {
        let pty = crate::console::open_pty()?;
        crate::console::set_spec_size(pty.slave.as_fd(), p.console_size().as_ref())?;
        ch.send_with_fd(
            &Msg::Console(pty.slave_name.clone()),
            Some(pty.master.as_raw_fd()),
        )?;
        drop(pty.master);
        crate::console::become_stdio(&pty.slave)?;
    } else if let Some(fds) = o.stdio {
        for (i, fd) in (0..).zip(fds) {
            crate::sys::dup2(fd, i).ctx(|| format!("set up stdio {i}"))?;
        }
    }
    process::apply_early(p)?;
    let args = p.args().as_deref().unwrap_or(&[]);
    let exe = process::find_executable(&args[0], p.env().as_deref().unwrap_or(&[]))?;
    process::finalize(&process::Finalize {
        process: p,
        seccomp: compiled,
        seccomp_listener: None,
        seccomp_state: "",
        new_keyring: false,
        preserve_fds: o.preserve_fds,
        exe: &exe,
        setgroups: true,
    })
}

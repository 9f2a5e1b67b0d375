//! `exec`: another process in a running container, from any caller, a multi-threaded
//! server included. Forking the process into the container's namespaces must happen in a
//! single-threaded process, so the engine spawns a helper for it (`berth-monitor exec`,
//! see `helper`; containerd's shim plays this part for its callers): the helper forks the
//! process through the runtime library, reports its pid (and pty), relays signals to it,
//! reaps it and reports its exit code over a control socket (`wire`).

mod helper;
mod wire;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use oci_spec::runtime::Process;

use crate::cancel::{Cancel, SLICE};
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use wire::{Received, Reply, Request};

/// What to run, and how (Docker's exec options).
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// `NAME=value` entries, over the container's environment.
    pub env: Vec<String>,
    /// `user[:group]`, by name or id, resolved in the container's /etc/passwd and group.
    pub user: Option<String>,
    /// An absolute path in the container.
    pub working_dir: Option<String>,
    /// Every capability.
    pub privileged: bool,
    /// A pseudo-terminal for the process (`ExecProcess::console`).
    pub tty: bool,
    /// The terminal's size (rows, columns), set before the process runs.
    pub console_size: Option<(u16, u16)>,
    /// The caller will not wait: a terminal stays with the helper, which discards its output.
    pub detach: bool,
}

/// The process's standard descriptors (None: /dev/null). Ignored with a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecIo<'a> {
    pub stdin: Option<BorrowedFd<'a>>,
    pub stdout: Option<BorrowedFd<'a>>,
    pub stderr: Option<BorrowedFd<'a>>,
}

/// What the caller knows of its helper.
#[derive(Default)]
struct Known {
    exit: Option<i32>,
    /// The helper closed its end without reporting an exit code.
    lost: bool,
    /// The helper's wait status, once reaped.
    helper_status: Option<i32>,
}

/// A started exec process. Its exit code comes from `wait`; dropping it unwaited leaves the
/// process running, and its helper is reaped later by the engine (no zombie is kept).
pub struct ExecProcess {
    pid: i32,
    helper: i32,
    control: OwnedFd,
    console: Option<OwnedFd>,
    known: Mutex<Known>,
    children: crate::spawn::Children,
}

impl ExecProcess {
    /// The process's pid on the host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pid of the helper that serves it (a child of this process until reaped).
    pub fn helper_pid(&self) -> i32 {
        self.helper
    }

    /// The pty master of a process with a terminal (not detached).
    pub fn console(&self) -> Option<BorrowedFd<'_>> {
        self.console.as_ref().map(|m| m.as_fd())
    }

    /// Takes the pty master (`resize` is then the caller's job).
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// Sets the terminal's size.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let m = self
            .console
            .as_ref()
            .ok_or_else(|| Error::Conflict(format!("exec process {} has no terminal", self.pid)))?;
        Ok(berth_runtime::set_size(m.as_fd(), rows, cols)?)
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `sig` to the process (through its helper, which has not reaped it yet, so a
    /// reused pid is never hit).
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let gone = || Error::Conflict(format!("exec process {} has exited", self.pid));
        if self.known().exit.is_some() {
            return Err(gone());
        }
        let msg = format!("signal {}", sig as i32);
        match wire::send(self.control.as_fd(), msg.as_bytes(), None) {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => Err(gone()),
            Err(e) => Err(Error::io(
                format!("signal exec process {}", self.pid),
                e.into(),
            )),
        }
    }

    /// Waits for the process to exit: its exit code (128+N when killed by signal N).
    /// `cancel` ends the wait with `Error::Cancelled`; the process goes on, and a later
    /// wait still gets its code.
    pub fn wait(&self, cancel: &Cancel) -> Result<i32> {
        loop {
            cancel.check("exec wait")?;
            if let Some(code) = self.poll_exit(SLICE)? {
                return Ok(code);
            }
        }
    }

    /// The exit code if the process has exited, without blocking.
    pub fn try_wait(&self) -> Result<Option<i32>> {
        self.poll_exit(Duration::ZERO)
    }

    fn poll_exit(&self, timeout: Duration) -> Result<Option<i32>> {
        if let Some(code) = self.known().exit {
            return Ok(Some(code));
        }
        if self.known().lost {
            return Err(self.lost());
        }
        let mut fds = [PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
        let t = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, t) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(Error::io("wait for an exec process", e.into())),
        }
        match wire::recv(self.control.as_fd(), false)? {
            Received::Empty => Ok(None),
            Received::Msg(m, _) => match Reply::parse(&String::from_utf8_lossy(&m))? {
                Reply::Exit(code) => {
                    self.known().exit = Some(code);
                    // It exits right after saying so.
                    self.reap_helper(true);
                    Ok(Some(code))
                }
                other => Err(Error::Internal(format!(
                    "unexpected {other:?} from the exec helper of process {}",
                    self.pid
                ))),
            },
            Received::Closed => {
                self.known().lost = true;
                self.reap_helper(true);
                Err(self.lost())
            }
        }
    }

    fn lost(&self) -> Error {
        Error::Internal(format!(
            "the exec helper of process {} ended without reporting its exit code{}",
            self.pid,
            how_it_ended(self.known().helper_status)
        ))
    }

    /// Reaps the helper (`block`: it is ending, wait for it); true once reaped.
    fn reap_helper(&self, block: bool) -> bool {
        let mut k = self.known();
        if k.helper_status.is_some() {
            return true;
        }
        let flags = if block { 0 } else { libc::WNOHANG };
        let mut status = 0;
        loop {
            // SAFETY: waitpid on the helper we spawned (not reaped yet: `helper_status` is
            // unset and no one else waits for it), with a status we own.
            let r = unsafe { libc::waitpid(self.helper, &mut status, flags) };
            if r == 0 {
                return false;
            }
            if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // Reaped, or not ours to reap any more (SIGCHLD ignored by the caller).
            k.helper_status = Some(if r > 0 { status } else { 0 });
            return true;
        }
    }
}

impl AsFd for ExecProcess {
    /// Readable once the exit code is in (then `try_wait` has it) or the helper is gone.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.control.as_fd()
    }
}

impl Drop for ExecProcess {
    fn drop(&mut self) {
        // A helper still serving its process is reaped at a later spawn of the engine.
        if !self.reap_helper(false) {
            self.children.adopt(self.helper);
        }
    }
}

impl std::fmt::Debug for ExecProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecProcess")
            .field("pid", &self.pid)
            .field("helper", &self.helper)
            .field("tty", &self.console.is_some())
            .finish()
    }
}

/// The entry point of `berth-monitor exec ...`. Never returns.
pub(crate) fn helper_main(args: &[String]) -> ! {
    helper::main(args)
}

impl Engine {
    /// Runs `cfg.cmd` in running container `key` (name, id or id prefix). Works from any
    /// caller: the process is forked by a single-threaded helper. Returns once the process
    /// runs; a process that could not be executed is `Error::ExecFailed` with Docker's code
    /// (126 cannot execute, 127 not found).
    pub fn exec(&self, key: &str, cfg: &ExecConfig, io: ExecIo<'_>) -> Result<ExecProcess> {
        let c = self.container(key)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "container {} is paused, unpause the container before exec",
                    c.id
                )));
            }
            _ => {
                return Err(Error::Conflict(format!(
                    "container {} is not running",
                    c.id
                )));
            }
        }
        crate::proto::check_monitor(c.state.monitor_proto, &c.name)?;
        let process = self.exec_process(&c, cfg)?;
        // Docker's events of an exec: created and started here, its end recorded by the
        // helper (which outlives a detached exec's caller) when the process exits.
        let exec_id = crate::events::new_exec_id();
        let actor = crate::events::container_actor(&c, &[("execID", exec_id)]);
        for action in ["exec_create", "exec_start"] {
            crate::events::append(
                &self.paths,
                "container",
                &crate::events::exec_action(action, &cfg.cmd),
                actor.clone(),
            );
        }
        let request = Request {
            process,
            detach: cfg.detach,
            die_event: Some(actor),
        };
        let request = serde_json::to_vec(&request)
            .map_err(|e| Error::Internal(format!("encode the exec request: {e}")))?;
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::io("create the exec control socket", e.into()))?;
        let mut fds: Vec<(BorrowedFd<'_>, RawFd)> = vec![(theirs.as_fd(), 3)];
        if !cfg.tty {
            for (n, fd) in (0..).zip([io.stdin, io.stdout, io.stderr]) {
                if let Some(fd) = fd {
                    fds.push((fd, n));
                }
            }
        }
        let version = crate::proto::VERSION.to_string();
        let mut args: Vec<std::ffi::OsString> = vec!["exec".into()];
        for (flag, value) in [
            ("--root", self.paths.root.as_os_str()),
            ("--runroot", self.paths.runroot.as_os_str()),
            ("--id", c.id.as_ref()),
            ("--control-fd", "3".as_ref()),
            ("--proto", version.as_ref()),
        ] {
            args.extend([flag.into(), value.to_owned()]);
        }
        self.children.reap();
        let helper = crate::spawn::spawn(self.monitor_bin(), &args, &fds)?;
        drop(fds);
        drop(theirs);
        let mut p = ExecProcess {
            pid: 0,
            helper,
            control: ours,
            console: None,
            known: Mutex::new(Known::default()),
            children: self.children.clone(),
        };
        // A helper that is already gone may have left its reason to read below. Any other
        // failure ends here: dropping `p` closes our end, and the helper exits too.
        match wire::send(p.control.as_fd(), &request, None) {
            Ok(()) | Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => {}
            Err(e) => return Err(Error::io("send the exec request", e.into())),
        }
        let reply = match wire::recv(p.control.as_fd(), true)? {
            Received::Msg(m, fd) => (Reply::parse(&String::from_utf8_lossy(&m))?, fd),
            Received::Closed | Received::Empty => {
                p.reap_helper(true);
                return Err(self.helper_refused(&p));
            }
        };
        match reply {
            (Reply::Ok(pid), fd) => {
                p.pid = pid;
                p.console = fd;
                if cfg.tty && !cfg.detach && p.console.is_none() {
                    return Err(Error::Internal(format!(
                        "the exec helper sent no terminal for process {pid}"
                    )));
                }
                Ok(p)
            }
            (Reply::Error { code, msg }, _) => {
                p.reap_helper(true);
                if code == 125 {
                    return Err(Error::Unsupported(msg));
                }
                Err(Error::ExecFailed { code, msg })
            }
            (other, _) => Err(Error::Internal(format!(
                "unexpected {other:?} from the exec helper"
            ))),
        }
    }

    /// A helper that ended without a word: one from another build refuses our arguments.
    fn helper_refused(&self, p: &ExecProcess) -> Error {
        let st = p.known().helper_status.unwrap_or(0);
        if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 2 {
            return Error::Unsupported(format!(
                "the exec helper {} refused its arguments: it is not from this berth's build \
                 (protocol {}); install berth and berth-monitor together",
                self.monitor_bin().display(),
                crate::proto::VERSION
            ));
        }
        Error::Internal(format!(
            "the exec helper {} ended without reporting{}",
            self.monitor_bin().display(),
            how_it_ended(p.known().helper_status)
        ))
    }

    /// The OCI process for `cfg`: the container's, with the command, terminal, environment,
    /// working directory, user and capabilities of the exec.
    fn exec_process(&self, c: &Container, cfg: &ExecConfig) -> Result<Process> {
        if cfg.cmd.is_empty() {
            return Err(Error::invalid("exec", "no command specified"));
        }
        let bundle = self.paths.bundle(&c.id).join("config.json");
        let bytes = std::fs::read(&bundle)
            .map_err(|e| Error::io(format!("read {}", bundle.display()), e))?;
        let spec = berth_runtime::spec::parse_spec(&bytes)?;
        let mut p = spec.process().clone().ok_or_else(|| {
            Error::Internal(format!("container {} has no process in its bundle", c.name))
        })?;
        p.set_args(Some(cfg.cmd.clone()));
        p.set_terminal(Some(cfg.tty));
        p.set_console_size(
            cfg.console_size
                .filter(|(r, c)| cfg.tty && *r > 0 && *c > 0)
                .and_then(|(rows, cols)| {
                    oci_spec::runtime::BoxBuilder::default()
                        .height(u64::from(rows))
                        .width(u64::from(cols))
                        .build()
                        .ok()
                }),
        );
        p.set_env(Some(merge_env(
            p.env().clone().unwrap_or_default(),
            &cfg.env,
        )?));
        if let Some(w) = &cfg.working_dir {
            if !w.starts_with('/') {
                return Err(Error::InvalidValue(format!(
                    "the working directory '{w}' is invalid, it needs to be an absolute path"
                )));
            }
            p.set_cwd(PathBuf::from(w));
        }
        if let Some(u) = &cfg.user {
            let (uid, gid, groups) = crate::spec::resolve_user(u, &self.paths.rootfs(&c.id), &[])
                .map_err(|e| match e {
                Error::Invalid { msg, .. } => Error::ExecUser(msg),
                other => other,
            })?;
            p.user_mut().set_uid(uid);
            p.user_mut().set_gid(gid);
            p.user_mut().set_additional_gids(Some(groups));
        }
        if cfg.privileged {
            let all: oci_spec::runtime::Capabilities = berth_runtime::features::all_capabilities();
            let mut caps = p.capabilities().clone().unwrap_or_default();
            caps.set_bounding(Some(all.clone()));
            caps.set_effective(Some(all.clone()));
            caps.set_permitted(Some(all));
            p.set_capabilities(Some(caps));
        }
        Ok(p)
    }
}

/// " (exit status N)" or " (killed by signal N)" for a helper's wait status.
fn how_it_ended(status: Option<i32>) -> String {
    match status {
        Some(st) if libc::WIFSIGNALED(st) => format!(" (killed by signal {})", libc::WTERMSIG(st)),
        Some(st) if libc::WIFEXITED(st) => format!(" (exit status {})", libc::WEXITSTATUS(st)),
        _ => String::new(),
    }
}

/// `extra` (NAME=value each) over `env`: a name given again replaces the old entry.
fn merge_env(mut env: Vec<String>, extra: &[String]) -> Result<Vec<String>> {
    for v in extra {
        let Some((key, _)) = v.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::InvalidValue(format!(
                "invalid environment variable: {v:?}"
            )));
        };
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(v.clone());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_merges_by_name() {
        let env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let got = merge_env(env, &["A=2".into(), "B=x=y".into()]).unwrap();
        assert_eq!(got, ["PATH=/bin", "A=2", "B=x=y"]);
        assert!(merge_env(vec![], &["=x".into()]).is_err());
        assert!(merge_env(vec![], &["NOVALUE".into()]).is_err());
    }

    #[test]
    fn exec_failures_keep_their_codes() {
        let failed = |cause| {
            Error::Runtime(berth_runtime::Error::Exec {
                path: "x".into(),
                cause,
            })
        };
        use berth_runtime::ExecFailure as F;
        assert_eq!(crate::exit_code_for(&failed(F::NotInPath)), 127);
        assert_eq!(crate::exit_code_for(&failed(F::NotFound)), 127);
        assert_eq!(crate::exit_code_for(&failed(F::IsDirectory)), 126);
        assert_eq!(crate::exit_code_for(&failed(F::PermissionDenied)), 126);
        assert_eq!(
            crate::exit_code_for(&Error::Internal("no such file or directory".into())),
            125
        );
        assert_eq!(
            failed(F::NotInPath).to_string(),
            "exec: \"x\": executable file not found in $PATH"
        );
    }
}

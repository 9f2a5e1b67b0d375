//! `exec`: a process in a running container, run by the engine (`Engine::exec`); with -t,
//! its terminal relayed to ours in raw mode. Without -t the process writes to our stdout and
//! stderr itself (the descriptors are handed on).

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;

use anyhow::{Result, bail};
use berth_engine::{ExecConfig, ExecIo, ExecProcess};
use clap::Args;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::relay::{SIGNALS, raw_mode, window_size};
use super::{Exit, engine};
use crate::cli::Global;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// The running container, by name or ID
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command to run in it, and its arguments (not through a shell: use
    /// `sh -c '...'` for one)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND [ARG...]"
    )]
    pub command: Vec<String>,
}

fn fail(code: i32, msg: String) -> anyhow::Error {
    eprintln!("{msg}");
    anyhow::Error::new(Exit(super::exit_status(code)))
}

pub fn exec(g: &Global, a: ExecArgs) -> Result<ExitCode> {
    let e = engine(g)?;
    let stdin = std::io::stdin();
    if a.tty && a.interactive && nix::sys::termios::tcgetattr(stdin.as_fd()).is_err() {
        bail!("the input device is not a TTY");
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(super::envfile::env_file(f)?);
    }
    for v in &a.env {
        env.extend(super::envfile::env_entry(v)?);
    }
    let cfg = ExecConfig {
        cmd: a.command.clone(),
        env,
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
        privileged: a.privileged,
        tty: a.tty,
        // The terminal gets our window size before the process runs (not after, when a
        // quick `stty size` would already have read 0 0).
        console_size: a.tty.then(|| window_size(stdin.as_fd())).flatten(),
        detach: a.detach,
    };
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let io = if a.detach {
        ExecIo::default()
    } else {
        ExecIo {
            stdin: a.interactive.then(|| stdin.as_fd()),
            stdout: Some(stdout.as_fd()),
            stderr: Some(stderr.as_fd()),
        }
    };
    // Blocked before the process starts, so that none is lost; read from a signalfd.
    let mut set = SigSet::empty();
    // As attach's, and SIGCONT too (as `docker exec` passes it on).
    for s in SIGNALS.into_iter().chain([Signal::SIGCONT]) {
        set.add(s);
    }
    let old = if a.detach {
        None
    } else {
        Some(set.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)?)
    };
    let p = match e.exec(&a.container, &cfg, io) {
        Ok(p) => p,
        Err(berth_engine::Error::ExecFailed { code, msg }) => {
            return Err(fail(
                code,
                format!("OCI runtime exec failed: exec failed: {msg}: unknown"),
            ));
        }
        Err(berth_engine::Error::ExecUser(msg)) => return Err(fail(126, msg)),
        Err(err) => return Err(err.into()),
    };
    if a.detach {
        return Ok(ExitCode::SUCCESS);
    }
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let code = supervise(&p, &sfd, a.interactive)?;
    drop(sfd);
    if let Some(m) = old {
        m.thread_set_mask()?;
    }
    Ok(ExitCode::from(super::exit_status(code)))
}

/// Until the process exits: signals to it, and with a terminal, its output to our stdout
/// and (with -i) our stdin to it. Returns its exit code.
fn supervise(p: &ExecProcess, sfd: &SignalFd, interactive: bool) -> Result<i32> {
    let stdin = std::io::stdin();
    let stdin_fd = stdin.as_fd();
    let master = p.console();
    let _raw = match master {
        Some(_) if interactive => raw_mode()?,
        _ => None,
    };
    let mut to_master = match master {
        Some(m) => Some(std::fs::File::from(m.try_clone_to_owned()?)),
        None => None,
    };
    let mut stdin_open = interactive && master.is_some();
    let mut master_open = master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = std::io::stdout();
    loop {
        let mut fds = vec![
            PollFd::new(p.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        let mi = watch(&mut fds, master.filter(|_| master_open));
        let si = watch(&mut fds, Some(stdin_fd).filter(|_| stdin_open));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (exit_ready, sig_ready) = (ready(Some(0)), ready(Some(1)));
        let (master_ready, stdin_ready) = (ready(mi), ready(si));
        drop(fds);
        if master_ready && let Some(m) = master {
            master_open = pump(m, &mut out, &mut buf);
        }
        if stdin_ready && let Some(w) = &mut to_master {
            stdin_open = pump(stdin_fd, w, &mut buf);
        }
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                // 0 is no signal: ignored below, like any number that is none.
                let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
                match Signal::try_from(signo) {
                    Ok(Signal::SIGWINCH) => {
                        if let Some((r, c)) = window_size(stdin_fd) {
                            let _ = p.resize(r, c);
                        }
                    }
                    // The process may have exited meanwhile: its code comes next.
                    Ok(sig) => {
                        let _ = p.signal(sig);
                    }
                    Err(_) => {}
                }
            }
        }
        if exit_ready && let Some(code) = p.try_wait()? {
            // What it wrote to its terminal before exiting is still in the pty.
            if let Some(m) = master.filter(|_| master_open) {
                drain(m, &mut out, &mut buf);
            }
            return Ok(code);
        }
    }
}

/// Adds `fd` to the poll set; its index there.
fn watch<'a>(fds: &mut Vec<PollFd<'a>>, fd: Option<BorrowedFd<'a>>) -> Option<usize> {
    fds.push(PollFd::new(fd?, PollFlags::POLLIN));
    Some(fds.len() - 1)
}

/// Copies what `from` has to `to`; false once `from` is finished (or `to` is gone).
fn pump(from: BorrowedFd<'_>, to: &mut dyn Write, buf: &mut [u8]) -> bool {
    match nix::unistd::read(from, buf) {
        Ok(0) => false,
        Ok(n) => to.write_all(&buf[..n]).and_then(|_| to.flush()).is_ok(),
        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

/// Copies what is left in the pty once the process has exited.
fn drain(m: BorrowedFd<'_>, out: &mut dyn Write, buf: &mut [u8]) {
    loop {
        let mut fds = [PollFd::new(m, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 && pump(m, out, buf) => {}
            _ => return,
        }
    }
}

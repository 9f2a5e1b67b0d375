//! The exec helper: `berth-monitor exec --root R --runroot RR --id ID --control-fd 3
//! --proto N`. A single-threaded process, spawned by `Engine::exec` from any caller (a
//! multi-threaded server included), that forks the exec'd process through the runtime
//! library, reports it, relays signals to it, reaps it and reports its exit code (see
//! `wire` for the protocol), as containerd's shim does for its callers.
//!
//! Its stdio (0-2) are the process's, handed on at the fork and then replaced by /dev/null
//! here, so that only the process holds the caller's pipes. It opens neither the state
//! database nor the image store: it needs only the runtime's state of the container. It
//! shares the monitor's binary but none of the monitor's code path, so the container
//! monitor's memory does not grow.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use berth_runtime::{ExecOptions, Runtime};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use super::wire::{self, Received, Reply, Request};
use crate::error::{Error, Result};

/// The helper's arguments.
#[derive(Debug)]
struct Args {
    runtime_root: PathBuf,
    /// Where the `exec_die` event goes.
    events_log: PathBuf,
    id: String,
}

/// The exit code of a helper that refused its arguments (as the monitor's).
const REFUSED: i32 = 2;

fn parse(args: &[String]) -> Result<Args> {
    let bad = |m: String| Error::invalid("exec helper arguments", m);
    let (mut root, mut runroot, mut id, mut control, mut proto) = (None, None, None, None, 1);
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            return Err(bad(format!("{} needs a value", pair[0])));
        };
        match key.as_str() {
            "--root" => root = Some(PathBuf::from(value)),
            "--runroot" => runroot = Some(PathBuf::from(value)),
            "--id" => id = Some(value.clone()),
            "--control-fd" => control = value.parse::<RawFd>().ok(),
            "--proto" => proto = value.parse().map_err(|_| bad("bad --proto".into()))?,
            other => return Err(bad(format!("unknown {other}"))),
        }
    }
    // The control socket is always descriptor 3 (the only one besides stdio we keep).
    let (Some(root), Some(id), Some(3)) = (root, id, control) else {
        return Err(bad("--root, --id and --control-fd 3 are required".into()));
    };
    crate::proto::check_starter(proto)?;
    let paths = crate::paths::Paths::new(&root, runroot.as_deref());
    Ok(Args {
        runtime_root: paths.runtime_root(),
        events_log: paths.events_log(),
        id,
    })
}

/// Runs the helper; never returns.
pub(crate) fn main(args: &[String]) -> ! {
    // SAFETY: descriptor 3 was given to us by the engine as our control socket; we own it.
    let control = unsafe { OwnedFd::from_raw_fd(3) };
    // Not for the process (the runtime closes it at its exec anyway).
    let _ = nix::fcntl::fcntl(
        control.as_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            report(control.as_fd(), 125, &format!("berth-monitor exec: {e}"));
            eprintln!("berth-monitor exec: {e}");
            std::process::exit(REFUSED);
        }
    };
    let code = match run(&a, control.as_fd()) {
        Ok(()) => 0,
        Err((code, msg)) => {
            report(control.as_fd(), code, &msg);
            1
        }
    };
    std::process::exit(code)
}

fn report(control: BorrowedFd<'_>, code: i32, msg: &str) {
    let line = Reply::Error {
        code,
        msg: msg.replace('\n', " "),
    };
    let _ = wire::send(control, line.encode().as_bytes(), None);
}

/// Starts the process and serves it until it exits. Errors before the process runs are
/// (code, message) for the engine.
fn run(a: &Args, control: BorrowedFd<'_>) -> std::result::Result<(), (i32, String)> {
    let internal = |e: Error| (125, e.to_string());
    let req: Request = match wire::recv(control, true).map_err(internal)? {
        Received::Msg(m, _) => {
            serde_json::from_slice(&m).map_err(|e| (125, format!("malformed exec request: {e}")))?
        }
        // The engine went away before asking anything.
        Received::Closed | Received::Empty => return Ok(()),
    };
    let tty = req.process.terminal() == Some(true);
    // SIGCHLD is read from a signalfd; blocked before the fork so that none is lost (the
    // runtime clears the mask in the child).
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let sfd = chld
        .thread_block()
        .and_then(|_| SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK))
        .map_err(|e| (125, format!("exec helper: signalfd: {e}")))?;
    let exec_err = |e: berth_runtime::Error| (e.exec_exit_code().unwrap_or(126), e.to_string());
    let rt = Runtime::new(a.runtime_root.clone()).map_err(exec_err)?;
    let container = rt.load(&a.id).map_err(exec_err)?;
    let ex = container
        .exec(&ExecOptions {
            process: req.process,
            console_socket: None,
            keep_console: tty,
            pid_file: None,
            preserve_fds: 0,
            stdio: (!tty).then_some([0, 1, 2]),
        })
        .map_err(exec_err)?;
    drop(container);
    drop(rt);
    // Only the process holds the caller's descriptors now.
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto our own standard descriptors, which nothing else borrows.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let ok = Reply::Ok(ex.pid).encode();
    // A detached tty stays with us (drained); otherwise the caller relays it.
    let (attach, kept) = match ex.console {
        Some(m) if !req.detach => (Some(m), None),
        other => (None, other),
    };
    let engine_open =
        wire::send(control, ok.as_bytes(), attach.as_ref().map(|m| m.as_fd())).is_ok();
    drop(attach);
    // Without a code (we could not wait for the process) the engine hears nothing more and
    // reports an error, never a made-up code.
    if let Some(code) = serve(ex.pid, control, engine_open, &sfd, kept) {
        // Recorded before the engine hears of the exit, so that it is in the log when
        // `exec` returns.
        if let Some(mut actor) = req.die_event {
            actor.attributes.insert("exitCode".into(), code.to_string());
            crate::events::append_to(
                &a.events_log,
                &crate::events::event_now("container", "exec_die", actor),
            );
        }
        let _ = wire::send(control, Reply::Exit(code).encode().as_bytes(), None);
    }
    Ok(())
}

/// Relays the engine's signals to `pid` until it exits; discards a kept pty's output.
/// Returns its exit code.
fn serve(
    pid: i32,
    control: BorrowedFd<'_>,
    mut engine_open: bool,
    sfd: &SignalFd,
    mut pty: Option<OwnedFd>,
) -> Option<i32> {
    let mut buf = [0u8; 4096];
    let mut trimmed = false;
    loop {
        if let Some(code) = reap(pid) {
            return Some(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let ctl_at = engine_open.then(|| {
            fds.push(PollFd::new(control, PollFlags::POLLIN));
            fds.len() - 1
        });
        let pty_at = pty.as_ref().map(|m| {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        // A process that runs on (a detached one, often) leaves us idle: after a second,
        // give back the memory that starting it took, as the monitor does.
        let timeout = if trimmed {
            PollTimeout::NONE
        } else {
            PollTimeout::from(1000u16)
        };
        match poll(&mut fds, timeout) {
            Ok(0) => {
                crate::monitor::trim::trim();
                trimmed = true;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            // Cannot wait for events: wait for the process alone.
            Err(_) => return wait_blocking(pid),
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, ctl_ready, pty_ready) = (ready(Some(0)), ready(ctl_at), ready(pty_at));
        drop(fds);
        if sig_ready {
            while let Ok(Some(_)) = sfd.read_signal() {}
        }
        if ctl_ready {
            match wire::recv(control, false) {
                Ok(Received::Msg(m, _)) => {
                    let sig = wire::parse_signal(&String::from_utf8_lossy(&m))
                        .and_then(|n| Signal::try_from(n).ok());
                    // Not reaped yet (only this loop reaps), so `pid` is still our child.
                    if let Some(sig) = sig {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                    }
                }
                Ok(Received::Empty) => {}
                // The engine went away: the process goes on, and we with it.
                Ok(Received::Closed) | Err(_) => engine_open = false,
            }
        }
        if pty_ready
            && let Some(m) = &pty
            && !matches!(nix::unistd::read(m.as_fd(), &mut buf), Ok(n) if n > 0)
        {
            pty = None;
        }
    }
}

fn status_code(st: WaitStatus) -> Option<i32> {
    match st {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// Reaps what has exited; `pid`'s exit code once it has.
fn reap(pid: i32) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(st) if st.pid().map(|p| p.as_raw()) == Some(pid) => {
                if let Some(code) = status_code(st) {
                    return Some(code);
                }
            }
            Ok(_) => {}
        }
    }
}

fn wait_blocking(pid: i32) -> Option<i32> {
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(st) => {
                if let Some(code) = status_code(st) {
                    return Some(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let version = crate::proto::VERSION.to_string();
        let good = [
            "--root",
            "/r",
            "--runroot",
            "/rr",
            "--id",
            "abc",
            "--control-fd",
            "3",
            "--proto",
        ];
        let mut ok = args(&good);
        ok.push(version);
        let a = parse(&ok).unwrap();
        assert_eq!(a.runtime_root, std::path::Path::new("/rr/runtime"));
        assert_eq!(a.id, "abc");
        // Another build's starter is refused clearly.
        let mut old = args(&good);
        old.push("1".into());
        let e = parse(&old).unwrap_err().to_string();
        assert!(e.contains("protocol") && e.contains("same build"), "{e}");
        assert!(parse(&args(&["--root", "/r", "--id"])).is_err());
        assert!(parse(&args(&["--root", "/r", "--id", "x", "--control-fd", "4"])).is_err());
        assert!(parse(&args(&["--bogus", "1"])).is_err());
    }
}

//! The keeper: a second, small process per container that holds copies of what the
//! monitor must not take to its grave. It has the container's output pipes (so a dead
//! monitor neither makes the container's writes fail nor loses them: they wait in the
//! pipe), its stdin (no EOF), its pty master (no hangup) and a pidfd of its init (its exit
//! status, whoever reaps it). When the monitor dies the keeper's socket reads EOF and it
//! starts a monitor that adopts the container with those descriptors, then exits; that
//! monitor forks a keeper of its own. Killing either one leaves the other to restore the
//! pair; only both at once lose the container's stdio (a later command still adopts it).
//!
//! The monitor forks the keeper first thing, while it is small, and sends it descriptors
//! over a SOCK_SEQPACKET socket: `[op, role]` with the descriptor by SCM_RIGHTS.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

use crate::error::{Error, Result};

/// What a held descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Role {
    /// Our write end of the container's stdin pipe (or the pty master, with a terminal).
    Stdin = b'i',
    Stdout = b'o',
    Stderr = b'e',
    /// The pty master.
    Pty = b't',
    /// A pidfd of the container's init.
    Init = b'p',
}

impl Role {
    const ALL: [Role; 5] = [
        Role::Stdin,
        Role::Stdout,
        Role::Stderr,
        Role::Pty,
        Role::Init,
    ];

    fn from_byte(b: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|r| *r as u8 == b)
    }

    /// The name used on the adopting monitor's command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Stdin => "stdin",
            Role::Stdout => "stdout",
            Role::Stderr => "stderr",
            Role::Pty => "pty",
            Role::Init => "init",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

const HOLD: u8 = b'H';
const DROP: u8 = b'D';
const DONE: u8 = b'Q';

/// What the keeper needs to start an adopting monitor.
#[derive(Debug, Clone)]
pub(crate) struct KeeperArgs {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub id: String,
}

/// The monitor's side of its keeper.
pub(crate) struct Keeper {
    sock: OwnedFd,
    pub pid: i32,
}

impl Keeper {
    /// Forks the keeper. The caller must be single-threaded (the monitor is).
    pub(crate) fn start(args: &KeeperArgs) -> Result<Keeper> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::io("create the keeper's socket", e.into()))?;
        // SAFETY: the monitor is single-threaded; the child only runs `keeper_main`, which
        // never returns.
        match unsafe { nix::unistd::fork() } {
            Err(e) => Err(Error::io("fork the keeper", e.into())),
            Ok(nix::unistd::ForkResult::Child) => {
                drop(mine);
                keeper_main(theirs, args)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(theirs);
                Ok(Keeper {
                    sock: mine,
                    pid: child.as_raw(),
                })
            }
        }
    }

    fn send(&self, op: u8, role: Option<Role>, fd: Option<BorrowedFd<'_>>) -> Result<()> {
        let msg = [op, role.map_or(0, |r| r as u8)];
        let iov = [IoSlice::new(&msg)];
        let fds;
        let cmsgs: &[ControlMessage] = match fd {
            Some(f) => {
                fds = [f.as_raw_fd()];
                &[ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        sendmsg::<()>(
            self.sock.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(drop)
        .map_err(|e| Error::io("send to the keeper", e.into()))
    }

    /// The keeper keeps a copy of `fd` as `role` (replacing what it held as `role`).
    pub(crate) fn hold(&self, role: Role, fd: BorrowedFd<'_>) -> Result<()> {
        self.send(HOLD, Some(role), Some(fd))
    }

    /// The keeper closes what it holds as `role`.
    pub(crate) fn release(&self, role: Role) -> Result<()> {
        self.send(DROP, Some(role), None)
    }

    /// The container is done for good: the keeper exits without starting anyone.
    fn done(&self) {
        let _ = self.send(DONE, None, None);
    }
}

/// A monitor that ends normally (returns, fails, unwinds) dismisses its keeper; only one
/// that is killed (no destructor runs) leaves it to start an adopter.
impl Drop for Keeper {
    fn drop(&mut self) {
        self.done();
    }
}

/// Receives one message: (op, role, descriptor); None at EOF or on an error.
fn recv(sock: BorrowedFd<'_>) -> Option<(u8, Option<Role>, Option<OwnedFd>)> {
    let mut buf = [0u8; 2];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(r) => {
                if r.bytes == 0 {
                    return None;
                }
                let mut fd = None;
                if let Ok(cmsgs) = r.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(v) = c {
                            for raw in v {
                                // SAFETY: SCM_RIGHTS gave us a new descriptor to own.
                                let owned = unsafe {
                                    <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw)
                                };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                }
                return Some((buf[0], Role::from_byte(buf[1]), fd));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// The keeper's life: hold what the monitor sends; on EOF (the monitor died) start an
/// adopting monitor with it; on DONE just exit. Never returns.
fn keeper_main(sock: OwnedFd, args: &KeeperArgs) -> ! {
    // Only our socket, moved to 3: the monitor's other descriptors (its pipes, its
    // listener, the database) must not stay open because of us.
    let raw = std::os::fd::IntoRawFd::into_raw_fd(sock);
    // SAFETY: dup2 onto 3 in this freshly forked process, whose 3 (the monitor's notify
    // pipe or a held descriptor) is not ours to keep; the original goes with the rest.
    if raw != 3 && unsafe { libc::dup2(raw, 3) } < 0 {
        std::process::exit(1);
    }
    // SAFETY: close_range on descriptors of this process that no code uses any more.
    unsafe { libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) };
    // SAFETY: 3 is the socket's copy, ours alone now.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(3) };
    let _ = nix::sys::prctl::set_name(c"berth-keeper");
    let mut held: Vec<(Role, OwnedFd)> = Vec::new();
    // Trimmed after the first quiet second (not at once: the container's start is
    // under way on the other CPU).
    let mut busy = true;
    let done = loop {
        // After a second without messages, give back what handling them mapped again.
        let mut pfd = [rustix::event::PollFd::new(
            &sock,
            rustix::event::PollFlags::IN,
        )];
        let second = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        let timeout = busy.then_some(&second);
        if let Ok(0) = rustix::event::poll(&mut pfd, timeout) {
            super::trim::trim();
            busy = false;
            continue;
        }
        busy = true;
        match recv(sock.as_fd()) {
            Some((HOLD, Some(role), Some(fd))) => {
                held.retain(|(r, _)| *r != role);
                held.push((role, fd));
            }
            Some((DROP, Some(role), _)) => held.retain(|(r, _)| *r != role),
            Some((DONE, _, _)) => break true,
            Some(_) => {}
            None => break false,
        }
    };
    if !done {
        adopt(args, &held);
    }
    std::process::exit(0)
}

/// Starts `berth-monitor --adopt` with the held descriptors at 3, 4, ...
fn adopt(args: &KeeperArgs, held: &[(Role, OwnedFd)]) {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let mut argv = crate::proto::monitor_args(&args.root, &args.runroot, &args.id);
    argv.push("--adopt".into());
    let mut fds = Vec::new();
    for (i, (role, fd)) in held.iter().enumerate() {
        let n = 3 + i32::try_from(i).unwrap_or(0);
        argv.push("--held".into());
        argv.push(format!("{}={n}", role.name()).into());
        fds.push((fd.as_fd(), n));
    }
    // We stay until the adopter has recorded itself as the container's monitor (it closes
    // this pipe then), so that no command ever finds neither a monitor nor a keeper alive
    // and starts a second adopter.
    let Ok((ready_r, ready_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return;
    };
    let n = 3 + i32::try_from(held.len()).unwrap_or(0);
    argv.push("--ready".into());
    argv.push(n.to_string().into());
    fds.push((ready_w.as_fd(), n));
    if crate::spawn::spawn(&exe, &argv, &fds).is_err() {
        return;
    }
    drop(ready_w);
    let mut pfd = [nix::poll::PollFd::new(
        ready_r.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16));
}

//! The monitor's event loop: container output to the log and to attach clients, client input
//! to the container, signals, health checks.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant, SystemTime};

use berth_runtime::{CreateOptions, Runtime};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use rustix::event::{PollFd, PollFlags};

use super::keeper::{Keeper, Role};

mod adopt;
mod keep;
mod output;

use super::{Notify, health};
use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::logfile;
use crate::proto::{self, Hello};
pub(crate) use keep::LOST_EXIT_CODE;

/// Drop an attach client whose unread output grows beyond this.
const MAX_CLIENT_BACKLOG: usize = 8 * 1024 * 1024;

/// How long an attach-wait monitor waits without any client before giving up.
const ATTACH_WAIT_LIMIT: Duration = Duration::from_secs(10);

/// How long a new container's monitor waits, quiet, before it forks its keeper: not on the
/// start path (the CPU is the container's then), and not at all for a container that is
/// gone by then (`run --rm true`). A monitor killed meanwhile leaves the next command to
/// adopt the container, without its stdio.
const KEEPER_AFTER: Duration = Duration::from_millis(50);

/// How long the supervise loop stays quiet before it trims its memory.
const IDLE_TRIM_AFTER: Duration = Duration::from_secs(1);

struct Client {
    sock: UnixStream,
    hello: Option<Hello>,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    dead: bool,
}

pub(crate) struct Monitor<'a> {
    engine: &'a Engine,
    c: Container,
    /// Holds copies of the container's stdio and init pidfd, and starts an adopting
    /// monitor if we die (None if it could not be started: then nothing survives us).
    keeper: Option<Keeper>,
    /// When to (re)start the keeper, if we have none.
    keeper_due: Option<Instant>,
    /// A pidfd of the container's init and its start time; `adopted` when we are not its
    /// parent (we adopted it), so that its exit comes through the pidfd, not SIGCHLD.
    init_pidfd: Option<OwnedFd>,
    init_start: u64,
    adopted: bool,
    notify: &'a mut Notify,
    attach_wait: bool,
    /// The process that spawned us (the `run` that will attach); once we are no longer its
    /// child, it has died.
    starter: Option<rustix::process::Pid>,
    tty: bool,
    /// Our ends: container stdin, and output streams (0 stdout, 1 stderr; a tty master is 0).
    stdin_w: Option<OwnedFd>,
    stdin_pending: Vec<u8>,
    outputs: Vec<(OwnedFd, usize)>,
    /// A private pipe that output is copied into before it is consumed (`output.rs`).
    scratch: Option<(OwnedFd, OwnedFd)>,
    /// The container's ends, handed to the runtime and closed once it has them.
    child_stdio: Vec<OwnedFd>,
    master: Option<OwnedFd>,
    listener: UnixListener,
    clients: Vec<Client>,
    log: logfile::Writer,
    sfd: SignalFd,
    init_pid: i32,
    health: health::Checker,
    /// The embedded resolver, on user-defined networks (`open_dns`).
    dns: Option<super::dns::Resolver>,
}

fn nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
        );
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("create a pipe", e.into()))
}

impl<'a> Monitor<'a> {
    pub(crate) fn new(
        engine: &'a Engine,
        c: &Container,
        notify: &'a mut Notify,
        attach_wait: Option<i32>,
        keeper: Option<Keeper>,
    ) -> Result<Monitor<'a>> {
        let mut m = Monitor::base(engine, c, notify, attach_wait, keeper)?;
        m.reopen_stdio()?;
        Ok(m)
    }

    /// What a monitor has whether it starts the container or adopts it.
    fn base(
        engine: &'a Engine,
        c: &Container,
        notify: &'a mut Notify,
        attach_wait: Option<i32>,
        keeper: Option<Keeper>,
    ) -> Result<Monitor<'a>> {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            set.add(s);
        }
        set.thread_block()
            .map_err(|e| Error::io("block signals", e.into()))?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| Error::io("signalfd", e.into()))?;
        let sock = engine.paths.attach_socket(&c.id);
        let _ = std::fs::remove_file(&sock);
        let listener = crate::paths::Paths::with_socket_path(&sock, |p| UnixListener::bind(p))
            .map_err(|e| Error::io(format!("listen on {}", sock.display()), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("set the attach socket non-blocking", e))?;
        let log = logfile::Writer::open(&engine.paths.log_file(&c.id), c.config.host.log.clone())?;
        Ok(Monitor {
            engine,
            c: c.clone(),
            keeper,
            keeper_due: None,
            init_pidfd: None,
            init_start: 0,
            adopted: false,
            notify,
            attach_wait: attach_wait.is_some(),
            starter: attach_wait.and_then(rustix::process::Pid::from_raw),
            tty: c.config.tty,
            stdin_w: None,
            stdin_pending: Vec::new(),
            outputs: Vec::new(),
            scratch: None,
            child_stdio: Vec::new(),
            master: None,
            listener,
            clients: Vec::new(),
            log,
            sfd,
            init_pid: 0,
            health: health::Checker::new(c),
            dns: None,
        })
    }

    /// Starts answering DNS in the container's namespace, if it is on a user-defined
    /// network (once: the namespace stays across restarts). A failure is logged in the
    /// container's state error, not fatal: the container runs without names.
    pub(crate) fn open_dns(&mut self) {
        if self.dns.is_some() {
            return;
        }
        match super::dns::Resolver::open(self.engine, &self.c) {
            Ok(r) => self.dns = r,
            Err(e) => eprintln!("berth-monitor: embedded resolver of {}: {e}", self.c.id),
        }
    }

    /// `OPEN_DNS`: the container's record says again whether it needs a resolver (a
    /// `network connect` has just changed it), which starts now if so. Returns the
    /// `DNS_OPENED` payload: empty when the resolver answers, else the error's text.
    fn open_dns_now(&mut self) -> Vec<u8> {
        if self.dns.is_some() {
            return Vec::new();
        }
        let res = self
            .engine
            .db
            .find(&self.c.id)
            .and_then(|fresh| super::dns::Resolver::open(self.engine, &fresh));
        match res {
            Ok(Some(r)) => {
                self.dns = Some(r);
                Vec::new()
            }
            Ok(None) => b"the container is on no user-defined network".to_vec(),
            Err(e) => e.to_string().into_bytes(),
        }
    }

    /// Makes fresh stdio for the next run of the container.
    pub(crate) fn reopen_stdio(&mut self) -> Result<()> {
        self.outputs.clear();
        self.child_stdio.clear();
        self.stdin_w = None;
        self.master = None;
        if self.tty {
            // The pty master comes with the container.
            return Ok(());
        }
        let stdin_r = if self.c.config.open_stdin {
            let (r, w) = pipe()?;
            nonblocking(w.as_fd());
            self.stdin_w = Some(w);
            r
        } else {
            OwnedFd::from(
                std::fs::File::open("/dev/null").map_err(|e| Error::io("open /dev/null", e))?,
            )
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        nonblocking(out_r.as_fd());
        nonblocking(err_r.as_fd());
        self.outputs = vec![(out_r, 0), (err_r, 1)];
        self.child_stdio = vec![stdin_r, out_w, err_w];
        self.keep_stdio();
        Ok(())
    }

    /// Creates the container (started at once unless attach-wait). Returns whether it runs.
    pub(crate) fn create(&mut self, rt: &Runtime) -> Result<bool> {
        let start_now = !self.attach_wait;
        let stdio = if self.tty {
            None
        } else {
            Some([
                self.child_stdio[0].as_raw_fd(),
                self.child_stdio[1].as_raw_fd(),
                self.child_stdio[2].as_raw_fd(),
            ])
        };
        let opts = CreateOptions {
            bundle: self.engine.paths.bundle(&self.c.id),
            keep_console: self.tty,
            stdio,
            start_now,
            // Docker's engine brings lo up in every network namespace it makes.
            loopback_up: true,
            ..Default::default()
        };
        let created = match rt.create(&self.c.id, &opts) {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                let code = e.exec_exit_code().unwrap_or(125);
                self.engine.db.update_state(&self.c.id, |s| {
                    s.error = msg.clone();
                    s.exit_code = code;
                    s.status = if s.restart_count > 0 {
                        Status::Exited
                    } else {
                        Status::Created
                    };
                    s.pid = 0;
                    Ok(())
                })?;
                let _ = crate::teardown::unmount_rootfs(self.engine, &self.c.id);
                return Err(Error::StartFailed { code, msg });
            }
        };
        self.child_stdio.clear();
        self.init_pid = created.container.pid();
        self.init_start = created.container.saved.start_time;
        self.adopted = false;
        self.init_pidfd = crate::pidfd::open(self.init_pid, self.init_start).ok();
        if let Some(m) = created.console {
            nonblocking(m.as_fd());
            let dup = m.try_clone().map_err(|e| Error::io("dup the pty", e))?;
            self.outputs = vec![(dup, 0)];
            if self.c.config.open_stdin {
                self.stdin_w = Some(m.try_clone().map_err(|e| Error::io("dup the pty", e))?);
            }
            self.master = Some(m);
        }
        self.keep_stdio();
        if start_now {
            self.mark_running()?;
            self.notify.send(&format!("ok {}", self.init_pid));
            self.notify.close();
        }
        Ok(start_now)
    }

    fn mark_running(&mut self) -> Result<()> {
        let pid = self.init_pid;
        let me = nix::unistd::getpid().as_raw();
        let start = berth_runtime::util::proc_stat(me)
            .map(|s| s.start_time)
            .unwrap_or(0);
        let health = self.health.enabled();
        let keeper = self.keeper_ids();
        self.engine.db.update_state(&self.c.id, |s| {
            s.status = Status::Running;
            s.pid = pid;
            s.monitor_pid = me;
            s.monitor_start = start;
            s.monitor_proto = crate::proto::VERSION;
            (s.keeper_pid, s.keeper_start) = keeper;
            s.starter_pid = 0;
            s.starter_start = 0;
            s.exit_code = 0;
            s.error.clear();
            s.oom_killed = false;
            s.started_at = berth_runtime::util::rfc3339(SystemTime::now());
            if health {
                s.health = Some(crate::container::Health {
                    status: "starting".into(),
                    ..Default::default()
                });
            }
            Ok(())
        })?;
        // The record as it is now (a rename since the monitor started shows).
        let now = self.engine.db.find(&self.c.id);
        self.engine
            .event("container", "start", now.as_ref().unwrap_or(&self.c), &[]);
        self.health.started();
        Ok(())
    }

    /// Attach-wait: serves clients until one asks to start. The starter connects right
    /// after "created"; if it dies before attaching, or no client is connected for
    /// `ATTACH_WAIT_LIMIT` (every client left), the container is not started and stays
    /// created, as Docker's does when `docker run` is killed before the start.
    pub(crate) fn wait_for_start(&mut self, rt: &Runtime) -> Result<()> {
        // Known as this container's monitor from now on, so that no other command takes
        // the container for abandoned while we wait for the client.
        let me = nix::unistd::getpid().as_raw();
        let start = berth_runtime::util::proc_stat(me).map_or(0, |s| s.start_time);
        self.engine.db.update_state(&self.c.id, |s| {
            s.monitor_pid = me;
            s.monitor_start = start;
            Ok(())
        })?;
        self.notify.send("created");
        self.notify.close();
        let mut alone_since = Instant::now();
        loop {
            self.accept();
            let starter_gone = rustix::process::getppid() != self.starter;
            if !self.clients.is_empty() {
                alone_since = Instant::now();
            } else if starter_gone || alone_since.elapsed() > ATTACH_WAIT_LIMIT {
                if let Ok(c) = rt.load(&self.c.id) {
                    let _ = c.delete(true);
                }
                let _ = crate::teardown::unmount_rootfs(self.engine, &self.c.id);
                // `run --rm` died before the start: nothing will start it, so it goes
                // (Docker leaves it created forever).
                if self.c.config.host.auto_remove
                    && let Ok(fresh) = self.engine.db.find(&self.c.id)
                    && fresh.state.status == Status::Created
                {
                    let _ = self.engine.remove_records(&fresh, true);
                    self.engine.event("container", "destroy", &fresh, &[]);
                }
                return Err(Error::Internal(
                    "no client attached to start the container".into(),
                ));
            }
            let mut fds = vec![PollFd::new(&self.listener, PollFlags::IN)];
            for cl in &self.clients {
                fds.push(PollFd::new(&cl.sock, PollFlags::IN));
            }
            let ts = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 200_000_000,
            };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
            drop(fds);
            if self.read_clients(true)? {
                let c = rt.load(&self.c.id)?;
                c.start()?;
                self.mark_running()?;
                return Ok(());
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((sock, _)) = self.listener.accept() {
            let _ = sock.set_nonblocking(true);
            self.clients.push(Client {
                sock,
                hello: None,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                dead: false,
            });
        }
    }

    /// Reads what clients sent; returns whether one asked to start.
    fn read_clients(&mut self, until_start: bool) -> Result<bool> {
        let mut start = false;
        let mut open_dns = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        for i in 0..self.clients.len() {
            loop {
                match self.clients[i].sock.read(&mut buf) {
                    Ok(0) => {
                        self.clients[i].dead = true;
                        break;
                    }
                    Ok(n) => self.clients[i].inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.clients[i].dead = true;
                        break;
                    }
                }
            }
            let frames = proto::take_client_frames(&mut self.clients[i].inbuf);
            for (kind, payload) in frames {
                match kind {
                    proto::HELLO => {
                        self.clients[i].hello = serde_json::from_slice(&payload).ok();
                    }
                    proto::STDIN => {
                        let wants = self.clients[i].hello.as_ref().is_some_and(|h| h.stdin);
                        if wants && self.stdin_w.is_some() {
                            self.stdin_pending.extend_from_slice(&payload);
                        }
                    }
                    proto::STDIN_CLOSE if !self.tty => self.stdin_close_after_flush(),
                    proto::RESIZE if payload.len() == 4 => {
                        if let Some(m) = &self.master {
                            let rows = u16::from_be_bytes([payload[0], payload[1]]);
                            let cols = u16::from_be_bytes([payload[2], payload[3]]);
                            let _ = berth_runtime::set_size(m.as_fd(), rows, cols);
                        }
                    }
                    proto::START if until_start => start = true,
                    proto::OPEN_DNS => open_dns.push(i),
                    _ => {}
                }
            }
        }
        for i in open_dns {
            let answer = proto::stream_frame(proto::DNS_OPENED, &self.open_dns_now());
            self.clients[i].outbuf.extend_from_slice(&answer);
        }
        self.flush_stdin();
        self.clients.retain(|c| !c.dead);
        Ok(start)
    }

    fn stdin_close_after_flush(&mut self) {
        // The keeper's copy would keep the container from ever reading EOF.
        if let Some(k) = &self.keeper {
            let _ = k.release(Role::Stdin);
        }
        self.flush_stdin();
        if self.stdin_pending.is_empty() {
            self.stdin_w = None;
        } else {
            // Give the container a moment to take the rest, then close.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.stdin_pending.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
                self.flush_stdin();
            }
            self.stdin_w = None;
        }
    }

    fn flush_stdin(&mut self) {
        let Some(w) = &self.stdin_w else {
            self.stdin_pending.clear();
            return;
        };
        while !self.stdin_pending.is_empty() {
            match nix::unistd::write(w, &self.stdin_pending) {
                Ok(n) => {
                    self.stdin_pending.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.stdin_pending.clear();
                    self.stdin_w = None;
                    break;
                }
            }
        }
    }

    fn broadcast(&mut self, stream: usize, data: &[u8]) {
        // Always framed (a tty's output is all stdout), so the exit frame can follow.
        let framed = proto::stream_frame(
            if stream == 0 {
                proto::STDOUT
            } else {
                proto::STDERR
            },
            data,
        );
        for cl in &mut self.clients {
            let Some(h) = &cl.hello else { continue };
            if (stream == 0 && h.stdout) || (stream == 1 && h.stderr) {
                cl.outbuf.extend_from_slice(&framed);
                if cl.outbuf.len() > MAX_CLIENT_BACKLOG {
                    cl.dead = true;
                }
            }
        }
    }

    fn write_clients(&mut self) {
        for cl in &mut self.clients {
            while !cl.outbuf.is_empty() {
                match cl.sock.write(&cl.outbuf) {
                    Ok(0) => {
                        cl.dead = true;
                        break;
                    }
                    Ok(n) => {
                        cl.outbuf.drain(..n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        cl.dead = true;
                        break;
                    }
                }
            }
        }
        self.clients.retain(|c| !c.dead);
    }

    /// Runs until the container's init has exited and its output is drained; returns the
    /// exit code (128+N for signal N).
    pub(crate) fn supervise(&mut self, rt: &Runtime) -> Result<i32> {
        let mut exit: Option<i32> = None;
        let mut exited_at = Instant::now();
        let mut open: Vec<bool> = vec![true; self.outputs.len()];
        // What starting needed goes back at once (the starter has its answer), and again
        // whenever the loop has been quiet for a second, before it sleeps; see trim.rs.
        self.engine.db.release();
        super::trim::trim();
        let mut last_activity = Instant::now();
        if self.keeper.is_none() && self.keeper_due.is_none() {
            self.keeper_due = Some(Instant::now() + KEEPER_AFTER);
        }
        loop {
            if exit.is_none() && self.keeper_due.is_some_and(|d| Instant::now() >= d) {
                self.restart_keeper();
            }
            if let Some(code) = exit {
                let drained = open.iter().all(|o| !o);
                // Processes that outlive the init (no pid namespace) may hold the pipes:
                // do not wait for them forever.
                if drained || exited_at.elapsed() > Duration::from_secs(1) {
                    return Ok(code);
                }
            }
            self.accept();
            let mut timeout = self
                .health
                .next_due()
                .map(|d| u64::try_from(d.as_millis().min(60_000)).unwrap_or(60_000))
                .unwrap_or(60_000);
            if exit.is_some() {
                timeout = 50;
            }
            if let Some(left) = self.dns.as_ref().and_then(|d| d.next_timeout()) {
                timeout = timeout.min(u64::try_from(left.as_millis()).unwrap_or(0).max(1));
            }
            if let Some(due) = self.keeper_due.filter(|_| exit.is_none()) {
                let left = due.saturating_duration_since(Instant::now());
                timeout = timeout.min(u64::try_from(left.as_millis()).unwrap_or(0).max(1));
            }
            let quiet = last_activity.elapsed();
            let trim_now = exit.is_none() && quiet >= IDLE_TRIM_AFTER;
            if !trim_now {
                let until_trim = IDLE_TRIM_AFTER.saturating_sub(quiet).as_millis();
                timeout = timeout.min(u64::try_from(until_trim).unwrap_or(u64::MAX));
            }
            let timeout = timeout.max(1);
            let mut fds = vec![
                PollFd::new(&self.sfd, PollFlags::IN),
                PollFd::new(&self.listener, PollFlags::IN),
            ];
            let out_base = fds.len();
            for (i, (fd, _)) in self.outputs.iter().enumerate() {
                let ev = if open[i] {
                    PollFlags::IN
                } else {
                    PollFlags::empty()
                };
                fds.push(PollFd::new(fd, ev));
            }
            let cl_base = fds.len();
            for cl in &self.clients {
                let mut ev = PollFlags::IN;
                if !cl.outbuf.is_empty() {
                    ev |= PollFlags::OUT;
                }
                fds.push(PollFd::new(&cl.sock, ev));
            }
            if let Some(w) = &self.stdin_w
                && !self.stdin_pending.is_empty()
            {
                fds.push(PollFd::new(w, PollFlags::OUT));
            }
            // The resolver's sockets (before the pidfd: that one must be last).
            let cl_end = fds.len();
            if let Some(d) = &self.dns {
                for (fd, ev) in d.poll_fds() {
                    fds.push(PollFd::from_borrowed_fd(fd, ev));
                }
            }
            let dns_end = fds.len();
            // An adopted init is not our child: its exit shows on its pidfd.
            let pidfd_at = fds.len();
            if self.adopted
                && exit.is_none()
                && let Some(p) = &self.init_pidfd
            {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            if trim_now {
                self.engine.db.release();
                if let Some(d) = &self.dns {
                    d.shrink();
                }
                super::trim::trim();
            }
            // At most 60 s (above), so the conversion cannot fail; 60 s if it did.
            let ts = rustix::event::Timespec::try_from(Duration::from_millis(timeout)).unwrap_or(
                rustix::event::Timespec {
                    tv_sec: 60,
                    tv_nsec: 0,
                },
            );
            // A raw system call (no libc), so that an idle monitor's sleep touches no page
            // that trimming dropped.
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => {}
                Ok(_) => last_activity = Instant::now(),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("poll", e.into())),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            for i in 0..self.outputs.len() {
                if open[i] && ready[out_base + i] {
                    open[i] = self.read_output(i)?;
                }
            }
            if ready[cl_base..cl_end].iter().any(|r| *r) || !self.stdin_pending.is_empty() {
                self.read_clients(false)?;
            }
            self.write_clients();
            if let Some(d) = &mut self.dns {
                d.on_ready(self.engine, &ready[cl_end..dns_end]);
            }
            if ready[0] {
                while let Ok(Some(_)) = self.sfd.read_signal() {}
                self.reap(&mut exit, &mut exited_at);
            }
            if ready.get(pidfd_at).copied().unwrap_or(false) && exit.is_none() {
                exit = Some(self.adopted_exit_code());
                exited_at = Instant::now();
            }
            if exit.is_none() {
                self.health.tick(self.engine, &self.c, rt);
            }
        }
    }

    fn reap(&mut self, exit: &mut Option<i32>, exited_at: &mut Instant) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => {
                    let code = match st {
                        WaitStatus::Exited(_, c) => c,
                        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
                        _ => continue,
                    };
                    let pid = st.pid().map(|p| p.as_raw()).unwrap_or(0);
                    if pid == self.init_pid && !self.adopted {
                        *exit = Some(code);
                        *exited_at = Instant::now();
                    } else if self.keeper.as_ref().is_some_and(|k| k.pid == pid) {
                        // Our keeper died: another takes its place at once.
                        self.restart_keeper();
                    } else {
                        self.health.reaped(pid, code);
                    }
                }
            }
        }
    }

    /// After the init exited: flush the log, record the exit (OOM included), release the
    /// runtime's resources. Returns (exit code, OOM killed).
    pub(crate) fn finish_run(&mut self, rt: &Runtime, code: i32) -> Result<(i32, bool)> {
        self.log.flush()?;
        self.health.stop();
        let mut oom = false;
        if let Ok(c) = rt.load(&self.c.id) {
            oom = c.saved.cgroup.oom_kills() > 0;
            c.delete_exited()?;
        }
        self.engine.db.update_state(&self.c.id, |s| {
            s.status = Status::Exited;
            s.exit_code = code;
            s.oom_killed = oom;
            s.pid = 0;
            s.finished_at = berth_runtime::util::rfc3339(SystemTime::now());
            if let Some(h) = &mut s.health {
                h.status = "unhealthy".into();
                h.failing_streak = 0;
            }
            s.health = None;
            Ok(())
        })?;
        Ok((code, oom))
    }

    /// The container is gone for good: tell the clients that want it and let them go.
    pub(crate) fn last_exit(&mut self, code: i32) {
        for cl in &mut self.clients {
            if cl.hello.as_ref().is_some_and(|h| h.want_exit) {
                cl.outbuf
                    .extend_from_slice(&proto::stream_frame(proto::EXIT, &code.to_be_bytes()));
            }
            let _ = cl.sock.set_nonblocking(false);
            let _ = cl.sock.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = cl.sock.write_all(&cl.outbuf);
            cl.outbuf.clear();
        }
        self.clients.clear();
    }
}

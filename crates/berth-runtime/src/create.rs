//! `create`: the runtime's side of making a container (see `init` for the forked side).

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::SystemTime;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespaceType, LinuxResources};

use crate::cgroups::{Cgroup, Layout};
use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::init::{self, InitArgs};
use crate::seccomp;
use crate::spawn::{self, ForChildren, Forked};
use crate::spec::{self, Bundle};
use crate::state::{Container, Runtime, Saved, Status, validate_id};
use crate::util;

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory (holding config.json).
    pub bundle: PathBuf,
    /// Where to send the pty master when the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// Keep the pty master and return it (instead of a console socket).
    pub keep_console: bool,
    /// Write the init's pid here.
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Descriptors 3..3+N of the caller are passed to the container process.
    pub preserve_fds: u32,
    /// Descriptors to use as the container's stdin, stdout and stderr (default: inherited).
    pub stdio: Option<[RawFd; 3]>,
    /// Start the process as soon as it is created (what `run` does), without an exec fifo.
    pub start_now: bool,
    /// Bring `lo` up in the network namespace the container gets of its own (not in one it
    /// joins by path), before its process starts: what Docker's engine does for every
    /// namespace it creates. The OCI spec says nothing of it and runc leaves `lo` down, so
    /// the runtime's runc-compatible CLI does not ask for it; Berth's engine does.
    pub loopback_up: bool,
}

/// A created container (and the pty master when `keep_console` was asked).
#[derive(Debug)]
pub struct Created {
    pub container: Container,
    pub console: Option<OwnedFd>,
}

/// Device rules for the nodes the runtime itself creates, appended to the spec's list so
/// that a "deny all" first rule never locks the container out of /dev/null.
fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |t, ma: i64, mi: Option<i64>, acc: &str| {
        let mut b = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(t)
            .major(ma)
            .access(acc.to_string());
        if let Some(mi) = mi {
            b = b.minor(mi);
        }
        b.build().unwrap_or_default()
    };
    vec![
        rule(LinuxDeviceType::C, 1, Some(3), "rwm"),
        rule(LinuxDeviceType::C, 1, Some(5), "rwm"),
        rule(LinuxDeviceType::C, 1, Some(7), "rwm"),
        rule(LinuxDeviceType::C, 1, Some(8), "rwm"),
        rule(LinuxDeviceType::C, 1, Some(9), "rwm"),
        rule(LinuxDeviceType::C, 5, Some(0), "rwm"),
        rule(LinuxDeviceType::C, 5, Some(1), "rwm"),
        rule(LinuxDeviceType::C, 5, Some(2), "rwm"),
        rule(LinuxDeviceType::C, 136, None, "rwm"),
    ]
}

/// The resources to apply: the spec's, plus rules for the default and spec devices.
pub(crate) fn effective_resources(b: &Bundle) -> LinuxResources {
    let linux = b.spec.linux().as_ref();
    let mut r = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if let Some(mut devs) = r.devices().clone() {
        devs.extend(default_device_rules());
        for d in linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]) {
            if let Ok(rule) = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(d.typ())
                .major(d.major())
                .minor(d.minor())
                .access("rwm".to_string())
                .build()
            {
                devs.push(rule);
            }
        }
        r.set_devices(Some(devs));
    }
    r
}

impl Runtime {
    /// Creates container `id` from a bundle: the init process waits for `start`.
    pub fn create(&self, id: &str, o: &CreateOptions) -> Result<Created> {
        util::trace("create: start");
        validate_id(id)?;
        crate::process::preserved_end(o.preserve_fds)?;
        let status = util::self_status()?;
        if status.threads > 1 {
            return Err(Error::MultiThreaded(status.threads));
        }
        let bundle = Bundle::load(&o.bundle)?;
        let process = bundle
            .spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::spec("process", "required"))?;
        if process.terminal() == Some(true) && o.console_socket.is_none() && !o.keep_console {
            return Err(Error::arg(
                "--console-socket",
                "required when process.terminal is true and the runtime detaches",
            ));
        }
        if !spec::has_new_ns(&bundle.spec, LinuxNamespaceType::Mount) {
            return Err(Error::spec(
                "linux.namespaces",
                "a new mount namespace is required",
            ));
        }
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_string()));
            }
            Err(e) => return Err(e).ctx(|| format!("create {}", dir.display())),
        }
        util::trace("create: bundle loaded");
        let layout = Layout::detect()?;
        util::trace("create: layout");
        let cgroup_path = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone());
        let cgroup = match Cgroup::new(&layout, cgroup_path.as_deref(), id) {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        util::trace("create: cgroup paths");
        let mut c = Container {
            saved: Saved {
                id: id.to_string(),
                pid: 0,
                start_time: 0,
                bundle: bundle.dir.clone(),
                rootfs: bundle.rootfs.clone(),
                created: util::rfc3339(SystemTime::now()),
                owner: String::new(),
                created_done: false,
                cgroup,
                no_pivot: o.no_pivot,
                no_new_keyring: o.no_new_keyring,
                spec: bundle.spec.clone(),
            },
            dir,
        };
        match create_inner(&mut c, &bundle, o, status.ignored_signals) {
            Ok(console) => Ok(Created {
                container: c,
                console,
            }),
            Err(e) => {
                if c.saved.pid > 0 {
                    let pid = Pid::from_raw(c.saved.pid);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = waitpid(pid, None);
                }
                let _ = c.saved.cgroup.destroy();
                let _ = std::fs::remove_dir_all(&c.dir);
                Err(e)
            }
        }
    }
}

fn create_inner(
    c: &mut Container,
    bundle: &Bundle,
    o: &CreateOptions,
    ignored_signals: u64,
) -> Result<Option<OwnedFd>> {
    let linux = bundle.spec.linux().as_ref();
    let compiled = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::compile_cached(s, &c.seccomp_cache_dir())?),
        None => None,
    };
    let listener = match compiled.as_ref().and_then(|s| s.listener.as_ref()) {
        Some(p) => Some(
            UnixStream::connect(p)
                .ctx(|| format!("connect to seccomp listener {}", p.display()))?,
        ),
        None => None,
    };
    let console_sock = match &o.console_socket {
        Some(p) => Some(
            UnixStream::connect(p).ctx(|| format!("connect to console socket {}", p.display()))?,
        ),
        None => None,
    };
    // The state first (so that `delete` can clean up after a crash from here on), then the
    // cgroup directories, which the init's cgroup mount needs; limits and membership are
    // set while the child unshares its namespaces.
    c.save()?;
    util::trace("create: state saved");
    c.saved.cgroup.create()?;
    util::trace("create: cgroup dirs");
    // Without `start_now`, the init waits on the exec fifo until `start`.
    let fifo = if o.start_now {
        None
    } else {
        let fifo_path = c.fifo_path();
        nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .ctx(|| format!("create {}", fifo_path.display()))?;
        Some(
            nix::fcntl::open(
                &fifo_path,
                nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| format!("open {}", fifo_path.display()))?,
        )
    };
    util::trace("create: fifo");
    let (parent_ch, child_ch) = Channel::pair()?;
    let hooks = bundle.spec.hooks().as_ref();
    let runtime_hooks = !hooks::Kind::Prestart.select(hooks).is_empty()
        || !hooks::Kind::CreateRuntime.select(hooks).is_empty();
    let args = InitArgs {
        id: &c.saved.id,
        bundle,
        cgroup: &c.saved.cgroup,
        ch: &child_ch,
        fifo: fifo.as_ref().map(|f| f.as_raw_fd()),
        seccomp: compiled.as_ref(),
        seccomp_listener: listener.as_ref(),
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        preserve_fds: o.preserve_fds,
        stdio: o.stdio,
        loopback_up: o.loopback_up,
        runtime_hooks,
        direct: spawn::direct_possible(&bundle.spec),
        ignored_signals,
    };
    let direct = args.direct;
    // Orphans of the intermediate (the init) come back to us.
    nix::sys::prctl::set_child_subreaper(true).ctx(|| "become a child subreaper")?;
    util::trace("create: before ns");
    let ns_guard = if direct {
        let offsets = spawn::time_offsets(&bundle.spec);
        Some(ForChildren::enter(
            &spawn::for_children(&bundle.spec),
            offsets.as_deref(),
        )?)
    } else {
        None
    };
    util::trace("create: ns entered");
    let unified = c.saved.cgroup.unified_handle();
    // SAFETY: the runtime is single-threaded (checked above); the child runs only the init
    // code and ends with _exit or execve.
    let forked = unsafe { spawn::fork_into(unified.as_ref().map(|f| f.as_fd())) };
    util::trace("create: fork returned");
    let child = match forked {
        Ok(Forked::Child { in_unified }) => {
            drop(parent_ch);
            if direct {
                init::direct_init(&args, in_unified)
            } else {
                init::intermediate(&args, in_unified)
            }
        }
        Ok(Forked::Parent(child)) => child,
        Err(e) => return Err(e),
    };
    drop(unified);
    if let Some(g) = ns_guard
        && let Err(e) = g.restore()
    {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(e);
    }
    if direct {
        c.saved.pid = child.as_raw();
    }
    let inter = child;
    drop(child_ch);
    drop(fifo);
    drop(listener);
    util::trace("create: forked");
    let res = setup_and_drive(c, bundle, &parent_ch, inter, console_sock.as_ref(), o);
    if !direct {
        if res.is_err() {
            // The intermediate may be waiting for us: it must not go on.
            let _ = nix::sys::signal::kill(inter, nix::sys::signal::Signal::SIGKILL);
        }
        // The intermediate exits right after reporting the pid; reap it on every path.
        let _ = waitpid(inter, None);
    }
    let console = res?;
    let st = util::proc_stat(c.saved.pid)
        .ok_or_else(|| Error::Init("container init exited during creation".into()))?;
    c.saved.start_time = st.start_time;
    c.saved.created_done = true;
    c.save()?;
    if let Some(p) = &o.pid_file {
        util::write_atomic(p, c.saved.pid.to_string().as_bytes())?;
    }
    Ok(console)
}

/// While the child joins its cgroups and unshares its namespaces (on the other CPU),
/// applies the cgroup limits, tells it so, and serves the children until the init is ready.
fn setup_and_drive(
    c: &mut Container,
    bundle: &Bundle,
    ch: &Channel,
    child: Pid,
    console_sock: Option<&UnixStream>,
    o: &CreateOptions,
) -> Result<Option<OwnedFd>> {
    if spec::has_new_ns(&bundle.spec, LinuxNamespaceType::User) {
        // The intermediate asks for its id maps first.
        match ch.expect("its uid/gid maps were requested")? {
            (Msg::IdMapRequest, _) => {
                write_id_maps(bundle, child)?;
                ch.send(&Msg::IdMapDone)?;
            }
            (m, _) => return Err(Error::Init(format!("unexpected message {m:?} from init"))),
        }
    }
    // The child joins the cgroups itself (see `Cgroup::join_self`); it waits for the limits
    // before it reports ready.
    c.saved.cgroup.apply(&effective_resources(bundle))?;
    util::trace("create: cgroups ready");
    ch.send(&Msg::CgroupReady)?;
    drive(c, bundle, ch, console_sock, o)
}

/// Serves the children's requests until the init reports ready.
fn drive(
    c: &mut Container,
    bundle: &Bundle,
    ch: &Channel,
    console_sock: Option<&UnixStream>,
    o: &CreateOptions,
) -> Result<Option<OwnedFd>> {
    let mut console = None;
    loop {
        let (m, fd) = ch.expect("it was ready")?;
        match m {
            Msg::Pid(p) => {
                // Not saved yet: until creation ends, `delete` finds the init through the
                // cgroup, which it joined before this message.
                util::trace("create: got pid");
                c.saved.pid = p;
            }
            Msg::HooksRequest => {
                c.saved.start_time = util::proc_stat(c.saved.pid)
                    .map(|s| s.start_time)
                    .unwrap_or(0);
                let state = c.hook_state(Status::Creating);
                let h = bundle.spec.hooks().as_ref();
                hooks::run(hooks::Kind::Prestart, h, &state)?;
                hooks::run(hooks::Kind::CreateRuntime, h, &state)?;
                ch.send(&Msg::HooksDone)?;
            }
            Msg::Console(name) => {
                let fd =
                    fd.ok_or_else(|| Error::Init("console message without a descriptor".into()))?;
                if let Some(s) = console_sock {
                    crate::console::send_over(s, std::os::fd::AsFd::as_fd(&fd), &name).ctx(
                        || {
                            format!(
                                "send the pty to console socket {}",
                                o.console_socket
                                    .as_deref()
                                    .unwrap_or(std::path::Path::new(""))
                                    .display()
                            )
                        },
                    )?;
                } else {
                    console = Some(fd);
                }
            }
            Msg::Ready => {
                util::trace("create: init ready");
                return Ok(console);
            }
            Msg::IdMapRequest
            | Msg::IdMapDone
            | Msg::CgroupReady
            | Msg::HooksDone
            | Msg::Failed(_) => {
                return Err(Error::Init(format!("unexpected message {m:?} from init")));
            }
        }
    }
}

fn write_id_maps(b: &Bundle, pid: Pid) -> Result<()> {
    let linux = b.spec.linux().as_ref();
    let fmt = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let uid = fmt(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = fmt(linux.and_then(|l| l.gid_mappings().as_ref()));
    let base = format!("/proc/{pid}");
    std::fs::write(format!("{base}/uid_map"), &uid)
        .ctx(|| format!("linux.uidMappings: write {uid:?}"))?;
    std::fs::write(format!("{base}/gid_map"), &gid)
        .ctx(|| format!("linux.gidMappings: write {gid:?}"))?;
    Ok(())
}

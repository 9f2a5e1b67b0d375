//! Creating, starting, stopping and removing containers.

use std::os::fd::AsFd;
use std::time::{Duration, SystemTime};

use crate::config::{ContainerConfig, MountKind};
use crate::container::{self, Container, State, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::teardown::{is_mountpoint, unmount_rootfs};
use crate::volumes;

/// What `create` needs besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub config: ContainerConfig,
    /// The caller starts the container right away (`run`): should it die before the
    /// start, an auto-remove container is removed by the next command that sees it,
    /// instead of staying *created* forever.
    pub start_next: bool,
}

/// How `start` should start the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartMode {
    /// Start at once (detached).
    #[default]
    Now,
    /// Create the process and start it when an attach client asks (so no output is lost).
    OnAttach,
}

/// What `start` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Running, with the init's host pid.
    Running(i32),
    /// Waiting for an attach client to start it.
    Created,
    /// It was running already: nothing was done (Docker's 304 Not Modified).
    AlreadyRunning,
}

impl Engine {
    /// Creates a container: checks the configuration (`config::validate::prepare`), resolves
    /// the image, records the container, prepares its snapshot. Nothing runs yet; a refused
    /// configuration leaves nothing behind.
    pub fn create(&self, req: CreateRequest) -> Result<Container> {
        Ok(self.create_with_warnings(req)?.0)
    }

    /// `create`, also returning Docker's warnings: limits this host cannot apply, which
    /// were dropped from the configuration.
    pub fn create_with_warnings(&self, req: CreateRequest) -> Result<(Container, Vec<String>)> {
        let mut config = req.config;
        // Checked before the image is looked at, as Docker's daemon does.
        let mut warnings = crate::config::validate::prepare(&mut config)?;
        if config.host.network_mode == crate::config::NetworkMode::Default {
            config.host.network_mode_default = true;
            config.host.network_mode = if self.settings()?.no_default_bridge {
                crate::config::NetworkMode::None
            } else {
                crate::config::NetworkMode::Network("bridge".into())
            };
        }
        crate::network::check_config(self, &mut config)?;
        crate::network::links::check(self, &config)?;
        if config.host.network_mode == crate::config::NetworkMode::Host
            && !config.host.port_bindings.is_empty()
        {
            warnings.push("Published ports are discarded when using host network mode".into());
        }
        if config.host.network_mode == crate::config::NetworkMode::None
            && (!config.host.port_bindings.is_empty() || config.host.publish_all_ports)
        {
            // Docker says nothing here; without the warning a `run -p` would publish
            // nothing in silence.
            warnings.push("Published ports are discarded when using network none".into());
        }
        let store = self.store()?;
        let img = store.resolve(&config.image)?;
        config.image_id = img.id.to_string();
        let image_config = store.config_json(&img)?;
        // The health check and stop signal the flags or the image set are recorded, as
        // Docker's daemon merges them (the defaults apply where they are used).
        config.healthcheck = crate::spec::healthcheck_set(&config, &image_config);
        config.stop_signal = crate::spec::stop_signal_set(&config, &image_config);
        if config.host.cgroupns_mode.is_empty() {
            config.host.cgroupns_mode = crate::spec::default_cgroupns().into();
        }
        config.resolved_args = crate::spec::process_args(&config, &image_config)?;
        self.expand_volumes_from(&mut config)?;
        // The image's exposed ports join the container's (--expose), as Docker's.
        if let Some(ports) = image_config
            .pointer("/config/ExposedPorts")
            .and_then(|v| v.as_object())
        {
            for p in ports.keys() {
                if !config.exposed_ports.contains(p) {
                    config.exposed_ports.push(p.clone());
                }
            }
        }
        // Published ports are exposed too; ranges ("6000-6002/udp") count port by port.
        let published: Vec<String> = config.host.port_bindings.keys().cloned().collect();
        config.exposed_ports = crate::network::ports::expand_exposed(
            config.exposed_ports.iter().chain(published.iter()),
        );
        let id = container::new_id()?;
        // Anonymous volumes for the image's VOLUMEs that no mount of the user covers.
        for target in crate::spec::image_volumes(&image_config) {
            if !config.host.mounts.iter().any(|m| m.target == target) {
                config.host.mounts.push(crate::config::Mount {
                    kind: MountKind::Volume,
                    target,
                    ..Default::default()
                });
            }
        }
        // Anonymous volumes get a name now, so that they can be found and removed later.
        let mut anonymous = Vec::new();
        for m in &mut config.host.mounts {
            if m.kind == MountKind::Volume && m.source.is_empty() {
                m.source = container::new_id()?;
                m.anonymous = true;
                anonymous.push(m.source.clone());
            }
        }
        let mut state = State::default();
        if req.start_next {
            let me = std::process::id();
            state.starter_pid = i32::try_from(me).unwrap_or(0);
            state.starter_start = i32::try_from(me)
                .ok()
                .and_then(berth_runtime::util::proc_stat)
                .map_or(0, |s| s.start_time);
        }
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            created: berth_runtime::util::rfc3339(SystemTime::now()),
            config,
            state,
        };
        match req.name {
            Some(n) => {
                container::validate_name(&n)?;
                c.name = n.trim_start_matches('/').to_string();
                self.db.insert_container(&c)?;
            }
            None => {
                let mut attempt = 0;
                loop {
                    c.name = container::generated_name(&id, attempt);
                    match self.db.insert_container(&c) {
                        Ok(()) => break,
                        Err(Error::Conflict(_)) if attempt < 50 => attempt += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        // Named volumes made here are removed again if the create fails.
        let mut made_volumes = Vec::new();
        let res = (|| -> Result<()> {
            for name in &anonymous {
                volumes::create_anonymous(self, name, &c.id)?;
            }
            volumes::create_named_of(self, &c, &mut made_volumes)?;
            store.prepare_snapshot(&c.id, &img.id, None)?;
            store.init_snapshot(&c.id, &crate::spec::init_layer_entries(&c.config))?;
            let dir = self.paths.container_dir(&c.id);
            std::fs::create_dir_all(dir.join("rootfs"))
                .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
            Ok(())
        })();
        if let Err(e) = res {
            let _ = self.remove_records(&c, true);
            for v in &made_volumes {
                let _ = self.volume_remove(v, true);
            }
            return Err(e);
        }
        self.event("container", "create", &c, &[]);
        Ok((c, warnings))
    }

    /// Takes the container's lock (flock on its directory), released when dropped.
    /// A container removed (or being removed) is `NoSuchContainer`; one whose `create` was
    /// killed before it made the directory gets it now, so that it can be removed.
    pub(crate) fn lock_container(&self, id: &str) -> Result<std::fs::File> {
        let dir = self.paths.container_dir(id);
        let gone = || Error::NoSuchContainer(id.to_string());
        let mut made = false;
        let f = match std::fs::File::open(&dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match self.db.find(id) {
                    Ok(c) if c.state.status != Status::Removing => {}
                    Ok(_) | Err(Error::NoSuchContainer(_)) => return Err(gone()),
                    Err(e) => return Err(e),
                }
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
                made = true;
                std::fs::File::open(&dir)
                    .map_err(|e| Error::io(format!("open {}", dir.display()), e))?
            }
            Err(e) => return Err(Error::io(format!("open {}", dir.display()), e)),
        };
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io(format!("lock container {id}"), e.into()))?;
        if made
            && self
                .db
                .find(id)
                .map_or(true, |c| c.state.status == Status::Removing)
        {
            // Removed while we made the directory: it goes again.
            let _ = std::fs::remove_dir(&dir);
            return Err(gone());
        }
        Ok(f)
    }

    /// The container's lock if nobody holds it (None if someone does).
    pub(crate) fn try_lock_container(&self, id: &str) -> Result<Option<std::fs::File>> {
        let dir = self.paths.container_dir(id);
        let f = match std::fs::File::open(&dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("open {}", dir.display()), e)),
        };
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(f)),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(Error::io(format!("lock container {id}"), e.into())),
        }
    }

    /// `--volumes-from C[:ro|:rw]`: the volumes and bind mounts of C (not its tmpfs), in C's
    /// mode unless one is given; the container's own mounts win on the same target.
    fn expand_volumes_from(&self, config: &mut crate::config::ContainerConfig) -> Result<()> {
        for spec in &config.host.volumes_from {
            let (name, mode) = match spec.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m == "ro")),
                Some((_, m)) => {
                    return Err(Error::invalid(
                        format!("--volumes-from {spec}"),
                        format!("mode {m:?} is not ro or rw"),
                    ));
                }
                None => (spec.as_str(), None),
            };
            let other = self.container(name)?;
            for m in &other.config.host.mounts {
                if m.kind == MountKind::Tmpfs
                    || config.host.mounts.iter().any(|x| x.target == m.target)
                {
                    continue;
                }
                let mut m = m.clone();
                if let Some(ro) = mode {
                    m.read_only = ro;
                }
                config.host.mounts.push(m);
            }
        }
        Ok(())
    }

    /// Starts a created or stopped container: mounts its rootfs, writes its bundle, and
    /// spawns its monitor, which creates and runs the process.
    pub fn start(&self, key: &str, mode: StartMode) -> Result<Started> {
        let found = self.container(key)?;
        // One start (or removal) of a container at a time, across processes; the state is
        // read again under the lock.
        let _lock = self.lock_container(&found.id)?;
        let mut c = self.container(&found.id)?;
        // The last run's monitor records the exit first and releases the rootfs after: a
        // start in between would find the rootfs mounted and lose it to that unmount.
        if !c.state.status.is_live()
            && crate::engine::monitor_alive(c.state.monitor_pid, c.state.monitor_start)
        {
            crate::teardown::wait_monitor(&c, Duration::from_secs(30));
            c = self.container(&found.id)?;
        }
        match c.state.status {
            Status::Running | Status::Restarting => return Ok(Started::AlreadyRunning),
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "cannot start a paused container {}, try unpause instead",
                    c.name
                )));
            }
            Status::Removing | Status::Dead => {
                return Err(Error::Conflict(format!(
                    "container {} is being removed",
                    c.name
                )));
            }
            Status::Created | Status::Exited => {}
        }
        if mode == StartMode::OnAttach {
            // The caller attaches before the process starts, as Docker's client does.
            self.event("container", "attach", &c, &[]);
        }
        self.prepare_bundle(&c)?;
        self.db.update_state(&c.id, |s| {
            s.manually_stopped = false;
            s.error.clear();
            Ok(())
        })?;
        volumes::mount_events(self, &c);
        let res = self.spawn_monitor(&c, mode);
        if res.is_err() {
            volumes::unmount_events(self, &c);
            let _ = unmount_rootfs(self, &c.id);
        }
        res
    }

    /// Mounts the rootfs and writes config.json, hosts, hostname and resolv.conf.
    fn prepare_bundle(&self, c: &Container) -> Result<()> {
        let store = self.store()?;
        let rootfs = self.paths.rootfs(&c.id);
        if !is_mountpoint(&rootfs) {
            store.mount_snapshot(&c.id, &rootfs)?;
        }
        let res = (|| -> Result<()> {
            let img = store.resolve(&c.config.image_id)?;
            let image_config = store.config_json(&img)?;
            let dir = self.paths.container_dir(&c.id);
            // The endpoint first: /etc/hosts names the container's own address.
            let joined = crate::network::join(self, c)?;
            crate::network::mode_event(self, c, "connect");
            let network = match (&joined, &c.config.host.network_mode) {
                (Some(_), crate::config::NetworkMode::Network(n)) => Some(n.as_str()),
                _ => None,
            };
            let links = crate::network::links::resolve(self, c, network)?;
            let gateway = if c
                .config
                .host
                .extra_hosts
                .iter()
                .any(|h| h.ends_with("host-gateway"))
            {
                crate::network::host_gateway(self, network)?
            } else {
                None
            };
            crate::etc_files::write(
                &dir,
                c,
                &crate::etc_files::NetFacts {
                    own: joined.as_ref().map_or(&[][..], |j| &j.addrs[..]),
                    links: &links.hosts,
                    gateway,
                },
                &self.settings()?.dns,
            )?;
            let mounts = volumes::resolve_mounts(self, c, &rootfs)?;
            let init_path = if c.config.host.init {
                Some(crate::spec::install_init(&self.paths.bin())?)
            } else {
                None
            };
            let netns_path = match &c.config.host.network_mode {
                crate::config::NetworkMode::Container(other) => {
                    Some(self.namespace_of(other, "net")?)
                }
                _ => joined.map(|j| j.netns),
            };
            let ns_of = |mode: &str, kind: &str| -> Result<Option<std::path::PathBuf>> {
                match mode.strip_prefix("container:") {
                    Some(other) => Ok(Some(self.namespace_of(other, kind)?)),
                    None => Ok(None),
                }
            };
            // Link variables come first: the container's own environment wins.
            let with_links;
            let config = if links.env.is_empty() {
                &c.config
            } else {
                let mut cfg = c.config.clone();
                cfg.env.splice(0..0, links.env);
                with_links = cfg;
                &with_links
            };
            let spec = crate::spec::build_spec(&crate::spec::SpecInputs {
                id: &c.id,
                config,
                image_config: &image_config,
                rootfs: &rootfs,
                container_dir: &dir,
                mounts: &mounts,
                cgroups_path: &crate::spec::cgroups_path(&c.config.host.cgroup_parent, &c.id)?,
                init_path: init_path.as_deref(),
                netns_path,
                pidns_path: ns_of(&c.config.host.pid_mode, "pid")?,
                ipcns_path: ns_of(&c.config.host.ipc_mode, "ipc")?,
            })?;
            let json = serde_json::to_vec(&spec)
                .map_err(|e| Error::Internal(format!("encode spec: {e}")))?;
            // It holds the container's environment: root's eyes only.
            berth_runtime::util::write_private(&dir.join("config.json"), &json)?;
            Ok(())
        })();
        if res.is_err() {
            let _ = unmount_rootfs(self, &c.id);
        }
        res
    }

    /// `/proc/<pid>/ns/<kind>` of a running container (for container:NAME modes).
    fn namespace_of(&self, key: &str, kind: &str) -> Result<std::path::PathBuf> {
        let other = self.container(key)?;
        if other.state.status != Status::Running || other.state.pid <= 0 {
            return Err(Error::Conflict(format!(
                "cannot join the {kind} namespace of container {}: it is not running",
                other.name
            )));
        }
        Ok(std::path::PathBuf::from(format!(
            "/proc/{}/ns/{kind}",
            other.state.pid
        )))
    }

    fn spawn_monitor(&self, c: &Container, mode: StartMode) -> Result<Started> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::io("create the notify pipe", e.into()))?;
        let mut args = crate::proto::monitor_args(&self.paths.root, &self.paths.runroot, &c.id);
        args.extend(["--notify-fd".into(), "3".into()]);
        if mode == StartMode::OnAttach {
            // Our pid: the monitor gives up waiting for the attach when we are gone.
            args.push("--attach-wait".into());
            args.push(std::process::id().to_string().into());
        }
        self.children.reap();
        // Not waited for: the monitor outlives us (reparented to init when we exit); a
        // long-running caller reaps it at a later spawn.
        let pid = crate::spawn::spawn(self.monitor_bin(), &args, &[(w.as_fd(), 3)])?;
        self.children.adopt(pid);
        drop(w);
        let line = match crate::monitor::read_notify(r) {
            Ok(l) => l,
            Err(e) => return Err(self.monitor_gone(pid, e)),
        };
        if let Some(pid) = line.strip_prefix("ok ") {
            let pid = pid.trim().parse().unwrap_or(0);
            return Ok(Started::Running(pid));
        }
        if line == "created" {
            return Ok(Started::Created);
        }
        let rest = line.strip_prefix("error ").unwrap_or(&line);
        let (code, msg) = rest.split_once(' ').unwrap_or(("125", rest));
        Err(Error::StartFailed {
            code: code.parse().unwrap_or(125),
            msg: msg.to_string(),
        })
    }

    /// A monitor that exited without a word: say why, when its exit status tells.
    fn monitor_gone(&self, pid: i32, e: Error) -> Error {
        let mut status = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            // SAFETY: waitpid on the monitor we spawned, with a status we own.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if r < 0 || std::time::Instant::now() > deadline {
                return e;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 2 {
            return Error::Unsupported(format!(
                "the container monitor {} refused its arguments: it is not from this berth's \
                 build (protocol {}); install berth and berth-monitor together",
                self.monitor_bin().display(),
                crate::proto::VERSION
            ));
        }
        e
    }

    /// Removes a container (`force`: stop it first) and, with `volumes`, its anonymous
    /// volumes.
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let found = self.container(key)?;
        let _lock = match self.lock_container(&found.id) {
            Ok(l) => l,
            Err(Error::NoSuchContainer(_)) => {
                return match self.db.find(&found.id) {
                    // A removal killed after its directory went: finish it.
                    Ok(c) if c.state.status == Status::Removing => self.remove_records(&c, volumes),
                    Ok(_) => Err(Error::NoSuchContainer(key.to_string())),
                    // A --rm container: its monitor removed it.
                    Err(Error::NoSuchContainer(_)) if found.config.host.auto_remove => Ok(()),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let mut c = self.container(&found.id)?;
        // As in start: let an exiting monitor finish its teardown first.
        if !c.state.status.is_live()
            && crate::engine::monitor_alive(c.state.monitor_pid, c.state.monitor_start)
        {
            crate::teardown::wait_monitor(&c, Duration::from_secs(30));
            c = match self.container(&found.id) {
                Ok(c) => c,
                // A --rm container: its monitor removed it.
                Err(Error::NoSuchContainer(_)) if c.config.host.auto_remove => return Ok(()),
                Err(e) => return Err(e),
            };
        }
        if c.state.status.is_live() {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                    c.name, c.state.status
                )));
            }
            // Docker's forced removal kills (no `stop` is recorded).
            self.kill_and_wait(&c)?;
        }
        let c = match self.db.find(&c.id) {
            Ok(c) => c,
            // A --rm container: its monitor removed it when it stopped.
            Err(Error::NoSuchContainer(_)) if c.config.host.auto_remove => return Ok(()),
            Err(e) => return Err(e),
        };
        self.remove_records(&c, volumes)?;
        self.event("container", "destroy", &c, &[]);
        Ok(())
    }

    /// Releases everything a stopped container holds: runtime state, mounts, snapshot,
    /// directories, anonymous volumes (with `volumes`), and its record.
    pub(crate) fn remove_records(&self, c: &Container, volumes: bool) -> Result<()> {
        self.remove_records_but(c, volumes, false)
    }

    /// `remove_records`; `net_released`: the caller releases the network endpoints itself
    /// (`teardown::after_final_exit`, which removes the veths meanwhile).
    pub(crate) fn remove_records_but(
        &self,
        c: &Container,
        volumes: bool,
        net_released: bool,
    ) -> Result<()> {
        // The intent first: a container being removed is never brought back to life (its
        // directory made again by a lock) while its files go.
        match self.db.update_state(&c.id, |s| {
            s.status = Status::Removing;
            Ok(())
        }) {
            Ok(()) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
        if let Ok(rt) = berth_runtime::Runtime::new(self.paths.runtime_root())
            && let Ok(rc) = rt.load(&c.id)
        {
            let _ = rc.delete(true);
        }
        if net_released {
            crate::teardown::unmount_local(self, &c.id)?;
        } else {
            unmount_rootfs(self, &c.id)?;
        }
        match self.store()?.remove_snapshot(&c.id) {
            Ok(()) => {}
            Err(e) if e.kind() == berth_image::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let dir = self.paths.container_dir(&c.id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("remove {}", dir.display()), e))?;
        }
        let _ = std::fs::remove_dir_all(self.paths.run_dir(&c.id));
        if volumes {
            volumes::remove_anonymous_of(self, c)?;
        } else {
            volumes::release_anonymous_of(self, c)?;
        }
        self.db.delete_container(&c.id)?;
        Ok(())
    }
}

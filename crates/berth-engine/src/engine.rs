//! The `Engine`: one interface over the engine's state that the CLI (and later the API
//! server and orchestration) call. No daemon: every call acts on the state directly.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::container::{Container, Status};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::events;
use crate::paths::Paths;
use crate::settings::{self, Settings};

/// The engine of one data root.
pub struct Engine {
    pub(crate) paths: Paths,
    pub(crate) db: Db,
    store: OnceLock<berth_image::Store>,
    /// berth.toml (loaded on first use).
    settings: OnceLock<Settings>,
    /// The berth-monitor binary.
    monitor_bin: PathBuf,
    /// Monitors and helpers we started and have not reaped.
    pub(crate) children: crate::spawn::Children,
}

/// Finds the monitor binary: $BERTH_MONITOR, else next to the running executable, else
/// on PATH.
pub fn default_monitor_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_MONITOR") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join("berth-monitor");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("berth-monitor")
}

impl Engine {
    /// Opens the engine for data root `root` (created if missing).
    pub fn open(root: &Path, runroot: Option<&Path>) -> Result<Engine> {
        let paths = Paths::new(root, runroot);
        // Containers' environments, logs and root filesystems (setuid binaries of images
        // included) live below: no other user may even look in.
        berth_runtime::util::private_dir(&paths.root, 0o700)?;
        berth_runtime::util::private_dir(&paths.runroot, 0o700)?;
        let db = Db::open(&paths.db())?;
        Ok(Engine {
            paths,
            db,
            store: OnceLock::new(),
            settings: OnceLock::new(),
            monitor_bin: default_monitor_bin(),
            children: Default::default(),
        })
    }

    /// Uses another monitor binary.
    pub fn with_monitor_bin(mut self, p: PathBuf) -> Engine {
        self.monitor_bin = p;
        self
    }

    pub(crate) fn monitor_bin(&self) -> &Path {
        &self.monitor_bin
    }

    /// The data root (`--root`).
    pub fn root(&self) -> &Path {
        &self.paths.root
    }

    /// The run root (runtime state and attach sockets).
    pub fn run_root(&self) -> &Path {
        &self.paths.runroot
    }

    /// The image store (opened on first use), with berth.toml's `[storage]` ceilings.
    pub(crate) fn store(&self) -> Result<&berth_image::Store> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        let s = berth_image::Store::open(&self.paths.root)?;
        s.set_limits(self.settings()?.storage);
        Ok(self.store.get_or_init(|| s))
    }

    /// The settings of berth.toml (`settings::default_path`, loaded once; a missing file
    /// gives the defaults). Front ends build a container's log configuration over
    /// `settings()?.log` (`config::parse::log_config`).
    pub fn settings(&self) -> Result<&Settings> {
        if let Some(s) = self.settings.get() {
            return Ok(s);
        }
        let s = Settings::load(&settings::default_path())?;
        Ok(self.settings.get_or_init(|| s))
    }

    /// Finds a container by name, id or id prefix, with its state brought up to date.
    pub fn container(&self, key: &str) -> Result<Container> {
        let c = self.db.find(key)?;
        self.refresh(c)?
            .ok_or_else(|| Error::NoSuchContainer(key.trim_start_matches('/').to_string()))
    }

    /// Every container, with states brought up to date.
    pub fn containers(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for c in self.db.containers()? {
            if let Some(c) = self.refresh(c)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// A container the state database calls live but whose monitor is gone (killed) is
    /// adopted by a new monitor: by its keeper's doing, or else started from here; only a
    /// container the runtime has forgotten (the host restarted) is recorded as exited.
    ///
    /// An auto-remove container whose `run` died before starting it is removed (None).
    fn refresh(&self, c: Container) -> Result<Option<Container>> {
        if c.abandoned() {
            crate::teardown::remove_abandoned(self, &c)?;
            return Ok(None);
        }
        if !c.state.status.is_live() || monitor_alive(c.state.monitor_pid, c.state.monitor_start) {
            return Ok(Some(c));
        }
        crate::teardown::orphaned(self, &c)?;
        Ok(Some(self.db.find(&c.id)?))
    }

    /// Records an event of container `c` (`berth events`), with Docker's attributes (its
    /// labels, image and name) and `extra`; failures to record are not fatal.
    pub(crate) fn event(&self, kind: &str, action: &str, c: &Container, extra: &[(&str, String)]) {
        events::append(&self.paths, kind, action, events::container_actor(c, extra));
    }

    /// Records a `die` of container `c` with its exit code and how long the run lasted.
    pub(crate) fn die_event(&self, c: &Container, code: i32) {
        self.event(
            "container",
            "die",
            c,
            &[
                ("exitCode", code.to_string()),
                ("execDuration", events::exec_duration(&c.state.started_at)),
            ],
        );
    }

    /// The live status (checked against the kernel for running containers).
    pub fn status(&self, c: &Container) -> Status {
        c.state.status
    }
}

/// Whether the monitor process `pid`, started at `start`, is alive.
pub(crate) fn monitor_alive(pid: i32, start: u64) -> bool {
    pid > 0 && berth_runtime::util::process_alive(pid, start)
}

/// Maps an error to the exit code `berth` uses: Docker's 127 (not found) or 126 (cannot
/// execute) for a process that could not be executed, else 125 for Berth's own errors.
pub fn exit_code_for(e: &Error) -> i32 {
    match e {
        Error::StartFailed { code, .. } | Error::ExecFailed { code, .. } => *code,
        Error::ExecUser(_) => 126,
        Error::Runtime(r) => r.exec_exit_code().unwrap_or(125),
        _ => 125,
    }
}

/// `Engine` is shared by the threads of a server: the build fails if it stops being
/// `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
};

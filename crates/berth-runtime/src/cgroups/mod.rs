//! Control groups, v1 (legacy), v2 (unified) and hybrid hosts.
//!
//! The mode is detected from the host's mounts. On a hybrid host (v1 controllers plus a
//! controller-less cgroup2 at /sys/fs/cgroup/unified) the v1 controllers enforce limits and the
//! unified hierarchy is joined too, so the container is tracked there as well.

pub(crate) mod bpf;
mod fs;
mod stats;
mod v1;
mod v2;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use stats::{BlkioEntry, CpuStats, MemoryStats, PidsStats, Stats};

use crate::error::{Error, Result};

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies.
    Legacy,
    /// cgroup v1 controllers plus a cgroup2 mount without controllers.
    Hybrid,
    /// Only cgroup v2.
    Unified,
}

impl CgroupMode {
    /// A short name: "v1", "hybrid" or "v2".
    pub fn name(self) -> &'static str {
        match self {
            CgroupMode::Legacy => "v1",
            CgroupMode::Hybrid => "hybrid",
            CgroupMode::Unified => "v2",
        }
    }
}

/// A mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// Its controllers ("cpu", "memory", "name=systemd", ...); empty for cgroup2.
    pub controllers: Vec<String>,
    /// Whether it is cgroup2.
    pub v2: bool,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    pub mode: CgroupMode,
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Detects the layout: quickly from /proc/self/cgroup and statfs when the hierarchies
    /// are mounted where systemd puts them, else from /proc/self/mountinfo (which can be
    /// large and slow to read on a host with many mounts).
    pub fn detect() -> Result<Layout> {
        if let Some(l) = Self::detect_fast() {
            return Ok(l);
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Error::Io {
            context: "read /proc/self/mountinfo".into(),
            cause: e,
        })?;
        Ok(Self::from_mountinfo(&info))
    }

    fn detect_fast() -> Option<Layout> {
        const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
        const CGROUP2_SUPER_MAGIC: i64 = 0x63677270;
        let magic = |p: &Path| {
            nix::sys::statfs::statfs(p)
                .ok()
                .map(|s| s.filesystem_type().0)
        };
        let root = Path::new("/sys/fs/cgroup");
        if magic(root)? == CGROUP2_SUPER_MAGIC {
            return Some(Layout {
                mode: CgroupMode::Unified,
                hierarchies: vec![Hierarchy {
                    mount: root.to_path_buf(),
                    controllers: vec![],
                    v2: true,
                }],
            });
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mut hierarchies = Vec::new();
        for line in own.lines() {
            let mut it = line.splitn(3, ':');
            let (_, ctrls) = (it.next()?, it.next()?);
            if ctrls.is_empty() {
                let unified = root.join("unified");
                if magic(&unified)? != CGROUP2_SUPER_MAGIC {
                    return None;
                }
                hierarchies.push(Hierarchy {
                    mount: unified,
                    controllers: vec![],
                    v2: true,
                });
                continue;
            }
            let name = ctrls.strip_prefix("name=").unwrap_or(ctrls);
            let mount = root.join(name);
            if magic(&mount)? != CGROUP_SUPER_MAGIC {
                return None;
            }
            let controllers = ctrls
                .split(',')
                .filter(|c| is_v1_controller(c))
                .map(String::from)
                .collect();
            hierarchies.push(Hierarchy {
                mount,
                controllers,
                v2: false,
            });
        }
        if hierarchies.is_empty() {
            return None;
        }
        // Same order as mountinfo gives (by mount point), so paths and tests are stable.
        hierarchies.sort_by(|a, b| a.v2.cmp(&b.v2).then(a.mount.cmp(&b.mount)));
        let mode = if hierarchies.iter().any(|h| h.v2) {
            CgroupMode::Hybrid
        } else {
            CgroupMode::Legacy
        };
        Some(Layout { mode, hierarchies })
    }

    /// Builds the layout from mountinfo text (only mounts under /sys/fs/cgroup count).
    pub fn from_mountinfo(info: &str) -> Layout {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for line in info.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let (Some(mnt), Some(fstype), Some(sopts)) = (pre.get(4), post.first(), post.get(2))
            else {
                continue;
            };
            let mount = PathBuf::from(unescape_mount(mnt));
            if !mount.starts_with("/sys/fs/cgroup") {
                continue;
            }
            let h = match *fstype {
                "cgroup2" => Hierarchy {
                    mount,
                    controllers: vec![],
                    v2: true,
                },
                "cgroup" => Hierarchy {
                    mount,
                    controllers: sopts
                        .split(',')
                        .filter(|o| is_v1_controller(o))
                        .map(String::from)
                        .collect(),
                    v2: false,
                },
                _ => continue,
            };
            // A later mount on the same point hides the earlier one.
            hierarchies.retain(|x| x.mount != h.mount);
            hierarchies.push(h);
        }
        let has_v1 = hierarchies.iter().any(|h| !h.v2);
        let root_v2 = hierarchies
            .iter()
            .any(|h| h.v2 && h.mount == Path::new("/sys/fs/cgroup"));
        let mode = if root_v2 {
            hierarchies.retain(|h| h.v2 && h.mount == Path::new("/sys/fs/cgroup"));
            CgroupMode::Unified
        } else if has_v1 && hierarchies.iter().any(|h| h.v2) {
            CgroupMode::Hybrid
        } else if has_v1 {
            CgroupMode::Legacy
        } else {
            CgroupMode::Unified
        };
        Layout { mode, hierarchies }
    }

    /// The v1 hierarchy holding `controller`, if any.
    pub fn v1(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
    }
}

fn is_v1_controller(opt: &str) -> bool {
    matches!(
        opt,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "blkio"
            | "pids"
            | "net_cls"
            | "net_prio"
            | "hugetlb"
            | "perf_event"
            | "rdma"
            | "misc"
    ) || opt.starts_with("name=")
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The cgroup of one container: one directory per hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cgroup {
    pub mode: CgroupMode,
    /// (hierarchy, absolute directory of the container's cgroup in it).
    pub dirs: Vec<(Hierarchy, PathBuf)>,
}

impl Cgroup {
    /// Computes the container's cgroup directories for `cgroups_path` (the spec's
    /// `linux.cgroupsPath`; absolute, relative to this process's cgroup, or systemd's
    /// `slice:prefix:name`) without touching the filesystem.
    pub fn new(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Self::with_own(layout, cgroups_path, id, &own)
    }

    fn with_own(layout: &Layout, path: Option<&Path>, id: &str, own: &str) -> Result<Cgroup> {
        let p = match path {
            None => PathBuf::from(format!("/berth/{id}")),
            Some(p) => systemd_to_path(p)?,
        };
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::spec(
                "linux.cgroupsPath",
                format!("{} must not contain ..", p.display()),
            ));
        }
        let mut dirs = Vec::new();
        for h in &layout.hierarchies {
            let rel = if p.is_absolute() {
                p.strip_prefix("/").unwrap_or(&p).to_path_buf()
            } else {
                let base = own_cgroup(own, h);
                base.strip_prefix("/").unwrap_or(&base).join(&p)
            };
            dirs.push((h.clone(), h.mount.join(rel)));
        }
        Ok(Cgroup {
            mode: layout.mode,
            dirs,
        })
    }

    /// The directory in the hierarchy with `controller` (v1) or the unified one.
    pub fn dir_for(&self, controller: &str) -> Option<&Path> {
        if self.mode == CgroupMode::Unified {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        self.dirs
            .iter()
            .find(|(h, _)| !h.v2 && h.controllers.iter().any(|c| c == controller))
            .map(|(_, d)| d.as_path())
    }

    /// The unified (cgroup2) directory, if the host has one.
    pub fn unified_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(h, _)| h.v2)
            .map(|(_, d)| d.as_path())
    }

    /// The directory whose `cgroup.procs` lists the container's processes.
    pub fn procs_dir(&self) -> Option<&Path> {
        self.unified_dir()
            .or_else(|| self.dir_for("pids"))
            .or_else(|| self.dirs.first().map(|(_, d)| d.as_path()))
    }

    /// Creates the directories (and prepares cpusets and v2 controllers).
    pub fn create(&self) -> Result<()> {
        for (h, dir) in &self.dirs {
            fs::mkdir_all(&h.mount, dir)?;
            if !h.v2 && h.controllers.iter().any(|c| c == "cpuset") {
                v1::init_cpuset(&h.mount, dir)?;
            }
            if h.v2 && self.mode == CgroupMode::Unified {
                v2::enable_controllers(&h.mount, dir)?;
            }
        }
        Ok(())
    }

    /// Moves process `pid` (0: the calling process) into every hierarchy.
    pub fn add(&self, pid: i32) -> Result<()> {
        for (_, dir) in &self.dirs {
            fs::write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Moves the calling (single-threaded) process into every hierarchy, cheaply: on v1 it
    /// writes "0" to `tasks`, which migrates just the calling thread and so skips the
    /// kernel's threadgroup lock, whose first taker after a quiet spell waits for an RCU
    /// grace period (7-15 ms on this host) — as every write to `cgroup.procs` does. The
    /// cgroup2 hierarchy has no such file: skip it when the process was born there
    /// (`clone3` with CLONE_INTO_CGROUP, see `spawn`).
    pub fn join_self(&self, born_in_unified: bool) -> Result<()> {
        for (h, dir) in &self.dirs {
            if h.v2 {
                if !born_in_unified {
                    fs::write(dir, "cgroup.procs", "0")?;
                }
            } else {
                fs::write(dir, "tasks", "0")?;
            }
        }
        Ok(())
    }

    /// A handle on the cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn unified_handle(&self) -> Option<std::os::fd::OwnedFd> {
        let dir = self.unified_dir()?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .ok()?;
        Some(f.into())
    }

    /// Applies resource limits.
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        match self.mode {
            CgroupMode::Unified => v2::apply(self, r),
            _ => v1::apply(self, r),
        }
    }

    /// The pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let Some(dir) = self.procs_dir() else {
            return Ok(vec![]);
        };
        match std::fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(Error::Cgroup {
                path: dir.to_path_buf(),
                msg: format!("read cgroup.procs: {e}"),
            }),
        }
    }

    /// Freezes every process (pause).
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Thaws every process (resume).
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        if let Some(dir) = self
            .dir_for("freezer")
            .filter(|_| self.mode != CgroupMode::Unified)
        {
            let want = if frozen { "FROZEN" } else { "THAWED" };
            fs::write(dir, "freezer.state", want)?;
            return wait_for(dir, "freezer.state", |s| s.trim() == want);
        }
        let dir = self.unified_dir().ok_or_else(|| Error::Cgroup {
            path: PathBuf::from("/sys/fs/cgroup"),
            msg: "no freezer: neither the v1 freezer controller nor cgroup2 is mounted".into(),
        })?;
        fs::write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        wait_for(dir, "cgroup.events", |s| s.lines().any(|l| l == want))
    }

    /// Whether the cgroup is frozen.
    pub fn is_frozen(&self) -> bool {
        if let Some(dir) = self
            .dir_for("freezer")
            .filter(|_| self.mode != CgroupMode::Unified)
        {
            return std::fs::read_to_string(dir.join("freezer.state"))
                .map(|s| s.trim() == "FROZEN")
                .unwrap_or(false);
        }
        self.unified_dir()
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.freeze")).ok())
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    }

    /// Sends `sig` to every process in the cgroup.
    pub fn signal_all(&self, sig: Signal) -> Result<()> {
        if sig == Signal::SIGKILL
            && let Some(dir) = self.unified_dir()
            && dir.join("cgroup.kill").exists()
        {
            return fs::write(dir, "cgroup.kill", "1");
        }
        let frozen = self.is_frozen();
        // Freeze so that no process forks away while we signal.
        let _ = self.freeze();
        for pid in self.pids()? {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
        if !frozen {
            self.thaw()?;
        }
        Ok(())
    }

    /// How many times the OOM killer killed a process of this cgroup.
    pub fn oom_kills(&self) -> u64 {
        stats::oom_kills(self)
    }

    /// Resource usage.
    pub fn stats(&self) -> Result<Stats> {
        stats::collect(self)
    }

    /// Removes the directories, killing leftover processes. Missing ones are fine.
    pub fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut killed = false;
        for (_, dir) in self.dirs.iter().rev() {
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => {
                        crate::util::trace("rmdir");
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        if !killed {
                            let _ = self.signal_all(Signal::SIGKILL);
                            killed = true;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => {
                        return Err(Error::Cgroup {
                            path: dir.clone(),
                            msg: format!("remove: {e}"),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn wait_for(dir: &Path, file: &str, ok: impl Fn(&str) -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = fs::read(dir, file)?;
        if ok(&s) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Cgroup {
                path: dir.to_path_buf(),
                msg: format!("{file} stuck at {:?}", s.trim()),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// This process's cgroup in hierarchy `h`, from /proc/self/cgroup text.
fn own_cgroup(own: &str, h: &Hierarchy) -> PathBuf {
    for line in own.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            let set: Vec<&str> = ctrls.split(',').collect();
            !h.controllers.is_empty() && h.controllers.iter().all(|c| set.contains(&c.as_str()))
        };
        if matches {
            return PathBuf::from(path);
        }
    }
    PathBuf::from("/")
}

/// Turns systemd's `slice:prefix:name` into a cgroupfs path; other paths are returned as is.
fn systemd_to_path(p: &Path) -> Result<PathBuf> {
    let s = p.to_string_lossy();
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 1 {
        return Ok(p.to_path_buf());
    }
    if parts.len() != 3
        || parts
            .iter()
            .skip(1)
            .any(|x| x.is_empty() || x.contains('/'))
    {
        return Err(Error::spec(
            "linux.cgroupsPath",
            format!("{s:?} is neither a path nor slice:prefix:name"),
        ));
    }
    let slice = if parts[0].is_empty() {
        "system.slice"
    } else {
        parts[0]
    };
    let mut out = PathBuf::from("/");
    // "a-b-c.slice" lives in a.slice/a-b.slice/a-b-c.slice.
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    let mut acc = String::new();
    for seg in stem.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(seg);
        out.push(format!("{acc}.slice"));
    }
    out.push(format!("{}-{}.scope", parts[1], parts[2]));
    Ok(out)
}

#[cfg(test)]
mod tests;

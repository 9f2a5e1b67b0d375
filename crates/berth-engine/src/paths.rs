//! Where things live: the data root (persistent) and the run root (volatile).
//!
//! ```text
//! <root>/engine.db                       containers and volumes (SQLite, WAL)
//! <root>/image/...                       the image store (berth-image)
//! <root>/containers/<id>/                config.json (OCI bundle), rootfs/ (mount point),
//!                                        hosts, hostname, resolv.conf, <id>-json.log*
//! <root>/volumes/<name>/_data            named and anonymous volumes
//! <root>/bin/berth-init                  the --init binary
//! <runroot>/runtime/                     berth-runtime's state
//! <runroot>/containers/<id>/             attach.sock, monitor.pid
//! <runroot>/netns/<id>                   the pinned network namespace of a container on a
//!                                        bridge network (while it runs)
//! ```
//! The run root is /run/berth for the default data root, else `<root>/run`, so that tests
//! with their own data roots never share it.

use std::path::{Path, PathBuf};

/// The default data root.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";

/// The engine's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub runroot: PathBuf,
}

impl Paths {
    /// Paths for data root `root`, with the run root derived from it unless given.
    pub fn new(root: &Path, runroot: Option<&Path>) -> Paths {
        let runroot = match runroot {
            Some(r) => r.to_path_buf(),
            None if root == Path::new(DEFAULT_ROOT) => PathBuf::from("/run/berth"),
            None => root.join("run"),
        };
        Paths {
            root: root.to_path_buf(),
            runroot,
        }
    }

    pub fn db(&self) -> PathBuf {
        self.root.join("engine.db")
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.container_dir(id)
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("rootfs")
    }

    pub fn log_file(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes().join(name).join("_data")
    }

    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.runroot.join("runtime")
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }

    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("attach.sock")
    }

    /// Runs `f` with a path for the socket `path` that fits in a sockaddr_un: the path itself
    /// when short enough, else `/proc/self/fd/N/NAME` through a descriptor of its directory
    /// (data roots can be deep).
    pub fn with_socket_path<T>(
        path: &Path,
        f: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        if path.as_os_str().len() < 100 {
            return f(path);
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return f(path);
        };
        let d = std::fs::File::open(dir)?;
        use std::os::fd::AsRawFd;
        let short = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd())).join(name);
        let r = f(&short);
        drop(d);
        r
    }

    pub fn events_log(&self) -> PathBuf {
        self.root.join("events.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_root_follows_the_data_root() {
        let d = Paths::new(Path::new(DEFAULT_ROOT), None);
        assert_eq!(d.runroot, Path::new("/run/berth"));
        let t = Paths::new(Path::new("/tmp/x"), None);
        assert_eq!(t.runroot, Path::new("/tmp/x/run"));
        let c = Paths::new(Path::new("/tmp/x"), Some(Path::new("/run/y")));
        assert_eq!(
            c.attach_socket("a"),
            Path::new("/run/y/containers/a/attach.sock")
        );
    }
}

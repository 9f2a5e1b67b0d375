//! Mount option parsing (pure; no syscalls).

use nix::mount::MsFlags;

/// `mount_setattr(2)` attribute bits (linux/mount.h).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const ATIME_MASK: u64 = 0x70;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// `MS_NOSYMFOLLOW` (not in every libc binding).
pub const MS_NOSYMFOLLOW: u64 = 256;

/// A parsed list of mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set on the mount.
    pub flags: MsFlags,
    /// Propagation changes applied after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set with `mount_setattr(AT_RECURSIVE)`.
    pub rec_set: u64,
    /// Recursive attributes to clear.
    pub rec_clear: u64,
    /// Filesystem-specific options, passed as the data string.
    pub data: Vec<String>,
    /// Whether the mount is a bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// Whether the bind is recursive.
    pub recursive: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clear: 0,
            data: Vec::new(),
            bind: false,
            recursive: false,
        }
    }
}

impl MountOptions {
    /// The data string passed to mount(2).
    pub fn data_string(&self) -> Option<String> {
        if self.data.is_empty() {
            None
        } else {
            Some(self.data.join(","))
        }
    }
}

/// Maps a propagation name (as in `rootfsPropagation` or mount options) to its flags.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

fn flag_option(name: &str) -> Option<(bool, MsFlags)> {
    // (set?, flag): `set == false` clears the flag.
    Some(match name {
        "defaults" => (true, MsFlags::empty()),
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "dev" => (false, MsFlags::MS_NODEV),
        "nodev" => (true, MsFlags::MS_NODEV),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "atime" => (false, MsFlags::MS_NOATIME),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "iversion" => (true, MsFlags::MS_I_VERSION),
        "noiversion" => (false, MsFlags::MS_I_VERSION),
        "lazytime" => (true, MsFlags::MS_LAZYTIME),
        "nolazytime" => (false, MsFlags::MS_LAZYTIME),
        "silent" => (true, MsFlags::MS_SILENT),
        "loud" => (false, MsFlags::MS_SILENT),
        "nosymfollow" => (true, MsFlags::from_bits_retain(MS_NOSYMFOLLOW)),
        "symfollow" => (false, MsFlags::from_bits_retain(MS_NOSYMFOLLOW)),
        _ => return None,
    })
}

fn recursive_option(name: &str) -> Option<(bool, u64)> {
    Some(match name {
        "rro" => (true, attr::RDONLY),
        "rrw" => (false, attr::RDONLY),
        "rnosuid" => (true, attr::NOSUID),
        "rsuid" => (false, attr::NOSUID),
        "rnodev" => (true, attr::NODEV),
        "rdev" => (false, attr::NODEV),
        "rnoexec" => (true, attr::NOEXEC),
        "rexec" => (false, attr::NOEXEC),
        "rnodiratime" => (true, attr::NODIRATIME),
        "rdiratime" => (false, attr::NODIRATIME),
        "rrelatime" => (true, attr::RELATIME),
        "rnoatime" => (true, attr::NOATIME),
        "rstrictatime" => (true, attr::STRICTATIME),
        "rnosymfollow" => (true, attr::NOSYMFOLLOW),
        "rsymfollow" => (false, attr::NOSYMFOLLOW),
        _ => return None,
    })
}

/// Parses the `options` of a mount entry.
pub fn parse_options(opts: &[String]) -> Result<MountOptions, String> {
    let mut m = MountOptions::default();
    for o in opts {
        let o = o.as_str();
        if o == "bind" {
            m.bind = true;
        } else if o == "rbind" {
            m.bind = true;
            m.recursive = true;
        } else if let Some(p) = propagation_flag(o) {
            m.propagation.push(p);
        } else if let Some((set, f)) = flag_option(o) {
            if set {
                m.flags |= f;
            } else {
                m.flags &= !f;
            }
        } else if let Some((set, a)) = recursive_option(o) {
            if a == attr::RELATIME || a & attr::ATIME_MASK != 0 {
                // Atime modes are exclusive: clearing the mask selects the new one.
                m.rec_clear |= attr::ATIME_MASK;
                m.rec_set = (m.rec_set & !attr::ATIME_MASK) | a;
            } else if set {
                m.rec_set |= a;
                m.rec_clear &= !a;
            } else {
                m.rec_clear |= a;
                m.rec_set &= !a;
            }
        } else if o == "idmap" || o == "ridmap" {
            return Err(format!("{o:?}: idmapped mounts are not supported yet"));
        } else if o == "tmpcopyup" || o == "copy-symlink" {
            return Err(format!("{o:?} is not supported by berth-runtime"));
        } else if o.starts_with("x-") {
            // Userspace-only options (fstab's x-*) are never passed to the kernel.
        } else if o.is_empty() {
            return Err("empty option".into());
        } else {
            m.data.push(o.to_string());
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> MountOptions {
        parse_options(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_and_data() {
        let m = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert!(
            m.flags
                .contains(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME)
        );
        assert_eq!(m.data_string().as_deref(), Some("mode=755,size=65536k"));
        assert!(!m.bind);
    }

    #[test]
    fn later_options_win() {
        let m = p(&["ro", "rw"]);
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn bind_and_propagation() {
        let m = p(&["rbind", "rprivate", "ro"]);
        assert!(m.bind && m.recursive);
        assert_eq!(m.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(m.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes() {
        let m = p(&["rro", "rnosuid", "rnoatime"]);
        assert_eq!(m.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(m.rec_clear, attr::ATIME_MASK);
    }

    #[test]
    fn unsupported_are_errors() {
        assert!(parse_options(&["idmap".to_string()]).is_err());
        assert!(parse_options(&["tmpcopyup".to_string()]).is_err());
        assert!(parse_options(&[String::new()]).is_err());
    }
}

//! The `--init` binary: berth-init (init/berth-init.rs), built static by build.rs and
//! embedded here, installed once under the data root and bind-mounted read-only into the
//! container at /sbin/berth-init.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The file name of the installed binary.
pub const INIT_NAME: &str = "berth-init";

/// The static berth-init executable.
pub fn init_binary() -> &'static [u8] {
    include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"))
}

/// Writes berth-init into `dir` (created if needed) unless an identical copy is there:
/// a temporary file, fsync, mode 0755, rename, fsync of the directory. Returns its path.
pub fn install_init(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(INIT_NAME);
    let bin = init_binary();
    if let Ok(cur) = std::fs::read(&path)
        && cur == bin
    {
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        if mode.is_ok_and(|m| m == 0o755) {
            return Ok(path);
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let tmp = dir.join(format!(".{INIT_NAME}.{}.tmp", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(&tmp)?;
        f.write_all(bin)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(format!("install {}", path.display()), e));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_binary_is_a_static_elf() {
        let b = init_binary();
        assert!(b.len() > 10_000);
        assert_eq!(&b[..4], b"\x7fELF");
        // A static executable has no PT_INTERP (no dynamic loader to find in the image).
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        let phoff = usize::try_from(u64::from_le_bytes(b[32..40].try_into().unwrap())).unwrap();
        let (phentsize, phnum) = (u16_at(54), u16_at(56));
        assert!(phnum > 0);
        for i in 0..phnum {
            let o = phoff + i * phentsize;
            let p_type = u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
            assert_ne!(
                p_type, 3,
                "berth-init must not need a dynamic loader (PT_INTERP)"
            );
        }
    }

    #[test]
    fn installs_once() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("lib");
        let p = install_init(&dir).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), init_binary());
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let ino = std::fs::metadata(&p).unwrap().ino();
        assert_eq!(install_init(&dir).unwrap(), p);
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino, "not rewritten");
        std::fs::write(&p, b"old").unwrap();
        install_init(&dir).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), init_binary());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary files left");
    }

    /// Runs berth-init with `args`. Another test thread may fork while `install_init` still
    /// holds the file open for writing; the child keeps that descriptor until it execs, and
    /// executing the file meanwhile fails with ETXTBSY. Retry only that error, as Go's own
    /// os/exec tests do.
    fn run_init(p: &Path, args: &[&str]) -> std::process::ExitStatus {
        let mut tries = 0;
        loop {
            match std::process::Command::new(p).args(args).status() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.expect("run berth-init"),
            }
        }
    }

    #[test]
    fn runs_outside_a_container() {
        // Not pid 1 here: it becomes a subreaper and still passes the exit code through.
        let d = tempfile::tempdir().unwrap();
        let p = install_init(d.path()).unwrap();
        let st = run_init(&p, &["--", "/bin/sh", "-c", "exit 7"]);
        assert_eq!(st.code(), Some(7));
        let st = run_init(&p, &["--", "/bin/sh", "-c", "kill -TERM $$"]);
        assert_eq!(st.code(), Some(128 + 15));
        let st = run_init(&p, &["--", "/no/such/program"]);
        assert_eq!(st.code(), Some(127));
        let st = run_init(&p, &[]);
        assert_ne!(st.code(), Some(0), "no command is a usage error");
    }
}

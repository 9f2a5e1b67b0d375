//! The container's user: `user[:group]` by name or number, looked up in the rootfs's
//! /etc/passwd and /etc/group the way runc (and so Docker) does, plus `--group-add`. Files
//! in the rootfs are opened with `openat2(RESOLVE_IN_ROOT)`, so an image's symlinks can
//! never lead outside it.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::{Error, Result};

/// The largest uid/gid a container may use.
const MAX_ID: u64 = (1 << 31) - 1;
/// /etc/passwd and /etc/group larger than this are not read in full.
const MAX_FILE: u64 = 64 << 20;

/// One /etc/passwd entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Passwd {
    name: String,
    uid: u64,
    gid: u64,
}

/// One /etc/group entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    gid: u64,
    members: Vec<String>,
}

fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(format!("open rootfs {}", rootfs.display()), e.into()))
}

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// Reads a regular file of the rootfs (`rel` is relative to it, symlinks resolved inside
/// it). `None` when it does not exist or is not a regular file.
pub(crate) fn read_rootfs_file(rootfs: &Path, rel: &str) -> Result<Option<String>> {
    let root = open_root(rootfs)?;
    let fd = match rustix::fs::openat2(
        &root,
        rel.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        resolve_flags(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::XDEV) => return Ok(None),
        Err(e) => {
            return Err(Error::io(
                format!("open /{} in the rootfs", rel.trim_start_matches('/')),
                e.into(),
            ));
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(format!("stat {rel}"), e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    let mut s = String::new();
    File::from(fd)
        .take(MAX_FILE)
        .read_to_string(&mut s)
        .map_err(|e| Error::io(format!("read {rel} in the rootfs"), e))?;
    Ok(Some(s))
}

fn parse_passwd(s: &str) -> Vec<Passwd> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Passwd {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(s: &str) -> Vec<Group> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Group {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn in_range(id: u64) -> Result<u32> {
    u32::try_from(id)
        .ok()
        .filter(|_| id <= MAX_ID)
        .ok_or_else(|| Error::invalid("user", format!("uids and gids must be in range 0-{MAX_ID}")))
}

/// Resolves `user[:group]` against the given passwd and group contents (None: the file is
/// missing). Returns uid, gid and the additional gids (the primary gid first, then the
/// user's supplementary groups, then `group_add`), as Docker passes them to runc.
fn resolve_in(
    spec_user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>)> {
    let (user_arg, group_arg) = match spec_user.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec_user, ""),
    };
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();

    // An empty user means uid 0 (whose name, if any, still finds its groups).
    let matched = if user_arg.is_empty() {
        users.iter().find(|u| u.uid == 0)
    } else if let Some(n) = numeric(user_arg) {
        users.iter().find(|u| u.uid == n)
    } else {
        users.iter().find(|u| u.name == user_arg)
    };
    let (uid, mut gid, name) = match matched {
        Some(u) => (u.uid, u.gid, Some(u.name.as_str())),
        None if user_arg.is_empty() => (0, 0, None),
        None => match numeric(user_arg) {
            Some(n) => (n, 0, None),
            None => {
                return Err(Error::invalid(
                    "user",
                    format!("unable to find user {user_arg}: no matching entries in passwd file"),
                ));
            }
        },
    };
    let mut supplementary = Vec::new();
    if !group_arg.is_empty() {
        let found = match numeric(group_arg) {
            Some(n) => groups.iter().find(|g| g.gid == n),
            None => groups.iter().find(|g| g.name == group_arg),
        };
        gid = match (found, numeric(group_arg)) {
            (Some(g), _) => g.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::invalid(
                    "user",
                    format!("unable to find group {group_arg}: no matching entries in group file"),
                ));
            }
        };
    } else if let Some(name) = name {
        supplementary = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }
    let uid = in_range(uid)?;
    let gid = in_range(gid)?;
    let mut additional = vec![gid];
    for g in supplementary {
        additional.push(in_range(g)?);
    }
    for ag in group_add {
        let ag = ag.trim();
        let g = match groups
            .iter()
            .find(|g| g.name == ag || g.gid.to_string() == ag)
        {
            Some(g) => g.gid,
            None => numeric(ag).ok_or_else(|| {
                Error::invalid(
                    "--group-add",
                    format!("unable to find group {ag}: no matching entries in group file"),
                )
            })?,
        };
        additional.push(in_range(g)?);
    }
    let mut seen = std::collections::HashSet::new();
    additional.retain(|g| seen.insert(*g));
    Ok((uid, gid, additional))
}

/// Resolves the container's user (`user[:group]`, names or numbers; empty for root) with
/// the rootfs's /etc/passwd and /etc/group. Returns (uid, gid, additional gids: the primary
/// gid, the user's supplementary groups, then `group_add`).
pub fn resolve_user(
    spec_user: &str,
    rootfs: &Path,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>)> {
    // Numeric ids need no files, but a passwd entry still gives the user's groups.
    let passwd = read_rootfs_file(rootfs, "etc/passwd")?;
    let group = read_rootfs_file(rootfs, "etc/group")?;
    resolve_in(
        spec_user.trim(),
        passwd.as_deref(),
        group.as_deref(),
        group_add,
    )
}

/// Creates the working directory inside the rootfs when it is missing (mode 0755, owned by
/// root), as Docker does; symlinks on the way resolve inside the rootfs.
pub(crate) fn ensure_working_dir(rootfs: &Path, cwd: &str) -> Result<()> {
    let root = open_root(rootfs)?;
    let what = "working directory";
    let mut prefix = std::path::PathBuf::new();
    let mut parent: Option<OwnedFd> = None;
    for c in Path::new(cwd).components() {
        let Component::Normal(name) = c else { continue };
        prefix.push(name);
        let open = |p: &Path| {
            rustix::fs::openat2(
                &root,
                p,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                resolve_flags(),
            )
        };
        let fd = match open(&prefix) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                // O_PATH descriptors cannot be used with mkdirat; open the parent for real.
                let pfd = match &parent {
                    Some(p) => rustix::fs::openat(
                        p,
                        ".",
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    ),
                    None => rustix::fs::open(
                        rootfs,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    ),
                }
                .map_err(|e| {
                    Error::io(
                        format!("open the parent of /{}", prefix.display()),
                        e.into(),
                    )
                })?;
                match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(Error::io(format!("mkdir /{}", prefix.display()), e.into()));
                    }
                }
                open(&prefix).map_err(|e| {
                    Error::invalid(
                        what,
                        format!("cannot mkdir {cwd}: /{}: {e}", prefix.display()),
                    )
                })?
            }
            Err(Errno::NOTDIR) => {
                return Err(Error::invalid(
                    what,
                    format!("cannot mkdir: {cwd} is not a directory"),
                ));
            }
            Err(e) => {
                return Err(Error::io(format!("open /{}", prefix.display()), e.into()));
            }
        };
        parent = Some(fd);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1::/usr/sbin:/bin/false\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:alice,bob\n\
        audio:x:29:alice\n\
        alice:x:1000:\n\
        nogroup:x:65534:\n";

    fn r(u: &str, add: &[&str]) -> Result<(u32, u32, Vec<u32>)> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve_in(u, Some(PASSWD), Some(GROUP), &add)
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(r("", &[]).unwrap(), (0, 0, vec![0]));
        assert_eq!(r("root", &[]).unwrap(), (0, 0, vec![0]));
        assert_eq!(r("alice", &[]).unwrap(), (1000, 1000, vec![1000, 10, 29]));
        assert_eq!(r("1000", &[]).unwrap(), (1000, 1000, vec![1000, 10, 29]));
        assert_eq!(r("nobody", &[]).unwrap(), (65534, 65534, vec![65534]));
        // A number without an entry is used as is, with gid 0.
        assert_eq!(r("4242", &[]).unwrap(), (4242, 0, vec![0]));
    }

    #[test]
    fn explicit_group_replaces_supplementary_groups() {
        assert_eq!(r("alice:audio", &[]).unwrap(), (1000, 29, vec![29]));
        assert_eq!(r("alice:777", &[]).unwrap(), (1000, 777, vec![777]));
        assert_eq!(r("1:nogroup", &[]).unwrap(), (1, 65534, vec![65534]));
        let e = r("alice:nosuch", &[]).unwrap_err().to_string();
        assert!(
            e.ends_with("unable to find group nosuch: no matching entries in group file"),
            "{e}"
        );
    }

    #[test]
    fn missing_user_is_dockers_message() {
        let e = r("bob", &[]).unwrap_err().to_string();
        assert!(
            e.ends_with("unable to find user bob: no matching entries in passwd file"),
            "{e}"
        );
        // Without a passwd file names fail and numbers work.
        assert!(resolve_in("alice", None, None, &[]).is_err());
        assert_eq!(resolve_in("7:8", None, None, &[]).unwrap(), (7, 8, vec![8]));
    }

    #[test]
    fn group_add() {
        assert_eq!(
            r("nobody", &["audio", "1234", "wheel", "29"]).unwrap(),
            (65534, 65534, vec![65534, 29, 1234, 10])
        );
        let e = r("", &["nosuch"]).unwrap_err().to_string();
        assert!(e.contains("--group-add") && e.contains("nosuch"), "{e}");
    }

    #[test]
    fn ranges() {
        assert!(r("2147483648", &[]).is_err());
        assert!(r("0:2147483648", &[]).is_err());
        assert!(r("2147483647", &[]).is_ok());
    }

    fn rootfs_with(passwd: &str, group: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), passwd).unwrap();
        std::fs::write(d.path().join("etc/group"), group).unwrap();
        d
    }

    #[test]
    fn reads_the_rootfs_files() {
        let d = rootfs_with(PASSWD, GROUP);
        assert_eq!(
            resolve_user("alice", d.path(), &["wheel".into()]).unwrap(),
            (1000, 1000, vec![1000, 10, 29])
        );
        assert_eq!(resolve_user("", d.path(), &[]).unwrap(), (0, 0, vec![0]));
    }

    #[test]
    fn symlinks_never_leave_the_rootfs() {
        let outside = tempfile::tempdir().unwrap();
        let evil = outside.path().join("passwd");
        std::fs::write(&evil, "evil:x:666:666::/:/bin/sh\n").unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        // Absolute and relative links that point out of the rootfs.
        std::os::unix::fs::symlink(&evil, d.path().join("etc/passwd")).unwrap();
        let e = resolve_user("evil", d.path(), &[]).unwrap_err().to_string();
        assert!(e.contains("unable to find user evil"), "{e}");
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        let rel = format!("../../../../../../../..{}", evil.display());
        std::os::unix::fs::symlink(&rel, d.path().join("etc/passwd")).unwrap();
        assert!(resolve_user("evil", d.path(), &[]).is_err());
        // A link inside the rootfs is followed.
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        std::fs::write(d.path().join("etc/real"), "bob:x:5:6::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/etc/real", d.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve_user("bob", d.path(), &[]).unwrap(), (5, 6, vec![6]));
        // A directory /etc escaping via symlink is contained too.
        let d2 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("etc")).unwrap();
        std::fs::copy(&evil, outside.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("etc"), d2.path().join("etc")).unwrap();
        assert!(resolve_user("evil", d2.path(), &[]).is_err());
    }

    #[test]
    fn working_dir_is_created_inside_the_rootfs() {
        let d = tempfile::tempdir().unwrap();
        ensure_working_dir(d.path(), "/a/b/c").unwrap();
        assert!(d.path().join("a/b/c").is_dir());
        ensure_working_dir(d.path(), "/a/b/c").unwrap();
        // A symlink to an outside directory resolves inside the rootfs instead.
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("link")).unwrap();
        assert!(ensure_working_dir(d.path(), "/link/x").is_err());
        assert!(!outside.path().join("x").exists());
        let inside = d.path().join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        ensure_working_dir(d.path(), "/link/x").unwrap();
        assert!(inside.join("x").is_dir());
        assert!(!outside.path().join("x").exists());
        std::fs::write(d.path().join("file"), "").unwrap();
        let e = ensure_working_dir(d.path(), "/file/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
    }
}

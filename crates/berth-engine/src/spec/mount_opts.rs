//! Mount option helpers: Docker's merging of tmpfs options and its check that a shared or
//! slave bind mount comes from a mount that propagates that way.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub(crate) const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// The key under which a tmpfs option collides with another (later ones win), or None for
/// an invalid option.
fn tmpfs_key(o: &str) -> Option<String> {
    const PAIRS: [(&str, &str); 10] = [
        ("ro", "rw"),
        ("suid", "nosuid"),
        ("dev", "nodev"),
        ("exec", "noexec"),
        ("sync", "async"),
        ("mand", "nomand"),
        ("atime", "noatime"),
        ("diratime", "nodiratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
    ];
    if let Some((a, _)) = PAIRS.iter().find(|(a, b)| *a == o || *b == o) {
        return Some(a.to_string());
    }
    if PROPAGATIONS.contains(&o) || o == "unbindable" || o == "runbindable" {
        return Some("propagation".into());
    }
    if o == "dirsync" || o == "remount" || o == "bind" || o == "rbind" {
        return Some(o.into());
    }
    let (k, _) = o.split_once('=')?;
    let data = [
        "size",
        "mode",
        "uid",
        "gid",
        "nr_inodes",
        "nr_blocks",
        "mpol",
    ];
    data.contains(&k).then(|| format!("{k}="))
}

/// Merges tmpfs options as Docker does: for each flag pair or data key the last wins,
/// "defaults" is dropped, anything else is an error.
pub(crate) fn merge_tmpfs_options(opts: &[String]) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for o in opts.iter().rev() {
        if o == "defaults" {
            continue;
        }
        let key = tmpfs_key(o)
            .ok_or_else(|| Error::invalid("--tmpfs", format!("invalid tmpfs option {o:?}")))?;
        if seen.insert(key) {
            out.push(o.clone());
        }
    }
    out.reverse();
    Ok(out)
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(c) = oct {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that the mount holding `source` propagates as asked (Docker refuses a shared bind
/// from a private mount).
pub(crate) fn ensure_propagation(source: &Path, want: &[&str], what: &str) -> Result<()> {
    let src = source
        .canonicalize()
        .map_err(|e| Error::io(format!("bind source {}", source.display()), e))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("read /proc/self/mountinfo", e))?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(mp) = f.get(4).map(|m| PathBuf::from(unescape(m))) else {
            continue;
        };
        if !src.starts_with(&mp) {
            continue;
        }
        let ok = f
            .iter()
            .skip(6)
            .take_while(|x| **x != "-")
            .any(|x| want.iter().any(|w| x.starts_with(w)));
        if best
            .as_ref()
            .is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((mp, ok));
        }
    }
    match best {
        Some((_, true)) => Ok(()),
        Some((mp, false)) => Err(Error::invalid(
            "mount",
            format!(
                "path {} is mounted on {} but it is not a {what} mount",
                source.display(),
                mp.display()
            ),
        )),
        None => Err(Error::invalid(
            "mount",
            format!("can't find the mount point of {}", source.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_merge_last_wins() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_tmpfs_options(&v(&[
                "noexec", "size=1m", "defaults", "exec", "size=2m", "ro"
            ]))
            .unwrap(),
            v(&["exec", "size=2m", "ro"])
        );
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}

//! What the client side reads on the caller's machine before it sends a configuration, as
//! Docker's CLI does: the caller's environment for `-e NAME`, `--env-file`/`--label-file`,
//! a `--security-opt seccomp=PATH` profile, and the working directory a relative bind
//! source (`-v ./x:/y`) is relative to. Every value syntax is parsed by the engine
//! (`berth_engine::config::parse`).

use anyhow::{Context, Result, bail};
use berth_engine::config::parse::security_opt_pair;
use berth_engine::config::{Mount, MountKind};

/// `-e NAME=value` or `-e NAME` (the caller's value, dropped when unset).
pub fn env_entry(e: &str) -> Result<Option<String>> {
    berth_engine::config::validate::env_var(e)?;
    if e.contains('=') {
        return Ok(Some(e.to_string()));
    }
    Ok(std::env::var(e).ok().map(|v| format!("{e}={v}")))
}

/// Lines of an --env-file (or --label-file): NAME=value, bare NAME, comments and blanks.
pub fn env_file(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.split('=')
            .next()
            .is_some_and(|k| k.chars().any(char::is_whitespace))
        {
            bail!(
                "{path}:{}: variable {:?} contains whitespaces",
                i + 1,
                l.split('=').next().unwrap_or("")
            );
        }
        if let Some(e) = env_entry(l)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// `--security-opt` values with each `seccomp=PATH` replaced by `seccomp=<the file's JSON>`,
/// which is what the engine takes ("unconfined" stays).
pub fn seccomp_profiles(opts: &[String]) -> Result<Vec<String>> {
    opts.iter()
        .map(|o| match security_opt_pair(o) {
            ("seccomp", path) if path != "unconfined" => std::fs::read_to_string(path)
                .map(|json| format!("seccomp={json}"))
                .map_err(|e| anyhow::anyhow!("opening seccomp profile ({path}) failed: {e}")),
            _ => Ok(o.clone()),
        })
        .collect()
}

/// A bind mount's relative source made absolute against the working directory (in the
/// `-v` value as written too, as Docker's client sends it).
pub fn absolute_source(mut m: Mount) -> Result<Mount> {
    if m.kind == MountKind::Bind && !m.source.is_empty() && !m.source.starts_with('/') {
        let p = std::path::absolute(&m.source).with_context(|| format!("resolve {}", m.source))?;
        let abs = p.to_string_lossy().into_owned();
        if let Some(rest) = m.spec.strip_prefix(m.source.as_str()) {
            m.spec = format!("{abs}{rest}");
        }
        m.source = abs;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_side_reads() {
        assert_eq!(env_entry("A=1").unwrap().as_deref(), Some("A=1"));
        assert_eq!(env_entry("BERTH_SURELY_UNSET_VAR").unwrap(), None);
        assert!(env_entry("=x").is_err() && env_entry("").is_err());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("profile.json");
        std::fs::write(&p, "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}").unwrap();
        let opts = seccomp_profiles(&[
            format!("seccomp={}", p.display()),
            "seccomp=unconfined".into(),
            "no-new-privileges".into(),
        ])
        .unwrap();
        assert_eq!(
            opts,
            [
                "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}",
                "seccomp=unconfined",
                "no-new-privileges"
            ]
        );
        let e = seccomp_profiles(&["seccomp:/no/such/profile".into()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("opening seccomp profile (/no/such/profile) failed"),
            "{e}"
        );
        let m = absolute_source(Mount {
            source: "./x".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(
            m.source.starts_with('/') && m.source.ends_with("/x"),
            "{}",
            m.source
        );
        let v = Mount {
            kind: MountKind::Volume,
            source: "data".into(),
            ..Default::default()
        };
        assert_eq!(absolute_source(v.clone()).unwrap(), v);
    }
}

//! Credentials (`berth login`) and `WWW-Authenticate` challenges.
//!
//! Berth keeps credentials in `~/.config/berth/auth.json` (or `$BERTH_AUTH_FILE`), mode 0600,
//! in Docker's `config.json` shape; it also reads `~/.docker/config.json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
}

/// Berth's own credentials file.
pub fn auth_file() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_AUTH_FILE") {
        return p.into();
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("/root/.config"));
    base.join("berth/auth.json")
}

fn docker_config() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

fn keys(registry: &str) -> Vec<String> {
    let mut k = vec![registry.to_owned()];
    if registry == "docker.io" {
        k.push("https://index.docker.io/v1/".into());
        k.push("index.docker.io".into());
    }
    k
}

fn read(path: &PathBuf) -> Result<AuthFile> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Credentials {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
        Err(e) => Err(Error::Credentials {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

fn decode(entry: &AuthEntry) -> Option<Credentials> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_deref()?)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    })
}

/// Credentials for `registry` from Berth's file, then Docker's.
pub fn lookup(registry: &str) -> Option<Credentials> {
    let mut files = vec![auth_file()];
    files.extend(docker_config());
    for f in files {
        let Ok(af) = read(&f) else { continue };
        for k in keys(registry) {
            if let Some(c) = af.auths.get(&k).and_then(decode) {
                return Some(c);
            }
        }
    }
    None
}

/// Store credentials (file mode 0600, written atomically).
pub fn store(registry: &str, creds: &Credentials) -> Result<()> {
    let path = auth_file();
    let mut af = read(&path)?;
    let enc = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.username, creds.password));
    af.auths
        .insert(registry.to_owned(), AuthEntry { auth: Some(enc) });
    write(&path, &af)
}

/// Forget credentials; returns whether there were any.
pub fn remove(registry: &str) -> Result<bool> {
    let path = auth_file();
    let mut af = read(&path)?;
    let had = af.auths.remove(registry).is_some();
    if had {
        write(&path, &af)?;
    }
    Ok(had)
}

fn write(path: &PathBuf, af: &AuthFile) -> Result<()> {
    let err = |e: std::io::Error| Error::Credentials {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let data = serde_json::to_vec_pretty(af).map_err(|e| Error::Credentials {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(&data).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = BTreeMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.insert(k, v);
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.remove("realm")?,
            service: params.remove("service"),
            scope: params.remove("scope"),
        }),
        _ => None,
    }
}

pub fn basic_header(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
    }

    #[test]
    fn store_lookup_remove() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        unsafe_env(&f);
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        store("localhost:5000", &c).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(lookup("localhost:5000"), Some(c));
        assert!(remove("localhost:5000").unwrap());
        assert_eq!(lookup("localhost:5000"), None);
    }

    fn unsafe_env(f: &std::path::Path) {
        // SAFETY: only this test reads BERTH_AUTH_FILE, and no other thread touches the
        // environment while it runs.
        unsafe { std::env::set_var("BERTH_AUTH_FILE", f) };
        // SAFETY: as above.
        unsafe { std::env::set_var("DOCKER_CONFIG", f.parent().unwrap_or(f)) };
    }
}

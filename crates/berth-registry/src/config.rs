//! Registry settings from `/etc/berth/berth.toml` (path overridable): mirrors for any
//! registry and registries allowed over plain HTTP.
//!
//! ```toml
//! [registries."docker.io"]
//! mirrors = ["http://127.0.0.1:5000"]
//! [registries."registry.internal:5000"]
//! insecure = true
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

pub const DEFAULT_CONFIG: &str = "/etc/berth/berth.toml";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryConfig {
    #[serde(default)]
    pub registries: HashMap<String, RegistrySettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrySettings {
    /// Endpoints tried in order before the registry itself, e.g. `http://127.0.0.1:5000`.
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// Allow plain HTTP (and skip nothing else).
    #[serde(default)]
    pub insecure: bool,
}

impl RegistryConfig {
    /// Load `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<RegistryConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistryConfig::default());
            }
            Err(e) => {
                return Err(Error::Config {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let cfg: RegistryConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        for (name, s) in &cfg.registries {
            for m in &s.mirrors {
                if !(m.starts_with("http://") || m.starts_with("https://")) {
                    return Err(Error::Config {
                        path: path.display().to_string(),
                        reason: format!(
                            "mirror {m:?} of {name} must start with http:// or https://"
                        ),
                    });
                }
            }
        }
        Ok(cfg)
    }

    /// Load from `BERTH_CONFIG` or the default path.
    pub fn load_default() -> Result<RegistryConfig> {
        let p = std::env::var_os("BERTH_CONFIG").unwrap_or_else(|| DEFAULT_CONFIG.into());
        RegistryConfig::load(Path::new(&p))
    }

    pub fn settings(&self, registry: &str) -> RegistrySettings {
        self.registries.get(registry).cloned().unwrap_or_default()
    }

    /// Base URLs to try for `registry`: mirrors first, then the registry itself (https, or
    /// http for loopback and insecure registries).
    pub fn endpoints(&self, registry: &str) -> Vec<String> {
        let s = self.settings(registry);
        let mut out = s.mirrors.clone();
        let host = if registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if s.insecure || is_loopback(registry) {
            "http"
        } else {
            "https"
        };
        out.push(format!("{scheme}://{host}"));
        out
    }

    /// Plain HTTP is allowed only for loopback hosts and registries marked insecure.
    pub fn http_allowed(&self, registry: &str, url: &str) -> bool {
        if !url.starts_with("http://") {
            return true;
        }
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        is_loopback(host)
            || self.settings(registry).insecure
            || self
                .registries
                .iter()
                .any(|(_, s)| s.insecure && s.mirrors.iter().any(|m| m == url))
    }
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
pub fn is_loopback(hostport: &str) -> bool {
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_and_schemes() {
        let cfg: RegistryConfig = toml::from_str(
            r#"
            [registries."docker.io"]
            mirrors = ["http://127.0.0.1:5000"]
            [registries."reg.example:5000"]
            insecure = true
            "#,
        )
        .unwrap();
        assert_eq!(
            cfg.endpoints("docker.io"),
            vec!["http://127.0.0.1:5000", "https://registry-1.docker.io"]
        );
        assert_eq!(
            cfg.endpoints("reg.example:5000"),
            vec!["http://reg.example:5000"]
        );
        assert_eq!(
            cfg.endpoints("localhost:5000"),
            vec!["http://localhost:5000"]
        );
        assert_eq!(cfg.endpoints("quay.io"), vec!["https://quay.io"]);
        assert!(cfg.http_allowed("docker.io", "http://127.0.0.1:5000"));
        assert!(!cfg.http_allowed("quay.io", "http://quay.io"));
        assert!(
            is_loopback("[::1]:5000") && is_loopback("127.0.0.1") && !is_loopback("10.0.0.1:5000")
        );
    }
}

//! Engine settings from berth.toml (`$BERTH_CONFIG`, else /etc/berth/berth.toml; the same
//! file holds the registry settings, which this module ignores):
//!
//! ```toml
//! [log-opts]          # defaults for every new container, as Docker's daemon.json
//! max-size = "10m"    # a size ("20k", "1g", bytes as a number), "-1": never rotate
//! max-file = 3        # (unset: 10m and 3 all the same; inspect then shows `Config: {}`)
//!
//! [storage]           # ceilings on what images unpack to (apparent size, holes count)
//! max-layer-size = "64g"    # one layer; "-1": no ceiling
//! max-image-size = "256g"   # all layers one pull, load or import unpacks; "-1": none
//!
//! # subnets of new networks (as Docker's daemon.json; default: Docker's pools)
//! # (an IPv6 base gives the IPv6 subnets of `--ipv6` networks; default: a unique local
//! # /48 of the engine's, cut in /64s)
//! default-address-pools = [{ base = "10.10.0.0/16", size = 24 }]
//!
//! # nameservers of containers (as Docker's daemon.json `dns`): written in resolv.conf on
//! # networks without names, and where the embedded resolver forwards on user-defined
//! # ones (default: the host's /etc/resolv.conf)
//! dns = ["192.0.2.53"]
//!
//! # no default bridge network (as dockerd's --bridge=none): a container without
//! # --network gets only loopback, and the built-in `bridge` network does not exist
//! bridge = "none"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::LogConfig;
use crate::error::{Error, Result};

/// What berth.toml sets for the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Log rotation for new containers (each container's `--log-opt` wins).
    pub log: LogConfig,
    /// Ceilings on unpacked image sizes, handed to the image store.
    pub storage: berth_image::Limits,
    /// Pools new networks take their subnets from (empty: Docker's defaults).
    pub address_pools: Vec<berth_network::Pool>,
    /// The IPv6 pools of `--ipv6` networks (empty: the engine's unique local /48).
    pub address_pools6: Vec<berth_network::Pool6>,
    /// Nameservers of containers (empty: the host's).
    pub dns: Vec<String>,
    /// `bridge = "none"`: no built-in `bridge` network; containers default to `none`.
    pub no_default_bridge: bool,
}

#[derive(Deserialize, Default)]
struct FileSettings {
    #[serde(rename = "log-opts")]
    log_opts: Option<LogOpts>,
    storage: Option<Storage>,
    #[serde(rename = "default-address-pools")]
    default_address_pools: Option<Vec<AddressPool>>,
    dns: Option<Vec<String>>,
    bridge: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressPool {
    base: String,
    size: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Storage {
    #[serde(rename = "max-layer-size")]
    max_layer_size: Option<toml::Value>,
    #[serde(rename = "max-image-size")]
    max_image_size: Option<toml::Value>,
}

/// A ceiling: a size (string or bytes), or -1 / "-1" for none.
fn ceiling(v: &toml::Value) -> Option<Option<u64>> {
    match v {
        toml::Value::Integer(-1) => Some(None),
        toml::Value::Integer(n) if *n > 0 => u64::try_from(*n).ok().map(Some),
        toml::Value::String(s) if s.trim() == "-1" => Some(None),
        toml::Value::String(s) => parse_bytes(s).filter(|n| *n > 0).map(Some),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogOpts {
    #[serde(rename = "max-size")]
    max_size: Option<toml::Value>,
    #[serde(rename = "max-file")]
    max_file: Option<u32>,
}

/// The settings file in use.
pub(crate) fn default_path() -> PathBuf {
    std::env::var_os("BERTH_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/berth/berth.toml"))
}

/// A size such as "10m", "1.5g", "512k" or "100" (bytes; binary multiples, as Docker).
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        Some('p') => (&t[..t.len() - 1], 50),
        _ => (t, 0),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    berth_runtime::util::f64_to_u64(v * (1u64 << shift) as f64)
}

impl Settings {
    /// Loads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Settings> {
        let bad =
            |reason: String| Error::invalid(format!("settings file {}", path.display()), reason);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        let f: FileSettings = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut s = Settings::default();
        if let Some(l) = f.log_opts {
            // Kept as written too: a container shows them (Docker's daemon log-opts).
            let written = match &l.max_size {
                None => None,
                // Not negative: its absolute value is itself.
                Some(toml::Value::Integer(n)) if *n >= 0 => {
                    s.log.max_size = n.unsigned_abs();
                    Some(n.to_string())
                }
                Some(toml::Value::String(v)) if v == "-1" => {
                    s.log.max_size = 0;
                    Some(v.clone())
                }
                Some(toml::Value::String(v)) => {
                    s.log.max_size = parse_bytes(v)
                        .ok_or_else(|| bad(format!("log-opts max-size {v:?} is not a size")))?;
                    Some(v.clone())
                }
                Some(other) => return Err(bad(format!("log-opts max-size {other} is not a size"))),
            };
            if let Some(w) = written {
                s.log.opts.insert("max-size".into(), w);
            }
            if let Some(n) = l.max_file {
                if n == 0 {
                    return Err(bad("log-opts max-file must be at least 1".into()));
                }
                s.log.max_file = n;
                s.log.opts.insert("max-file".into(), n.to_string());
            }
        }
        if let Some(st) = f.storage {
            for (name, v, slot) in [
                (
                    "max-layer-size",
                    &st.max_layer_size,
                    &mut s.storage.max_layer_size,
                ),
                (
                    "max-image-size",
                    &st.max_image_size,
                    &mut s.storage.max_image_size,
                ),
            ] {
                if let Some(v) = v {
                    *slot = ceiling(v).ok_or_else(|| {
                        bad(format!(
                            "storage {name} {v} is not a size (or -1 for no ceiling)"
                        ))
                    })?;
                }
            }
        }
        for p in f.default_address_pools.unwrap_or_default() {
            if p.base.contains(':') {
                let base =
                    berth_network::Ipv6Net::parse_strict(&p.base, "default-address-pools base")
                        .map_err(|e| bad(e.to_string()))?;
                let pool =
                    berth_network::Pool6::new(base, p.size).map_err(|e| bad(e.to_string()))?;
                s.address_pools6.push(pool);
                continue;
            }
            let base = berth_network::Ipv4Net::parse_strict(&p.base, "default-address-pools base")
                .map_err(|e| bad(e.to_string()))?;
            let pool = berth_network::Pool::new(base, p.size).map_err(|e| bad(e.to_string()))?;
            s.address_pools.push(pool);
        }
        for d in f.dns.unwrap_or_default() {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(bad(format!("dns {d:?} is not an IP address")));
            }
            s.dns.push(d);
        }
        match f.bridge.as_deref() {
            None => {}
            Some("none") => s.no_default_bridge = true,
            Some(b) => {
                return Err(bad(format!(
                    "bridge {b:?}: only \"none\" (no default bridge network) is supported"
                )));
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("10m"), Some(10 << 20));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1m"), None);
        // Past u64 it used to saturate silently.
        assert_eq!(parse_bytes("20000000p"), None);
    }

    #[test]
    fn files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("berth.toml");
        assert_eq!(Settings::load(&p).unwrap(), Settings::default());
        std::fs::write(&p, "[registries.\"docker.io\"]\nmirrors = []\n[log-opts]\nmax-size = \"20k\"\nmax-file = 5\n").unwrap();
        let s = Settings::load(&p).unwrap();
        assert_eq!((s.log.max_size, s.log.max_file), (20 << 10, 5));
        assert_eq!(s.log.opts["max-size"], "20k");
        assert_eq!(s.log.opts["max-file"], "5");
        std::fs::write(&p, "[log-opts]\nmax-size = \"huge\"\n").unwrap();
        let e = Settings::load(&p).unwrap_err().to_string();
        assert!(e.contains("berth.toml") && e.contains("huge"), "{e}");
        std::fs::write(&p, "[log-opts]\nmax-files = 5\n").unwrap();
        assert!(Settings::load(&p).is_err());
    }

    #[test]
    fn storage_ceilings() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("berth.toml");
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.storage, berth_image::Limits::default());
        assert_eq!(
            s.storage.max_layer_size,
            Some(berth_image::DEFAULT_MAX_LAYER_SIZE)
        );
        std::fs::write(
            &p,
            "[storage]\nmax-layer-size = \"1g\"\nmax-image-size = -1\n",
        )
        .unwrap();
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.storage.max_layer_size, Some(1 << 30));
        assert_eq!(s.storage.max_image_size, None);
        std::fs::write(&p, "[storage]\nmax-layer-size = \"big\"\n").unwrap();
        let e = Settings::load(&p).unwrap_err().to_string();
        assert!(e.contains("max-layer-size") && e.contains("big"), "{e}");
        std::fs::write(&p, "[storage]\nmax-layer-size = 0\n").unwrap();
        assert!(Settings::load(&p).is_err());
        std::fs::write(&p, "[storage]\nmax-layers = \"1g\"\n").unwrap();
        assert!(Settings::load(&p).is_err());
    }

    #[test]
    fn dns_servers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("berth.toml");
        std::fs::write(&p, "dns = [\"192.0.2.53\", \"2001:db8::1\"]\n").unwrap();
        assert_eq!(
            Settings::load(&p).unwrap().dns,
            ["192.0.2.53", "2001:db8::1"]
        );
        std::fs::write(&p, "dns = [\"ns.example\"]\n").unwrap();
        let e = Settings::load(&p).unwrap_err().to_string();
        assert!(e.contains("ns.example"), "{e}");
    }

    #[test]
    fn address_pools() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("berth.toml");
        assert!(Settings::load(&p).unwrap().address_pools.is_empty());
        std::fs::write(
            &p,
            "default-address-pools = [{ base = \"10.10.0.0/16\", size = 24 }]\n",
        )
        .unwrap();
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.address_pools.len(), 1);
        assert_eq!(s.address_pools[0].base.to_string(), "10.10.0.0/16");
        assert_eq!(s.address_pools[0].size, 24);
        assert!(s.address_pools6.is_empty());
        std::fs::write(
            &p,
            "default-address-pools = [{ base = \"10.10.0.0/16\", size = 24 }, { base = \"fd00:1::/56\", size = 64 }]\n",
        )
        .unwrap();
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.address_pools.len(), 1);
        assert_eq!(s.address_pools6.len(), 1);
        assert_eq!(s.address_pools6[0].base.to_string(), "fd00:1::/56");
        for bad in [
            "default-address-pools = [{ base = \"10.10.0.0/16\", size = 8 }]\n",
            "default-address-pools = [{ base = \"10.10.0.1/16\", size = 24 }]\n",
            "default-address-pools = [{ base = \"nope\", size = 24 }]\n",
            "default-address-pools = [{ base = \"10.10.0.0/16\" }]\n",
            "default-address-pools = [{ base = \"fd00:1::/56\", size = 48 }]\n",
            "default-address-pools = [{ base = \"fd00:1::5/56\", size = 64 }]\n",
        ] {
            std::fs::write(&p, bad).unwrap();
            let e = Settings::load(&p).unwrap_err().to_string();
            assert!(e.contains("berth.toml"), "{bad}: {e}");
        }
    }
}

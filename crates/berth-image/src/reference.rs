//! Image references with Docker's normalization rules, parsed by hand.
//!
//! `busybox` → `docker.io/library/busybox:latest`; `localhost:5000/x` names a registry;
//! `name@sha256:...` pins a manifest digest.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const LEGACY_DOMAIN: &str = "index.docker.io";
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A normalized image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse with Docker's normalization; no default tag is added.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |why: &str| Error::InvalidReference(format!("{s:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if is_full_hex_id(s) {
            return Err(Error::InvalidReference(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let d: Digest = d.parse().map_err(|_| bad("invalid digest"))?;
                (r, Some(d))
            }
            None => (s, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(&rest[i + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag"));
        }
        if name.is_empty() {
            return Err(bad("empty name"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        let (domain, path) = split_domain(name);
        if !domain.is_empty() && !valid_domain(domain) {
            return Err(bad("invalid registry name"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Error::InvalidReference(format!(
                "repository name ({path}) must be lowercase"
            )));
        }
        if !valid_path(path) {
            return Err(bad("invalid repository name"));
        }
        let (domain, path) = if domain.is_empty() || domain == LEGACY_DOMAIN {
            let p = if path.contains('/') {
                path.to_owned()
            } else {
                format!("{OFFICIAL_PREFIX}{path}")
            };
            (DEFAULT_DOMAIN.to_owned(), p)
        } else if domain == DEFAULT_DOMAIN && !path.contains('/') {
            (
                DEFAULT_DOMAIN.to_owned(),
                format!("{OFFICIAL_PREFIX}{path}"),
            )
        } else {
            (domain.to_owned(), path.to_owned())
        };
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Parse and add the `latest` tag when neither tag nor digest is given.
    pub fn parse_tagged(s: &str) -> Result<Reference> {
        let mut r = Reference::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }

    /// The registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as docker shows it, e.g. `busybox`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// `name:tag` in full form (the key tags are stored under), or None without a tag.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }

    /// The familiar form with tag and digest, e.g. `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !valid_tag(tag) {
            return Err(Error::InvalidReference(format!("{tag:?}: invalid tag")));
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// The same repository pinned to a digest, without a tag.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

/// True for exactly 64 lower-case hex characters (an image ID, never a name).
pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Docker's rule: the first component is a registry if it has '.', ':', is `localhost`,
/// or has upper-case letters.
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => ("", name),
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [ipv6]:port
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => return valid_port(port),
                None => return false,
            },
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && !valid_port(p)
    {
        return false;
    }
    !host.is_empty() && host.split('.').all(valid_domain_component)
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn valid_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

fn valid_path(p: &str) -> bool {
    !p.is_empty() && p.split('/').all(valid_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse_tagged(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        assert_eq!(full("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(full("localhost:5000/x:v1"), "localhost:5000/x:v1");
        assert_eq!(full("127.0.0.1:5000/a/b/c:t"), "127.0.0.1:5000/a/b/c:t");
        assert_eq!(full("quay.io/org/app"), "quay.io/org/app:latest");
        assert_eq!(full("[::1]:5000/app"), "[::1]:5000/app:latest");
        assert_eq!(full("Registry/app"), "Registry/app:latest");
        // A single name with a port-like suffix is a tag.
        assert_eq!(full("localhost:5000"), "docker.io/library/localhost:5000");
    }

    #[test]
    fn digests() {
        let r = Reference::parse_tagged(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), D);
        assert_eq!(r.familiar(), format!("busybox@{D}"));
        let r = Reference::parse(&format!("localhost:5000/x:v1@{D}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.domain(), "localhost:5000");
        assert!(Reference::parse("busybox@sha256:abc").is_err());
        assert!(Reference::parse("busybox@").is_err());
    }

    #[test]
    fn familiar() {
        let f = |s: &str| Reference::parse_tagged(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(f("docker.io/user/app:1"), "user/app:1");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(f("localhost:5000/x"), "localhost:5000/x:latest");
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(r.tagged_name(), None);
    }

    #[test]
    fn rejects() {
        let long = "a".repeat(256);
        let long_tag = format!("a:{}", "t".repeat(129));
        for s in [
            "",
            ":",
            ":tag",
            "@",
            "Busybox",
            "busy box",
            "busybox:",
            "busybox:-x",
            "busybox:.x",
            "busybox:a/b",
            "/busybox",
            "busybox/",
            "a//b",
            "a/../b",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a.-b",
            "localhost:abc/x",
            "localhost:123456/x",
            "-host.com/x",
            "host-.com/x",
            "host..com/x",
            "[::1/x",
            "[]/x",
            "docker.io/Library/x",
            long.as_str(),
            long_tag.as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "busybox@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "busybox@md5:e3b0c44298fc1c149afbf4c8996fb924",
            "a\u{e9}b",
            "a\0b",
        ] {
            assert!(Reference::parse(s).is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn accepts_separators() {
        for s in [
            "a.b", "a_b", "a__b", "a-b", "a---b", "a0/b1/c2", "x:_", "x:A.b-C_",
        ] {
            assert!(Reference::parse(s).is_ok(), "{s:?} should be accepted");
        }
        let t = "t".repeat(128);
        assert!(Reference::parse(&format!("a:{t}")).is_ok());
    }

    #[test]
    fn with_tag_and_digest() {
        let r = Reference::parse_tagged("busybox").unwrap();
        let t = r.with_tag("v2").unwrap();
        assert_eq!(t.to_string(), "docker.io/library/busybox:v2");
        assert!(r.with_tag("bad tag").is_err());
        let d = r.with_digest(D.parse().unwrap());
        assert_eq!(d.to_string(), format!("docker.io/library/busybox@{D}"));
    }
}

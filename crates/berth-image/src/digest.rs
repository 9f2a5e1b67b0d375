//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and streaming hashers.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::{Error, Result};

/// A digest algorithm Berth understands. New blobs are always sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest: algorithm plus lower-case hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algo: Algorithm,
    hex: String,
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algo
    }

    /// The hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as docker shows image IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// The sha256 digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(data);
        h.finish()
    }

    /// Build from an algorithm and hex string, validating both.
    pub fn from_parts(algo: Algorithm, hex: &str) -> Result<Digest> {
        if hex.len() != algo.hex_len() {
            return Err(Error::InvalidDigest {
                digest: format!("{}:{hex}", algo.name()),
                reason: "wrong length",
            });
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::InvalidDigest {
                digest: format!("{}:{hex}", algo.name()),
                reason: "not lower-case hex",
            });
        }
        Ok(Digest {
            algo,
            hex: hex.to_owned(),
        })
    }

    /// A sha256 digest from bare hex.
    pub fn sha256_hex(hex: &str) -> Result<Digest> {
        Digest::from_parts(Algorithm::Sha256, hex)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Digest> {
        let (algo, hex) = s.split_once(':').ok_or(Error::InvalidDigest {
            digest: s.to_owned(),
            reason: "missing algorithm",
        })?;
        let algo = match algo {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => {
                return Err(Error::InvalidDigest {
                    digest: s.to_owned(),
                    reason: "unsupported algorithm",
                });
            }
        };
        Digest::from_parts(algo, hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A streaming hasher for one algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algo: Algorithm) -> Hasher {
        match algo {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algo: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algo: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// A reader that hashes and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, algo: Algorithm) -> Self {
        HashingReader {
            inner,
            hasher: Some(Hasher::new(algo)),
            count: 0,
        }
    }

    /// Only count, do not hash.
    pub fn without_hash(mut self) -> Self {
        self.hasher = None;
        self
    }

    /// Read the rest of the stream, then return the digest, byte count and inner reader.
    pub fn finish(self) -> io::Result<(Digest, u64, R)> {
        let (d, n, r) = self.finish_opt()?;
        let d = d.unwrap_or_else(|| Hasher::new(Algorithm::Sha256).finish());
        Ok((d, n, r))
    }

    /// Like `finish`; the digest is None when hashing was turned off.
    pub fn finish_opt(mut self) -> io::Result<(Option<Digest>, u64, R)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.hasher.map(Hasher::finish), self.count, self.inner))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(Algorithm::Sha256),
            count: 0,
        }
    }

    pub fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn sha512_accepted() {
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"abc");
        let d = h.finish();
        let back: Digest = d.to_string().parse().unwrap();
        assert_eq!(back.algorithm(), Algorithm::Sha512);
        assert_eq!(back.hex().len(), 128);
    }

    #[test]
    fn rejects_bad() {
        for s in [
            "",
            "sha256",
            "sha256:",
            "md5:abcd",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
            "sha256:../../../../../../../../../../../../../../../../../../../etc/passw",
        ] {
            assert!(s.parse::<Digest>().is_err(), "{s}");
        }
    }
}

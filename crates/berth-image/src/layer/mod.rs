//! Layers: compression detection, safe unpacking, and diffs of overlay upper directories;
//! the same safe unpacking for other archives (`extract`, used by `cp`).

pub mod diff;
pub mod extract;
pub mod fsutil;
mod meta;
pub mod tree;
pub mod unpack;

use std::io::{self, Cursor, Read};

pub use extract::{ExtractOptions, Owners, Resolve, extract_tar};
pub use unpack::{SizeBudget, UnpackOptions, UnpackStats, WhiteoutMode, unpack_tar};

/// Compression of a layer stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detect from the first bytes of a stream.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::None => crate::model::MT_OCI_LAYER,
            Compression::Gzip => crate::model::MT_OCI_LAYER_GZIP,
            Compression::Zstd => crate::model::MT_OCI_LAYER_ZSTD,
        }
    }
}

/// A stream whose first bytes were peeked and are replayed.
pub type Replay<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// Read up to `n` bytes of a stream's head; returns the head and a reader that replays it.
pub fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, Replay<R>)> {
    let mut head = vec![0u8; n];
    let got = read_full(&mut r, &mut head)?;
    head.truncate(got);
    Ok((head.clone(), Cursor::new(head).chain(r)))
}

/// Fill `buf` from `r` as far as the stream goes; returns the bytes read.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Wrap a possibly compressed stream in the matching decoder.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let (head, r) = peek(r, 8)?;
    let c = Compression::detect(&head);
    let out: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(128 * 1024, r),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    };
    Ok((c, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decompresses() {
        let data = b"hello world".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        for (bytes, c) in [
            (data.clone(), Compression::None),
            (gz, Compression::Gzip),
            (zs, Compression::Zstd),
        ] {
            let (got, mut r) = decompress(&bytes[..]).unwrap();
            assert_eq!(got, c);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn multi_member_gzip() {
        let mut all = Vec::new();
        for part in [b"abc".as_slice(), b"def".as_slice()] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part).unwrap();
            all.extend(gz.finish().unwrap());
        }
        let (_, mut r) = decompress(&all[..]).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "abcdef");
    }
}

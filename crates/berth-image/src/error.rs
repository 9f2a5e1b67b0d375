//! Error type of the image store. Messages name the object (digest, path, image) in lower case.

use std::io;
use std::path::PathBuf;

/// Broad class of an error, for callers that map errors to exit codes or HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist (HTTP 404).
    NotFound,
    /// The operation conflicts with the current state, e.g. an image in use (HTTP 409).
    Conflict,
    /// The input is malformed or refused (HTTP 400).
    Invalid,
    /// A resource is temporarily unavailable (HTTP 503).
    Unavailable,
    /// The operation is not supported here (HTTP 501).
    Unsupported,
    /// Anything else: I/O, database (HTTP 500).
    Internal,
}

/// Errors of `berth-image`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such image: {0}")]
    ImageNotFound(String),
    #[error("blob {0} not found")]
    BlobNotFound(String),
    #[error("snapshot {0} not found")]
    SnapshotNotFound(String),
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("invalid reference format: {0}")]
    InvalidReference(String),
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        digest: String,
        reason: &'static str,
    },
    #[error("invalid manifest {what}: {reason}")]
    InvalidManifest { what: String, reason: String },
    #[error("refusing hostile layer {layer}: entry {entry:?} {reason}")]
    HostileLayer {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("invalid layer {layer}: {reason}")]
    InvalidLayer { layer: String, reason: String },
    /// An entry that an extraction other than a layer's (`layer::extract_tar`, for `cp`)
    /// refuses: it would leave the destination or overwrite what it must not.
    #[error("refusing entry {entry:?} of {what}: it {reason}")]
    RefusedEntry {
        what: String,
        entry: String,
        reason: String,
    },
    /// A layer crosses a ceiling on unpacked (apparent) size; `setting` names it as
    /// berth.toml's `[storage]` table does.
    #[error("refusing layer {layer}: {what} unpack to more than {} (storage {setting})", human_size(*limit))]
    TooLarge {
        layer: String,
        what: &'static str,
        limit: u64,
        setting: &'static str,
    },
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("no matching manifest for {platform} in the manifest list entries of {what}")]
    PlatformNotFound { platform: String, what: String },
    #[error("conflict: {0}")]
    Conflict(String),
    /// `rmi` without force of an image that a snapshot (or another user) holds: `reference`
    /// is the name it was asked by (None: by id), `user` the holder's kind and id. A caller
    /// that knows who owns the snapshot can say so instead (the engine names the container).
    #[error("conflict: {}", in_use_message(.reference.as_deref(), .user_kind, .user_id, .image))]
    InUse {
        reference: Option<String>,
        user_kind: String,
        user_id: String,
        image: String,
    },
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("image database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("json of {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Docker's text for an image in use: by reference or by id, naming the user.
pub fn in_use_message(reference: Option<&str>, kind: &str, id: &str, image: &str) -> String {
    match reference {
        Some(r) => format!(
            "unable to remove repository reference {r:?} (must force) - {kind} {id} is using its referenced image {image}"
        ),
        None => format!(
            "unable to delete {image} (must be forced) - image is being used by {kind} {id}"
        ),
    }
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ImageNotFound(_) | Error::BlobNotFound(_) | Error::SnapshotNotFound(_) => {
                ErrorKind::NotFound
            }
            Error::PlatformNotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) | Error::InUse { .. } => ErrorKind::Conflict,
            Error::DigestMismatch { .. }
            | Error::SizeMismatch { .. }
            | Error::InvalidReference(_)
            | Error::InvalidDigest { .. }
            | Error::InvalidManifest { .. }
            | Error::HostileLayer { .. }
            | Error::InvalidLayer { .. }
            | Error::RefusedEntry { .. }
            | Error::TooLarge { .. }
            | Error::InvalidArchive(_)
            | Error::Invalid { .. }
            | Error::Json { .. } => ErrorKind::Invalid,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Db(e) if is_busy(e) => ErrorKind::Unavailable,
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } | Error::Db(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn manifest(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidManifest {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// `s` with control characters escaped (`\u{1b}` for ESC...), for messages that quote what a
/// hostile archive or layer contains: printed raw, escape sequences would drive the
/// reader's terminal.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes in binary units, e.g. `10GiB`, `1.5MiB`, `512B`.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{v}{}", UNITS[u])
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a context and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            context,
            path: path.into(),
            source,
        })
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, context: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::Io {
            context,
            path: path.into(),
            source: e.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(10 << 30), "10GiB");
        assert_eq!(human_size(1536 << 10), "1.5MiB");
        assert_eq!(human_size(512), "512B");
    }

    #[test]
    fn hostile_bytes_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mred\u{7}"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(printable("plain ü"), "plain ü");
    }
}

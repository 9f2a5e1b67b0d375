//! Errors of the registry client. Messages name the registry, repository or digest.

/// Broad class of an error (mapped to exit codes and HTTP statuses by callers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Unauthorized,
    Invalid,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("manifest unknown: {0}")]
    ManifestUnknown(String),
    #[error("blob unknown: {0}")]
    BlobUnknown(String),
    #[error("unauthorized: authentication required for {0}")]
    Unauthorized(String),
    #[error("registry {registry} answered {status} for {what}: {body}")]
    Status {
        registry: String,
        what: String,
        status: u16,
        body: String,
    },
    #[error("registry {registry}: {reason}")]
    Protocol { registry: String, reason: String },
    #[error("connecting to {registry}: {reason}")]
    Unavailable { registry: String, reason: String },
    #[error("refusing plain http to {0}: mark it insecure in berth.toml or use https")]
    InsecureRefused(String),
    #[error("config {path}: {reason}")]
    Config { path: String, reason: String },
    #[error("credentials {path}: {reason}")]
    Credentials { path: String, reason: String },
    #[error(transparent)]
    Image(#[from] berth_image::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ManifestUnknown(_) | Error::BlobUnknown(_) => ErrorKind::NotFound,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Status { status, .. } if *status == 404 => ErrorKind::NotFound,
            Error::Status { status, .. } if *status == 401 || *status == 403 => {
                ErrorKind::Unauthorized
            }
            Error::Status { status, .. } if *status >= 500 => ErrorKind::Unavailable,
            Error::Status { .. }
            | Error::Protocol { .. }
            | Error::InsecureRefused(_)
            | Error::Config { .. } => ErrorKind::Invalid,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Credentials { .. } => ErrorKind::Internal,
            Error::Image(e) => match e.kind() {
                berth_image::ErrorKind::NotFound => ErrorKind::NotFound,
                berth_image::ErrorKind::Invalid => ErrorKind::Invalid,
                berth_image::ErrorKind::Unavailable => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

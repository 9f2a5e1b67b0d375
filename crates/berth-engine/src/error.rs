//! Typed errors of the engine. Messages name the object (container, volume, image, path) in
//! lower case; `kind()` gives the class that the CLI maps to exit codes and the API server to
//! HTTP statuses.

/// The class of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist (404).
    NotFound,
    /// The object exists already or is in the wrong state (409).
    Conflict,
    /// The request is malformed (400).
    Invalid,
    /// The host cannot do it now (503).
    Unavailable,
    /// Not supported (501).
    Unsupported,
    /// Anything else (500).
    Internal,
}

/// Errors of `berth-engine`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    /// Docker's wording: "network NAME not found".
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid {what}: {msg}")]
    Invalid { what: String, msg: String },
    /// A value in one of Docker's syntaxes that does not parse, with Docker's message.
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Copy(#[from] crate::cp::CopyError),
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    #[error(transparent)]
    Registry(#[from] berth_registry::Error),
    #[error(transparent)]
    Network(#[from] berth_network::Error),
    /// `run --pull=never --platform P` of a local image made for another platform.
    #[error(
        "image with reference {reference} was found but its platform ({found}) does not match the specified platform ({wanted})"
    )]
    PlatformMismatch {
        reference: String,
        found: String,
        wanted: String,
    },
    /// The container could not start its process: `code` is docker's exit code for it
    /// (126: cannot execute, 127: not found, else 125).
    #[error("{msg}")]
    StartFailed { code: i32, msg: String },
    /// An exec'd process could not start: `code` is docker's exit code for it (126: cannot
    /// execute, 127: not found).
    #[error("{msg}")]
    ExecFailed { code: i32, msg: String },
    /// An exec's user or group is not in the container (`exec -u nosuch`): Docker's 126.
    #[error("{0}")]
    ExecUser(String),
    /// A long call ended by its `Cancel` token.
    #[error("{0}: cancelled")]
    Cancelled(String),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchContainer(_)
            | Error::NoSuchVolume(_)
            | Error::NoSuchNetwork(_)
            | Error::PlatformMismatch { .. } => ErrorKind::NotFound,
            Error::Network(berth_network::Error::Invalid { .. }) => ErrorKind::Invalid,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Copy(crate::cp::CopyError::NotFound { .. }) => ErrorKind::NotFound,
            Error::Copy(_) => ErrorKind::Invalid,
            Error::Invalid { .. } | Error::InvalidValue(_) => ErrorKind::Invalid,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Unavailable(_) | Error::Cancelled(_) => ErrorKind::Unavailable,
            Error::StartFailed { .. } | Error::ExecFailed { .. } | Error::ExecUser(_) => {
                ErrorKind::Invalid
            }
            Error::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Image(e) | Error::Registry(berth_registry::Error::Image(e)) => match e.kind() {
                berth_image::ErrorKind::NotFound => ErrorKind::NotFound,
                berth_image::ErrorKind::Conflict => ErrorKind::Conflict,
                berth_image::ErrorKind::Invalid => ErrorKind::Invalid,
                berth_image::ErrorKind::Unavailable => ErrorKind::Unavailable,
                berth_image::ErrorKind::Unsupported => ErrorKind::Unsupported,
                berth_image::ErrorKind::Internal => ErrorKind::Internal,
            },
            // The engine has no class of its own for refused credentials: the request
            // (its credentials) is what is wrong.
            Error::Registry(e) => match e.kind() {
                berth_registry::ErrorKind::NotFound => ErrorKind::NotFound,
                berth_registry::ErrorKind::Unauthorized | berth_registry::ErrorKind::Invalid => {
                    ErrorKind::Invalid
                }
                berth_registry::ErrorKind::Unavailable => ErrorKind::Unavailable,
                berth_registry::ErrorKind::Internal => ErrorKind::Internal,
            },
            Error::Runtime(e) => match e.kind() {
                berth_runtime::ErrorKind::NotFound => ErrorKind::NotFound,
                berth_runtime::ErrorKind::Conflict => ErrorKind::Conflict,
                berth_runtime::ErrorKind::Invalid => ErrorKind::Invalid,
                berth_runtime::ErrorKind::Unavailable => ErrorKind::Unavailable,
                berth_runtime::ErrorKind::Internal => ErrorKind::Internal,
            },
            _ => ErrorKind::Internal,
        }
    }

    /// An invalid-input error naming `what`.
    pub fn invalid(what: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            msg: msg.into(),
        }
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, cause: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            cause,
        }
    }
}

/// Result type of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

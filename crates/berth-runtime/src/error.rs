//! Typed errors of the runtime library.

use std::path::PathBuf;

/// The class of an error, for callers that map errors to exit codes or HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The container (or another named object) does not exist.
    NotFound,
    /// The object exists already, or is in a state that forbids the operation.
    Conflict,
    /// The request or the configuration is malformed.
    Invalid,
    /// The host cannot do what was asked (missing privilege, kernel feature, resource).
    Unavailable,
    /// Anything else.
    Internal,
}

/// Why the container's process could not be executed (`Error::Exec`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecFailure {
    /// A bare name that no directory of $PATH holds as an executable file.
    NotInPath,
    /// The path does not exist (ENOENT).
    NotFound,
    /// The path may not be executed (EACCES).
    PermissionDenied,
    /// The path is a directory.
    IsDirectory,
    /// Any other reason, as the system describes it.
    Other(String),
}

impl std::fmt::Display for ExecFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExecFailure::NotInPath => "executable file not found in $PATH",
            ExecFailure::NotFound => "no such file or directory",
            ExecFailure::PermissionDenied => "permission denied",
            ExecFailure::IsDirectory => "is a directory",
            ExecFailure::Other(m) => m,
        })
    }
}

impl ExecFailure {
    /// The failure for an errno of execve(2) or stat(2).
    pub fn from_errno(errno: i32, other: impl FnOnce() -> String) -> ExecFailure {
        match errno {
            libc::ENOENT => ExecFailure::NotFound,
            libc::EACCES => ExecFailure::PermissionDenied,
            libc::EISDIR => ExecFailure::IsDirectory,
            _ => ExecFailure::Other(other()),
        }
    }

    /// Docker's exit code for it: 127 when the command is not found, 126 when it cannot be
    /// executed.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecFailure::NotInPath | ExecFailure::NotFound => 127,
            _ => 126,
        }
    }
}

/// Errors of the runtime library. Messages name the object they are about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("container {0} already exists")]
    AlreadyExists(String),
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("config.json: {field}: {msg}")]
    InvalidSpec { field: String, msg: String },
    #[error("invalid argument {what}: {msg}")]
    InvalidArgument { what: String, msg: String },
    #[error("container {id} is {status}: cannot {op}")]
    InvalidState {
        id: String,
        status: String,
        op: &'static str,
    },
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    #[error("{context}: {cause}")]
    Sys { context: String, cause: nix::Error },
    #[error("cgroup {path}: {msg}")]
    Cgroup { path: PathBuf, msg: String },
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("{kind} hook {path}: {msg}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        msg: String,
    },
    /// An error reported by the container's init process.
    #[error("{0}")]
    Init(String),
    /// The process's executable could not be executed.
    #[error("exec: {path:?}: {cause}")]
    Exec { path: String, cause: ExecFailure },
    /// A setting the host does not let this process apply (e.g. missing CAP_SYS_RESOURCE).
    #[error("{setting}: {msg}")]
    NotPermitted { setting: String, msg: String },
    #[error(
        "container processes must be started from a single-threaded process \
         (this one has {0} threads); call the library from a monitor process or use the \
         berth-runtime binary"
    )]
    MultiThreaded(usize),
}

impl Error {
    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) | Error::InvalidState { .. } => ErrorKind::Conflict,
            Error::InvalidId { .. } | Error::InvalidSpec { .. } | Error::InvalidArgument { .. } => {
                ErrorKind::Invalid
            }
            Error::NotPermitted { .. } | Error::MultiThreaded(_) => ErrorKind::Unavailable,
            Error::Exec { .. } => ErrorKind::Invalid,
            Error::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            _ => ErrorKind::Internal,
        }
    }

    /// Docker's exit code when this error is the process failing to execute (127 not
    /// found, 126 cannot execute); None for every other error.
    pub fn exec_exit_code(&self) -> Option<i32> {
        match self {
            Error::Exec { cause, .. } => Some(cause.exit_code()),
            _ => None,
        }
    }

    pub(crate) fn spec(field: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::InvalidSpec {
            field: field.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn arg(what: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::InvalidArgument {
            what: what.into(),
            msg: msg.into(),
        }
    }
}

/// Result type of the runtime library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a context message to low-level errors.
pub(crate) trait Context<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|cause| Error::Io {
            context: what().into(),
            cause,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|cause| Error::Sys {
            context: what().into(),
            cause,
        })
    }
}

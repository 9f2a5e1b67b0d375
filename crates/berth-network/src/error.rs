//! Typed errors, each naming the object it is about.

/// What can go wrong with a network's kernel objects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink request failed.
    #[error("{what}: {msg}")]
    Netlink { what: String, msg: String },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The firewall refused a batch (nothing of it was applied).
    #[error("firewall: {0}")]
    Firewall(String),
    /// A value given by a user is not valid.
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn netlink(what: impl Into<String>, e: impl std::fmt::Display) -> Error {
        Error::Netlink {
            what: what.into(),
            msg: e.to_string(),
        }
    }
}

//! Local failures of the data plane. Each says what was being done.

use std::io;

/// A data-plane operation that failed on this node.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A netlink request was refused or could not be made.
    #[error("netlink: {what}: {source}")]
    Netlink {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    /// A socket call failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The request itself cannot be carried out (bad argument, no such
    /// interface…).
    #[error("{0}")]
    Invalid(String),
}

impl NetError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }

    pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Netlink { what, source }
    }
}

//! The error type of the tar mapping.

use std::io;

/// An error importing a layer tar or exporting a layer to one. Every variant names the
/// entry (tar name) it concerns, where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The archive itself is malformed (truncated, bad header, bad PAX record, ...).
    #[error(transparent)]
    Archive(#[from] crate::archive::Error),
    /// A PAX record of an entry has a value that cannot be used.
    #[error("{name}: bad {key} record")]
    Record {
        /// The entry.
        name: String,
        /// The record's key.
        key: String,
        /// What is wrong with the value.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An entry's metadata cannot be represented (what is wrong is in `reason`, with the
    /// reference implementation's wording where it has one).
    #[error("{name}: {reason}")]
    Entry {
        /// The entry.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry's backup stream is malformed.
    #[error("{name}: bad backup stream")]
    Stream {
        /// The entry.
        name: String,
        /// The cause.
        #[source]
        source: wclayer_backup::Error,
    },
    /// The layer reader or writer refused an entry.
    #[error(transparent)]
    Layer(#[from] wclayer_layer::Error),
    /// The tar writer refused a header or data.
    #[error("{name}: cannot write tar entry")]
    Write {
        /// The entry.
        name: String,
        /// The cause.
        #[source]
        source: crate::gotar::Error,
    },
    /// Reading or writing failed.
    #[error("{}i/o error", name.as_deref().map(|n| format!("{n}: ")).unwrap_or_default())]
    Io {
        /// The entry, if any.
        name: Option<String>,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn entry(name: &str, reason: impl Into<String>) -> Error {
        Error::Entry {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn record(
        name: &str,
        key: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Record {
            name: name.to_string(),
            key: key.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn io(name: &str, source: io::Error) -> Error {
        Error::Io {
            name: Some(name.to_string()),
            source,
        }
    }

    /// The tar writer refused the data of entry `name`.
    pub(crate) fn write(name: &str, source: crate::gotar::Error) -> Error {
        Error::Write {
            name: name.to_string(),
            source,
        }
    }
}

impl From<wclayer_layer::PathError> for Error {
    fn from(e: wclayer_layer::PathError) -> Error {
        Error::Layer(e.into())
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io { source, .. } => source,
            other => io::Error::other(other),
        }
    }
}

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
    /// The layer reader or writer refused an entry, an entry's backup stream is malformed
    /// ([`wclayer_layer::Error::Stream`]), or reading or writing failed
    /// ([`wclayer_layer::Error::Io`]): the layer model's own errors, with the entry.
    #[error(transparent)]
    Layer(#[from] wclayer_layer::Error),
    /// A whiteout entry could not be applied: the name it removes is no valid layer name, or
    /// the layer refused the removal (a base layer, a name below a file, ...).
    #[error("{name}")]
    Whiteout {
        /// The whiteout entry's tar name.
        name: String,
        /// The name it removes.
        target: String,
        /// Why it was refused.
        #[source]
        source: wclayer_layer::Error,
    },
    /// The tar writer refused a header or data.
    #[error("{name}: cannot write tar entry")]
    Write {
        /// The entry.
        name: String,
        /// The cause.
        #[source]
        source: crate::gotar::Error,
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
        Error::Layer(wclayer_layer::Error::io(name, source))
    }

    /// `name`'s backup stream is malformed.
    pub(crate) fn stream(name: &str, source: wclayer_backup::Error) -> Error {
        Error::Layer(wclayer_layer::Error::Stream {
            name: name.to_string(),
            source,
        })
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
            Error::Layer(l) => l.into(),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

//! The error type of the layer model.

use std::io;

use crate::PathError;

/// An error of a layer reader or writer. Every variant names the entry it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name is not a valid layer path.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A name was added twice (names that differ only in case are the same name).
    #[error("{name}: added twice (first as {first})")]
    Duplicate {
        /// The second spelling.
        name: String,
        /// The spelling added first.
        first: String,
    },
    /// An entry was placed below something that is not a directory.
    #[error("{name}: parent {parent} is not a directory")]
    NotADirectory {
        /// The entry.
        name: String,
        /// The offending parent.
        parent: String,
    },
    /// An entry was placed below a symbolic link or mount point.
    #[error("{name}: parent {parent} is a reparse point")]
    BelowReparsePoint {
        /// The entry.
        name: String,
        /// The reparse point.
        parent: String,
    },
    /// A hard link names a target that was not added to this layer.
    #[error("{name}: hard link target {target} was not added")]
    LinkTargetMissing {
        /// The link.
        name: String,
        /// Its target.
        target: String,
    },
    /// A hard link names a directory.
    #[error("{name}: hard link target {target} is a directory")]
    LinkTargetDirectory {
        /// The link.
        name: String,
        /// Its target.
        target: String,
    },
    /// A tombstone was given to a base layer.
    #[error("{name}: base layer cannot have tombstones")]
    BaseLayerTombstone {
        /// The removed name.
        name: String,
    },
    /// A base walk found no `Files` directory.
    #[error("layer has no Files directory")]
    NoFiles,
    /// Stream bytes were written while no entry was open (before any `add`, or after
    /// `add_link`/`remove`).
    #[error("backup stream bytes written with no entry open")]
    NoEntry,
    /// The reader cannot re-read the current entry's stream
    /// ([`crate::LayerReader::seek_stream`]).
    #[error("the entry's backup stream cannot be re-read")]
    Unseekable,
    /// The reader or writer was used after `close`.
    #[error("layer is closed")]
    Closed,
    /// An entry's backup stream is malformed.
    #[error("{name}: bad backup stream")]
    Stream {
        /// The entry.
        name: String,
        /// The cause.
        #[source]
        source: wclayer_backup::Error,
    },
    /// A layer claims more than a [`crate::Limits`] allows, or more than this crate can
    /// index (more than 2^32 names, a name component longer than 64 KiB).
    #[error("{}layer has more than {limit} {what}", name.as_deref().map(|n| format!("{n}: ")).unwrap_or_default())]
    Limit {
        /// The entry that went over the limit, when one did.
        name: Option<String>,
        /// What overflowed.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A back end of the traits (a layer directory, a transport folder, ...) failed. Its own
    /// error travels here with its type (the message names the entry it concerns).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An I/O error, with the entry it happened on when there is one.
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
    /// A back end's own error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Backend(Box::new(e))
    }

    /// What went over a limit and the limit, when this error is [`Error::Limit`].
    #[must_use]
    pub fn limit(&self) -> Option<(&'static str, u64)> {
        match self {
            Error::Limit { what, limit, .. } => Some((what, *limit)),
            _ => None,
        }
    }

    /// The kind an [`io::Error`] made from this error has (when it travels through
    /// `io::Read`/`io::Write`).
    #[must_use]
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::Path(_) => io::ErrorKind::InvalidInput,
            Error::Stream { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        }
    }

    /// An I/O error on entry `name`.
    pub fn io(name: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            name: Some(name.into()),
            source,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Error {
        Error::Io { name: None, source }
    }
}

/// For the `io::Read`/`io::Write` side of readers and writers. Code that needs the typed
/// error calls [`crate::LayerReader::read_stream`] / [`crate::LayerWriter::write_stream`]
/// (or [`crate::StreamReader`] / [`crate::StreamWriter`]) instead.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io { source, .. } => source,
            other => io::Error::new(other.io_kind(), other),
        }
    }
}

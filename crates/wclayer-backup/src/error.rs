//! The error type of the backup-stream codec.

use std::io;

/// An error reading or writing a backup stream or one of the fixed-size structures.
///
/// Every variant says what was being decoded and, where it helps, the byte offset in the
/// stream at which the input went wrong. The EA, reparse-point and security-descriptor
/// codecs have error types of their own ([`crate::ea::Error`], [`crate::reparse::Error`],
/// [`crate::sd::Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying reader or writer failed.
    #[error("i/o error at offset {offset}")]
    Io {
        /// Offset in the backup stream.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The input ended inside a structure.
    #[error("truncated {what} at offset {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset of the end of the input.
        offset: u64,
    },
    /// A fixed-size structure was followed by unexpected bytes.
    #[error("unexpected bytes after {what} at offset {offset}")]
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// Offset of the first extra byte.
        offset: u64,
    },
    /// A `WIN32_STREAM_ID` header carries a stream id outside 1..=11.
    #[error("unknown backup stream id {id} at offset {offset}")]
    UnknownStreamId {
        /// The id.
        id: u32,
        /// Offset of the header.
        offset: u64,
    },
    /// A header field is invalid (odd name size, sparse block shorter than its offset, ...).
    #[error("invalid backup stream header at offset {offset}: {reason}")]
    InvalidHeader {
        /// Offset of the header.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A writer was given more body bytes than its header declared.
    #[error("too many bytes for backup stream {id} by {excess}")]
    TooManyBytes {
        /// Id of the current stream.
        id: u32,
        /// Bytes beyond the declared size.
        excess: u64,
    },
    /// A writer was asked for a new header (or to finish) before the body was complete.
    #[error("backup stream {id} is missing {missing} bytes")]
    MissingBytes {
        /// Id of the current stream.
        id: u32,
        /// Bytes still owed.
        missing: u64,
    },
    /// Body bytes were written before any header.
    #[error("backup stream body written before any header")]
    NoHeader,
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io { source, .. } => source,
            Error::Truncated { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

//! [`Error`]: what went wrong reading an archive, where, and in which entry.

use std::io;
use std::sync::Arc;

/// An error reading a tar archive. Every variant names the entry (its name so far, when
/// one is known) and the archive offset where the problem was found.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying reader failed.
    #[error("reading the tar archive at offset {offset}{}", in_entry(.entry))]
    Io {
        /// The entry being read, if known.
        entry: Option<String>,
        /// Archive offset of the failed read.
        offset: u64,
        /// The cause (shared, so that the sticky error can be returned again).
        #[source]
        source: Arc<io::Error>,
    },
    /// The archive ended inside a header or an entry's data (Go: `unexpected EOF`).
    #[error("tar archive ends inside {what} at offset {offset}{}", in_entry(.entry))]
    UnexpectedEof {
        /// The entry being read, if known.
        entry: Option<String>,
        /// Archive offset where the input ended.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// A header block or a header field is invalid (Go: `archive/tar: invalid tar header`).
    #[error(
        "invalid tar header at offset {offset}{}{}: {reason}",
        in_entry(.entry),
        after_entry(.after)
    )]
    InvalidHeader {
        /// The entry, if known. For a block that fails to parse, the name its name field
        /// holds, which cannot be trusted when the block is no header at all (data where a
        /// header should be, after an entry whose size lied).
        entry: Option<String>,
        /// For a block that fails to parse: the entry read before it, if any.
        after: Option<String>,
        /// Archive offset of the header block.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A PAX record is malformed (Go: `archive/tar: invalid tar header`).
    #[error("invalid PAX record at offset {offset}{}: {reason}", in_entry(.entry))]
    InvalidPaxRecord {
        /// The entry, if known.
        entry: Option<String>,
        /// Archive offset of the record.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A PAX record that Go merges into the header has a value it cannot parse (a number or
    /// a PAX time; Go: `archive/tar: invalid tar header`).
    #[error(
        "invalid PAX record {key}={value:?} for the header at offset {offset}{}",
        in_entry(.entry)
    )]
    InvalidPaxValue {
        /// The entry, if known.
        entry: Option<String>,
        /// Archive offset of the entry's header block.
        offset: u64,
        /// The record's key.
        key: String,
        /// The record's value (lossily converted).
        value: String,
    },
    /// A special entry or map is larger than its [`ArchiveOptions`](super::ArchiveOptions)
    /// limit (Go: `archive/tar: header field too long` or `sparse map too long`).
    #[error(
        "{what} of {size} bytes at offset {offset}{} exceeds the limit of {limit} bytes \
         (ArchiveOptions::{option})",
        in_entry(.entry)
    )]
    TooLong {
        /// The entry, if known.
        entry: Option<String>,
        /// Archive offset of the header that declared it.
        offset: u64,
        /// What is too long.
        what: &'static str,
        /// Its size in bytes (at least this much).
        size: u64,
        /// The limit.
        limit: u64,
        /// The option that sets the limit.
        option: &'static str,
    },
    /// A sparse file exceeds a sparse limit of [`ArchiveOptions`](super::ArchiveOptions).
    #[error(
        "sparse file {what} {value} at offset {offset}{} exceeds the limit of {limit} \
         (ArchiveOptions::{option})",
        in_entry(.entry)
    )]
    SparseLimit {
        /// The entry, if known.
        entry: Option<String>,
        /// Archive offset of the entry's header block.
        offset: u64,
        /// What is too large (`logical size`, `map entries`).
        what: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
        /// The option that sets the limit.
        option: &'static str,
    },
    /// The sparse map refers to more data than the entry stores (Go: `archive/tar: sparse
    /// file references non-existent data`).
    #[error("sparse file references non-existent data at offset {offset}{}", in_entry(.entry))]
    SparseMissingData {
        /// The entry.
        entry: Option<String>,
        /// Archive offset where the stored data ended.
        offset: u64,
    },
    /// The entry stores more data than its sparse map refers to (Go: `archive/tar: sparse
    /// file contains unreferenced data`).
    #[error("sparse file contains unreferenced data at offset {offset}{}", in_entry(.entry))]
    SparseUnreferencedData {
        /// The entry.
        entry: Option<String>,
        /// Archive offset of the first unreferenced byte.
        offset: u64,
    },
    /// A name, link name or PAX record key is not valid UTF-8 and so cannot name anything
    /// in a Windows layer.
    #[error("{field} is not valid UTF-8 at offset {offset}{}", in_entry(.entry))]
    NotUtf8 {
        /// The entry, with invalid bytes replaced by U+FFFD.
        entry: Option<String>,
        /// Archive offset of the entry's first header block.
        offset: u64,
        /// Which field (`name`, `linkname`, `PAX record key`).
        field: &'static str,
    },
}

impl Error {
    /// The archive offset the error refers to.
    #[must_use]
    pub fn offset(&self) -> u64 {
        match self {
            Error::Io { offset, .. }
            | Error::UnexpectedEof { offset, .. }
            | Error::InvalidHeader { offset, .. }
            | Error::InvalidPaxRecord { offset, .. }
            | Error::InvalidPaxValue { offset, .. }
            | Error::TooLong { offset, .. }
            | Error::SparseLimit { offset, .. }
            | Error::SparseMissingData { offset, .. }
            | Error::SparseUnreferencedData { offset, .. }
            | Error::NotUtf8 { offset, .. } => *offset,
        }
    }

    /// The entry the error refers to, when known.
    #[must_use]
    pub fn entry(&self) -> Option<&str> {
        match self {
            Error::Io { entry, .. }
            | Error::UnexpectedEof { entry, .. }
            | Error::InvalidHeader { entry, .. }
            | Error::InvalidPaxRecord { entry, .. }
            | Error::InvalidPaxValue { entry, .. }
            | Error::TooLong { entry, .. }
            | Error::SparseLimit { entry, .. }
            | Error::SparseMissingData { entry, .. }
            | Error::SparseUnreferencedData { entry, .. }
            | Error::NotUtf8 { entry, .. } => entry.as_deref(),
        }
    }
}

/// `" (entry \"NAME\")"` for messages, or nothing when the entry is unknown.
fn in_entry(entry: &Option<String>) -> String {
    entry
        .as_deref()
        .map(|e| format!(" (entry {e:?})"))
        .unwrap_or_default()
}

/// `" after entry \"NAME\""` for messages, or nothing.
fn after_entry(after: &Option<String>) -> String {
    after
        .as_deref()
        .map(|e| format!(" after entry {e:?}"))
        .unwrap_or_default()
}

impl From<Error> for io::Error {
    /// Keeps the kind of the underlying error (`UnexpectedEof` for truncation) so that
    /// callers copying entry data see the usual kinds, with the context inside.
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Io { source, .. } => source.kind(),
            Error::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

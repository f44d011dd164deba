//! [`Error`]: what Go's writer refuses, with Go's messages.

use std::io;

/// Errors of [`GoTarWriter`]. Messages repeat Go's where Go has one, so logs compare.
///
/// [`GoTarWriter`]: super::GoTarWriter
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// More data than the header's size was written (Go's `ErrWriteTooLong`); nothing past the
    /// size reaches the archive and the writer stays usable.
    #[error("archive/tar: write too long")]
    WriteTooLong,
    /// A header (or the trailer) was written before the previous entry's data was complete.
    /// Nothing is written; finish the data and retry.
    #[error("archive/tar: missed writing {remaining} bytes")]
    MissedWriting {
        /// Data bytes the previous entry still expects.
        remaining: u64,
    },
    /// The PAX records of one entry exceed 1 MiB (Go's `ErrFieldTooLong`, docs/oci-tar-mapping.md §8.3). As in
    /// Go this poisons the writer.
    #[error("archive/tar: header field too long")]
    FieldTooLong {
        /// Length of the formatted records.
        len: usize,
    },
    /// A PAX record Go refuses: an empty key, a key containing `=` or NUL, or NUL in the value
    /// of `path`, `linkpath`, `uname` or `gname` (a NUL in `name` ends up here) (§8.3).
    #[error("archive/tar: cannot encode header: invalid PAX record: {key:?} = {value:?}")]
    InvalidPaxRecord {
        /// The record key.
        key: String,
        /// The record value.
        value: String,
    },
    /// A regular, character-device, block-device or FIFO entry whose name ends in `/`.
    #[error("archive/tar: cannot encode header: filename may not have trailing slash")]
    TrailingSlash {
        /// The offending name.
        name: String,
    },
    /// Typeflags `x`, `L` and `K` are produced by the writer itself and cannot be written.
    #[error(
        "archive/tar: cannot encode header: cannot manually encode TypeXHeader, \
         TypeGNULongName, or TypeGNULongLink headers"
    )]
    ReservedTypeflag {
        /// The offending typeflag.
        typeflag: u8,
    },
    /// A negative size on a type that carries data (Go's wording, which says the opposite).
    #[error("archive/tar: cannot encode header: negative size on header-only type")]
    NegativeSize {
        /// The offending size.
        size: i64,
    },
    /// A global (`g`) header with fields other than name and PAX records set.
    #[error(
        "archive/tar: cannot encode header: only PAXRecords should be set for TypeXGlobalHeader"
    )]
    GlobalHeaderFields,
    /// `mode`, `devmajor` or `devminor` does not fit 7 octal digits, which neither USTAR nor
    /// PAX can encode, and the GNU format is excluded too: by [`Format::Pax`], by PAX
    /// records, by a value beyond 56 bits, or by a NUL or over-long uname/gname.
    ///
    /// [`Format::Pax`]: super::Format::Pax
    #[error("archive/tar: cannot encode header: PAX cannot encode {field}={value}")]
    Unencodable {
        /// Go's field name: `Mode`, `Devmajor` or `Devminor`.
        field: &'static str,
        /// The offending value.
        value: i64,
    },
    /// An earlier error (I/O, or [`Error::FieldTooLong`]) left the archive in an unknown
    /// state; Go's writer keeps returning that error, this one returns `Poisoned`.
    #[error("archive/tar: writer unusable after an earlier error")]
    Poisoned,
    /// The inner writer failed; the writer is poisoned.
    #[error("writing the tar stream")]
    Io(#[from] io::Error),
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(e) => e,
            Error::WriteTooLong | Error::MissedWriting { .. } => {
                io::Error::new(io::ErrorKind::InvalidInput, err)
            }
            other => io::Error::other(other),
        }
    }
}

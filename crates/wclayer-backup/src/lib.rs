//! Win32 backup streams and the Windows file metadata they carry.
//!
//! This is the bottom layer of wclayer: pure codecs, bytes in and bytes out, with no file
//! system access. Everything above (the OCI tar mapping, layer directories, the transport
//! folder) moves Windows file metadata around as the byte formats defined here.
//!
//! - [`FileTime`], [`FileAttributes`], [`FileBasicInfo`], [`FileIdInfo`]: the times,
//!   attributes and identity that `GetFileInformationByHandleEx` reports.
//! - [`BackupStreamReader`] / [`BackupStreamWriter`]: the `BackupRead`/`BackupWrite`
//!   format, a sequence of `WIN32_STREAM_ID` headers each followed by a body
//!   (security descriptor, EAs, data, alternate data streams, reparse point, sparse blocks).
//!   [`StreamSplitter`] is the same format as a push parser, for writers that receive a
//!   stream in pieces and store its parts in different places.
//! - [`ea`]: `FILE_FULL_EA_INFORMATION` chains (extended attributes).
//! - [`reparse`]: `REPARSE_DATA_BUFFER` for symbolic links and mount points.
//! - [`sd`]: self-relative security descriptors and their SDDL text form.
//!
//! Every decoder returns an error on malformed input and never panics; errors carry the
//! offset at which the input went wrong.
//!
//! ```
//! use wclayer_backup::{BackupStreamReader, BackupStreamWriter, StreamHeader, StreamId};
//! use std::io::{Read, Write};
//!
//! let mut w = BackupStreamWriter::new(Vec::new());
//! w.write_header(&StreamHeader::new(StreamId::DATA, 5))?;
//! w.write_all(b"hello")?;
//! let bytes = w.finish()?;
//!
//! let mut r = BackupStreamReader::new(&bytes[..]);
//! let h = r.next_header()?.expect("one stream");
//! assert_eq!(h.id, StreamId::DATA);
//! let mut body = Vec::new();
//! r.read_to_end(&mut body)?;
//! assert_eq!(body, b"hello");
//! assert!(r.next_header()?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod info;
mod stream;
mod summary;
mod time;

pub mod ea;
pub mod reparse;
pub mod sd;

pub use error::Error;
pub use info::{FileAttributes, FileBasicInfo, FileIdInfo};
pub use stream::{
    BackupStreamReader, BackupStreamWriter, RawHeader, SplitError, SplitVisitor, StreamAttributes,
    StreamHeader, StreamId, StreamSplitter,
};
pub use summary::{StreamSummary, SummaryError};
pub use time::{FileTime, UnixTime};

//! The Win32 backup stream: a sequence of `WIN32_STREAM_ID` headers, each followed by its
//! name and body (docs/backup-stream.md §1–§6).

mod frame;
mod reader;
mod split;
mod writer;

pub use reader::BackupStreamReader;
pub use split::{RawHeader, SplitError, SplitVisitor, StreamSplitter};
pub use writer::BackupStreamWriter;

use std::fmt;

/// `dwStreamId` of a `WIN32_STREAM_ID` header (winbase.h `BACKUP_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

impl StreamId {
    /// `BACKUP_DATA`: the unnamed `$DATA` stream (file contents).
    pub const DATA: StreamId = StreamId(1);
    /// `BACKUP_EA_DATA`: a `FILE_FULL_EA_INFORMATION` chain.
    pub const EA_DATA: StreamId = StreamId(2);
    /// `BACKUP_SECURITY_DATA`: a self-relative security descriptor.
    pub const SECURITY_DATA: StreamId = StreamId(3);
    /// `BACKUP_ALTERNATE_DATA`: one named data stream; the header name is `:name:$DATA`.
    pub const ALTERNATE_DATA: StreamId = StreamId(4);
    /// `BACKUP_LINK`: hard-link information (ignored by layers).
    pub const LINK: StreamId = StreamId(5);
    /// `BACKUP_PROPERTY_DATA`: legacy property data (ignored by layers).
    pub const PROPERTY_DATA: StreamId = StreamId(6);
    /// `BACKUP_OBJECT_ID`: the NTFS object id (ignored by layers).
    pub const OBJECT_ID: StreamId = StreamId(7);
    /// `BACKUP_REPARSE_DATA`: a `REPARSE_DATA_BUFFER`.
    pub const REPARSE_DATA: StreamId = StreamId(8);
    /// `BACKUP_SPARSE_BLOCK`: an 8-byte file offset followed by one allocated range.
    pub const SPARSE_BLOCK: StreamId = StreamId(9);
    /// `BACKUP_TXFS_DATA`: Transactional NTFS metadata (ignored by layers).
    pub const TXFS_DATA: StreamId = StreamId(10);
    /// `BACKUP_GHOSTED_FILE_EXTENTS`: ghosted extents (newer Windows; unknown to go-winio).
    pub const GHOSTED_FILE_EXTENTS: StreamId = StreamId(11);

    /// The winbase.h name of a known id.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "BACKUP_DATA",
            2 => "BACKUP_EA_DATA",
            3 => "BACKUP_SECURITY_DATA",
            4 => "BACKUP_ALTERNATE_DATA",
            5 => "BACKUP_LINK",
            6 => "BACKUP_PROPERTY_DATA",
            7 => "BACKUP_OBJECT_ID",
            8 => "BACKUP_REPARSE_DATA",
            9 => "BACKUP_SPARSE_BLOCK",
            10 => "BACKUP_TXFS_DATA",
            11 => "BACKUP_GHOSTED_FILE_EXTENTS",
            _ => return None,
        })
    }

    /// Whether the id is one of the eleven that Windows defines (1..=11).
    #[must_use]
    pub fn is_known(self) -> bool {
        (1..=11).contains(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "StreamId({})", self.0),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `dwStreamAttributes` of a `WIN32_STREAM_ID` header (docs/backup-stream.md §4). All bits are
/// kept; only [`StreamAttributes::SPARSE`] has a meaning for layers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct StreamAttributes(pub u32);

impl StreamAttributes {
    /// `STREAM_NORMAL_ATTRIBUTE`.
    pub const NORMAL: StreamAttributes = StreamAttributes(0);
    /// `STREAM_MODIFIED_WHEN_READ`.
    pub const MODIFIED_WHEN_READ: StreamAttributes = StreamAttributes(0x1);
    /// `STREAM_CONTAINS_SECURITY`.
    pub const CONTAINS_SECURITY: StreamAttributes = StreamAttributes(0x2);
    /// `STREAM_CONTAINS_PROPERTIES`.
    pub const CONTAINS_PROPERTIES: StreamAttributes = StreamAttributes(0x4);
    /// `STREAM_SPARSE_ATTRIBUTE`: the stream belongs to a sparse file stream.
    pub const SPARSE: StreamAttributes = StreamAttributes(0x8);
    /// `STREAM_CONTAINS_GHOSTED_FILE_EXTENTS`.
    pub const CONTAINS_GHOSTED_FILE_EXTENTS: StreamAttributes = StreamAttributes(0x10);

    /// Whether every bit of `other` is set.
    #[must_use]
    pub fn contains(self, other: StreamAttributes) -> bool {
        self.0 & other.0 == other.0
    }
}

/// One `WIN32_STREAM_ID` header, decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StreamHeader {
    /// `dwStreamId`.
    pub id: StreamId,
    /// `dwStreamAttributes`.
    pub attributes: StreamAttributes,
    /// Length of the body that follows. For a sparse block (id 9) this **excludes** the
    /// 8-byte offset (the on-disk `Size` field is `size + 8`).
    pub size: u64,
    /// `cStreamName`, decoded from UTF-16LE: `:name:$DATA` for alternate data streams,
    /// empty otherwise. Decoding stops at the first NUL and replaces unpaired surrogates
    /// with U+FFFD, as go-winio does.
    pub name: String,
    /// File offset of a sparse block (id 9); 0 for every other id.
    pub offset: i64,
}

impl StreamHeader {
    /// Size of the fixed part of `WIN32_STREAM_ID`, before the name.
    pub const FIXED_SIZE: usize = 20;

    /// A header with no name, no attributes and offset 0.
    #[must_use]
    pub fn new(id: StreamId, size: u64) -> StreamHeader {
        StreamHeader {
            id,
            attributes: StreamAttributes::NORMAL,
            size,
            name: String::new(),
            offset: 0,
        }
    }

    /// The header of an alternate data stream: `name` is the bare stream name (`zone`),
    /// stored as `:zone:$DATA`.
    #[must_use]
    pub fn alternate_data(name: &str, size: u64) -> StreamHeader {
        StreamHeader {
            name: format!(":{name}:$DATA"),
            ..StreamHeader::new(StreamId::ALTERNATE_DATA, size)
        }
    }

    /// The header of a sparse block at file offset `offset` with `size` data bytes.
    #[must_use]
    pub fn sparse_block(offset: i64, size: u64) -> StreamHeader {
        StreamHeader {
            attributes: StreamAttributes::SPARSE,
            offset,
            ..StreamHeader::new(StreamId::SPARSE_BLOCK, size)
        }
    }
}

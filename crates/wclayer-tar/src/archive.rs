//! Streaming tar reader with the header semantics of Go's `archive/tar` `Reader`.
//!
//! Importing a Windows layer tar must see exactly the header values that Go's
//! `tar.Reader.Next()` hands hcsshim, because the import is compared with the reference
//! implementation (oci-tar-mapping.md §6.5). [`ArchiveReader`] wraps any [`Read`] and turns
//! the block stream into one [`TarHeader`] per entry:
//!
//! ```text
//!   R: Read ──► ArchiveReader::next_entry() ──► TarHeader (PAX/GNU headers merged)
//!                          │
//!                          └──► impl Read: the entry's logical data (sparse holes as zeros)
//! ```
//!
//! [`ArchiveOptions`] bounds everything a hostile archive could make the reader hold in
//! memory; [`Error`] names the entry and the archive offset of every failure.
//!
//! ```
//! use std::io::Read;
//! use wclayer_tar::archive::ArchiveReader;
//!
//! // A one-entry archive, built here with the `tar` crate.
//! let mut b = tar::Builder::new(Vec::new());
//! let mut h = tar::Header::new_ustar();
//! h.set_size(5);
//! h.set_entry_type(tar::EntryType::Regular);
//! b.append_data(&mut h, "Files/hello.txt", &b"hello"[..])?;
//! let bytes = b.into_inner()?;
//!
//! let mut r = ArchiveReader::new(&bytes[..]);
//! let hdr = r.next_entry()?.expect("one entry");
//! assert_eq!((hdr.name.as_str(), hdr.typeflag, hdr.size), ("Files/hello.txt", b'0', 5));
//! let mut data = String::new();
//! r.read_to_string(&mut data)?;
//! assert_eq!(data, "hello");
//! assert!(r.next_entry()?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why not `tar-core` or `tar`
//!
//! `tar-core` 0.1 (sans-IO header parsing) and the `tar` crate read the same block format,
//! but not with Go's semantics, and those semantics are the product here: both expose
//! numeric fields as `u64` (Go keeps negative base-256 times and sizes and rejects them only
//! where it must), neither reproduces Go's octal tolerance, its GNU `atime`/`ctime`
//! fallback to the pre-Go-1.8 prefix field, star headers, the "last `x` header wins" and
//! "GNU long name beats PAX `path`" orders, PAX sparse detection from merged records, or the
//! end-of-archive rules (EOF inside padding is a clean end). `tar-core` also imposes its own
//! limits (an aggregate metadata budget, at most 16 metadata headers in a row) that reject
//! archives Go accepts. Adapting either would mean re-deriving every field from raw bytes
//! anyway, so this module implements the reader directly, following Go's
//! `src/archive/tar/{reader,format,strconv,common}.go` as of Go 1.25 (hcsshim builds with a
//! current Go), including the 2025 caps on sparse maps.
//!
//! # What Go's reader does, and so does this one
//!
//! - **Header blocks**: the checksum must match the unsigned or the signed byte sum; the
//!   magic selects V7, USTAR/PAX (`ustar\0`), star (`ustar\0` + `tar\0` trailer) or GNU
//!   (`ustar \0`). Numbers are octal with leading/trailing spaces and NULs tolerated, or
//!   base-256 (positive and negative). The ustar/star `prefix` is joined with `/`. Star
//!   headers always carry `atime`/`ctime`; GNU headers carry them when the field's first byte
//!   is not NUL, and if either does not parse both are dropped and the field is read as a
//!   pre-Go-1.8 `prefix` instead (Go issue 12594).
//! - **PAX** `x` records: `path`, `linkpath`, `size`, `mtime`, `atime`, `ctime` (PAX time,
//!   spec §3), `uid`, `gid`, `uname`, `gname` override the header; an empty value keeps the
//!   header value; a bad number or time is an invalid header. Two `x` headers before one
//!   entry: the second replaces the first. Every record (empty ones included) is kept in
//!   [`TarHeader::pax_records`]; GNU sparse 0.0 `GNU.sparse.offset`/`numbytes` pairs appear
//!   as one `GNU.sparse.map` record, as Go stores them.
//! - **GNU** `L`/`K` long names and links (cut at the first NUL) override PAX `path` and
//!   `linkpath` when non-empty.
//! - **Typeflag NUL** becomes `5` if the final name ends in `/`, else `0`.
//! - **Sparse files**: PAX 0.0, 0.1 and 1.0 (`GNU.sparse.*`) and old GNU `S` headers (with
//!   extension blocks) give the logical size and the real name (`GNU.sparse.name`); the data
//!   reads back with holes as zeros. Maps that are negative, unsorted, overlapping or past the
//!   logical size are invalid headers; a dense part shorter or longer than the map is an
//!   error when the data is read.
//! - **End of archive**: two zero blocks, a clean EOF where a header would start, after one
//!   zero block, or inside the padding after an entry's data. Go also ends silently when the
//!   input stops right after a PAX or GNU long-name header; so does this reader.
//!
//! # Where this reader differs from Go (DECISIONS.md)
//!
//! - **Global `g` headers** are applied as POSIX says: their records hold for every later
//!   entry (a local record of the same key wins; a global record with an empty value deletes
//!   the key) and the `g` header is never returned as an entry. Go returns it as an entry and
//!   forgets its records. Like Go, a `g` header drops `x`/`L`/`K` headers pending before it.
//! - **Old GNU sparse** (`S`) entries are returned as regular files (typeflag `0`) with their
//!   logical size, so their data is imported; hcsshim imports them without data.
//! - **Names** (`name`, `linkname`) and PAX record keys must be valid UTF-8, because a Windows
//!   layer cannot hold anything else ([`Error::NotUtf8`]). PAX record values and
//!   `uname`/`gname` are converted lossily (U+FFFD): the Windows code only reads values that
//!   are ASCII when valid (base64, decimal, PAX times), and those fail to parse in Go too.
//! - **Limits** ([`ArchiveOptions`]): Go's 1 MiB caps on special entries and sparse maps and
//!   its cap on sparse map entries are options here; in addition the global records in force
//!   (copied into every entry) and the logical size of a sparse file are bounded, because a
//!   small map can describe an arbitrarily large file of zeros. A special entry whose size
//!   field is over its limit is refused before it is read; Go reads first, so for one that
//!   is also truncated Go reports `unexpected EOF` where this reader reports
//!   [`Error::TooLong`].
//!
//! # Errors
//!
//! Every failure is sticky, as in Go: after the first error, [`ArchiveReader::next_entry`]
//! and [`Read::read`] return the same error again.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use wclayer_backup::UnixTime;

/// Size of a tar block.
const BLOCK: usize = 512;
/// [`BLOCK`] as a `u64`, for offsets and sizes.
const BLOCK_U64: u64 = 512;
/// How many bytes are discarded per `read` call when skipping unread data.
const SKIP_CHUNK: usize = 8 * 1024;
/// How much of a special entry (PAX records, long name) is reserved before its bytes
/// arrive: a header that declares 1 MiB and is followed by nothing costs no more than this.
const SPECIAL_CHUNK: usize = 64 * 1024;

/// One header block.
type Block = [u8; BLOCK];

/// PAX records as raw bytes, keyed like Go's `map[string]string`.
type Records = BTreeMap<Vec<u8>, Vec<u8>>;

/// Where a PAX body went wrong: byte position of the record, and what is wrong.
type RecordError = (u64, &'static str);

// Header field positions (Go `format.go`: headerV7, headerUSTAR, headerSTAR, headerGNU).
const F_NAME: Range<usize> = 0..100;
const F_MODE: Range<usize> = 100..108;
const F_UID: Range<usize> = 108..116;
const F_GID: Range<usize> = 116..124;
const F_SIZE: Range<usize> = 124..136;
const F_MTIME: Range<usize> = 136..148;
const F_CHKSUM: Range<usize> = 148..156;
const F_TYPEFLAG: usize = 156;
const F_LINKNAME: Range<usize> = 157..257;
const F_MAGIC: Range<usize> = 257..263;
const F_VERSION: Range<usize> = 263..265;
const F_UNAME: Range<usize> = 265..297;
const F_GNAME: Range<usize> = 297..329;
const F_DEVMAJOR: Range<usize> = 329..337;
const F_DEVMINOR: Range<usize> = 337..345;
const F_USTAR_PREFIX: Range<usize> = 345..500;
const F_STAR_PREFIX: Range<usize> = 345..476;
const F_STAR_ATIME: Range<usize> = 476..488;
const F_STAR_CTIME: Range<usize> = 488..500;
const F_STAR_TRAILER: Range<usize> = 508..512;
const F_GNU_ATIME: Range<usize> = 345..357;
const F_GNU_CTIME: Range<usize> = 357..369;
/// Four 24-byte sparse entries and the `isextended` byte of an old GNU header.
const F_GNU_SPARSE: Range<usize> = 386..483;
const F_GNU_REALSIZE: Range<usize> = 483..495;
/// One old GNU sparse entry: 12-byte offset and 12-byte length.
const SPARSE_ENTRY: usize = 24;
/// The offset part of [`SPARSE_ENTRY`].
const SPARSE_OFFSET_LEN: usize = 12;

const PAX_PATH: &[u8] = b"path";
const PAX_LINKPATH: &[u8] = b"linkpath";
const PAX_UNAME: &[u8] = b"uname";
const PAX_GNAME: &[u8] = b"gname";
const PAX_UID: &[u8] = b"uid";
const PAX_GID: &[u8] = b"gid";
const PAX_SIZE: &[u8] = b"size";
const PAX_MTIME: &[u8] = b"mtime";
const PAX_ATIME: &[u8] = b"atime";
const PAX_CTIME: &[u8] = b"ctime";
const SPARSE_MAJOR: &[u8] = b"GNU.sparse.major";
const SPARSE_MINOR: &[u8] = b"GNU.sparse.minor";
const SPARSE_NAME: &[u8] = b"GNU.sparse.name";
const SPARSE_SIZE: &[u8] = b"GNU.sparse.size";
const SPARSE_REALSIZE: &[u8] = b"GNU.sparse.realsize";
const SPARSE_MAP: &[u8] = b"GNU.sparse.map";
const SPARSE_NUMBLOCKS: &[u8] = b"GNU.sparse.numblocks";
const SPARSE_OFFSET: &[u8] = b"GNU.sparse.offset";
const SPARSE_NUMBYTES: &[u8] = b"GNU.sparse.numbytes";

/// Limits on what an archive can make the reader hold in memory or expand.
///
/// [`Default`] gives the safe limits: Go's where Go has one, so that every archive Go
/// accepts within them is accepted. Raise a limit by changing the field:
///
/// ```
/// let mut o = wclayer_tar::archive::ArchiveOptions::default();
/// o.max_sparse_logical_size = 4 << 40; // 4 TiB of holes
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveOptions {
    /// Largest body of a PAX `x` or `g` header, in bytes; also the largest PAX 1.0 or old GNU
    /// sparse map. Go: `maxSpecialFileSize`, 1 MiB, used for the same purposes. Default
    /// 1 MiB.
    pub max_pax_size: u64,
    /// Largest total size (keys plus values) of the global records in force, in bytes. Go
    /// keeps no global records; this reader copies them into every later entry's
    /// [`TarHeader::pax_records`], so a large set would multiply the work per 512-byte entry.
    /// Real producers write a few dozen bytes (`git archive`: one `comment`). Default
    /// 64 KiB.
    pub max_global_records: u64,
    /// Largest body of a GNU `L` or `K` entry, in bytes. Go uses its 1 MiB special-file
    /// limit. Default 1 MiB.
    pub max_long_name: u64,
    /// Most entries in one sparse map. Go: `maxSparseFileEntries`, 2^20. Default 2^20.
    pub max_sparse_entries: usize,
    /// Largest logical size of a sparse file, in bytes. Go has no limit: a few bytes of map
    /// can describe 2^63 bytes of zeros, which an import would then write out. Default 1 TiB.
    pub max_sparse_logical_size: u64,
}

impl Default for ArchiveOptions {
    fn default() -> ArchiveOptions {
        ArchiveOptions {
            max_pax_size: 1 << 20,
            max_global_records: 64 << 10,
            max_long_name: 1 << 20,
            max_sparse_entries: 1 << 20,
            max_sparse_logical_size: 1 << 40,
        }
    }
}

/// One archive entry after merging its PAX, GNU long-name and sparse headers: the values
/// Go's `tar.Reader.Next()` returns in a `tar.Header` (oci-tar-mapping.md §6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarHeader {
    /// The entry's name (`Header.Name`): PAX `path`, GNU long name, sparse real name or the
    /// header's `prefix/name`.
    pub name: String,
    /// The link target (`Header.Linkname`).
    pub linkname: String,
    /// The type flag. NUL is already turned into `0` or `5`, and old GNU sparse `S` entries
    /// into `0` (a deviation from Go, see the module docs).
    pub typeflag: u8,
    /// The mode field (`Header.Mode`), as stored.
    pub mode: i64,
    /// The user id (`Header.Uid`).
    pub uid: i64,
    /// The group id (`Header.Gid`).
    pub gid: i64,
    /// The user name (`Header.Uname`); invalid UTF-8 is replaced by U+FFFD.
    pub uname: String,
    /// The group name (`Header.Gname`); invalid UTF-8 is replaced by U+FFFD.
    pub gname: String,
    /// The size (`Header.Size`): the logical size for sparse files. Entries of typeflags
    /// `1`–`6` have no data whatever this says; it may even be negative for them.
    pub size: i64,
    /// The modification time (`Header.ModTime`).
    pub mod_time: UnixTime,
    /// The access time, `None` where Go leaves `Header.AccessTime` at its zero time (no
    /// `atime` record, no usable header field).
    pub access_time: Option<UnixTime>,
    /// The change time, `None` where Go leaves `Header.ChangeTime` at its zero time.
    pub change_time: Option<UnixTime>,
    /// The device major number (`Header.Devmajor`; 0 for V7 headers).
    pub devmajor: i64,
    /// The device minor number (`Header.Devminor`).
    pub devminor: i64,
    /// Every PAX record that applies to this entry (`Header.PAXRecords`): global records,
    /// then the entry's own (which win), empty values included. Values are converted from
    /// UTF-8 lossily.
    pub pax_records: BTreeMap<String, String>,
    /// Archive offset of the first header block of this entry, its PAX and GNU headers
    /// included: where to look when a message names the entry.
    pub header_offset: u64,
}

impl TarHeader {
    /// The value of the PAX record `key`, if the entry has one (possibly empty).
    #[must_use]
    pub fn record(&self, key: &str) -> Option<&str> {
        self.pax_records.get(key).map(String::as_str)
    }

    /// All PAX records of the entry, sorted by key.
    pub fn records(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pax_records
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether the type flag is one of Go's header-only types (`1`–`6`: links, devices,
    /// directories, FIFOs), whose data Go never reads whatever the size says.
    #[must_use]
    pub fn is_header_only(&self) -> bool {
        is_header_only(self.typeflag)
    }
}

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
    #[error("invalid tar header at offset {offset}{}: {reason}", in_entry(.entry))]
    InvalidHeader {
        /// The entry, if known.
        entry: Option<String>,
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
    /// A special entry or map is larger than its [`ArchiveOptions`] limit (Go: `archive/tar:
    /// header field too long` or `sparse map too long`).
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
    /// A sparse file exceeds a sparse limit of [`ArchiveOptions`].
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

/// One data fragment of a sparse file, validated against the logical size.
#[derive(Clone, Copy, Debug)]
struct Fragment {
    offset: u64,
    len: u64,
}

/// Read position in a sparse file: the data fragments (empty ones dropped), the first one
/// not fully read, and the logical position.
#[derive(Debug)]
struct Sparse {
    fragments: Vec<Fragment>,
    next: usize,
    pos: u64,
    size: u64,
}

/// Headers seen since the last entry that apply to the next one.
#[derive(Default)]
struct Pending {
    /// Records of the last `x` header (Go replaces, never merges, earlier ones).
    local: Option<Records>,
    /// Body of the last `L` header, cut at its first NUL.
    long_name: Option<Vec<u8>>,
    /// Body of the last `K` header, cut at its first NUL.
    long_link: Option<Vec<u8>>,
    /// Offset of the first of these headers.
    first_offset: Option<u64>,
}

/// A streaming tar reader with the header semantics of Go's `archive/tar` (see the module
/// docs for what that means and where it deliberately differs).
///
/// Call [`next_entry`](Self::next_entry) to move to the next entry, then read its logical
/// data through [`Read`], which returns `Ok(0)` at the end of the entry (at once for
/// entries without data). Data need not be read: `next_entry` skips what is left, reading
/// and discarding it in small chunks. Entry data is never held in memory; only header
/// blocks, PAX records, long names and sparse maps are, within [`ArchiveOptions`].
/// `Interrupted` errors of the inner reader are retried.
///
/// # Drop behaviour
///
/// Dropping the reader drops the inner reader; nothing else happens. Use
/// [`into_inner`](Self::into_inner) to get it back, positioned wherever reading stopped.
#[derive(Debug)]
pub struct ArchiveReader<R> {
    inner: R,
    options: ArchiveOptions,
    /// Bytes consumed from `inner`.
    offset: u64,
    /// Stored data bytes of the current entry not yet read.
    physical_remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
    /// Sparse read state of the current entry.
    sparse: Option<Sparse>,
    /// Records of the `g` headers seen so far (never empty values).
    globals: Records,
    /// Name of the entry being read, for error messages.
    context: Option<String>,
    /// The end of the archive was reached.
    finished: bool,
    /// The first error; returned again by every later call (Go's sticky `tr.err`).
    failed: Option<Error>,
}

impl<R: Read> ArchiveReader<R> {
    /// A reader with the default (safe) [`ArchiveOptions`].
    pub fn new(inner: R) -> Self {
        Self::with_options(inner, ArchiveOptions::default())
    }

    /// A reader with the given limits.
    pub fn with_options(inner: R, options: ArchiveOptions) -> Self {
        ArchiveReader {
            inner,
            options,
            offset: 0,
            physical_remaining: 0,
            pad: 0,
            sparse: None,
            globals: BTreeMap::new(),
            context: None,
            finished: false,
            failed: None,
        }
    }

    /// The next entry, after merging its PAX, GNU long-name and sparse headers; any unread
    /// data of the previous entry is skipped first. `Ok(None)` at the end of the archive
    /// (two zero blocks, or a clean EOF where Go accepts one) and on every call after it.
    ///
    /// # Errors
    ///
    /// Truncation inside a header or data, invalid headers or PAX records, names that are
    /// not UTF-8, limits of [`ArchiveOptions`], and errors of the inner reader. The error is
    /// sticky: every later call returns it again.
    pub fn next_entry(&mut self) -> Result<Option<TarHeader>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Ok(None);
        }
        match self.advance() {
            Ok(Some(h)) => Ok(Some(h)),
            Ok(None) => {
                self.finished = true;
                self.sparse = None;
                self.physical_remaining = 0;
                self.pad = 0;
                Ok(None)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes consumed from the inner reader so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The inner reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Go's `Reader.next`: reads headers until one describes an entry.
    fn advance(&mut self) -> Result<Option<TarHeader>, Error> {
        let mut pending = Pending::default();
        loop {
            // Discard the rest of the previous entry; EOF inside its padding ends the
            // archive (Go's `tryReadFull` on the padding returns io.EOF from Next).
            self.sparse = None;
            self.skip_physical()?;
            if !self.skip_padding()? {
                return Ok(None);
            }

            let block_offset = self.offset;
            let Some(blk) = self.read_header_block()? else {
                return Ok(None);
            };
            self.context = pending_name(&pending, &blk);
            let parsed = parse_header(&blk).map_err(|reason| self.invalid(block_offset, reason))?;

            // Go's first `handleRegularFile`: the stored size of this header's body.
            self.physical_remaining = self.data_len(parsed.typeflag, parsed.size, block_offset)?;
            self.pad = padding(self.physical_remaining);
            let header_offset = *pending.first_offset.get_or_insert(block_offset);

            match parsed.typeflag {
                b'x' | b'g' => {
                    let data = self.read_special(
                        block_offset,
                        self.options.max_pax_size,
                        "PAX header",
                        "max_pax_size",
                    )?;
                    let data_offset = block_offset.saturating_add(BLOCK_U64);
                    let records = parse_pax_records(&data).map_err(|(pos, reason)| {
                        Error::InvalidPaxRecord {
                            entry: self.context.clone(),
                            offset: data_offset.saturating_add(pos),
                            reason,
                        }
                    })?;
                    if parsed.typeflag == b'g' {
                        self.apply_globals(records, block_offset)?;
                        // Go returns the global header as an entry, which ends `Next`:
                        // headers pending before it never reach a later entry.
                        pending = Pending::default();
                    } else {
                        pending.local = Some(records);
                    }
                }
                b'L' | b'K' => {
                    let data = self.read_special(
                        block_offset,
                        self.options.max_long_name,
                        "GNU long name",
                        "max_long_name",
                    )?;
                    let value = c_string(&data).to_vec();
                    if parsed.typeflag == b'L' {
                        pending.long_name = Some(value);
                    } else {
                        pending.long_link = Some(value);
                    }
                }
                _ => {
                    return self
                        .finish_entry(&blk, parsed, pending, header_offset, block_offset)
                        .map(Some);
                }
            }
        }
    }

    /// Merges the pending headers into the main header `parsed` and sets up the data
    /// reader (the `default:` branch of Go's `Reader.next`).
    fn finish_entry(
        &mut self,
        blk: &Block,
        parsed: Parsed,
        pending: Pending,
        header_offset: u64,
        block_offset: u64,
    ) -> Result<TarHeader, Error> {
        let mut records = self.globals.clone();
        if let Some(local) = pending.local {
            records.extend(local);
        }
        let mut h = Work::from(parsed);

        merge_pax(&mut h, &records).map_err(|(key, value)| Error::InvalidPaxValue {
            entry: self.context.clone(),
            offset: block_offset,
            key: String::from_utf8_lossy(key).into_owned(),
            value: String::from_utf8_lossy(value).into_owned(),
        })?;
        if let Some(n) = pending.long_name.filter(|n| !n.is_empty()) {
            h.name = n;
        }
        if let Some(l) = pending.long_link.filter(|l| !l.is_empty()) {
            h.linkname = l;
        }
        if h.typeflag == 0 {
            // Legacy archives mark directories with a trailing slash only.
            h.typeflag = if h.name.ends_with(b"/") { b'5' } else { b'0' };
        }
        self.context = Some(String::from_utf8_lossy(&h.name).into_owned());

        // Go's second `handleRegularFile`: PAX `size` may have changed the stored size.
        self.physical_remaining = self.data_len(h.typeflag, h.size, block_offset)?;
        self.pad = padding(self.physical_remaining);

        let map = if h.typeflag == b'S' {
            Some(self.read_old_gnu_sparse(blk, h.format, &mut h, block_offset)?)
        } else {
            self.read_pax_sparse(&records, &mut h, block_offset)?
        };
        if let Some(map) = map {
            self.context = Some(String::from_utf8_lossy(&h.name).into_owned());
            if is_header_only(h.typeflag) {
                return Err(self.invalid(block_offset, "sparse map on an entry without data"));
            }
            let fragments = validate_sparse(&map, h.size)
                .map_err(|reason| self.invalid(block_offset, reason))?;
            // validate_sparse rejected a negative size.
            let size = u64::try_from(h.size).unwrap_or(0);
            if size > self.options.max_sparse_logical_size {
                return Err(Error::SparseLimit {
                    entry: self.context.clone(),
                    offset: block_offset,
                    what: "logical size",
                    value: size,
                    limit: self.options.max_sparse_logical_size,
                    option: "max_sparse_logical_size",
                });
            }
            self.sparse = Some(Sparse {
                fragments,
                next: 0,
                pos: 0,
                size,
            });
            // DECISIONS.md: old GNU sparse entries import like PAX sparse ones.
            if h.typeflag == b'S' {
                h.typeflag = b'0';
            }
        }
        self.to_header(h, records, header_offset)
    }

    /// Builds the public header, checking that names and record keys are UTF-8.
    fn to_header(&self, h: Work, records: Records, header_offset: u64) -> Result<TarHeader, Error> {
        let not_utf8 = |field| Error::NotUtf8 {
            entry: self.context.clone(),
            offset: header_offset,
            field,
        };
        let name = String::from_utf8(h.name).map_err(|_| not_utf8("name"))?;
        let linkname = String::from_utf8(h.linkname).map_err(|_| not_utf8("linkname"))?;
        let mut pax_records = BTreeMap::new();
        for (k, v) in records {
            let key = String::from_utf8(k).map_err(|_| not_utf8("PAX record key"))?;
            pax_records.insert(key, String::from_utf8_lossy(&v).into_owned());
        }
        Ok(TarHeader {
            name,
            linkname,
            typeflag: h.typeflag,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            uname: String::from_utf8_lossy(&h.uname).into_owned(),
            gname: String::from_utf8_lossy(&h.gname).into_owned(),
            size: h.size,
            mod_time: h.mod_time,
            access_time: h.access_time,
            change_time: h.change_time,
            devmajor: h.devmajor,
            devminor: h.devminor,
            pax_records,
            header_offset,
        })
    }

    /// Applies the records of a `g` header to the global set (POSIX: an empty value
    /// deletes the key) and bounds the set's total size.
    fn apply_globals(&mut self, records: Records, block_offset: u64) -> Result<(), Error> {
        for (k, v) in records {
            if v.is_empty() {
                self.globals.remove(&k);
            } else {
                self.globals.insert(k, v);
            }
        }
        let total = self.globals.iter().fold(0u64, |acc, (k, v)| {
            acc.saturating_add(len_u64(k)).saturating_add(len_u64(v))
        });
        if total > self.options.max_global_records {
            return Err(Error::TooLong {
                entry: self.context.clone(),
                offset: block_offset,
                what: "global PAX records",
                size: total,
                limit: self.options.max_global_records,
                option: "max_global_records",
            });
        }
        Ok(())
    }

    /// Go's `handleRegularFile`: how many stored bytes follow a header.
    fn data_len(&self, typeflag: u8, size: i64, block_offset: u64) -> Result<u64, Error> {
        if is_header_only(typeflag) {
            return Ok(0);
        }
        u64::try_from(size).map_err(|_| self.invalid(block_offset, "negative size"))
    }

    /// Reads the whole body of a special entry (PAX records, GNU long name), refusing one
    /// over `limit` before reading it (Go's `readSpecialFile`).
    fn read_special(
        &mut self,
        block_offset: u64,
        limit: u64,
        what: &'static str,
        option: &'static str,
    ) -> Result<Vec<u8>, Error> {
        let len = self.physical_remaining;
        if len > limit {
            return Err(Error::TooLong {
                entry: self.context.clone(),
                offset: block_offset,
                what,
                size: len,
                limit,
                option,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(SPECIAL_CHUNK));
        let mut chunk = [0u8; 4096];
        while self.physical_remaining > 0 {
            let n = self.read_physical(&mut chunk, what)?;
            data.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        Ok(data)
    }

    /// Go's `readOldGNUSparseMap`: the map in the header's sparse area and the extension
    /// blocks that follow it (not counted in the entry's size).
    fn read_old_gnu_sparse(
        &mut self,
        blk: &Block,
        format: Format,
        h: &mut Work,
        block_offset: u64,
    ) -> Result<Vec<(i64, i64)>, Error> {
        // The star format uses typeflag S with a different layout.
        if format != Format::Gnu {
            return Err(self.invalid(block_offset, "typeflag S without GNU magic"));
        }
        h.size = parse_numeric(field(blk, F_GNU_REALSIZE))
            .ok_or_else(|| self.invalid(block_offset, "invalid old GNU sparse real size"))?;
        let mut map = Vec::new();
        let first = field(blk, F_GNU_SPARSE);
        // Go counts the map's bytes (97, then 512 per extension block) against its 1 MiB
        // special-file limit, checked before each area is parsed.
        let mut total = len_u64(first);
        self.check_old_sparse_size(total, block_offset)?;
        let mut extended = self.parse_sparse_region(first, &mut map, block_offset)?;
        let mut ext: Block = [0; BLOCK];
        while extended {
            if self.read_full(&mut ext)? < BLOCK {
                return Err(self.eof("an old GNU sparse extension header"));
            }
            total = total.saturating_add(BLOCK_U64);
            self.check_old_sparse_size(total, block_offset)?;
            extended = self.parse_sparse_region(&ext, &mut map, block_offset)?;
        }
        Ok(map)
    }

    /// Go's `totalSize < maxSpecialFileSize` test on an old GNU sparse map.
    fn check_old_sparse_size(&self, total: u64, block_offset: u64) -> Result<(), Error> {
        if total >= self.options.max_pax_size {
            return Err(Error::TooLong {
                entry: self.context.clone(),
                offset: block_offset,
                what: "old GNU sparse map",
                size: total,
                limit: self.options.max_pax_size,
                option: "max_pax_size",
            });
        }
        Ok(())
    }

    /// Parses the 24-byte entries of one old GNU sparse area (main header or extension
    /// block) until an entry whose offset starts with NUL; returns its `isextended` flag.
    fn parse_sparse_region(
        &self,
        region: &[u8],
        map: &mut Vec<(i64, i64)>,
        block_offset: u64,
    ) -> Result<bool, Error> {
        let entries = region.chunks_exact(SPARSE_ENTRY);
        let extended = entries.remainder().first().is_some_and(|&b| b > 0);
        for entry in entries {
            // The same end marker as GNU and BSD tar: the rest of this area is ignored, but
            // the extension flag still counts.
            if entry.first().is_none_or(|&b| b == 0) {
                break;
            }
            let (off, len) = entry.split_at(SPARSE_OFFSET_LEN);
            let (Some(off), Some(len)) = (parse_numeric(off), parse_numeric(len)) else {
                return Err(self.invalid(block_offset, "invalid old GNU sparse map entry"));
            };
            self.push_sparse(map, (off, len), block_offset)?;
        }
        Ok(extended)
    }

    /// Appends one map entry, bounded by [`ArchiveOptions::max_sparse_entries`] (Go's
    /// `appendSparseEntry`).
    fn push_sparse(
        &self,
        map: &mut Vec<(i64, i64)>,
        entry: (i64, i64),
        block_offset: u64,
    ) -> Result<(), Error> {
        if map.len() >= self.options.max_sparse_entries {
            return Err(self.too_many_sparse(len_u64(map).saturating_add(1), block_offset));
        }
        map.push(entry);
        Ok(())
    }

    /// The error for a map with more than [`ArchiveOptions::max_sparse_entries`] entries.
    fn too_many_sparse(&self, count: u64, block_offset: u64) -> Error {
        Error::SparseLimit {
            entry: self.context.clone(),
            offset: block_offset,
            what: "map entries",
            value: count,
            limit: u64::try_from(self.options.max_sparse_entries).unwrap_or(u64::MAX),
            option: "max_sparse_entries",
        }
    }

    /// Go's `readGNUSparsePAXHeaders`: detects PAX sparse formats 0.0, 0.1 and 1.0 from the
    /// merged records, applies the real name and size, and reads the map.
    fn read_pax_sparse(
        &mut self,
        records: &Records,
        h: &mut Work,
        block_offset: u64,
    ) -> Result<Option<Vec<(i64, i64)>>, Error> {
        // A missing record reads as empty, as with Go's map lookups.
        let get = |k: &[u8]| records.get(k).map_or(&b""[..], Vec::as_slice);
        let (major, minor) = (get(SPARSE_MAJOR), get(SPARSE_MINOR));
        let is_1x0 = match (major, minor) {
            (b"0", b"0" | b"1") => false,
            (b"1", b"0") => true,
            // 0.0 and 0.1 may lack the version records; a map says which it is.
            (b"", b"") if !get(SPARSE_MAP).is_empty() => false,
            // An unknown version, or no sparse records: a regular file, as Go reads it.
            _ => return Ok(None),
        };
        let name = get(SPARSE_NAME);
        if !name.is_empty() {
            h.name = name.to_vec();
        }
        let (key, size) = match get(SPARSE_SIZE) {
            b"" => (SPARSE_REALSIZE, get(SPARSE_REALSIZE)),
            s => (SPARSE_SIZE, s),
        };
        if !size.is_empty() {
            h.size = go_parse_int(size).ok_or_else(|| Error::InvalidPaxValue {
                entry: self.context.clone(),
                offset: block_offset,
                key: String::from_utf8_lossy(key).into_owned(),
                value: String::from_utf8_lossy(size).into_owned(),
            })?;
        }
        let map = if is_1x0 {
            self.read_sparse_map_1x0(block_offset)?
        } else {
            self.read_sparse_map_0x1(records, block_offset)?
        };
        Ok(Some(map))
    }

    /// Go's `readGNUSparseMap0x1`: `GNU.sparse.numblocks` pairs in `GNU.sparse.map`.
    fn read_sparse_map_0x1(
        &self,
        records: &Records,
        block_offset: u64,
    ) -> Result<Vec<(i64, i64)>, Error> {
        let bad = || self.invalid(block_offset, "invalid PAX sparse map");
        let count = records
            .get(SPARSE_NUMBLOCKS)
            .and_then(|v| go_parse_int(v))
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n.checked_mul(2).is_some_and(|d| i64::try_from(d).is_ok()))
            .ok_or_else(bad)?;
        let raw = records.get(SPARSE_MAP).map_or(&b""[..], Vec::as_slice);
        let parts: Vec<&[u8]> = if raw.is_empty() {
            Vec::new()
        } else {
            raw.split(|&b| b == b',').collect()
        };
        if Some(len_u64(&parts)) != count.checked_mul(2) {
            return Err(bad());
        }
        let mut map = Vec::new();
        for pair in parts.chunks_exact(2) {
            let (Some(off), Some(len)) = (
                pair.first().and_then(|v| go_parse_int(v)),
                pair.get(1).and_then(|v| go_parse_int(v)),
            ) else {
                return Err(bad());
            };
            self.push_sparse(&mut map, (off, len), block_offset)?;
        }
        Ok(map)
    }

    /// Go's `readGNUSparseMap1x0`: the map at the start of the stored data, decimal numbers
    /// each ending in a newline (count, then offset/length pairs), read in whole blocks and
    /// capped at `max_pax_size` bytes.
    fn read_sparse_map_1x0(&mut self, block_offset: u64) -> Result<Vec<(i64, i64)>, Error> {
        let mut buf: Vec<u8> = Vec::new();
        let mut cursor = 0usize;
        let mut newlines = 0u64;
        let count = {
            self.feed_sparse_blocks(&mut buf, &mut newlines, 1, block_offset)?;
            let token = next_token(&buf, &mut cursor, &mut newlines);
            go_parse_int(token)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n.checked_mul(2).is_some_and(|d| i64::try_from(d).is_ok()))
                .ok_or_else(|| self.invalid(block_offset, "invalid PAX 1.0 sparse map count"))?
        };
        if count > u64::try_from(self.options.max_sparse_entries).unwrap_or(u64::MAX) {
            return Err(self.too_many_sparse(count, block_offset));
        }
        self.feed_sparse_blocks(
            &mut buf,
            &mut newlines,
            count.saturating_mul(2),
            block_offset,
        )?;
        let mut map = Vec::new();
        for _ in 0..count {
            let off = go_parse_int(next_token(&buf, &mut cursor, &mut newlines));
            let len = go_parse_int(next_token(&buf, &mut cursor, &mut newlines));
            let (Some(off), Some(len)) = (off, len) else {
                return Err(self.invalid(block_offset, "invalid PAX 1.0 sparse map entry"));
            };
            self.push_sparse(&mut map, (off, len), block_offset)?;
        }
        Ok(map)
    }

    /// Reads whole blocks of the stored data into `buf` until it holds `want` newlines.
    fn feed_sparse_blocks(
        &mut self,
        buf: &mut Vec<u8>,
        newlines: &mut u64,
        want: u64,
        block_offset: u64,
    ) -> Result<(), Error> {
        let mut blk: Block = [0; BLOCK];
        while *newlines < want {
            let size = len_u64(buf).saturating_add(BLOCK_U64);
            if size > self.options.max_pax_size {
                return Err(Error::TooLong {
                    entry: self.context.clone(),
                    offset: block_offset,
                    what: "PAX 1.0 sparse map",
                    size,
                    limit: self.options.max_pax_size,
                    option: "max_pax_size",
                });
            }
            let mut filled = 0;
            while let Some(rest) = blk.get_mut(filled..).filter(|r| !r.is_empty()) {
                // The map is part of the stored data: a short entry ends it early.
                if self.physical_remaining == 0 {
                    return Err(self.eof("a PAX 1.0 sparse map"));
                }
                let n = self.read_physical(rest, "a PAX 1.0 sparse map")?;
                filled = filled.saturating_add(n);
            }
            let found = blk.iter().filter(|&&b| b == b'\n').count();
            *newlines = newlines.saturating_add(len_u64_n(found));
            buf.extend_from_slice(&blk);
        }
        Ok(())
    }

    /// Reads one header block, handling the end-of-archive rules of Go's `readHeader`.
    /// `None` at the end of the archive.
    fn read_header_block(&mut self) -> Result<Option<Block>, Error> {
        let mut blk: Block = [0; BLOCK];
        match self.read_full(&mut blk)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(self.eof("a header block")),
        }
        if blk.iter().any(|&b| b != 0) {
            return Ok(Some(blk));
        }
        // One zero block: the end, unless another block follows that is not zero.
        let second_offset = self.offset;
        match self.read_full(&mut blk)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(self.eof("the end-of-archive marker")),
        }
        if blk.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        Err(self.invalid(second_offset, "a zero block followed by a non-zero block"))
    }

    /// Discards the unread stored data of the current entry (Go's `discard`).
    fn skip_physical(&mut self) -> Result<(), Error> {
        let mut chunk = [0u8; SKIP_CHUNK];
        while self.physical_remaining > 0 {
            self.read_physical(&mut chunk, "entry data")?;
        }
        Ok(())
    }

    /// Discards the padding after the current entry; `false` if the input ended inside it,
    /// which Go takes as the end of the archive.
    fn skip_padding(&mut self) -> Result<bool, Error> {
        let mut chunk = [0u8; BLOCK];
        let want = usize::try_from(self.pad).unwrap_or(BLOCK).min(BLOCK);
        self.pad = 0;
        let n = self.read_full(chunk.get_mut(..want).unwrap_or_default())?;
        Ok(n == want)
    }

    /// Reads stored data of the current entry (at most what is left of it). `Ok(0)` only
    /// when nothing is left; the input ending earlier is [`Error::UnexpectedEof`].
    fn read_physical(&mut self, buf: &mut [u8], what: &'static str) -> Result<usize, Error> {
        let max = usize::try_from(self.physical_remaining).unwrap_or(usize::MAX);
        let want = buf.len().min(max);
        if want == 0 {
            return Ok(0);
        }
        let n = self.read_inner(buf.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            return Err(self.eof(what));
        }
        self.physical_remaining = self.physical_remaining.saturating_sub(len_u64_n(n));
        Ok(n)
    }

    /// Reads until `buf` is full or the input ends; returns the bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            let n = self.read_inner(rest)?;
            if n == 0 {
                break;
            }
            filled = filled.saturating_add(n);
        }
        Ok(filled)
    }

    /// One read of the inner reader, retrying `Interrupted` and counting the offset.
    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.inner.read(buf) {
                // A reader claiming more than it was given is buggy; never trust it.
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.offset = self.offset.saturating_add(len_u64_n(n));
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Io {
                        entry: self.context.clone(),
                        offset: self.offset,
                        source: Arc::new(e),
                    });
                }
            }
        }
    }

    /// The current entry's logical data when it is sparse (Go's `sparseFileReader.Read`).
    fn read_sparse(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let Some(sp) = &self.sparse else {
            return Ok(0);
        };
        let (pos, size) = (sp.pos, sp.size);
        if pos >= size {
            // Go reports stored data the map never refers to once the logical end is reached.
            if self.physical_remaining > 0 {
                return Err(Error::SparseUnreferencedData {
                    entry: self.context.clone(),
                    offset: self.offset,
                });
            }
            return Ok(0);
        }
        let fragment = sp.fragments.get(sp.next).copied();
        let room = len_u64_n(buf.len());
        match fragment {
            Some(f) if pos >= f.offset => {
                // Inside a data fragment; the map was validated, so the end cannot overflow.
                let end = f.offset.saturating_add(f.len);
                let want = usize::try_from(room.min(end.saturating_sub(pos))).unwrap_or(0);
                if self.physical_remaining == 0 {
                    return Err(Error::SparseMissingData {
                        entry: self.context.clone(),
                        offset: self.offset,
                    });
                }
                let n =
                    self.read_physical(buf.get_mut(..want).unwrap_or_default(), "entry data")?;
                if let Some(sp) = &mut self.sparse {
                    sp.pos = sp.pos.saturating_add(len_u64_n(n));
                    if sp.pos >= end {
                        sp.next = sp.next.saturating_add(1);
                    }
                }
                Ok(n)
            }
            _ => {
                // A hole up to the next fragment or the logical end.
                let hole_end = fragment.map_or(size, |f| f.offset);
                let n = usize::try_from(room.min(hole_end.saturating_sub(pos))).unwrap_or(0);
                buf.get_mut(..n).unwrap_or_default().fill(0);
                if let Some(sp) = &mut self.sparse {
                    sp.pos = sp.pos.saturating_add(len_u64_n(n));
                }
                Ok(n)
            }
        }
    }

    /// Go's `ErrHeader`, for the header at `offset`.
    fn invalid(&self, offset: u64, reason: &'static str) -> Error {
        Error::InvalidHeader {
            entry: self.context.clone(),
            offset,
            reason,
        }
    }

    /// Go's `io.ErrUnexpectedEOF`, at the current offset.
    fn eof(&self, what: &'static str) -> Error {
        Error::UnexpectedEof {
            entry: self.context.clone(),
            offset: self.offset,
            what,
        }
    }
}

impl<R: Read> Read for ArchiveReader<R> {
    /// The current entry's logical data: stored bytes, with sparse holes as zeros. Returns
    /// `Ok(0)` at the end of the entry, before the first entry and after the last.
    ///
    /// A short entry is an [`io::ErrorKind::UnexpectedEof`] error; other errors carry an
    /// [`Error`] inside. Errors are sticky, as in Go.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let r = if self.sparse.is_some() {
            self.read_sparse(buf)
        } else {
            self.read_physical(buf, "entry data")
        };
        r.map_err(|e| {
            self.failed = Some(e.clone());
            e.into()
        })
    }
}

/// Go's `isHeaderOnlyType`: typeflags whose entries never have data.
fn is_header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1'..=b'6')
}

/// Padding after `len` data bytes up to the next block boundary.
fn padding(len: u64) -> u64 {
    len.wrapping_neg() & 511
}

fn len_u64<T>(v: &[T]) -> u64 {
    len_u64_n(v.len())
}

fn len_u64_n(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The best name known for a header about to be parsed, for error messages: a pending GNU
/// long name, a pending PAX `path`, or the block's own name field.
fn pending_name(pending: &Pending, blk: &Block) -> Option<String> {
    let local_path = pending
        .local
        .as_ref()
        .and_then(|l| l.get(PAX_PATH))
        .filter(|p| !p.is_empty());
    let name = pending
        .long_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(local_path.map(Vec::as_slice))
        .unwrap_or_else(|| c_string(field(blk, F_NAME)));
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

/// Header magic, as Go's `getFormat` tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Star,
    Gnu,
}

/// The fields of one header block (Go's `readHeader`).
struct Parsed {
    format: Format,
    typeflag: u8,
    name: Vec<u8>,
    linkname: Vec<u8>,
    size: i64,
    mode: i64,
    uid: i64,
    gid: i64,
    mtime: i64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    devmajor: i64,
    devminor: i64,
    atime: Option<i64>,
    ctime: Option<i64>,
}

/// A header being merged, still with byte-string names.
struct Work {
    format: Format,
    typeflag: u8,
    name: Vec<u8>,
    linkname: Vec<u8>,
    size: i64,
    mode: i64,
    uid: i64,
    gid: i64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    devmajor: i64,
    devminor: i64,
    mod_time: UnixTime,
    access_time: Option<UnixTime>,
    change_time: Option<UnixTime>,
}

impl From<Parsed> for Work {
    fn from(p: Parsed) -> Work {
        let whole = |secs| UnixTime { secs, nanos: 0 };
        Work {
            format: p.format,
            typeflag: p.typeflag,
            name: p.name,
            linkname: p.linkname,
            size: p.size,
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
            uname: p.uname,
            gname: p.gname,
            devmajor: p.devmajor,
            devminor: p.devminor,
            mod_time: whole(p.mtime),
            access_time: p.atime.map(whole),
            change_time: p.ctime.map(whole),
        }
    }
}

/// A header field; the ranges are constants inside the block, so this never comes back
/// empty in practice.
fn field(blk: &Block, range: Range<usize>) -> &[u8] {
    blk.get(range).unwrap_or_default()
}

/// Go's `parser.parseString`: the bytes before the first NUL.
fn c_string(b: &[u8]) -> &[u8] {
    b.split(|&c| c == 0).next().unwrap_or_default()
}

/// Collects the first numeric parse failure, like Go's `parser.err`.
#[derive(Default)]
struct Numbers {
    failed: bool,
}

impl Numbers {
    fn parse(&mut self, b: &[u8]) -> i64 {
        parse_numeric(b).unwrap_or_else(|| {
            self.failed = true;
            0
        })
    }
}

/// Go's `block.getFormat` checksum test: the stored octal value must equal the unsigned or
/// the signed (historic Sun tar) sum of the block, counting the checksum field as spaces.
fn checksum_ok(blk: &Block) -> bool {
    let Some(stored) = parse_octal(field(blk, F_CHKSUM)) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in blk.iter().enumerate() {
        let c = if F_CHKSUM.contains(&i) { b' ' } else { c };
        unsigned = unsigned.saturating_add(i64::from(c));
        signed = signed.saturating_add(i64::from(i8::from_ne_bytes([c])));
    }
    stored == unsigned || stored == signed
}

/// Go's `readHeader` on one non-zero block.
fn parse_header(blk: &Block) -> Result<Parsed, &'static str> {
    if !checksum_ok(blk) {
        return Err("checksum mismatch");
    }
    let magic = field(blk, F_MAGIC);
    let format = if magic == b"ustar\0" && field(blk, F_STAR_TRAILER) == b"tar\0" {
        Format::Star
    } else if magic == b"ustar\0" {
        Format::Ustar
    } else if magic == b"ustar " && field(blk, F_VERSION) == b" \0" {
        Format::Gnu
    } else {
        Format::V7
    };

    let mut p = Numbers::default();
    let mut h = Parsed {
        format,
        typeflag: blk.get(F_TYPEFLAG).copied().unwrap_or(0),
        name: c_string(field(blk, F_NAME)).to_vec(),
        linkname: c_string(field(blk, F_LINKNAME)).to_vec(),
        size: p.parse(field(blk, F_SIZE)),
        mode: p.parse(field(blk, F_MODE)),
        uid: p.parse(field(blk, F_UID)),
        gid: p.parse(field(blk, F_GID)),
        mtime: p.parse(field(blk, F_MTIME)),
        uname: Vec::new(),
        gname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        atime: None,
        ctime: None,
    };
    if format != Format::V7 {
        h.uname = c_string(field(blk, F_UNAME)).to_vec();
        h.gname = c_string(field(blk, F_GNAME)).to_vec();
        h.devmajor = p.parse(field(blk, F_DEVMAJOR));
        h.devminor = p.parse(field(blk, F_DEVMINOR));
        let prefix: &[u8] = match format {
            Format::Star => {
                h.atime = Some(p.parse(field(blk, F_STAR_ATIME)));
                h.ctime = Some(p.parse(field(blk, F_STAR_CTIME)));
                c_string(field(blk, F_STAR_PREFIX))
            }
            Format::Gnu => gnu_times(blk, &mut h),
            _ => c_string(field(blk, F_USTAR_PREFIX)),
        };
        if !prefix.is_empty() {
            let mut name = prefix.to_vec();
            name.push(b'/');
            name.extend_from_slice(&h.name);
            h.name = name;
        }
    }
    if p.failed {
        return Err("invalid numeric field");
    }
    Ok(h)
}

/// GNU `atime`/`ctime` as Go reads them; returns the prefix to use (empty unless the times
/// do not parse and the area looks like a pre-Go-1.8 ustar prefix, Go issue 12594).
fn gnu_times<'a>(blk: &'a Block, h: &mut Parsed) -> &'a [u8] {
    let mut p = Numbers::default();
    for (range, slot) in [(F_GNU_ATIME, &mut h.atime), (F_GNU_CTIME, &mut h.ctime)] {
        let b = field(blk, range);
        if b.first().is_some_and(|&c| c != 0) {
            *slot = Some(p.parse(b));
        }
    }
    if !p.failed {
        return &[];
    }
    h.atime = None;
    h.ctime = None;
    let prefix = c_string(field(blk, F_USTAR_PREFIX));
    if prefix.is_ascii() { prefix } else { &[] }
}

/// Go's `parseNumeric`: base-256 when the top bit of the first byte is set (two's
/// complement, so negative values too), else octal. `None` on overflow or a bad digit.
fn parse_numeric(b: &[u8]) -> Option<i64> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return parse_octal(b);
    }
    // Bit 6 of the first byte is the sign; a negative number is read inverted (-a-1 == !a).
    let inv = if first & 0x40 != 0 { 0xff } else { 0 };
    let mut x: u64 = 0;
    for (i, &c) in b.iter().enumerate() {
        let mut c = c ^ inv;
        if i == 0 {
            c &= 0x7f;
        }
        if x.wrapping_shr(56) != 0 {
            return None;
        }
        x = x.wrapping_shl(8) | u64::from(c);
    }
    let v = i64::try_from(x).ok()?;
    Some(if inv == 0xff { !v } else { v })
}

/// Go's `parseOctal`: leading and trailing spaces and NULs are ignored, the rest is cut at
/// its first NUL and must be octal digits (an empty field is 0).
fn parse_octal(b: &[u8]) -> Option<i64> {
    let pad = |c: &u8| *c == b' ' || *c == 0;
    let start = b.iter().position(|c| !pad(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !pad(c))
        .map_or(start, |i| i.saturating_add(1));
    let trimmed = b.get(start..end).unwrap_or_default();
    if trimmed.is_empty() {
        return Some(0);
    }
    let digits = c_string(trimmed);
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        x = x
            .checked_mul(8)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))?;
    }
    // Go converts with int64(x); fields are at most 12 bytes, far below 2^63.
    i64::try_from(x).ok()
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then at least one decimal digit;
/// `None` on anything else or overflow.
fn go_parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x
            .checked_mul(10)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))?;
    }
    if neg {
        // -x down to i64::MIN, which has no positive counterpart.
        0i64.checked_sub_unsigned(x)
    } else {
        i64::try_from(x).ok()
    }
}

/// Go's `parsePAXTime` (spec §3) on a record value; `None` when it is not a valid time.
fn parse_pax_time(s: &[u8]) -> Option<UnixTime> {
    crate::pax::parse_pax_time(std::str::from_utf8(s).ok()?).ok()
}

/// Go's `parsePAX`: the records of an `x` or `g` body, later keys replacing earlier ones,
/// with sparse 0.0 `GNU.sparse.offset`/`numbytes` pairs gathered into `GNU.sparse.map`.
/// On error: the byte position of the bad record and what is wrong.
fn parse_pax_records(data: &[u8]) -> Result<Records, RecordError> {
    let mut records = BTreeMap::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let pos = len_u64(data).saturating_sub(len_u64(rest));
        let PaxRecord {
            key,
            value,
            rest: remaining,
        } = parse_pax_record(rest).map_err(|r| (pos, r))?;
        rest = remaining;
        if key == SPARSE_OFFSET || key == SPARSE_NUMBYTES {
            // Offsets and lengths must alternate, starting with an offset.
            let expect = if sparse_map.len() & 1 == 0 {
                SPARSE_OFFSET
            } else {
                SPARSE_NUMBYTES
            };
            if key != expect || value.contains(&b',') {
                return Err((pos, "GNU sparse 0.0 records out of order"));
            }
            sparse_map.push(value);
        } else {
            records.insert(key.to_vec(), value.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(SPARSE_MAP.to_vec(), sparse_map.join(&b','));
    }
    Ok(records)
}

/// Go's `parsePAXRecord`: `"%d %s=%s\n"` where the number is the record's whole length.
fn parse_pax_record(s: &[u8]) -> Result<PaxRecord<'_>, &'static str> {
    let space = s.iter().position(|&c| c == b' ').ok_or("no length field")?;
    let (len_text, after) = s.split_at(space);
    let len = go_parse_int(len_text)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n >= 5 && n <= s.len())
        .ok_or("invalid record length")?;
    // From an index into `s` to an index into what follows the space.
    let body_len = len
        .checked_sub(space.saturating_add(1))
        .filter(|&n| n > 0)
        .ok_or("invalid record length")?;
    let body = after.get(1..).unwrap_or_default();
    let (record, remaining) = body
        .split_at_checked(body_len)
        .ok_or("invalid record length")?;
    let (record, newline) = record.split_at(body_len.saturating_sub(1));
    if newline != b"\n" {
        return Err("record does not end in a newline");
    }
    let eq = record
        .iter()
        .position(|&c| c == b'=')
        .ok_or("record without '='")?;
    let (key, value) = record.split_at(eq);
    let value = value.get(1..).unwrap_or_default();
    // Go's validPAXRecord: a non-empty key; no NUL in the values of the ustar string
    // fields, or (for other keys) in the key.
    if key.is_empty() {
        return Err("empty key");
    }
    let bad_nul = match key {
        PAX_PATH | PAX_LINKPATH | PAX_UNAME | PAX_GNAME => value.contains(&0),
        _ => key.contains(&0),
    };
    if bad_nul {
        return Err("NUL in record");
    }
    Ok(PaxRecord {
        key,
        value,
        rest: remaining,
    })
}

/// One record split off the front of a PAX body.
struct PaxRecord<'a> {
    key: &'a [u8],
    value: &'a [u8],
    /// The records after this one.
    rest: &'a [u8],
}

/// Go's `mergePAX`: records override header fields unless their value is empty. On error:
/// the record whose value does not parse.
fn merge_pax<'a>(h: &mut Work, records: &'a Records) -> Result<(), (&'a [u8], &'a [u8])> {
    for (k, v) in records {
        if v.is_empty() {
            continue;
        }
        let bad = || (k.as_slice(), v.as_slice());
        match k.as_slice() {
            PAX_PATH => h.name.clone_from(v),
            PAX_LINKPATH => h.linkname.clone_from(v),
            PAX_UNAME => h.uname.clone_from(v),
            PAX_GNAME => h.gname.clone_from(v),
            PAX_UID => h.uid = go_parse_int(v).ok_or_else(bad)?,
            PAX_GID => h.gid = go_parse_int(v).ok_or_else(bad)?,
            PAX_SIZE => h.size = go_parse_int(v).ok_or_else(bad)?,
            PAX_MTIME => h.mod_time = parse_pax_time(v).ok_or_else(bad)?,
            PAX_ATIME => h.access_time = Some(parse_pax_time(v).ok_or_else(bad)?),
            PAX_CTIME => h.change_time = Some(parse_pax_time(v).ok_or_else(bad)?),
            _ => {}
        }
    }
    Ok(())
}

/// Go's `validateSparseEntries` followed by `invertSparseEntries`: the map must be sorted,
/// non-overlapping, non-negative and inside the logical size; empty fragments are dropped.
fn validate_sparse(map: &[(i64, i64)], size: i64) -> Result<Vec<Fragment>, &'static str> {
    if size < 0 {
        return Err("negative sparse file size");
    }
    let mut fragments = Vec::new();
    let mut prev_end = 0i64;
    for &(offset, len) in map {
        if offset < 0 || len < 0 {
            return Err("negative sparse map entry");
        }
        let end = offset
            .checked_add(len)
            .ok_or("sparse map entry overflows")?;
        if end > size {
            return Err("sparse map entry past the logical size");
        }
        if prev_end > offset {
            return Err("sparse map entries overlap or are out of order");
        }
        prev_end = end;
        if len > 0 {
            // Both are non-negative here.
            fragments.push(Fragment {
                offset: u64::try_from(offset).unwrap_or(0),
                len: u64::try_from(len).unwrap_or(0),
            });
        }
    }
    Ok(fragments)
}

/// The next newline-terminated token of a PAX 1.0 map (the caller made sure one is there).
fn next_token<'a>(buf: &'a [u8], cursor: &mut usize, newlines: &mut u64) -> &'a [u8] {
    let rest = buf.get(*cursor..).unwrap_or_default();
    let len = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
    *cursor = cursor.saturating_add(len).saturating_add(1);
    *newlines = newlines.saturating_sub(1);
    rest.get(..len).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_tolerates_spaces_and_nuls_like_go() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"  644 \0"), Some(0o644));
        assert_eq!(parse_octal(b"\0\0 12\0 7"), Some(0o12));
        assert_eq!(parse_octal(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"        "), Some(0));
        assert_eq!(parse_octal(b"64 4"), None);
        assert_eq!(parse_octal(b"0008"), None);
        assert_eq!(parse_octal(b"+1"), None);
        assert_eq!(parse_octal(b"77777777777\0"), Some(0o77777777777));
    }

    #[test]
    fn base256_positive_and_negative() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 0x05;
        assert_eq!(parse_numeric(&f), Some(5));
        assert_eq!(parse_numeric(&[0xff; 12]), Some(-1));
        let mut g = [0xff; 8];
        g[7] = 0xfe;
        assert_eq!(parse_numeric(&g), Some(-2));
        // 2^63 does not fit in an int64.
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4] = 0x80;
        assert_eq!(parse_numeric(&big), None);
        // More than 64 significant bits.
        let mut huge = [0u8; 12];
        huge[0] = 0x80;
        huge[3] = 0x01;
        assert_eq!(parse_numeric(&huge), None);
        // The most negative value that fits.
        let mut min = [0u8; 12];
        min[0] = 0xff;
        min[1] = 0xff;
        min[2] = 0xff;
        min[3] = 0xff;
        min[4] = 0x80;
        assert_eq!(parse_numeric(&min), Some(i64::MIN));
    }

    #[test]
    fn go_parse_int_matches_strconv() {
        assert_eq!(go_parse_int(b"42"), Some(42));
        assert_eq!(go_parse_int(b"+42"), Some(42));
        assert_eq!(go_parse_int(b"-0"), Some(0));
        assert_eq!(go_parse_int(b"007"), Some(7));
        assert_eq!(go_parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(go_parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(go_parse_int(b"9223372036854775808"), None);
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1_000",
            b" 1",
            b"1 ",
            b"0x10",
            b"1.0",
        ] {
            assert_eq!(go_parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pax_time_follows_spec_section_3() {
        let t = |secs, nanos| Some(UnixTime { secs, nanos });
        assert_eq!(parse_pax_time(b"1609556646"), t(1_609_556_646, 0));
        assert_eq!(
            parse_pax_time(b"1609556645.1234567"),
            t(1_609_556_645, 123_456_700)
        );
        assert_eq!(parse_pax_time(b"-1.5"), t(-2, 500_000_000));
        assert_eq!(parse_pax_time(b"-0.25"), t(-1, 750_000_000));
        assert_eq!(parse_pax_time(b"-86400.5"), t(-86_401, 500_000_000));
        assert_eq!(parse_pax_time(b"+3.000000000999"), t(3, 0));
        assert_eq!(parse_pax_time(b"1."), t(1, 0));
        assert_eq!(parse_pax_time(b"1.1234567891"), t(1, 123_456_789));
        assert_eq!(parse_pax_time(b"-5.0"), t(-5, 0));
        for bad in [
            &b""[..],
            b".5",
            b"-.5",
            b"1.2.3",
            b"1.x",
            b"1e3",
            b"1.-5",
            b"a",
        ] {
            assert_eq!(parse_pax_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pax_records_parse_like_go() {
        let r = parse_pax_records(b"11 path=ab\n6 a=b\n").unwrap();
        assert_eq!(r.get(&b"path"[..]).unwrap(), b"ab");
        assert_eq!(r.get(&b"a"[..]).unwrap(), b"b");
        // Empty values and later duplicates.
        let r = parse_pax_records(b"7 k=v1\n5 k=\n").unwrap();
        assert_eq!(r.get(&b"k"[..]).unwrap(), b"");
        // The value may contain '=' and newlines; the length decides.
        let r = parse_pax_records(b"10 k=a=\nb\n").unwrap();
        assert_eq!(r.get(&b"k"[..]).unwrap(), b"a=\nb");
        for bad in [
            &b"5 k=v\n"[..], // length too short for the record
            b"6 k=v",        // no newline
            b"6 kv\n\n",     // no '='
            b"x k=v\n",      // length not a number
            b"4 k=\n",       // length below 5
            b"100 k=v\n",    // length past the end
            b"6 =v\n\n",     // empty key
            b"8 path=\0\n",  // NUL in a path
            b"7 k\0=v\n",    // NUL in a key
            b"6k=v\n",       // no space
        ] {
            assert!(parse_pax_records(bad).is_err(), "{bad:?}");
        }
        // NUL is allowed in other values.
        assert!(parse_pax_records(b"6 k=\0\n").is_ok());
    }

    /// One PAX record with its length prefix.
    fn rec(k: &str, v: &str) -> Vec<u8> {
        let n = k.len() + v.len() + 3;
        let mut len = n + n.to_string().len();
        if len.to_string().len() != n.to_string().len() {
            len = n + len.to_string().len();
        }
        format!("{len} {k}={v}\n").into_bytes()
    }

    #[test]
    fn sparse_00_pairs_become_a_map() {
        let body = [
            rec("GNU.sparse.offset", "0"),
            rec("GNU.sparse.numbytes", "5"),
            rec("GNU.sparse.offset", "10"),
            rec("GNU.sparse.numbytes", "3"),
        ]
        .concat();
        let r = parse_pax_records(&body).unwrap();
        assert_eq!(r.get(SPARSE_MAP).unwrap(), b"0,5,10,3");
        assert!(!r.contains_key(SPARSE_OFFSET));
        assert!(parse_pax_records(&rec("GNU.sparse.numbytes", "5")).is_err());
        assert!(parse_pax_records(&rec("GNU.sparse.offset", "1,2")).is_err());
        let twice = [rec("GNU.sparse.offset", "0"), rec("GNU.sparse.offset", "1")].concat();
        assert!(parse_pax_records(&twice).is_err());
    }

    #[test]
    fn sparse_validation() {
        assert!(validate_sparse(&[(0, 5), (5, 5)], 10).is_ok());
        assert!(validate_sparse(&[], 0).is_ok());
        assert!(validate_sparse(&[(0, 5)], -1).is_err());
        assert!(validate_sparse(&[(-1, 5)], 10).is_err());
        assert!(validate_sparse(&[(0, -5)], 10).is_err());
        assert!(validate_sparse(&[(5, 1), (0, 1)], 10).is_err());
        assert!(validate_sparse(&[(0, 5), (4, 1)], 10).is_err());
        assert!(validate_sparse(&[(8, 5)], 10).is_err());
        assert!(validate_sparse(&[(i64::MAX, 1)], i64::MAX).is_err());
        let f = validate_sparse(&[(0, 0), (2, 3), (9, 0)], 10).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].offset, f[0].len), (2, 3));
    }

    #[test]
    fn padding_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(u64::MAX), 1);
    }

    #[test]
    fn checksum_signed_and_unsigned() {
        let mut blk = [0u8; 512];
        blk[0] = b'a';
        blk[1] = 0xff;
        // Unsigned: 'a' + 0xff + 8 spaces.
        let unsigned = 0x61 + 0xff + 8 * 32;
        blk[148..156].copy_from_slice(format!("{unsigned:06o}\0 ").as_bytes());
        assert!(checksum_ok(&blk));
        let signed = 0x61 - 1 + 8 * 32;
        blk[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        assert!(checksum_ok(&blk));
        blk[148..156].copy_from_slice(b"000001\0 ");
        assert!(!checksum_ok(&blk));
    }
}

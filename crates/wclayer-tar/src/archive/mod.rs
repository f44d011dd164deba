//! Streaming tar reader with the header semantics of Go's `archive/tar` `Reader`.
//!
//! Importing a Windows layer tar must see exactly the header values that Go's
//! `tar.Reader.Next()` hands hcsshim, because the import is compared with the reference
//! implementation (docs/oci-tar-mapping.md §6.5). [`ArchiveReader`] wraps any
//! [`Read`](std::io::Read) and turns the block stream into one [`TarHeader`] per entry:
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
//!   docs/oci-tar-mapping.md §3), `uid`, `gid`, `uname`, `gname` override the header; an empty value keeps the
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
//! # Where this reader differs from Go (docs/compat.md)
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
//! and [`Read::read`](std::io::Read::read) return the same error again.

use std::collections::BTreeMap;

mod error;
mod header;
mod pax;
mod reader;
mod sparse;

pub use error::Error;
pub use header::TarHeader;
pub use reader::{ArchiveOptions, ArchiveReader};

/// Size of a tar block.
const BLOCK: usize = 512;
/// [`BLOCK`] as a `u64`, for offsets and sizes.
const BLOCK_U64: u64 = 512;

/// One header block.
type Block = [u8; BLOCK];

/// PAX records as raw bytes, keyed like Go's `map[string]string`.
type Records = BTreeMap<Vec<u8>, Vec<u8>>;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(u64::MAX), 1);
    }
}

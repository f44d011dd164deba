//! A tar writer that produces exactly the bytes Go's `archive/tar` `Writer` produces
//! (docs/oci-tar-mapping.md §8).
//!
//! hcsshim exports a layer through go-winio's `backuptar`, which hands every entry to Go's
//! `tar.Writer`. An exported layer is known by its digest, so wclayer has to repeat Go's
//! choices to the last byte: which format each header gets (USTAR, or a PAX extended header
//! followed by the main header), the `PaxHeaders.0` names of the extended headers, the sorted
//! `"<len> <key>=<value>\n"` records, the ASCII filtering of names in PAX main headers and the
//! single NUL written into a truncated name that ends in `/`. No published crate reproduces
//! these choices (the `tar` crate's `Builder` makes its own), so this module re-implements
//! `WriteHeader`, `Write` and `Close` by hand from docs/oci-tar-mapping.md and Go's `writer.go`, `common.go`,
//! `format.go` and `strconv.go`.
//!
//! # How it fits
//!
//! Build a [`Header`] (field for field Go's `tar.Header`), pass it to
//! [`GoTarWriter::write_header`], write exactly [`Header::size`] bytes of data through the
//! writer's [`std::io::Write`] impl (none for typeflags `1`–`6`), repeat, and end with
//! [`GoTarWriter::finish`], which writes the two zero blocks. Entry data is streamed straight
//! to the inner writer; only header blocks (and PAX records, at most 1 MiB) are built in memory.
//!
//! ```
//! use std::io::Write;
//! use wclayer_tar::gotar::{Format, GoTarWriter, Header};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut tar = GoTarWriter::new(Vec::new());
//! let mut hdr = Header {
//!     name: "Files/hello.txt".into(),
//!     mode: 0o100000,
//!     size: 6,
//!     format: Format::Pax,
//!     ..Header::default()
//! };
//! hdr.pax_records.insert("MSWINDOWS.fileattr".into(), "32".into());
//! tar.write_header(&hdr)?;
//! tar.write_all(b"hello\n")?;
//! let bytes = tar.finish()?;
//! // PAX extended header + records, main header, data block, two zero blocks.
//! assert_eq!(bytes.len(), 6 * 512);
//! # Ok(())
//! # }
//! ```
//!
//! # Scope
//!
//! Everything Go does for [`Format::Pax`] and [`Format::Unspecified`] headers is reproduced,
//! including what backuptar never asks for: uid/gid/uname/gname, device numbers, global `g`
//! headers, and Go's last resort for an unspecified format, a GNU header (with `././@LongLink`
//! entries for long names) when `mode`, `devmajor` or `devminor` fits no octal field. Go's
//! sparse-file support is disabled in Go itself and so absent here.

mod block;
mod encode;
mod error;
mod header;
mod names;
mod writer;

pub use error::Error;
pub use header::{Format, Header};
pub use writer::GoTarWriter;

/// Size of a tar block; headers are one block and data is padded to whole blocks (§8.7).
const BLOCK_SIZE: usize = 512;
/// Length of the USTAR `name` and `linkname` fields (§8.1).
const NAME_SIZE: usize = 100;
/// Length of the USTAR `prefix` field (§8.5).
const PREFIX_SIZE: usize = 155;
/// Go's `maxSpecialFileSize`: the PAX records of one entry may not exceed 1 MiB (§8.3).
const MAX_PAX_RECORDS_LEN: usize = 1 << 20;
/// Length of the `uname` and `gname` fields (§8.1).
const USER_NAME_SIZE: usize = 32;
const ZERO_BLOCK: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];
/// Magic and version of USTAR and PAX headers (`ustar\0`, `00`; docs/oci-tar-mapping.md §8.1).
const USTAR_MAGIC: &[u8; 8] = b"ustar\x0000";
/// Magic and version of GNU headers (`ustar `, ` \0`).
const GNU_MAGIC: &[u8; 8] = b"ustar  \x00";

/// Byte ranges of the header fields (docs/oci-tar-mapping.md §8.1; Go's `headerV7`/`headerUSTAR`).
mod field {
    use std::ops::Range;

    pub(super) const NAME: Range<usize> = 0..100;
    pub(super) const MODE: Range<usize> = 100..108;
    pub(super) const UID: Range<usize> = 108..116;
    pub(super) const GID: Range<usize> = 116..124;
    pub(super) const SIZE: Range<usize> = 124..136;
    pub(super) const MTIME: Range<usize> = 136..148;
    pub(super) const CHKSUM: Range<usize> = 148..156;
    /// Only the first 7 bytes get digits; the last one is a space (§8.6).
    pub(super) const CHKSUM_DIGITS: Range<usize> = 148..155;
    pub(super) const CHKSUM_SPACE: usize = 155;
    pub(super) const TYPEFLAG: usize = 156;
    pub(super) const LINKNAME: Range<usize> = 157..257;
    pub(super) const MAGIC_VERSION: Range<usize> = 257..265;
    pub(super) const UNAME: Range<usize> = 265..297;
    pub(super) const GNAME: Range<usize> = 297..329;
    pub(super) const DEVMAJOR: Range<usize> = 329..337;
    pub(super) const DEVMINOR: Range<usize> = 337..345;
    pub(super) const PREFIX: Range<usize> = 345..500;
}

/// Typeflags Go's writer treats specially.
const TYPE_REG_A: u8 = 0;
const TYPE_REG: u8 = b'0';
const TYPE_DIR: u8 = b'5';
const TYPE_X_HEADER: u8 = b'x';
const TYPE_X_GLOBAL_HEADER: u8 = b'g';

/// Go's `isHeaderOnlyType`: no data follows these, whatever the size field says.
fn is_header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1'..=b'6')
}

/// Go's `blockPadding`: NULs that fill `size` up to a multiple of 512.
fn block_padding(size: u64) -> usize {
    // Go's `-offset & (blockSize - 1)`; the result is below 512, so it converts.
    usize::try_from(size.wrapping_neg() & 511).unwrap_or(0)
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding() {
        assert_eq!(block_padding(0), 0);
        assert_eq!(block_padding(1), 511);
        assert_eq!(block_padding(512), 0);
        assert_eq!(block_padding(u64::MAX), 1);
    }
}

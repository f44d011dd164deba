//! Archives assembled block by block, for the hostile cases whose defect lies below the
//! entry model: headers with lying or malformed fields, raw PAX record blocks, GNU long-name
//! and sparse headers, archives cut at a chosen byte. Well-formed entries still come from
//! [`write_items`]; the pieces are concatenated.

use std::io;

use tar::{EntryType, Header};

use crate::entry::{Ent, Item};
use crate::writer::{pax_block, write_items};

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;
/// The two zero blocks that end an archive.
pub(crate) const TRAILER: usize = 2 * BLOCK;

/// Offsets of the header fields used here (docs/oci-tar-mapping.md §8.1).
pub(crate) const F_SIZE: std::ops::Range<usize> = 124..136;
pub(crate) const F_CHKSUM: std::ops::Range<usize> = 148..156;
pub(crate) const F_TYPEFLAG: usize = 156;
/// Old GNU sparse header: four 24-byte map entries, the extension flag, the real size.
pub(crate) const F_GNU_SPARSE: usize = 386;
pub(crate) const F_GNU_ISEXTENDED: usize = 482;
pub(crate) const F_GNU_REALSIZE: std::ops::Range<usize> = 483..495;

/// An archive under construction: bytes so far, always a whole number of blocks.
pub(crate) struct Raw(Vec<u8>);

impl Raw {
    pub(crate) fn new() -> Raw {
        Raw(Vec::new())
    }

    /// Appends well-formed entries, written by [`write_items`] (without its trailer).
    pub(crate) fn items(mut self, items: Vec<Item>) -> io::Result<Raw> {
        let mut bytes = Vec::new();
        write_items(&items, &mut bytes)?;
        bytes.truncate(bytes.len() - TRAILER);
        self.0.extend(bytes);
        Ok(self)
    }

    /// Appends Windows-style entries.
    pub(crate) fn win(self, entries: Vec<Ent>) -> io::Result<Raw> {
        self.items(entries.into_iter().map(Item::Win).collect())
    }

    /// Appends a header block and `data`, padded to a whole block.
    pub(crate) fn entry(mut self, header: &Header, data: &[u8]) -> Raw {
        self.0.extend_from_slice(header.as_bytes());
        self.0.extend_from_slice(data);
        pad(&mut self.0);
        self
    }

    /// Appends a PAX extended header (`x`) named `name` whose body is exactly `body` (which
    /// need not be well-formed records) and whose size field says `body.len()`.
    pub(crate) fn pax_raw(self, name: &str, body: &[u8]) -> Raw {
        let h = header(name, EntryType::XHeader, body.len() as u64);
        self.entry(&h, body)
    }

    /// Appends a PAX extended header with well-formed `records`, in the order given.
    pub(crate) fn pax(self, name: &str, records: &[(&str, &[u8])]) -> Raw {
        let owned: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        self.pax_raw(name, &pax_block(&owned))
    }

    /// Appends a GNU long-name (`L`) entry holding `name` and its NUL.
    pub(crate) fn gnu_long_name(self, name: &str) -> Raw {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        let mut h = Header::new_gnu();
        set_field(h.as_mut_bytes(), 0..100, b"././@LongLink");
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(EntryType::GNULongName);
        h.set_cksum();
        self.entry(&h, &data)
    }

    /// Bytes so far, without the end-of-archive marker.
    pub(crate) fn open(self) -> Vec<u8> {
        self.0
    }

    /// Bytes so far plus the two zero blocks that end the archive.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; TRAILER]);
        self.0
    }

    /// How many bytes are there so far.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Pads `bytes` with NUL to a whole number of blocks.
pub(crate) fn pad(bytes: &mut Vec<u8>) {
    let rest = bytes.len() % BLOCK;
    if rest != 0 {
        bytes.resize(bytes.len() + BLOCK - rest, 0);
    }
}

/// A ustar header with the raw `name` (no cleaning), typeflag, size, mode 0644 (0 for `x`),
/// and its checksum.
pub(crate) fn header(name: &str, flag: EntryType, size: u64) -> Header {
    let mut h = Header::new_ustar();
    set_field(h.as_mut_bytes(), 0..100, name.as_bytes());
    h.set_mode(if flag == EntryType::XHeader {
        0
    } else {
        0o100_000
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h.set_entry_type(flag);
    h.set_cksum();
    h
}

/// Copies `value` into the field `range` of a header block, NUL-padded (cut if too long).
pub(crate) fn set_field(block: &mut [u8], range: std::ops::Range<usize>, value: &[u8]) {
    let field = &mut block[range];
    field.fill(0);
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Writes `value` into a numeric field the way GNU tar does when octal is too small:
/// base-256, big-endian, the first byte's top bit set (negative values in two's
/// complement, first byte 0xff).
pub(crate) fn set_base256(block: &mut [u8], range: std::ops::Range<usize>, value: i64) {
    let field = &mut block[range];
    let len = field.len();
    let bytes = value.to_be_bytes();
    let fill = if value < 0 { 0xff } else { 0 };
    field.fill(fill);
    field[len - 8..].copy_from_slice(&bytes);
    field[0] = if value < 0 { 0xff } else { 0x80 };
}

/// Recomputes the checksum of the header block at `at` (8 spaces while summing; six octal
/// digits, NUL, space).
pub(crate) fn set_checksum(archive: &mut [u8], at: usize) {
    let block = &mut archive[at..at + BLOCK];
    block[F_CHKSUM].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[F_CHKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Where the first header block (extension headers included) whose name field is `name`
/// starts, walking the archive by its size fields.
pub(crate) fn header_at(archive: &[u8], name: &str) -> io::Result<usize> {
    let mut at = 0;
    while at + BLOCK <= archive.len() {
        let block = &archive[at..at + BLOCK];
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let field = &block[..100];
        let end = field.iter().position(|&b| b == 0).unwrap_or(100);
        if &field[..end] == name.as_bytes() {
            return Ok(at);
        }
        let size = octal(&block[F_SIZE]);
        let data = if matches!(block[F_TYPEFLAG], b'1'..=b'6') {
            0
        } else {
            size
        };
        at += BLOCK + data.div_ceil(BLOCK) * BLOCK;
    }
    Err(io::Error::other(format!("no header named {name}")))
}

/// An octal size field (well-formed archives built here only).
fn octal(field: &[u8]) -> usize {
    field
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0, |acc, &b| acc * 8 + usize::from(b - b'0'))
}

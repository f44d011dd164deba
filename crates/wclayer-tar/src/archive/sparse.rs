//! Sparse files: the old GNU (`S`) and PAX 0.0, 0.1 and 1.0 sparse maps Go's reader
//! understands, their validation, and reading the logical data with holes as zeros.

use std::io::Read;

use super::header::{F_GNU_REALSIZE, F_GNU_SPARSE, Format, Work, field, parse_numeric};
use super::pax::{
    SPARSE_MAJOR, SPARSE_MAP, SPARSE_MINOR, SPARSE_NAME, SPARSE_NUMBLOCKS, SPARSE_REALSIZE,
    SPARSE_SIZE, go_parse_int,
};
use super::{ArchiveReader, BLOCK, BLOCK_U64, Block, Error, Records, len_u64, len_u64_n};

/// One old GNU sparse entry: 12-byte offset and 12-byte length.
const SPARSE_ENTRY: usize = 24;
/// The offset part of [`SPARSE_ENTRY`].
const SPARSE_OFFSET_LEN: usize = 12;

/// One data fragment of a sparse file, validated against the logical size.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fragment {
    offset: u64,
    len: u64,
}

/// Read position in a sparse file: the data fragments (empty ones dropped), the first one
/// not fully read, and the logical position.
#[derive(Debug)]
pub(super) struct Sparse {
    pub(super) fragments: Vec<Fragment>,
    pub(super) next: usize,
    pub(super) pos: u64,
    pub(super) size: u64,
}

impl<R: Read> ArchiveReader<R> {
    /// Go's `readOldGNUSparseMap`: the map in the header's sparse area and the extension
    /// blocks that follow it (not counted in the entry's size).
    pub(super) fn read_old_gnu_sparse(
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
    ///
    /// [`ArchiveOptions::max_sparse_entries`]: super::ArchiveOptions::max_sparse_entries
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
    ///
    /// [`ArchiveOptions::max_sparse_entries`]: super::ArchiveOptions::max_sparse_entries
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
    pub(super) fn read_pax_sparse(
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
            // Errors reading the map name the file by its real name, as later ones do.
            self.context = Some(String::from_utf8_lossy(name).into_owned());
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

    /// The current entry's logical data when it is sparse (Go's `sparseFileReader.Read`).
    pub(super) fn read_sparse(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
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
}

/// Go's `validateSparseEntries` followed by `invertSparseEntries`: the map must be sorted,
/// non-overlapping, non-negative and inside the logical size; empty fragments are dropped.
pub(super) fn validate_sparse(
    map: &[(i64, i64)],
    size: i64,
) -> Result<Vec<Fragment>, &'static str> {
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
}

//! The framing rules of a `WIN32_STREAM_ID` header (docs/backup-stream.md §2.1), in one
//! place for the reader ([`super::BackupStreamReader`]) and the push splitter
//! ([`super::StreamSplitter`]): whatever one accepts, the other accepts too.

use super::{StreamAttributes, StreamHeader, StreamId};

/// The largest `dwStreamNameSize` accepted, in bytes.
///
/// A header is untrusted input and its name size is a `u32`: believing it would let 20 bytes
/// of input make us allocate 4 GiB. NTFS limits a stream name to 255 UTF-16 code units, so
/// `:name:$DATA` never comes near this bound; 64 KiB leaves room for any name `BackupRead`
/// can produce and caps what a hostile header can make us hold.
pub(crate) const MAX_NAME_SIZE: u32 = 64 * 1024;

/// Size of the sparse-block offset that follows the name of a stream with id 9.
pub(crate) const SPARSE_OFFSET_SIZE: u64 = 8;

/// The fixed 20 bytes of a header, decoded and checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fixed {
    pub(crate) id: StreamId,
    pub(crate) attributes: StreamAttributes,
    /// Body length (for a sparse block, without its 8-byte offset).
    pub(crate) size: u64,
    /// `dwStreamNameSize`, at most [`MAX_NAME_SIZE`].
    pub(crate) name_size: usize,
    pub(crate) sparse: bool,
}

impl Fixed {
    /// Decodes the first 20 bytes of `bytes`, applying the rules that decide how many bytes
    /// the header has: the name size is even and at most 64 KiB, and a sparse block's `Size`
    /// covers its 8-byte offset. The stream id is not checked here (a reader stays in step
    /// after an unknown id, docs/backup-stream.md §3.2).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Fixed, &'static str> {
        let (Some(id), Some(attributes), Some(size_field), Some(name_size)) = (
            le_u32(bytes, 0),
            le_u32(bytes, 4),
            le_u64(bytes, 8),
            le_u32(bytes, 16),
        ) else {
            return Err("header shorter than 20 bytes");
        };
        if !name_size.is_multiple_of(2) {
            // go-winio would read name_size / 2 code units and leave one byte behind, reading
            // every later header one byte off.
            return Err("odd stream name size");
        }
        if name_size > MAX_NAME_SIZE {
            return Err("stream name longer than 64 KiB");
        }
        let id = StreamId(id);
        let sparse = id == StreamId::SPARSE_BLOCK;
        let size = if sparse {
            // Size counts the 8-byte offset; go-winio's body length goes negative here.
            size_field
                .checked_sub(SPARSE_OFFSET_SIZE)
                .ok_or("sparse block shorter than its 8-byte offset")?
        } else {
            size_field
        };
        Ok(Fixed {
            id,
            attributes: StreamAttributes(attributes),
            size,
            name_size: usize::try_from(name_size).unwrap_or(usize::MAX),
            sparse,
        })
    }

    /// Where the name ends: 20 + the name size.
    pub(crate) fn name_end(&self) -> usize {
        StreamHeader::FIXED_SIZE.saturating_add(self.name_size)
    }

    /// The whole header's length: fixed part, name and (sparse blocks) the offset.
    pub(crate) fn header_len(&self) -> usize {
        if self.sparse {
            self.name_end().saturating_add(8)
        } else {
            self.name_end()
        }
    }
}

/// Little-endian integers at fixed offsets; `None` past the end, so no index can panic.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// See [`le_u32`].
pub(crate) fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Decodes a stream name as go-winio does (docs/backup-stream.md §2.1 step 2): UTF-16LE code
/// units up to the first U+0000, unpaired surrogates replaced by U+FFFD.
pub(crate) fn decode_name(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            // chunks_exact(2) yields only pairs.
            _ => 0,
        })
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_name_stops_at_nul_and_replaces_lone_surrogates() {
        let units: [u16; 5] = [u16::from(b'a'), 0xD800, u16::from(b'b'), 0, u16::from(b'c')];
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode_name(&bytes), "a\u{FFFD}b");
    }

    #[test]
    fn framing_rules() {
        let h = |id: u32, size: u64, name: u32| {
            let mut b = Vec::new();
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            b.extend_from_slice(&name.to_le_bytes());
            b
        };
        assert_eq!(Fixed::parse(&h(1, 5, 4)).unwrap().header_len(), 24);
        assert_eq!(Fixed::parse(&h(9, 10, 0)).unwrap().header_len(), 28);
        assert_eq!(Fixed::parse(&h(9, 10, 0)).unwrap().size, 2);
        assert!(Fixed::parse(&h(9, 7, 0)).is_err());
        assert!(Fixed::parse(&h(1, 0, 3)).is_err());
        assert!(Fixed::parse(&h(1, 0, 64 * 1024 + 2)).is_err());
        assert!(Fixed::parse(&h(1, 0, 0)[..19]).is_err());
        assert!(
            Fixed::parse(&h(77, 0, 0)).is_ok(),
            "ids are the caller's business"
        );
    }
}

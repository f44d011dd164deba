//! Extended attributes: `FILE_FULL_EA_INFORMATION` chains (docs/ea-reparse-sd.md §1).
//!
//! A backup stream of id 2 (`BACKUP_EA_DATA`) carries the EAs of a file as a chain of
//! `FILE_FULL_EA_INFORMATION` entries; the tar mapping carries each EA as one
//! `MSWINDOWS.xattr.<name>` PAX record (docs/oci-tar-mapping.md §4.4). [`encode`] writes a chain
//! byte for byte as go-winio's `EncodeExtendedAttributes` does and [`decode`] accepts what
//! go-winio's `DecodeExtendedAttributes` accepts, minus one class of pathological inputs
//! (a `NextEntryOffset` that points inside the current entry).
//!
//! ```
//! use wclayer_backup::ea::{self, ExtendedAttribute};
//!
//! let eas = vec![ExtendedAttribute::new(b"foo".to_vec(), b"bar".to_vec())];
//! let bytes = ea::encode(&eas)?;
//! assert_eq!(bytes.len(), 16); // 8-byte header, "foo", NUL, "bar", padded to 4
//! assert_eq!(ea::decode(&bytes)?, eas);
//! # Ok::<(), ea::Error>(())
//! ```

/// Size of the fixed `FILE_FULL_EA_INFORMATION` header: `NextEntryOffset` (4), `Flags` (1),
/// `EaNameLength` (1), `EaValueLength` (2).
const HEADER_LEN: usize = 8;

/// `FILE_NEED_EA`, the only flag bit Windows defines for an EA (docs/ea-reparse-sd.md §1.1).
pub const FILE_NEED_EA: u8 = 0x80;

/// The longest EA name the format can describe: `EaNameLength` is a `u8`.
pub const MAX_NAME_LEN: usize = u8::MAX as usize;

/// The longest EA value the format can describe: `EaValueLength` is a `u16`.
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;

/// One extended attribute: an entry of a `FILE_FULL_EA_INFORMATION` chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExtendedAttribute {
    /// `EaName`: the name bytes, without the terminating NUL. go-winio keeps them as the raw
    /// bytes of a Go string (NTFS names are ASCII, upper-cased by the file system); at most
    /// [`MAX_NAME_LEN`] bytes (docs/ea-reparse-sd.md §1.1).
    pub name: Vec<u8>,
    /// `EaValue`: the raw value bytes; at most [`MAX_VALUE_LEN`] bytes.
    pub value: Vec<u8>,
    /// `Flags`: `0x80` ([`FILE_NEED_EA`]) or 0. Not representable in a tar: dropped on export,
    /// 0 on import (docs/ea-reparse-sd.md §1.5).
    pub flags: u8,
}

impl ExtendedAttribute {
    /// An EA with flags 0, as the tar importer creates them.
    #[must_use]
    pub fn new(name: Vec<u8>, value: Vec<u8>) -> ExtendedAttribute {
        ExtendedAttribute {
            name,
            value,
            flags: 0,
        }
    }
}

/// An error encoding or decoding a `FILE_FULL_EA_INFORMATION` chain.
///
/// Every decoding error is a case go-winio reports as `invalid extended attribute buffer`
/// (except [`Error::NextEntryInsideEntry`], which go-winio accepts); the variants say which
/// check failed and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An EA name is longer than `EaNameLength` (a `u8`) can say.
    #[error("extended attribute name too large: entry {index} has {len} bytes, at most 255")]
    NameTooLarge {
        /// Position of the EA in the list being encoded.
        index: usize,
        /// Length of its name in bytes.
        len: usize,
    },
    /// An EA value is longer than `EaValueLength` (a `u16`) can say.
    #[error("extended attribute value too large: entry {index} has {len} bytes, at most 65535")]
    ValueTooLarge {
        /// Position of the EA in the list being encoded.
        index: usize,
        /// Length of its value in bytes.
        len: usize,
    },
    /// Fewer than 8 bytes are left where an entry header should start.
    #[error("invalid extended attribute buffer: truncated entry header at offset {offset}")]
    TruncatedHeader {
        /// Offset of the entry in the buffer.
        offset: usize,
    },
    /// The name, its NUL or the value reach past the end of the buffer.
    #[error(
        "invalid extended attribute buffer: entry at offset {offset} needs {needed} bytes, \
         {available} left"
    )]
    EntryPastEnd {
        /// Offset of the entry in the buffer.
        offset: usize,
        /// `9 + EaNameLength + EaValueLength`.
        needed: usize,
        /// Bytes from the entry to the end of the buffer.
        available: usize,
    },
    /// `NextEntryOffset` points past the end of the buffer.
    #[error(
        "invalid extended attribute buffer: entry at offset {offset} has next entry offset \
         {next}, {available} bytes left"
    )]
    NextEntryPastEnd {
        /// Offset of the entry in the buffer.
        offset: usize,
        /// Its `NextEntryOffset`.
        next: u32,
        /// Bytes from the entry to the end of the buffer.
        available: usize,
    },
    /// A non-zero `NextEntryOffset` is smaller than the entry it follows. go-winio accepts
    /// this (the next entry then overlaps the current one); we reject it (docs/ea-reparse-sd.md
    /// §1.3), which no buffer written by Windows or go-winio triggers.
    #[error(
        "invalid extended attribute buffer: entry at offset {offset} has next entry offset \
         {next}, inside its own {entry_len} bytes"
    )]
    NextEntryInsideEntry {
        /// Offset of the entry in the buffer.
        offset: usize,
        /// Its `NextEntryOffset`.
        next: u32,
        /// `9 + EaNameLength + EaValueLength`.
        entry_len: usize,
    },
}

/// Length of an entry before padding, `9 + n + v`, and padded to a multiple of 4.
///
/// With `n <= 255` and `v <= 65535` neither can overflow; the checked arithmetic only keeps
/// the codec lint-clean, and an impossible overflow reports the value as too large.
fn entry_lengths(index: usize, ea: &ExtendedAttribute) -> Result<(usize, usize), Error> {
    if ea.name.len() > MAX_NAME_LEN {
        return Err(Error::NameTooLarge {
            index,
            len: ea.name.len(),
        });
    }
    let too_large = || Error::ValueTooLarge {
        index,
        len: ea.value.len(),
    };
    if ea.value.len() > MAX_VALUE_LEN {
        return Err(too_large());
    }
    let unpadded = (HEADER_LEN + 1)
        .checked_add(ea.name.len())
        .and_then(|l| l.checked_add(ea.value.len()))
        .ok_or_else(too_large)?;
    let padded = unpadded.checked_add(3).ok_or_else(too_large)? & !3;
    Ok((unpadded, padded))
}

/// Encodes `eas`, in the given order, into a `FILE_FULL_EA_INFORMATION` chain exactly as
/// go-winio's `EncodeExtendedAttributes` does (docs/ea-reparse-sd.md §1.2).
///
/// Every entry, the last one too, is padded with zero bytes to a multiple of 4; the last
/// entry's `NextEntryOffset` is 0. An empty list encodes to no bytes.
///
/// # Errors
///
/// [`Error::NameTooLarge`] for a name over 255 bytes, [`Error::ValueTooLarge`] for a value
/// over 65535 bytes.
pub fn encode(eas: &[ExtendedAttribute]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode_into(eas, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `eas` (see [`encode`]) to `out`.
///
/// # Errors
///
/// As [`encode`]. All EAs are checked before anything is written, so on error `out` is
/// left unchanged.
pub fn encode_into(eas: &[ExtendedAttribute], out: &mut Vec<u8>) -> Result<(), Error> {
    // Validate the whole list first so that an error leaves `out` untouched.
    let mut total = 0usize;
    for (index, ea) in eas.iter().enumerate() {
        let (_, padded) = entry_lengths(index, ea)?;
        total = total.saturating_add(padded);
    }
    out.reserve(total);

    let last = eas.len().saturating_sub(1);
    for (index, ea) in eas.iter().enumerate() {
        let (unpadded, padded) = entry_lengths(index, ea)?;
        // `padded` is at most 9 + 255 + 65535 + 3, and the name and value lengths were
        // bounded by `entry_lengths`; none of these conversions can fail.
        let next = if index == last {
            0
        } else {
            u32::try_from(padded).map_err(|_| Error::ValueTooLarge {
                index,
                len: ea.value.len(),
            })?
        };
        let name_len = u8::try_from(ea.name.len()).map_err(|_| Error::NameTooLarge {
            index,
            len: ea.name.len(),
        })?;
        let value_len = u16::try_from(ea.value.len()).map_err(|_| Error::ValueTooLarge {
            index,
            len: ea.value.len(),
        })?;
        out.extend_from_slice(&next.to_le_bytes());
        out.push(ea.flags);
        out.push(name_len);
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(&ea.name);
        // The name is NUL-terminated even though its length is counted.
        out.push(0);
        out.extend_from_slice(&ea.value);
        out.resize(out.len().saturating_add(padded.saturating_sub(unpadded)), 0);
    }
    Ok(())
}

/// Decodes a `FILE_FULL_EA_INFORMATION` chain as go-winio's `DecodeExtendedAttributes` does
/// (docs/ea-reparse-sd.md §1.3).
///
/// Lenient where go-winio is: the NUL after the name and the padding are not checked, the
/// last entry need not be padded, bytes after the entry whose `NextEntryOffset` is 0 are
/// ignored, and `NextEntryOffset` need not be a multiple of 4. Empty input gives an empty
/// list.
///
/// # Errors
///
/// [`Error::TruncatedHeader`], [`Error::EntryPastEnd`] and [`Error::NextEntryPastEnd`] for
/// the inputs go-winio rejects, and [`Error::NextEntryInsideEntry`] for a non-zero
/// `NextEntryOffset` smaller than `9 + EaNameLength + EaValueLength`.
pub fn decode(buf: &[u8]) -> Result<Vec<ExtendedAttribute>, Error> {
    let mut eas = Vec::new();
    // `offset` is where `rest` starts in `buf`; it only grows by a `NextEntryOffset` that
    // was checked against `rest.len()`, so it never exceeds `buf.len()`.
    let mut offset = 0usize;
    let mut rest = buf;
    while !rest.is_empty() {
        let available = rest.len();
        let Some((&[n0, n1, n2, n3, flags, name_len, v0, v1], body)) =
            rest.split_first_chunk::<HEADER_LEN>()
        else {
            return Err(Error::TruncatedHeader { offset });
        };
        let next = u32::from_le_bytes([n0, n1, n2, n3]);
        let name_len = usize::from(name_len);
        let value_len = usize::from(u16::from_le_bytes([v0, v1]));

        // 9 + n + v fits easily in usize (at most 65799).
        let entry_len = (HEADER_LEN + 1)
            .saturating_add(name_len)
            .saturating_add(value_len);
        if entry_len > available {
            return Err(Error::EntryPastEnd {
                offset,
                needed: entry_len,
                available,
            });
        }
        // A u32 that does not fit in usize is certainly past the end.
        let next_len = usize::try_from(next).unwrap_or(usize::MAX);
        if next_len > available {
            return Err(Error::NextEntryPastEnd {
                offset,
                next,
                available,
            });
        }
        if next != 0 && next_len < entry_len {
            return Err(Error::NextEntryInsideEntry {
                offset,
                next,
                entry_len,
            });
        }

        // body = name, NUL (unchecked), value, padding (unchecked); entry_len <= available
        // guarantees both ranges below are in bounds.
        let value_start = name_len.saturating_add(1);
        let name = body.get(..name_len);
        let value = body.get(value_start..value_start.saturating_add(value_len));
        let (Some(name), Some(value)) = (name, value) else {
            return Err(Error::EntryPastEnd {
                offset,
                needed: entry_len,
                available,
            });
        };
        eas.push(ExtendedAttribute {
            name: name.to_vec(),
            value: value.to_vec(),
            flags,
        });

        if next == 0 {
            // go-winio ignores whatever follows the last entry.
            break;
        }
        rest = rest.get(next_len..).unwrap_or_default();
        offset = offset.saturating_add(next_len);
    }
    Ok(eas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ea(name: &str, value: &[u8], flags: u8) -> ExtendedAttribute {
        ExtendedAttribute {
            name: name.as_bytes().to_vec(),
            value: value.to_vec(),
            flags,
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    // docs/ea-reparse-sd.md §1.4, from go-winio ea_test.go.
    const ROUND_TRIP_HEX: &str = "10000000 00 03 0300 666f6f 00 626172 00 \
                                  00000000 00 04 0400 66697a7a 00 62757a7a 000000";

    fn round_trip_eas() -> Vec<ExtendedAttribute> {
        vec![ea("foo", b"bar", 0), ea("fizz", b"buzz", 0)]
    }

    #[test]
    fn vector_round_trip() {
        let bytes = unhex(ROUND_TRIP_HEX);
        assert_eq!(bytes.len(), 36);
        assert_eq!(encode(&round_trip_eas()).unwrap(), bytes);
        assert_eq!(decode(&bytes).unwrap(), round_trip_eas());
    }

    #[test]
    fn vector_not_padded() {
        let bytes = unhex(ROUND_TRIP_HEX);
        assert_eq!(decode(&bytes[..33]).unwrap(), round_trip_eas());
    }

    #[test]
    fn vector_truncated() {
        let bytes = unhex(ROUND_TRIP_HEX);
        // The first entry is whole; the second starts at 16 with only 4 bytes of header.
        let err = decode(&bytes[..20]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid extended attribute buffer"),
            "{err}"
        );
        assert_eq!(err, Error::TruncatedHeader { offset: 16 });
    }

    #[test]
    fn vector_nil() {
        assert_eq!(encode(&[]).unwrap(), Vec::<u8>::new());
        assert_eq!(decode(&[]).unwrap(), Vec::new());
    }

    #[test]
    fn vector_single_empty_value() {
        let eas = vec![ea("A", b"", 0)];
        let bytes = unhex("00000000 00 01 0000 41 00 0000");
        assert_eq!(bytes.len(), 12);
        assert_eq!(encode(&eas).unwrap(), bytes);
        assert_eq!(decode(&bytes).unwrap(), eas);
    }

    #[test]
    fn vector_need_ea_flag() {
        let eas = vec![
            ea("$KERNEL.PURGE.ESBCACHE", &[1, 2, 3, 4], FILE_NEED_EA),
            ea("X", b"yz", 0),
        ];
        let bytes = unhex(
            "24000000 80 16 0400 244b45524e454c2e50555247452e455342434143484500 01020304 00 \
             00000000 00 01 0200 58 00 797a",
        );
        assert_eq!(encode(&eas).unwrap(), bytes);
        assert_eq!(decode(&bytes).unwrap(), eas);
    }

    #[test]
    fn encode_limits() {
        let max = ExtendedAttribute::new(vec![b'N'; 255], vec![7; 65535]);
        let bytes = encode(std::slice::from_ref(&max)).unwrap();
        // 9 + 255 + 65535 = 65799, padded to 65800.
        assert_eq!(bytes.len(), 65800);
        assert_eq!(decode(&bytes).unwrap(), vec![max.clone()]);

        let long_name = ExtendedAttribute::new(vec![b'N'; 256], Vec::new());
        let err = encode(&[max.clone(), long_name]).unwrap_err();
        assert_eq!(err, Error::NameTooLarge { index: 1, len: 256 });
        assert!(
            err.to_string()
                .starts_with("extended attribute name too large")
        );

        let long_value = ExtendedAttribute::new(b"V".to_vec(), vec![0; 65536]);
        let err = encode(&[long_value]).unwrap_err();
        assert_eq!(
            err,
            Error::ValueTooLarge {
                index: 0,
                len: 65536
            }
        );
        assert!(
            err.to_string()
                .starts_with("extended attribute value too large")
        );
    }

    #[test]
    fn encode_into_leaves_output_alone_on_error() {
        let mut out = b"prefix".to_vec();
        let bad = [
            ea("ok", b"1", 0),
            ExtendedAttribute::new(vec![0; 300], vec![]),
        ];
        assert!(encode_into(&bad, &mut out).is_err());
        assert_eq!(out, b"prefix");
        encode_into(&[ea("A", b"", 0)], &mut out).unwrap();
        assert_eq!(&out[6..], unhex("00000000 00 01 0000 41 00 0000"));
    }

    #[test]
    fn decode_is_lenient_like_go_winio() {
        // Bytes after the last entry are ignored.
        let mut bytes = unhex("00000000 00 01 0000 41 00 0000");
        bytes.extend_from_slice(b"garbage");
        assert_eq!(decode(&bytes).unwrap(), vec![ea("A", b"", 0)]);

        // The NUL after the name is not checked; neither is the padding.
        let bytes = unhex("00000000 00 01 0100 41 ff 42 eeee");
        assert_eq!(decode(&bytes).unwrap(), vec![ea("A", b"B", 0)]);

        // An unaligned NextEntryOffset, larger than the entry, is followed.
        let bytes = unhex("0b000000 00 01 0000 41 00 ff 00000000 00 01 0000 42 00");
        assert_eq!(
            decode(&bytes).unwrap(),
            vec![ea("A", b"", 0), ea("B", b"", 0)]
        );

        // NextEntryOffset equal to the rest of the buffer ends the chain.
        let bytes = unhex("0c000000 00 01 0000 41 00 0000");
        assert_eq!(decode(&bytes).unwrap(), vec![ea("A", b"", 0)]);
    }

    #[test]
    fn decode_errors_carry_offsets() {
        // Header cut short.
        assert_eq!(
            decode(&[0, 0, 0]),
            Err(Error::TruncatedHeader { offset: 0 })
        );
        // Value reaches past the end (the NUL must be inside the buffer too).
        assert_eq!(
            decode(&unhex("00000000 00 01 0000 41")),
            Err(Error::EntryPastEnd {
                offset: 0,
                needed: 10,
                available: 9
            })
        );
        // Second entry: value past the end, reported at its own offset.
        assert_eq!(
            decode(&unhex(
                "0c000000 00 01 0000 41 00 0000 00000000 00 01 0500 42 00 01"
            )),
            Err(Error::EntryPastEnd {
                offset: 12,
                needed: 15,
                available: 11
            })
        );
        // NextEntryOffset past the end.
        assert_eq!(
            decode(&unhex("0d000000 00 01 0000 41 00 0000")),
            Err(Error::NextEntryPastEnd {
                offset: 0,
                next: 13,
                available: 12
            })
        );
        assert_eq!(
            decode(&unhex("ffffffff 00 01 0000 41 00 0000")),
            Err(Error::NextEntryPastEnd {
                offset: 0,
                next: u32::MAX,
                available: 12
            })
        );
        // NextEntryOffset inside the entry (go-winio would accept 4 and re-read bytes).
        assert_eq!(
            decode(&unhex("04000000 00 01 0000 41 00 0000")),
            Err(Error::NextEntryInsideEntry {
                offset: 0,
                next: 4,
                entry_len: 10
            })
        );
    }

    fn arb_ea() -> impl Strategy<Value = ExtendedAttribute> {
        (
            proptest::collection::vec(any::<u8>(), 0..=MAX_NAME_LEN),
            prop_oneof![
                4 => proptest::collection::vec(any::<u8>(), 0..64),
                1 => proptest::collection::vec(any::<u8>(), 0..=MAX_VALUE_LEN),
            ],
            prop_oneof![Just(0u8), Just(FILE_NEED_EA), any::<u8>()],
        )
            .prop_map(|(name, value, flags)| ExtendedAttribute { name, value, flags })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(eas in proptest::collection::vec(arb_ea(), 0..6)) {
            let bytes = encode(&eas).unwrap();
            prop_assert_eq!(bytes.len() % 4, 0);
            prop_assert_eq!(decode(&bytes).unwrap(), eas);
        }

        #[test]
        fn unpadded_last_entry_still_decodes(eas in proptest::collection::vec(arb_ea(), 1..4)) {
            let mut bytes = encode(&eas).unwrap();
            let last = eas.last().unwrap();
            let used = 9usize.wrapping_add(last.name.len()).wrapping_add(last.value.len());
            let pad = used.wrapping_neg() % 4;
            bytes.truncate(bytes.len().saturating_sub(pad));
            prop_assert_eq!(decode(&bytes).unwrap(), eas);
        }

        #[test]
        fn truncated_encodings_never_panic(
            eas in proptest::collection::vec(arb_ea(), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = encode(&eas).unwrap();
            let _ = decode(&bytes[..cut.index(bytes.len())]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(eas) = decode(&bytes) {
                // Whatever decodes re-encodes within the limits.
                prop_assert!(encode(&eas).is_ok());
            }
        }
    }
}

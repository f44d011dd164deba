//! Reparse points: `REPARSE_DATA_BUFFER` for symbolic links and mount points
//! (docs/ea-reparse-sd.md §2).
//!
//! A backup stream of id 8 (`BACKUP_REPARSE_DATA`) carries a file's reparse point. The tar
//! mapping turns symbolic links and mount points (junctions) into tar symlinks (typeflag `2`,
//! with `MSWINDOWS.mountpoint=1` for a mount point) and back (docs/oci-tar-mapping.md §4.3).
//!
//! * [`ReparsePoint::from_target`] + [`ReparsePoint::encode`] build the buffer for a tar
//!   link target exactly as go-winio's `EncodeReparsePoint` does.
//! * [`ReparsePoint::decode`] reads the *print* name, as go-winio's `DecodeReparsePoint`
//!   does, but returns an error where go-winio panics or wraps its 16-bit arithmetic.
//! * Every other reparse tag (WCI, dedup, cloud files, app execution aliases, ...) decodes
//!   to [`ReparsePoint::Opaque`] holding the whole buffer, which encodes back byte for byte;
//!   the tar exporter refuses it with [`Error::Unsupported`], as go-winio does.
//!
//! ```
//! use wclayer_backup::reparse::ReparsePoint;
//!
//! let link = ReparsePoint::from_target(r"..\foo", false);
//! let bytes = link.encode()?;
//! assert_eq!(bytes.len(), 48);
//! let back = ReparsePoint::decode(&bytes)?;
//! assert_eq!(back.target(), Some(r"..\foo"));
//! assert!(!back.is_mount_point());
//! # Ok::<(), wclayer_backup::reparse::Error>(())
//! ```

use std::borrow::Cow;

/// `IO_REPARSE_TAG_MOUNT_POINT`: a junction or volume mount point (always a directory).
pub const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;

/// `IO_REPARSE_TAG_SYMLINK`: a symbolic link to a file or a directory.
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;

/// `SYMLINK_FLAG_RELATIVE`: bit 0 of a symbolic link's `Flags` field.
pub const SYMLINK_FLAG_RELATIVE: u32 = 1;

/// The fixed part every `REPARSE_DATA_BUFFER` starts with: `ReparseTag` (4),
/// `ReparseDataLength` (2), `Reserved` (2).
const GENERIC_HEADER_LEN: usize = 8;

/// The header of the two name-carrying layouts: the generic header plus
/// `SubstituteNameOffset`, `SubstituteNameLength`, `PrintNameOffset`, `PrintNameLength`.
const NAMES_HEADER_LEN: usize = 16;

/// Size of the symbolic link `Flags` field, between the name header and the path buffer.
const SYMLINK_FLAGS_LEN: usize = 4;

/// A reparse point, as carried by a backup stream of id 8.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReparsePoint {
    /// `IO_REPARSE_TAG_SYMLINK`: a symbolic link.
    Symlink {
        /// The print name (docs/ea-reparse-sd.md §2.3): the target as the user wrote it, e.g.
        /// `C:\target` or `..\foo`, with no `\??\` prefix; becomes the tar linkname.
        target: String,
        /// `SYMLINK_FLAG_RELATIVE` of the `Flags` field: decoded from the buffer as is, and
        /// computed from the target by [`ReparsePoint::from_target`] (§2.2 table).
        relative: bool,
    },
    /// `IO_REPARSE_TAG_MOUNT_POINT`: a junction or volume mount point. The layout has no
    /// `Flags` field.
    MountPoint {
        /// The print name (docs/ea-reparse-sd.md §2.3), e.g. `C:\dir` or
        /// `\\?\Volume{…}\`.
        target: String,
    },
    /// Any other tag, which wclayer neither interprets nor exports (go-winio fails with
    /// `unsupported reparse point <tag>`).
    Opaque {
        /// `ReparseTag`: the same value as the first four bytes of `data`.
        tag: u32,
        /// The whole `REPARSE_DATA_BUFFER` exactly as read, the 8-byte header included: the
        /// header's `ReparseDataLength` and `Reserved` fields may hold anything, so keeping
        /// them is the only way [`ReparsePoint::encode`] can give back the same bytes.
        data: Vec<u8>,
    },
}

/// An error encoding or decoding a `REPARSE_DATA_BUFFER`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a header field: shorter than 8 bytes for any tag, or than 16
    /// bytes for a symbolic link or mount point (go-winio panics on both).
    #[error("reparse point buffer of {len} bytes is shorter than its {needed}-byte header")]
    Truncated {
        /// Length of the buffer.
        len: usize,
        /// Bytes needed to read the header.
        needed: usize,
    },
    /// A tag other than symbolic link and mount point. [`ReparsePoint::decode`] never
    /// returns it (such buffers decode to [`ReparsePoint::Opaque`]); the tar exporter does,
    /// with go-winio's text.
    #[error("unsupported reparse point {tag:x}")]
    Unsupported {
        /// `ReparseTag`.
        tag: u32,
    },
    /// `8 + PrintNameOffset (+4 for a symlink)`, or that plus `PrintNameLength`, is above
    /// 0xFFFF; go-winio computes them in 16 bits and would wrap around.
    #[error(
        "reparse point print name offset {name_offset} with length {name_length} \
         overflows the 16-bit name range"
    )]
    NameRangeOverflow {
        /// `PrintNameOffset` (at buffer offset 12).
        name_offset: u16,
        /// `PrintNameLength` (at buffer offset 14).
        name_length: u16,
    },
    /// The print name reaches past the end of the buffer (go-winio panics).
    #[error("reparse point print name at {start}..{end} is past the end of the {len}-byte buffer")]
    NameOutOfBounds {
        /// Offset of the print name in the buffer.
        start: usize,
        /// Offset just past the print name.
        end: usize,
        /// Length of the buffer.
        len: usize,
    },
    /// `PrintNameLength` is odd, so the name is not whole UTF-16 code units (go-winio drops
    /// the last byte).
    #[error("reparse point print name at offset {start} has odd length {name_length}")]
    OddNameLength {
        /// Offset of the print name in the buffer.
        start: usize,
        /// `PrintNameLength`.
        name_length: u16,
    },
    /// The print name contains a NUL code unit (go-winio keeps it, and Go's tar writer then
    /// refuses the `linkpath` record).
    #[error("reparse point print name has a nul code unit at offset {offset}")]
    NulInName {
        /// Offset of the NUL code unit in the buffer.
        offset: usize,
    },
    /// The encoded names do not fit the 16-bit length and offset fields (go-winio truncates
    /// the fields silently).
    #[error("reparse point target too long: {data_length} bytes of reparse data, at most 65535")]
    TargetTooLong {
        /// The `ReparseDataLength` the target would need.
        data_length: usize,
    },
    /// The target to encode contains a NUL character, which the NUL-terminated names of the
    /// buffer cannot carry (and a tar linkname never holds).
    #[error("reparse point target has a nul character at byte {index}")]
    NulInTarget {
        /// Byte index of the NUL in the target.
        index: usize,
    },
    /// [`ReparsePoint::Opaque`] data that is not a buffer [`ReparsePoint::decode`] could have
    /// returned: shorter than 8 bytes, or not starting with `tag`.
    #[error("opaque reparse point data of {len} bytes does not start with tag {tag:x}")]
    OpaqueMismatch {
        /// The variant's `tag`.
        tag: u32,
        /// Length of its `data`.
        len: usize,
    },
    /// [`ReparsePoint::Opaque`] with the tag of a symbolic link or mount point, which decode
    /// as [`ReparsePoint::Symlink`] or [`ReparsePoint::MountPoint`] instead.
    #[error("opaque reparse point has the interpreted tag {tag:x}")]
    OpaqueKnownTag {
        /// The variant's `tag`.
        tag: u32,
    },
}

/// The NT ("substitute") name of a target and whether go-winio calls it relative
/// (docs/ea-reparse-sd.md §2.2 table).
fn substitute_name(target: &str) -> (Cow<'_, str>, bool) {
    if let Some(rest) = target.strip_prefix(r"\\?\") {
        (Cow::Owned(format!(r"\??\{rest}")), false)
    } else if let Some(rest) = target.strip_prefix(r"\\") {
        (Cow::Owned(format!(r"\??\UNC\{rest}")), false)
    } else if let [drive, b':', ..] = target.as_bytes()
        && drive.is_ascii_alphabetic()
    {
        // Also drive-relative targets such as `C:x`: go-winio only looks at two bytes.
        (Cow::Owned(format!(r"\??\{target}")), false)
    } else {
        (Cow::Borrowed(target), true)
    }
}

/// Bytes a name takes in the path buffer, its NUL terminator included.
fn name_bytes(units: usize) -> Option<usize> {
    units.checked_add(1)?.checked_mul(2)
}

/// Appends `s` as UTF-16LE followed by a NUL code unit.
fn push_utf16_nul(out: &mut Vec<u8>, s: &str) {
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out.extend_from_slice(&[0, 0]);
}

/// Encodes a symbolic link (`flags` is `Some`) or a mount point (`flags` is `None`) as
/// go-winio's `EncodeReparsePoint` does (docs/ea-reparse-sd.md §2.2 steps 2–6).
fn encode_names(tag: u32, target: &str, flags: Option<u32>) -> Result<Vec<u8>, Error> {
    if let Some(index) = target.find('\0') {
        return Err(Error::NulInTarget { index });
    }
    let (substitute, _) = substitute_name(target);
    let sub_units = substitute.encode_utf16().count();
    let print_units = target.encode_utf16().count();
    let flags_len = if flags.is_some() {
        SYMLINK_FLAGS_LEN
    } else {
        0
    };
    // ReparseDataLength = 8 + 2·|sub| + 2·|print| (+4), NULs counted; if it fits in a u16,
    // so do every offset and length below. Overflowing usize is "too long" as well.
    let sizes = name_bytes(sub_units).zip(name_bytes(print_units));
    let data_length = sizes
        .and_then(|(sub, print)| sub.checked_add(print))
        .and_then(|n| n.checked_add(NAMES_HEADER_LEN - GENERIC_HEADER_LEN))
        .and_then(|n| n.checked_add(flags_len))
        .unwrap_or(usize::MAX);
    let too_long = || Error::TargetTooLong { data_length };
    let field = |n: usize| u16::try_from(n).map_err(|_| too_long());
    let Some((sub_bytes, print_bytes)) = sizes else {
        return Err(too_long());
    };
    let reparse_data_length = field(data_length)?;
    let sub_len = field(sub_bytes.saturating_sub(2))?;
    let print_offset = field(sub_bytes)?;
    let print_len = field(print_bytes.saturating_sub(2))?;

    let mut out = Vec::with_capacity(GENERIC_HEADER_LEN.saturating_add(data_length));
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&reparse_data_length.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    out.extend_from_slice(&0u16.to_le_bytes()); // SubstituteNameOffset: the path buffer start
    out.extend_from_slice(&sub_len.to_le_bytes());
    out.extend_from_slice(&print_offset.to_le_bytes());
    out.extend_from_slice(&print_len.to_le_bytes());
    if let Some(flags) = flags {
        out.extend_from_slice(&flags.to_le_bytes());
    }
    // Both names are NUL-terminated although their lengths exclude the NUL; no padding.
    push_utf16_nul(&mut out, &substitute);
    push_utf16_nul(&mut out, target);
    Ok(out)
}

/// The little-endian `u16` at `offset`, or `None` if the buffer ends before it.
fn u16_at(buf: &[u8], offset: usize) -> Option<u16> {
    let bytes = buf.get(offset..)?.first_chunk::<2>()?;
    Some(u16::from_le_bytes(*bytes))
}

impl ReparsePoint {
    /// The reparse point go-winio's `EncodeReparsePoint` builds for a tar link target: a
    /// mount point if `is_mount_point`, else a symbolic link whose relative flag is set
    /// unless the target starts with `\\`, or with a drive letter and `:`
    /// (docs/ea-reparse-sd.md §2.2 table).
    ///
    /// The target is kept verbatim as the print name; the tar importer has already replaced
    /// `/` with `\`.
    #[must_use]
    pub fn from_target(target: &str, is_mount_point: bool) -> ReparsePoint {
        if is_mount_point {
            ReparsePoint::MountPoint {
                target: target.to_owned(),
            }
        } else {
            let (_, relative) = substitute_name(target);
            ReparsePoint::Symlink {
                target: target.to_owned(),
                relative,
            }
        }
    }

    /// Encodes the reparse point as a `REPARSE_DATA_BUFFER` (docs/ea-reparse-sd.md §2.2).
    ///
    /// Symbolic links and mount points are written byte for byte as go-winio writes them:
    /// the substitute name is derived from the target (`\??\` or `\??\UNC\` prefix), both
    /// names are NUL-terminated, and a symbolic link's `Flags` is 1 exactly when `relative`
    /// is set. Re-encoding a buffer Windows wrote therefore gives go-winio's bytes, not
    /// necessarily the original ones. [`ReparsePoint::Opaque`] gives back its `data`.
    ///
    /// # Errors
    ///
    /// [`Error::TargetTooLong`] when the names do not fit the 16-bit fields (a target of more
    /// than about 16 K UTF-16 units; go-winio would truncate the fields), [`Error::NulInTarget`]
    /// for a target containing NUL, and [`Error::OpaqueMismatch`] /
    /// [`Error::OpaqueKnownTag`] for opaque data [`ReparsePoint::decode`] cannot have
    /// produced.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        match self {
            ReparsePoint::Symlink { target, relative } => {
                let flags = if *relative { SYMLINK_FLAG_RELATIVE } else { 0 };
                encode_names(IO_REPARSE_TAG_SYMLINK, target, Some(flags))
            }
            ReparsePoint::MountPoint { target } => {
                encode_names(IO_REPARSE_TAG_MOUNT_POINT, target, None)
            }
            ReparsePoint::Opaque { tag, data } => {
                if matches!(*tag, IO_REPARSE_TAG_SYMLINK | IO_REPARSE_TAG_MOUNT_POINT) {
                    return Err(Error::OpaqueKnownTag { tag: *tag });
                }
                let starts_with_tag = data.len() >= GENERIC_HEADER_LEN
                    && data.first_chunk::<4>() == Some(&tag.to_le_bytes());
                if !starts_with_tag {
                    return Err(Error::OpaqueMismatch {
                        tag: *tag,
                        len: data.len(),
                    });
                }
                Ok(data.clone())
            }
        }
    }

    /// Decodes a `REPARSE_DATA_BUFFER` as go-winio's `DecodeReparsePoint` does
    /// (docs/ea-reparse-sd.md §2.3).
    ///
    /// The target is the **print** name, verbatim (no `\??\` stripping), decoded from
    /// UTF-16LE with unpaired surrogates replaced by U+FFFD. `ReparseDataLength`, the
    /// substitute name and the bytes around the print name are ignored. A symbolic link's
    /// `relative` is bit 0 of its `Flags` field. Tags other than symbolic link and mount
    /// point give [`ReparsePoint::Opaque`] with the whole buffer.
    ///
    /// # Errors
    ///
    /// Where go-winio would panic, wrap or keep a name Go's tar writer refuses, checked in
    /// this order: [`Error::Truncated`] (shorter than 8 bytes; then, for a symbolic link or
    /// mount point, shorter than 16), [`Error::NameRangeOverflow`],
    /// [`Error::NameOutOfBounds`], [`Error::OddNameLength`], [`Error::NulInName`]. Every
    /// other buffer decodes exactly as in go-winio.
    pub fn decode(buf: &[u8]) -> Result<ReparsePoint, Error> {
        let truncated = |needed| Error::Truncated {
            len: buf.len(),
            needed,
        };
        let Some((&tag_bytes, _)) = buf
            .get(..GENERIC_HEADER_LEN)
            .and_then(<[u8]>::split_first_chunk::<4>)
        else {
            return Err(truncated(GENERIC_HEADER_LEN));
        };
        let tag = u32::from_le_bytes(tag_bytes);
        let is_mount_point = match tag {
            IO_REPARSE_TAG_MOUNT_POINT => true,
            IO_REPARSE_TAG_SYMLINK => false,
            _ => {
                return Ok(ReparsePoint::Opaque {
                    tag,
                    data: buf.to_vec(),
                });
            }
        };
        let (Some(name_offset), Some(name_length)) = (u16_at(buf, 12), u16_at(buf, 14)) else {
            return Err(truncated(NAMES_HEADER_LEN));
        };

        // go-winio indexes the data after the 8-byte generic header with u16 arithmetic:
        // start = 8 + PrintNameOffset (+4 past a symlink's Flags), end = start + length.
        // Here the sums are exact (at most 0x2000A, far from saturating).
        let flags_len = if is_mount_point { 0 } else { SYMLINK_FLAGS_LEN };
        let data_start = usize::from(name_offset)
            .saturating_add(NAMES_HEADER_LEN - GENERIC_HEADER_LEN)
            .saturating_add(flags_len);
        let data_end = data_start.saturating_add(usize::from(name_length));
        if data_end > usize::from(u16::MAX) {
            // data_end >= data_start, so this covers both go-winio wrap-arounds.
            return Err(Error::NameRangeOverflow {
                name_offset,
                name_length,
            });
        }
        let start = data_start.saturating_add(GENERIC_HEADER_LEN);
        let end = data_end.saturating_add(GENERIC_HEADER_LEN);
        let Some(name) = buf.get(start..end) else {
            return Err(Error::NameOutOfBounds {
                start,
                end,
                len: buf.len(),
            });
        };
        let (units, []) = name.as_chunks::<2>() else {
            return Err(Error::OddNameLength { start, name_length });
        };
        if let Some(index) = units.iter().position(|&unit| unit == [0, 0]) {
            return Err(Error::NulInName {
                offset: start.saturating_add(index.saturating_mul(2)),
            });
        }
        let code_units = units.iter().map(|&unit| u16::from_le_bytes(unit));
        let target: String = char::decode_utf16(code_units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();

        if is_mount_point {
            return Ok(ReparsePoint::MountPoint { target });
        }
        // The name range starts at 20 or later for a symlink, so Flags is in the buffer.
        let Some(&flags) = buf
            .get(NAMES_HEADER_LEN..)
            .and_then(<[u8]>::first_chunk::<SYMLINK_FLAGS_LEN>)
        else {
            return Err(truncated(NAMES_HEADER_LEN + SYMLINK_FLAGS_LEN));
        };
        Ok(ReparsePoint::Symlink {
            target,
            relative: u32::from_le_bytes(flags) & SYMLINK_FLAG_RELATIVE != 0,
        })
    }

    /// `ReparseTag`: [`IO_REPARSE_TAG_SYMLINK`], [`IO_REPARSE_TAG_MOUNT_POINT`] or the opaque
    /// tag.
    #[must_use]
    pub fn tag(&self) -> u32 {
        match self {
            ReparsePoint::Symlink { .. } => IO_REPARSE_TAG_SYMLINK,
            ReparsePoint::MountPoint { .. } => IO_REPARSE_TAG_MOUNT_POINT,
            ReparsePoint::Opaque { tag, .. } => *tag,
        }
    }

    /// The link target (print name) of a symbolic link or mount point; `None` for an opaque
    /// reparse point.
    #[must_use]
    pub fn target(&self) -> Option<&str> {
        match self {
            ReparsePoint::Symlink { target, .. } | ReparsePoint::MountPoint { target } => {
                Some(target)
            }
            ReparsePoint::Opaque { .. } => None,
        }
    }

    /// Whether this is a mount point (`IO_REPARSE_TAG_MOUNT_POINT`): exported with
    /// `MSWINDOWS.mountpoint=1`.
    #[must_use]
    pub fn is_mount_point(&self) -> bool {
        matches!(self, ReparsePoint::MountPoint { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn utf16z(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        push_utf16_nul(&mut out, s);
        out
    }

    /// Checks one vector of docs/ea-reparse-sd.md §2.4: `from_target` encodes to exactly `bytes`,
    /// and `bytes` decode back to the same target and kind.
    fn check_vector(target: &str, mount: bool, bytes: &[u8], len: usize) {
        assert_eq!(bytes.len(), len, "{target}");
        let rp = ReparsePoint::from_target(target, mount);
        assert_eq!(
            hex::encode(rp.encode().unwrap()),
            hex::encode(bytes),
            "{target}"
        );
        let back = ReparsePoint::decode(bytes).unwrap();
        assert_eq!(back, rp, "{target}");
        assert_eq!(back.target(), Some(target));
        assert_eq!(back.is_mount_point(), mount);
        let tag = if mount {
            IO_REPARSE_TAG_MOUNT_POINT
        } else {
            IO_REPARSE_TAG_SYMLINK
        };
        assert_eq!(back.tag(), tag);
    }

    #[test]
    fn vector_absolute_symlink() {
        let bytes = unhex(
            "0c0000a0 3c00 0000 0000 1a00 1c00 1200 00000000 \
             5c003f003f005c0043003a005c00740061007200670065007400 0000 \
             43003a005c007400610072006700650074000000",
        );
        check_vector(r"C:\target", false, &bytes, 68);
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            ReparsePoint::Symlink {
                target: r"C:\target".into(),
                relative: false
            }
        );
    }

    #[test]
    fn vector_relative_symlink() {
        let bytes = unhex(
            "0c0000a0 2800 0000 0000 0c00 0e00 0c00 01000000 \
             2e002e005c0066006f006f00 0000 \
             2e002e005c0066006f006f000000",
        );
        check_vector(r"..\foo", false, &bytes, 48);
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            ReparsePoint::Symlink {
                target: r"..\foo".into(),
                relative: true
            }
        );
    }

    #[test]
    fn vector_unc_symlink() {
        let bytes = unhex(
            "0c0000a0 5400 0000 0000 2800 2a00 1c00 00000000 \
             5c003f003f005c0055004e0043005c007300650072007600650072005c0073006800610072006500 0000 \
             5c005c007300650072007600650072005c00730068006100720065000000",
        );
        check_vector(r"\\server\share", false, &bytes, 92);
    }

    #[test]
    fn vector_drive_mount_point() {
        let bytes = unhex(
            "030000a0 2c00 0000 0000 1400 1600 0c00 \
             5c003f003f005c0043003a005c00640069007200 0000 \
             43003a005c006400690072000000",
        );
        check_vector(r"C:\dir", true, &bytes, 52);
    }

    #[test]
    fn vector_relative_mount_point() {
        let bytes = unhex(
            "030000a0 1800 0000 0000 0600 0800 0600 \
             720065006c00 0000 \
             720065006c000000",
        );
        check_vector("rel", true, &bytes, 32);
    }

    #[test]
    fn vector_volume_mount_point() {
        let target = r"\\?\Volume{01234567-89ab-cdef-0123-456789abcdef}\";
        let mut bytes = unhex("030000a0 d000 0000 0000 6200 6400 6200");
        bytes.extend(utf16z(r"\??\Volume{01234567-89ab-cdef-0123-456789abcdef}\"));
        bytes.extend(utf16z(target));
        check_vector(target, true, &bytes, 216);
    }

    #[test]
    fn vector_file_symlink() {
        let bytes = unhex(
            "0c0000a0 3400 0000 0000 1200 1400 1200 01000000 \
             680065006c006c006f002e00740078007400 0000 \
             680065006c006c006f002e007400780074000000",
        );
        check_vector("hello.txt", false, &bytes, 60);
    }

    #[test]
    fn relative_flag_table() {
        // docs/ea-reparse-sd.md §2.2 step 1.
        let cases = [
            (r"\\?\C:\x", false),
            (r"\\server\share", false),
            (r"\\", false),
            (r"C:\x", false),
            ("c:x", false),
            ("Z:", false),
            ("1:x", true),
            ("C", true),
            (r"\x", true),
            ("/x", true),
            ("é:x", true),
            ("", true),
        ];
        for (target, relative) in cases {
            assert_eq!(
                ReparsePoint::from_target(target, false),
                ReparsePoint::Symlink {
                    target: target.into(),
                    relative
                },
                "{target}"
            );
        }
        // Substitute names for each row.
        assert_eq!(substitute_name(r"\\?\C:\x").0, r"\??\C:\x");
        assert_eq!(substitute_name(r"\\s\x").0, r"\??\UNC\s\x");
        assert_eq!(substitute_name("c:x").0, r"\??\c:x");
        assert_eq!(substitute_name(r"..\x").0, r"..\x");
    }

    #[test]
    fn decode_uses_print_name_and_flags_field() {
        // Windows puts the print name first; the substitute name differs from it.
        let mut bytes = unhex("0c0000a0 0000 0000 0a00 1000 0000 0800 01000000");
        bytes.extend(utf16z(r"C:\x"));
        bytes.extend(utf16z(r"\??\C:\x"));
        // ReparseDataLength (left 0 above) is ignored.
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            // The Flags field says relative although the target is absolute.
            ReparsePoint::Symlink {
                target: r"C:\x".into(),
                relative: true
            }
        );
        // Other Flags bits do not count.
        bytes[16] = 0xFE;
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            ReparsePoint::Symlink {
                target: r"C:\x".into(),
                relative: false
            }
        );
    }

    #[test]
    fn decode_keeps_prefix_and_decodes_surrogates() {
        // No `\??\` stripping: a print name that has the prefix keeps it.
        let mut bytes = unhex("030000a0 0000 0000 0000 0000 0000 0a00");
        bytes.extend(utf16z(r"\??\x"));
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap().target(),
            Some(r"\??\x")
        );

        // A surrogate pair combines; unpaired surrogates become U+FFFD.
        let mut bytes = unhex("030000a0 0000 0000 0000 0000 0000 0c00");
        bytes.extend(unhex("3dd8 00de 00d8 4100 00dc 4200"));
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap().target(),
            Some("\u{1F600}\u{FFFD}A\u{FFFD}B")
        );
    }

    #[test]
    fn empty_print_name() {
        let bytes = unhex("030000a0 0000 0000 0000 0000 0000 0000");
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            ReparsePoint::MountPoint {
                target: String::new()
            }
        );
        let bytes = unhex("0c0000a0 0000 0000 0000 0000 0000 0000 00000000");
        assert_eq!(
            ReparsePoint::decode(&bytes).unwrap(),
            ReparsePoint::Symlink {
                target: String::new(),
                relative: false
            }
        );
        // And the empty target encodes (relative, two lone NULs).
        let rp = ReparsePoint::from_target("", false);
        assert_eq!(
            hex::encode(rp.encode().unwrap()),
            "0c0000a0 1000 0000 0000 0000 0200 0000 01000000 0000 0000".replace(' ', "")
        );
        assert_eq!(ReparsePoint::decode(&rp.encode().unwrap()).unwrap(), rp);
    }

    #[test]
    fn hostile_inputs_in_order() {
        // 1. shorter than 8 bytes, whatever the tag.
        assert_eq!(
            ReparsePoint::decode(&[0x0c, 0, 0, 0xa0, 0, 0, 0]),
            Err(Error::Truncated { len: 7, needed: 8 })
        );
        assert_eq!(
            ReparsePoint::decode(&[]),
            Err(Error::Truncated { len: 0, needed: 8 })
        );
        // 2. an unknown tag with 8 bytes is opaque, not an error.
        let wci = unhex("180000a0 0000 0000");
        assert_eq!(
            ReparsePoint::decode(&wci),
            Ok(ReparsePoint::Opaque {
                tag: 0xA000_0018,
                data: wci.clone()
            })
        );
        // 3. symlink or mount point shorter than 16 bytes.
        assert_eq!(
            ReparsePoint::decode(&unhex("0c0000a0 0000 0000 0000 0000 ffff")),
            Err(Error::Truncated {
                len: 14,
                needed: 16
            })
        );
        // 4. 8 + PrintNameOffset + 4 above 0xFFFF (checked before the bounds).
        let err = ReparsePoint::decode(&unhex("0c0000a0 0000 0000 0000 0000 f4ff 0100"));
        assert_eq!(
            err,
            Err(Error::NameRangeOverflow {
                name_offset: 0xFFF4,
                name_length: 1
            })
        );
        // The same offset is fine for a mount point (no +4) until the length pushes it over.
        assert_eq!(
            ReparsePoint::decode(&unhex("030000a0 0000 0000 0000 0000 f4ff 0000")),
            Err(Error::NameOutOfBounds {
                start: 0x10004,
                end: 0x10004,
                len: 16
            })
        );
        assert_eq!(
            ReparsePoint::decode(&unhex("030000a0 0000 0000 0000 0000 f4ff 0400")),
            Err(Error::NameRangeOverflow {
                name_offset: 0xFFF4,
                name_length: 4
            })
        );
        // 5. name range past the end (odd length and NUL not looked at yet).
        assert_eq!(
            ReparsePoint::decode(&unhex("030000a0 0000 0000 0000 0000 0000 0300 0000")),
            Err(Error::NameOutOfBounds {
                start: 16,
                end: 19,
                len: 18
            })
        );
        // A symlink's name starts after Flags: 16 bytes and a zero length is out of bounds.
        assert_eq!(
            ReparsePoint::decode(&unhex("0c0000a0 0000 0000 0000 0000 0000 0000")),
            Err(Error::NameOutOfBounds {
                start: 20,
                end: 20,
                len: 16
            })
        );
        // 6. odd length (the NUL is only looked at afterwards).
        assert_eq!(
            ReparsePoint::decode(&unhex("030000a0 0000 0000 0000 0000 0000 0300 000000")),
            Err(Error::OddNameLength {
                start: 16,
                name_length: 3
            })
        );
        // 7. NUL code unit inside the print name.
        assert_eq!(
            ReparsePoint::decode(&unhex(
                "030000a0 0000 0000 0000 0000 0000 0600 4100 0000 4200"
            )),
            Err(Error::NulInName { offset: 18 })
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            Error::Unsupported { tag: 0x8000_0017 }.to_string(),
            "unsupported reparse point 80000017"
        );
        assert_eq!(
            Error::Unsupported { tag: 0x1b }.to_string(),
            "unsupported reparse point 1b"
        );
        assert_eq!(
            Error::Truncated { len: 3, needed: 8 }.to_string(),
            "reparse point buffer of 3 bytes is shorter than its 8-byte header"
        );
    }

    #[test]
    fn opaque_round_trip_and_checks() {
        let bytes = unhex("170000 80 0500 1234 0102030405");
        let rp = ReparsePoint::decode(&bytes).unwrap();
        assert_eq!(rp.tag(), 0x8000_0017);
        assert_eq!(rp.target(), None);
        assert!(!rp.is_mount_point());
        assert_eq!(rp.encode().unwrap(), bytes);

        assert_eq!(
            ReparsePoint::Opaque {
                tag: 0x8000_0017,
                data: bytes[..7].to_vec()
            }
            .encode(),
            Err(Error::OpaqueMismatch {
                tag: 0x8000_0017,
                len: 7
            })
        );
        assert_eq!(
            ReparsePoint::Opaque {
                tag: 0x8000_0018,
                data: bytes.clone()
            }
            .encode(),
            Err(Error::OpaqueMismatch {
                tag: 0x8000_0018,
                len: 13
            })
        );
        let mount = ReparsePoint::from_target("x", true).encode().unwrap();
        assert_eq!(
            ReparsePoint::Opaque {
                tag: IO_REPARSE_TAG_MOUNT_POINT,
                data: mount
            }
            .encode(),
            Err(Error::OpaqueKnownTag {
                tag: IO_REPARSE_TAG_MOUNT_POINT
            })
        );
    }

    #[test]
    fn encode_length_limits() {
        // Relative symlink: 12 + 4·(n + 1) <= 65535 allows n = 16379.
        let ok = "a".repeat(16_379);
        let bytes = ReparsePoint::from_target(&ok, false).encode().unwrap();
        assert_eq!(bytes.len(), 8 + 65_532);
        assert_eq!(ReparsePoint::decode(&bytes).unwrap().target(), Some(&*ok));
        let long = "a".repeat(16_380);
        assert_eq!(
            ReparsePoint::from_target(&long, false).encode(),
            Err(Error::TargetTooLong {
                data_length: 65_536
            })
        );
        // Mount point: no Flags, so one unit more fits.
        let bytes = ReparsePoint::from_target(&long, true).encode().unwrap();
        assert_eq!(ReparsePoint::decode(&bytes).unwrap().target(), Some(&*long));
        assert!(matches!(
            ReparsePoint::from_target(&"a".repeat(16_381), true).encode(),
            Err(Error::TargetTooLong { .. })
        ));
        // A UNC target's substitute name is 6 units longer than the target:
        // 36 + 4·n <= 65535 allows n = 16374 characters after the `\\`.
        let unc = format!(r"\\{}", "a".repeat(16_374));
        assert!(ReparsePoint::from_target(&unc, false).encode().is_ok());
        let unc = format!(r"\\{}", "a".repeat(16_375));
        assert!(matches!(
            ReparsePoint::from_target(&unc, false).encode(),
            Err(Error::TargetTooLong { .. })
        ));
        // Characters outside the BMP count twice.
        let wide = "\u{1F600}".repeat(8_190);
        assert!(matches!(
            ReparsePoint::from_target(&wide, false).encode(),
            Err(Error::TargetTooLong { .. })
        ));
    }

    #[test]
    fn encode_rejects_nul() {
        assert_eq!(
            ReparsePoint::from_target("a\0b", false).encode(),
            Err(Error::NulInTarget { index: 1 })
        );
    }

    fn arb_target() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^\0]{0,40}",
            r"[A-Za-z]:[\\a-z.]{0,20}",
            r"\\\\\?\\[^\x00]{0,20}",
            r"\\\\[a-z\\]{0,20}",
            r"[.a-z\\/]{0,20}",
        ]
    }

    proptest! {
        #[test]
        fn from_target_round_trip(target in arb_target(), mount: bool) {
            let rp = ReparsePoint::from_target(&target, mount);
            let bytes = rp.encode().unwrap();
            let back = ReparsePoint::decode(&bytes).unwrap();
            prop_assert_eq!(back.target(), Some(target.as_str()));
            prop_assert_eq!(back.is_mount_point(), mount);
            prop_assert_eq!(&back, &rp);
            prop_assert_eq!(back.encode().unwrap(), bytes);
        }

        #[test]
        fn opaque_round_trip(
            tag in any::<u32>().prop_filter("interpreted tag", |t| {
                *t != IO_REPARSE_TAG_SYMLINK && *t != IO_REPARSE_TAG_MOUNT_POINT
            }),
            rest in proptest::collection::vec(any::<u8>(), 4..64),
        ) {
            let mut bytes = tag.to_le_bytes().to_vec();
            bytes.extend(rest);
            let rp = ReparsePoint::decode(&bytes).unwrap();
            prop_assert_eq!(rp.tag(), tag);
            prop_assert_eq!(rp.encode().unwrap(), bytes);
        }

        #[test]
        fn truncated_buffers_never_panic(
            target in arb_target(),
            mount: bool,
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = ReparsePoint::from_target(&target, mount).encode().unwrap();
            let _ = ReparsePoint::decode(&bytes[..cut.index(bytes.len())]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            tag in prop_oneof![
                Just(IO_REPARSE_TAG_SYMLINK),
                Just(IO_REPARSE_TAG_MOUNT_POINT),
                any::<u32>(),
            ],
            rest in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut bytes = tag.to_le_bytes().to_vec();
            bytes.extend(rest);
            for len in 0..=bytes.len() {
                if let Ok(rp) = ReparsePoint::decode(&bytes[..len]) {
                    // Whatever decodes encodes again, and to something that decodes the same.
                    let again = rp.encode().unwrap();
                    prop_assert_eq!(ReparsePoint::decode(&again).unwrap(), rp);
                }
            }
        }
    }
}

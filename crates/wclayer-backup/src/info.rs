//! `FILE_ATTRIBUTE_*`, `FILE_BASIC_INFO` and `FILE_ID_INFO` (docs/backup-stream.md §8–§10).

use std::fmt;

use crate::{Error, FileTime};

/// The `FILE_ATTRIBUTE_*` bits of a file, as a raw `u32`.
///
/// Every bit is kept, named or not: the tar format carries the whole value
/// (`MSWINDOWS.fileattr`), so unknown bits must round-trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileAttributes(pub u32);

impl FileAttributes {
    /// `FILE_ATTRIBUTE_READONLY`.
    pub const READONLY: FileAttributes = FileAttributes(0x1);
    /// `FILE_ATTRIBUTE_HIDDEN`.
    pub const HIDDEN: FileAttributes = FileAttributes(0x2);
    /// `FILE_ATTRIBUTE_SYSTEM`.
    pub const SYSTEM: FileAttributes = FileAttributes(0x4);
    /// `FILE_ATTRIBUTE_DIRECTORY`: decides directory creation and tar typeflag `5`.
    pub const DIRECTORY: FileAttributes = FileAttributes(0x10);
    /// `FILE_ATTRIBUTE_ARCHIVE`: the usual attribute of a regular file (32).
    pub const ARCHIVE: FileAttributes = FileAttributes(0x20);
    /// `FILE_ATTRIBUTE_DEVICE`.
    pub const DEVICE: FileAttributes = FileAttributes(0x40);
    /// `FILE_ATTRIBUTE_NORMAL`: used alone, when no other attribute is set.
    pub const NORMAL: FileAttributes = FileAttributes(0x80);
    /// `FILE_ATTRIBUTE_TEMPORARY`.
    pub const TEMPORARY: FileAttributes = FileAttributes(0x100);
    /// `FILE_ATTRIBUTE_SPARSE_FILE`.
    pub const SPARSE_FILE: FileAttributes = FileAttributes(0x200);
    /// `FILE_ATTRIBUTE_REPARSE_POINT`: a symbolic link, junction or other reparse point.
    pub const REPARSE_POINT: FileAttributes = FileAttributes(0x400);
    /// `FILE_ATTRIBUTE_COMPRESSED`.
    pub const COMPRESSED: FileAttributes = FileAttributes(0x800);
    /// `FILE_ATTRIBUTE_OFFLINE`.
    pub const OFFLINE: FileAttributes = FileAttributes(0x1000);
    /// `FILE_ATTRIBUTE_NOT_CONTENT_INDEXED`.
    pub const NOT_CONTENT_INDEXED: FileAttributes = FileAttributes(0x2000);
    /// `FILE_ATTRIBUTE_ENCRYPTED`.
    pub const ENCRYPTED: FileAttributes = FileAttributes(0x4000);
    /// `FILE_ATTRIBUTE_INTEGRITY_STREAM`.
    pub const INTEGRITY_STREAM: FileAttributes = FileAttributes(0x8000);
    /// `FILE_ATTRIBUTE_VIRTUAL`.
    pub const VIRTUAL: FileAttributes = FileAttributes(0x1_0000);
    /// `FILE_ATTRIBUTE_NO_SCRUB_DATA`.
    pub const NO_SCRUB_DATA: FileAttributes = FileAttributes(0x2_0000);
    /// `FILE_ATTRIBUTE_RECALL_ON_OPEN`.
    pub const RECALL_ON_OPEN: FileAttributes = FileAttributes(0x4_0000);
    /// `FILE_ATTRIBUTE_PINNED`.
    pub const PINNED: FileAttributes = FileAttributes(0x8_0000);
    /// `FILE_ATTRIBUTE_UNPINNED`.
    pub const UNPINNED: FileAttributes = FileAttributes(0x10_0000);
    /// `FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS`.
    pub const RECALL_ON_DATA_ACCESS: FileAttributes = FileAttributes(0x40_0000);

    const NAMES: [(FileAttributes, &'static str); 21] = [
        (Self::READONLY, "READONLY"),
        (Self::HIDDEN, "HIDDEN"),
        (Self::SYSTEM, "SYSTEM"),
        (Self::DIRECTORY, "DIRECTORY"),
        (Self::ARCHIVE, "ARCHIVE"),
        (Self::DEVICE, "DEVICE"),
        (Self::NORMAL, "NORMAL"),
        (Self::TEMPORARY, "TEMPORARY"),
        (Self::SPARSE_FILE, "SPARSE_FILE"),
        (Self::REPARSE_POINT, "REPARSE_POINT"),
        (Self::COMPRESSED, "COMPRESSED"),
        (Self::OFFLINE, "OFFLINE"),
        (Self::NOT_CONTENT_INDEXED, "NOT_CONTENT_INDEXED"),
        (Self::ENCRYPTED, "ENCRYPTED"),
        (Self::INTEGRITY_STREAM, "INTEGRITY_STREAM"),
        (Self::VIRTUAL, "VIRTUAL"),
        (Self::NO_SCRUB_DATA, "NO_SCRUB_DATA"),
        (Self::RECALL_ON_OPEN, "RECALL_ON_OPEN"),
        (Self::PINNED, "PINNED"),
        (Self::UNPINNED, "UNPINNED"),
        (Self::RECALL_ON_DATA_ACCESS, "RECALL_ON_DATA_ACCESS"),
    ];

    /// Whether every bit of `other` is set.
    #[must_use]
    pub fn contains(self, other: FileAttributes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether this is a directory (`FILE_ATTRIBUTE_DIRECTORY`).
    #[must_use]
    pub fn is_directory(self) -> bool {
        self.contains(Self::DIRECTORY)
    }

    /// Whether this is a reparse point (`FILE_ATTRIBUTE_REPARSE_POINT`).
    #[must_use]
    pub fn is_reparse_point(self) -> bool {
        self.contains(Self::REPARSE_POINT)
    }

    /// The value with the bits of `other` set.
    #[must_use]
    pub fn with(self, other: FileAttributes) -> FileAttributes {
        FileAttributes(self.0 | other.0)
    }

    /// The value with the bits of `other` cleared.
    #[must_use]
    pub fn without(self, other: FileAttributes) -> FileAttributes {
        FileAttributes(self.0 & !other.0)
    }
}

impl fmt::Debug for FileAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileAttributes({:#x} = {})", self.0, self)
    }
}

impl fmt::Display for FileAttributes {
    /// `ARCHIVE|READONLY`-style names, unknown bits in hex, `0` for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0");
        }
        let mut rest = self.0;
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if rest & flag.0 != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// `FILE_BASIC_INFO`: the four times and the attributes of a file, as
/// `GetFileInformationByHandleEx(FileBasicInfo)` returns them (40 bytes, 8-byte aligned).
///
/// When setting, Windows treats a zero time or zero attributes as "leave unchanged".
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FileBasicInfo {
    /// `CreationTime`.
    pub creation_time: FileTime,
    /// `LastAccessTime`.
    pub last_access_time: FileTime,
    /// `LastWriteTime` (the tar mtime).
    pub last_write_time: FileTime,
    /// `ChangeTime`: the last change of the file's metadata (the tar ctime).
    pub change_time: FileTime,
    /// `FileAttributes`.
    pub file_attributes: FileAttributes,
}

impl FileBasicInfo {
    /// Encoded size: four FILETIMEs, the attributes and 4 bytes of padding.
    pub const SIZE: usize = 40;

    /// Encodes the structure as Windows lays it out, padding zeroed.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let parts = [
            self.creation_time.to_le_bytes(),
            self.last_access_time.to_le_bytes(),
            self.last_write_time.to_le_bytes(),
            self.change_time.to_le_bytes(),
        ];
        for (dst, src) in out.chunks_exact_mut(8).zip(parts) {
            dst.copy_from_slice(&src);
        }
        for (dst, src) in out
            .iter_mut()
            .skip(32)
            .zip(self.file_attributes.0.to_le_bytes())
        {
            *dst = src;
        }
        out
    }

    /// Decodes the 40-byte structure. The padding is ignored.
    ///
    /// # Errors
    /// [`Error::Truncated`] when `bytes` is shorter than 40 bytes; longer input is rejected
    /// with [`Error::TrailingBytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<FileBasicInfo, Error> {
        let b = exact::<{ Self::SIZE }>(bytes, "FILE_BASIC_INFO")?;
        let t = |i: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(b.get(i..i.saturating_add(8)).unwrap_or(&[0; 8]));
            FileTime::from_le_bytes(v)
        };
        let mut a = [0u8; 4];
        a.copy_from_slice(b.get(32..36).unwrap_or(&[0; 4]));
        Ok(FileBasicInfo {
            creation_time: t(0),
            last_access_time: t(8),
            last_write_time: t(16),
            change_time: t(24),
            file_attributes: FileAttributes(u32::from_le_bytes(a)),
        })
    }
}

/// `FILE_ID_INFO`: the volume serial number and the 128-bit file id, which together identify
/// a file; layer readers report it so that exports can detect hard links.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct FileIdInfo {
    /// `VolumeSerialNumber`.
    pub volume_serial_number: u64,
    /// `FileId` (`FILE_ID_128`), opaque.
    pub file_id: [u8; 16],
}

impl FileIdInfo {
    /// Encoded size.
    pub const SIZE: usize = 24;

    /// Builds an id from a 64-bit number (an inode, an index), little-endian in the low half.
    #[must_use]
    pub fn from_u64(volume_serial_number: u64, id: u64) -> FileIdInfo {
        let mut file_id = [0u8; 16];
        for (dst, src) in file_id.iter_mut().zip(id.to_le_bytes()) {
            *dst = src;
        }
        FileIdInfo {
            volume_serial_number,
            file_id,
        }
    }

    /// Encodes the 24-byte structure.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (dst, src) in out.iter_mut().zip(
            self.volume_serial_number
                .to_le_bytes()
                .iter()
                .chain(&self.file_id),
        ) {
            *dst = *src;
        }
        out
    }

    /// Decodes the 24-byte structure.
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::TrailingBytes`] when `bytes` is not 24 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<FileIdInfo, Error> {
        let b = exact::<{ Self::SIZE }>(bytes, "FILE_ID_INFO")?;
        let (vol, id) = b.split_at(8);
        let mut v = [0u8; 8];
        v.copy_from_slice(vol);
        let mut file_id = [0u8; 16];
        file_id.copy_from_slice(id);
        Ok(FileIdInfo {
            volume_serial_number: u64::from_le_bytes(v),
            file_id,
        })
    }
}

fn exact<'a, const N: usize>(bytes: &'a [u8], what: &'static str) -> Result<&'a [u8; N], Error> {
    match bytes.len() {
        n if n < N => Err(Error::Truncated {
            what,
            offset: n as u64,
        }),
        n if n > N => Err(Error::TrailingBytes {
            what,
            offset: N as u64,
        }),
        _ => bytes
            .try_into()
            .map_err(|_| Error::Truncated { what, offset: 0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_info_layout() {
        let info = FileBasicInfo {
            creation_time: FileTime(132_540_302_451_234_567),
            last_access_time: FileTime(1),
            last_write_time: FileTime(2),
            change_time: FileTime(u64::MAX),
            file_attributes: FileAttributes(0x420),
        };
        let b = info.to_bytes();
        assert_eq!(hex::encode(&b[..8]), "075707eeb3e0d601");
        assert_eq!(&b[32..36], &[0x20, 0x04, 0, 0]);
        assert_eq!(&b[36..], &[0; 4]);
        assert_eq!(FileBasicInfo::from_bytes(&b).unwrap(), info);
        assert!(FileBasicInfo::from_bytes(&b[..39]).is_err());
        assert!(FileBasicInfo::from_bytes(&[0; 41]).is_err());
    }

    #[test]
    fn attributes_display() {
        assert_eq!(FileAttributes(0x420).to_string(), "ARCHIVE|REPARSE_POINT");
        assert_eq!(
            FileAttributes(0x8000_0011).to_string(),
            "READONLY|DIRECTORY|0x80000000"
        );
        assert_eq!(FileAttributes(0).to_string(), "0");
    }

    proptest::proptest! {
        #[test]
        fn basic_info_round_trip(c: u64, a: u64, w: u64, ch: u64, attr: u32) {
            let info = FileBasicInfo {
                creation_time: FileTime(c), last_access_time: FileTime(a),
                last_write_time: FileTime(w), change_time: FileTime(ch),
                file_attributes: FileAttributes(attr),
            };
            proptest::prop_assert_eq!(FileBasicInfo::from_bytes(&info.to_bytes()).unwrap(), info);
        }

        #[test]
        fn file_id_round_trip(v: u64, id: [u8; 16]) {
            let f = FileIdInfo { volume_serial_number: v, file_id: id };
            proptest::prop_assert_eq!(FileIdInfo::from_bytes(&f.to_bytes()).unwrap(), f);
        }

        #[test]
        fn decoders_never_panic(bytes: Vec<u8>) {
            let _ = FileBasicInfo::from_bytes(&bytes);
            let _ = FileIdInfo::from_bytes(&bytes);
        }
    }
}

//! The `user.wclayer.*` extended attributes and the sidecar directory: what a transport
//! folder's plain files cannot hold on Linux (docs/layer-semantics.md §0.5). The format is
//! described for users in [`crate::format`]; this module is its one implementation.

use std::fs::File;
use std::io::{self, Read};

use wclayer_fs::{AsOsHandle, Dir, Metadata, xattr};

use wclayer_backup::{FileAttributes, FileBasicInfo, FileTime};

use crate::Error;

/// On the folder's root directory: the metadata format version, ASCII `1`. Its presence is
/// what makes a reader treat the folder as written by wclayer (lossless) rather than as one
/// that came from Windows (hcsshim's legacy reader rules, docs/layer-semantics.md §0.3).
pub(crate) const XATTR_FOLDER: &str = "user.wclayer.folder";
/// The value of [`XATTR_FOLDER`] this version writes and reads.
pub(crate) const FOLDER_VERSION: &[u8] = b"1";
/// On every object that stands for an entry: the four FILETIMEs.
pub(crate) const XATTR_TIMES: &str = "user.wclayer.times";
/// On plain objects (`Hives\` files, `UtilityVM` files and directories): attributes and the
/// backup stream without the data the plain file holds.
pub(crate) const XATTR_STREAM: &str = "user.wclayer.stream";
/// On directories that exist only as parents of other names (implicit directories).
pub(crate) const XATTR_IMPLICIT: &str = "user.wclayer.implicit";
/// On the folder's root directory: the tombstones `tombstones.txt` cannot hold.
pub(crate) const XATTR_TOMBSTONES: &str = "user.wclayer.tombstones";
/// On an object stored under a derived name (`wclayer_fs::names`): the entry's real last
/// component, UTF-8.
pub(crate) const XATTR_NAME: &str = "user.wclayer.name";

/// The sidecar directory at the folder's root holding metadata too large for an extended
/// attribute. Its name ends in `.$wcidirs$`, so both hcsshim's legacy reader and ours skip
/// it, and it is `<X>.$wcidirs$` only for an `X` that itself ends in `.$wcidirs$`, which no
/// entry may (so no directory's `.$wcidirs$` file can ever collide with it).
pub(crate) const SIDECAR_DIR: &str = "wclayer-sidecar.$wcidirs$.$wcidirs$";
/// Payloads up to this many bytes are kept inside their extended attribute; larger ones go
/// to a sidecar file. ext4 keeps all attributes of an inode in one 4 KiB block (unless
/// `ea_inode` is enabled), shared with SELinux labels and ACLs, so 1 KiB leaves room.
pub(crate) const INLINE_LIMIT: usize = 1024;

/// The sidecar file of blob `n`. The `.$wcidirs$` suffix keeps hcsshim's legacy reader,
/// which descends into `.$wcidirs$` directories, from reporting it as an entry.
pub(crate) fn blob_name(n: u64) -> String {
    format!("{n}.$wcidirs$")
}

/// Where a variable-length payload lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// Inside the attribute.
    Inline(Vec<u8>),
    /// In sidecar blob `blob`, exactly `len` bytes long.
    Sidecar {
        /// The blob number.
        blob: u64,
        /// Its length.
        len: u64,
    },
}

const TAG_INLINE: u8 = 0;
const TAG_SIDECAR: u8 = 1;

impl Payload {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Inline(b) => {
                out.push(TAG_INLINE);
                out.extend_from_slice(b);
            }
            Payload::Sidecar { blob, len } => {
                out.push(TAG_SIDECAR);
                out.extend_from_slice(&blob.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
            }
        }
    }

    fn decode(b: &[u8]) -> Result<Payload, &'static str> {
        match b.split_first() {
            Some((&TAG_INLINE, rest)) => Ok(Payload::Inline(rest.to_vec())),
            Some((&TAG_SIDECAR, rest)) => {
                let (blob, rest) = take_u64(rest).ok_or("truncated sidecar reference")?;
                let (len, rest) = take_u64(rest).ok_or("truncated sidecar reference")?;
                if !rest.is_empty() {
                    return Err("bytes after the sidecar reference");
                }
                Ok(Payload::Sidecar { blob, len })
            }
            Some(_) => Err("unknown payload tag"),
            None => Err("empty payload"),
        }
    }
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_at_checked(8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

fn take_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_at_checked(4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), rest))
}

/// `user.wclayer.times`: creation, last access, last write and change time, each a u64 LE
/// FILETIME, in `FILE_BASIC_INFO` order (32 bytes).
pub(crate) fn encode_times(info: &FileBasicInfo) -> [u8; 32] {
    let mut out = [0u8; 32];
    let times = [
        info.creation_time,
        info.last_access_time,
        info.last_write_time,
        info.change_time,
    ];
    for (dst, t) in out.chunks_exact_mut(8).zip(times) {
        dst.copy_from_slice(&t.to_le_bytes());
    }
    out
}

/// Decodes `user.wclayer.times` into a [`FileBasicInfo`] with the given attributes.
pub(crate) fn decode_times(
    b: &[u8],
    attributes: FileAttributes,
) -> Result<FileBasicInfo, &'static str> {
    if b.len() != 32 {
        return Err("not 32 bytes");
    }
    let mut t = [FileTime(0); 4];
    for (dst, src) in t.iter_mut().zip(b.chunks_exact(8)) {
        *dst = FileTime(u64::from_le_bytes(
            src.try_into().map_err(|_| "not 32 bytes")?,
        ));
    }
    let [
        creation_time,
        last_access_time,
        last_write_time,
        change_time,
    ] = t;
    Ok(FileBasicInfo {
        creation_time,
        last_access_time,
        last_write_time,
        change_time,
        file_attributes: attributes,
    })
}

/// `user.wclayer.stream` of a plain object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamRecord {
    /// The entry's `FileAttributes` (a plain file has no room for them).
    pub(crate) attributes: FileAttributes,
    /// Where the plain file's content goes back into the stream: the offset in the template
    /// and the content's length. `None` when the plain file's content is not part of the
    /// stream (a directory, a file without a data stream, a sparse file whose blocks are in
    /// the template).
    pub(crate) cut: Option<(u64, u64)>,
    /// The backup stream without the cut data.
    pub(crate) template: Payload,
}

const STREAM_VERSION: u8 = 1;
const NO_CUT: u64 = u64::MAX;

impl StreamRecord {
    /// `u8 version (1) | u32 LE attributes | u64 LE cut offset (all ones: none) | u64 LE cut
    /// length | payload`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21 + 17);
        out.push(STREAM_VERSION);
        out.extend_from_slice(&self.attributes.0.to_le_bytes());
        let (off, len) = self.cut.unwrap_or((NO_CUT, 0));
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        self.template.encode_into(&mut out);
        out
    }

    pub(crate) fn decode(b: &[u8]) -> Result<StreamRecord, &'static str> {
        let (&version, rest) = b.split_first().ok_or("empty")?;
        if version != STREAM_VERSION {
            return Err("unknown record version");
        }
        let (attributes, rest) = take_u32(rest).ok_or("truncated")?;
        let (off, rest) = take_u64(rest).ok_or("truncated")?;
        let (len, rest) = take_u64(rest).ok_or("truncated")?;
        let cut = if off == NO_CUT {
            if len != 0 {
                return Err("content length without a cut offset");
            }
            None
        } else {
            Some((off, len))
        };
        let template = Payload::decode(rest)?;
        if let (Some((off, _)), Payload::Inline(t)) = (cut, &template)
            && off > t.len() as u64
        {
            return Err("cut offset beyond the template");
        }
        if let (Some((off, _)), Payload::Sidecar { len, .. }) = (cut, &template)
            && off > *len
        {
            return Err("cut offset beyond the template");
        }
        Ok(StreamRecord {
            attributes: FileAttributes(attributes),
            cut,
            template,
        })
    }
}

/// The content of `user.wclayer.tombstones`: for each tombstone `tombstones.txt` cannot
/// hold, its position in the layer's `remove` order (counting every tombstone) and its
/// name: `u64 LE index | u32 LE length | UTF-8 name (`\`-separated)`, repeated.
pub(crate) fn encode_extra_tombstones(extras: &[(u64, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, name) in extras {
        out.extend_from_slice(&index.to_le_bytes());
        // Layer names are at most 32 766 UTF-16 units, far below 4 GiB of UTF-8.
        out.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out
}

/// Decodes [`encode_extra_tombstones`].
pub(crate) fn decode_extra_tombstones(mut b: &[u8]) -> Result<Vec<(u64, String)>, &'static str> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (index, rest) = take_u64(b).ok_or("truncated record")?;
        let (len, rest) = take_u32(rest).ok_or("truncated record")?;
        let len = usize::try_from(len).map_err(|_| "record too long")?;
        let (name, rest) = rest.split_at_checked(len).ok_or("truncated name")?;
        let name = std::str::from_utf8(name).map_err(|_| "name is not UTF-8")?;
        out.push((index, name.to_string()));
        b = rest;
    }
    Ok(out)
}

/// Writes metadata blobs into the sidecar directory, created on first use.
#[derive(Debug, Default)]
pub(crate) struct Sidecars {
    dir: Option<Dir>,
    next: u64,
}

impl Sidecars {
    /// Creates the next blob file and returns its number and the open file.
    pub(crate) fn create(&mut self, root: &Dir) -> io::Result<(u64, File)> {
        let dir = match &self.dir {
            Some(d) => d,
            None => {
                root.create_dir(SIDECAR_DIR)?;
                self.dir.insert(root.open_dir(SIDECAR_DIR)?)
            }
        };
        let n = self.next;
        self.next = self.next.saturating_add(1);
        Ok((n, dir.create_file(blob_name(n))?))
    }

    /// Stores `bytes` as a payload: inline when small, else in a new blob.
    pub(crate) fn store(
        &mut self,
        root: &Dir,
        bytes: Vec<u8>,
        force_sidecar: bool,
    ) -> io::Result<Payload> {
        if bytes.len() <= INLINE_LIMIT && !force_sidecar {
            return Ok(Payload::Inline(bytes));
        }
        let (blob, mut f) = self.create(root)?;
        io::Write::write_all(&mut f, &bytes)?;
        Ok(Payload::Sidecar {
            blob,
            len: bytes.len() as u64,
        })
    }
}

/// Sets the payload-carrying attribute `attr` on `fd`, built by `encode` from a payload;
/// when the file system refuses an inline value as too large, the payload moves to a
/// sidecar blob and the attribute is set again.
pub(crate) fn set_payload_xattr(
    fd: impl AsOsHandle,
    attr: &'static str,
    path: &str,
    root: &Dir,
    sidecars: &mut Sidecars,
    payload: Payload,
    encode: impl Fn(Payload) -> Vec<u8>,
) -> Result<(), Error> {
    let fd = fd.as_os_handle();
    let inline = match &payload {
        Payload::Inline(b) => Some(b.clone()),
        Payload::Sidecar { .. } => None,
    };
    match xattr::set(fd, attr, &encode(payload)) {
        Ok(()) => Ok(()),
        Err(e) if xattr::is_too_big(&e) && inline.is_some() => {
            let moved = sidecars
                .store(root, inline.unwrap_or_default(), true)
                .map_err(|e| Error::io("write metadata sidecar", path, e))?;
            xattr::set(fd, attr, &encode(moved)).map_err(|e| xattr_error(path, e))
        }
        Err(e) => Err(xattr_error(path, e)),
    }
}

/// Maps an extended-attribute failure, naming a missing feature clearly.
pub(crate) fn xattr_error(path: &str, e: io::Error) -> Error {
    if xattr::is_unsupported(&e) {
        Error::XattrUnsupported {
            path: path.to_string(),
            source: e,
        }
    } else {
        Error::io("set extended attribute", path, e)
    }
}

/// Opens the sidecar blob of `payload` (which must be [`Payload::Sidecar`]) below `root`,
/// checking its length.
pub(crate) fn open_blob(
    root: &Dir,
    blob: u64,
    len: u64,
    owner: &str,
    attr: &'static str,
) -> Result<File, Error> {
    let name = blob_name(blob);
    let shown = format!("{SIDECAR_DIR}/{name}");
    let f = root
        .open_file(std::path::Path::new(SIDECAR_DIR).join(&name))
        .map_err(|e| Error::io("open metadata sidecar", shown.clone(), e))?;
    let found = Metadata::of(&f)
        .map_err(|e| Error::io("stat metadata sidecar", shown.clone(), e))?
        .size;
    if found != len {
        return Err(Error::meta(
            attr,
            owner,
            format!("sidecar {shown} is {found} bytes, the attribute records {len}"),
        ));
    }
    Ok(f)
}

/// Reads a whole payload (for small-by-nature payloads such as the tombstone list) of at
/// most `max` bytes: a larger one is refused before anything is read.
pub(crate) fn read_payload(
    root: &Dir,
    payload: Payload,
    owner: &str,
    attr: &'static str,
    max: u64,
) -> Result<Vec<u8>, Error> {
    match payload {
        Payload::Inline(b) => Ok(b),
        Payload::Sidecar { len, .. } if len > max => Err(Error::meta(
            attr,
            owner,
            format!("sidecar of {len} bytes, more than the {max} this attribute may have"),
        )),
        Payload::Sidecar { blob, len } => {
            let f = open_blob(root, blob, len, owner, attr)?;
            let mut out = Vec::new();
            f.take(len)
                .read_to_end(&mut out)
                .map_err(|e| Error::io("read metadata sidecar", owner, e))?;
            Ok(out)
        }
    }
}

/// Decodes a payload-only attribute (`user.wclayer.tombstones`).
pub(crate) fn decode_payload(b: &[u8]) -> Result<Payload, &'static str> {
    Payload::decode(b)
}

/// Encodes a payload-only attribute.
pub(crate) fn encode_payload(p: Payload) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_record_round_trip_and_rejections() {
        for rec in [
            StreamRecord {
                attributes: FileAttributes(0x20),
                cut: Some((20, 5)),
                template: Payload::Inline(vec![1; 20]),
            },
            StreamRecord {
                attributes: FileAttributes(0x10),
                cut: None,
                template: Payload::Sidecar { blob: 7, len: 9000 },
            },
        ] {
            assert_eq!(StreamRecord::decode(&rec.encode()).unwrap(), rec);
        }
        let mut bad = StreamRecord {
            attributes: FileAttributes(0),
            cut: Some((21, 1)),
            template: Payload::Inline(vec![0; 20]),
        }
        .encode();
        assert_eq!(
            StreamRecord::decode(&bad),
            Err("cut offset beyond the template")
        );
        bad[0] = 2;
        assert_eq!(StreamRecord::decode(&bad), Err("unknown record version"));
        assert_eq!(StreamRecord::decode(&[1, 0, 0]), Err("truncated"));
        assert_eq!(StreamRecord::decode(&[]), Err("empty"));
    }

    #[test]
    fn tombstone_records_round_trip() {
        let b = encode_extra_tombstones(&[(0, "rootfile"), (5, "UtilityVM\\Files\\é")]);
        assert_eq!(
            decode_extra_tombstones(&b).unwrap(),
            [
                (0, "rootfile".to_string()),
                (5, "UtilityVM\\Files\\é".to_string())
            ]
        );
        assert!(decode_extra_tombstones(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn times_round_trip() {
        let info = FileBasicInfo {
            creation_time: FileTime(1),
            last_access_time: FileTime(u64::MAX),
            last_write_time: FileTime(3),
            change_time: FileTime(4),
            file_attributes: FileAttributes(0x20),
        };
        assert_eq!(
            decode_times(&encode_times(&info), FileAttributes(0x20)).unwrap(),
            info
        );
        assert!(decode_times(&[0; 31], FileAttributes(0)).is_err());
    }
}

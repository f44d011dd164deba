//! Import: an OCI layer tar into a [`LayerWriter`] (hcsshim `writeLayerFromTar` with
//! go-winio `backuptar`; docs/oci-tar-mapping.md §6).

use std::io::{self, BufWriter, Read, Write};

use wclayer_backup::ea::{self, ExtendedAttribute};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::sd::{Layout, SecurityDescriptor};
use wclayer_backup::{
    BackupStreamWriter, FileAttributes, FileBasicInfo, FileTime, StreamHeader, StreamId, UnixTime,
};
use wclayer_layer::{Budget, LayerPath, LayerWriter, Limits, StreamWriter};

use crate::Error;
use crate::archive::{ArchiveReader, TarHeader};
use crate::pax;

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// hcsshim's `ImportLayerFromTar` result: the sum of the sizes of the main regular-file
    /// entries (alternate data streams, links and directories count 0).
    pub total_size: u64,
    /// Entries passed to `add`.
    pub files: u64,
    /// Entries passed to `add_link`.
    pub links: u64,
    /// Entries passed to `remove`.
    pub tombstones: u64,
}

/// The whiteout prefix of OCI layers.
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";

/// The name a whiteout entry removes, or `None` if `tar_name` is not a whiteout.
///
/// As hcsshim does: the last element of the `/`-separated name (trailing slashes ignored)
/// starts with `.wh.`; the removed name is that element without the prefix, joined to the
/// name's directory and cleaned. `.wh..wh..opq` is not special: it removes `.wh..opq`.
///
/// # Errors
/// A whiteout of `.` or `..` (or of nothing), which after cleaning would remove the
/// whiteout's own directory or its parent (hcsshim's `path.Join` makes `Files/a/.wh..`
/// remove all of `Files`): no layer writes such an entry, so it is refused.
pub(crate) fn whiteout_target(tar_name: &str) -> Option<Result<String, &'static str>> {
    let trimmed = tar_name.trim_end_matches('/');
    let (dir, base) = match trimmed.rsplit_once('/') {
        Some((d, b)) => (d, b),
        None => ("", trimmed),
    };
    let rest = base.strip_prefix(WHITEOUT_PREFIX)?;
    if matches!(rest, "" | "." | "..") {
        return Some(Err(
            "a whiteout of `.` or `..` would remove its own directory or its parent",
        ));
    }
    Some(Ok(clean_slash(&format!("{dir}/{rest}"))))
}

/// Go's `path.Clean` for the parts that matter to names: empty and `.` elements dropped,
/// `a/..` collapsed, leading `..` kept (the layer path check rejects it later).
fn clean_slash(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

/// The name, reported size and [`FileBasicInfo`] of a tar entry (go-winio
/// `FileInfoFromHeader`, docs/oci-tar-mapping.md §6.1).
///
/// Missing access and change times are Go's zero time, which converts to FILETIME
/// 48491090211286549 (a date in 1754), exactly as the reference does.
///
/// # Errors
/// A bad `MSWINDOWS.fileattr` or `LIBARCHIVE.creationtime` record.
pub(crate) fn file_info_from_header(hdr: &TarHeader) -> Result<(u64, FileBasicInfo), Error> {
    let size = if hdr.typeflag == b'0' {
        u64::try_from(hdr.size).unwrap_or(0)
    } else {
        0
    };
    let ft = FileTime::from_unix;
    let creation_time = match hdr.record(pax::LIBARCHIVE_CREATIONTIME) {
        Some(v) => ft(pax::parse_pax_time(v)
            .map_err(|e| Error::record(&hdr.name, pax::LIBARCHIVE_CREATIONTIME, e))?),
        None => ft(hdr.mod_time),
    };
    let file_attributes = match hdr.record(pax::MSWINDOWS_FILEATTR) {
        Some(v) => FileAttributes(
            pax::parse_fileattr(v.as_bytes())
                .map_err(|e| Error::record(&hdr.name, pax::MSWINDOWS_FILEATTR, e))?,
        ),
        None if hdr.typeflag == b'5' => FileAttributes::DIRECTORY,
        None => FileAttributes(0),
    };
    Ok((
        size,
        FileBasicInfo {
            creation_time,
            last_access_time: ft(hdr.access_time.unwrap_or(UnixTime::GO_ZERO)),
            last_write_time: ft(hdr.mod_time),
            change_time: ft(hdr.change_time.unwrap_or(UnixTime::GO_ZERO)),
            file_attributes,
        },
    ))
}

/// The security descriptor an entry carries (go-winio `SecurityDescriptorFromTarHeader`,
/// docs/oci-tar-mapping.md §4.8): `MSWINDOWS.rawsd` (base64) wins, even when empty; else the
/// legacy `MSWINDOWS.sd` SDDL string, converted by our own SDDL parser.
///
/// The converted descriptor is laid out as Windows' own converter
/// (`ConvertStringSecurityDescriptorToSecurityDescriptorW`) lays it out, SACL, DACL, owner,
/// group: descriptors captured from that function on Windows (Samba's test data) have that
/// order, and the reference feeds the function's bytes into the layer (docs/compat.md).
///
/// # Errors
/// Invalid base64 or SDDL.
pub(crate) fn security_descriptor_from_header(hdr: &TarHeader) -> Result<Vec<u8>, Error> {
    if let Some(raw) = hdr.record(pax::MSWINDOWS_RAWSD) {
        return pax::decode_base64(raw.as_bytes())
            .map_err(|e| Error::record(&hdr.name, pax::MSWINDOWS_RAWSD, e));
    }
    if let Some(sddl) = hdr.record(pax::MSWINDOWS_SD) {
        let sd = SecurityDescriptor::from_sddl(sddl)
            .map_err(|e| Error::record(&hdr.name, pax::MSWINDOWS_SD, e))?;
        return Ok(sd.to_bytes_in(Layout::SaclDaclOwnerGroup));
    }
    Ok(Vec::new())
}

/// The EA chain an entry carries (go-winio `ExtendedAttributesFromTarHeader`): one EA per
/// `MSWINDOWS.xattr.NAME` record, flags 0, sorted by name (the reference iterates a Go map,
/// so its order is random; sorting is one of the orders it can produce, docs/compat.md).
///
/// # Errors
/// Invalid base64, or an EA that cannot be encoded (name over 255 bytes, value over 64 KiB).
pub(crate) fn extended_attributes_from_header(hdr: &TarHeader) -> Result<Vec<u8>, Error> {
    let mut eas: Vec<ExtendedAttribute> = Vec::new();
    for (key, value) in hdr.records() {
        let Some(name) = key.strip_prefix(pax::MSWINDOWS_XATTR_PREFIX) else {
            continue;
        };
        let value =
            pax::decode_base64(value.as_bytes()).map_err(|e| Error::record(&hdr.name, key, e))?;
        eas.push(ExtendedAttribute::new(name.as_bytes().to_vec(), value));
    }
    if eas.is_empty() {
        return Ok(Vec::new());
    }
    eas.sort_by(|a, b| a.name.cmp(&b.name));
    ea::encode(&eas).map_err(|e| Error::record(&hdr.name, pax::MSWINDOWS_XATTR_PREFIX, e))
}

/// The reparse buffer of a symbolic-link entry (go-winio
/// `EncodeReparsePointFromTarHeader`): the link name with `/` turned into `\`, a mount point
/// when the `MSWINDOWS.mountpoint` key is present (whatever its value).
///
/// # Errors
/// A target too long for a reparse buffer.
pub(crate) fn reparse_point_from_header(hdr: &TarHeader) -> Result<Vec<u8>, Error> {
    let target = hdr.linkname.replace('/', "\\");
    let is_mount_point = hdr.record(pax::MSWINDOWS_MOUNTPOINT).is_some();
    ReparsePoint::from_target(&target, is_mount_point)
        .encode()
        .map_err(|e| Error::record(&hdr.name, "linkpath", e))
}

/// Imports the whole archive into `w`, then closes `w`.
///
/// Per entry, in archive order (hcsshim `writeLayerFromTar`): a whiteout (`.wh.` prefix on
/// the last element) becomes [`LayerWriter::remove`], a hard link (typeflag `1`)
/// [`LayerWriter::add_link`], anything else [`LayerWriter::add`] followed by its backup
/// stream: security descriptor, EAs, reparse point (symlinks), data (regular files), then
/// one alternate data stream per directly following entry named `NAME:stream`
/// (docs/oci-tar-mapping.md §6.3, §4.6). PAX global records apply to every later entry.
///
/// # Errors
/// The first error of the archive, of a record, or of the writer; `w` is then not closed
/// and, as every [`LayerWriter`], discards its output when dropped.
pub fn import_tar<R: Read>(
    archive: &mut ArchiveReader<R>,
    w: &mut dyn LayerWriter,
) -> Result<ImportStats, Error> {
    import_tar_limited(archive, w, &Limits::default())
}

/// [`import_tar`] with the given [`Limits`] instead of the defaults: an entry over them fails
/// the import (naming it) before its data is written.
///
/// # Errors
/// As [`import_tar`], and [`wclayer_layer::Error::Limit`] (in [`Error::Layer`]).
pub fn import_tar_limited<R: Read>(
    archive: &mut ArchiveReader<R>,
    w: &mut dyn LayerWriter,
    limits: &Limits,
) -> Result<ImportStats, Error> {
    let mut budget = limits.budget();
    // The data of every entry passes through this buffer (one allocation per import).
    let mut copy_buf = vec![0u8; 64 << 10];
    let mut stats = ImportStats::default();
    let mut next = archive.next_entry()?;
    while let Some(hdr) = next {
        budget.entry(&hdr.name)?;
        if let Some(target) = whiteout_target(&hdr.name) {
            let target = target.map_err(|reason| Error::entry(&hdr.name, reason))?;
            let whiteout = |source| Error::Whiteout {
                name: hdr.name.clone(),
                target: target.clone(),
                source,
            };
            let removed = LayerPath::parse(&target).map_err(|e| whiteout(e.into()))?;
            w.remove(&removed).map_err(whiteout)?;
            stats.tombstones = stats.tombstones.saturating_add(1);
            next = archive.next_entry()?;
        } else if hdr.typeflag == b'1' {
            let name = LayerPath::parse(&hdr.name)?;
            let target = LayerPath::parse(&hdr.linkname).map_err(|e| {
                Error::entry(
                    &hdr.name,
                    format!("hard link target {}: {}", e.name, e.reason),
                )
            })?;
            w.add_link(&name, &target)?;
            stats.links = stats.links.saturating_add(1);
            next = archive.next_entry()?;
        } else {
            let (size, info) = file_info_from_header(&hdr)?;
            if size > 0 && info.file_attributes.is_directory() {
                // A directory holds no data: the layer would keep the bytes in a stream no
                // export can write (the reference's export fails on it too).
                return Err(Error::entry(
                    &hdr.name,
                    "a regular file with data whose attributes say directory",
                ));
            }
            budget.bytes(&hdr.name, size)?;
            w.add(&LayerPath::parse(&hdr.name)?, &info)?;
            next = write_backup_stream(archive, &hdr, &mut *w, &mut budget, &mut copy_buf)?;
            stats.files = stats.files.saturating_add(1);
            stats.total_size = stats.total_size.saturating_add(size);
        }
    }
    w.close()?;
    Ok(stats)
}

/// The backup-stream writer of one entry: headers checked and encoded by
/// [`BackupStreamWriter`], bytes buffered, then handed to the layer writer through
/// [`StreamWriter`] so that the layer writer's own error comes back typed.
type EntryStream<'a> = BackupStreamWriter<BufWriter<StreamWriter<'a, dyn LayerWriter + 'a>>>;

/// The error for a failed write of `name`'s stream: the layer writer's own when it failed,
/// else the codec's.
fn stream_failed(bw: &mut EntryStream<'_>, name: &str, e: wclayer_backup::Error) -> Error {
    match bw.get_mut().get_mut().take_error() {
        Some(layer) => Error::Layer(layer),
        None => Error::stream(name, e),
    }
}

/// Writes the backup stream of `hdr` (whose data is the archive's current entry) into `w`,
/// gathering the following alternate-data-stream entries; returns the first header that is
/// not one of them (go-winio `WriteBackupStreamFromTarFile`). `buf` carries the data, reused
/// from entry to entry.
fn write_backup_stream<R: Read>(
    archive: &mut ArchiveReader<R>,
    hdr: &TarHeader,
    w: &mut dyn LayerWriter,
    budget: &mut Budget,
    buf: &mut [u8],
) -> Result<Option<TarHeader>, Error> {
    let name = hdr.name.as_str();
    let mut bw: EntryStream<'_> =
        BackupStreamWriter::new(BufWriter::with_capacity(64 << 10, StreamWriter::new(w)));
    let small = |bw: &mut EntryStream<'_>, id, bytes: &[u8]| -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        bw.write_header(&StreamHeader::new(id, bytes.len() as u64))
            .map_err(|e| stream_failed(bw, name, e))?;
        write_body(bw, bytes, name)
    };
    small(
        &mut bw,
        StreamId::SECURITY_DATA,
        &security_descriptor_from_header(hdr)?,
    )?;
    small(
        &mut bw,
        StreamId::EA_DATA,
        &extended_attributes_from_header(hdr)?,
    )?;
    if hdr.typeflag == b'2' {
        small(
            &mut bw,
            StreamId::REPARSE_DATA,
            &reparse_point_from_header(hdr)?,
        )?;
    }
    if hdr.typeflag == b'0' {
        let size = u64::try_from(hdr.size).unwrap_or(0);
        bw.write_header(&StreamHeader::new(StreamId::DATA, size))
            .map_err(|e| stream_failed(&mut bw, name, e))?;
        copy_exact(archive, &mut bw, size, name, buf)?;
    }
    let prefix = format!("{name}:");
    let next = loop {
        let Some(ahdr) = archive.next_entry()? else {
            break None;
        };
        let Some(stream) = ahdr.name.strip_prefix(&prefix) else {
            break Some(ahdr);
        };
        if ahdr.typeflag != b'0' {
            break Some(ahdr);
        }
        let size = u64::try_from(ahdr.size).unwrap_or(0);
        budget.bytes(&ahdr.name, size)?;
        bw.write_header(&StreamHeader::alternate_data(stream, size))
            .map_err(|e| stream_failed(&mut bw, &ahdr.name, e))?;
        copy_exact(archive, &mut bw, size, &ahdr.name, buf)?;
    };
    let mut buffered = match bw.finish() {
        Ok(b) => b,
        Err(e) => {
            return Err(Error::stream(name, e));
        }
    };
    if let Err(e) = buffered.flush() {
        return Err(buffered.get_mut().error_for(name, e).into());
    }
    Ok(next)
}

/// Writes a body piece; the layer writer's error comes back typed.
fn write_body(bw: &mut EntryStream<'_>, bytes: &[u8], name: &str) -> Result<(), Error> {
    match bw.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) => Err(bw.get_mut().get_mut().error_for(name, e).into()),
    }
}

/// Copies exactly `size` bytes of the archive's current entry into `bw`.
fn copy_exact<R: Read>(
    archive: &mut ArchiveReader<R>,
    bw: &mut EntryStream<'_>,
    size: u64,
    name: &str,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = archive.read_data(chunk)?;
        if n == 0 {
            return Err(Error::io(
                name,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "entry data ends after {} of {size} bytes",
                        size.saturating_sub(left)
                    ),
                ),
            ));
        }
        write_body(bw, chunk.get(..n).unwrap_or_default(), name)?;
        left = left.saturating_sub(n as u64);
    }
    Ok(())
}

/// The utility-VM boot files that processing the utility VM changes, and the file in the
/// layer directory their pristine backup stream is restored into (hcsshim
/// `pkg/ociwclayer/import.go` `mutatedFiles`; docs/oci-tar-mapping.md §6.4). Matched against
/// the entry's name exactly, case-sensitively.
pub const MUTATED_FILES: [(&str, &str); 4] = [
    (r"UtilityVM\Files\EFI\Microsoft\Boot\BCD", "bcd.bak"),
    (r"UtilityVM\Files\EFI\Microsoft\Boot\BCD.LOG", "bcd.log.bak"),
    (
        r"UtilityVM\Files\EFI\Microsoft\Boot\BCD.LOG1",
        "bcd.log1.bak",
    ),
    (
        r"UtilityVM\Files\EFI\Microsoft\Boot\BCD.LOG2",
        "bcd.log2.bak",
    ),
];

/// The backup file of a mutated utility-VM boot file, if the layer name `name` (`\`-separated)
/// is one.
pub fn mutated_backup(name: &str) -> Option<&'static str> {
    MUTATED_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, bak)| *bak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts() {
        for (name, want) in [
            ("Files/a/.wh.b.txt", Some("Files/a/b.txt")),
            (".wh.rootfile", Some("rootfile")),
            ("Files/.wh..wh..opq", Some("Files/.wh..opq")),
            ("Files/.wh.dir/", Some("Files/dir")),
            ("Files/../.wh.x", Some("x")),
            ("Files/a.wh.b", None),
            ("Files/.wh/x", None),
        ] {
            assert_eq!(
                whiteout_target(name).map(Result::unwrap).as_deref(),
                want,
                "{name}"
            );
        }
        for name in [
            "Files/a/.wh..",
            "Files/a/.wh.",
            "Files/.wh..",
            ".wh..",
            "Files/a/.wh../",
        ] {
            assert!(matches!(whiteout_target(name), Some(Err(_))), "{name}");
        }
    }
}

//! Export: a [`LayerReader`] into an OCI layer tar with the bytes hcsshim writes (hcsshim
//! `writeTarFromLayer` with go-winio `WriteTarFileFromBackupStream`; docs/oci-tar-mapping.md §5,
//! §7).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, SeekFrom, Write};

use wclayer_backup::ea;
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{
    BackupStreamReader, FileBasicInfo, StreamAttributes, StreamHeader, StreamId, UnixTime,
};
use wclayer_layer::{Entry, LayerPath, LayerReader, StreamReader};

use crate::gotar::{Format, GoTarWriter, Header};
use crate::import::WHITEOUT_PREFIX;
use crate::{Error, pax};

const C_ISDIR: i64 = 0o040000;
const C_ISREG: i64 = 0o100000;
const C_ISLNK: i64 = 0o120000;

/// What an export did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Entries written with their content.
    pub files: u64,
    /// Hard-link entries.
    pub links: u64,
    /// Whiteout entries.
    pub whiteouts: u64,
    /// Alternate-data-stream entries.
    pub streams: u64,
}

/// Writes every entry of `r` as a tar into `out` and finishes the archive (two zero
/// blocks). `r` is not closed.
///
/// Per entry (hcsshim `writeTarFromLayer`): a tombstone becomes a `.wh.` whiteout header; a
/// file whose link count is above 1 and whose file id was seen before becomes a hard-link
/// header pointing at the first name; anything else is written from its backup stream
/// (go-winio `WriteTarFileFromBackupStream`, docs/oci-tar-mapping.md §5).
///
/// # Errors
/// The first error of the reader, of an entry's stream, or of the tar writer. The archive
/// is then left unterminated, as the reference leaves it.
pub fn export_tar<W: Write>(r: &mut dyn LayerReader, out: W) -> Result<(W, ExportStats), Error> {
    let mut t = GoTarWriter::new(out);
    let mut stats = ExportStats::default();
    let mut links: HashMap<[u8; 16], String> = HashMap::new();
    while let Some(entry) = r.next()? {
        match entry {
            Entry::Tombstone { name } => {
                let tar_name = whiteout_name(&name);
                let hdr = Header {
                    name: tar_name.clone(),
                    typeflag: b'0',
                    mod_time: UnixTime::GO_ZERO,
                    access_time: UnixTime::GO_ZERO,
                    change_time: UnixTime::GO_ZERO,
                    format: Format::Unspecified,
                    ..Header::default()
                };
                write_header(&mut t, &hdr)?;
                stats.whiteouts = stats.whiteouts.saturating_add(1);
            }
            Entry::File { name, size, info } => {
                let tar_name = name.to_slash();
                let li = r.link_info()?;
                if li.number_of_links > 1 {
                    if let Some(first) = links.get(&li.file_id.file_id) {
                        let mut hdr = basic_info_header(&tar_name, 0, &info);
                        hdr.mode = 0o644;
                        hdr.typeflag = b'1';
                        hdr.linkname = first.clone();
                        write_header(&mut t, &hdr)?;
                        stats.links = stats.links.saturating_add(1);
                        continue;
                    }
                    links.insert(li.file_id.file_id, tar_name.clone());
                }
                let n = write_entry(&mut t, r, &tar_name, size, &info)?;
                stats.streams = stats.streams.saturating_add(n);
                stats.files = stats.files.saturating_add(1);
            }
            other => {
                return Err(Error::entry(
                    other.name().as_str(),
                    "entry kind unknown to the tar export",
                ));
            }
        }
    }
    let out = t.finish().map_err(|e| Error::Write {
        name: String::new(),
        source: e,
    })?;
    Ok((out, stats))
}

/// The whiteout name of a tombstone: `.wh.` + its last element, in its directory
/// (`Files\a\b.txt` → `Files/a/.wh.b.txt`, `x` → `.wh.x`).
#[must_use]
pub(crate) fn whiteout_name(name: &LayerPath) -> String {
    let base = format!("{WHITEOUT_PREFIX}{}", name.file_name());
    match name.parent() {
        Some(dir) => format!("{}/{base}", dir.replace('\\', "/")),
        None => base,
    }
}

/// go-winio `BasicInfoHeader`: the PAX header of an entry before its stream is looked at.
fn basic_info_header(tar_name: &str, size: u64, info: &FileBasicInfo) -> Header {
    let mut records = BTreeMap::new();
    records.insert(
        pax::MSWINDOWS_FILEATTR.to_string(),
        info.file_attributes.0.to_string(),
    );
    records.insert(
        pax::LIBARCHIVE_CREATIONTIME.to_string(),
        pax::format_pax_time(info.creation_time.to_unix()),
    );
    let mut hdr = Header {
        name: tar_name.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        typeflag: b'0',
        mode: 0,
        mod_time: info.last_write_time.to_unix(),
        access_time: info.last_access_time.to_unix(),
        change_time: info.change_time.to_unix(),
        pax_records: records,
        format: Format::Pax,
        ..Header::default()
    };
    if info.file_attributes.is_directory() {
        hdr.mode |= C_ISDIR;
        hdr.size = 0;
        hdr.typeflag = b'5';
    }
    hdr
}

fn write_header<W: Write>(t: &mut GoTarWriter<W>, hdr: &Header) -> Result<(), Error> {
    t.write_header(hdr).map_err(|e| Error::Write {
        name: hdr.name.clone(),
        source: e,
    })
}

/// The backup-stream reader of one entry, over the layer reader's stream; the layer
/// reader's own errors come back typed through [`StreamReader`].
type EntryStream<'a> = BackupStreamReader<StreamReader<'a, dyn LayerReader + 'a>>;

/// The error for a failed read of `tar_name`'s stream: the layer reader's own when it
/// failed, else the codec's.
fn stream_failed(br: &mut EntryStream<'_>, tar_name: &str, e: wclayer_backup::Error) -> Error {
    match br.get_mut().take_error() {
        Some(layer) => Error::Layer(layer),
        None => Error::stream(tar_name, e),
    }
}

/// Writes one entry from its backup stream (go-winio `WriteTarFileFromBackupStream`,
/// docs/oci-tar-mapping.md §5) and returns how many alternate-data-stream entries followed it.
///
/// The metadata (security descriptor, EAs, reparse point) must be in the header, which
/// precedes the data. A reader whose stream can seek is scanned whole first, then rewound
/// (two-pass); otherwise only the sub-streams before the data count (single-pass), as in
/// the reference. Sparse data streams are written with their holes as zeros; unlike the
/// pinned go-winio, sparse blocks do not fail the two-pass scan (docs/compat.md).
///
/// # Errors
/// The reference's errors (`unknown stream ID`, `mismatch between file size`, `unsupported
/// reparse point`, ...), the reader's, and the tar writer's.
pub(crate) fn write_entry<W: Write>(
    t: &mut GoTarWriter<W>,
    r: &mut dyn LayerReader,
    tar_name: &str,
    size: u64,
    info: &FileBasicInfo,
) -> Result<u64, Error> {
    let mut hdr = basic_info_header(tar_name, size, info);
    let two_pass = r.can_seek_stream();
    let mut br: EntryStream<'_> = BackupStreamReader::new(StreamReader::new(&mut *r));
    let mut data: Option<StreamHeader> = None;
    loop {
        let next = if two_pass {
            br.next_header_seek()
        } else {
            br.next_header()
        };
        let Some(h) = next.map_err(|e| stream_failed(&mut br, tar_name, e))? else {
            break;
        };
        match h.id {
            StreamId::DATA => {
                hdr.mode |= C_ISREG;
                if !two_pass {
                    data = Some(h);
                    break;
                }
            }
            StreamId::SECURITY_DATA => {
                let sd = read_body(&mut br, &h, tar_name)?;
                hdr.pax_records
                    .insert(pax::MSWINDOWS_RAWSD.to_string(), pax::encode_base64(&sd));
            }
            StreamId::REPARSE_DATA => {
                hdr.mode |= C_ISLNK;
                hdr.typeflag = b'2';
                let buf = read_body(&mut br, &h, tar_name)?;
                let rp = ReparsePoint::decode(&buf)
                    .map_err(|e| Error::entry(tar_name, e.to_string()))?;
                match &rp {
                    ReparsePoint::Opaque { tag, .. } => {
                        return Err(Error::entry(
                            tar_name,
                            format!("unsupported reparse point {tag:x}"),
                        ));
                    }
                    ReparsePoint::MountPoint { .. } => {
                        hdr.pax_records
                            .insert(pax::MSWINDOWS_MOUNTPOINT.to_string(), "1".to_string());
                    }
                    ReparsePoint::Symlink { .. } => {}
                }
                hdr.linkname = rp.target().unwrap_or_default().to_string();
            }
            StreamId::EA_DATA => {
                let buf = read_body(&mut br, &h, tar_name)?;
                let eas = ea::decode(&buf).map_err(|e| Error::entry(tar_name, e.to_string()))?;
                for e in eas {
                    let ea_name = String::from_utf8(e.name).map_err(|_| {
                        Error::entry(tar_name, "extended attribute name is not UTF-8")
                    })?;
                    hdr.pax_records.insert(
                        format!("{}{ea_name}", pax::MSWINDOWS_XATTR_PREFIX),
                        pax::encode_base64(&e.value),
                    );
                }
            }
            // Skipped by the reference; sparse blocks too since go-winio PR #375.
            StreamId::ALTERNATE_DATA
            | StreamId::LINK
            | StreamId::PROPERTY_DATA
            | StreamId::OBJECT_ID
            | StreamId::TXFS_DATA
            | StreamId::SPARSE_BLOCK => {}
            other => {
                return Err(Error::entry(tar_name, format!("unknown stream ID {other}")));
            }
        }
    }
    write_header(t, &hdr)?;

    if two_pass {
        drop(br);
        r.seek_stream(SeekFrom::Start(0))?;
        br = BackupStreamReader::new(StreamReader::new(&mut *r));
        // Skip to the data stream; ids are not checked in this pass, as in the reference.
        while let Some(h) = br
            .next_header_seek()
            .map_err(|e| stream_failed(&mut br, tar_name, e))?
        {
            if h.id == StreamId::DATA {
                data = Some(h);
                break;
            }
        }
    }

    let mut sparse_empty = false;
    if let Some(d) = &data {
        if d.size > 0 || !d.attributes.contains(StreamAttributes::SPARSE) {
            if size != d.size {
                return Err(Error::entry(
                    tar_name,
                    format!(
                        "mismatch between file size {size} and header size {}",
                        d.size
                    ),
                ));
            }
            copy_to_tar(&mut br, t, d.size, tar_name)?;
        } else if size > 0 {
            copy_sparse(&mut br, t, tar_name)?;
        } else {
            sparse_empty = true;
        }
    }

    let mut streams: u64 = 0;
    loop {
        let next = if two_pass {
            br.next_header_seek()
        } else {
            br.next_header()
        };
        let Some(h) = next.map_err(|e| stream_failed(&mut br, tar_name, e))? else {
            break;
        };
        match h.id {
            StreamId::ALTERNATE_DATA => {
                if h.attributes.contains(StreamAttributes::SPARSE) {
                    return Err(Error::entry(
                        tar_name,
                        "tar of sparse alternate data streams is unsupported",
                    ));
                }
                let stream = h.name.strip_suffix(":$DATA").unwrap_or(&h.name);
                let ahdr = Header {
                    name: format!("{tar_name}{stream}"),
                    mode: hdr.mode,
                    typeflag: b'0',
                    size: i64::try_from(h.size).unwrap_or(i64::MAX),
                    mod_time: hdr.mod_time,
                    access_time: hdr.access_time,
                    change_time: hdr.change_time,
                    format: Format::Pax,
                    ..Header::default()
                };
                write_header(t, &ahdr)?;
                copy_to_tar(&mut br, t, h.size, &ahdr.name)?;
                streams = streams.saturating_add(1);
            }
            StreamId::EA_DATA
            | StreamId::LINK
            | StreamId::PROPERTY_DATA
            | StreamId::OBJECT_ID
            | StreamId::TXFS_DATA => {}
            // A zero-length sparse file may end with its terminating block (go-winio PR #375).
            StreamId::SPARSE_BLOCK if sparse_empty && h.size == 0 => {}
            other => {
                return Err(Error::entry(
                    tar_name,
                    format!("unknown stream ID {other} after data"),
                ));
            }
        }
    }
    Ok(streams)
}

/// Reads a small metadata body whole. Security descriptors, EA chains and reparse buffers
/// are bounded by their formats (64 KiB EAs per entry on NTFS, 16 KiB reparse data) but the
/// header could claim more; refuse anything over 16 MiB instead of allocating it.
fn read_body(br: &mut EntryStream<'_>, h: &StreamHeader, tar_name: &str) -> Result<Vec<u8>, Error> {
    const LIMIT: u64 = 16 << 20;
    if h.size > LIMIT {
        return Err(Error::entry(
            tar_name,
            format!("backup stream {} of {} bytes is too large", h.id, h.size),
        ));
    }
    let mut buf = Vec::with_capacity(usize::try_from(h.size).unwrap_or(0));
    if let Err(e) = br.read_to_end(&mut buf) {
        return Err(br.get_mut().error_for(tar_name, e).into());
    }
    Ok(buf)
}

/// Bytes copied per read.
const COPY_CHUNK: usize = 64 << 10;

/// Copies exactly `size` body bytes of the current sub-stream into the tar entry.
fn copy_to_tar<W: Write>(
    br: &mut EntryStream<'_>,
    t: &mut GoTarWriter<W>,
    size: u64,
    tar_name: &str,
) -> Result<(), Error> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = match br.read(chunk) {
            Ok(0) => {
                return Err(Error::io(
                    tar_name,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "stream ends after {} of {size} bytes",
                            size.saturating_sub(left)
                        ),
                    ),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(br.get_mut().error_for(tar_name, e).into()),
        };
        t.write_data(chunk.get(..n).unwrap_or_default())
            .map_err(|e| Error::write(tar_name, e))?;
        left = left.saturating_sub(n as u64);
    }
    Ok(())
}

/// go-winio `copySparse`: writes the sparse blocks that follow a zero-length sparse data
/// stream as one flat body, holes as zeros (docs/backup-stream.md §5.3).
fn copy_sparse<W: Write>(
    br: &mut EntryStream<'_>,
    t: &mut GoTarWriter<W>,
    tar_name: &str,
) -> Result<(), Error> {
    let zeros = [0u8; COPY_CHUNK];
    let mut cur: u64 = 0;
    loop {
        let h = br
            .next_header()
            .map_err(|e| stream_failed(br, tar_name, e))?
            .ok_or_else(|| Error::entry(tar_name, "unexpected EOF"))?;
        if h.id != StreamId::SPARSE_BLOCK {
            return Err(Error::entry(
                tar_name,
                format!("unexpected stream {}", h.id),
            ));
        }
        let offset = u64::try_from(h.offset).unwrap_or(0);
        if h.offset < 0 || offset < cur {
            return Err(Error::entry(
                tar_name,
                format!("cannot seek back from {cur} to {}", h.offset),
            ));
        }
        let mut hole = offset.saturating_sub(cur);
        while hole > 0 {
            let n = usize::try_from(hole).unwrap_or(usize::MAX).min(zeros.len());
            t.write_data(zeros.get(..n).unwrap_or_default())
                .map_err(|e| Error::write(tar_name, e))?;
            hole = hole.saturating_sub(n as u64);
        }
        if h.size == 0 {
            return Ok(());
        }
        copy_to_tar(br, t, h.size, tar_name)?;
        cur = offset.saturating_add(h.size);
    }
}

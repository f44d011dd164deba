//! [`write_content`]: a file's content from its backup stream, as `tar -xO` prints a
//! member (docs/chain.md, "One entry").

use std::io::{self, Read, Write};

use wclayer_backup::{BackupStreamReader, StreamId};
use wclayer_layer::upcase_key;

/// Why [`write_content`] wrote nothing, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The backup stream is malformed.
    #[error(transparent)]
    Stream(#[from] wclayer_backup::Error),
    /// Reading the stream or writing the content failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The entry has no alternate data stream of that name.
    #[error("no alternate data stream {0:?}")]
    NoStream(String),
    /// A sparse block starts before the end of what was written (sparse blocks come in
    /// ascending order of their offsets, docs/backup-stream.md).
    #[error("sparse block at offset {offset} overlaps the {written} bytes before it")]
    SparseOrder {
        /// The block's offset.
        offset: i64,
        /// Bytes written before it.
        written: u64,
    },
}

/// Writes the content of a file whose backup stream `r` yields to `out`: the unnamed data
/// stream (`stream == None`: its `BACKUP_DATA` body, or its sparse blocks with the holes
/// between them written as zeros, up to the logical size) or the alternate data stream
/// `stream` (its bare name, `zone` for `:zone:$DATA`, compared case-insensitively as NTFS
/// compares stream names). Returns the bytes written; a file without data gives 0 bytes.
///
/// # Errors
/// A malformed stream, [`ContentError::NoStream`], [`ContentError::SparseOrder`], or the
/// I/O error of `r` or `out`.
pub fn write_content(
    r: impl Read,
    stream: Option<&str>,
    mut out: impl Write,
) -> Result<u64, ContentError> {
    let want = stream.map(upcase_key);
    let mut br = BackupStreamReader::new(r);
    let mut written = 0u64;
    let mut found = false;
    while let Some(h) = br.next_header()? {
        match (&want, h.id) {
            (None, StreamId::DATA) => {
                written = written.saturating_add(io::copy(&mut (&mut br).take(h.size), &mut out)?);
            }
            (None, StreamId::SPARSE_BLOCK) => {
                let offset = u64::try_from(h.offset).map_err(|_| ContentError::SparseOrder {
                    offset: h.offset,
                    written,
                })?;
                let gap = offset
                    .checked_sub(written)
                    .ok_or(ContentError::SparseOrder {
                        offset: h.offset,
                        written,
                    })?;
                io::copy(&mut io::repeat(0).take(gap), &mut out)?;
                written = offset;
                written = written.saturating_add(io::copy(&mut (&mut br).take(h.size), &mut out)?);
            }
            (Some(w), StreamId::ALTERNATE_DATA) if !found => {
                let bare = h.name.strip_suffix(":$DATA").unwrap_or(&h.name);
                let bare = bare.strip_prefix(':').unwrap_or(bare);
                if upcase_key(bare) == *w {
                    found = true;
                    written = io::copy(&mut (&mut br).take(h.size), &mut out)?;
                }
            }
            _ => {}
        }
    }
    match stream {
        Some(s) if !found => Err(ContentError::NoStream(s.to_string())),
        _ => Ok(written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wclayer_backup::{BackupStreamWriter, StreamAttributes, StreamHeader};

    fn stream(build: impl FnOnce(&mut BackupStreamWriter<Vec<u8>>)) -> Vec<u8> {
        let mut w = BackupStreamWriter::new(Vec::new());
        build(&mut w);
        w.finish().unwrap()
    }

    #[test]
    fn data_and_alternate_streams() {
        let s = stream(|w| {
            w.write_header(&StreamHeader::new(StreamId::SECURITY_DATA, 2))
                .unwrap();
            w.write_all(b"sd").unwrap();
            w.write_header(&StreamHeader::new(StreamId::DATA, 5))
                .unwrap();
            w.write_all(b"hello").unwrap();
            w.write_header(&StreamHeader::alternate_data("Zone", 3))
                .unwrap();
            w.write_all(b"ads").unwrap();
        });
        let mut out = Vec::new();
        assert_eq!(write_content(&s[..], None, &mut out).unwrap(), 5);
        assert_eq!(out, b"hello");
        out.clear();
        write_content(&s[..], Some("zone"), &mut out).unwrap();
        assert_eq!(out, b"ads");
        assert!(matches!(
            write_content(&s[..], Some("other"), Vec::new()),
            Err(ContentError::NoStream(n)) if n == "other"
        ));
    }

    #[test]
    fn sparse_holes_are_zeros() {
        let s = stream(|w| {
            w.write_header(&StreamHeader {
                attributes: StreamAttributes::SPARSE,
                ..StreamHeader::new(StreamId::DATA, 0)
            })
            .unwrap();
            w.write_header(&StreamHeader::sparse_block(3, 2)).unwrap();
            w.write_all(b"xy").unwrap();
            w.write_header(&StreamHeader::sparse_block(8, 0)).unwrap();
        });
        let mut out = Vec::new();
        assert_eq!(write_content(&s[..], None, &mut out).unwrap(), 8);
        assert_eq!(out, b"\0\0\0xy\0\0\0");
    }
}

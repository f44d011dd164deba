//! Writing backup streams (docs/backup-stream.md §2.2).

use std::io::{self, Write};

use super::frame::{MAX_NAME_SIZE, SPARSE_OFFSET_SIZE};
use super::{StreamHeader, StreamId};
use crate::error::Error;

/// Writes a Win32 backup stream, the input of `BackupWrite` (docs/backup-stream.md §2.2).
///
/// Call [`write_header`](Self::write_header) for each stream, then write exactly
/// `header.size` body bytes through the [`Write`] implementation, then
/// [`finish`](Self::finish). The writer counts body bytes so that a stream can never be
/// shorter or longer than its header says: a short body would make `BackupWrite` (and our
/// reader) take the next header's bytes for body bytes.
///
/// ```
/// use std::io::Write;
/// use wclayer_backup::{BackupStreamWriter, StreamHeader};
///
/// let mut w = BackupStreamWriter::new(Vec::new());
/// w.write_header(&StreamHeader::alternate_data("zone", 1))?;
/// w.write_all(b"z")?;
/// let bytes = w.finish()?;
/// assert_eq!(bytes.len(), 20 + 22 + 1); // header, ":zone:$DATA" in UTF-16, body
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The writer is stricter than go-winio's about headers it cannot write faithfully: it
/// refuses names that our reader would decode differently (a NUL, more than 64 KiB), an
/// `offset` on a stream that is not a sparse block (it would be lost), and ids the reader
/// rejects (0, above 11).
///
/// # Drop behaviour
///
/// Dropping the writer drops the inner writer without flushing it and without checking that
/// the last body is complete; the output may then end inside a stream. Call
/// [`finish`](Self::finish) to check and flush.
#[derive(Debug)]
pub struct BackupStreamWriter<W> {
    inner: W,
    state: State,
}

/// Everything but the inner writer.
#[derive(Debug, Default)]
struct State {
    /// Bytes written to the inner writer so far.
    offset: u64,
    /// Body bytes of the current stream still owed.
    remaining: u64,
    /// Id of the current stream; `None` before the first header.
    current: Option<StreamId>,
    /// Offset at which an I/O error cut a header short. The output then ends inside a
    /// header, and nothing written after it could be read back, so every later call fails.
    broken_at: Option<u64>,
}

impl<W: Write> BackupStreamWriter<W> {
    /// Wraps `inner`. Nothing is written until the first header.
    pub fn new(inner: W) -> Self {
        BackupStreamWriter {
            inner,
            state: State::default(),
        }
    }

    /// Starts a stream: writes the 20-byte `WIN32_STREAM_ID`, the name as UTF-16LE and, for
    /// a sparse block (id 9), the 8-byte offset, with `Size` = `h.size + 8`. The body of
    /// `h.size` bytes is written next, through [`Write`].
    ///
    /// # Errors
    ///
    /// - [`Error::MissingBytes`] when the previous body is incomplete (nothing is written);
    /// - [`Error::UnknownStreamId`] for id 0 or an id above 11;
    /// - [`Error::InvalidHeader`] when the name contains U+0000 or takes more than 64 KiB in
    ///   UTF-16, when `offset` is not 0 on a stream other than a sparse block, or when a
    ///   sparse block's `size + 8` overflows `u64`;
    /// - [`Error::Io`] when the inner writer fails. If it fails after part of the header was
    ///   written, the output is unusable and every later call fails too.
    ///
    /// The `offset` of these errors is where the header would have started.
    pub fn write_header(&mut self, h: &StreamHeader) -> Result<(), Error> {
        self.state.write_header(&mut self.inner, h)
    }

    /// Body bytes of the current stream still to be written.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.state.remaining
    }

    /// Bytes written to the inner writer so far.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.state.offset
    }

    /// Checks that the last body is complete, flushes, and returns the inner writer.
    ///
    /// # Errors
    ///
    /// [`Error::MissingBytes`] when the last body is incomplete, [`Error::Io`] when flushing
    /// fails or an earlier header write failed part way. The inner writer is dropped in
    /// these cases; use [`into_inner`](Self::into_inner) to recover it unchecked.
    pub fn finish(mut self) -> Result<W, Error> {
        self.state.check_usable()?;
        if let Some(err) = self.state.missing() {
            return Err(err);
        }
        self.inner.flush().map_err(|source| Error::Io {
            offset: self.state.offset,
            source,
        })?;
        Ok(self.inner)
    }

    /// Writes body bytes of the current stream; returns how many (as `Write::write`).
    ///
    /// # Errors
    /// Without writing anything: [`Error::TooManyBytes`] when `buf` holds more bytes than
    /// the body still owes, [`Error::NoHeader`] before the first header; [`Error::Io`] when
    /// the inner writer fails.
    pub fn write_body(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.state.write_body(&mut self.inner, buf)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer. Writing to it directly corrupts the backup stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Returns the inner writer without checking that the last body is complete and without
    /// flushing.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for BackupStreamWriter<W> {
    /// Writes body bytes of the current stream: [`BackupStreamWriter::write_body`], with the
    /// error as an `io::Error` (`ErrorKind::InvalidData` for the codec's own errors).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.state.write_body(&mut self.inner, buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `usize` to `u64`: lossless on every platform Rust supports.
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Encodes `h` (docs/backup-stream.md §2.2 steps 1–3); `at` is the offset for errors.
fn encode(h: &StreamHeader, at: u64) -> Result<Vec<u8>, Error> {
    let invalid = |reason| Error::InvalidHeader { offset: at, reason };
    if !h.id.is_known() {
        return Err(Error::UnknownStreamId {
            id: h.id.0,
            offset: at,
        });
    }
    if h.name.contains('\0') {
        // The reader stops at the first NUL (as go-winio does), so the name would come back
        // shortened: `:a\0b:$DATA` would be read as `:a`.
        return Err(invalid("stream name contains NUL"));
    }
    let name_size = h
        .name
        .encode_utf16()
        .count()
        .checked_mul(2)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n <= MAX_NAME_SIZE)
        .ok_or_else(|| invalid("stream name longer than 64 KiB"))?;
    let sparse = h.id == StreamId::SPARSE_BLOCK;
    if !sparse && h.offset != 0 {
        return Err(invalid("offset set on a stream that is not a sparse block"));
    }
    let size_field = if sparse {
        h.size
            .checked_add(SPARSE_OFFSET_SIZE)
            .ok_or_else(|| invalid("sparse block size overflows the size field"))?
    } else {
        h.size
    };

    // name_size <= 64 KiB, so the capacity is small.
    let capacity = usize::try_from(name_size)
        .unwrap_or(0)
        .saturating_add(StreamHeader::FIXED_SIZE + 8);
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(&h.id.0.to_le_bytes());
    out.extend_from_slice(&h.attributes.0.to_le_bytes());
    out.extend_from_slice(&size_field.to_le_bytes());
    out.extend_from_slice(&name_size.to_le_bytes());
    for unit in h.name.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    if sparse {
        out.extend_from_slice(&h.offset.to_le_bytes());
    }
    Ok(out)
}

impl State {
    fn check_usable(&self) -> Result<(), Error> {
        match self.broken_at {
            None => Ok(()),
            Some(offset) => Err(Error::Io {
                offset,
                source: io::Error::other("an earlier write failed part way through a header"),
            }),
        }
    }

    /// The error for an incomplete body, if the current body is incomplete.
    fn missing(&self) -> Option<Error> {
        match (self.current, self.remaining) {
            (Some(id), missing) if missing > 0 => Some(Error::MissingBytes { id: id.0, missing }),
            _ => None,
        }
    }

    fn write_header(&mut self, inner: &mut dyn Write, h: &StreamHeader) -> Result<(), Error> {
        self.check_usable()?;
        if let Some(err) = self.missing() {
            return Err(err);
        }
        let bytes = encode(h, self.offset)?;
        // Written by hand rather than with write_all so that `offset` stays exact and a
        // failure before the first byte (nothing written, safe to retry) can be told apart
        // from one part way through (the output now ends inside a header).
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            match inner.write(rest) {
                Ok(0) => {
                    return Err(self.header_write_failed(
                        rest.len() < bytes.len(),
                        io::Error::from(io::ErrorKind::WriteZero),
                    ));
                }
                Ok(n) => {
                    let n = n.min(rest.len());
                    rest = rest.get(n..).unwrap_or_default();
                    self.offset = self.offset.saturating_add(to_u64(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(self.header_write_failed(rest.len() < bytes.len(), source));
                }
            }
        }
        self.current = Some(h.id);
        self.remaining = h.size;
        Ok(())
    }

    fn header_write_failed(&mut self, partly_written: bool, source: io::Error) -> Error {
        if partly_written {
            self.broken_at = Some(self.offset);
        }
        Error::Io {
            offset: self.offset,
            source,
        }
    }

    fn write_body(&mut self, inner: &mut dyn Write, buf: &[u8]) -> Result<usize, Error> {
        self.check_usable()?;
        let Some(id) = self.current else {
            return Err(Error::NoHeader);
        };
        let len = to_u64(buf.len());
        if let Some(excess) = len.checked_sub(self.remaining).filter(|&e| e > 0) {
            // Nothing is written, as in go-winio: a partial write followed by an error would
            // leave the caller unsure how much of `buf` went out.
            return Err(Error::TooManyBytes { id: id.0, excess });
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = inner
            .write(buf)
            .map_err(|source| Error::Io {
                offset: self.offset,
                source,
            })?
            .min(buf.len());
        self.remaining = self.remaining.saturating_sub(to_u64(n));
        self.offset = self.offset.saturating_add(to_u64(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamAttributes;

    #[test]
    fn encode_lays_out_fields_little_endian() {
        let h = StreamHeader {
            attributes: StreamAttributes(0x0102_0304),
            ..StreamHeader::sparse_block(-2, 5)
        };
        let bytes = encode(&h, 0).unwrap();
        assert_eq!(
            bytes,
            [
                9, 0, 0, 0, 4, 3, 2, 1, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }

    #[test]
    fn encode_reports_the_offset_given() {
        let h = StreamHeader::new(StreamId(0), 0);
        assert!(matches!(
            encode(&h, 77),
            Err(Error::UnknownStreamId { id: 0, offset: 77 })
        ));
    }
}

//! Reading backup streams (docs/backup-stream.md §2.1).
//!
//! The reader is a small state machine over any [`Read`]. It is in one of two states:
//!
//! - **between streams or inside a header**: `remaining == 0`; the bytes of a header that
//!   has been started but not finished (because the input failed with an I/O error) are kept
//!   in `partial`, so that calling [`BackupStreamReader::next_header`] again continues where
//!   the failed call stopped;
//! - **inside a body**: `remaining > 0`; [`Read`] hands out body bytes, and the next call of
//!   `next_header` skips what is left.
//!
//! Decoding errors (truncation, invalid header fields) leave the state untouched, so calling
//! `next_header` again reports the same error rather than mistaking the rest of the input
//! for a new header.

use std::io::{self, Read, Seek, SeekFrom};

use super::StreamHeader;
use super::frame::{Fixed, decode_name, le_u64};
use crate::error::Error;

/// How many body bytes are discarded per `read` call when a body is skipped without
/// seeking. Bodies can be gigabytes long, so skipping never buffers more than this.
const SKIP_CHUNK: usize = 8 * 1024;

/// How many header or name bytes are read per `read` call. The name buffer grows only as
/// bytes actually arrive, so a header that declares a 64 KiB name but is followed by nothing
/// costs nothing.
const HEADER_CHUNK: usize = 512;

/// Reads a Win32 backup stream: a sequence of `WIN32_STREAM_ID` headers, each followed by
/// a body (docs/backup-stream.md §1–§2).
///
/// Call [`next_header`](Self::next_header) to move to the next stream, then read its body
/// through the [`Read`] implementation, which returns `Ok(0)` at the end of the body. Bodies
/// need not be read: `next_header` skips whatever is left of the current one. The reader
/// never holds a body in memory.
///
/// ```
/// use std::io::Read;
/// use wclayer_backup::{BackupStreamReader, StreamId};
///
/// // One data stream holding "hi".
/// let bytes = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'h', b'i'];
/// let mut r = BackupStreamReader::new(&bytes[..]);
/// let h = r.next_header()?.expect("a header");
/// assert_eq!((h.id, h.size), (StreamId::DATA, 2));
/// let mut body = String::new();
/// r.read_to_string(&mut body)?;
/// assert_eq!(body, "hi");
/// assert!(r.next_header()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Differences from go-winio
///
/// go-winio's reader trusts its input; this one does not (docs/backup-stream.md §2.1,
/// docs/compat.md):
///
/// - input that ends right after a complete 20-byte header, before its name or sparse
///   offset, is [`Error::Truncated`], not a clean end;
/// - an odd `dwStreamNameSize`, a name size over 64 KiB and a sparse block whose `Size` is
///   below 8 are [`Error::InvalidHeader`];
/// - ids 0 and above 11 are [`Error::UnknownStreamId`]. The reader stays in step after this
///   error: the next call of `next_header` skips the unknown stream's body, so a caller may
///   choose to continue (docs/backup-stream.md §3.2, "allow skipping").
///
/// # Drop behaviour
///
/// Dropping the reader drops the inner reader; nothing else happens. Unread bytes of the
/// current body stay unread.
#[derive(Debug)]
pub struct BackupStreamReader<R> {
    inner: R,
    state: State,
}

/// Everything but the inner reader, so that the decoding code is compiled once for
/// `&mut dyn Read` instead of once per reader type.
#[derive(Debug, Default)]
struct State {
    /// Bytes consumed from the inner reader so far (read or skipped by seeking).
    offset: u64,
    /// Body bytes of the current stream not yet read.
    remaining: u64,
    /// The bytes of a header that has been started but not completed: the fixed 20 bytes,
    /// then the name, then (id 9) the offset. Empty between headers.
    partial: Vec<u8>,
}

impl<R: Read> BackupStreamReader<R> {
    /// Wraps `inner`, which must be positioned at the start of a backup stream (or of a
    /// header inside one). [`offset`](Self::offset) counts from that position.
    pub fn new(inner: R) -> Self {
        BackupStreamReader {
            inner,
            state: State::default(),
        }
    }

    /// Moves to the next stream and returns its header, or `Ok(None)` when the input ends
    /// cleanly exactly at a header boundary.
    ///
    /// Unread body bytes of the previous stream are read and discarded, a bounded buffer at
    /// a time; use [`next_header_seek`](Self::next_header_seek) to skip them with a seek.
    ///
    /// # Errors
    ///
    /// - [`Error::Truncated`] when the input ends inside a header, name, sparse offset or the
    ///   body being skipped (`offset` is the end of the input);
    /// - [`Error::InvalidHeader`] for an odd or over-64-KiB name size, or a sparse block with
    ///   `Size < 8` (`offset` is the header's);
    /// - [`Error::UnknownStreamId`] for id 0 or an id above 11 (`offset` is the header's);
    ///   the next call skips that stream;
    /// - [`Error::Io`] when the inner reader fails. `ErrorKind::Interrupted` is retried.
    ///   After any other I/O error, calling `next_header` again resumes where it stopped.
    ///
    /// Decoding errors are repeated by later calls: the reader does not guess where the next
    /// header might start.
    pub fn next_header(&mut self) -> Result<Option<StreamHeader>, Error> {
        self.state.skip_by_reading(&mut self.inner)?;
        self.state.decode_header(&mut self.inner)
    }

    /// Body bytes of the current stream not yet read. 0 between streams, before the first
    /// header and after an error in a header.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.state.remaining
    }

    /// Bytes consumed from the inner reader since [`new`](Self::new), including bytes
    /// skipped by seeking. After `next_header` returns a header, this is the offset of the
    /// header's body.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.state.offset
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader. Reading from it or seeking it desynchronizes this reader, which
    /// then reports whatever it finds where it expects the next bytes.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the inner reader, positioned after the last byte this reader consumed.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read + Seek> BackupStreamReader<R> {
    /// Like [`next_header`](Self::next_header), but skips unread body bytes with a seek
    /// instead of reading them.
    ///
    /// A seek past the end of a file succeeds, so a body that the input cuts short would
    /// otherwise look like a clean end of stream. To catch that, the skip first asks the
    /// inner reader where its end is and reports [`Error::Truncated`] if the body does not
    /// fit. This costs two extra seeks per skipped body, and only when something is skipped.
    ///
    /// # Errors
    ///
    /// As for `next_header`; a failed seek is [`Error::Io`].
    pub fn next_header_seek(&mut self) -> Result<Option<StreamHeader>, Error> {
        self.state.skip_by_seeking(&mut self.inner)?;
        self.state.decode_header(&mut self.inner)
    }
}

impl<R: Read> Read for BackupStreamReader<R> {
    /// Reads body bytes of the current stream. Returns `Ok(0)` at the end of the body, and
    /// before the first header.
    ///
    /// An input that ends inside the body fails with `ErrorKind::UnexpectedEof` (the error
    /// wraps [`Error::Truncated`] with the offset of the end of the input).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.state.read_body(&mut self.inner, buf)
    }
}

/// `usize` to `u64`: lossless on every platform Rust supports (usize is at most 64 bits).
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The part of `buf` that can hold at most `limit` bytes.
fn limit_buf(buf: &mut [u8], limit: u64) -> &mut [u8] {
    let len = usize::try_from(limit).map_or(buf.len(), |l| l.min(buf.len()));
    buf.get_mut(..len).unwrap_or_default()
}

/// How a fill of `partial` ended.
enum Fill {
    /// `partial` holds the requested number of bytes.
    Complete,
    /// The input ended first.
    Eof,
}

impl State {
    /// Offset of the header being decoded: `partial` holds the bytes read of it so far.
    fn header_offset(&self) -> u64 {
        self.offset.saturating_sub(to_u64(self.partial.len()))
    }

    fn truncated(&self, what: &'static str) -> Error {
        Error::Truncated {
            what,
            offset: self.offset,
        }
    }

    fn invalid(&self, reason: &'static str) -> Error {
        Error::InvalidHeader {
            offset: self.header_offset(),
            reason,
        }
    }

    fn advance(&mut self, n: usize) {
        self.offset = self.offset.saturating_add(to_u64(n));
    }

    /// Reads into `partial` until it holds `want` bytes or the input ends.
    fn fill(&mut self, inner: &mut dyn Read, want: usize) -> Result<Fill, Error> {
        let mut chunk = [0u8; HEADER_CHUNK];
        while let Some(missing) = want.checked_sub(self.partial.len()).filter(|&m| m > 0) {
            let buf = limit_buf(&mut chunk, to_u64(missing));
            match inner.read(buf) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    // A misbehaving reader may claim more than the buffer holds; never
                    // trust it beyond the buffer.
                    let got = buf.get(..n).unwrap_or(buf);
                    self.partial.extend_from_slice(got);
                    self.advance(got.len());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        offset: self.offset,
                        source,
                    });
                }
            }
        }
        Ok(Fill::Complete)
    }

    /// Decodes the header at the current position (docs/backup-stream.md §2.1 steps 1–4).
    fn decode_header(&mut self, inner: &mut dyn Read) -> Result<Option<StreamHeader>, Error> {
        // Step 1: the fixed part.
        if let Fill::Eof = self.fill(inner, StreamHeader::FIXED_SIZE)? {
            return if self.partial.is_empty() {
                Ok(None)
            } else {
                Err(self.truncated("stream header"))
            };
        }
        let fixed = Fixed::parse(&self.partial).map_err(|reason| self.invalid(reason))?;
        let (id, attributes, size, sparse) = (fixed.id, fixed.attributes, fixed.size, fixed.sparse);

        // Steps 2 and 3: the name, then the sparse offset (both bounded by `Fixed::parse`).
        let name_end = fixed.name_end();
        let total = fixed.header_len();
        if let Fill::Eof = self.fill(inner, total)? {
            // This includes input that ends right after the 20 bytes: go-winio calls that a
            // clean end, we call it truncated (docs/compat.md).
            let what = if self.partial.len() < name_end {
                "stream name"
            } else {
                "sparse block offset"
            };
            return Err(self.truncated(what));
        }
        let name = decode_name(
            self.partial
                .get(StreamHeader::FIXED_SIZE..name_end)
                .unwrap_or_default(),
        );
        let offset = if sparse {
            le_u64(&self.partial, name_end).map_or(0, u64::cast_signed)
        } else {
            0
        };

        // The header is complete: the body starts here, whatever the id says.
        let header_offset = self.header_offset();
        self.partial.clear();
        // A 64 KiB name should not pin 64 KiB for the rest of the stream.
        self.partial.shrink_to(HEADER_CHUNK);
        self.remaining = size;

        if !id.is_known() {
            // The stream is framed like any other, so the reader can stay in step: the next
            // call skips this body (docs/backup-stream.md §3.2 lets a raw reader skip unknown ids).
            return Err(Error::UnknownStreamId {
                id: id.0,
                offset: header_offset,
            });
        }
        Ok(Some(StreamHeader {
            id,
            attributes,
            size,
            name,
            offset,
        }))
    }

    /// Discards the rest of the current body by reading it.
    fn skip_by_reading(&mut self, inner: &mut dyn Read) -> Result<(), Error> {
        let mut scratch = [0u8; SKIP_CHUNK];
        while self.remaining > 0 {
            let buf = limit_buf(&mut scratch, self.remaining);
            match inner.read(buf) {
                Ok(0) => return Err(self.truncated("stream body")),
                Ok(n) => self.consume_body(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        offset: self.offset,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Discards the rest of the current body by seeking past it, after checking that the
    /// input holds it.
    fn skip_by_seeking<S: Read + Seek>(&mut self, inner: &mut S) -> Result<(), Error> {
        if self.remaining == 0 {
            return Ok(());
        }
        let io_err = |offset: u64| move |source: io::Error| Error::Io { offset, source };
        let pos = inner.stream_position().map_err(io_err(self.offset))?;
        let end = inner.seek(SeekFrom::End(0)).map_err(io_err(self.offset))?;
        let available = end.saturating_sub(pos);
        if available < self.remaining {
            // The inner reader is now at its end, so every byte up to it counts as consumed;
            // the error names the end of the input, and a repeated call repeats it.
            self.offset = self.offset.saturating_add(available);
            self.remaining = self.remaining.saturating_sub(available);
            return Err(self.truncated("stream body"));
        }
        // `pos + remaining <= end`, so this cannot overflow.
        let target = pos.saturating_add(self.remaining);
        inner
            .seek(SeekFrom::Start(target))
            .map_err(io_err(self.offset))?;
        self.offset = self.offset.saturating_add(self.remaining);
        self.remaining = 0;
        Ok(())
    }

    fn consume_body(&mut self, n: usize) {
        self.remaining = self.remaining.saturating_sub(to_u64(n));
        self.advance(n);
    }

    fn read_body(&mut self, inner: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let buf = limit_buf(buf, self.remaining);
        loop {
            match inner.read(buf) {
                Ok(0) => return Err(self.truncated("stream body").into()),
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.consume_body(n);
                    return Ok(n);
                }
                // Retried here too, so callers see the same behaviour from every method.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_buf_never_exceeds_either_bound() {
        let mut b = [0u8; 10];
        assert_eq!(limit_buf(&mut b, 3).len(), 3);
        assert_eq!(limit_buf(&mut b, u64::MAX).len(), 10);
        assert_eq!(limit_buf(&mut b, 0).len(), 0);
    }

    #[test]
    fn header_offset_counts_back_over_partial_bytes() {
        let s = State {
            offset: 30,
            remaining: 0,
            partial: vec![0; 12],
        };
        assert_eq!(s.header_offset(), 18);
    }
}

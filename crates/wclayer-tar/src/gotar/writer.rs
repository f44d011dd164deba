//! [`GoTarWriter`]: Go's `Writer.WriteHeader`, `Write` and `Close` around any [`Write`].

use std::fmt;
use std::io::{self, Write};

use super::encode::encode;
use super::{Error, Header, ZERO_BLOCK, block_padding, len_u64};

/// Writes a tar archive byte-identical to Go's `tar.Writer` (docs/oci-tar-mapping.md §8).
///
/// # Drop behaviour
///
/// Dropping the writer (or calling [`GoTarWriter::into_inner`]) writes nothing more: the
/// archive has no trailer and the current entry may lack data or padding, just like an
/// hcsshim export that failed half-way (docs/oci-tar-mapping.md §7). Only [`GoTarWriter::finish`] completes it.
pub struct GoTarWriter<W: Write> {
    inner: W,
    state: State,
}

impl<W: Write> fmt::Debug for GoTarWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoTarWriter")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<W: Write> GoTarWriter<W> {
    /// Starts an archive on `inner`. Nothing is written until the first header.
    pub fn new(inner: W) -> Self {
        GoTarWriter {
            inner,
            state: State::default(),
        }
    }

    /// Writes the header of the next entry, as Go's `Writer.WriteHeader`: first the padding of
    /// the previous entry's data, then either one USTAR header block, or a PAX extended header
    /// (`x` block + records, padded) followed by the main header block (docs/oci-tar-mapping.md §8.3–§8.5).
    ///
    /// # Errors
    ///
    /// [`Error::MissedWriting`] if the previous entry's data is incomplete (nothing written);
    /// the header validation errors ([`Error::InvalidPaxRecord`], [`Error::TrailingSlash`],
    /// [`Error::ReservedTypeflag`], [`Error::NegativeSize`], [`Error::GlobalHeaderFields`],
    /// [`Error::Unencodable`]), after which, as in Go, the previous padding is already written
    /// but the writer stays usable; [`Error::FieldTooLong`] and [`Error::Io`], which poison
    /// it; [`Error::Poisoned`].
    pub fn write_header(&mut self, header: &Header) -> Result<(), Error> {
        self.state.write_header(&mut self.inner, header)
    }

    /// Ends the archive as Go's `Writer.Close`: pads the last entry's data and writes two
    /// zero blocks, without padding to a 10240-byte record (docs/oci-tar-mapping.md §8.7). Returns the inner
    /// writer, not flushed.
    ///
    /// # Errors
    ///
    /// [`Error::MissedWriting`] if the last entry's data is incomplete, [`Error::Io`],
    /// [`Error::Poisoned`]. The inner writer is dropped on error; use
    /// [`GoTarWriter::get_mut`] first if it is still needed.
    pub fn finish(mut self) -> Result<W, Error> {
        self.state.finish(&mut self.inner)?;
        Ok(self.inner)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer. Writing to it directly corrupts the archive.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives up the archive and returns the inner writer without writing anything more
    /// (see the drop behaviour above).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Bytes handed to the inner writer so far (headers, records, data, padding, trailer).
    pub fn bytes_written(&self) -> u64 {
        self.state.written
    }

    /// Writes all of `buf` as data of the current entry, with the error typed (the
    /// [`Write`] implementation is the same with the error as [`io::Error`]).
    ///
    /// # Errors
    /// [`Error::WriteTooLong`] when the entry expects fewer bytes (what fits is written, as
    /// Go writes it); [`Error::Io`] (which poisons the writer); [`Error::Poisoned`].
    pub fn write_data(&mut self, mut buf: &[u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            match self.state.write_data(&mut self.inner, buf) {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Entry data, as Go's `Writer.Write`.
///
/// A buffer longer than what the entry still expects is cut to fit (`Ok` with the shorter
/// count); a write when nothing more is expected — including any data for typeflags `1`–`6`
/// — fails with [`Error::WriteTooLong`] (as an [`io::Error`] of kind `InvalidInput`), so
/// `write_all` of too much data writes exactly the expected bytes and then fails, as Go
/// does. I/O errors other than `Interrupted` poison the writer.
impl<W: Write> Write for GoTarWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.state.write_data(&mut self.inner, buf)?)
    }

    /// Flushes the inner writer only; padding is written by the next header or by `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The writer's bookkeeping, kept out of the generic type so the logic is compiled once.
#[derive(Debug, Default)]
struct State {
    /// Data bytes the current entry still expects (Go's `regFileWriter.nb`).
    remaining: u64,
    /// NUL bytes owed after the current entry's data (Go's `Writer.pad`).
    pad: usize,
    written: u64,
    /// Set by errors Go keeps in `Writer.err`.
    poisoned: bool,
}

impl State {
    fn check(&self) -> Result<(), Error> {
        if self.poisoned {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Writes `bytes` in full; any failure poisons the writer.
    fn emit(&mut self, w: &mut dyn Write, bytes: &[u8]) -> Result<(), Error> {
        if let Err(e) = w.write_all(bytes) {
            self.poisoned = true;
            return Err(Error::Io(e));
        }
        self.written = self.written.saturating_add(len_u64(bytes.len()));
        Ok(())
    }

    /// Go's `Writer.Flush`: refuse while data is missing, else write the pending padding.
    fn flush_padding(&mut self, w: &mut dyn Write) -> Result<(), Error> {
        self.check()?;
        if self.remaining > 0 {
            return Err(Error::MissedWriting {
                remaining: self.remaining,
            });
        }
        let pad = ZERO_BLOCK.get(..self.pad).unwrap_or_default();
        self.emit(w, pad)?;
        self.pad = 0;
        Ok(())
    }

    fn write_header(&mut self, w: &mut dyn Write, header: &Header) -> Result<(), Error> {
        self.flush_padding(w)?;
        let encoded = match encode(header) {
            Ok(encoded) => encoded,
            Err(err) => {
                // Go stores this one in Writer.err (writePAXHeader's result); the validation
                // errors of allowedFormats are returned without it.
                if matches!(err, Error::FieldTooLong { .. }) {
                    self.poisoned = true;
                }
                return Err(err);
            }
        };
        self.emit(w, &encoded.bytes)?;
        self.remaining = encoded.data_size;
        self.pad = block_padding(encoded.data_size);
        Ok(())
    }

    fn write_data(&mut self, w: &mut dyn Write, buf: &[u8]) -> Result<usize, Error> {
        self.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            return Err(Error::WriteTooLong);
        }
        let len = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let chunk = buf.get(..len).unwrap_or_default();
        match w.write(chunk) {
            Ok(n) => {
                let n64 = len_u64(n);
                self.remaining = self.remaining.saturating_sub(n64);
                self.written = self.written.saturating_add(n64);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(Error::Io(e)),
            Err(e) => {
                self.poisoned = true;
                Err(Error::Io(e))
            }
        }
    }

    fn finish(&mut self, w: &mut dyn Write) -> Result<(), Error> {
        self.flush_padding(w)?;
        self.emit(w, &ZERO_BLOCK)?;
        self.emit(w, &ZERO_BLOCK)
    }
}

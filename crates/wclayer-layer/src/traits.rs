//! The two layer traits, after hcsshim's `LayerWriter` and `LayerReader`, and the `io` views
//! of their streams that keep errors typed.

use std::io;

use wclayer_backup::FileBasicInfo;

use crate::{Entry, Error, LayerPath, LinkInfo};

/// Receives a layer. Data for the entry last passed to [`LayerWriter::add`] arrives as a
/// Win32 backup stream through [`LayerWriter::write_stream`] (hcsshim `LayerWriter.Write`);
/// the [`io::Write`] implementation every writer also has does the same, with the error
/// converted to [`io::Error`].
///
/// # Drop behaviour
/// A writer dropped without a successful [`LayerWriter::close`] leaves nothing behind:
/// implementations discard what they staged.
pub trait LayerWriter: io::Write {
    /// Starts a file or directory with the given metadata.
    ///
    /// # Errors
    /// When the name cannot be added (a duplicate, below a non-directory, ...).
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error>;
    /// Adds `name` as a hard link to `target`, which must already be in the layer.
    ///
    /// # Errors
    /// When the target is unknown or a directory, or the name cannot be added.
    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error>;
    /// Records that `name`, present in a parent layer, is deleted by this one.
    ///
    /// # Errors
    /// When the layer cannot hold tombstones (a base layer).
    fn remove(&mut self, name: &LayerPath) -> Result<(), Error>;
    /// Appends all of `buf` to the backup stream of the current entry.
    ///
    /// # Errors
    /// [`Error::NoEntry`] when no entry is open; the back end's error (typed, in
    /// [`Error::Backend`]) when the bytes cannot be stored.
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), Error>;
    /// Commits the layer. Nothing is visible before this returns `Ok`.
    ///
    /// # Errors
    /// When finishing the last entry or committing fails.
    fn close(&mut self) -> Result<(), Error>;
}

/// Walks a layer. The backup stream of the current [`Entry::File`] comes through
/// [`LayerReader::read_stream`] (and the [`io::Read`] implementation every reader also
/// has); bytes left unread are skipped by the next [`LayerReader::next`].
pub trait LayerReader: io::Read {
    /// Advances to the next entry; `Ok(None)` at the end of the layer.
    ///
    /// # Errors
    /// When the layer cannot be walked.
    fn next(&mut self) -> Result<Option<Entry>, Error>;
    /// Link count and identity of the current file.
    ///
    /// # Errors
    /// When there is no current file.
    fn link_info(&mut self) -> Result<LinkInfo, Error>;
    /// Reads the next bytes of the current entry's backup stream; `Ok(0)` at its end (or
    /// when there is no current file).
    ///
    /// # Errors
    /// The back end's error (typed) when the stored bytes cannot be read.
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, Error>;
    /// Whether the current entry's backup stream can be re-read with
    /// [`LayerReader::seek_stream`]. The tar export asks this to choose go-winio's two-pass
    /// scan (docs/oci-tar-mapping.md §5.2). The default says no.
    fn can_seek_stream(&self) -> bool {
        false
    }
    /// Repositions the current entry's backup stream.
    ///
    /// # Errors
    /// [`Error::Unseekable`] from readers whose streams cannot be re-read (the default).
    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, Error> {
        let _ = pos;
        Err(Error::Unseekable)
    }
    /// Releases resources; later calls fail with [`Error::Closed`].
    ///
    /// # Errors
    /// When releasing fails.
    fn close(&mut self) -> Result<(), Error>;
}

impl<T: LayerWriter + ?Sized> LayerWriter for &mut T {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        (**self).add(name, info)
    }
    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        (**self).add_link(name, target)
    }
    fn remove(&mut self, name: &LayerPath) -> Result<(), Error> {
        (**self).remove(name)
    }
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), Error> {
        (**self).write_stream(buf)
    }
    fn close(&mut self) -> Result<(), Error> {
        (**self).close()
    }
}

impl<T: LayerWriter + ?Sized> LayerWriter for Box<T> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        (**self).add(name, info)
    }
    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        (**self).add_link(name, target)
    }
    fn remove(&mut self, name: &LayerPath) -> Result<(), Error> {
        (**self).remove(name)
    }
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), Error> {
        (**self).write_stream(buf)
    }
    fn close(&mut self) -> Result<(), Error> {
        (**self).close()
    }
}

impl<T: LayerReader + ?Sized> LayerReader for &mut T {
    fn next(&mut self) -> Result<Option<Entry>, Error> {
        (**self).next()
    }
    fn link_info(&mut self) -> Result<LinkInfo, Error> {
        (**self).link_info()
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        (**self).read_stream(buf)
    }
    fn can_seek_stream(&self) -> bool {
        (**self).can_seek_stream()
    }
    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, Error> {
        (**self).seek_stream(pos)
    }
    fn close(&mut self) -> Result<(), Error> {
        (**self).close()
    }
}

impl<T: LayerReader + ?Sized> LayerReader for Box<T> {
    fn next(&mut self) -> Result<Option<Entry>, Error> {
        (**self).next()
    }
    fn link_info(&mut self) -> Result<LinkInfo, Error> {
        (**self).link_info()
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        (**self).read_stream(buf)
    }
    fn can_seek_stream(&self) -> bool {
        (**self).can_seek_stream()
    }
    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, Error> {
        (**self).seek_stream(pos)
    }
    fn close(&mut self) -> Result<(), Error> {
        (**self).close()
    }
}

/// The current entry's backup stream of a [`LayerReader`] as [`io::Read`] + [`io::Seek`],
/// for codecs that read from `io` (the backup-stream reader), keeping the reader's error
/// typed: after an `io` call fails, [`StreamReader::take_error`] gives the reader's own
/// [`Error`].
#[derive(Debug)]
pub struct StreamReader<'a, R: LayerReader + ?Sized> {
    inner: &'a mut R,
    error: Option<Error>,
}

impl<'a, R: LayerReader + ?Sized> StreamReader<'a, R> {
    /// A view of `inner`'s current stream.
    pub fn new(inner: &'a mut R) -> Self {
        StreamReader { inner, error: None }
    }

    /// The reader's error behind the last failed `io` call, if it came from the reader.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// The typed error for a failed `io` call: the reader's own, or the `io` error itself
    /// (named after `entry`).
    pub fn error_for(&mut self, entry: &str, e: io::Error) -> Error {
        self.take_error().unwrap_or_else(|| Error::io(entry, e))
    }

    fn keep(&mut self, e: Error) -> io::Error {
        let io = io::Error::new(e.io_kind(), "layer reader failed");
        self.error = Some(e);
        io
    }
}

impl<R: LayerReader + ?Sized> io::Read for StreamReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_stream(buf).map_err(|e| self.keep(e))
    }
}

impl<R: LayerReader + ?Sized> io::Seek for StreamReader<'_, R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek_stream(pos).map_err(|e| self.keep(e))
    }
}

/// The current entry's backup stream of a [`LayerWriter`] as [`io::Write`], keeping the
/// writer's error typed: after an `io` call fails, [`StreamWriter::take_error`] gives the
/// writer's own [`Error`].
#[derive(Debug)]
pub struct StreamWriter<'a, W: LayerWriter + ?Sized> {
    inner: &'a mut W,
    error: Option<Error>,
}

impl<'a, W: LayerWriter + ?Sized> StreamWriter<'a, W> {
    /// A view of `inner`'s current stream.
    pub fn new(inner: &'a mut W) -> Self {
        StreamWriter { inner, error: None }
    }

    /// The writer's error behind the last failed `io` call, if it came from the writer.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// The typed error for a failed `io` call: the writer's own, or the `io` error itself
    /// (named after `entry`).
    pub fn error_for(&mut self, entry: &str, e: io::Error) -> Error {
        self.take_error().unwrap_or_else(|| Error::io(entry, e))
    }
}

impl<W: LayerWriter + ?Sized> io::Write for StreamWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write_stream(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let io = io::Error::new(e.io_kind(), "layer writer failed");
                self.error = Some(e);
                Err(io)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

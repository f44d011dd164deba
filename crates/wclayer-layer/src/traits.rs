//! The two layer traits, after hcsshim's `LayerWriter` and `LayerReader`.

use std::io;

use wclayer_backup::FileBasicInfo;

use crate::{Entry, Error, LayerPath, LinkInfo};

/// Receives a layer. Data for the entry last passed to [`LayerWriter::add`] arrives through
/// [`io::Write`], as a Win32 backup stream (hcsshim `LayerWriter.Write`).
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
    /// Commits the layer. Nothing is visible before this returns `Ok`.
    ///
    /// # Errors
    /// When finishing the last entry or committing fails.
    fn close(&mut self) -> Result<(), Error>;
}

/// Walks a layer. The backup stream of the current [`Entry::File`] comes through
/// [`io::Read`]; bytes left unread are skipped by the next [`LayerReader::next`].
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
    /// Repositions the current entry's backup stream. Readers whose streams can be
    /// re-read support it; the default says `Unsupported`. The tar export probes this with
    /// `SeekFrom::Current(0)` to choose go-winio's two-pass scan (oci-tar-mapping.md §5.2).
    ///
    /// # Errors
    /// `io::ErrorKind::Unsupported` when the reader cannot seek.
    fn seek_stream(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let _ = pos;
        Err(io::ErrorKind::Unsupported.into())
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
    fn seek_stream(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
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
    fn seek_stream(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        (**self).seek_stream(pos)
    }
    fn close(&mut self) -> Result<(), Error> {
        (**self).close()
    }
}

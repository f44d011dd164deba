//! Windows container image layers on any OS, with hcsshim's API.
//!
//! The functions mirror hcsshim's `internal/wclayer` and `pkg/ociwclayer` entry points, with
//! the same meaning and the same tracing spans (`hcsshim::ImportLayer` becomes
//! `wclayer::import_layer`, with the attributes `path`, `importFolderPath`,
//! `parentLayerPaths`, ...):
//!
//! | hcsshim | wclayer | what |
//! |---|---|---|
//! | `ImportLayer` | [`import_layer`] | a transport folder into a new layer directory |
//! | `ExportLayer` | [`export_layer`] | a layer directory into a transport folder |
//! | `NewLayerWriter` | [`new_layer_writer`] | a [`LayerWriter`] creating a layer directory |
//! | `NewLayerReader` | [`new_layer_reader`] | a [`LayerReader`] over a layer directory |
//! | `ImportLayerFromTar` | [`import_layer_from_tar`] | an OCI layer tar into a new layer directory |
//! | `ExportLayerToTar` | [`export_layer_to_tar`] | a layer directory as an OCI layer tar |
//!
//! Parents are layer directories, nearest parent first and base layer last; no parents
//! means a base layer. On Linux a layer directory holds the content as ordinary files and
//! every piece of Windows metadata in a sidecar (see `wclayer-store`); the transport folder
//! is hcsshim's format exactly (see `wclayer-folder`).
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//!
//! let tar = std::fs::File::open("layer.tar")?;
//! let size = wclayer::import_layer_from_tar(tar, Path::new("/layers/l2"), &[PathBuf::from("/layers/l1")])?;
//! wclayer::export_layer(Path::new("/layers/l2"), Path::new("/tmp/l2-folder"), &[PathBuf::from("/layers/l1")])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tracing::Span;
use tracing::field::Empty;
use wclayer_fs::ambient_authority;

pub use wclayer_folder::{FolderLayerReader, FolderLayerWriter};
pub use wclayer_layer::{
    CopyStats, Entry, FileAttributes, FileBasicInfo, FileIdInfo, FileTime, LayerPath, LayerReader,
    LayerWriter, Limits, LinkInfo, MemLayer, copy_layer,
};
pub use wclayer_store::{DirLayerReader, DirLayerWriter};
pub use wclayer_tar::archive::ArchiveReader;
pub use wclayer_tar::{ExportStats, ImportStats};

/// The crates below the API, for programs that need more than hcsshim's calls (the
/// `wclayer` command line uses them through here).
pub mod crates {
    pub use wclayer_backup as backup;
    pub use wclayer_folder as folder;
    pub use wclayer_fs as fs;
    pub use wclayer_layer as layer;
    pub use wclayer_store as store;
    pub use wclayer_tar as tar;
}
pub use wclayer_backup as backup;

/// hcsshim's Windows back end (docs/windows.md):
/// layers written and read where Windows expects them, through the Host Compute Service and
/// the backup APIs, exactly as hcsshim does. The writers, readers and entry points are
/// generic over a [`windows::Host`]; `windows::Win32Host` (on Windows) makes the real calls,
/// [`windows::testing::RecordingHost`] records them (on every system).
pub mod windows {
    pub use wclayer_hcs::*;
}

pub mod chain;
pub mod create;
pub mod delta;
pub mod diff;
pub mod verify;

/// An error of one of the API calls; the message names the layer and the entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The layer directory could not be created, opened, written or read.
    #[error(transparent)]
    Store(#[from] wclayer_store::Error),
    /// The transport folder could not be created, opened, written or read.
    #[error(transparent)]
    Folder(#[from] wclayer_folder::Error),
    /// A layer reader or writer refused an entry.
    #[error(transparent)]
    Layer(#[from] wclayer_layer::Error),
    /// The tar could not be imported or exported.
    #[error(transparent)]
    Tar(#[from] wclayer_tar::Error),
}

impl Error {
    /// What went over a [`Limits`] and the limit, when the layer claimed too much
    /// (`"entries"` or `"bytes of file data"`).
    #[must_use]
    pub fn exceeded_limit(&self) -> Option<(&'static str, u64)> {
        self.model().and_then(wclayer_layer::Error::limit)
    }

    /// The layer model's error inside this one, when the model refused something (an
    /// entry, a limit, a base layer without `Files`).
    #[must_use]
    pub fn model(&self) -> Option<&wclayer_layer::Error> {
        match self {
            Error::Layer(l)
            | Error::Store(wclayer_store::Error::Model(l))
            | Error::Folder(wclayer_folder::Error::Model(l))
            | Error::Tar(wclayer_tar::Error::Layer(l))
            | Error::Tar(wclayer_tar::Error::Whiteout { source: l, .. }) => Some(l),
            _ => None,
        }
    }
}

/// hcsshim joins the parent list with `", "` in its spans.
fn joined(parents: &[PathBuf]) -> String {
    parents
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records the outcome on `span`, as hcsshim's `oc.SetSpanStatus` does: nothing on success,
/// the error text on failure. No event is logged: the caller reports the error (once).
fn finish<T, E: std::fmt::Display>(span: &Span, r: Result<T, E>) -> Result<T, E> {
    if let Err(e) = &r {
        span.record("error", tracing::field::display(e));
    }
    r
}

/// hcsshim `ImportLayer`: imports the transport folder `import_folder` into a new layer
/// directory `path` over `parents` (nearest first).
///
/// # Errors
/// When the folder cannot be read, the layer cannot be created (it must not exist), or an
/// entry is refused. Nothing is left at `path` then.
pub fn import_layer(path: &Path, import_folder: &Path, parents: &[PathBuf]) -> Result<(), Error> {
    import_layer_limited(path, import_folder, parents, &Limits::default())
}

/// [`import_layer`], with `limits` on what the folder may claim instead of the defaults.
///
/// # Errors
/// As [`import_layer`], and [`wclayer_layer::Error::Limit`].
pub fn import_layer_limited(
    path: &Path,
    import_folder: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<(), Error> {
    let span = tracing::info_span!(
        "wclayer::import_layer",
        path = %path.display(),
        importFolderPath = %import_folder.display(),
        parentLayerPaths = %joined(parents),
        error = Empty,
    );
    let _guard = span.enter();
    finish(
        &span,
        (|| {
            let mut r = FolderLayerReader::open_limited(import_folder, limits)?;
            let mut w = DirLayerWriter::create_ambient(path, parents, ambient_authority())?;
            copy_layer(&mut r, &mut w)?;
            r.close()?;
            Ok(())
        })(),
    )
}

/// hcsshim `ExportLayer`: exports the layer directory `path` into a new transport folder
/// `export_folder`. `parents` are accepted as hcsshim takes them; a layer directory holds
/// everything its export needs.
///
/// # Errors
/// When the layer cannot be read or the folder cannot be written (it must not exist or be
/// empty).
pub fn export_layer(path: &Path, export_folder: &Path, parents: &[PathBuf]) -> Result<(), Error> {
    let span = tracing::info_span!(
        "wclayer::export_layer",
        path = %path.display(),
        exportFolderPath = %export_folder.display(),
        parentLayerPaths = %joined(parents),
        error = Empty,
    );
    let _guard = span.enter();
    finish(
        &span,
        (|| {
            let mut r = DirLayerReader::open_ambient(path, ambient_authority())?;
            let mut w = FolderLayerWriter::create(export_folder)?;
            copy_layer(&mut r, &mut w)?;
            r.close()?;
            Ok(())
        })(),
    )
}

/// hcsshim `NewLayerWriter`: a writer creating the layer directory `path` over `parents`
/// (a base layer when there are none). Its span, `wclayer::new_layer_writer`, lasts until
/// [`LayerWriter::close`].
///
/// # Errors
/// When the layer cannot be created (it must not exist) or a parent cannot be opened.
pub fn new_layer_writer(path: &Path, parents: &[PathBuf]) -> Result<Traced<DirLayerWriter>, Error> {
    let span = tracing::info_span!(
        "wclayer::new_layer_writer",
        path = %path.display(),
        parentLayerPaths = %joined(parents),
        error = Empty,
    );
    let inner = finish(
        &span,
        span.in_scope(|| DirLayerWriter::create_ambient(path, parents, ambient_authority())),
    )?;
    Ok(Traced { inner, span })
}

/// hcsshim `NewLayerReader`: a reader over the layer directory `path`, base or delta. Its
/// span, `wclayer::new_layer_reader`, lasts until [`LayerReader::close`].
///
/// # Errors
/// When the layer cannot be opened.
pub fn new_layer_reader(path: &Path, parents: &[PathBuf]) -> Result<Traced<DirLayerReader>, Error> {
    new_layer_reader_limited(path, parents, &Limits::default())
}

/// [`new_layer_reader`], with `limits` on what the layer directory's records may claim
/// instead of the defaults.
///
/// # Errors
/// As [`new_layer_reader`], and [`wclayer_layer::Error::Limit`].
pub fn new_layer_reader_limited(
    path: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<Traced<DirLayerReader>, Error> {
    let span = tracing::info_span!(
        "wclayer::new_layer_reader",
        path = %path.display(),
        parentLayerPaths = %joined(parents),
        error = Empty,
    );
    let inner = finish(
        &span,
        span.in_scope(|| -> Result<DirLayerReader, wclayer_store::Error> {
            let root =
                wclayer_fs::Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| {
                    wclayer_store::Error::Io {
                        op: "open layer directory",
                        entry: Some(path.display().to_string()),
                        source: e,
                    }
                })?;
            DirLayerReader::from_root_limited(root, limits)
        }),
    )?;
    Ok(Traced { inner, span })
}

/// [`new_layer_reader_limited`] without parents, over a layer directory the caller has
/// already opened as `root` (`path` only names it in the span): one handle for the reader
/// and for the caller's own look at the directory.
///
/// # Errors
/// As [`new_layer_reader_limited`].
pub(crate) fn new_layer_reader_in(
    root: wclayer_fs::Dir,
    path: &Path,
    limits: &Limits,
) -> Result<Traced<DirLayerReader>, Error> {
    let span = tracing::info_span!(
        "wclayer::new_layer_reader",
        path = %path.display(),
        parentLayerPaths = %joined(&[]),
        error = Empty,
    );
    let inner = finish(
        &span,
        span.in_scope(|| DirLayerReader::from_root_limited(root, limits)),
    )?;
    Ok(Traced { inner, span })
}

/// hcsshim `ImportLayerFromTar`: imports an OCI layer tar into a new layer directory and
/// returns the total size of its regular files, as hcsshim does.
///
/// # Errors
/// As [`new_layer_writer`] and [`wclayer_tar::import_tar`]; nothing is left at `path`.
pub fn import_layer_from_tar(r: impl Read, path: &Path, parents: &[PathBuf]) -> Result<u64, Error> {
    Ok(import_layer_from_tar_with_stats(r, path, parents, &Limits::default())?.total_size)
}

/// [`import_layer_from_tar`] with `limits` on what the tar may claim instead of the
/// defaults, returning everything the import counted (entries, links, tombstones, file
/// bytes).
///
/// # Errors
/// As [`import_layer_from_tar`], and [`wclayer_layer::Error::Limit`].
pub fn import_layer_from_tar_with_stats(
    r: impl Read,
    path: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<ImportStats, Error> {
    let mut w = new_layer_writer(path, parents)?;
    let span = w.span.clone();
    Ok(finish(
        &span,
        wclayer_tar::import_tar_limited(&mut ArchiveReader::new(r), &mut w, limits),
    )?)
}

/// hcsshim `ExportLayerToTar`: writes the layer directory `path` as an OCI layer tar with
/// the bytes hcsshim writes, and returns `w`.
///
/// # Errors
/// As [`new_layer_reader`] and [`wclayer_tar::export_tar`].
pub fn export_layer_to_tar<W: Write>(w: W, path: &Path, parents: &[PathBuf]) -> Result<W, Error> {
    Ok(export_layer_to_tar_with_stats(w, path, parents, &Limits::default())?.0)
}

/// [`export_layer_to_tar`] with `limits` on what the layer directory's records may claim
/// instead of the defaults, also returning what the export counted (files, links,
/// whiteouts, stream entries).
///
/// # Errors
/// As [`export_layer_to_tar`], and [`wclayer_layer::Error::Limit`].
pub fn export_layer_to_tar_with_stats<W: Write>(
    w: W,
    path: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<(W, ExportStats), Error> {
    let mut r = new_layer_reader_limited(path, parents, limits)?;
    let span = r.span.clone();
    let out = finish(&span, wclayer_tar::export_tar(&mut r, w))?;
    r.close()?;
    Ok(out)
}

/// A layer reader or writer whose tracing span lasts until `close` (or until it is dropped),
/// as the spans of hcsshim's `NewLayerWriter` / `NewLayerReader` do.
///
/// # Drop behaviour
/// Dropping it drops the inner reader or writer (a writer discards its output) and ends the
/// span.
#[derive(Debug)]
pub struct Traced<T> {
    inner: T,
    span: Span,
}

impl<T> Traced<T> {
    /// The wrapped reader or writer.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The span of the call that made it.
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl<T: LayerWriter> LayerWriter for Traced<T> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.inner.add(name, info)
    }
    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        self.inner.add_link(name, target)
    }
    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.inner.remove(name)
    }
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        self.inner.write_stream(buf)
    }
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        let r = finish(&self.span, self.span.in_scope(|| self.inner.close()));
        self.span = Span::none();
        r
    }
}

impl<T: Write> Write for Traced<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<T: LayerReader> LayerReader for Traced<T> {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        self.inner.next()
    }
    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        self.inner.link_info()
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        self.inner.read_stream(buf)
    }
    fn can_seek_stream(&self) -> bool {
        self.inner.can_seek_stream()
    }
    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, wclayer_layer::Error> {
        self.inner.seek_stream(pos)
    }
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        let r = finish(&self.span, self.inner.close());
        self.span = Span::none();
        r
    }
}

impl<T: Read> Read for Traced<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

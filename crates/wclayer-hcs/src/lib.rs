//! hcsshim's Windows layer writers and readers, portable.
//!
//! On Windows a layer is written where the Host Compute Service expects it, exactly as
//! hcsshim writes it (docs/windows.md, docs/layer-semantics.md §2–§11):
//!
//! - a base layer by [`BaseLayerWriter`]: every entry created with backup semantics and
//!   restored with `BackupWrite`, hard links made at once, directory times reapplied last,
//!   then HCS `ProcessBaseImage` and, with a utility VM, `ProcessUtilityImage`;
//! - a delta layer by [`LegacyLayerWriter`]: a transport folder in a temporary directory,
//!   HCS `ImportLayer`, then tombstones, hard links, directory times and the utility VM;
//! - read back by [`BaseLayerReader`] (`BackupRead` over the layer directory) and
//!   [`LegacyLayerReader`] (HCS `ExportLayer`, then the folder).
//!
//! The logic is here, compiled and tested on every system; every Windows call goes through
//! the [`Host`] trait. `Win32Host` (on Windows) makes the real calls with the
//! `wclayer-win32` crate; [`testing::RecordingHost`] is an in-memory double that records
//! them, so the order of calls is tested on Linux.
//!
//! The functions at the top level are hcsshim's entry points over a host:
//! [`new_layer_writer`], [`new_layer_reader`], [`import_layer`], [`export_layer`],
//! [`import_layer_from_tar`], [`export_layer_to_tar`], [`mount`] and [`unmount`].
#![forbid(unsafe_code)]

/// `io::Write` for a layer writer generic over a host: bytes go to `write_stream`.
macro_rules! io_write_via_stream {
    ($t:ident) => {
        impl<H: crate::Host> std::io::Write for $t<H> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                wclayer_layer::LayerWriter::write_stream(self, buf)
                    .map(|()| buf.len())
                    .map_err(|e| std::io::Error::new(e.io_kind(), e))
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

mod base;
mod clone;
mod error;
mod host;
mod legacy;
mod names;
mod reader;
mod sink;
pub mod testing;
#[cfg(windows)]
mod win32;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use wclayer_backup::FileBasicInfo;
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, Limits, LinkInfo};
use wclayer_tar::archive::ArchiveReader;
use wclayer_tar::{ExportStats, ImportStats};

pub use base::BaseLayerWriter;
pub use error::Error;
pub use host::{DirEntry, Guid, Host, HostFile, LayerDescriptor, Open, Stat};
pub use legacy::LegacyLayerWriter;
pub use names::layer_descriptors;
pub use reader::{BaseLayerReader, LegacyLayerReader};
#[cfg(windows)]
pub use win32::Win32Host;

/// hcsshim `NewLayerWriter`'s result: the base writer without parents, the legacy writer
/// over a transport folder otherwise.
pub enum WindowsLayerWriter<H: Host> {
    /// A base layer.
    Base(BaseLayerWriter<H>),
    /// A delta layer (boxed: it keeps the transport folder's state).
    Legacy(Box<LegacyLayerWriter<H>>),
}

/// hcsshim `NewLayerReader`'s result: the base reader without parents, the legacy reader
/// over HCS `ExportLayer` otherwise.
pub enum WindowsLayerReader<H: Host> {
    /// A base layer.
    Base(BaseLayerReader<H>),
    /// A delta layer.
    Legacy(LegacyLayerReader<H>),
}

/// hcsshim `NewLayerWriter(path, parents)`: a writer of the layer directory `path` (which
/// must exist) over `parents`, nearest first.
///
/// # Errors
/// When the roots cannot be opened or the transport folder cannot be made.
pub fn new_layer_writer<H: Host>(
    host: H,
    path: &Path,
    parents: &[PathBuf],
) -> Result<WindowsLayerWriter<H>, Error> {
    let _span = tracing::info_span!(
        "hcsshim::NewLayerWriter",
        path = %path.display(),
        parentLayerPaths = %joined(parents),
    )
    .entered();
    if parents.is_empty() {
        Ok(WindowsLayerWriter::Base(BaseLayerWriter::new(host, path)?))
    } else {
        Ok(WindowsLayerWriter::Legacy(Box::new(
            LegacyLayerWriter::new(host, path, parents)?,
        )))
    }
}

/// hcsshim `NewLayerReader(path, parents)`.
///
/// # Errors
/// When the layer cannot be opened or exported.
pub fn new_layer_reader<H: Host>(
    host: H,
    path: &Path,
    parents: &[PathBuf],
) -> Result<WindowsLayerReader<H>, Error> {
    let _span = tracing::info_span!(
        "hcsshim::NewLayerReader",
        path = %path.display(),
        parentLayerPaths = %joined(parents),
    )
    .entered();
    if parents.is_empty() {
        Ok(WindowsLayerReader::Base(BaseLayerReader::new(host, path)?))
    } else {
        Ok(WindowsLayerReader::Legacy(LegacyLayerReader::new(
            host, path, parents,
        )?))
    }
}

/// hcsshim `ImportLayer(path, importFolder, parents)`: HCS imports a transport folder into
/// the layer `path`.
///
/// # Errors
/// `NameToGuid` of a parent or `ImportLayer` failed.
pub fn import_layer<H: Host>(
    host: &H,
    path: &Path,
    import_folder: &Path,
    parents: &[PathBuf],
) -> Result<(), Error> {
    let _span = tracing::info_span!(
        "hcsshim::ImportLayer",
        path = %path.display(),
        importFolderPath = %import_folder.display(),
        parentLayerPaths = %joined(parents),
    )
    .entered();
    let d = layer_descriptors(host, parents)?;
    host.import_layer(path, import_folder, &d)
        .map_err(|source| Error::Hcs {
            title: "hcsshim::ImportLayer",
            source,
        })
}

/// hcsshim `ExportLayer(path, exportFolder, parents)`: HCS writes the layer `path` as a
/// transport folder.
///
/// # Errors
/// `NameToGuid` of a parent or `ExportLayer` failed.
pub fn export_layer<H: Host>(
    host: &H,
    path: &Path,
    export_folder: &Path,
    parents: &[PathBuf],
) -> Result<(), Error> {
    let _span = tracing::info_span!(
        "hcsshim::ExportLayer",
        path = %path.display(),
        exportFolderPath = %export_folder.display(),
        parentLayerPaths = %joined(parents),
    )
    .entered();
    let d = layer_descriptors(host, parents)?;
    host.export_layer(path, export_folder, &d)
        .map_err(|source| Error::Hcs {
            title: "hcsshim::ExportLayer",
            source,
        })
}

/// An import from a tar failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The layer directory could not be made.
    #[error(transparent)]
    Layer(#[from] Error),
    /// The tar or the writer failed.
    #[error(transparent)]
    Tar(#[from] wclayer_tar::Error),
}

/// hcsshim `ImportLayerFromTar`: writes the OCI layer tar `r` as the layer `path` over
/// `parents` and returns what the import counted (its `total_size` is hcsshim's result).
///
/// `path` is created (with its parents) and must not hold anything yet. Unlike hcsshim,
/// a failed import removes the layer directory again, so that refused input leaves nothing
/// behind.
///
/// # Errors
/// When the directory cannot be made, the tar is refused, or a Windows call fails.
pub fn import_layer_from_tar<H: Host + Clone>(
    host: &H,
    r: impl Read,
    path: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<ImportStats, ImportError> {
    host.create_layer_dir(path)
        .map_err(|e| Error::os("create", path.display().to_string(), e))?;
    let result = (|| {
        let mut w = new_layer_writer(host.clone(), path, parents)?;
        let mut archive = ArchiveReader::new(r);
        Ok::<_, ImportError>(wclayer_tar::import_tar_limited(
            &mut archive,
            &mut w,
            limits,
        )?)
    })();
    if result.is_err() {
        let _ = host.remove_tree(path);
    }
    result
}

/// hcsshim `ExportLayerToTar`: writes the layer `path` over `parents` as an OCI layer tar.
///
/// # Errors
/// When the layer cannot be read or `w` fails.
pub fn export_layer_to_tar<H: Host, W: Write>(
    host: H,
    w: W,
    path: &Path,
    parents: &[PathBuf],
) -> Result<(W, ExportStats), ImportError> {
    let mut r = new_layer_reader(host, path, parents)?;
    let out = wclayer_tar::export_tar(&mut r, w)?;
    r.close().map_err(wclayer_tar::Error::from)?;
    Ok(out)
}

/// hcsshim's `wclayer mount` without a target: activates and prepares the writable layer
/// `path` over `parents` and returns its volume path. A failed step undoes the earlier ones.
///
/// # Errors
/// The failing HCS call.
pub fn mount<H: Host>(host: &H, path: &Path, parents: &[PathBuf]) -> Result<PathBuf, Error> {
    let hcs = |title: &'static str| move |source| Error::Hcs { title, source };
    host.activate_layer(path)
        .map_err(hcs("hcsshim::ActivateLayer"))?;
    let prepared = layer_descriptors(host, parents).and_then(|d| {
        host.prepare_layer(path, &d)
            .map_err(hcs("hcsshim::PrepareLayer"))
    });
    if let Err(e) = prepared {
        let _ = host.deactivate_layer(path);
        return Err(e);
    }
    match host.get_layer_mount_path(path) {
        Ok(p) => Ok(p),
        Err(source) => {
            let _ = host.unprepare_layer(path);
            let _ = host.deactivate_layer(path);
            Err(Error::Hcs {
                title: "hcsshim::GetLayerMountPath",
                source,
            })
        }
    }
}

/// hcsshim's `wclayer unmount`: unprepares and deactivates the layer `path`. As hcsshim,
/// a failed unprepare is reported but does not stop the deactivation.
///
/// # Errors
/// The first failing HCS call.
pub fn unmount<H: Host>(host: &H, path: &Path) -> Result<(), Error> {
    let unprepared = host.unprepare_layer(path).map_err(|source| Error::Hcs {
        title: "hcsshim::UnprepareLayer",
        source,
    });
    if let Err(e) = &unprepared {
        tracing::warn!("{e}");
    }
    host.deactivate_layer(path).map_err(|source| Error::Hcs {
        title: "hcsshim::DeactivateLayer",
        source,
    })?;
    unprepared
}

fn joined(parents: &[PathBuf]) -> String {
    parents
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! delegate_writer {
    ($t:ident) => {
        impl<H: Host> LayerWriter for $t<H> {
            fn add(
                &mut self,
                name: &LayerPath,
                info: &FileBasicInfo,
            ) -> Result<(), wclayer_layer::Error> {
                match self {
                    $t::Base(w) => w.add(name, info),
                    $t::Legacy(w) => w.add(name, info),
                }
            }
            fn add_link(
                &mut self,
                name: &LayerPath,
                target: &LayerPath,
            ) -> Result<(), wclayer_layer::Error> {
                match self {
                    $t::Base(w) => w.add_link(name, target),
                    $t::Legacy(w) => w.add_link(name, target),
                }
            }
            fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
                match self {
                    $t::Base(w) => w.remove(name),
                    $t::Legacy(w) => w.remove(name),
                }
            }
            fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
                match self {
                    $t::Base(w) => w.write_stream(buf),
                    $t::Legacy(w) => w.write_stream(buf),
                }
            }
            fn close(&mut self) -> Result<(), wclayer_layer::Error> {
                match self {
                    $t::Base(w) => w.close(),
                    $t::Legacy(w) => w.close(),
                }
            }
        }
        io_write_via_stream!($t);
    };
}
delegate_writer!(WindowsLayerWriter);

impl<H: Host> LayerReader for WindowsLayerReader<H> {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        match self {
            WindowsLayerReader::Base(r) => r.next(),
            WindowsLayerReader::Legacy(r) => r.next(),
        }
    }
    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        match self {
            WindowsLayerReader::Base(r) => r.link_info(),
            WindowsLayerReader::Legacy(r) => r.link_info(),
        }
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        match self {
            WindowsLayerReader::Base(r) => r.read_stream(buf),
            WindowsLayerReader::Legacy(r) => r.read_stream(buf),
        }
    }
    fn can_seek_stream(&self) -> bool {
        match self {
            WindowsLayerReader::Base(r) => r.can_seek_stream(),
            WindowsLayerReader::Legacy(r) => r.can_seek_stream(),
        }
    }
    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, wclayer_layer::Error> {
        match self {
            WindowsLayerReader::Base(r) => r.seek_stream(pos),
            WindowsLayerReader::Legacy(r) => r.seek_stream(pos),
        }
    }
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        match self {
            WindowsLayerReader::Base(r) => r.close(),
            WindowsLayerReader::Legacy(r) => r.close(),
        }
    }
}

impl<H: Host> Read for WindowsLayerReader<H> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(buf)
            .map_err(|e| io::Error::new(e.io_kind(), e))
    }
}

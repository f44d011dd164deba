//! OCI layer tars <-> Windows container layers, byte-identical to hcsshim.
//!
//! Windows container images carry their layers as tars in which every entry lives under
//! `Files/` (the container's `C:\`), `Hives/` (registry deltas) or `UtilityVM/Files/`, and
//! the Windows metadata rides in PAX records: `MSWINDOWS.fileattr`, `MSWINDOWS.rawsd`,
//! `MSWINDOWS.xattr.*`, `MSWINDOWS.mountpoint`, `LIBARCHIVE.creationtime`. Alternate data
//! streams are entries named `FILE:stream`, deletions `.wh.` whiteouts.
//!
//! - [`import_tar`] reads such a tar with [`archive::ArchiveReader`] (Go `archive/tar`
//!   semantics) and feeds a [`wclayer_layer::LayerWriter`]: each entry becomes an `add` with
//!   its Win32 backup stream, an `add_link` or a `remove`, as hcsshim's `writeLayerFromTar`
//!   and go-winio's `backuptar` do.
//! - [`export_tar`] walks a [`wclayer_layer::LayerReader`] and writes the tar with
//!   [`gotar::GoTarWriter`], which produces the bytes Go's `archive/tar` writes, so the
//!   archive has hcsshim's digest.
//! - [`pax`] holds the record keys and their value codecs (Go's base64, `ParseUint`, PAX
//!   times).
//!
//! ```
//! use wclayer_layer::MemLayer;
//! use wclayer_tar::{archive::ArchiveReader, export_tar, import_tar};
//!
//! # fn run(layer_tar: &[u8]) -> Result<Vec<u8>, wclayer_tar::Error> {
//! let mut layer = MemLayer::new();
//! import_tar(&mut ArchiveReader::new(layer_tar), &mut layer)?;
//! let (normalised, _stats) = export_tar(&mut layer.reader()?, Vec::new())?;
//! # Ok(normalised) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod archive;
pub mod export;
pub mod gotar;
pub mod import;
pub mod pax;

mod error;

pub use error::Error;
pub use export::{ExportStats, export_tar};
pub use import::{ImportStats, import_tar, import_tar_limited};

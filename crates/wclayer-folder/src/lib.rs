//! hcsshim's legacy "transport format" folder on Linux: the folder HCS `ImportLayer`
//! consumes and `ExportLayer` produces (docs/layer-semantics.md §3).
//!
//! - [`FolderLayerWriter`] ([`wclayer_layer::LayerWriter`]) writes a layer as such a folder:
//!   `Files\…` entries as transport files (u32 LE attributes + raw backup stream),
//!   directories as real directories plus `<dir>.$wcidirs$`, `Hives\…` and `UtilityVM\…` as
//!   plain files and directories, hard links as hard links, tombstones below `Files` in
//!   `tombstones.txt`. What plain Linux files cannot hold (creation and change time, the
//!   rest of a plain file's backup stream, tombstones outside `Files`, implicit directories)
//!   goes into `user.wclayer.*` extended attributes, and payloads too large for one into a
//!   sidecar directory the readers skip (§0.5).
//! - [`FolderLayerReader`] ([`wclayer_layer::LayerReader`]) reads such a folder. With the
//!   metadata it yields exactly what was written, in the reference layer model's delta-walk
//!   order (§0.2); without it (a folder that came from Windows) it applies hcsshim's legacy
//!   reader rules (§6.1, §0.3).
//!
//! hcsshim's `ImportLayer(path, folder, parents)` is `copy_layer(FolderLayerReader →
//! layer-directory writer)`, `ExportLayer(path, folder, parents)` is `copy_layer(layer reader
//! → FolderLayerWriter)`. The contract: for a delta layer, `copy_layer(MemLayer reader →
//! FolderLayerWriter)` and reading back with `FolderLayerReader` yields what `MemLayer`'s
//! reader yields, entry by entry, streams, sizes, infos, tombstones and hard-link structure
//! included. [`format`](mod@format) describes the folder and its metadata.
//!
//! ```no_run
//! use std::path::Path;
//! use wclayer_layer::{copy_layer, LayerReader, MemLayer, WalkMode};
//! use wclayer_folder::{FolderLayerReader, FolderLayerWriter};
//!
//! let mut layer = MemLayer::new(); // e.g. filled from a tar
//! layer.set_walk_mode(Some(WalkMode::Delta));
//! let mut w = FolderLayerWriter::create(Path::new("/tmp/export-folder"))?;
//! copy_layer(&mut layer.reader()?, &mut w)?; // closes (commits) the writer
//!
//! let mut r = FolderLayerReader::open(Path::new("/tmp/export-folder"))?;
//! assert!(r.is_lossless());
//! while let Some(entry) = r.next()? {
//!     println!("{}", entry.name());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod meta;
mod names;
mod reader;
mod segments;
mod writer;

pub mod format;
pub mod tombstones;

pub use error::Error;
pub use names::{TOMBSTONES_TXT, WCIDIRS};
pub use reader::FolderLayerReader;
pub use writer::FolderLayerWriter;

//! Windows container layer directories on Linux: hcsshim's `NewLayerWriter` /
//! `NewLayerReader` on an ordinary Linux file system.
//!
//! - [`DirLayerWriter`] ([`wclayer_layer::LayerWriter`]) imports a layer into a directory:
//!   the content as ordinary files, directories, hard links and (safe) symbolic links under
//!   the layer's own names (`Files\...`, `Hives\...`, `UtilityVM\Files\...`), and a versioned
//!   metadata sidecar (`.wclayer/`) with everything Linux cannot hold: attributes, the four
//!   FILETIMEs, security descriptors, EAs, reparse buffers, alternate data streams, the exact
//!   sequence of backup sub-streams, tombstones, the layer kind and its parents.
//!   It stages into a sibling directory and commits with one `syncfs` and one rename.
//! - [`DirLayerReader`] ([`wclayer_layer::LayerReader`]) walks a layer directory and replays
//!   every entry's backup stream byte for byte, in the reference layer model's order.
//! - [`ParentLayer`] names a parent layer directory (for hard links into it and the utility
//!   VM clone).
//!
//! The layer model's rules are applied by [`wclayer_layer::LayerTree`] (the writer drives
//! one, the reader rebuilds one from the records); every file-system call goes through
//! [`wclayer_fs::Dir`], relative to the layer directory's handle; backup streams are cut up
//! by [`wclayer_backup::StreamSplitter`].
//!
//! The contract: for any layer, `copy_layer(MemLayer reader → DirLayerWriter)` and reading
//! back with `DirLayerReader` yields exactly what `MemLayer`'s reader yields: the same
//! entries in the same order, byte-identical streams, sizes, infos, tombstones and hard-link
//! structure. [`format`](mod@format) describes the on-disk format.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use wclayer_layer::{copy_layer, LayerReader, MemLayer};
//! use wclayer_fs::ambient_authority;
//! use wclayer_store::{DirLayerReader, DirLayerWriter};
//!
//! let mut layer = MemLayer::new(); // e.g. filled from a tar
//! let mut w = DirLayerWriter::create_ambient(
//!     Path::new("/var/lib/wclayer/layer2"),
//!     &[PathBuf::from("/var/lib/wclayer/layer1")],
//!     ambient_authority(),
//! )?;
//! copy_layer(&mut layer.reader()?, &mut w)?; // closes (commits) the writer
//!
//! let mut r = DirLayerReader::open_ambient(Path::new("/var/lib/wclayer/layer2"), ambient_authority())?;
//! while let Some(entry) = r.next()? {
//!     println!("{}", entry.name());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod index;
mod meta;
mod names;
mod reader;
mod writer;

pub mod format;

pub use error::Error;
pub use meta::LayerKind;
pub use reader::{BodyLocation, DirLayerReader, EntryDetails, LayerInfo, StreamInfo};
pub use writer::{DirLayerWriter, ParentLayer, WriterOptions};

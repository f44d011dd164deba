//! The Windows container layer model: the vocabulary every wclayer crate shares.
//!
//! A layer is a set of named entries (files, directories, symbolic links, hard links) each
//! carrying a [`FileBasicInfo`] and a Win32 backup stream, plus tombstones that delete
//! names of parent layers. The two traits mirror hcsshim's interfaces:
//!
//! - [`LayerWriter`] (`Add`, `AddLink`, `Remove`, `Write`, `Close`) receives a layer;
//! - [`LayerReader`] (`Next`, `LinkInfo`, `Read`, `Close`) walks one.
//!
//! [`copy_layer`] is the loop between them, detecting hard links from the reader's
//! [`LinkInfo`] as hcsshim's export does. [`MemLayer`] is a complete layer held as
//! metadata in memory and stream bytes in a spool file; it follows the reference layer
//! model (docs/layer-semantics.md §0) and is what `wclayer convert` imports into and exports
//! from. Names are [`LayerPath`]s: validated, relative, `\`-separated, compared
//! case-insensitively as NTFS does.
//!
//! The rules of the model (names, implicit parents, duplicates, links, tombstones, the walk
//! order) live in one place, [`LayerTree`]: every writer of the project drives one, with its
//! own data per file and per node, and every reader walks one with [`Walk`]. Errors of the
//! back ends (layer directories, transport folders) travel through the traits with their
//! type, in [`Error::Backend`]; [`StreamReader`] and [`StreamWriter`] give `io` views of an
//! entry's stream that keep those errors typed.
//!
//! ```
//! use wclayer_layer::{copy_layer, FileBasicInfo, FileAttributes, LayerPath, LayerReader,
//!     LayerWriter, MemLayer};
//! use std::io::Write;
//!
//! let mut layer = MemLayer::new();
//! let dir = FileBasicInfo { file_attributes: FileAttributes::DIRECTORY, ..Default::default() };
//! layer.add(&LayerPath::parse("Files")?, &dir)?;
//! layer.add(&LayerPath::parse("Files/a.txt")?, &FileBasicInfo::default())?;
//! layer.write_all(b"")?; // the backup stream of Files\a.txt (empty here)
//! layer.close()?;
//!
//! let mut copy = MemLayer::new();
//! copy_layer(&mut layer.reader()?, &mut copy)?;
//! let mut r = copy.reader()?;
//! let mut names = Vec::new();
//! while let Some(e) = r.next()? { names.push(e.name().to_string()); }
//! assert_eq!(names, ["Files", "Files\\a.txt"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod copy;
mod entry;
mod error;
mod limits;
mod mem;
mod path;
mod size;
pub mod sparse;
mod traits;
mod tree;
pub mod walk;

pub use copy::{CopyStats, copy_layer};
pub use entry::{Entry, LinkInfo};
pub use error::Error;
pub use limits::{Budget, Limits};
pub use mem::{MemLayer, MemLayerReader};
pub use path::{LayerPath, MAX_COMPONENT_UNITS, MAX_PATH_UNITS, PathError, upcase_key};
pub use size::ReportedSize;
pub use sparse::{ReadAt, SparseWriter, WriteAt};
pub use traits::{LayerReader, LayerWriter, StreamReader, StreamWriter};
pub use tree::{Added, FileNo, LayerTree, NodeId, NodeKind};
pub use walk::{Visit, Walk, WalkMode};
pub use wclayer_backup::{FileAttributes, FileBasicInfo, FileIdInfo, FileTime};

//! The merged view of a chain of layer directories: what a container over the chain sees.
//!
//! A chain is a layer and its parents, nearest parent first and base layer last (the order
//! of `-l PARENT` and of [`crate::new_layer_reader`]'s `parents`). Its merged view
//! ([`ChainReader`]) is a [`LayerReader`] that walks the union of the layers' entries as a
//! base layer is walked, so [`wclayer_tar::export_tar`] over it writes the base layer tar of
//! the flattened chain ([`flatten_to_tar`]). The rules (docs/chain.md):
//!
//! - an upper layer's entry replaces a lower one of the same name, compared
//!   case-insensitively as the layer model's names are (docs/layer-semantics.md §0.1); the
//!   spelling is the supplying layer's;
//! - an upper tombstone removes the name and everything below it from the lower layers; a
//!   name the same layer adds again stays;
//! - an upper non-directory (or reparse point) hides what lower layers have below its name,
//!   and a lower non-directory whose name an upper layer has entries below is hidden;
//! - directories merge: the supplying layer's metadata, the union of the children;
//! - the view is `Files` and `UtilityVM` (the base's utility VM, with what the deltas
//!   change in it applied by the same rules); `Hives` (registry hive deltas) are not merged
//!   into files: [`ChainReader::hive_entries`] counts what was left out;
//! - hard links: the names of one supplying layer's link group that are part of the view
//!   stay one group; names of other layers are other files.
//!
//! Only names and a few numbers per entry are held in memory; every stream is read, when
//! it is read, from the layer that supplies it, through that layer's [`DirLayerReader`]
//! (every file opened relative to the layer directory, docs/layer-directory.md "Safety").
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use wclayer::chain::ChainReader;
//! use wclayer::{LayerReader, Limits};
//!
//! let mut view = ChainReader::open(
//!     Path::new("/layers/l2"),
//!     &[PathBuf::from("/layers/l1"), PathBuf::from("/layers/base")],
//!     &Limits::default(),
//! )?;
//! while let Some(entry) = view.next()? {
//!     println!("{} from layer {:?}", entry.name(), view.supplier());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod content;
mod merge;

use std::io::{self, Read, SeekFrom};
use std::path::{Path, PathBuf};

use wclayer_layer::{
    Entry, FileIdInfo, FileNo, LayerPath, LayerReader, LayerTree, Limits, LinkInfo, Visit, Walk,
    WalkMode,
};
use wclayer_store::DirLayerReader;

pub use content::{ContentError, write_content};

use crate::{Error, ExportStats};

/// The current entry of a [`ChainReader`].
#[derive(Debug)]
struct Current {
    file: FileNo,
    layer: usize,
}

/// The merged view of a chain of layer directories as a [`LayerReader`]: the entries of
/// the view in the order of a base layer's walk (docs/layer-semantics.md §0.2), each with
/// the metadata and backup stream of the layer that supplies it. See the
/// [module documentation](self) for the rules.
///
/// # Drop behaviour
/// Dropping it closes the layers' readers; nothing on disk changes.
pub struct ChainReader {
    layers: Vec<DirLayerReader>,
    paths: Vec<PathBuf>,
    tree: LayerTree<u32>,
    hives: Vec<u64>,
    walk: Walk,
    current: Option<Current>,
    closed: bool,
}

impl std::fmt::Debug for ChainReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainReader")
            .field("layers", &self.paths)
            .field("entries", &self.tree.file_count())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ChainReader {
    /// Opens the chain of the layer directory `top` over `parents` (nearest first, base
    /// last), each with `limits` on what its records may claim, and computes the merged
    /// view. With no parents the view is `top`'s own base walk.
    ///
    /// # Errors
    /// When a layer directory cannot be opened or walked, or the view has no `Files`.
    pub fn open(top: &Path, parents: &[PathBuf], limits: &Limits) -> Result<ChainReader, Error> {
        let mut paths = Vec::with_capacity(parents.len().saturating_add(1));
        paths.push(top.to_path_buf());
        paths.extend(parents.iter().cloned());
        let mut layers = Vec::with_capacity(paths.len());
        for p in &paths {
            let root = wclayer_fs::Dir::open_ambient_dir(p, wclayer_fs::ambient_authority())
                .map_err(|e| wclayer_store::Error::Io {
                    op: "open layer directory",
                    entry: Some(p.display().to_string()),
                    source: e,
                })?;
            layers.push(DirLayerReader::from_root_limited(root, limits)?);
        }
        Self::from_readers(layers, paths)
    }

    /// The merged view of layers already open, top first; `paths` name them (in errors and
    /// [`ChainReader::layer_path`]).
    ///
    /// # Errors
    /// As [`ChainReader::open`].
    pub fn from_readers(
        mut layers: Vec<DirLayerReader>,
        paths: Vec<PathBuf>,
    ) -> Result<ChainReader, Error> {
        let merged = merge::merge(&mut layers)?;
        let walk = merged.tree.walk(WalkMode::Base)?;
        Ok(ChainReader {
            layers,
            paths,
            tree: merged.tree,
            hives: merged.hives,
            walk,
            current: None,
            closed: false,
        })
    }

    /// Starts the walk again from the first entry.
    ///
    /// # Errors
    /// [`wclayer_layer::Error::NoFiles`] when the view has no `Files`.
    pub fn rewind(&mut self) -> Result<(), Error> {
        self.current = None;
        self.walk = self.tree.walk(WalkMode::Base)?;
        Ok(())
    }

    /// How many layers the chain has.
    #[must_use]
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// The path of layer `i` of the chain (0 = the top layer, then the parents in order).
    #[must_use]
    pub fn layer_path(&self, i: usize) -> Option<&Path> {
        self.paths.get(i).map(PathBuf::as_path)
    }

    /// The layer that supplies the current entry (0 = the top layer).
    #[must_use]
    pub fn supplier(&self) -> Option<usize> {
        self.current.as_ref().map(|c| c.layer)
    }

    /// Per layer (top first): how many entries and tombstones under `Hives` (registry hive
    /// deltas) are left out of the view.
    #[must_use]
    pub fn hive_entries(&self) -> &[u64] {
        &self.hives
    }

    /// How many entries the view has (a hard-link group counts once).
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.tree.file_count()
    }

    /// Makes the view's entry `name` (compared case-insensitively) current, as if the walk
    /// had reached it; the walk does not move. `Ok(None)` when the view has no such entry.
    ///
    /// # Errors
    /// When the supplying layer cannot be read.
    pub fn open_entry(&mut self, name: &LayerPath) -> Result<Option<Entry>, Error> {
        if self.closed {
            return Err(Error::Layer(wclayer_layer::Error::Closed));
        }
        self.current = None;
        let Some((node, file)) = self.tree.find_entry(name) else {
            return Ok(None);
        };
        let name =
            LayerPath::parse(&self.tree.path_of(node)).map_err(wclayer_layer::Error::from)?;
        Ok(Some(self.supply(name, file)?))
    }

    /// Positions the supplying layer's reader on `name` and makes it current.
    fn supply(&mut self, name: LayerPath, file: FileNo) -> Result<Entry, Error> {
        let layer = *self.tree.file(file) as usize;
        let r = self
            .layers
            .get_mut(layer)
            .ok_or(wclayer_layer::Error::NoEntry)?;
        match r.open_entry(&name)? {
            Some(Entry::File { size, info, .. }) => {
                self.current = Some(Current { file, layer });
                Ok(Entry::File { name, size, info })
            }
            _ => Err(Error::Layer(wclayer_layer::Error::io(
                name.as_str(),
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no longer in layer {}",
                        self.paths
                            .get(layer)
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                ),
            ))),
        }
    }

    fn current_reader(&mut self) -> Option<&mut DirLayerReader> {
        let layer = self.current.as_ref()?.layer;
        self.layers.get_mut(layer)
    }
}

impl LayerReader for ChainReader {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        if self.closed {
            return Err(wclayer_layer::Error::Closed);
        }
        self.current = None;
        loop {
            match self.walk.next(&self.tree) {
                None => return Ok(None),
                // A base walk has no tombstones.
                Some(Visit::Tombstone) => {}
                Some(Visit::Entry { file, .. }) => {
                    let name = LayerPath::parse(self.walk.path())?;
                    return self.supply(name, file).map(Some).map_err(into_layer);
                }
            }
        }
    }

    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        let file = self
            .current
            .as_ref()
            .ok_or(wclayer_layer::Error::NoEntry)?
            .file;
        let mut file_id = [0u8; 16];
        if let Some(head) = file_id.get_mut(..8) {
            head.copy_from_slice(&(file.index() as u64).to_le_bytes());
        }
        Ok(LinkInfo {
            number_of_links: self.tree.links(file),
            file_id: FileIdInfo {
                volume_serial_number: 0,
                file_id,
            },
        })
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        match self.current_reader() {
            Some(r) => r.read_stream(buf),
            None => Ok(0),
        }
    }

    fn can_seek_stream(&self) -> bool {
        true
    }

    fn seek_stream(&mut self, pos: SeekFrom) -> Result<u64, wclayer_layer::Error> {
        match self.current_reader() {
            Some(r) => r.seek_stream(pos),
            None => Err(wclayer_layer::Error::NoEntry),
        }
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.closed = true;
        self.current = None;
        self.walk = Walk::finished();
        for r in &mut self.layers {
            r.close()?;
        }
        Ok(())
    }
}

impl Read for ChainReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(buf)
            .map_err(|e| io::Error::new(e.io_kind(), e))
    }
}

/// The model's error inside an API error (a store error travels as a back-end error).
fn into_layer(e: Error) -> wclayer_layer::Error {
    match e {
        Error::Layer(l) => l,
        Error::Store(wclayer_store::Error::Model(l)) => l,
        other => wclayer_layer::Error::backend(other),
    }
}

/// Writes the merged view of the chain `top` over `parents` (nearest first) to `w` as one
/// base layer tar, with the bytes hcsshim writes for a base layer with that content; returns
/// `w`, what the export counted, and the chain's reader (closed) for what it left out
/// ([`ChainReader::hive_entries`]).
///
/// # Errors
/// As [`ChainReader::open`] and [`wclayer_tar::export_tar`].
pub fn flatten_to_tar<W: io::Write>(
    w: W,
    top: &Path,
    parents: &[PathBuf],
    limits: &Limits,
) -> Result<(W, ExportStats, ChainReader), Error> {
    let span = tracing::info_span!(
        "wclayer::flatten",
        path = %top.display(),
        parentLayerPaths = %crate::joined(parents),
        error = tracing::field::Empty,
    );
    let _guard = span.enter();
    let mut r = crate::finish(&span, ChainReader::open(top, parents, limits))?;
    let (w, stats) = crate::finish(&span, wclayer_tar::export_tar(&mut r, w))?;
    r.close()?;
    Ok((w, stats, r))
}

#[cfg(test)]
mod tests;

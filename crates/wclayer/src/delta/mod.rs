//! The delta layer between two trees: what turns the merged view of a chain of parent
//! layer directories (the old tree) into a new tree, as buildkit's Windows differ makes a
//! layer of a container's changes (docs/delta.md).
//!
//! The new tree ([`NewTree`]) is either another chain of layer directories, whose every
//! piece of Windows metadata is known, or a host directory taken as the new content of
//! `Files` (or of a directory below it), read as `wclayer create` reads it
//! ([`crate::create`]: its security descriptors, attributes and times).
//!
//! Both views are reduced to per-entry summaries (metadata and the SHA-256 of data and
//! streams, [`crate::diff`]); file data is hashed as it passes and never held. The delta:
//!
//! - every name the new tree has and the old one lacks is added;
//! - every name both have that differs is added again, and the delta's entry replaces the
//!   parent's. For a layer chain, *differs* is any field `diff` compares (kind, content,
//!   attributes, times, security descriptor, extended attributes, alternate streams, reparse
//!   data, sparseness), the spelling of the name, and the set of names of the file (hard
//!   links). For a host tree it is the kind, the content (size and SHA-256), a symbolic
//!   link's target, and the set of names of the file: a host tree carries none of the
//!   parents' Windows metadata, so times and descriptors do not make an entry changed;
//! - every name the old tree has and the new one lacks gets a tombstone, only the topmost
//!   one (what is below a removed directory goes with it), and none below a name the new
//!   tree has as a file or reparse point (the delta's entry hides it, docs/chain.md). With
//!   a host tree only names within its prefix are removed;
//! - a file one of whose names is written goes into the delta with all its names, so that
//!   they stay one file.
//!
//! The delta is written with [`LayerWriter`] calls into a [`MemLayer`] that walks as a
//! delta layer; each written entry's backup stream comes from the layer that supplies it in
//! the new chain, or from the host file (read again, through `create`'s walk). Its export
//! with [`wclayer_tar::export_tar`] ([`delta_tar`]) is what importing it and exporting it
//! again gives: a fixed point.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use wclayer::delta::{NewTree, delta_tar};
//! use wclayer::create::Options;
//!
//! let parents = [PathBuf::from("/layers/base")];
//! let new = NewTree::Host { root: PathBuf::from("./rootfs"), options: Options::new() };
//! let out = std::fs::File::create("delta.tar")?;
//! let (_out, _export, stats) = delta_tar(&parents, &new, &wclayer::Limits::default(), out)?;
//! println!("{} added, {} changed, {} tombstones", stats.added, stats.changed, stats.tombstones);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use wclayer_layer::{
    Entry, FileBasicInfo, LayerPath, LayerReader, LayerWriter, Limits, MemLayer, WalkMode,
    upcase_key,
};
use wclayer_tar::ExportStats;

use crate::chain::ChainReader;
use crate::create::{ChainDirs, CreateError, Options, Source, write_layer};
use crate::diff::{Collector, read_layer};
use plan::{Compare, Plan, View};

/// The new tree of a delta.
#[derive(Clone, Debug)]
pub enum NewTree {
    /// The merged view of the layer directory `top` over `parents` (nearest first; none
    /// when `top` is a base layer).
    Layer {
        /// The top layer directory.
        top: PathBuf,
        /// Its parents, nearest first.
        parents: Vec<PathBuf>,
    },
    /// A host directory: the new content of `Files` (or of [`Options::prefix`]), read as
    /// `wclayer create` reads it, with `options` deciding the metadata of what is written.
    Host {
        /// The directory.
        root: PathBuf,
        /// How its entries become layer entries.
        options: Options,
    },
}

/// An error making a delta; the message names the layer or path it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// No parent layer: the old tree is a chain of at least one layer directory.
    #[error("a delta needs at least one parent layer directory")]
    NoParents,
    /// The old tree (the parents' chain) could not be read.
    #[error("cannot read the parent chain of {path}")]
    Old {
        /// The nearest parent.
        path: String,
        /// The cause.
        #[source]
        source: Box<crate::Error>,
    },
    /// The new layer chain could not be read.
    #[error("cannot read the new layer {path}")]
    New {
        /// The new top layer directory.
        path: String,
        /// The cause.
        #[source]
        source: Box<crate::Error>,
    },
    /// The host directory is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// The host directory could not be read, or an entry of it is refused (as `create`
    /// refuses it).
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The host directory changed between the walk that compared it and the walk that
    /// copied it.
    #[error("{path}: the directory changed while it was read ({why})")]
    Changed {
        /// The host directory.
        path: String,
        /// What differs.
        why: String,
    },
    /// The layer model refused a call writing the delta.
    #[error(transparent)]
    Layer(#[from] wclayer_layer::Error),
    /// The delta could not be exported.
    #[error(transparent)]
    Tar(#[from] wclayer_tar::Error),
}

/// What a delta holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeltaStats {
    /// Entries whose name the old tree lacks.
    pub added: u64,
    /// Entries the old tree has too, written again because they differ (or because another
    /// name of the same file is written).
    pub changed: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// Of the added and changed entries, further names of a file written before
    /// ([`LayerWriter::add_link`] calls).
    pub hard_links: u64,
    /// Entries of the old tree compared.
    pub old_entries: u64,
    /// Entries of the new tree compared.
    pub new_entries: u64,
    /// Entries and tombstones under `Hives` (registry hive deltas) of the new chain's
    /// layers that are not parents of the delta: neither view has them (docs/chain.md,
    /// "Hives"), so the delta leaves them out.
    pub hive_entries: u64,
}

impl DeltaStats {
    /// Whether the delta is empty: the two trees are the same.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.changed == 0 && self.tombstones == 0
    }
}

/// Whether `path` is a layer directory (it has the sidecar manifest of
/// docs/layer-directory.md) rather than an ordinary directory.
#[must_use]
pub fn is_layer_dir(path: &Path) -> bool {
    path.join(wclayer_store::format::SIDECAR_DIR)
        .join(wclayer_store::format::MANIFEST_FILE)
        .is_file()
}

/// The parents of the new layer directory `top` when none are given: none when it is a
/// base layer (imported without parents), else `old_parents` (the common case: a layer
/// imported over the same parents).
///
/// # Errors
/// When `top` cannot be opened as a layer directory.
pub fn own_parents(top: &Path, old_parents: &[PathBuf]) -> Result<Vec<PathBuf>, crate::Error> {
    let mut r = crate::new_layer_reader(top, &[])?;
    let kind = r.get_mut().layer_info().kind;
    r.close()?;
    Ok(match kind {
        wclayer_store::LayerKind::Base => Vec::new(),
        _ => old_parents.to_vec(),
    })
}

/// Makes the delta that turns the merged view of `parents` (nearest first) into `new`, in
/// a [`MemLayer`] that walks as a delta layer (closed: export it with [`MemLayer::reader`]
/// and [`wclayer_tar::export_tar`]). `limits` bound what the layer directories' records
/// may claim.
///
/// # Errors
/// [`DeltaError::NoParents`]; when a tree cannot be read; when the host directory holds
/// what `create` refuses or changes while it is read; when the model refuses a call.
pub fn delta_mem_layer(
    parents: &[PathBuf],
    new: &NewTree,
    limits: &Limits,
) -> Result<(MemLayer, DeltaStats), DeltaError> {
    let (top, below) = parents.split_first().ok_or(DeltaError::NoParents)?;
    let span = tracing::info_span!(
        "wclayer::delta",
        parentLayerPaths = %crate::joined(parents),
        error = tracing::field::Empty,
    );
    let _guard = span.enter();
    crate::finish(&span, make(top, below, new, limits))
}

fn make(
    old_top: &Path,
    below: &[PathBuf],
    new: &NewTree,
    limits: &Limits,
) -> Result<(MemLayer, DeltaStats), DeltaError> {
    let old_err = |e: crate::Error| DeltaError::Old {
        path: old_top.display().to_string(),
        source: Box::new(e),
    };
    let mut old = View::default();
    {
        let mut r = ChainReader::open(old_top, below, limits).map_err(old_err)?;
        read_layer(&mut r, &mut |n, s| old.push(n, s)).map_err(old_err)?;
        r.close().map_err(|e| old_err(e.into()))?;
    }
    let mut layer = MemLayer::new();
    layer.set_walk_mode(Some(WalkMode::Delta));
    let mut stats = DeltaStats {
        old_entries: old.len() as u64,
        ..DeltaStats::default()
    };
    match new {
        NewTree::Layer { top, parents } => {
            let new_err = |e: crate::Error| DeltaError::New {
                path: top.display().to_string(),
                source: Box::new(e),
            };
            let mut r = ChainReader::open(top, parents, limits).map_err(new_err)?;
            let mut view = View::default();
            read_layer(&mut r, &mut |n, s| view.push(n, s)).map_err(new_err)?;
            let plan = plan::plan(&old, &view, Compare::Full, "");
            stats.new_entries = view.len() as u64;
            stats.hard_links =
                from_chain(&mut r, &view, &plan, &mut layer).map_err(|e| match e {
                    Copy::Read(e) => new_err(e),
                    Copy::Write(e) => DeltaError::Layer(e),
                })?;
            r.close().map_err(|e| new_err(e.into()))?;
            let old_layers: Vec<&Path> = std::iter::once(old_top)
                .chain(below.iter().map(PathBuf::as_path))
                .collect();
            stats.hive_entries = (0..r.layer_count())
                .filter(|i| r.layer_path(*i).is_some_and(|p| !old_layers.contains(&p)))
                .filter_map(|i| r.hive_entries().get(i))
                .fold(0u64, |n, h| n.saturating_add(*h));
            count(&mut stats, &plan);
        }
        NewTree::Host { root, options } => {
            let display = root.display().to_string();
            let mut view = View::default();
            {
                let mut sink = |n, s| view.push(n, s);
                let mut c = Collector::new(&mut sink);
                write_layer(host(root)?, &ChainDirs::none(), options, &mut c)?;
            }
            let scope = upcase_key(&options.prefix_name());
            let plan = plan::plan(&old, &view, Compare::Content, &scope);
            stats.new_entries = view.len() as u64;
            for t in &plan.tombstones {
                layer.remove(&LayerPath::parse(t).map_err(wclayer_layer::Error::from)?)?;
            }
            let mut f = Filter {
                inner: &mut layer,
                keep: &plan.keep,
                open: false,
                written: 0,
                links: 0,
            };
            write_layer(host(root)?, &ChainDirs::none(), options, &mut f)?;
            let (written, links) = (f.written, f.links);
            if written != plan.write.len() {
                return Err(DeltaError::Changed {
                    path: display,
                    why: format!(
                        "{} entries to write were found again, of {}",
                        written,
                        plan.write.len()
                    ),
                });
            }
            stats.hard_links = links;
            count(&mut stats, &plan);
        }
    }
    layer.close()?;
    Ok((layer, stats))
}

/// The host directory `root` as a source for `create`'s walk.
fn host(root: &Path) -> Result<Source, DeltaError> {
    match Source::open(root)? {
        s @ Source::Dir { .. } => Ok(s),
        Source::Tar { .. } => Err(DeltaError::NotADirectory(root.display().to_string())),
    }
}

fn count(stats: &mut DeltaStats, plan: &Plan) {
    stats.added = plan.added();
    stats.changed = plan.changed();
    stats.tombstones = plan.tombstones.len() as u64;
}

/// Why copying from the new chain failed: reading it, or the delta's model.
enum Copy {
    Read(crate::Error),
    Write(wclayer_layer::Error),
}

/// Writes the tombstones and entries of `plan` into `w`, each entry's backup stream read
/// from the layer of the new chain `r` that supplies it. Returns the hard links written.
fn from_chain(
    r: &mut ChainReader,
    view: &View,
    plan: &Plan,
    w: &mut MemLayer,
) -> Result<u64, Copy> {
    let parse =
        |s: &str| LayerPath::parse(s).map_err(|e| Copy::Write(wclayer_layer::Error::from(e)));
    for t in &plan.tombstones {
        w.remove(&parse(t)?).map_err(Copy::Write)?;
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut links = 0u64;
    for (i, _) in &plan.write {
        let Some(item) = view.items.get(*i) else {
            continue;
        };
        let name = parse(&item.name)?;
        if let Some(target) = &item.link
            && plan.keep.contains(&upcase_key(target))
        {
            w.add_link(&name, &parse(target)?).map_err(Copy::Write)?;
            links = links.saturating_add(1);
            continue;
        }
        let info: FileBasicInfo = match r.open_entry(&name).map_err(Copy::Read)? {
            Some(Entry::File { info, .. }) => info,
            _ => {
                return Err(Copy::Read(crate::Error::Layer(wclayer_layer::Error::io(
                    name.as_str(),
                    io::Error::new(io::ErrorKind::NotFound, "no longer in the layer"),
                ))));
            }
        };
        w.add(&name, &info).map_err(Copy::Write)?;
        loop {
            let n = r.read_stream(&mut buf).map_err(|e| Copy::Read(e.into()))?;
            if n == 0 {
                break;
            }
            w.write_stream(buf.get(..n).unwrap_or_default())
                .map_err(Copy::Write)?;
        }
    }
    Ok(links)
}

/// A [`LayerWriter`] passing on to `inner` only the entries whose case-folded names are in
/// `keep` (with their backup streams), for the second walk of a host directory.
struct Filter<'a> {
    inner: &'a mut MemLayer,
    keep: &'a HashSet<String>,
    /// Whether the current entry is passed on.
    open: bool,
    /// Entries passed on.
    written: usize,
    /// Of them, hard links.
    links: u64,
}

impl Filter<'_> {
    fn kept(&self, name: &LayerPath) -> bool {
        self.keep.contains(&upcase_key(&name.to_slash()))
    }
}

impl LayerWriter for Filter<'_> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.open = self.kept(name);
        if self.open {
            self.inner.add(name, info)?;
            self.written = self.written.saturating_add(1);
        }
        Ok(())
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        self.open = false;
        if self.kept(name) {
            self.inner.add_link(name, target)?;
            self.written = self.written.saturating_add(1);
            self.links = self.links.saturating_add(1);
        }
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.open = false;
        self.inner.remove(name)
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        if self.open {
            self.inner.write_stream(buf)
        } else {
            Ok(())
        }
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        // The caller closes the delta once everything is in it.
        self.open = false;
        Ok(())
    }
}

impl Write for Filter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Makes the delta that turns the merged view of `parents` (nearest first) into `new`
/// ([`delta_mem_layer`]) and writes it to `out` as the tar hcsshim would export for that
/// delta layer. Returns `out`, what the export counted, and what the delta holds.
///
/// # Errors
/// As [`delta_mem_layer`] and [`wclayer_tar::export_tar`].
pub fn delta_tar<W: Write>(
    parents: &[PathBuf],
    new: &NewTree,
    limits: &Limits,
    out: W,
) -> Result<(W, ExportStats, DeltaStats), DeltaError> {
    let (mut layer, stats) = delta_mem_layer(parents, new, limits)?;
    let mut r = layer.reader()?;
    let (out, export) = wclayer_tar::export_tar(&mut r, out)?;
    r.close()?;
    Ok((out, export, stats))
}

//! [`DirLayerWriter`]: imports a layer into a layer directory, staged and committed with one
//! rename.
//!
//! - `mod.rs`: the writer, its lifecycle and the entries of the layer itself;
//! - `sink.rs`: where each piece of an entry's backup stream goes;
//! - `parent.rs`: parent layers, hard links into them;
//! - `uvm.rs`: the utility-VM clone of a delta layer.

mod parent;
mod pool;
mod sink;
mod uvm;

pub use parent::ParentLayer;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path};
use std::sync::Arc;

use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{FileBasicInfo, FileTime, StreamSplitter};
use wclayer_fs::{AmbientAuthority, Dir, DirCache, StagedDir};
use wclayer_layer::{FileNo, LayerPath, LayerTree, LayerWriter, NodeId};

use crate::Error;
use crate::format::{ENTRIES_FILE, MANIFEST_FILE, SIDECAR_DIR, STREAMS_DIR};
use crate::index::disk_name;
use crate::meta::{FileRecord, InfoRecord, LayerKind, Manifest, Record};
use crate::names::safe_symlink_target;
use sink::{EntrySink, SinkCtx};

/// Behaviour of a [`DirLayerWriter`] that can be defaulted. The default is the safest
/// setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Flush the staged layer to stable storage (one `syncfs`) before the rename that makes
    /// it visible, and the parent directory after it. Default `true`; turning it off trades
    /// crash safety for speed (tests, scratch imports).
    pub sync: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { sync: true }
    }
}

/// What an entry is on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Disk {
    Directory,
    /// A regular file: file data, or an empty placeholder for a reparse point.
    File,
    /// A symbolic link made from a Windows symbolic-link target: the target's index in the
    /// writer's `symlink_targets` (so that a file's payload stays 8 bytes).
    Symlink(u32),
    /// A reparse point whose object is created when its stream is complete.
    Pending,
}

/// The writer's name tree: per file what it is on disk, per node whether it exists on disk.
pub(crate) type Tree = LayerTree<Disk, bool>;

/// The entry whose stream is being written.
struct Current {
    node: NodeId,
    file: FileNo,
    name: String,
    splitter: StreamSplitter,
    sink: EntrySink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Failed,
    Closed,
}

/// Imports a layer into a layer directory on Linux: hcsshim's `NewLayerWriter`, with the
/// reference layer model's semantics (docs/layer-semantics.md §0.1, applied by the layer's
/// [`LayerTree`]) and nothing of the Windows metadata lost. See
/// [`crate::format`](mod@crate::format) for what ends up on disk.
///
/// - Entries arrive as [`LayerWriter::add`] + their Win32 backup stream; the stream is split
///   as it arrives ([`StreamSplitter`]): file data into the entry's own file (sparse blocks
///   at their offsets), alternate data streams and large streams into sidecar files,
///   security descriptors, EAs and reparse buffers into the record. Memory use grows with
///   the number of names, never with file sizes.
/// - Names are case-insensitive and case-preserving; duplicates, entries below a
///   non-directory or reparse point, and hard links to missing names or directories are
///   refused as the model refuses them. A base layer (no parents) refuses `remove` with
///   `base layer cannot have tombstones`.
/// - [`LayerWriter::add_link`] makes a real hard link, to this layer's file or, for a name
///   the layer does not hold, to the first parent (nearest first) that has it (copied when
///   the parent is on another file system).
/// - [`LayerWriter::close`] clones the utility VM (delta layers that add `UtilityVM`),
///   re-applies directory times children first, writes the manifest, flushes the staged
///   tree with one `syncfs`, and renames it into place.
///
/// # Security
/// Everything is created through `wclayer_fs` relative to the staging directory's handle,
/// exclusively, never following a symbolic link; symbolic links are only created when their
/// target provably stays inside the layer. Parent layers are only read and hard-linked to,
/// never modified, and what is linked from them is checked to be a regular file (or a safe
/// symbolic link) after linking.
///
/// # Drop behaviour
/// Dropping the writer without a successful [`LayerWriter::close`] removes the staging
/// directory: no layer appears and nothing is left behind. The first error of any call does
/// the same at once; every later call then fails with [`Error::Poisoned`].
pub struct DirLayerWriter {
    /// The staging directory; `None` once committed or discarded.
    staged: Option<StagedDir>,
    target: String,
    /// The staging directory's root (the layer's root until the rename).
    root: Arc<Dir>,
    sidecar: Dir,
    streams_dir: Dir,
    records: Option<BufWriter<File>>,
    manifest: Manifest,
    parents: Vec<ParentLayer>,
    opts: WriterOptions,
    tree: Tree,
    /// The Windows targets of the symbolic links made ([`Disk::Symlink`]).
    symlink_targets: Vec<String>,
    /// Nodes of added directories, in `add` order, for the times re-applied at close.
    dirs: Vec<NodeId>,
    current: Option<Current>,
    /// The directories of the entries last written.
    dir_cache: DirCache,
    /// The directories of hard links' existing names, apart from [`Self::dir_cache`]: a run
    /// of links from one directory into another (the utility VM's files linked to the
    /// layer's) would otherwise reopen both paths for every link.
    link_dirs: DirCache,
    /// The threads that fill the files this writer creates.
    pool: pool::Pool,
    /// A delta layer added `UtilityVM` or removed something below `UtilityVM\Files`.
    wants_utility_vm: bool,
    state: State,
}

/// Lifecycle
impl DirLayerWriter {
    /// Starts a new layer directory `name` in `parent_dir`, over `parents` (nearest first;
    /// none makes a base layer).
    ///
    /// # Security
    /// `name` must be a single normal component. Nothing is created outside `parent_dir`:
    /// the layer is staged in a sibling `.NAME.wclayer-staging-XXXXXXXXXXXXXXXX` and renamed
    /// into place by [`LayerWriter::close`].
    ///
    /// # Errors
    /// When `name` is invalid or exists ([`Error::AlreadyExists`]), or the staging directory
    /// cannot be created.
    pub fn create(
        parent_dir: &Dir,
        name: &str,
        parents: Vec<ParentLayer>,
        opts: WriterOptions,
    ) -> Result<Self, Error> {
        check_layer_name(name)?;
        match parent_dir.metadata(name) {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    name: name.to_owned(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("stat layer directory", name, e)),
        }
        let staged = StagedDir::create(parent_dir, name)
            .map_err(|e| Error::io("create staging directory", name, e))?;
        let setup = || -> io::Result<(Dir, Dir, Dir, File)> {
            let root = staged.root().try_clone()?;
            root.create_dir(SIDECAR_DIR)?;
            let sidecar = root.open_dir(SIDECAR_DIR)?;
            sidecar.create_dir(STREAMS_DIR)?;
            let streams = sidecar.open_dir(STREAMS_DIR)?;
            let records = sidecar.create_file(ENTRIES_FILE)?;
            Ok((root, sidecar, streams, records))
        };
        // On failure, dropping `staged` removes the staging directory.
        let (root, sidecar, streams_dir, records) =
            setup().map_err(|e| Error::io("create staging directory", name, e))?;
        let pool = pool::Pool::new(root.try_clone().ok().map(|r| (r, pool::WRITE_BACK_EVERY)));
        let kind = if parents.is_empty() {
            LayerKind::Base
        } else {
            LayerKind::Delta
        };
        let labels = parents.iter().map(|p| p.label().to_owned()).collect();
        Ok(DirLayerWriter {
            staged: Some(staged),
            target: name.to_owned(),
            root: Arc::new(root),
            sidecar,
            streams_dir,
            records: Some(BufWriter::with_capacity(256 << 10, records)),
            manifest: Manifest::new(kind, labels),
            parents,
            opts,
            tree: Tree::new(),
            symlink_targets: Vec::new(),
            dirs: Vec::new(),
            current: None,
            dir_cache: DirCache::new(wclayer_fs::names::disk_name),
            link_dirs: DirCache::new(wclayer_fs::names::disk_name),
            pool,
            wants_utility_vm: false,
            state: State::Open,
        })
    }

    /// Starts a new layer directory at `path` over the parent layer directories `parents`
    /// (nearest first), with default options. This is what `wclayer import` uses.
    ///
    /// # Security
    /// Uses ambient authority: the directory containing `path` and the parents are resolved
    /// as the process sees them, following symbolic links in those paths. From there on
    /// everything happens relative to the opened handles, as for
    /// [`DirLayerWriter::create`]. Meant for paths the user gave.
    ///
    /// # Errors
    /// As [`DirLayerWriter::create`], plus failures opening the parents.
    pub fn create_ambient(
        path: &Path,
        parents: &[std::path::PathBuf],
        authority: AmbientAuthority,
    ) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidLayerName {
            name: path.display().to_string(),
            reason,
        };
        let name = match path.components().next_back() {
            Some(Component::Normal(n)) => n.to_str().ok_or_else(|| invalid("not UTF-8"))?,
            _ => return Err(invalid("does not end in a normal name")),
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent_dir = Dir::open_ambient_dir(dir, authority)
            .map_err(|e| Error::io("open directory", dir.display().to_string(), e))?;
        let parents = parents
            .iter()
            .map(|p| ParentLayer::open_ambient(p, authority))
            .collect::<Result<Vec<_>, _>>()?;
        Self::create(&parent_dir, name, parents, WriterOptions::default())
    }

    /// Whether this is a base layer (no parents) or a delta layer.
    #[must_use]
    pub fn kind(&self) -> LayerKind {
        self.manifest.kind
    }

    /// Runs one call: refused after an error or `close`; an error discards the staging
    /// directory and poisons the writer.
    fn run<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        match self.state {
            State::Open => {}
            State::Failed => return Err(Error::Poisoned),
            State::Closed => return Err(Error::Closed),
        }
        let result = op(self);
        // After the rename the layer is committed: a later failure (flushing the directory
        // holding it) is reported, but the layer stays.
        if result.is_err() && self.state != State::Closed {
            self.discard();
        }
        result
    }

    /// Removes the staging directory and everything in it.
    fn discard(&mut self) {
        self.state = State::Failed;
        self.current = None;
        // The workers stop before the staging directory goes.
        let _ = self.pool.finish();
        self.records = None;
        self.dir_cache.clear();
        self.link_dirs.clear();
        // Dropping the staged directory removes it (best effort: the error that got us here
        // is the one worth reporting).
        self.staged = None;
    }

    fn close_inner(&mut self) -> Result<(), Error> {
        self.finish_current()?;
        // A layer that cannot be read back is not committed: a base layer's walk starts at
        // its own `Files` (docs/layer-semantics.md §0.2), so one without it (a Linux tar, an
        // empty one) is refused here rather than by every later export.
        if self.manifest.kind == LayerKind::Base {
            self.tree.walk(wclayer_layer::WalkMode::Base)?;
        }
        // Every file complete before what follows reads or times anything.
        self.pool.finish()?;
        // hcsshim's Close order (docs/layer-semantics.md §4.5): tombstones are already
        // recorded and hard links made (ours need no preceding HCS import); then the utility
        // VM, then directory times after everything that touches directories.
        if self.manifest.kind == LayerKind::Delta && self.wants_utility_vm {
            let mut parents = std::mem::take(&mut self.parents);
            let r = match parents.first_mut() {
                Some(p) => self.clone_utility_vm(p),
                None => Ok(()),
            };
            self.parents = parents;
            r?;
        }
        for i in (0..self.dirs.len()).rev() {
            let Some(&node) = self.dirs.get(i) else {
                continue;
            };
            if let Some(f) = self.tree.file_of(node) {
                let info = *self.tree.info(f);
                self.set_times(node, &info)?;
            }
        }
        let manifest = serde_json::to_vec(&self.manifest)
            .map_err(|e| Error::io_layer("write layer.json", io::Error::other(e)))?;
        let mut m = self
            .sidecar
            .create_file(MANIFEST_FILE)
            .map_err(|e| Error::io_layer("create layer.json", e))?;
        m.write_all(&manifest)
            .and_then(|()| m.write_all(b"\n"))
            .map_err(|e| Error::io_layer("write layer.json", e))?;
        drop(m);
        if let Some(r) = self.records.take() {
            r.into_inner()
                .map_err(|e| Error::io_layer("write entries.jsonl", e.into_error()))?;
        }
        self.dir_cache.clear();
        self.link_dirs.clear();
        let staged = self.staged.take().ok_or(Error::Closed)?;
        let target = self.target.clone();
        // The rename is the commit: from then on the layer stays, whatever fails after.
        let rename_done = std::cell::Cell::new(false);
        let r = commit(staged, self.opts.sync, &rename_done);
        if rename_done.get() {
            self.state = State::Closed;
        }
        r.map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists { name: target }
            } else if rename_done.get() {
                Error::io("sync directory", &self.target, e)
            } else {
                Error::io("commit layer directory", &self.target, e)
            }
        })
    }
}

/// Commits the staged layer, noting in `rename_done` whether the rename happened.
fn commit(staged: StagedDir, sync: bool, rename_done: &std::cell::Cell<bool>) -> io::Result<()> {
    if sync {
        staged.root().sync_fs()?;
    }
    let parent = staged.parent().try_clone()?;
    staged.commit(false)?;
    rename_done.set(true);
    if sync {
        // The rename itself is durable only once the directory holding it is flushed.
        parent.sync_all()?;
    }
    Ok(())
}

impl Drop for DirLayerWriter {
    /// The workers stop before the fields go: the staged directory, dropped unclosed,
    /// removes a tree nothing writes into any more.
    fn drop(&mut self) {
        let _ = self.pool.finish();
    }
}

/// Entries
impl DirLayerWriter {
    fn write_record(&mut self, rec: &Record) -> Result<(), Error> {
        let w = self.records.as_mut().ok_or(Error::Closed)?;
        serde_json::to_writer(&mut *w, rec)
            .map_err(io::Error::other)
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| Error::io_layer("write entries.jsonl", e))?;
        // Counts of records written, which never come near 2^64.
        let m = &mut self.manifest;
        m.records = m.records.saturating_add(1);
        match rec {
            Record::File(_) => m.files = m.files.saturating_add(1),
            Record::Tomb { .. } => m.tombstones = m.tombstones.saturating_add(1),
            Record::Link { .. } => {}
        }
        Ok(())
    }

    /// The on-disk name of `node`.
    fn disk_last(&self, node: NodeId) -> String {
        disk_name(self.tree.name(node)).into_owned()
    }

    /// The open directory holding `node`.
    fn parent_dir(&mut self, node: NodeId) -> Result<&Dir, Error> {
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        let tree = &self.tree;
        match self.dir_cache.get(&self.root, tree, parent) {
            Ok(d) => Ok(d),
            Err(e) => Err(Error::io("open directory", tree.path_of(node), e)),
        }
    }

    /// The open directory holding `node`, shared, for a job of the pool; from
    /// [`Self::link_dirs`] for the existing name of a hard link (`link_source`).
    fn shared_parent_dir(&mut self, node: NodeId, link_source: bool) -> Result<Arc<Dir>, Error> {
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        let cache = if link_source {
            &mut self.link_dirs
        } else {
            &mut self.dir_cache
        };
        cache
            .get_shared(&self.root, &self.tree, parent)
            .map_err(|e| Error::io("open directory", self.tree.path_of(node), e))
    }

    /// Creates the directories of `node` and its ancestors that are not on disk yet.
    fn ensure_on_disk(&mut self, node: NodeId) -> Result<(), Error> {
        for n in self.tree.pending_ancestors(node, |on_disk| !on_disk) {
            let last = self.disk_last(n);
            let dir = self.parent_dir(n)?;
            if let Err(e) = dir.create_dir(&last) {
                return Err(Error::io("create directory", self.tree.path_of(n), e));
            }
            *self.tree.node_mut(n) = true;
        }
        Ok(())
    }

    /// Sets the Linux access and modification times of `node` from `info` (creation and
    /// change time have no Linux counterpart that can be set; they live in the records).
    /// FILETIME 0 leaves a time unchanged, as Windows does when setting times.
    fn set_times(&mut self, node: NodeId, info: &FileBasicInfo) -> Result<(), Error> {
        let last = self.disk_last(node);
        let (atime, mtime) = unix_times(info);
        let dir = self.parent_dir(node)?;
        if let Err(e) = dir.set_times(&last, atime, mtime) {
            return Err(Error::io("set times", self.tree.path_of(node), e));
        }
        Ok(())
    }

    /// Completes the entry being written: checks its stream ended cleanly, creates a
    /// reparse point's object, sets the times and writes its record.
    fn finish_current(&mut self) -> Result<(), Error> {
        let Some(mut cur) = self.current.take() else {
            return Ok(());
        };
        let mut ctx = SinkCtx {
            streams_dir: &self.streams_dir,
            pool: &mut self.pool,
            s: &mut cur.sink,
            entry: &cur.name,
        };
        cur.splitter
            .finish(&mut ctx)
            .map_err(|e| sink::split_error(&cur.name, e))?;
        let Current {
            node,
            file,
            name,
            mut sink,
            ..
        } = cur;
        let info = *self.tree.info(file);
        if sink.has_content() {
            // The pool sets the times of the files it fills, after their data.
            let (atime, mtime) = unix_times(&info);
            sink.finish_content(&mut self.pool, atime, mtime)?;
        } else {
            if *self.tree.file(file) == Disk::Pending {
                let disk = self.create_reparse_object(node, sink.reparse.as_deref(), &name)?;
                *self.tree.file_mut(file) = disk;
                *self.tree.node_mut(node) = true;
            }
            if *self.tree.file(file) != Disk::Directory {
                self.set_times(node, &info)?;
            }
        }
        let rec = FileRecord {
            n: file.index() as u64,
            path: self.tree.path_of(node),
            info: InfoRecord::from(&info),
            data_size: sink.size.value(),
            streams: sink.streams,
            clone: false,
            origin: None,
        };
        self.write_record(&Record::File(rec))
    }

    /// Creates the object of a reparse point: a symbolic link when that is safe, else an
    /// empty placeholder file.
    fn create_reparse_object(
        &mut self,
        node: NodeId,
        reparse: Option<&[u8]>,
        name: &str,
    ) -> Result<Disk, Error> {
        let depth = self.tree.depth(node).saturating_sub(1);
        let windows_target = reparse
            .and_then(|b| ReparsePoint::decode(b).ok())
            .and_then(|rp| match rp {
                ReparsePoint::Symlink {
                    target,
                    relative: true,
                } => Some(target),
                _ => None,
            });
        let linux_target = windows_target
            .as_deref()
            .and_then(|t| safe_symlink_target(t, depth));
        let last = self.disk_last(node);
        let dir = self.parent_dir(node)?;
        match (linux_target, windows_target) {
            (Some(lt), Some(wt)) => {
                dir.symlink(lt.as_ref(), &last)
                    .map_err(|e| Error::io("create symbolic link", name, e))?;
                Ok(self.symlink_disk(wt))
            }
            _ => {
                dir.create_file(&last)
                    .map_err(|e| Error::io("create file", name, e))?;
                Ok(Disk::File)
            }
        }
    }

    fn add_inner(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.finish_current()?;
        let is_dir = info.file_attributes.is_directory();
        let reparse = info.file_attributes.is_reparse_point();
        let added = self.tree.add(name, *info, Disk::Pending)?;
        let (node, file) = (added.node, added.file);
        if self.manifest.kind == LayerKind::Delta && name.key() == "UTILITYVM" {
            self.wants_utility_vm = true;
        }
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        self.ensure_on_disk(parent)?;
        let entry = name.to_string();
        let mut content = None;
        let disk = if is_dir && (!reparse || added.promoted) {
            // A directory reparse point added after entries below it (the model allows it)
            // stays the directory it already is.
            self.ensure_on_disk(node)?;
            self.dirs.push(node);
            Disk::Directory
        } else if reparse {
            Disk::Pending
        } else {
            let last = self.disk_last(node);
            let dir = self.shared_parent_dir(node, false)?;
            self.pool.begin(file.index(), dir, last, entry.clone())?;
            content = Some(self.pool.buffer());
            *self.tree.node_mut(node) = true;
            Disk::File
        };
        *self.tree.file_mut(file) = disk;
        self.current = Some(Current {
            node,
            file,
            name: entry,
            splitter: StreamSplitter::new(),
            sink: EntrySink::new(file, content),
        });
        Ok(())
    }

    fn write_inner(&mut self, buf: &[u8]) -> Result<(), Error> {
        let cur = self
            .current
            .as_mut()
            .ok_or(Error::Model(wclayer_layer::Error::NoEntry))?;
        let mut ctx = SinkCtx {
            streams_dir: &self.streams_dir,
            pool: &mut self.pool,
            s: &mut cur.sink,
            entry: &cur.name,
        };
        cur.splitter
            .feed(buf, &mut ctx)
            .map_err(|e| sink::split_error(&cur.name, e))
    }

    fn remove_inner(&mut self, name: &LayerPath) -> Result<(), Error> {
        self.finish_current()?;
        if self.manifest.kind == LayerKind::Base {
            return Err(Error::Model(wclayer_layer::Error::BaseLayerTombstone {
                name: name.original().to_string(),
            }));
        }
        let dir = self.tree.remove(name)?;
        let path = match self.tree.path_of(dir) {
            p if p.is_empty() => name.file_name().to_owned(),
            p => format!("{p}\\{}", name.file_name()),
        };
        if name.key().starts_with("UTILITYVM\\FILES\\") {
            self.wants_utility_vm = true;
        }
        self.write_record(&Record::Tomb { path })
    }

    fn add_link_inner(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.finish_current()?;
        if self.tree.find_entry(target).is_some() {
            return self.link_in_layer(name, target);
        }
        let mut parents = std::mem::take(&mut self.parents);
        let r = self.link_to_parent(&mut parents, name, target);
        self.parents = parents;
        r
    }

    /// Records a symbolic link made from the Windows target `wt`.
    pub(super) fn symlink_disk(&mut self, wt: String) -> Disk {
        let at = u32::try_from(self.symlink_targets.len()).unwrap_or(u32::MAX);
        self.symlink_targets.push(wt);
        Disk::Symlink(at)
    }

    /// The Windows target of a symbolic link made.
    fn symlink_target(&self, d: &Disk) -> Option<&str> {
        match d {
            Disk::Symlink(at) => self.symlink_targets.get(*at as usize).map(String::as_str),
            _ => None,
        }
    }

    fn link_in_layer(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        let (node, f) = self.tree.add_link(name, target)?;
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        self.ensure_on_disk(parent)?;
        if let Some(windows_target) = self.symlink_target(self.tree.file(f)) {
            let depth = self.tree.depth(node).saturating_sub(1);
            if safe_symlink_target(windows_target, depth).is_none() {
                // The link's target would point elsewhere (possibly out of the layer) from
                // the new name's directory: the whole group becomes a placeholder file.
                self.symlink_group_to_placeholder(f, node)?;
            }
        }
        let first = self.tree.names_of(f).next().unwrap_or(NodeId::ROOT);
        self.link_nodes(f, first, node, &name.to_string())?;
        *self.tree.node_mut(node) = true;
        let path = self.tree.path_of(node);
        self.write_record(&Record::Link {
            path,
            file: f.index() as u64,
            clone: false,
        })
    }

    /// Hard-links the object of node `from` as node `to`, both names of file `f` in this
    /// layer. A regular file may still be being created by the pool: the link goes to the
    /// same worker, after it; other objects are made by this thread and linked here.
    fn link_nodes(
        &mut self,
        f: FileNo,
        from: NodeId,
        to: NodeId,
        entry: &str,
    ) -> Result<(), Error> {
        let src_last = self.disk_last(from);
        let dst_last = self.disk_last(to);
        let src_dir = self.shared_parent_dir(from, true)?;
        if *self.tree.file(f) == Disk::File {
            let dst_dir = self.shared_parent_dir(to, false)?;
            return self.pool.link(
                f.index(),
                (src_dir, src_last),
                (dst_dir, dst_last),
                entry.to_owned(),
            );
        }
        let dst_dir = self.parent_dir(to)?;
        src_dir
            .hard_link(&src_last, dst_dir, &dst_last)
            .map_err(|e| Error::io("hard link", entry, e))
    }

    /// Replaces the symbolic link shared by every name of file `f` (except `new`, which has
    /// no object yet) with one empty placeholder file carrying all the names.
    fn symlink_group_to_placeholder(&mut self, f: FileNo, new: NodeId) -> Result<(), Error> {
        let names: Vec<NodeId> = self.tree.names_of(f).filter(|&n| n != new).collect();
        let tmp = format!("relink-{}", f.index());
        self.streams_dir
            .create_file(&tmp)
            .map_err(|e| Error::io_layer("create placeholder", e))?;
        for &n in &names {
            let last = self.disk_last(n);
            let entry = self.tree.path_of(n);
            let dir = self
                .parent_dir(n)?
                .try_clone()
                .map_err(|e| Error::io("open directory", &entry, e))?;
            dir.remove_file(&last)
                .and_then(|()| self.streams_dir.hard_link(&tmp, &dir, &last))
                .map_err(|e| Error::io("replace symbolic link", &entry, e))?;
        }
        self.streams_dir
            .remove_file(&tmp)
            .map_err(|e| Error::io_layer("remove placeholder", e))?;
        *self.tree.file_mut(f) = Disk::File;
        if let Some(&first) = names.first() {
            let info = *self.tree.info(f);
            self.set_times(first, &info)?;
        }
        Ok(())
    }
}

/// The Linux access and modification times of `info`; FILETIME 0 leaves a time unchanged,
/// as Windows does when setting times.
fn unix_times(
    info: &FileBasicInfo,
) -> (
    Option<wclayer_backup::UnixTime>,
    Option<wclayer_backup::UnixTime>,
) {
    let unix = |t: FileTime| (t.0 != 0).then(|| t.to_unix_exact());
    (unix(info.last_access_time), unix(info.last_write_time))
}

/// Checks that a layer directory name is one normal component.
pub(crate) fn check_layer_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "empty"
    } else if name == "." || name == ".." {
        "not a normal name"
    } else if name.contains(['/', '\0']) {
        "contains `/` or NUL"
    } else if name.len() > wclayer_fs::MAX_TARGET_NAME {
        "longer than 220 bytes"
    } else {
        return Ok(());
    };
    Err(Error::InvalidLayerName {
        name: name.to_owned(),
        reason,
    })
}

impl LayerWriter for DirLayerWriter {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(|w| w.add_inner(name, info))?)
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(|w| w.add_link_inner(name, target))?)
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(|w| w.remove_inner(name))?)
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(|w| w.write_inner(buf))?)
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(Self::close_inner)?)
    }
}

impl Write for DirLayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.run(|w| w.write_inner(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for DirLayerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLayerWriter")
            .field("target", &self.target)
            .field(
                "staging",
                &self.staged.as_ref().map(StagedDir::staging_name),
            )
            .field("kind", &self.manifest.kind)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data buffers go round between the importing thread and the pool: a layer of many
    /// small files allocates about as many as can be in flight, not one per file (each
    /// allocation is fresh memory, a page fault per 4 KiB touched).
    #[test]
    fn small_files_reuse_data_buffers() {
        use wclayer_backup::{BackupStreamWriter, FileAttributes, StreamHeader, StreamId};
        let tmp = tempfile::tempdir().unwrap();
        let fd = Dir::open_ambient_dir(tmp.path(), wclayer_fs::ambient_authority()).unwrap();
        let opts = WriterOptions {
            sync: false,
            ..WriterOptions::default()
        };
        let mut w = DirLayerWriter::create(&fd, "layer", Vec::new(), opts).unwrap();
        let info = |attr| FileBasicInfo {
            file_attributes: FileAttributes(attr),
            ..FileBasicInfo::default()
        };
        w.add(&LayerPath::parse("Files").unwrap(), &info(0x10))
            .unwrap();
        let files = 2_000u64;
        for i in 0..files {
            let body = format!("file {i}").repeat(50);
            let mut s = BackupStreamWriter::new(Vec::new());
            s.write_header(&StreamHeader::new(StreamId::DATA, body.len() as u64))
                .unwrap();
            s.write_all(body.as_bytes()).unwrap();
            let name = LayerPath::parse(&format!("Files\\f{i}")).unwrap();
            w.add(&name, &info(0x20)).unwrap();
            w.write_all(&s.finish().unwrap()).unwrap();
        }
        let fresh = w.pool.fresh_buffers.get();
        w.close().unwrap();
        assert!(
            fresh < files / 4,
            "{fresh} buffers allocated for {files} files"
        );
        let got = std::fs::read(tmp.path().join("layer/Files/f1999")).unwrap();
        assert_eq!(got, "file 1999".repeat(50).as_bytes());
    }

    #[test]
    fn layer_names() {
        assert!(check_layer_name("layer1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b", &"x".repeat(221)] {
            assert!(check_layer_name(bad).is_err(), "{bad:?}");
        }
    }
}

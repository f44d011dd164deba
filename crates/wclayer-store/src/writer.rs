//! [`DirLayerWriter`]: imports a layer into a layer directory, staged and committed with one
//! rename.

use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{FileBasicInfo, FileTime, StreamAttributes, StreamId};
use wclayer_layer::{LayerPath, LayerWriter, ReportedSize, upcase_key};

use crate::Error;
use crate::format::{
    ENTRIES_FILE, INLINE_MAX, MANIFEST_FILE, MAX_CONTENT_OFFSET, SIDECAR_DIR, STAGING_INFIX,
    STREAMS_DIR,
};
use crate::fs::{DirRef, FileKind, Fs, LinuxFs, open_dir_path, remove_all};
use crate::index::{DirCache, LayerIndex, disk_components, read_manifest};
use crate::meta::{
    Body, FileRecord, InfoRecord, LayerKind, Manifest, Origin, Record, StreamRecord,
};
use crate::names::{disk_name, safe_symlink_target, valid_blob_name};
use crate::stream::{RawHeader, Sink, Splitter};
use crate::tree::{Kind, Tree};

/// The utility VM's boot configuration store: copied, never hard-linked, when the utility VM
/// is cloned, because the utility-VM processing rewrites it (hcsshim's `mutatedFiles`, with
/// the path bug of layer-semantics.md §4.6 fixed: the names are relative to the layer root).
const BCD_FILES: [&str; 4] = [
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG1",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG2",
];

/// Longest layer directory name: the staging name adds 1 + 17 + 16 bytes and must still fit
/// in 255.
const MAX_LAYER_NAME: usize = 220;

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

/// A parent layer directory of a delta layer: where hard links to files the layer does not
/// add are found, and (the nearest parent) where the utility VM is cloned from.
///
/// # Drop behaviour
/// Dropping it closes its handles.
pub struct ParentLayer<F: Fs = LinuxFs> {
    root: F::Dir,
    label: String,
    streams: Option<F::Dir>,
    index: Option<LayerIndex<F>>,
}

impl ParentLayer<LinuxFs> {
    /// Opens the parent layer directory `name` in `parent_dir` (a single component, not
    /// followed if it is a symbolic link).
    ///
    /// # Errors
    /// When it cannot be opened or is no layer directory of a supported format.
    pub fn open(parent_dir: impl AsFd, name: &str) -> Result<Self, Error> {
        check_layer_name(name)?;
        let dir = parent_dir
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io_layer("duplicate directory handle", e))?;
        let root = LinuxFs
            .open_dir(&dir, Path::new(name))
            .map_err(|e| Error::io("open parent layer", name, e))?;
        ParentLayer::from_root(&LinuxFs, root, name)
    }

    /// Opens the parent layer directory at `path`.
    ///
    /// # Security
    /// Uses ambient authority: `path` is resolved as the process sees it, following symbolic
    /// links. Everything inside the parent is then reached relative to its handle without
    /// following links, and nothing in it is ever modified. Meant for `-l` paths from the
    /// user.
    ///
    /// # Errors
    /// As [`ParentLayer::open`].
    pub fn open_ambient(path: &Path) -> Result<Self, Error> {
        let label = path.display().to_string();
        let root = LinuxFs::open_ambient_dir(path)
            .map_err(|e| Error::io("open parent layer", &label, e))?;
        ParentLayer::from_root(&LinuxFs, root, label)
    }
}

impl<F: Fs> ParentLayer<F> {
    /// A parent layer directory open at `root`; `label` names it in the new layer's manifest
    /// and in errors. Only the manifest is read now; the records are loaded when first
    /// needed.
    ///
    /// # Errors
    /// When `root` is no layer directory of a supported format.
    pub fn from_root(fs: &F, root: F::Dir, label: impl Into<String>) -> Result<Self, Error> {
        read_manifest(fs, &root)?;
        Ok(ParentLayer {
            root,
            label: label.into(),
            streams: None,
            index: None,
        })
    }

    /// The name given for this parent.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The loaded index, the root and the streams directory, as separate borrows.
    fn parts(&mut self, fs: &F) -> Result<ParentParts<'_, F>, Error> {
        if self.index.is_none() {
            self.index = Some(LayerIndex::load(fs, &self.root)?);
            self.streams = fs
                .open_dir(&self.root, &Path::new(SIDECAR_DIR).join(STREAMS_DIR))
                .ok();
        }
        match self.index.as_mut() {
            Some(index) => Ok(ParentParts {
                index,
                root: &self.root,
                streams: self.streams.as_ref(),
            }),
            None => Err(Error::Closed),
        }
    }
}

/// Separate borrows of a loaded parent layer.
struct ParentParts<'a, F: Fs> {
    index: &'a mut LayerIndex<F>,
    root: &'a F::Dir,
    streams: Option<&'a F::Dir>,
}

/// The handles of a new staging directory.
struct Staged<F: Fs> {
    root: F::Dir,
    sidecar: F::Dir,
    streams: F::Dir,
    records: F::File,
}

impl<F: Fs> std::fmt::Debug for ParentLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentLayer")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// What an entry is on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Disk {
    Directory,
    /// A regular file: file data, or an empty placeholder for a reparse point.
    File,
    /// A symbolic link made from this Windows symbolic-link target.
    Symlink {
        windows_target: String,
    },
    /// A reparse point whose object is created when its stream is complete.
    Pending,
}

/// Per file (hard links share one).
#[derive(Debug)]
struct WFile {
    disk: Disk,
    /// Every node bound to the file, first the one its object was created for.
    names: Vec<usize>,
}

/// Where the body of the current sub-stream goes.
enum Dest<F: Fs> {
    Content,
    Inline(Vec<u8>),
    Blob(BufWriter<F::File>),
}

/// The stream bookkeeping of the entry being written.
struct EntrySink<F: Fs> {
    file_no: usize,
    /// The entry's own regular file, for data and sparse blocks.
    content: Option<BufWriter<F::File>>,
    content_touched: bool,
    /// End of the furthest content written: later sparse blocks must start at or after it,
    /// so nothing already written is overwritten.
    high_water: u64,
    /// The file's logical length (a terminating sparse block may lie beyond the data).
    logical_len: u64,
    streams: Vec<StreamRecord>,
    open: Option<(StreamRecord, Dest<F>)>,
    size: ReportedSize,
    /// The first reparse buffer, which decides symlink or placeholder.
    reparse: Option<Vec<u8>>,
    blobs: u32,
}

struct Current<F: Fs> {
    node: usize,
    file: usize,
    name: String,
    splitter: Splitter,
    sink: EntrySink<F>,
}

/// [`Sink`] with the handles the sink needs to create blob files.
struct SinkCtx<'a, F: Fs> {
    fs: &'a F,
    streams_dir: &'a F::Dir,
    s: &'a mut EntrySink<F>,
    entry: &'a str,
}

impl<F: Fs> Sink for SinkCtx<'_, F> {
    fn header(&mut self, h: RawHeader) -> Result<(), Error> {
        let s = &mut *self.s;
        let id = StreamId(h.id);
        let name = h.decoded_name();
        let name_utf16 = h.lossy_raw_name(&name);
        let sparse = id == StreamId::SPARSE_BLOCK;
        s.size.header(
            StreamId(h.id),
            StreamAttributes(h.attributes),
            h.size,
            h.offset,
        );
        let content_at = match (&s.content, id) {
            (Some(_), StreamId::DATA) if !s.content_touched => Some(0),
            (Some(_), StreamId::SPARSE_BLOCK) => u64::try_from(h.offset).ok().filter(|&off| {
                off >= s.high_water
                    && off
                        .checked_add(h.size)
                        .is_some_and(|end| end <= MAX_CONTENT_OFFSET)
            }),
            _ => None,
        };
        let entry = self.entry;
        let (body, dest) = if let Some(off) = content_at {
            s.content_touched = true;
            let end = off + h.size;
            if h.size > 0 {
                // An empty block writes nothing, so it needs no protection from overwrites;
                // a terminator only sets the logical length.
                s.high_water = s.high_water.max(end);
            }
            s.logical_len = s.logical_len.max(end);
            if let Some(c) = s.content.as_mut()
                && h.size > 0
            {
                c.seek(SeekFrom::Start(off))
                    .map_err(|e| Error::io("write file data", entry, e))?;
            }
            (Body::Content(off), Dest::Content)
        } else if h.size == 0
            || (h.size <= INLINE_MAX
                && !matches!(
                    id,
                    StreamId::DATA | StreamId::ALTERNATE_DATA | StreamId::SPARSE_BLOCK
                ))
        {
            let cap = usize::try_from(h.size).unwrap_or(0);
            (
                Body::Inline(Vec::new()),
                Dest::Inline(Vec::with_capacity(cap)),
            )
        } else {
            let blob = format!("{}.{}", s.file_no, s.blobs);
            s.blobs += 1;
            let f = self
                .fs
                .create_file(self.streams_dir, Path::new(&blob))
                .map_err(|e| Error::io("create stream file", entry, e))?;
            (
                Body::Blob(blob),
                Dest::Blob(BufWriter::with_capacity(64 << 10, f)),
            )
        };
        let rec = StreamRecord {
            id: h.id,
            attributes: h.attributes,
            size: h.size,
            name,
            name_utf16,
            offset: sparse.then_some(h.offset),
            body,
        };
        s.open = Some((rec, dest));
        Ok(())
    }

    fn body(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let s = &mut *self.s;
        let entry = self.entry;
        match s.open.as_mut().map(|(_, d)| d) {
            Some(Dest::Content) => match s.content.as_mut() {
                Some(c) => c
                    .write_all(bytes)
                    .map_err(|e| Error::io("write file data", entry, e)),
                None => Err(Error::NoEntry),
            },
            Some(Dest::Inline(v)) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
            Some(Dest::Blob(w)) => w
                .write_all(bytes)
                .map_err(|e| Error::io("write stream file", entry, e)),
            None => Err(Error::NoEntry),
        }
    }

    fn end(&mut self) -> Result<(), Error> {
        let s = &mut *self.s;
        let Some((mut rec, dest)) = s.open.take() else {
            return Err(Error::NoEntry);
        };
        match dest {
            Dest::Content => {}
            Dest::Inline(v) => {
                if StreamId(rec.id) == StreamId::REPARSE_DATA && s.reparse.is_none() {
                    s.reparse = Some(v.clone());
                }
                rec.body = Body::Inline(v);
            }
            Dest::Blob(w) => {
                w.into_inner()
                    .map_err(|e| Error::io("write stream file", self.entry, e.into_error()))?;
            }
        }
        s.streams.push(rec);
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Failed,
    Closed,
}

/// Imports a layer into a layer directory on Linux: hcsshim's `NewLayerWriter`, with the
/// reference layer model's semantics (layer-semantics.md §0.1) and nothing of the Windows
/// metadata lost. See [`crate::format`](mod@crate::format) for what ends up on disk.
///
/// - Entries arrive as [`LayerWriter::add`] + their Win32 backup stream through
///   [`io::Write`]; the stream is split as it arrives: file data into the entry's own file
///   (sparse blocks at their offsets), alternate data streams and large streams into sidecar
///   files, security descriptors, EAs and reparse buffers into the record. Memory use grows
///   with the number of names, never with file sizes.
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
/// Everything is created relative to the staging directory's handle with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, exclusively, never following a symbolic link;
/// symbolic links are only created when their target provably stays inside the layer.
/// Parent layers are only read and hard-linked to, never modified.
///
/// # Drop behaviour
/// Dropping the writer without a successful [`LayerWriter::close`] removes the staging
/// directory: no layer appears and nothing is left behind. The first error of any call does
/// the same at once; every later call then fails with [`Error::Poisoned`].
pub struct DirLayerWriter<F: Fs = LinuxFs> {
    fs: F,
    /// The directory that will hold the layer (and holds the staging directory).
    parent_dir: F::Dir,
    target: String,
    staging: String,
    /// The staging directory: the layer's root until the rename.
    root: F::Dir,
    sidecar: F::Dir,
    streams_dir: F::Dir,
    records: Option<BufWriter<F::File>>,
    manifest: Manifest,
    parents: Vec<ParentLayer<F>>,
    opts: WriterOptions,
    tree: Tree,
    /// Parallel to `tree.infos`.
    files: Vec<WFile>,
    /// Nodes of added directories, in `add` order, for the times re-applied at close.
    dirs: Vec<usize>,
    current: Option<Current<F>>,
    /// The directory of the last node whose parent was opened: (node, handle).
    dir_cache: DirCache<F::Dir>,
    /// A delta layer added `UtilityVM` or removed something below `UtilityVM\Files`.
    wants_utility_vm: bool,
    state: State,
}

/// Lifecycle
impl DirLayerWriter<LinuxFs> {
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
        parent_dir: impl AsFd,
        name: &str,
        parents: Vec<ParentLayer<LinuxFs>>,
        opts: WriterOptions,
    ) -> Result<Self, Error> {
        let dir = parent_dir
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io_layer("duplicate directory handle", e))?;
        Self::create_in(LinuxFs, dir, name, parents, opts)
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
    pub fn create_ambient(path: &Path, parents: &[PathBuf]) -> Result<Self, Error> {
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
        let parent_dir = LinuxFs::open_ambient_dir(dir)
            .map_err(|e| Error::io("open directory", dir.display().to_string(), e))?;
        let parents = parents
            .iter()
            .map(|p| ParentLayer::open_ambient(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::create_in(LinuxFs, parent_dir, name, parents, WriterOptions::default())
    }
}

/// Lifecycle
impl<F: Fs> DirLayerWriter<F> {
    /// Starts a new layer directory `name` in `parent_dir` through `fs`; see
    /// [`DirLayerWriter::create`].
    ///
    /// # Errors
    /// As [`DirLayerWriter::create`].
    pub fn create_in(
        fs: F,
        parent_dir: F::Dir,
        name: &str,
        parents: Vec<ParentLayer<F>>,
        opts: WriterOptions,
    ) -> Result<Self, Error> {
        check_layer_name(name)?;
        match fs.stat(&parent_dir, Path::new(name)) {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    name: name.to_owned(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("stat layer directory", name, e)),
        }
        let mut staging = String::new();
        for attempt in 0.. {
            staging = format!(".{name}{STAGING_INFIX}{}", random_suffix(attempt));
            match fs.create_dir(&parent_dir, Path::new(&staging)) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {}
                Err(e) => return Err(Error::io("create staging directory", name, e)),
            }
        }
        let setup = || -> io::Result<Staged<F>> {
            let root = fs.open_dir(&parent_dir, Path::new(&staging))?;
            fs.create_dir(&root, Path::new(SIDECAR_DIR))?;
            let sidecar = fs.open_dir(&root, Path::new(SIDECAR_DIR))?;
            fs.create_dir(&sidecar, Path::new(STREAMS_DIR))?;
            let streams = fs.open_dir(&sidecar, Path::new(STREAMS_DIR))?;
            let records = fs.create_file(&sidecar, Path::new(ENTRIES_FILE))?;
            Ok(Staged {
                root,
                sidecar,
                streams,
                records,
            })
        };
        let Staged {
            root,
            sidecar,
            streams: streams_dir,
            records,
        } = match setup() {
            Ok(v) => v,
            Err(e) => {
                let _ = remove_all(&fs, &parent_dir, Path::new(&staging));
                return Err(Error::io("create staging directory", name, e));
            }
        };
        let kind = if parents.is_empty() {
            LayerKind::Base
        } else {
            LayerKind::Delta
        };
        let labels = parents.iter().map(|p| p.label.clone()).collect();
        Ok(DirLayerWriter {
            fs,
            parent_dir,
            target: name.to_owned(),
            staging,
            root,
            sidecar,
            streams_dir,
            records: Some(BufWriter::with_capacity(256 << 10, records)),
            manifest: Manifest::new(kind, labels),
            parents,
            opts,
            tree: Tree::new(),
            files: Vec::new(),
            dirs: Vec::new(),
            current: None,
            dir_cache: DirCache::new(),
            wants_utility_vm: false,
            state: State::Open,
        })
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
        self.records = None;
        self.dir_cache.clear();
        // Best effort: the error that got us here is the one worth reporting.
        let _ = remove_all(&self.fs, &self.parent_dir, Path::new(&self.staging));
    }

    fn close_inner(&mut self) -> Result<(), Error> {
        self.finish_current()?;
        // hcsshim's Close order (layer-semantics.md §4.5): tombstones are already recorded
        // and hard links made (ours need no preceding HCS import); then the utility VM, then
        // directory times after everything that touches directories.
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
            let node = self.dirs[i];
            if let Some(info) = self
                .tree
                .file_of(node)
                .and_then(|f| self.tree.info(f))
                .copied()
            {
                self.set_times(node, &info)?;
            }
        }
        let manifest = serde_json::to_vec(&self.manifest)
            .map_err(|e| Error::io_layer("write layer.json", io::Error::other(e)))?;
        let mut m = self
            .fs
            .create_file(&self.sidecar, Path::new(MANIFEST_FILE))
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
        if self.opts.sync {
            // One flush of the whole staged tree instead of an fsync per file.
            self.fs
                .sync_fs(&self.root)
                .map_err(|e| Error::io_layer("syncfs", e))?;
        }
        self.fs
            .rename_noreplace(
                &self.parent_dir,
                Path::new(&self.staging),
                &self.parent_dir,
                Path::new(&self.target),
            )
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Error::AlreadyExists {
                        name: self.target.clone(),
                    }
                } else {
                    Error::io("rename into place", &self.target, e)
                }
            })?;
        self.state = State::Closed;
        if self.opts.sync {
            // The rename itself is durable only once the directory holding it is flushed.
            self.fs
                .sync_dir(&self.parent_dir)
                .map_err(|e| Error::io("sync directory", &self.target, e))?;
        }
        Ok(())
    }
}

/// Entries
impl<F: Fs> DirLayerWriter<F> {
    fn write_record(&mut self, rec: &Record) -> Result<(), Error> {
        let w = self.records.as_mut().ok_or(Error::Closed)?;
        serde_json::to_writer(&mut *w, rec)
            .map_err(io::Error::other)
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| Error::io_layer("write entries.jsonl", e))?;
        self.manifest.records += 1;
        match rec {
            Record::File(_) => self.manifest.files += 1,
            Record::Tomb { .. } => self.manifest.tombstones += 1,
            Record::Link { .. } => {}
        }
        Ok(())
    }

    /// A new file number, with its writer bookkeeping.
    fn new_file(&mut self, info: FileBasicInfo, disk: Disk) -> usize {
        let f = self.tree.new_file(info);
        self.files.push(WFile {
            disk,
            names: Vec::new(),
        });
        f
    }

    fn wfile(&mut self, f: usize) -> Result<&mut WFile, Error> {
        self.files.get_mut(f).ok_or(Error::NoEntry)
    }

    /// The on-disk name of `node`.
    fn disk_last(&self, node: usize) -> PathBuf {
        self.tree
            .node(node)
            .map(|n| PathBuf::from(disk_name(&n.name).as_ref()))
            .unwrap_or_default()
    }

    /// Creates the directories of `node` and its ancestors that are not on disk yet.
    fn ensure_on_disk(&mut self, node: usize) -> Result<(), Error> {
        let mut chain = Vec::new();
        let mut n = node;
        while let Some(nd) = self.tree.node(n) {
            if nd.on_disk {
                break;
            }
            chain.push(n);
            n = nd.parent;
        }
        for &n in chain.iter().rev() {
            let last = self.disk_last(n);
            let name = self.tree.path_of(n);
            let dir = self
                .dir_cache
                .parent_of(&self.fs, &self.root, &self.tree, n)
                .map_err(|e| Error::io("open directory", &name, e))?;
            self.fs
                .create_dir(dir, &last)
                .map_err(|e| Error::io("create directory", &name, e))?;
            if let Some(nd) = self.tree.nodes.get_mut(n) {
                nd.on_disk = true;
            }
        }
        Ok(())
    }

    /// Sets the Linux access and modification times of `node` from `info` (creation and
    /// change time have no Linux counterpart that can be set; they live in the records).
    fn set_times(&mut self, node: usize, info: &FileBasicInfo) -> Result<(), Error> {
        let last = self.disk_last(node);
        let name = self.tree.path_of(node);
        let dir = self
            .dir_cache
            .parent_of(&self.fs, &self.root, &self.tree, node)
            .map_err(|e| Error::io("open directory", &name, e))?;
        self.fs
            .set_times(
                dir,
                &last,
                unix_time(info.last_access_time),
                unix_time(info.last_write_time),
            )
            .map_err(|e| Error::io("set times", &name, e))
    }

    /// Completes the entry being written: checks its stream ended cleanly, creates a
    /// reparse point's object, sets the times and writes its record.
    fn finish_current(&mut self) -> Result<(), Error> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        cur.splitter.finish(&cur.name)?;
        let Current {
            node,
            file,
            name,
            sink,
            ..
        } = cur;
        if let Some(bw) = sink.content {
            let f = bw
                .into_inner()
                .map_err(|e| Error::io("write file data", &name, e.into_error()))?;
            if sink.logical_len > sink.high_water {
                self.fs
                    .set_len(&f, sink.logical_len)
                    .map_err(|e| Error::io("set file length", &name, e))?;
            }
        }
        let info = self.tree.info(file).copied().unwrap_or_default();
        if self.wfile(file)?.disk == Disk::Pending {
            let disk = self.create_reparse_object(node, sink.reparse.as_deref(), &name)?;
            self.wfile(file)?.disk = disk;
            if let Some(n) = self.tree.nodes.get_mut(node) {
                n.on_disk = true;
            }
        }
        if self.wfile(file)?.disk != Disk::Directory {
            self.set_times(node, &info)?;
        }
        let rec = FileRecord {
            n: file as u64,
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
        node: usize,
        reparse: Option<&[u8]>,
        name: &str,
    ) -> Result<Disk, Error> {
        let depth = self.tree.components(node).len().saturating_sub(1);
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
        let dir = self
            .dir_cache
            .parent_of(&self.fs, &self.root, &self.tree, node)
            .map_err(|e| Error::io("open directory", name, e))?;
        match (linux_target, windows_target) {
            (Some(lt), Some(wt)) => {
                self.fs
                    .symlink(&lt, dir, &last)
                    .map_err(|e| Error::io("create symbolic link", name, e))?;
                Ok(Disk::Symlink { windows_target: wt })
            }
            _ => {
                self.fs
                    .create_file(dir, &last)
                    .map_err(|e| Error::io("create file", name, e))?;
                Ok(Disk::File)
            }
        }
    }

    fn add_inner(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.finish_current()?;
        let is_dir = info.file_attributes.is_directory();
        let reparse = info.file_attributes.is_reparse_point();
        let file = self.new_file(*info, Disk::Pending);
        let (node, _) = self.tree.bind(name, file, is_dir)?;
        if self.manifest.kind == LayerKind::Delta && name.key() == "UTILITYVM" {
            self.wants_utility_vm = true;
        }
        let parent = self.tree.node(node).map_or(0, |n| n.parent);
        self.ensure_on_disk(parent)?;
        let on_disk = self.tree.node(node).is_some_and(|n| n.on_disk);
        let entry = name.to_string();
        let mut content = None;
        let disk = if is_dir && (!reparse || on_disk) {
            // A directory reparse point added after entries below it (the model allows it)
            // stays the directory it already is.
            self.ensure_on_disk(node)?;
            self.dirs.push(node);
            Disk::Directory
        } else if reparse {
            Disk::Pending
        } else {
            let last = self.disk_last(node);
            let dir = self
                .dir_cache
                .parent_of(&self.fs, &self.root, &self.tree, node)
                .map_err(|e| Error::io("open directory", &entry, e))?;
            let f = self
                .fs
                .create_file(dir, &last)
                .map_err(|e| Error::io("create file", &entry, e))?;
            content = Some(BufWriter::with_capacity(64 << 10, f));
            if let Some(n) = self.tree.nodes.get_mut(node) {
                n.on_disk = true;
            }
            Disk::File
        };
        let w = self.wfile(file)?;
        w.disk = disk;
        w.names.push(node);
        self.current = Some(Current {
            node,
            file,
            name: entry,
            splitter: Splitter::default(),
            sink: EntrySink {
                file_no: file,
                content,
                content_touched: false,
                high_water: 0,
                logical_len: 0,
                streams: Vec::new(),
                open: None,
                size: ReportedSize::default(),
                reparse: None,
                blobs: 0,
            },
        });
        Ok(())
    }

    fn write_inner(&mut self, buf: &[u8]) -> Result<(), Error> {
        let cur = self.current.as_mut().ok_or(Error::NoEntry)?;
        let mut ctx = SinkCtx {
            fs: &self.fs,
            streams_dir: &self.streams_dir,
            s: &mut cur.sink,
            entry: &cur.name,
        };
        cur.splitter.feed(buf, &cur.name, &mut ctx)
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
        let key = name.key();
        if key.starts_with("UTILITYVM\\FILES\\") {
            self.wants_utility_vm = true;
        }
        self.write_record(&Record::Tomb { path })
    }

    fn add_link_inner(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.finish_current()?;
        let own = self
            .tree
            .lookup(target.components())
            .filter(|&n| self.tree.node(n).is_some_and(|n| n.own))
            .and_then(|n| self.tree.file_of(n));
        match own {
            Some(f) => self.link_in_layer(name, target, f),
            None => {
                let mut parents = std::mem::take(&mut self.parents);
                let r = self.link_to_parent(&mut parents, name, target);
                self.parents = parents;
                r
            }
        }
    }

    fn link_in_layer(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
        f: usize,
    ) -> Result<(), Error> {
        if self
            .tree
            .info(f)
            .is_some_and(|i| i.file_attributes.is_directory())
        {
            return Err(Error::Model(wclayer_layer::Error::LinkTargetDirectory {
                name: name.original().to_string(),
                target: target.original().to_string(),
            }));
        }
        let (node, _) = self.tree.bind(name, f, false)?;
        let parent = self.tree.node(node).map_or(0, |n| n.parent);
        self.ensure_on_disk(parent)?;
        if let Disk::Symlink { windows_target } = self.wfile(f)?.disk.clone() {
            let depth = self.tree.components(node).len().saturating_sub(1);
            if safe_symlink_target(&windows_target, depth).is_none() {
                // The link's target would point elsewhere (possibly out of the layer) from
                // the new name's directory: the whole group becomes a placeholder file.
                self.symlink_group_to_placeholder(f)?;
            }
        }
        let first = self.wfile(f)?.names.first().copied().unwrap_or(0);
        self.link_nodes(first, node, &name.to_string())?;
        self.wfile(f)?.names.push(node);
        if let Some(n) = self.tree.nodes.get_mut(node) {
            n.on_disk = true;
        }
        let path = self.tree.path_of(node);
        self.write_record(&Record::Link {
            path,
            file: f as u64,
            clone: false,
        })
    }

    /// Hard-links the object of node `from` as node `to`, both in this layer.
    fn link_nodes(&mut self, from: usize, to: usize, entry: &str) -> Result<(), Error> {
        let src_comps = disk_components(&self.tree, self.tree.node(from).map_or(0, |n| n.parent));
        let src_last = self.disk_last(from);
        let dst_last = self.disk_last(to);
        let src = open_dir_path(&self.fs, &self.root, &src_comps)
            .map_err(|e| Error::io("open directory", entry, e))?;
        let src_dir = match src {
            DirRef::Owned(d) => d,
            DirRef::Borrowed(d) => self
                .fs
                .try_clone_dir(d)
                .map_err(|e| Error::io("open directory", entry, e))?,
        };
        let dst_dir = self
            .dir_cache
            .parent_of(&self.fs, &self.root, &self.tree, to)
            .map_err(|e| Error::io("open directory", entry, e))?;
        self.fs
            .hard_link(&src_dir, &src_last, dst_dir, &dst_last)
            .map_err(|e| Error::io("hard link", entry, e))
    }

    /// Replaces the symbolic link shared by every name of file `f` with one empty placeholder
    /// file carrying all the names.
    fn symlink_group_to_placeholder(&mut self, f: usize) -> Result<(), Error> {
        let names = self.wfile(f)?.names.clone();
        let tmp = PathBuf::from(format!("relink-{f}"));
        self.fs
            .create_file(&self.streams_dir, &tmp)
            .map_err(|e| Error::io_layer("create placeholder", e))?;
        for &n in &names {
            let last = self.disk_last(n);
            let entry = self.tree.path_of(n);
            let dir = self
                .dir_cache
                .parent_of(&self.fs, &self.root, &self.tree, n)
                .map_err(|e| Error::io("open directory", &entry, e))?;
            self.fs
                .remove_file(dir, &last)
                .and_then(|()| self.fs.hard_link(&self.streams_dir, &tmp, dir, &last))
                .map_err(|e| Error::io("replace symbolic link", &entry, e))?;
        }
        self.fs
            .remove_file(&self.streams_dir, &tmp)
            .map_err(|e| Error::io_layer("remove placeholder", e))?;
        self.wfile(f)?.disk = Disk::File;
        if let (Some(&first), Some(info)) = (names.first(), self.tree.info(f).copied()) {
            self.set_times(first, &info)?;
        }
        Ok(())
    }

    /// A hard link to a file this layer does not hold: found in the first parent that has
    /// it (hcsshim's legacy writer, layer-semantics.md §4.4), its record copied and its
    /// object and stream files linked into this layer.
    fn link_to_parent(
        &mut self,
        parents: &mut [ParentLayer<F>],
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), Error> {
        for (i, p) in parents.iter_mut().enumerate() {
            let ParentParts {
                index: idx,
                root: proot,
                streams: pstreams,
            } = p.parts(&self.fs)?;
            let Some(pnode) = idx.tree.lookup(target.components()) else {
                continue;
            };
            let Some(pf) = idx.tree.merged_file(pnode) else {
                continue;
            };
            if idx
                .tree
                .info(pf)
                .is_some_and(|i| i.file_attributes.is_directory())
            {
                return Err(Error::Model(wclayer_layer::Error::LinkTargetDirectory {
                    name: name.to_string(),
                    target: target.to_string(),
                }));
            }
            let rec = idx.record(pf)?;
            let src = idx.disk_components(pnode);
            let f = self.new_file(rec.info.into(), Disk::File);
            let (node, _) = self.tree.bind(name, f, false)?;
            let parent = self.tree.node(node).map_or(0, |n| n.parent);
            self.ensure_on_disk(parent)?;
            let (disk, copied) = self.import_object(proot, &src, &rec, node, false)?;
            let streams = self.import_blobs(pstreams, &rec, f)?;
            let w = self.wfile(f)?;
            w.disk = disk;
            w.names.push(node);
            if let Some(n) = self.tree.nodes.get_mut(node) {
                n.on_disk = true;
            }
            if copied {
                self.set_times(node, &rec.info.into())?;
            }
            let path = self.tree.path_of(node);
            return self.write_record(&Record::File(FileRecord {
                n: f as u64,
                path,
                info: rec.info,
                data_size: rec.data_size,
                streams,
                clone: false,
                origin: Some(Origin {
                    parent: i,
                    path: rec.path,
                }),
            }));
        }
        Err(Error::Model(wclayer_layer::Error::LinkTargetMissing {
            name: name.original().to_string(),
            target: target.original().to_string(),
        }))
    }

    /// Brings a parent's non-directory object `src` (on-disk components below `proot`) into
    /// this layer as `node`: a hard link, or a copy when `copy` is set, the parent is on
    /// another file system, or a symbolic link would not be safe at the new place. Returns
    /// what it is and whether it was copied (copies need their times set).
    fn import_object(
        &mut self,
        proot: &F::Dir,
        src: &[String],
        rec: &FileRecord,
        node: usize,
        copy: bool,
    ) -> Result<(Disk, bool), Error> {
        let entry = self.tree.path_of(node);
        let io_err = |op| {
            let entry = entry.clone();
            move |e| Error::io(op, entry, e)
        };
        let (last, parents) = src.split_last().ok_or(Error::NoEntry)?;
        let last = Path::new(last);
        let sdir = open_dir_path(&self.fs, proot, parents).map_err(io_err("open parent layer"))?;
        let meta = self
            .fs
            .stat(sdir.get(), last)
            .map_err(io_err("stat parent layer file"))?;
        let dst_last = self.disk_last(node);
        match meta.kind {
            FileKind::Symlink => {
                let depth = self.tree.components(node).len().saturating_sub(1);
                let windows_target = reparse_target(rec);
                let want = windows_target
                    .as_deref()
                    .and_then(|t| safe_symlink_target(t, depth));
                let have = self.fs.read_link(sdir.get(), last).ok();
                let dst = self
                    .dir_cache
                    .parent_of(&self.fs, &self.root, &self.tree, node)
                    .map_err(io_err("open directory"))?;
                match (want, windows_target) {
                    (Some(want), Some(wt)) => {
                        let same = have.as_deref().and_then(|h| h.to_str()) == Some(want.as_str());
                        let linked = !copy
                            && same
                            && try_link(&self.fs, sdir.get(), last, dst, &dst_last)
                                .map_err(io_err("hard link"))?;
                        if !linked {
                            self.fs
                                .symlink(&want, dst, &dst_last)
                                .map_err(io_err("create symbolic link"))?;
                        }
                        Ok((Disk::Symlink { windows_target: wt }, !linked))
                    }
                    _ => {
                        self.fs
                            .create_file(dst, &dst_last)
                            .map_err(io_err("create file"))?;
                        Ok((Disk::File, true))
                    }
                }
            }
            FileKind::File => {
                let dst = self
                    .dir_cache
                    .parent_of(&self.fs, &self.root, &self.tree, node)
                    .map_err(io_err("open directory"))?;
                if !copy
                    && try_link(&self.fs, sdir.get(), last, dst, &dst_last)
                        .map_err(io_err("hard link"))?
                {
                    return Ok((Disk::File, false));
                }
                let mut from = self
                    .fs
                    .open_file(sdir.get(), last)
                    .map_err(io_err("open parent layer file"))?;
                let mut to = self
                    .fs
                    .create_file(dst, &dst_last)
                    .map_err(io_err("create file"))?;
                // Copy only the recorded data ranges, so holes stay holes.
                for s in &rec.streams {
                    if let Body::Content(off) = s.body {
                        copy_range(&mut from, &mut to, off, s.size).map_err(io_err("copy file"))?;
                    }
                }
                self.fs
                    .set_len(&to, meta.size)
                    .map_err(io_err("set file length"))?;
                Ok((Disk::File, true))
            }
            FileKind::Directory | FileKind::Other => Err(Error::io(
                "link parent layer file",
                entry.clone(),
                io::Error::new(io::ErrorKind::InvalidData, "not a file or symbolic link"),
            )),
        }
    }

    /// Links (or copies) a parent record's blob files into this layer under file `f`'s
    /// names; returns the record's streams with the new names.
    fn import_blobs(
        &mut self,
        pstreams: Option<&F::Dir>,
        rec: &FileRecord,
        f: usize,
    ) -> Result<Vec<StreamRecord>, Error> {
        let mut out = Vec::with_capacity(rec.streams.len());
        let mut k = 0u32;
        for s in &rec.streams {
            let mut s = s.clone();
            if let Body::Blob(name) = &s.body {
                if !valid_blob_name(name) {
                    return Err(Error::Metadata {
                        file: ENTRIES_FILE,
                        line: None,
                        reason: format!("parent layer: invalid blob name {name:?}"),
                    });
                }
                let src_dir = pstreams.ok_or_else(|| {
                    Error::io(
                        "open parent layer streams",
                        rec.path.clone(),
                        io::ErrorKind::NotFound.into(),
                    )
                })?;
                let new = format!("{f}.{k}");
                k += 1;
                let linked = try_link(
                    &self.fs,
                    src_dir,
                    Path::new(name),
                    &self.streams_dir,
                    Path::new(&new),
                )
                .map_err(|e| Error::io("hard link stream file", rec.path.clone(), e))?;
                if !linked {
                    let mut from = self
                        .fs
                        .open_file(src_dir, Path::new(name))
                        .map_err(|e| Error::io("open stream file", rec.path.clone(), e))?;
                    let mut to = self
                        .fs
                        .create_file(&self.streams_dir, Path::new(&new))
                        .map_err(|e| Error::io("create stream file", rec.path.clone(), e))?;
                    io::copy(&mut from, &mut to)
                        .map_err(|e| Error::io("copy stream file", rec.path.clone(), e))?;
                }
                s.body = Body::Blob(new);
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Clones the nearest parent's `UtilityVM\Files` into this layer (hcsshim's `cloneTree`,
    /// layer-semantics.md §4.6): every name the layer neither adds nor removes; directories
    /// created, other objects hard-linked, the BCD files copied. Clone records are marked
    /// so that the reader does not walk them.
    fn clone_utility_vm(&mut self, p: &mut ParentLayer<F>) -> Result<(), Error> {
        let Some(uvm) = self.tree.lookup(["UtilityVM"]) else {
            return Ok(());
        };
        if let Some(f) = self.tree.file_of(uvm)
            && !self.is_plain_directory(f)
        {
            return Ok(());
        }
        let ParentParts {
            index: idx,
            root: proot,
            streams: pstreams,
        } = p.parts(&self.fs)?;
        let Some(src_files) = idx.tree.lookup(["UtilityVM", "Files"]) else {
            return Ok(());
        };
        self.ensure_on_disk(uvm)?;
        let mut work = vec![(src_files, uvm)];
        let mut clone_dirs: Vec<(usize, FileBasicInfo)> = Vec::new();
        // Parent file number -> our file number, so that hard-link groups stay groups.
        let mut groups: HashMap<usize, usize> = HashMap::new();
        while let Some((s, our_parent)) = work.pop() {
            let Some(snode) = idx.tree.node(s) else {
                continue;
            };
            let sname = snode.name.clone();
            let key = upcase_key(&sname);
            let removed = self
                .tree
                .node(our_parent)
                .is_some_and(|n| n.tombstones.iter().any(|t| upcase_key(t) == key));
            if removed {
                continue;
            }
            let src = idx.disk_components(s);
            let (last, parents) = src.split_last().ok_or(Error::NoEntry)?;
            let sdir = open_dir_path(&self.fs, proot, parents)
                .map_err(|e| Error::io("open parent layer", idx.tree.path_of(s), e))?;
            let meta = match self.fs.stat(sdir.get(), Path::new(last)) {
                Ok(m) => m,
                // A parent's implicit directory holding only tombstones has no object.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("stat parent layer file", idx.tree.path_of(s), e)),
            };
            drop(sdir);
            let sfile = idx.tree.merged_file(s);
            let mut children: Vec<(&str, usize)> = snode
                .children
                .values()
                .filter_map(|&c| idx.tree.node(c).map(|n| (n.name.as_str(), c)))
                .collect();
            children.sort_unstable();
            let children: Vec<usize> = children.into_iter().rev().map(|(_, c)| c).collect();
            let is_dir = meta.kind == FileKind::Directory;
            match self.tree.child(our_parent, &sname) {
                Some(o) => {
                    let Some((own, kind, has_clone)) = self
                        .tree
                        .node(o)
                        .map(|n| (n.own, n.kind, n.clone.is_some()))
                    else {
                        continue;
                    };
                    let mergeable = is_dir
                        && own
                        && match kind {
                            // Never below an own reparse point: the model forbids
                            // entries there, clone entries included.
                            Kind::Added(f) => self.is_plain_directory(f),
                            Kind::Implicit => true,
                        };
                    if !mergeable {
                        continue;
                    }
                    if kind == Kind::Implicit
                        && !has_clone
                        && let Some(sf) = sfile
                    {
                        let rec = idx.record(sf)?;
                        let f = self.new_file(rec.info.into(), Disk::Directory);
                        if let Some(n) = self.tree.nodes.get_mut(o) {
                            n.clone = Some(f);
                        }
                        self.wfile(f)?.names.push(o);
                        let streams = self.import_blobs(pstreams, &rec, f)?;
                        self.write_clone_record(o, f, &rec, streams)?;
                        clone_dirs.push((o, rec.info.into()));
                    }
                    self.ensure_on_disk(o)?;
                    work.extend(children.into_iter().map(|c| (c, o)));
                }
                None => {
                    let path = LayerPath::parse(&match self.tree.path_of(our_parent) {
                        d if d.is_empty() => sname.clone(),
                        d => format!("{d}\\{sname}"),
                    })
                    .map_err(wclayer_layer::Error::from)
                    .map_err(|e| {
                        Error::io("clone utility VM", sname.clone(), io::Error::other(e))
                    })?;
                    if is_dir {
                        let node = match sfile {
                            Some(sf) => {
                                let rec = idx.record(sf)?;
                                let f = self.new_file(rec.info.into(), Disk::Directory);
                                let node = self.tree.bind_clone(&path, f)?;
                                self.wfile(f)?.names.push(node);
                                self.ensure_on_disk(node)?;
                                let streams = self.import_blobs(pstreams, &rec, f)?;
                                self.write_clone_record(node, f, &rec, streams)?;
                                clone_dirs.push((node, rec.info.into()));
                                node
                            }
                            None => {
                                let dir = self.tree.parent_dir(
                                    &path.join("x").map_err(|e| {
                                        Error::io(
                                            "clone utility VM",
                                            sname.clone(),
                                            io::Error::other(e),
                                        )
                                    })?,
                                    false,
                                )?;
                                self.ensure_on_disk(dir)?;
                                dir
                            }
                        };
                        work.extend(children.into_iter().map(|c| (c, node)));
                        continue;
                    }
                    let Some(sf) = sfile else {
                        // An object without a record is no part of the parent layer.
                        continue;
                    };
                    let bcd = BCD_FILES.contains(&path.key().as_str());
                    if !bcd && let Some(&f) = groups.get(&sf) {
                        let node = self.tree.bind_clone(&path, f)?;
                        let first = self.wfile(f)?.names.first().copied().unwrap_or(0);
                        self.link_nodes(first, node, path.as_str())?;
                        self.wfile(f)?.names.push(node);
                        if let Some(n) = self.tree.nodes.get_mut(node) {
                            n.on_disk = true;
                        }
                        self.write_record(&Record::Link {
                            path: path.to_string(),
                            file: f as u64,
                            clone: true,
                        })?;
                        continue;
                    }
                    let rec = idx.record(sf)?;
                    let f = self.new_file(rec.info.into(), Disk::File);
                    let node = self.tree.bind_clone(&path, f)?;
                    let (disk, copied) = self.import_object(proot, &src, &rec, node, bcd)?;
                    let streams = self.import_blobs(pstreams, &rec, f)?;
                    let w = self.wfile(f)?;
                    w.disk = disk;
                    w.names.push(node);
                    if let Some(n) = self.tree.nodes.get_mut(node) {
                        n.on_disk = true;
                    }
                    if copied {
                        self.set_times(node, &rec.info.into())?;
                    }
                    self.write_clone_record(node, f, &rec, streams)?;
                    if !bcd {
                        groups.insert(sf, f);
                    }
                }
            }
        }
        for (node, info) in clone_dirs.iter().rev() {
            self.set_times(*node, info)?;
        }
        self.manifest.utility_vm_cloned = true;
        Ok(())
    }

    /// Whether file `f` is a directory on disk and no reparse point.
    fn is_plain_directory(&self, f: usize) -> bool {
        self.files.get(f).is_some_and(|w| w.disk == Disk::Directory)
            && self
                .tree
                .info(f)
                .is_some_and(|i| !i.file_attributes.is_reparse_point())
    }

    fn write_clone_record(
        &mut self,
        node: usize,
        f: usize,
        rec: &FileRecord,
        streams: Vec<StreamRecord>,
    ) -> Result<(), Error> {
        let path = self.tree.path_of(node);
        self.write_record(&Record::File(FileRecord {
            n: f as u64,
            path,
            info: rec.info,
            data_size: rec.data_size,
            streams,
            clone: true,
            origin: None,
        }))
    }
}

/// The Windows target of a record's reparse point, when it is a relative symbolic link.
fn reparse_target(rec: &FileRecord) -> Option<String> {
    let s = rec
        .streams
        .iter()
        .find(|s| StreamId(s.id) == StreamId::REPARSE_DATA)?;
    let Body::Inline(buf) = &s.body else {
        return None;
    };
    match ReparsePoint::decode(buf).ok()? {
        ReparsePoint::Symlink {
            target,
            relative: true,
        } => Some(target),
        _ => None,
    }
}

/// Hard-links `src` as `dst`; `Ok(false)` when they are on different file systems (EXDEV),
/// so the caller copies instead.
fn try_link<F: Fs>(
    fs: &F,
    src_dir: &F::Dir,
    src: &Path,
    dst_dir: &F::Dir,
    dst: &Path,
) -> io::Result<bool> {
    match fs.hard_link(src_dir, src, dst_dir, dst) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies `len` bytes at `off` from `from` to the same offset of `to`.
fn copy_range<R: Read + Seek, W: Write + Seek>(
    from: &mut R,
    to: &mut W,
    off: u64,
    len: u64,
) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    from.seek(SeekFrom::Start(off))?;
    to.seek(SeekFrom::Start(off))?;
    let n = io::copy(&mut from.take(len), to)?;
    if n != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "parent layer file shorter than its record",
        ));
    }
    Ok(())
}

/// A FILETIME as Unix seconds and nanoseconds for `utimensat`; `None` for 0, which Windows
/// treats as "leave unchanged" when setting times.
pub(crate) fn unix_time(t: FileTime) -> Option<(i64, u32)> {
    const EPOCH: i128 = 116_444_736_000_000_000;
    if t.0 == 0 {
        return None;
    }
    let ticks = i128::from(t.0) - EPOCH;
    let secs = i64::try_from(ticks.div_euclid(10_000_000)).ok()?;
    let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).ok()?;
    Some((secs, nanos))
}

/// Checks that a layer directory name is one normal component.
pub(crate) fn check_layer_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "empty"
    } else if name == "." || name == ".." {
        "not a normal name"
    } else if name.contains(['/', '\0']) {
        "contains `/` or NUL"
    } else if name.len() > MAX_LAYER_NAME {
        "longer than 220 bytes"
    } else {
        return Ok(());
    };
    Err(Error::InvalidLayerName {
        name: name.to_owned(),
        reason,
    })
}

/// 16 hex digits that differ between processes, calls and attempts (std's randomly keyed
/// hasher; the staging name needs uniqueness, not secrecy: it is created exclusively).
fn random_suffix(attempt: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u32(attempt);
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("{:016x}", h.finish())
}

impl<F: Fs> LayerWriter for DirLayerWriter<F> {
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

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        Ok(self.run(Self::close_inner)?)
    }
}

impl<F: Fs> Write for DirLayerWriter<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.run(|w| w.write_inner(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: Fs> Drop for DirLayerWriter<F> {
    fn drop(&mut self) {
        if self.state != State::Closed {
            self.discard();
        }
    }
}

impl<F: Fs> std::fmt::Debug for DirLayerWriter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLayerWriter")
            .field("target", &self.target)
            .field("staging", &self.staging)
            .field("kind", &self.manifest.kind)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_conversion() {
        assert_eq!(unix_time(FileTime(0)), None);
        assert_eq!(unix_time(FileTime::UNIX_EPOCH), Some((0, 0)));
        assert_eq!(
            unix_time(FileTime(FileTime::UNIX_EPOCH.0 + 10_000_001)),
            Some((1, 100))
        );
        assert_eq!(
            unix_time(FileTime(FileTime::UNIX_EPOCH.0 - 1)),
            Some((-1, 999_999_900))
        );
        assert!(unix_time(FileTime(u64::MAX)).is_some());
    }

    #[test]
    fn reported_size_follows_the_model() {
        let h = |id: u32, attributes: u32, size: u64, offset: i64| RawHeader {
            id,
            attributes,
            size,
            name_raw: Vec::new(),
            offset,
        };
        let run = |hs: &[RawHeader]| {
            let mut r = ReportedSize::default();
            for x in hs {
                r.header(
                    StreamId(x.id),
                    StreamAttributes(x.attributes),
                    x.size,
                    x.offset,
                );
            }
            r.value()
        };
        assert_eq!(run(&[h(3, 0, 20, 0), h(1, 0, 5, 0), h(1, 0, 9, 0)]), 5);
        assert_eq!(run(&[h(1, 8, 0, 0), h(9, 8, 4, 0), h(9, 8, 0, 4096)]), 4096);
        assert_eq!(run(&[h(1, 8, 0, 0), h(4, 0, 1, 0), h(9, 8, 0, 4096)]), 0);
        assert_eq!(run(&[h(1, 8, 0, 0), h(9, 8, 4, 0)]), 0);
        assert_eq!(run(&[h(1, 0, 0, 0)]), 0);
        assert_eq!(run(&[h(2, 0, 3, 0)]), 0);
    }

    #[test]
    fn layer_names() {
        assert!(check_layer_name("layer1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b", &"x".repeat(221)] {
            assert!(check_layer_name(bad).is_err(), "{bad:?}");
        }
    }
}

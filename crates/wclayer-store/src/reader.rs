//! [`DirLayerReader`]: walks a layer directory as the reference layer model does.

use std::io::{self, Read, SeekFrom};

use std::path::Path;
use wclayer_layer::ReadAt as _;

use wclayer_backup::{FileBasicInfo, FileIdInfo, RawHeader, StreamAttributes, StreamId};
use wclayer_fs::{AmbientAuthority, Dir, DirCache};
use wclayer_layer::{
    Entry, FileNo, LayerPath, LayerReader, Limits, LinkInfo, NodeId, Visit, Walk, WalkMode,
};

use crate::Error;
use crate::format::{INLINE_MAX, SIDECAR_DIR, STREAMS_DIR};
use crate::index::{LayerIndex, disk_name};
use crate::meta::{Body, FileRecord, LayerKind};
use crate::names::valid_blob_name;

/// What a layer directory is, from its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerInfo {
    /// Base layer (base walk) or delta layer (delta walk).
    pub kind: LayerKind,
    /// The parents it was imported over, nearest first, as they were named then.
    pub parents: Vec<String>,
    /// The format version it was written with.
    pub version: u32,
    /// Files and directories (a hard-link group counts once), clone records included.
    pub files: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// Whether the utility VM was cloned from the nearest parent.
    pub utility_vm_cloned: bool,
}

/// Where a stream body is stored (see [`crate::format`](mod@crate::format)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyLocation {
    /// In the entry's own on-disk file, at this offset.
    Content {
        /// Offset in the file.
        offset: u64,
    },
    /// In the sidecar file `.wclayer/streams/<name>`.
    Blob {
        /// The file name.
        name: String,
    },
    /// In the record.
    Inline,
}

/// One sub-stream of an entry's backup stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// `dwStreamId`.
    pub id: StreamId,
    /// `dwStreamAttributes`.
    pub attributes: StreamAttributes,
    /// The decoded stream name (`:name:$DATA` for an alternate data stream).
    pub name: String,
    /// Body length (for a sparse block, without its offset).
    pub size: u64,
    /// A sparse block's file offset.
    pub offset: Option<i64>,
    /// Where the body is stored.
    pub location: BodyLocation,
}

/// Everything the layer directory knows about the current entry, for listings
/// (`wclayer ls`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryDetails {
    /// The entry's name.
    pub name: LayerPath,
    /// Times and attributes.
    pub info: FileBasicInfo,
    /// The size the reader reports (docs/layer-semantics.md §6.3).
    pub size: u64,
    /// The backup sub-streams, in order.
    pub streams: Vec<StreamInfo>,
    /// The security descriptor (self-relative), if the entry has one.
    pub security_descriptor: Option<Vec<u8>>,
    /// The raw `FILE_FULL_EA_INFORMATION` chain, if the entry has EAs.
    pub extended_attributes: Option<Vec<u8>>,
    /// The names of the EAs (lossy UTF-8); empty when the chain does not decode.
    pub ea_names: Vec<String>,
    /// Alternate data streams: bare name (`zone` for `:zone:$DATA`) and size.
    pub alternate_streams: Vec<(String, u64)>,
    /// The raw `REPARSE_DATA_BUFFER`, if the entry has one (decode it with
    /// [`wclayer_backup::reparse::ReparsePoint::decode`]).
    pub reparse_buffer: Option<Vec<u8>>,
    /// The target of a symbolic link or mount point, decoded from the reparse buffer.
    pub link_target: Option<String>,
    /// Every name of this file in the layer (more than one for a hard-link group), in the
    /// order they were added.
    pub names: Vec<LayerPath>,
    /// For a hard link into a parent layer: the parent's index and the name there.
    pub parent_link: Option<(usize, String)>,
    /// The entry's path in the layer directory, `/`-separated.
    pub disk_path: String,
}

/// A piece of the replayed stream.
#[derive(Debug)]
enum Source {
    Bytes(Vec<u8>),
    Content(u64),
    Blob(String),
}

#[derive(Debug)]
struct Segment {
    start: u64,
    len: u64,
    src: Source,
}

/// The current entry.
struct Current {
    node: NodeId,
    file: FileNo,
    name: LayerPath,
    info: FileBasicInfo,
    size: u64,
    /// Built on the first read or seek.
    segments: Option<Vec<Segment>>,
    total: u64,
    pos: u64,
    /// The open body file: `None` key = the content file, `Some(name)` = a blob.
    open: Option<(Option<String>, std::fs::File)>,
}

/// Reads a layer directory written by [`crate::DirLayerWriter`], in the order and with the
/// bytes of the reference layer model ([`wclayer_layer::MemLayer`]'s reader):
///
/// - base layers (imported with no parents) walk `Files` and, when `UtilityVM\Files`
///   exists, `UtilityVM`, `UtilityVM\Files` and its subtree; delta layers walk everything,
///   each directory's tombstones right after it (docs/layer-semantics.md §0.2);
/// - per directory in bytewise order of the real UTF-8 names; `Files\$Recycle.Bin` is
///   skipped;
/// - each entry's backup stream is replayed from the record (headers rebuilt byte for byte,
///   bodies from the content file, blobs and inline data), and is seekable
///   ([`LayerReader::seek_stream`]), so tar exports take the two-pass path;
/// - [`LayerReader::link_info`] reports the on-disk object's link count (`st_nlink`; 1 for
///   directories) and identity (`st_dev`, `st_ino`), as hcsshim reports NTFS's.
///
/// Entries of the utility-VM clone are not part of the layer and are not walked.
///
/// # Security
/// Every file is opened relative to the layer directory's handle without following symbolic
/// links, so a layer directory modified by someone else can make reads fail but cannot make
/// the reader read outside it. Names and blob names from the metadata are validated first.
///
/// # Drop behaviour
/// Dropping the reader closes its handles; nothing on disk changes.
pub struct DirLayerReader {
    root: Dir,
    streams_dir: Option<Dir>,
    index: LayerIndex,
    walk: Walk,
    current: Option<Current>,
    /// The directories of the entries last opened.
    dirs: DirCache,
    closed: bool,
}

/// Lifecycle
impl DirLayerReader {
    /// Opens the layer directory `name` in the directory `parent_dir`.
    ///
    /// # Security
    /// `name` must be a single component; it is opened without following symbolic links.
    ///
    /// # Errors
    /// When the directory cannot be opened or its metadata is missing, corrupt or of a newer
    /// format.
    pub fn open(parent_dir: &Dir, name: &str) -> Result<Self, Error> {
        crate::writer::check_layer_name(name)?;
        let root = parent_dir
            .open_dir(name)
            .map_err(|e| Error::io("open layer directory", name, e))?;
        Self::from_root(root)
    }

    /// Opens the layer directory at `path`.
    ///
    /// # Security
    /// Uses ambient authority: `path` is resolved as the process sees it, following symbolic
    /// links in it. Everything inside the layer directory is then opened relative to it
    /// without following links. Meant for paths the user gave (the CLI).
    ///
    /// # Errors
    /// As [`DirLayerReader::open`].
    pub fn open_ambient(path: &Path, authority: AmbientAuthority) -> Result<Self, Error> {
        let root = Dir::open_ambient_dir(path, authority)
            .map_err(|e| Error::io("open layer directory", path.display().to_string(), e))?;
        Self::from_root(root)
    }

    /// Reads the layer directory open at `root`.
    ///
    /// # Errors
    /// When its metadata is missing, corrupt or of a newer format, or a base layer has no
    /// `Files` ([`wclayer_layer::Error::NoFiles`] in [`Error::Model`]).
    pub fn from_root(root: Dir) -> Result<Self, Error> {
        Self::from_root_limited(root, &Limits::default())
    }

    /// [`DirLayerReader::from_root`] with the given [`Limits`] on what its records may
    /// claim instead of the defaults.
    ///
    /// # Errors
    /// As [`DirLayerReader::from_root`], and [`wclayer_layer::Error::Limit`] (in
    /// [`Error::Model`]).
    pub fn from_root_limited(root: Dir, limits: &Limits) -> Result<Self, Error> {
        let index = LayerIndex::load(&root, limits)?;
        let streams_dir = root.open_dir(Path::new(SIDECAR_DIR).join(STREAMS_DIR)).ok();
        let mut r = DirLayerReader {
            root,
            streams_dir,
            index,
            walk: Walk::finished(),
            current: None,
            dirs: DirCache::new(wclayer_fs::names::disk_name),
            closed: false,
        };
        r.rewind()?;
        Ok(r)
    }

    /// Starts the walk again from the first entry.
    ///
    /// # Errors
    /// [`wclayer_layer::Error::NoFiles`] for a base layer without `Files`.
    pub fn rewind(&mut self) -> Result<(), Error> {
        self.current = None;
        let mode = match self.index.manifest.kind {
            LayerKind::Base => WalkMode::Base,
            LayerKind::Delta => WalkMode::Delta,
        };
        self.walk = self.index.tree.walk(mode)?;
        Ok(())
    }

    /// What the layer directory is.
    #[must_use]
    pub fn layer_info(&self) -> LayerInfo {
        let m = &self.index.manifest;
        LayerInfo {
            kind: m.kind,
            parents: m.parents.clone(),
            version: m.version,
            files: m.files,
            tombstones: m.tombstones,
            utility_vm_cloned: m.utility_vm_cloned,
        }
    }
}

/// Entries
impl DirLayerReader {
    /// Makes the layer's own entry `name` (compared case-insensitively, as the layer model
    /// names are) the current entry, as if the walk had reached it: its backup stream,
    /// [`LayerReader::link_info`] and [`DirLayerReader::details`] follow. The walk itself does
    /// not move: the next [`LayerReader::next`] continues where it was. `Ok(None)` when the
    /// layer has no such entry (a tombstone, an implicit directory and a name of the
    /// utility-VM clone are no entries).
    ///
    /// # Errors
    /// [`wclayer_layer::Error::Closed`] after [`LayerReader::close`].
    pub fn open_entry(&mut self, name: &LayerPath) -> Result<Option<Entry>, Error> {
        if self.closed {
            return Err(Error::Model(wclayer_layer::Error::Closed));
        }
        self.current = None;
        let tree = &self.index.tree;
        let Some((node, file)) = tree.find_entry(name) else {
            return Ok(None);
        };
        let name = LayerPath::parse(&tree.path_of(node)).map_err(wclayer_layer::Error::from)?;
        Ok(Some(self.make_current(node, file, name)))
    }

    /// Makes `file` (at `node`, named `name`) the current entry, its stream not yet opened.
    fn make_current(&mut self, node: NodeId, file: FileNo, name: LayerPath) -> Entry {
        let info = *self.index.tree.info(file);
        let size = if info.file_attributes.is_directory() {
            0
        } else {
            self.index.tree.file(file).data_size
        };
        self.current = Some(Current {
            node,
            file,
            name: name.clone(),
            info,
            size,
            segments: None,
            total: 0,
            pos: 0,
            open: None,
        });
        Entry::File { name, size, info }
    }

    /// The current entry's file in the layer: the names of one hard-link group share it.
    /// `None` when there is no current file entry.
    #[must_use]
    pub fn current_file(&self) -> Option<FileNo> {
        self.current.as_ref().map(|c| c.file)
    }

    /// Everything the layer directory records about the current entry.
    ///
    /// # Errors
    /// [`wclayer_layer::Error::NoEntry`] when there is no current file entry; errors reading
    /// its record or a blob.
    pub fn details(&mut self) -> Result<EntryDetails, Error> {
        let (node, file, name, info, size) = {
            let c = self
                .current
                .as_ref()
                .ok_or(Error::Model(wclayer_layer::Error::NoEntry))?;
            (c.node, c.file, c.name.clone(), c.info, c.size)
        };
        let rec = self.index.record(file)?;
        let mut d = EntryDetails {
            name,
            info,
            size,
            streams: Vec::new(),
            security_descriptor: None,
            extended_attributes: None,
            ea_names: Vec::new(),
            alternate_streams: Vec::new(),
            reparse_buffer: None,
            link_target: None,
            names: Vec::new(),
            parent_link: rec.origin.as_ref().map(|o| (o.parent, o.path.clone())),
            disk_path: self.index.disk_components(node).join("/"),
        };
        for s in &rec.streams {
            let location = match &s.body {
                Body::Content(offset) => BodyLocation::Content { offset: *offset },
                Body::Blob(name) => BodyLocation::Blob { name: name.clone() },
                Body::Inline(_) => BodyLocation::Inline,
            };
            d.streams.push(StreamInfo {
                id: StreamId(s.id),
                attributes: StreamAttributes(s.attributes),
                name: s.name.clone(),
                size: s.size,
                offset: s.offset,
                location,
            });
            let id = StreamId(s.id);
            if id == StreamId::ALTERNATE_DATA {
                let bare = s
                    .name
                    .strip_prefix(':')
                    .and_then(|n| n.strip_suffix(":$DATA"))
                    .unwrap_or(&s.name);
                d.alternate_streams.push((bare.to_owned(), s.size));
                continue;
            }
            let slot = match id {
                StreamId::SECURITY_DATA => &mut d.security_descriptor,
                StreamId::EA_DATA => &mut d.extended_attributes,
                StreamId::REPARSE_DATA => &mut d.reparse_buffer,
                _ => continue,
            };
            if slot.is_none() {
                *slot = self.small_body(&s.body, s.size, &rec.path)?;
            }
        }
        if let Some(eas) = &d.extended_attributes
            && let Ok(list) = wclayer_backup::ea::decode(eas)
        {
            d.ea_names = list
                .iter()
                .map(|ea| String::from_utf8_lossy(&ea.name).into_owned())
                .collect();
        }
        d.link_target = d
            .reparse_buffer
            .as_deref()
            .and_then(|b| wclayer_backup::reparse::ReparsePoint::decode(b).ok())
            .and_then(|rp| rp.target().map(str::to_owned));
        let tree = &self.index.tree;
        for n in tree.names_of(file) {
            if !tree.is_inherited(n)
                && let Ok(p) = LayerPath::parse(&tree.path_of(n))
            {
                d.names.push(p);
            }
        }
        Ok(d)
    }

    /// The body of a small stream (security descriptor, EAs, reparse buffer).
    fn small_body(
        &mut self,
        body: &Body,
        size: u64,
        entry: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        match body {
            Body::Inline(b) => Ok(Some(b.clone())),
            Body::Blob(name) if size <= 16 * INLINE_MAX => {
                let mut f = self.open_blob(name, entry)?;
                let mut out = Vec::new();
                (&mut f)
                    .take(size)
                    .read_to_end(&mut out)
                    .map_err(|e| Error::io("read stream body", entry, e))?;
                Ok(Some(out))
            }
            _ => Ok(None),
        }
    }

    /// Opens the stream file `name` of the entry `entry` (errors name the entry).
    fn open_blob(&self, name: &str, entry: &str) -> Result<std::fs::File, Error> {
        if !valid_blob_name(name) {
            return Err(Error::Metadata {
                file: crate::format::ENTRIES_FILE,
                line: None,
                reason: format!("{entry}: invalid blob name {name:?}"),
            });
        }
        let dir = self.streams_dir.as_ref().ok_or_else(|| {
            Error::io_layer(
                "open .wclayer/streams",
                io::Error::from(io::ErrorKind::NotFound),
            )
        })?;
        dir.open_file(name)
            .map_err(|e| Error::io("open stream body", entry, e))
    }

    fn build_segments(&mut self) -> Result<(), Error> {
        let Some(file) = self.current.as_ref().map(|c| c.file) else {
            return Ok(());
        };
        let rec: FileRecord = self.index.record(file)?;
        let line = u64::from(self.index.tree.file(file).line);
        // The stream sizes come from the record: their sum is checked, so that every
        // segment's `start + len` fits in a `u64` (which `read_current` relies on).
        let too_long = || Error::record(line, "backup stream longer than 2^64 bytes");
        let mut segs = Vec::with_capacity(rec.streams.len().saturating_mul(2));
        let mut pos = 0u64;
        for s in &rec.streams {
            let header = RawHeader::encode(
                StreamId(s.id),
                StreamAttributes(s.attributes),
                s.size,
                &s.name_bytes(),
                s.offset.unwrap_or(0),
            );
            let hlen = header.len() as u64;
            segs.push(Segment {
                start: pos,
                len: hlen,
                src: Source::Bytes(header),
            });
            pos = pos.checked_add(hlen).ok_or_else(too_long)?;
            if s.size == 0 {
                continue;
            }
            let src = match &s.body {
                Body::Inline(b) => {
                    if b.len() as u64 != s.size {
                        return Err(Error::Metadata {
                            file: crate::format::ENTRIES_FILE,
                            line: Some(line),
                            reason: "inline body length differs from the stream size".into(),
                        });
                    }
                    Source::Bytes(b.clone())
                }
                Body::Content(off) => {
                    if off.checked_add(s.size).is_none() {
                        return Err(Error::record(line, "stream body ends past 2^64 bytes"));
                    }
                    Source::Content(*off)
                }
                Body::Blob(name) => Source::Blob(name.clone()),
            };
            segs.push(Segment {
                start: pos,
                len: s.size,
                src,
            });
            pos = pos.checked_add(s.size).ok_or_else(too_long)?;
        }
        if let Some(c) = self.current.as_mut() {
            c.segments = Some(segs);
            c.total = pos;
        }
        Ok(())
    }

    fn read_current(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.current.as_ref().is_some_and(|c| c.segments.is_none()) {
            self.build_segments()?;
        }
        let Some(c) = self.current.as_ref() else {
            return Ok(0);
        };
        let Some(segs) = c.segments.as_ref() else {
            return Ok(0);
        };
        // The segments lie back to back from 0, their total and every content body's end
        // fit in a `u64` (`build_segments`), so the saturating operations below are exact.
        let pos = c.pos;
        let idx = segs.partition_point(|s| s.start.saturating_add(s.len) <= pos);
        let Some(seg) = segs.get(idx) else {
            return Ok(0);
        };
        let within = pos.saturating_sub(seg.start);
        let want = usize::try_from(seg.len.saturating_sub(within))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let out = buf.get_mut(..want).unwrap_or_default();
        let name = c.name.to_string();
        let n = match &seg.src {
            Source::Bytes(b) => {
                let from = usize::try_from(within).unwrap_or(usize::MAX);
                let src = b.get(from..from.saturating_add(want)).unwrap_or_default();
                let n = src.len();
                out.get_mut(..n).unwrap_or_default().copy_from_slice(src);
                n
            }
            Source::Content(off) => {
                let at = off.saturating_add(within);
                self.read_body(None, at, out, &name)?
            }
            Source::Blob(blob) => {
                let key = Some(blob.clone());
                self.read_body(key, within, out, &name)?
            }
        };
        if let Some(c) = self.current.as_mut() {
            c.pos = c.pos.saturating_add(n as u64);
        }
        Ok(n)
    }

    /// Reads body bytes at `at` from the content file (`key == None`) or a blob.
    fn read_body(
        &mut self,
        key: Option<String>,
        at: u64,
        buf: &mut [u8],
        entry: &str,
    ) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let reopen = self
            .current
            .as_ref()
            .is_some_and(|c| c.open.as_ref().is_none_or(|(k, _)| *k != key));
        if reopen {
            let file = match &key {
                Some(blob) => self.open_blob(blob, entry)?,
                None => {
                    let node = self.current.as_ref().map_or(NodeId::ROOT, |c| c.node);
                    let tree = &self.index.tree;
                    let last = disk_name(tree.name(node)).into_owned();
                    let parent = tree.parent(node).unwrap_or(NodeId::ROOT);
                    let dir = self
                        .dirs
                        .get(&self.root, tree, parent)
                        .map_err(|e| Error::io("open directory", entry, e))?;
                    dir.open_file(&last)
                        .map_err(|e| Error::io("open content file", entry, e))?
                }
            };
            if let Some(c) = self.current.as_mut() {
                c.open = Some((key, file));
            }
        }
        let Some((_, file)) = self.current.as_mut().and_then(|c| c.open.as_mut()) else {
            return Ok(0);
        };
        let n = loop {
            match file.read_at(buf, at) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read stream body", entry, e)),
            }
        };
        if n == 0 {
            // The metadata promises these bytes; a shorter file was changed after import.
            return Err(Error::io(
                "read stream body",
                entry,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shorter than its recorded stream",
                ),
            ));
        }
        Ok(n)
    }
}

impl LayerReader for DirLayerReader {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        if self.closed {
            return Err(wclayer_layer::Error::Closed);
        }
        self.current = None;
        let tree = &self.index.tree;
        match self.walk.next(tree) {
            None => Ok(None),
            Some(Visit::Tombstone) => Ok(Some(Entry::Tombstone {
                name: LayerPath::parse(self.walk.path())?,
            })),
            Some(Visit::Entry { node, file }) => {
                let name = LayerPath::parse(self.walk.path())?;
                Ok(Some(self.make_current(node, file, name)))
            }
        }
    }

    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        let (node, name) = match &self.current {
            Some(c) => (c.node, c.name.to_string()),
            None => return Err(wclayer_layer::Error::NoEntry),
        };
        let tree = &self.index.tree;
        let last = disk_name(tree.name(node)).into_owned();
        let parent = tree.parent(node).unwrap_or(NodeId::ROOT);
        let dir = self
            .dirs
            .get(&self.root, tree, parent)
            .map_err(|e| Error::io("open directory", &name, e))?;
        let meta = dir
            .metadata(&last)
            .map_err(|e| Error::io("stat", &name, e))?;
        let mut file_id = [0u8; 16];
        file_id[..8].copy_from_slice(&meta.ino.to_le_bytes());
        file_id[8..].copy_from_slice(&meta.dev.to_le_bytes());
        Ok(LinkInfo {
            number_of_links: if meta.is_dir() {
                1
            } else {
                u32::try_from(meta.nlink).unwrap_or(u32::MAX)
            },
            file_id: FileIdInfo {
                volume_serial_number: meta.dev,
                file_id,
            },
        })
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        Ok(self.read_current(buf)?)
    }

    fn can_seek_stream(&self) -> bool {
        true
    }

    fn seek_stream(&mut self, pos: SeekFrom) -> Result<u64, wclayer_layer::Error> {
        if self.current.as_ref().is_some_and(|c| c.segments.is_none()) {
            self.build_segments()?;
        }
        let Some(c) = self.current.as_mut() else {
            return Err(wclayer_layer::Error::NoEntry);
        };
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => c.pos.checked_add_signed(d),
            SeekFrom::End(d) => c.total.checked_add_signed(d),
        };
        c.pos = target.ok_or_else(|| {
            wclayer_layer::Error::from(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ))
        })?;
        Ok(c.pos)
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.closed = true;
        self.current = None;
        self.walk = Walk::finished();
        self.dirs.clear();
        Ok(())
    }
}

impl Read for DirLayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_current(buf)?)
    }
}

impl std::fmt::Debug for DirLayerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLayerReader")
            .field("kind", &self.index.manifest.kind)
            .field("files", &self.index.tree.file_count())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

//! Parent layers of a delta layer: [`ParentLayer`], hard links into them, and bringing their
//! objects into the new layer (hard-linked, or copied across file systems).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use wclayer_backup::StreamId;
use wclayer_backup::reparse::ReparsePoint;
use wclayer_fs::{AmbientAuthority, Dir, FileType};
use wclayer_layer::{FileNo, LayerPath, Limits, NodeId};

use super::{DirLayerWriter, Disk};
use crate::Error;
use crate::format::{ENTRIES_FILE, SIDECAR_DIR, STREAMS_DIR};
use crate::index::{LayerIndex, read_manifest};
use crate::meta::{Body, FileRecord, Origin, Record, StreamRecord};
use crate::names::{safe_symlink_target, valid_blob_name};

/// A parent layer directory of a delta layer: where hard links to files the layer does not
/// add are found, and (the nearest parent) where the utility VM is cloned from.
///
/// # Drop behaviour
/// Dropping it closes its handles.
pub struct ParentLayer {
    root: Dir,
    label: String,
    streams: Option<Dir>,
    index: Option<LayerIndex>,
}

impl std::fmt::Debug for ParentLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentLayer")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Separate borrows of a loaded parent layer.
pub(super) struct ParentParts<'a> {
    pub(super) index: &'a mut LayerIndex,
    pub(super) root: &'a Dir,
    pub(super) streams: Option<&'a Dir>,
}

impl ParentLayer {
    /// Opens the parent layer directory `name` in `parent_dir` (a single component, not
    /// followed if it is a symbolic link).
    ///
    /// # Errors
    /// When it cannot be opened or is no layer directory of a supported format.
    pub fn open(parent_dir: &Dir, name: &str) -> Result<Self, Error> {
        super::check_layer_name(name)?;
        let root = parent_dir
            .open_dir(name)
            .map_err(|e| Error::io("open parent layer", name, e))?;
        ParentLayer::from_root(root, name)
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
    pub fn open_ambient(path: &Path, authority: AmbientAuthority) -> Result<Self, Error> {
        // Recorded as hcsshim records parents, absolute (docs/layer-directory.md).
        let label = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        let root = Dir::open_ambient_dir(path, authority)
            .map_err(|e| Error::io("open parent layer", path.display().to_string(), e))?;
        ParentLayer::from_root(root, label)
    }

    /// A parent layer directory open at `root`; `label` names it in the new layer's manifest
    /// and in errors. Only the manifest is read now; the records are loaded when first
    /// needed.
    ///
    /// # Errors
    /// When `root` is no layer directory of a supported format.
    pub fn from_root(root: Dir, label: impl Into<String>) -> Result<Self, Error> {
        read_manifest(&root)?;
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
    pub(super) fn parts(&mut self) -> Result<ParentParts<'_>, Error> {
        if self.index.is_none() {
            self.index = Some(LayerIndex::load(&self.root, &Limits::default())?);
            self.streams = self
                .root
                .open_dir(Path::new(SIDECAR_DIR).join(STREAMS_DIR))
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

/// The directory made of `comps` below `root` (`root` itself for none).
pub(super) fn open_below(root: &Dir, comps: &[String]) -> io::Result<Dir> {
    if comps.is_empty() {
        root.try_clone()
    } else {
        root.open_dir(comps.iter().collect::<PathBuf>())
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
fn try_link(src_dir: &Dir, src: &str, dst_dir: &Dir, dst: &str) -> io::Result<bool> {
    match src_dir.hard_link(src, dst_dir, dst) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => Ok(false),
        Err(e) => Err(e),
    }
}

/// Checks what a hard link into a parent layer brought in: the link is made first and its
/// type checked after, on our own side (no race: the linked inode's type cannot change).
/// Anything but `want` is removed again and refused.
fn verify_linked(dir: &Dir, name: &str, want: FileType) -> io::Result<()> {
    let got = dir.metadata(name)?.file_type;
    if got == want {
        return Ok(());
    }
    let _ = dir.remove_file(name);
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("parent layer object is {got:?}, expected {want:?}"),
    ))
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

impl DirLayerWriter {
    /// A hard link to a file this layer does not hold: found in the first parent that has
    /// it (hcsshim's legacy writer, docs/layer-semantics.md §4.4), its record copied and its
    /// object and stream files linked into this layer.
    pub(super) fn link_to_parent(
        &mut self,
        parents: &mut [ParentLayer],
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), Error> {
        for (i, p) in parents.iter_mut().enumerate() {
            let ParentParts {
                index: idx,
                root: proot,
                streams: pstreams,
            } = p.parts()?;
            let Some(pnode) = idx.tree.find(target.components()) else {
                continue;
            };
            let Some(pf) = idx.tree.merged_file(pnode) else {
                continue;
            };
            if idx.tree.info(pf).file_attributes.is_directory() {
                return Err(Error::Model(wclayer_layer::Error::LinkTargetDirectory {
                    name: name.to_string(),
                    target: target.to_string(),
                }));
            }
            let rec = idx.record(pf)?;
            let src = idx.disk_components(pnode);
            let added = self.tree.add(name, rec.info.into(), Disk::File)?;
            let node = added.node;
            let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
            self.ensure_on_disk(parent)?;
            let (disk, copied) = self.import_object(proot, &src, &rec, node, false)?;
            let entry = self.tree.path_of(node);
            let streams = self.import_blobs(pstreams, &rec, added.file, &entry)?;
            *self.tree.file_mut(added.file) = disk;
            *self.tree.node_mut(node) = true;
            if copied {
                self.set_times(node, &rec.info.into())?;
            }
            let path = self.tree.path_of(node);
            return self.write_record(&Record::File(FileRecord {
                n: added.file.index() as u64,
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
    pub(super) fn import_object(
        &mut self,
        proot: &Dir,
        src: &[String],
        rec: &FileRecord,
        node: NodeId,
        copy: bool,
    ) -> Result<(Disk, bool), Error> {
        let entry = self.tree.path_of(node);
        let io_err = |op| {
            let entry = entry.clone();
            move |e| Error::io(op, entry, e)
        };
        let (last, parents) = src.split_last().ok_or_else(|| {
            Error::io(
                "open parent layer",
                entry.clone(),
                io::ErrorKind::NotFound.into(),
            )
        })?;
        let sdir = open_below(proot, parents).map_err(io_err("open parent layer"))?;
        let meta = sdir
            .metadata(last)
            .map_err(io_err("stat parent layer file"))?;
        let depth = self.tree.depth(node).saturating_sub(1);
        let dst_last = self.disk_last(node);
        let dst = self
            .parent_dir(node)?
            .try_clone()
            .map_err(io_err("open directory"))?;
        match meta.file_type {
            FileType::Symlink => {
                let windows_target = reparse_target(rec);
                let want = windows_target
                    .as_deref()
                    .and_then(|t| safe_symlink_target(t, depth));
                let have = sdir.read_link(last).ok();
                match (want, windows_target) {
                    (Some(want), Some(wt)) => {
                        let same = have.as_deref().and_then(|h| h.to_str()) == Some(want.as_str());
                        let linked = !copy
                            && same
                            && try_link(&sdir, last, &dst, &dst_last)
                                .map_err(io_err("hard link"))?;
                        if linked {
                            verify_linked(&dst, &dst_last, FileType::Symlink)
                                .map_err(io_err("hard link"))?;
                        } else {
                            dst.symlink(want.as_ref(), &dst_last)
                                .map_err(io_err("create symbolic link"))?;
                        }
                        Ok((self.symlink_disk(wt), !linked))
                    }
                    // A relative link that would not be safe at its new place: kept as its
                    // record only, over an empty file (as the importer keeps any link it
                    // will not make).
                    (None, Some(_)) => {
                        dst.create_file(&dst_last).map_err(io_err("create file"))?;
                        Ok((Disk::File, true))
                    }
                    // The importer makes a symbolic link only for a relative symbolic link
                    // record: anything else is a tampered parent.
                    (_, None) => Err(Error::io(
                        "link parent layer file",
                        entry.clone(),
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "parent layer holds a symbolic link where its record has none",
                        ),
                    )),
                }
            }
            FileType::File => {
                if !copy && try_link(&sdir, last, &dst, &dst_last).map_err(io_err("hard link"))? {
                    verify_linked(&dst, &dst_last, FileType::File).map_err(io_err("hard link"))?;
                    return Ok((Disk::File, false));
                }
                let mut from = sdir
                    .open_file(last)
                    .map_err(io_err("open parent layer file"))?;
                let mut to = dst.create_file(&dst_last).map_err(io_err("create file"))?;
                // Copy only the recorded data ranges, so holes stay holes.
                for s in &rec.streams {
                    if let Body::Content(off) = s.body {
                        copy_range(&mut from, &mut to, off, s.size).map_err(io_err("copy file"))?;
                    }
                }
                to.set_len(meta.size).map_err(io_err("set file length"))?;
                Ok((Disk::File, true))
            }
            FileType::Dir | FileType::Other => Err(Error::io(
                "link parent layer file",
                entry.clone(),
                io::Error::new(io::ErrorKind::InvalidData, "not a file or symbolic link"),
            )),
        }
    }

    /// Links (or copies) a parent record's blob files into this layer under file `f`'s
    /// names, for the entry `entry` of this layer (errors name it); returns the record's
    /// streams with the new names.
    pub(super) fn import_blobs(
        &mut self,
        pstreams: Option<&Dir>,
        rec: &FileRecord,
        f: FileNo,
        entry: &str,
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
                        entry.to_owned(),
                        io::ErrorKind::NotFound.into(),
                    )
                })?;
                let new = format!("{}.{k}", f.index());
                k = k.saturating_add(1);
                let err = |op| {
                    let entry = entry.to_owned();
                    move |e| Error::io(op, entry, e)
                };
                let linked = try_link(src_dir, name, &self.streams_dir, &new)
                    .map_err(err("hard link stream file"))?;
                if linked {
                    verify_linked(&self.streams_dir, &new, FileType::File)
                        .map_err(err("hard link stream file"))?;
                } else {
                    let mut from = src_dir.open_file(name).map_err(err("open stream file"))?;
                    let mut to = self
                        .streams_dir
                        .create_file(&new)
                        .map_err(err("create stream file"))?;
                    io::copy(&mut from, &mut to).map_err(err("copy stream file"))?;
                }
                s.body = Body::Blob(new);
            }
            out.push(s);
        }
        Ok(out)
    }
}

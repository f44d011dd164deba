//! The utility VM of a delta layer, cloned from the nearest parent (hcsshim's `cloneTree`,
//! docs/layer-semantics.md §4.6).

use std::collections::HashMap;
use std::io;

use wclayer_backup::FileBasicInfo;
use wclayer_layer::{FileNo, LayerPath, NodeId, NodeKind, upcase_key};

use super::parent::{ParentLayer, ParentParts, open_below};
use super::{DirLayerWriter, Disk};
use crate::Error;
use crate::meta::{FileRecord, Record, StreamRecord};

/// The utility VM's boot configuration store: copied, never hard-linked, when the utility VM
/// is cloned, because the utility-VM processing rewrites it (hcsshim's `mutatedFiles`, with
/// the path bug of docs/layer-semantics.md §4.6 fixed: the names are relative to the layer
/// root).
const BCD_FILES: [&str; 4] = [
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG1",
    "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD.LOG2",
];

impl DirLayerWriter {
    /// Clones the nearest parent's `UtilityVM\Files` into this layer: every name the layer
    /// neither adds nor removes; directories created, other objects hard-linked, the BCD
    /// files copied. The clone is inherited by the layer's tree (found by lookups, never
    /// walked) and its records are marked `clone`, so the layer reads back exactly as
    /// written.
    pub(super) fn clone_utility_vm(&mut self, p: &mut ParentLayer) -> Result<(), Error> {
        let Some(uvm) = self.tree.find(["UtilityVM"]) else {
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
        } = p.parts()?;
        let Some(src_files) = idx.tree.find(["UtilityVM", "Files"]) else {
            return Ok(());
        };
        self.ensure_on_disk(uvm)?;
        let mut work = vec![(src_files, uvm)];
        let mut clone_dirs: Vec<(NodeId, FileBasicInfo)> = Vec::new();
        // Parent file -> our file, so that hard-link groups stay groups.
        let mut groups: HashMap<FileNo, FileNo> = HashMap::new();
        while let Some((s, our_parent)) = work.pop() {
            let sname = idx.tree.name(s).to_owned();
            let key = upcase_key(&sname);
            if self
                .tree
                .tombstones(our_parent)
                .any(|t| upcase_key(t) == key)
            {
                continue;
            }
            let src = idx.disk_components(s);
            let (last, parents) = src.split_last().ok_or(Error::Closed)?;
            let meta = match open_below(proot, parents).and_then(|d| d.metadata(last)) {
                Ok(m) => m,
                // A parent's implicit directory holding only tombstones has no object.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::io("stat parent layer file", idx.tree.path_of(s), e));
                }
            };
            let sfile = idx.tree.merged_file(s);
            let mut children: Vec<(&str, NodeId)> = idx
                .tree
                .children(s)
                .map(|c| (idx.tree.name(c), c))
                .collect();
            children.sort_unstable();
            let children: Vec<NodeId> = children.into_iter().rev().map(|(_, c)| c).collect();
            let is_dir = meta.is_dir();
            let path = child_path(&self.tree.path_of(our_parent), &sname)?;
            if let Some(o) = self.tree.child(our_parent, &sname) {
                let kind = self.tree.kind(o);
                let mergeable = is_dir
                    && !self.tree.is_inherited(o)
                    && match kind {
                        // Never below an own reparse point: the model forbids entries
                        // there, clone entries included.
                        NodeKind::Added(f) => self.is_plain_directory(f),
                        NodeKind::Implicit => true,
                    };
                if !mergeable {
                    continue;
                }
                if kind == NodeKind::Implicit
                    && self.tree.merged_file(o).is_none()
                    && let Some(sf) = sfile
                {
                    let rec = idx.record(sf)?;
                    let (_, f) = self.tree.inherit(&path, rec.info.into(), Disk::Directory)?;
                    let streams = self.import_blobs(pstreams, &rec, f, &rec.path)?;
                    self.write_clone_record(o, f, &rec, streams)?;
                    clone_dirs.push((o, rec.info.into()));
                }
                self.ensure_on_disk(o)?;
                work.extend(children.into_iter().map(|c| (c, o)));
                continue;
            }
            if is_dir {
                let node = match sfile {
                    Some(sf) => {
                        let rec = idx.record(sf)?;
                        let (node, f) =
                            self.tree.inherit(&path, rec.info.into(), Disk::Directory)?;
                        self.ensure_on_disk(node)?;
                        let streams = self.import_blobs(pstreams, &rec, f, &rec.path)?;
                        self.write_clone_record(node, f, &rec, streams)?;
                        clone_dirs.push((node, rec.info.into()));
                        node
                    }
                    None => {
                        let node = self.tree.inherit_dir(&path)?;
                        self.ensure_on_disk(node)?;
                        node
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
                let node = self.tree.inherit_link(&path, f)?;
                let first = self.tree.names_of(f).next().unwrap_or(NodeId::ROOT);
                self.link_nodes(f, first, node, path.as_str())?;
                *self.tree.node_mut(node) = true;
                self.write_record(&Record::Link {
                    path: path.to_string(),
                    file: f.index() as u64,
                    clone: true,
                })?;
                continue;
            }
            let rec = idx.record(sf)?;
            let (node, f) = self.tree.inherit(&path, rec.info.into(), Disk::File)?;
            let (disk, copied) = self.import_object(proot, &src, &rec, node, bcd)?;
            let streams = self.import_blobs(pstreams, &rec, f, &rec.path)?;
            *self.tree.file_mut(f) = disk;
            *self.tree.node_mut(node) = true;
            if copied {
                self.set_times(node, &rec.info.into())?;
            }
            self.write_clone_record(node, f, &rec, streams)?;
            if !bcd {
                groups.insert(sf, f);
            }
        }
        for (node, info) in clone_dirs.iter().rev() {
            self.set_times(*node, info)?;
        }
        self.manifest.utility_vm_cloned = true;
        Ok(())
    }

    /// Whether file `f` is a directory on disk and no reparse point.
    pub(super) fn is_plain_directory(&self, f: FileNo) -> bool {
        *self.tree.file(f) == Disk::Directory
            && !self.tree.info(f).file_attributes.is_reparse_point()
    }

    fn write_clone_record(
        &mut self,
        node: NodeId,
        f: FileNo,
        rec: &FileRecord,
        streams: Vec<StreamRecord>,
    ) -> Result<(), Error> {
        let path = self.tree.path_of(node);
        self.write_record(&Record::File(FileRecord {
            n: f.index() as u64,
            path,
            info: rec.info,
            data_size: rec.data_size,
            streams,
            clone: true,
            origin: None,
        }))
    }
}

/// The layer name `dir\name` (`name` at the top when `dir` is empty).
fn child_path(dir: &str, name: &str) -> Result<LayerPath, Error> {
    let joined = if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}\\{name}")
    };
    LayerPath::parse(&joined).map_err(|e| Error::Model(e.into()))
}

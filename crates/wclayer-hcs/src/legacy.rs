//! hcsshim's legacy (delta-layer) writer (`internal/wclayer/legacy.go` `legacyLayerWriter`,
//! `importlayer.go`; docs/layer-semantics.md §4): the layer is written as a transport folder
//! in a temporary directory, HCS `ImportLayer` imports it, then tombstones are deleted, hard
//! links created, directory times reapplied and the utility VM processed, in that order.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use wclayer_backup::{BackupStreamReader, FileAttributes, FileBasicInfo, StreamId};
use wclayer_layer::{LayerPath, LayerWriter};

use crate::Error;
use crate::base::{open_bcd_backup, process_utility_vm, reapply_dir_times};
use crate::host::{Host, HostFile, Open};
use crate::names::{TOMBSTONES_TXT, WCIDIRS, has_path_prefix, is_not_found, layer_descriptors};
use crate::sink::{Mode, Sink};

/// Which root a pending hard link's target is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RootRef {
    /// The layer being written.
    Dest,
    /// `parents[i]`.
    Parent(usize),
}

/// A hard link created after the import.
#[derive(Debug)]
struct PendingLink {
    path: String,
    target: String,
    root: RootRef,
}

/// The current entry, when it is a directory of the transport folder.
struct Current<F> {
    sink: Sink<F>,
    /// The directory's name when the file is its `.$wcidirs$` file.
    dir: Option<String>,
}

/// Writes a delta layer through a transport folder and HCS `ImportLayer` (see the module
/// documentation).
pub struct LegacyLayerWriter<H: Host> {
    host: H,
    path: PathBuf,
    parents: Vec<PathBuf>,
    folder: PathBuf,
    roots: Option<Roots<H::Root>>,
    current: Option<Current<H::File>>,
    bcd: Option<H::File>,
    tombstones: Vec<String>,
    pending_links: Vec<PendingLink>,
    pending_dirs: Vec<String>,
    changed_dirs: Vec<(String, FileBasicInfo)>,
    added: HashSet<String>,
    has_utility_vm: bool,
}

struct Roots<R> {
    folder: R,
    dest: R,
    parents: Vec<R>,
}

impl<H: Host> LegacyLayerWriter<H> {
    /// A writer for the layer `path` over `parents` (nearest first, base last): makes the
    /// temporary transport folder (`hcs*` in the system's temporary directory) and opens the
    /// roots. On failure the folder is removed again.
    ///
    /// # Errors
    /// When the folder cannot be made or a root cannot be opened.
    pub fn new(host: H, path: &Path, parents: &[PathBuf]) -> Result<Self, Error> {
        let folder = host
            .make_temp_dir("hcs")
            .map_err(|e| Error::os("create", "temporary folder", e))?;
        let roots = (|| {
            let open = |p: &Path| {
                host.open_root(p)
                    .map_err(|e| Error::os("open", p.display().to_string(), e))
            };
            Ok::<_, Error>(Roots {
                folder: open(&folder)?,
                dest: open(path)?,
                parents: parents.iter().map(|p| open(p)).collect::<Result<_, _>>()?,
            })
        })();
        let roots = match roots {
            Ok(r) => r,
            Err(e) => {
                let _ = host.remove_tree(&folder);
                return Err(e);
            }
        };
        Ok(LegacyLayerWriter {
            host,
            path: path.to_path_buf(),
            parents: parents.to_vec(),
            folder,
            roots: Some(roots),
            current: None,
            bcd: None,
            tombstones: Vec::new(),
            pending_links: Vec::new(),
            pending_dirs: Vec::new(),
            changed_dirs: Vec::new(),
            added: HashSet::new(),
            has_utility_vm: false,
        })
    }

    /// The host the writer calls.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The temporary transport folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn roots(&self) -> Result<&Roots<H::Root>, Error> {
        self.roots.as_ref().ok_or(Error::Closed)
    }

    /// Finishes the current entry (hcsshim `reset`): flushes it and, for a directory whose
    /// backup stream holds reparse data, removes its placeholder directory from the folder so
    /// that nothing can be written through the future reparse point; it is made again, empty,
    /// before the import.
    fn reset(&mut self) -> Result<(), Error> {
        self.bcd = None;
        let Some(mut cur) = self.current.take() else {
            return Ok(());
        };
        cur.sink.flush()?;
        let Some(dir) = cur.dir else {
            return Ok(());
        };
        if has_reparse_stream(&mut cur.sink.file, &cur.sink.name)? {
            drop(cur.sink);
            let roots = self.roots()?;
            self.host
                .remove(&roots.folder, &dir)
                .map_err(|e| Error::os("remove", dir.clone(), e))?;
            self.pending_dirs.push(dir);
        }
        Ok(())
    }

    /// Makes `UtilityVM` and clones the nearest parent's `UtilityVM\Files` into it, once
    /// (hcsshim `initUtilityVM`).
    fn init_utility_vm(&mut self) -> Result<(), Error> {
        if self.has_utility_vm {
            return Ok(());
        }
        let roots = self.roots()?;
        self.host
            .mkdir(&roots.dest, "UtilityVM")
            .map_err(|e| Error::os("create", "UtilityVM", e))?;
        let parent = roots.parents.first().ok_or(Error::MissingUtilityVm)?;
        crate::clone::clone_tree(&self.host, parent, &roots.dest, r"UtilityVM\Files")?;
        self.has_utility_vm = true;
        Ok(())
    }

    fn add_utility_vm_entry(&mut self, name: &str, info: &FileBasicInfo) -> Result<(), Error> {
        if !self.has_utility_vm {
            return Err(Error::MissingUtilityVm);
        }
        if name != r"UtilityVM\Files" && !has_path_prefix(name, r"UtilityVM\Files") {
            return Err(Error::InvalidUtilityVm);
        }
        let dest = &self.roots()?.dest;
        let host = &self.host;
        let kind = FileAttributes::DIRECTORY.0 | FileAttributes::REPARSE_POINT.0;
        let how = if info.file_attributes.0 & FileAttributes::DIRECTORY.0 != 0 {
            let existing = match host.lstat(dest, name) {
                Ok(st) => Some(st),
                Err(e) if is_not_found(&e) => None,
                Err(e) => return Err(Error::os("stat", name, e)),
            };
            let mut exists = existing.is_some();
            if let Some(st) = existing
                && (st.attributes ^ info.file_attributes.0) & kind != 0
            {
                host.remove_all(dest, name)
                    .map_err(|e| Error::os("remove", name, e))?;
                exists = false;
            }
            if !exists {
                host.mkdir(dest, name)
                    .map_err(|e| Error::os("create", name, e))?;
            }
            Open::ExistingForRestore
        } else {
            // Break the hard link to the parent's file that the clone made.
            match host.remove(dest, name) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::os("remove", name, e)),
            }
            Open::CreateFile { security: true }
        };
        let mut file = host
            .open(dest, name, how)
            .map_err(|e| Error::os("open", name, e))?;
        file.set_basic_info(info)
            .map_err(|e| Error::os("set times of", name, e))?;
        self.current = Some(Current {
            sink: Sink::new(file, name.to_owned(), Mode::Backup { security: true }),
            dir: None,
        });
        self.added.insert(name.to_owned());
        Ok(())
    }

    fn add_folder_entry(&mut self, name: &str, info: &FileBasicInfo) -> Result<(), Error> {
        let folder = &self.roots()?.folder;
        let host = &self.host;
        let dir = info.file_attributes.0 & FileAttributes::DIRECTORY.0 != 0;
        let file_name = if dir {
            host.mkdir(folder, name)
                .map_err(|e| Error::os("create", name, e))?;
            format!("{name}{WCIDIRS}")
        } else {
            name.to_owned()
        };
        let mut file = host
            .open(folder, &file_name, Open::CreateFile { security: false })
            .map_err(|e| Error::os("create", name, e))?;
        let hives = has_path_prefix(name, "Hives");
        let started = (|| {
            // The transport file keeps its own attributes at the default: only times.
            let times = FileBasicInfo {
                file_attributes: FileAttributes(0),
                ..*info
            };
            file.set_basic_info(&times)
                .map_err(|e| Error::os("set times of", name, e))?;
            if !hives {
                file.write_all(&info.file_attributes.0.to_le_bytes())
                    .map_err(|e| Error::os("write", name, e))?;
            }
            Ok::<_, Error>(())
        })();
        if let Err(e) = started {
            drop(file);
            let _ = host.remove(folder, &file_name);
            return Err(e);
        }
        let mode = if hives {
            Mode::Backup { security: false }
        } else {
            Mode::Raw
        };
        self.current = Some(Current {
            sink: Sink::new(file, name.to_owned(), mode),
            dir: dir.then(|| name.to_owned()),
        });
        self.added.insert(name.to_owned());
        Ok(())
    }

    fn add_inner(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.reset()?;
        let n = name.as_str();
        if n == "UtilityVM" {
            // No file takes this entry's bytes: writing any fails with `closed`.
            return self.init_utility_vm();
        }
        if info.file_attributes.0 & FileAttributes::DIRECTORY.0 != 0 {
            self.changed_dirs.push((n.to_owned(), *info));
        }
        if has_path_prefix(n, "UtilityVM") {
            self.add_utility_vm_entry(n, info)?;
        } else {
            self.add_folder_entry(n, info)?;
        }
        self.bcd = open_bcd_backup(&self.host, &self.roots()?.dest, n)?;
        Ok(())
    }

    fn add_link_inner(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.reset()?;
        let (name, target) = (name.as_str(), target.as_str());
        let roots = self.roots()?;
        let candidates: Vec<RootRef> = if has_path_prefix(target, "Files") {
            (0..roots.parents.len()).map(RootRef::Parent).collect()
        } else if has_path_prefix(target, r"UtilityVM\Files") {
            vec![RootRef::Dest]
        } else {
            Vec::new()
        };
        if candidates.is_empty()
            || !(has_path_prefix(name, "Files") || has_path_prefix(name, r"UtilityVM\Files"))
        {
            return Err(Error::InvalidHardLink);
        }
        let mut selected = None;
        if self.added.contains(target) {
            selected = Some(RootRef::Dest);
        } else {
            for c in candidates {
                let root = self.root_of(c)?;
                match self.host.lstat(root, target) {
                    Ok(_) => {
                        selected = Some(c);
                        break;
                    }
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(Error::os("stat", target, e)),
                }
            }
        }
        let root = selected.ok_or_else(|| Error::LinkTargetNotFound {
            name: name.to_owned(),
            target: target.to_owned(),
        })?;
        self.pending_links.push(PendingLink {
            path: name.to_owned(),
            target: target.to_owned(),
            root,
        });
        self.added.insert(name.to_owned());
        Ok(())
    }

    fn root_of(&self, r: RootRef) -> Result<&H::Root, Error> {
        let roots = self.roots()?;
        match r {
            RootRef::Dest => Ok(&roots.dest),
            RootRef::Parent(i) => roots.parents.get(i).ok_or(Error::Closed),
        }
    }

    fn remove_inner(&mut self, name: &LayerPath) -> Result<(), Error> {
        let n = name.as_str();
        if has_path_prefix(n, "Files") {
            self.tombstones.push(n.to_owned());
        } else if has_path_prefix(n, r"UtilityVM\Files") {
            self.init_utility_vm()?;
            // The utility VM was cloned: a removal takes effect now and leaves no tombstone.
            let dest = &self.roots()?.dest;
            self.host
                .lstat(dest, n)
                .map_err(|e| Error::os("stat", n, e))?;
            self.host
                .remove_all(dest, n)
                .map_err(|e| Error::os("remove", n, e))?;
        } else {
            return Err(Error::InvalidTombstone(n.to_owned()));
        }
        Ok(())
    }

    /// hcsshim `legacyLayerWriterWrapper.Close`, steps 1 to 6 (docs/layer-semantics.md §4.5).
    fn finish(&mut self) -> Result<(), Error> {
        self.reset()?;
        let roots = self.roots()?;
        let host = &self.host;
        match host.remove(&roots.folder, TOMBSTONES_TXT) {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::os("remove", TOMBSTONES_TXT, e)),
        }
        for dir in &self.pending_dirs {
            host.mkdir(&roots.folder, dir)
                .map_err(|e| Error::os("create", dir.clone(), e))?;
        }
        let descriptors = layer_descriptors(host, &self.parents)?;
        host.import_layer(&self.path, &self.folder, &descriptors)
            .map_err(|source| Error::Hcs {
                title: "hcsshim::ImportLayer",
                source,
            })?;
        for t in &self.tombstones {
            match host.remove(&roots.dest, t) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::os("remove", t.clone(), e)),
            }
        }
        for link in &self.pending_links {
            match host.remove(&roots.dest, &link.path) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::os("remove", link.path.clone(), e)),
            }
            host.link(
                self.root_of(link.root)?,
                &link.target,
                &roots.dest,
                &link.path,
            )
            .map_err(|e| Error::os("link", link.path.clone(), e))?;
        }
        reapply_dir_times(host, &roots.dest, &self.changed_dirs)?;
        if self.has_utility_vm {
            process_utility_vm(host, &roots.dest)?;
        }
        Ok(())
    }
}

/// Whether the backup stream after the 4 attribute bytes of a `.$wcidirs$` file holds a
/// reparse stream (hcsshim re-reads the file it has just written).
fn has_reparse_stream<F: HostFile>(file: &mut F, name: &str) -> Result<bool, Error> {
    file.seek(4).map_err(|e| Error::os("read", name, e))?;
    let mut r = BackupStreamReader::new(FileRead(file));
    loop {
        match r.next_header() {
            Ok(None) => return Ok(false),
            Ok(Some(h)) if h.id == StreamId::REPARSE_DATA => return Ok(true),
            Ok(Some(_)) => {}
            Err(source) => {
                return Err(Error::Stream {
                    name: name.to_owned(),
                    source,
                });
            }
        }
    }
}

/// A [`HostFile`] as [`io::Read`].
pub(crate) struct FileRead<'a, F>(pub(crate) &'a mut F);

impl<F: HostFile> Read for FileRead<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<H: Host> LayerWriter for LegacyLayerWriter<H> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        Ok(self.add_inner(name, info)?)
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        Ok(self.add_link_inner(name, target)?)
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        Ok(self.remove_inner(name)?)
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        let cur = self.current.as_mut().ok_or(Error::Closed)?;
        cur.sink.write(buf)?;
        if let Some(bak) = self.bcd.as_mut() {
            bak.backup_write(buf, false)
                .map_err(|e| Error::os("write", cur.sink.name.clone(), e))?;
        }
        Ok(())
    }

    /// Imports the layer; whatever happens, the roots are closed and the transport folder is
    /// removed (step 7).
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        if self.roots.is_none() {
            return Err(Error::Closed.into());
        }
        let r = self.finish();
        self.current = None;
        self.bcd = None;
        self.roots = None;
        let removed = self
            .host
            .remove_tree(&self.folder)
            .map_err(|e| Error::os("remove", self.folder.display().to_string(), e));
        Ok(r.and(removed)?)
    }
}

impl<H: Host> Drop for LegacyLayerWriter<H> {
    fn drop(&mut self) {
        if self.roots.take().is_some() {
            self.current = None;
            self.bcd = None;
            let _ = self.host.remove_tree(&self.folder);
        }
    }
}

io_write_via_stream!(LegacyLayerWriter);

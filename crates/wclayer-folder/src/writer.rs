//! [`FolderLayerWriter`]: writes a transport folder.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use wclayer_backup::{FileAttributes, FileBasicInfo, RawHeader, SplitError, SplitVisitor};
use wclayer_backup::{StreamAttributes, StreamId, StreamSplitter};
use wclayer_fs::{Dir, DirCache, StagedDir, ambient_authority, xattr};
use wclayer_layer::{LayerPath, LayerTree, LayerWriter, NodeId};

use crate::meta::{self, Payload, Sidecars, StreamRecord};
use crate::names::{self, Rep, WCIDIRS, dir_disk_name, file_disk_name};
use crate::{Error, tombstones};

/// Size of the write buffer of transport files (hcsshim buffers 64 KiB too, §4.2).
const BUFFER: usize = 64 * 1024;

/// Writes a layer as hcsshim's legacy transport-format folder (docs/layer-semantics.md §3),
/// the folder HCS `ImportLayer` consumes, plus the `user.wclayer.*` extended attributes that
/// make it lossless on Linux (§0.5). [`crate::format`] describes the result.
///
/// - `Files\…` files (and every other name outside `Hives\` and `UtilityVM`): a file holding
///   the u32 LE `FileAttributes` and the raw backup stream;
/// - directories outside `UtilityVM` (including the top-level `Files` and `Hives`): a real
///   directory plus `<dir>.$wcidirs$` holding attributes and backup stream;
/// - `Hives\…` files and everything in `UtilityVM`: plain files and directories; a file
///   holds its data stream's content;
/// - hard links: hard links; tombstones below `Files`: `tombstones.txt`;
/// - times: the Linux mtime/atime of each file are the entry's last-write and last-access
///   times;
/// - a name Linux cannot hold (a component over 255 bytes, or a directory whose
///   `.$wcidirs$` name would be) is stored under a derived name (`wclayer_fs::names`) with
///   the real name in `user.wclayer.name`, as a layer directory stores it.
///
/// The layer model's rules are checked by the writer's [`LayerTree`], with the errors
/// [`wclayer_layer::MemLayer`] gives. The writer also refuses what a folder cannot hold:
/// names ending in `.$wcidirs$` or starting with `tombstones.txt`, and hard links between a
/// transport-file name and a plain-file name ([`Error::LinkAcrossRepresentations`]).
///
/// # Drop behaviour
/// The folder is built in a staging directory next to it (`wclayer_fs::StagedDir`) and
/// renamed into place by [`LayerWriter::close`]. Dropping the writer before a successful
/// `close` removes the staging directory and everything in it; the target is never
/// touched. (A process killed before `close` leaves the staging directory behind.)
/// `close` does not sync to stable storage: the folder is an exchange format, normally
/// consumed at once; call `syncfs` if it must survive a crash.
pub struct FolderLayerWriter {
    /// The staging directory; `None` once renamed or removed.
    staged: Option<StagedDir>,
    /// Whether the target existed as an empty directory (the rename replaces it).
    replace_empty: bool,
    /// The staging directory's root.
    root: Dir,
    /// The folder's path, for messages.
    path: PathBuf,
    /// The layer's names; per node, whether a real directory exists for it.
    tree: LayerTree<(), bool>,
    /// The directories of the entries last written.
    dir_cache: DirCache,
    current: Option<Current>,
    /// Added directories and their infos, for the times re-applied in `close`.
    dirs: Vec<(NodeId, FileBasicInfo)>,
    sidecars: Sidecars,
    poisoned: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for FolderLayerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderLayerWriter")
            .field("path", &self.path)
            .field("names", &self.tree.node_count())
            .field("tombstones", &self.tree.tombstone_count())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// The entry whose stream `write` receives.
struct Current {
    /// Its path, for messages.
    name: String,
    info: FileBasicInfo,
    body: Body,
}

enum Body {
    /// A transport file (or `.$wcidirs$` file): attributes already written, stream follows.
    Framed(BufWriter<File>),
    /// A plain file or directory.
    Plain(Box<PlainEntry>),
}

struct PlainEntry {
    obj: PlainObj,
    splitter: StreamSplitter,
    cut: PlainCut,
    template: Template,
    attrs: FileAttributes,
}

enum PlainObj {
    File(BufWriter<File>),
    Dir(Dir),
}

impl PlainObj {
    fn fd(&self) -> wclayer_fs::BorrowedOsHandle<'_> {
        use wclayer_fs::AsOsHandle;
        match self {
            PlainObj::File(f) => f.get_ref().as_os_handle(),
            PlainObj::Dir(d) => d.as_os_handle(),
        }
    }
}

/// The template of a plain entry: in memory while small, then in a sidecar blob.
enum Template {
    Mem(Vec<u8>),
    Blob {
        blob: u64,
        file: BufWriter<File>,
        len: u64,
    },
}

/// Where the bodies of a plain entry's stream go (docs/transport-folder.md): the first data
/// stream's body into the plain file (the *cut*), everything else into the template; the
/// blocks of a sparse file stay in the template and are mirrored into the plain file at
/// their offsets.
#[derive(Debug, Default)]
struct PlainCut {
    /// Whether a data body may go to the plain file (not for directories).
    allow_data: bool,
    seen_data: bool,
    /// The first data stream was a sparse one of size 0: the sparse blocks after it carry
    /// the file's content.
    sparse_file: bool,
    /// Template offset and length of the data cut out.
    cut: Option<(u64, u64)>,
    /// Bytes of the template so far.
    template_len: u64,
    target: Target,
}

#[derive(Debug, Default, Clone, Copy)]
enum Target {
    #[default]
    Template,
    Data,
    /// A sparse block's payload; `at` is the file offset of the next byte.
    Sparse {
        at: Option<u64>,
    },
}

/// The [`SplitVisitor`] of a plain entry.
struct PlainIo<'a> {
    obj: &'a mut PlainObj,
    cut: &'a mut PlainCut,
    template: &'a mut Template,
    sidecars: &'a mut Sidecars,
    root: &'a Dir,
}

impl PlainIo<'_> {
    fn template(&mut self, b: &[u8]) -> io::Result<()> {
        self.cut.template_len = self.cut.template_len.saturating_add(b.len() as u64);
        match self.template {
            Template::Mem(v) => {
                v.extend_from_slice(b);
                if v.len() > meta::INLINE_LIMIT {
                    let (blob, file) = self.sidecars.create(self.root)?;
                    let mut file = BufWriter::with_capacity(BUFFER, file);
                    file.write_all(v)?;
                    let len = v.len() as u64;
                    *self.template = Template::Blob { blob, file, len };
                }
                Ok(())
            }
            Template::Blob { file, len, .. } => {
                file.write_all(b)?;
                *len = len.saturating_add(b.len() as u64);
                Ok(())
            }
        }
    }

    fn file(&mut self) -> io::Result<&mut BufWriter<File>> {
        match self.obj {
            PlainObj::File(f) => Ok(f),
            // No data target is chosen for directories.
            PlainObj::Dir(_) => Err(io::Error::other("data for a directory")),
        }
    }
}

impl SplitVisitor for PlainIo<'_> {
    type Error = io::Error;

    fn header(&mut self, h: &RawHeader<'_>) -> io::Result<()> {
        self.template(h.bytes())?;
        let c = &mut *self.cut;
        c.target = if h.id() == StreamId::DATA && !c.seen_data && c.allow_data {
            c.seen_data = true;
            if h.attributes().contains(StreamAttributes::SPARSE) && h.size() == 0 {
                // The content follows as sparse blocks (docs/backup-stream.md §5.2).
                c.sparse_file = true;
                Target::Template
            } else {
                c.cut = Some((c.template_len, 0));
                Target::Data
            }
        } else if h.id() == StreamId::SPARSE_BLOCK && c.sparse_file {
            Target::Sparse {
                at: u64::try_from(h.offset()).ok(),
            }
        } else {
            Target::Template
        };
        if let Target::Sparse { at: Some(size) } = c.target
            && h.size() == 0
        {
            // The terminating block: the file's logical size.
            let f = self.file()?;
            f.flush()?;
            if f.get_ref().metadata()?.len() < size {
                f.get_ref().set_len(size)?;
            }
        }
        Ok(())
    }

    fn body(&mut self, b: &[u8]) -> io::Result<()> {
        match self.cut.target {
            Target::Template => self.template(b),
            Target::Data => {
                self.file()?.write_all(b)?;
                if let Some((_, len)) = &mut self.cut.cut {
                    *len = len.saturating_add(b.len() as u64);
                }
                Ok(())
            }
            Target::Sparse { at } => {
                self.template(b)?;
                if let Some(a) = at {
                    let f = self.file()?;
                    f.flush()?;
                    wclayer_fs::write_all_at(f.get_ref(), b, a)?;
                    self.cut.target = Target::Sparse {
                        at: a.checked_add(b.len() as u64),
                    };
                }
                Ok(())
            }
        }
    }

    fn end(&mut self) -> io::Result<()> {
        self.cut.target = Target::Template;
        Ok(())
    }

    fn unparsed(&mut self, b: &[u8]) -> io::Result<()> {
        self.template(b)
    }
}

fn split_io(e: SplitError<io::Error>) -> io::Error {
    match e {
        // A lenient splitter reports nothing about the stream itself.
        SplitError::Stream(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        SplitError::Visitor(e) => e,
    }
}

/// Lifecycle
impl FolderLayerWriter {
    /// Starts a transport folder at `path`, which must not exist or be an empty directory.
    /// The folder appears at `path` only when [`LayerWriter::close`] succeeds; an empty
    /// directory there is then replaced (atomically, by `rename`), so its own permissions
    /// and owner are not kept.
    ///
    /// # Security
    /// `path`'s parent directory is opened with the process's ambient authority (symbolic
    /// links in it are followed, as the caller wrote them); from then on every operation is
    /// relative to that handle and to the staging directory, through `wclayer_fs`: no
    /// symbolic link is ever followed and nothing is written outside the staging directory
    /// except the final rename onto `path`. A symbolic link at `path` itself is refused.
    ///
    /// # Errors
    /// [`Error::InvalidFolderPath`] when `path` has no final component;
    /// [`Error::NotEmpty`] when something other than an empty directory is at `path`;
    /// [`Error::XattrUnsupported`] when the file system has no user extended attributes;
    /// [`Error::Io`] when the parent cannot be opened or the staging directory created.
    pub fn create(path: &Path) -> Result<FolderLayerWriter, Error> {
        let shown = path.display().to_string();
        let invalid = |reason| Error::InvalidFolderPath {
            path: path.to_path_buf(),
            reason,
        };
        let target = path
            .file_name()
            .ok_or_else(|| invalid("no final component"))?
            .to_str()
            .ok_or_else(|| invalid("not UTF-8"))?;
        let parent_path = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = Dir::open_ambient_dir(parent_path, ambient_authority())
            .map_err(|e| Error::io("open parent directory", shown.clone(), e))?;
        let replace_empty = match parent.metadata(target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io("inspect folder", shown, e)),
            Ok(m) => {
                let empty = m.is_dir()
                    && parent
                        .open_dir(target)
                        .and_then(|d| d.entries())
                        .map_err(|e| Error::io("list folder", shown.clone(), e))?
                        .is_empty();
                if !empty {
                    return Err(Error::NotEmpty {
                        path: path.to_path_buf(),
                    });
                }
                true
            }
        };
        let staged = StagedDir::create(&parent, target)
            .map_err(|e| Error::io("create staging directory", shown.clone(), e))?;
        let root = staged
            .root()
            .try_clone()
            .map_err(|e| Error::io("open staging directory", shown.clone(), e))?;
        // The marker goes on first: a file system without user extended attributes is
        // reported now, before any entry (and dropping `staged` removes the staging
        // directory).
        xattr::set(&root, meta::XATTR_FOLDER, meta::FOLDER_VERSION)
            .map_err(|e| meta::xattr_error(&shown, e))?;
        Ok(FolderLayerWriter {
            staged: Some(staged),
            replace_empty,
            root,
            path: path.to_path_buf(),
            tree: LayerTree::new(),
            dir_cache: DirCache::new(dir_disk_name),
            current: None,
            dirs: Vec::new(),
            sidecars: Sidecars::default(),
            poisoned: None,
            closed: false,
        })
    }

    /// The folder's path, as given to [`FolderLayerWriter::create`].
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_usable(&self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if let Some(first) = &self.poisoned {
            return Err(Error::Poisoned {
                first: first.clone(),
            });
        }
        Ok(())
    }

    /// Remembers the first failure that leaves the folder half-written.
    fn poison(&mut self, e: Error) -> Error {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
        }
        e
    }
}

/// How a node's name is shown in messages: `/`-separated, as in the folder.
fn shown(path: &str) -> String {
    path.replace('\\', "/")
}

/// Disk
impl FolderLayerWriter {
    /// The open directory `node`.
    fn dir_of(&mut self, node: NodeId) -> Result<&Dir, Error> {
        let tree = &self.tree;
        match self.dir_cache.get(&self.root, tree, node) {
            Ok(d) => Ok(d),
            Err(e) => Err(Error::io("open directory", shown(&tree.path_of(node)), e)),
        }
    }

    /// Records the real name of an object stored under a derived name.
    fn name_xattr(
        fd: impl wclayer_fs::AsOsHandle,
        real: &str,
        disk: &str,
        path: &str,
    ) -> Result<(), Error> {
        if real == disk {
            return Ok(());
        }
        xattr::set(fd, meta::XATTR_NAME, real.as_bytes()).map_err(|e| meta::xattr_error(path, e))
    }

    /// Creates the real directories of `node` and its parents that exist only in the model
    /// so far, marking each as implicit.
    fn ensure_on_disk(&mut self, node: NodeId) -> Result<(), Error> {
        for n in self.tree.pending_ancestors(node, |on_disk| !on_disk) {
            let path = shown(&self.tree.path_of(n));
            let real = self.tree.name(n).to_owned();
            let disk = dir_disk_name(&real).into_owned();
            let parent = self.tree.parent(n).unwrap_or(NodeId::ROOT);
            let pfd = self.dir_of(parent)?;
            pfd.create_dir(&disk)
                .map_err(|e| Error::io("create directory", path.clone(), e))?;
            let fd = pfd
                .open_dir(&disk)
                .map_err(|e| Error::io("open directory", path.clone(), e))?;
            xattr::set(&fd, meta::XATTR_IMPLICIT, b"").map_err(|e| meta::xattr_error(&path, e))?;
            Self::name_xattr(&fd, &real, &disk, &path)?;
            *self.tree.node_mut(n) = true;
        }
        Ok(())
    }

    /// Creates the folder objects of a new entry and makes it current.
    fn create_entry(
        &mut self,
        node: NodeId,
        promoted: bool,
        info: &FileBasicInfo,
        rep: Rep,
    ) -> Result<(), Error> {
        let path = self.tree.path_of(node);
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        self.ensure_on_disk(parent)?;
        let show = shown(&path);
        let real = self.tree.name(node).to_owned();
        let attrs = info.file_attributes;
        let is_dir = attrs.is_directory();
        let was_on_disk = *self.tree.node(node);
        let pfd = self
            .dir_of(parent)?
            .try_clone()
            .map_err(|e| Error::io("open directory", show.clone(), e))?;
        let dir_fd = if is_dir {
            let disk = dir_disk_name(&real).into_owned();
            let fd = if promoted && was_on_disk {
                let fd = pfd
                    .open_dir(&disk)
                    .map_err(|e| Error::io("open directory", show.clone(), e))?;
                xattr::remove(&fd, meta::XATTR_IMPLICIT)
                    .map_err(|e| meta::xattr_error(&show, e))?;
                fd
            } else {
                pfd.create_dir(&disk)
                    .map_err(|e| Error::io("create directory", show.clone(), e))?;
                let fd = pfd
                    .open_dir(&disk)
                    .map_err(|e| Error::io("open directory", show.clone(), e))?;
                Self::name_xattr(&fd, &real, &disk, &show)?;
                fd
            };
            self.dirs.push((node, *info));
            Some(fd)
        } else {
            None
        };
        *self.tree.node_mut(node) = true;
        let times = meta::encode_times(info);
        let body = match (rep, dir_fd) {
            (Rep::Framed, dir_fd) => {
                // hcsshim: a directory's attributes and stream go to `<dir>.$wcidirs$`
                // (§3, §4.1 step 5); a file holds them itself.
                drop(dir_fd);
                let (file_name, file_shown) = if is_dir {
                    (
                        format!("{}{WCIDIRS}", dir_disk_name(&real)),
                        format!("{show}{WCIDIRS}"),
                    )
                } else {
                    (file_disk_name(&real).into_owned(), show.clone())
                };
                let mut f = pfd
                    .create_file(&file_name)
                    .map_err(|e| Error::io("create file", file_shown.clone(), e))?;
                xattr::set(&f, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&file_shown, e))?;
                if !is_dir {
                    Self::name_xattr(&f, &real, &file_name, &file_shown)?;
                }
                f.write_all(&attrs.0.to_le_bytes())
                    .map_err(|e| Error::io("write file", file_shown, e))?;
                Body::Framed(BufWriter::with_capacity(BUFFER, f))
            }
            (Rep::Plain, Some(fd)) => {
                xattr::set(&fd, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&show, e))?;
                Body::Plain(Box::new(PlainEntry {
                    obj: PlainObj::Dir(fd),
                    splitter: StreamSplitter::lenient(),
                    cut: PlainCut::default(),
                    template: Template::Mem(Vec::new()),
                    attrs,
                }))
            }
            (Rep::Plain, None) => {
                let disk = file_disk_name(&real).into_owned();
                let f = pfd
                    .create_file(&disk)
                    .map_err(|e| Error::io("create file", show.clone(), e))?;
                xattr::set(&f, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&show, e))?;
                Self::name_xattr(&f, &real, &disk, &show)?;
                Body::Plain(Box::new(PlainEntry {
                    obj: PlainObj::File(BufWriter::with_capacity(BUFFER, f)),
                    splitter: StreamSplitter::lenient(),
                    cut: PlainCut {
                        allow_data: true,
                        ..PlainCut::default()
                    },
                    template: Template::Mem(Vec::new()),
                    attrs,
                }))
            }
        };
        self.current = Some(Current {
            name: path,
            info: *info,
            body,
        });
        Ok(())
    }

    /// Finishes the current entry: flushes it, stores a plain entry's metadata, sets the
    /// file's times (directories get theirs in `close`).
    fn finish(&mut self) -> Result<(), Error> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let show = shown(&cur.name);
        let atime = Some(cur.info.last_access_time.to_unix_exact());
        let mtime = Some(cur.info.last_write_time.to_unix_exact());
        match cur.body {
            Body::Framed(w) => {
                let f = w
                    .into_inner()
                    .map_err(|e| Error::io("write file", show.clone(), e.into_error()))?;
                wclayer_fs::set_file_times(&f, atime, mtime)
                    .map_err(|e| Error::io("set times", show, e))?;
            }
            Body::Plain(p) => {
                let PlainEntry {
                    mut obj,
                    mut splitter,
                    mut cut,
                    mut template,
                    attrs,
                } = *p;
                let mut io = PlainIo {
                    obj: &mut obj,
                    cut: &mut cut,
                    template: &mut template,
                    sidecars: &mut self.sidecars,
                    root: &self.root,
                };
                splitter
                    .finish(&mut io)
                    .map_err(|e| Error::io("write", show.clone(), split_io(e)))?;
                let template = match template {
                    Template::Mem(v) => Payload::Inline(v),
                    Template::Blob { blob, file, len } => {
                        file.into_inner().map_err(|e| {
                            Error::io("write metadata sidecar", show.clone(), e.into_error())
                        })?;
                        Payload::Sidecar { blob, len }
                    }
                };
                let cut = cut.cut;
                meta::set_payload_xattr(
                    obj.fd(),
                    meta::XATTR_STREAM,
                    &show,
                    &self.root,
                    &mut self.sidecars,
                    template,
                    |template| {
                        StreamRecord {
                            attributes: attrs,
                            cut,
                            template,
                        }
                        .encode()
                    },
                )?;
                if let PlainObj::File(w) = obj {
                    let f = w
                        .into_inner()
                        .map_err(|e| Error::io("write file", show.clone(), e.into_error()))?;
                    wclayer_fs::set_file_times(&f, atime, mtime)
                        .map_err(|e| Error::io("set times", show, e))?;
                }
            }
        }
        Ok(())
    }

    /// Writes `tombstones.txt` and `user.wclayer.tombstones`, re-applies directory times
    /// and renames the staging directory into place.
    fn commit(&mut self) -> Result<(), Error> {
        self.finish()?;
        let mut lines = Vec::new();
        let mut extras = Vec::new();
        for (i, (dir, leaf)) in self.tree.all_tombstones().enumerate() {
            let t = match self.tree.path_of(dir) {
                d if d.is_empty() => leaf.to_owned(),
                d => format!("{d}\\{leaf}"),
            };
            match tombstones::line_for(&t) {
                Some(l) => lines.push(l.to_owned()),
                None => extras.push((i as u64, t)),
            }
        }
        let f = self
            .root
            .create_file(names::TOMBSTONES_TXT)
            .map_err(|e| Error::io("create file", names::TOMBSTONES_TXT, e))?;
        tombstones::write(BufWriter::new(f), lines.iter().map(String::as_str))
            .map_err(|e| Error::io("write file", names::TOMBSTONES_TXT, e))?;
        if !extras.is_empty() {
            let refs: Vec<(u64, &str)> = extras.iter().map(|(i, t)| (*i, t.as_str())).collect();
            let bytes = meta::encode_extra_tombstones(&refs);
            let payload = self
                .sidecars
                .store(&self.root, bytes, false)
                .map_err(|e| Error::io("write metadata sidecar", ".", e))?;
            let root = self
                .root
                .try_clone()
                .map_err(|e| Error::io("open folder", ".", e))?;
            meta::set_payload_xattr(
                &root,
                meta::XATTR_TOMBSTONES,
                ".",
                &self.root,
                &mut self.sidecars,
                payload,
                meta::encode_payload,
            )?;
        }
        // Children first: creating names inside a directory changes its mtime (hcsshim
        // re-applies directory times last and in reverse for the same reason, §4.5).
        let dirs = std::mem::take(&mut self.dirs);
        for (node, info) in dirs.iter().rev() {
            let show = shown(&self.tree.path_of(*node));
            let fd = self.dir_of(*node)?;
            wclayer_fs::set_file_times(
                fd,
                Some(info.last_access_time.to_unix_exact()),
                Some(info.last_write_time.to_unix_exact()),
            )
            .map_err(|e| Error::io("set times", show, e))?;
        }
        self.dir_cache.clear();
        let staged = self.staged.take().ok_or(Error::Closed)?;
        let r = if self.replace_empty {
            staged.commit_replacing_empty_dir(false)
        } else {
            staged.commit(false)
        };
        r.map_err(|e| {
            Error::io(
                "rename staging directory into place",
                self.path.display().to_string(),
                e,
            )
        })
    }

    fn link(&mut self, node: NodeId, target: NodeId) -> Result<(), Error> {
        let parent = self.tree.parent(node).unwrap_or(NodeId::ROOT);
        self.ensure_on_disk(parent)?;
        let show = shown(&self.tree.path_of(node));
        let tparent = self.tree.parent(target).unwrap_or(NodeId::ROOT);
        let tlast = file_disk_name(self.tree.name(target)).into_owned();
        let last = file_disk_name(self.tree.name(node)).into_owned();
        let tfd = self
            .dir_of(tparent)?
            .try_clone()
            .map_err(|e| Error::io("open directory", show.clone(), e))?;
        let pfd = self.dir_of(parent)?;
        tfd.hard_link(&tlast, pfd, &last)
            .map_err(|e| Error::io("hard link", show, e))?;
        *self.tree.node_mut(node) = true;
        Ok(())
    }

    /// Refuses names a folder reserves.
    fn check_reserved(name: &LayerPath) -> Result<(), Error> {
        match names::reserved(name.as_str()) {
            Some(reason) => Err(Error::ReservedName {
                name: name.original().to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

impl LayerWriter for FolderLayerWriter {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        self.finish().map_err(|e| self.poison(e))?;
        Self::check_reserved(name)?;
        let is_dir = info.file_attributes.is_directory();
        let added = self.tree.add(name, *info, ())?;
        let rep = Rep::of(&self.tree.path_of(added.node), is_dir);
        self.create_entry(added.node, added.promoted, info, rep)
            .map_err(|e| self.poison(e))?;
        Ok(())
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        self.finish().map_err(|e| self.poison(e))?;
        Self::check_reserved(name)?;
        if file_disk_name(name.file_name()) != name.file_name() {
            // The real name of a derived name lives in an attribute of the inode, which a
            // hard link shares with its target: the two names could not be told apart.
            return Err(Error::NameNotStorable {
                name: name.original().to_string(),
                reason: "a hard link whose name Linux cannot hold (its real name would be kept per inode)",
            }
            .into());
        }
        if let Some((tnode, f)) = self.tree.find_entry(target)
            && !self.tree.info(f).file_attributes.is_directory()
        {
            let target_rep = Rep::of(&self.tree.path_of(tnode), false);
            let rep = Rep::of(name.as_str(), false);
            if rep != target_rep {
                return Err(Error::LinkAcrossRepresentations {
                    name: name.original().to_string(),
                    target: target.original().to_string(),
                    name_kind: rep.describe(),
                    target_kind: target_rep.describe(),
                }
                .into());
            }
        }
        let (node, file) = self.tree.add_link(name, target)?;
        let first = self.tree.names_of(file).next().unwrap_or(NodeId::ROOT);
        self.link(node, first).map_err(|e| self.poison(e))?;
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        // Like the reference model, `remove` ends the current entry.
        self.finish().map_err(|e| self.poison(e))?;
        self.tree.remove(name)?;
        Ok(())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        let Some(cur) = self.current.as_mut() else {
            return Err(wclayer_layer::Error::NoEntry);
        };
        let res = match &mut cur.body {
            Body::Framed(w) => w.write_all(buf),
            Body::Plain(p) => {
                let PlainEntry {
                    obj,
                    splitter,
                    cut,
                    template,
                    ..
                } = &mut **p;
                let mut io = PlainIo {
                    obj,
                    cut,
                    template,
                    sidecars: &mut self.sidecars,
                    root: &self.root,
                };
                splitter.feed(buf, &mut io).map_err(split_io)
            }
        };
        match res {
            Ok(()) => Ok(()),
            Err(e) => {
                let name = shown(&cur.name);
                let e = self.poison(Error::io("write", name, e));
                Err(e.into())
            }
        }
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        self.commit().map_err(|e| self.poison(e))?;
        self.closed = true;
        Ok(())
    }
}

impl Write for FolderLayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut().map(|c| &mut c.body) {
            Some(Body::Framed(w)) => w.flush(),
            _ => Ok(()),
        }
    }
}

impl Drop for FolderLayerWriter {
    fn drop(&mut self) {
        // Close the open files first, then let the staged directory remove itself.
        self.current = None;
        self.dir_cache.clear();
        self.staged = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cut_matches_the_stream() {
        // The plain-entry visitor through a real splitter: the template with the cut data
        // spliced back is the stream, byte for byte.
        use wclayer_backup::{BackupStreamWriter, StreamHeader};
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::SECURITY_DATA, 4))
            .unwrap();
        w.write_all(b"SDSD").unwrap();
        w.write_header(&StreamHeader::new(StreamId::DATA, 5))
            .unwrap();
        w.write_all(b"hello").unwrap();
        w.write_header(&StreamHeader::alternate_data("zone", 3))
            .unwrap();
        w.write_all(b"ads").unwrap();
        let s = w.finish().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let root = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        for chunk in [1, 3, 7, 20, 1000] {
            let name = format!("f{chunk}");
            let mut obj = PlainObj::File(BufWriter::new(root.create_file(&name).unwrap()));
            let mut cut = PlainCut {
                allow_data: true,
                ..PlainCut::default()
            };
            let mut template = Template::Mem(Vec::new());
            let mut sidecars = Sidecars::default();
            let mut splitter = StreamSplitter::lenient();
            let mut io = PlainIo {
                obj: &mut obj,
                cut: &mut cut,
                template: &mut template,
                sidecars: &mut sidecars,
                root: &root,
            };
            for c in s.chunks(chunk) {
                splitter.feed(c, &mut io).unwrap();
            }
            splitter.finish(&mut io).unwrap();
            drop(obj);
            let Template::Mem(t) = template else { panic!() };
            let (off, len) = cut.cut.unwrap();
            assert_eq!((off, len), (44, 5));
            let data = std::fs::read(tmp.path().join(&name)).unwrap();
            let (a, b) = t.split_at(usize::try_from(off).unwrap());
            assert_eq!([a, &data, b].concat(), s, "chunk {chunk}");
        }
    }
}

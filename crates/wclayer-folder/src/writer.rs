//! [`FolderLayerWriter`]: writes a transport folder.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{Mode, OFlags};
use wclayer_backup::{FileAttributes, FileBasicInfo};
use wclayer_layer::{LayerPath, LayerWriter, upcase_key};

use crate::meta::{self, Payload, Sidecars, StreamRecord};
use crate::names::{self, Rep, WCIDIRS};
use crate::split::{SplitSink, Splitter};
use crate::{Error, fsops, tombstones};

/// Size of the write buffer of transport files (hcsshim buffers 64 KiB too, §4.2).
const BUFFER: usize = 64 * 1024;

/// Writes a layer as hcsshim's legacy transport-format folder (layer-semantics.md §3), the
/// folder HCS `ImportLayer` consumes, plus the `user.wclayer.*` extended attributes that
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
///   times.
///
/// The writer checks the reference layer model's rules as [`wclayer_layer::MemLayer`] does
/// (a duplicate, also in another case; an entry below a file or a reparse point; a hard link
/// to a missing name or a directory) with the same errors. It also refuses what a folder
/// cannot hold: names ending in `.$wcidirs$` or starting with `tombstones.txt`, components
/// longer than Linux's 255 bytes, and hard links between a transport-file name and a
/// plain-file name ([`Error::LinkAcrossRepresentations`]).
///
/// # Drop behaviour
/// The folder is built in a staging directory next to it (`.wclayer-folder-tmp-…`) and
/// renamed into place by [`LayerWriter::close`]. Dropping the writer before a successful
/// `close` removes the staging directory and everything in it; the target is never
/// touched. (A process killed before `close` leaves the staging directory behind.)
/// `close` does not sync to stable storage: the folder is an exchange format, normally
/// consumed at once; call `syncfs` if it must survive a crash.
pub struct FolderLayerWriter {
    /// The directory that holds the folder.
    parent: OwnedFd,
    /// The folder's name in `parent`.
    target: OsString,
    /// Whether the target existed as an empty directory (the rename replaces it).
    replace_empty: bool,
    /// The staging directory's name in `parent`; `None` once renamed or removed.
    staging: Option<OsString>,
    /// The staging directory.
    root: OwnedFd,
    /// The folder's path, for messages.
    path: PathBuf,
    /// Every name so far, by case-insensitive key of the whole path.
    nodes: HashMap<String, Node>,
    /// The last directory an entry was created in.
    dir_cache: Option<(String, OwnedFd)>,
    current: Option<Current>,
    /// Tombstones in `remove` order, parents spelled as first written.
    tombstones: Vec<String>,
    /// Added directories and their infos, for the times re-applied in `close`.
    dirs: Vec<(String, FileBasicInfo)>,
    sidecars: Sidecars,
    poisoned: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for FolderLayerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderLayerWriter")
            .field("path", &self.path)
            .field("names", &self.nodes.len())
            .field("tombstones", &self.tombstones.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Node {
    /// The whole path in the spelling first written.
    path: String,
    kind: NodeKind,
    /// Whether a real directory exists for it (an implicit directory that is only a
    /// tombstone's parent has none).
    on_disk: bool,
}

#[derive(Debug, Clone, Copy)]
enum NodeKind {
    Implicit,
    Added { attrs: FileAttributes, rep: Rep },
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
    splitter: Splitter,
    template: Template,
    attrs: FileAttributes,
}

enum PlainObj {
    File(BufWriter<File>),
    Dir(OwnedFd),
}

impl PlainObj {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            PlainObj::File(f) => f.get_ref().as_fd(),
            PlainObj::Dir(d) => d.as_fd(),
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

/// The [`SplitSink`] of a plain entry.
struct PlainIo<'a> {
    obj: &'a mut PlainObj,
    template: &'a mut Template,
    sidecars: &'a mut Sidecars,
    root: &'a OwnedFd,
}

impl SplitSink for PlainIo<'_> {
    fn template(&mut self, b: &[u8]) -> io::Result<()> {
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
                *len += b.len() as u64;
                Ok(())
            }
        }
    }

    fn data(&mut self, b: &[u8]) -> io::Result<()> {
        match self.obj {
            PlainObj::File(f) => f.write_all(b),
            // The splitter is built without data for directories.
            PlainObj::Dir(_) => Err(io::Error::other("data for a directory")),
        }
    }

    fn sparse(&mut self, offset: u64, b: &[u8]) -> io::Result<()> {
        match self.obj {
            PlainObj::File(f) => {
                f.flush()?;
                f.get_ref().write_all_at(b, offset)
            }
            PlainObj::Dir(_) => Ok(()),
        }
    }

    fn sparse_end(&mut self, size: u64) -> io::Result<()> {
        match self.obj {
            PlainObj::File(f) => {
                f.flush()?;
                if f.get_ref().metadata()?.len() < size {
                    f.get_ref().set_len(size)?;
                }
                Ok(())
            }
            PlainObj::Dir(_) => Ok(()),
        }
    }
}

/// Makes staging names unique within the process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

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
    /// relative to that handle and to the staging directory: `openat2` with
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, `O_NOFOLLOW`, `*at` calls, one component at
    /// a time. Layer names are validated [`LayerPath`]s and never leave the folder; nothing
    /// is written outside the staging directory except the final rename onto `path`. A
    /// symbolic link at `path` itself is refused, never followed.
    ///
    /// # Errors
    /// [`Error::InvalidFolderPath`] when `path` has no final component;
    /// [`Error::NotEmpty`] when something other than an empty directory is at `path`;
    /// [`Error::XattrUnsupported`] when the file system has no user extended attributes;
    /// [`Error::Io`] when the parent cannot be opened or the staging directory created.
    pub fn create(path: &Path) -> Result<FolderLayerWriter, Error> {
        let shown = path.display().to_string();
        let target = path
            .file_name()
            .ok_or_else(|| Error::InvalidFolderPath {
                path: path.to_path_buf(),
                reason: "no final component",
            })?
            .to_os_string();
        let parent_path = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = rustix::fs::open(
            parent_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("open parent directory", shown.clone(), e.into()))?;
        let replace_empty =
            match rustix::fs::statat(&parent, &target, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                Err(rustix::io::Errno::NOENT) => false,
                Err(e) => return Err(Error::io("inspect folder", shown, e.into())),
                Ok(st) => {
                    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory;
                    let empty = is_dir
                        && rustix::fs::openat2(
                            &parent,
                            &target,
                            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                            Mode::empty(),
                            rustix::fs::ResolveFlags::BENEATH
                                | rustix::fs::ResolveFlags::NO_SYMLINKS,
                        )
                        .map_err(io::Error::from)
                        .and_then(fsops::list_dir)
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
        let (staging, root) = make_staging(&parent, &shown)?;
        let w = FolderLayerWriter {
            parent,
            target,
            replace_empty,
            staging: Some(staging),
            root,
            path: path.to_path_buf(),
            nodes: HashMap::new(),
            dir_cache: None,
            current: None,
            tombstones: Vec::new(),
            dirs: Vec::new(),
            sidecars: Sidecars::default(),
            poisoned: None,
            closed: false,
        };
        // The marker goes on first: a file system without user extended attributes is
        // reported now, before any entry (and dropping `w` removes the staging directory).
        fsops::set_xattr(&w.root, meta::XATTR_FOLDER, meta::FOLDER_VERSION)
            .map_err(|e| meta::xattr_error(&shown, e))?;
        Ok(w)
    }

    /// The folder's path, as given to [`FolderLayerWriter::create`].
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn make_staging(parent: &OwnedFd, shown: &str) -> Result<(OsString, OwnedFd), Error> {
    let mut last = None;
    for _ in 0..64 {
        let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(".wclayer-folder-tmp-{}-{n}-{nanos}", std::process::id());
        match fsops::mkdir(parent, &name) {
            Ok(()) => {
                let root = fsops::open_dir(parent, &name)
                    .map_err(|e| Error::io("open staging directory", shown, e))?;
                return Ok((name.into(), root));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(Error::io("create staging directory", shown, e)),
        }
    }
    Err(Error::io(
        "create staging directory",
        shown,
        last.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()),
    ))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}\\{name}")
    }
}

/// Splits a `\`-path into its parent path (`""` at the top) and last component.
fn split_last(path: &str) -> (&str, &str) {
    path.rsplit_once('\\').unwrap_or(("", path))
}

/// Names
impl FolderLayerWriter {
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

    /// Resolves the parents of `name` as the reference model does: existing names by
    /// case-insensitive key (they keep their first spelling), missing ones become implicit
    /// directories (not yet on disk). Returns the parent's spelled path.
    fn resolve_parents(&mut self, name: &LayerPath) -> Result<String, Error> {
        let comps: Vec<&str> = name.components().collect();
        let parents = comps.split_last().map(|(_, p)| p).unwrap_or(&[]);
        let mut spelled = String::new();
        let mut key = String::new();
        for comp in parents {
            if !key.is_empty() {
                key.push('\\');
            }
            key.push_str(&upcase_key(comp));
            spelled = match self.nodes.get(&key) {
                Some(node) => {
                    if let NodeKind::Added { attrs, .. } = node.kind {
                        if attrs.is_reparse_point() {
                            return Err(Error::Model(wclayer_layer::Error::BelowReparsePoint {
                                name: name.original().to_string(),
                                parent: node.path.clone(),
                            }));
                        }
                        if !attrs.is_directory() {
                            return Err(Error::Model(wclayer_layer::Error::NotADirectory {
                                name: name.original().to_string(),
                                parent: node.path.clone(),
                            }));
                        }
                    }
                    node.path.clone()
                }
                None => {
                    let p = join(&spelled, comp);
                    self.nodes.insert(
                        key.clone(),
                        Node {
                            path: p.clone(),
                            kind: NodeKind::Implicit,
                            on_disk: false,
                        },
                    );
                    p
                }
            };
        }
        Ok(spelled)
    }

    /// Binds `name` (below `parent`, already resolved) to a new added node. Returns its
    /// spelled path and whether it promotes an implicit directory.
    fn bind(
        &mut self,
        name: &LayerPath,
        parent: &str,
        attrs: FileAttributes,
        rep: Rep,
    ) -> Result<(String, bool), Error> {
        let key = name.key();
        match self.nodes.get_mut(&key) {
            None => {
                let path = join(parent, name.file_name());
                self.nodes.insert(
                    key,
                    Node {
                        path: path.clone(),
                        kind: NodeKind::Added { attrs, rep },
                        on_disk: false,
                    },
                );
                Ok((path, false))
            }
            Some(node) => match node.kind {
                NodeKind::Added { .. } => Err(Error::Model(wclayer_layer::Error::Duplicate {
                    name: name.original().to_string(),
                    first: node.path.clone(),
                })),
                NodeKind::Implicit if attrs.is_directory() => {
                    node.kind = NodeKind::Added { attrs, rep };
                    Ok((node.path.clone(), true))
                }
                NodeKind::Implicit => Err(Error::Model(wclayer_layer::Error::NotADirectory {
                    name: name.original().to_string(),
                    parent: node.path.clone(),
                })),
            },
        }
    }

    /// Refuses names a folder cannot hold.
    fn check_storable(name: &LayerPath, framed_dir: bool) -> Result<(), Error> {
        if let Some(reason) = names::reserved(name.as_str()) {
            return Err(Error::ReservedName {
                name: name.original().to_string(),
                reason,
            });
        }
        if let Some(reason) = names::not_storable(name.as_str(), framed_dir) {
            return Err(Error::NameNotStorable {
                name: name.original().to_string(),
                reason,
            });
        }
        Ok(())
    }
}

/// Disk
impl FolderLayerWriter {
    /// The open directory `path` (spelled, `""` for the root).
    fn dir_fd(&mut self, path: &str) -> io::Result<OwnedFd> {
        if path.is_empty() {
            return self.root.try_clone();
        }
        if let Some((p, fd)) = &self.dir_cache
            && p == path
        {
            return fd.try_clone();
        }
        let comps: Vec<&str> = path.split('\\').collect();
        let fd = fsops::open_dir_path(&self.root, &comps)?;
        self.dir_cache = Some((path.to_string(), fd.try_clone()?));
        Ok(fd)
    }

    /// Creates the real directories of `path` and its parents that exist only in the
    /// model so far, marking each as implicit.
    fn ensure_on_disk(&mut self, path: &str) -> Result<(), Error> {
        if path.is_empty() {
            return Ok(());
        }
        let comps: Vec<&str> = path.split('\\').collect();
        for i in 0..comps.len() {
            let prefix = comps.get(..=i).unwrap_or_default().join("\\");
            let key = upcase_key(&prefix);
            let on_disk = self.nodes.get(&key).is_none_or(|n| n.on_disk);
            if on_disk {
                continue;
            }
            let (parent, leaf) = split_last(&prefix);
            let shown = prefix.replace('\\', "/");
            let pfd = self
                .dir_fd(parent)
                .map_err(|e| Error::io("open directory", parent.replace('\\', "/"), e))?;
            fsops::mkdir(&pfd, leaf)
                .map_err(|e| Error::io("create directory", shown.clone(), e))?;
            let fd = fsops::open_dir(&pfd, leaf)
                .map_err(|e| Error::io("open directory", shown.clone(), e))?;
            fsops::set_xattr(&fd, meta::XATTR_IMPLICIT, b"")
                .map_err(|e| meta::xattr_error(&shown, e))?;
            if let Some(n) = self.nodes.get_mut(&key) {
                n.on_disk = true;
            }
        }
        Ok(())
    }

    /// Creates the folder objects of a new entry and makes it current.
    fn create_entry(
        &mut self,
        path: &str,
        promote: bool,
        info: &FileBasicInfo,
        rep: Rep,
    ) -> Result<(), Error> {
        let (parent, leaf) = split_last(path);
        self.ensure_on_disk(parent)?;
        let shown = path.replace('\\', "/");
        let pfd = self
            .dir_fd(parent)
            .map_err(|e| Error::io("open directory", parent.replace('\\', "/"), e))?;
        let attrs = info.file_attributes;
        let is_dir = attrs.is_directory();
        let key = upcase_key(path);
        let was_on_disk = self.nodes.get(&key).is_some_and(|n| n.on_disk);
        let dir_fd = if is_dir {
            if promote && was_on_disk {
                let fd = fsops::open_dir(&pfd, leaf)
                    .map_err(|e| Error::io("open directory", shown.clone(), e))?;
                fsops::remove_xattr(&fd, meta::XATTR_IMPLICIT)
                    .map_err(|e| meta::xattr_error(&shown, e))?;
                Some(fd)
            } else {
                fsops::mkdir(&pfd, leaf)
                    .map_err(|e| Error::io("create directory", shown.clone(), e))?;
                Some(
                    fsops::open_dir(&pfd, leaf)
                        .map_err(|e| Error::io("open directory", shown.clone(), e))?,
                )
            }
        } else {
            None
        };
        if let Some(n) = self.nodes.get_mut(&key) {
            n.on_disk = true;
        }
        if is_dir {
            self.dirs.push((path.to_string(), *info));
        }
        let times = meta::encode_times(info);
        let body = match (rep, dir_fd) {
            (Rep::Framed, dir_fd) => {
                // hcsshim: a directory's attributes and stream go to `<dir>.$wcidirs$`
                // (§3, §4.1 step 5); a file holds them itself.
                drop(dir_fd);
                let (file_name, file_shown) = if is_dir {
                    (format!("{leaf}{WCIDIRS}"), format!("{shown}{WCIDIRS}"))
                } else {
                    (leaf.to_string(), shown.clone())
                };
                let mut f = fsops::create_file(&pfd, &file_name)
                    .map_err(|e| Error::io("create file", file_shown.clone(), e))?;
                fsops::set_xattr(&f, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&file_shown, e))?;
                f.write_all(&attrs.0.to_le_bytes())
                    .map_err(|e| Error::io("write file", file_shown, e))?;
                Body::Framed(BufWriter::with_capacity(BUFFER, f))
            }
            (Rep::Plain, Some(fd)) => {
                fsops::set_xattr(&fd, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&shown, e))?;
                Body::Plain(Box::new(PlainEntry {
                    obj: PlainObj::Dir(fd),
                    splitter: Splitter::new(false),
                    template: Template::Mem(Vec::new()),
                    attrs,
                }))
            }
            (Rep::Plain, None) => {
                let f = fsops::create_file(&pfd, leaf)
                    .map_err(|e| Error::io("create file", shown.clone(), e))?;
                fsops::set_xattr(&f, meta::XATTR_TIMES, &times)
                    .map_err(|e| meta::xattr_error(&shown, e))?;
                Body::Plain(Box::new(PlainEntry {
                    obj: PlainObj::File(BufWriter::with_capacity(BUFFER, f)),
                    splitter: Splitter::new(true),
                    template: Template::Mem(Vec::new()),
                    attrs,
                }))
            }
        };
        self.current = Some(Current {
            name: path.to_string(),
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
        let shown = cur.name.replace('\\', "/");
        let atime = cur.info.last_access_time;
        let mtime = cur.info.last_write_time;
        match cur.body {
            Body::Framed(w) => {
                let f = w
                    .into_inner()
                    .map_err(|e| Error::io("write file", shown.clone(), e.into_error()))?;
                fsops::set_times(&f, atime, mtime).map_err(|e| Error::io("set times", shown, e))?;
            }
            Body::Plain(p) => {
                let PlainEntry {
                    obj,
                    splitter,
                    template,
                    attrs,
                } = *p;
                let template = match template {
                    Template::Mem(v) => Payload::Inline(v),
                    Template::Blob { blob, file, len } => {
                        file.into_inner().map_err(|e| {
                            Error::io("write metadata sidecar", shown.clone(), e.into_error())
                        })?;
                        Payload::Sidecar { blob, len }
                    }
                };
                let cut = splitter.cut();
                meta::set_payload_xattr(
                    obj.fd(),
                    meta::XATTR_STREAM,
                    &shown,
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
                        .map_err(|e| Error::io("write file", shown.clone(), e.into_error()))?;
                    fsops::set_times(&f, atime, mtime)
                        .map_err(|e| Error::io("set times", shown, e))?;
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
        for (i, t) in self.tombstones.iter().enumerate() {
            match tombstones::line_for(t) {
                Some(l) => lines.push(l),
                None => extras.push((i as u64, t.as_str())),
            }
        }
        let f = fsops::create_file(&self.root, names::TOMBSTONES_TXT)
            .map_err(|e| Error::io("create file", names::TOMBSTONES_TXT, e))?;
        tombstones::write(BufWriter::new(f), lines)
            .map_err(|e| Error::io("write file", names::TOMBSTONES_TXT, e))?;
        if !extras.is_empty() {
            let bytes = meta::encode_extra_tombstones(&extras);
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
        self.dir_cache = None;
        for (path, info) in self.dirs.iter().rev() {
            let comps: Vec<&str> = path.split('\\').collect();
            let shown = path.replace('\\', "/");
            let fd = fsops::open_dir_path(&self.root, &comps)
                .map_err(|e| Error::io("open directory", shown.clone(), e))?;
            fsops::set_times(&fd, info.last_access_time, info.last_write_time)
                .map_err(|e| Error::io("set times", shown, e))?;
        }
        let staging = self.staging.clone().unwrap_or_default();
        fsops::rename(&self.parent, &staging, &self.target, self.replace_empty).map_err(|e| {
            Error::io(
                "rename staging directory into place",
                self.path.display().to_string(),
                e,
            )
        })?;
        self.staging = None;
        Ok(())
    }
}

impl LayerWriter for FolderLayerWriter {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        self.finish().map_err(|e| self.poison(e))?;
        let is_dir = info.file_attributes.is_directory();
        let rep = Rep::of(name.as_str(), is_dir);
        Self::check_storable(name, is_dir && rep == Rep::Framed)?;
        let parent = self.resolve_parents(name)?;
        let (path, promote) = self.bind(name, &parent, info.file_attributes, rep)?;
        self.create_entry(&path, promote, info, rep)
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
        let missing = || {
            Error::Model(wclayer_layer::Error::LinkTargetMissing {
                name: name.original().to_string(),
                target: target.original().to_string(),
            })
        };
        let (target_path, target_rep) = match self.nodes.get(&target.key()) {
            Some(Node {
                path,
                kind: NodeKind::Added { attrs, rep },
                ..
            }) => {
                if attrs.is_directory() {
                    return Err(Error::Model(wclayer_layer::Error::LinkTargetDirectory {
                        name: name.original().to_string(),
                        target: target.original().to_string(),
                    })
                    .into());
                }
                (path.clone(), *rep)
            }
            _ => return Err(missing().into()),
        };
        Self::check_storable(name, false)?;
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
        let attrs = match self.nodes.get(&target.key()).map(|n| n.kind) {
            Some(NodeKind::Added { attrs, .. }) => attrs,
            _ => return Err(missing().into()),
        };
        let parent = self.resolve_parents(name)?;
        let (path, _) = self.bind(name, &parent, attrs, rep)?;
        self.link(&path, &target_path).map_err(|e| self.poison(e))?;
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        // Like the reference model, `remove` ends the current entry.
        self.finish().map_err(|e| self.poison(e))?;
        let parent = self.resolve_parents(name)?;
        self.tombstones.push(join(&parent, name.file_name()));
        Ok(())
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.check_usable()?;
        self.commit().map_err(|e| self.poison(e))?;
        self.closed = true;
        Ok(())
    }
}

impl FolderLayerWriter {
    fn link(&mut self, path: &str, target: &str) -> Result<(), Error> {
        let (parent, leaf) = split_last(path);
        let (tparent, tleaf) = split_last(target);
        self.ensure_on_disk(parent)?;
        let shown = path.replace('\\', "/");
        let tfd = self
            .dir_fd(tparent)
            .map_err(|e| Error::io("open directory", tparent.replace('\\', "/"), e))?;
        let pfd = self
            .dir_fd(parent)
            .map_err(|e| Error::io("open directory", parent.replace('\\', "/"), e))?;
        fsops::hard_link(&tfd, tleaf, &pfd, leaf).map_err(|e| Error::io("hard link", shown, e))?;
        if let Some(n) = self.nodes.get_mut(&upcase_key(path)) {
            n.on_disk = true;
        }
        Ok(())
    }
}

impl Write for FolderLayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Err(e) = self.check_usable() {
            return Err(wclayer_layer::Error::from(e).into());
        }
        let Some(cur) = self.current.as_mut() else {
            return Err(wclayer_layer::Error::NoEntry.into());
        };
        let res = match &mut cur.body {
            Body::Framed(w) => w.write_all(buf),
            Body::Plain(p) => {
                let PlainEntry {
                    obj,
                    splitter,
                    template,
                    ..
                } = &mut **p;
                let mut sink = PlainIo {
                    obj,
                    template,
                    sidecars: &mut self.sidecars,
                    root: &self.root,
                };
                splitter.push(buf, &mut sink)
            }
        };
        match res {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let name = cur.name.replace('\\', "/");
                let e = self.poison(Error::io("write", name, e));
                Err(e.into())
            }
        }
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
        // Close the open files first, then remove what was staged. Errors cannot be
        // reported from `drop`; the staging directory's name says what it is.
        self.current = None;
        self.dir_cache = None;
        if let Some(staging) = self.staging.take() {
            let _ = fsops::remove_tree(&self.parent, &staging.to_string_lossy());
        }
    }
}

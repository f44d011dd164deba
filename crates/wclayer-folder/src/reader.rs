//! [`FolderLayerReader`]: reads a transport folder.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wclayer_backup::{
    BackupStreamReader, FileAttributes, FileBasicInfo, FileIdInfo, FileTime, StreamAttributes,
    StreamHeader, StreamId,
};
use wclayer_fs::{Dir, FileType, Metadata, ambient_authority, xattr};
use wclayer_layer::{Budget, Entry, LayerPath, LayerReader, Limits, LinkInfo, upcase_key};

use crate::meta::{self, Payload, StreamRecord};
use crate::names::{self, Rep, WCIDIRS};
use crate::segments::{Seg, Segments};
use crate::{Error, tombstones};

/// The error of a backup stream whose pieces (file sizes, recorded lengths) add up past 2^64.
const TOO_LONG: &str = "backup stream longer than 2^64 bytes";

/// Reads a transport folder (docs/layer-semantics.md §3) as a delta layer.
///
/// **Folders written by [`crate::FolderLayerWriter`]** carry the `user.wclayer.folder`
/// marker on their root; they are read losslessly: the walk is the reference layer model's
/// delta walk (§0.2: the root's tombstones first, each directory's tombstones right after
/// it, children in bytewise order of their UTF-8 names, implicit directories walked but not
/// reported, also those that only hold tombstones; `tombstones.txt`, `*.$wcidirs$` and
/// `Files\$Recycle.Bin` never reported), and every entry's name, size (§6.3, model row),
/// `FILE_BASIC_INFO`, backup-stream bytes and hard-link structure are exactly what was
/// written. Every stream is seekable.
///
/// **Folders without the marker** (one that came from Windows) are read as hcsshim's legacy
/// reader reads them (§6.1, §0.3): tombstones only below directories the walk reports;
/// `Files\` entries are transport files (attributes from their first 4 bytes, size of the
/// first data stream, seekable, a directory's stream from `<dir>.$wcidirs$`); every other
/// entry is a plain file or directory read as `BackupRead` without security would read it
/// (one data stream holding the file's content; nothing for a directory), sized by the file
/// system, not seekable; `Files` and `Hives` take their times from `Hives\System_Delta`;
/// outside `Files\` the creation and access times are the write time. A transport file's
/// own times come from the file: creation = Linux birth time (the write time where the file
/// system records none), access = atime, write = mtime, change = ctime. Plain objects get
/// the attributes `DIRECTORY` or `ARCHIVE`. Where hcsshim compares names case-sensitively
/// (`Files`, `Hives`, a tombstone's directory) this reader does not (docs/compat.md), and a
/// tombstone is reported with its directory's spelling.
///
/// [`LayerReader::link_info`] reports the opened folder file's `(st_dev, st_ino)` and link
/// count (1 for directories).
///
/// # Drop behaviour
/// Dropping the reader closes its file handles; the folder is never modified.
pub struct FolderLayerReader {
    root: Dir,
    path: PathBuf,
    lossless: bool,
    /// Tombstone names (last component) by case-insensitive key of their directory.
    tombstones: HashMap<String, Vec<String>>,
    /// Lossless folders: directories that exist only as parents of tombstones, by key of
    /// their parent: child key → spelling.
    virtual_dirs: HashMap<String, HashMap<String, String>>,
    stack: Vec<Frame>,
    current: Option<Current>,
    /// The current entry's name, for errors.
    current_name: Option<String>,
    /// What the folder has claimed so far.
    budget: Budget,
    /// Legacy folders: the times of `Hives\System_Delta`, once looked up.
    system_delta: Option<FileBasicInfo>,
    closed: bool,
}

impl std::fmt::Debug for FolderLayerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderLayerReader")
            .field("path", &self.path)
            .field("lossless", &self.lossless)
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

/// One directory being walked.
struct Frame {
    /// Its handle; `None` for a directory known only from tombstones.
    dir: Option<Arc<Dir>>,
    /// Its spelled path (`""` for the root).
    path: String,
    /// What is left to visit, last first.
    pending: Vec<Step>,
}

enum Step {
    /// A child: its real name and, when it exists in the folder, its name there (different
    /// for a name stored under a derived name).
    Child {
        name: String,
        disk: Option<String>,
    },
    Tombstone(String),
}

struct Current {
    stream: Segments,
    seekable: bool,
    link: LinkInfo,
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}\\{name}")
    }
}

fn shown(path: &str) -> String {
    path.replace('\\', "/")
}

/// Lifecycle
impl FolderLayerReader {
    /// Opens the transport folder at `path` and reads its tombstone list.
    ///
    /// # Security
    /// `path` is opened with the process's ambient authority (symbolic links in it are
    /// followed, as the caller wrote them). Everything inside the folder is opened relative
    /// to that handle through `wclayer_fs` (resolved beneath it, never following a symbolic
    /// link, files opened without blocking): symbolic links, devices and FIFOs in the folder
    /// are errors, never followed or read, and nothing outside the folder is opened.
    /// Names are checked to be valid layer names; metadata is length-checked before use.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or its `tombstones.txt` cannot be opened (a missing
    /// `tombstones.txt` keeps its `NotFound` kind, as hcsshim returns the open error);
    /// [`Error::InvalidTombstonesFile`] / [`Error::TombstoneLine`] for a malformed
    /// `tombstones.txt`; [`Error::UnsupportedVersion`] / [`Error::Metadata`] for wclayer
    /// metadata this version cannot read.
    pub fn open(path: &Path) -> Result<FolderLayerReader, Error> {
        Self::open_limited(path, &Limits::default())
    }

    /// [`FolderLayerReader::open`] with the given [`Limits`] instead of the defaults: the
    /// walk fails at the first entry over them ([`wclayer_layer::Error::Limit`]).
    ///
    /// # Errors
    /// As [`FolderLayerReader::open`].
    pub fn open_limited(path: &Path, limits: &Limits) -> Result<FolderLayerReader, Error> {
        let display = path.display().to_string();
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| Error::io("open transport folder", display.clone(), e))?;
        let lossless = match xattr::get(&root, meta::XATTR_FOLDER) {
            Ok(Some(v)) if v == meta::FOLDER_VERSION => true,
            Ok(Some(v)) => {
                return Err(Error::UnsupportedVersion {
                    path: display,
                    version: String::from_utf8_lossy(&v).into_owned(),
                });
            }
            Ok(None) => false,
            // A file system without extended attributes cannot carry our metadata.
            Err(e) if xattr::is_unsupported(&e) => false,
            Err(e) => return Err(Error::io("read extended attribute", display, e)),
        };
        let file = root
            .open_file(names::TOMBSTONES_TXT)
            .map_err(|e| Error::io("open tombstones file", names::TOMBSTONES_TXT, e))?;
        let mut list = tombstones::parse(
            BufReader::new(file),
            names::TOMBSTONES_TXT,
            limits.max_entries,
        )?;
        if lossless {
            list = merge_extra_tombstones(&root, list, limits.max_entries)?;
        }
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        let mut virtual_dirs: HashMap<String, HashMap<String, String>> = HashMap::new();
        for t in &list {
            let parent = t.parent().unwrap_or("");
            groups
                .entry(upcase_key(parent))
                .or_default()
                .push(t.file_name().to_string());
            if lossless {
                // Every ancestor of a tombstone exists in the model, as an implicit
                // directory if nothing else made it (§0.1).
                let comps: Vec<&str> = t.components().collect();
                let mut dir = String::new();
                for c in comps.iter().take(comps.len().saturating_sub(1)) {
                    virtual_dirs
                        .entry(upcase_key(&dir))
                        .or_default()
                        .entry(upcase_key(c))
                        .or_insert_with(|| (*c).to_string());
                    dir = join(&dir, c);
                }
            }
        }
        let mut r = FolderLayerReader {
            root,
            path: path.to_path_buf(),
            lossless,
            tombstones: groups,
            virtual_dirs,
            stack: Vec::new(),
            current: None,
            current_name: None,
            budget: limits.budget(),
            system_delta: None,
            closed: false,
        };
        let root_fd = Arc::new(
            r.root
                .try_clone()
                .map_err(|e| Error::io("open transport folder", display, e))?,
        );
        // hcsshim never reports tombstones of the root; the model reports them first.
        let frame = r.frame(Some(root_fd), "", lossless)?;
        r.stack.push(frame);
        Ok(r)
    }

    /// Whether the folder carries wclayer's metadata and is read losslessly (`false`: it is
    /// read with hcsshim's legacy reader rules).
    #[must_use]
    pub fn is_lossless(&self) -> bool {
        self.lossless
    }

    /// The folder's path, as given to [`FolderLayerReader::open`].
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Puts the tombstones kept in `user.wclayer.tombstones` back into `remove` order among
/// those of `tombstones.txt`; at most `max_entries` tombstones in all.
fn merge_extra_tombstones(
    root: &Dir,
    txt: Vec<LayerPath>,
    max_entries: u64,
) -> Result<Vec<LayerPath>, Error> {
    const ATTR: &str = meta::XATTR_TOMBSTONES;
    /// Most bytes of the extra tombstones' list read into memory: 12 bytes and a name each,
    /// for the few tombstones `tombstones.txt` cannot hold.
    const MAX_EXTRAS: u64 = 64 << 20;
    let raw = xattr::get(root, ATTR).map_err(|e| Error::io("read extended attribute", ".", e))?;
    let Some(raw) = raw else {
        return Ok(txt);
    };
    let payload = meta::decode_payload(&raw).map_err(|r| Error::meta(ATTR, ".", r))?;
    let bytes = meta::read_payload(root, payload, ".", ATTR, MAX_EXTRAS)?;
    let extras = meta::decode_extra_tombstones(&bytes).map_err(|r| Error::meta(ATTR, ".", r))?;
    if (txt.len() as u64).saturating_add(extras.len() as u64) > max_entries {
        return Err(Error::Model(wclayer_layer::Error::Limit {
            name: None,
            what: "entries",
            limit: max_entries,
        }));
    }
    // Both are lengths of vectors in memory, so the sum never saturates.
    let total = txt.len().saturating_add(extras.len());
    let mut slots: Vec<Option<LayerPath>> = vec![None; total];
    for (index, name) in extras {
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| slots.get_mut(i))
            .ok_or_else(|| {
                Error::meta(
                    ATTR,
                    ".",
                    format!("index {index} beyond the {total} tombstones"),
                )
            })?;
        if slot.is_some() {
            return Err(Error::meta(ATTR, ".", format!("index {index} given twice")));
        }
        let p = LayerPath::parse(&name).map_err(|e| Error::meta(ATTR, ".", e.to_string()))?;
        *slot = Some(p);
    }
    let mut txt = txt.into_iter();
    slots
        .into_iter()
        .map(|s| match s {
            Some(p) => Ok(p),
            None => txt
                .next()
                .ok_or_else(|| Error::meta(ATTR, ".", "fewer tombstones than indices")),
        })
        .collect()
}

/// Walk
impl FolderLayerReader {
    /// The contents of directory `path`: its tombstones (when `with_tombstones`), then its
    /// children in bytewise order of their names.
    fn frame(
        &mut self,
        dir: Option<Arc<Dir>>,
        path: &str,
        with_tombstones: bool,
    ) -> Result<Frame, Error> {
        let key = upcase_key(path);
        // (real name, name in the folder)
        let mut children: Vec<(String, Option<String>)> = Vec::new();
        let mut on_disk: HashSet<String> = HashSet::new();
        if let Some(fd) = &dir {
            let raw = fd
                .entries()
                .map_err(|e| Error::io("list directory", shown(path), e))?;
            for name in raw {
                let name = name.into_string().map_err(|n| {
                    Error::bad_file(
                        shown(&join(path, &n.to_string_lossy())),
                        "name is not UTF-8",
                    )
                })?;
                if self.lossless && names::model_skipped(path, &name) {
                    continue;
                }
                let real = if self.lossless && wclayer_fs::names::is_derived(&name) {
                    real_name(fd, &name, &join(path, &name))?
                } else {
                    name.clone()
                };
                if self.lossless {
                    on_disk.insert(upcase_key(&real));
                }
                children.push((real, Some(name)));
            }
        }
        if self.lossless
            && let Some(v) = self.virtual_dirs.get(&key)
        {
            for (child_key, spelled) in v {
                if !on_disk.contains(child_key) && !names::model_skipped(path, spelled) {
                    children.push((spelled.clone(), None));
                }
            }
        }
        // Bytewise order of the UTF-8 names (Go string order, §0.2).
        children.sort_unstable();
        let mut pending: Vec<Step> = children
            .into_iter()
            .rev()
            .map(|(name, disk)| Step::Child { name, disk })
            .collect();
        if with_tombstones && let Some(ts) = self.tombstones.remove(&key) {
            pending.extend(
                ts.iter()
                    .rev()
                    .map(|leaf| Step::Tombstone(join(path, leaf))),
            );
        }
        Ok(Frame {
            dir,
            path: path.to_string(),
            pending,
        })
    }

    /// Visits the folder object `name` in the directory of the top frame; returns the entry
    /// it stands for, if any, after pushing the frame of a directory to walk.
    fn visit(
        &mut self,
        parent: Arc<Dir>,
        parent_path: &str,
        name: &str,
        disk: &str,
    ) -> Result<Option<Entry>, Error> {
        let path = join(parent_path, name);
        let st = parent
            .metadata(disk)
            .map_err(|e| Error::io("stat", shown(&path), e))?;
        match st.file_type {
            FileType::Dir | FileType::File => {}
            FileType::Symlink => {
                return Err(Error::bad_file(
                    shown(&path),
                    "symbolic link in a transport folder (not followed)",
                ));
            }
            FileType::Other => {
                return Err(Error::bad_file(
                    shown(&path),
                    "not a regular file or directory",
                ));
            }
        }
        let is_dir = st.is_dir();
        if !self.lossless {
            // hcsshim skips the recycle bin directory with its subtree (§6.1) ...
            if is_dir && upcase_key(parent_path) == "FILES" && upcase_key(name) == "$RECYCLE.BIN" {
                return Ok(None);
            }
            // ... and does not report `tombstones.txt` or `*.$wcidirs$`, but Go's
            // filepath.Walk still descends into such a directory (without its tombstones).
            if (parent_path.is_empty() && name == names::TOMBSTONES_TXT) || name.ends_with(WCIDIRS)
            {
                if is_dir {
                    let fd = self.open_dir(&parent, disk, &path)?;
                    let frame = self.frame(Some(fd), &path, false)?;
                    self.stack.push(frame);
                }
                return Ok(None);
            }
        }
        let layer_name = match LayerPath::parse(&path) {
            Ok(p) if p.as_str() == path => p,
            Ok(_) => return Err(Error::bad_file(shown(&path), "name contains a backslash")),
            Err(e) => {
                return Err(Error::bad_file(
                    shown(&path),
                    format!("not a layer name: {}", e.reason),
                ));
            }
        };
        if !is_dir {
            let file = parent
                .open_file(disk)
                .map_err(|e| Error::io("open", shown(&path), e))?;
            let entry = self.entry(&parent, disk, layer_name, FolderObj::File(file))?;
            return Ok(Some(entry));
        }
        let fd = self.open_dir(&parent, disk, &path)?;
        if self.lossless
            && xattr::get(&*fd, meta::XATTR_IMPLICIT)
                .map_err(|e| Error::io("read extended attribute", shown(&path), e))?
                .is_some()
        {
            let frame = self.frame(Some(fd), &path, true)?;
            self.stack.push(frame);
            return Ok(None);
        }
        let entry = self.entry(&parent, disk, layer_name, FolderObj::Dir(fd.clone()))?;
        let frame = self.frame(Some(fd), &path, true)?;
        self.stack.push(frame);
        Ok(Some(entry))
    }

    fn open_dir(&self, parent: &Dir, name: &str, path: &str) -> Result<Arc<Dir>, Error> {
        parent
            .open_dir(name)
            .map(Arc::new)
            .map_err(|e| Error::io("open directory", shown(path), e))
    }
}

/// The folder object an entry was found as.
enum FolderObj {
    File(std::fs::File),
    Dir(Arc<Dir>),
}

impl FolderObj {
    fn fd(&self) -> wclayer_fs::BorrowedOsHandle<'_> {
        use wclayer_fs::AsOsHandle;
        match self {
            FolderObj::File(f) => f.as_os_handle(),
            FolderObj::Dir(d) => d.as_os_handle(),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self, FolderObj::Dir(_))
    }
}

fn link_of(m: &Metadata, is_dir: bool) -> LinkInfo {
    LinkInfo {
        number_of_links: if is_dir {
            1
        } else {
            u32::try_from(m.nlink).unwrap_or(u32::MAX)
        },
        file_id: FileIdInfo::from_u64(m.dev, m.ino),
    }
}

/// Entries
impl FolderLayerReader {
    /// Builds the entry `name` found as `obj` and makes it current.
    fn entry(
        &mut self,
        parent: &Dir,
        disk: &str,
        name: LayerPath,
        obj: FolderObj,
    ) -> Result<Entry, Error> {
        let path = name.as_str().to_string();
        let is_dir = obj.is_dir();
        let (size, info, cur) = if self.lossless {
            match Rep::of(&path, is_dir) {
                Rep::Framed => self.framed(parent, disk, &path, obj)?,
                Rep::Plain => self.plain(&path, obj)?,
            }
        } else if names::under_files(&path) {
            self.framed(parent, disk, &path, obj)?
        } else {
            self.legacy_plain(&path, obj)?
        };
        self.current = Some(cur);
        self.current_name = Some(path);
        Ok(Entry::File { name, size, info })
    }

    /// A transport file (`.$wcidirs$` for a directory): u32 LE attributes, then the stream.
    fn framed(
        &mut self,
        parent: &Dir,
        disk: &str,
        path: &str,
        obj: FolderObj,
    ) -> Result<(u64, FileBasicInfo, Current), Error> {
        let is_dir = obj.is_dir();
        let (file, file_path) = match obj {
            FolderObj::File(f) => (f, shown(path)),
            FolderObj::Dir(_) => {
                // The directory's attributes and stream live in `<dir>.$wcidirs$` (§3).
                let wcid = format!("{disk}{WCIDIRS}");
                let shown_wcid = format!("{}{WCIDIRS}", shown(path));
                let f = parent
                    .open_file(&wcid)
                    .map_err(|e| Error::io("open", shown_wcid.clone(), e))?;
                (f, shown_wcid)
            }
        };
        let m = Metadata::of(&file).map_err(|e| Error::io("stat", file_path.clone(), e))?;
        let Some(stream_len) = m.size.checked_sub(4) else {
            return Err(Error::bad_file(
                file_path,
                "transport file shorter than its 4 attribute bytes",
            ));
        };
        let mut attr = [0u8; 4];
        wclayer_fs::read_exact_at(&file, &mut attr, 0)
            .map_err(|e| Error::io("read", file_path.clone(), e))?;
        let attrs = FileAttributes(u32::from_le_bytes(attr));
        let info = if self.lossless {
            times_of(&file, &file_path, attrs)?
        } else {
            file_system_times(&m, attrs)
        };
        let mut stream = Segments::new(vec![Seg::File {
            file: Arc::new(file),
            start: 4,
            len: stream_len,
        }])
        .ok_or_else(|| Error::bad_file(file_path.clone(), TOO_LONG))?;
        let size = if self.lossless {
            if attrs.is_directory() {
                0
            } else {
                model_data_size(&mut stream, path)?
            }
        } else if is_dir {
            0
        } else {
            legacy_data_size(&mut stream, path)?
        };
        let cur = Current {
            stream,
            seekable: true,
            link: link_of(&m, is_dir),
        };
        Ok((size, info, cur))
    }

    /// A plain file or directory of a lossless folder: the template with the file's content
    /// spliced in.
    fn plain(
        &mut self,
        path: &str,
        obj: FolderObj,
    ) -> Result<(u64, FileBasicInfo, Current), Error> {
        const ATTR: &str = meta::XATTR_STREAM;
        let p = shown(path);
        let m = Metadata::of(obj.fd()).map_err(|e| Error::io("stat", p.clone(), e))?;
        let raw = xattr::get(obj.fd(), ATTR)
            .map_err(|e| Error::io("read extended attribute", p.clone(), e))?
            .ok_or_else(|| Error::meta(ATTR, p.clone(), "missing"))?;
        let rec = StreamRecord::decode(&raw).map_err(|r| Error::meta(ATTR, p.clone(), r))?;
        let info = times_of(obj.fd(), &p, rec.attributes)?;
        let template: Vec<Seg> = match rec.template {
            Payload::Inline(b) => vec![Seg::Mem(Arc::from(b))],
            Payload::Sidecar { blob, len } => {
                let f = meta::open_blob(&self.root, blob, len, &p, ATTR)?;
                vec![Seg::File {
                    file: Arc::new(f),
                    start: 0,
                    len,
                }]
            }
        };
        let segs = match (rec.cut, &obj) {
            (None, _) => template,
            (Some(_), FolderObj::Dir(_)) => {
                return Err(Error::meta(ATTR, p, "a directory cannot hold data"));
            }
            (Some((off, len)), FolderObj::File(f)) => {
                if m.size != len {
                    return Err(Error::ContentChanged {
                        path: p,
                        expected: len,
                        found: m.size,
                    });
                }
                let content = Seg::File {
                    file: Arc::new(f.try_clone().map_err(|e| Error::io("open", p.clone(), e))?),
                    start: 0,
                    len,
                };
                let mut out = split_segs(template, off)
                    .ok_or_else(|| Error::bad_file(p.clone(), TOO_LONG))?;
                out.insert(1, content);
                out
            }
        };
        let mut stream = Segments::new(segs).ok_or_else(|| Error::bad_file(p, TOO_LONG))?;
        let size = if rec.attributes.is_directory() {
            0
        } else {
            model_data_size(&mut stream, path)?
        };
        let cur = Current {
            stream,
            seekable: true,
            link: link_of(&m, obj.is_dir()),
        };
        Ok((size, info, cur))
    }

    /// A plain file or directory of a folder from Windows, read as `BackupRead` without
    /// security reads it (§6.1).
    fn legacy_plain(
        &mut self,
        path: &str,
        obj: FolderObj,
    ) -> Result<(u64, FileBasicInfo, Current), Error> {
        let p = shown(path);
        let m = Metadata::of(obj.fd()).map_err(|e| Error::io("stat", p.clone(), e))?;
        let mut info = file_system_times(
            &m,
            if obj.is_dir() {
                FileAttributes::DIRECTORY
            } else {
                FileAttributes::ARCHIVE
            },
        );
        if names::is_files_or_hives(path) {
            // "The Hives directory has a non-deterministic file time because of the nature
            // of the import process. Use the times from System_Delta." (hcsshim)
            let sd = self.system_delta_times()?;
            info = FileBasicInfo {
                file_attributes: info.file_attributes,
                ..sd
            };
        }
        // "The creation time and access time get reset for files outside of the Files path."
        info.creation_time = info.last_write_time;
        info.last_access_time = info.last_write_time;
        let (size, stream) = match obj {
            FolderObj::Dir(_) => (0, Segments::default()),
            FolderObj::File(f) => {
                let mut header = Vec::with_capacity(StreamHeader::FIXED_SIZE);
                header.extend_from_slice(&StreamId::DATA.0.to_le_bytes());
                header.extend_from_slice(&StreamAttributes::NORMAL.0.to_le_bytes());
                header.extend_from_slice(&m.size.to_le_bytes());
                header.extend_from_slice(&0u32.to_le_bytes());
                let segs = vec![
                    Seg::Mem(Arc::from(header)),
                    Seg::File {
                        file: Arc::new(f),
                        start: 0,
                        len: m.size,
                    },
                ];
                let stream =
                    Segments::new(segs).ok_or_else(|| Error::bad_file(p.clone(), TOO_LONG))?;
                (m.size, stream)
            }
        };
        let cur = Current {
            stream,
            seekable: false,
            link: link_of(&m, m.is_dir()),
        };
        Ok((size, info, cur))
    }

    /// The times of `Hives\System_Delta` (names matched case-insensitively).
    fn system_delta_times(&mut self) -> Result<FileBasicInfo, Error> {
        if let Some(t) = self.system_delta {
            return Ok(t);
        }
        const WHAT: &str = "Hives/System_Delta";
        let err = |e| Error::io("open (for the times of Files and Hives)", WHAT, e);
        let hives_name = find_ci(&self.root, "Hives").map_err(err)?;
        let hives = self.root.open_dir(&hives_name).map_err(err)?;
        let sd_name = find_ci(&hives, "System_Delta").map_err(err)?;
        let f = hives.open_file(&sd_name).map_err(err)?;
        let m = Metadata::of(&f).map_err(err)?;
        let t = file_system_times(&m, FileAttributes::ARCHIVE);
        self.system_delta = Some(t);
        Ok(t)
    }
}

/// A folder object's times as the file system has them (a folder from Windows carries no
/// others): creation = the birth time where the file system records one, else the write
/// time; access = atime; write = mtime; change = ctime.
fn file_system_times(m: &Metadata, file_attributes: FileAttributes) -> FileBasicInfo {
    let ft = FileTime::from_unix_exact;
    FileBasicInfo {
        creation_time: ft(m.btime.unwrap_or(m.mtime)),
        last_access_time: ft(m.atime),
        last_write_time: ft(m.mtime),
        change_time: ft(m.ctime),
        file_attributes,
    }
}

/// The real name of the object `disk` (a derived name) in `dir`, from `user.wclayer.name`.
fn real_name(dir: &Dir, disk: &str, path: &str) -> Result<String, Error> {
    const ATTR: &str = meta::XATTR_NAME;
    let shown = shown(path);
    let m = dir
        .metadata(disk)
        .map_err(|e| Error::io("stat", shown.clone(), e))?;
    let raw = if m.is_dir() {
        let d = dir
            .open_dir(disk)
            .map_err(|e| Error::io("open directory", shown.clone(), e))?;
        xattr::get(&d, ATTR)
    } else {
        let f = dir
            .open_file(disk)
            .map_err(|e| Error::io("open", shown.clone(), e))?;
        xattr::get(&f, ATTR)
    }
    .map_err(|e| Error::io("read extended attribute", shown.clone(), e))?
    .ok_or_else(|| Error::meta(ATTR, shown.clone(), "missing on a derived name"))?;
    let name = String::from_utf8(raw).map_err(|_| Error::meta(ATTR, shown.clone(), "not UTF-8"))?;
    // The real name must be one the derived name stands for, or a folder could alias names.
    if wclayer_fs::names::disk_name(&name) != disk && names::dir_disk_name(&name) != disk {
        return Err(Error::meta(ATTR, shown, "does not match the derived name"));
    }
    Ok(name)
}

/// The name in `dir` equal to `want`, or else equal to it case-insensitively.
fn find_ci(dir: &Dir, want: &str) -> io::Result<String> {
    match dir.metadata(want) {
        Ok(_) => return Ok(want.to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let key = upcase_key(want);
    let mut names: Vec<String> = dir
        .entries()?
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .filter(|n| upcase_key(n) == key)
        .collect();
    names.sort_unstable();
    names
        .into_iter()
        .next()
        .ok_or_else(|| io::ErrorKind::NotFound.into())
}

/// `user.wclayer.times` of an object, with `attrs`.
fn times_of(
    fd: impl wclayer_fs::AsOsHandle,
    path: &str,
    attrs: FileAttributes,
) -> Result<FileBasicInfo, Error> {
    const ATTR: &str = meta::XATTR_TIMES;
    let raw = xattr::get(fd, ATTR)
        .map_err(|e| Error::io("read extended attribute", path, e))?
        .ok_or_else(|| Error::meta(ATTR, path, "missing"))?;
    meta::decode_times(&raw, attrs).map_err(|r| Error::meta(ATTR, path, r))
}

/// Splits template segments at offset `off` into the part before and the part after; the
/// caller inserts the content between them (at index 1). `None` when a file segment ends past
/// 2^64.
fn split_segs(template: Vec<Seg>, off: u64) -> Option<Vec<Seg>> {
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut pos = 0u64;
    for seg in template {
        let len = match &seg {
            Seg::Mem(b) => b.len() as u64,
            Seg::File { len, .. } => *len,
        };
        let cut = off.saturating_sub(pos).min(len);
        match seg {
            Seg::Mem(b) => {
                let at = usize::try_from(cut).unwrap_or(b.len()).min(b.len());
                let (x, y) = b.split_at(at);
                before.push(Seg::Mem(Arc::from(x)));
                after.push(Seg::Mem(Arc::from(y)));
            }
            Seg::File { file, start, len } => {
                before.push(Seg::File {
                    file: file.clone(),
                    start,
                    len: cut,
                });
                after.push(Seg::File {
                    file,
                    start: start.checked_add(cut)?,
                    // `cut` is at most `len`.
                    len: len.saturating_sub(cut),
                });
            }
        }
        // Past 2^64 every `cut` is 0 whether `pos` saturates or not.
        pos = pos.saturating_add(len);
    }
    // One segment before, one after: the template is a single piece.
    let before = before
        .into_iter()
        .next()
        .unwrap_or(Seg::Mem(Arc::from(&[][..])));
    let after = after
        .into_iter()
        .next()
        .unwrap_or(Seg::Mem(Arc::from(&[][..])));
    Some(vec![before, after])
}

/// The size the reference layer model reports for a non-directory (§6.3, model row): the
/// `Size` of the first data stream, or for a sparse data stream of size 0 followed by sparse
/// blocks, the terminating block's offset (exactly as `wclayer_layer::MemLayer` computes it).
fn model_data_size(stream: &mut Segments, name: &str) -> Result<u64, Error> {
    let result = wclayer_layer::ReportedSize::of_stream(&mut *stream);
    rewind(stream, name)?;
    result.map_err(|source| {
        Error::Model(wclayer_layer::Error::Stream {
            name: name.to_string(),
            source,
        })
    })
}

/// hcsshim's `findBackupStreamSize`: the `Size` of the first data stream (0 for a sparse
/// file described by blocks, §6.3), 0 without one. go-winio does not check stream ids, so
/// unknown ids are skipped.
fn legacy_data_size(stream: &mut Segments, name: &str) -> Result<u64, Error> {
    let result = (|| {
        let mut r = BackupStreamReader::new(&mut *stream);
        loop {
            match r.next_header_seek() {
                Ok(Some(h)) if h.id == StreamId::DATA => return Ok(h.size),
                Ok(Some(_)) | Err(wclayer_backup::Error::UnknownStreamId { .. }) => {}
                Ok(None) => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    })();
    rewind(stream, name)?;
    result.map_err(|source| {
        Error::Model(wclayer_layer::Error::Stream {
            name: name.to_string(),
            source,
        })
    })
}

fn rewind(stream: &mut Segments, name: &str) -> Result<(), Error> {
    stream
        .seek(SeekFrom::Start(0))
        .map(|_| ())
        .map_err(|e| Error::io("seek", name, e))
}

impl LayerReader for FolderLayerReader {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        if self.closed {
            return Err(wclayer_layer::Error::Closed);
        }
        self.current = None;
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(step) = frame.pending.pop() else {
                self.stack.pop();
                continue;
            };
            match step {
                Step::Tombstone(name) => {
                    let name = LayerPath::parse(&name)?;
                    self.budget.entry(name.as_str())?;
                    return Ok(Some(Entry::Tombstone { name }));
                }
                Step::Child { name, disk: None } => {
                    // An implicit directory that only holds tombstones (lossless folders).
                    let path = join(&frame.path, &name);
                    let f = self.frame(None, &path, true)?;
                    self.stack.push(f);
                }
                Step::Child {
                    name,
                    disk: Some(disk),
                } => {
                    let Some(dir) = frame.dir.clone() else {
                        continue;
                    };
                    let parent_path = frame.path.clone();
                    if let Some(e) = self.visit(dir, &parent_path, &name, &disk)? {
                        if let Entry::File { name, size, .. } = &e {
                            self.budget.entry(name.as_str())?;
                            self.budget.bytes(name.as_str(), *size)?;
                        }
                        return Ok(Some(e));
                    }
                }
            }
        }
    }

    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        if self.closed {
            return Err(wclayer_layer::Error::Closed);
        }
        self.current
            .as_ref()
            .map(|c| c.link)
            .ok_or(wclayer_layer::Error::NoEntry)
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        match &mut self.current {
            Some(c) => c.stream.read(buf).map_err(|e| {
                Error::io("read", shown(self.current_name.as_deref().unwrap_or("")), e).into()
            }),
            None => Ok(0),
        }
    }

    /// The stream of an entry outside `Files\` of a folder from Windows is read as
    /// `BackupRead` produces it, once (hcsshim's legacy reader cannot re-read it either).
    fn can_seek_stream(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.seekable)
    }

    fn seek_stream(&mut self, pos: SeekFrom) -> Result<u64, wclayer_layer::Error> {
        match &mut self.current {
            Some(c) if c.seekable => c.stream.seek(pos).map_err(|e| {
                Error::io("seek", shown(self.current_name.as_deref().unwrap_or("")), e).into()
            }),
            Some(_) => Err(wclayer_layer::Error::Unseekable),
            None => Err(wclayer_layer::Error::NoEntry),
        }
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.closed = true;
        self.stack.clear();
        self.current = None;
        Ok(())
    }
}

impl Read for FolderLayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_stream(buf)?)
    }
}

//! A [`Host`] in memory that records every call: the test double of the Windows back end.
//!
//! [`RecordingHost`] keeps a small NTFS-like tree (case-insensitive, case-preserving names;
//! files with attributes, four times, plain content and a restored backup stream; hard links
//! sharing one file; reparse points that relative opens refuse to cross) and writes one line
//! per call into a log, so tests check the order of calls hcsshim makes. The HCS calls are
//! simulated as far as the writers and readers need: `ImportLayer` moves a transport
//! folder's entries into the layer, `ExportLayer` writes a layer's `Files` and `Hives` as a
//! transport folder with the tombstones made after its import, the others are recorded.
//! A call can be made to fail ([`RecordingHost::fail_on`]).
//!
//! Paths are handled as text with `\` separators (`/` in a path is read as `\`), so tests
//! use Windows paths (`C:\layers\base`) on every system.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use wclayer_backup::{FileAttributes, FileBasicInfo, FileIdInfo, FileTime};

use crate::host::{DirEntry, Guid, Host, HostFile, LayerDescriptor, Open, Stat};

/// One file or directory's data, shared by its hard links.
#[derive(Debug, Default)]
struct Content {
    id: u64,
    info: FileBasicInfo,
    data: Vec<u8>,
    backup: Vec<u8>,
    links: u32,
}

#[derive(Debug, Clone)]
struct Node {
    /// The path as created (case preserved).
    display: String,
    content: Rc<RefCell<Content>>,
}

#[derive(Debug, Default)]
struct State {
    /// Keyed by the upper-cased full path.
    nodes: BTreeMap<String, Node>,
    calls: Vec<String>,
    fail: Vec<String>,
    next_id: u64,
    temp: u32,
    /// Tombstones of imported layers, by upper-cased layer path.
    tombstones: HashMap<String, Vec<String>>,
}

/// The in-memory, recording [`Host`] (see the module documentation). Clones share one tree
/// and one log.
#[derive(Debug, Clone, Default)]
pub struct RecordingHost {
    state: Rc<RefCell<State>>,
}

/// A root of a [`RecordingHost`].
#[derive(Debug)]
pub struct FakeRoot {
    path: PathBuf,
    text: String,
}

/// An open file of a [`RecordingHost`].
#[derive(Debug)]
pub struct FakeFile {
    state: Rc<RefCell<State>>,
    path: String,
    content: Rc<RefCell<Content>>,
    pos: usize,
    backup_pos: usize,
}

fn text(path: &Path) -> String {
    path.to_string_lossy().replace('/', "\\")
}

fn key(path: &str) -> String {
    path.to_uppercase()
}

fn join(root: &str, rel: &str) -> String {
    if rel.is_empty() {
        root.to_owned()
    } else {
        format!("{root}\\{rel}")
    }
}

fn parent_of(path: &str) -> Option<&str> {
    path.rfind('\\').and_then(|i| path.get(..i))
}

fn err(kind: io::ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, what.to_owned())
}

fn is_dir(c: &Content) -> bool {
    c.info.file_attributes.0 & FileAttributes::DIRECTORY.0 != 0
}

fn is_reparse(c: &Content) -> bool {
    c.info.file_attributes.0 & FileAttributes::REPARSE_POINT.0 != 0
}

impl State {
    fn record(&mut self, line: String) -> io::Result<()> {
        let failing = self.fail.iter().position(|f| line.starts_with(f.as_str()));
        self.calls.push(line.clone());
        if let Some(i) = failing {
            self.fail.remove(i);
            return Err(io::Error::other(format!("injected failure: {line}")));
        }
        Ok(())
    }

    fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(&key(path))
    }

    /// Checks that no directory between `root` and `path` (both excluded) is a reparse
    /// point and that the parent exists as a directory.
    fn check_way(&self, root: &str, path: &str) -> io::Result<()> {
        let mut p = parent_of(path);
        let mut first = true;
        while let Some(dir) = p {
            if dir.len() < root.len() {
                break;
            }
            let node = self
                .get(dir)
                .ok_or_else(|| err(io::ErrorKind::NotFound, "parent not found"))?;
            let c = node.content.borrow();
            if first && !is_dir(&c) {
                return Err(err(io::ErrorKind::NotADirectory, "parent is no directory"));
            }
            if dir.len() > root.len() && is_reparse(&c) {
                return Err(err(
                    io::ErrorKind::PermissionDenied,
                    "reparse point encountered",
                ));
            }
            first = false;
            if dir.len() == root.len() {
                break;
            }
            p = parent_of(dir);
        }
        Ok(())
    }

    fn insert(&mut self, path: &str, attributes: u32) -> Rc<RefCell<Content>> {
        self.next_id = self.next_id.saturating_add(1);
        let content = Rc::new(RefCell::new(Content {
            id: self.next_id,
            info: FileBasicInfo {
                file_attributes: FileAttributes(attributes),
                ..FileBasicInfo::default()
            },
            links: 1,
            ..Content::default()
        }));
        self.nodes.insert(
            key(path),
            Node {
                display: path.to_owned(),
                content: Rc::clone(&content),
            },
        );
        content
    }

    fn children(&self, path: &str) -> Vec<Node> {
        let prefix = format!("{}\\", key(path));
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| k.get(prefix.len()..).is_some_and(|r| !r.contains('\\')))
            .map(|(_, n)| n.clone())
            .collect()
    }

    fn remove_tree(&mut self, path: &str) {
        let k = key(path);
        let prefix = format!("{k}\\");
        let doomed: Vec<String> = self
            .nodes
            .keys()
            .filter(|n| **n == k || n.starts_with(&prefix))
            .cloned()
            .collect();
        for d in doomed {
            if let Some(n) = self.nodes.remove(&d) {
                let mut c = n.content.borrow_mut();
                c.links = c.links.saturating_sub(1);
            }
        }
    }

    fn mkdir_all(&mut self, path: &str) {
        if self.get(path).is_some() {
            return;
        }
        if let Some(p) = parent_of(path) {
            self.mkdir_all(p);
        }
        self.insert(path, FileAttributes::DIRECTORY.0);
    }
}

impl RecordingHost {
    /// An empty tree.
    #[must_use]
    pub fn new() -> RecordingHost {
        RecordingHost::default()
    }

    /// Every call so far, one line each, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }

    /// Forgets the calls recorded so far.
    pub fn clear_calls(&self) {
        self.state.borrow_mut().calls.clear();
    }

    /// Makes the next call whose log line starts with `prefix` fail (after recording it).
    pub fn fail_on(&self, prefix: &str) {
        self.state.borrow_mut().fail.push(prefix.to_owned());
    }

    /// Creates the directory `path` and its missing parents, unrecorded (test set-up).
    pub fn make_dirs(&self, path: &str) {
        self.state.borrow_mut().mkdir_all(path);
    }

    /// Whether `path` exists.
    #[must_use]
    pub fn exists(&self, path: &str) -> bool {
        self.state.borrow().get(path).is_some()
    }

    /// Every path at or below `path`, as created, in upper-cased order.
    #[must_use]
    pub fn tree(&self, path: &str) -> Vec<String> {
        let s = self.state.borrow();
        let k = key(path);
        let prefix = format!("{k}\\");
        s.nodes
            .iter()
            .filter(|(n, _)| **n == k || n.starts_with(&prefix))
            .map(|(_, n)| n.display.clone())
            .collect()
    }

    /// The times and attributes of `path`.
    #[must_use]
    pub fn info(&self, path: &str) -> Option<FileBasicInfo> {
        self.state
            .borrow()
            .get(path)
            .map(|n| n.content.borrow().info)
    }

    /// The backup stream restored into `path` (the bytes `BackupWrite` received).
    #[must_use]
    pub fn restored(&self, path: &str) -> Option<Vec<u8>> {
        self.state
            .borrow()
            .get(path)
            .map(|n| n.content.borrow().backup.clone())
    }

    /// The plain content of `path`.
    #[must_use]
    pub fn content(&self, path: &str) -> Option<Vec<u8>> {
        self.state
            .borrow()
            .get(path)
            .map(|n| n.content.borrow().data.clone())
    }

    /// The link count of `path`.
    #[must_use]
    pub fn links(&self, path: &str) -> Option<u32> {
        self.state
            .borrow()
            .get(path)
            .map(|n| n.content.borrow().links)
    }

    /// Creates the file `path` (parents made as needed) with `info` and the restored backup
    /// stream `backup`, unrecorded (test set-up of parent layers).
    pub fn put_file(&self, path: &str, info: FileBasicInfo, backup: &[u8]) {
        let mut s = self.state.borrow_mut();
        if let Some(p) = parent_of(path) {
            s.mkdir_all(p);
        }
        let c = s.insert(path, info.file_attributes.0);
        let mut c = c.borrow_mut();
        c.info = info;
        c.backup = backup.to_vec();
    }

    fn simulate_import(&self, id: &str, folder: &str) {
        let mut s = self.state.borrow_mut();
        let fkey = key(folder);
        let prefix = format!("{fkey}\\");
        let entries: Vec<(String, Node)> = s
            .nodes
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        for (_, node) in entries {
            let Some(rel) = node.display.get(folder.len().saturating_add(1)..) else {
                continue;
            };
            let c = node.content.borrow();
            if rel.eq_ignore_ascii_case("tombstones.txt") {
                continue;
            }
            let dest = join(id, rel.strip_suffix(crate::names::WCIDIRS).unwrap_or(rel));
            if let Some(p) = parent_of(&dest) {
                s.mkdir_all(p);
            }
            let under_files = crate::names::has_path_prefix(rel, "Files");
            if is_dir(&c) {
                s.mkdir_all(&dest);
                continue;
            }
            let (attrs, stream) = if under_files || rel.ends_with(crate::names::WCIDIRS) {
                let a = c.data.get(..4).and_then(|a| <[u8; 4]>::try_from(a).ok());
                (
                    a.map_or(0, u32::from_le_bytes),
                    c.data.get(4..).unwrap_or_default().to_vec(),
                )
            } else {
                (c.info.file_attributes.0, c.backup.clone())
            };
            let info = FileBasicInfo {
                file_attributes: FileAttributes(attrs),
                ..c.info
            };
            let target = if rel.ends_with(crate::names::WCIDIRS) {
                s.mkdir_all(&dest);
                s.get(&dest).map(|n| Rc::clone(&n.content))
            } else {
                Some(s.insert(&dest, attrs))
            };
            if let Some(t) = target {
                let mut t = t.borrow_mut();
                t.info = info;
                t.backup = stream;
            }
        }
        s.tombstones.insert(key(id), Vec::new());
    }

    fn simulate_export(&self, id: &str, folder: &str) {
        let mut s = self.state.borrow_mut();
        let lkey = key(id);
        let prefix = format!("{lkey}\\");
        let entries: Vec<Node> = s
            .nodes
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, n)| n.clone())
            .collect();
        for node in entries {
            let Some(rel) = node.display.get(id.len().saturating_add(1)..) else {
                continue;
            };
            let files = rel == "Files" || crate::names::has_path_prefix(rel, "Files");
            let hives = rel == "Hives" || crate::names::has_path_prefix(rel, "Hives");
            if !files && !hives {
                continue;
            }
            let c = node.content.borrow();
            let dest = join(folder, rel);
            let mut data = c.info.file_attributes.0.to_le_bytes().to_vec();
            data.extend_from_slice(&c.backup);
            if is_dir(&c) {
                s.mkdir_all(&dest);
                if files && rel != "Files" {
                    let f = s.insert(&format!("{dest}{}", crate::names::WCIDIRS), 0);
                    let mut f = f.borrow_mut();
                    f.info = FileBasicInfo {
                        file_attributes: FileAttributes(0),
                        ..c.info
                    };
                    f.data = data;
                }
                if let Some(n) = s.get(&dest) {
                    n.content.borrow_mut().info = c.info;
                }
            } else {
                let f = s.insert(&dest, 0);
                let mut f = f.borrow_mut();
                if files {
                    f.info = FileBasicInfo {
                        file_attributes: FileAttributes(0),
                        ..c.info
                    };
                    f.data = data;
                } else {
                    f.info = c.info;
                    f.backup = c.backup.clone();
                }
            }
        }
        let tombstones = s.tombstones.get(&lkey).cloned().unwrap_or_default();
        if !tombstones.is_empty() {
            let mut txt = b"\xEF\xBB\xBFVersion 1.0\n".to_vec();
            for t in tombstones {
                let line = t.strip_prefix("Files").unwrap_or(&t);
                txt.extend_from_slice(line.as_bytes());
                txt.push(b'\n');
            }
            let f = s.insert(&join(folder, crate::names::TOMBSTONES_TXT), 0);
            f.borrow_mut().data = txt;
        }
    }
}

/// The size of the unnamed data stream in a restored backup stream (what the file system
/// reports as the file's size).
fn restored_data_size(backup: &[u8]) -> u64 {
    let mut r = wclayer_backup::BackupStreamReader::new(backup);
    while let Ok(Some(h)) = r.next_header() {
        if h.id == wclayer_backup::StreamId::DATA {
            return h.size;
        }
    }
    0
}

fn guid_of(name: &str) -> Guid {
    // A stable, made-up id: FNV-1a of the name, spread over the GUID.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_le_bytes();
    Guid {
        data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        data2: u16::from_le_bytes([b[4], b[5]]),
        data3: u16::from_le_bytes([b[6], b[7]]),
        data4: b,
    }
}

fn parents_text(parents: &[LayerDescriptor]) -> String {
    parents
        .iter()
        .map(|d| format!("{}={}", text(&d.path), d.layer_id))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RecordingHost {
    /// Records one call (failing it when asked to).
    fn record(&self, line: String) -> io::Result<()> {
        self.state.borrow_mut().record(line)
    }
}

impl FakeFile {
    /// Records one call on the file (failing it when asked to).
    fn record(&self, line: String) -> io::Result<()> {
        self.state.borrow_mut().record(line)
    }
}

impl Host for RecordingHost {
    type Root = FakeRoot;
    type File = FakeFile;

    fn open_root(&self, path: &Path) -> io::Result<FakeRoot> {
        let t = text(path);
        let mut s = self.state.borrow_mut();
        s.record(format!("open_root {t}"))?;
        match s.get(&t) {
            Some(n) if is_dir(&n.content.borrow()) => Ok(FakeRoot {
                path: path.to_path_buf(),
                text: t,
            }),
            Some(_) => Err(err(io::ErrorKind::NotADirectory, "not a directory")),
            None => Err(err(io::ErrorKind::NotFound, "not found")),
        }
    }

    fn root_path<'a>(&self, root: &'a FakeRoot) -> &'a Path {
        &root.path
    }

    fn open(&self, root: &FakeRoot, rel: &str, how: Open) -> io::Result<FakeFile> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        let verb = match how {
            Open::CreateFile { security: true } => "create_file+sd",
            Open::CreateFile { security: false } => "create_file",
            Open::CreateDir { security: true } => "create_dir+sd",
            Open::CreateDir { security: false } => "create_dir",
            Open::ExistingForRestore => "open_restore",
            Open::ExistingForBackup => "open_backup",
            Open::ExistingForBackupWithSacl => "open_backup+sacl",
            Open::ExistingForAttributes => "open_attributes",
        };
        s.record(format!("{verb} {path}"))?;
        s.check_way(&root.text, &path)?;
        let content = match how {
            Open::CreateFile { .. } | Open::CreateDir { .. } => {
                if s.get(&path).is_some() {
                    return Err(err(io::ErrorKind::AlreadyExists, "exists"));
                }
                let dir = matches!(how, Open::CreateDir { .. });
                s.insert(
                    &path,
                    if dir {
                        FileAttributes::DIRECTORY.0
                    } else {
                        FileAttributes::ARCHIVE.0
                    },
                )
            }
            _ => s
                .get(&path)
                .map(|n| Rc::clone(&n.content))
                .ok_or_else(|| err(io::ErrorKind::NotFound, "not found"))?,
        };
        Ok(FakeFile {
            state: Rc::clone(&self.state),
            path,
            content,
            pos: 0,
            backup_pos: 0,
        })
    }

    fn lstat(&self, root: &FakeRoot, rel: &str) -> io::Result<Stat> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("lstat {path}"))?;
        s.check_way(&root.text, &path)?;
        let n = s
            .get(&path)
            .ok_or_else(|| err(io::ErrorKind::NotFound, "not found"))?;
        let c = n.content.borrow();
        let size = if c.data.is_empty() {
            restored_data_size(&c.backup)
        } else {
            u64::try_from(c.data.len()).unwrap_or(u64::MAX)
        };
        Ok(Stat {
            attributes: c.info.file_attributes.0,
            size,
        })
    }

    fn mkdir(&self, root: &FakeRoot, rel: &str) -> io::Result<()> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("mkdir {path}"))?;
        s.check_way(&root.text, &path)?;
        if s.get(&path).is_some() {
            return Err(err(io::ErrorKind::AlreadyExists, "exists"));
        }
        s.insert(&path, FileAttributes::DIRECTORY.0);
        Ok(())
    }

    fn remove(&self, root: &FakeRoot, rel: &str) -> io::Result<()> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("remove {path}"))?;
        s.check_way(&root.text, &path)?;
        // In an imported layer the filter shows the parents' files: a removal there is
        // recorded as a tombstone (given back by `ExportLayer`), whether or not the name
        // is the layer's own.
        let imported = s.tombstones.contains_key(&key(&root.text));
        if s.get(&path).is_none() {
            if imported && crate::names::has_path_prefix(rel, "Files") {
                s.tombstones
                    .entry(key(&root.text))
                    .or_default()
                    .push(rel.to_owned());
                return Ok(());
            }
            return Err(err(io::ErrorKind::NotFound, "not found"));
        }
        if !s.children(&path).is_empty() {
            return Err(err(io::ErrorKind::DirectoryNotEmpty, "directory not empty"));
        }
        s.remove_tree(&path);
        if imported && crate::names::has_path_prefix(rel, "Files") {
            s.tombstones
                .entry(key(&root.text))
                .or_default()
                .push(rel.to_owned());
        }
        Ok(())
    }

    fn remove_all(&self, root: &FakeRoot, rel: &str) -> io::Result<()> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("remove_all {path}"))?;
        s.remove_tree(&path);
        Ok(())
    }

    fn link(
        &self,
        old_root: &FakeRoot,
        old: &str,
        new_root: &FakeRoot,
        new: &str,
    ) -> io::Result<()> {
        let from = join(&old_root.text, old);
        let to = join(&new_root.text, new);
        let mut s = self.state.borrow_mut();
        s.record(format!("link {to} -> {from}"))?;
        s.check_way(&old_root.text, &from)?;
        s.check_way(&new_root.text, &to)?;
        let content = s
            .get(&from)
            .map(|n| Rc::clone(&n.content))
            .ok_or_else(|| err(io::ErrorKind::NotFound, "link target not found"))?;
        if is_dir(&content.borrow()) {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                "cannot link a directory",
            ));
        }
        if s.get(&to).is_some() {
            return Err(err(io::ErrorKind::AlreadyExists, "exists"));
        }
        {
            let mut c = content.borrow_mut();
            c.links = c.links.saturating_add(1);
        }
        s.nodes.insert(
            key(&to),
            Node {
                display: to,
                content,
            },
        );
        Ok(())
    }

    fn ensure_not_reparse_point(&self, root: &FakeRoot, rel: &str) -> io::Result<()> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("ensure_not_reparse_point {path}"))?;
        s.check_way(&root.text, &path)?;
        let n = s
            .get(&path)
            .ok_or_else(|| err(io::ErrorKind::NotFound, "not found"))?;
        if is_reparse(&n.content.borrow()) {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                "reparse point encountered",
            ));
        }
        Ok(())
    }

    fn read_dir(&self, root: &FakeRoot, rel: &str) -> io::Result<Vec<DirEntry>> {
        let path = join(&root.text, rel);
        let mut s = self.state.borrow_mut();
        s.record(format!("read_dir {path}"))?;
        if s.get(&path).is_none() {
            return Err(err(io::ErrorKind::NotFound, "not found"));
        }
        Ok(s.children(&path)
            .into_iter()
            .map(|n| DirEntry {
                name: n.display.rsplit('\\').next().unwrap_or_default().to_owned(),
                attributes: n.content.borrow().info.file_attributes.0,
            })
            .collect())
    }

    fn make_temp_dir(&self, prefix: &str) -> io::Result<PathBuf> {
        let mut s = self.state.borrow_mut();
        s.temp = s.temp.saturating_add(1);
        let path = format!(r"C:\tmp\{prefix}{}", s.temp);
        s.record(format!("make_temp_dir {path}"))?;
        s.mkdir_all(&path);
        Ok(PathBuf::from(path))
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        let t = text(path);
        let mut s = self.state.borrow_mut();
        s.record(format!("remove_tree {t}"))?;
        s.remove_tree(&t);
        Ok(())
    }

    fn create_layer_dir(&self, path: &Path) -> io::Result<()> {
        let t = text(path);
        let mut s = self.state.borrow_mut();
        s.record(format!("create_layer_dir {t}"))?;
        if let Some(n) = s.get(&t)
            && (!is_dir(&n.content.borrow()) || !s.children(&t).is_empty())
        {
            return Err(err(io::ErrorKind::AlreadyExists, "exists and is not empty"));
        }
        s.mkdir_all(&t);
        Ok(())
    }

    fn name_to_guid(&self, name: &str) -> io::Result<Guid> {
        self.record(format!("NameToGuid {name}"))?;
        Ok(guid_of(name))
    }

    fn import_layer(
        &self,
        id: &Path,
        folder: &Path,
        parents: &[LayerDescriptor],
    ) -> io::Result<()> {
        let (id, folder) = (text(id), text(folder));
        self.record(format!(
            "ImportLayer {id} from {folder} over [{}]",
            parents_text(parents)
        ))?;
        self.simulate_import(&id, &folder);
        Ok(())
    }

    fn export_layer(
        &self,
        id: &Path,
        folder: &Path,
        parents: &[LayerDescriptor],
    ) -> io::Result<()> {
        let (id, folder) = (text(id), text(folder));
        self.record(format!(
            "ExportLayer {id} to {folder} over [{}]",
            parents_text(parents)
        ))?;
        self.simulate_export(&id, &folder);
        Ok(())
    }

    fn process_base_image(&self, path: &Path) -> io::Result<()> {
        self.record(format!("ProcessBaseImage {}", text(path)))
    }

    fn process_utility_image(&self, path: &Path) -> io::Result<()> {
        self.record(format!("ProcessUtilityImage {}", text(path)))
    }

    fn activate_layer(&self, id: &Path) -> io::Result<()> {
        self.record(format!("ActivateLayer {}", text(id)))
    }

    fn prepare_layer(&self, id: &Path, parents: &[LayerDescriptor]) -> io::Result<()> {
        self.record(format!(
            "PrepareLayer {} over [{}]",
            text(id),
            parents_text(parents)
        ))
    }

    fn get_layer_mount_path(&self, id: &Path) -> io::Result<PathBuf> {
        let t = text(id);
        self.record(format!("GetLayerMountPath {t}"))?;
        Ok(PathBuf::from(format!(r"\\?\Volume{{{}}}", guid_of(&t))))
    }

    fn unprepare_layer(&self, id: &Path) -> io::Result<()> {
        self.record(format!("UnprepareLayer {}", text(id)))
    }

    fn deactivate_layer(&self, id: &Path) -> io::Result<()> {
        self.record(format!("DeactivateLayer {}", text(id)))
    }
}

impl HostFile for FakeFile {
    fn set_basic_info(&mut self, info: &FileBasicInfo) -> io::Result<()> {
        self.record(format!(
            "set_basic_info {} attributes={:#x}",
            self.path, info.file_attributes.0
        ))?;
        let mut c = self.content.borrow_mut();
        // As Windows: a zero time or zero attributes mean "leave as it is", and the
        // directory bit is the file system's, not the caller's.
        let keep =
            |new: FileTime, old: FileTime| if new == FileTime::default() { old } else { new };
        c.info.creation_time = keep(info.creation_time, c.info.creation_time);
        c.info.last_access_time = keep(info.last_access_time, c.info.last_access_time);
        c.info.last_write_time = keep(info.last_write_time, c.info.last_write_time);
        c.info.change_time = keep(info.change_time, c.info.change_time);
        if info.file_attributes.0 != 0 {
            let dir = c.info.file_attributes.0 & FileAttributes::DIRECTORY.0;
            c.info.file_attributes.0 =
                (info.file_attributes.0 & !FileAttributes::DIRECTORY.0) | dir;
        }
        Ok(())
    }

    fn basic_info(&mut self) -> io::Result<FileBasicInfo> {
        Ok(self.content.borrow().info)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.record(format!("write {} {} bytes", self.path, buf.len()))?;
        let mut c = self.content.borrow_mut();
        let end = self.pos.saturating_add(buf.len());
        if c.data.len() < end {
            c.data.resize(end, 0);
        }
        if let Some(dst) = c.data.get_mut(self.pos..end) {
            dst.copy_from_slice(buf);
        }
        self.pos = end;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = self.content.borrow();
        let rest = c.data.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }

    fn content_len(&mut self) -> io::Result<u64> {
        Ok(u64::try_from(self.content.borrow().data.len()).unwrap_or(u64::MAX))
    }

    fn seek(&mut self, pos: u64) -> io::Result<()> {
        self.pos = usize::try_from(pos).map_err(|_| err(io::ErrorKind::InvalidInput, "seek"))?;
        Ok(())
    }

    fn backup_write(&mut self, buf: &[u8], security: bool) -> io::Result<()> {
        let sd = if security { "+sd" } else { "" };
        self.record(format!(
            "backup_write{sd} {} {} bytes",
            self.path,
            buf.len()
        ))?;
        self.content.borrow_mut().backup.extend_from_slice(buf);
        Ok(())
    }

    fn backup_read(&mut self, buf: &mut [u8], security: bool) -> io::Result<usize> {
        let sd = if security { "+sd" } else { "" };
        self.record(format!("backup_read{sd} {}", self.path))?;
        let c = self.content.borrow();
        let rest = c.backup.get(self.backup_pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.backup_pos = self.backup_pos.saturating_add(n);
        Ok(n)
    }

    fn link_info(&mut self) -> io::Result<(u32, FileIdInfo)> {
        let c = self.content.borrow();
        Ok((c.links, FileIdInfo::from_u64(1, c.id)))
    }
}

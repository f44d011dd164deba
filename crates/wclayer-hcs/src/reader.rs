//! hcsshim's two layer readers (docs/layer-semantics.md §6): the base reader walks a base
//! layer directory and reads every entry with `BackupRead` (`internal/wclayer/
//! baselayerreader.go`); the legacy reader has HCS `ExportLayer` write a delta layer as a
//! transport folder and walks that (`internal/wclayer/legacy.go` `legacyLayerReader`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use wclayer_backup::{BackupStreamReader, FileAttributes, FileBasicInfo, StreamId};
use wclayer_layer::{Entry, LayerPath, LayerReader, LinkInfo};

use crate::Error;
use crate::host::{Host, HostFile, Open, Stat};
use crate::legacy::FileRead;
use crate::names::{TOMBSTONES_TXT, WCIDIRS, has_path_prefix, layer_descriptors};

/// A directory being walked: its children not yet visited, last first.
struct Level {
    pending: Vec<String>,
}

/// Pre-order walk below a root, children in bytewise name order (Go's `filepath.Walk`),
/// not descending into reparse points; one listing per directory on the way down.
struct TreeWalk {
    stack: Vec<Level>,
}

impl TreeWalk {
    fn new(first: Vec<String>) -> TreeWalk {
        let mut pending = first;
        pending.reverse();
        TreeWalk {
            stack: vec![Level { pending }],
        }
    }

    fn next_name(&mut self) -> Option<String> {
        loop {
            let level = self.stack.last_mut()?;
            match level.pending.pop() {
                Some(n) => return Some(n),
                None => {
                    self.stack.pop();
                }
            }
        }
    }

    /// Descends into `dir`, whose children are `names`.
    fn enter<H: Host>(&mut self, host: &H, root: &H::Root, dir: &str) -> Result<(), Error> {
        let mut names: Vec<String> = host
            .read_dir(root, dir)
            .map_err(|e| Error::os("list", dir, e))?
            .into_iter()
            .map(|e| format!("{dir}\\{}", e.name))
            .collect();
        names.sort_by(|a, b| b.cmp(a));
        self.stack.push(Level { pending: names });
        Ok(())
    }
}

fn is_recycle_bin(name: &str) -> bool {
    name.eq_ignore_ascii_case(r"Files\$Recycle.Bin")
}

/// `LinkInfo` of the current file of a reader.
fn link_info_of<F: HostFile>(f: Option<&mut F>) -> Result<LinkInfo, wclayer_layer::Error> {
    let f = f.ok_or(wclayer_layer::Error::NoEntry)?;
    let (number_of_links, file_id) = f
        .link_info()
        .map_err(|e| wclayer_layer::Error::io("link info", e))?;
    Ok(LinkInfo {
        number_of_links,
        file_id,
    })
}

fn lstat<H: Host>(host: &H, root: &H::Root, name: &str) -> Result<Option<Stat>, Error> {
    match host.lstat(root, name) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::os("stat", name, e)),
    }
}

/// Reads a base layer directory with `BackupRead` (with security), walking `Files` and,
/// when `UtilityVM\Files` exists, `UtilityVM` and `UtilityVM\Files` with everything below it.
pub struct BaseLayerReader<H: Host> {
    host: H,
    root: Option<H::Root>,
    walk: TreeWalk,
    utility_vm: bool,
    current: Option<H::File>,
}

impl<H: Host> BaseLayerReader<H> {
    /// A reader over the layer directory `path`.
    ///
    /// # Errors
    /// When the directory cannot be opened.
    pub fn new(host: H, path: &Path) -> Result<Self, Error> {
        let root = host
            .open_root(path)
            .map_err(|e| Error::os("open", path.display().to_string(), e))?;
        let utility_vm = lstat(&host, &root, r"UtilityVM\Files")?.is_some();
        Ok(BaseLayerReader {
            host,
            root: Some(root),
            walk: TreeWalk::new(vec!["Files".to_owned()]),
            utility_vm,
            current: None,
        })
    }

    fn next_inner(&mut self) -> Result<Option<Entry>, Error> {
        self.current = None;
        let root = self.root.as_ref().ok_or(Error::Closed)?;
        loop {
            let name = match self.walk.next_name() {
                Some(n) => n,
                None if self.utility_vm => {
                    self.utility_vm = false;
                    self.walk = TreeWalk::new(vec!["UtilityVM".to_owned()]);
                    continue;
                }
                None => return Ok(None),
            };
            if is_recycle_bin(&name) {
                continue;
            }
            // Of `UtilityVM`, only `UtilityVM\Files` and what is below it.
            if has_path_prefix(&name, "UtilityVM")
                && name != r"UtilityVM\Files"
                && !has_path_prefix(&name, r"UtilityVM\Files")
            {
                continue;
            }
            let st = self
                .host
                .lstat(root, &name)
                .map_err(|e| Error::os("stat", name.clone(), e))?;
            if st.is_dir() && !st.is_reparse_point() {
                self.walk.enter(&self.host, root, &name)?;
            }
            let mut file = self
                .host
                .open(root, &name, Open::ExistingForBackup)
                .map_err(|e| Error::os("open", name.clone(), e))?;
            let info = file
                .basic_info()
                .map_err(|e| Error::os("stat", name.clone(), e))?;
            let size = if st.is_dir() { 0 } else { st.size };
            self.current = Some(file);
            return Ok(Some(Entry::File {
                name: LayerPath::parse(&name)?,
                size,
                info,
            }));
        }
    }
}

impl<H: Host> LayerReader for BaseLayerReader<H> {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        Ok(self.next_inner()?)
    }

    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        link_info_of(self.current.as_mut())
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        match self.current.as_mut() {
            None => Ok(0),
            Some(f) => f
                .backup_read(buf, true)
                .map_err(|e| wclayer_layer::Error::io("backup read", e)),
        }
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.current = None;
        self.root
            .take()
            .map(drop)
            .ok_or_else(|| Error::Closed.into())
    }
}

impl<H: Host> io::Read for BaseLayerReader<H> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(buf)
            .map_err(|e| io::Error::new(e.io_kind(), e))
    }
}

/// How the current entry of the legacy reader is read.
enum Stream<F> {
    /// Raw transport bytes from offset 4 (entries under `Files\`), and the position in
    /// them; seekable.
    Raw(F, u64),
    /// `BackupRead` without security (everything else).
    Backup(F),
}

/// Reads a delta layer the way hcsshim does on Windows: HCS `ExportLayer` into a temporary
/// transport folder, then a walk of that folder (docs/layer-semantics.md §6.1). The folder
/// is removed by `close` (or when the reader is dropped).
pub struct LegacyLayerReader<H: Host> {
    host: H,
    folder: PathBuf,
    root: Option<H::Root>,
    walk: TreeWalk,
    tombstones: HashMap<String, Vec<String>>,
    queued: Vec<String>,
    hives_times: Option<FileBasicInfo>,
    current: Option<Stream<H::File>>,
}

impl<H: Host> LegacyLayerReader<H> {
    /// Exports the layer `path` over `parents` (nearest first) and opens the folder.
    ///
    /// # Errors
    /// When HCS cannot export the layer or the folder cannot be read; the folder is removed
    /// then.
    pub fn new(host: H, path: &Path, parents: &[PathBuf]) -> Result<Self, Error> {
        let folder = host
            .make_temp_dir("hcs")
            .map_err(|e| Error::os("create", "temporary folder", e))?;
        match Self::open(&host, path, parents, &folder) {
            Ok((root, tombstones, walk)) => Ok(LegacyLayerReader {
                host,
                folder,
                root: Some(root),
                walk,
                tombstones,
                queued: Vec::new(),
                hives_times: None,
                current: None,
            }),
            Err(e) => {
                let _ = host.remove_tree(&folder);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn open(
        host: &H,
        path: &Path,
        parents: &[PathBuf],
        folder: &Path,
    ) -> Result<(H::Root, HashMap<String, Vec<String>>, TreeWalk), Error> {
        let descriptors = layer_descriptors(host, parents)?;
        host.export_layer(path, folder, &descriptors)
            .map_err(|source| Error::Hcs {
                title: "hcsshim::ExportLayer",
                source,
            })?;
        let root = host
            .open_root(folder)
            .map_err(|e| Error::os("open", folder.display().to_string(), e))?;
        let tombstones = read_tombstones(host, &root)?;
        let mut first: Vec<String> = host
            .read_dir(&root, "")
            .map_err(|e| Error::os("list", folder.display().to_string(), e))?
            .into_iter()
            .map(|e| e.name)
            .filter(|n| n != TOMBSTONES_TXT)
            .collect();
        first.sort();
        Ok((root, tombstones, TreeWalk::new(first)))
    }

    /// The times of `Hives\System_Delta`, which replace those of `Files` and `Hives`.
    fn hives_times(&mut self) -> Result<Option<FileBasicInfo>, Error> {
        if self.hives_times.is_none() {
            let root = self.root.as_ref().ok_or(Error::Closed)?;
            let name = r"Hives\System_Delta";
            if lstat(&self.host, root, name)?.is_some() {
                let mut f = self
                    .host
                    .open(root, name, Open::ExistingForBackup)
                    .map_err(|e| Error::os("open", name, e))?;
                self.hives_times = Some(f.basic_info().map_err(|e| Error::os("stat", name, e))?);
            }
        }
        Ok(self.hives_times)
    }

    fn next_inner(&mut self) -> Result<Option<Entry>, Error> {
        self.current = None;
        if let Some(t) = self.queued.pop() {
            return Ok(Some(Entry::Tombstone {
                name: LayerPath::parse(&t)?,
            }));
        }
        let root = self.root.as_ref().ok_or(Error::Closed)?;
        let name = loop {
            let Some(name) = self.walk.next_name() else {
                return Ok(None);
            };
            if name.ends_with(WCIDIRS) || is_recycle_bin(&name) {
                continue;
            }
            break name;
        };
        let st = self
            .host
            .lstat(root, &name)
            .map_err(|e| Error::os("stat", name.clone(), e))?;
        if st.is_dir() && !st.is_reparse_point() {
            self.walk.enter(&self.host, root, &name)?;
            if let Some(mut t) = self.tombstones.remove(&name) {
                t.reverse();
                self.queued = t;
            }
        }
        let lpath = LayerPath::parse(&name)?;
        if has_path_prefix(&name, "Files") {
            let file_name = if st.is_dir() {
                format!("{name}{WCIDIRS}")
            } else {
                name.clone()
            };
            let mut f = self
                .host
                .open(root, &file_name, Open::ExistingForBackup)
                .map_err(|e| Error::os("open", file_name.clone(), e))?;
            let mut info = f
                .basic_info()
                .map_err(|e| Error::os("stat", file_name.clone(), e))?;
            let mut attrs = [0u8; 4];
            read_exact(&mut f, &mut attrs).map_err(|e| Error::os("read", file_name.clone(), e))?;
            info.file_attributes = FileAttributes(u32::from_le_bytes(attrs));
            let size = if st.is_dir() {
                0
            } else {
                data_size(&mut f, &file_name)?
            };
            f.seek(4)
                .map_err(|e| Error::os("read", file_name.clone(), e))?;
            self.current = Some(Stream::Raw(f, 0));
            return Ok(Some(Entry::File {
                name: lpath,
                size,
                info,
            }));
        }
        let mut f = self
            .host
            .open(root, &name, Open::ExistingForBackup)
            .map_err(|e| Error::os("open", name.clone(), e))?;
        let mut info = f
            .basic_info()
            .map_err(|e| Error::os("stat", name.clone(), e))?;
        if (name == "Hives" || name == "Files")
            && let Some(t) = self.hives_times()?
        {
            info = FileBasicInfo {
                file_attributes: info.file_attributes,
                ..t
            };
        }
        info.creation_time = info.last_write_time;
        info.last_access_time = info.last_write_time;
        self.current = Some(Stream::Backup(f));
        Ok(Some(Entry::File {
            name: lpath,
            size: if st.is_dir() { 0 } else { st.size },
            info,
        }))
    }
}

fn read_exact<F: HostFile>(f: &mut F, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = f.read(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = buf.get_mut(n..).unwrap_or_default();
    }
    Ok(())
}

/// The size of the first unnamed data stream of the backup stream that follows the
/// attributes; 0 when there is none.
fn data_size<F: HostFile>(f: &mut F, name: &str) -> Result<u64, Error> {
    let mut r = BackupStreamReader::new(FileRead(f));
    loop {
        match r.next_header() {
            Ok(None) => return Ok(0),
            Ok(Some(h)) if h.id == StreamId::DATA => return Ok(h.size),
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

/// The transport folder's tombstones, grouped by the directory holding them (`Files\a` for
/// `Files\a\b`); none without `tombstones.txt`. The list is read with the transport
/// folder's own rules (`wclayer_folder::tombstones::parse`, docs/layer-semantics.md §3.1).
fn read_tombstones<H: Host>(
    host: &H,
    root: &H::Root,
) -> Result<HashMap<String, Vec<String>>, Error> {
    let mut f = match host.open(root, TOMBSTONES_TXT, Open::ExistingForBackup) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::os("open", TOMBSTONES_TXT, e)),
    };
    let list = wclayer_folder::tombstones::parse(
        io::BufReader::new(crate::legacy::FileRead(&mut f)),
        TOMBSTONES_TXT,
        wclayer_layer::Limits::default().max_entries,
    )
    .map_err(|e| Error::InvalidTombstones(e.to_string()))?;
    let mut by_dir: HashMap<String, Vec<String>> = HashMap::new();
    for path in list {
        let parent = path.parent().unwrap_or_default().to_owned();
        by_dir
            .entry(parent)
            .or_default()
            .push(path.as_str().to_owned());
    }
    Ok(by_dir)
}

impl<H: Host> LayerReader for LegacyLayerReader<H> {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        Ok(self.next_inner()?)
    }

    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        link_info_of(match self.current.as_mut() {
            Some(Stream::Raw(f, _) | Stream::Backup(f)) => Some(f),
            None => None,
        })
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        let r = match self.current.as_mut() {
            None => return Ok(0),
            Some(Stream::Raw(f, pos)) => f.read(buf).inspect(|n| {
                *pos = pos.saturating_add(u64::try_from(*n).unwrap_or(u64::MAX));
            }),
            Some(Stream::Backup(f)) => f.backup_read(buf, false),
        };
        r.map_err(|e| wclayer_layer::Error::io("read", e))
    }

    fn can_seek_stream(&self) -> bool {
        matches!(self.current, Some(Stream::Raw(..)))
    }

    fn seek_stream(&mut self, pos: io::SeekFrom) -> Result<u64, wclayer_layer::Error> {
        let Some(Stream::Raw(f, at)) = self.current.as_mut() else {
            return Err(wclayer_layer::Error::Unseekable);
        };
        let to = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::Current(d) => at.checked_add_signed(d),
            io::SeekFrom::End(d) => f
                .content_len()
                .map_err(|e| wclayer_layer::Error::io("seek", e))?
                .saturating_sub(4)
                .checked_add_signed(d),
        };
        let to =
            to.ok_or_else(|| wclayer_layer::Error::io("seek", io::ErrorKind::InvalidInput.into()))?;
        f.seek(to.saturating_add(4))
            .map_err(|e| wclayer_layer::Error::io("seek", e))?;
        *at = to;
        Ok(to)
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.current = None;
        if self.root.take().is_none() {
            return Err(Error::Closed.into());
        }
        self.host
            .remove_tree(&self.folder)
            .map_err(|e| Error::os("remove", self.folder.display().to_string(), e).into())
    }
}

impl<H: Host> Drop for LegacyLayerReader<H> {
    fn drop(&mut self) {
        self.current = None;
        if self.root.take().is_some() {
            let _ = self.host.remove_tree(&self.folder);
        }
    }
}

impl<H: Host> io::Read for LegacyLayerReader<H> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(buf)
            .map_err(|e| io::Error::new(e.io_kind(), e))
    }
}

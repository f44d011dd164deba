//! [`MemLayer`]: a whole layer with its metadata in memory and its stream bytes spooled.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;
use wclayer_backup::{FileBasicInfo, FileIdInfo};

use crate::path::upcase_key;
use crate::walk::{Visit, Walk, WalkMode, WalkTree};
use crate::{Entry, Error, LayerPath, LayerReader, LayerWriter, LinkInfo, ReportedSize};

/// Stream bytes stay in memory up to this size, then move to an anonymous temporary file,
/// so converting a multi-gigabyte layer does not need that much memory.
const SPOOL_IN_MEMORY: usize = 32 << 20;

#[derive(Debug)]
enum Kind {
    /// A directory that exists only because something below it was added or removed.
    Implicit,
    /// An added entry; the index of its file (hard links share one).
    Added(usize),
}

#[derive(Debug)]
struct Node {
    /// The component as first spelled ("" for the root).
    name: String,
    parent: usize,
    /// Children by case-insensitive key.
    children: HashMap<String, usize>,
    kind: Kind,
    /// Names removed directly below this directory, as spelled, in `remove` order.
    tombstones: Vec<String>,
}

#[derive(Debug)]
struct FileData {
    info: FileBasicInfo,
    stream_start: u64,
    stream_len: u64,
    links: u32,
}

/// A complete layer held in memory (stream bytes spooled to a temporary file past 32 MiB)
/// that follows the reference layer model (layer-semantics.md §0.1): every writer call is
/// recorded, every stream kept byte for byte, and [`MemLayer::reader`] replays them in
/// Windows walk order.
///
/// - Names that differ only in case are one name: the first spelling is kept, adding
///   another spelling is a duplicate, links and tombstones naming another spelling resolve
///   to it (DECISIONS.md).
/// - Missing parents are implicit directories: walked, never emitted. A directory added
///   after an entry below it is no duplicate.
/// - Tombstones are recorded wherever they point, in order; a removed and re-added name
///   keeps both. Unlike a base layer directory, this layer accepts tombstones in any mode.
/// - Errors: a name added twice, an entry below a non-directory or a reparse point, a hard
///   link to a missing name or a directory.
///
/// # Drop behaviour
/// Dropping the layer frees its memory and deletes the spool file.
pub struct MemLayer {
    nodes: Vec<Node>,
    files: Vec<FileData>,
    spool: SpooledTempFile,
    spool_len: u64,
    /// The file whose stream `write` appends to.
    current: Option<usize>,
    removed_any: bool,
    walk: Option<WalkMode>,
    closed: bool,
    /// Whether stream bytes are kept (see [`MemLayer::without_streams`]).
    keep_streams: bool,
}

impl Default for MemLayer {
    fn default() -> Self {
        MemLayer::new()
    }
}

impl std::fmt::Debug for MemLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemLayer")
            .field("names", &self.nodes.len().saturating_sub(1))
            .field("files", &self.files.len())
            .field("stream_bytes", &self.spool_len)
            .finish_non_exhaustive()
    }
}

/// Lifecycle
impl MemLayer {
    /// An empty layer.
    #[must_use]
    pub fn new() -> MemLayer {
        MemLayer {
            nodes: vec![Node {
                name: String::new(),
                parent: 0,
                children: HashMap::new(),
                kind: Kind::Implicit,
                tombstones: Vec::new(),
            }],
            files: Vec::new(),
            spool: SpooledTempFile::new(SPOOL_IN_MEMORY),
            spool_len: 0,
            current: None,
            removed_any: false,
            walk: None,
            closed: false,
            keep_streams: true,
        }
    }

    /// A layer that checks every call against the model's rules and records names and
    /// metadata, but drops the stream bytes (only their length is kept): for tracing and
    /// validating an import without storing it. Its readers yield empty streams.
    #[must_use]
    pub fn without_streams() -> MemLayer {
        MemLayer {
            keep_streams: false,
            ..MemLayer::new()
        }
    }

    /// Forces the walk mode of readers; `None` (the default) walks as a delta layer when the
    /// layer has at least one tombstone and as a base layer otherwise.
    pub fn set_walk_mode(&mut self, mode: Option<WalkMode>) {
        self.walk = mode;
    }

    /// The walk mode readers use now.
    #[must_use]
    pub fn walk_mode(&self) -> WalkMode {
        self.walk.unwrap_or(if self.removed_any {
            WalkMode::Delta
        } else {
            WalkMode::Base
        })
    }

    /// A reader over the layer in [`MemLayer::walk_mode`] order. The reader's streams are
    /// seekable, so tar exports take go-winio's two-pass path.
    ///
    /// # Errors
    /// [`Error::NoFiles`] for a base walk of a layer without `Files`.
    pub fn reader(&mut self) -> Result<MemLayerReader<'_>, Error> {
        self.current = None;
        let walk = Walk::new(self, self.walk_mode())?;
        Ok(MemLayerReader {
            layer: self,
            walk,
            current: None,
            pos: 0,
            closed: false,
        })
    }
}

/// Names
impl MemLayer {
    fn child(&self, dir: usize, name: &str) -> Option<usize> {
        self.nodes
            .get(dir)?
            .children
            .get(&upcase_key(name))
            .copied()
    }

    fn path_of(&self, mut node: usize) -> String {
        let mut parts = Vec::new();
        while node != 0 {
            let Some(n) = self.nodes.get(node) else { break };
            parts.push(n.name.as_str());
            node = n.parent;
        }
        parts.reverse();
        parts.join("\\")
    }

    fn file_of(&self, node: usize) -> Option<&FileData> {
        match self.nodes.get(node)?.kind {
            Kind::Added(f) => self.files.get(f),
            Kind::Implicit => None,
        }
    }

    /// Finds or creates (as implicit directories) the parents of `name`, checking that none
    /// of them is an added non-directory or reparse point.
    fn parent_dir(&mut self, name: &LayerPath) -> Result<usize, Error> {
        let mut dir = 0;
        let comps: Vec<&str> = name.components().collect();
        let parents = comps.split_last().map(|(_, p)| p).unwrap_or(&[]);
        for comp in parents {
            dir = match self.child(dir, comp) {
                Some(n) => {
                    if let Some(f) = self.file_of(n) {
                        let parent = self.path_of(n);
                        if f.info.file_attributes.is_reparse_point() {
                            return Err(Error::BelowReparsePoint {
                                name: name.original().to_string(),
                                parent,
                            });
                        }
                        if !f.info.file_attributes.is_directory() {
                            return Err(Error::NotADirectory {
                                name: name.original().to_string(),
                                parent,
                            });
                        }
                    }
                    n
                }
                None => self.new_node(dir, comp, Kind::Implicit),
            };
        }
        Ok(dir)
    }

    fn new_node(&mut self, parent: usize, name: &str, kind: Kind) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_string(),
            parent,
            children: HashMap::new(),
            kind,
            tombstones: Vec::new(),
        });
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(upcase_key(name), id);
        }
        id
    }

    /// Binds `name` to file `file`, creating its node or promoting an implicit directory.
    fn bind(&mut self, name: &LayerPath, file: usize, is_dir: bool) -> Result<(), Error> {
        let dir = self.parent_dir(name)?;
        match self.child(dir, name.file_name()) {
            None => {
                self.new_node(dir, name.file_name(), Kind::Added(file));
                Ok(())
            }
            Some(n) => {
                let first = self.path_of(n);
                let below = self
                    .nodes
                    .get(n)
                    .and_then(|node| node.children.values().next().copied())
                    .map(|c| self.path_of(c));
                let node = self.nodes.get_mut(n).ok_or(Error::Closed)?;
                match node.kind {
                    Kind::Added(_) => Err(Error::Duplicate {
                        name: name.original().to_string(),
                        first,
                    }),
                    Kind::Implicit if is_dir => {
                        node.kind = Kind::Added(file);
                        Ok(())
                    }
                    Kind::Implicit => Err(Error::NotADirectory {
                        name: below.unwrap_or_else(|| first.clone()),
                        parent: first,
                    }),
                }
            }
        }
    }

    fn check_open(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.current = None;
        Ok(())
    }
}

impl LayerWriter for MemLayer {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.check_open()?;
        let file = self.files.len();
        self.bind(name, file, info.file_attributes.is_directory())?;
        self.files.push(FileData {
            info: *info,
            stream_start: self.spool_len,
            stream_len: 0,
            links: 1,
        });
        self.current = Some(file);
        Ok(())
    }

    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.check_open()?;
        let missing = || Error::LinkTargetMissing {
            name: name.original().to_string(),
            target: target.original().to_string(),
        };
        let mut node = 0;
        for comp in target.components() {
            node = self.child(node, comp).ok_or_else(missing)?;
        }
        let Kind::Added(file) = self.nodes.get(node).ok_or_else(missing)?.kind else {
            return Err(missing());
        };
        let data = self.files.get(file).ok_or_else(missing)?;
        if data.info.file_attributes.is_directory() {
            return Err(Error::LinkTargetDirectory {
                name: name.original().to_string(),
                target: target.original().to_string(),
            });
        }
        self.bind(name, file, false)?;
        if let Some(f) = self.files.get_mut(file) {
            f.links = f.links.saturating_add(1);
        }
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), Error> {
        self.check_open()?;
        let dir = self.parent_dir(name)?;
        if let Some(d) = self.nodes.get_mut(dir) {
            d.tombstones.push(name.file_name().to_string());
        }
        self.removed_any = true;
        Ok(())
    }

    fn close(&mut self) -> Result<(), Error> {
        self.current = None;
        self.closed = true;
        self.spool.flush()?;
        Ok(())
    }
}

impl Write for MemLayer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .current
            .ok_or_else(|| io::Error::from(Error::NoEntry))?;
        if !self.keep_streams {
            return Ok(buf.len());
        }
        self.spool.seek(SeekFrom::Start(self.spool_len))?;
        let n = self.spool.write(buf)?;
        self.spool_len += n as u64;
        if let Some(f) = self.files.get_mut(file) {
            f.stream_len += n as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spool.flush()
    }
}

impl WalkTree for MemLayer {
    fn name(&self, id: usize) -> Option<&str> {
        self.nodes.get(id).map(|n| n.name.as_str())
    }
    fn child(&self, dir: usize, name: &str) -> Option<usize> {
        MemLayer::child(self, dir, name)
    }
    fn children(&self, dir: usize) -> Vec<usize> {
        self.nodes
            .get(dir)
            .map(|n| n.children.values().copied().collect())
            .unwrap_or_default()
    }
    fn tombstones(&self, dir: usize) -> &[String] {
        self.nodes.get(dir).map_or(&[], |n| n.tombstones.as_slice())
    }
    fn path(&self, id: usize) -> String {
        self.path_of(id)
    }
}

/// Walks a [`MemLayer`]; see [`MemLayer::reader`].
pub struct MemLayerReader<'a> {
    layer: &'a mut MemLayer,
    walk: Walk,
    /// The current entry's file.
    current: Option<usize>,
    /// Read position inside the current stream.
    pos: u64,
    closed: bool,
}

impl MemLayerReader<'_> {
    fn current_file(&self) -> Result<&FileData, Error> {
        self.current
            .and_then(|f| self.layer.files.get(f))
            .ok_or(Error::NoEntry)
    }

    /// Size of the first unnamed data stream of file `f` (layer-semantics.md §6.3). For a
    /// sparse data stream of size 0 followed by sparse blocks, the logical size (the offset
    /// of the terminating block): the reference reports 0 there, which makes an export drop
    /// the file's content; reporting the logical size exports it zero-filled
    /// (docs/compat.md). Streams imported from tars are never sparse.
    fn data_size(&mut self, f: usize, name: &str) -> Result<u64, Error> {
        let (start, len) = match self.layer.files.get(f) {
            Some(d) => (d.stream_start, d.stream_len),
            None => return Ok(0),
        };
        let window = Window {
            spool: &mut self.layer.spool,
            start,
            len,
            pos: 0,
        };
        ReportedSize::of_stream(window).map_err(|e| Error::Stream {
            name: name.to_string(),
            source: e,
        })
    }
}

impl LayerReader for MemLayerReader<'_> {
    fn next(&mut self) -> Result<Option<Entry>, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.current = None;
        self.pos = 0;
        loop {
            match self.walk.next(&*self.layer) {
                None => return Ok(None),
                Some(Visit::Tombstone(name)) => {
                    return Ok(Some(Entry::Tombstone {
                        name: LayerPath::parse(&name)?,
                    }));
                }
                Some(Visit::Node(id)) => {
                    let Some(Kind::Added(f)) = self.layer.nodes.get(id).map(|n| &n.kind) else {
                        continue;
                    };
                    let f = *f;
                    let name = LayerPath::parse(&self.layer.path_of(id))?;
                    let info = self.layer.files.get(f).map(|d| d.info).unwrap_or_default();
                    let size = if info.file_attributes.is_directory() {
                        0
                    } else {
                        self.data_size(f, name.as_str())?
                    };
                    self.current = Some(f);
                    return Ok(Some(Entry::File { name, size, info }));
                }
            }
        }
    }

    fn link_info(&mut self) -> Result<LinkInfo, Error> {
        let f = self.current.ok_or(Error::NoEntry)?;
        let data = self.current_file()?;
        Ok(LinkInfo {
            number_of_links: data.links,
            file_id: FileIdInfo::from_u64(0, f as u64 + 1),
        })
    }

    fn seek_stream(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let len = self.current_file().map(|d| d.stream_len).unwrap_or(0);
        self.pos = seek_within(self.pos, len, pos)?;
        Ok(self.pos)
    }

    fn close(&mut self) -> Result<(), Error> {
        self.closed = true;
        self.current = None;
        self.walk = Walk::finished();
        Ok(())
    }
}

impl Read for MemLayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(&FileData {
            stream_start,
            stream_len,
            ..
        }) = self.current_file()
        else {
            return Ok(0);
        };
        let mut w = Window {
            spool: &mut self.layer.spool,
            start: stream_start,
            len: stream_len,
            pos: self.pos,
        };
        let n = w.read(buf)?;
        self.pos = w.pos;
        Ok(n)
    }
}

/// A read-only, seekable view of `len` bytes of the spool starting at `start`.
struct Window<'a> {
    spool: &'a mut SpooledTempFile,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        self.spool.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.spool.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = seek_within(self.pos, self.len, pos)?;
        Ok(self.pos)
    }
}

fn seek_within(cur: u64, len: u64, pos: SeekFrom) -> io::Result<u64> {
    let target = match pos {
        SeekFrom::Start(p) => Some(p),
        SeekFrom::Current(d) => cur.checked_add_signed(d),
        SeekFrom::End(d) => len.checked_add_signed(d),
    };
    target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wclayer_backup::{BackupStreamWriter, FileAttributes, StreamHeader, StreamId};

    fn p(s: &str) -> LayerPath {
        LayerPath::parse(s).unwrap()
    }

    fn dir() -> FileBasicInfo {
        FileBasicInfo {
            file_attributes: FileAttributes::DIRECTORY,
            ..Default::default()
        }
    }

    fn file() -> FileBasicInfo {
        FileBasicInfo {
            file_attributes: FileAttributes::ARCHIVE,
            ..Default::default()
        }
    }

    fn data_stream(body: &[u8]) -> Vec<u8> {
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::DATA, body.len() as u64))
            .unwrap();
        w.write_all(body).unwrap();
        w.finish().unwrap()
    }

    fn walk(layer: &mut MemLayer) -> Vec<String> {
        let mut r = layer.reader().unwrap();
        let mut out = Vec::new();
        while let Some(e) = r.next().unwrap() {
            out.push(match e {
                Entry::File { name, size, .. } => format!("{name} {size}"),
                Entry::Tombstone { name } => format!("-{name}"),
            });
        }
        out
    }

    /// layer-semantics.md §0.2, the delta-walk example.
    #[test]
    fn delta_walk_example() {
        let mut l = MemLayer::new();
        l.add(&p("Files"), &dir()).unwrap();
        l.add(&p("Files/Windows/System32"), &dir()).unwrap();
        l.add(&p("Files/Windows/System32/new.dll"), &file())
            .unwrap();
        l.write_all(&data_stream(b"abc")).unwrap();
        l.remove(&p("Files/Windows/System32/drivers/etc/hosts.bak"))
            .unwrap();
        l.remove(&p("rootfile")).unwrap();
        l.close().unwrap();
        assert_eq!(
            walk(&mut l),
            [
                "-rootfile",
                "Files 0",
                "Files\\Windows\\System32 0",
                "-Files\\Windows\\System32\\drivers\\etc\\hosts.bak",
                "Files\\Windows\\System32\\new.dll 3",
            ]
        );
    }

    #[test]
    fn base_walk_files_then_utility_vm() {
        let mut l = MemLayer::new();
        for d in [
            "UtilityVM",
            "UtilityVM/Files",
            "UtilityVM/Other",
            "Hives",
            "Files",
        ] {
            l.add(&p(d), &dir()).unwrap();
        }
        l.add(&p("Files/b"), &file()).unwrap();
        l.add(&p("Files/a"), &file()).unwrap();
        l.add(&p("Files/$recycle.bin"), &dir()).unwrap();
        l.add(&p("Files/$recycle.bin/x"), &file()).unwrap();
        l.add(&p("UtilityVM/Files/x"), &file()).unwrap();
        l.close().unwrap();
        assert_eq!(l.walk_mode(), WalkMode::Base);
        assert_eq!(
            walk(&mut l),
            [
                "Files 0",
                "Files\\a 0",
                "Files\\b 0",
                "UtilityVM 0",
                "UtilityVM\\Files 0",
                "UtilityVM\\Files\\x 0"
            ]
        );
    }

    #[test]
    fn bytewise_order_and_case_insensitive_names() {
        let mut l = MemLayer::new();
        l.set_walk_mode(Some(WalkMode::Delta));
        for n in ["Files/b", "Files/B2", "Files/é", "Files/Z", "Files/a"] {
            l.add(&p(n), &file()).unwrap();
        }
        let e = l.add(&p("FILES/A"), &file()).unwrap_err();
        assert!(matches!(e, Error::Duplicate { .. }), "{e}");
        l.add_link(&p("files/LINK"), &p("files/b2")).unwrap();
        assert_eq!(
            walk(&mut l),
            [
                "Files\\B2 0",
                "Files\\LINK 0",
                "Files\\Z 0",
                "Files\\a 0",
                "Files\\b 0",
                "Files\\é 0"
            ]
        );
    }

    #[test]
    fn model_errors() {
        let mut l = MemLayer::new();
        l.add(&p("Files"), &dir()).unwrap();
        l.add(&p("Files/f"), &file()).unwrap();
        let sym = FileBasicInfo {
            file_attributes: FileAttributes(0x410),
            ..Default::default()
        };
        l.add(&p("Files/sym"), &sym).unwrap();
        assert!(matches!(
            l.add(&p("Files/f/x"), &file()),
            Err(Error::NotADirectory { .. })
        ));
        assert!(matches!(
            l.add(&p("Files/SYM/x"), &file()),
            Err(Error::BelowReparsePoint { .. })
        ));
        assert!(matches!(
            l.add_link(&p("Files/l"), &p("Files/nope")),
            Err(Error::LinkTargetMissing { .. })
        ));
        assert!(matches!(
            l.add_link(&p("Files/l"), &p("Files")),
            Err(Error::LinkTargetDirectory { .. })
        ));
        l.add(&p("Files/implicit/child"), &file()).unwrap();
        assert!(matches!(
            l.add(&p("Files/implicit"), &file()),
            Err(Error::NotADirectory { .. })
        ));
        l.add(&p("Files/implicit"), &dir()).unwrap();
        assert!(l.write(b"x").is_ok());
        l.remove(&p("Files/gone")).unwrap();
        assert!(l.write(b"x").is_err(), "remove ends the current entry");
    }

    #[test]
    fn links_share_one_file() {
        let mut l = MemLayer::new();
        l.add(&p("Files/a"), &file()).unwrap();
        l.write_all(&data_stream(b"hello")).unwrap();
        l.add_link(&p("Files/b"), &p("Files/a")).unwrap();
        l.add_link(&p("Files/c"), &p("Files/B")).unwrap();
        l.close().unwrap();
        let mut r = l.reader().unwrap();
        let mut ids = Vec::new();
        while let Some(Entry::File { size, .. }) = r.next().unwrap() {
            let li = r.link_info().unwrap();
            assert_eq!(li.number_of_links, 3);
            assert_eq!(size, 5);
            let mut s = Vec::new();
            r.read_to_end(&mut s).unwrap();
            assert_eq!(s, data_stream(b"hello"));
            ids.push(li.file_id);
        }
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|i| *i == ids[0]));
    }

    #[test]
    fn seek_and_reread() {
        let mut l = MemLayer::new();
        l.add(&p("Files/a"), &file()).unwrap();
        let s = data_stream(b"0123456789");
        l.write_all(&s).unwrap();
        let mut r = l.reader().unwrap();
        r.next().unwrap();
        let mut first = [0u8; 4];
        r.read_exact(&mut first).unwrap();
        assert_eq!(r.seek_stream(SeekFrom::Current(0)).unwrap(), 4);
        r.seek_stream(SeekFrom::Start(0)).unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, s);
    }

    #[test]
    fn base_walk_without_files_fails() {
        let mut l = MemLayer::new();
        l.add(&p("Hives"), &dir()).unwrap();
        assert!(matches!(l.reader(), Err(Error::NoFiles)));
    }
}

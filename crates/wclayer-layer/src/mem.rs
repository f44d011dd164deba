//! [`MemLayer`]: a whole layer with its metadata in memory and its stream bytes spooled.

use std::io::{self, Read, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;
use wclayer_backup::{FileBasicInfo, FileIdInfo};

use crate::sparse::SparseWriter;
use crate::tree::{FileNo, LayerTree};
use crate::walk::{Visit, Walk, WalkMode};
use crate::{Entry, Error, LayerPath, LayerReader, LayerWriter, LinkInfo, ReportedSize};

/// Stream bytes stay in memory up to this size, then move to an anonymous temporary file,
/// so converting a multi-gigabyte layer does not need that much memory.
const SPOOL_IN_MEMORY: usize = 32 << 20;

/// Where a file's backup stream lies in the spool.
#[derive(Clone, Copy, Debug, Default)]
struct Spooled {
    start: u64,
    len: u64,
}

/// A complete layer held in memory (stream bytes spooled to a temporary file past 32 MiB)
/// that follows the reference layer model (docs/layer-semantics.md §0.1): every writer call
/// is checked by the layer's [`LayerTree`] and recorded, every stream kept byte for byte,
/// and [`MemLayer::reader`] replays them in Windows walk order.
///
/// Unlike a base layer directory, this layer accepts tombstones in any mode.
///
/// # Drop behaviour
/// Dropping the layer frees its memory and deletes the spool file.
pub struct MemLayer {
    tree: LayerTree<Spooled>,
    /// The stream bytes, back to back; blocks of zeros stay holes (a sparse file of
    /// gigabytes costs what its data costs, docs/security.md §4).
    spool: SparseWriter<SpooledTempFile>,
    spool_len: u64,
    /// The file whose stream `write` appends to.
    current: Option<FileNo>,
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
            .field("names", &self.tree.node_count().saturating_sub(1))
            .field("files", &self.tree.file_count())
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
            tree: LayerTree::new(),
            spool: SparseWriter::new(SpooledTempFile::new(SPOOL_IN_MEMORY)),
            spool_len: 0,
            current: None,
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

    /// The tombstones the layer holds (whiteouts of its tar).
    #[must_use]
    pub fn tombstone_count(&self) -> usize {
        self.tree.tombstone_count()
    }

    /// The walk mode readers use now.
    #[must_use]
    pub fn walk_mode(&self) -> WalkMode {
        self.walk.unwrap_or(if self.tree.tombstone_count() > 0 {
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
        self.settle_spool()?;
        let walk = self.tree.walk(self.walk_mode())?;
        Ok(MemLayerReader {
            layer: self,
            walk,
            current: None,
            pos: 0,
            closed: false,
        })
    }

    /// Writes what the spool has pending and extends it over its trailing holes, so that
    /// every stream reads back whole.
    fn settle_spool(&mut self) -> io::Result<()> {
        self.spool.flush()?;
        let file = self.spool.get_mut();
        if file.seek(SeekFrom::End(0))? < self.spool_len {
            file.set_len(self.spool_len)?;
        }
        Ok(())
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
        let spooled = Spooled {
            start: self.spool_len,
            len: 0,
        };
        self.current = Some(self.tree.add(name, *info, spooled)?.file);
        Ok(())
    }

    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.check_open()?;
        self.tree.add_link(name, target)?;
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), Error> {
        self.check_open()?;
        self.tree.remove(name)?;
        Ok(())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), Error> {
        let file = self.current.ok_or(Error::NoEntry)?;
        let n = buf.len() as u64;
        // Both sums are checked before anything is written, so a failed call leaves the
        // layer as it was.
        let len = self.tree.file(file).len.checked_add(n);
        let spool_len = if self.keep_streams {
            self.spool_len.checked_add(n)
        } else {
            Some(self.spool_len)
        };
        let (Some(len), Some(spool_len)) = (len, spool_len) else {
            let name = self
                .tree
                .names_of(file)
                .next()
                .map(|node| self.tree.path_of(node));
            let source = io::Error::new(
                io::ErrorKind::FileTooLarge,
                "backup stream longer than 2^64 bytes",
            );
            return Err(Error::Io { name, source });
        };
        if self.keep_streams {
            // Streams are appended: the spool's position is `spool_len`.
            self.spool.write_all(buf)?;
        }
        self.spool_len = spool_len;
        self.tree.file_mut(file).len = len;
        Ok(())
    }

    fn close(&mut self) -> Result<(), Error> {
        self.current = None;
        self.closed = true;
        self.settle_spool()?;
        Ok(())
    }
}

impl Write for MemLayer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.settle_spool()
    }
}

/// Walks a [`MemLayer`]; see [`MemLayer::reader`].
pub struct MemLayerReader<'a> {
    layer: &'a mut MemLayer,
    walk: Walk,
    /// The current entry's file.
    current: Option<FileNo>,
    /// Read position inside the current stream.
    pos: u64,
    closed: bool,
}

impl MemLayerReader<'_> {
    /// The spool window of the current file's stream (empty without one, and for a layer
    /// that drops its streams).
    fn window(&mut self) -> Window<'_> {
        let spooled = match self.current {
            Some(f) if self.layer.keep_streams => *self.layer.tree.file(f),
            _ => Spooled::default(),
        };
        Window {
            spool: self.layer.spool.get_mut(),
            start: spooled.start,
            len: spooled.len,
            pos: self.pos,
        }
    }

    /// Size of the first unnamed data stream of the current file (docs/layer-semantics.md
    /// §6.3). For a sparse data stream of size 0 followed by sparse blocks, the logical size
    /// (the offset of the terminating block): the reference reports 0 there, which makes an
    /// export drop the file's content; reporting the logical size exports it zero-filled
    /// (docs/compat.md). Streams imported from tars are never sparse.
    fn data_size(&mut self, name: &str) -> Result<u64, Error> {
        let mut window = self.window();
        window.pos = 0;
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
        match self.walk.next(&self.layer.tree) {
            None => Ok(None),
            Some(Visit::Tombstone) => Ok(Some(Entry::Tombstone {
                name: LayerPath::parse(self.walk.path())?,
            })),
            Some(Visit::Entry { file, .. }) => {
                let name = LayerPath::parse(self.walk.path())?;
                let info = *self.layer.tree.info(file);
                self.current = Some(file);
                let size = if info.file_attributes.is_directory() {
                    0
                } else {
                    self.data_size(name.as_str())?
                };
                Ok(Some(Entry::File { name, size, info }))
            }
        }
    }

    fn link_info(&mut self) -> Result<LinkInfo, Error> {
        let f = self.current.ok_or(Error::NoEntry)?;
        Ok(LinkInfo {
            number_of_links: self.layer.tree.links(f),
            // File numbers are u32s, so the sum never saturates.
            file_id: FileIdInfo::from_u64(0, (f.index() as u64).saturating_add(1)),
        })
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.current.is_none() {
            return Ok(0);
        }
        let mut w = self.window();
        let n = w.read(buf)?;
        self.pos = w.pos;
        Ok(n)
    }

    fn can_seek_stream(&self) -> bool {
        true
    }

    fn seek_stream(&mut self, pos: SeekFrom) -> Result<u64, Error> {
        let mut w = self.window();
        self.pos = w.seek(pos)?;
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
        Ok(self.read_stream(buf)?)
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
        let Some(out) = buf.get_mut(..want).filter(|b| !b.is_empty()) else {
            return Ok(0);
        };
        let at = self.start.checked_add(self.pos).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "stream position past 2^64")
        })?;
        self.spool.seek(SeekFrom::Start(at))?;
        let n = self.spool.read(out)?;
        // `n` is at most `len - pos`, so the sum stays within `len`.
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
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

    /// docs/layer-semantics.md §0.2, the delta-walk example.
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

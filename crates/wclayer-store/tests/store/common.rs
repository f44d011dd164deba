//! Helpers: building layers, snapshotting readers, comparing them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{
    BackupStreamWriter, FileAttributes, FileBasicInfo, FileTime, StreamAttributes, StreamHeader,
    StreamId,
};
use wclayer_fs::Dir;
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, MemLayer, WalkMode, copy_layer};
use wclayer_store::{DirLayerReader, DirLayerWriter, ParentLayer, WriterOptions};

pub(crate) fn p(s: &str) -> LayerPath {
    LayerPath::parse(s).unwrap()
}

/// A FILETIME on a whole 100 ns tick in 2020 plus `n` seconds.
pub(crate) fn t(n: u64) -> FileTime {
    FileTime(132_223_104_000_000_000 + n * 10_000_000 + 1234)
}

pub(crate) fn info(attr: u32, n: u64) -> FileBasicInfo {
    FileBasicInfo {
        creation_time: t(n),
        last_access_time: t(n + 1),
        last_write_time: t(n + 2),
        change_time: t(n + 3),
        file_attributes: FileAttributes(attr),
    }
}

pub(crate) fn dir_info(n: u64) -> FileBasicInfo {
    info(0x10, n)
}

pub(crate) fn file_info(n: u64) -> FileBasicInfo {
    info(0x20, n)
}

/// A backup stream built sub-stream by sub-stream.
#[derive(Default)]
pub(crate) struct Stream {
    w: Vec<u8>,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream::default()
    }

    fn push(mut self, h: StreamHeader, body: &[u8]) -> Stream {
        let mut w = BackupStreamWriter::new(std::mem::take(&mut self.w));
        w.write_header(&h).unwrap();
        w.write_all(body).unwrap();
        self.w = w.finish().unwrap();
        self
    }

    pub(crate) fn sd(self, body: &[u8]) -> Stream {
        self.push(
            StreamHeader::new(StreamId::SECURITY_DATA, body.len() as u64),
            body,
        )
    }

    pub(crate) fn ea(self, body: &[u8]) -> Stream {
        self.push(
            StreamHeader::new(StreamId::EA_DATA, body.len() as u64),
            body,
        )
    }

    pub(crate) fn data(self, body: &[u8]) -> Stream {
        self.push(StreamHeader::new(StreamId::DATA, body.len() as u64), body)
    }

    pub(crate) fn ads(self, name: &str, body: &[u8]) -> Stream {
        self.push(StreamHeader::alternate_data(name, body.len() as u64), body)
    }

    pub(crate) fn reparse(self, rp: &ReparsePoint) -> Stream {
        let b = rp.encode().unwrap();
        self.push(
            StreamHeader::new(StreamId::REPARSE_DATA, b.len() as u64),
            &b,
        )
    }

    /// A sparse file: a zero-length sparse data stream, the blocks, the terminator.
    pub(crate) fn sparse(mut self, blocks: &[(i64, &[u8])], size: i64) -> Stream {
        let data = StreamHeader {
            attributes: StreamAttributes::SPARSE,
            ..StreamHeader::new(StreamId::DATA, 0)
        };
        self = self.push(data, b"");
        for (off, body) in blocks {
            self = self.push(StreamHeader::sparse_block(*off, body.len() as u64), body);
        }
        self.push(StreamHeader::sparse_block(size, 0), b"")
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.w
    }
}

pub(crate) fn add(l: &mut impl LayerWriter, name: &str, i: FileBasicInfo, s: &Stream) {
    l.add(&p(name), &i).unwrap();
    l.write_all(s.bytes()).unwrap();
}

pub(crate) fn symlink_info(n: u64) -> FileBasicInfo {
    info(0x420, n)
}

/// One entry as a reader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snap {
    pub(crate) entry: Entry,
    pub(crate) stream: Vec<u8>,
    pub(crate) links: u32,
    pub(crate) id: [u8; 16],
}

/// Everything a reader yields.
pub(crate) fn snapshot(r: &mut dyn LayerReader) -> Vec<Snap> {
    let mut out = Vec::new();
    while let Some(entry) = r.next().unwrap() {
        let (links, id, stream) = match &entry {
            Entry::File { .. } => {
                let li = r.link_info().unwrap();
                let mut s = Vec::new();
                r.read_to_end(&mut s).unwrap();
                (li.number_of_links, li.file_id.file_id, s)
            }
            _ => (0, [0; 16], Vec::new()),
        };
        out.push(Snap {
            entry,
            stream,
            links,
            id,
        });
    }
    out
}

/// The hard-link groups of a snapshot: sets of names sharing a file id, for files whose
/// link count is above 1.
pub(crate) fn link_groups(snap: &[Snap]) -> BTreeSet<BTreeSet<String>> {
    let mut by_id: BTreeMap<[u8; 16], BTreeSet<String>> = BTreeMap::new();
    for s in snap {
        if s.links > 1 {
            by_id
                .entry(s.id)
                .or_default()
                .insert(s.entry.name().to_string());
        }
    }
    by_id.into_values().collect()
}

/// Compares two snapshots entry by entry, then their link structure.
pub(crate) fn assert_same(want: &[Snap], got: &[Snap]) {
    let names = |s: &[Snap]| {
        s.iter()
            .map(|s| s.entry.name().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(want), names(got), "entry order");
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w.entry, g.entry, "entry {}", w.entry.name());
        assert!(w.stream == g.stream, "stream bytes of {}", w.entry.name());
        assert_eq!(w.links, g.links, "link count of {}", w.entry.name());
    }
    assert_eq!(link_groups(want), link_groups(got), "hard-link groups");
}

pub(crate) fn opts() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.sync = false;
    o
}

pub(crate) fn open_dir(path: &Path) -> Dir {
    Dir::open_ambient_dir(path, wclayer_fs::ambient_authority()).unwrap()
}

/// Copies `mem` into a new layer directory `name` in `dir` over `parents` (names in `dir`)
/// and checks that reading it back gives what `mem`'s reader gives. Returns the snapshot.
pub(crate) fn round_trip(
    mem: &mut MemLayer,
    dir: &Path,
    name: &str,
    parents: &[&str],
) -> Vec<Snap> {
    mem.set_walk_mode(Some(if parents.is_empty() {
        WalkMode::Base
    } else {
        WalkMode::Delta
    }));
    let want = snapshot(&mut mem.reader().unwrap());
    let fd = open_dir(dir);
    let parents = parents
        .iter()
        .map(|n| ParentLayer::open(&fd, n).unwrap())
        .collect();
    let mut w = DirLayerWriter::create(&fd, name, parents, opts()).unwrap();
    copy_layer(&mut mem.reader().unwrap(), &mut w).unwrap();
    let mut r = DirLayerReader::open(&fd, name).unwrap();
    let got = snapshot(&mut r);
    assert_same(&want, &got);
    // A second walk of the same reader after rewind gives the same again.
    r.rewind().unwrap();
    assert_same(&want, &snapshot(&mut r));
    got
}

/// The names in a directory, sorted.
pub(crate) fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a test does when it cannot build what it needs (a mount, a device node: root
/// only): it fails when `WCLAYER_TEST_REQUIRE_ROOT` is set (the CI gate runs as root and
/// sets it, so that nothing is skipped there), else it reports the skip on stderr and the
/// caller returns.
pub(crate) fn cannot_run(test: &str, why: &str) {
    assert!(
        std::env::var_os("WCLAYER_TEST_REQUIRE_ROOT").is_none(),
        "{test}: {why}, and WCLAYER_TEST_REQUIRE_ROOT is set"
    );
    eprintln!("SKIPPED {test}: {why}");
}

/// A file system of its own, mounted on a new temporary directory (root only) and
/// unmounted when dropped.
pub(crate) struct Mount {
    at: PathBuf,
    // Removed after the unmount (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Mount {
    /// Mounts a new `fstype` (`tmpfs`, `ramfs`) file system; why not, when that fails.
    pub(crate) fn new(fstype: &str) -> Result<Mount, String> {
        if !rustix::process::geteuid().is_root() {
            return Err(format!("mounting a {fstype} needs root"));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let at = dir.path().to_path_buf();
        match std::process::Command::new("mount")
            .args(["-t", fstype, "wclayer-test"])
            .arg(&at)
            .status()
        {
            Ok(s) if s.success() => Ok(Mount { at, _dir: dir }),
            Ok(s) => Err(format!("mount -t {fstype} failed ({s})")),
            Err(e) => Err(format!("cannot run mount: {e}")),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.at
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazily, so that a failed assertion with a handle still open cannot leave it.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .status();
    }
}

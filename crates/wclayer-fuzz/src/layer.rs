//! Targets that reach the file system: layer directories read from a sidecar made of the
//! input, and tar imports into layer directories.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;
use wclayer_fs::{Dir, ambient_authority};
use wclayer_layer::{Entry, LayerReader, MemLayer, WalkMode};
use wclayer_store::{DirLayerReader, DirLayerWriter, ParentLayer, WriterOptions};
use wclayer_tar::archive::ArchiveReader;
use wclayer_tar::import_tar;

use crate::tar::small_limits;
use crate::util::Fnv;

/// Stream bytes read per layer walk at most; past it, streams are left unread.
const READ_CAP: u64 = 32 << 20;

/// Largest sparse file the `s` line of a [`layer_sidecar`] input creates.
const MAX_PLANTED_SIZE: u64 = 16 << 20;

/// Largest logical size of a sparse file an import target accepts (each is written out).
const IMPORT_SPARSE_LIMIT: u64 = 1 << 20;

/// The contents of the file planted next to the layer directory. A reader that follows a
/// link out of the layer would hand these bytes out as stream data.
const CANARY: &[u8] = b"wclayer-fuzz canary: outside the layer directory";

/// One entry of a walk, as compared between walks.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    entry: Entry,
    /// Stream bytes read, their hash, and the error that stopped the read, if any.
    len: u64,
    digest: u64,
    error: Option<String>,
}

/// The outcome of walking a layer reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WalkOutcome {
    seen: Vec<Seen>,
    pub(crate) error: Option<String>,
}

/// Walks `r`, reading every stream (within [`READ_CAP`]). With `reread`, a stream that can
/// be seeked is read again from its start and must give the same bytes. Every stream is
/// checked not to contain [`CANARY`] unless `canary_allowed`.
pub(crate) fn walk(r: &mut dyn LayerReader, reread: bool, canary_allowed: bool) -> WalkOutcome {
    let mut out = WalkOutcome {
        seen: Vec::new(),
        error: None,
    };
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let entry = match r.next() {
            Ok(Some(e)) => e,
            Ok(None) => return out,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let mut digest = Fnv::default();
        let mut len = 0u64;
        let mut error = None;
        // The first bytes, for the comparison after a seek; and the tail of the previous
        // read, so that a canary cut in two by the reads is still seen.
        let mut head = Vec::new();
        let mut tail: Vec<u8> = Vec::new();
        if matches!(entry, Entry::File { .. }) {
            while total < READ_CAP {
                let want = buf
                    .len()
                    .min(usize::try_from(READ_CAP - total).unwrap_or(buf.len()));
                match r.read_stream(&mut buf[..want]) {
                    Ok(0) => break,
                    Ok(n) => {
                        assert!(n <= want, "no read past the buffer");
                        let got = &buf[..n];
                        digest.update(got);
                        len += n as u64;
                        total += n as u64;
                        if head.len() < 4096 {
                            let take = (4096 - head.len()).min(n);
                            head.extend_from_slice(&got[..take]);
                        }
                        if !canary_allowed {
                            tail.extend_from_slice(got);
                            assert!(
                                !contains(&tail, CANARY),
                                "{}: a stream holds bytes from outside the layer directory",
                                entry.name()
                            );
                            let keep = tail.len().saturating_sub(CANARY.len());
                            tail.drain(..keep);
                        }
                    }
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            if reread && r.can_seek_stream() && r.seek_stream(SeekFrom::Start(0)).is_ok() {
                let mut again = vec![0u8; head.len()];
                let mut filled = 0;
                while filled < again.len() {
                    match r.read_stream(&mut again[filled..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => filled += n,
                    }
                }
                assert_eq!(
                    &again[..filled],
                    &head[..filled],
                    "{}: a stream reads the same after seeking to its start",
                    entry.name()
                );
                if error.is_none() {
                    assert_eq!(filled, head.len(), "a stream read whole once reads again");
                }
            }
        }
        out.seen.push(Seen {
            entry,
            len,
            digest: digest.value(),
            error,
        });
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Splits at the first blank line (`\n\n`): the part before and the part after it.
fn split_blank(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], Some(&data[i + 2..])),
        None => (data, None),
    }
}

/// A relative path of normal components only, at most 16 of them; `None` for anything
/// else (the planted files stay inside the layer directory, symbolic link targets aside).
fn planted_path(raw: &[u8]) -> Option<PathBuf> {
    let s = std::str::from_utf8(raw).ok()?;
    let p = Path::new(s);
    let ok = !s.is_empty()
        && p.components().count() <= 16
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| p.to_path_buf())
}

/// Undoes the escapes of an `f` line's contents: `\n`, `\\`, `\xHH`; every other byte
/// stands for itself.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1)) {
            (b'\\', Some(b'n')) => {
                out.push(b'\n');
                i += 2;
            }
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x')) => {
                let hex = raw
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 4;
                    }
                    None => {
                        out.push(b'\\');
                        i += 1;
                    }
                }
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Creates what one line of the files section says, below `root`. Failures are ignored:
/// the input may ask for anything.
///
/// Everything goes through `wclayer_fs::Dir`: paths are resolved beneath the layer
/// directory without following symbolic links, and files are created exclusively, so that
/// a link planted by an earlier line never leads a later one out of the layer, and a FIFO
/// planted earlier is never opened (which would block).
fn plant(root: &Dir, line: &[u8]) {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(kind), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let arg = parts.next().unwrap_or_default();
    let Some(rel) = planted_path(path) else {
        return;
    };
    let mut prefix = PathBuf::new();
    let parents: Vec<Component<'_>> = rel
        .parent()
        .map_or(Vec::new(), |p| p.components().collect());
    for c in parents {
        prefix.push(c);
        let _ = root.create_dir(&prefix);
    }
    match kind {
        b"d" => {
            let _ = root.create_dir(&rel);
        }
        b"f" => {
            if let Ok(mut f) = root.create_file(&rel) {
                let _ = f.write_all(&unescape(arg));
            }
        }
        b"s" => {
            let size = std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
                .min(MAX_PLANTED_SIZE);
            if let Ok(f) = root.create_file(&rel) {
                let _ = f.set_len(size);
            }
        }
        b"l" => {
            let _ = root.symlink(OsStr::from_bytes(arg), &rel);
        }
        b"p" => {
            let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
                return;
            };
            let dir = if parent.as_os_str().is_empty() {
                root.try_clone()
            } else {
                root.open_dir(parent)
            };
            if let Ok(dir) = dir {
                let _ = rustix::fs::mknodat(
                    &dir,
                    name,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
                    0,
                );
            }
        }
        _ => {}
    }
}

/// A layer directory's sidecar built from `data`, read with `wclayer_store::DirLayerReader`.
///
/// The input is cut at its blank lines (`\n\n`): the first part is `.wclayer/layer.json`,
/// the second `.wclayer/entries.jsonl`, and the optional third a list of files to plant,
/// one per line: `d PATH` (a directory), `f PATH CONTENTS` (a file; `\n`, `\\` and `\xHH`
/// escapes), `s PATH SIZE` (a sparse file of up to 16 MiB), `l PATH TARGET` (a symbolic
/// link), `p PATH` (a FIFO). Paths are relative to the layer directory and made of normal
/// components (`.wclayer/streams/0.0` plants a blob). `.wclayer/streams/` and `Files/` are
/// always created; next to the layer directory lies `outside/canary`.
///
/// The layer is walked twice (`rewind`); every entry's details, link information and
/// stream are read, streams within 32 MiB per walk.
///
/// Asserts: no panic; no stream holds the canary's bytes unless the input does (nothing
/// outside the layer directory is read, whatever the links planted); a seekable stream reads
/// the same bytes after seeking to its start; the two walks see the same entries, stream
/// lengths, contents and errors.
pub fn layer_sidecar(data: &[u8]) {
    let (manifest, rest) = split_blank(data);
    let (records, files) = match rest {
        Some(rest) => split_blank(rest),
        None => (&[][..], None),
    };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let root = tmp.path().join("layer");
    let sidecar = root.join(".wclayer");
    fs::create_dir_all(sidecar.join("streams")).expect("the sidecar directory");
    fs::create_dir(root.join("Files")).expect("Files");
    fs::write(sidecar.join("layer.json"), manifest).expect("layer.json");
    fs::write(sidecar.join("entries.jsonl"), records).expect("entries.jsonl");
    fs::create_dir(tmp.path().join("outside")).expect("outside");
    fs::write(tmp.path().join("outside").join("canary"), CANARY).expect("the canary");
    let dir = Dir::open_ambient_dir(&root, ambient_authority()).expect("the layer directory");
    for line in files.unwrap_or_default().split(|&b| b == b'\n') {
        plant(&dir, line);
    }

    let Ok(mut r) = DirLayerReader::from_root(dir) else {
        return;
    };
    let _ = r.layer_info();
    let canary_allowed = contains(data, CANARY);
    let first = walk_with_details(&mut r, canary_allowed);
    if r.rewind().is_ok() {
        let second = walk_with_details(&mut r, canary_allowed);
        assert_eq!(first, second, "two walks of a layer directory agree");
    }
    let _ = r.close();
}

/// [`walk`] over a `DirLayerReader`, asking for each entry's details and link information
/// first (their errors are fine).
fn walk_with_details(r: &mut DirLayerReader, canary_allowed: bool) -> WalkOutcome {
    struct Detailed<'a>(&'a mut DirLayerReader);
    impl io::Read for Detailed<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl LayerReader for Detailed<'_> {
        fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
            let e = self.0.next()?;
            if let Some(Entry::File { .. }) = e {
                let _ = self.0.details();
                let _ = self.0.link_info();
            }
            Ok(e)
        }
        fn link_info(&mut self) -> Result<wclayer_layer::LinkInfo, wclayer_layer::Error> {
            self.0.link_info()
        }
        fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
            self.0.read_stream(buf)
        }
        fn can_seek_stream(&self) -> bool {
            self.0.can_seek_stream()
        }
        fn seek_stream(&mut self, pos: SeekFrom) -> Result<u64, wclayer_layer::Error> {
            self.0.seek_stream(pos)
        }
        fn close(&mut self) -> Result<(), wclayer_layer::Error> {
            Ok(())
        }
    }
    walk(&mut Detailed(r), true, canary_allowed)
}

/// A parent layer for [`import_delta`], made once per process: the generator's `base`
/// sample imported into a layer directory, and a fingerprint of everything in it.
struct Parent {
    _tmp: TempDir,
    path: PathBuf,
    fingerprint: BTreeMap<PathBuf, String>,
}

/// The parent layer of [`import_delta`].
fn parent() -> &'static Parent {
    static PARENT: OnceLock<Parent> = OnceLock::new();
    PARENT.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let options = wclayer_gen::Options {
            big_file_size: 4096,
        };
        let mut tar = Vec::new();
        wclayer_gen::write_case_with("base", &options, &mut tar).expect("the base sample");
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).expect("open");
        let mut w =
            DirLayerWriter::create(&dir, "parent", Vec::new(), no_sync()).expect("a parent layer");
        import_tar(&mut ArchiveReader::new(&tar[..]), &mut w).expect("the base sample imports");
        let path = tmp.path().join("parent");
        let fingerprint = fingerprint(&path);
        Parent {
            _tmp: tmp,
            path,
            fingerprint,
        }
    })
}

/// Everything that must not change in a parent layer: per path below `root`, its type,
/// permissions, size, modification time, and the contents of files and links (link counts
/// and change times change when a child layer links to a file).
fn fingerprint(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).expect("stat");
        let rel = p.strip_prefix(root).expect("below root").to_path_buf();
        let what = if m.is_dir() {
            let mut names: Vec<PathBuf> = fs::read_dir(&p)
                .expect("read_dir")
                .map(|e| e.expect("entry").path())
                .collect();
            names.sort();
            todo.extend(names);
            "dir".to_owned()
        } else if m.is_symlink() {
            format!("link {:?}", fs::read_link(&p).expect("readlink"))
        } else {
            let mut h = Fnv::default();
            h.update(&fs::read(&p).expect("read"));
            format!("file {:x}", h.value())
        };
        let mtime = (m.mtime(), m.mtime_nsec());
        out.insert(
            rel,
            format!(
                "{what} mode {:o} size {} mtime {mtime:?}",
                m.mode(),
                m.len()
            ),
        );
    }
    out
}

/// Writer options for the targets: no `syncfs` (nothing here needs to survive a crash).
fn no_sync() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.sync = false;
    o
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Imports `data` into `tmp/root/layer` over `parent`, and checks what is on disk.
fn import_into(data: &[u8], parent: Option<&Parent>) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir(&root).expect("root");
    fs::create_dir(&outside).expect("outside");
    let root_dir = Dir::open_ambient_dir(&root, ambient_authority()).expect("open root");
    let parents = match parent {
        Some(p) => vec![ParentLayer::open_ambient(&p.path, ambient_authority()).expect("parent")],
        None => Vec::new(),
    };
    let mut w =
        DirLayerWriter::create(&root_dir, "layer", parents, no_sync()).expect("a layer writer");
    let mut archive = ArchiveReader::with_options(data, small_limits(IMPORT_SPARSE_LIMIT));
    let result = import_tar(&mut archive, &mut w);
    drop(w);

    assert!(
        names(&outside).is_empty(),
        "nothing is written outside the layer: {result:?}"
    );
    assert_eq!(
        names(tmp.path()),
        ["outside", "root"],
        "nothing is written beside the layer's parent directory"
    );
    let expected: &[&str] = if result.is_ok() { &["layer"] } else { &[] };
    assert_eq!(
        names(&root),
        expected,
        "the committed layer alone, or nothing after a failed import: {result:?}"
    );
    if let Some(p) = parent {
        assert!(
            fingerprint(&p.path) == p.fingerprint,
            "the parent layer is unchanged"
        );
    }
    if result.is_err() {
        return;
    }

    // The committed layer reads back as the in-memory layer of the same import does.
    let mut mem = MemLayer::new();
    if parent.is_some() {
        mem.set_walk_mode(Some(WalkMode::Delta));
    }
    let mut archive = ArchiveReader::with_options(data, small_limits(IMPORT_SPARSE_LIMIT));
    if import_tar(&mut archive, &mut mem).is_err() {
        // Hard links into the parent layer: the in-memory layer has no parents.
        assert!(
            parent.is_some(),
            "an import a layer directory takes, MemLayer takes"
        );
        return;
    }
    let mut expected = match mem.reader() {
        Ok(mut r) => walk(&mut r, false, true),
        Err(e) => WalkOutcome {
            seen: Vec::new(),
            error: Some(e.to_string()),
        },
    };
    let mut dir = match DirLayerReader::open(&root_dir, "layer") {
        Ok(mut r) => walk(&mut r, true, true),
        Err(e) => WalkOutcome {
            seen: Vec::new(),
            error: Some(e.to_string()),
        },
    };
    // Error texts differ between back ends; whether there was one does not.
    for o in [&mut expected, &mut dir] {
        for s in &mut o.seen {
            s.error = s.error.as_ref().map(|_| String::new());
        }
        o.error = o.error.as_ref().map(|_| String::new());
    }
    assert_eq!(
        dir, expected,
        "the layer directory reads back as MemLayer does"
    );
}

/// `wclayer_tar::import_tar` of `data` (archive limits small: 64 KiB PAX and long-name
/// bodies, sparse files of at most 1 MiB) into a `wclayer_store::DirLayerWriter` that
/// creates a base layer `tmp/root/layer`, next to an empty `tmp/outside/`.
///
/// Asserts, after the call (success or error): `tmp/outside/` is still empty, `tmp/` holds
/// nothing but `root/` and `outside/`, and `root/` holds exactly the committed layer
/// directory after a success and nothing after an error (no staging directory). A
/// committed layer reads back (`DirLayerReader`) with the same entries, sizes, infos and
/// stream bytes as the in-memory layer (`MemLayer`) the same import makes.
pub fn import(data: &[u8]) {
    import_into(data, None);
}

/// [`import`] as a delta layer over a parent layer directory (the generator's `base` sample,
/// imported once per process): whiteouts, hard links into the parent and the utility-VM
/// clone come into play.
///
/// Asserts what [`import`] asserts (the read-back comparison where the in-memory layer,
/// which has no parents, takes the import too), and that the parent layer is unchanged:
/// the same paths, types, modes, sizes, modification times and contents.
pub fn import_delta(data: &[u8]) {
    import_into(data, Some(parent()));
}

//! Loading a layer directory's sidecar: the manifest, and the records replayed through the
//! layer model into a name tree. Only the tree and a few numbers per file stay in memory;
//! a file's stream list is re-read from its record when needed.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use wclayer_layer::LayerPath;

use crate::Error;
use crate::format::{ENTRIES_FILE, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, SIDECAR_DIR};
use crate::fs::Fs;
use crate::meta::{FileRecord, LayerKind, Manifest, Record};
use crate::names::disk_name;
use crate::tree::Tree;

/// Largest `layer.json` accepted; it holds a few counters and the parents' names.
const MAX_MANIFEST: u64 = 16 << 20;
/// Largest record line accepted. Inline bodies are at most 64 KiB each, but a sparse file
/// may have up to 2^20 blocks (the tar reader's limit), about 80 bytes of JSON each.
const MAX_RECORD: usize = 256 << 20;

/// Per file: where its record is and what the walk needs without reading it.
#[derive(Debug, Clone)]
pub(crate) struct IndexFile {
    /// Byte offset and length of the record's line in `entries.jsonl`.
    pub offset: u64,
    pub len: usize,
    /// 1-based line number, for errors.
    pub line: u64,
    pub data_size: u64,
    /// Every node bound to this file (hard links), in record order.
    pub names: Vec<usize>,
}

/// A loaded layer directory.
pub(crate) struct LayerIndex<F: Fs> {
    pub manifest: Manifest,
    pub tree: Tree,
    pub files: Vec<IndexFile>,
    records: F::File,
}

/// Reads and checks `layer.json`.
pub(crate) fn read_manifest<F: Fs>(fs: &F, root: &F::Dir) -> Result<Manifest, Error> {
    let path = Path::new(SIDECAR_DIR).join(MANIFEST_FILE);
    let file = fs.open_file(root, &path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Error::Metadata {
                file: MANIFEST_FILE,
                line: None,
                reason: "not a wclayer layer directory (no .wclayer/layer.json)".into(),
            }
        } else {
            Error::io_layer("open .wclayer/layer.json", e)
        }
    })?;
    let mut text = Vec::new();
    file.take(MAX_MANIFEST)
        .read_to_end(&mut text)
        .map_err(|e| Error::io_layer("read .wclayer/layer.json", e))?;
    // Check the format before the fields, so that a newer layout is reported as such.
    #[derive(serde::Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head = serde_json::from_slice(&text).map_err(|e| Error::Metadata {
        file: MANIFEST_FILE,
        line: None,
        reason: e.to_string(),
    })?;
    if head.format != FORMAT_NAME || head.version > FORMAT_VERSION || head.version == 0 {
        return Err(Error::UnsupportedFormat {
            format: head.format,
            version: head.version,
        });
    }
    serde_json::from_slice(&text).map_err(|e| Error::Metadata {
        file: MANIFEST_FILE,
        line: None,
        reason: e.to_string(),
    })
}

impl<F: Fs> LayerIndex<F> {
    /// Loads the layer directory open at `root`.
    pub(crate) fn load(fs: &F, root: &F::Dir) -> Result<LayerIndex<F>, Error> {
        let manifest = read_manifest(fs, root)?;
        let path = Path::new(SIDECAR_DIR).join(ENTRIES_FILE);
        let file = fs
            .open_file(root, &path)
            .map_err(|e| Error::io_layer("open .wclayer/entries.jsonl", e))?;
        let mut reader = BufReader::with_capacity(256 << 10, file);
        let mut tree = Tree::new();
        let mut files: Vec<IndexFile> = Vec::new();
        let mut offset = 0u64;
        let mut line_no = 0u64;
        let mut tombstones = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut reader)
                .take(MAX_RECORD as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io_layer("read .wclayer/entries.jsonl", e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if n > MAX_RECORD || buf.last() != Some(&b'\n') {
                return Err(Error::record(line_no, "record too long or not terminated"));
            }
            let rec: Record =
                serde_json::from_slice(&buf).map_err(|e| Error::record(line_no, e.to_string()))?;
            let bad = |e: Error| Error::record(line_no, e.to_string());
            match rec {
                Record::File(r) => {
                    if r.n != files.len() as u64 {
                        return Err(Error::record(line_no, "file numbers out of sequence"));
                    }
                    let name = parse(&r.path, line_no)?;
                    let info = r.info.into();
                    let f = tree.new_file(info);
                    let node = if r.clone {
                        tree.bind_clone(&name, f).map_err(bad)?
                    } else {
                        let is_dir = wclayer_backup::FileBasicInfo::from(r.info)
                            .file_attributes
                            .is_directory();
                        tree.bind(&name, f, is_dir).map_err(bad)?.0
                    };
                    files.push(IndexFile {
                        offset,
                        len: n,
                        line: line_no,
                        data_size: r.data_size,
                        names: vec![node],
                    });
                }
                Record::Link { path, file, clone } => {
                    let name = parse(&path, line_no)?;
                    let f = usize::try_from(file)
                        .ok()
                        .filter(|&f| f < files.len())
                        .ok_or_else(|| Error::record(line_no, "link to an unknown file"))?;
                    if tree
                        .info(f)
                        .is_some_and(|i| i.file_attributes.is_directory())
                    {
                        return Err(Error::record(line_no, "link to a directory"));
                    }
                    let node = if clone {
                        tree.bind_clone(&name, f).map_err(bad)?
                    } else {
                        tree.bind(&name, f, false).map_err(bad)?.0
                    };
                    if let Some(entry) = files.get_mut(f) {
                        entry.names.push(node);
                    }
                }
                Record::Tomb { path } => {
                    if manifest.kind == LayerKind::Base {
                        return Err(Error::record(line_no, "tombstone in a base layer"));
                    }
                    let name = parse(&path, line_no)?;
                    tree.remove(&name).map_err(bad)?;
                    tombstones += 1;
                }
            }
            offset += n as u64;
        }
        if line_no != manifest.records
            || files.len() as u64 != manifest.files
            || tombstones != manifest.tombstones
        {
            return Err(Error::Metadata {
                file: ENTRIES_FILE,
                line: None,
                reason: format!(
                    "{line_no} records, {} files, {tombstones} tombstones; layer.json says {}, {}, {}",
                    files.len(),
                    manifest.records,
                    manifest.files,
                    manifest.tombstones
                ),
            });
        }
        Ok(LayerIndex {
            manifest,
            tree,
            files,
            records: reader.into_inner(),
        })
    }

    /// Reads the record of `file` again.
    pub(crate) fn record(&mut self, file: usize) -> Result<FileRecord, Error> {
        let entry = self
            .files
            .get(file)
            .ok_or_else(|| Error::record(0, "unknown file"))?;
        let mut buf = vec![0u8; entry.len];
        let line = entry.line;
        self.records
            .seek(SeekFrom::Start(entry.offset))
            .and_then(|_| self.records.read_exact(&mut buf))
            .map_err(|e| Error::io_layer("read .wclayer/entries.jsonl", e))?;
        match serde_json::from_slice(&buf).map_err(|e| Error::record(line, e.to_string()))? {
            Record::File(r) => Ok(r),
            _ => Err(Error::record(line, "expected a file record")),
        }
    }

    /// The on-disk components of `node` (see [`disk_name`]).
    pub(crate) fn disk_components(&self, node: usize) -> Vec<String> {
        disk_components(&self.tree, node)
    }
}

/// The on-disk components of `node` in `tree`.
pub(crate) fn disk_components(tree: &Tree, node: usize) -> Vec<String> {
    tree.components(node)
        .into_iter()
        .map(|c| disk_name(c).into_owned())
        .collect()
}

/// The handle of the directory holding the last node asked about, kept because consecutive
/// entries usually share a directory.
pub(crate) struct DirCache<D> {
    slot: Option<(usize, D)>,
}

impl<D> DirCache<D> {
    pub(crate) fn new() -> DirCache<D> {
        DirCache { slot: None }
    }

    pub(crate) fn clear(&mut self) {
        self.slot = None;
    }

    /// The directory holding `node` (below `root`), from the cache or opened anew.
    pub(crate) fn parent_of<'a, F: Fs<Dir = D>>(
        &'a mut self,
        fs: &F,
        root: &D,
        tree: &Tree,
        node: usize,
    ) -> io::Result<&'a D> {
        let parent = tree.node(node).map_or(0, |n| n.parent);
        if self.slot.as_ref().is_none_or(|(n, _)| *n != parent) {
            let comps = disk_components(tree, parent);
            let dir = match crate::fs::open_dir_path(fs, root, &comps)? {
                crate::fs::DirRef::Owned(d) => d,
                crate::fs::DirRef::Borrowed(d) => fs.try_clone_dir(d)?,
            };
            self.slot = Some((parent, dir));
        }
        match &self.slot {
            Some((_, d)) => Ok(d),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }
}

fn parse(path: &str, line: u64) -> Result<LayerPath, Error> {
    LayerPath::parse(path).map_err(|e| Error::record(line, e.to_string()))
}

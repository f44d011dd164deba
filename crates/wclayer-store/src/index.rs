//! Loading a layer directory's sidecar: the manifest, and the records replayed through the
//! layer model ([`LayerTree`]). Only the tree and a few numbers per file stay in memory; a
//! file's stream list is re-read from its record when needed.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use wclayer_backup::{StreamAttributes, StreamId};
use wclayer_fs::Dir;
use wclayer_layer::{FileNo, LayerPath, LayerTree, Limits, NodeId, ReadAt};

use crate::Error;
use crate::format::{ENTRIES_FILE, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, SIDECAR_DIR};
use crate::meta::{FileRecord, LayerKind, Manifest, Record};

/// Largest `layer.json` accepted; it holds a few counters and the parents' names.
const MAX_MANIFEST: u64 = 16 << 20;
/// Largest record line accepted. Inline bodies are at most 64 KiB each, but a sparse file
/// may have up to 2^20 blocks (the tar reader's limit), about 80 bytes of JSON each.
const MAX_RECORD: usize = 256 << 20;
/// How much one read of a record takes: one byte more than a record may have, to tell a
/// record of exactly `MAX_RECORD` bytes from a longer one.
const READ_LIMIT: u64 = MAX_RECORD as u64 + 1;

/// Per file: where its record is and what the walk needs without reading it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexFile {
    /// Byte offset and length of the record's line in `entries.jsonl` (a record is at most
    /// `MAX_RECORD` bytes).
    pub offset: u64,
    pub len: u32,
    /// 1-based line number, for errors (a layer has fewer than 2^32 records: the tree
    /// numbers its names with `u32`).
    pub line: u32,
    pub data_size: u64,
}

/// A loaded layer directory.
pub(crate) struct LayerIndex {
    pub manifest: Manifest,
    pub tree: LayerTree<IndexFile>,
    records: std::fs::File,
}

/// Reads and checks `layer.json`.
pub(crate) fn read_manifest(root: &Dir) -> Result<Manifest, Error> {
    let path = Path::new(SIDECAR_DIR).join(MANIFEST_FILE);
    let file = root.open_file(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
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

impl LayerIndex {
    /// Loads the layer directory open at `root`; its records may claim at most `limits`.
    pub(crate) fn load(root: &Dir, limits: &Limits) -> Result<LayerIndex, Error> {
        let mut budget = limits.budget();
        let manifest = read_manifest(root)?;
        let path = Path::new(SIDECAR_DIR).join(ENTRIES_FILE);
        let file = root
            .open_file(&path)
            .map_err(|e| Error::io_layer("open .wclayer/entries.jsonl", e))?;
        let mut reader = BufReader::with_capacity(256 << 10, file);
        let mut tree: LayerTree<IndexFile> = LayerTree::new();
        let mut offset = 0u64;
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut reader)
                .take(READ_LIMIT)
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io_layer("read .wclayer/entries.jsonl", e))?;
            if n == 0 {
                break;
            }
            line_no = line_no.saturating_add(1);
            if n > MAX_RECORD || buf.last() != Some(&b'\n') {
                return Err(Error::record(line_no, "record too long or not terminated"));
            }
            let rec: Record =
                serde_json::from_slice(&buf).map_err(|e| Error::record(line_no, e.to_string()))?;
            let claimed = match &rec {
                Record::File(r) => Some((r.path.as_str(), r.data_size)),
                Record::Link { path, .. } | Record::Tomb { path } => Some((path.as_str(), 0)),
            };
            if let Some((path, size)) = claimed {
                budget.entry(path)?;
                budget.bytes(path, size)?;
            }
            let bad = |e: wclayer_layer::Error| Error::record(line_no, e.to_string());
            match rec {
                Record::File(r) => {
                    if r.n != tree.file_count() as u64 {
                        return Err(Error::record(line_no, "file numbers out of sequence"));
                    }
                    let name = parse(&r.path, line_no)?;
                    // The size readers report is the record's own: it must be what its
                    // streams make (one rule, wclayer_layer::ReportedSize).
                    let mut reported = wclayer_layer::ReportedSize::default();
                    for st in &r.streams {
                        if let crate::meta::Body::Blob(blob) = &st.body
                            && !crate::names::valid_blob_name(blob)
                        {
                            return Err(Error::record(
                                line_no,
                                format!("{}: invalid blob name {blob:?}", r.path),
                            ));
                        }
                        reported.header(
                            StreamId(st.id),
                            StreamAttributes(st.attributes),
                            st.size,
                            st.offset.unwrap_or(0),
                        );
                    }
                    if reported.value() != r.data_size {
                        return Err(Error::record(
                            line_no,
                            format!(
                                "{}: data_size {} differs from the {} bytes its streams hold",
                                r.path,
                                r.data_size,
                                reported.value()
                            ),
                        ));
                    }
                    let entry = IndexFile {
                        offset,
                        len: u32::try_from(n)
                            .map_err(|_| Error::record(line_no, "record too long"))?,
                        line: u32::try_from(line_no)
                            .map_err(|_| Error::record(line_no, "too many records"))?,
                        data_size: r.data_size,
                    };
                    let info = r.info.into();
                    if r.clone {
                        tree.inherit(&name, info, entry).map_err(bad)?;
                    } else {
                        tree.add(&name, info, entry).map_err(bad)?;
                    }
                }
                Record::Link { path, file, clone } => {
                    let name = parse(&path, line_no)?;
                    let f = file_no(&tree, file)
                        .ok_or_else(|| Error::record(line_no, "link to an unknown file"))?;
                    if tree.info(f).file_attributes.is_directory() {
                        return Err(Error::record(line_no, "link to a directory"));
                    }
                    if clone {
                        tree.inherit_link(&name, f).map_err(bad)?;
                    } else {
                        let target = first_name(&tree, f).ok_or_else(|| {
                            Error::record(line_no, "link to a file of the utility VM clone")
                        })?;
                        tree.add_link(&name, &target).map_err(bad)?;
                    }
                }
                Record::Tomb { path } => {
                    if manifest.kind == LayerKind::Base {
                        return Err(Error::record(line_no, "tombstone in a base layer"));
                    }
                    let name = parse(&path, line_no)?;
                    tree.remove(&name).map_err(bad)?;
                }
            }
            offset = offset
                .checked_add(n as u64)
                .ok_or_else(|| Error::record(line_no, "entries file longer than 2^64 bytes"))?;
        }
        let tombstones = tree.tombstone_count() as u64;
        let files = tree.file_count() as u64;
        if line_no != manifest.records
            || files != manifest.files
            || tombstones != manifest.tombstones
        {
            return Err(Error::Metadata {
                file: ENTRIES_FILE,
                line: None,
                reason: format!(
                    "{line_no} records, {files} files, {tombstones} tombstones; layer.json says {}, {}, {}",
                    manifest.records, manifest.files, manifest.tombstones
                ),
            });
        }
        Ok(LayerIndex {
            manifest,
            tree,
            records: reader.into_inner(),
        })
    }

    /// Reads the record of `file` again.
    pub(crate) fn record(&mut self, file: FileNo) -> Result<FileRecord, Error> {
        let entry = *self.tree.file(file);
        let mut buf = vec![0u8; entry.len as usize];
        self.records
            .read_exact_at(&mut buf, entry.offset)
            .map_err(|e| Error::io_layer("read .wclayer/entries.jsonl", e))?;
        match serde_json::from_slice(&buf)
            .map_err(|e| Error::record(u64::from(entry.line), e.to_string()))?
        {
            Record::File(r) => Ok(r),
            _ => Err(Error::record(
                u64::from(entry.line),
                "expected a file record",
            )),
        }
    }

    /// The on-disk components of `node` (see `wclayer_fs::names`).
    pub(crate) fn disk_components(&self, node: NodeId) -> Vec<String> {
        disk_components(&self.tree, node)
    }
}

/// The on-disk components of `node` in `tree`.
pub(crate) fn disk_components<F, N>(tree: &LayerTree<F, N>, node: NodeId) -> Vec<String> {
    tree.components(node)
        .into_iter()
        .map(|c| disk_name(c).into_owned())
        .collect()
}

/// The on-disk name of a component (the one scheme of `wclayer_fs::names`).
pub(crate) fn disk_name(real: &str) -> Cow<'_, str> {
    wclayer_fs::names::disk_name(real)
}

/// The file numbered `n` in a record, if the tree has it.
fn file_no(tree: &LayerTree<IndexFile>, n: u64) -> Option<FileNo> {
    let n = usize::try_from(n).ok()?;
    tree.file_numbers().nth(n)
}

/// The first name of file `f` that is the layer's own (not inherited).
fn first_name(tree: &LayerTree<IndexFile>, f: FileNo) -> Option<LayerPath> {
    let node = tree.names_of(f).find(|&n| !tree.is_inherited(n))?;
    LayerPath::parse(&tree.path_of(node)).ok()
}

fn parse(path: &str, line: u64) -> Result<LayerPath, Error> {
    LayerPath::parse(path).map_err(|e| Error::record(line, e.to_string()))
}

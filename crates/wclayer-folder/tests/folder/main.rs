//! Integration tests of the transport folder: a folder written by hand from docs/layer-semantics.md §3 and read
//! with hcsshim's legacy rules, round trips from `MemLayer` (fixed layers and random ones),
//! the on-disk format, and the errors.
#![cfg_attr(
    windows,
    allow(
        dead_code,
        unused_imports,
        reason = "the helpers serve the Unix-only modules"
    )
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "test values (names, small buffers, present-day times) fit every cast"
)]

// Reads and plants extended attributes, Unix modes, inode numbers and symbolic links.
#[cfg(unix)]
mod errors;
// Reads and plants extended attributes, Unix modes, inode numbers and symbolic links.
#[cfg(unix)]
mod legacy;
// Reads and plants extended attributes, Unix modes, inode numbers and symbolic links.
#[cfg(unix)]
mod ondisk;
// Writes folders, whose writer needs user extended attributes: none on Windows.
#[cfg(unix)]
mod prop;
// Writes folders, whose writer needs user extended attributes: none on Windows.
#[cfg(unix)]
mod roundtrip;

use std::collections::HashMap;
use std::path::Path;

use wclayer_backup::{FileAttributes, FileBasicInfo, FileTime};
use wclayer_folder::{FolderLayerReader, FolderLayerWriter};
use wclayer_layer::{Entry, LayerPath, LayerReader, MemLayer, WalkMode, copy_layer};

/// A layer name.
pub(crate) fn p(s: &str) -> LayerPath {
    LayerPath::parse(s).unwrap()
}

/// One `WIN32_STREAM_ID` + name + body, encoded by hand from docs/backup-stream.md §1:
/// `u32 id | u32 attributes | u64 size | u32 name bytes | UTF-16LE name | (sparse: i64
/// offset) | body`.
pub(crate) fn sub(id: u32, attributes: u32, name: &str, body: &[u8]) -> Vec<u8> {
    let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&attributes.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&name);
    out.extend_from_slice(body);
    out
}

/// A sparse block (id 9) at `offset`: `Size` counts the 8-byte offset.
pub(crate) fn sparse_block(offset: i64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&9u32.to_le_bytes());
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64 + 8).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(body);
    out
}

pub(crate) fn info(attrs: u32, t: u64) -> FileBasicInfo {
    FileBasicInfo {
        creation_time: FileTime(t),
        last_access_time: FileTime(t + 1),
        last_write_time: FileTime(t + 2),
        change_time: FileTime(t + 3),
        file_attributes: FileAttributes(attrs),
    }
}

/// What a reader yields for one entry, with hard links reduced to the index of the group.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) entry: Entry,
    pub(crate) stream: Vec<u8>,
    pub(crate) links: u32,
    /// For files with more than one link: the order in which its group was first seen.
    pub(crate) group: Option<usize>,
}

/// Reads every entry of `r`, with its whole stream.
pub(crate) fn collect(r: &mut dyn LayerReader) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut groups: HashMap<[u8; 16], usize> = HashMap::new();
    while let Some(entry) = r.next().unwrap() {
        let (links, group) = match &entry {
            Entry::File { .. } => {
                let li = r.link_info().unwrap();
                let n = groups.len();
                let group = (li.number_of_links > 1)
                    .then(|| *groups.entry(li.file_id.file_id).or_insert(n));
                (li.number_of_links, group)
            }
            _ => (0, None),
        };
        let mut stream = Vec::new();
        std::io::Read::read_to_end(r, &mut stream).unwrap();
        out.push(Rec {
            entry,
            stream,
            links,
            group,
        });
    }
    out
}

/// Writes `layer` (delta walk) into a new folder `dir/folder` with `copy_layer`.
pub(crate) fn write_folder(layer: &mut MemLayer, dir: &Path) -> std::path::PathBuf {
    layer.set_walk_mode(Some(WalkMode::Delta));
    let folder = dir.join("folder");
    let mut w = FolderLayerWriter::create(&folder).unwrap();
    copy_layer(&mut layer.reader().unwrap(), &mut w).unwrap();
    folder
}

/// `layer` → FolderLayerWriter → FolderLayerReader equals `layer`'s own reader.
pub(crate) fn assert_round_trip(layer: &mut MemLayer) {
    let tmp = tempfile::tempdir().unwrap();
    let folder = write_folder(layer, tmp.path());
    let mut r = FolderLayerReader::open(&folder).unwrap();
    assert!(r.is_lossless());
    let got = collect(&mut r);
    let want = collect(&mut layer.reader().unwrap());
    assert_eq!(got.len(), want.len(), "entry count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "entry {i}");
    }
    tmp.close().unwrap();
}

/// `name` for a file, `-name` for a tombstone.
#[cfg(unix)]
pub(crate) fn label(e: &Entry) -> String {
    match e {
        Entry::File { name, .. } => name.to_string(),
        Entry::Tombstone { name } => format!("-{name}"),
        _ => format!("?{}", e.name()),
    }
}

/// Windows has no user extended attributes: the writer says so before writing anything, and
/// its staging directory goes.
#[cfg(windows)]
#[test]
fn folders_cannot_be_written_without_extended_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let e = FolderLayerWriter::create(&tmp.path().join("folder")).unwrap_err();
    assert!(
        matches!(e, wclayer_folder::Error::XattrUnsupported { .. }),
        "{e:?}"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

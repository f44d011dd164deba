#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failing test"
)]

use std::io::Write;
use std::path::{Path, PathBuf};

use wclayer_backup::{
    BackupStreamWriter, FileAttributes, FileBasicInfo, FileTime, StreamHeader, StreamId,
};
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, Limits};

use super::{ChainReader, flatten_to_tar, write_content};

fn p(s: &str) -> LayerPath {
    LayerPath::parse(s).unwrap()
}

/// Times as Windows writes them (2020-01-01 plus a fraction).
fn times(attributes: u32) -> FileBasicInfo {
    let t = FileTime(132_223_104_000_001_234);
    FileBasicInfo {
        creation_time: t,
        last_access_time: t,
        last_write_time: t,
        change_time: t,
        file_attributes: FileAttributes(attributes),
    }
}

fn dir() -> FileBasicInfo {
    times(FileAttributes::DIRECTORY.0)
}

fn file(w: &mut dyn LayerWriter, name: &str, data: &[u8]) {
    w.add(&p(name), &times(0x20)).unwrap();
    let mut s = BackupStreamWriter::new(Vec::new());
    s.write_header(&StreamHeader::new(StreamId::DATA, data.len() as u64))
        .unwrap();
    s.write_all(data).unwrap();
    w.write_stream(&s.finish().unwrap()).unwrap();
}

/// base: Files with a link group, a directory with a child, `UtilityVM\Files`; delta:
/// a tombstoned directory added again, a case-different replacement, a tombstoned file
/// added again in another case, one name of the link group removed, a hive.
fn chain(root: &Path) -> (PathBuf, PathBuf) {
    let base = root.join("base");
    let delta = root.join("delta");
    let mut w = crate::new_layer_writer(&base, &[]).unwrap();
    for d in ["Files", "Files/Windows", "Files/dir", "Files/links"] {
        w.add(&p(d), &dir()).unwrap();
    }
    file(&mut w, "Files/Windows/win.ini", b"base ini");
    file(&mut w, "Files/Windows/a.txt", b"a");
    file(&mut w, "Files/dir/child", b"child");
    file(&mut w, "Files/readme.txt", b"lower");
    file(&mut w, "Files/links/one", b"linked");
    w.add_link(&p("Files/links/two"), &p("Files/links/one"))
        .unwrap();
    w.add_link(&p("Files/links/three"), &p("Files/links/one"))
        .unwrap();
    w.add(&p("UtilityVM"), &dir()).unwrap();
    w.add(&p("UtilityVM/Files"), &dir()).unwrap();
    file(&mut w, "UtilityVM/Files/uvm.txt", b"uvm");
    w.close().unwrap();

    let mut w = crate::new_layer_writer(&delta, std::slice::from_ref(&base)).unwrap();
    w.remove(&p("Files/dir")).unwrap();
    w.add(&p("Files/dir"), &dir()).unwrap();
    file(&mut w, "Files/dir/new", b"new");
    file(&mut w, "Files/README.TXT", b"upper");
    w.remove(&p("Files/Windows/a.txt")).unwrap();
    file(&mut w, "Files/Windows/A.TXT", b"again");
    w.remove(&p("Files/links/two")).unwrap();
    w.add(&p("Hives"), &dir()).unwrap();
    file(&mut w, "Hives/Software_Delta", b"regf");
    w.close().unwrap();
    (base, delta)
}

fn names(r: &mut ChainReader) -> Vec<(String, usize, u32)> {
    let mut out = Vec::new();
    while let Some(e) = r.next().unwrap() {
        let Entry::File { name, .. } = e else {
            panic!("a tombstone in a merged view")
        };
        let links = r.link_info().unwrap().number_of_links;
        out.push((name.to_slash(), r.supplier().unwrap(), links));
    }
    out
}

#[test]
fn merged_view_applies_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, delta) = chain(tmp.path());
    let mut r = ChainReader::open(&delta, &[base], &Limits::default()).unwrap();
    let got = names(&mut r);
    let want: Vec<(String, usize, u32)> = [
        ("Files", 1, 1),
        ("Files/README.TXT", 0, 1),
        ("Files/Windows", 1, 1),
        ("Files/Windows/A.TXT", 0, 1),
        ("Files/Windows/win.ini", 1, 1),
        ("Files/dir", 0, 1),
        ("Files/dir/new", 0, 1),
        ("Files/links", 1, 1),
        ("Files/links/one", 1, 2),
        ("Files/links/three", 1, 2),
        ("UtilityVM", 1, 1),
        ("UtilityVM/Files", 1, 1),
        ("UtilityVM/Files/uvm.txt", 1, 1),
    ]
    .into_iter()
    .map(|(n, l, k)| (n.to_string(), l, k))
    .collect();
    assert_eq!(got, want);
    assert_eq!(r.hive_entries(), [2, 0]);
}

#[test]
fn open_entry_reads_the_supplier() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, delta) = chain(tmp.path());
    let mut r = ChainReader::open(&delta, &[base], &Limits::default()).unwrap();
    let content = |r: &mut ChainReader, n: &str| {
        r.open_entry(&p(n)).unwrap()?;
        let mut out = Vec::new();
        write_content(&mut *r, None, &mut out).unwrap();
        Some((String::from_utf8(out).unwrap(), r.supplier().unwrap()))
    };
    assert_eq!(
        content(&mut r, "files/readme.txt"),
        Some(("upper".into(), 0))
    );
    assert_eq!(
        content(&mut r, "Files/Windows/a.txt"),
        Some(("again".into(), 0))
    );
    assert_eq!(
        content(&mut r, "Files/Windows/WIN.INI"),
        Some(("base ini".into(), 1))
    );
    assert_eq!(content(&mut r, "Files/dir/child"), None);
    assert_eq!(content(&mut r, "Files/links/two"), None);
    assert_eq!(content(&mut r, "Hives/Software_Delta"), None);
    // The walk is where it was.
    assert_eq!(r.next().unwrap().unwrap().name().as_str(), "Files");
}

#[test]
fn flatten_is_a_base_layer_with_the_merged_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, delta) = chain(tmp.path());
    let (tar, stats, _) = flatten_to_tar(
        Vec::new(),
        &delta,
        std::slice::from_ref(&base),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(stats.links, 1);
    let flat = tmp.path().join("flat");
    crate::import_layer_from_tar(&tar[..], &flat, &[]).unwrap();
    let again = crate::export_layer_to_tar(Vec::new(), &flat, &[]).unwrap();
    assert!(again == tar, "the flattened layer's export differs");
    let mut merged = ChainReader::open(&delta, &[base], &Limits::default()).unwrap();
    let mut one = ChainReader::open(&flat, &[], &Limits::default()).unwrap();
    let strip = |v: Vec<(String, usize, u32)>| -> Vec<(String, u32)> {
        v.into_iter().map(|(n, _, k)| (n, k)).collect()
    };
    assert_eq!(strip(names(&mut one)), strip(names(&mut merged)));
}

/// Three layers: an upper file replaces a lower directory (its children vanish), an upper
/// directory with entries below it replaces a lower file, a directory added in another case
/// is spelled as its supplier spells it, a middle tombstone hides the base's name, and a
/// link group split by an upper replacement keeps the names left.
#[test]
fn replacements_across_kinds_and_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let mid = tmp.path().join("mid");
    let top = tmp.path().join("top");
    let mut w = crate::new_layer_writer(&base, &[]).unwrap();
    for d in ["Files", "Files/tree", "Files/Lower"] {
        w.add(&p(d), &dir()).unwrap();
    }
    file(&mut w, "Files/tree/leaf", b"leaf");
    file(&mut w, "Files/flat", b"flat");
    file(&mut w, "Files/Lower/in", b"in");
    file(&mut w, "Files/gone", b"gone");
    file(&mut w, "Files/g1", b"group");
    w.add_link(&p("Files/g2"), &p("Files/g1")).unwrap();
    w.add_link(&p("Files/g3"), &p("Files/g1")).unwrap();
    w.close().unwrap();

    let mut w = crate::new_layer_writer(&mid, std::slice::from_ref(&base)).unwrap();
    w.remove(&p("Files/gone")).unwrap();
    w.add(&p("Files/LOWER"), &dir()).unwrap();
    w.close().unwrap();

    let parents = [mid.clone(), base.clone()];
    let mut w = crate::new_layer_writer(&top, &parents).unwrap();
    file(&mut w, "Files/tree", b"now a file");
    file(&mut w, "Files/flat/inside", b"below a lower file");
    file(&mut w, "Files/g2", b"replaced");
    w.close().unwrap();

    let mut r = ChainReader::open(&top, &parents, &Limits::default()).unwrap();
    let got = names(&mut r);
    let want: Vec<(String, usize, u32)> = [
        ("Files", 2, 1),
        ("Files/LOWER", 1, 1),
        ("Files/LOWER/in", 2, 1),
        ("Files/flat/inside", 0, 1),
        ("Files/g1", 2, 2),
        ("Files/g2", 0, 1),
        ("Files/g3", 2, 2),
        ("Files/tree", 0, 1),
    ]
    .into_iter()
    .map(|(n, l, k)| (n.to_string(), l, k))
    .collect();
    assert_eq!(got, want);
    assert_eq!(r.layer_count(), 3);
    assert_eq!(r.layer_path(1), Some(mid.as_path()));
    // The flattened chain is a valid base layer (Files\flat is an implicit directory).
    let (tar, ..) = flatten_to_tar(Vec::new(), &top, &parents, &Limits::default()).unwrap();
    let flat = tmp.path().join("flat");
    crate::import_layer_from_tar(&tar[..], &flat, &[]).unwrap();
    assert!(crate::export_layer_to_tar(Vec::new(), &flat, &[]).unwrap() == tar);
}

//! Unit tests of the delta: a layer chain and a host tree as the new tree, each delta
//! imported over the parent and its merged view compared with the new tree's.
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
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, Limits, copy_layer};

use super::*;
use crate::diff::{Input, diff};

fn p(s: &str) -> LayerPath {
    LayerPath::parse(s).unwrap()
}

fn info(attributes: u32) -> FileBasicInfo {
    let t = FileTime(132_223_104_000_001_234);
    FileBasicInfo {
        creation_time: t,
        last_access_time: t,
        last_write_time: t,
        change_time: t,
        file_attributes: FileAttributes(attributes),
    }
}

fn dir(w: &mut dyn LayerWriter, name: &str) {
    w.add(&p(name), &info(FileAttributes::DIRECTORY.0)).unwrap();
}

fn file_with(w: &mut dyn LayerWriter, name: &str, data: &[u8], attrs: u32, sd: &[u8]) {
    w.add(&p(name), &info(attrs)).unwrap();
    let mut s = BackupStreamWriter::new(Vec::new());
    if !sd.is_empty() {
        s.write_header(&StreamHeader::new(StreamId::SECURITY_DATA, sd.len() as u64))
            .unwrap();
        s.write_all(sd).unwrap();
    }
    s.write_header(&StreamHeader::new(StreamId::DATA, data.len() as u64))
        .unwrap();
    s.write_all(data).unwrap();
    w.write_stream(&s.finish().unwrap()).unwrap();
}

fn file(w: &mut dyn LayerWriter, name: &str, data: &[u8]) {
    file_with(w, name, data, 0x20, &[]);
}

/// A base layer: two directories with files, a link group, the utility VM.
fn base(root: &Path) -> PathBuf {
    let b = root.join("base");
    let mut w = crate::new_layer_writer(&b, &[]).unwrap();
    for d in [
        "Files",
        "Files/Windows",
        "Files/gone",
        "Files/gone/sub",
        "Files/links",
    ] {
        dir(&mut w, d);
    }
    file(&mut w, "Files/Windows/win.ini", b"ini");
    file(&mut w, "Files/Windows/same.txt", b"same");
    file(&mut w, "Files/Windows/attrs.txt", b"attrs");
    file(&mut w, "Files/Windows/old.txt", b"old");
    file(&mut w, "Files/gone/a", b"a");
    file(&mut w, "Files/gone/sub/b", b"b");
    file(&mut w, "Files/links/one", b"linked");
    w.add_link(&p("Files/links/two"), &p("Files/links/one"))
        .unwrap();
    file(&mut w, "Files/tofile", b"x");
    dir(&mut w, "Files/todir");
    file(&mut w, "Files/todir/child", b"c");
    dir(&mut w, "UtilityVM");
    dir(&mut w, "UtilityVM/Files");
    file(&mut w, "UtilityVM/Files/uvm.txt", b"uvm");
    w.close().unwrap();
    b
}

/// The entries of a layer reader: name, and for a tombstone `-`.
fn entries(r: &mut dyn LayerReader) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = r.next().unwrap() {
        match e {
            Entry::Tombstone { name } => out.push(format!("-{}", name.to_slash())),
            Entry::File { name, .. } => out.push(name.to_slash()),
            other => panic!("{other:?}"),
        }
    }
    out
}

/// Imports the delta over `parents` as `dir` and checks that its merged view equals the
/// merged view `want` (top, parents), entry by entry with every field `diff` compares.
fn round_trip(layer: &mut MemLayer, dir: &Path, parents: &[PathBuf], want: (&Path, &[PathBuf])) {
    let mut r = layer.reader().unwrap();
    let mut w = crate::new_layer_writer(dir, parents).unwrap();
    copy_layer(&mut r, &mut w).unwrap();
    let mut got = ChainReader::open(dir, parents, &Limits::default()).unwrap();
    let mut expected = ChainReader::open(want.0, want.1, &Limits::default()).unwrap();
    let d = diff(
        Input::Layer(&mut expected),
        Input::Layer(&mut got),
        &Limits::default(),
    )
    .unwrap();
    assert!(d.is_identical(), "{:#?}", d.changes);
}

#[test]
fn layer_chain_delta_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let b = base(tmp.path());
    let m = tmp.path().join("m");
    let mut w = crate::new_layer_writer(&m, std::slice::from_ref(&b)).unwrap();
    w.remove(&p("Files/gone")).unwrap();
    w.remove(&p("Files/Windows/old.txt")).unwrap();
    file(&mut w, "Files/Windows/win.ini", b"changed");
    file_with(&mut w, "Files/Windows/attrs.txt", b"attrs", 0x21, &[]);
    file(&mut w, "Files/Windows/same.txt", b"same");
    dir(&mut w, "Files/new");
    file(&mut w, "Files/new/n1", b"n");
    w.add_link(&p("Files/new/n2"), &p("Files/new/n1")).unwrap();
    w.add_link(&p("Files/links/three"), &p("Files/new/n1"))
        .unwrap();
    dir(&mut w, "Files/tofile");
    file(&mut w, "Files/tofile/inside", b"i");
    file(&mut w, "Files/todir", b"now a file");
    w.close().unwrap();

    let parents = vec![b.clone()];
    let new = NewTree::Layer {
        top: m.clone(),
        parents: parents.clone(),
    };
    let (mut layer, stats) = delta_mem_layer(&parents, &new, &Limits::default()).unwrap();
    let got = entries(&mut layer.reader().unwrap());
    assert_eq!(
        got,
        [
            "-Files/gone",
            "-Files/Windows/old.txt",
            "Files/Windows/attrs.txt",
            "Files/Windows/win.ini",
            "Files/links/three",
            "Files/new",
            "Files/new/n1",
            "Files/new/n2",
            "Files/todir",
            "Files/tofile",
            "Files/tofile/inside",
        ],
        "same.txt is the same in both (re-adding it changed nothing), todir's child is \
         hidden by the file"
    );
    assert_eq!((stats.added, stats.changed, stats.tombstones), (5, 4, 2));
    assert_eq!(stats.hard_links, 2);
    round_trip(&mut layer, &tmp.path().join("l"), &parents, (&m, &parents));
}

#[test]
fn identical_trees_give_an_empty_delta() {
    let tmp = tempfile::tempdir().unwrap();
    let b = base(tmp.path());
    let parents = vec![b.clone()];
    let new = NewTree::Layer {
        top: b,
        parents: Vec::new(),
    };
    let mut out = Vec::new();
    let (_, _, stats) = delta_tar(&parents, &new, &Limits::default(), &mut out).unwrap();
    assert!(stats.is_empty(), "{stats:?}");
    // An empty tar: its end blocks only.
    assert!(out.iter().all(|b| *b == 0), "{} bytes", out.len());
    assert!(matches!(
        delta_mem_layer(&[], &new, &Limits::default()),
        Err(DeltaError::NoParents)
    ));
}

#[test]
fn host_tree_delta_compares_content_and_removes_the_topmost_name() {
    let tmp = tempfile::tempdir().unwrap();
    let b = base(tmp.path());
    let host = tmp.path().join("host");
    let mk = |rel: &str, data: &str| {
        let f = host.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, data).unwrap();
    };
    mk("Windows/win.ini", "ini");
    mk("Windows/same.txt", "same");
    mk("Windows/attrs.txt", "attrs, changed");
    mk("Windows/added.txt", "added");
    mk("links/one", "linked");
    std::fs::hard_link(host.join("links/one"), host.join("links/two")).unwrap();
    mk("tofile", "x");
    mk("todir/child", "c");
    // Left out: Windows/old.txt and the directory gone (with what is below it).
    let parents = vec![b.clone()];
    let mut options = Options::new();
    options.source_date_epoch(0);
    let new = NewTree::Host {
        root: host.clone(),
        options,
    };
    let (mut layer, stats) = delta_mem_layer(&parents, &new, &Limits::default()).unwrap();
    assert_eq!(
        entries(&mut layer.reader().unwrap()),
        [
            "-Files/gone",
            "-Files/Windows/old.txt",
            "Files/Windows/added.txt",
            "Files/Windows/attrs.txt",
        ],
        "times and descriptors of the host make no change; the utility VM is kept"
    );
    assert_eq!((stats.added, stats.changed, stats.tombstones), (1, 1, 2));

    // Imported over the parent, the chain has the host's content.
    let l = tmp.path().join("l");
    let mut r = layer.reader().unwrap();
    let mut w = crate::new_layer_writer(&l, &parents).unwrap();
    copy_layer(&mut r, &mut w).unwrap();
    let mut view = ChainReader::open(&l, &parents, &Limits::default()).unwrap();
    let names = entries(&mut view);
    assert!(names.contains(&"UtilityVM/Files/uvm.txt".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("gone") || n.contains("old.txt"))
    );
    for (name, want) in [
        ("Files/Windows/attrs.txt", "attrs, changed"),
        ("Files/Windows/added.txt", "added"),
        ("Files/Windows/win.ini", "ini"),
    ] {
        view.open_entry(&p(name)).unwrap().unwrap();
        let mut out = Vec::new();
        crate::chain::write_content(&mut view, None, &mut out).unwrap();
        assert_eq!(out, want.as_bytes(), "{name}");
    }

    // Breaking the link group re-adds both names as separate files.
    std::fs::remove_file(host.join("links/two")).unwrap();
    mk("links/two", "linked");
    let (mut layer, stats) = delta_mem_layer(&parents, &new, &Limits::default()).unwrap();
    let got = entries(&mut layer.reader().unwrap());
    assert!(got.contains(&"Files/links/one".to_string()), "{got:?}");
    assert!(got.contains(&"Files/links/two".to_string()), "{got:?}");
    assert_eq!(stats.hard_links, 0);
}

#[test]
fn host_tree_under_a_prefix_removes_only_within_it() {
    let tmp = tempfile::tempdir().unwrap();
    let b = base(tmp.path());
    let host = tmp.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("one"), "linked").unwrap();
    let mut options = Options::new();
    options.prefix("Files/links").unwrap();
    let new = NewTree::Host {
        root: host,
        options,
    };
    let (mut layer, _) = delta_mem_layer(&[b], &new, &Limits::default()).unwrap();
    assert_eq!(
        entries(&mut layer.reader().unwrap()),
        ["-Files/links/two", "Files/links/one"],
        "one loses its other name, so it is written again; nothing outside the prefix goes"
    );
}

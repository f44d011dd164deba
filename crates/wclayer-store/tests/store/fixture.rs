//! Layer directories written by earlier versions still read: one committed fixture per
//! format version (`tests/fixtures/layer-directory-vN.tar`, a tar of a base layer directory
//! and a delta layer directory over it), compared entry by entry with the layers that made it.
//!
//! The fixture is made by [`regenerate_layer_directory_fixture`] (ignored; run it by hand with
//! `cargo test -p wclayer-store --test store -- --ignored regenerate`) and never again for the
//! same version: a later writer must not change what an old directory means.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{LayerWriter, MemLayer, WalkMode};
use wclayer_store::DirLayerReader;

use crate::common::*;

/// The fixture of format version 1.
const FIXTURE_V1: &str = "layer-directory-v1.tar";

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The base layer of the fixture: every kind of entry the format stores.
fn fixture_base() -> MemLayer {
    let mut l = MemLayer::new();
    let sd = [
        1u8, 0, 4, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let ea = wclayer_backup::ea::encode(&[wclayer_backup::ea::ExtendedAttribute::new(
        b"$KERNEL.PURGE.ESBCACHE".to_vec(),
        vec![1, 2, 3, 4, 5],
    )])
    .unwrap();
    add(&mut l, "Files", dir_info(1), &Stream::new().sd(&sd));
    add(
        &mut l,
        "Files/Windows",
        dir_info(2),
        &Stream::new().sd(&sd).ads("dirstream", b"on a dir"),
    );
    add(
        &mut l,
        "Files/Windows/System32/kernel32.dll",
        file_info(3),
        &Stream::new().sd(&sd).ea(&ea).data(b"MZ\x90\x00 kernel"),
    );
    add(
        &mut l,
        "Files/Windows/System32/zone.txt",
        file_info(4),
        &Stream::new()
            .data(b"hello")
            .ads("Zone.Identifier", b"[ZoneTransfer]\r\nZoneId=3")
            .ads("big", &[7u8; 70_000]),
    );
    add(
        &mut l,
        "Files/odd-order.bin",
        file_info(5),
        &Stream::new().data(b"data first").ea(&ea).sd(&sd),
    );
    add(
        &mut l,
        "Files/sparse.vhd",
        info(0x220, 6),
        &Stream::new().sparse(&[(0, b"head"), (40_000, b"tail")], 65_536),
    );
    add(&mut l, "Files/empty", file_info(7), &Stream::new());
    let rel = ReparsePoint::from_target("Windows\\System32\\kernel32.dll", false);
    add(
        &mut l,
        "Files/safe-link",
        symlink_info(8),
        &Stream::new().reparse(&rel),
    );
    let esc = ReparsePoint::from_target("..\\..\\etc\\passwd", false);
    add(
        &mut l,
        "Files/escaping-link",
        symlink_info(9),
        &Stream::new().reparse(&esc),
    );
    let mp = ReparsePoint::from_target("C:\\ProgramData", true);
    add(
        &mut l,
        "Files/Documents and Settings",
        info(0x416, 10),
        &Stream::new().reparse(&mp),
    );
    add(
        &mut l,
        "Files/links/c-first",
        file_info(11),
        &Stream::new().data(b"shared"),
    );
    l.add_link(&p("Files/links/a"), &p("Files/LINKS/C-FIRST"))
        .unwrap();
    add(&mut l, "Files/x", file_info(12), &Stream::new().data(b"x"));
    let long = "字".repeat(100);
    add(
        &mut l,
        &format!("Files/{long}"),
        dir_info(13),
        &Stream::new(),
    );
    add(
        &mut l,
        &format!("Files/{long}/ünï.txt"),
        file_info(14),
        &Stream::new().data(b"long"),
    );
    add(
        &mut l,
        "Files/.wclayer",
        file_info(15),
        &Stream::new().data(b"not metadata"),
    );
    add(&mut l, "Files/late/child", file_info(16), &Stream::new());
    add(&mut l, "Files/LATE", dir_info(17), &Stream::new().sd(&sd));
    add(&mut l, "UtilityVM", dir_info(18), &Stream::new());
    add(&mut l, "UtilityVM/Files", dir_info(19), &Stream::new());
    for (i, n) in ["BCD", "BCD.LOG"].iter().enumerate() {
        add(
            &mut l,
            &format!("UtilityVM/Files/EFI/Microsoft/Boot/{n}"),
            file_info(20 + i as u64),
            &Stream::new().data(n.as_bytes()),
        );
    }
    add(
        &mut l,
        "UtilityVM/Files/kernel.exe",
        file_info(22),
        &Stream::new().data(b"uvm kernel"),
    );
    l.add_link(
        &p("UtilityVM/Files/kernel-link.exe"),
        &p("UtilityVM/Files/kernel.exe"),
    )
    .unwrap();
    add(
        &mut l,
        "UtilityVM/Files/modified.txt",
        file_info(23),
        &Stream::new().data(b"old"),
    );
    add(&mut l, "Hives", dir_info(24), &Stream::new());
    add(
        &mut l,
        "Hives/System_Delta",
        file_info(25),
        &Stream::new().data(b"regf"),
    );
    l.close().unwrap();
    l
}

/// The delta layer of the fixture: tombstones at several depths, a re-added name, a hard
/// link into the parent, a utility VM change (so the utility VM is cloned).
fn write_fixture_delta(l: &mut impl LayerWriter) {
    l.remove(&p("rootfile")).unwrap();
    add(l, "Files", dir_info(30), &Stream::new());
    l.remove(&p("Files/odd-order.bin")).unwrap();
    l.remove(&p("Files/empty")).unwrap();
    add(
        l,
        "Files/empty",
        file_info(31),
        &Stream::new().data(b"back"),
    );
    l.remove(&p("Files/deep/er/GONE")).unwrap();
    l.add_link(&p("Files/linked-x"), &p("Files/x")).unwrap();
    add(l, "UtilityVM", dir_info(32), &Stream::new());
    add(l, "UtilityVM/Files", dir_info(33), &Stream::new());
    add(
        l,
        "UtilityVM/Files/modified.txt",
        file_info(34),
        &Stream::new().data(b"new content"),
    );
    l.remove(&p("Hives/old")).unwrap();
    l.close().unwrap();
}

/// What the delta's reader gives: the delta as written, with `Files\linked-x` read as the
/// parent's `Files\x` (a hard link into the parent carries the parent's file).
fn expected_delta() -> MemLayer {
    let mut l = MemLayer::new();
    l.set_walk_mode(Some(WalkMode::Delta));
    l.remove(&p("rootfile")).unwrap();
    add(&mut l, "Files", dir_info(30), &Stream::new());
    l.remove(&p("Files/odd-order.bin")).unwrap();
    l.remove(&p("Files/empty")).unwrap();
    add(
        &mut l,
        "Files/empty",
        file_info(31),
        &Stream::new().data(b"back"),
    );
    l.remove(&p("Files/deep/er/GONE")).unwrap();
    add(
        &mut l,
        "Files/linked-x",
        file_info(12),
        &Stream::new().data(b"x"),
    );
    add(&mut l, "UtilityVM", dir_info(32), &Stream::new());
    add(&mut l, "UtilityVM/Files", dir_info(33), &Stream::new());
    add(
        &mut l,
        "UtilityVM/Files/modified.txt",
        file_info(34),
        &Stream::new().data(b"new content"),
    );
    l.remove(&p("Hives/old")).unwrap();
    l.close().unwrap();
    l
}

/// Writes `tests/fixtures/layer-directory-v1.tar` with the writer of this version. Run it
/// only when a new format version is introduced (with a new file name).
#[test]
#[ignore = "writes the committed fixture; run by hand for a new format version"]
fn regenerate_layer_directory_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    round_trip(&mut fixture_base(), tmp.path(), "base", &[]);
    let fd = open_dir(tmp.path());
    let parents = vec![wclayer_store::ParentLayer::open(&fd, "base").unwrap()];
    let mut w = wclayer_store::DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    write_fixture_delta(&mut w);
    let out = std::fs::File::create(fixture_path(FIXTURE_V1)).unwrap();
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Deterministic);
    let mut seen = std::collections::HashMap::new();
    for layer in ["base", "delta"] {
        append_tree(&mut b, tmp.path(), Path::new(layer), &mut seen);
    }
    b.into_inner().unwrap();
}

/// Appends `rel` (below `root`) and everything in it, in name order, keeping hard links
/// (the second name of an inode becomes a hard-link entry), symbolic links and empty
/// directories.
fn append_tree(
    b: &mut tar::Builder<std::fs::File>,
    root: &Path,
    rel: &Path,
    seen: &mut std::collections::HashMap<u64, PathBuf>,
) {
    use std::os::unix::fs::MetadataExt;
    let full = root.join(rel);
    let meta = std::fs::symlink_metadata(&full).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    if meta.is_dir() {
        b.append_data(&mut h, rel, std::io::empty()).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&full)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            append_tree(b, root, &rel.join(n), seen);
        }
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&full).unwrap();
        b.append_link(&mut h, rel, target).unwrap();
    } else if let Some(first) = seen.get(&meta.ino()) {
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        b.append_link(&mut h, rel, first).unwrap();
    } else {
        if meta.nlink() > 1 {
            seen.insert(meta.ino(), rel.to_path_buf());
        }
        b.append_data(&mut h, rel, std::fs::File::open(&full).unwrap())
            .unwrap();
    }
}

/// Extracts a fixture into a new temporary directory (hard links, symbolic links and empty
/// directories included).
fn extract(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    std::fs::File::open(fixture_path(name))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let mut a = tar::Archive::new(bytes.as_slice());
    a.set_preserve_permissions(true);
    a.unpack(tmp.path()).unwrap();
    tmp
}

/// Compares entries, streams and the groups of names sharing a file. Link counts are not
/// compared: a file hard-linked from a layer above counts that layer's names too.
fn assert_same_names_streams_and_groups(want: &[Snap], got: &[Snap]) {
    let names = |s: &[Snap]| {
        s.iter()
            .map(|s| s.entry.name().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(want), names(got));
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w.entry, g.entry, "{}", w.entry.name());
        assert!(w.stream == g.stream, "stream of {}", w.entry.name());
    }
    let groups = |s: &[Snap]| {
        let mut by_id: std::collections::BTreeMap<[u8; 16], Vec<String>> = Default::default();
        for x in s.iter().filter(|x| x.links > 0) {
            by_id
                .entry(x.id)
                .or_default()
                .push(x.entry.name().to_string());
        }
        let mut g: Vec<Vec<String>> = by_id.into_values().filter(|v| v.len() > 1).collect();
        g.sort();
        g
    };
    assert_eq!(groups(want), groups(got), "hard-link groups");
}

#[test]
fn reads_layer_directory_format_v1() {
    let tmp = extract(FIXTURE_V1);
    let fd = open_dir(tmp.path());

    let mut base = fixture_base();
    base.set_walk_mode(Some(WalkMode::Base));
    let want = snapshot(&mut base.reader().unwrap());
    let mut r = DirLayerReader::open(&fd, "base").unwrap();
    assert_eq!(r.layer_info().version, 1);
    assert_same_names_streams_and_groups(&want, &snapshot(&mut r));

    let want = snapshot(&mut expected_delta().reader().unwrap());
    let mut r = DirLayerReader::open(&fd, "delta").unwrap();
    let info = r.layer_info();
    assert_eq!((info.version, info.tombstones), (1, 5));
    assert!(info.utility_vm_cloned);
    assert_same_names_streams_and_groups(&want, &snapshot(&mut r));
    // The utility VM clone is on disk and reads as the base's files.
    let delta = tmp.path().join("delta");
    assert_eq!(
        std::fs::read(delta.join("UtilityVM/Files/kernel-link.exe")).unwrap(),
        b"uvm kernel"
    );
    assert_eq!(
        std::fs::read(delta.join("UtilityVM/Files/EFI/Microsoft/Boot/BCD")).unwrap(),
        b"BCD"
    );

    // A layer over the fixture's delta still imports: the old parent records are usable.
    let mut w = wclayer_store::DirLayerWriter::create(
        &fd,
        "over",
        vec![
            wclayer_store::ParentLayer::open(&fd, "delta").unwrap(),
            wclayer_store::ParentLayer::open(&fd, "base").unwrap(),
        ],
        opts(),
    )
    .unwrap();
    add(&mut w, "Files", dir_info(40), &Stream::new());
    w.add_link(&p("Files/again-x"), &p("Files/linked-x"))
        .unwrap();
    add(&mut w, "UtilityVM", dir_info(41), &Stream::new());
    w.close().unwrap();
    let over_dir = tmp.path().join("over");
    assert_eq!(std::fs::read(over_dir.join("Files/again-x")).unwrap(), b"x");
    assert_eq!(
        std::fs::read(over_dir.join("UtilityVM/Files/modified.txt")).unwrap(),
        b"new content"
    );
}

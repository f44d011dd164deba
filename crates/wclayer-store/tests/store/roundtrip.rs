//! MemLayer → DirLayerWriter → DirLayerReader gives MemLayer's reader output exactly.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{Entry, LayerReader, LayerWriter, MemLayer};
use wclayer_store::{BodyLocation, DirLayerReader, DirLayerWriter, LayerKind};

use crate::common::*;

/// A layer touching every feature the brief lists, without tombstones.
fn rich_layer(l: &mut MemLayer) {
    let sd = [
        1u8, 0, 4, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let ea = wclayer_backup::ea::encode(&[wclayer_backup::ea::ExtendedAttribute::new(
        b"$KERNEL.PURGE.ESBCACHE".to_vec(),
        vec![1, 2, 3, 4, 5],
    )])
    .unwrap();
    add(l, "Files", dir_info(1), &Stream::new().sd(&sd));
    add(
        l,
        "Files/Windows",
        dir_info(2),
        &Stream::new().sd(&sd).ads("dirstream", b"on a dir"),
    );
    // Implicit directory: Files\Windows\System32 is never added.
    add(
        l,
        "Files/Windows/System32/kernel32.dll",
        file_info(3),
        &Stream::new().sd(&sd).ea(&ea).data(b"MZ\x90\x00 kernel"),
    );
    add(
        l,
        "Files/Windows/System32/zone.txt",
        file_info(4),
        &Stream::new()
            .data(b"hello")
            .ads("Zone.Identifier", b"[ZoneTransfer]\r\nZoneId=3")
            .ads("second", b"")
            .ads("third", &[7u8; 70_000]),
    );
    // EA after the data, security descriptor last: an unusual order.
    add(
        l,
        "Files/odd-order.bin",
        file_info(5),
        &Stream::new().data(b"data first").ea(&ea).sd(&sd),
    );
    let big: Vec<u8> = (0u32..3 * 1024 * 1024 + 17)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    add(l, "Files/big.bin", file_info(6), &Stream::new().data(&big));
    add(
        l,
        "Files/sparse.vhd",
        info(0x220, 7),
        &Stream::new().sparse(
            &[(0, b"head"), (1 << 20, b"middle"), (5 << 20, b"tail")],
            8 << 20,
        ),
    );
    add(l, "Files/empty", file_info(8), &Stream::new());
    // Symlinks: safe relative, escaping relative, absolute, a mount point, a directory link.
    let rel = ReparsePoint::from_target("..\\Windows\\System32\\kernel32.dll", false);
    add(
        l,
        "Files/safe-link",
        symlink_info(9),
        &Stream::new().reparse(&rel),
    );
    let esc = ReparsePoint::from_target("..\\..\\..\\..\\etc\\passwd", false);
    add(
        l,
        "Files/escaping-link",
        symlink_info(10),
        &Stream::new().reparse(&esc),
    );
    let abs = ReparsePoint::from_target("C:\\Windows", false);
    add(
        l,
        "Files/absolute-link",
        info(0x430, 11),
        &Stream::new().sd(&sd).reparse(&abs),
    );
    let mp = ReparsePoint::from_target("C:\\ProgramData", true);
    add(
        l,
        "Files/Documents and Settings",
        info(0x416, 12),
        &Stream::new().reparse(&mp),
    );
    // Hard-link group of three (names added in a different order than walked).
    add(
        l,
        "Files/links/c-first",
        file_info(13),
        &Stream::new().data(b"shared"),
    );
    l.add_link(&p("Files/links/a"), &p("Files/LINKS/C-FIRST"))
        .unwrap();
    l.add_link(&p("Files/links/b"), &p("Files/links/a"))
        .unwrap();
    // Unicode and long names: 200 CJK characters are 600 bytes of UTF-8.
    add(
        l,
        "Files/ünïcödé/日本語.txt",
        file_info(14),
        &Stream::new().data(b"nihongo"),
    );
    let long = "字".repeat(200);
    add(l, &format!("Files/{long}"), dir_info(15), &Stream::new());
    add(
        l,
        &format!("Files/{long}/{long}.txt"),
        file_info(16),
        &Stream::new().data(b"long"),
    );
    // A name that looks like the sidecar.
    add(
        l,
        "Files/.wclayer",
        file_info(17),
        &Stream::new().data(b"not metadata"),
    );
    // Skipped by the walk.
    add(
        l,
        "Files/$Recycle.Bin/x",
        file_info(18),
        &Stream::new().data(b"trash"),
    );
    // Directory added after an entry below it (implicit promoted).
    add(
        l,
        "Files/late/child",
        file_info(19),
        &Stream::new().data(b"c"),
    );
    add(l, "Files/LATE", dir_info(20), &Stream::new().sd(&sd));
    // Utility VM and hives (hives are not walked in a base layer).
    add(l, "UtilityVM", dir_info(21), &Stream::new());
    add(l, "UtilityVM/Files", dir_info(22), &Stream::new());
    add(
        l,
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD",
        file_info(23),
        &Stream::new().data(b"bcd"),
    );
    add(l, "Hives", dir_info(24), &Stream::new());
    add(
        l,
        "Hives/System_Delta",
        file_info(25),
        &Stream::new().data(b"regf"),
    );
    l.close().unwrap();
}

#[test]
fn base_layer_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = MemLayer::new();
    rich_layer(&mut l);
    let got = round_trip(&mut l, tmp.path(), "base", &[]);
    assert_eq!(ls(tmp.path()), ["base"], "nothing but the layer next to it");
    let names: Vec<String> = got.iter().map(|s| s.entry.name().to_string()).collect();
    assert!(names.contains(&"Files\\links\\a".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("Recycle") || n.starts_with("Hives"))
    );
    let root = tmp.path().join("base");

    // The content is readable as ordinary files.
    assert_eq!(
        std::fs::read(root.join("Files/Windows/System32/kernel32.dll")).unwrap(),
        b"MZ\x90\x00 kernel"
    );
    assert_eq!(
        std::fs::read(root.join("Files/ünïcödé/日本語.txt")).unwrap(),
        b"nihongo"
    );
    assert_eq!(
        std::fs::read(root.join("Files/big.bin")).unwrap().len(),
        3 * 1024 * 1024 + 17
    );
    // The base walk that fed the import does not carry Hives (docs/layer-semantics.md §0.2).
    assert!(!root.join("Hives").exists());
    // Sparse: the logical size, with holes left as holes.
    let sparse = std::fs::metadata(root.join("Files/sparse.vhd")).unwrap();
    assert_eq!(sparse.len(), 8 << 20);
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "holes stay holes ({} blocks)",
        sparse.blocks()
    );
    let mut f = std::fs::File::open(root.join("Files/sparse.vhd")).unwrap();
    let mut buf = [0u8; 6];
    f.seek(SeekFrom::Start(1 << 20)).unwrap();
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"middle");
    // Links: a safe one is a Linux symlink, the others are placeholders.
    let safe = std::fs::symlink_metadata(root.join("Files/safe-link")).unwrap();
    assert!(safe.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(root.join("Files/safe-link"))
            .unwrap()
            .to_str(),
        Some("../Windows/System32/kernel32.dll")
    );
    for placeholder in ["escaping-link", "absolute-link", "Documents and Settings"] {
        let m = std::fs::symlink_metadata(root.join("Files").join(placeholder)).unwrap();
        assert!(m.file_type().is_file() && m.len() == 0, "{placeholder}");
    }
    // Hard links are real hard links.
    let a = std::fs::metadata(root.join("Files/links/a")).unwrap();
    let c = std::fs::metadata(root.join("Files/links/c-first")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (c.ino(), 3));
    // The long name is stored under a derived name; the sidecar-like name too.
    let files = ls(&root.join("Files"));
    assert!(!files.iter().any(|n| n.contains('字')));
    assert!(!files.contains(&".wclayer".to_string()));
    assert_eq!(
        files
            .iter()
            .filter(|n| n.starts_with(".wclayer-n-"))
            .count(),
        2
    );
    assert_eq!(
        ls(&root.join(".wclayer")),
        ["entries.jsonl", "layer.json", "streams"]
    );
}

#[test]
fn delta_layer_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut base = MemLayer::new();
    add(&mut base, "Files", dir_info(1), &Stream::new());
    add(
        &mut base,
        "Files/x",
        file_info(2),
        &Stream::new().data(b"x"),
    );
    base.close().unwrap();
    round_trip(&mut base, tmp.path(), "base", &[]);

    let mut l = MemLayer::new();
    rich_layer_delta(&mut l);
    let got = round_trip(&mut l, tmp.path(), "delta", &["base"]);
    let tombs: Vec<String> = got
        .iter()
        .filter(|s| matches!(s.entry, Entry::Tombstone { .. }))
        .map(|s| s.entry.name().to_string())
        .collect();
    assert_eq!(
        tombs,
        [
            "rootfile",
            "Files\\gone.txt",
            "Files\\again",
            "Files\\deep\\er\\est\\GONE",
            "Hives\\old",
        ]
    );
    let names: Vec<String> = got.iter().map(|s| s.entry.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "rootfile",
            "Files",
            "Files\\gone.txt",
            "Files\\again",
            "Files\\again",
            "Files\\deep\\er\\est\\GONE",
            "Files\\new.txt",
            "Hives",
            "Hives\\old",
            "Hives\\new",
        ]
    );
    assert_eq!(ls(tmp.path()), ["base", "delta"]);
}

/// Tombstones at several depths, a re-added tombstoned name, a tombstone naming another
/// case of an implicit directory.
fn rich_layer_delta(l: &mut MemLayer) {
    l.remove(&p("rootfile")).unwrap();
    add(l, "Files", dir_info(1), &Stream::new());
    l.remove(&p("Files/gone.txt")).unwrap();
    l.remove(&p("Files/again")).unwrap();
    add(l, "Files/again", file_info(2), &Stream::new().data(b"back"));
    l.remove(&p("Files/deep/er/est/GONE")).unwrap();
    add(
        l,
        "Files/new.txt",
        file_info(3),
        &Stream::new().data(b"new"),
    );
    add(l, "Hives", dir_info(4), &Stream::new());
    add(l, "Hives/new", file_info(5), &Stream::new().data(b"hive"));
    l.remove(&p("hives/old")).unwrap();
    l.close().unwrap();
}

#[test]
fn streams_are_seekable_and_details_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = MemLayer::new();
    rich_layer(&mut l);
    round_trip(&mut l, tmp.path(), "base", &[]);
    let mut r = DirLayerReader::open(&open_dir(tmp.path()), "base").unwrap();
    let info = r.layer_info();
    assert_eq!(info.kind, LayerKind::Base);
    assert_eq!(info.tombstones, 0);
    while let Some(e) = r.next().unwrap() {
        if e.name().as_str() != "Files\\Windows\\System32\\zone.txt" {
            continue;
        }
        // Two passes over the same stream, as the tar export does.
        assert_eq!(r.seek_stream(SeekFrom::Current(0)).unwrap(), 0);
        let mut first = Vec::new();
        r.read_to_end(&mut first).unwrap();
        r.seek_stream(SeekFrom::Start(0)).unwrap();
        let mut second = Vec::new();
        r.read_to_end(&mut second).unwrap();
        assert_eq!(first, second);
        r.seek_stream(SeekFrom::Start(7)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, first[7..]);
        let d = r.details().unwrap();
        assert_eq!(
            d.alternate_streams,
            [
                ("Zone.Identifier".to_string(), 24),
                ("second".to_string(), 0),
                ("third".to_string(), 70_000)
            ]
        );
        assert_eq!(d.streams[0].location, BodyLocation::Content { offset: 0 });
        assert!(matches!(d.streams[1].location, BodyLocation::Blob { .. }));
        assert_eq!(d.disk_path, "Files/Windows/System32/zone.txt");
    }
    r.rewind().unwrap();
    while let Some(e) = r.next().unwrap() {
        let d = r.details().unwrap();
        match e.name().as_str() {
            "Files\\Windows\\System32\\kernel32.dll" => {
                assert_eq!(d.ea_names, ["$KERNEL.PURGE.ESBCACHE"]);
                assert_eq!(d.security_descriptor.as_ref().map(Vec::len), Some(20));
            }
            "Files\\links\\b" => {
                let names: Vec<String> = d.names.iter().map(ToString::to_string).collect();
                // copy_layer adds the first name walked as the file, the others as links.
                assert_eq!(
                    names,
                    [
                        "Files\\links\\a",
                        "Files\\links\\b",
                        "Files\\links\\c-first"
                    ]
                );
            }
            "Files\\absolute-link" => {
                let rp = ReparsePoint::decode(d.reparse_buffer.as_ref().unwrap()).unwrap();
                assert_eq!(rp.target(), Some("C:\\Windows"));
                assert_eq!(d.link_target.as_deref(), Some("C:\\Windows"));
            }
            n if n.ends_with(".txt") && n.contains('字') => {
                assert!(d.disk_path.contains(".wclayer-n-"), "{}", d.disk_path);
            }
            _ => {}
        }
    }
}

/// A call sequence that must fail, returning the error.
type Case = Box<dyn Fn(&mut wclayer_store::DirLayerWriter) -> wclayer_layer::Error>;

#[test]
fn writer_rejects_what_the_model_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let cases: Vec<(&str, Case)> = vec![
        (
            "dup",
            Box::new(|w| {
                add(w, "Files/a", file_info(1), &Stream::new());
                w.add(&p("FILES/A"), &file_info(1)).unwrap_err()
            }),
        ),
        (
            "below-file",
            Box::new(|w| {
                add(w, "Files/a", file_info(1), &Stream::new());
                w.add(&p("Files/a/b"), &file_info(1)).unwrap_err()
            }),
        ),
        (
            "link-missing",
            Box::new(|w| w.add_link(&p("Files/l"), &p("Files/none")).unwrap_err()),
        ),
        (
            "link-dir",
            Box::new(|w| {
                add(w, "Files/d", dir_info(1), &Stream::new());
                w.add_link(&p("Files/l"), &p("files/D")).unwrap_err()
            }),
        ),
        (
            "base-remove",
            Box::new(|w| w.remove(&p("Files/x")).unwrap_err()),
        ),
        (
            "no-entry",
            Box::new(|w| wclayer_layer::Error::from(w.write(b"x").unwrap_err())),
        ),
        (
            "truncated",
            Box::new(|w| {
                w.add(&p("Files/t"), &file_info(1)).unwrap();
                let s = Stream::new().data(b"abc");
                w.write_all(&s.bytes()[..s.bytes().len() - 1]).unwrap();
                w.close().unwrap_err()
            }),
        ),
    ];
    for (name, case) in cases {
        let mut w = wclayer_store::DirLayerWriter::create(&fd, name, vec![], opts()).unwrap();
        let e = case(&mut w);
        let text = e.to_string();
        match name {
            "dup" => assert!(
                matches!(e, wclayer_layer::Error::Duplicate { .. }),
                "{text}"
            ),
            "below-file" => assert!(
                matches!(e, wclayer_layer::Error::NotADirectory { .. }),
                "{text}"
            ),
            "link-missing" => assert!(
                matches!(e, wclayer_layer::Error::LinkTargetMissing { .. }),
                "{text}"
            ),
            "link-dir" => assert!(
                matches!(e, wclayer_layer::Error::LinkTargetDirectory { .. }),
                "{text}"
            ),
            "base-remove" => assert_eq!(text, "Files/x: base layer cannot have tombstones"),
            "no-entry" => assert!(
                text.contains("no entry open") || format!("{e:?}").contains("NoEntry"),
                "{e:?}"
            ),
            "truncated" => {
                assert_eq!(text, "Files\\t: bad backup stream");
                assert!(
                    matches!(
                        &e,
                        wclayer_layer::Error::Stream {
                            source: wclayer_backup::Error::Truncated {
                                what: "stream body",
                                ..
                            },
                            ..
                        }
                    ),
                    "{e:?}"
                );
            }
            _ => unreachable!(),
        }
        // The first error discards the staged layer; later calls are refused.
        assert!(w.add(&p("Files/z"), &file_info(1)).is_err());
        assert!(w.close().is_err());
        drop(w);
        assert!(ls(tmp.path()).is_empty(), "{name}: {:?}", ls(tmp.path()));
    }
}

#[test]
fn hard_links_to_symlinks_stay_safe() {
    // A relative link that is safe at depth 3 but would escape from the layer root: when a
    // second name is linked at the root, the group becomes a placeholder file.
    let tmp = tempfile::tempdir().unwrap();
    let mut l = MemLayer::new();
    let rp = ReparsePoint::from_target("..\\..\\..\\target", false);
    add(
        &mut l,
        "Files/a/b/link",
        symlink_info(1),
        &Stream::new().reparse(&rp),
    );
    add(
        &mut l,
        "Files/a/b/other",
        symlink_info(1),
        &Stream::new().reparse(&rp),
    );
    l.add_link(&p("Files/a/b/same-depth"), &p("Files/a/b/other"))
        .unwrap();
    l.add_link(&p("rootlink"), &p("Files/a/b/link")).unwrap();
    l.close().unwrap();
    let mut base = MemLayer::new();
    add(&mut base, "Files", dir_info(1), &Stream::new());
    base.close().unwrap();
    round_trip(&mut base, tmp.path(), "base", &[]);
    round_trip(&mut l, tmp.path(), "delta", &["base"]);
    let root = tmp.path().join("delta");
    let m = std::fs::symlink_metadata(root.join("rootlink")).unwrap();
    assert!(m.file_type().is_file() && m.len() == 0);
    let m2 = std::fs::symlink_metadata(root.join("Files/a/b/link")).unwrap();
    assert_eq!(m.ino(), m2.ino());
    // The other group stays a symbolic link, shared by both names.
    let o = std::fs::symlink_metadata(root.join("Files/a/b/same-depth")).unwrap();
    assert!(o.file_type().is_symlink());
    assert_eq!(o.nlink(), 2);
}

/// The reference reports size 0 for a file whose data is a zero-length sparse stream with
/// sparse blocks; a layer directory's reader reports the logical size, the terminating
/// block's offset (docs/compat.md), as the in-memory layer does.
#[test]
fn the_reader_reports_the_logical_size_of_a_sparse_file() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = wclayer_store::DirLayerWriter::create(&fd, "l", vec![], opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    let stream = Stream::new().sparse(&[(4, b"abc")], 4096);
    add(&mut w, "Files/sparse", info(0x220, 2), &stream);
    w.close().unwrap();
    let mut r = DirLayerReader::open(&fd, "l").unwrap();
    r.next().unwrap();
    let Some(Entry::File { name, size, .. }) = r.next().unwrap() else {
        panic!("no file");
    };
    assert_eq!((name.as_str(), size), ("Files\\sparse", 4096));
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(got == stream.bytes(), "the stream is kept as written");
}

/// A file whose data is mostly zeros (a tar's sparse file arrives that way: the layer model
/// holds its whole content) keeps its zero blocks as holes on disk, and reads back whole.
#[test]
fn zero_blocks_stay_holes_on_disk() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let logical: u64 = 64 << 20;
    let mut w = DirLayerWriter::create(&fd, "l", vec![], opts()).unwrap();
    w.add(&p("Files"), &dir_info(1)).unwrap();
    w.add(&p("Files/mostly-holes"), &file_info(2)).unwrap();
    let header = Stream::new().data(b"");
    // The DATA header of `logical` bytes, then the body: "head", zeros, "tail".
    let mut h = header.bytes().to_vec();
    h[8..16].copy_from_slice(&logical.to_le_bytes());
    w.write_all(&h).unwrap();
    let zeros = vec![0u8; 1 << 20];
    w.write_all(b"head").unwrap();
    let mut left = logical - 8;
    while left > 0 {
        let n = left.min(zeros.len() as u64);
        w.write_all(&zeros[..usize::try_from(n).unwrap()]).unwrap();
        left -= n;
    }
    w.write_all(b"tail").unwrap();
    w.close().unwrap();
    let m = std::fs::metadata(tmp.path().join("l/Files/mostly-holes")).unwrap();
    assert_eq!(m.len(), logical);
    assert!(
        m.blocks() * 512 < 1 << 20,
        "{} bytes allocated",
        m.blocks() * 512
    );
    let mut r = DirLayerReader::open(&fd, "l").unwrap();
    r.next().unwrap();
    let Some(Entry::File { size, .. }) = r.next().unwrap() else {
        panic!()
    };
    assert_eq!(size, logical);
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert_eq!(all.len() as u64, h.len() as u64 + logical);
    let body = &all[h.len()..];
    assert_eq!(&body[..4], b"head");
    assert_eq!(&body[body.len() - 4..], b"tail");
    assert!(body[4..body.len() - 4].iter().all(|&b| b == 0));
}

/// Files whose data goes to the disk in large aligned writes around the page cache (64 KiB
/// and more from a block boundary, `wclayer_fs::DirectWriter`), in buffered writes (small
/// files, the last partial block) or both, and a file with an aligned megabyte of zeros in
/// the middle: each reads back byte for byte, from the file and through the layer reader,
/// and the zeros stay a hole.
#[test]
fn large_files_read_back_whole_whichever_way_their_bytes_were_written() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let body = |n: usize, seed: usize| -> Vec<u8> {
        (0..n)
            .map(|i| u8::try_from((i * 7 + seed) % 251).unwrap() | 1)
            .collect()
    };
    let sizes = [
        4095,
        65_535,
        65_536,
        65_537,
        262_143,
        262_144 + 4097,
        (1 << 20) + 123,
        3 << 20,
    ];
    let mut bodies: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| body(n, i)).collect();
    let mut holed = body((3 << 20) + 10, 99);
    holed[1 << 20..2 << 20].fill(0);
    bodies.push(holed);
    let mut w = DirLayerWriter::create(&fd, "l", vec![], opts()).unwrap();
    w.add(&p("Files"), &dir_info(1)).unwrap();
    for (i, b) in bodies.iter().enumerate() {
        let n = u64::try_from(i).unwrap();
        w.add(&p(&format!("Files/f{i}")), &file_info(n + 2))
            .unwrap();
        w.write_all(Stream::new().data(b).bytes()).unwrap();
    }
    w.close().unwrap();
    for (i, b) in bodies.iter().enumerate() {
        let path = tmp.path().join(format!("l/Files/f{i}"));
        let got = std::fs::read(&path).unwrap();
        assert!(got == *b, "Files/f{i}: {} bytes read back", got.len());
    }
    let m = std::fs::metadata(tmp.path().join(format!("l/Files/f{}", sizes.len()))).unwrap();
    assert!(
        m.blocks() * 512 < (2 << 20) + 20_000,
        "{} bytes allocated",
        m.blocks() * 512
    );
    let mut r = DirLayerReader::open(&fd, "l").unwrap();
    r.next().unwrap();
    for (i, b) in bodies.iter().enumerate() {
        let Some(Entry::File { size, .. }) = r.next().unwrap() else {
            panic!("Files/f{i}")
        };
        assert_eq!(size, b.len() as u64);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        let want = Stream::new().data(b);
        assert!(all == want.bytes(), "Files/f{i} through the reader");
    }
}

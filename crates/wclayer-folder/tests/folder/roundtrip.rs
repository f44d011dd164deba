//! `MemLayer` → `FolderLayerWriter` → `FolderLayerReader` equals `MemLayer`'s own reader.

use std::io::{Read, SeekFrom, Write};

use wclayer_backup::ea::{self, ExtendedAttribute};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_folder::FolderLayerReader;
use wclayer_layer::{LayerReader, LayerWriter, MemLayer};

use crate::{assert_round_trip, info, p, sparse_block, sub, write_folder};

const DIR: u32 = 0x10;
const FILE: u32 = 0x20;
const SYMLINK: u32 = 0x420;
const MOUNT: u32 = 0x410;

fn sd(tag: u8) -> Vec<u8> {
    let mut v = b"\x01\x00\x04\x80\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00".to_vec();
    v.push(tag);
    v
}

fn eas(n: usize) -> Vec<u8> {
    let list: Vec<ExtendedAttribute> = (0..n)
        .map(|i| ExtendedAttribute::new(format!("EA{i}").into_bytes(), vec![b'v'; i * 3]))
        .collect();
    ea::encode(&list).unwrap()
}

fn reparse(target: &str, mount: bool) -> Vec<u8> {
    ReparsePoint::from_target(target, mount).encode().unwrap()
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn add(l: &mut MemLayer, name: &str, attrs: u32, t: u64, stream: &[u8]) {
    l.add(&p(name), &info(attrs, t)).unwrap();
    l.write_all(stream).unwrap();
}

/// Everything a delta layer can hold, in one layer.
fn big_layer() -> MemLayer {
    let mut l = MemLayer::new();
    l.remove(&p("rootfile")).unwrap();
    add(&mut l, "Files", DIR, 10, &sub(3, 0, "", &sd(1)));
    add(
        &mut l,
        "Files/a.txt",
        FILE,
        0,
        &[
            sub(3, 0, "", &sd(2)),
            sub(2, 0, "", &eas(2)),
            sub(1, 0, "", b"hello"),
            sub(4, 0, ":zone:$DATA", b"[ZoneTransfer]"),
        ]
        .concat(),
    );
    add(
        &mut l,
        "Files/dir",
        DIR,
        u64::MAX - 3,
        &[sub(3, 0, "", &sd(3)), sub(2, 0, "", &eas(1))].concat(),
    );
    // `Files\dir\sub` stays implicit.
    add(
        &mut l,
        "Files/dir/sub/deep.txt",
        FILE,
        48_491_090_211_286_549,
        &sub(1, 0, "", b"deep"),
    );
    l.add_link(&p("Files/link1"), &p("files/A.TXT")).unwrap();
    l.add_link(&p("Files/dir/link2"), &p("Files/a.txt"))
        .unwrap();
    add(
        &mut l,
        "Files/sym",
        SYMLINK,
        5,
        &sub(8, 0, "", &reparse("..\\a.txt", false)),
    );
    add(
        &mut l,
        "Files/mnt",
        MOUNT | DIR,
        6,
        &[
            sub(3, 0, "", &sd(4)),
            sub(8, 0, "", &reparse("C:\\target", true)),
        ]
        .concat(),
    );
    add(&mut l, "Files/empty", FILE, 7, b"");
    add(&mut l, "Files/zero", FILE, 7, &sub(1, 0, "", b""));
    add(
        &mut l,
        "Files/big.bin",
        FILE,
        8,
        &sub(1, 0, "", &data(5 << 20, 1)),
    );
    let mut sparse = sub(1, 8, "", b"");
    sparse.extend(sparse_block(0, b"ab"));
    sparse.extend(sparse_block(10, b"cd"));
    sparse.extend(sparse_block(16, b""));
    add(&mut l, "Files/sparse", FILE | 0x200, 9, &sparse);
    add(
        &mut l,
        "Files/ünïcødé/日本語.txt",
        FILE,
        11,
        &sub(1, 0, "", "データ".as_bytes()),
    );
    add(
        &mut l,
        "Files/$Recycle.Bin/S-1-5/x",
        FILE,
        12,
        &sub(1, 0, "", b"bin"),
    );
    // Tombstones below Files at several depths, below implicit directories, one only in a
    // directory that exists nowhere else, one with a line break, a re-added name.
    l.remove(&p("Files/gone.txt")).unwrap();
    l.remove(&p("Files/dir/sub/x/y.tmp")).unwrap();
    l.remove(&p("Files/only/tomb/here")).unwrap();
    l.remove(&p("Files/dir/line\nbreak")).unwrap();
    l.remove(&p("Files/again")).unwrap();
    add(&mut l, "Files/again", FILE, 13, &sub(1, 0, "", b"back"));
    l.remove(&p("FILES/DIR/Gone2")).unwrap();
    // Hives with SD and EAs.
    add(&mut l, "Hives", DIR, 14, b"");
    add(
        &mut l,
        "Hives/System_Delta",
        FILE,
        15,
        &[
            sub(3, 0, "", &sd(5)),
            sub(2, 0, "", &eas(3)),
            sub(1, 0, "", b"regf-delta"),
        ]
        .concat(),
    );
    add(
        &mut l,
        "Hives/Software_Delta",
        FILE,
        16,
        &sub(1, 0, "", &data(70_000, 2)),
    );
    l.remove(&p("Hives/Old_Delta")).unwrap();
    // The utility VM: plain files and directories.
    add(&mut l, "UtilityVM", DIR, 17, &sub(3, 0, "", &sd(6)));
    add(
        &mut l,
        "UtilityVM/Files",
        DIR,
        18,
        &[sub(3, 0, "", &sd(7)), sub(2, 0, "", &eas(1))].concat(),
    );
    add(
        &mut l,
        "UtilityVM/Files/EFI/boot.efi",
        FILE,
        19,
        &[sub(1, 0, "", b"MZ"), sub(4, 0, ":meta:$DATA", b"m")].concat(),
    );
    // An alternate data stream far larger than an extended attribute can hold.
    add(
        &mut l,
        "UtilityVM/Files/bigads",
        FILE,
        20,
        &[
            sub(3, 0, "", &sd(8)),
            sub(1, 0, "", b"d"),
            sub(4, 0, ":big:$DATA", &data(20_000, 3)),
        ]
        .concat(),
    );
    add(
        &mut l,
        "UtilityVM/Files/sym",
        SYMLINK,
        21,
        &sub(8, 0, "", &reparse("\\Windows", false)),
    );
    add(
        &mut l,
        "UtilityVM/Files/big2.bin",
        FILE,
        22,
        &sub(1, 0, "", &data(3 << 20, 4)),
    );
    add(&mut l, "UtilityVM/Files/sparse", FILE | 0x200, 23, &sparse);
    l.add_link(
        &p("UtilityVM/Files/boot-link"),
        &p("UtilityVM/Files/EFI/boot.efi"),
    )
    .unwrap();
    l.remove(&p("UtilityVM/Files/removed")).unwrap();
    // Many tombstones outside Files: their list goes to a sidecar file.
    for i in 0..100 {
        l.remove(&p(&format!(
            "UtilityVM/Files/Windows/System32/removed-{i:03}.dll"
        )))
        .unwrap();
    }
    add(&mut l, "Other/file", FILE, 24, &sub(1, 0, "", b"other"));
    l.close().unwrap();
    l
}

#[test]
fn big_layer_round_trips() {
    let mut l = big_layer();
    assert_round_trip(&mut l);
}

#[test]
fn every_lossless_stream_is_seekable() {
    let mut l = big_layer();
    let tmp = tempfile::tempdir().unwrap();
    let folder = write_folder(&mut l, tmp.path());
    let mut r = FolderLayerReader::open(&folder).unwrap();
    let mut n = 0;
    while let Some(e) = r.next().unwrap() {
        if let wclayer_layer::Entry::File { .. } = e {
            let mut first = [0u8; 3];
            let got = r.read(&mut first).unwrap();
            assert_eq!(r.seek_stream(SeekFrom::Current(0)).unwrap(), got as u64);
            r.seek_stream(SeekFrom::Start(0)).unwrap();
            let mut again = [0u8; 3];
            let got2 = r.read(&mut again).unwrap();
            assert_eq!(first[..got], again[..got2], "{e:?}");
            n += 1;
        }
    }
    assert!(n > 20);
    tmp.close().unwrap();
}

#[test]
fn top_level_files_spelled_otherwise() {
    // The first spelling of `Files` is lowercase, through a tombstone: tombstones below it
    // cannot go to tombstones.txt (which names `Files`), and keep their spelling.
    let mut l = MemLayer::new();
    l.remove(&p("files/x")).unwrap();
    add(&mut l, "Files/a", FILE, 1, &sub(1, 0, "", b"a"));
    l.remove(&p("FILES/y")).unwrap();
    add(&mut l, "FILES/d", DIR, 2, b"");
    l.remove(&p("Files/d/z")).unwrap();
    l.close().unwrap();
    assert_round_trip(&mut l);
}

#[test]
fn directory_added_after_its_children_and_tombstone_parents() {
    let mut l = MemLayer::new();
    l.remove(&p("Files/late/t1")).unwrap();
    add(&mut l, "Files/late/child", FILE, 1, &sub(1, 0, "", b"c"));
    add(&mut l, "Files/late", DIR, 2, &sub(3, 0, "", &sd(9)));
    l.remove(&p("Files/virt/t2")).unwrap();
    add(&mut l, "Files/virt", DIR, 3, b"");
    add(
        &mut l,
        "UtilityVM/Files/late/c",
        FILE,
        4,
        &sub(1, 0, "", b"u"),
    );
    add(
        &mut l,
        "UtilityVM/Files/late",
        DIR,
        5,
        &sub(3, 0, "", &sd(10)),
    );
    add(&mut l, "Files", DIR, 6, b"");
    l.close().unwrap();
    assert_round_trip(&mut l);
}

#[test]
fn malformed_streams_round_trip_byte_for_byte() {
    let mut l = MemLayer::new();
    // Directories: anything goes (the model reports size 0 without parsing).
    add(
        &mut l,
        "UtilityVM",
        DIR,
        1,
        b"\x09\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\0\0\0\0trailing",
    );
    add(&mut l, "UtilityVM/Files", DIR, 2, &data(3000, 9));
    add(&mut l, "Files", DIR, 3, &data(77, 5));
    // Files: a data stream first, then garbage, or a stream cut short.
    let mut s = sub(1, 0, "", b"ok");
    s.extend(data(500, 7));
    add(&mut l, "UtilityVM/Files/tail", FILE, 4, &s);
    add(
        &mut l,
        "Hives/cut",
        FILE,
        5,
        &sub(1, 0, "", b"0123456789")[..25],
    );
    add(&mut l, "Files/tail", FILE, 6, &s);
    l.remove(&p("x")).unwrap();
    l.close().unwrap();
    assert_round_trip(&mut l);
}

#[test]
fn base_like_layer_without_tombstones() {
    let mut l = MemLayer::new();
    add(&mut l, "Files", DIR, 1, b"");
    add(
        &mut l,
        "Files/Windows/System32/config/SYSTEM",
        FILE,
        2,
        &sub(1, 0, "", b"hive"),
    );
    l.close().unwrap();
    assert_round_trip(&mut l);
}

/// Names Linux cannot hold as they are (a component over 255 bytes, a directory whose
/// `.$wcidirs$` file name would be, a name starting with `.wclayer`) are stored under derived
/// names with their real names in `user.wclayer.name`, and read back as written.
#[test]
fn long_and_reserved_names_round_trip() {
    let long = "字".repeat(100); // 300 bytes of UTF-8, 100 UTF-16 units
    let dir250 = "d".repeat(250);
    let mut l = MemLayer::new();
    l.remove(&p(&format!("Files/{long}/gone"))).unwrap();
    add(&mut l, "Files", DIR, 1, &sub(3, 0, "", &sd(1)));
    add(
        &mut l,
        &format!("Files/{long}"),
        DIR,
        2,
        &sub(3, 0, "", &sd(2)),
    );
    add(
        &mut l,
        &format!("Files/{long}/{long}.txt"),
        FILE,
        3,
        &sub(1, 0, "", b"long"),
    );
    add(&mut l, &format!("Files/{dir250}"), DIR, 4, &[]);
    add(
        &mut l,
        &format!("Files/{dir250}/x"),
        FILE,
        5,
        &sub(1, 0, "", b"x"),
    );
    add(
        &mut l,
        "Files/.wclayer-n-00000000000000000000000000000000",
        FILE,
        6,
        &sub(1, 0, "", b"n"),
    );
    add(
        &mut l,
        &format!("Files/implicit-{long}/child"),
        FILE,
        7,
        &[],
    );
    add(&mut l, "Hives", DIR, 8, &[]);
    add(
        &mut l,
        &format!("Hives/{long}"),
        FILE,
        9,
        &sub(1, 0, "", b"hive"),
    );
    add(&mut l, "UtilityVM", DIR, 10, &[]);
    add(&mut l, &format!("UtilityVM/{long}"), DIR, 11, &[]);
    l.close().unwrap();
    assert_round_trip(&mut l);
}

/// The reference reports size 0 for a file whose data is a zero-length sparse stream with
/// sparse blocks; a transport folder's reader reports the logical size, the terminating
/// block's offset (docs/compat.md), as the in-memory layer does.
#[test]
fn the_reader_reports_the_logical_size_of_a_sparse_file() {
    let mut stream = sub(1, 8, "", b"");
    stream.extend(sparse_block(4, b"abc"));
    stream.extend(sparse_block(4096, b""));
    let mut l = MemLayer::new();
    l.add(&p("Files/sparse"), &info(0x220, 1)).unwrap();
    l.write_all(&stream).unwrap();
    l.close().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let folder = write_folder(&mut l, tmp.path());
    let mut r = FolderLayerReader::open(&folder).unwrap();
    let entry = loop {
        match r.next().unwrap() {
            Some(e) if e.name().as_str() == "Files\\sparse" => break e,
            Some(_) => {}
            None => panic!("Files\\sparse not read back"),
        }
    };
    let wclayer_layer::Entry::File { size, .. } = entry else {
        panic!("{entry:?}");
    };
    assert_eq!(size, 4096);
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, stream);
}

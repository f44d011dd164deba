//! What FolderLayerWriter leaves on disk is hcsshim's format (docs/layer-semantics.md §3) plus
//! the documented `user.wclayer.*` attributes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use wclayer_backup::FileTime;
use wclayer_folder::{FolderLayerReader, FolderLayerWriter};
use wclayer_layer::{Entry, LayerReader, LayerWriter, MemLayer};

use crate::{collect, info, label, p, sub, write_folder};

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let f = fs::File::open(path).unwrap();
    match rustix::fs::fgetxattr_query(&f, name) {
        Ok(0) => Some(Vec::new()),
        Ok(n) => {
            let mut buf = vec![0u8; n];
            let got = rustix::fs::fgetxattr(&f, name, &mut buf[..]).unwrap();
            buf.truncate(got);
            Some(buf)
        }
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("{name} on {}: {e}", path.display()),
    }
}

fn remove_xattr(path: &Path, name: &str) {
    let f = fs::File::open(path).unwrap();
    rustix::fs::fremovexattr(&f, name).unwrap();
}

fn small_layer() -> (MemLayer, Vec<u8>, Vec<u8>) {
    let a = [sub(3, 0, "", b"SD-bytes"), sub(1, 0, "", b"hello")].concat();
    let hive = [
        sub(3, 0, "", b"hive-SD"),
        sub(2, 0, "", b"EA"),
        sub(1, 0, "", b"regf"),
    ]
    .concat();
    let mut l = MemLayer::new();
    l.add(&p("Files"), &info(0x10, 100)).unwrap();
    l.write_all(&sub(3, 0, "", b"files-SD")).unwrap();
    l.add(&p("Files/a.txt"), &info(0x21, 133_000_000_000_000_000))
        .unwrap();
    l.write_all(&a).unwrap();
    l.add(&p("Files/d"), &info(0x10, 133_000_000_000_000_000))
        .unwrap();
    l.add_link(&p("Files/d/hard"), &p("Files/a.txt")).unwrap();
    l.add(&p("Hives"), &info(0x10, 300)).unwrap();
    l.add(&p("Hives/System_Delta"), &info(0x20, 400)).unwrap();
    l.write_all(&hive).unwrap();
    l.add(&p("UtilityVM/Files/x"), &info(0x20, 500)).unwrap();
    l.write_all(&sub(1, 0, "", b"uvm")).unwrap();
    l.remove(&p("Files/d/gone")).unwrap();
    l.remove(&p("Hives/old")).unwrap();
    l.remove(&p("Files/z")).unwrap();
    l.close().unwrap();
    (l, a, hive)
}

#[test]
fn hcsshim_format_and_attributes() {
    let (mut l, a, _) = small_layer();
    let tmp = tempfile::tempdir().unwrap();
    let f = write_folder(&mut l, tmp.path());
    // Before anything reads the file (relatime would move its atime).
    let m = fs::metadata(f.join("Files/a.txt")).unwrap();

    // Transport files: u32 LE attributes + raw backup stream.
    assert_eq!(
        fs::read(f.join("Files/a.txt")).unwrap(),
        [&0x21u32.to_le_bytes()[..], &a].concat()
    );
    assert_eq!(
        fs::read(f.join("Files.$wcidirs$")).unwrap(),
        [&0x10u32.to_le_bytes()[..], &sub(3, 0, "", b"files-SD")].concat()
    );
    assert_eq!(
        fs::read(f.join("Files/d.$wcidirs$")).unwrap(),
        0x10u32.to_le_bytes()
    );
    assert_eq!(
        fs::read(f.join("Hives.$wcidirs$")).unwrap(),
        0x10u32.to_le_bytes()
    );
    assert!(f.join("Files").is_dir() && f.join("Files/d").is_dir());
    // Hard links are hard links.
    assert_eq!(m.nlink(), 2);
    assert_eq!(fs::metadata(f.join("Files/d/hard")).unwrap().ino(), m.ino());
    // Hives and UtilityVM: plain files holding the data; no .$wcidirs$ in UtilityVM.
    assert_eq!(fs::read(f.join("Hives/System_Delta")).unwrap(), b"regf");
    assert_eq!(fs::read(f.join("UtilityVM/Files/x")).unwrap(), b"uvm");
    assert!(!f.join("UtilityVM.$wcidirs$").exists());
    // tombstones.txt: BOM, Version 1.0, the tombstones below Files in remove order
    // (copy_layer removes in the reader's walk order: `Files\z` before `Files\d\gone`).
    assert_eq!(
        fs::read(f.join("tombstones.txt")).unwrap(),
        b"\xEF\xBB\xBFVersion 1.0\n\\z\n\\d\\gone\n"
    );
    // Times: mtime/atime on the file, all four in user.wclayer.times.
    let want = info(0x21, 133_000_000_000_000_000);
    let unix = |t: FileTime| (t.0 - 116_444_736_000_000_000) / 10_000_000;
    assert_eq!(m.mtime() as u64, unix(want.last_write_time));
    assert_eq!(m.atime() as u64, unix(want.last_access_time));
    let times = xattr(&f.join("Files/a.txt"), "user.wclayer.times").unwrap();
    assert_eq!(times.len(), 32);
    assert_eq!(times[..8], want.creation_time.0.to_le_bytes());
    assert_eq!(times[24..], want.change_time.0.to_le_bytes());
    // Directory times are on the real directory too.
    let d = fs::metadata(f.join("Files/d")).unwrap();
    assert_eq!(
        d.modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        unix(want.last_write_time)
    );
    // The folder marker, an implicit directory, the plain file's stream record, the
    // tombstones tombstones.txt cannot hold.
    assert_eq!(xattr(&f, "user.wclayer.folder").unwrap(), b"1");
    assert_eq!(
        xattr(&f.join("UtilityVM"), "user.wclayer.implicit").unwrap(),
        b""
    );
    let rec = xattr(&f.join("Hives/System_Delta"), "user.wclayer.stream").unwrap();
    assert_eq!(rec[0], 1, "version");
    assert_eq!(rec[1..5], 0x20u32.to_le_bytes());
    let cut_at = 20 + 7 + 20 + 2 + 20;
    assert_eq!(rec[5..13], (cut_at as u64).to_le_bytes());
    assert_eq!(rec[13..21], 4u64.to_le_bytes());
    assert_eq!(rec[21], 0, "inline");
    assert!(
        xattr(&f.join("Hives"), "user.wclayer.stream").is_none(),
        "framed"
    );
    let tomb = xattr(&f, "user.wclayer.tombstones").unwrap();
    assert_eq!(tomb[0], 0, "inline");
    assert_eq!(tomb[1..9], 2u64.to_le_bytes(), "third remove");
    assert_eq!(&tomb[13..], b"Hives\\old");
    assert!(!f.join("wclayer-sidecar.$wcidirs$.$wcidirs$").exists());
    tmp.close().unwrap();
}

#[test]
fn own_folder_without_metadata_reads_with_legacy_rules() {
    // A folder copied without its extended attributes is a folder "from Windows".
    let (mut l, a, hive) = small_layer();
    let tmp = tempfile::tempdir().unwrap();
    let f = write_folder(&mut l, tmp.path());
    remove_xattr(&f, "user.wclayer.folder");
    let mut r = FolderLayerReader::open(&f).unwrap();
    assert!(!r.is_lossless());
    let recs = collect(&mut r);
    let names: Vec<String> = recs.iter().map(|rec| label(&rec.entry)).collect();
    assert_eq!(
        names,
        [
            "Files",
            "-Files\\z",
            "Files\\a.txt",
            "Files\\d",
            "-Files\\d\\gone",
            "Files\\d\\hard",
            "Hives",
            "Hives\\System_Delta",
            "UtilityVM",
            "UtilityVM\\Files",
            "UtilityVM\\Files\\x",
        ]
    );
    // Transport files keep their streams; plain files yield their data only.
    assert_eq!(recs[2].stream, a);
    assert_eq!(recs[5].stream, a);
    assert_eq!(recs[2].links, 2);
    assert_eq!(recs[2].group, recs[5].group);
    let Entry::File { size, .. } = recs[7].entry else {
        panic!()
    };
    assert_eq!(size, 4);
    assert_eq!(recs[7].stream, sub(1, 0, "", b"regf"));
    assert_ne!(recs[7].stream, hive);
    tmp.close().unwrap();
}

#[test]
fn existing_empty_directory_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let mut w = FolderLayerWriter::create(&folder).unwrap();
    w.add(&p("Files"), &info(0x10, 1)).unwrap();
    w.close().unwrap();
    assert!(folder.join("Files").is_dir());
    assert!(matches!(
        w.add(&p("Files/x"), &info(0x20, 1)),
        Err(wclayer_layer::Error::Closed)
    ));
    let mut names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["folder"]);
    let mut r = FolderLayerReader::open(&folder).unwrap();
    assert_eq!(r.next().unwrap().unwrap().name().as_str(), "Files");
    assert!(r.next().unwrap().is_none());
    tmp.close().unwrap();
}

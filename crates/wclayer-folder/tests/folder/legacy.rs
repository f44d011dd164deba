//! A transport folder written byte by byte from docs/layer-semantics.md §3 (as one from Windows
//! looks: no wclayer metadata), read with hcsshim's legacy reader rules (§6.1, §0.3).

use std::fs::{self, File, FileTimes};
use std::io::{Read, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wclayer_backup::{FileAttributes, FileBasicInfo, FileTime};
use wclayer_folder::{Error, FolderLayerReader};
use wclayer_layer::{Entry, LayerReader};

use crate::{collect, label, sub};

fn ft(t: SystemTime) -> FileTime {
    let d = t.duration_since(UNIX_EPOCH).unwrap();
    FileTime(116_444_736_000_000_000 + d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos()) / 100)
}

fn ctime(path: &Path) -> FileTime {
    let m = fs::symlink_metadata(path).unwrap();
    let t = UNIX_EPOCH + Duration::new(m.ctime() as u64, m.ctime_nsec() as u32);
    ft(t)
}

fn set_times(path: &Path, atime: SystemTime, mtime: SystemTime) {
    let f = File::open(path).unwrap();
    f.set_times(FileTimes::new().set_accessed(atime).set_modified(mtime))
        .unwrap();
}

fn write(path: &Path, bytes: &[u8]) {
    File::create(path).unwrap().write_all(bytes).unwrap();
}

/// A transport file: u32 LE attributes, then the backup stream (§3).
fn transport(attrs: u32, stream: &[u8]) -> Vec<u8> {
    [&attrs.to_le_bytes()[..], stream].concat()
}

struct Fixture {
    a_stream: Vec<u8>,
    sub_stream: Vec<u8>,
    b_stream: Vec<u8>,
    hive: Vec<u8>,
}

/// Builds the folder by hand.
fn build(root: &Path) -> Fixture {
    let sd = b"\x01\x00\x04\x80\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00";
    // One FILE_FULL_EA_INFORMATION: next 0, flags 0, name length 3, value length 2, "ABC\0", "hi".
    let ea = b"\x00\x00\x00\x00\x00\x03\x02\x00ABC\x00hi";
    let a_stream = [
        sub(3, 0, "", sd),
        sub(2, 0, "", ea),
        sub(1, 0, "", b"hello"),
        sub(4, 0, ":zone:$DATA", b"z"),
    ]
    .concat();
    let sub_stream = sub(3, 0, "", sd);
    let b_stream = sub(1, 0, "", b"xyz");
    let hive = b"regf\0\0\0\x01delta".to_vec();

    // Top-level directories with the `.$wcidirs$` files hcsshim's writer leaves; the legacy
    // reader opens the real directories instead.
    fs::create_dir(root.join("Files")).unwrap();
    write(
        &root.join("Files.$wcidirs$"),
        &transport(0x10, &sub(3, 0, "", sd)),
    );
    fs::create_dir(root.join("Hives")).unwrap();
    write(&root.join("Hives.$wcidirs$"), &transport(0x10, b""));

    write(&root.join("Files/a.txt"), &transport(0x20, &a_stream));
    fs::create_dir(root.join("Files/sub")).unwrap();
    write(
        &root.join("Files/sub.$wcidirs$"),
        &transport(0x10, &sub_stream),
    );
    write(&root.join("Files/sub/b.bin"), &transport(0x21, &b_stream));
    fs::create_dir_all(root.join("Files/$Recycle.Bin/S-1-5")).unwrap();
    write(
        &root.join("Files/$Recycle.Bin/S-1-5/junk"),
        b"not a transport file",
    );
    write(&root.join("Hives/System_Delta"), &hive);

    // BOM + "Version 1.0", CRLF line ends, an empty line, a tombstone whose directory is
    // not in the folder (never reported by hcsshim's reader), and mixed separators.
    write(
        &root.join("tombstones.txt"),
        b"\xEF\xBB\xBFVersion 1.0\r\n\\gone.txt\r\n\r\n\\sub/old.dll\r\n\\missing\\x\r\n\\SUB\\Other.dll",
    );

    let sd_mtime = UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_700);
    let sd_atime = UNIX_EPOCH + Duration::new(1_600_000_100, 0);
    set_times(&root.join("Hives/System_Delta"), sd_atime, sd_mtime);
    let t = UNIX_EPOCH + Duration::new(1_500_000_000, 0);
    set_times(&root.join("Files/a.txt"), t + Duration::from_secs(1), t);
    set_times(
        &root.join("Files/sub.$wcidirs$"),
        t,
        t + Duration::from_secs(5),
    );
    set_times(&root.join("Files"), t, t);
    set_times(&root.join("Hives"), t, t);
    Fixture {
        a_stream,
        sub_stream,
        b_stream,
        hive,
    }
}

fn file_info(path: &Path, attrs: u32) -> FileBasicInfo {
    let m = fs::symlink_metadata(path).unwrap();
    FileBasicInfo {
        creation_time: ft(m.created().unwrap_or(m.modified().unwrap())),
        last_access_time: ft(m.accessed().unwrap()),
        last_write_time: ft(m.modified().unwrap()),
        change_time: ctime(path),
        file_attributes: FileAttributes(attrs),
    }
}

#[test]
fn hand_written_folder_reads_with_legacy_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    fs::create_dir(&root).unwrap();
    let fx = build(&root);

    // Expected infos, taken before reading (reading must not disturb them: the reader
    // takes the times at open, and reads with pread).
    let sd_path = root.join("Hives/System_Delta");
    let sd = fs::symlink_metadata(&sd_path).unwrap();
    let sd_write = ft(sd.modified().unwrap());
    assert_eq!(sd_write, FileTime(132_444_736_001_234_567));
    // `Files` and `Hives`: System_Delta's times, creation and access = write (§6.1).
    let top = |attrs| FileBasicInfo {
        creation_time: sd_write,
        last_access_time: sd_write,
        last_write_time: sd_write,
        change_time: ctime(&sd_path),
        file_attributes: FileAttributes(attrs),
    };
    let a_info = file_info(&root.join("Files/a.txt"), 0x20);
    let sub_info = file_info(&root.join("Files/sub.$wcidirs$"), 0x10);
    let b_info = file_info(&root.join("Files/sub/b.bin"), 0x21);
    let hive_info = FileBasicInfo {
        creation_time: sd_write,
        last_access_time: sd_write,
        ..top(0x20)
    };

    let mut r = FolderLayerReader::open(&root).unwrap();
    assert!(!r.is_lossless());

    let mut seen = Vec::new();
    while let Some(e) = r.next().unwrap() {
        let seekable = if r.can_seek_stream() {
            r.seek_stream(SeekFrom::Current(0)).map_err(|_| false)
        } else {
            assert!(matches!(
                r.seek_stream(SeekFrom::Current(0)),
                Err(wclayer_layer::Error::Unseekable | wclayer_layer::Error::NoEntry)
            ));
            Err(true)
        };
        let link = match &e {
            Entry::File { .. } => Some(r.link_info().unwrap()),
            _ => None,
        };
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        seen.push((e, s, seekable, link));
    }
    let names: Vec<String> = seen.iter().map(|(e, ..)| label(e)).collect();
    assert_eq!(
        names,
        [
            "Files",
            "-Files\\gone.txt",
            "Files\\a.txt",
            "Files\\sub",
            // Matched case-insensitively, reported with the directory's spelling.
            "-Files\\sub\\old.dll",
            "-Files\\sub\\Other.dll",
            "Files\\sub\\b.bin",
            "Hives",
            "Hives\\System_Delta",
        ]
    );

    let file = |i: usize| match &seen[i].0 {
        Entry::File { size, info, .. } => (*size, *info),
        _ => panic!("entry {i} is not a file"),
    };
    // Files: a plain directory outside Files\, System_Delta's times, empty stream.
    assert_eq!(file(0), (0, top(0x10)));
    assert_eq!(seen[0].1, b"");
    assert_eq!(seen[0].2, Err(true), "outside Files\\ is not seekable");
    // Files\a.txt: attributes from the first 4 bytes, size of the data stream, the raw
    // stream after the attributes, seekable.
    assert_eq!(file(2), (5, a_info));
    assert_eq!(seen[2].1, fx.a_stream);
    assert_eq!(seen[2].2, Ok(0));
    let a_meta = fs::metadata(root.join("Files/a.txt")).unwrap();
    let link = seen[2].3.unwrap();
    assert_eq!(link.number_of_links, 1);
    assert_eq!(link.file_id.file_id[..8], a_meta.ino().to_le_bytes());
    // Files\sub: from sub.$wcidirs$, size 0, link count 1.
    assert_eq!(file(3), (0, sub_info));
    assert_eq!(seen[3].1, fx.sub_stream);
    assert_eq!(seen[3].3.unwrap().number_of_links, 1);
    assert_eq!(file(6), (3, b_info));
    assert_eq!(seen[6].1, fx.b_stream);
    // Hives: System_Delta's times.
    assert_eq!(file(7), (0, top(0x10)));
    // Hives\System_Delta: BackupRead without security: one data stream; size of the file.
    assert_eq!(file(8), (fx.hive.len() as u64, hive_info));
    assert_eq!(seen[8].1, sub(1, 0, "", &fx.hive));
    assert_eq!(seen[8].2, Err(true));
    assert!(r.next().unwrap().is_none());
    r.close().unwrap();
    assert!(matches!(r.next(), Err(wclayer_layer::Error::Closed)));
    tmp.close().unwrap();
}

#[test]
fn files_entries_seek_within_the_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    fs::create_dir(&root).unwrap();
    let fx = build(&root);
    let mut r = FolderLayerReader::open(&root).unwrap();
    while let Some(e) = r.next().unwrap() {
        if e.name().as_str() != "Files\\a.txt" {
            continue;
        }
        let mut head = [0u8; 7];
        r.read_exact(&mut head).unwrap();
        assert_eq!(r.seek_stream(SeekFrom::Current(0)).unwrap(), 7);
        // Positions count from the start of the stream, after the 4 attribute bytes.
        r.seek_stream(SeekFrom::Start(0)).unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, fx.a_stream);
    }
    tmp.close().unwrap();
}

#[test]
fn missing_system_delta_fails_at_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir(root.join("Files")).unwrap();
    write(&root.join("tombstones.txt"), b"\xEF\xBB\xBFVersion 1.0\n");
    let mut r = FolderLayerReader::open(root).unwrap();
    let e = r.next().unwrap_err();
    assert!(e.to_string().contains("Hives/System_Delta"), "{e}");
    tmp.close().unwrap();
}

#[test]
fn missing_tombstones_file_is_the_open_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = FolderLayerReader::open(tmp.path()).unwrap_err();
    let Error::Io { source, .. } = &e else {
        panic!("{e}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    tmp.close().unwrap();
}

#[test]
fn recycle_bin_file_is_an_entry_and_wcidirs_directories_are_walked() {
    // Go skips `Files\$Recycle.Bin` only when it is a directory, and descends into a
    // directory whose name ends in `.$wcidirs$` without reporting it.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("Hives")).unwrap();
    write(&root.join("Hives/System_Delta"), b"x");
    fs::create_dir_all(root.join("Files")).unwrap();
    write(
        &root.join("Files/$Recycle.Bin"),
        &transport(0x20, &sub(1, 0, "", b"q")),
    );
    fs::create_dir_all(root.join("Other.$wcidirs$/inner")).unwrap();
    write(&root.join("Other.$wcidirs$/inner/f"), b"abc");
    write(&root.join("tombstones.txt"), b"\xEF\xBB\xBFVersion 1.0\n");
    let mut r = FolderLayerReader::open(root).unwrap();
    let names: Vec<String> = collect(&mut r)
        .into_iter()
        .map(|rec| rec.entry.name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Files",
            "Files\\$Recycle.Bin",
            "Hives",
            "Hives\\System_Delta",
            "Other.$wcidirs$\\inner",
            "Other.$wcidirs$\\inner\\f"
        ]
    );
    tmp.close().unwrap();
}

/// An empty line in `tombstones.txt` crashes hcsshim's reader; wclayer skips it (also an
/// empty CRLF line) and reads every tombstone around it.
#[test]
fn empty_lines_in_tombstones_txt_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("Files/dir")).unwrap();
    write(&root.join("Files/dir.$wcidirs$"), &transport(0x10, b""));
    fs::create_dir_all(root.join("Hives")).unwrap();
    write(&root.join("Hives/System_Delta"), b"x");
    write(
        &root.join("tombstones.txt"),
        b"\xEF\xBB\xBFVersion 1.0\n\n\\first\r\n\r\n\n\\dir\\second\n\n",
    );
    let mut r = FolderLayerReader::open(root).unwrap();
    let labels: Vec<String> = collect(&mut r)
        .iter()
        .map(|rec| label(&rec.entry))
        .collect();
    assert_eq!(
        labels,
        [
            "Files",
            "-Files\\first",
            "Files\\dir",
            "-Files\\dir\\second",
            "Hives",
            "Hives\\System_Delta"
        ]
    );
    tmp.close().unwrap();
}

//! docs/compat.md, row by row: where wclayer deliberately differs from the reference layer
//! model, and the surprising reference behaviours it follows on purpose. Each test is named
//! after the behaviour it pins and fails when that behaviour is reverted.

use std::io::{Read, Write};

use wclayer_backup::ea::{self, ExtendedAttribute};
use wclayer_backup::{
    BackupStreamReader, BackupStreamWriter, FileAttributes, FileBasicInfo, FileTime, StreamHeader,
    StreamId,
};
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, MemLayer, WalkMode};
use wclayer_tar::archive::{ArchiveReader, TarHeader};
use wclayer_tar::{export_tar, import_tar};

// ---- helpers ------------------------------------------------------------------------------

/// A tar written entry by entry with the `tar` crate, every entry with a PAX header.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    /// One entry: its name always travels in a PAX `path` record (names may be long), then
    /// `records` in the order given.
    fn entry(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        link: Option<&str>,
        data: &[u8],
        records: &[(&str, &str)],
    ) -> &mut Tar {
        let mut all: Vec<(&str, &[u8])> = vec![("path", name.as_bytes())];
        if let Some(l) = link {
            all.push(("linkpath", l.as_bytes()));
        }
        all.extend(records.iter().map(|(k, v)| (*k, v.as_bytes())));
        self.0.append_pax_extensions(all).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_path("pax-named").unwrap();
        if link.is_some() {
            h.set_link_name("pax-named").unwrap();
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str) -> &mut Tar {
        self.entry(
            name,
            tar::EntryType::Directory,
            None,
            b"",
            &[("MSWINDOWS.fileattr", "16")],
        )
    }

    fn file(&mut self, name: &str, data: &[u8], records: &[(&str, &str)]) -> &mut Tar {
        self.entry(name, tar::EntryType::Regular, None, data, records)
    }

    fn bytes(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()))
            .into_inner()
            .unwrap()
    }
}

fn import(tar: &[u8]) -> Result<MemLayer, wclayer_tar::Error> {
    let mut layer = MemLayer::new();
    import_tar(&mut ArchiveReader::new(tar), &mut layer)?;
    Ok(layer)
}

fn export(layer: &mut MemLayer) -> Result<Vec<u8>, wclayer_tar::Error> {
    let mut r = layer.reader().unwrap();
    Ok(export_tar(&mut r, Vec::new())?.0)
}

/// What a layer's reader yields: `name` or `-name` for a tombstone, with the entry's info
/// and backup stream.
fn walk(layer: &mut MemLayer) -> Vec<(String, Option<FileBasicInfo>, Vec<u8>)> {
    let mut r = layer.reader().unwrap();
    let mut out = Vec::new();
    while let Some(e) = r.next().unwrap() {
        out.push(match e {
            Entry::File { name, info, .. } => {
                let mut s = Vec::new();
                r.read_to_end(&mut s).unwrap();
                (name.as_str().to_string(), Some(info), s)
            }
            Entry::Tombstone { name } => (format!("-{name}"), None, Vec::new()),
            other => panic!("unexpected entry {other:?}"),
        });
    }
    out
}

/// The sub-streams of a backup stream: id and body.
fn sub_streams(stream: &[u8]) -> Vec<(StreamId, Vec<u8>)> {
    let mut r = BackupStreamReader::new(stream);
    let mut out = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        let mut body = Vec::new();
        r.read_to_end(&mut body).unwrap();
        out.push((h.id, body));
    }
    out
}

/// The body of the sub-stream `id` of the entry `name` (`\`-separated) of `layer`.
fn body_in_layer(layer: &mut MemLayer, name: &str, id: StreamId) -> Option<Vec<u8>> {
    let (_, _, stream) = walk(layer)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not in the layer"));
    sub_streams(&stream)
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, b)| b)
}

/// Every entry of a tar: header and data.
fn tar_entries(tar: &[u8]) -> Vec<(TarHeader, Vec<u8>)> {
    let mut ar = ArchiveReader::new(tar);
    let mut out = Vec::new();
    while let Some(h) = ar.next_entry().unwrap() {
        let mut data = Vec::new();
        ar.read_to_end(&mut data).unwrap();
        out.push((h, data));
    }
    out
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    tar_entries(tar).into_iter().map(|(h, _)| h.name).collect()
}

fn p(s: &str) -> LayerPath {
    LayerPath::parse(s).unwrap()
}

fn info(attrs: u32, t: FileTime) -> FileBasicInfo {
    FileBasicInfo {
        creation_time: t,
        last_access_time: t,
        last_write_time: t,
        change_time: t,
        file_attributes: FileAttributes(attrs),
    }
}

fn stream(parts: &[(StreamHeader, &[u8])]) -> Vec<u8> {
    let mut w = BackupStreamWriter::new(Vec::new());
    for (h, body) in parts {
        w.write_header(h).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap()
}

const T: FileTime = FileTime(133_444_736_000_000_000);

// ---- deliberate differences ---------------------------------------------------------------

/// The reference takes the EA order from a Go map (random); wclayer sorts the EAs of an
/// entry by name (bytewise), whatever the order of their records in the tar.
#[test]
fn eas_import_sorted_by_name_whatever_the_record_order() {
    let tar = Tar::new()
        .dir("Files")
        .file(
            "Files/f",
            b"x",
            &[
                ("MSWINDOWS.fileattr", "32"),
                ("MSWINDOWS.xattr.zeta", "eg=="),
                ("MSWINDOWS.xattr.Beta", "Qg=="),
                ("MSWINDOWS.xattr.ALPHA", "QQ=="),
                ("MSWINDOWS.xattr.alpha", "YQ=="),
            ],
        )
        .bytes();
    let mut layer = import(&tar).unwrap();
    let eas = body_in_layer(&mut layer, "Files\\f", StreamId::EA_DATA).expect("an EA stream");
    let got: Vec<(Vec<u8>, Vec<u8>)> = ea::decode(&eas)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(
        got,
        [
            (b"ALPHA".to_vec(), b"A".to_vec()),
            (b"Beta".to_vec(), b"B".to_vec()),
            (b"alpha".to_vec(), b"a".to_vec()),
            (b"zeta".to_vec(), b"z".to_vec()),
        ]
    );
}

/// PAX records, each with its length prefix (which counts itself).
fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let n = k.len() + v.len() + 3;
        let mut len = n + n.to_string().len();
        if len.to_string().len() != n.to_string().len() {
            len = n + len.to_string().len();
        }
        out.extend(format!("{len} {k}={v}\n").into_bytes());
    }
    out
}

impl Tar {
    /// A PAX global header (`g`) with `records`.
    fn global(&mut self, records: &[(&str, &str)]) -> &mut Tar {
        let body = pax_records(records);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XGlobalHeader);
        h.set_size(body.len() as u64);
        h.set_path("pax_global_header").unwrap();
        h.set_cksum();
        self.0.append(&h, &body[..]).unwrap();
        self
    }
}

/// A PAX global header is no entry of the layer: its records apply to every later entry,
/// a local record overrides one, an empty global value deletes the key.
#[test]
fn pax_global_headers_apply_to_later_entries_and_are_no_entry() {
    let users = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";
    let admins = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAgAgAAAQIAAAAAAAUgAAAAIAIAAA==";
    let tar = Tar::new()
        .global(&[("MSWINDOWS.rawsd", users), ("MSWINDOWS.fileattr", "36")])
        .dir("Files")
        .file("Files/global", b"g", &[])
        .file("Files/local", b"l", &[("MSWINDOWS.rawsd", admins)])
        .global(&[("MSWINDOWS.fileattr", "")])
        .file("Files/deleted", b"d", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    layer.set_walk_mode(Some(WalkMode::Delta));
    let walked = walk(&mut layer);
    let names: Vec<&str> = walked.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Files", "Files\\deleted", "Files\\global", "Files\\local"]
    );
    let attrs = |n: &str| {
        walked
            .iter()
            .find(|(name, _, _)| name == n)
            .and_then(|(_, i, _)| *i)
            .unwrap()
            .file_attributes
    };
    assert_eq!(attrs("Files"), FileAttributes(16), "local wins");
    assert_eq!(attrs("Files\\global"), FileAttributes(36));
    assert_eq!(attrs("Files\\local"), FileAttributes(36));
    assert_eq!(
        attrs("Files\\deleted"),
        FileAttributes(0),
        "deleted by the empty value"
    );
    let sd = |layer: &mut MemLayer, n: &str| body_in_layer(layer, n, StreamId::SECURITY_DATA);
    let b64 = |s: &str| wclayer_tar::pax::decode_base64(s.as_bytes()).unwrap();
    assert_eq!(sd(&mut layer, "Files\\global"), Some(b64(users)));
    assert_eq!(sd(&mut layer, "Files\\local"), Some(b64(admins)));
    assert_eq!(sd(&mut layer, "Files\\deleted"), Some(b64(users)));
}

/// Names that differ only in case are one file (NTFS upcase rules): a later entry in
/// another case is a duplicate, naming the first spelling.
#[test]
fn an_entry_in_another_case_of_an_added_name_is_a_duplicate() {
    let tar = Tar::new()
        .dir("Files")
        .file("Files/Straße.txt", b"1", &[])
        .file("FILES/STRAßE.TXT", b"2", &[])
        .bytes();
    let e = import(&tar).unwrap_err();
    assert!(
        matches!(
            &e,
            wclayer_tar::Error::Layer(wclayer_layer::Error::Duplicate { .. })
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("FILES/STRAßE.TXT") && text.contains("Files\\Straße.txt"),
        "{text}"
    );
}

/// Hard links and tombstones whose names spell an added name in another case resolve to it:
/// the export carries one spelling, the first written.
#[test]
fn hard_links_and_tombstones_naming_another_case_resolve_to_the_first_spelling() {
    let tar = Tar::new()
        .dir("Files")
        .dir("Files/Dir")
        .file(
            "Files/Dir/Target.txt",
            b"data",
            &[("MSWINDOWS.fileattr", "32")],
        )
        .entry(
            "FILES/dir/link.txt",
            tar::EntryType::Link,
            Some("files/DIR/TARGET.TXT"),
            b"",
            &[],
        )
        .file("files/DIR/.wh.gone.txt", b"", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    let names: Vec<String> = walk(&mut layer).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        [
            "Files",
            "Files\\Dir",
            "-Files\\Dir\\gone.txt",
            "Files\\Dir\\Target.txt",
            "Files\\Dir\\link.txt",
        ]
    );
    let entries = tar_entries(&export(&mut layer).unwrap());
    let got: Vec<(&str, u8, &str)> = entries
        .iter()
        .map(|(h, _)| (h.name.as_str(), h.typeflag, h.linkname.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Files", b'5', ""),
            ("Files/Dir", b'5', ""),
            ("Files/Dir/.wh.gone.txt", b'0', ""),
            ("Files/Dir/Target.txt", b'0', ""),
            ("Files/Dir/link.txt", b'1', "Files/Dir/Target.txt"),
        ]
    );
}

/// The top-level names `Files`, `Hives` and `UtilityVM` match in any case (hcsshim matches
/// them case-sensitively): a base layer spelled `FILES`, `utilityvm/files` exports them, as
/// first written, and still leaves `hives` out.
#[test]
fn top_level_names_match_in_any_case_and_export_as_first_written() {
    let tar = Tar::new()
        .dir("FILES")
        .file("files/a.txt", b"a", &[])
        .dir("hives")
        .file("HIVES/h", b"h", &[])
        .dir("utilityVM")
        .dir("UTILITYVM/files")
        .file("UtilityVM/Files/u.txt", b"u", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    assert_eq!(layer.walk_mode(), WalkMode::Base);
    assert_eq!(
        tar_names(&export(&mut layer).unwrap()),
        [
            "FILES",
            "FILES/a.txt",
            "utilityVM",
            "utilityVM/files",
            "utilityVM/files/u.txt"
        ]
    );
}

/// Legacy `MSWINDOWS.sd` SDDL is converted by wclayer's own parser and written as
/// Windows' converter lays descriptors out: header, SACL, DACL, owner, group back to back
/// (docs/ea-reparse-sd.md §3.1, §3.10), ACL revision 2, or 4 with object ACEs.
#[test]
fn legacy_mswindows_sd_imports_as_sacl_dacl_owner_group() {
    let tar = Tar::new()
        .dir("Files")
        .file(
            "Files/f",
            b"x",
            &[("MSWINDOWS.sd", "O:BAG:SYD:(A;;FA;;;BA)S:(AU;SA;FA;;;WD)")],
        )
        .file(
            "Files/object",
            b"x",
            &[(
                "MSWINDOWS.sd",
                "O:BAG:SYD:(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)",
            )],
        )
        .bytes();
    let mut layer = import(&tar).unwrap();
    let sd = body_in_layer(&mut layer, "Files\\f", StreamId::SECURITY_DATA).unwrap();
    let owner_ba = "01020000000000052000000020020000";
    let group_sy = "010100000000000512000000";
    // ACL revision 2, 28 bytes, one ACE: SYSTEM_AUDIT, SUCCESSFUL_ACCESS, FILE_ALL_ACCESS, WD.
    let sacl = "02001c0001000000 02401400ff011f00 010100000000000100000000";
    // ACL revision 2, 32 bytes, one ACE: ACCESS_ALLOWED, FILE_ALL_ACCESS, BA.
    let dacl = "0200200001000000 00001800ff011f00 01020000000000052000000020020000";
    // Revision 1, control SE_SELF_RELATIVE | SE_SACL_PRESENT | SE_DACL_PRESENT; offsets of
    // owner (80), group (96), SACL (20), DACL (48).
    let header = "01001480 50000000 60000000 14000000 30000000";
    let want = hex::decode(
        [header, sacl, dacl, owner_ba, group_sy]
            .concat()
            .replace(' ', ""),
    )
    .unwrap();
    assert_eq!(hex::encode(&sd), hex::encode(&want));

    let sd = body_in_layer(&mut layer, "Files\\object", StreamId::SECURITY_DATA).unwrap();
    let dacl_at = u32::from_le_bytes(sd[16..20].try_into().unwrap()) as usize;
    assert_eq!(dacl_at, 20, "the DACL comes first without a SACL");
    assert_eq!(sd[dacl_at], 4, "ACL revision 4 with an object ACE");
    let owner_at = u32::from_le_bytes(sd[4..8].try_into().unwrap()) as usize;
    let dacl_len = usize::from(u16::from_le_bytes([sd[dacl_at + 2], sd[dacl_at + 3]]));
    assert_eq!(owner_at, dacl_at + dacl_len, "the owner follows the DACL");
}

/// A tar name (`/`-separated) of exactly `units` UTF-16 units below `Files`: components of
/// 255 units, the last one shorter.
fn name_of_units(units: usize) -> String {
    let mut name = String::from("Files");
    while name.len() + 1 + 255 < units {
        name.push('/');
        name.push_str(&"a".repeat(255));
    }
    name.push('/');
    name.push_str(&"b".repeat(units - name.len()));
    assert_eq!(name.encode_utf16().count(), units);
    name
}

/// Windows refuses a component over 255 UTF-16 units and a path over 32 766; the reference
/// passes such names on and fails on Windows. wclayer refuses them at the import, naming
/// the entry; names at the limits are accepted.
#[test]
fn names_over_the_windows_limits_are_refused_naming_the_entry() {
    let long_component = format!("Files/{}", "字".repeat(256));
    let long_path = name_of_units(32_767);
    for bad in [&long_component, &long_path] {
        let tar = Tar::new()
            .dir("Files")
            .file(bad, b"x", &[("MSWINDOWS.fileattr", "32")])
            .bytes();
        let e = import(&tar).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{bad}: invalid layer path: ")),
            "{}",
            &e[e.len().saturating_sub(120)..]
        );
    }
    for good in [format!("Files/{}", "字".repeat(255)), name_of_units(32_766)] {
        let tar = Tar::new()
            .dir("Files")
            .file(&good, b"x", &[("MSWINDOWS.fileattr", "32")])
            .bytes();
        let mut layer = import(&tar).unwrap();
        assert!(
            tar_names(&export(&mut layer).unwrap()).contains(&good),
            "{} units",
            good.encode_utf16().count()
        );
    }
}

/// PAX keys are UTF-8: the reference would write an EA name that is not UTF-8 as raw bytes
/// into a key; wclayer's export fails naming the entry.
#[test]
fn an_ea_name_that_is_not_utf8_fails_the_export_naming_the_entry() {
    let eas = ea::encode(&[ExtendedAttribute::new(b"bad\xff".to_vec(), b"v".to_vec())]).unwrap();
    let mut l = MemLayer::new();
    l.add(&p("Files"), &info(0x10, T)).unwrap();
    l.add(&p("Files/f"), &info(0x20, T)).unwrap();
    l.write_all(&stream(&[
        (StreamHeader::new(StreamId::EA_DATA, eas.len() as u64), &eas),
        (StreamHeader::new(StreamId::DATA, 1), b"x"),
    ]))
    .unwrap();
    l.close().unwrap();
    let e = export(&mut l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Files/f: extended attribute name is not UTF-8"
    );
}

// ---- followed on purpose ------------------------------------------------------------------

/// A header without `atime`/`ctime` (any Linux tool's tar) gets Go's zero time, FILETIME
/// 48491090211286549 (1754), which exports again as the records `-6795364578.8713451`.
#[test]
fn a_header_without_atime_and_ctime_gets_go_zero_time_and_exports_it() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in [
        ("Files/", tar::EntryType::Directory, &b""[..]),
        ("Files/plain.txt", tar::EntryType::Regular, b"plain\n"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut layer = import(&tar).unwrap();
    let (_, info, _) = walk(&mut layer)
        .into_iter()
        .find(|(n, _, _)| n == "Files\\plain.txt")
        .unwrap();
    let info = info.unwrap();
    assert_eq!(info.last_access_time, FileTime(48_491_090_211_286_549));
    assert_eq!(info.change_time, FileTime(48_491_090_211_286_549));
    assert_eq!(info.creation_time, info.last_write_time);
    let entries = tar_entries(&export(&mut layer).unwrap());
    let (h, data) = entries
        .iter()
        .find(|(h, _)| h.name == "Files/plain.txt")
        .unwrap();
    assert_eq!(data, b"plain\n");
    assert_eq!(h.record("atime"), Some("-6795364578.8713451"));
    assert_eq!(h.record("ctime"), Some("-6795364578.8713451"));
}

/// A FILETIME through Go: `syscall.Filetime.Nanoseconds` (int64, wrapping), then
/// `syscall.NsecToFiletime` on import.
fn through_go(ft: u64) -> u64 {
    const EPOCH: i64 = 116_444_736_000_000_000;
    let nanos = ft.cast_signed().wrapping_sub(EPOCH).wrapping_mul(100);
    (nanos / 100 + EPOCH).cast_unsigned()
}

/// A zero FILETIME and FILETIMEs before 1678 or after 2262 wrap in Go's 64-bit nanosecond
/// arithmetic on export; wclayer wraps the same way, so export and import give Go's values.
#[test]
fn filetimes_outside_1678_to_2262_wrap_as_in_go() {
    let times = [
        0u64,
        1,
        24_211_015_631_452_241,  // just before 1677-09-21T00:12:43.1452242Z
        208_678_456_368_547_759, // just after 2262-04-11T23:47:16.8547758Z
        u64::MAX / 2,
        133_444_736_001_234_567,
    ];
    let mut l = MemLayer::new();
    l.add(&p("Files"), &info(0x10, T)).unwrap();
    for (i, &ft) in times.iter().enumerate() {
        l.add(&p(&format!("Files/t{i}")), &info(0x20, FileTime(ft)))
            .unwrap();
    }
    l.close().unwrap();
    let mut again = import(&export(&mut l).unwrap()).unwrap();
    let walked = walk(&mut again);
    for (i, &ft) in times.iter().enumerate() {
        let name = format!("Files\\t{i}");
        let (_, got, _) = walked.iter().find(|(n, _, _)| *n == name).unwrap();
        let got = got.unwrap();
        let want = FileTime(through_go(ft));
        assert_eq!(
            (
                got.creation_time,
                got.last_access_time,
                got.last_write_time,
                got.change_time
            ),
            (want, want, want, want),
            "FILETIME {ft}"
        );
    }
    // The values wrap: a zero FILETIME comes back as 1985.
    assert_eq!(through_go(0), 184_467_440_737_095_516);
    assert_eq!(through_go(133_444_736_001_234_567), 133_444_736_001_234_567);
}

/// Alternate data streams of directories and symlinks are dropped on export, and so are the
/// PAX records a tar gave hard-link and `:stream` entries: the export writes what its
/// headers are built from, the file's basic information only.
#[test]
fn export_drops_streams_of_directories_and_symlinks_and_records_of_links_and_streams() {
    let tar = Tar::new()
        .dir("Files")
        .dir("Files/d")
        .file("Files/d:ds", b"stream of a directory", &[])
        .entry(
            "Files/l",
            tar::EntryType::Symlink,
            Some("f"),
            b"",
            &[("MSWINDOWS.fileattr", "1056")],
        )
        .file("Files/l:ls", b"stream of a symlink", &[])
        .file(
            "Files/f",
            b"file",
            &[
                ("MSWINDOWS.fileattr", "32"),
                ("MSWINDOWS.xattr.KEPT", "QQ=="),
            ],
        )
        .file(
            "Files/f:fs",
            b"stream of a file",
            &[
                ("MSWINDOWS.fileattr", "2"),
                ("MSWINDOWS.xattr.STREAM", "QQ=="),
            ],
        )
        .entry(
            "Files/h",
            tar::EntryType::Link,
            Some("Files/f"),
            b"",
            &[
                ("MSWINDOWS.fileattr", "1"),
                ("MSWINDOWS.xattr.LINK", "QQ=="),
                (
                    "MSWINDOWS.rawsd",
                    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==",
                ),
            ],
        )
        .bytes();
    let mut layer = import(&tar).unwrap();
    // The layer holds the directory's and the symlink's streams...
    for (name, id) in [
        ("Files\\d", StreamId::ALTERNATE_DATA),
        ("Files\\l", StreamId::ALTERNATE_DATA),
    ] {
        assert!(body_in_layer(&mut layer, name, id).is_some(), "{name}");
    }
    // ...the export does not.
    let entries = tar_entries(&export(&mut layer).unwrap());
    let keys = |n: &str| -> Vec<String> {
        entries
            .iter()
            .find(|(h, _)| h.name == n)
            .unwrap_or_else(|| panic!("{n} not exported"))
            .0
            .pax_records
            .keys()
            .cloned()
            .collect()
    };
    let names: Vec<&str> = entries.iter().map(|(h, _)| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Files",
            "Files/d",
            "Files/f",
            "Files/f:fs",
            "Files/h",
            "Files/l"
        ]
    );
    let file_keys = keys("Files/f");
    assert!(file_keys.contains(&"MSWINDOWS.xattr.KEPT".to_string()));
    // The stream entry: the file's times only; the link: the file's basic information.
    let times: Vec<String> = file_keys
        .iter()
        .filter(|k| ["atime", "ctime", "mtime"].contains(&k.as_str()))
        .cloned()
        .collect();
    assert!(!times.is_empty());
    assert_eq!(keys("Files/f:fs"), times);
    let basic: Vec<String> = file_keys
        .iter()
        .filter(|k| *k != "MSWINDOWS.rawsd" && !k.starts_with("MSWINDOWS.xattr."))
        .cloned()
        .collect();
    assert!(basic.contains(&"MSWINDOWS.fileattr".to_string()));
    assert_eq!(keys("Files/h"), basic);
    let link = &entries.iter().find(|(h, _)| h.name == "Files/h").unwrap().0;
    assert_eq!(
        link.record("MSWINDOWS.fileattr"),
        Some("32"),
        "the file's attributes"
    );
}

/// A hard-link group is exported with the name the reader visits first as the file, the
/// others as links to it, whichever name the tar added first.
#[test]
fn a_hard_link_group_exports_the_first_visited_name_as_the_file() {
    let tar = Tar::new()
        .dir("Files")
        .file("Files/b", b"shared", &[("MSWINDOWS.fileattr", "32")])
        .entry("Files/a", tar::EntryType::Link, Some("Files/b"), b"", &[])
        .entry("Files/c", tar::EntryType::Link, Some("Files/b"), b"", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    let entries = tar_entries(&export(&mut layer).unwrap());
    let got: Vec<(&str, u8, &str, &[u8])> = entries
        .iter()
        .map(|(h, d)| {
            (
                h.name.as_str(),
                h.typeflag,
                h.linkname.as_str(),
                d.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Files", b'5', "", &b""[..]),
            ("Files/a", b'0', "", b"shared"),
            ("Files/b", b'1', "Files/a", b""),
            ("Files/c", b'1', "Files/a", b""),
        ]
    );
}

/// `.wh..wh..opq` is not special: it removes a file named `.wh..opq`, and exports back as
/// itself.
#[test]
fn the_opaque_whiteout_marker_removes_a_file_named_wh_opq() {
    let tar = Tar::new()
        .dir("Files")
        .dir("Files/d")
        .file("Files/d/.wh..wh..opq", b"", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    let names: Vec<String> = walk(&mut layer).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["Files", "Files\\d", "-Files\\d\\.wh..opq"]);
    assert_eq!(
        tar_names(&export(&mut layer).unwrap()),
        ["Files", "Files/d", "Files/d/.wh..wh..opq"]
    );
}

/// Finding: `Files/a/.wh..` removed all of `Files` (hcsshim's `path.Join` cleans
/// `Files/a/..` to `Files`). A whiteout of `.`, `..` or nothing is refused, naming the
/// entry, before anything is removed.
#[test]
fn whiteouts_of_dot_and_dotdot_are_refused() {
    for name in [
        "Files/a/.wh..",
        "Files/a/.wh...",
        "Files/.wh..",
        "Files/a/.wh.",
    ] {
        let tar = Tar::new()
            .dir("Files")
            .dir("Files/a")
            .file("Files/a/keep", b"x", &[])
            .file(name, b"", &[])
            .bytes();
        let e = import(&tar).map(|_| ()).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("{name}: ")),
            "{name}: {e}"
        );
    }
    // `.wh...` is the whiteout of `..`; `.wh....` of `...`, an ordinary (if odd) name.
    let tar = Tar::new()
        .dir("Files")
        .file("Files/.wh....", b"", &[])
        .bytes();
    let mut layer = import(&tar).unwrap();
    let names: Vec<String> = walk(&mut layer).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["Files", "-Files\\..."]);
}

/// Finding: a regular file with data whose `MSWINDOWS.fileattr` says DIRECTORY imported as
/// a directory, its data kept where no export could write it. It is refused at import,
/// naming the entry; without data it is a directory, as hcsshim makes it.
#[test]
fn regular_files_with_data_and_the_directory_attribute_are_refused() {
    let tar = Tar::new()
        .dir("Files")
        .file("Files/odd", b"data", &[("MSWINDOWS.fileattr", "16")])
        .bytes();
    let e = import(&tar).map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Files/odd: a regular file with data whose attributes say directory"
    );
    let tar = Tar::new()
        .dir("Files")
        .file("Files/odd", b"", &[("MSWINDOWS.fileattr", "16")])
        .bytes();
    let mut layer = import(&tar).unwrap();
    let names: Vec<String> = walk(&mut layer).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["Files", "Files\\odd"]);
}

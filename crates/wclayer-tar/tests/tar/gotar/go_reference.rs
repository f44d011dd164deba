//! Archives Go wrote: the reference exports rewritten byte for byte, and a digest of edge
//! cases computed by Go's `archive/tar`.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use wclayer_backup::UnixTime;
use wclayer_tar::gotar::{Format, GoTarWriter, Header};

use super::{archive, parse_pax_time, sha256_hex};

/// Keys Go's writer derives from header fields; the rest are the caller's records.
pub(super) const GO_KEYS: &[&str] = &[
    "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime",
];

/// Rebuilds the `Header` backuptar gave Go's writer from an entry Go wrote.
fn header_from_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> Header {
    let mut records = BTreeMap::new();
    let had_pax = if let Some(exts) = entry.pax_extensions().unwrap() {
        for ext in exts {
            let ext = ext.unwrap();
            records.insert(
                ext.key().unwrap().to_owned(),
                ext.value().unwrap().to_owned(),
            );
        }
        true
    } else {
        false
    };
    let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
    let base = name.rsplit('/').next().unwrap_or_default();
    if base.starts_with(".wh.") {
        // backuptar sets only the name of a whiteout (docs/oci-tar-mapping.md §4.7).
        return Header {
            name,
            ..Header::default()
        };
    }
    let hdr = entry.header();
    let time = |key: &str| records.get(key).map(|v| parse_pax_time(v));
    let mut h = Header {
        linkname: entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap())
            .unwrap_or_default(),
        typeflag: hdr.entry_type().as_byte(),
        mode: i64::from(hdr.mode().unwrap()),
        uid: i64::try_from(hdr.uid().unwrap()).unwrap(),
        gid: i64::try_from(hdr.gid().unwrap()).unwrap(),
        uname: String::from_utf8(hdr.username_bytes().unwrap_or_default().to_vec()).unwrap(),
        gname: String::from_utf8(hdr.groupname_bytes().unwrap_or_default().to_vec()).unwrap(),
        size: i64::try_from(entry.size()).unwrap(),
        mod_time: time("mtime").unwrap_or(UnixTime {
            secs: i64::try_from(hdr.mtime().unwrap()).unwrap(),
            nanos: 0,
        }),
        access_time: time("atime").unwrap_or(UnixTime::GO_ZERO),
        change_time: time("ctime").unwrap_or(UnixTime::GO_ZERO),
        format: if had_pax {
            Format::Pax
        } else {
            Format::Unspecified
        },
        name,
        ..Header::default()
    };
    records.retain(|k, _| !GO_KEYS.contains(&k.as_str()));
    h.pax_records = records;
    h
}

fn rewrite(original: &[u8]) -> (Vec<u8>, usize) {
    let mut ar = tar::Archive::new(original);
    let mut tw = GoTarWriter::new(Vec::new());
    let mut count = 0;
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let h = header_from_entry(&mut entry);
        tw.write_header(&h).unwrap();
        io::copy(&mut entry, &mut tw).unwrap();
        count += 1;
    }
    (tw.finish().unwrap(), count)
}

#[test]
fn reference_exports_rewrite_byte_identical() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/exports");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".export.tar"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{dir:?}");
    for path in files {
        let original = std::fs::read(&path).unwrap();
        let (ours, count) = rewrite(&original);
        assert!(count > 0);
        assert!(ours == original, "{path:?} differs");
    }
}

// ---------------------------------------------------------------------------------------------
// Edge cases checked against Go
// ---------------------------------------------------------------------------------------------

/// Fourteen edge cases in one archive. The digest was produced by Go 1.19's `archive/tar`
/// (Debian golang-1.19 1.19.8) writing the same headers and data. The Go program,
/// `tests/go/edge-case-digest/main.go`, mirrors this function field for field; `go run .` in
/// its directory prints the length and digest asserted here.
#[test]
fn go_generated_edge_case_digest() {
    let t = |secs, nanos| UnixTime { secs, nanos };
    let t0 = t(1_609_556_645, 123_456_700);
    let t1 = t(1_609_556_646, 0);
    let pax = |name: &str| Header {
        name: name.into(),
        format: Format::Pax,
        ..Header::default()
    };
    let data = |n: usize| -> Vec<u8> { b"0123456789".iter().copied().cycle().take(n).collect() };
    let mut entries: Vec<(Header, Vec<u8>)> = Vec::new();

    // a: non-ASCII name whose filtered form puts '/' at the field boundary.
    let mut a = pax(&format!("Files/{}/é/é/child", "a".repeat(91)));
    (a.mode, a.size, a.mod_time, a.access_time, a.change_time) = (0o100000, 3, t1, t1, t1);
    a.pax_records
        .insert("MSWINDOWS.fileattr".into(), "32".into());
    entries.push((a, data(3)));
    // b, c, d: whiteouts — splittable, unsplittable, non-ASCII.
    for name in [
        format!(
            "Files/{}/{}/.wh.{}",
            "d".repeat(80),
            "e".repeat(40),
            "f".repeat(30)
        ),
        format!("Files/.wh.{}", "g".repeat(150)),
        "Files/.wh.é".to_owned(),
    ] {
        let h = Header {
            name,
            ..Header::default()
        };
        entries.push((h, Vec::new()));
    }
    // e: Format PAX with nothing that needs PAX becomes USTAR, with a split name.
    let mut e = pax(&format!("{}/{}", "p".repeat(60), "q".repeat(60)));
    (e.typeflag, e.mode, e.mod_time) = (b'5', 0o40000, t1);
    entries.push((e, Vec::new()));
    // f: negative fractional mtime, atime past the octal range, no ctime.
    let mut f = pax("Files/times");
    (f.mode, f.mod_time, f.access_time) = (0o100000, t(-2, 500_000_000), t(8_589_934_592, 0));
    entries.push((f, Vec::new()));
    // g: a header-only type with a size beyond the octal field.
    let mut g = pax("Files/bigdir");
    (g.typeflag, g.mode, g.size) = (b'5', 0o40000, 8_589_934_592);
    (g.mod_time, g.access_time, g.change_time) = (t0, t0, t0);
    entries.push((g, Vec::new()));
    // h: ids and user names that need records.
    let mut h = pax("Files/ids");
    (h.uid, h.gid, h.mod_time) = (2_097_152, 7, t1);
    (h.uname, h.gname) = ("usér".into(), "g".repeat(40));
    entries.push((h, Vec::new()));
    // i: Go's GNU fallback (mode beyond octal), long names in ././@LongLink, base-256 numbers.
    let i = Header {
        name: format!("Files/{}", "n".repeat(120)),
        linkname: "l".repeat(101),
        typeflag: b'1',
        mode: 0o10000000,
        uid: -1,
        mod_time: t(-5, 0),
        size: 5,
        ..Header::default()
    };
    entries.push((i, Vec::new()));
    // j: data padding and a non-ASCII link name.
    let mut j = pax("Files/data");
    (j.linkname, j.mode, j.size) = ("ü".into(), 0o100000, 700);
    (j.mod_time, j.access_time, j.change_time) = (t0, t1, t1);
    entries.push((j, data(700)));
    // k: a global header; its `path` record is kept.
    let mut k = Header {
        typeflag: b'g',
        ..Header::default()
    };
    k.pax_records.insert("comment".into(), "hi".into());
    k.pax_records.insert("path".into(), "x".into());
    entries.push((k, Vec::new()));
    // l: an unspecified format rounds the mtime (half up) and drops atime.
    let l = Header {
        name: "Files/round".into(),
        mod_time: t(1_609_556_645, 500_000_000),
        access_time: t1,
        ..Header::default()
    };
    entries.push((l, Vec::new()));
    // m: a name that needs cleaning for its PaxHeaders.0 entry.
    let mut m = pax("a//./b/../é");
    (m.typeflag, m.linkname) = (b'2', "x".into());
    entries.push((m, Vec::new()));
    // n: typeflag 0 with a trailing slash is promoted to a directory.
    let n = Header {
        name: "Files/dir/".into(),
        typeflag: 0,
        mode: 0o40000,
        ..Header::default()
    };
    entries.push((n, Vec::new()));

    let refs: Vec<(Header, &[u8])> = entries
        .iter()
        .map(|(h, d)| (h.clone(), d.as_slice()))
        .collect();
    let ours = archive(&refs);
    assert_eq!(ours.len(), 20_480);
    assert_eq!(
        sha256_hex(&ours),
        "90b4709bb1cced6b519d98bb108760fe6360308235d5cfacb181e241e00f3e55"
    );
}

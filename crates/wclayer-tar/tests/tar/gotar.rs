//! `gotar::GoTarWriter` against Go's `archive/tar`: the spec's worked example
//! (oci-tar-mapping.md §9), the reference exports written by Go, a Go-generated digest of edge
//! cases, the byte rules of §8, the errors, and property tests read back with the `tar` crate.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use base64::Engine as _;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use wclayer_backup::{FileTime, UnixTime};
use wclayer_tar::gotar::{Error, Format, GoTarWriter, Header};

const BLOCK: usize = 512;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `entries` (header + data) and the trailer.
fn archive(entries: &[(Header, &[u8])]) -> Vec<u8> {
    let mut tw = GoTarWriter::new(Vec::new());
    for (h, data) in entries {
        tw.write_header(h).unwrap();
        tw.write_all(data).unwrap();
    }
    tw.finish().unwrap()
}

/// A NUL-terminated header field as a string.
fn cstr(field: &[u8]) -> &str {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end]).unwrap()
}

/// Spec §3 parse rules (the test's own, to check what the writer emits).
fn parse_pax_time(s: &str) -> UnixTime {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = int.parse().unwrap();
    let mut digits = frac.to_owned();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: i64 = digits[..9].parse().unwrap();
    let nanos = if int.starts_with('-') { -nanos } else { nanos };
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    UnixTime {
        secs: i64::try_from(total.div_euclid(1_000_000_000)).unwrap(),
        nanos: u32::try_from(total.rem_euclid(1_000_000_000)).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// §9 worked example
// ---------------------------------------------------------------------------------------------

const SD: &str = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";
const T0_PAX: &str = "1609556645.1234567";

/// The gzip + base64 archive printed in §9.
const SPEC_ARCHIVE_GZ_B64: &str = "\
H4sIAAAAAAACA+1aXU+jQBTlub+CX4Bz57NuwgPd3aYku1ZtVuMjsbOWSNsE2LX66x3QmDL9sE0AJd7z0BlmCExzOefc+TiPViMd\
TXWaeeRkGCc6c2oHecGukjCu3uplOwAF6rgrpwX8y/IoNa93via4dH+Fg+Dy+yi8+undpjrK4+Uij+faB0lOhZCSCw8o40KqHhXu\
78l1ePZjfD3x/pqvJcrz1NzYO6VrHWn0kE394CII7gbmJwjugyoGwd1rZVIWs/L6Inzt/lP2huW17/cocaPqgGTRdrvR1nfnuwbu\
ILajIcpb/Od7+V/UgSnFlATKheE/oQwcV3SJ//af61L8T7yHmTfVic711MtXecv6v1EHRqSJP8H4txT/8/UsYKaTZFnnZ3C8/zNg\
DP2/K/7PaLP+31979qp4ozccj/2b+fDx4NwAjX4v/2unfJX/8J7+yzX/l+Z+CgL1vxWUkUd6fHH+b/f/b0/LhW4j/xN2/scBCPp/\
G0ADRf5n9VP+SP8Hy/9N/k/R/9vAE1IA+V/1/yRe3Nc6F3jP/0HY83+qJEf/79D8H9OITvO/dspv8F9yfuD6f+H/XIFyXGhjcQLX\
f239zx7n9cd/7/qvAlv/SRF/1P9Pp/9q6/4vEbLpFeBo55D6tstU+nBH+BD+1055a/5Hj9z/pVIZ/tNmlR/136Ci/KP4/0ec/6HA\
Ns//SNT/ruT/IPGMTlfREOUt/h9//scUeP4HgUAgGsQzKCZyAAAuAAA=";

/// The §9 headers, in reader order, with their data.
fn spec_entries() -> Vec<(Header, &'static [u8])> {
    // FILETIMEs of §9, converted as backuptar does (backup-stream.md §8.2).
    let t0 = FileTime(132_540_302_451_234_567).to_unix();
    let t1 = FileTime(132_540_302_460_000_000).to_unix();
    let entry =
        |name: &str, typeflag: u8, mode: i64, size: i64, w: UnixTime, ach: UnixTime| Header {
            name: name.into(),
            typeflag,
            mode,
            size,
            mod_time: w,
            access_time: ach,
            change_time: ach,
            format: Format::Pax,
            ..Header::default()
        };
    let records = |h: &mut Header, pairs: &[(&str, &str)]| {
        for (k, v) in pairs {
            h.pax_records.insert((*k).into(), (*v).into());
        }
    };
    let creation = ("LIBARCHIVE.creationtime", T0_PAX);
    let rawsd = ("MSWINDOWS.rawsd", SD);

    let mut files = entry("Files", b'5', 0o40000, 0, t0, t1);
    records(&mut files, &[creation, ("MSWINDOWS.fileattr", "16"), rawsd]);
    // A tombstone: only the name is set, Format unspecified (§4.7).
    let whiteout = Header {
        name: "Files/.wh.deleted.txt".into(),
        ..Header::default()
    };
    let mut hello = entry("Files/hello.txt", b'0', 0o100000, 6, t1, t1);
    records(
        &mut hello,
        &[
            creation,
            ("MSWINDOWS.fileattr", "32"),
            rawsd,
            ("MSWINDOWS.xattr.FOO", "YmFy"),
        ],
    );
    // The ADS copies the main entry's mode and times and has no records (§4.6).
    let zone = entry("Files/hello.txt:zone", b'0', 0o100000, 1, t1, t1);
    let mut link = entry("Files/link.txt", b'1', 0o644, 0, t1, t1);
    link.linkname = "Files/hello.txt".into();
    records(&mut link, &[creation, ("MSWINDOWS.fileattr", "32")]);
    let mut sym = entry("Files/sym", b'2', 0o120000, 0, t0, t0);
    sym.linkname = "hello.txt".into();
    records(&mut sym, &[creation, ("MSWINDOWS.fileattr", "1056"), rawsd]);
    let mut hives = entry("Hives", b'5', 0o40000, 0, t0, t1);
    records(&mut hives, &[creation, ("MSWINDOWS.fileattr", "16")]);

    vec![
        (files, b""),
        (whiteout, b""),
        (hello, b"hello\n"),
        (zone, b"z"),
        (link, b""),
        (sym, b""),
        (hives, b""),
    ]
}

fn spec_archive() -> Vec<u8> {
    archive(&spec_entries())
}

#[test]
fn spec_worked_example_digest_and_bytes() {
    let ours = spec_archive();
    assert_eq!(ours.len(), 11_776);
    assert_eq!(
        sha256_hex(&ours),
        "2fb5e342c662a6ef671526c71f7e62cc4924e2e1f43b3288a6ebfdb4d5e5cf14"
    );
    let gz = base64::engine::general_purpose::STANDARD
        .decode(SPEC_ARCHIVE_GZ_B64)
        .unwrap();
    let mut expected = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut expected)
        .unwrap();
    assert_eq!(ours, expected);
}

#[test]
fn spec_worked_example_header_table() {
    let ours = spec_archive();
    // offset, typeflag, name, mode, size, mtime field, chksum field, linkname (§9 table).
    type Row = (
        usize,
        u8,
        &'static str,
        &'static str,
        u64,
        &'static str,
        &'static [u8; 8],
        &'static str,
    );
    let table: &[Row] = &[
        (
            0,
            b'x',
            "PaxHeaders.0/Files",
            "0000000",
            231,
            "00000000000",
            b"011212\0 ",
            "",
        ),
        (
            1024,
            b'5',
            "Files",
            "0040000",
            0,
            "13773761245",
            b"010231\0 ",
            "",
        ),
        (
            1536,
            b'0',
            "Files/.wh.deleted.txt",
            "0000000",
            0,
            "00000000000",
            b"013061\0 ",
            "",
        ),
        (
            2048,
            b'x',
            "Files/PaxHeaders.0/hello.txt",
            "0000000",
            231,
            "00000000000",
            b"013133\0 ",
            "",
        ),
        (
            3072,
            b'0',
            "Files/hello.txt",
            "0100000",
            6,
            "13773761246",
            b"012151\0 ",
            "",
        ),
        (
            4096,
            b'x',
            "Files/PaxHeaders.0/hello.txt:zone",
            "0000000",
            40,
            "00000000000",
            b"014110\0 ",
            "",
        ),
        (
            5120,
            b'0',
            "Files/hello.txt:zone",
            "0100000",
            1,
            "13773761246",
            b"013132\0 ",
            "",
        ),
        (
            6144,
            b'x',
            "Files/PaxHeaders.0/link.txt",
            "0000000",
            111,
            "00000000000",
            b"012764\0 ",
            "",
        ),
        (
            7168,
            b'1',
            "Files/link.txt",
            "0000644",
            0,
            "13773761246",
            b"014717\0 ",
            "Files/hello.txt",
        ),
        (
            7680,
            b'x',
            "Files/PaxHeaders.0/sym",
            "0000000",
            249,
            "00000000000",
            b"012017\0 ",
            "",
        ),
        (
            8704,
            b'2',
            "Files/sym",
            "0120000",
            0,
            "13773761245",
            b"012677\0 ",
            "hello.txt",
        ),
        (
            9216,
            b'x',
            "PaxHeaders.0/Hives",
            "0000000",
            139,
            "00000000000",
            b"011216\0 ",
            "",
        ),
        (
            10240,
            b'5',
            "Hives",
            "0040000",
            0,
            "13773761245",
            b"010245\0 ",
            "",
        ),
    ];
    for &(off, typeflag, name, mode, size, mtime, chksum, linkname) in table {
        let h = &ours[off..off + BLOCK];
        assert_eq!(h[156], typeflag, "{name}");
        assert_eq!(cstr(&h[0..100]), name);
        assert_eq!(cstr(&h[100..108]), mode, "{name}");
        assert_eq!(
            u64::from_str_radix(cstr(&h[124..136]), 8).unwrap(),
            size,
            "{name}"
        );
        assert_eq!(cstr(&h[136..148]), mtime, "{name}");
        assert_eq!(&h[148..156], chksum, "{name}");
        assert_eq!(cstr(&h[157..257]), linkname, "{name}");
        assert_eq!(&h[257..265], b"ustar\x0000", "{name}");
        let dev: &[u8] = if typeflag == b'x' {
            &[0; 16]
        } else {
            b"0000000\x000000000\x00"
        };
        assert_eq!(&h[329..345], dev, "{name}");
    }
    assert!(ours[10_752..].iter().all(|&b| b == 0));
}

#[test]
fn spec_worked_example_pax_records() {
    let ours = spec_archive();
    let files = format!(
        "46 LIBARCHIVE.creationtime={T0_PAX}\n25 MSWINDOWS.fileattr=16\n92 MSWINDOWS.rawsd={SD}\n\
         20 atime=1609556646\n20 ctime=1609556646\n28 mtime={T0_PAX}\n"
    );
    assert_eq!(&ours[512..512 + 231], files.as_bytes());
    assert!(ours[512 + 231..1024].iter().all(|&b| b == 0));
    let zone = "20 atime=1609556646\n20 ctime=1609556646\n";
    assert_eq!(&ours[4608..4608 + 40], zone.as_bytes());
    let sym = format!(
        "46 LIBARCHIVE.creationtime={T0_PAX}\n27 MSWINDOWS.fileattr=1056\n92 MSWINDOWS.rawsd={SD}\n\
         28 atime={T0_PAX}\n28 ctime={T0_PAX}\n28 mtime={T0_PAX}\n"
    );
    assert_eq!(&ours[8192..8192 + 249], sym.as_bytes());
}

/// Parses `xxd`-style lines (`00000600: 4669 6c65 …  text`); missing lines are zeros.
fn block_from_dump(base: usize, dump: &str) -> Vec<u8> {
    let mut blk = vec![0u8; BLOCK];
    for line in dump.lines() {
        let Some((off, rest)) = line.split_once(": ") else {
            continue;
        };
        let off = usize::from_str_radix(off.trim(), 16).unwrap() - base;
        let hex: String = rest[..39].split(' ').collect();
        blk[off..off + 16].copy_from_slice(&hex::decode(hex).unwrap());
    }
    blk
}

#[test]
fn spec_worked_example_hex_dumps() {
    let ours = spec_archive();
    let whiteout = "\
00000600: 4669 6c65 732f 2e77 682e 6465 6c65 7465  Files/.wh.delete
00000610: 642e 7478 7400 0000 0000 0000 0000 0000  d.txt...........
00000660: 0000 0000 3030 3030 3030 3000 3030 3030  ....0000000.0000
00000670: 3030 3000 3030 3030 3030 3000 3030 3030  000.0000000.0000
00000680: 3030 3030 3030 3000 3030 3030 3030 3030  0000000.00000000
00000690: 3030 3000 3031 3330 3631 0020 3000 0000  000.013061. 0...
00000700: 0075 7374 6172 0030 3000 0000 0000 0000  .ustar.00.......
00000740: 0000 0000 0000 0000 0030 3030 3030 3030  .........0000000
00000750: 0030 3030 3030 3030 0000 0000 0000 0000  .0000000........
";
    let pax = "\
00000800: 4669 6c65 732f 5061 7848 6561 6465 7273  Files/PaxHeaders
00000810: 2e30 2f68 656c 6c6f 2e74 7874 0000 0000  .0/hello.txt....
00000860: 0000 0000 3030 3030 3030 3000 3030 3030  ....0000000.0000
00000870: 3030 3000 3030 3030 3030 3000 3030 3030  000.0000000.0000
00000880: 3030 3030 3334 3700 3030 3030 3030 3030  0000347.00000000
00000890: 3030 3000 3031 3331 3333 0020 7800 0000  000.013133. x...
00000900: 0075 7374 6172 0030 3000 0000 0000 0000  .ustar.00.......
";
    assert_eq!(ours[0x600..0x800], block_from_dump(0x600, whiteout)[..]);
    assert_eq!(ours[0x800..0xA00], block_from_dump(0x800, pax)[..]);
}

/// Data written a few bytes at a time reaches the same archive (STYLE.md habit 1).
#[test]
fn short_writes_give_the_same_archive() {
    struct Trickle(Vec<u8>);
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut tw = GoTarWriter::new(Trickle(Vec::new()));
    for (h, data) in spec_entries() {
        tw.write_header(&h).unwrap();
        tw.write_all(data).unwrap();
    }
    assert_eq!(tw.bytes_written(), 11_776 - 1024);
    let out = tw.finish().unwrap().0;
    assert_eq!(out, spec_archive());
}

// ---------------------------------------------------------------------------------------------
// Reference exports written by Go
// ---------------------------------------------------------------------------------------------

/// Keys Go's writer derives from header fields; the rest are the caller's records.
const GO_KEYS: &[&str] = &[
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
        // backuptar sets only the name of a whiteout (spec §4.7).
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
/// (Debian golang-1.19 1.19.8) writing the same headers and data; the Go program mirrors this
/// function field for field.
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

// ---------------------------------------------------------------------------------------------
// §8 byte rules
// ---------------------------------------------------------------------------------------------

fn one(h: &Header, data: &[u8]) -> Vec<u8> {
    archive(&[(h.clone(), data)])
}

/// The records of the `x` header at the start of `ar`.
fn records_at_start(ar: &[u8]) -> &str {
    assert_eq!(ar[156], b'x');
    let len = usize::from_str_radix(cstr(&ar[124..136]), 8).unwrap();
    std::str::from_utf8(&ar[BLOCK..BLOCK + len]).unwrap()
}

#[test]
fn non_ascii_name_truncates_with_one_nul_and_keeps_path_record() {
    let name = format!("Files/{}/é/é/child", "a".repeat(91));
    let h = Header {
        name: name.clone(),
        mode: 0o100000,
        format: Format::Pax,
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(name.len(), 109);
    assert_eq!(records_at_start(&ar), format!("119 path={name}\n"));
    // The x entry's own name `Files/aaa…a/é/é/PaxHeaders.0/child`, ASCII-filtered, truncated to
    // 100 bytes and stripped of its trailing '/'.
    assert_eq!(cstr(&ar[..100]), format!("Files/{}", "a".repeat(91)));
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(&main[..6], b"Files/");
    assert!(main[6..97].iter().all(|&b| b == b'a'));
    assert_eq!(&main[97..100], &[0x00, 0x2f, 0x2f]);
}

#[test]
fn long_ascii_whiteout_is_split_into_ustar_prefix() {
    let prefix = format!("Files/{}/{}", "d".repeat(80), "e".repeat(40));
    let base = format!(".wh.{}", "f".repeat(30));
    let h = Header {
        name: format!("{prefix}/{base}"),
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(ar.len(), 3 * BLOCK, "one USTAR block + trailer");
    assert_eq!(cstr(&ar[..100]), base);
    assert_eq!(cstr(&ar[345..500]), prefix);
    assert_eq!(&ar[257..265], b"ustar\x0000");
    assert_eq!(&ar[136..148], b"00000000000\0");
    let mut read = tar::Archive::new(&ar[..]);
    let entry = read.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(&*entry.path_bytes(), h.name.as_bytes());
}

#[test]
fn unsplittable_whiteout_gets_pax_with_only_path() {
    // The part after the last '/' is over 100 bytes: no USTAR split exists.
    let name = format!("Files/.wh.{}", "g".repeat(150));
    let h = Header {
        name: name.clone(),
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(ar.len(), 5 * BLOCK);
    assert_eq!(records_at_start(&ar), format!("170 path={name}\n"));
    assert_eq!(
        cstr(&ar[..100]),
        format!("Files/PaxHeaders.0/.wh.{}", "g".repeat(77))
    );
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(&main[..100], &name.as_bytes()[..100]);
    assert_eq!(&main[136..148], b"00000000000\0");
    // A non-ASCII short whiteout also needs the record.
    let ar = one(
        &Header {
            name: "Files/.wh.é".into(),
            ..Header::default()
        },
        b"",
    );
    assert_eq!(records_at_start(&ar), "21 path=Files/.wh.é\n");
    assert_eq!(cstr(&ar[2 * BLOCK..2 * BLOCK + 100]), "Files/.wh.");
}

#[test]
fn pax_format_without_pax_needs_is_ustar() {
    // Go: Format PAX still allows USTAR unless a time needs PAX.
    let h = Header {
        name: "Files/plain".into(),
        mod_time: UnixTime {
            secs: 1_700_000_000,
            nanos: 0,
        },
        format: Format::Pax,
        ..Header::default()
    };
    assert_eq!(one(&h, b"").len(), 3 * BLOCK);
    let with_atime = Header {
        access_time: UnixTime { secs: 5, nanos: 0 },
        ..h
    };
    assert_eq!(records_at_start(&one(&with_atime, b"")), "11 atime=5\n");
}

#[test]
fn mtime_field_and_record_rules() {
    let main_mtime = |t: UnixTime| {
        let h = Header {
            name: "f".into(),
            mod_time: t,
            access_time: UnixTime { secs: 1, nanos: 0 },
            format: Format::Pax,
            ..Header::default()
        };
        let ar = one(&h, b"");
        let recs = records_at_start(&ar).to_owned();
        (cstr(&ar[2 * BLOCK + 136..2 * BLOCK + 148]).to_owned(), recs)
    };
    let t = |secs, nanos| UnixTime { secs, nanos };
    assert_eq!(
        main_mtime(UnixTime::GO_ZERO),
        ("00000000000".into(), "11 atime=1\n".into())
    );
    assert_eq!(
        main_mtime(t(-2, 500_000_000)),
        ("00000000000".into(), "11 atime=1\n14 mtime=-1.5\n".into())
    );
    assert_eq!(
        main_mtime(t(8_589_934_592, 0)),
        (
            "00000000000".into(),
            "11 atime=1\n20 mtime=8589934592\n".into()
        )
    );
    assert_eq!(
        main_mtime(t(8_589_934_591, 0)),
        ("77777777777".into(), "11 atime=1\n".into())
    );
    assert_eq!(
        main_mtime(t(1_609_556_645, 123_456_700)),
        (
            "13773761245".into(),
            format!("11 atime=1\n28 mtime={T0_PAX}\n")
        )
    );
}

#[test]
fn sizes_ids_and_names_spill_into_records() {
    let h = Header {
        name: "Files/d".into(),
        typeflag: b'5',
        size: 8_589_934_592,
        uid: 2_097_152,
        gid: -1,
        uname: "ü".into(),
        gname: "g".repeat(33),
        format: Format::Pax,
        ..Header::default()
    };
    let ar = one(&h, b"");
    assert_eq!(
        records_at_start(&ar),
        format!(
            "9 gid=-1\n43 gname={}\n19 size=8589934592\n15 uid=2097152\n12 uname=ü\n",
            "g".repeat(33)
        )
    );
    let main = &ar[2 * BLOCK..3 * BLOCK];
    assert_eq!(
        &main[108..124],
        b"0000000\x000000000\x00",
        "uid/gid fall back to 0"
    );
    assert_eq!(&main[124..136], b"00000000000\0", "size falls back to 0");
    assert_eq!(&main[265..297], &[0u8; 32], "non-ASCII dropped");
    assert_eq!(
        &main[297..329],
        "g".repeat(32).as_bytes(),
        "truncated, no NUL"
    );
    // A directory has no data however large its size.
    assert_eq!(ar.len(), 5 * BLOCK);
}

#[test]
fn caller_records_for_go_keys_are_dropped_unless_equal() {
    let mut h = Header {
        name: "Files/x".into(),
        size: 3,
        format: Format::Pax,
        ..Header::default()
    };
    h.pax_records.insert("size".into(), "3".into());
    h.pax_records.insert("path".into(), "elsewhere".into());
    h.pax_records.insert("GNU.sparse.major".into(), "1".into());
    h.pax_records
        .insert("MSWINDOWS.fileattr".into(), "32".into());
    assert_eq!(
        records_at_start(&one(&h, b"abc")),
        "25 MSWINDOWS.fileattr=32\n9 size=3\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn file(name: &str, size: i64) -> Header {
    Header {
        name: name.into(),
        mode: 0o100000,
        size,
        format: Format::Pax,
        ..Header::default()
    }
}

#[test]
fn write_too_long_keeps_only_the_declared_bytes() {
    let mut tw = GoTarWriter::new(Vec::new());
    tw.write_header(&file("a", 3)).unwrap();
    let err = tw.write_all(b"abcd").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "archive/tar: write too long");
    assert!(matches!(
        err.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(Error::WriteTooLong)
    ));
    // Not fatal: the archive continues and holds exactly "abc".
    tw.write_header(&file("b", 0)).unwrap();
    let ar = tw.finish().unwrap();
    assert_eq!(&ar[BLOCK..BLOCK + 4], b"abc\0");
    assert_eq!(ar.len(), 5 * BLOCK);
}

#[test]
fn header_only_types_take_no_data() {
    for typeflag in b'1'..=b'6' {
        let mut tw = GoTarWriter::new(Vec::new());
        let h = Header {
            typeflag,
            linkname: "t".into(),
            ..file("n", 10)
        };
        tw.write_header(&h).unwrap();
        assert_eq!(
            tw.write(b"x").unwrap_err().to_string(),
            "archive/tar: write too long"
        );
        assert_eq!(tw.write(b"").unwrap(), 0);
        tw.finish().unwrap();
    }
}

#[test]
fn missed_writing_is_reported_and_recoverable() {
    let mut tw = GoTarWriter::new(Vec::new());
    tw.write_header(&file("a", 5)).unwrap();
    tw.write_all(b"ab").unwrap();
    let before = tw.bytes_written();
    let err = tw.write_header(&file("b", 0)).unwrap_err();
    assert!(matches!(err, Error::MissedWriting { remaining: 3 }));
    assert_eq!(err.to_string(), "archive/tar: missed writing 3 bytes");
    assert_eq!(tw.bytes_written(), before, "nothing written");
    tw.write_all(b"cde").unwrap();
    tw.write_header(&file("b", 0)).unwrap();
    tw.finish().unwrap();

    let mut tw = GoTarWriter::new(Vec::new());
    tw.write_header(&file("a", 1)).unwrap();
    let err = tw.finish().unwrap_err();
    assert_eq!(err.to_string(), "archive/tar: missed writing 1 bytes");
}

#[test]
fn invalid_records_are_rejected_without_poisoning() {
    let cases: &[(&str, &str)] = &[("MSWINDOWS.xattr.A=B", "x"), ("", "x"), ("a\0b", "x")];
    for &(key, value) in cases {
        let mut h = file("a", 0);
        h.pax_records.insert(key.into(), value.into());
        let mut tw = GoTarWriter::new(Vec::new());
        let err = tw.write_header(&h).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidPaxRecord { key: k, .. } if k == key),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("archive/tar: cannot encode header: invalid PAX record")
        );
        assert_eq!(tw.bytes_written(), 0);
        tw.write_header(&file("ok", 0)).unwrap();
    }
    // NUL in the name reaches the path record.
    let err = GoTarWriter::new(Vec::new())
        .write_header(&file("a\0b", 0))
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidPaxRecord { key, .. } if key == "path"),
        "{err:?}"
    );
    // NUL in an ordinary value is fine.
    let mut h = file("a", 0);
    h.pax_records.insert("K".into(), "a\0b".into());
    GoTarWriter::new(Vec::new()).write_header(&h).unwrap();
}

#[test]
fn records_over_one_mib_poison_the_writer() {
    // "<len> K=<value>\n" with len = 7 digits: 1 MiB exactly is still accepted.
    let fits = 1_048_576 - "1048576 K=\n".len();
    let mut h = file("a", 0);
    h.pax_records.insert("K".into(), "v".repeat(fits));
    let mut tw = GoTarWriter::new(io::sink());
    tw.write_header(&h).unwrap();

    h.pax_records.insert("K".into(), "v".repeat(fits + 1));
    let err = tw.write_header(&h).unwrap_err();
    assert!(
        matches!(err, Error::FieldTooLong { len: 1_048_577 }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "archive/tar: header field too long");
    // As in Go, the writer is unusable afterwards.
    assert!(matches!(
        tw.write_header(&file("b", 0)),
        Err(Error::Poisoned)
    ));
    assert!(tw.write(b"x").is_err());
    assert!(matches!(tw.finish(), Err(Error::Poisoned)));
}

#[test]
fn other_header_errors() {
    let check = |h: Header, want: &str| {
        let err = GoTarWriter::new(Vec::new()).write_header(&h).unwrap_err();
        assert_eq!(err.to_string(), want, "{h:?}");
    };
    check(
        file("dir/", 0),
        "archive/tar: cannot encode header: filename may not have trailing slash",
    );
    check(
        Header {
            typeflag: b'x',
            ..file("a", 0)
        },
        "archive/tar: cannot encode header: cannot manually encode TypeXHeader, \
         TypeGNULongName, or TypeGNULongLink headers",
    );
    check(
        file("a", -1),
        "archive/tar: cannot encode header: negative size on header-only type",
    );
    check(
        Header {
            mode: 0o10000000,
            ..file("a", 0)
        },
        "archive/tar: cannot encode header: PAX cannot encode Mode=2097152",
    );
    check(
        Header {
            devminor: -1,
            ..file("a", 0)
        },
        "archive/tar: cannot encode header: PAX cannot encode Devminor=-1",
    );
    check(
        Header {
            typeflag: b'g',
            size: 1,
            ..Header::default()
        },
        "archive/tar: cannot encode header: only PAXRecords should be set for TypeXGlobalHeader",
    );
    // Links may end in '/', and a negative size is allowed (and recorded) on them.
    let h = Header {
        typeflag: b'2',
        size: -1,
        ..file("dir/", 0)
    };
    let ar = one(&h, b"");
    assert_eq!(records_at_start(&ar), "11 size=-1\n");
}

#[test]
fn io_errors_poison_the_writer() {
    struct Fails(usize);
    impl Write for Fails {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut tw = GoTarWriter::new(Fails(BLOCK + 10));
    tw.write_header(&Header {
        name: "a".into(),
        size: 100,
        ..Header::default()
    })
    .unwrap();
    assert_eq!(tw.write(&[1; 100]).unwrap(), 10);
    assert_eq!(tw.write(&[1; 90]).unwrap_err().to_string(), "disk full");
    assert!(matches!(
        tw.write_header(&file("b", 0)),
        Err(Error::Poisoned)
    ));
    assert!(tw.write(&[1]).is_err());
    assert_eq!(tw.bytes_written(), (BLOCK + 10) as u64);

    let mut tw = GoTarWriter::new(Fails(3));
    let err = tw.write_header(&file("b", 0)).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.to_string() == "disk full"),
        "{err:?}"
    );
    assert!(matches!(tw.finish(), Err(Error::Poisoned)));
}

#[test]
fn accessors_and_unterminated_archive() {
    let mut tw = GoTarWriter::new(Vec::new());
    assert_eq!(tw.bytes_written(), 0);
    tw.write_header(&file("a", 2)).unwrap();
    tw.write_all(b"hi").unwrap();
    // Format PAX with nothing needing PAX: one USTAR block.
    assert_eq!(tw.get_ref().len(), BLOCK + 2);
    tw.get_mut().reserve(1);
    tw.flush().unwrap();
    // into_inner gives up: no padding, no trailer.
    let partial = tw.into_inner();
    assert_eq!(partial.len(), BLOCK + 2);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn any_time() -> impl Strategy<Value = UnixTime> {
    prop_oneof![
        Just(UnixTime::GO_ZERO),
        (-20_000_000_000i64..20_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(secs, nanos)| UnixTime { secs, nanos }),
        (any::<i64>(), prop_oneof![Just(0u32), 0u32..1_000_000_000])
            .prop_map(|(secs, nanos)| UnixTime { secs, nanos }),
    ]
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._ -]{1,20}(/[a-zA-Z0-9._ -]{1,40}){0,6}",
        "[a-zé日本/._-]{1,300}",
        "(a/){40,60}[a-z]{1,120}",
    ]
}

fn valid_header() -> impl Strategy<Value = Header> {
    (
        any_name(),
        prop_oneof![Just(b'0'), Just(b'1'), Just(b'2'), Just(b'5')],
        "[a-zé日/._-]{0,150}",
        0i64..1500,
        (any_time(), any_time(), any_time()),
        proptest::collection::btree_map(
            "[A-FH-Z][A-Z]{0,7}\\.[a-zA-Z.]{1,12}",
            "[ -~é]{0,60}",
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(mut name, typeflag, link, size, times, records, pax)| {
            if typeflag == b'0' && name.ends_with('/') {
                name.push('x');
            }
            let data_type = typeflag == b'0';
            Header {
                name,
                linkname: if matches!(typeflag, b'1' | b'2') {
                    link
                } else {
                    String::new()
                },
                typeflag,
                mode: 0o100000,
                // The tar crate reads `size` bytes for every type, so only files have one.
                size: if data_type { size } else { 0 },
                mod_time: times.0,
                access_time: times.1,
                change_time: times.2,
                pax_records: records,
                format: if pax {
                    Format::Pax
                } else {
                    Format::Unspecified
                },
                ..Header::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_headers_read_back(h in valid_header()) {
        let data: Vec<u8> = (0..h.size).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let mut tw = GoTarWriter::new(Vec::new());
        tw.write_header(&h).unwrap();
        tw.write_all(&data).unwrap();
        let ar = tw.finish().unwrap();
        prop_assert_eq!(ar.len() % BLOCK, 0);

        let mut read = tar::Archive::new(&ar[..]);
        let mut entries = read.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        prop_assert_eq!(&*entry.path_bytes(), h.name.as_bytes());
        prop_assert_eq!(entry.header().entry_type().as_byte(), h.typeflag);
        prop_assert_eq!(entry.size(), u64::try_from(h.size).unwrap());
        let link = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
        prop_assert_eq!(link, h.linkname.as_bytes());

        let mut records = BTreeMap::new();
        if let Some(exts) = entry.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                records.insert(ext.key().unwrap().to_owned(), ext.value().unwrap().to_owned());
            }
        }
        let mtime_field = i64::try_from(entry.header().mtime().unwrap()).unwrap();
        let mut back = Vec::new();
        entry.read_to_end(&mut back).unwrap();
        prop_assert_eq!(back, data);
        prop_assert!(entries.next().is_none());

        let time = |k: &str| records.get(k).map(|v| parse_pax_time(v));
        if h.format == Format::Pax {
            let expect = |t: UnixTime| (!t.is_go_zero()).then_some(t);
            prop_assert_eq!(time("atime"), expect(h.access_time));
            prop_assert_eq!(time("ctime"), expect(h.change_time));
            let mtime = time("mtime").unwrap_or(UnixTime { secs: mtime_field, nanos: 0 });
            let want = if h.mod_time.is_go_zero() { UnixTime { secs: 0, nanos: 0 } } else { h.mod_time };
            prop_assert_eq!(mtime, want);
        } else {
            prop_assert!(!records.contains_key("atime") && !records.contains_key("ctime"));
            if h.mod_time.secs.unsigned_abs() < 1 << 40 && !h.mod_time.is_go_zero() {
                let mut rounded = h.mod_time.secs + i64::from(h.mod_time.nanos >= 500_000_000);
                if rounded == UnixTime::GO_ZERO.secs {
                    rounded = 0;
                }
                let mtime = time("mtime").unwrap_or(UnixTime { secs: mtime_field, nanos: 0 });
                prop_assert_eq!(mtime, UnixTime { secs: rounded, nanos: 0 });
            }
        }
        records.retain(|k, _| !GO_KEYS.contains(&k.as_str()));
        prop_assert_eq!(records, h.pax_records);
    }

    #[test]
    fn arbitrary_headers_never_panic(
        name in "\\PC{0,200}|[\\x00-\\x7f]{0,200}",
        linkname in "\\PC{0,120}",
        uname in "\\PC{0,40}",
        typeflag in any::<u8>(),
        nums in proptest::array::uniform6(prop_oneof![any::<i64>(), -3i64..3000]),
        times in (any_time(), any_time(), any_time()),
        raw_nanos in any::<u32>(),
        records in proptest::collection::btree_map("\\PC{0,10}", "\\PC{0,20}", 0..3),
        pax in any::<bool>(),
    ) {
        let h = Header {
            name,
            linkname,
            typeflag,
            mode: nums[0],
            uid: nums[1],
            gid: nums[2],
            uname,
            size: nums[3],
            mod_time: UnixTime { secs: times.0.secs, nanos: raw_nanos },
            access_time: times.1,
            change_time: times.2,
            devmajor: nums[4],
            devminor: nums[5],
            pax_records: records,
            format: if pax { Format::Pax } else { Format::Unspecified },
            ..Header::default()
        };
        let mut tw = GoTarWriter::new(Vec::new());
        if tw.write_header(&h).is_ok() {
            let data = vec![b'd'; usize::try_from(h.size.clamp(0, 2000)).unwrap()];
            let complete = tw.write_all(&data).is_ok() && h.size <= 2000;
            let end = tw.finish();
            if complete || matches!(h.typeflag, b'1'..=b'6' | b'g') {
                let ar = end.unwrap();
                prop_assert_eq!(ar.len() % BLOCK, 0);
            }
        }
    }
}

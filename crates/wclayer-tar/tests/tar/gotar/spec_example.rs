//! The worked example of docs/oci-tar-mapping.md §9: its digest, header table, records and hex
//! dumps.

use std::io::{self, Read, Write};

use base64::Engine as _;
use wclayer_backup::{FileTime, UnixTime};
use wclayer_tar::gotar::{Format, GoTarWriter, Header};

use super::{BLOCK, archive, cstr, sha256_hex};

const SD: &str = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";
pub(super) const T0_PAX: &str = "1609556645.1234567";

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
    // FILETIMEs of §9, converted as backuptar does (docs/backup-stream.md §8.2).
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

/// Data written a few bytes at a time reaches the same archive (the short-write habit of the codecs).
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

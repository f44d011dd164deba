//! Hand-built header blocks: typeflag NUL, the V7, USTAR, star and GNU layouts, octal and
//! base-256 numbers, checksums, and names that are not UTF-8.

use wclayer_tar::archive::Error;

use super::{
    CHKSUM, DEVMAJOR, DEVMINOR, GID, GNU_ATIME, GNU_CTIME, Hdr, LINKNAME, MODE, MTIME, Magic,
    PREFIX, SIZE, STAR_ATIME, STAR_CTIME, Tar, UID, UNAME, read, rec_bytes, t,
};

#[test]
fn typeflag_nul_becomes_file_or_directory() {
    let mut tar = Tar::default();
    tar.entry(&Hdr::ustar("dir/", 0, 0), b"");
    tar.entry(&Hdr::ustar("file", 0, 3), b"abc");
    tar.entry(&Hdr::new(Magic::V7, b"v7dir/", 0, 0), b"");
    tar.entry(&Hdr::new(Magic::V7, b"v7file", 0, 1), b"z");
    // The final name decides: a PAX path or a GNU long name.
    tar.pax(b'x', &[("path", "paxdir/")])
        .entry(&Hdr::ustar("x", 0, 0), b"");
    tar.long(b'L', b"longdir/")
        .entry(&Hdr::ustar("y", 0, 0), b"");
    tar.pax(b'x', &[("path", "notdir")])
        .entry(&Hdr::ustar("z/", 0, 0), b"");
    let out = read(&tar.end()).ok();
    let got: Vec<(&str, u8)> = out
        .iter()
        .map(|(h, _)| (h.name.as_str(), h.typeflag))
        .collect();
    assert_eq!(
        got,
        [
            ("dir/", b'5'),
            ("file", b'0'),
            ("v7dir/", b'5'),
            ("v7file", b'0'),
            ("paxdir/", b'5'),
            ("longdir/", b'5'),
            ("notdir", b'0'),
        ]
    );
    assert_eq!(out[1].1, b"abc");
    // V7 headers carry no user or group names and no device numbers.
    assert_eq!(out[3].0.uname, "");
}

#[test]
fn header_formats_and_numbers() {
    let mut tar = Tar::default();
    // ustar prefix joined with '/'.
    let mut h = Hdr::ustar("name", b'0', 0);
    h.set(PREFIX, b"some/prefix");
    tar.entry(&h, b"");
    // Octal with spaces and NULs where Go tolerates them; devices.
    let mut h = Hdr::ustar("dev", b'3', 0);
    h.set(MODE, b"  755 \0\0")
        .set(UID, &[0, 0, 0, 0, b'0', b'1', b'2', b' '])
        .set(DEVMAJOR, b"0000010\0")
        .set(DEVMINOR, b" 3      ");
    tar.entry(&h, b"");
    // Base-256 size (small) and negative base-256 mtime, uid and gid.
    let mut h = Hdr::new(Magic::Gnu, b"b256", b'0', 0);
    h.base256(SIZE, 12, 3)
        .base256(MTIME, 12, -1_000)
        .base256(UID, 8, -2)
        .base256(GID, 8, 1 << 50);
    tar.entry(&h, b"xyz");
    // GNU atime/ctime: octal, base-256 negative, or absent when the first byte is NUL.
    let mut h = Hdr::new(Magic::Gnu, b"gnutimes", b'0', 0);
    h.octal(GNU_ATIME, 12, 0).base256(GNU_CTIME, 12, -5);
    tar.entry(&h, b"");
    let mut h = Hdr::new(Magic::Gnu, b"gnu-atime-only", b'0', 0);
    h.octal(GNU_ATIME, 12, 0o77);
    tar.entry(&h, b"");
    // A GNU header whose atime/ctime area holds a pre-Go-1.8 prefix: both times dropped, the
    // area read as a prefix (Go issue 12594).
    let mut h = Hdr::new(Magic::Gnu, b"file", b'0', 0);
    h.set(PREFIX, b"old-go/prefix");
    tar.entry(&h, b"");
    // Star: a 131-byte prefix and always-present atime/ctime.
    let mut h = Hdr::new(Magic::Star, b"starfile", b'0', 0);
    h.set(PREFIX, b"starprefix")
        .octal(STAR_ATIME, 12, 5)
        .octal(STAR_CTIME, 12, 0);
    tar.entry(&h, b"");
    // V7: no magic, user names or device numbers are ignored.
    let mut h = Hdr::new(Magic::V7, b"v7", b'0', 0);
    h.set(UNAME, b"ignored").set(DEVMAJOR, b"garbage!");
    tar.entry(&h, b"");
    let out = read(&tar.end()).ok();
    let by = |n: &str| &out.iter().find(|(h, _)| h.name == n).unwrap().0;

    assert_eq!(out[0].0.name, "some/prefix/name");
    let dev = by("dev");
    assert_eq!(
        (dev.mode, dev.uid, dev.devmajor, dev.devminor),
        (0o755, 0o12, 8, 3)
    );
    let b = by("b256");
    assert_eq!(
        (b.size, b.mod_time, b.uid, b.gid),
        (3, t(-1_000, 0), -2, 1 << 50)
    );
    assert_eq!(out[2].1, b"xyz");
    let g = by("gnutimes");
    assert_eq!(
        (g.access_time, g.change_time),
        (Some(t(0, 0)), Some(t(-5, 0)))
    );
    let g = by("gnu-atime-only");
    assert_eq!((g.access_time, g.change_time), (Some(t(0o77, 0)), None));
    let old = by("old-go/prefix/file");
    assert_eq!((old.access_time, old.change_time), (None, None));
    let star = by("starprefix/starfile");
    assert_eq!(
        (star.access_time, star.change_time),
        (Some(t(5, 0)), Some(t(0, 0)))
    );
    let v7 = by("v7");
    assert_eq!((v7.uname.as_str(), v7.devmajor), ("", 0));
}

#[test]
fn invalid_numbers_and_checksums() {
    let cases: Vec<(&str, Hdr)> = vec![
        ("octal digit 8", {
            let mut h = Hdr::ustar("f", b'0', 0);
            h.set(MODE, b"0000008\0");
            h
        }),
        ("space inside a number", {
            let mut h = Hdr::ustar("f", b'0', 0);
            h.set(SIZE, b"0000 000001\0");
            h
        }),
        ("base-256 overflow", {
            let mut h = Hdr::ustar("f", b'0', 0);
            h.set(SIZE, &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
            h
        }),
        ("bad devmajor in ustar", {
            let mut h = Hdr::ustar("f", b'0', 0);
            h.set(DEVMAJOR, b"zzzzzzz\0");
            h
        }),
        ("bad star atime", {
            let mut h = Hdr::new(Magic::Star, b"f", b'0', 0);
            h.set(STAR_ATIME, b"99999999999\0");
            h
        }),
        ("negative size", {
            let mut h = Hdr::ustar("f", b'0', 0);
            h.base256(SIZE, 12, -1);
            h
        }),
        ("negative size of an x header", {
            let mut h = Hdr::ustar("f", b'x', 0);
            h.base256(SIZE, 12, -1);
            h
        }),
        ("S without GNU magic", Hdr::ustar("f", b'S', 0)),
    ];
    for (what, h) in cases {
        let mut tar = Tar::default();
        tar.file("ok", b"1").header(&h);
        let e = read(&tar.end()).err();
        assert!(
            matches!(e, Error::InvalidHeader { offset: 1024, .. }),
            "{what}: {e}"
        );
    }
    // A negative size is fine for a header-only type (Go never reads its data).
    let mut h = Hdr::ustar("d", b'5', 0);
    h.base256(SIZE, 12, -1);
    let mut tar = Tar::default();
    tar.header(&h).file("next", b"n");
    let out = read(&tar.end()).ok();
    assert_eq!((out[0].0.size, out[0].0.typeflag), (-1, b'5'));
    assert_eq!(out[1].1, b"n");

    // Every corrupted header byte breaks the checksum, at that header's offset.
    let mut tar = Tar::default();
    tar.file("a", b"aaaa")
        .pax(b'x', &[("path", "p")])
        .file("b", b"b");
    let good = tar.end();
    for header_at in [0usize, 1024, 2048] {
        // (Byte 155, the space after the checksum's NUL, is ignored by Go as well.)
        for byte in [0usize, 100, 148, 154, 156, 300, 511] {
            let mut bad = good.clone();
            bad[header_at + byte] ^= 0x40;
            let e = read(&bad).err();
            assert!(
                matches!(
                    e,
                    Error::InvalidHeader {
                        reason: "checksum mismatch",
                        ..
                    }
                ),
                "{header_at}+{byte}: {e}"
            );
            assert_eq!(e.offset(), header_at as u64);
        }
    }
    // The signed sum (historic Sun tar) is accepted too.
    let mut h = Hdr::ustar("signed\u{e9}", b'0', 0);
    h.set(UNAME, &[0xff; 8]);
    let mut blk = h.bytes();
    blk[CHKSUM..CHKSUM + 8].copy_from_slice(b"        ");
    let signed: i64 = blk.iter().map(|&c| i64::from(c as i8)).sum();
    blk[CHKSUM..CHKSUM + 8].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
    let mut tar = Tar::default();
    tar.raw(&blk);
    assert_eq!(read(&tar.end()).ok()[0].0.uname, "\u{fffd}".repeat(8));
}

#[test]
fn names_must_be_utf8() {
    let mut tar = Tar::default();
    tar.file("ok", b"");
    let at = tar.offset();
    tar.entry(&Hdr::new(Magic::Ustar, b"bad\xff", b'0', 0), b"");
    let e = read(&tar.end()).err();
    assert!(matches!(e, Error::NotUtf8 { field: "name", .. }), "{e}");
    assert_eq!((e.offset(), e.entry()), (at, Some("bad\u{fffd}")));

    let mut h = Hdr::ustar("l", b'2', 0);
    h.set(LINKNAME, b"\xc3(");
    let mut tar = Tar::default();
    tar.header(&h);
    assert!(matches!(
        read(&tar.end()).err(),
        Error::NotUtf8 {
            field: "linkname",
            ..
        }
    ));

    // A PAX path that is not UTF-8, then a PAX key.
    let mut tar = Tar::default();
    tar.pax_body(b'x', &rec_bytes(b"path", b"\xfe"))
        .file("f", b"");
    assert!(matches!(
        read(&tar.end()).err(),
        Error::NotUtf8 {
            field: "name",
            offset: 0,
            ..
        }
    ));
    let mut tar = Tar::default();
    tar.pax_body(b'x', &rec_bytes(b"MSWINDOWS.xattr.\xfe", b"QQ=="))
        .file("f", b"");
    assert!(matches!(
        read(&tar.end()).err(),
        Error::NotUtf8 {
            field: "PAX record key",
            ..
        }
    ));

    // Values are converted lossily; a GNU long name can replace a bad ustar name.
    let mut tar = Tar::default();
    tar.pax_body(b'x', &rec_bytes(b"comment", b"\xff!"))
        .long(b'L', b"good")
        .entry(&Hdr::new(Magic::Ustar, b"\xff", b'0', 0), b"");
    let out = read(&tar.end()).ok();
    assert_eq!(out[0].0.name, "good");
    assert_eq!(out[0].0.record("comment"), Some("\u{fffd}!"));
}

//! PAX `x` and global `g` headers, and GNU long names, in hand-built archives: how their
//! records merge, their limits, and what makes them invalid.

use wclayer_tar::archive::{ArchiveOptions, Error};

use super::{GNAME, Hdr, Tar, UID, UNAME, read, read_from, read_with, rec, t};

#[test]
fn global_headers_apply_to_later_entries() {
    let mut tar = Tar::default();
    tar.pax(
        b'g',
        &[
            ("MSWINDOWS.fileattr", "32"),
            ("comment", "from global"),
            ("mtime", "100.5"),
        ],
    );
    let a_offset = tar.offset();
    tar.pax(b'x', &[("MSWINDOWS.fileattr", "16"), ("mtime", "")])
        .file("a", b"A");
    tar.file("b", b"B");
    // An empty global value deletes the key (POSIX).
    tar.pax(b'g', &[("comment", ""), ("MSWINDOWS.rawsd", "QQ==")]);
    tar.file("c", b"C");
    // A global header ends what was pending before it, as Go returning it as an entry does.
    tar.pax(b'x', &[("path", "dropped")])
        .long(b'L', b"dropped too");
    tar.pax(b'g', &[]);
    tar.file("d", b"D");
    let out = read(&tar.end()).ok();

    let names: Vec<&str> = out.iter().map(|(h, _)| h.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"], "no global header is an entry");
    let (a, b, c) = (&out[0].0, &out[1].0, &out[2].0);
    assert_eq!(a.record("MSWINDOWS.fileattr"), Some("16"), "local wins");
    assert_eq!(a.record("comment"), Some("from global"));
    // A local empty value keeps the header's value (Go) and overrides the global record.
    assert_eq!(
        (a.mod_time, a.record("mtime")),
        (t(1_600_000_000, 0), Some(""))
    );
    assert_eq!(a.header_offset, a_offset);
    assert_eq!(b.record("MSWINDOWS.fileattr"), Some("32"));
    assert_eq!(b.mod_time, t(100, 500_000_000));
    assert_eq!(c.record("comment"), None);
    assert_eq!(c.record("MSWINDOWS.rawsd"), Some("QQ=="));
    assert_eq!(c.record("MSWINDOWS.fileattr"), Some("32"));
    assert_eq!(out[3].1, b"D");
}

#[test]
fn global_records_are_bounded() {
    let mut tar = Tar::default();
    for i in 0..4 {
        tar.pax(b'g', &[(&format!("key{i}"), &"v".repeat(300))]);
    }
    tar.file("a", b"");
    let bytes = tar.end();
    let mut o = ArchiveOptions::default();
    o.max_global_records = 1000;
    let e = read_with(&bytes, o).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                what: "global PAX records",
                option: "max_global_records",
                size: 1216,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.offset(), 3 * 1024);
    assert_eq!(read(&bytes).ok().len(), 1);
    // Deleting keys makes room again.
    let mut tar = Tar::default();
    for i in 0..4 {
        tar.pax(b'g', &[(&format!("key{i}"), &"v".repeat(300))]);
        tar.pax(b'g', &[(&format!("key{i}"), "")]);
    }
    tar.file("a", b"");
    let mut o = ArchiveOptions::default();
    o.max_global_records = 1000;
    let out = read_with(&tar.end(), o).ok();
    assert!(out[0].0.pax_records.is_empty());
}

#[test]
fn pax_merge_rules() {
    let mut tar = Tar::default();
    let mut h = Hdr::ustar("header-name", b'0', 5);
    h.set(UNAME, b"huser")
        .set(GNAME, b"hgroup")
        .octal(UID, 8, 7);
    // Empty values keep the header's values; others override.
    tar.pax(
        b'x',
        &[
            ("path", ""),
            ("uname", ""),
            ("gname", "pgroup"),
            ("uid", ""),
            ("gid", "-3"),
            ("linkpath", "ignored for a file but merged"),
        ],
    )
    .entry(&h, b"12345");
    // The last of two x headers wins, whole.
    tar.pax(b'x', &[("path", "first"), ("MSWINDOWS.first", "1")])
        .pax(b'x', &[("MSWINDOWS.second", "2")])
        .file("second", b"");
    // A GNU long name beats a PAX path, wherever it comes.
    tar.long(b'L', b"gnu-name")
        .pax(b'x', &[("path", "pax-name"), ("linkpath", "pax-link")])
        .long(b'K', b"gnu-link")
        .entry(&Hdr::ustar("n", b'2', 0), b"");
    // An empty GNU long name is ignored.
    tar.long(b'L', b"").file("kept", b"");
    // PAX size changes how much data follows.
    tar.pax(b'x', &[("size", "700")])
        .entry(&Hdr::ustar("sized", b'0', 0), &[9u8; 700]);
    tar.file("after", b"!");
    let out = read(&tar.end()).ok();

    let h = &out[0].0;
    assert_eq!(h.name, "header-name");
    assert_eq!((h.uname.as_str(), h.gname.as_str()), ("huser", "pgroup"));
    assert_eq!((h.uid, h.gid), (7, -3));
    assert_eq!(h.linkname, "ignored for a file but merged");
    assert_eq!(out[0].1, b"12345");
    assert_eq!(out[1].0.name, "second");
    assert_eq!(out[1].0.record("MSWINDOWS.first"), None);
    assert_eq!(out[1].0.record("MSWINDOWS.second"), Some("2"));
    assert_eq!(
        (out[2].0.name.as_str(), out[2].0.linkname.as_str()),
        ("gnu-name", "gnu-link")
    );
    assert_eq!(out[2].0.record("path"), Some("pax-name"));
    assert_eq!(out[3].0.name, "kept");
    assert_eq!((out[4].0.size, out[4].1.len()), (700, 700));
    assert_eq!(out[5].1, b"!");
}

#[test]
fn bad_pax_values_are_invalid_headers() {
    for (key, value) in [
        ("size", "-1"),
        ("size", "1x"),
        ("uid", "9223372036854775808"),
        ("gid", "0x1"),
        ("mtime", "1.5e3"),
        ("atime", "."),
        ("ctime", "1.2.3"),
        ("mtime", " 1"),
    ] {
        let mut tar = Tar::default();
        tar.pax(b'x', &[(key, value)]);
        let main = tar.offset();
        tar.file("f", b"");
        let e = read(&tar.end()).err();
        match &e {
            // A negative PAX size is caught by Go's handleRegularFile instead.
            Error::InvalidHeader { offset, .. } if value == "-1" => assert_eq!(*offset, main),
            Error::InvalidPaxValue {
                key: k,
                value: v,
                offset,
                entry,
            } => {
                assert_eq!((k.as_str(), v.as_str(), *offset), (key, value, main));
                assert_eq!(entry.as_deref(), Some("f"));
            }
            other => panic!("{key}={value}: {other}"),
        }
    }
}

#[test]
fn bad_pax_records_name_their_offset() {
    for (body, at) in [
        (b"5 k=v\n".to_vec(), 0),
        ([rec("a", "b"), b"9 k=v\n".to_vec()].concat(), 6),
        ([rec("a", "b"), b"6 kv\n\n".to_vec()].concat(), 6),
        (b"x k=v\n".to_vec(), 0),
        (b"6 k=v".to_vec(), 0),
        (b"6 =v\n\n".to_vec(), 0),
        (rec("path", "a\0b"), 0),
        (rec("k\0", "v"), 0),
        (b"-6 k=v\n".to_vec(), 0),
        ([rec("GNU.sparse.numbytes", "1")].concat(), 0),
    ] {
        let mut tar = Tar::default();
        tar.pax_body(b'x', &body).file("f", b"");
        let e = read(&tar.end()).err();
        assert!(matches!(e, Error::InvalidPaxRecord { .. }), "{body:?}: {e}");
        assert_eq!(e.offset(), 512 + at, "{body:?}");
    }
    // The same errors in a global header.
    let mut tar = Tar::default();
    tar.pax_body(b'g', b"6 k=v").file("f", b"");
    assert!(matches!(
        read(&tar.end()).err(),
        Error::InvalidPaxRecord { .. }
    ));
}

#[test]
fn special_entries_over_their_limit() {
    let mut o = ArchiveOptions::default();
    o.max_pax_size = 100;
    o.max_long_name = 50;
    let mut tar = Tar::default();
    let body = rec("comment", &"c".repeat(100));
    tar.pax_body(b'x', &body).file("f", b"");
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                option: "max_pax_size",
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(e, Error::TooLong { size, offset: 0, .. } if size == body.len() as u64));
    let mut tar = Tar::default();
    tar.long(b'L', "n".repeat(50).as_bytes()).file("f", b"");
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                option: "max_long_name",
                size: 51,
                ..
            }
        ),
        "{e}"
    );
    let mut tar = Tar::default();
    tar.long(b'K', "n".repeat(49).as_bytes()).file("f", b"");
    assert_eq!(
        read_with(&tar.end(), o.clone()).ok()[0].0.linkname.len(),
        49
    );

    // A header claiming a huge special entry is refused before anything is read or held.
    let mut tar = Tar::default();
    tar.header(&Hdr::ustar("x", b'x', 0o77777777777));
    let e = read(&tar.end()).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                size: 0o77777777777,
                limit: 1_048_576,
                ..
            }
        ),
        "{e}"
    );
    // Go's limit is inclusive: exactly 1 MiB of records is accepted.
    let value = "v".repeat((1 << 20) - 17);
    let body = rec("comment", &value);
    assert_eq!(body.len(), 1 << 20);
    let mut tar = Tar::default();
    tar.pax_body(b'x', &body).file("f", b"");
    assert_eq!(
        read_from(&tar.end()[..], ArchiveOptions::default())
            .ok()
            .len(),
        1
    );
}

#[test]
fn gnu_long_names_stop_at_nul() {
    let mut tar = Tar::default();
    tar.long(b'L', b"name\0garbage")
        .long(b'K', b"link")
        .entry(&Hdr::ustar("h", b'1', 0), b"");
    let out = read(&tar.end()).ok();
    assert_eq!(
        (out[0].0.name.as_str(), out[0].0.linkname.as_str()),
        ("name", "link")
    );
}

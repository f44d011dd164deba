//! Errors: too much or too little data, invalid headers and records, I/O failures, and what
//! each leaves of the writer.

use std::io::{self, Write};

use wclayer_tar::gotar::{Error, Format, GoTarWriter, Header};

use super::{BLOCK, one, records_at_start};

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

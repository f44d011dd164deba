//! End of archive, truncation, I/O errors, and the reader's offset.

use std::io::{self, Read};

use wclayer_tar::archive::{ArchiveOptions, ArchiveReader, Error};

use super::sparse::old_gnu_sparse;
use super::{Hdr, Magic, SIZE, Tar, data_error, headers_only, read, read_from};

#[test]
fn end_of_archive_as_go_sees_it() {
    let mut tar = Tar::default();
    tar.file("a", b"abc");
    let body = tar.bytes.clone();
    // No trailer, one zero block, two, and garbage after two.
    for (tail, what) in [
        (&[][..], "clean EOF"),
        (&[0; 512][..], "one zero block"),
        (&[0; 1024][..], "two zero blocks"),
    ] {
        let out = read(&[&body[..], tail].concat()).ok();
        assert_eq!(out.len(), 1, "{what}");
    }
    let mut after = body.clone();
    after.extend_from_slice(&[0; 1024]);
    after.extend_from_slice(b"garbage that nobody reads");
    assert_eq!(read(&after).ok().len(), 1);
    // A zero block followed by a non-zero block.
    let mut bad = body.clone();
    bad.extend_from_slice(&[0; 512]);
    bad.extend_from_slice(&Hdr::ustar("b", b'0', 0).bytes());
    let e = read(&bad).err();
    assert!(
        matches!(e, Error::InvalidHeader { offset: 1536, .. }),
        "{e}"
    );
    // EOF inside the padding after the data ends the archive (Go's tryReadFull).
    let out = read(&body[..512 + 100]).ok();
    assert_eq!(out[0].1, b"abc");
    // The input ending right after a PAX or GNU long-name header: Go ends there too.
    let mut tar = Tar::default();
    tar.file("a", b"").pax(b'x', &[("path", "lost")]);
    assert_eq!(read(&tar.bytes).names(), ["a"]);
    let mut tar = Tar::default();
    tar.file("a", b"").long(b'L', b"lost");
    assert_eq!(read(&tar.bytes).names(), ["a"]);
    // An empty input is an empty archive.
    assert!(read(b"").ok().is_empty());
}

/// Finding: after an entry whose PAX `size` is smaller than its data, the reader meets data
/// where the next header should be; the error named only that data (the "name" field of a
/// block that is no header). It names the entry read before the block too.
#[test]
fn a_block_that_is_no_header_is_reported_after_the_entry_before_it() {
    let mut tar = Tar::default();
    tar.pax(b'x', &[("size", "3")])
        .entry(&Hdr::ustar("Files/liar.txt", b'0', 700), &[b'd'; 700]);
    let e = read(&tar.end()).err();
    assert!(
        matches!(
            &e,
            Error::InvalidHeader {
                offset: 2048,
                reason: "checksum mismatch",
                after: Some(a),
                ..
            } if a == "Files/liar.txt"
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("after entry \"Files/liar.txt\""),
        "{e}"
    );
    // The first block of an archive has nothing before it.
    let mut bad = Hdr::ustar("a", b'0', 0).bytes();
    bad[0] ^= 1;
    let e = read(&bad).err();
    assert!(
        matches!(e, Error::InvalidHeader { after: None, .. }),
        "{e:?}"
    );
}

/// Where each truncation point of a layout falls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cut {
    /// Before a header starts: the archive ends with the entries before it.
    Clean(usize),
    /// Inside a header block or the data: unexpected EOF, after this many entries.
    Eof(usize),
}

#[test]
fn truncation_everywhere() {
    let mut tar = Tar::default();
    let mut cuts = Vec::new(); // (block-aligned offset, what a cut there gives)
    cuts.push((tar.offset(), Cut::Clean(0)));
    tar.file("one", &[1; 700]); // data 512..1212, padding to 1536
    cuts.push((1024, Cut::Eof(0)));
    cuts.push((tar.offset(), Cut::Clean(1)));
    tar.pax(b'x', &[("path", "two"), ("MSWINDOWS.fileattr", "32")]);
    cuts.push((1536 + 512, Cut::Eof(1))); // PAX data missing
    cuts.push((tar.offset(), Cut::Clean(1))); // after the PAX data: Go ends quietly
    tar.file("x", b"22");
    cuts.push((tar.offset(), Cut::Clean(2)));
    tar.long(b'L', "three/".repeat(30).as_bytes());
    cuts.push((tar.offset(), Cut::Clean(2)));
    tar.entry(&Hdr::ustar("t", b'5', 0), b"");
    cuts.push((tar.offset(), Cut::Clean(3)));
    let frags: Vec<(u64, Vec<u8>)> = (0..6).map(|i| (i * 600, vec![i as u8 + 1; 300])).collect();
    let sparse_at = tar.offset();
    let sparse = old_gnu_sparse("four", 4000, &frags);
    // old_gnu_sparse ends with "after" and the trailer; keep the sparse entry and "after".
    let sparse = &sparse[..sparse.len() - 1024];
    tar.raw(sparse);
    cuts.push((sparse_at + 512, Cut::Eof(3))); // extension block missing
    cuts.push((sparse_at + 1024, Cut::Eof(3))); // data missing
    cuts.push((sparse_at + 1024 + 1536, Cut::Eof(3))); // inside the 1800 stored bytes
    cuts.push((tar.offset() - 1024, Cut::Clean(4))); // before "after"
    cuts.push((tar.offset(), Cut::Clean(5)));
    let full_len = tar.offset();
    let bytes = tar.end();
    let full = read(&bytes).ok();
    assert_eq!(full.len(), 5);

    // At the chosen block boundaries: exactly what Go gives.
    for (at, expect) in cuts {
        let out = read(&bytes[..at as usize]);
        let got = match &out.error {
            None => Cut::Clean(out.entries.len()),
            Some(Error::UnexpectedEof { .. }) => Cut::Eof(
                out.entries
                    .iter()
                    .zip(&full)
                    .filter(|(a, b)| a == b)
                    .count(),
            ),
            Some(e) => panic!("cut at {at}: {e}"),
        };
        assert_eq!(got, expect, "cut at {at}");
    }
    // At every byte: a prefix of the entries, then a clean end or an unexpected EOF whose
    // offset is where the input stopped.
    for at in 0..full_len as usize {
        let out = read_from(&bytes[..at], ArchiveOptions::default());
        for ((a, da), (b, db)) in out.entries.iter().zip(&full) {
            assert_eq!(a, b, "cut at {at}");
            assert!(db.starts_with(da), "cut at {at}");
        }
        match &out.error {
            None => assert!(
                out.entries.iter().zip(&full).all(|(a, b)| a == b),
                "cut at {at}"
            ),
            Some(e @ Error::UnexpectedEof { .. }) => assert_eq!(e.offset(), at as u64),
            Some(e) => panic!("cut at {at}: {e}"),
        }
    }
}

#[test]
fn huge_sizes() {
    // Sizes far beyond the input: the header is returned, the data is short.
    for h in [Hdr::ustar("octal", b'0', 0o77777777777), {
        let mut h = Hdr::new(Magic::Gnu, b"b256", b'0', 0);
        h.base256(SIZE, 12, i64::MAX);
        h
    }] {
        let mut tar = Tar::default();
        tar.header(&h).raw(b"some data");
        let out = read(&tar.bytes);
        assert_eq!(out.entries[0].1, b"some data");
        let e = out.err();
        assert!(matches!(e, Error::UnexpectedEof { offset: 521, .. }), "{e}");
    }
    // PAX size at the limit of an int64, and one past it.
    let mut tar = Tar::default();
    tar.pax(b'x', &[("size", "9223372036854775807")])
        .file("f", b"");
    let (headers, e) = headers_only(&tar.end(), ArchiveOptions::default());
    assert_eq!(headers[0].size, i64::MAX);
    assert!(matches!(e, Some(Error::UnexpectedEof { .. })));
    let mut tar = Tar::default();
    tar.pax(b'x', &[("size", "9223372036854775808")])
        .file("f", b"");
    assert!(matches!(
        read(&tar.end()).err(),
        Error::InvalidPaxValue { .. }
    ));
    // A huge size on a header-only type needs no data.
    let mut tar = Tar::default();
    tar.entry(&Hdr::ustar("d", b'5', 0o77777777777), b"")
        .file("f", b"ok");
    let out = read(&tar.end()).ok();
    assert_eq!(
        (out[0].0.size, out[1].1.as_slice()),
        (0o77777777777, &b"ok"[..])
    );
}

/// A reader that fails with a real error after `ok` bytes.
struct Failing<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn io_errors_name_the_entry_and_offset() {
    let mut tar = Tar::default();
    tar.file("first", &[5; 2000]);
    let bytes = tar.end();
    let mut ar = ArchiveReader::new(Failing {
        data: &bytes,
        ok: 1000,
    });
    let h = ar.next_entry().unwrap().unwrap();
    assert_eq!(h.name, "first");
    let mut data = Vec::new();
    let e = ar.read_to_end(&mut data).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Other);
    let e = data_error(e);
    assert!(matches!(e, Error::Io { offset: 1000, .. }), "{e}");
    assert_eq!(e.entry(), Some("first"));
    assert!(
        std::error::Error::source(&e)
            .unwrap()
            .to_string()
            .contains("disk on fire")
    );
    assert_eq!(ar.offset(), 1000);
    assert!(ar.next_entry().is_err(), "sticky");
    assert_eq!(ar.into_inner().ok, 0);

    // A short entry reads as UnexpectedEof through io::Read.
    let mut ar = ArchiveReader::new(&bytes[..600]);
    ar.next_entry().unwrap();
    let e = ar.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn offset_tracks_consumption_and_data_is_optional() {
    let mut tar = Tar::default();
    tar.file("a", &[1; 1000]).file("b", b"bb");
    let bytes = tar.end();
    let mut ar = ArchiveReader::new(&bytes[..]);
    assert_eq!(ar.read(&mut [0; 8]).unwrap(), 0, "no entry yet");
    let a = ar.next_entry().unwrap().unwrap();
    assert_eq!((a.header_offset, ar.offset()), (0, 512));
    let mut buf = [0u8; 10];
    ar.read_exact(&mut buf).unwrap();
    assert_eq!(ar.offset(), 522);
    let b = ar.next_entry().unwrap().unwrap();
    assert_eq!((b.header_offset, ar.offset()), (1536, 2048));
    let mut s = String::new();
    ar.read_to_string(&mut s).unwrap();
    assert_eq!(s, "bb");
    assert!(ar.next_entry().unwrap().is_none());
    assert_eq!(ar.offset(), 2560 + 1024);
}

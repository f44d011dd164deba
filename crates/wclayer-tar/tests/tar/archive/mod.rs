//! `wclayer_tar::archive`: the streaming tar reader with Go `archive/tar` semantics
//! (docs/oci-tar-mapping.md §6.5, §3).
//!
//! Every archive is read three ways and the results must agree: from a byte slice, behind
//! `ShortReader` (tiny reads and `Interrupted` errors), and skipping the data instead of
//! reading it. The reference vectors and archives written by the `tar` crate are
//! cross-checked field by field against the `tar` crate's reader; hand-built blocks cover
//! what no writer at hand produces (global headers, typeflag NUL, PAX and old GNU sparse
//! files, star headers, negative base-256 numbers, broken input).

// Test arithmetic on small, known values: casts cannot truncate here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod blocks;
mod end;
mod pax_gnu;
mod props;
mod sparse;
mod vectors;

use std::io::{self, Read};

use wclayer_backup::UnixTime;
use wclayer_tar::archive::{ArchiveOptions, ArchiveReader, Error, TarHeader};
use wclayer_testtools::io::ShortReader;

// ---------------------------------------------------------------------------------------
// Reading helpers
// ---------------------------------------------------------------------------------------

/// The archive error inside an `io::Error` returned by `ArchiveReader::read`.
fn data_error(e: io::Error) -> Error {
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(err)) => *err,
        other => panic!("read failed without an archive error ({kind:?}): {other:?}"),
    }
}

/// What reading an archive gave: the entries with their data, then the error if any.
#[derive(Debug)]
struct Outcome {
    entries: Vec<(TarHeader, Vec<u8>)>,
    error: Option<Error>,
}

impl Outcome {
    fn ok(self) -> Vec<(TarHeader, Vec<u8>)> {
        if let Some(e) = self.error {
            panic!("unexpected error: {e}");
        }
        self.entries
    }

    fn err(self) -> Error {
        self.error.expect("the archive should fail")
    }

    fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|(h, _)| h.name.as_str()).collect()
    }
}

/// Reads every entry and all its data from `r`.
fn read_from<R: Read>(r: R, options: ArchiveOptions) -> Outcome {
    let mut ar = ArchiveReader::with_options(r, options);
    let mut entries = Vec::new();
    loop {
        match ar.next_entry() {
            Ok(None) => {
                // The end is sticky, and reading after it gives nothing.
                assert!(ar.next_entry().unwrap().is_none());
                assert_eq!(ar.read(&mut [0u8; 16]).unwrap(), 0);
                return Outcome {
                    entries,
                    error: None,
                };
            }
            Ok(Some(h)) => {
                let mut data = Vec::new();
                let r = ar.read_to_end(&mut data);
                entries.push((h, data));
                if let Err(e) = r {
                    let e = data_error(e);
                    // Errors are sticky, as Go's are.
                    assert_eq!(ar.next_entry().unwrap_err().to_string(), e.to_string());
                    return Outcome {
                        entries,
                        error: Some(e),
                    };
                }
            }
            Err(e) => {
                assert_eq!(ar.next_entry().unwrap_err().to_string(), e.to_string());
                let again = data_error(ar.read(&mut [0u8; 1]).unwrap_err());
                assert_eq!(again.to_string(), e.to_string());
                return Outcome {
                    entries,
                    error: Some(e),
                };
            }
        }
    }
}

/// Reads only the headers, letting `next_entry` skip all data.
fn headers_only(bytes: &[u8], options: ArchiveOptions) -> (Vec<TarHeader>, Option<Error>) {
    let mut ar = ArchiveReader::with_options(bytes, options);
    let mut headers = Vec::new();
    loop {
        match ar.next_entry() {
            Ok(Some(h)) => headers.push(h),
            Ok(None) => return (headers, None),
            Err(e) => return (headers, Some(e)),
        }
    }
}

fn same_outcome(a: &Outcome, b: &Outcome, what: &str) {
    assert_eq!(a.entries, b.entries, "{what}: entries differ");
    assert_eq!(
        a.error.as_ref().map(|e| (e.to_string(), e.offset())),
        b.error.as_ref().map(|e| (e.to_string(), e.offset())),
        "{what}: errors differ"
    );
}

/// Reads `bytes` from a slice and behind short readers, checks that all agree and that
/// skipping the data gives the same headers, and returns the outcome.
fn read_with(bytes: &[u8], options: ArchiveOptions) -> Outcome {
    let plain = read_from(bytes, options.clone());
    for seed in [1, 7, 42] {
        let short = read_from(ShortReader::new(bytes, seed), options.clone());
        same_outcome(&plain, &short, &format!("short reads, seed {seed}"));
    }
    let (headers, error) = headers_only(bytes, options);
    let read: Vec<&TarHeader> = plain.entries.iter().map(|(h, _)| h).collect();
    let skipped: Vec<&TarHeader> = headers.iter().collect();
    match (&plain.error, &error) {
        // Data errors (short or inconsistent sparse data) show only when the data is read;
        // skipping then fails later or not at all, as in Go.
        (Some(Error::SparseMissingData { .. } | Error::SparseUnreferencedData { .. }), _) => {
            assert!(skipped.starts_with(&read));
        }
        (Some(Error::UnexpectedEof { .. }), _) => {
            assert!(skipped.starts_with(&read[..read.len().saturating_sub(1)]));
        }
        _ => {
            assert_eq!(read, skipped, "skipping data changed the headers");
            assert_eq!(
                plain.error.as_ref().map(ToString::to_string),
                error.as_ref().map(ToString::to_string)
            );
        }
    }
    plain
}

fn read(bytes: &[u8]) -> Outcome {
    read_with(bytes, ArchiveOptions::default())
}

fn t(secs: i64, nanos: u32) -> UnixTime {
    UnixTime { secs, nanos }
}

// ---------------------------------------------------------------------------------------
// Hand-built blocks
// ---------------------------------------------------------------------------------------

const NAME: usize = 0;
const MODE: usize = 100;
const UID: usize = 108;
const GID: usize = 116;
const SIZE: usize = 124;
const MTIME: usize = 136;
const CHKSUM: usize = 148;
const TYPEFLAG: usize = 156;
const LINKNAME: usize = 157;
const MAGIC: usize = 257;
const UNAME: usize = 265;
const GNAME: usize = 297;
const DEVMAJOR: usize = 329;
const DEVMINOR: usize = 337;
const PREFIX: usize = 345;
const GNU_ATIME: usize = 345;
const GNU_CTIME: usize = 357;
const GNU_SPARSE: usize = 386;
const GNU_ISEXTENDED: usize = 482;
const GNU_REALSIZE: usize = 483;
const STAR_ATIME: usize = 476;
const STAR_CTIME: usize = 488;
const STAR_TRAILER: usize = 508;

#[derive(Clone, Copy)]
enum Magic {
    Ustar,
    Gnu,
    Star,
    V7,
}

/// A header block under construction; `bytes` fills in the checksum.
#[derive(Clone)]
struct Hdr([u8; 512]);

impl Hdr {
    fn new(magic: Magic, name: &[u8], typeflag: u8, size: u64) -> Hdr {
        let mut h = Hdr([0; 512]);
        h.set(NAME, name);
        h.octal(MODE, 8, 0o644);
        h.octal(UID, 8, 0);
        h.octal(GID, 8, 0);
        h.octal(SIZE, 12, size);
        h.octal(MTIME, 12, 1_600_000_000);
        h.0[TYPEFLAG] = typeflag;
        match magic {
            Magic::Ustar => h.set(MAGIC, b"ustar\x0000"),
            Magic::Gnu => h.set(MAGIC, b"ustar  \0"),
            Magic::Star => h.set(MAGIC, b"ustar\x0000").set(STAR_TRAILER, b"tar\0"),
            Magic::V7 => &mut h,
        };
        h
    }

    fn ustar(name: &str, typeflag: u8, size: u64) -> Hdr {
        Hdr::new(Magic::Ustar, name.as_bytes(), typeflag, size)
    }

    fn set(&mut self, at: usize, bytes: &[u8]) -> &mut Hdr {
        self.0[at..at + bytes.len()].copy_from_slice(bytes);
        self
    }

    /// `len - 1` octal digits and a NUL, as Go writes them.
    fn octal(&mut self, at: usize, len: usize, v: u64) -> &mut Hdr {
        let s = format!("{v:0width$o}\0", width = len - 1);
        assert_eq!(s.len(), len, "{v} does not fit");
        self.set(at, s.as_bytes())
    }

    /// GNU base-256: two's complement, top bit of the first byte set.
    fn base256(&mut self, at: usize, len: usize, v: i64) -> &mut Hdr {
        let fill = if v < 0 { 0xff } else { 0 };
        let mut field = vec![fill; len];
        field[len - 8..].copy_from_slice(&v.to_be_bytes());
        field[0] |= 0x80;
        self.set(at, &field)
    }

    /// The block with a correct checksum.
    fn bytes(&self) -> [u8; 512] {
        let mut b = self.0;
        b[CHKSUM..CHKSUM + 8].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
        b[CHKSUM..CHKSUM + 8].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }
}

/// One PAX record with its length prefix (the length counts itself).
fn rec(k: &str, v: &str) -> Vec<u8> {
    rec_bytes(k.as_bytes(), v.as_bytes())
}

fn rec_bytes(k: &[u8], v: &[u8]) -> Vec<u8> {
    let n = k.len() + v.len() + 3;
    let mut len = n + n.to_string().len();
    if len.to_string().len() != n.to_string().len() {
        len = n + len.to_string().len();
    }
    let mut out = format!("{len} ").into_bytes();
    out.extend_from_slice(k);
    out.push(b'=');
    out.extend_from_slice(v);
    out.push(b'\n');
    assert_eq!(out.len(), len);
    out
}

/// An archive under construction, remembering where each header starts.
#[derive(Default)]
struct Tar {
    bytes: Vec<u8>,
}

impl Tar {
    fn offset(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn header(&mut self, h: &Hdr) -> &mut Tar {
        self.bytes.extend_from_slice(&h.bytes());
        self
    }

    fn raw(&mut self, b: &[u8]) -> &mut Tar {
        self.bytes.extend_from_slice(b);
        self
    }

    /// Data padded to a block boundary.
    fn data(&mut self, d: &[u8]) -> &mut Tar {
        self.bytes.extend_from_slice(d);
        let pad = (512 - d.len() % 512) % 512;
        self.bytes.extend(std::iter::repeat_n(0, pad));
        self
    }

    fn entry(&mut self, h: &Hdr, d: &[u8]) -> &mut Tar {
        self.header(h).data(d)
    }

    fn file(&mut self, name: &str, d: &[u8]) -> &mut Tar {
        self.entry(&Hdr::ustar(name, b'0', d.len() as u64), d)
    }

    /// A PAX `x` or `g` header with the given record body.
    fn pax_body(&mut self, typeflag: u8, body: &[u8]) -> &mut Tar {
        let h = Hdr::ustar("PaxHeaders.0/x", typeflag, body.len() as u64);
        self.entry(&h, body)
    }

    fn pax(&mut self, typeflag: u8, records: &[(&str, &str)]) -> &mut Tar {
        let body: Vec<u8> = records.iter().flat_map(|(k, v)| rec(k, v)).collect();
        self.pax_body(typeflag, &body)
    }

    /// A GNU `L` or `K` entry holding `name` and the NUL GNU tar appends.
    fn long(&mut self, typeflag: u8, name: &[u8]) -> &mut Tar {
        let mut body = name.to_vec();
        body.push(0);
        let h = Hdr::new(Magic::Gnu, b"././@LongLink", typeflag, body.len() as u64);
        self.entry(&h, &body)
    }

    fn end(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.bytes);
        b.extend_from_slice(&[0; 1024]);
        b
    }
}

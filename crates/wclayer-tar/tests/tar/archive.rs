//! `wclayer_tar::archive`: the streaming tar reader with Go `archive/tar` semantics
//! (oci-tar-mapping.md §6.5, §3).
//!
//! Every archive is read three ways and the results must agree: from a byte slice, behind
//! `ShortReader` (tiny reads and `Interrupted` errors), and skipping the data instead of
//! reading it. The reference vectors and archives written by the `tar` crate are
//! cross-checked field by field against the `tar` crate's reader; hand-built blocks cover
//! what no writer at hand produces (global headers, typeflag NUL, PAX and old GNU sparse
//! files, star headers, negative base-256 numbers, broken input).

// Test arithmetic on small, known values: casts cannot truncate here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::collections::BTreeMap;
use std::io::{self, Read};

use proptest::prelude::*;
use sha2::{Digest, Sha256};
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

// ---------------------------------------------------------------------------------------
// The reference vectors, cross-checked against the `tar` crate
// ---------------------------------------------------------------------------------------

const VECTORS: [(&str, &[u8], &str); 5] = [
    (
        "v1_base_names_times",
        include_bytes!("../data/v1_base_names_times.tar"),
        "10c900d3db7432bfd4abbcb35350c99891723a6915e8c8f31ed47750d30ade39",
    ),
    (
        "v2_streams_links",
        include_bytes!("../data/v2_streams_links.tar"),
        "c52519dd4aa28f8c4478ca66fedebaf2e7999ed06a737f47eba912948f75ff69",
    ),
    (
        "v3_delta",
        include_bytes!("../data/v3_delta.tar"),
        "642cb2da26f983b12ff8b8667186a0d9f2d006e3f82682cd2e3e9cf421da5c18",
    ),
    (
        "v4_plain_ustar",
        include_bytes!("../data/v4_plain_ustar.tar"),
        "938dac23b6ed5e28ab0d4f7ebdca974e721d7bb8b5bbea9a8a3a7ee90e1bd2ef",
    ),
    (
        "v5_model_details",
        include_bytes!("../data/v5_model_details.tar"),
        "819edbe91305d14755641f37305b634b821545085319b8f4233cc772167598d5",
    ),
];

/// A PAX time as exact decimal arithmetic sees it (an independent formulation of spec §3:
/// the value is `integer ± fraction` seconds, floored into seconds and nanoseconds).
fn expected_pax_time(s: &str) -> UnixTime {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i128 = int.parse().unwrap();
    let frac_nanos: i128 = format!("{:0<9.9}", frac).parse().unwrap();
    let total = if int.starts_with('-') {
        secs * 1_000_000_000 - frac_nanos
    } else {
        secs * 1_000_000_000 + frac_nanos
    };
    t(
        total.div_euclid(1_000_000_000) as i64,
        total.rem_euclid(1_000_000_000) as u32,
    )
}

/// The records of a PAX body, split by their length prefixes (values may hold newlines,
/// which the `tar` crate's record iterator cannot parse).
fn simple_pax_records(mut body: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !body.is_empty() {
        let space = body.iter().position(|&c| c == b' ').unwrap();
        let len: usize = std::str::from_utf8(&body[..space])
            .unwrap()
            .parse()
            .unwrap();
        let record = &body[space + 1..len - 1];
        let eq = record.iter().position(|&c| c == b'=').unwrap();
        out.insert(
            String::from_utf8(record[..eq].to_vec()).unwrap(),
            String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
        );
        body = &body[len..];
    }
    out
}

/// The local PAX records of each entry, from the `tar` crate's raw entry list (which
/// does not know old GNU sparse extension blocks, so only for archives without them).
fn tar_crate_records(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut a = tar::Archive::new(bytes);
    let mut out = Vec::new();
    let mut pending = BTreeMap::new();
    for e in a.entries().unwrap().raw(true) {
        let mut e = e.unwrap();
        match e.header().entry_type().as_byte() {
            b'x' => {
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                pending = simple_pax_records(&body);
            }
            b'L' | b'K' | b'g' => {}
            _ => out.push(std::mem::take(&mut pending)),
        }
    }
    out
}

/// What the `tar` crate reads from `bytes`, in the shape of our headers: the fields it
/// exposes, with PAX times, ids and names applied the way Go applies them.
fn tar_crate_view(bytes: &[u8]) -> Vec<(TarHeader, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    let mut out = Vec::new();
    let mut raw_records: Option<Vec<BTreeMap<String, String>>> = None;
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let typeflag = e.header().entry_type().as_byte();
        if typeflag == b'g' {
            continue; // our reader applies global headers instead of returning them
        }
        let index = out.len();
        let parsed: Option<BTreeMap<String, String>> = match e.pax_extensions().unwrap() {
            None => Some(BTreeMap::new()),
            Some(exts) => exts
                .map(|ext| {
                    let ext = ext.ok()?;
                    Some((
                        ext.key().ok()?.to_string(),
                        String::from_utf8_lossy(ext.value_bytes()).into_owned(),
                    ))
                })
                .collect(),
        };
        // Values with newlines defeat the tar crate's record iterator: split them ourselves.
        let records = parsed.unwrap_or_else(|| {
            raw_records.get_or_insert_with(|| tar_crate_records(bytes))[index].clone()
        });
        let h = e.header();
        let pax_time = |k: &str| {
            records
                .get(k)
                .filter(|v| !v.is_empty())
                .map(|v| expected_pax_time(v))
        };
        let gnu = h.as_gnu();
        let gnu_time = |f: &[u8; 12]| (f[0] != 0).then(|| t(octal(f), 0));
        let hdr = TarHeader {
            name: String::from_utf8(e.path_bytes().into_owned()).unwrap(),
            linkname: e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).unwrap())
                .unwrap_or_default(),
            typeflag: if typeflag == b'S' { b'0' } else { typeflag },
            // An all-NUL number is 0 to Go; the tar crate calls it an error.
            mode: i64::from(h.mode().unwrap_or(0)),
            uid: records
                .get("uid")
                .filter(|v| !v.is_empty())
                .map_or(h.uid().unwrap_or(0) as i64, |v| v.parse().unwrap()),
            gid: records
                .get("gid")
                .filter(|v| !v.is_empty())
                .map_or(h.gid().unwrap_or(0) as i64, |v| v.parse().unwrap()),
            uname: records
                .get("uname")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(h.username_bytes().unwrap_or_default()).into_owned()
                }),
            gname: records
                .get("gname")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(h.groupname_bytes().unwrap_or_default()).into_owned()
                }),
            size: match gnu.filter(|_| typeflag == b'S') {
                Some(g) => g.real_size().unwrap() as i64,
                None => e.size() as i64,
            },
            mod_time: pax_time("mtime").unwrap_or(t(h.mtime().unwrap_or(0) as i64, 0)),
            access_time: pax_time("atime").or_else(|| gnu.and_then(|g| gnu_time(&g.atime))),
            change_time: pax_time("ctime").or_else(|| gnu.and_then(|g| gnu_time(&g.ctime))),
            devmajor: h.device_major().ok().flatten().map_or(0, i64::from),
            devminor: h.device_minor().ok().flatten().map_or(0, i64::from),
            pax_records: records,
            header_offset: 0,
        };
        let mut data = Vec::new();
        if !hdr.is_header_only() {
            e.read_to_end(&mut data).unwrap();
        }
        out.push((hdr, data));
    }
    out
}

fn octal(f: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(f);
    i64::from_str_radix(s.trim_matches(|c| c == ' ' || c == '\0'), 8).unwrap()
}

/// Our headers with the one field the `tar` crate does not expose cleared.
fn without_offsets(entries: &[(TarHeader, Vec<u8>)]) -> Vec<(TarHeader, Vec<u8>)> {
    entries
        .iter()
        .map(|(h, d)| {
            let mut h = h.clone();
            h.header_offset = 0;
            (h, d.clone())
        })
        .collect()
}

fn assert_matches_tar_crate(bytes: &[u8], what: &str) -> Vec<(TarHeader, Vec<u8>)> {
    let ours = read(bytes).ok();
    let theirs = tar_crate_view(bytes);
    assert_eq!(ours.len(), theirs.len(), "{what}: entry count");
    for ((a, da), (b, db)) in without_offsets(&ours).iter().zip(&theirs) {
        assert_eq!(a, b, "{what}: header of {}", a.name);
        assert_eq!(da, db, "{what}: data of {}", a.name);
    }
    ours
}

#[test]
fn vector_files_are_unchanged() {
    for (name, bytes, digest) in VECTORS {
        assert_eq!(hex::encode(Sha256::digest(bytes)), digest, "{name}");
    }
}

#[test]
fn vectors_match_the_tar_crate() {
    for (name, bytes, _) in VECTORS {
        let entries = assert_matches_tar_crate(bytes, name);
        assert!(!entries.is_empty(), "{name}");
        // Header offsets increase and each points at a header block.
        let offsets: Vec<u64> = entries.iter().map(|(h, _)| h.header_offset).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "{name}: {offsets:?}"
        );
        assert!(offsets.iter().all(|o| o % 512 == 0), "{name}");
    }
}

#[test]
fn vector_details_as_go_reads_them() {
    let v1 = read(VECTORS[0].1).ok();
    let get = |name: &str| {
        v1.iter()
            .find(|(h, _)| h.name == name)
            .unwrap_or_else(|| panic!("no entry {name}"))
    };
    // A negative fractional PAX mtime: -86400.5 s is 0.5 s into second -86401 (spec §3).
    let (old, data) = get("Files/old.txt");
    assert_eq!(old.mod_time, t(-86_401, 500_000_000));
    assert_eq!(data, b"from 1969\n");
    assert_eq!(old.record("MSWINDOWS.fileattr"), Some("33"));
    // Python writes the float mtime as a PAX record; atime/ctime come from records too.
    let (app, data) = get("Files/Program Files/app.exe");
    assert_eq!(app.mod_time, t(1_700_000_000, 250_000_000));
    assert_eq!(app.access_time, Some(t(1_700_000_001, 500_000_000)));
    assert_eq!(app.change_time, Some(t(1_700_000_002, 100)));
    assert_eq!((app.typeflag, app.size, data.len()), (b'0', 770, 770));
    // Without atime/ctime records Go leaves the zero time.
    let (plain, _) = get("Files/no-times.txt");
    assert_eq!((plain.access_time, plain.change_time), (None, None));
    // Non-ASCII and long names come from PAX path records.
    get("Files/ünicode-日本語.txt");
    assert!(
        v1.iter()
            .any(|(h, _)| h.name.len() > 200 && h.name.ends_with(".dll"))
    );
    assert!(v1.iter().all(|(h, _)| !h.name.contains("PaxHeader")));

    // v4 is plain ustar: no records, no access or change time.
    for (h, _) in read(VECTORS[3].1).ok() {
        assert!(h.pax_records.is_empty(), "{}", h.name);
        assert_eq!((h.access_time, h.change_time), (None, None));
    }
    // v5: a directory named without a trailing slash through a PAX path record.
    let v5 = read(VECTORS[4].1).ok();
    let files = v5.iter().find(|(h, _)| h.name == "Files").unwrap();
    assert_eq!(files.0.typeflag, b'5');
    let empty = v5
        .iter()
        .find(|(h, _)| h.name == "Files/empty-rawsd.txt")
        .unwrap();
    assert_eq!(empty.0.record("MSWINDOWS.rawsd"), Some(""));
}

// ---------------------------------------------------------------------------------------
// Archives written by the `tar` crate
// ---------------------------------------------------------------------------------------

/// Appends an `x` header holding `records` for the next entry.
fn append_pax(b: &mut tar::Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
    let body: Vec<u8> = records
        .iter()
        .flat_map(|(k, v)| rec_bytes(k.as_bytes(), v))
        .collect();
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeaders.0/entry").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(body.len() as u64);
    h.set_mode(0);
    h.set_cksum();
    b.append(&h, &body[..]).unwrap();
}

#[test]
fn tar_crate_archives_parse_as_go_would() {
    let long_dir = "Files/".to_string() + &"long-directory-name/".repeat(8);
    let long_name = format!("{long_dir}file.txt");
    let ustar_split = format!("{}/{}", "p".repeat(120), "n".repeat(60));
    let long_target = "t/".repeat(80) + "target";

    let mut b = tar::Builder::new(Vec::new());
    // GNU long name.
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, &long_name, &b"abc"[..]).unwrap();
    // GNU long link name.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "Files/link", &long_target).unwrap();
    // A ustar name split into prefix and name.
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    b.append_data(&mut h, &ustar_split, &b"xy"[..]).unwrap();
    // Base-256 ids and times in a GNU header.
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_uid(1 << 40);
    h.set_gid((1 << 33) + 5);
    h.set_mtime(1 << 36);
    b.append_data(&mut h, "Files/big-ids", &b"!"[..]).unwrap();
    // PAX records, including the standard keys Go merges and Windows keys it keeps.
    append_pax(
        &mut b,
        &[
            ("path", "Files/pax name é".as_bytes()),
            ("mtime", b"1609556645.1234567"),
            ("atime", b"-1.5"),
            ("ctime", b"1609556646"),
            ("uid", b"4000000000"),
            ("gname", b"grp"),
            ("MSWINDOWS.fileattr", b"32"),
            ("MSWINDOWS.rawsd", b""),
        ],
    );
    let mut h = tar::Header::new_ustar();
    h.set_size(4);
    b.append_data(&mut h, "Files/short", &b"data"[..]).unwrap();
    // Directory and hard link.
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    b.append_data(&mut h, "Files/dir", io::empty()).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "Files/hard", "Files/short").unwrap();
    let bytes = b.into_inner().unwrap();

    let entries = assert_matches_tar_crate(&bytes, "tar crate archive");
    let names: Vec<&str> = entries.iter().map(|(h, _)| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            long_name.as_str(),
            "Files/link",
            ustar_split.as_str(),
            "Files/big-ids",
            "Files/pax name é",
            "Files/dir",
            "Files/hard"
        ]
    );
    assert_eq!(entries[1].0.linkname, long_target);
    assert_eq!(entries[1].0.typeflag, b'2');
    assert_eq!(
        (entries[3].0.uid, entries[3].0.gid),
        (1 << 40, (1 << 33) + 5)
    );
    assert_eq!(entries[3].0.mod_time, t(1 << 36, 0));
    let pax = &entries[4].0;
    assert_eq!(pax.mod_time, t(1_609_556_645, 123_456_700));
    assert_eq!(pax.access_time, Some(t(-2, 500_000_000)));
    assert_eq!(pax.change_time, Some(t(1_609_556_646, 0)));
    assert_eq!((pax.uid, pax.gname.as_str()), (4_000_000_000, "grp"));
    assert_eq!(pax.record("MSWINDOWS.rawsd"), Some(""));
    assert_eq!(entries[6].0.linkname, "Files/short");
    // The headers of the GNU long name and the PAX records are part of their entries.
    assert_eq!(entries[0].0.header_offset, 0);
}

#[test]
fn gnu_sparse_files_written_by_the_tar_crate() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut expected = vec![0u8; 3 << 20];
    for (i, at) in [(1u8, 0usize), (2, 1 << 20), (3, (3 << 20) - 4096)] {
        f.seek(SeekFrom::Start(at as u64)).unwrap();
        f.write_all(&[i; 4096]).unwrap();
        expected[at..at + 4096].fill(i);
    }
    f.set_len(expected.len() as u64).unwrap();
    drop(f);

    let mut b = tar::Builder::new(Vec::new());
    b.sparse(true);
    b.append_path_with_name(&path, "Files/sparse.bin").unwrap();
    let bytes = b.into_inner().unwrap();
    let wrote_sparse = bytes[TYPEFLAG] == b'S';

    let entries = assert_matches_tar_crate(&bytes, "sparse");
    assert_eq!(entries.len(), 1);
    let (h, data) = &entries[0];
    // Old GNU sparse entries become regular files with their logical size (DECISIONS.md).
    assert_eq!((h.typeflag, h.size), (b'0', expected.len() as i64));
    assert!(data == &expected, "sparse data differs");
    if wrote_sparse {
        // Holes are not stored: the archive is far smaller than the file.
        assert!(bytes.len() < expected.len() / 4);
    }
}

// ---------------------------------------------------------------------------------------
// Hand-built archives
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Sparse files
// ---------------------------------------------------------------------------------------

/// The logical content of a sparse file: `size` bytes of zeros with `fragments` stored.
fn expand(size: usize, fragments: &[(usize, &[u8])]) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (at, d) in fragments {
        v[*at..*at + d.len()].copy_from_slice(d);
    }
    v
}

#[test]
fn pax_sparse_formats() {
    let expected = expand(20, &[(2, b"abc"), (10, b"defg")]);
    let stored = b"abcdefg";
    let mut tar = Tar::default();
    // 0.0: offset/numbytes pairs, no name record.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "2"),
            ("GNU.sparse.numbytes", "3"),
            ("GNU.sparse.offset", "10"),
            ("GNU.sparse.numbytes", "4"),
            ("path", "GNUSparseFile.0/s00"),
        ],
    )
    .entry(&Hdr::ustar("ignored", b'0', 7), stored);
    // 0.1: the map in one record, the real name in another.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.map", "2,3,10,4"),
            ("GNU.sparse.name", "s01"),
        ],
    )
    .entry(&Hdr::ustar("GNUSparseFile.0/s01", b'0', 7), stored);
    // 1.0: the map at the start of the data, padded to a block.
    let mut data = b"2\n2\n3\n10\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(stored);
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "s10"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .entry(&Hdr::ustar("GNUSparseFile.0/s10", b'0', 519), &data);
    // 0.1 with an empty map: all holes.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "0"),
            ("GNU.sparse.size", "1000"),
        ],
    )
    .entry(&Hdr::ustar("holes", b'0', 0), b"");
    // An unknown version is a regular file, as Go reads it.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "2"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .entry(&Hdr::ustar("unknown", b'0', 7), stored);
    tar.file("after", b"!");
    let out = read(&tar.end()).ok();

    let got: Vec<(&str, u8, i64)> = out
        .iter()
        .map(|(h, _)| (h.name.as_str(), h.typeflag, h.size))
        .collect();
    assert_eq!(
        got,
        [
            ("GNUSparseFile.0/s00", b'0', 20),
            ("s01", b'0', 20),
            ("s10", b'0', 20),
            ("holes", b'0', 1000),
            ("unknown", b'0', 7),
            ("after", b'0', 1),
        ]
    );
    for (h, d) in &out[..3] {
        assert_eq!(d, &expected, "{}", h.name);
    }
    assert_eq!(out[0].0.record("GNU.sparse.map"), Some("2,3,10,4"));
    assert_eq!(out[0].0.record("GNU.sparse.offset"), None);
    assert_eq!(out[3].1, vec![0; 1000]);
    assert_eq!(out[4].1, stored);
    assert_eq!(out[5].1, b"!");
}

/// An old GNU sparse archive: `fragments` (offset, data) stored, the first four in the
/// header, the rest in extension blocks of 21.
fn old_gnu_sparse(name: &str, real_size: u64, fragments: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let stored: Vec<u8> = fragments.iter().flat_map(|(_, d)| d.clone()).collect();
    let mut h = Hdr::new(Magic::Gnu, name.as_bytes(), b'S', stored.len() as u64);
    h.octal(GNU_REALSIZE, 12, real_size);
    let entry = |(off, d): &(u64, Vec<u8>)| {
        let mut e = [0u8; 24];
        e[..12].copy_from_slice(format!("{off:011o}\0").as_bytes());
        e[12..].copy_from_slice(format!("{:011o}\0", d.len()).as_bytes());
        e
    };
    let (head, rest) = fragments.split_at(fragments.len().min(4));
    for (i, f) in head.iter().enumerate() {
        h.set(GNU_SPARSE + 24 * i, &entry(f));
    }
    h.0[GNU_ISEXTENDED] = u8::from(!rest.is_empty());
    let mut tar = Tar::default();
    tar.header(&h);
    let chunks: Vec<&[(u64, Vec<u8>)]> = rest.chunks(21).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut ext = [0u8; 512];
        for (j, f) in chunk.iter().enumerate() {
            ext[24 * j..24 * j + 24].copy_from_slice(&entry(f));
        }
        ext[504] = u8::from(i + 1 < chunks.len());
        tar.raw(&ext);
    }
    tar.data(&stored).file("after", b"!");
    tar.end()
}

#[test]
fn old_gnu_sparse_with_extension_headers() {
    let as_slices = |f: &[(u64, Vec<u8>)]| -> Vec<(usize, Vec<u8>)> {
        f.iter().map(|(o, d)| (*o as usize, d.clone())).collect()
    };
    // Block-aligned fragments and a final empty one at the logical end, as GNU tar writes
    // them and as the `tar` crate insists on: cross-check with it.
    let mut fragments: Vec<(u64, Vec<u8>)> = (0..30u8)
        .map(|i| (u64::from(i) * 1024, vec![i + 1; 512]))
        .collect();
    fragments.push((30 * 1024 + 100, Vec::new()));
    let bytes = old_gnu_sparse("Files/sparse", 30 * 1024 + 100, &fragments);
    let entries = assert_matches_tar_crate(&bytes, "old GNU sparse");
    let (h, data) = &entries[0];
    assert_eq!(
        (h.name.as_str(), h.typeflag, h.size),
        ("Files/sparse", b'0', 30 * 1024 + 100)
    );
    let f = as_slices(&fragments);
    let f: Vec<(usize, &[u8])> = f.iter().map(|(o, d)| (*o, d.as_slice())).collect();
    assert!(data == &expand(30 * 1024 + 100, &f));
    assert_eq!(entries[1].1, b"!");

    // Go (and this reader) take any offsets and lengths.
    let fragments: Vec<(u64, Vec<u8>)> = (0..30u8)
        .map(|i| (u64::from(i) * 100 + 7, vec![i + 1; usize::from(i % 5) + 1]))
        .collect();
    let out = read(&old_gnu_sparse("odd", 3100, &fragments)).ok();
    let f = as_slices(&fragments);
    let f: Vec<(usize, &[u8])> = f.iter().map(|(o, d)| (*o, d.as_slice())).collect();
    assert_eq!((out[0].0.size, &out[0].1), (3100, &expand(3100, &f)));

    // An empty map: all zeros; an entry marked extended whose extension never comes.
    let bytes = old_gnu_sparse("empty", 10, &[]);
    assert_eq!(read(&bytes).ok()[0].1, vec![0; 10]);
    let mut h = Hdr::new(Magic::Gnu, b"cut", b'S', 0);
    h.0[GNU_ISEXTENDED] = 1;
    let mut tar = Tar::default();
    tar.header(&h);
    let e = read(&tar.bytes).err();
    assert!(matches!(e, Error::UnexpectedEof { offset: 512, .. }), "{e}");
}

#[test]
fn invalid_sparse_maps_are_invalid_headers() {
    let sparse01 = |map: &str, numblocks: &str, size: &str, typeflag: u8| {
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "0"),
                ("GNU.sparse.minor", "1"),
                ("GNU.sparse.numblocks", numblocks),
                ("GNU.sparse.map", map),
                ("GNU.sparse.size", size),
            ],
        )
        .entry(&Hdr::ustar("s", typeflag, 4), b"abcd");
        tar.end()
    };
    for (map, n, size, typeflag, what) in [
        ("5,2,0,2", "2", "10", b'0', "unsorted"),
        ("0,3,2,1", "2", "10", b'0', "overlapping"),
        ("-1,2", "1", "10", b'0', "negative offset"),
        ("0,-2", "1", "10", b'0', "negative length"),
        ("8,4", "1", "10", b'0', "past the logical size"),
        ("0,4", "1", "-1", b'0', "negative size"),
        ("0,4", "2", "10", b'0', "numblocks mismatch"),
        ("0,4", "x", "10", b'0', "bad numblocks"),
        ("0,4", "-1", "10", b'0', "negative numblocks"),
        ("0,x", "1", "10", b'0', "bad number"),
        ("0,4", "1", "10", b'5', "sparse directory"),
    ] {
        let e = read(&sparse01(map, n, size, typeflag)).err();
        assert!(
            matches!(e, Error::InvalidHeader { offset: 1024, .. }),
            "{what}: {e}"
        );
    }
    let e = read(&sparse01("0,4", "1", "1x", b'0')).err();
    assert!(
        matches!(e, Error::InvalidPaxValue { ref key, .. } if key == "GNU.sparse.size"),
        "{e}"
    );

    // Old GNU: the same checks on the header map.
    for (frags, size) in [
        (vec![(5u64, vec![1u8; 2]), (0, vec![1; 2])], 10),
        (vec![(0, vec![1; 4]), (2, vec![1; 2])], 10),
        (vec![(8, vec![1; 4])], 10),
    ] {
        let e = read(&old_gnu_sparse("s", size, &frags)).err();
        assert!(matches!(e, Error::InvalidHeader { offset: 0, .. }), "{e}");
    }
    // PAX 1.0: bad count, bad entries, map missing from the data.
    for (map, stored) in [
        (&b"x\n"[..], 512),
        (b"-1\n", 512),
        (b"1\n0\nz\n", 512),
        (b"1\n0\n", 512),
        (b"1\n0\n", 100),
    ] {
        let mut data = map.to_vec();
        data.resize(stored, 0);
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.realsize", "10"),
            ],
        )
        .entry(&Hdr::ustar("s", b'0', stored as u64), &data);
        let e = read(&tar.end()).err();
        assert!(
            matches!(e, Error::InvalidHeader { .. } | Error::UnexpectedEof { .. }),
            "{map:?}: {e}"
        );
    }
}

#[test]
fn sparse_data_must_match_the_map() {
    let build = |stored: &[u8]| {
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "0"),
                ("GNU.sparse.minor", "1"),
                ("GNU.sparse.numblocks", "1"),
                ("GNU.sparse.map", "4,4"),
                ("GNU.sparse.size", "10"),
            ],
        )
        .entry(&Hdr::ustar("s", b'0', stored.len() as u64), stored)
        .file("next", b"n");
        tar.end()
    };
    assert_eq!(read(&build(b"abcd")).ok()[0].1, b"\0\0\0\0abcd\0\0");
    let e = read(&build(b"ab")).err();
    assert!(matches!(e, Error::SparseMissingData { .. }), "{e}");
    assert_eq!(e.entry(), Some("s"));
    let e = read(&build(b"abcdef")).err();
    assert!(matches!(e, Error::SparseUnreferencedData { .. }), "{e}");
    // Go checks only while reading: skipping the data is fine.
    let (headers, error) = headers_only(&build(b"ab"), ArchiveOptions::default());
    assert_eq!((headers.len(), error.is_none()), (2, true));
}

#[test]
fn sparse_limits() {
    // A tiny map describing a huge file of zeros.
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "1"),
            ("GNU.sparse.map", "0,1"),
            ("GNU.sparse.size", "4611686018427387904"),
        ],
    )
    .entry(&Hdr::ustar("huge", b'0', 1), b"x");
    let bytes = tar.end();
    let e = read(&bytes).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_logical_size",
                value: 4_611_686_018_427_387_904,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_sparse_logical_size"), "{e}");
    let mut o = ArchiveOptions::default();
    o.max_sparse_logical_size = u64::MAX;
    let (headers, error) = headers_only(&bytes, o);
    assert!(error.is_none());
    assert_eq!(headers[0].size, 1 << 62);

    // Too many map entries, in each format.
    let mut o = ArchiveOptions::default();
    o.max_sparse_entries = 3;
    let frags: Vec<(u64, Vec<u8>)> = (0..4).map(|i| (i * 2, vec![1])).collect();
    let e = read_with(&old_gnu_sparse("s", 10, &frags), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    let frags: Vec<(u64, Vec<u8>)> = (0..3).map(|i| (i * 2, vec![1])).collect();
    assert_eq!(
        read_with(&old_gnu_sparse("s", 10, &frags), o.clone())
            .ok()
            .len(),
        2
    );
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "4"),
            ("GNU.sparse.map", "0,1,2,1,4,1,6,1"),
            ("GNU.sparse.size", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 4), b"abcd");
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    let mut data = b"4\n0\n1\n2\n1\n4\n1\n6\n1\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"abcd");
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 516), &data);
    let bytes = tar.end();
    let e = read_with(&bytes, o).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(read(&bytes).ok()[0].1, b"a\0b\0c\0d\0\0\0");

    // A PAX 1.0 map longer than Go's 1 MiB cap, and old GNU extension blocks past it.
    let mut o = ArchiveOptions::default();
    o.max_pax_size = 1024;
    let mut data = b"2\n".to_vec();
    data.resize(1536, b'0'); // no second newline for three blocks
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 1536), &data);
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                what: "PAX 1.0 sparse map",
                ..
            }
        ),
        "{e}"
    );
    let frags: Vec<(u64, Vec<u8>)> = (0..30).map(|i| (i * 2, vec![1])).collect();
    let bytes = old_gnu_sparse("s", 100, &frags);
    let e = read_with(&bytes, o).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                what: "old GNU sparse map",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(read(&bytes).ok().len(), 2);
}

// ---------------------------------------------------------------------------------------
// End of archive, truncation, errors
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
}

#[derive(Clone, Debug)]
struct Spec {
    name: String,
    kind: Kind,
    mtime: u64,
    mode: u32,
    gnu: bool,
    records: Vec<(String, String)>,
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9_.é日-]{1,40}", 1..6).prop_map(|parts| {
        let parts: Vec<String> = parts
            .into_iter()
            .map(|p| {
                if p == "." || p == ".." {
                    "dot".to_string()
                } else {
                    p
                }
            })
            .collect();
        parts.join("/")
    })
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let kind = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..1500).prop_map(Kind::File),
        1 => Just(Kind::Dir),
        1 => name_strategy().prop_map(Kind::Symlink),
        1 => name_strategy().prop_map(Kind::Hardlink),
    ];
    (
        name_strategy(),
        kind,
        0u64..0o77777777777,
        0u32..0o7777,
        any::<bool>(),
        prop::collection::vec(("[A-Za-z]{1,10}", "[ -~é]{0,30}"), 0..4),
    )
        .prop_map(|(name, kind, mtime, mode, gnu, recs)| Spec {
            name,
            kind,
            mtime,
            mode,
            gnu,
            records: recs
                .into_iter()
                .map(|(k, v)| (format!("MSWINDOWS.{k}"), v))
                .collect(),
        })
}

fn build(specs: &[Spec]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for s in specs {
        if !s.records.is_empty() {
            let recs: Vec<(&str, &[u8])> = s
                .records
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes()))
                .collect();
            append_pax(&mut b, &recs);
        }
        let mut h = if s.gnu {
            tar::Header::new_gnu()
        } else {
            tar::Header::new_ustar()
        };
        h.set_mtime(s.mtime);
        h.set_mode(s.mode);
        match &s.kind {
            Kind::File(d) => {
                h.set_size(d.len() as u64);
                b.append_data(&mut h, &s.name, &d[..]).unwrap();
            }
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &s.name, io::empty()).unwrap();
            }
            Kind::Symlink(target) | Kind::Hardlink(target) => {
                h.set_entry_type(if matches!(s.kind, Kind::Symlink(_)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_size(0);
                b.append_link(&mut h, &s.name, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_tar_crate_archives_round_trip(specs in prop::collection::vec(spec_strategy(), 0..8), seed in any::<u64>()) {
        let bytes = build(&specs);
        let out = read_from(ShortReader::new(&bytes[..], seed), ArchiveOptions::default()).ok();
        prop_assert_eq!(out.len(), specs.len());
        for ((h, data), s) in out.iter().zip(&specs) {
            prop_assert_eq!(&h.name, &s.name);
            prop_assert_eq!(h.mod_time, t(s.mtime as i64, 0));
            prop_assert_eq!(h.mode, i64::from(s.mode));
            let records: BTreeMap<String, String> = s.records.iter().cloned().collect();
            prop_assert_eq!(&h.pax_records, &records);
            match &s.kind {
                Kind::File(d) => {
                    prop_assert_eq!((h.typeflag, h.size), (b'0', d.len() as i64));
                    prop_assert_eq!(data, d);
                }
                Kind::Dir => prop_assert_eq!(h.typeflag, b'5'),
                Kind::Symlink(target) => {
                    prop_assert_eq!(h.typeflag, b'2');
                    prop_assert_eq!(&h.linkname, target);
                }
                Kind::Hardlink(target) => {
                    prop_assert_eq!(h.typeflag, b'1');
                    prop_assert_eq!(&h.linkname, target);
                }
            }
        }
        // The tar crate reads the same archive the same way.
        prop_assert_eq!(without_offsets(&out), tar_crate_view(&bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 20;
        let _ = read_from(&bytes[..], o);
    }

    #[test]
    fn mutated_archives_never_panic(
        specs in prop::collection::vec(spec_strategy(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut bytes = build(&specs);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let end = cut.index(bytes.len() + 1);
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 20;
        let plain = read_from(&bytes[..end], o.clone());
        let short = read_from(ShortReader::new(&bytes[..end], seed), o);
        same_outcome(&plain, &short, "mutated");
    }

    #[test]
    fn mutated_sparse_archives_never_panic(
        flips in prop::collection::vec((0usize..2048, any::<u8>()), 1..6),
    ) {
        let frags: Vec<(u64, Vec<u8>)> = (0..8).map(|i| (i * 50, vec![7; 10])).collect();
        let mut bytes = old_gnu_sparse("s", 500, &frags);
        let mut pax = Tar::default();
        let mut data = b"1\n3\n4\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"wxyz");
        pax.pax(b'x', &[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "9")])
            .entry(&Hdr::ustar("s", b'0', 516), &data);
        bytes.splice(0..0, pax.bytes);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        let mut o = ArchiveOptions::default();
        o.max_sparse_logical_size = 1 << 24;
        let _ = read_with(&bytes, o);
    }
}

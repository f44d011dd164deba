//! The reference vectors and archives written by the `tar` crate, cross-checked field by
//! field against the `tar` crate's reader.

use std::collections::BTreeMap;
use std::io::{self, Read};

use sha2::{Digest, Sha256};
use wclayer_backup::UnixTime;
use wclayer_tar::archive::TarHeader;

use super::{TYPEFLAG, read, rec_bytes, t};

const VECTORS: [(&str, &[u8], &str); 5] = [
    (
        "v1_base_names_times",
        include_bytes!("../../data/v1_base_names_times.tar"),
        "10c900d3db7432bfd4abbcb35350c99891723a6915e8c8f31ed47750d30ade39",
    ),
    (
        "v2_streams_links",
        include_bytes!("../../data/v2_streams_links.tar"),
        "c52519dd4aa28f8c4478ca66fedebaf2e7999ed06a737f47eba912948f75ff69",
    ),
    (
        "v3_delta",
        include_bytes!("../../data/v3_delta.tar"),
        "642cb2da26f983b12ff8b8667186a0d9f2d006e3f82682cd2e3e9cf421da5c18",
    ),
    (
        "v4_plain_ustar",
        include_bytes!("../../data/v4_plain_ustar.tar"),
        "938dac23b6ed5e28ab0d4f7ebdca974e721d7bb8b5bbea9a8a3a7ee90e1bd2ef",
    ),
    (
        "v5_model_details",
        include_bytes!("../../data/v5_model_details.tar"),
        "819edbe91305d14755641f37305b634b821545085319b8f4233cc772167598d5",
    ),
];

/// A PAX time as exact decimal arithmetic sees it (an independent formulation of docs/oci-tar-mapping.md §3:
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
pub(super) fn tar_crate_view(bytes: &[u8]) -> Vec<(TarHeader, Vec<u8>)> {
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
pub(super) fn without_offsets(entries: &[(TarHeader, Vec<u8>)]) -> Vec<(TarHeader, Vec<u8>)> {
    entries
        .iter()
        .map(|(h, d)| {
            let mut h = h.clone();
            h.header_offset = 0;
            (h, d.clone())
        })
        .collect()
}

pub(super) fn assert_matches_tar_crate(bytes: &[u8], what: &str) -> Vec<(TarHeader, Vec<u8>)> {
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
    // A negative fractional PAX mtime: -86400.5 s is 0.5 s into second -86401 (docs/oci-tar-mapping.md §3).
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
pub(super) fn append_pax(b: &mut tar::Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
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
    // Old GNU sparse entries become regular files with their logical size (docs/compat.md).
    assert_eq!((h.typeflag, h.size), (b'0', expected.len() as i64));
    assert!(data == &expected, "sparse data differs");
    if wrote_sparse {
        // Holes are not stored: the archive is far smaller than the file.
        assert!(bytes.len() < expected.len() / 4);
    }
}

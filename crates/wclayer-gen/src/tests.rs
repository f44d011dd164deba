use std::collections::HashSet;
use std::io::{self, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::defects::{TRUNCATED_FILE, locate, truncated_origin};
use crate::entry::*;
use crate::samples::{
    deep_names, gnu_long_name, long_file_name, long_whiteout_name, ustar_split_name,
};
use crate::writer::pax_block;

/// One entry as the `tar` crate reads it back (PAX `x` and GNU `L`/`K` entries merged).
struct Seen {
    name: String,
    flag: u8,
    mode: u32,
    size: u64,
    mtime_field: u64,
    link: Option<String>,
    records: Vec<(String, Vec<u8>)>,
    data: Vec<u8>,
}

impl Seen {
    fn rec(&self, key: &str) -> Option<&[u8]> {
        self.records
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    fn rec_str(&self, key: &str) -> &str {
        let value = self
            .rec(key)
            .unwrap_or_else(|| panic!("{}: no {key} record", self.name));
        std::str::from_utf8(value).expect("record is UTF-8")
    }

    fn keys(&self) -> Vec<&str> {
        self.records.iter().map(|(k, _)| k.as_str()).collect()
    }
}

fn read(bytes: &[u8]) -> Vec<Seen> {
    try_read(bytes).expect("the tar crate reads the archive")
}

fn try_read(bytes: &[u8]) -> io::Result<Vec<Seen>> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = String::from_utf8(entry.path_bytes().into_owned()).expect("UTF-8 name");
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).expect("UTF-8 link"));
        let header = entry.header().clone();
        let mut records = Vec::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                records.push((
                    ext.key().map_err(io::Error::other)?.to_owned(),
                    ext.value_bytes().to_vec(),
                ));
            }
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        out.push(Seen {
            name,
            flag: header.as_bytes()[156],
            mode: header.mode()?,
            size: header.size()?,
            mtime_field: header.mtime()?,
            link,
            records,
            data,
        });
    }
    Ok(out)
}

/// Typeflag and raw name field of every header, extension headers included.
fn raw_headers(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().expect("entries").raw(true);
    entries
        .map(|e| {
            let e = e.expect("raw entry");
            let h = e.header();
            (h.as_bytes()[156], h.path_bytes().into_owned())
        })
        .collect()
}

fn small() -> Options {
    Options {
        big_file_size: 5000,
    }
}

fn case_bytes(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_case_with(name, &small(), &mut out).expect("case writes");
    out
}

fn find<'a>(seen: &'a [Seen], name: &str) -> &'a Seen {
    seen.iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn index(seen: &[Seen], name: &str) -> usize {
    seen.iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn b64(value: &str) -> Vec<u8> {
    BASE64.decode(value).expect("valid base64")
}

fn is_whiteout(name: &str) -> bool {
    name.trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|base| base.starts_with(".wh."))
}

#[test]
fn case_list_is_consistent() {
    let names: HashSet<&str> = cases().iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases().len());
    assert_eq!(
        names,
        HashSet::from(["base", "delta", "linux", "pax-global"])
    );
    for case in cases() {
        assert!(case.description.len() > 40, "{} is described", case.name);
    }
    let delta = cases().iter().find(|c| c.name == "delta").expect("delta");
    assert_eq!(delta.kind, LayerKind::Delta);
    assert_eq!(Options::default().big_file_size, 3 * 1024 * 1024);
}

#[test]
fn every_case_is_a_valid_archive_and_whiteouts_match_the_kind() {
    for case in cases() {
        let bytes = case_bytes(case.name);
        assert_eq!(bytes.len() % 512, 0, "{}", case.name);
        assert!(bytes.len() > 2048, "{}", case.name);
        assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
        let seen = read(&bytes);
        for s in &seen {
            // Every entry announces exactly the data it carries.
            let carries_data = matches!(s.flag, b'0' | 0 | b'g');
            let expected = if carries_data { s.size } else { 0 };
            if s.flag != b'g' {
                assert_eq!(s.data.len() as u64, expected, "{}", s.name);
            }
        }
        let mut names = HashSet::new();
        for s in seen.iter().filter(|s| s.flag != b'g') {
            assert!(names.insert(s.name.as_str()), "{} twice", s.name);
        }
        let whiteouts = seen.iter().filter(|s| is_whiteout(&s.name)).count();
        match case.kind {
            LayerKind::Base => assert_eq!(whiteouts, 0, "{}", case.name),
            LayerKind::Delta => assert!(whiteouts >= 8, "{}", case.name),
        }
        assert!(seen.iter().any(|s| s.name.starts_with("Files")));
    }
}

#[test]
fn output_is_deterministic() {
    for case in cases() {
        assert!(
            case_bytes(case.name) == case_bytes(case.name),
            "{}",
            case.name
        );
    }
    assert_eq!(malformed_cases(), malformed_cases());
    assert_eq!(hostile_cases(), hostile_cases());
}

#[test]
fn unknown_case_is_an_error() {
    let mut out = Vec::new();
    let err = write_case("no-such-case", &mut out).expect_err("unknown name");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no-such-case"));
    assert!(out.is_empty());
}

#[test]
fn base_security_descriptors() {
    let seen = read(&case_bytes("base"));
    let files = &seen[0];
    assert_eq!(files.name, "Files");
    assert_eq!(files.flag, b'5');
    assert_eq!(files.rec_str("MSWINDOWS.fileattr"), "16");
    assert_eq!(b64(files.rec_str("MSWINDOWS.rawsd")), b64(SD_BUILDKIT_DIR));

    // The 52-byte O:BUG:BU descriptor of docs/ea-reparse-sd.md §3.9, byte for byte.
    let users: Vec<u8> = [
        "0100008014000000240000000000000000000000",
        "010200000000000520000000210200000102000000000005200000002102000",
        "0",
    ]
    .concat()
    .as_bytes()
    .chunks(2)
    .map(|h| u8::from_str_radix(std::str::from_utf8(h).expect("hex"), 16).expect("hex"))
    .collect();
    assert_eq!(b64(SD_BUILTIN_USERS), users);
    assert_eq!(b64(SD_BUILDKIT_FILE).len(), 124);
    assert_eq!(
        b64(find(&seen, "Files/ea.txt").rec_str("MSWINDOWS.rawsd")),
        users
    );

    let distinct: HashSet<&[u8]> = seen
        .iter()
        .filter_map(|s| s.rec("MSWINDOWS.rawsd"))
        .collect();
    assert_eq!(distinct.len(), 4);

    let legacy = find(&seen, "Files/legacy-sddl.txt");
    assert_eq!(legacy.rec_str("MSWINDOWS.sd"), SDDL_LEGACY);
    assert!(legacy.rec("MSWINDOWS.rawsd").is_none());
    assert!(
        find(&seen, "Files/no-sd.txt")
            .rec("MSWINDOWS.rawsd")
            .is_none()
    );
}

#[test]
fn base_eas_and_streams() {
    let seen = read(&case_bytes("base"));
    let ea = find(&seen, "Files/ea.txt");
    let ea_keys: Vec<&str> = ea
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("MSWINDOWS.xattr."))
        .collect();
    assert_eq!(
        ea_keys,
        [
            "MSWINDOWS.xattr.zeta",
            "MSWINDOWS.xattr.ALPHA",
            "MSWINDOWS.xattr.Mid.Name",
            "MSWINDOWS.xattr.user.comment"
        ]
    );
    let mut sorted = ea_keys.clone();
    sorted.sort_unstable();
    assert_ne!(ea_keys, sorted, "EA records are deliberately unsorted");
    assert_eq!(
        b64(ea.rec_str("MSWINDOWS.xattr.zeta")),
        [0xff, 0x00, 0x7f, 0x80]
    );
    assert_eq!(b64(ea.rec_str("MSWINDOWS.xattr.Mid.Name")).len(), 300);

    // Streams directly follow their file (or directory), with no Windows records.
    let main = index(&seen, "Files/ads.txt");
    assert_eq!(seen[main + 1].name, "Files/ads.txt:Zone.Identifier");
    assert_eq!(seen[main + 1].data, b"[ZoneTransfer]\r\nZoneId=3\r\n");
    assert_eq!(seen[main + 2].name, "Files/ads.txt:thumbnail");
    assert_eq!(seen[main + 2].data.len(), 700);
    for stream in &seen[main + 1..=main + 2] {
        assert_eq!(stream.flag, b'0');
        assert!(stream.keys().iter().all(|k| !k.starts_with("MSWINDOWS.")));
        assert!(stream.rec("LIBARCHIVE.creationtime").is_none());
        assert_eq!(stream.rec("atime"), seen[main].rec("atime"));
    }
    let dir = index(&seen, "Files/ads-dir");
    assert_eq!(seen[dir].flag, b'5');
    assert!(seen[dir].rec("MSWINDOWS.xattr.DIRNOTE").is_some());
    assert_eq!(seen[dir + 1].name, "Files/ads-dir:dirstream");
    assert_eq!(seen[dir + 1].flag, b'0');
}

#[test]
fn base_links_and_reparse_points() {
    let seen = read(&case_bytes("base"));
    let rel = find(&seen, "Files/Users/Public/rel-link.txt");
    assert_eq!(
        (rel.flag, rel.link.as_deref()),
        (b'2', Some(r"..\..\normal.txt"))
    );
    assert_eq!(rel.rec_str("MSWINDOWS.fileattr"), "1056");
    let abs = find(&seen, "Files/abs-link.txt");
    assert!(abs.link.as_deref().is_some_and(|l| l.starts_with(r"C:\")));
    let dir_link = find(&seen, "Files/dir-link");
    assert_eq!(dir_link.flag, b'2');
    assert_eq!(dir_link.mode, 0o160000);
    assert_eq!(dir_link.rec_str("MSWINDOWS.fileattr"), "1040");
    assert!(dir_link.rec("MSWINDOWS.mountpoint").is_none());
    let mp = find(&seen, "Files/Documents and Settings");
    assert_eq!(mp.flag, b'2');
    assert_eq!(mp.link.as_deref(), Some(r"C:\Users"));
    assert_eq!(mp.rec_str("MSWINDOWS.mountpoint"), "1");
    let attrs: u32 = mp.rec_str("MSWINDOWS.fileattr").parse().expect("u32");
    assert_eq!(
        attrs & (DIRECTORY | REPARSE_POINT),
        DIRECTORY | REPARSE_POINT
    );
    let unicode = find(&seen, "Files/unicode-link.txt");
    assert_eq!(
        unicode.rec_str("linkpath"),
        "caf\u{e9}\\r\u{e9}sum\u{e9}.txt"
    );

    // A group of three names in three directories; the first one is the file.
    let target = "Files/Windows/System32/notepad.exe";
    let first = index(&seen, target);
    assert_eq!(seen[first].flag, b'0');
    let links: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.flag == b'1' && s.link.as_deref() == Some(target))
        .collect();
    assert_eq!(links.len(), 2);
    let dirs: HashSet<&str> = links
        .iter()
        .map(|s| s.name.rsplit_once('/').expect("dir").0)
        .chain([target.rsplit_once('/').expect("dir").0])
        .collect();
    assert_eq!(dirs.len(), 3);
    for link in &links {
        assert!(index(&seen, &link.name) > first);
        assert_eq!(link.size, 0);
        assert!(link.rec("MSWINDOWS.fileattr").is_some());
    }
    let long_link = find(&seen, "Files/long-link.dat");
    assert_eq!(long_link.link.as_deref(), Some(long_file_name().as_str()));
    assert_eq!(long_link.rec_str("linkpath"), long_file_name());
}

#[test]
fn base_names_sizes_attributes_and_times() {
    let seen = read(&case_bytes("base"));
    for name in [
        "Files/\u{65e5}\u{672c}\u{8a9e}/\u{6587}\u{66f8}.txt",
        "Files/caf\u{e9}/r\u{e9}sum\u{e9}.txt",
        "Files/cafe\u{301}-nfd.txt",
        "Files/emoji-\u{1f600}\u{1f680}.txt",
    ] {
        assert_eq!(find(&seen, name).rec_str("path"), name);
    }
    let long = long_file_name();
    let long_component = long.rsplit('/').next().expect("component");
    assert!(long_component.len() > 100);
    assert_eq!(find(&seen, &long).rec_str("path"), long);
    let (_, deep_file) = deep_names();
    assert!(deep_file.len() > 256);
    assert_eq!(find(&seen, &deep_file).data, b"deep inside\n");

    let empty = find(&seen, "Files/empty.txt");
    assert_eq!((empty.flag, empty.size), (b'0', 0));
    let big = find(&seen, "Files/Program Files/big.bin");
    assert_eq!(big.size, 5000);
    assert_eq!(big.data, random_bytes(42, 5000));
    assert_eq!(
        find(&seen, "Files/system-hidden.sys").rec_str("MSWINDOWS.fileattr"),
        "39"
    );
    assert_eq!(
        find(&seen, "Files/Program Files").rec_str("MSWINDOWS.fileattr"),
        "17"
    );

    let old = find(&seen, "Files/old.txt");
    assert_eq!(old.rec_str("mtime"), "-86400.5");
    assert_eq!(old.mtime_field, 0);
    assert_eq!(old.rec_str("atime"), "-0.25");
    assert_eq!(old.rec_str("LIBARCHIVE.creationtime"), "-315619200");
    let future = find(&seen, "Files/future.txt");
    assert_eq!(future.rec_str("mtime"), "9999999999");
    assert_eq!(future.mtime_field, 0);
    let tick = find(&seen, "Files/tick.txt");
    assert_eq!(
        tick.rec_str("LIBARCHIVE.creationtime"),
        "1700000000.0000001"
    );
    assert!(tick.rec("mtime").is_none());
    assert_eq!(tick.mtime_field, 1_700_000_000);
    // Sub-second write time, earlier creation time.
    let ea = find(&seen, "Files/ea.txt");
    assert_eq!(ea.rec_str("mtime"), "1609556645.1234567");
    assert_eq!(ea.rec_str("LIBARCHIVE.creationtime"), "1600000000.1234567");
    assert_eq!(ea.mtime_field, 1_609_556_645);

    for name in [
        "Hives",
        "Hives/System_Delta",
        "UtilityVM",
        "UtilityVM/Files",
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG",
        "Files/Windows/System32/config/SYSTEM",
    ] {
        find(&seen, name);
    }
    assert!(
        find(&seen, "UtilityVM/Files/EFI/Microsoft/Boot/BCD")
            .data
            .starts_with(b"regf")
    );
}

#[test]
fn base_big_file_defaults_to_three_mib() {
    let mut bytes = Vec::new();
    write_case("base", &mut bytes).expect("writes");
    let seen = read(&bytes);
    let big = find(&seen, "Files/Program Files/big.bin");
    assert_eq!(big.data.len(), 3 * 1024 * 1024);
    assert_eq!(big.data[..4096], random_bytes(42, 4096)[..]);
}

#[test]
fn delta_entries() {
    let seen = read(&case_bytes("delta"));
    assert_eq!(seen[0].name, ".wh.z");
    for name in [
        "Files/.wh.x",
        "Files/a/b/c/.wh.y",
        "Files/opaque/.wh..wh..opq",
        "Files/Windows/System32/.wh.obsolete.dll",
        "UtilityVM/Files/Windows/.wh.old.dll",
        "Files/caf\u{e9}/.wh.vieux.txt",
    ] {
        let w = find(&seen, name);
        assert_eq!((w.flag, w.mode, w.size, w.mtime_field), (b'0', 0, 0, 0));
        assert!(w.keys().iter().all(|k| *k == "path"), "{name}");
    }
    assert_eq!(
        find(&seen, "Files/caf\u{e9}/.wh.vieux.txt").rec_str("path"),
        "Files/caf\u{e9}/.wh.vieux.txt"
    );
    let long = long_whiteout_name();
    assert!(long.len() > 100);
    assert_eq!(find(&seen, &long).rec_str("path"), long);
    for never_added in [
        "Files/a",
        "Files/a/b",
        "Files/a/b/c",
        "UtilityVM/Files/Windows",
    ] {
        assert!(seen.iter().all(|s| s.name != never_added));
    }

    let removed = index(&seen, "Files/.wh.readded.txt");
    let added = index(&seen, "Files/readded.txt");
    assert!(removed < added);
    assert_eq!(seen[added + 1].name, "Files/readded.txt:Zone.Identifier");

    for hive_name in ["DefaultUser_Delta", "Sam_Delta", "Security_Delta"] {
        find(&seen, &format!("Hives/{hive_name}"));
    }
    assert!(find(&seen, "Hives/System_Delta").data.starts_with(b"regf"));
    assert!(find(&seen, "Hives/Software_Delta").size > 0);
    assert_eq!(find(&seen, "Hives").flag, b'5');
    let links = seen
        .iter()
        .filter(|s| s.flag == b'1')
        .filter(|s| s.link.as_deref() == Some("Files/Windows/System32/shared.dll"))
        .count();
    assert_eq!(links, 2);
    let hosts = index(&seen, "Files/Windows/System32/drivers/etc/hosts");
    assert_eq!(
        seen[hosts + 1].name,
        "Files/Windows/System32/drivers/etc/hosts:backup"
    );
    assert_eq!(
        find(&seen, "UtilityVM/Files/Windows/System32/drivers/vmbus.sys").size,
        4002
    );
}

#[test]
fn linux_entries_have_no_pax_at_all() {
    let bytes = case_bytes("linux");
    let raw = raw_headers(&bytes);
    let flags: Vec<u8> = raw.iter().map(|(f, _)| *f).collect();
    assert!(!flags.contains(&b'x') && !flags.contains(&b'g'));
    assert!(flags.contains(&b'L'), "a GNU long name");
    assert!(flags.contains(&b'K'), "a GNU long link target");
    assert!(flags.contains(&0), "a pre-POSIX typeflag NUL");

    let seen = read(&bytes);
    for s in &seen {
        assert!(s.records.is_empty(), "{} has PAX records", s.name);
        assert_eq!(s.mtime_field, LINUX_MTIME);
    }
    for dir in ["Files/", "Files/bin/", "Files/share/"] {
        assert_eq!(find(&seen, dir).flag, b'5');
    }
    let link = find(&seen, "Files/bin/tool-copy.exe");
    assert_eq!(
        (link.flag, link.link.as_deref()),
        (b'1', Some("Files/bin/tool.exe"))
    );
    let sym = find(&seen, "Files/latest");
    assert_eq!(
        (sym.flag, sym.link.as_deref()),
        (b'2', Some("bin/tool.exe"))
    );
    assert_eq!(find(&seen, "Files/legacy.txt").flag, 0);

    let split = ustar_split_name();
    assert!(split.len() > 100 && split.len() <= 255);
    find(&seen, &split);
    // The ustar prefix field holds the directory part.
    let (_, field) = raw
        .iter()
        .find(|(_, name)| name == split.as_bytes())
        .expect("split name read from the header itself");
    assert_eq!(field, split.as_bytes());
    let gnu = gnu_long_name();
    assert!(gnu.len() > 255);
    assert_eq!(find(&seen, &gnu).data, b"name in a GNU long-name entry\n");
    let long_target = find(&seen, "Files/share/long-target-link");
    assert!(long_target.link.as_deref().is_some_and(|l| l.len() > 100));
}

#[test]
fn pax_global_headers_carry_rawsd() {
    let bytes = case_bytes("pax-global");
    let seen = read(&bytes);
    let globals: Vec<&Seen> = seen.iter().filter(|s| s.flag == b'g').collect();
    assert_eq!(globals.len(), 2);
    assert_eq!(seen[0].name, "pax_global_header");
    assert_eq!(seen[0].rec_str("MSWINDOWS.rawsd"), SD_BUILTIN_USERS);
    assert_eq!(globals[1].name, "././@PaxHeader");
    assert_eq!(globals[1].rec_str("MSWINDOWS.rawsd"), SD_BUILTIN_ADMINS);

    assert!(
        find(&seen, "Files/inherits.txt")
            .rec("MSWINDOWS.rawsd")
            .is_none()
    );
    assert_eq!(
        find(&seen, "Files/own-sd.txt").rec_str("MSWINDOWS.rawsd"),
        SD_BUILDKIT_FILE
    );
    assert_eq!(
        find(&seen, "Files/empty-sd.txt").rec("MSWINDOWS.rawsd"),
        Some(&b""[..])
    );
    let second = index(&seen, "././@PaxHeader");
    assert!(index(&seen, "Files/empty-sd.txt") < second);
    assert!(index(&seen, "Files/admin/admin.txt") > second);
}

#[test]
fn pax_time_text() {
    let cases = [
        ((1_609_556_645, 123_456_700), "1609556645.1234567"),
        ((-304_707_111, 0), "-304707111"),
        ((0, 0), "0"),
        ((-2, 500_000_000), "-1.5"),
        ((-1, 750_000_000), "-0.25"),
        ((5, 1), "5.000000001"),
    ];
    for ((secs, nanos), text) in cases {
        assert_eq!(PaxTime::new(secs, nanos).format(), text);
    }
    assert!(!PaxTime::new(8_589_934_591, 0).needs_record());
    assert!(PaxTime::new(8_589_934_592, 0).needs_record());
    assert!(PaxTime::new(-1, 0).needs_record());
}

#[test]
fn pax_record_lengths_count_themselves() {
    let block = pax_block(&[("MSWINDOWS.fileattr".into(), b"16".to_vec())]);
    assert_eq!(block, b"25 MSWINDOWS.fileattr=16\n");
    // n = 98 -> 100 would have three digits, so the length is 101 (docs/oci-tar-mapping.md §8.4).
    let value = vec![b'v'; 98 - 3 - 1];
    let block = pax_block(&[("k".into(), value)]);
    assert_eq!(block.len(), 101);
    assert!(block.starts_with(b"101 k="));
}

#[test]
fn pseudo_random_is_independent_of_read_sizes() {
    let whole = random_bytes(9, 1000);
    let mut reader = PseudoRandom::new(9, 1000);
    let mut pieces = Vec::new();
    let mut buf = [0u8; 3];
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        pieces.extend_from_slice(&buf[..n]);
    }
    assert_eq!(pieces, whole);
    assert_ne!(random_bytes(9, 64), random_bytes(10, 64));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn malformed_cases_contain_their_defects() {
    let all = malformed_cases();
    let names: HashSet<&str> = all.iter().map(|m| m.name).collect();
    assert_eq!(names.len(), all.len());
    assert_eq!(all.len(), 11);
    for m in &all {
        assert!(m.bytes.len() >= 1024, "{m:?}");
        assert!(!m.what.is_empty());
        assert!(contains(&m.bytes, m.bad_entry.as_bytes()), "{m:?}");
        match m.name {
            "truncated" => {
                let origin = truncated_origin().expect("origin");
                assert!(m.bytes.len() < origin.len());
                assert_eq!(m.bytes[..], origin[..m.bytes.len()]);
                let (_, body) = locate(&origin, TRUNCATED_FILE).expect("located");
                assert!(m.bytes.len() > body);
                assert!(m.bytes.len() < body + 8192);
                // The tar crate sees the entry but cannot read all of its body.
                let partial = try_read(&m.bytes);
                let short = match &partial {
                    Err(_) => true,
                    Ok(seen) => seen
                        .iter()
                        .any(|s| s.name == TRUNCATED_FILE && (s.data.len() as u64) < s.size),
                };
                assert!(short);
            }
            "bad-checksum" => {
                let err = try_read(&m.bytes).err().expect("checksum error");
                assert!(err.to_string().contains("checksum"), "{err}");
                // Everything before the bad header reads fine.
                let (header, _) = locate(&m.bytes, "Files/a.txt").expect("a.txt");
                assert!(header < m.bytes.len());
            }
            _ => {
                let seen = read(&m.bytes);
                let bad = find(&seen, m.bad_entry);
                check_malformed(m.name, bad, &seen);
            }
        }
    }
}

fn check_malformed(name: &str, bad: &Seen, seen: &[Seen]) {
    match name {
        "bad-base64-rawsd" => {
            assert!(BASE64.decode(bad.rec_str("MSWINDOWS.rawsd")).is_err());
        }
        "bad-base64-xattr" => {
            assert!(BASE64.decode(bad.rec_str("MSWINDOWS.xattr.bad")).is_err());
            assert!(BASE64.decode(bad.rec_str("MSWINDOWS.xattr.good")).is_ok());
        }
        "unpadded-base64-xattr" => {
            assert_eq!(bad.rec_str("MSWINDOWS.xattr.short"), "QQ");
            assert!(BASE64.decode("QQ").is_err());
        }
        "fileattr-not-numeric" => {
            assert!(bad.rec_str("MSWINDOWS.fileattr").parse::<u32>().is_err());
        }
        "fileattr-out-of-range" => {
            let text = bad.rec_str("MSWINDOWS.fileattr");
            assert!(text.parse::<u32>().is_err());
            assert_eq!(text.parse::<u64>().ok(), Some(1 << 32));
        }
        "stream-without-file" => {
            assert!(seen.iter().all(|s| s.name != "Files/missing.txt"));
            let at = index(seen, &bad.name);
            assert_eq!(seen[at - 1].name, "Files/present.txt");
            assert_eq!(bad.flag, b'0');
        }
        "hard-link-unknown-target" => {
            assert_eq!(bad.flag, b'1');
            let target = bad.link.as_deref().expect("target");
            assert!(seen.iter().all(|s| s.name != target));
        }
        "bad-creationtime" => {
            assert_eq!(bad.rec_str("LIBARCHIVE.creationtime"), "abc");
        }
        "duplicate-name" => {
            assert_eq!(seen.iter().filter(|s| s.name == bad.name).count(), 2);
        }
        other => panic!("malformed case {other} has no check"),
    }
}

#[test]
fn hostile_cases_contain_their_defects() {
    let all = hostile_cases();
    let names: HashSet<&str> = all.iter().map(|m| m.name).collect();
    assert_eq!(names.len(), all.len());
    assert_eq!(all.len(), 12);
    for m in &all {
        assert!(!m.what.is_empty());
        // Only the bad entry carries hostile bytes: extension headers have tame names.
        for (flag, name) in raw_headers(&m.bytes) {
            if flag == b'x' {
                assert!(name.starts_with(b"PaxHeaders/") && !contains(&name, b".."));
            }
        }
        let seen = read(&m.bytes);
        let bad = find(&seen, m.bad_entry);
        let at = index(&seen, m.bad_entry);
        let before = &seen[..at];
        match m.name {
            "dotdot-escape" | "whiteout-dotdot" | "whiteout-escape" => {
                assert!(bad.name.split('/').any(|c| c == ".."));
                assert_eq!(m.name != "dotdot-escape", is_whiteout(&bad.name));
            }
            "backslash-dotdot-escape" => {
                assert!(!bad.name.split('/').any(|c| c == ".."));
                assert!(bad.name.replace('/', r"\").split('\\').any(|c| c == ".."));
            }
            "absolute-name" => assert!(bad.name.starts_with('/')),
            "drive-name" => assert!(bad.name.contains(':')),
            "through-symlink" | "through-mount-point" | "through-symlink-other-case" => {
                let parent = bad.name.rsplit_once('/').expect("parent").0;
                let reparse = before
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(parent))
                    .expect("a reparse point before the entry");
                assert_eq!(reparse.flag, b'2');
                assert_eq!(
                    m.name == "through-mount-point",
                    reparse.rec("MSWINDOWS.mountpoint").is_some()
                );
                assert_eq!(
                    m.name == "through-symlink-other-case",
                    reparse.name != parent
                );
            }
            "hard-link-escape" | "hard-link-absolute" | "hard-link-through-symlink" => {
                assert_eq!(bad.flag, b'1');
                let target = bad.link.as_deref().expect("target");
                let escapes = target.starts_with('/')
                    || target.split('/').any(|c| c == "..")
                    || before
                        .iter()
                        .any(|s| s.flag == b'2' && target.starts_with(&format!("{}/", s.name)));
                assert!(escapes, "{target}");
            }
            other => panic!("hostile case {other} has no check"),
        }
    }
}

#[test]
fn hostile_archives_are_named_deterministic_and_readable_up_to_their_defect() {
    let all = hostile_archives();
    let names: HashSet<&str> = all.iter().map(|a| a.name).collect();
    assert_eq!(names.len(), all.len());
    assert!(all.len() >= 45, "{}", all.len());
    for class in [
        Class::Names,
        Class::Whiteouts,
        Class::Escapes,
        Class::Structure,
        Class::Sparse,
        Class::Limits,
        Class::Bombs,
    ] {
        assert!(all.iter().any(|a| a.class == class), "{class:?}");
    }
    let again = hostile_archives();
    for (a, b) in all.iter().zip(&again) {
        assert_eq!(a, b, "{} is not deterministic", a.name);
        assert!(!a.what.is_empty());
        let HostileInput::Tar(bytes) = &a.input else {
            assert_eq!(a.class, Class::Bombs);
            continue;
        };
        // Every refused entry is spelled in the archive (the empty name excepted).
        if let Expect::Refused { entry } = a.expect
            && a.name != "name-empty"
        {
            assert!(contains(bytes, entry.as_bytes()), "{}: {entry}", a.name);
        }
        // Whiteout cases are delta layers; nothing else needs a parent.
        assert_eq!(
            a.kind == LayerKind::Delta,
            a.class == Class::Whiteouts,
            "{}",
            a.name
        );
    }
}

#[test]
fn truncations_are_prefixes_of_one_archive() {
    let all = hostile_archives();
    let get = |n: &str| match &all.iter().find(|a| a.name == n).expect(n).input {
        HostileInput::Tar(b) => b.clone(),
        HostileInput::Bomb { .. } => panic!("{n}"),
    };
    let whole = get("truncated-after-one-zero-block");
    for n in [
        "truncated-inside-pax-header-block",
        "truncated-inside-pax-records",
        "truncated-between-pax-and-entry",
        "truncated-inside-main-header",
        "truncated-after-main-header",
        "truncated-inside-body",
        "truncated-inside-padding",
        "truncated-inside-stream-body",
        "truncated-without-end-marker",
        "truncated-inside-first-zero-block",
        "truncated-inside-second-zero-block",
    ] {
        let cut = get(n);
        assert!(whole.starts_with(&cut) || cut.starts_with(&whole), "{n}");
    }
    // Cut exactly where the main header of Files/victim.bin starts, after its PAX header.
    let cut = get("truncated-between-pax-and-entry");
    let main = crate::raw::header_at(&whole, "Files/victim.bin").expect("victim");
    assert_eq!(cut.len(), main);
    assert_eq!(
        crate::raw::header_at(&whole, "PaxHeaders/victim.bin").expect("its PAX header"),
        main - 1024
    );
    let padded = read(&get("truncated-without-end-marker"));
    assert_eq!(
        padded.last().map(|s| s.name.as_str()),
        Some("Files/after.txt")
    );
}

#[test]
fn sparse_cases_claim_what_they_say() {
    let all = hostile_archives();
    for (name, size) in [
        ("sparse-pax-8gib", 8u64 << 30),
        ("sparse-old-gnu-8gib", 8 << 30),
        ("sparse-pax-1tib", 1 << 40),
        ("sparse-old-gnu-1tib", 1 << 40),
    ] {
        let a = all.iter().find(|a| a.name == name).expect(name);
        let HostileInput::Tar(bytes) = &a.input else {
            panic!("{name}")
        };
        assert!(bytes.len() <= 6 * 1024, "{name}: {} bytes", bytes.len());
        let text = String::from_utf8_lossy(bytes);
        if name.contains("pax") {
            assert!(
                text.contains(&format!("GNU.sparse.realsize={size}\n")),
                "{name}"
            );
        } else {
            // Old GNU: typeflag S, the real size in base-256 at offset 483.
            let at = bytes
                .chunks(512)
                .position(|b| b[156] == b'S')
                .expect("an S header")
                * 512;
            let field = &bytes[at + 483..at + 495];
            assert_eq!(field[0], 0x80);
            let v = field[4..]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
            assert_eq!(v, size, "{name}");
        }
    }
}

/// Decodes a small bomb of each kind and compares it with the archive it stands for.
#[test]
fn bombs_decode_to_the_archive_they_stand_for() {
    for zeros in [0u64, 1, 511, 512, (3 << 20) + 100] {
        let mut want = crate::bombs::prefix(zeros).expect("prefix");
        let padded = zeros.div_ceil(512) * 512 + 1024;
        want.resize(want.len() + usize::try_from(padded).expect("small"), 0);
        let seen = read(&want);
        assert_eq!(seen.last().map(|s| s.size), Some(zeros));
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut packed = Vec::new();
            write_bomb(compression, zeros, &mut packed).expect("written");
            let mut got = Vec::new();
            match compression {
                Compression::Gzip => {
                    flate2::read::GzDecoder::new(&packed[..])
                        .read_to_end(&mut got)
                        .expect("valid gzip");
                }
                Compression::Zstd => {
                    zstd::stream::read::Decoder::new(&packed[..])
                        .expect("decoder")
                        .read_to_end(&mut got)
                        .expect("valid zstd");
                }
            }
            assert!(got == want, "{compression:?} of {zeros} zeros");
        }
    }
    // The real ones: 8 GiB in a few MiB, written at once.
    let mut sink = Counter(0);
    write_bomb(Compression::Zstd, 8 << 30, &mut sink).expect("written");
    assert!(sink.0 < 300 << 10, "{}", sink.0);
    let mut sink = Counter(0);
    write_bomb(Compression::Gzip, 8 << 30, &mut sink).expect("written");
    assert!(sink.0 < 9 << 20, "{}", sink.0);
}

/// Counts what is written.
struct Counter(u64);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn tamper_cases_are_named_and_need_root_only_for_device_nodes() {
    let all = tamper_cases();
    let names: HashSet<&str> = all.iter().map(|t| t.name).collect();
    assert_eq!(names.len(), all.len());
    assert!(all.len() >= 15);
    for t in &all {
        assert!(!t.steps.is_empty() && !t.bad_entry.is_empty() && !t.what.is_empty());
        let device = t.steps.iter().any(|s| matches!(s, Tamper::ZeroDevice(_)));
        assert_eq!(t.root_only, device, "{}", t.name);
    }
    // The base and delta layers they start from read back as written.
    let base = read(&hostile_base());
    assert!(
        base.iter()
            .any(|s| s.name == "Files/victim.txt:big" && s.size == 70_000)
    );
    let delta = read(&hostile_delta());
    let link = find(&delta, "Files/link.txt");
    assert_eq!(
        (link.flag, link.link.as_deref()),
        (b'1', Some("Files/victim.txt"))
    );
}

//! Tests of the generator: determinism, the counts against the profiles, what a tar reader
//! and wclayer's import make of the archives.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::profile::{CORE, NANO, Profile};
use crate::{Summary, generate};

/// A writer that hashes and counts.
#[derive(Default)]
struct Hashing {
    hash: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn digest(profile: &Profile, scale: f64, seed: u64) -> (String, Summary) {
    let mut h = Hashing::default();
    let summary = generate(profile, scale, seed, &mut h).unwrap();
    assert_eq!(summary.tar_bytes, h.bytes);
    (hex::encode(h.hash.finalize()), summary)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, sa) = digest(&NANO, 0.01, 7);
    let (b, sb) = digest(&NANO, 0.01, 7);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, _) = digest(&NANO, 0.01, 8);
    assert_ne!(a, c);
}

fn within(actual: u64, expected: f64, tolerance: f64) -> bool {
    let a = actual as f64;
    a >= expected * (1.0 - tolerance) && a <= expected * (1.0 + tolerance)
}

fn check_counts(profile: &Profile, scale: f64) {
    let (_, s) = digest(profile, scale, 1);
    let entries = profile.expected_entries as f64 * scale;
    let links = profile.expected_links as f64 * scale;
    assert!(within(s.entries, entries, 0.25), "{s:?} vs {entries}");
    assert!(within(s.hard_links, links, 0.25), "{s:?} vs {links}");
    let bytes = profile.file_bytes as f64 * scale;
    assert!(within(s.file_bytes, bytes, 0.02), "{s:?} vs {bytes}");
    assert_eq!(
        s.entries,
        s.dirs + s.files + s.hard_links + s.reparse_points + s.streams
    );
    assert_eq!(s.descriptors, 7);
    assert!(s.reparse_points >= 2 && s.streams >= 2, "{s:?}");
    assert!(s.long_names > 0, "{s:?}");
    // Contents plus headers: at most a few KiB of headers per entry.
    assert!(s.tar_bytes > s.file_bytes && s.tar_bytes < s.file_bytes + s.entries * 4096);
}

#[test]
fn counts_follow_the_nano_profile() {
    check_counts(&NANO, 0.05);
}

#[test]
fn counts_follow_the_core_profile() {
    check_counts(&CORE, 0.01);
}

/// Reads the archive back with the `tar` crate and checks every entry against the mapping
/// (docs/oci-tar-mapping.md §2 and §4): the records each kind carries, hard links to
/// earlier names, streams right after their file.
#[test]
fn a_tar_reader_sees_what_the_summary_says() {
    let mut tar = Vec::new();
    let s = generate(&NANO, 0.01, 3, &mut tar).unwrap();
    assert_eq!(tar.len() as u64, s.tar_bytes);
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut seen = HashSet::new();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut bytes = 0;
    let mut previous_file = String::new();
    let mut sds = HashSet::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let kind = entry.header().entry_type();
        let mut records = HashMap::new();
        for r in entry.pax_extensions().unwrap().unwrap() {
            let r = r.unwrap();
            records.insert(r.key().unwrap().to_owned(), r.value_bytes().to_vec());
        }
        for key in ["mtime", "atime", "ctime"] {
            assert!(records.contains_key(key), "{name}: no {key}");
        }
        let is_stream = name.contains(':');
        if is_stream {
            *counts.entry("stream").or_default() += 1;
            assert!(name.starts_with(&format!("{previous_file}:")), "{name}");
            assert!(!records.contains_key("MSWINDOWS.fileattr"), "{name}");
        } else {
            assert!(records.contains_key("MSWINDOWS.fileattr"), "{name}");
            assert!(records.contains_key("LIBARCHIVE.creationtime"), "{name}");
            let parent = name.rsplit_once('/').map(|p| p.0);
            if let Some(parent) = parent {
                assert!(seen.contains(parent), "{name} before its directory");
            }
        }
        match kind {
            tar::EntryType::Directory => *counts.entry("dir").or_default() += 1,
            tar::EntryType::Link => {
                *counts.entry("link").or_default() += 1;
                let target = String::from_utf8(entry.link_name_bytes().unwrap().into_owned());
                assert!(
                    seen.contains(&target.unwrap()),
                    "{name}: link to a later name"
                );
                assert!(!records.contains_key("MSWINDOWS.rawsd"), "{name}");
            }
            tar::EntryType::Symlink => {
                *counts.entry("reparse").or_default() += 1;
                assert!(records.contains_key("MSWINDOWS.rawsd"), "{name}");
            }
            tar::EntryType::Regular if !is_stream => {
                *counts.entry("file").or_default() += 1;
                bytes += entry.header().size().unwrap();
                previous_file = name.clone();
                let sd = records.get("MSWINDOWS.rawsd").expect("rawsd").clone();
                sds.insert(sd);
            }
            tar::EntryType::Regular => {}
            other => panic!("{name}: unexpected {other:?}"),
        }
        if let Some(sd) = records.get("MSWINDOWS.rawsd") {
            sds.insert(sd.clone());
        }
        io::copy(&mut entry, &mut io::sink()).unwrap();
        seen.insert(name);
    }
    assert_eq!(counts.get("dir").copied().unwrap_or(0), s.dirs);
    assert_eq!(counts.get("file").copied().unwrap_or(0), s.files);
    assert_eq!(counts.get("link").copied().unwrap_or(0), s.hard_links);
    assert_eq!(
        counts.get("reparse").copied().unwrap_or(0),
        s.reparse_points
    );
    assert_eq!(counts.get("stream").copied().unwrap_or(0), s.streams);
    assert_eq!(bytes, s.file_bytes);
    assert!(sds.len() >= 4, "only {} distinct descriptors", sds.len());
}

/// The importer the benchmark measures accepts the archive and counts what the generator
/// wrote.
#[test]
fn wclayer_imports_the_generated_layer() {
    let mut tar = Vec::new();
    let s = generate(&NANO, 0.01, 5, &mut tar).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    let stats = wclayer::import_layer_from_tar_with_stats(
        tar.as_slice(),
        &layer,
        &[],
        &wclayer::Limits::default(),
    )
    .unwrap();
    assert_eq!(stats.links, s.hard_links);
    assert_eq!(
        stats.files,
        s.entries - s.hard_links - s.streams,
        "{stats:?} {s:?}"
    );
    assert_eq!(stats.total_size, s.file_bytes);
    assert_eq!(stats.tombstones, 0);
    let mut exported = Vec::new();
    wclayer::export_layer_to_tar(&mut exported, &layer, &[]).unwrap();
    assert!(exported.len() as u64 > s.file_bytes / 2);
}

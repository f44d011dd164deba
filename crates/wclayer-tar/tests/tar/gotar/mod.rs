//! `gotar::GoTarWriter` against Go's `archive/tar`: the worked example of docs/oci-tar-mapping.md §9
//! (docs/oci-tar-mapping.md §9), the reference exports written by Go, a Go-generated digest of edge
//! cases, the byte rules of §8, the errors, and property tests read back with the `tar` crate.

mod byte_rules;
mod errors;
mod go_reference;
mod props;
mod spec_example;

use std::io::Write;

use sha2::{Digest, Sha256};
use wclayer_backup::UnixTime;
use wclayer_tar::gotar::{GoTarWriter, Header};

const BLOCK: usize = 512;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `entries` (header + data) and the trailer.
fn archive(entries: &[(Header, &[u8])]) -> Vec<u8> {
    let mut tw = GoTarWriter::new(Vec::new());
    for (h, data) in entries {
        tw.write_header(h).unwrap();
        tw.write_all(data).unwrap();
    }
    tw.finish().unwrap()
}

/// A NUL-terminated header field as a string.
fn cstr(field: &[u8]) -> &str {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end]).unwrap()
}

/// Spec §3 parse rules (the test's own, to check what the writer emits).
fn parse_pax_time(s: &str) -> UnixTime {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = int.parse().unwrap();
    let mut digits = frac.to_owned();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: i64 = digits[..9].parse().unwrap();
    let nanos = if int.starts_with('-') { -nanos } else { nanos };
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    UnixTime {
        secs: i64::try_from(total.div_euclid(1_000_000_000)).unwrap(),
        nanos: u32::try_from(total.rem_euclid(1_000_000_000)).unwrap(),
    }
}

fn one(h: &Header, data: &[u8]) -> Vec<u8> {
    archive(&[(h.clone(), data)])
}

/// The records of the `x` header at the start of `ar`.
fn records_at_start(ar: &[u8]) -> &str {
    assert_eq!(ar[156], b'x');
    let len = usize::from_str_radix(cstr(&ar[124..136]), 8).unwrap();
    std::str::from_utf8(&ar[BLOCK..BLOCK + len]).unwrap()
}

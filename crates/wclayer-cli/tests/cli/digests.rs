//! The digests `export` and `convert` print are the SHA-256 of what they write: the diffID
//! of the uncompressed tar, and for a compressed export the digest and length of the
//! compressed stream. Compressed streams are complete.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::{data, s, stderr_of, stdout_of, wclayer};

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The value printed after `prefix` (`diffID sha256:`, `digest sha256:`) on the single
/// line of `err` that starts with it: the hex digest and, when printed, the length in
/// parentheses.
fn printed(err: &str, prefix: &str) -> (String, Option<u64>) {
    let mut lines = err.lines().filter_map(|l| l.strip_prefix(prefix));
    let line = lines
        .next()
        .unwrap_or_else(|| panic!("no {prefix:?} line in {err:?}"));
    assert!(lines.next().is_none(), "two {prefix:?} lines in {err:?}");
    let (hex, rest) = line.split_at(64.min(line.len()));
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line:?}"
    );
    let len = rest.strip_prefix(" (").map(|r| {
        r.strip_suffix(" bytes)")
            .unwrap_or_else(|| panic!("{line:?}"))
            .parse()
            .unwrap()
    });
    assert!(len.is_some() || rest.is_empty(), "{line:?}");
    (hex.to_string(), len)
}

/// A layer directory imported from the reference vector with streams and links.
fn layer(dir: &std::path::Path) -> std::path::PathBuf {
    let layer = dir.join("layer");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v2_streams_links.tar")),
        &s(&layer),
    ]);
    layer
}

#[test]
fn export_prints_the_sha256_of_the_tar_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let layer = layer(dir.path());
    let want = std::fs::read(data("exports/v2_streams_links.export.tar")).unwrap();
    let out = dir.path().join("out.tar");
    let err = stderr_of(&["export", "-o", &s(&out), &s(&layer)]);
    let tar = std::fs::read(&out).unwrap();
    assert!(tar == want);
    assert_eq!(printed(&err, "diffID sha256:"), (sha256(&tar), None));
    assert!(!err.contains("digest sha256:"), "{err}");
    // To standard output as well.
    let out = wclayer().args(["export", &s(&layer)]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == want);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(printed(&err, "diffID sha256:"), (sha256(&want), None));
}

#[test]
fn compressed_exports_are_complete_and_print_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let layer = layer(dir.path());
    let want = std::fs::read(data("exports/v2_streams_links.export.tar")).unwrap();
    for flag in ["-z", "--gzip", "--zstd"] {
        let out = dir.path().join(format!("out{flag}"));
        let err = stderr_of(&["export", flag, "-o", &s(&out), &s(&layer)]);
        let compressed = std::fs::read(&out).unwrap();
        let tar = if flag == "--zstd" {
            zstd::decode_all(&compressed[..]).expect("a complete zstd stream")
        } else {
            // A single-member decoder: it fails without the gzip trailer (CRC and length).
            let mut v = Vec::new();
            flate2::read::GzDecoder::new(&compressed[..])
                .read_to_end(&mut v)
                .expect("a finished gzip stream");
            v
        };
        assert!(tar == want, "{flag}");
        assert_eq!(
            printed(&err, "diffID sha256:"),
            (sha256(&tar), None),
            "{flag}"
        );
        assert_eq!(
            printed(&err, "digest sha256:"),
            (sha256(&compressed), Some(compressed.len() as u64)),
            "{flag}"
        );
        // And the compressed stream imports again.
        let again = dir.path().join(format!("again{flag}"));
        wclayer()
            .args(["import", &s(&again)])
            .write_stdin(compressed)
            .assert()
            .success();
    }
}

#[test]
fn convert_prints_the_sha256_of_the_tar_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    for case in crate::VECTORS {
        let out = dir.path().join(format!("{case}.tar"));
        let err = stderr_of(&["convert", &s(&data(&format!("{case}.tar"))), &s(&out)]);
        let tar = std::fs::read(&out).unwrap();
        assert_eq!(
            printed(&err, "diffID sha256:"),
            (sha256(&tar), Some(tar.len() as u64)),
            "{case}"
        );
    }
}

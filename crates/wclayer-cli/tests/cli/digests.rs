//! The digests `export` and `convert` print are the SHA-256 of what they write: the diffID
//! of the uncompressed tar, and for a compressed export the digest and length of the
//! compressed stream. Compressed streams are complete.

use std::io::Read;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{data, s, stdout_of, wclayer};

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
    let err = stdout_of(&["export", "-o", &s(&out), &s(&layer)]);
    let tar = std::fs::read(&out).unwrap();
    assert!(tar == want);
    assert_eq!(
        printed(&err, "diffID sha256:"),
        (sha256(&tar), Some(tar.len() as u64))
    );
    assert!(!err.contains("digest sha256:"), "{err}");
    // With --json: an uncompressed tar's digest is its diffID (hashed once).
    let json: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "export",
        "--json",
        "--force",
        "-o",
        &s(&out),
        &s(&layer),
    ]))
    .unwrap();
    let want_digest = format!("sha256:{}", sha256(&tar));
    assert_eq!(json["diff_id"], json!(want_digest), "{json}");
    assert_eq!(json["digest"], json!(want_digest), "{json}");
    // To standard output as well.
    let out = wclayer().args(["export", &s(&layer)]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == want);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        printed(&err, "diffID sha256:"),
        (sha256(&want), Some(want.len() as u64))
    );
}

#[test]
fn compressed_exports_are_complete_and_print_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let layer = layer(dir.path());
    let want = std::fs::read(data("exports/v2_streams_links.export.tar")).unwrap();
    for flag in ["-z", "--gzip", "--zstd"] {
        let out = dir.path().join(format!("out{flag}"));
        let err = stdout_of(&["export", flag, "-o", &s(&out), &s(&layer)]);
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
            (sha256(&tar), Some(tar.len() as u64)),
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
        let err = stdout_of(&["convert", &s(&data(&format!("{case}.tar"))), &s(&out)]);
        let tar = std::fs::read(&out).unwrap();
        assert_eq!(
            printed(&err, "diffID sha256:"),
            (sha256(&tar), Some(tar.len() as u64)),
            "{case}"
        );
    }
}

/// A layer tar of several MiB, more than a few gzip blocks: files that do not compress,
/// files that compress well, and small ones between them.
fn big_layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..24 {
        let len = [700_000, 3, 150_001, 1 << 20][i % 4];
        let data: Vec<u8> = if i % 3 == 0 {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[5]
                })
                .collect()
        } else {
            (0..len)
                .map(|n: usize| b"Windows\\System32\\drivers "[(n / 3 + i) % 25])
                .collect()
        };
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, format!("Files/f{i}.bin"), &data[..])
            .unwrap();
    }
    b.into_inner().unwrap()
}

fn have(tool: &str, arg: &str) -> bool {
    std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `export -z` writes one gzip member that gzip, Python's `gzip`/`zlib` and (when installed)
/// Go's `compress/gzip` read to exactly the bytes of the plain export, with nothing after it.
#[test]
fn gzip_export_is_one_member_other_readers_accept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.tar");
    std::fs::write(&input, big_layer_tar()).unwrap();
    let layer = dir.path().join("layer");
    stdout_of(&["import", "-i", &s(&input), &s(&layer)]);
    let plain = dir.path().join("plain.tar");
    let plain_err = stdout_of(&["export", "-o", &s(&plain), &s(&layer)]);
    let plain = std::fs::read(&plain).unwrap();
    assert!(plain.len() > 5 << 20, "{}", plain.len());
    let gz = dir.path().join("out.tar.gz");
    let err = stdout_of(&["export", "-z", "-o", &s(&gz), &s(&layer)]);
    // The level never changes the tar: the same diffID as the plain export.
    assert_eq!(
        printed(&err, "diffID sha256:"),
        printed(&plain_err, "diffID sha256:")
    );
    let compressed = std::fs::read(&gz).unwrap();
    assert_eq!(
        printed(&err, "digest sha256:"),
        (sha256(&compressed), Some(compressed.len() as u64))
    );
    // One member: a single-member decoder reads it all and leaves nothing.
    let mut d = flate2::bufread::GzDecoder::new(&compressed[..]);
    let mut tar = Vec::new();
    d.read_to_end(&mut tar).unwrap();
    assert!(d.into_inner().is_empty(), "bytes after the gzip member");
    assert!(tar == plain);
    // The same bytes at every run.
    let again = dir.path().join("again.tar.gz");
    stdout_of(&["export", "-z", "-o", &s(&again), &s(&layer)]);
    assert!(std::fs::read(&again).unwrap() == compressed);

    if have("gzip", "--version") {
        let out = std::process::Command::new("gzip")
            .args(["-t", &s(&gz)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gzip -t: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if have("python3", "--version") {
        let script = "import gzip, hashlib, sys, zlib\n\
            data = open(sys.argv[1], 'rb').read()\n\
            d = zlib.decompressobj(wbits=31)\n\
            tar = d.decompress(data) + d.flush()\n\
            assert d.eof, 'the member does not end'\n\
            assert d.unused_data == b'', 'bytes after the gzip member'\n\
            assert gzip.GzipFile(fileobj=open(sys.argv[1], 'rb')).read() == tar\n\
            print(hashlib.sha256(tar).hexdigest())\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script, &s(&gz)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            sha256(&plain)
        );
    }
    if have("go", "version") {
        let src = dir.path().join("check.go");
        std::fs::write(
            &src,
            r#"package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	if err != nil {
		panic(err)
	}
	zr.Multistream(false)
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		panic(err)
	}
	if n, _ := io.Copy(io.Discard, br); n != 0 {
		panic(fmt.Sprintf("%d bytes after the gzip member", n))
	}
	fmt.Printf("%x\n", h.Sum(nil))
}
"#,
        )
        .unwrap();
        let out = std::process::Command::new("go")
            .args(["run", &s(&src), &s(&gz)])
            .env("GO111MODULE", "off")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "go: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            sha256(&plain)
        );
    }
}

/// `import` prints the diffID of what it read: the SHA-256 of the whole uncompressed input,
/// the bytes after the archive's end included (they are part of the layer blob a registry
/// serves, and so of its diffID), for a plain, a gzip and a zstd input.
#[test]
fn import_prints_the_sha256_of_the_uncompressed_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut tar = std::fs::read(data("v2_streams_links.tar")).unwrap();
    // Padding after the end-of-archive blocks, as `tar -b` writes it.
    tar.extend_from_slice(&[0u8; 10240]);
    let want = sha256(&tar);
    let plain = dir.path().join("in.tar");
    std::fs::write(&plain, &tar).unwrap();
    let gz = dir.path().join("in.tar.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &tar).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let zst = dir.path().join("in.tar.zst");
    std::fs::write(&zst, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    for (i, input) in [plain, gz, zst].iter().enumerate() {
        let layer = dir.path().join(format!("layer{i}"));
        let err = stdout_of(&["import", "-i", &s(input), &s(&layer)]);
        assert_eq!(
            printed(&err, "diffID sha256:"),
            (want.clone(), None),
            "{}",
            input.display()
        );
    }
    // From standard input too.
    let out = wclayer()
        .args(["import", &s(&dir.path().join("layer-stdin"))])
        .write_stdin(std::fs::read(dir.path().join("in.tar.gz")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed(&err, "diffID sha256:"), (want, None));
}

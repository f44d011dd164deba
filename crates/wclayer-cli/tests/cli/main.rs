//! The `wclayer` command as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wclayer-tar/tests/data");
const VECTORS: [&str; 5] = [
    "v1_base_names_times",
    "v2_streams_links",
    "v3_delta",
    "v4_plain_ustar",
    "v5_model_details",
];
const USERS_SD: &str = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";

fn wclayer() -> Command {
    Command::cargo_bin("wclayer").unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = wclayer().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "wclayer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

// ---- sddl (issue: foundation) ---------------------------------------------------------------

#[test]
fn sddl_of_the_users_descriptor_and_back() {
    assert_eq!(stdout_of(&["sddl", USERS_SD]), "O:BUG:BU\n");
    assert_eq!(
        stdout_of(&["sddl", "--to-binary", "O:BUG:BU"]),
        format!("{USERS_SD}\n")
    );
}

#[test]
fn sddl_real_world_descriptor_round_trips() {
    let sddl =
        "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)";
    let b64 = stdout_of(&["sddl", "--to-binary", sddl]);
    assert_eq!(stdout_of(&["sddl", b64.trim()]).trim(), sddl);
}

#[test]
fn sddl_bad_input_is_a_one_line_error() {
    for args in [
        &["sddl", "not base64!"][..],
        &["sddl", "AAAA"],
        &["sddl", "--to-binary", "O:BAG:SYD:(A;;FA;;;XX)"],
        &["sddl", "--to-binary", "O:BAG:SYD:(A;;FA;;;BA"],
    ] {
        let out = wclayer().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("wclayer: error: "), "{err}");
    }
}

// ---- trace and convert (issue: OCI tar mapping) -------------------------------------------

#[test]
fn trace_matches_the_reference_vectors() {
    for case in VECTORS {
        let got = stdout_of(&["trace", data(&format!("{case}.tar")).to_str().unwrap()]);
        let want = std::fs::read_to_string(data(&format!("{case}.trace.jsonl"))).unwrap();
        let got: Vec<serde_json::Value> = got
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want: Vec<serde_json::Value> = want
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn convert_matches_the_reference_vectors_and_is_a_fixed_point() {
    let dir = tempfile::tempdir().unwrap();
    for case in VECTORS {
        let out = dir.path().join(format!("{case}.tar"));
        let again = dir.path().join(format!("{case}.again.tar"));
        let input = data(&format!("{case}.tar"));
        wclayer()
            .args(["convert", input.to_str().unwrap(), out.to_str().unwrap()])
            .assert()
            .success();
        let want = std::fs::read(data(&format!("exports/{case}.export.tar"))).unwrap();
        assert!(std::fs::read(&out).unwrap() == want, "{case}");
        wclayer()
            .args(["convert", out.to_str().unwrap(), again.to_str().unwrap()])
            .assert()
            .success();
        assert!(std::fs::read(&again).unwrap() == want, "{case} again");
    }
}

#[test]
fn compressed_input_and_standard_streams() {
    let tar = std::fs::read(data("v2_streams_links.tar")).unwrap();
    let want = std::fs::read(data("exports/v2_streams_links.export.tar")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for input in [tar.clone(), gz, zst] {
        let out = wclayer()
            .args(["convert", "-", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == want);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("diffID sha256:"), "{err}");
    }
}

#[test]
fn sample_layers_convert_to_a_fixed_point() {
    let dir = tempfile::tempdir().unwrap();
    let list = stdout_of(&["sample", "--list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"base") && names.contains(&"delta"),
        "{list}"
    );
    for name in names {
        let sample = dir.path().join(format!("{name}.tar"));
        let once = dir.path().join(format!("{name}.1.tar"));
        let twice = dir.path().join(format!("{name}.2.tar"));
        let s = |p: &Path| p.to_str().unwrap().to_string();
        stdout_of(&[
            "sample",
            name,
            "-o",
            &s(&sample),
            "--big-file-size",
            "100000",
        ]);
        stdout_of(&["convert", &s(&sample), &s(&once)]);
        stdout_of(&["convert", &s(&once), &s(&twice)]);
        assert!(
            std::fs::read(&once).unwrap() == std::fs::read(&twice).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn malformed_tars_fail_with_one_line_naming_the_entry_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    for m in wclayer_gen::malformed_cases() {
        let input = dir.path().join(format!("{}.tar", m.name));
        std::fs::write(&input, &m.bytes).unwrap();
        let output = dir.path().join(format!("{}.out.tar", m.name));
        for args in [
            vec!["convert", input.to_str().unwrap(), output.to_str().unwrap()],
            vec!["trace", input.to_str().unwrap()],
        ] {
            let out = wclayer().args(&args).output().unwrap();
            assert!(!out.status.success(), "{}: {args:?} succeeded", m.name);
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{}: {err}", m.name);
            assert!(
                err.contains(m.bad_entry),
                "{}: {err:?} lacks {}",
                m.name,
                m.bad_entry
            );
        }
        assert!(!output.exists(), "{}: a partial output was left", m.name);
    }
    // Nothing but the inputs is left in the directory (no temporary files either).
    let left = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(left, wclayer_gen::malformed_cases().len());
}

#[test]
fn ls_shows_the_windows_metadata() {
    let tar = data("v2_streams_links.tar");
    let out = stdout_of(&["ls", "--json", tar.to_str().unwrap()]);
    let entries: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_name = |n: &str| {
        entries
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} not listed: {out}"))
    };
    let doc = by_name("Files\\doc.txt");
    let first = by_name("Files\\doc-link.txt");
    assert_eq!(first["kind"], "file");
    assert_eq!(first["sddl"], "O:BUG:BU");
    assert_eq!(
        first["extended_attributes"],
        serde_json::json!(["ALPHA", "zeta"])
    );
    assert_eq!(first["alternate_streams"][0]["name"], "Zone.Identifier");
    assert_eq!(first["number_of_links"], 3);
    assert_eq!(doc["kind"], "hardlink");
    assert_eq!(doc["link_of"], "Files\\doc-link.txt");
    let mp = by_name("Files\\dirlink");
    assert_eq!(
        (mp["kind"].as_str(), mp["reparse_target"].as_str()),
        (Some("junction"), Some("C:\\Windows"))
    );
    assert_eq!(by_name("Files\\to-doc")["kind"], "symlink");

    let delta = data("v3_delta.tar");
    let out = stdout_of(&["ls", delta.to_str().unwrap()]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("deleted") && l.ends_with("Files\\toplevel.txt")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.ends_with("Hives\\System_Delta")),
        "{out}"
    );
    let long = stdout_of(&["ls", "--long", delta.to_str().unwrap()]);
    assert!(
        long.contains("written    2023-11-14T22:13:20.2500000Z"),
        "{long}"
    );
}

// ---- import and export of layer directories ----------------------------------------------

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn import_then_export_gives_the_reference_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v1_base_names_times.tar")),
        &s(&base),
    ]);
    for case in VECTORS {
        let layer = dir.path().join(case);
        let out = dir.path().join(format!("{case}.tar"));
        let mut args = vec![
            "import".to_string(),
            "-i".into(),
            s(&data(&format!("{case}.tar"))),
        ];
        if case == "v3_delta" || case == "v5_model_details" {
            args.extend(["-l".into(), s(&base)]);
        }
        args.push(s(&layer));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stdout_of(&args);
        stdout_of(&["export", "-o", &s(&out), &s(&layer)]);
        let want = std::fs::read(data(&format!("exports/{case}.export.tar"))).unwrap();
        assert!(std::fs::read(&out).unwrap() == want, "{case}");
    }
}

#[test]
fn import_then_export_equals_convert_for_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    stdout_of(&["sample", "base", "-o", &s(&p("base.tar"))]);
    stdout_of(&["import", "-i", &s(&p("base.tar")), &s(&p("parent"))]);
    for case in ["base", "delta", "linux", "pax-global"] {
        let tar = p(&format!("{case}.tar"));
        stdout_of(&["sample", case, "-o", &s(&tar)]);
        let layer = p(&format!("layer-{case}"));
        if case == "delta" {
            stdout_of(&["import", "-l", &s(&p("parent")), "-i", &s(&tar), &s(&layer)]);
        } else {
            stdout_of(&["import", "-i", &s(&tar), &s(&layer)]);
        }
        let exported = p(&format!("{case}.export.tar"));
        let converted = p(&format!("{case}.convert.tar"));
        stdout_of(&["export", "-o", &s(&exported), &s(&layer)]);
        stdout_of(&["convert", &s(&tar), &s(&converted)]);
        assert!(
            std::fs::read(&exported).unwrap() == std::fs::read(&converted).unwrap(),
            "{case}"
        );
    }
}

#[test]
fn compressed_exports_are_complete_and_report_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v2_streams_links.tar")),
        &s(&layer),
    ]);
    let want = std::fs::read(data("exports/v2_streams_links.export.tar")).unwrap();
    for flag in ["--gzip", "--zstd"] {
        let out = wclayer()
            .args(["export", flag, &s(&layer)])
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("diffID sha256:") && err.contains("digest sha256:"),
            "{err}"
        );
        let tar = if flag == "--gzip" {
            let mut d = flate2::read::GzDecoder::new(&out.stdout[..]);
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut v).expect("a finished gzip stream");
            v
        } else {
            zstd::decode_all(&out.stdout[..]).unwrap()
        };
        assert!(tar == want, "{flag}");
        // And the compressed stream imports again.
        let again = dir.path().join(format!("again{flag}"));
        wclayer()
            .args(["import", &s(&again)])
            .write_stdin(out.stdout)
            .assert()
            .success();
    }
}

#[test]
fn killed_import_leaves_no_layer_and_a_second_import_succeeds() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("base.tar");
    stdout_of(&[
        "sample",
        "base",
        "-o",
        &s(&tar),
        "--big-file-size",
        "8000000",
    ]);
    let bytes = std::fs::read(&tar).unwrap();
    let layer = dir.path().join("layer");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wclayer"))
        .args(["import", &s(&layer)])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Feed half the archive, slowly enough that the import is under way, then kill it.
    for chunk in bytes[..bytes.len() / 2].chunks(64 << 10) {
        stdin.write_all(chunk).unwrap();
    }
    stdin.flush().unwrap();
    let staged = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains("staging"))
    });
    assert!(staged, "the import never started staging");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);
    assert!(!layer.exists(), "a killed import left a layer directory");
    stdout_of(&["import", "-i", &s(&tar), &s(&layer)]);
    assert!(layer.join("Files").is_dir());
}

#[test]
fn hostile_tars_are_refused_and_nothing_is_written_outside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let cases = wclayer_gen::hostile_cases();
    assert!(cases.len() >= 6);
    for m in &cases {
        let tar = dir.path().join(format!("{}.tar", m.name));
        std::fs::write(&tar, &m.bytes).unwrap();
        let layer = root.join("a").join("b").join(m.name);
        std::fs::create_dir_all(layer.parent().unwrap()).unwrap();
        let out = wclayer()
            .args(["import", "-i", &s(&tar), &s(&layer)])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}: accepted ({})", m.name, m.what);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{}: {err}", m.name);
        assert!(!layer.exists(), "{}: a layer was left", m.name);
    }
    // Nothing anywhere under the temporary directory but the inputs and the empty parents.
    let mut stray = Vec::new();
    for e in walk(dir.path()) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        let expected = e.is_dir() || name.ends_with(".tar");
        if !expected {
            stray.push(e);
        }
    }
    assert!(stray.is_empty(), "stray files: {stray:?}");
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// A delta tar as a Windows build would write it on top of the `base` sample: a hard link
/// to a file only the parent has, a whiteout, a changed utility VM.
fn delta_over_base_sample() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut entry =
        |name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8], attrs: u32| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            let records: Vec<(String, String)> = vec![
                ("MSWINDOWS.fileattr".into(), attrs.to_string()),
                ("atime".into(), "1700000100.5".into()),
                ("ctime".into(), "1700000200".into()),
                ("LIBARCHIVE.creationtime".into(), "1600000000".into()),
            ];
            b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
                .unwrap();
            if let Some(l) = link {
                b.append_link(&mut h, name, l).unwrap();
            } else {
                b.append_data(&mut h, name, data).unwrap();
            }
        };
    entry("Files", tar::EntryType::Directory, None, b"", 0x10);
    entry("Files/Users", tar::EntryType::Directory, None, b"", 0x10);
    entry(
        "Files/Users/Public",
        tar::EntryType::Directory,
        None,
        b"",
        0x10,
    );
    entry(
        "Files/Users/Public/readme-link.txt",
        tar::EntryType::Link,
        Some("Files/Users/Public/readme.txt"),
        b"",
        0x20,
    );
    entry(
        "Files/Users/Public/.wh.gone.txt",
        tar::EntryType::Regular,
        None,
        b"",
        0,
    );
    entry("UtilityVM", tar::EntryType::Directory, None, b"", 0x10);
    entry(
        "UtilityVM/Files",
        tar::EntryType::Directory,
        None,
        b"",
        0x10,
    );
    entry(
        "UtilityVM/Files/Windows",
        tar::EntryType::Directory,
        None,
        b"",
        0x10,
    );
    entry(
        "UtilityVM/Files/Windows/.wh.old.dll",
        tar::EntryType::Regular,
        None,
        b"",
        0,
    );
    entry(
        "UtilityVM/Files/Windows/new.dll",
        tar::EntryType::Regular,
        None,
        b"new\n",
        0x20,
    );
    b.into_inner().unwrap()
}

#[test]
fn delta_layer_over_a_base_layer() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    stdout_of(&["sample", "base", "-o", &s(&p("base.tar"))]);
    stdout_of(&["import", "-i", &s(&p("base.tar")), &s(&p("base"))]);
    std::fs::write(p("delta.tar"), delta_over_base_sample()).unwrap();
    stdout_of(&[
        "import",
        "-l",
        &s(&p("base")),
        "-i",
        &s(&p("delta.tar")),
        &s(&p("delta")),
    ]);

    // The hard link into the parent is a real hard link to the parent's file.
    let ino = |path: PathBuf| std::fs::metadata(path).unwrap().ino();
    assert_eq!(
        ino(p("delta/Files/Users/Public/readme-link.txt")),
        ino(p("base/Files/Users/Public/readme.txt"))
    );
    // Directory times are the tar's, after the tombstones and links touched the directories.
    let mtime = |path: PathBuf| std::fs::metadata(path).unwrap().mtime();
    assert_eq!(mtime(p("delta/Files/Users/Public")), 1_700_000_000);
    assert_eq!(mtime(p("delta/Files")), 1_700_000_000);
    let listed = stdout_of(&["ls", "--json", &s(&p("delta"))]);
    let entries: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files = entries.iter().find(|e| e["name"] == "Files").unwrap();
    // 1700000000 s and 1700000100.5 s after 1970, as FILETIMEs.
    assert_eq!(
        files["last_write_time"]["filetime"],
        133_444_736_000_000_000u64
    );
    assert_eq!(
        files["last_access_time"]["filetime"],
        133_444_737_005_000_000u64
    );
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "tombstone" && e["name"] == "Files\\Users\\Public\\gone.txt")
    );

    // The utility VM is cloned from the parent: ordinary files hard-linked, the BCD files
    // copied (hcsshim means to copy them; its path bug links them), removed files absent.
    let boot = "UtilityVM/Files/EFI/Microsoft/Boot";
    assert_eq!(
        ino(p("delta/UtilityVM/Files/Windows/kernel.dll")),
        ino(p("base/UtilityVM/Files/Windows/kernel.dll"))
    );
    for f in ["BCD", "BCD.LOG"] {
        let (d, b) = (
            p(&format!("delta/{boot}/{f}")),
            p(&format!("base/{boot}/{f}")),
        );
        assert_ne!(ino(d.clone()), ino(b.clone()), "{f} must be a copy");
        assert_eq!(std::fs::read(d).unwrap(), std::fs::read(b).unwrap());
    }
    assert!(!p("delta/UtilityVM/Files/Windows/old.dll").exists());
    assert_eq!(
        std::fs::read(p("delta/UtilityVM/Files/Windows/new.dll")).unwrap(),
        b"new\n"
    );

    // The export carries the linked file's content and the whiteouts.
    let out = wclayer()
        .args(["export", &s(&p("delta"))])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name == "Files/Users/Public/readme-link.txt" {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            assert_eq!(
                body,
                std::fs::read(p("base/Files/Users/Public/readme.txt")).unwrap()
            );
        }
        names.push(name);
    }
    assert!(
        names.contains(&"Files/Users/Public/.wh.gone.txt".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"UtilityVM/Files/Windows/.wh.old.dll".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("kernel.dll")),
        "clone is not exported: {names:?}"
    );
}

/// With the `otel` feature, spans go to the OTLP/HTTP collector named by
/// `OTEL_EXPORTER_OTLP_ENDPOINT`; here a one-shot collector on loopback.
#[cfg(feature = "otel")]
#[test]
fn spans_are_exported_over_otlp() {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let collector = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut r = BufReader::new(stream);
        let mut request_line = String::new();
        r.read_line(&mut request_line).unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let _ = r
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        (request_line, body)
    });
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    wclayer()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .args([
            "import",
            "-i",
            &s(&data("v1_base_names_times.tar")),
            &s(&layer),
        ])
        .assert()
        .success();
    let (request_line, body) = collector.join().unwrap();
    assert!(
        request_line.starts_with("POST /v1/traces"),
        "{request_line}"
    );
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"wclayer::new_layer_writer"), "span name missing");
    assert!(has(b"parentLayerPaths"), "span attribute missing");
}

#[test]
fn transport_folder_round_trip_and_spans_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    stdout_of(&["sample", "base", "-o", &s(&p("base.tar"))]);
    stdout_of(&["sample", "delta", "-o", &s(&p("delta.tar"))]);
    stdout_of(&["import", "-i", &s(&p("base.tar")), &s(&p("base"))]);
    stdout_of(&[
        "import",
        "-l",
        &s(&p("base")),
        "-i",
        &s(&p("delta.tar")),
        &s(&p("delta")),
    ]);
    // layer directory -> transport folder -> layer directory -> tar == convert
    let out = wclayer()
        .args([
            "--log-level",
            "info",
            "export",
            "--folder",
            &s(&p("folder")),
            &s(&p("delta")),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("wclayer::export_layer"), "{err}");
    assert!(err.contains("exportFolderPath="), "{err}");
    assert!(p("folder/tombstones.txt").is_file());
    assert!(p("folder/Files.$wcidirs$").is_file());
    stdout_of(&[
        "import",
        "--folder",
        &s(&p("folder")),
        "-l",
        &s(&p("base")),
        &s(&p("again")),
    ]);
    stdout_of(&["export", "-o", &s(&p("again.tar")), &s(&p("again"))]);
    stdout_of(&["convert", &s(&p("delta.tar")), &s(&p("convert.tar"))]);
    assert!(std::fs::read(p("again.tar")).unwrap() == std::fs::read(p("convert.tar")).unwrap());
    // Quiet by default.
    let out = wclayer()
        .args(["export", "-o", &s(&p("x.tar")), &s(&p("again"))])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stderr).unwrap().contains("wclayer::"));
}

//! Import and export of layer directories and transport folders: the reference bytes,
//! delta layers over base layers, interrupted and hostile imports.

use std::io::Write;
use std::path::PathBuf;

use crate::{VECTORS, data, ls, s, stdout_of, walk, wclayer};

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
        stdout_of(&["sample", case, "--force", "-o", &s(&tar)]);
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
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let cases = wclayer_gen::hostile_cases();
    assert!(cases.len() >= 6);
    for m in &cases {
        let tar = inputs.join(format!("{}.tar", m.name));
        std::fs::write(&tar, &m.bytes).unwrap();
        // The destination's parents exist; the import must add nothing beside it.
        let parent = dir.path().join("root").join(m.name).join("a");
        std::fs::create_dir_all(&parent).unwrap();
        let layer = parent.join("layer");
        let out = wclayer()
            .args(["import", "-i", &s(&tar), &s(&layer)])
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {} ({}): {err}",
            m.name,
            out.status,
            m.what
        );
        assert_eq!(err.lines().count(), 1, "{}: {err}", m.name);
        assert!(err.starts_with("wclayer: error: "), "{}: {err:?}", m.name);
        // Every entry is named by its tar name (a whiteout also by the name it removes).
        let named = m.bad_entry;
        assert!(
            err.contains(&format!(": {named}: ")),
            "{}: {err:?} does not name {named}",
            m.name,
        );
        assert_eq!(
            ls(&parent),
            Vec::<String>::new(),
            "{}: left beside the layer",
            m.name
        );
    }
    // Nothing anywhere under the temporary directory but the inputs and the parents made
    // for them: no staging directory, no file, nothing outside.
    let mut found: Vec<String> = walk(dir.path())
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    found.sort();
    let mut want = vec!["inputs".to_string(), "root".to_string()];
    for m in &cases {
        want.push(format!("inputs/{}.tar", m.name));
        want.push(format!("root/{}", m.name));
        want.push(format!("root/{}/a", m.name));
    }
    want.sort();
    assert_eq!(found, want);
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
            .any(|e| e["kind"] == "tombstone" && e["name"] == "Files/Users/Public/gone.txt")
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

/// Runs `wclayer ARGS` and fails the test if it has not finished within 60 s (an export
/// blocked on a FIFO would otherwise hang the run); returns its exit status and stderr.
fn run_within_a_minute(args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::process::Stdio;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wclayer"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("wclayer {args:?} blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status, err)
}

/// A FIFO planted in a layer directory in place of a content file makes the export fail at
/// once, naming the entry, instead of blocking on the open; no output file is left.
#[test]
fn export_of_a_layer_with_a_planted_fifo_fails_at_once_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v1_base_names_times.tar")),
        &s(&layer),
    ]);
    let victim = layer.join("Files/old.txt");
    assert!(victim.is_file());
    std::fs::remove_file(&victim).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&victim)
        .status()
        .unwrap();
    assert!(status.success());

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let tar = out.join("layer.tar");
    let (status, err) = run_within_a_minute(&["export", "-o", &s(&tar), &s(&layer)]);
    assert_eq!(status.code(), Some(1), "{status}: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wclayer: error: "), "{err:?}");
    assert!(
        err.contains("Files\\old.txt: open content file"),
        "{err:?} does not name the entry"
    );
    assert!(err.contains("FIFO"), "{err:?}");
    assert_eq!(ls(&out), Vec::<String>::new(), "a partial output was left");
}

/// A tar with names Linux cannot hold: components of 100 CJK characters (300 bytes, 100
/// UTF-16 units, so NTFS can), as a directory, a file below it and a file with an
/// alternate data stream.
fn long_names_tar(long: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut entry = |name: &str, kind: tar::EntryType, data: &[u8], attrs: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let records: Vec<(String, String)> = vec![
            ("path".into(), name.into()),
            ("MSWINDOWS.fileattr".into(), attrs.to_string()),
            ("MSWINDOWS.rawsd".into(), crate::USERS_SD.into()),
            ("MSWINDOWS.xattr.NAME".into(), "dmFsdWU=".into()),
            ("atime".into(), "1700000100.5".into()),
            ("ctime".into(), "1700000200".into()),
            ("LIBARCHIVE.creationtime".into(), "1600000000".into()),
        ];
        b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .unwrap();
        h.set_path("placeholder").unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    entry("Files", tar::EntryType::Directory, b"", 0x10);
    entry(
        &format!("Files/{long}"),
        tar::EntryType::Directory,
        b"",
        0x10,
    );
    entry(
        &format!("Files/{long}/{long}.txt"),
        tar::EntryType::Regular,
        b"below a long directory name\n",
        0x20,
    );
    entry(
        &format!("Files/{long}.bin"),
        tar::EntryType::Regular,
        b"a long file name\n",
        0x20,
    );
    entry(
        &format!("Files/{long}.bin:{long}"),
        tar::EntryType::Regular,
        b"its alternate data stream\n",
        0,
    );
    b.into_inner().unwrap()
}

/// Names longer than a Linux component (255 bytes) survive tar -> layer directory ->
/// transport folder -> layer directory -> tar byte for byte: both stores keep them under
/// derived names with the real name in their metadata.
#[test]
fn names_longer_than_linux_holds_round_trip_through_the_transport_folder() {
    let long = "漢".repeat(100);
    assert_eq!(long.len(), 300);
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("x.tar"), long_names_tar(&long)).unwrap();
    stdout_of(&["import", "-i", &s(&p("x.tar")), &s(&p("L"))]);
    stdout_of(&["export", "--folder", &s(&p("F")), &s(&p("L"))]);
    stdout_of(&["import", "--folder", &s(&p("F")), &s(&p("L2"))]);
    let first = wclayer().args(["export", &s(&p("L"))]).output().unwrap();
    let second = wclayer().args(["export", &s(&p("L2"))]).output().unwrap();
    assert!(first.status.success() && second.status.success());
    assert!(!first.stdout.is_empty());
    assert!(
        second.stdout == first.stdout,
        "the round trip changed the export"
    );

    // The long names are in the export, with their content.
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&first.stdout[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        names.push((name, body));
    }
    let body_of = |n: String| {
        names
            .iter()
            .find(|(name, _)| *name == n)
            .unwrap_or_else(|| panic!("{n} not exported: {names:?}"))
            .1
            .clone()
    };
    assert_eq!(
        body_of(format!("Files/{long}/{long}.txt")),
        b"below a long directory name\n"
    );
    assert_eq!(body_of(format!("Files/{long}.bin")), b"a long file name\n");
    assert_eq!(
        body_of(format!("Files/{long}.bin:{long}")),
        b"its alternate data stream\n"
    );
}

/// A failed import removes the directories it created on the way to the layer, and only
/// those.
#[test]
fn a_failed_import_removes_the_parents_it_created() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("existing")).unwrap();
    let layer = dir.path().join("existing/new/parents/layer");
    // A delta layer imported without parents: whiteouts in a base layer are refused.
    let out = wclayer()
        .args(["import", "-i", &s(&data("v3_delta.tar")), &s(&layer)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(": Files/Windows/.wh.removed.dll: Files/Windows/removed.dll: base layer cannot have tombstones"),
        "{err}"
    );
    assert_eq!(ls(dir.path()), ["existing"]);
    assert!(ls(&dir.path().join("existing")).is_empty());
}

/// A reader that closes the pipe early (`wclayer trace x.tar | head -1`) ends the command
/// quietly with success, as Unix tools end.
#[test]
fn a_closed_stdout_pipe_is_no_failure() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("many.tar");
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..5000 {
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("Files/f{i}"), &b"x"[..])
            .unwrap();
    }
    std::fs::write(&tar, b.into_inner().unwrap()).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("wclayer");
    let mut child = std::process::Command::new(bin)
        .args(["trace", &s(&tar)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("{\"op\":\"add\""), "{first}");
    // The reader is gone: the trace's next writes meet a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

//! The command line's conventions (docs/cli.md): what each command refuses and how it says
//! so (one line, once, exit 1, nothing left behind), where results go, `--json`, `-q`/`-v`,
//! compression chosen by the output's name, and the same words in every command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{data, ls, s, stdout_of, wclayer};

/// Runs `wclayer ARGS` in `dir` with `stdin` and returns the output.
fn run_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    wclayer()
        .current_dir(dir)
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .unwrap()
}

/// Expects failure with exit status 1 and exactly one line on stderr, `wclayer: error: ...`
/// containing every one of `words`, and nothing on stdout; returns the line.
fn one_error_line(out: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err:?}");
    let line = lines[0];
    assert!(line.starts_with("wclayer: error: "), "{line}");
    assert!(
        !line.contains("ERROR"),
        "a tracing event besides the error: {line}"
    );
    assert!(
        !line.contains("wclayer-staging"),
        "names a staging file: {line}"
    );
    for w in words {
        assert!(line.contains(w), "{w:?} not in {line:?}");
    }
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    line.to_string()
}

/// A tar of `entries` (name, data), as the `tar` crate writes it (GNU format).
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *bytes).unwrap();
    }
    b.into_inner().unwrap()
}

/// A directory for one test, with a sample base layer tar `base.tar` and delta `delta.tar`.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for case in ["base", "delta"] {
        let out = dir.path().join(format!("{case}.tar"));
        stdout_of(&["sample", case, "-o", &s(&out)]);
    }
    dir
}

#[test]
fn inputs_that_are_no_windows_layer_are_refused_by_what_they_look_like() {
    let dir = workdir();
    let d = dir.path();
    let linux = tar_of(&[("etc/hostname", b"box\n"), ("etc/passwd", b"root:x:0:0\n")]);
    std::fs::write(d.join("etc.tar"), &linux).unwrap();
    let image = tar_of(&[
        ("manifest.json", b"[]"),
        ("repositories", b"{}"),
        ("0123abcd/layer.tar", b""),
    ]);
    std::fs::write(d.join("saved.tar"), &image).unwrap();
    std::fs::write(d.join("empty.tar"), b"").unwrap();
    std::fs::write(d.join("noise.tar"), vec![0x5au8; 4096]).unwrap();
    std::fs::write(d.join("l.tar.xz"), b"\xfd7zXZ\x00\x00rest of it").unwrap();
    std::fs::write(d.join("l.tar.bz2"), b"BZh91AY&SYrest of it").unwrap();
    // Windows-shaped, but a base layer without Files/ (only registry hives): nothing could
    // export it, so it is not created.
    std::fs::write(
        d.join("hives.tar"),
        tar_of(&[("Hives/Software_Delta", b"regf")]),
    )
    .unwrap();
    let cases = [
        (
            "etc.tar",
            "cannot import etc.tar into L: it looks like an ordinary (Linux) tar (etc/hostname, \
             etc/passwd, ...), not a Windows layer, whose entries are under Files/, Hives/ and \
             UtilityVM/",
        ),
        (
            "saved.tar",
            "cannot import saved.tar into L: it looks like a whole image (a `docker save` \
             archive or an OCI image layout: manifest.json, repositories, 0123abcd/layer.tar), \
             not one layer; unpack it into a store of layer directories with `wclayer unpack \
             docker-archive:FILE STORE`",
        ),
        (
            "empty.tar",
            "cannot read empty.tar: it is empty (0 bytes), not a layer tar",
        ),
        (
            "noise.tar",
            "cannot import noise.tar into L: it is not a tar archive (its first block is no tar \
             header)",
        ),
        (
            "l.tar.xz",
            "cannot read l.tar.xz: it is xz-compressed (decompress it first: xz -dc); wclayer \
             reads .tar, .tar.gz and .tar.zst",
        ),
        (
            "l.tar.bz2",
            "cannot read l.tar.bz2: it is bzip2-compressed (decompress it first: bzip2 -dc); \
             wclayer reads .tar, .tar.gz and .tar.zst",
        ),
        (
            "hives.tar",
            "cannot import hives.tar into L: a base layer needs a Files directory, and the tar \
             has no Files/",
        ),
    ];
    for (input, want) in cases {
        let before = ls(d);
        let out = run_in(d, &["import", "-i", input, "L"], b"");
        let line = one_error_line(&out, &[input]);
        assert_eq!(line, format!("wclayer: error: {want}"));
        assert_eq!(ls(d), before, "{input}: something was left behind");
    }
    // The same refusal from standard input, and from convert.
    let out = run_in(d, &["import", "L"], &linux);
    one_error_line(&out, &["ordinary (Linux) tar"]);
    let out = run_in(d, &["convert", "saved.tar", "out.tar"], b"");
    one_error_line(&out, &["whole image"]);
    assert!(!d.join("out.tar").exists());
}

#[test]
fn output_names_choose_the_compression_and_contradicting_flags_are_refused() {
    let dir = workdir();
    let d = dir.path();
    stdout_of(&["import", "-i", &s(&d.join("base.tar")), &s(&d.join("B"))]);
    let is_gzip = |p: &Path| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b]);
    let is_zstd = |p: &Path| {
        std::fs::read(p)
            .unwrap()
            .starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    };
    let is_tar = |p: &Path| &std::fs::read(p).unwrap()[257..262] == b"ustar";
    for (args, out, check) in [
        (&["export", "B", "-o", "x.tar.gz"][..], "x.tar.gz", 'g'),
        (&["export", "B", "-o", "x.tgz"][..], "x.tgz", 'g'),
        (&["export", "B", "-o", "x.tar.zst"][..], "x.tar.zst", 'z'),
        (&["export", "B", "-o", "x.tar"][..], "x.tar", 't'),
        (&["export", "B", "-z", "-o", "x.layer"][..], "x.layer", 'g'),
        (&["convert", "base.tar", "c.tar.gz"][..], "c.tar.gz", 'g'),
        (&["convert", "base.tar", "c.tar.zst"][..], "c.tar.zst", 'z'),
        (&["convert", "-z", "base.tar", "c.out"][..], "c.out", 'g'),
    ] {
        let o = run_in(d, args, b"");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let p = d.join(out);
        let ok = match check {
            'g' => is_gzip(&p),
            'z' => is_zstd(&p),
            _ => is_tar(&p),
        };
        assert!(ok, "{args:?}: {out} has the wrong format");
    }
    // Every compressed export imports again to the same diffID as the plain one.
    let plain = run_in(d, &["export", "B", "-o", "plain.tar", "--json"], b"");
    let plain: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    for f in ["x.tar.gz", "x.tar.zst", "c.tar.gz"] {
        let o = run_in(d, &["import", "-i", f, &format!("I-{f}"), "--json"], b"");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["diff_id"], plain["diff_id"], "{f}");
    }
    // The level changes the compressed bytes, never the tar.
    let mut digests = Vec::new();
    for (level, out) in [
        ("1", "l1.tar.gz"),
        ("9", "l9.tar.gz"),
        ("19", "l19.tar.zst"),
    ] {
        let o = run_in(
            d,
            &["export", "B", "--level", level, "-o", out, "--json"],
            b"",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["diff_id"], plain["diff_id"], "{out}");
        digests.push(v["digest"].clone());
    }
    assert_ne!(digests[0], digests[1]);
    one_error_line(
        &run_in(d, &["export", "B", "--level", "12", "-o", "y.tar.gz"], b""),
        &["--level 12: gzip levels are 1 to 9"],
    );
    one_error_line(
        &run_in(d, &["export", "B", "--level", "3", "-o", "y.tar"], b""),
        &["--level 3 was given, but y.tar is not compressed"],
    );
    for (args, words) in [
        (
            &["export", "B", "--zstd", "-o", "y.tar.gz"][..],
            &["y.tar.gz", "--zstd"][..],
        ),
        (
            &["export", "B", "-z", "-o", "y.tar"][..],
            &["y.tar", "--gzip"][..],
        ),
        (
            &["convert", "--zstd", "base.tar", "y.tgz"][..],
            &["y.tgz", "--zstd"][..],
        ),
    ] {
        let before = ls(d);
        one_error_line(&run_in(d, args, b""), words);
        assert_eq!(ls(d), before);
    }
}

#[test]
fn existing_outputs_are_replaced_only_with_force_and_never_when_not_a_file() {
    let dir = workdir();
    let d = dir.path();
    stdout_of(&["import", "-i", &s(&d.join("base.tar")), &s(&d.join("B"))]);
    std::fs::write(d.join("old.tar"), b"keep me").unwrap();
    for args in [
        &["export", "B", "-o", "old.tar"][..],
        &["convert", "base.tar", "old.tar"][..],
        &["sample", "base", "-o", "old.tar"][..],
    ] {
        one_error_line(
            &run_in(d, args, b""),
            &["old.tar", "already exists", "--force"],
        );
        assert_eq!(std::fs::read(d.join("old.tar")).unwrap(), b"keep me");
    }
    // A layer directory is never replaced, as hcsshim's import.
    one_error_line(
        &run_in(d, &["import", "-i", "base.tar", "B"], b""),
        &["B", "already exists"],
    );
    std::fs::create_dir(d.join("adir")).unwrap();
    one_error_line(
        &run_in(d, &["export", "B", "-o", "adir", "--force"], b""),
        &["adir", "not a regular file"],
    );
    assert!(d.join("adir").is_dir());
    for args in [
        &["export", "B", "-o", "old.tar", "--force"][..],
        &["convert", "base.tar", "old.tar", "--force"][..],
        &["sample", "base", "-o", "old.tar", "--force"][..],
    ] {
        std::fs::write(d.join("old.tar"), b"replace me").unwrap();
        let o = run_in(d, args, b"");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_ne!(std::fs::read(d.join("old.tar")).unwrap(), b"replace me");
    }
}

#[test]
fn a_base_conversion_of_a_delta_needs_a_flag_to_drop_its_whiteouts() {
    let dir = workdir();
    let d = dir.path();
    let before = ls(d);
    one_error_line(
        &run_in(d, &["convert", "--base", "delta.tar", "o.tar"], b""),
        &["delta.tar", "9 whiteouts", "--drop-whiteouts"],
    );
    assert_eq!(ls(d), before);
    let o = run_in(
        d,
        &[
            "convert",
            "--base",
            "--drop-whiteouts",
            "delta.tar",
            "o.tar",
        ],
        b"",
    );
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim(),
        "wclayer: warning: delta.tar: left out 9 whiteouts (--drop-whiteouts)"
    );
}

/// `script` runs the command on a pseudo-terminal (util-linux), so standard input and
/// output are terminals as in an interactive shell.
fn on_a_terminal(dir: &Path, cmd: &str) -> Option<String> {
    let o = std::process::Command::new("script")
        .current_dir(dir)
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    assert_eq!(o.status.code(), Some(1), "{cmd}");
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn terminals_get_no_tar_and_are_not_waited_on() {
    let dir = workdir();
    let d = dir.path();
    stdout_of(&["import", "-i", &s(&d.join("base.tar")), &s(&d.join("B"))]);
    let bin = assert_cmd::cargo::cargo_bin("wclayer");
    let Some(said) = on_a_terminal(d, &format!("{} export B", bin.display())) else {
        eprintln!("SKIPPED: no `script` to make a terminal with");
        return;
    };
    assert!(
        said.contains("refusing to write a tar to a terminal"),
        "{said}"
    );
    assert!(said.contains("-o FILE"), "{said}");
    let said = on_a_terminal(d, &format!("{} import L", bin.display())).unwrap();
    assert!(
        said.contains("standard input, which is a terminal"),
        "{said}"
    );
    assert!(!d.join("L").exists());
    let said = on_a_terminal(d, &format!("{} sddl -", bin.display())).unwrap();
    assert!(said.contains("terminal"), "{said}");
}

#[test]
fn results_go_to_stdout_as_text_or_json_and_quiet_and_verbose_do_what_they_say() {
    let dir = workdir();
    let d = dir.path();
    // Text results on stdout, nothing on stderr.
    let o = run_in(d, &["import", "-i", "base.tar", "B"], b"");
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("imported "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("diffID sha256:")),
        "{text}"
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // JSON: one object, with the same diffID an export of the layer prints.
    let o = run_in(d, &["import", "-i", "base.tar", "B2", "--json"], b"");
    let imp: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(imp["layer"], "B2");
    assert!(imp["entries"].as_u64().unwrap() > 10);
    assert!(imp["diff_id"].as_str().unwrap().starts_with("sha256:"));
    let o = run_in(d, &["export", "B", "-o", "b.tar.gz", "--json"], b"");
    let exp: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        exp["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        exp["compressed_size"].as_u64().unwrap(),
        std::fs::metadata(d.join("b.tar.gz")).unwrap().len()
    );
    let o = run_in(d, &["convert", "base.tar", "c.tar", "--json"], b"");
    let conv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(conv["diff_id"], exp["diff_id"]);
    assert_eq!(conv["digest"], conv["diff_id"]);
    assert_eq!(conv["size"], exp["size"]);
    // Exporting to standard output: the tar there, the result on stderr.
    let o = run_in(d, &["export", "B"], b"");
    assert!(o.stdout.len() as u64 == exp["size"].as_u64().unwrap());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("diffID sha256:"), "{err}");
    // -q: nothing at all on success; --json still prints.
    let o = run_in(d, &["-q", "export", "B", "-o", "q.tar"], b"");
    assert!(o.status.success() && o.stdout.is_empty() && o.stderr.is_empty());
    let o = run_in(d, &["import", "-q", "-i", "base.tar", "B3", "--json"], b"");
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok());
    // -v: the spans at info level on stderr.
    let o = run_in(d, &["-v", "export", "B", "-o", "v.tar"], b"");
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("INFO wclayer::new_layer_reader"), "{err}");
    // A log level that is none is refused as a usage error.
    let o = run_in(d, &["--log-level", "loud", "ls", "B"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"loud\" is not a log level"));
}

#[test]
fn every_listing_names_entries_as_the_tar_does_and_says_tombstone() {
    let dir = workdir();
    let d = dir.path();
    let listing = String::from_utf8(run_in(d, &["ls", "delta.tar"], b"").stdout).unwrap();
    assert!(
        listing.lines().any(|l| l.starts_with("tombstone")),
        "{listing}"
    );
    assert!(
        !listing.contains('\\') || listing.contains("C:\\"),
        "{listing}"
    );
    assert!(listing.lines().all(|l| !l.contains("deleted")), "{listing}");
    let json = String::from_utf8(run_in(d, &["ls", "--json", "delta.tar"], b"").stdout).unwrap();
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(!v["name"].as_str().unwrap().contains('\\'), "{l}");
    }
    let traced = String::from_utf8(run_in(d, &["trace", "delta.tar"], b"").stdout).unwrap();
    let first_trace: serde_json::Value =
        serde_json::from_str(traced.lines().next().unwrap()).unwrap();
    assert!(!first_trace["name"].as_str().unwrap().contains('\\'));
    // `-l` names a parent layer wherever it appears; the long listing is `--long`.
    let o = run_in(d, &["ls", "-l", "delta.tar"], b"");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn parents_are_recorded_as_absolute_paths() {
    let dir = workdir();
    let d = dir.path();
    stdout_of(&["import", "-i", &s(&d.join("base.tar")), &s(&d.join("B"))]);
    let o = run_in(d, &["import", "-l", "B", "-i", "delta.tar", "D"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("D/.wclayer/layer.json")).unwrap()).unwrap();
    let want: PathBuf = std::fs::canonicalize(d.join("B")).unwrap();
    assert_eq!(manifest["parents"], serde_json::json!([s(&want)]));
}

#[test]
fn sddl_tells_which_way_to_convert_and_reads_standard_input() {
    let sd = crate::USERS_SD;
    assert_eq!(stdout_of(&["sddl", sd]).trim(), "O:BUG:BU");
    assert_eq!(stdout_of(&["sddl", "O:BUG:BU"]).trim(), sd);
    let o = wclayer()
        .args(["sddl", "-"])
        .write_stdin("O:BUG:BU\n")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), sd);
    let o = wclayer()
        .args(["sddl", "-"])
        .write_stdin(format!("{sd}\n"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), "O:BUG:BU");
    let o = wclayer()
        .args(["sddl", "not a descriptor"])
        .output()
        .unwrap();
    one_error_line(&o, &["neither SDDL", "nor valid base64"]);
}

/// Errors whose causes repeat their text print it once.
#[test]
fn an_error_is_one_line_without_repeated_causes() {
    let dir = workdir();
    let d = dir.path();
    std::fs::create_dir(d.join("notalayer")).unwrap();
    let line = one_error_line(
        &run_in(d, &["export", "notalayer", "-o", "o.tar"], b""),
        &["notalayer"],
    );
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(p), "{p:?} repeated in {line:?}");
    }
    assert!(!d.join("o.tar").exists());
    let mut f = std::fs::File::create(d.join("partial.tar")).unwrap();
    let base = std::fs::read(data("v1_base_names_times.tar")).unwrap();
    f.write_all(&base[..base.len() / 2]).unwrap();
    drop(f);
    let before = ls(d);
    one_error_line(
        &run_in(d, &["import", "-i", "partial.tar", "P"], b""),
        &["partial.tar", "P"],
    );
    assert_eq!(ls(d), before);
}

/// `--hcs` writes and reads layers through the Host Compute Service; where there is none it
/// is refused before anything is read or created.
#[cfg(not(windows))]
#[test]
fn the_windows_back_end_is_refused_where_there_is_no_host_compute_service() {
    let dir = workdir();
    let before = ls(dir.path());
    for args in [
        &["import", "--hcs", "-i", "base.tar", "layers/base"][..],
        &["import", "--hcs", "--folder", "folder", "layers/base"][..],
        &["export", "--hcs", "-o", "out.tar", "layers/base"][..],
    ] {
        let out = run_in(dir.path(), args, b"");
        one_error_line(
            &out,
            &[
                "--hcs needs Windows",
                "Host Compute Service",
                "docs/windows.md",
            ],
        );
        assert_eq!(ls(dir.path()), before, "{args:?}");
    }
}

//! `wclayer verify`: one case per rule, the reference vectors, `--json`, `--diff-id`, exit
//! statuses.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::*;

/// One entry of a test tar: name (carried in a PAX `path` record, so any name fits), type,
/// data, whether it has a security descriptor, link target.
struct E<'a> {
    name: &'a str,
    kind: tar::EntryType,
    data: &'a [u8],
    sd: bool,
    link: Option<&'a str>,
    attrs: Option<u32>,
}

fn f(name: &str) -> E<'_> {
    E {
        name,
        kind: tar::EntryType::Regular,
        data: b"",
        sd: true,
        link: None,
        attrs: None,
    }
}

fn d(name: &str) -> E<'_> {
    E {
        kind: tar::EntryType::Directory,
        attrs: Some(0x10),
        ..f(name)
    }
}

fn hard(name: &'static str, target: &'static str) -> E<'static> {
    E {
        kind: tar::EntryType::Link,
        link: Some(target),
        ..f(name)
    }
}

/// Writes a layer tar of `entries` to `dir/name`.
fn layer_tar(dir: &Path, name: &str, entries: &[E<'_>]) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let mut records: Vec<(String, String)> = vec![("path".into(), e.name.into())];
        if e.sd {
            records.push(("MSWINDOWS.rawsd".into(), USERS_SD.into()));
        }
        if let Some(a) = e.attrs {
            records.push(("MSWINDOWS.fileattr".into(), a.to_string()));
        }
        if let Some(l) = e.link {
            records.push(("linkpath".into(), l.into()));
        }
        b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .unwrap();
        b.append_data(&mut h, "placeholder", e.data).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    p
}

/// Runs `wclayer verify --json ARGS`: exit status and findings as (rule, severity, entry).
fn verify(args: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let out = wclayer()
        .arg("verify")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let findings = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(!v["message"].as_str().unwrap().is_empty());
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("rule"), s("severity"), s("entry"))
        })
        .collect();
    (out.status.code().unwrap(), findings)
}

/// Expects exactly one finding besides `not-fixed-point` (tars from the `tar` crate are not
/// hcsshim's bytes) and the given exit status.
fn expect_one(args: &[&str], rule: &str, severity: &str, entry: &str) {
    let (code, got) = verify(args);
    let got: Vec<_> = got
        .into_iter()
        .filter(|f| f.0 != "not-fixed-point")
        .collect();
    assert_eq!(
        got,
        [(rule.to_string(), severity.to_string(), entry.to_string())],
        "{args:?}"
    );
    assert_eq!(code, if severity == "error" { 1 } else { 0 }, "{args:?}");
}

/// One case: the tar's entries, extra flags, and the one finding it must give.
type Case<'a> = (Vec<E<'a>>, &'a [&'a str], &'a str, &'a str, &'a str);

fn sym<'a>(name: &'a str, target: &'a str) -> E<'a> {
    E {
        kind: tar::EntryType::Symlink,
        link: Some(target),
        ..f(name)
    }
}

#[test]
fn one_case_per_entry_rule() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("Files/{}", "x".repeat(256));
    let cases: Vec<Case<'_>> = vec![
        (
            vec![d("Files"), f("Files/CON")],
            &[],
            "name-reserved",
            "error",
            "Files/CON",
        ),
        (
            vec![d("Files"), f("Files/a.")],
            &[],
            "name-trailing-dot-space",
            "error",
            "Files/a.",
        ),
        (
            vec![d("Files"), f("Files/a?b")],
            &[],
            "name-invalid-char",
            "error",
            "Files/a?b",
        ),
        (
            vec![d("Files"), f(&long)],
            &[],
            "name-too-long",
            "error",
            &long,
        ),
        (
            vec![d("Files"), f("../x")],
            &[],
            "name-outside-layer",
            "error",
            "../x",
        ),
        (
            vec![d("Files"), f("Files/A.txt"), f("Files/a.txt")],
            &[],
            "name-case-collision",
            "error",
            "Files/a.txt",
        ),
        (
            vec![d("Files"), f("Other/x")],
            &[],
            "base-outside-trees",
            "warning",
            "Other/x",
        ),
        (
            vec![d("Files"), f("Files/.wh.x")],
            &["--base"],
            "tombstone-in-base",
            "error",
            "Files/.wh.x",
        ),
        (
            vec![d("Files"), f(".wh.rootfile")],
            &[],
            "tombstone-outside-files",
            "warning",
            ".wh.rootfile",
        ),
        (
            vec![d("Files"), d("Files/d"), hard("Files/l", "Files/d")],
            &[],
            "link-to-directory",
            "error",
            "Files/l",
        ),
        (
            vec![
                d("Files"),
                f("Files/f"),
                d("UtilityVM"),
                d("UtilityVM/Files"),
                f("UtilityVM/Files/EFI/Microsoft/Boot/BCD"),
                hard("UtilityVM/Files/l", "Files/f"),
            ],
            &[],
            "link-across-trees",
            "error",
            "UtilityVM/Files/l",
        ),
        (
            vec![d("Files"), hard("Files/l", "Files/none")],
            &[],
            "link-target-missing",
            "error",
            "Files/l",
        ),
        (
            vec![d("Files"), d("UtilityVM"), d("UtilityVM/Files")],
            &[],
            "uvm-missing-bcd",
            "error",
            "UtilityVM/Files",
        ),
        (
            vec![
                d("Files"),
                E {
                    sd: false,
                    ..f("Files/x")
                },
            ],
            &[],
            "no-security-descriptor",
            "warning",
            "Files/x",
        ),
        (
            vec![
                d("Files"),
                E {
                    data: b"abc",
                    attrs: Some(0x10),
                    ..f("Files/d")
                },
            ],
            &[],
            "directory-with-data",
            "error",
            "Files/d",
        ),
        (
            vec![
                d("Files"),
                d("Files/d"),
                E {
                    data: b"s",
                    ..f("Files/d:s")
                },
            ],
            &[],
            "streams-dropped",
            "warning",
            "Files/d",
        ),
        (
            vec![d("Files"), sym("Files/l", "D:/data")],
            &[],
            "symlink-leaves-volume",
            "warning",
            "Files/l",
        ),
        (
            vec![d("Files"), f("Files/f"), f("Files/f/x")],
            &[],
            "model-refused",
            "error",
            "Files/f/x",
        ),
    ];
    for (i, (entries, flags, rule, severity, entry)) in cases.into_iter().enumerate() {
        let t = layer_tar(dir.path(), &format!("{i}.tar"), &entries);
        let mut args: Vec<&str> = flags.to_vec();
        let t = s(&t);
        args.push(&t);
        expect_one(&args, rule, severity, entry);
    }
}

#[test]
fn chains_check_the_layer_over_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let base_tar = layer_tar(
        dir.path(),
        "base.tar",
        &[d("Files"), d("Files/Windows"), f("Files/Windows/a")],
    );
    let base = dir.path().join("base");
    stdout_of(&["import", "-i", &s(&base_tar), &s(&base)]);
    let t = layer_tar(dir.path(), "case.tar", &[d("Files"), d("Files/WINDOWS")]);
    expect_one(
        &["-l", &s(&base), &s(&t)],
        "name-case-parent",
        "warning",
        "Files/WINDOWS",
    );
    let t = layer_tar(
        dir.path(),
        "tomb.tar",
        &[
            d("Files"),
            f("Files/Windows/.wh.nothing"),
            f("Files/Windows/.wh.a"),
        ],
    );
    expect_one(
        &["-l", &s(&base), &s(&t)],
        "tombstone-removes-nothing",
        "warning",
        "Files/Windows/.wh.nothing",
    );
}

#[test]
fn every_reference_vector_passes_with_exit_0_and_its_warnings() {
    // Python's tarfile wrote them, not Go's writer: exported again, they change
    // (`not-fixed-point`). v4 carries no security descriptors (its hard link is not counted);
    // v5 has a whiteout at the root, which wclayer's layer keeps and only hcsshim's legacy
    // writer refuses on Windows (docs/layer-semantics.md §0.4), and alternate data streams on
    // a directory and a symbolic link.
    let expected: [(&str, &[(&str, &str)]); 5] = [
        ("v1_base_names_times", &[("not-fixed-point", "Files")]),
        ("v2_streams_links", &[("not-fixed-point", "Files")]),
        ("v3_delta", &[("not-fixed-point", "Files")]),
        (
            "v4_plain_ustar",
            &[
                ("no-security-descriptor", "Files"),
                ("no-security-descriptor", "Files/bin"),
                ("no-security-descriptor", "Files/bin/tool.exe"),
                ("no-security-descriptor", "Files/readme.md"),
                ("not-fixed-point", "Files"),
            ],
        ),
        (
            "v5_model_details",
            &[
                ("tombstone-outside-files", ".wh.rootfile"),
                ("streams-dropped", "Files/dir"),
                ("streams-dropped", "Files/link"),
                ("no-security-descriptor", "Files/empty-rawsd.txt"),
                ("not-fixed-point", ".wh.rootfile"),
            ],
        ),
    ];
    assert_eq!(expected.map(|(v, _)| v), VECTORS);
    for (v, warnings) in expected {
        let (code, got) = verify(&[&s(&data(&format!("{v}.tar")))]);
        let want: Vec<_> = warnings
            .iter()
            .map(|(rule, entry)| (rule.to_string(), "warning".to_string(), entry.to_string()))
            .collect();
        assert_eq!(got, want, "{v}");
        assert_eq!(code, 0, "{v}");
        // The reference exports are hcsshim's bytes: fixed points, and no errors either.
        let (code, got) = verify(&[&s(&data(&format!("exports/{v}.export.tar")))]);
        assert!(
            got.iter()
                .all(|f| f.0 != "not-fixed-point" && f.1 == "warning"),
            "{v}: {got:?}"
        );
        assert_eq!(code, 0, "{v}");
    }
}

#[test]
fn text_output_has_one_line_per_finding_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let t = layer_tar(
        dir.path(),
        "t.tar",
        &[
            d("Files"),
            f("Files/CON"),
            E {
                sd: false,
                ..f("Files/x")
            },
        ],
    );
    let out = wclayer().args(["verify", &s(&t)]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("error   name-reserved  Files/CON  "),
        "{text}"
    );
    assert_eq!(
        *lines.last().unwrap(),
        format!("1 error, 2 warnings in {}", s(&t))
    );
}

#[test]
fn unreadable_inputs_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, vec![0x55u8; 2048]).unwrap();
    for p in [junk, dir.path().join("missing.tar")] {
        let out = wclayer().args(["verify", &s(&p)]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("wclayer: error: ") && err.contains(&s(&p)),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

fn sha256_of(p: &Path) -> String {
    format!(
        "sha256:{}",
        hex_of(&Sha256::digest(std::fs::read(p).unwrap()))
    )
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn layer_directories_disk_rules_and_diff_id() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("l");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v2_streams_links.tar")),
        &s(&layer),
    ]);
    let good = sha256_of(&data("exports/v2_streams_links.export.tar"));
    let (code, got) = verify(&["--diff-id", &good, &s(&layer)]);
    assert!(got.iter().all(|f| f.1 != "error"), "{got:?}");
    assert_eq!(code, 0);
    let bad = format!("sha256:{}", "0".repeat(64));
    expect_one(
        &["--diff-id", &bad, &s(&layer)],
        "diff-id-mismatch",
        "error",
        &s(&layer),
    );

    std::fs::write(layer.join("Files/extra.txt"), b"x").unwrap();
    expect_one(&[&s(&layer)], "disk-extra", "warning", "Files/extra.txt");
    std::fs::remove_file(layer.join("Files/extra.txt")).unwrap();

    std::fs::remove_file(layer.join("Files/to-doc")).unwrap();
    expect_one(&[&s(&layer)], "disk-missing", "error", "Files/to-doc");

    // A hard link broken on disk: the same bytes, another file.
    let l2 = dir.path().join("l2");
    stdout_of(&["import", "-i", &s(&data("v2_streams_links.tar")), &s(&l2)]);
    let bytes = std::fs::read(l2.join("Files/doc.txt")).unwrap();
    std::fs::remove_file(l2.join("Files/doc.txt")).unwrap();
    std::fs::write(l2.join("Files/doc.txt"), &bytes).unwrap();
    expect_one(&[&s(&l2)], "disk-links", "error", "Files/doc.txt");

    let l3 = dir.path().join("l3");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v1_base_names_times.tar")),
        &s(&l3),
    ]);
    std::fs::write(l3.join("Files/old.txt"), b"changed size").unwrap();
    expect_one(&[&s(&l3)], "disk-size", "error", "Files/old.txt");
}

#[test]
fn not_fixed_point_names_the_first_entry_that_changes() {
    let (code, got) = verify(&[&s(&data("v4_plain_ustar.tar"))]);
    assert_eq!(code, 0);
    let nfp: Vec<_> = got.iter().filter(|f| f.0 == "not-fixed-point").collect();
    assert_eq!(
        nfp,
        [&("not-fixed-point".into(), "warning".into(), "Files".into())]
    );
}

#[test]
fn symbolic_links_planted_in_a_layer_directory_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("l");
    stdout_of(&[
        "import",
        "-i",
        &s(&data("v1_base_names_times.tar")),
        &s(&layer),
    ]);
    // Outside the layer: what the planted links point to, shaped like what they replace (a
    // file of the recorded size, a directory with the same file), so that following a link
    // would find nothing wrong, and listing through it would report `stolen.txt`.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("Program Files")).unwrap();
    let old = std::fs::read(layer.join("Files/old.txt")).unwrap();
    std::fs::write(outside.join("old.txt"), &old).unwrap();
    let app = std::fs::read(layer.join("Files/Program Files/app.exe")).unwrap();
    std::fs::write(outside.join("Program Files/app.exe"), &app).unwrap();
    std::fs::write(outside.join("Program Files/stolen.txt"), b"secret").unwrap();

    std::fs::remove_file(layer.join("Files/old.txt")).unwrap();
    std::os::unix::fs::symlink(outside.join("old.txt"), layer.join("Files/old.txt")).unwrap();
    std::fs::remove_dir_all(layer.join("Files/Program Files")).unwrap();
    std::os::unix::fs::symlink(
        outside.join("Program Files"),
        layer.join("Files/Program Files"),
    )
    .unwrap();

    let (code, mut got) = verify(&[&s(&layer)]);
    got.sort();
    let missing = |e: &str| {
        (
            "disk-missing".to_string(),
            "error".to_string(),
            e.to_string(),
        )
    };
    assert_eq!(
        got,
        [
            missing("Files/Program Files"),
            missing("Files/Program Files/app.exe"),
            missing("Files/old.txt"),
        ]
    );
    assert_eq!(code, 1);

    // A link to a file outside any layer, in place of a file: the same finding, and the
    // link is left as it is.
    std::fs::remove_file(layer.join("Files/old.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", layer.join("Files/old.txt")).unwrap();
    let (code, got) = verify(&[&s(&layer)]);
    assert!(got.contains(&missing("Files/old.txt")), "{got:?}");
    assert!(got.iter().all(|f| !f.2.contains("stolen")), "{got:?}");
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read_link(layer.join("Files/old.txt")).unwrap(),
        Path::new("/etc/passwd")
    );

    // With --diff-id the export stops at the first link; that is one more finding, and the
    // disk findings are still all printed.
    let digest = format!("sha256:{}", "0".repeat(64));
    let (code, got) = verify(&["--diff-id", &digest, &s(&layer)]);
    assert!(got.contains(&missing("Files/old.txt")), "{got:?}");
    assert!(
        got.iter()
            .any(|f| f.0 == "diff-id-mismatch" && f.1 == "error"),
        "{got:?}"
    );
    assert_eq!(code, 1);
}

/// With -q the exit status is the answer: nothing is printed; --json still prints.
#[test]
fn quiet_prints_nothing_and_answers_with_the_exit_status() {
    let clean = data("exports/v1_base_names_times.export.tar");
    let o = wclayer()
        .args(["-q", "verify", &s(&clean)])
        .output()
        .unwrap();
    assert_eq!(
        (o.status.code(), o.stdout.len(), o.stderr.len()),
        (Some(0), 0, 0)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "Files/CON", &[][..]).unwrap();
    std::fs::write(&bad, b.into_inner().unwrap()).unwrap();
    let o = wclayer().args(["-q", "verify", &s(&bad)]).output().unwrap();
    assert_eq!(
        (o.status.code(), o.stdout.len(), o.stderr.len()),
        (Some(1), 0, 0)
    );
    let o = wclayer()
        .args(["-q", "verify", "--json", &s(&bad)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("name-reserved")
    );
}

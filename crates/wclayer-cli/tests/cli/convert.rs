//! `wclayer trace`, `convert`, `sample` and `ls` on tars: the reference vectors, the
//! generated samples, malformed input.

use std::io::Write;
use std::path::Path;

use crate::{VECTORS, data, stdout_of, wclayer};

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
    let doc = by_name("Files/doc.txt");
    let first = by_name("Files/doc-link.txt");
    assert_eq!(first["kind"], "file");
    assert_eq!(first["sddl"], "O:BUG:BU");
    assert_eq!(
        first["extended_attributes"],
        serde_json::json!(["ALPHA", "zeta"])
    );
    assert_eq!(first["alternate_streams"][0]["name"], "Zone.Identifier");
    assert_eq!(first["number_of_links"], 3);
    assert_eq!(doc["kind"], "hardlink");
    assert_eq!(doc["link_of"], "Files/doc-link.txt");
    let mp = by_name("Files/dirlink");
    assert_eq!(
        (mp["kind"].as_str(), mp["reparse_target"].as_str()),
        (Some("junction"), Some("C:\\Windows"))
    );
    assert_eq!(by_name("Files/to-doc")["kind"], "symlink");

    let delta = data("v3_delta.tar");
    let out = stdout_of(&["ls", delta.to_str().unwrap()]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("tombstone") && l.ends_with("Files/toplevel.txt")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.ends_with("Hives/System_Delta")),
        "{out}"
    );
    let long = stdout_of(&["ls", "--long", delta.to_str().unwrap()]);
    assert!(
        long.contains("written    2023-11-14T22:13:20.2500000Z"),
        "{long}"
    );
}

/// The utility VM's boot files that hcsshim backs up before processing the utility VM carry
/// the name of their backup in the trace (docs/oci-tar-mapping.md §6.4); other files do not.
#[test]
fn trace_names_the_backup_of_the_utility_vms_boot_files() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("uvm.tar");
    let mut b = tar::Builder::new(Vec::new());
    for (name, dir) in [
        ("UtilityVM", true),
        ("UtilityVM/Files", true),
        ("UtilityVM/Files/EFI", true),
        ("UtilityVM/Files/EFI/Microsoft", true),
        ("UtilityVM/Files/EFI/Microsoft/Boot", true),
        ("UtilityVM/Files/EFI/Microsoft/Boot/BCD", false),
        ("UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG2", false),
        ("UtilityVM/Files/EFI/Microsoft/Boot/BCD.other", false),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_size(if dir { 0 } else { 3 });
        h.set_mode(0o644);
        h.set_cksum();
        let data: &[u8] = if dir { b"" } else { b"bcd" };
        b.append_data(&mut h, name, data).unwrap();
    }
    std::fs::write(&tar, b.into_inner().unwrap()).unwrap();
    let got = stdout_of(&["trace", tar.to_str().unwrap()]);
    let backups: Vec<(String, Option<String>)> = got
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["mutated_backup"].as_str().map(str::to_owned),
            )
        })
        .filter(|(n, _)| n.contains("BCD"))
        .collect();
    assert_eq!(
        backups,
        [
            (
                "UtilityVM/Files/EFI/Microsoft/Boot/BCD".to_owned(),
                Some("bcd.bak".to_owned())
            ),
            (
                "UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG2".to_owned(),
                Some("bcd.log2.bak".to_owned())
            ),
            (
                "UtilityVM/Files/EFI/Microsoft/Boot/BCD.other".to_owned(),
                None
            ),
        ]
    );
}

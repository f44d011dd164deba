//! The merged view of a chain (`ls -l`, `cat`, `stat`) and `flatten`: the view is computed
//! here independently from the layers' tars (bottom up: each layer's whiteouts, then its
//! entries), and flatten must equal it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::*;

/// One entry of a test tar.
enum E {
    Dir(&'static str),
    File(&'static str, &'static str),
    Link(&'static str, &'static str),
    Whiteout(&'static str),
}

fn write_tar(path: &Path, entries: &[E]) {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let (name, kind, data, link, attrs) = match e {
            E::Dir(n) => (n.to_string(), tar::EntryType::Directory, "", None, 0x10),
            E::File(n, d) => (n.to_string(), tar::EntryType::Regular, *d, None, 0x20),
            E::Link(n, t) => (n.to_string(), tar::EntryType::Link, "", Some(*t), 0x20),
            E::Whiteout(n) => {
                let (dir, base) = n.rsplit_once('/').unwrap();
                let wh = format!("{dir}/.wh.{base}");
                (wh, tar::EntryType::Regular, "", None, 0x20)
            }
        };
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        let mut records: Vec<(String, String)> = vec![("path".into(), name)];
        if !matches!(e, E::Whiteout(_)) {
            records.push(("MSWINDOWS.rawsd".into(), USERS_SD.into()));
            records.push(("MSWINDOWS.fileattr".into(), attrs.to_string()));
        }
        if let Some(l) = link {
            records.push(("linkpath".into(), l.into()));
        }
        b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .unwrap();
        b.append_data(&mut h, "placeholder", data.as_bytes())
            .unwrap();
    }
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// base, then the two deltas, lowest first.
fn layers() -> [Vec<E>; 3] {
    use E::*;
    [
        vec![
            Dir("Files"),
            Dir("Files/Windows"),
            File("Files/Windows/win.ini", "base ini"),
            File("Files/Windows/a.txt", "a"),
            Dir("Files/dir"),
            File("Files/dir/child", "child"),
            Dir("Files/dir/sub"),
            File("Files/dir/sub/deep.txt", "deep"),
            File("Files/keep.txt", "keep"),
            Dir("Files/links"),
            File("Files/links/one", "linked"),
            Link("Files/links/three", "Files/links/one"),
            Link("Files/links/two", "Files/links/one"),
            File("Files/readme.txt", "lower"),
            Dir("UtilityVM"),
            Dir("UtilityVM/Files"),
            Dir("UtilityVM/Files/EFI"),
            Dir("UtilityVM/Files/EFI/Microsoft"),
            Dir("UtilityVM/Files/EFI/Microsoft/Boot"),
            File("UtilityVM/Files/EFI/Microsoft/Boot/BCD", "bcd"),
            File("UtilityVM/Files/uvm.txt", "uvm"),
        ],
        vec![
            Whiteout("Files/dir"),
            Dir("Files/dir"),
            File("Files/dir/new", "new"),
            File("Files/README.TXT", "upper"),
            Whiteout("Files/Windows/a.txt"),
            File("Files/Windows/A.TXT", "again"),
            Whiteout("Files/links/two"),
            File("Files/mid.txt", "mid"),
            Dir("Hives"),
            File("Hives/Software_Delta", "regf"),
        ],
        vec![
            File("Files/mid.txt", "top"),
            Whiteout("Files/keep.txt"),
            Dir("Files/newdir"),
            File("Files/newdir/x", "x"),
            Link("Files/newdir/y", "Files/newdir/x"),
        ],
    ]
}

/// What the container sees, computed bottom up: per name (upcased), its spelling, its
/// content (`None` for a directory) and the index of the layer that supplies it (0 = top).
fn expected() -> BTreeMap<Vec<String>, (String, Option<String>, usize)> {
    let all = layers();
    let mut view: BTreeMap<String, (String, Option<String>, usize)> = BTreeMap::new();
    let count = all.len();
    for (i, layer) in all.iter().enumerate() {
        let supplier = count - 1 - i;
        for e in layer {
            if let E::Whiteout(n) = e {
                let key = n.to_uppercase();
                view.retain(|k, _| *k != key && !k.starts_with(&format!("{key}/")));
            }
        }
        for e in layer {
            let (name, content) = match e {
                E::Dir(n) => (*n, None),
                E::File(n, d) => (*n, Some(d.to_string())),
                E::Link(n, t) => {
                    let (_, c, _) = view[&t.to_uppercase()].clone();
                    (*n, c)
                }
                E::Whiteout(_) => continue,
            };
            if name.starts_with("Hives") {
                continue;
            }
            view.insert(name.to_uppercase(), (name.to_string(), content, supplier));
        }
    }
    // Ordered as the walk orders names: component by component, bytewise.
    view.into_values()
        .map(|(n, c, l)| (n.split('/').map(str::to_string).collect(), (n, c, l)))
        .collect()
}

/// Imports the three layers; returns the layer directories, top first.
fn chain(dir: &Path) -> Vec<PathBuf> {
    let mut imported: Vec<PathBuf> = Vec::new();
    for (i, layer) in layers().iter().enumerate() {
        let tar = dir.join(format!("l{i}.tar"));
        write_tar(&tar, layer);
        let out = dir.join(format!("l{i}"));
        let mut args = vec!["import".to_string(), "-q".into()];
        for p in imported.iter().rev() {
            args.push("-l".into());
            args.push(s(p));
        }
        args.extend(["-i".into(), s(&tar), s(&out)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stdout_of(&args);
        imported.push(out);
    }
    imported.reverse();
    imported
}

/// `-l P1 -l P2 ... TOP` for the chain.
fn chain_args(layers: &[PathBuf]) -> Vec<String> {
    let mut args = Vec::new();
    for p in &layers[1..] {
        args.push("-l".to_string());
        args.push(s(p));
    }
    args.push(s(&layers[0]));
    args
}

fn run(verb: &str, extra_before: &[&str], layers: &[PathBuf], extra_after: &[&str]) -> String {
    let mut args: Vec<String> = vec![verb.to_string()];
    args.extend(extra_before.iter().map(|a| a.to_string()));
    args.extend(chain_args(layers));
    args.extend(extra_after.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stdout_of(&args)
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn ls_lists_the_merged_view() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = chain(tmp.path());
    let got = json_lines(&run("ls", &["--json"], &layers, &[]));
    let names: Vec<String> = got
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = expected().into_values().map(|(n, _, _)| n).collect();
    assert_eq!(names, want);
    // Links: the surviving names of one layer's group stay one group.
    let kind = |n: &str| {
        let v = got.iter().find(|v| v["name"] == n).unwrap();
        (
            v["kind"].as_str().unwrap().to_string(),
            v["link_of"].clone(),
        )
    };
    assert_eq!(
        kind("Files/links/three"),
        ("hardlink".into(), serde_json::json!("Files/links/one"))
    );
    assert_eq!(
        kind("Files/newdir/y"),
        ("hardlink".into(), serde_json::json!("Files/newdir/x"))
    );
    assert_eq!(kind("Files/links/one").0, "file");
    // The text listing has the same names, and --long its metadata lines.
    let text = run("ls", &["--long"], &layers, &[]);
    assert!(text.contains("Files/README.TXT"), "{text}");
    assert!(text.contains("security   O:BUG:BU"), "{text}");
}

#[test]
fn cat_and_stat_read_the_supplying_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = chain(tmp.path());
    for (_, (name, content, supplier)) in expected() {
        let st = json_lines(&run("stat", &["--json"], &layers, &[&name]));
        assert_eq!(st.len(), 1);
        assert_eq!(st[0]["name"], name.as_str());
        assert_eq!(st[0]["layer"], s(&layers[supplier]).as_str(), "{name}");
        if let Some(c) = content {
            assert_eq!(run("cat", &[], &layers, &[&name]), c, "{name}");
        }
    }
    // Windows-style names, any case.
    assert_eq!(run("cat", &[], &layers, &[r"C:\WINDOWS\A.txt"]), "again");
    assert_eq!(run("cat", &[], &layers, &[r"windows\win.INI"]), "base ini");
    // stat's text form is ls --long's, with the supplying layer.
    let text = run("stat", &[], &layers, &["Files/Windows/win.ini"]);
    assert!(text.starts_with("file "), "{text}");
    assert!(
        text.contains(&format!("layer      {}", s(&layers[2]))),
        "{text}"
    );
}

#[test]
fn names_not_in_the_view_fail_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = chain(tmp.path());
    for gone in [
        "Files/dir/child",
        "Files/dir/sub/deep.txt",
        "Files/keep.txt",
        "Files/links/two",
        "Hives/Software_Delta",
    ] {
        for verb in ["cat", "stat"] {
            let mut args = vec![verb.to_string()];
            args.extend(chain_args(&layers));
            args.push(gone.to_string());
            let out = wclayer().args(&args).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{verb} {gone}");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(gone) && err.contains("no such entry"), "{err}");
        }
    }
    // Without parents, the top layer alone has its hive.
    assert_eq!(
        stdout_of(&["cat", &s(&layers[1]), "Hives/Software_Delta"]),
        "regf"
    );
}

#[test]
fn cat_reads_a_layer_tar() {
    let tmp = tempfile::tempdir().unwrap();
    chain(tmp.path());
    let base = s(&tmp.path().join("l0.tar"));
    assert_eq!(
        stdout_of(&["cat", &base, "Files/Windows/win.ini"]),
        "base ini"
    );
    // A hard link is followed to its file.
    assert_eq!(stdout_of(&["cat", &base, "Files/links/two"]), "linked");
    let out = wclayer()
        .args(["cat", &base, "Files/missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let st = json_lines(&stdout_of(&["stat", "--json", &base, "files/readme.txt"]));
    assert_eq!(st[0]["name"], "Files/readme.txt");
    assert_eq!(st[0]["size"], 5);
}

#[test]
fn flatten_equals_the_merged_view() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = chain(tmp.path());
    let flat_tar = tmp.path().join("flat.tar");
    let out = wclayer()
        .arg("flatten")
        .args(chain_args(&layers))
        .args(["-o", &s(&flat_tar)])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("diffID sha256:"), "{text}");
    // The hive delta left out is said once.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("Hives/") && err.lines().count() == 1, "{err}");

    // A fixed point: imported as a base layer, its export is the same bytes.
    let flat = tmp.path().join("flat");
    stdout_of(&["import", "-q", "-i", &s(&flat_tar), &s(&flat)]);
    let again = tmp.path().join("again.tar");
    stdout_of(&["export", "-q", &s(&flat), "-o", &s(&again)]);
    assert!(
        std::fs::read(&flat_tar).unwrap() == std::fs::read(&again).unwrap(),
        "the flattened layer's export differs from flatten's output"
    );
    // Entry by entry, with every piece of metadata: the flattened layer is the view.
    let flat_ls = stdout_of(&["ls", "--json", &s(&flat)]);
    let view_ls = run("ls", &["--json"], &layers, &[]);
    assert_eq!(json_lines(&flat_ls), json_lines(&view_ls));
    // The base's utility VM is kept.
    assert!(flat_ls.contains("\"UtilityVM/Files/uvm.txt\""));
    assert_eq!(
        stdout_of(&["cat", &s(&flat), "UtilityVM/Files/uvm.txt"]),
        "uvm"
    );
    // The diffID printed is the tar's.
    let digest = format!("{:x}", Sha256::digest(std::fs::read(&flat_tar).unwrap()));
    assert!(text.contains(&digest), "{text}");
    // verify finds no errors.
    let v = wclayer().args(["verify", &s(&flat_tar)]).output().unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );

    // --layer-dir writes the same layer as a directory; compressed output by name.
    let dir = tmp.path().join("flatdir");
    run("flatten", &["-q"], &layers, &["--layer-dir", &s(&dir)]);
    let from_dir = tmp.path().join("from-dir.tar");
    stdout_of(&["export", "-q", &s(&dir), "-o", &s(&from_dir)]);
    assert!(std::fs::read(&flat_tar).unwrap() == std::fs::read(&from_dir).unwrap());
    let gz = tmp.path().join("flat.tar.gz");
    let j = json_lines(&run(
        "flatten",
        &["--json", "-q"],
        &layers,
        &["-o", &s(&gz)],
    ));
    assert_eq!(j[0]["diff_id"], format!("sha256:{digest}"));
    assert_eq!(
        j[0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // An existing output is kept without --force.
    let out = wclayer()
        .arg("flatten")
        .args(chain_args(&layers))
        .args(["-o", &s(&flat_tar)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cat_prints_an_alternate_data_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = s(&tmp.path().join("base.tar"));
    stdout_of(&["sample", "base", "-o", &tar]);
    let dir = s(&tmp.path().join("base"));
    stdout_of(&["import", "-q", "-i", &tar, &dir]);
    for layer in [&tar, &dir] {
        let zone = stdout_of(&["cat", "--stream", "zone.identifier", layer, r"ads.txt\"]);
        assert!(zone.starts_with("[ZoneTransfer]"), "{zone}");
        let out = wclayer()
            .args(["cat", "--stream", "nope", layer, "Files/ads.txt"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("no alternate data stream \"nope\""), "{err}");
        let out = wclayer()
            .args(["cat", layer, "Files/Windows"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
    }
}

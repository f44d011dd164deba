//! `wclayer delta`: the delta from a parent chain to a layer directory or a host directory,
//! imported over the parent, gives the new tree entry by entry with metadata; identical
//! trees give an empty delta; the deltas verify without errors.

use std::fs;

use super::*;

/// One entry of a test tar: name, PAX records, data.
struct T {
    name: String,
    kind: tar::EntryType,
    data: Vec<u8>,
    records: Vec<(&'static str, String)>,
}

fn dir(name: &str) -> T {
    T {
        name: name.into(),
        kind: tar::EntryType::Directory,
        data: Vec::new(),
        records: vec![
            ("MSWINDOWS.rawsd", USERS_SD.into()),
            ("MSWINDOWS.fileattr", "16".into()),
        ],
    }
}

fn file(name: &str, data: &[u8]) -> T {
    file_attrs(name, data, 32)
}

fn file_attrs(name: &str, data: &[u8], attrs: u32) -> T {
    T {
        name: name.into(),
        kind: tar::EntryType::Regular,
        data: data.to_vec(),
        records: vec![
            ("MSWINDOWS.rawsd", USERS_SD.into()),
            ("MSWINDOWS.fileattr", attrs.to_string()),
        ],
    }
}

fn whiteout(name: &str) -> T {
    let (d, base) = name.rsplit_once('/').unwrap();
    T {
        name: format!("{d}/.wh.{base}"),
        kind: tar::EntryType::Regular,
        data: Vec::new(),
        records: Vec::new(),
    }
}

fn write_tar(path: &Path, entries: &[T]) {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        let mut records: Vec<(&str, String)> = vec![("path", e.name.clone())];
        records.extend(e.records.iter().cloned());
        b.append_pax_extensions(records.iter().map(|(k, v)| (*k, v.as_bytes())))
            .unwrap();
        b.append_data(&mut h, "placeholder", &e.data[..]).unwrap();
    }
    fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// `wclayer sample base`, imported.
fn sample_base(dir: &Path) -> PathBuf {
    let tar = dir.join("base.tar");
    let layer = dir.join("B");
    stdout_of(&["sample", "base", "-o", &s(&tar)]);
    stdout_of(&["import", "-q", "-i", &s(&tar), &s(&layer)]);
    layer
}

fn cat(layers: &[&Path], name: &str) -> Vec<u8> {
    let mut args: Vec<String> = vec!["cat".into()];
    let (top, parents) = layers.split_first().unwrap();
    for p in parents {
        args.extend(["-l".into(), s(p)]);
    }
    args.extend([s(top), name.into()]);
    let out = wclayer().args(&args).output().unwrap();
    assert!(out.status.success(), "{args:?}");
    out.stdout
}

/// `ls --json -l PARENT TOP`, lines sorted.
fn view(parent: &Path, top: &Path) -> Vec<String> {
    let mut v: Vec<String> = stdout_of(&["ls", "--json", "-l", &s(parent), &s(top)])
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// `ls TAR` as (kind, name) pairs.
fn entries(tar: &Path) -> Vec<(String, String)> {
    stdout_of(&["ls", &s(tar)])
        .lines()
        .map(|l| {
            let kind = l.split_whitespace().next().unwrap().to_string();
            let name = l.split("  ").last().unwrap().trim().to_string();
            (kind, name)
        })
        .collect()
}

fn verify_clean(parent: &Path, tar: &Path) {
    let out = wclayer()
        .args(["verify", "-l", &s(parent), &s(tar)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn delta_of_two_layer_chains_round_trips_with_metadata() {
    let t = tempfile::tempdir().unwrap();
    let b = sample_base(t.path());
    // D1: content, attributes and descriptor changes of B's files, additions, and the
    // removal of a file and of a directory with its contents.
    let tick = cat(&[&b], "Files/tick.txt");
    let empty = cat(&[&b], "Files/empty.txt");
    let d1 = t.path().join("d1.tar");
    write_tar(
        &d1,
        &[
            whiteout("Files/old.txt"),
            whiteout("Files/日本語"),
            file("Files/normal.txt", b"changed content"),
            file_attrs("Files/tick.txt", &tick, 0x21),
            file("Files/empty.txt", &empty),
            dir("Files/added"),
            file("Files/added/new.txt", b"new"),
        ],
    );
    let sample_delta = t.path().join("d2.tar");
    stdout_of(&["sample", "delta", "-o", &s(&sample_delta)]);
    for (i, d) in [d1, sample_delta].iter().enumerate() {
        let m = t.path().join(format!("M{i}"));
        let l = t.path().join(format!("L{i}"));
        let out = t.path().join(format!("delta{i}.tar"));
        stdout_of(&["import", "-q", "-l", &s(&b), "-i", &s(d), &s(&m)]);
        let text = stdout_of(&["delta", "-l", &s(&b), &s(&m), "-o", &s(&out)]);
        assert!(text.contains("diffID sha256:"), "{text}");
        stdout_of(&["import", "-q", "-l", &s(&b), "-i", &s(&out), &s(&l)]);
        assert_eq!(view(&b, &l), view(&b, &m), "{}", d.display());
        // The flattened chains are the same layer, byte for byte.
        let (fl, fm) = (t.path().join("fl.tar"), t.path().join("fm.tar"));
        for (top, f) in [(&l, &fl), (&m, &fm)] {
            stdout_of(&[
                "flatten",
                "-q",
                "--force",
                "-l",
                &s(&b),
                &s(top),
                "-o",
                &s(f),
            ]);
        }
        stdout_of(&["diff", &s(&fl), &s(&fm)]);
        verify_clean(&b, &out);
        // The delta is a fixed point: importing and exporting it gives its bytes.
        let again = t.path().join(format!("again{i}.tar"));
        stdout_of(&["export", "-q", &s(&l), "-o", &s(&again)]);
        assert_eq!(fs::read(&again).unwrap(), fs::read(&out).unwrap());
        if i == 1 {
            // The sample delta has registry hive deltas, which no merged view holds.
            let o = wclayer()
                .args(["delta", "--force", "-l", &s(&b), &s(&m), "-o", &s(&out)])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("entries under Hives/"), "{err}");
        }
        if i == 0 {
            let got = entries(&out);
            let want = [
                ("tombstone", "Files/old.txt"),
                ("tombstone", "Files/日本語"),
                ("dir", "Files/added"),
                ("file", "Files/added/new.txt"),
                ("file", "Files/empty.txt"),
                ("file", "Files/normal.txt"),
                ("file", "Files/tick.txt"),
            ];
            let mut sorted = got.clone();
            sorted.sort();
            let mut want: Vec<(String, String)> = want
                .iter()
                .map(|(k, n)| (k.to_string(), n.to_string()))
                .collect();
            want.sort();
            assert_eq!(sorted, want, "{got:?}");
            // --json counts.
            let json = stdout_of(&[
                "delta",
                "--json",
                "--force",
                "-l",
                &s(&b),
                &s(&m),
                "-o",
                &s(&out),
            ]);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["added"], 2, "{v}");
            assert_eq!(v["changed"], 3, "{v}");
            assert_eq!(v["tombstones"], 2, "{v}");
        }
    }
}

#[test]
fn delta_to_a_host_directory() {
    let t = tempfile::tempdir().unwrap();
    let base_tar = t.path().join("base.tar");
    write_tar(
        &base_tar,
        &[
            dir("Files"),
            file("Files/keep.txt", b"keep"),
            file("Files/change.txt", b"old"),
            file("Files/gone.txt", b"gone"),
            dir("Files/dir"),
            file("Files/dir/a.txt", b"a"),
            dir("Files/dir/sub"),
            file("Files/dir/sub/b.txt", b"b"),
            dir("Files/stay"),
            file("Files/stay/c.txt", b"c"),
            dir("UtilityVM"),
            dir("UtilityVM/Files"),
            file("UtilityVM/Files/u.txt", b"u"),
        ],
    );
    let b = t.path().join("B");
    stdout_of(&["import", "-q", "-i", &s(&base_tar), &s(&b)]);
    let host = t.path().join("host");
    fs::create_dir_all(host.join("stay")).unwrap();
    fs::write(host.join("keep.txt"), cat(&[&b], "Files/keep.txt")).unwrap();
    fs::write(host.join("stay/c.txt"), cat(&[&b], "Files/stay/c.txt")).unwrap();
    fs::write(host.join("change.txt"), b"new content").unwrap();
    fs::write(host.join("added.txt"), b"added").unwrap();

    let out = t.path().join("d.tar");
    let json = stdout_of(&["delta", "--json", "-l", &s(&b), &s(&host), "-o", &s(&out)]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&v["added"], &v["changed"], &v["tombstones"]),
        (&1.into(), &1.into(), &2.into()),
        "{v}"
    );
    assert_eq!(
        entries(&out),
        [
            ("tombstone", "Files/dir"),
            ("tombstone", "Files/gone.txt"),
            ("file", "Files/added.txt"),
            ("file", "Files/change.txt"),
        ]
        .map(|(k, n)| (k.to_string(), n.to_string())),
        "only what changed, and the topmost removed names"
    );
    verify_clean(&b, &out);

    let l = t.path().join("L");
    stdout_of(&["import", "-q", "-l", &s(&b), "-i", &s(&out), &s(&l)]);
    for name in ["keep.txt", "stay/c.txt", "change.txt", "added.txt"] {
        assert_eq!(
            cat(&[&l, &b], &format!("Files/{name}")),
            fs::read(host.join(name)).unwrap(),
            "{name}"
        );
    }
    let listed = stdout_of(&["ls", "-l", &s(&b), &s(&l)]);
    for gone in ["Files/gone.txt", "Files/dir"] {
        assert!(!listed.contains(gone), "{gone} is gone: {listed}");
    }
    assert!(listed.contains("UtilityVM/Files/u.txt"), "{listed}");

    // The delta of the chain to the same tree is empty.
    let again = t.path().join("again.tar");
    let text = stdout_of(&[
        "delta",
        "-l",
        &s(&l),
        "-l",
        &s(&b),
        &s(&host),
        "-o",
        &s(&again),
    ]);
    assert!(text.contains("no differences"), "{text}");
    assert!(entries(&again).is_empty());
}

#[test]
fn identical_trees_give_an_empty_delta() {
    let t = tempfile::tempdir().unwrap();
    let b = sample_base(t.path());
    let out = t.path().join("e.tar");
    let text = stdout_of(&["delta", "-l", &s(&b), &s(&b), "-o", &s(&out)]);
    assert!(text.starts_with("no differences"), "{text}");
    assert!(entries(&out).is_empty());
    verify_clean(&b, &out);

    // Host flags do not apply to a layer directory; a delta needs a parent.
    let out2 = t.path().join("e2.tar");
    let o = wclayer()
        .args(["delta", "-l", &s(&b), &s(&b), "--prefix", "Files/x", "-o"])
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--prefix applies to a host directory"));
    let o = wclayer()
        .args(["delta", &s(&b), "-o"])
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

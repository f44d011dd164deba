//! `wclayer diff`: pairs of layers that differ in one property each show exactly that
//! property, identical layers exit 0, unreadable ones 2 (docs/diff.md).

use std::path::Path;

use serde_json::Value;

use crate::{USERS_SD, s, wclayer};

/// One tar entry of a test layer.
#[derive(Clone)]
struct E {
    name: &'static str,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: Option<&'static str>,
    mode: u32,
    uname: &'static str,
    mtime: u64,
    pax: Vec<(String, String)>,
}

/// The PAX records of an entry with Windows metadata.
fn meta(attrs: u32) -> Vec<(String, String)> {
    vec![
        ("MSWINDOWS.fileattr".into(), attrs.to_string()),
        ("LIBARCHIVE.creationtime".into(), "1600000000".into()),
        ("atime".into(), "1700000100".into()),
        ("ctime".into(), "1700000200".into()),
    ]
}

fn ent(name: &'static str, kind: tar::EntryType, data: &[u8], attrs: u32) -> E {
    E {
        name,
        kind,
        data: data.to_vec(),
        link: None,
        mode: 0o644,
        uname: "",
        mtime: 1_700_000_000,
        pax: meta(attrs),
    }
}

/// A plain entry (an alternate data stream, a whiteout): no records.
fn plain(name: &'static str, data: &[u8]) -> E {
    E {
        pax: Vec::new(),
        ..ent(name, tar::EntryType::Regular, data, 0)
    }
}

fn set(e: &mut E, key: &str, value: &str) {
    e.pax.retain(|(k, _)| k != key);
    e.pax.push((key.to_string(), value.to_string()));
}

/// A delta layer with one entry of each kind.
fn sample() -> Vec<E> {
    let mut a = ent("Files/a.txt", tar::EntryType::Regular, b"hello\n", 0x20);
    set(&mut a, "MSWINDOWS.rawsd", USERS_SD);
    set(&mut a, "MSWINDOWS.xattr.FOO", "YmFy");
    let mut lnk = ent("Files/lnk", tar::EntryType::Symlink, b"", 0x420);
    lnk.link = Some("C:\\target");
    let mut h = ent("Files/h.txt", tar::EntryType::Link, b"", 0x20);
    h.link = Some("Files/t.txt");
    vec![
        ent("Files", tar::EntryType::Directory, b"", 0x10),
        a,
        plain("Files/a.txt:zone", b"[ZoneTransfer]\n"),
        ent("Files/b.txt", tar::EntryType::Regular, b"bee\n", 0x20),
        lnk,
        ent("Files/t.txt", tar::EntryType::Regular, b"linked\n", 0x20),
        h,
        ent("Files/c.txt", tar::EntryType::Regular, b"linked\n", 0x20),
        plain("Files/.wh.gone.txt", b""),
    ]
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_mtime(e.mtime);
        h.set_username(e.uname).unwrap();
        if !e.pax.is_empty() {
            b.append_pax_extensions(e.pax.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
                .unwrap();
        }
        match e.link {
            Some(l) => b.append_link(&mut h, e.name, l).unwrap(),
            None => b.append_data(&mut h, e.name, &e.data[..]).unwrap(),
        }
    }
    b.into_inner().unwrap()
}

/// `sample()` with `edit` applied to the entry `name`.
fn edited(name: &str, edit: impl Fn(&mut E)) -> Vec<E> {
    let mut v = sample();
    let e = v.iter_mut().find(|e| e.name == name).unwrap();
    edit(e);
    v
}

/// Runs `wclayer diff ARGS`: exit status, standard output, standard error.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = wclayer().arg("diff").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Writes both tars and runs `wclayer diff --json` on them: exit status and the JSON
/// lines (every line must parse).
fn json_diff(dir: &Path, old: &[u8], new: &[u8]) -> (i32, Vec<Value>) {
    let (a, b) = (dir.join("old.tar"), dir.join("new.tar"));
    std::fs::write(&a, old).unwrap();
    std::fs::write(&b, new).unwrap();
    let (code, out, err) = run(&["--json", &s(&a), &s(&b)]);
    assert!(err.is_empty(), "{err}");
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (code, lines)
}

/// The changes of a `--json` output (without the summary line): change, entry and the
/// names of the fields that are not tar header fields.
fn changes(lines: &[Value]) -> Vec<(String, String, Vec<String>)> {
    let (summary, rest) = lines.split_last().unwrap();
    assert!(summary.get("summary").is_some(), "{summary}");
    rest.iter()
        .map(|c| {
            let fields = c["fields"].as_object().unwrap();
            (
                c["change"].as_str().unwrap().to_string(),
                c["entry"].as_str().unwrap().to_string(),
                fields
                    .keys()
                    .filter(|k| !k.starts_with("tar."))
                    .cloned()
                    .collect(),
            )
        })
        .collect()
}

fn changed(entry: &str, fields: &[&str]) -> (String, String, Vec<String>) {
    (
        "changed".into(),
        entry.into(),
        fields.iter().map(|f| f.to_string()).collect(),
    )
}

#[test]
fn one_property_each_shows_exactly_that_field_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let old = tar_of(&sample());
    type Edit = fn(&mut E);
    let cases: [(&str, &str, &str, Edit); 11] = [
        ("content", "Files/b.txt", "content", |e| {
            e.data = b"bea\n".to_vec()
        }),
        ("attribute", "Files/b.txt", "attributes", |e| {
            set(e, "MSWINDOWS.fileattr", "33")
        }),
        ("creation time", "Files/b.txt", "creation_time", |e| {
            set(e, "LIBARCHIVE.creationtime", "1600000001")
        }),
        ("access time", "Files/b.txt", "last_access_time", |e| {
            set(e, "atime", "1700000101.5")
        }),
        ("write time", "Files/b.txt", "last_write_time", |e| {
            e.mtime += 60
        }),
        ("change time", "Files/b.txt", "change_time", |e| {
            set(e, "ctime", "1700000300")
        }),
        (
            "security descriptor",
            "Files/a.txt",
            "security_descriptor",
            |e| set(e, "MSWINDOWS.rawsd", wclayer_gen::SD_BUILTIN_ADMINS),
        ),
        ("EA", "Files/a.txt", "extended_attributes[FOO]", |e| {
            set(e, "MSWINDOWS.xattr.FOO", "YmF6")
        }),
        ("stream", "Files/a.txt:zone", "streams[zone]", |e| {
            e.data = b"[ZoneTransfer]\nZoneId=3\n".to_vec()
        }),
        ("reparse target", "Files/lnk", "reparse", |e| {
            e.link = Some("C:\\elsewhere")
        }),
        ("kind", "Files/b.txt", "kind", |e| {
            e.name = "Files/.wh.b.txt"
        }),
    ];
    for (what, name, field, edit) in cases {
        let (code, lines) = json_diff(dir.path(), &old, &tar_of(&edited(name, edit)));
        let entry = name.split(':').next().unwrap();
        assert_eq!(code, 1, "{what}");
        assert_eq!(
            changes(&lines),
            [changed(entry, &[field])],
            "{what}: {lines:?}"
        );
    }
}

#[test]
fn field_values_are_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    std::fs::write(&a, tar_of(&sample())).unwrap();
    let new = edited("Files/b.txt", |e| {
        e.mtime = 1_706_745_600;
        set(e, "MSWINDOWS.fileattr", "33");
    });
    std::fs::write(&b, tar_of(&new)).unwrap();
    let (code, out, err) = run(&[&s(&a), &s(&b)]);
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("~ Files/b.txt\n"), "{out}");
    assert!(
        out.contains("    attributes: 0x20 (ARCHIVE) -> 0x21 (READONLY|ARCHIVE)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "    last_write_time: 2023-11-14T22:13:20.0000000Z -> 2024-02-01T00:00:00.0000000Z\n"
        ),
        "{out}"
    );
    assert!(out.contains("\n0 added, 0 removed, 1 changed\n"), "{out}");
    assert!(out.contains("\nold diffID sha256:"), "{out}");
    assert!(out.contains("\nnew diffID sha256:"), "{out}");
}

#[test]
fn a_hard_link_instead_of_a_copy_changes_only_the_link_groups() {
    let dir = tempfile::tempdir().unwrap();
    let new = edited("Files/c.txt", |e| {
        e.kind = tar::EntryType::Link;
        e.data.clear();
        e.link = Some("Files/t.txt");
    });
    let (code, lines) = json_diff(dir.path(), &tar_of(&sample()), &tar_of(&new));
    assert_eq!(code, 1);
    assert_eq!(
        changes(&lines),
        [
            changed("Files/c.txt", &["hard_link"]),
            changed("Files/h.txt", &["hard_link"]),
            changed("Files/t.txt", &["hard_link"]),
        ],
        "{lines:?}"
    );
    let t = &lines[2]["fields"]["hard_link"];
    assert_eq!(t["old"], "Files/h.txt");
    assert_eq!(t["new"], "Files/c.txt, Files/h.txt");
}

#[test]
fn added_and_removed_entries_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let mut new = sample();
    new.retain(|e| e.name != "Files/b.txt" && e.name != "Files/.wh.gone.txt");
    new.push(ent(
        "Files/new.txt",
        tar::EntryType::Regular,
        b"new\n",
        0x20,
    ));
    new.push(plain("Files/.wh.old.txt", b""));
    let (code, lines) = json_diff(dir.path(), &tar_of(&sample()), &tar_of(&new));
    assert_eq!(code, 1);
    let got: Vec<(String, String)> = changes(&lines)
        .into_iter()
        .map(|(c, e, _)| (c, e))
        .collect();
    let want = [
        ("removed", "Files/b.txt"),
        ("removed", "Files/gone.txt"),
        ("added", "Files/new.txt"),
        ("added", "Files/old.txt"),
    ];
    assert_eq!(
        got,
        want.map(|(c, e)| (c.to_string(), e.to_string())),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap()["summary"]["added"], 2);
    let (a, b) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    let (_, out, _) = run(&[&s(&a), &s(&b)]);
    assert!(out.contains("- Files/b.txt\n"), "{out}");
    assert!(out.contains("+ Files/new.txt\n"), "{out}");
    assert!(out.contains("2 added, 2 removed, 0 changed\n"), "{out}");
}

#[test]
fn tar_header_fields_alone_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let old = tar_of(&sample());
    for (field, edit) in [
        (
            "tar.uname",
            (|e: &mut E| e.uname = "ContainerAdministrator") as fn(&mut E),
        ),
        ("tar.mode", |e: &mut E| e.mode = 0o755),
    ] {
        let (code, lines) = json_diff(dir.path(), &old, &tar_of(&edited("Files/b.txt", edit)));
        assert_eq!(code, 1, "{field}");
        assert_eq!(lines.len(), 2, "{lines:?}");
        let fields = lines[0]["fields"].as_object().unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), [field], "{lines:?}");
        assert_eq!(lines[0]["entry"], "Files/b.txt");
    }
}

#[test]
fn identical_inputs_exit_0_and_same_entries_with_other_bytes_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let old = tar_of(&sample());
    let (code, lines) = json_diff(dir.path(), &old, &old);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["summary"]["identical"], true);
    assert_eq!(
        lines[0]["summary"]["old_diff_id"],
        lines[0]["summary"]["new_diff_id"]
    );
    let (a, b) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    let (code, out, _) = run(&[&s(&a), &s(&b)]);
    assert_eq!(code, 0);
    assert!(out.starts_with("0 added, 0 removed, 0 changed\n"), "{out}");

    // The same entries, with more padding after the end of the archive.
    let mut padded = old.clone();
    padded.extend_from_slice(&[0; 10240]);
    let (code, lines) = json_diff(dir.path(), &old, &padded);
    assert_eq!(code, 1);
    let summary = &lines[0]["summary"];
    assert_eq!((summary["changed"].as_u64(), lines.len()), (Some(0), 1));
    assert_ne!(summary["old_diff_id"], summary["new_diff_id"]);
    assert!(
        summary["bytes"].as_str().unwrap().contains("padding"),
        "{summary}"
    );
    let (_, out, _) = run(&[&s(&a), &s(&b)]);
    assert!(out.starts_with("bytes: the entries are the same"), "{out}");
}

#[test]
fn a_tar_and_its_imported_layer_directory_compare_equal() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("layer.tar");
    let mut entries = sample();
    // A base layer directory holds no tombstones.
    entries.retain(|e| !e.name.contains(".wh."));
    std::fs::write(&tar, tar_of(&entries)).unwrap();
    let layer = dir.path().join("layer");
    wclayer()
        .args(["import", "-i", &s(&tar), &s(&layer)])
        .assert()
        .success();
    let (code, out, err) = run(&[&s(&tar), &s(&layer)]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "0 added, 0 removed, 0 changed\n", "")
    );
    let (code, out, _) = run(&[&s(&layer), &s(&tar)]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_unreadable_input_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar");
    std::fs::write(&good, tar_of(&sample())).unwrap();
    let missing = dir.path().join("missing.tar");
    let (code, out, err) = run(&[&s(&good), &s(&missing)]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("wclayer: error: ")
            && err.contains(&s(&missing))
            && err.lines().count() == 1,
        "{err}"
    );
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, [0xffu8; 2048]).unwrap();
    let (code, _, err) = run(&[&s(&garbage), &s(&good)]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("cannot read {}", s(&garbage))),
        "{err}"
    );
}

#[test]
fn quiet_prints_nothing_and_answers_with_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    std::fs::write(&a, tar_of(&sample())).unwrap();
    std::fs::write(
        &b,
        tar_of(&edited("Files/b.txt", |e| e.data = b"bea\n".to_vec())),
    )
    .unwrap();
    assert_eq!(
        run(&["-q", &s(&a), &s(&b)]),
        (1, String::new(), String::new())
    );
    assert_eq!(
        run(&["-q", &s(&a), &s(&a)]),
        (0, String::new(), String::new())
    );
    // `--json` was asked for: it still prints.
    let (code, out, err) = run(&["-q", "--json", &s(&a), &s(&b)]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert!(out.ends_with("}\n") && out.contains("\"summary\""), "{out}");
}

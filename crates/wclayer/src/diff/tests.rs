use std::io::Write;

use wclayer_backup::ea::ExtendedAttribute;
use wclayer_backup::{BackupStreamWriter, FileAttributes, FileTime, StreamHeader, StreamId};
use wclayer_layer::{MemLayer, WalkMode};

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::sd::SecurityDescriptor;
use wclayer_backup::{FileBasicInfo, StreamAttributes, StreamSplitter};
use wclayer_layer::{LayerPath, LayerWriter, Limits};

use super::summary::Accum;
use super::tar::longest_increasing;
use super::*;

const T0: u64 = 133_000_000_000_000_000;

/// One entry of a test layer.
#[derive(Clone)]
struct F {
    name: &'static str,
    attrs: u32,
    times: [u64; 4],
    data: Option<Vec<u8>>,
    sd: Option<&'static str>,
    eas: Vec<(&'static str, Vec<u8>)>,
    streams: Vec<(&'static str, Vec<u8>)>,
    reparse: Option<ReparsePoint>,
    link: Option<&'static str>,
    tombstone: bool,
}

fn dir(name: &'static str) -> F {
    F {
        name,
        attrs: 0x10,
        times: [T0, T0 + 1, T0 + 2, T0 + 3],
        data: None,
        sd: None,
        eas: Vec::new(),
        streams: Vec::new(),
        reparse: None,
        link: None,
        tombstone: false,
    }
}

fn file(name: &'static str, data: &[u8]) -> F {
    F {
        attrs: 0x20,
        data: Some(data.to_vec()),
        ..dir(name)
    }
}

/// A small delta layer with one entry of each kind.
fn sample() -> Vec<F> {
    let mut a = file("Files/a.txt", b"hello\n");
    a.sd = Some("O:BAG:SYD:(A;;FA;;;BA)");
    a.eas = vec![("FOO", b"bar".to_vec())];
    a.streams = vec![("zone", b"[ZoneTransfer]".to_vec())];
    let mut l = dir("Files/lnk");
    l.attrs = 0x410;
    l.reparse = Some(ReparsePoint::from_target("C:\\target", false));
    let mut h = dir("Files/h.txt");
    h.link = Some("Files/t.txt");
    let mut gone = dir("Files/gone.txt");
    gone.tombstone = true;
    vec![
        dir("Files"),
        a,
        l,
        file("Files/t.txt", b"linked"),
        h,
        gone,
        file("Files/b.bin", &[7; 5000]),
    ]
}

fn layer(entries: &[F]) -> MemLayer {
    let mut m = MemLayer::new();
    m.set_walk_mode(Some(WalkMode::Delta));
    for e in entries {
        let name = LayerPath::parse(e.name).unwrap();
        if e.tombstone {
            m.remove(&name).unwrap();
            continue;
        }
        if let Some(t) = e.link {
            m.add_link(&name, &LayerPath::parse(t).unwrap()).unwrap();
            continue;
        }
        let info = FileBasicInfo {
            creation_time: FileTime(e.times[0]),
            last_access_time: FileTime(e.times[1]),
            last_write_time: FileTime(e.times[2]),
            change_time: FileTime(e.times[3]),
            file_attributes: FileAttributes(e.attrs),
        };
        m.add(&name, &info).unwrap();
        let mut w = BackupStreamWriter::new(Vec::new());
        let mut put = |id: StreamId, body: &[u8]| {
            w.write_header(&StreamHeader::new(id, body.len() as u64))
                .unwrap();
            w.write_all(body).unwrap();
        };
        if let Some(sd) = e.sd {
            put(
                StreamId::SECURITY_DATA,
                &SecurityDescriptor::from_sddl(sd).unwrap().to_bytes(),
            );
        }
        if !e.eas.is_empty() {
            let eas: Vec<ExtendedAttribute> = e
                .eas
                .iter()
                .map(|(n, v)| ExtendedAttribute {
                    name: n.as_bytes().to_vec(),
                    value: v.clone(),
                    flags: 0,
                })
                .collect();
            put(
                StreamId::EA_DATA,
                &wclayer_backup::ea::encode(&eas).unwrap(),
            );
        }
        if let Some(r) = &e.reparse {
            put(StreamId::REPARSE_DATA, &r.encode().unwrap());
        }
        if let Some(d) = &e.data {
            put(StreamId::DATA, d);
        }
        for (n, d) in &e.streams {
            w.write_header(&StreamHeader::alternate_data(n, d.len() as u64))
                .unwrap();
            w.write_all(d).unwrap();
        }
        m.write_all(&w.finish().unwrap()).unwrap();
    }
    m.close().unwrap();
    m
}

fn tar_of(entries: &[F]) -> Vec<u8> {
    let mut m = layer(entries);
    wclayer_tar::export_tar(&mut m.reader().unwrap(), Vec::new())
        .unwrap()
        .0
}

fn diff_tars(a: &[u8], b: &[u8]) -> Diff {
    diff(
        Input::Tar(&mut &a[..]),
        Input::Tar(&mut &b[..]),
        &Limits::default(),
    )
    .unwrap()
}

/// The fields of the one changed entry `name`, and nothing else changed.
fn only_change(d: &Diff, name: &str) -> Vec<String> {
    assert_eq!(d.changes.len(), 1, "{d:#?}");
    let c = &d.changes[0];
    assert_eq!((c.kind, c.entry.as_str()), (ChangeKind::Changed, name));
    c.fields.iter().map(|f| f.field.clone()).collect()
}

#[test]
fn identical_tars_are_identical() {
    let t = tar_of(&sample());
    let d = diff_tars(&t, &t);
    assert!(d.is_identical(), "{d:#?}");
    assert_eq!(d.old_diff_id, d.new_diff_id);
    assert_eq!(
        d.old_diff_id.as_deref(),
        Some(hex::encode(Sha256::digest(&t)).as_str())
    );
}

#[test]
fn a_tar_equals_the_layer_it_was_written_from() {
    let entries = sample();
    let t = tar_of(&entries);
    let mut m = layer(&entries);
    let mut r = m.reader().unwrap();
    let d = diff(
        Input::Tar(&mut &t[..]),
        Input::Layer(&mut r),
        &Limits::default(),
    )
    .unwrap();
    assert!(d.is_identical(), "{d:#?}");
    assert_eq!(d.new_diff_id, None);
}

/// Each property changed alone shows as exactly its field.
#[test]
fn one_property_changed_shows_one_field() {
    type Edit = fn(&mut F);
    let cases: [(&str, &str, Edit); 11] = [
        ("Files/b.bin", "content", |f| f.data = Some(vec![8; 5000])),
        ("Files/a.txt", "attributes", |f| f.attrs |= 0x1),
        ("Files/a.txt", "creation_time", |f| f.times[0] += 10_000_000),
        ("Files/a.txt", "last_access_time", |f| {
            f.times[1] += 10_000_000
        }),
        ("Files/a.txt", "last_write_time", |f| {
            f.times[2] += 10_000_000
        }),
        ("Files/a.txt", "change_time", |f| f.times[3] += 10_000_000),
        ("Files/a.txt", "security_descriptor", |f| {
            f.sd = Some("O:BUG:SYD:(A;;FA;;;BU)")
        }),
        ("Files/a.txt", "extended_attributes[FOO]", |f| {
            f.eas = vec![("FOO", b"baz".to_vec())]
        }),
        ("Files/a.txt", "streams[zone]", |f| {
            f.streams = vec![("zone", b"[ZoneTransfer]\nZoneId=3".to_vec())]
        }),
        ("Files/lnk", "reparse", |f| {
            f.reparse = Some(ReparsePoint::from_target("C:\\elsewhere", false))
        }),
        ("Files/gone.txt", "kind", |f| {
            f.tombstone = false;
            f.attrs = 0x20;
            f.data = Some(Vec::new());
        }),
    ];
    let old = tar_of(&sample());
    for (name, field, edit) in cases {
        let mut entries = sample();
        for e in &mut entries {
            if e.name == name {
                edit(e);
            }
        }
        let d = diff_tars(&old, &tar_of(&entries));
        let fields = only_change(&d, name);
        let ours: Vec<&String> = fields.iter().filter(|f| !f.starts_with("tar.")).collect();
        assert_eq!(ours, [field], "{name}: {d:#?}");
    }
}

/// A copy that becomes a hard link changes which names share a file, and nothing else:
/// a link is compared as the file it names.
#[test]
fn a_copy_turned_into_a_hard_link_changes_only_the_link_groups() {
    let mut old = sample();
    let mut copy = old[1].clone();
    copy.name = "Files/c.txt";
    old.push(copy);
    let mut new = sample();
    let mut link = dir("Files/c.txt");
    link.link = Some("Files/a.txt");
    new.push(link);
    let d = diff_tars(&tar_of(&old), &tar_of(&new));
    type Fields<'a> = Vec<(&'a str, Option<&'a str>, Option<&'a str>)>;
    let got: Vec<(&str, Fields<'_>)> = d
        .changes
        .iter()
        .map(|c| {
            assert_eq!(c.kind, ChangeKind::Changed);
            let f = c
                .fields
                .iter()
                .filter(|f| !f.field.starts_with("tar."))
                .map(|f| (f.field.as_str(), f.old.as_deref(), f.new.as_deref()))
                .collect();
            (c.entry.as_str(), f)
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "Files/a.txt",
                vec![("hard_link", None, Some("Files/c.txt"))]
            ),
            (
                "Files/c.txt",
                vec![("hard_link", None, Some("Files/a.txt"))]
            ),
        ]
    );
}

#[test]
fn values_are_shown_for_people() {
    let old = tar_of(&sample());
    let mut entries = sample();
    entries[1].times[2] += 10_000_000;
    entries[1].sd = Some("O:BUG:SYD:(A;;FA;;;BU)");
    entries[1].attrs = 0x21;
    let d = diff_tars(&old, &tar_of(&entries));
    let f = &d.changes[0].fields;
    let get = |n: &str| f.iter().find(|x| x.field == n).unwrap();
    assert_eq!(get("attributes").old.as_deref(), Some("0x20 (ARCHIVE)"));
    assert_eq!(
        get("attributes").new.as_deref(),
        Some("0x21 (READONLY|ARCHIVE)")
    );
    assert_eq!(
        get("security_descriptor").old.as_deref(),
        Some("O:BAG:SYD:(A;;FA;;;BA)")
    );
    let t = get("last_write_time");
    assert!(t.old.as_deref().unwrap().ends_with('Z'), "{t:?}");
    assert_ne!(t.old, t.new);
}

#[test]
fn added_and_removed_entries() {
    let old = tar_of(&sample());
    let mut entries = sample();
    entries.retain(|e| e.name != "Files/b.bin");
    entries.push(file("Files/new.txt", b"new"));
    let d = diff_tars(&old, &tar_of(&entries));
    let got: Vec<(ChangeKind, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.entry.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (ChangeKind::Removed, "Files/b.bin"),
            (ChangeKind::Added, "Files/new.txt")
        ]
    );
    assert_eq!(d.counts(), (1, 1, 0));
}

#[test]
fn same_entries_different_bytes_are_explained() {
    let old = tar_of(&sample());
    let mut new = old.clone();
    new.extend_from_slice(&[0; 1024]);
    let d = diff_tars(&old, &new);
    assert!(d.changes.is_empty(), "{d:#?}");
    assert!(!d.is_identical());
    assert_ne!(d.old_diff_id, d.new_diff_id);
    let why = d.bytes.unwrap();
    assert!(why.contains("padding"), "{why}");
}

#[test]
fn an_unreadable_side_is_named() {
    let t = tar_of(&sample());
    let garbage = [0xffu8; 1024];
    let e = diff(
        Input::Tar(&mut &t[..]),
        Input::Tar(&mut &garbage[..]),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.side, Side::New);
    let e = diff(
        Input::Tar(&mut &garbage[..]),
        Input::Tar(&mut &t[..]),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.side, Side::Old);
}

#[test]
fn moved_entries_are_those_outside_the_longest_kept_order() {
    let v: Vec<(u64, u64, String)> = [0u64, 5, 1, 2, 3, 4]
        .iter()
        .enumerate()
        .map(|(n, o)| (*o, n as u64, format!("e{o}")))
        .collect();
    assert_eq!(longest_increasing(&v), BTreeSet::from([0, 2, 3, 4, 5]));
    assert!(longest_increasing(&[]).is_empty());
}

#[test]
fn tombstones_added_removed_and_before_an_entry() {
    let old = tar_of(&sample());
    let mut entries = sample();
    entries.retain(|e| e.name != "Files/gone.txt");
    let d = diff_tars(&old, &tar_of(&entries));
    assert_eq!(d.changes.len(), 1, "{d:#?}");
    assert_eq!(d.changes[0].kind, ChangeKind::Removed);
    let mut entries = sample();
    let mut t = dir("Files/b.bin");
    t.tombstone = true;
    entries.insert(1, t);
    let d = diff_tars(&old, &tar_of(&entries));
    assert_eq!(only_change(&d, "Files/b.bin")[0], "kind", "{d:#?}");
    assert_eq!(
        d.changes[0].fields[0].new.as_deref(),
        Some("tombstone+file")
    );
}

#[test]
fn sparse_data_hashes_as_its_zero_filled_bytes() {
    let mut acc = Accum::default();
    let mut w = BackupStreamWriter::new(Vec::new());
    w.write_header(&StreamHeader {
        attributes: StreamAttributes::SPARSE,
        ..StreamHeader::new(StreamId::DATA, 0)
    })
    .unwrap();
    w.write_header(&StreamHeader::sparse_block(3, 1)).unwrap();
    w.write_all(b"x").unwrap();
    w.write_header(&StreamHeader::sparse_block(16, 0)).unwrap();
    let bytes = w.finish().unwrap();
    let mut split = StreamSplitter::new();
    for piece in bytes.chunks(7) {
        split.feed(piece, &mut acc).unwrap();
    }
    split.finish(&mut acc).unwrap();
    let s = acc.finish(FileBasicInfo::default()).unwrap();
    let mut want = vec![0u8; 16];
    want[3] = b'x';
    assert!(s.sparse);
    assert_eq!(
        s.data,
        Some(StreamDigest {
            size: 16,
            sha256: Sha256::digest(&want).into()
        })
    );
}

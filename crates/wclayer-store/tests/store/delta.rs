//! Delta layers over base layers: tombstones, hard links into the parent, directory times,
//! the utility-VM clone.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use wclayer_backup::FileBasicInfo;
use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{Entry, LayerReader, LayerWriter, MemLayer, WalkMode, copy_layer};
use wclayer_store::{DirLayerReader, DirLayerWriter, LayerKind, ParentLayer};

use crate::common::*;

const BCD: &str = "UtilityVM/Files/EFI/Microsoft/Boot/BCD";

/// A base layer with a utility VM: a subtree, a hard-link group, a symlink, an ADS and the
/// four BCD files.
fn base_layer(dir: &Path) {
    let mut l = MemLayer::new();
    add(&mut l, "Files", dir_info(1), &Stream::new());
    add(
        &mut l,
        "Files/x",
        file_info(2),
        &Stream::new().data(b"parent x").ads("s", b"ads of x"),
    );
    add(&mut l, "Files/dir", dir_info(3), &Stream::new());
    add(&mut l, "UtilityVM", dir_info(4), &Stream::new());
    add(&mut l, "UtilityVM/Files", dir_info(5), &Stream::new());
    add(
        &mut l,
        "UtilityVM/Files/EFI/Microsoft/Boot",
        dir_info(6),
        &Stream::new(),
    );
    for (i, n) in ["BCD", "BCD.LOG", "BCD.LOG1", "BCD.LOG2"]
        .iter()
        .enumerate()
    {
        let name = format!("UtilityVM/Files/EFI/Microsoft/Boot/{n}");
        add(
            &mut l,
            &name,
            file_info(7 + i as u64),
            &Stream::new().data(n.as_bytes()),
        );
    }
    add(
        &mut l,
        "UtilityVM/Files/Windows",
        dir_info(11),
        &Stream::new(),
    );
    add(
        &mut l,
        "UtilityVM/Files/Windows/kernel.exe",
        file_info(12),
        &Stream::new().data(b"uvm kernel").ads("zone", b"z"),
    );
    l.add_link(
        &p("UtilityVM/Files/Windows/kernel-link.exe"),
        &p("UtilityVM/Files/Windows/kernel.exe"),
    )
    .unwrap();
    add(
        &mut l,
        "UtilityVM/Files/modified.txt",
        file_info(13),
        &Stream::new().data(b"old"),
    );
    add(
        &mut l,
        "UtilityVM/Files/removed.txt",
        file_info(14),
        &Stream::new().data(b"gone"),
    );
    let rp = ReparsePoint::from_target("Windows\\kernel.exe", false);
    add(
        &mut l,
        "UtilityVM/Files/kernel-symlink",
        symlink_info(15),
        &Stream::new().reparse(&rp),
    );
    l.close().unwrap();
    round_trip(&mut l, dir, "base", &[]);
}

fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().ino()
}

#[test]
fn delta_over_base_with_utility_vm() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let mut l = MemLayer::new();
    add(&mut l, "Files", dir_info(20), &Stream::new());
    add(&mut l, "Files/dir", dir_info(21), &Stream::new());
    add(
        &mut l,
        "Files/dir/new.txt",
        file_info(22),
        &Stream::new().data(b"new"),
    );
    l.remove(&p("Files/x")).unwrap();
    add(&mut l, "UtilityVM", dir_info(23), &Stream::new());
    add(&mut l, "UtilityVM/Files", dir_info(24), &Stream::new());
    add(
        &mut l,
        "UtilityVM/Files/modified.txt",
        file_info(25),
        &Stream::new().data(b"new content"),
    );
    l.remove(&p("UtilityVM/Files/removed.txt")).unwrap();
    l.close().unwrap();
    let got = round_trip(&mut l, tmp.path(), "delta", &["base"]);
    // The walk holds only what the layer wrote: no clone entries.
    let names: Vec<String> = got.iter().map(|s| s.entry.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "Files",
            "Files\\x",
            "Files\\dir",
            "Files\\dir\\new.txt",
            "UtilityVM",
            "UtilityVM\\Files",
            "UtilityVM\\Files\\removed.txt",
            "UtilityVM\\Files\\modified.txt",
        ]
    );
    let base = tmp.path().join("base");
    let delta = tmp.path().join("delta");
    // Cloned: hard links to the parent's files.
    for n in [
        "UtilityVM/Files/Windows/kernel.exe",
        "UtilityVM/Files/Windows/kernel-link.exe",
        "UtilityVM/Files/kernel-symlink",
    ] {
        assert_eq!(ino(&delta.join(n)), ino(&base.join(n)), "{n}");
    }
    assert!(
        std::fs::symlink_metadata(delta.join("UtilityVM/Files/kernel-symlink"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The BCD files are copies.
    for n in ["BCD", "BCD.LOG", "BCD.LOG1", "BCD.LOG2"] {
        let rel = format!("UtilityVM/Files/EFI/Microsoft/Boot/{n}");
        assert_ne!(ino(&delta.join(&rel)), ino(&base.join(&rel)), "{n}");
        assert_eq!(std::fs::read(delta.join(&rel)).unwrap(), n.as_bytes());
        let m = std::fs::metadata(delta.join(&rel)).unwrap();
        let want = file_info(
            7 + ["BCD", "BCD.LOG", "BCD.LOG1", "BCD.LOG2"]
                .iter()
                .position(|x| *x == n)
                .unwrap() as u64,
        );
        assert_eq!(mtime(&m), unix(want.last_write_time), "{n} keeps its times");
    }
    // The layer's own UVM entries win; removed names are not cloned.
    assert_eq!(
        std::fs::read(delta.join("UtilityVM/Files/modified.txt")).unwrap(),
        b"new content"
    );
    assert_ne!(
        ino(&delta.join("UtilityVM/Files/modified.txt")),
        ino(&base.join("UtilityVM/Files/modified.txt"))
    );
    assert!(!delta.join("UtilityVM/Files/removed.txt").exists());
    // The parent is untouched.
    assert_eq!(
        std::fs::read(base.join("UtilityVM/Files/modified.txt")).unwrap(),
        b"old"
    );
    assert_eq!(std::fs::read(base.join(BCD)).unwrap(), b"BCD");
    let r = DirLayerReader::open(&open_dir(tmp.path()), "delta").unwrap();
    let info = r.layer_info();
    assert_eq!(info.kind, LayerKind::Delta);
    assert!(info.utility_vm_cloned);
    assert_eq!(info.tombstones, 2);

    // A layer over the delta clones the delta's merged utility VM (its own entries and its
    // clone): still hard links down to the base's files, the BCD copied again.
    let mut l2 = MemLayer::new();
    add(&mut l2, "UtilityVM", dir_info(30), &Stream::new());
    l2.close().unwrap();
    round_trip(&mut l2, tmp.path(), "delta2", &["delta", "base"]);
    let d2 = tmp.path().join("delta2");
    assert_eq!(
        ino(&d2.join("UtilityVM/Files/Windows/kernel.exe")),
        ino(&base.join("UtilityVM/Files/Windows/kernel.exe"))
    );
    assert_eq!(
        ino(&d2.join("UtilityVM/Files/modified.txt")),
        ino(&delta.join("UtilityVM/Files/modified.txt"))
    );
    assert_ne!(ino(&d2.join(BCD)), ino(&delta.join(BCD)));
    assert!(!d2.join("UtilityVM/Files/removed.txt").exists());
    // The clone carries the metadata too: a layer cloned from delta2 is complete.
    let mut r2 = DirLayerReader::open(&open_dir(tmp.path()), "delta2").unwrap();
    let walked = snapshot(&mut r2);
    assert_eq!(walked.len(), 1, "only UtilityVM itself is walked");
}

fn mtime(m: &std::fs::Metadata) -> (i64, u32) {
    (m.mtime(), u32::try_from(m.mtime_nsec()).unwrap())
}

fn atime(m: &std::fs::Metadata) -> (i64, u32) {
    (m.atime(), u32::try_from(m.atime_nsec()).unwrap())
}

fn unix(t: wclayer_backup::FileTime) -> (i64, u32) {
    let ticks = t.0 as i128 - 116_444_736_000_000_000;
    (
        i64::try_from(ticks.div_euclid(10_000_000)).unwrap(),
        u32::try_from(ticks.rem_euclid(10_000_000) * 100).unwrap(),
    )
}

#[test]
fn directory_times_survive_close() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let fd = open_dir(tmp.path());
    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    let dirs: [(&str, FileBasicInfo); 4] = [
        ("Files", dir_info(100)),
        ("Files/a", dir_info(200)),
        ("Files/a/b", dir_info(300)),
        ("UtilityVM", dir_info(400)),
    ];
    for (name, i) in &dirs {
        w.add(&p(name), i).unwrap();
    }
    // Everything after the directories changes their Linux mtimes...
    add(
        &mut w,
        "Files/a/b/f",
        file_info(1),
        &Stream::new().data(b"f"),
    );
    add(&mut w, "Files/a/g", file_info(1), &Stream::new().data(b"g"));
    w.add_link(&p("Files/a/b/link-to-parent"), &p("Files/x"))
        .unwrap();
    w.add_link(&p("Files/a/link-here"), &p("Files/a/g"))
        .unwrap();
    w.remove(&p("Files/a/b/gone")).unwrap();
    w.close().unwrap();
    // ...and close puts them back; creation and change time are in the metadata.
    let root = tmp.path().join("delta");
    let mut r = DirLayerReader::open(&fd, "delta").unwrap();
    let mut seen = 0;
    while let Some(e) = r.next().unwrap() {
        let Entry::File { name, info, .. } = e else {
            continue;
        };
        let Some((rel, want)) = dirs.iter().find(|(n, _)| p(n).as_str() == name.as_str()) else {
            continue;
        };
        assert_eq!(&info, want, "{rel}: metadata");
        assert_eq!(r.details().unwrap().info, *want);
        let m = std::fs::metadata(root.join(rel)).unwrap();
        assert_eq!(mtime(&m), unix(want.last_write_time), "{rel}: mtime");
        assert_eq!(atime(&m), unix(want.last_access_time), "{rel}: atime");
        seen += 1;
    }
    assert_eq!(seen, 4);
    // The UtilityVM directory received the clone and still has its own times.
    assert!(root.join(BCD).exists());
}

#[test]
fn hard_link_into_parent() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let fd = open_dir(tmp.path());
    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    w.add_link(&p("Files/dir/linked"), &p("FILES/X")).unwrap();
    w.add_link(&p("Files/second"), &p("Files/dir/linked"))
        .unwrap();
    let e = w
        .add_link(&p("Files/bad"), &p("Files/not-anywhere"))
        .unwrap_err();
    assert!(
        matches!(e, wclayer_layer::Error::LinkTargetMissing { .. }),
        "{e}"
    );
    drop(w);
    assert_eq!(ls(tmp.path()), ["base"]);

    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    w.add_link(&p("Files/dir/linked"), &p("FILES/X")).unwrap();
    w.add_link(&p("Files/second"), &p("Files/dir/linked"))
        .unwrap();
    let e = w.add_link(&p("Files/d"), &p("Files/dir")).unwrap_err();
    assert!(
        matches!(e, wclayer_layer::Error::LinkTargetDirectory { .. }),
        "{e}"
    );
    drop(w);

    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    w.add_link(&p("Files/dir/linked"), &p("FILES/X")).unwrap();
    w.add_link(&p("Files/second"), &p("Files/dir/linked"))
        .unwrap();
    w.close().unwrap();

    let base = tmp.path().join("base");
    let delta = tmp.path().join("delta");
    assert_eq!(
        ino(&delta.join("Files/dir/linked")),
        ino(&base.join("Files/x"))
    );
    assert_eq!(std::fs::metadata(base.join("Files/x")).unwrap().nlink(), 3);

    // The linked name reads back as the parent's file: same info, same stream bytes.
    let mut rb = DirLayerReader::open(&fd, "base").unwrap();
    let base_x = snapshot(&mut rb)
        .into_iter()
        .find(|s| s.entry.name().as_str() == "Files\\x")
        .unwrap();
    let mut r = DirLayerReader::open(&fd, "delta").unwrap();
    let snap = snapshot(&mut r);
    let names: Vec<String> = snap.iter().map(|s| s.entry.name().to_string()).collect();
    assert_eq!(names, ["Files", "Files\\dir\\linked", "Files\\second"]);
    for s in &snap[1..] {
        let Entry::File { info, size, .. } = &s.entry else {
            panic!()
        };
        let Entry::File {
            info: bi, size: bs, ..
        } = &base_x.entry
        else {
            panic!()
        };
        assert_eq!((info, size), (bi, bs));
        assert_eq!(s.stream, base_x.stream);
        assert_eq!(s.links, 3);
        assert_eq!(s.id, base_x.id);
    }
    r.rewind().unwrap();
    r.next().unwrap();
    r.next().unwrap();
    let d = r.details().unwrap();
    assert_eq!(d.parent_link, Some((0, "Files\\x".to_string())));
    assert_eq!(d.alternate_streams, [("s".to_string(), 8)]);
    // Copying the delta layer through copy_layer gives the same walk again.
    let mut m = MemLayer::new();
    m.set_walk_mode(Some(WalkMode::Delta));
    r.rewind().unwrap();
    copy_layer(&mut r, &mut m).unwrap();
    let again = snapshot(&mut m.reader().unwrap());
    let again_names: Vec<String> = again.iter().map(|s| s.entry.name().to_string()).collect();
    assert_eq!(again_names, names);
    assert_eq!(again[2].stream, base_x.stream);
}

#[test]
fn base_layer_refuses_tombstones_and_needs_files() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "base", vec![], opts()).unwrap();
    add(&mut w, "Hives", dir_info(1), &Stream::new());
    // A base layer without Files could never be read back: it is not committed, and
    // nothing of it stays.
    let e = w.close().unwrap_err();
    assert!(matches!(e, wclayer_layer::Error::NoFiles), "{e}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let e = DirLayerReader::open(&fd, "base").unwrap_err();
    assert!(!matches!(e, wclayer_store::Error::Model(_)), "{e}");
    let mut w = DirLayerWriter::create(&fd, "b2", vec![], opts()).unwrap();
    let e = w.remove(&p("Files/x")).unwrap_err();
    assert_eq!(e.to_string(), "Files/x: base layer cannot have tombstones");
}

#[test]
fn reader_output_is_independent_of_write_chunking() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let stream = Stream::new()
        .sd(&[1, 2, 3, 4])
        .data(&[9u8; 5000])
        .ads("a", b"alpha")
        .sparse(&[(10_000, b"s")], 20_000);
    let mut w = DirLayerWriter::create(&fd, "l", vec![], opts()).unwrap();
    w.add(&p("Files"), &dir_info(1)).unwrap();
    w.add(&p("Files/f"), &file_info(1)).unwrap();
    for b in stream.bytes() {
        w.write_all(std::slice::from_ref(b)).unwrap();
    }
    w.close().unwrap();
    let mut r = DirLayerReader::open(&fd, "l").unwrap();
    r.next().unwrap();
    r.next().unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(got == stream.bytes());
}

/// A temporary directory on another file system than `near`: in a tmpfs of its own (root
/// only), else in /dev/shm when that is another file system.
struct FarDir {
    // Removed before the file system holding it is unmounted (fields drop in order).
    dir: tempfile::TempDir,
    _mount: Option<Mount>,
}

fn far_dir(near: &Path) -> Result<FarDir, String> {
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    match Mount::new("tmpfs") {
        Ok(m) => Ok(FarDir {
            dir: tempfile::tempdir_in(m.path()).map_err(|e| e.to_string())?,
            _mount: Some(m),
        }),
        Err(why) => match tempfile::tempdir_in("/dev/shm") {
            Ok(d) if dev(d.path()) != dev(near) => Ok(FarDir {
                dir: d,
                _mount: None,
            }),
            _ => Err(format!(
                "{why}, and /dev/shm is missing or on the same file system"
            )),
        },
    }
}

#[test]
fn parents_on_another_file_system_are_copied() {
    let near = tempfile::tempdir().unwrap();
    let far = match far_dir(near.path()) {
        Ok(f) => f,
        Err(why) => {
            return cannot_run("parents_on_another_file_system_are_copied", &why);
        }
    };
    let far = &far.dir;
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    assert_ne!(dev(far.path()), dev(near.path()), "one file system");
    base_layer(far.path());
    // A sparse file and a symlink in the far parent, to link to.
    let fd_far = open_dir(far.path());
    let parents = vec![ParentLayer::open(&fd_far, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd_far, "mid", parents, opts()).unwrap();
    add(
        &mut w,
        "Files/sparse",
        info(0x220, 1),
        &Stream::new().sparse(&[(1 << 20, b"data")], 4 << 20),
    );
    w.close().unwrap();

    let base_path = far.path().join("base");
    let mid_path = far.path().join("mid");
    let delta_path = near.path().join("delta");
    let mut w = DirLayerWriter::create_ambient(
        &delta_path,
        &[mid_path.clone(), base_path.clone()],
        wclayer_fs::ambient_authority(),
    )
    .unwrap();
    add(&mut w, "UtilityVM", dir_info(1), &Stream::new());
    w.add_link(&p("Files/x-link"), &p("Files/x")).unwrap();
    w.add_link(&p("Files/sparse-link"), &p("Files/sparse"))
        .unwrap();
    w.close().unwrap();

    let sparse = std::fs::metadata(delta_path.join("Files/sparse-link")).unwrap();
    assert_ne!(sparse.dev(), dev(&mid_path));
    assert_eq!(sparse.len(), 4 << 20);
    assert!(sparse.blocks() * 512 < 1 << 20, "holes stay holes");
    assert_eq!(
        std::fs::read(delta_path.join("Files/x-link")).unwrap(),
        b"parent x"
    );
    // The utility VM came from the nearest parent that has one... mid has none, so none
    // is cloned from it (hcsshim clones parents[0] only).
    assert!(!delta_path.join("UtilityVM/Files").exists());

    // The linked names read back exactly as the parents' entries.
    let mut rb = DirLayerReader::open_ambient(&base_path, wclayer_fs::ambient_authority()).unwrap();
    let base_x = snapshot(&mut rb)
        .into_iter()
        .find(|s| s.entry.name().as_str() == "Files\\x")
        .unwrap();
    let mut rm = DirLayerReader::open_ambient(&mid_path, wclayer_fs::ambient_authority()).unwrap();
    let mid_sparse = snapshot(&mut rm)
        .into_iter()
        .find(|s| s.entry.name().as_str() == "Files\\sparse")
        .unwrap();
    let mut r = DirLayerReader::open_ambient(&delta_path, wclayer_fs::ambient_authority()).unwrap();
    let snap = snapshot(&mut r);
    let get = |n: &str| snap.iter().find(|s| s.entry.name().as_str() == n).unwrap();
    assert_eq!(get("Files\\x-link").stream, base_x.stream);
    assert_eq!(get("Files\\sparse-link").stream, mid_sparse.stream);
    assert_eq!(get("Files\\x-link").links, 1, "a copy, not a link");

    // Cloning the utility VM across file systems copies it.
    let parents =
        vec![ParentLayer::open_ambient(&base_path, wclayer_fs::ambient_authority()).unwrap()];
    let fd_near = open_dir(near.path());
    let mut w = DirLayerWriter::create(&fd_near, "uvm", parents, opts()).unwrap();
    add(&mut w, "UtilityVM", dir_info(1), &Stream::new());
    w.close().unwrap();
    let uvm = near.path().join("uvm/UtilityVM/Files/Windows");
    let k = std::fs::metadata(uvm.join("kernel.exe")).unwrap();
    assert_eq!(
        std::fs::read(uvm.join("kernel.exe")).unwrap(),
        b"uvm kernel"
    );
    assert_ne!(k.dev(), dev(&base_path));
    assert!(
        std::fs::symlink_metadata(near.path().join("uvm/UtilityVM/Files/kernel-symlink"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn no_clone_below_an_own_reparse_point() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let mut l = MemLayer::new();
    add(&mut l, "UtilityVM", dir_info(1), &Stream::new());
    let mp = ReparsePoint::from_target("C:\\elsewhere", true);
    add(
        &mut l,
        "UtilityVM/Files",
        info(0x410, 2),
        &Stream::new().reparse(&mp),
    );
    l.close().unwrap();
    round_trip(&mut l, tmp.path(), "delta", &["base"]);
    let files = tmp.path().join("delta/UtilityVM/Files");
    let m = std::fs::symlink_metadata(&files).unwrap();
    assert!(
        m.file_type().is_file() && m.len() == 0,
        "a placeholder, nothing cloned into it"
    );
}

/// The staging directory of the layer `name` being written in `dir`.
fn staging(dir: &Path, name: &str) -> std::path::PathBuf {
    let prefix = format!(".{name}.wclayer-staging-");
    let found: Vec<String> = ls(dir)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", ls(dir));
    dir.join(&found[0])
}

/// hcsshim creates the hard links of a delta layer in `Close`, after the HCS import; a
/// layer directory links to a parent's file at `add_link`, and to its own files after they
/// are created (by its workers, before `close` returns).
#[test]
fn hard_links_to_a_parent_exist_at_add_link_and_to_own_files_by_close() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let fd = open_dir(tmp.path());
    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    add(
        &mut w,
        "Files/own",
        file_info(2),
        &Stream::new().data(b"own"),
    );
    let st = staging(tmp.path(), "delta");
    let base = tmp.path().join("base");
    assert!(!st.join("Files/to-parent").exists());
    w.add_link(&p("Files/to-parent"), &p("Files/x")).unwrap();
    assert_eq!(ino(&st.join("Files/to-parent")), ino(&base.join("Files/x")));
    assert!(!st.join("Files/to-own").exists());
    w.add_link(&p("Files/to-own"), &p("Files/own")).unwrap();
    w.close().unwrap();
    let delta = tmp.path().join("delta");
    assert_eq!(
        ino(&delta.join("Files/to-parent")),
        ino(&base.join("Files/x"))
    );
    assert_eq!(
        ino(&delta.join("Files/to-own")),
        ino(&delta.join("Files/own"))
    );
}

/// hcsshim clones the utility VM when its writer sees `UtilityVM`; a layer directory
/// clones it in `close`, and then puts the directory times back.
#[test]
fn the_utility_vm_is_cloned_at_close_before_directory_times_are_put_back() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let fd = open_dir(tmp.path());
    let parents = vec![ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    add(&mut w, "UtilityVM", dir_info(40), &Stream::new());
    add(&mut w, "UtilityVM/Files", dir_info(41), &Stream::new());
    add(
        &mut w,
        "UtilityVM/Files/Windows",
        dir_info(42),
        &Stream::new(),
    );
    add(
        &mut w,
        "UtilityVM/Files/own.txt",
        file_info(43),
        &Stream::new().data(b"own"),
    );
    // (The layer's own files may still be being created by the writer's workers here.)
    let st = staging(tmp.path(), "delta");
    assert!(st.join("UtilityVM/Files/Windows").is_dir());
    assert!(
        !st.join("UtilityVM/Files/Windows/kernel.exe").exists(),
        "nothing is cloned before close"
    );
    assert!(!st.join(BCD).exists(), "nothing is cloned before close");
    w.close().unwrap();
    let delta = tmp.path().join("delta");
    let base = tmp.path().join("base");
    assert_eq!(
        ino(&delta.join("UtilityVM/Files/Windows/kernel.exe")),
        ino(&base.join("UtilityVM/Files/Windows/kernel.exe"))
    );
    assert!(delta.join(BCD).exists());
    // The clone wrote into these directories; their times are the layer's again.
    for (rel, n) in [
        ("UtilityVM", 40),
        ("UtilityVM/Files", 41),
        ("UtilityVM/Files/Windows", 42),
    ] {
        let m = std::fs::metadata(delta.join(rel)).unwrap();
        assert_eq!(mtime(&m), unix(dir_info(n).last_write_time), "{rel}");
    }
}

/// hcsshim means to copy the utility VM's BCD files (they are changed per layer) but its
/// path bug hard-links them to the parent's; a layer directory copies them, with their
/// content and times, and hard-links the rest.
#[test]
fn the_utility_vm_clone_copies_the_bcd_files() {
    let tmp = tempfile::tempdir().unwrap();
    base_layer(tmp.path());
    let mut l = MemLayer::new();
    add(&mut l, "UtilityVM", dir_info(1), &Stream::new());
    l.close().unwrap();
    round_trip(&mut l, tmp.path(), "delta", &["base"]);
    let delta = tmp.path().join("delta");
    let base = tmp.path().join("base");
    for (i, n) in ["BCD", "BCD.LOG", "BCD.LOG1", "BCD.LOG2"]
        .iter()
        .enumerate()
    {
        let rel = format!("UtilityVM/Files/EFI/Microsoft/Boot/{n}");
        assert_ne!(
            ino(&delta.join(&rel)),
            ino(&base.join(&rel)),
            "{n} is a copy"
        );
        assert_eq!(std::fs::read(delta.join(&rel)).unwrap(), n.as_bytes());
        let m = std::fs::metadata(delta.join(&rel)).unwrap();
        assert_eq!(
            mtime(&m),
            unix(file_info(7 + i as u64).last_write_time),
            "{n} keeps its times"
        );
    }
    assert_eq!(
        ino(&delta.join("UtilityVM/Files/modified.txt")),
        ino(&base.join("UtilityVM/Files/modified.txt")),
        "other files are hard links"
    );
}

//! Hostile inputs: refused with an error naming the entry, nothing written outside.

use std::io::Write;

use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{LayerWriter, MemLayer};
use wclayer_store::{DirLayerReader, DirLayerWriter, Error};

use crate::common::*;

/// Runs `f` against a fresh base-layer writer in a fresh directory next to an "outside"
/// directory, expects an error, and checks that nothing was written anywhere.
fn refused(f: impl FnOnce(&mut DirLayerWriter) -> wclayer_layer::Error) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let layers = tmp.path().join("layers");
    std::fs::create_dir(&layers).unwrap();
    let mut w = DirLayerWriter::create(&open_dir(&layers), "layer", vec![], opts()).unwrap();
    let e = f(&mut w);
    drop(w);
    assert!(ls(&layers).is_empty(), "left behind: {:?}", ls(&layers));
    assert!(
        ls(&outside).is_empty(),
        "written outside: {:?}",
        ls(&outside)
    );
    assert_eq!(ls(tmp.path()), ["layers", "outside"]);
    e.to_string()
}

fn escaping_link(w: &mut DirLayerWriter, name: &str, mount: bool) {
    let rp = ReparsePoint::from_target("..\\..\\..\\outside", mount);
    let info = if mount {
        info(0x410, 1)
    } else {
        symlink_info(1)
    };
    w.add(&p(name), &info).unwrap();
    w.write_all(Stream::new().reparse(&rp).bytes()).unwrap();
}

#[test]
fn entries_below_a_symlink_are_refused() {
    let e = refused(|w| {
        escaping_link(w, "Files/evil", false);
        w.add(&p("Files/evil/x"), &file_info(1)).unwrap_err()
    });
    // Errors name the entry as the caller spelled it, the parent as the layer holds it.
    assert_eq!(e, "Files/evil/x: parent Files\\evil is a reparse point");
}

#[test]
fn entries_below_a_symlink_in_another_case_are_refused() {
    let e = refused(|w| {
        escaping_link(w, "Files/Evil", false);
        w.add(&p("FILES/eVIL/passwd"), &file_info(1)).unwrap_err()
    });
    assert_eq!(
        e,
        "FILES/eVIL/passwd: parent Files\\Evil is a reparse point"
    );
}

#[test]
fn entries_below_a_mount_point_are_refused() {
    let e = refused(|w| {
        escaping_link(w, "Files/mnt", true);
        w.add(&p("files/MNT/sub/x"), &dir_info(1)).unwrap_err()
    });
    assert!(e.contains("is a reparse point"), "{e}");
    let e = refused(|w| {
        escaping_link(w, "Files/mnt", true);
        w.add_link(&p("Files/mnt/x"), &p("Files/mnt")).unwrap_err()
    });
    assert!(
        e.contains("is a reparse point") || e.contains("hard link"),
        "{e}"
    );
}

#[test]
fn hard_links_through_links_or_to_nowhere_are_refused() {
    let e = refused(|w| {
        escaping_link(w, "Files/evil", false);
        w.add_link(&p("Files/l"), &p("Files/evil/etc/passwd"))
            .unwrap_err()
    });
    assert_eq!(
        e,
        "Files/l: hard link target Files/evil/etc/passwd was not added"
    );
    // Tombstones below a reparse point are refused too (in a delta layer).
    let tmp = tempfile::tempdir().unwrap();
    let mut base = MemLayer::new();
    add(&mut base, "Files", dir_info(1), &Stream::new());
    base.close().unwrap();
    round_trip(&mut base, tmp.path(), "base", &[]);
    let fd = open_dir(tmp.path());
    let parents = vec![wclayer_store::ParentLayer::open(&fd, "base").unwrap()];
    let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
    escaping_link(&mut w, "Files/evil", false);
    let e = w.remove(&p("Files/EVIL/x")).unwrap_err();
    assert!(e.to_string().contains("reparse point"), "{e}");
    drop(w);
    assert_eq!(ls(tmp.path()), ["base"]);
}

#[test]
fn escaping_symlinks_are_never_linux_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], opts()).unwrap();
    w.add(&p("Files"), &dir_info(1)).unwrap();
    for (i, target) in [
        "..\\..",
        "..\\..\\..\\etc",
        "a\\..\\..\\..",
        "C:\\Windows",
        "\\\\server\\share",
        "\\rooted",
    ]
    .iter()
    .enumerate()
    {
        let rp = ReparsePoint::from_target(target, false);
        w.add(&p(&format!("Files/l{i}")), &symlink_info(1)).unwrap();
        w.write_all(Stream::new().reparse(&rp).bytes()).unwrap();
    }
    let ok = ReparsePoint::from_target("..", false);
    w.add(&p("Files/up"), &symlink_info(1)).unwrap();
    w.write_all(Stream::new().reparse(&ok).bytes()).unwrap();
    w.close().unwrap();
    for i in 0..6 {
        let m = std::fs::symlink_metadata(tmp.path().join(format!("layer/Files/l{i}"))).unwrap();
        assert!(m.file_type().is_file(), "l{i} must be a placeholder");
    }
    let up = tmp.path().join("layer/Files/up");
    assert_eq!(std::fs::read_link(&up).unwrap().to_str(), Some(".."));
}

#[test]
fn a_tampered_layer_cannot_redirect_the_reader() {
    // Someone replaces a directory of a finished layer with a symlink to elsewhere: the
    // reader fails instead of reading through it.
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("f"), b"secret").unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], opts()).unwrap();
    w.add(&p("Files"), &dir_info(1)).unwrap();
    w.add(&p("Files/d"), &dir_info(1)).unwrap();
    add(
        &mut w,
        "Files/d/f",
        file_info(1),
        &Stream::new().data(b"public"),
    );
    w.close().unwrap();
    let d = tmp.path().join("layer/Files/d");
    std::fs::remove_file(d.join("f")).unwrap();
    std::fs::remove_dir(&d).unwrap();
    std::os::unix::fs::symlink(&secret, &d).unwrap();
    let mut r = DirLayerReader::open(&fd, "layer").unwrap();
    let mut failed = false;
    while let Ok(Some(_)) = wclayer_layer::LayerReader::next(&mut r) {
        let mut buf = Vec::new();
        if std::io::Read::read_to_end(&mut r, &mut buf).is_err() {
            failed = true;
        } else {
            assert!(!buf.windows(6).any(|w| w == b"secret"));
        }
    }
    assert!(failed, "reading through the planted symlink must fail");
}

#[test]
fn hostile_metadata_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    w.close().unwrap();
    let entries = tmp.path().join("layer/.wclayer/entries.jsonl");
    let good = std::fs::read_to_string(&entries).unwrap();
    for bad in [
        r#"{"t":"file","n":0,"path":"..\\..\\etc","info":{"attributes":16,"creation_time":0,"last_access_time":0,"last_write_time":0,"change_time":0},"data_size":0,"streams":[]}"#,
        r#"{"t":"file","n":0,"path":"Files","info":{"attributes":16,"creation_time":0,"last_access_time":0,"last_write_time":0,"change_time":0},"data_size":0,"streams":[{"id":4,"attributes":0,"size":1,"body":{"blob":"../../x"}}]}"#,
        r#"{"t":"link","path":"Files","file":7}"#,
        "not json",
    ] {
        std::fs::write(&entries, format!("{bad}\n")).unwrap();
        match DirLayerReader::open(&fd, "layer") {
            Err(e) => assert!(matches!(e, Error::Metadata { .. }), "{bad}: {e}"),
            Ok(mut r) => {
                // The blob name is only checked when the stream is read.
                wclayer_layer::LayerReader::next(&mut r).unwrap();
                let mut buf = Vec::new();
                let e = std::io::Read::read_to_end(&mut r, &mut buf).unwrap_err();
                assert!(e.to_string().contains("invalid blob name"), "{e}");
            }
        }
    }
    std::fs::write(&entries, good).unwrap();
    std::fs::write(
        tmp.path().join("layer/.wclayer/layer.json"),
        r#"{"format":"wclayer-layer-directory","version":99}"#,
    )
    .unwrap();
    let e = DirLayerReader::open(&fd, "layer").unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedFormat { version: 99, .. }),
        "{e}"
    );
}

/// Runs `f` on another thread and fails the test if it has not returned within 20 s: a
/// reader that blocks on a planted FIFO must show up as a failure, not hang the run.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("blocked: the reader opened a FIFO and waited for a writer")
}

/// Reads every entry and stream of the layer directory `name` in `dir`; the first error.
fn read_all(dir: &std::path::Path, name: &str) -> Result<(), wclayer_layer::Error> {
    use wclayer_layer::LayerReader;
    let mut r = DirLayerReader::open(&open_dir(dir), name)?;
    let mut buf = vec![0u8; 1 << 16];
    while let Some(e) = r.next()? {
        if let wclayer_layer::Entry::File { .. } = e {
            r.link_info()?;
            while r.read_stream(&mut buf)? > 0 {}
        }
    }
    Ok(())
}

/// A layer with a content file and a blob (an alternate data stream over 64 KiB).
fn planted_layer(dir: &std::path::Path) {
    let mut l = MemLayer::new();
    add(&mut l, "Files", dir_info(1), &Stream::new());
    add(
        &mut l,
        "Files/victim",
        file_info(2),
        &Stream::new().data(b"data").ads("big", &[1u8; 70_000]),
    );
    l.close().unwrap();
    round_trip(&mut l, dir, "layer", &[]);
}

/// Replaces `rel` in the layer directory with a FIFO.
fn plant_fifo(layer: &std::path::Path, rel: &str) {
    let p = layer.join(rel);
    std::fs::remove_file(&p).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A FIFO planted anywhere in a layer directory (a content file, a stream file, the
/// manifest, the records) makes reading fail at once with an error naming what it is and
/// (for content) the entry, instead of blocking on the open.
#[test]
fn fifos_planted_in_a_layer_directory_fail_at_once() {
    for (rel, want) in [
        ("Files/victim", "Files\\victim: open content file"),
        (".wclayer/streams/1.0", "Files\\victim: open stream body"),
        (".wclayer/layer.json", "open .wclayer/layer.json"),
        (".wclayer/entries.jsonl", "open .wclayer/entries.jsonl"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        planted_layer(tmp.path());
        plant_fifo(&tmp.path().join("layer"), rel);
        let dir = tmp.path().to_path_buf();
        let e = within_seconds(move || read_all(&dir, "layer")).unwrap_err();
        assert_eq!(e.to_string(), want, "{rel}");
        let cause = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert_eq!(cause, "a FIFO, not a regular file", "{rel}: {e:?}");
    }
}

/// As root: a device node planted as a content file is refused the same way (opened
/// without blocking, never read).
#[test]
fn device_nodes_planted_in_a_layer_directory_are_refused() {
    if !rustix::process::geteuid().is_root() {
        // Reported, not passed silently: the CI gate runs as root and requires this test.
        return cannot_run(
            "device_nodes_planted_in_a_layer_directory_are_refused",
            "making a device node needs root",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    planted_layer(tmp.path());
    let p = tmp.path().join("layer/Files/victim");
    std::fs::remove_file(&p).unwrap();
    // /dev/zero's numbers: a read would never end.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &p,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o644),
        rustix::fs::makedev(1, 5),
    )
    .unwrap();
    let dir = tmp.path().to_path_buf();
    let e = within_seconds(move || read_all(&dir, "layer")).unwrap_err();
    assert_eq!(e.to_string(), "Files\\victim: open content file");
    assert!(
        format!("{e:?}").contains("a character device, not a regular file"),
        "{e:?}"
    );
}

/// What a tampered parent layer may hold in place of its objects.
#[derive(Clone, Copy, Debug)]
enum Plant {
    Fifo,
    SymlinkOut,
    Device,
}

/// Replaces `rel` in the layer directory with `what`.
fn plant(layer: &std::path::Path, rel: &str, what: Plant) {
    let p = layer.join(rel);
    std::fs::remove_file(&p).unwrap();
    match what {
        Plant::Fifo => rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap(),
        Plant::SymlinkOut => std::os::unix::fs::symlink("/etc/passwd", &p).unwrap(),
        Plant::Device => rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o644),
            rustix::fs::makedev(1, 5),
        )
        .unwrap(),
    }
}

/// Finding: a delta import brought whatever a parent layer's objects were into the new
/// layer. A hard link to a parent's file whose content file or stream file was replaced by
/// a FIFO, a device node or a symbolic link pointing out is refused, naming the entry, and
/// the new layer is not made: new layers hold only regular files, directories and safe
/// relative symbolic links whatever their parents hold.
#[test]
fn tampered_parent_objects_never_enter_a_delta() {
    let root = rustix::process::geteuid().is_root();
    let mut cases = vec![
        ("Files/victim", Plant::Fifo),
        ("Files/victim", Plant::SymlinkOut),
        (".wclayer/streams/1.0", Plant::Fifo),
        (".wclayer/streams/1.0", Plant::SymlinkOut),
    ];
    if root {
        cases.push(("Files/victim", Plant::Device));
        cases.push((".wclayer/streams/1.0", Plant::Device));
    } else {
        cannot_run(
            "tampered_parent_objects_never_enter_a_delta (device nodes)",
            "making a device node needs root",
        );
    }
    for (rel, what) in cases {
        let tmp = tempfile::tempdir().unwrap();
        planted_layer(tmp.path());
        std::fs::rename(tmp.path().join("layer"), tmp.path().join("base")).unwrap();
        plant(&tmp.path().join("base"), rel, what);
        let fd = open_dir(tmp.path());
        let dir = tmp.path().to_path_buf();
        let e = within_seconds(move || {
            let fd = open_dir(&dir);
            let parents = vec![wclayer_store::ParentLayer::open(&fd, "base").unwrap()];
            let mut w = DirLayerWriter::create(&fd, "delta", parents, opts()).unwrap();
            add(&mut w, "Files", dir_info(1), &Stream::new());
            let r = w.add_link(&p("Files/copy"), &p("Files/victim"));
            let r = r.and_then(|()| w.close());
            r.map_err(|e| e.to_string())
        })
        .map(|()| format!("{rel} {what:?}: tampered parent accepted"))
        .unwrap_err();
        assert!(e.starts_with("Files\\copy: "), "{rel} {what:?}: {e}");
        assert_eq!(ls(tmp.path()), ["base"], "{rel} {what:?}: {e}");
        drop(fd);
    }
}

//! Errors: bad tombstone files, a file system without user extended attributes, dropping an
//! unclosed writer, names a folder cannot hold, tampered folders.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use wclayer_folder::{Error, FolderLayerReader, FolderLayerWriter};
use wclayer_layer::{LayerReader, LayerWriter, MemLayer};

use crate::{info, p, sub, write_folder};

/// An error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn folder_with_tombstones(dir: &Path, content: &[u8]) -> PathBuf {
    let f = dir.join("export");
    fs::create_dir(&f).unwrap();
    fs::write(f.join("tombstones.txt"), content).unwrap();
    f
}

fn open_err(content: &[u8]) -> Error {
    let tmp = tempfile::tempdir().unwrap();
    let f = folder_with_tombstones(tmp.path(), content);
    let e = FolderLayerReader::open(&f).unwrap_err();
    tmp.close().unwrap();
    e
}

#[test]
fn bad_tombstone_files() {
    for bad in [
        &b"Version 1.0\n\\a\n"[..],
        b"\xEF\xBB\xBFVersion 1.1\n",
        b"",
    ] {
        let e = open_err(bad);
        assert!(matches!(e, Error::InvalidTombstonesFile { .. }), "{e}");
        assert!(e.to_string().ends_with("invalid tombstones file"), "{e}");
    }
    let e = open_err(b"\xEF\xBB\xBFVersion 1.0\r\n\\ok\r\n\r\nno-backslash\r\n");
    assert_eq!(
        e.to_string(),
        "tombstones.txt line 4: does not start with `\\`"
    );
    let e = open_err(b"\xEF\xBB\xBFVersion 1.0\n\\a\\..\\..\\Hives\\x\n");
    assert!(
        matches!(&e, Error::TombstoneLine { line: 2, reason } if reason.contains("leaves Files")),
        "{e}"
    );
}

/// A file system of its own, mounted on a new temporary directory (root only) and
/// unmounted when dropped.
struct Mount {
    at: PathBuf,
    // Removed after the unmount (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Mount {
    /// Mounts a new `fstype` file system; why not, when that fails.
    fn new(fstype: &str) -> Result<Mount, String> {
        if !rustix::process::geteuid().is_root() {
            return Err(format!("mounting a {fstype} needs root"));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let at = dir.path().to_path_buf();
        match Command::new("mount")
            .args(["-t", fstype, "wclayer-test"])
            .arg(&at)
            .status()
        {
            Ok(s) if s.success() => Ok(Mount { at, _dir: dir }),
            Ok(s) => Err(format!("mount -t {fstype} failed ({s})")),
            Err(e) => Err(format!("cannot run mount: {e}")),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazily, so that a failed assertion with a handle still open cannot leave it.
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// What a test does when it cannot build what it needs (a mount: root only): it fails when
/// `WCLAYER_TEST_REQUIRE_ROOT` is set (the CI gate runs as root and sets it, so that
/// nothing is skipped there), else it reports the skip on stderr and the caller returns.
fn cannot_run(test: &str, why: &str) {
    assert!(
        std::env::var_os("WCLAYER_TEST_REQUIRE_ROOT").is_none(),
        "{test}: {why}, and WCLAYER_TEST_REQUIRE_ROOT is set"
    );
    eprintln!("SKIPPED {test}: {why}");
}

fn lacks_user_xattrs(dir: &Path) -> bool {
    let probe = tempfile::NamedTempFile::new_in(dir).unwrap();
    let r = rustix::fs::fsetxattr(
        probe.as_file(),
        "user.probe",
        b"1",
        rustix::fs::XattrFlags::empty(),
    );
    r == Err(rustix::io::Errno::NOTSUP)
}

/// A new empty directory on a file system without user extended attributes: in a ramfs of
/// its own (root only), else in /dev/shm when its tmpfs has none (before Linux 6.6).
struct NoXattrDir {
    // Removed before the file system holding it is unmounted (fields drop in order).
    dir: tempfile::TempDir,
    _mount: Option<Mount>,
}

fn no_xattr_dir() -> Result<NoXattrDir, String> {
    match Mount::new("ramfs") {
        Ok(m) => {
            assert!(lacks_user_xattrs(&m.at), "a ramfs has user xattrs");
            Ok(NoXattrDir {
                dir: tempfile::tempdir_in(&m.at).map_err(|e| e.to_string())?,
                _mount: Some(m),
            })
        }
        Err(why) => {
            let shm = Path::new("/dev/shm");
            if shm.is_dir() && lacks_user_xattrs(shm) {
                Ok(NoXattrDir {
                    dir: tempfile::tempdir_in(shm).map_err(|e| e.to_string())?,
                    _mount: None,
                })
            } else {
                Err(format!("{why}, and /dev/shm has user xattrs"))
            }
        }
    }
}

#[test]
fn file_system_without_user_xattrs() {
    let no_xattrs = match no_xattr_dir() {
        Ok(d) => d,
        Err(why) => return cannot_run("file_system_without_user_xattrs", &why),
    };
    let dir = no_xattrs.dir.path();
    let e = FolderLayerWriter::create(&dir.join("folder")).unwrap_err();
    assert!(matches!(e, Error::XattrUnsupported { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("does not support user extended attributes"),
        "{e}"
    );
    let le: wclayer_layer::Error = e.into();
    let wclayer_layer::Error::Backend(b) = &le else {
        panic!("{le:?}");
    };
    assert!(matches!(
        b.downcast_ref::<Error>(),
        Some(Error::XattrUnsupported { .. })
    ));
    // Nothing is left behind, and a folder there reads with the legacy rules.
    assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
    fs::write(dir.join("tombstones.txt"), b"\xEF\xBB\xBFVersion 1.0\n").unwrap();
    let mut r = FolderLayerReader::open(dir).unwrap();
    assert!(!r.is_lossless());
    assert!(r.next().unwrap().is_none());
    drop(r);
    fs::remove_file(dir.join("tombstones.txt")).unwrap();
    assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
}

#[test]
fn dropping_an_unclosed_writer_leaves_nothing() {
    for existing in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("folder");
        if existing {
            fs::create_dir(&folder).unwrap();
        }
        let mut w = FolderLayerWriter::create(&folder).unwrap();
        w.add(&p("Files/a/b"), &info(0x20, 1)).unwrap();
        w.write_all(&sub(1, 0, "", b"data")).unwrap();
        w.add(&p("UtilityVM/Files/big"), &info(0x20, 1)).unwrap();
        w.write_all(&sub(4, 0, ":ads:$DATA", &[7u8; 5000])).unwrap();
        w.add(&p("Files/a/d"), &info(0x10, 1)).unwrap();
        w.remove(&p("Files/x")).unwrap();
        assert!(
            !folder.join("Files").exists(),
            "nothing visible before close"
        );
        drop(w);
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        if existing {
            assert_eq!(left, ["folder"]);
            assert_eq!(fs::read_dir(&folder).unwrap().count(), 0);
        } else {
            assert!(left.is_empty(), "{left:?}");
        }
        tmp.close().unwrap();
    }
}

#[test]
fn target_must_be_absent_or_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("x"), b"").unwrap();
    assert!(matches!(
        FolderLayerWriter::create(&full),
        Err(Error::NotEmpty { .. })
    ));
    let file = tmp.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(matches!(
        FolderLayerWriter::create(&file),
        Err(Error::NotEmpty { .. })
    ));
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &link).unwrap();
    assert!(matches!(
        FolderLayerWriter::create(&link),
        Err(Error::NotEmpty { .. })
    ));
    assert!(!tmp.path().join("elsewhere").exists());
    assert!(matches!(
        FolderLayerWriter::create(Path::new("/")),
        Err(Error::InvalidFolderPath { .. })
    ));
    tmp.close().unwrap();
}

#[test]
fn names_and_links_a_folder_cannot_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = FolderLayerWriter::create(&tmp.path().join("folder")).unwrap();
    w.add(&p("Files/a"), &info(0x20, 1)).unwrap();
    w.add(&p("Hives/h"), &info(0x20, 1)).unwrap();
    let err = |r: Result<(), wclayer_layer::Error>| chain(&r.unwrap_err());
    // The reference model's errors, as MemLayer reports them.
    assert!(matches!(
        w.add(&p("FILES/A"), &info(0x20, 1)),
        Err(wclayer_layer::Error::Duplicate { .. })
    ));
    assert!(matches!(
        w.add(&p("Files/a/x"), &info(0x20, 1)),
        Err(wclayer_layer::Error::NotADirectory { .. })
    ));
    assert!(matches!(
        w.add_link(&p("Files/l"), &p("Files/nope")),
        Err(wclayer_layer::Error::LinkTargetMissing { .. })
    ));
    // What the folder reserves.
    assert!(err(w.add(&p("Files/x.$wcidirs$"), &info(0x20, 1))).contains(".$wcidirs$"));
    assert!(err(w.add(&p("Tombstones.TXT"), &info(0x20, 1))).contains("tombstone list"));
    // A hard link cannot carry its own real name under a derived name (the name attribute
    // belongs to the inode).
    let long = "é".repeat(130);
    let e = err(w.add_link(&p(&format!("Files/{long}")), &p("Files/a")));
    assert!(e.contains("hard link whose name Linux cannot hold"), "{e}");
    let e = err(w.add_link(&p("Files/l"), &p("Hives/h")));
    assert!(
        e.contains("transport-file name and a plain-file name"),
        "{e}"
    );
    // None of these poisoned the writer.
    w.add(&p("Files/ok"), &info(0x20, 1)).unwrap();
    w.close().unwrap();
    tmp.close().unwrap();
}

#[test]
fn write_without_entry_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = FolderLayerWriter::create(&tmp.path().join("folder")).unwrap();
    assert!(w.write(b"x").is_err());
    w.add(&p("Files/a"), &info(0x20, 1)).unwrap();
    w.remove(&p("Files/b")).unwrap();
    assert!(w.write(b"x").is_err(), "remove ends the current entry");
    drop(w);
    tmp.close().unwrap();
}

#[test]
fn tampered_folders() {
    let mut l = MemLayer::new();
    l.add(&p("Hives/System_Delta"), &info(0x20, 1)).unwrap();
    l.write_all(&sub(1, 0, "", b"regf")).unwrap();
    l.add(&p("Files/a"), &info(0x20, 1)).unwrap();
    l.remove(&p("Files/b")).unwrap();
    l.close().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let f = write_folder(&mut l, tmp.path());

    // A plain file whose length no longer matches its metadata.
    fs::write(f.join("Hives/System_Delta"), b"changed!").unwrap();
    let mut r = FolderLayerReader::open(&f).unwrap();
    let e = loop {
        match r.next() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(chain(&e).contains("content is 8 bytes"), "{e:?}");

    // A symbolic link planted in the folder is an error, never followed.
    fs::write(f.join("Hives/System_Delta"), b"regf").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.join("Files/evil")).unwrap();
    let mut r = FolderLayerReader::open(&f).unwrap();
    let e = loop {
        match r.next() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(format!("{:?}", e).contains("symbolic link"), "{e:?}");
    fs::remove_file(f.join("Files/evil")).unwrap();

    // A marker of an unknown version.
    let root = fs::File::open(&f).unwrap();
    rustix::fs::fsetxattr(
        &root,
        "user.wclayer.folder",
        b"2",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    assert!(matches!(
        FolderLayerReader::open(&f),
        Err(Error::UnsupportedVersion { .. })
    ));
    tmp.close().unwrap();
}

/// Finding: a tombstone sidecar claiming 2 GiB (sparse, so it costs nothing on disk) was read
/// whole into memory before it was refused. Its size is checked against a bound before
/// anything is read, and the tombstone list may not hold more than the entry limit.
#[test]
fn tombstone_metadata_is_bounded_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let f = folder_with_tombstones(tmp.path(), b"\xef\xbb\xbfVersion 1.0\n\\a\n\\b\n\\c\n");
    let root = fs::File::open(&f).unwrap();
    rustix::fs::fsetxattr(
        &root,
        "user.wclayer.folder",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let sidecars = f.join("wclayer-sidecar.$wcidirs$.$wcidirs$");
    fs::create_dir(&sidecars).unwrap();
    let big = 2u64 << 30;
    fs::File::create(sidecars.join("0.$wcidirs$"))
        .unwrap()
        .set_len(big)
        .unwrap();
    let mut attr = vec![1u8];
    attr.extend_from_slice(&0u64.to_le_bytes());
    attr.extend_from_slice(&big.to_le_bytes());
    rustix::fs::fsetxattr(
        &root,
        "user.wclayer.tombstones",
        &attr,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let e = FolderLayerReader::open(&f).unwrap_err();
    assert_eq!(
        chain(&e),
        ".: invalid user.wclayer.tombstones metadata: sidecar of 2147483648 bytes, more than \
         the 67108864 this attribute may have"
    );

    // Three tombstones where two entries are allowed: refused at the third, at open.
    rustix::fs::fremovexattr(&root, "user.wclayer.tombstones").unwrap();
    let limits = wclayer_layer::Limits::default().with_max_entries(2);
    let e = FolderLayerReader::open_limited(&f, &limits).unwrap_err();
    assert_eq!(e.to_string(), "Files\\c: layer has more than 2 entries");
    assert!(FolderLayerReader::open(&f).is_ok());
    tmp.close().unwrap();
}

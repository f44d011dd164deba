//! What a signal handler removes: everything this process staged and did not commit.
//!
//! Its own test binary: `remove_registered` empties a process-wide registry, which would take
//! the staging of unrelated tests running beside it in one process.
#![allow(clippy::unwrap_used)]

use wclayer_fs::{Dir, StagedDir, StagedFile, ambient_authority, cleanup};

fn names(r: &Dir) -> Vec<String> {
    let mut v: Vec<String> = r
        .entries()
        .unwrap()
        .into_iter()
        .map(|n| n.into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine lacks POSIX deletes (FILE_DISPOSITION_POSIX_SEMANTICS): a removed name whose object is still open stays until its last handle closes"
)]
fn remove_registered_takes_what_is_staged_and_leaves_what_is_committed() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let r = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    r.create_dir("unrelated").unwrap();
    let dir = StagedDir::create(&r, "layer").unwrap();
    dir.root().create_file("f").unwrap();
    let mut file = StagedFile::create(&r, "out.tar").unwrap();
    file.file().write_all(b"partial").unwrap();
    let mut done = StagedFile::create(&r, "done.tar").unwrap();
    done.file().write_all(b"whole").unwrap();
    done.commit(false).unwrap();
    assert_eq!(names(&r).len(), 4, "{:?}", names(&r));

    assert_eq!(cleanup::remove_registered(), 2);
    assert_eq!(names(&r), ["done.tar", "unrelated"]);
    // The owners' destructors run later and find nothing left to remove.
    drop(dir);
    drop(file);
    assert_eq!(names(&r), ["done.tar", "unrelated"]);
    assert_eq!(cleanup::remove_registered(), 0);

    // A commit after the handler's removal fails: the final name never gets a partial
    // object.
    let late = StagedDir::create(&r, "late").unwrap();
    late.root().create_file("half").unwrap();
    assert_eq!(cleanup::remove_registered(), 1);
    let e = late.commit(false).unwrap_err();
    assert!(e.to_string().contains("stopped by a signal"), "{e}");
    assert_eq!(names(&r), ["done.tar", "unrelated"]);
}

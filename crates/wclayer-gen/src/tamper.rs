//! The inputs of the hostile suite that are no tar ([`crate::tamper_cases`]): layer
//! directories, parent layers and transport folders built from [`base`] and [`delta`] and
//! then changed on disk. The recipes are data; whoever runs a case applies them.

use std::io;

use crate::entry::*;
use crate::raw::Raw;

/// What a [`TamperCase`] starts from, and so which command reads the tampered input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TamperTarget {
    /// A layer directory imported from [`crate::hostile_base`], read by `wclayer export` and
    /// `wclayer ls`.
    LayerDirectory,
    /// A layer directory imported from [`crate::hostile_base`], the parent of an import of
    /// [`crate::hostile_delta`] (`wclayer import -l PARENT`).
    ParentLayer,
    /// A transport folder exported (`wclayer export --folder`) from the layer of
    /// [`crate::hostile_delta`] imported over [`crate::hostile_base`], imported again with
    /// `wclayer import --folder` over the same parent.
    TransportFolder,
}

/// One change to a finished layer directory or transport folder. Paths are relative to it and
/// `/`-separated. The steps that put something at a path ([`Fifo`](Tamper::Fifo),
/// [`ZeroDevice`](Tamper::ZeroDevice), [`SymlinkOut`](Tamper::SymlinkOut),
/// [`SymlinkOutDir`](Tamper::SymlinkOutDir)) first remove whatever is there (a directory with
/// its contents) and create missing parent directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// A FIFO: a reader that opens it without care blocks until a writer appears.
    Fifo(&'static str),
    /// The character device 1:5 (the numbers of `/dev/zero`: a read never ends). Making one
    /// needs root.
    ZeroDevice(&'static str),
    /// A symbolic link to a sentinel file outside the input, by its absolute path (chosen by
    /// whoever applies the step; it must be unchanged afterwards).
    SymlinkOut(&'static str),
    /// A symbolic link to a directory outside the input, by its absolute path.
    SymlinkOutDir(&'static str),
    /// Removed (a directory with its contents).
    Remove(&'static str),
    /// The file's content replaced by these bytes, in place when it exists (the same inode,
    /// its extended attributes kept), else in a new file.
    Write {
        /// Where.
        path: &'static str,
        /// The whole content.
        bytes: Vec<u8>,
    },
    /// The first occurrence of `from` in the file replaced by `to` (edits a record; `from`
    /// must occur).
    Replace {
        /// The file.
        path: &'static str,
        /// The text to find.
        from: &'static str,
        /// What to put in its place.
        to: &'static str,
    },
    /// The file extended to `len` bytes with a hole (the new bytes read as NUL and take no
    /// space); created when missing.
    Extend {
        /// The file.
        path: &'static str,
        /// Its new length.
        len: u64,
    },
    /// An extended attribute set on the file or directory (`.` is the input itself).
    SetXattr {
        /// The file or directory.
        path: &'static str,
        /// The attribute's name, e.g. `user.wclayer.folder`.
        name: &'static str,
        /// Its value.
        value: Vec<u8>,
    },
}

/// One tampered input; see [`crate::tamper_cases`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TamperCase {
    /// Short identifier, unique within [`crate::tamper_cases`].
    pub name: &'static str,
    /// What is built, tampered with and read.
    pub target: TamperTarget,
    /// The changes, in order.
    pub steps: Vec<Tamper>,
    /// What the error must name: the entry (as the layer spells it, with `\`), or, for the
    /// layer's or folder's own metadata, the file or attribute (or what in it is wrong).
    pub bad_entry: &'static str,
    /// Whether a step needs root (a device node).
    pub root_only: bool,
    /// What is wrong, in a sentence.
    pub what: &'static str,
}

/// Size of the alternate data stream of `Files/victim.txt`: over the 64 KiB a layer
/// directory keeps inline, so it has a stream file (docs/layer-directory.md).
const BIG_STREAM: u64 = 70_000;

pub(crate) fn base() -> io::Result<Vec<u8>> {
    let victim = Ent::file("Files/victim.txt", ARCHIVE, text("victim\n"));
    let big = Ent::stream(
        &victim,
        "big",
        Body::Random {
            seed: 13,
            len: BIG_STREAM,
        },
    );
    Ok(Raw::new()
        .win(vec![
            Ent::dir("Files"),
            Ent::dir("Files/a"),
            victim,
            big,
            Ent::dir("Files/dir"),
            Ent::file("Files/dir/inner.txt", ARCHIVE, text("inner\n")),
        ])?
        .finish())
}

pub(crate) fn delta() -> io::Result<Vec<u8>> {
    Ok(Raw::new()
        .win(vec![
            Ent::dir("Files"),
            Ent::hard_link("Files/link.txt", "Files/victim.txt", ARCHIVE),
            Ent::hard_link("Files/inner-link.txt", "Files/dir/inner.txt", ARCHIVE),
            Ent::file("Files/new.txt", ARCHIVE, text("new\n")),
            Ent::whiteout("Files/a/.wh.gone.txt"),
            Ent::dir("Hives"),
            Ent::file("Hives/System_Delta", ARCHIVE, hive(21, 4096)),
        ])?
        .finish())
}

/// The stream file of `Files/victim.txt`'s alternate data stream (file 2, stream 0).
const BLOB: &str = ".wclayer/streams/2.0";
const CONTENT: &str = "Files/victim.txt";
const MANIFEST: &str = ".wclayer/layer.json";
const RECORDS: &str = ".wclayer/entries.jsonl";

fn case(
    name: &'static str,
    target: TamperTarget,
    steps: Vec<Tamper>,
    bad_entry: &'static str,
    what: &'static str,
) -> TamperCase {
    let root_only = steps.iter().any(|s| matches!(s, Tamper::ZeroDevice(_)));
    TamperCase {
        name,
        target,
        steps,
        bad_entry,
        root_only,
        what,
    }
}

pub(crate) fn cases() -> Vec<TamperCase> {
    use Tamper::*;
    use TamperTarget::*;
    let mut v = Vec::new();

    // Layer directories read by export and ls.
    for (name, step, bad, what) in [
        (
            "layer-fifo-manifest",
            Fifo(MANIFEST),
            MANIFEST,
            "the manifest is a FIFO",
        ),
        (
            "layer-fifo-records",
            Fifo(RECORDS),
            RECORDS,
            "the record file is a FIFO",
        ),
        (
            "layer-fifo-content",
            Fifo(CONTENT),
            "Files\\victim.txt",
            "a content file is a FIFO",
        ),
        (
            "layer-fifo-stream-file",
            Fifo(BLOB),
            "Files\\victim.txt",
            "the stream file of an alternate data stream is a FIFO",
        ),
        (
            "layer-device-content",
            ZeroDevice(CONTENT),
            "Files\\victim.txt",
            "a content file is a character device that never ends",
        ),
        (
            "layer-device-stream-file",
            ZeroDevice(BLOB),
            "Files\\victim.txt",
            "a stream file is a character device that never ends",
        ),
        (
            "layer-symlink-content",
            SymlinkOut(CONTENT),
            "Files\\victim.txt",
            "a content file is a symbolic link to a file outside",
        ),
        (
            "layer-symlink-stream-file",
            SymlinkOut(BLOB),
            "Files\\victim.txt",
            "a stream file is a symbolic link to a file outside",
        ),
        (
            "layer-symlink-directory",
            SymlinkOutDir("Files/dir"),
            "Files\\dir",
            "a directory of the layer is a symbolic link to a directory outside",
        ),
        (
            "layer-manifest-missing",
            Remove(MANIFEST),
            MANIFEST,
            "the manifest is gone",
        ),
        (
            "layer-manifest-version",
            Replace {
                path: MANIFEST,
                from: "\"version\":1",
                to: "\"version\":99",
            },
            "version 99",
            "the manifest claims a format version from the future",
        ),
        (
            "layer-record-path-dotdot",
            Replace {
                path: RECORDS,
                from: "\"path\":\"Files\\\\victim.txt\"",
                to: "\"path\":\"..\\\\..\\\\victim.txt\"",
            },
            "..\\..\\victim.txt",
            "a record's path climbs out of the layer",
        ),
        (
            "layer-record-data-size-lies",
            Replace {
                path: RECORDS,
                from: "\"data_size\":7,",
                to: "\"data_size\":70000000,",
            },
            "Files\\victim.txt",
            "a record claims 70 MB of data for a 7-byte content file",
        ),
        (
            "layer-record-stream-size-lies",
            Replace {
                path: RECORDS,
                from: "\"id\":1,\"attributes\":0,\"size\":7,",
                to: "\"id\":1,\"attributes\":0,\"size\":70000000,",
            },
            "Files\\victim.txt",
            "a record's data stream is 70 MB long, its content file 7 bytes",
        ),
        (
            "layer-record-blob-slash",
            Replace {
                path: RECORDS,
                from: "\"blob\":\"2.0\"",
                to: "\"blob\":\"2/0\"",
            },
            "Files\\victim.txt",
            "a record names a stream file with a `/` in its name",
        ),
        (
            "layer-record-blob-dotdot",
            Replace {
                path: RECORDS,
                from: "\"blob\":\"2.0\"",
                to: "\"blob\":\"../../../outside/sentinel\"",
            },
            "Files\\victim.txt",
            "a record names a stream file outside the layer",
        ),
        (
            "layer-record-huge-line",
            Extend {
                path: RECORDS,
                len: 300 << 20,
            },
            "entries.jsonl",
            "the record file ends in a line of 300 MiB (a hole): it must be refused before \
             it is read whole",
        ),
    ] {
        v.push(case(name, LayerDirectory, vec![step], bad, what));
    }

    // Parents of a delta import whose hard link Files/link.txt points at Files/victim.txt.
    for (name, step, bad, what) in [
        (
            "parent-fifo-content",
            Fifo(CONTENT),
            "Files\\link.txt",
            "the parent's content file of the hard link's target is a FIFO",
        ),
        (
            "parent-symlink-content",
            SymlinkOut(CONTENT),
            "Files\\link.txt",
            "the parent's content file of the hard link's target is a symbolic link out",
        ),
        (
            "parent-device-content",
            ZeroDevice(CONTENT),
            "Files\\link.txt",
            "the parent's content file of the hard link's target is a device node",
        ),
        (
            "parent-fifo-stream-file",
            Fifo(BLOB),
            "Files\\link.txt",
            "the parent's stream file of the hard link's target is a FIFO",
        ),
        (
            "parent-symlink-stream-file",
            SymlinkOut(BLOB),
            "Files\\link.txt",
            "the parent's stream file of the hard link's target is a symbolic link out",
        ),
        (
            "parent-device-stream-file",
            ZeroDevice(BLOB),
            "Files\\link.txt",
            "the parent's stream file of the hard link's target is a device node",
        ),
        (
            "parent-manifest-missing",
            Remove(MANIFEST),
            MANIFEST,
            "the parent has no manifest",
        ),
        (
            "parent-fifo-manifest",
            Fifo(MANIFEST),
            MANIFEST,
            "the parent's manifest is a FIFO",
        ),
        (
            "parent-fifo-records",
            Fifo(RECORDS),
            RECORDS,
            "the parent's record file is a FIFO",
        ),
        (
            "parent-symlink-directory",
            SymlinkOutDir("Files/dir"),
            "Files\\inner-link.txt",
            "the parent's directory holding the target of the hard link Files/inner-link.txt \
             is a symbolic link to a directory outside",
        ),
    ] {
        v.push(case(name, ParentLayer, vec![step], bad, what));
    }

    // Transport folders (docs/transport-folder.md).
    let sidecar_99 = "wclayer-sidecar.$wcidirs$.$wcidirs$/99.$wcidirs$";
    let mut oversized_tombstones = vec![1u8];
    oversized_tombstones.extend(99u64.to_le_bytes());
    oversized_tombstones.extend((2u64 << 30).to_le_bytes());
    let mut oversized_stream = vec![1u8];
    oversized_stream.extend(ARCHIVE.to_le_bytes());
    oversized_stream.extend(20u64.to_le_bytes());
    oversized_stream.extend(4096u64.to_le_bytes());
    oversized_stream.push(1);
    oversized_stream.extend(99u64.to_le_bytes());
    oversized_stream.extend((2u64 << 30).to_le_bytes());
    for (name, steps, bad, what) in [
        (
            "folder-symlink-planted",
            vec![SymlinkOut("Files/evil")],
            "Files\\evil",
            "a symbolic link to a file outside is planted among the transport files",
        ),
        (
            "folder-symlink-transport-file",
            vec![SymlinkOut("Files/new.txt")],
            "Files\\new.txt",
            "a transport file is a symbolic link to a file outside",
        ),
        (
            "folder-symlink-directory",
            vec![SymlinkOutDir("Files")],
            "Files",
            "the Files directory is a symbolic link to a directory outside",
        ),
        (
            "folder-fifo-planted",
            vec![Fifo("Files/fifo")],
            "Files\\fifo",
            "a FIFO is planted among the transport files",
        ),
        (
            "folder-fifo-transport-file",
            vec![Fifo("Files/new.txt")],
            "Files\\new.txt",
            "a transport file is a FIFO",
        ),
        (
            "folder-fifo-tombstones",
            vec![Fifo("tombstones.txt")],
            "tombstones.txt",
            "tombstones.txt is a FIFO",
        ),
        (
            "folder-tombstone-dotdot",
            vec![Write {
                path: "tombstones.txt",
                bytes: b"\xef\xbb\xbfVersion 1.0\n\\a\\gone.txt\n\\..\\..\\outside\n".to_vec(),
            }],
            "tombstones.txt",
            "a line of tombstones.txt climbs out of Files (and of the folder)",
        ),
        (
            "folder-tombstone-sidecar-oversized",
            vec![
                Extend {
                    path: sidecar_99,
                    len: 2 << 30,
                },
                SetXattr {
                    path: ".",
                    name: "user.wclayer.tombstones",
                    value: oversized_tombstones,
                },
            ],
            "user.wclayer.tombstones",
            "the folder's tombstone metadata points at a 2 GiB sidecar (a hole): it must be \
             refused before it is read",
        ),
        (
            "folder-stream-sidecar-oversized",
            vec![
                Extend {
                    path: sidecar_99,
                    len: 2 << 30,
                },
                SetXattr {
                    path: "Hives/System_Delta",
                    name: "user.wclayer.stream",
                    value: oversized_stream,
                },
            ],
            "Hives\\System_Delta",
            "a plain file's stream template points at a 2 GiB sidecar of zeros (a hole), \
             which is no backup stream: refused at once, naming the entry, without the \
             sidecar being read whole",
        ),
        (
            "folder-version-unknown",
            vec![SetXattr {
                path: ".",
                name: "user.wclayer.folder",
                value: b"2".to_vec(),
            }],
            "version \"2\"",
            "the folder's metadata claims a format version from the future",
        ),
        (
            "folder-plain-file-changed",
            vec![Write {
                path: "Hives/System_Delta",
                bytes: b"changed!".to_vec(),
            }],
            "Hives\\System_Delta",
            "a plain file no longer has the length its metadata records",
        ),
    ] {
        v.push(case(name, TransportFolder, steps, bad, what));
    }
    v
}

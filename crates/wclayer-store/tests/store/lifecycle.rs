//! Staging, commit, discard.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, LinkInfo, copy_layer};
use wclayer_store::{DirLayerReader, DirLayerWriter, Error, ParentLayer};

use crate::common::*;

#[test]
fn staging_then_rename() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], Default::default()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    add(&mut w, "Files/a", file_info(1), &Stream::new().data(b"a"));
    let during = ls(tmp.path());
    assert_eq!(during.len(), 1);
    assert!(
        during[0].starts_with(".layer.wclayer-staging-") && during[0].len() == 23 + 16,
        "{during:?}"
    );
    // (Files/a itself may still be being created by the writer's workers.)
    assert!(tmp.path().join(&during[0]).join("Files").is_dir());
    w.close().unwrap();
    assert_eq!(ls(tmp.path()), ["layer"]);
    // Closing twice is an error, and changes nothing.
    assert!(matches!(w.close(), Err(wclayer_layer::Error::Closed)));
    drop(w);
    assert_eq!(ls(tmp.path()), ["layer"]);
    assert_eq!(
        std::fs::read(tmp.path().join("layer/Files/a")).unwrap(),
        b"a"
    );
}

#[test]
fn dropping_an_unclosed_writer_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    add(
        &mut w,
        "Files/big",
        file_info(1),
        &Stream::new().data(&[1u8; 100_000]).ads("x", b"y"),
    );
    // Drop in the middle of a stream.
    w.add(&p("Files/half"), &file_info(1)).unwrap();
    w.write_all(&Stream::new().data(b"abcdef").bytes()[..25])
        .unwrap();
    drop(w);
    assert!(ls(tmp.path()).is_empty(), "{:?}", ls(tmp.path()));
}

/// A reader that fails after a few entries, like a truncated tar.
struct Failing {
    entries: Vec<(LayerPath, wclayer_backup::FileBasicInfo, Vec<u8>)>,
    pos: usize,
    cur: Vec<u8>,
    off: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_stream(buf)?)
    }
}

impl LayerReader for Failing {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        let Some((name, info, stream)) = self.entries.get(self.pos).cloned() else {
            return Err(wclayer_layer::Error::Io {
                name: Some("Files/broken".into()),
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "truncated tar"),
            });
        };
        self.pos += 1;
        self.cur = stream;
        self.off = 0;
        Ok(Some(Entry::File {
            name,
            size: 0,
            info,
        }))
    }
    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        Ok(LinkInfo::default())
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        let n = (self.cur.len() - self.off).min(buf.len());
        buf[..n].copy_from_slice(&self.cur[self.off..self.off + n]);
        self.off += n;
        Ok(n)
    }
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        Ok(())
    }
}

#[test]
fn a_failing_import_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    let mut r = Failing {
        entries: vec![
            (p("Files"), dir_info(1), Vec::new()),
            (
                p("Files/a"),
                file_info(1),
                Stream::new().data(&[5u8; 300_000]).bytes().to_vec(),
            ),
        ],
        pos: 0,
        cur: Vec::new(),
        off: 0,
    };
    let mut w = DirLayerWriter::create(&fd, "layer", vec![], opts()).unwrap();
    let e = copy_layer(&mut r, &mut w).unwrap_err();
    assert!(e.to_string().contains("Files/broken"), "{e}");
    drop(w);
    assert!(ls(tmp.path()).is_empty(), "{:?}", ls(tmp.path()));
}

#[test]
fn the_target_must_not_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let fd = open_dir(tmp.path());
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let e = DirLayerWriter::create(&fd, "taken", vec![], opts()).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    std::os::unix::fs::symlink("/nonexistent", tmp.path().join("dangling")).unwrap();
    let e = DirLayerWriter::create(&fd, "dangling", vec![], opts()).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    // Created by someone else while importing: the rename refuses to replace it.
    let mut w = DirLayerWriter::create(&fd, "race", vec![], opts()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    std::fs::create_dir(tmp.path().join("race")).unwrap();
    std::fs::write(tmp.path().join("race/theirs"), b"x").unwrap();
    let e = w.close().unwrap_err();
    assert_eq!(
        e.to_string(),
        "race: layer directory already exists",
        "{e:?}"
    );
    // The store's own error travels through the layer traits with its type.
    let wclayer_layer::Error::Backend(b) = &e else {
        panic!("{e:?}");
    };
    assert!(matches!(
        b.downcast_ref::<Error>(),
        Some(Error::AlreadyExists { .. })
    ));
    drop(w);
    assert_eq!(ls(tmp.path()), ["dangling", "race", "taken"]);
    assert_eq!(ls(&tmp.path().join("race")), ["theirs"]);
    for bad in ["", ".", "..", "a/b"] {
        assert!(matches!(
            DirLayerWriter::create(&fd, bad, vec![], opts()),
            Err(Error::InvalidLayerName { .. })
        ));
    }
}

#[test]
fn ambient_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let mut w =
        DirLayerWriter::create_ambient(&base, &[], wclayer_fs::ambient_authority()).unwrap();
    add(&mut w, "Files", dir_info(1), &Stream::new());
    add(&mut w, "Files/x", file_info(1), &Stream::new().data(b"x"));
    w.close().unwrap();
    let delta = tmp.path().join("delta");
    let mut w = DirLayerWriter::create_ambient(
        &delta,
        &[PathBuf::from(&base)],
        wclayer_fs::ambient_authority(),
    )
    .unwrap();
    w.remove(&p("Files/x")).unwrap();
    w.close().unwrap();
    let mut r = DirLayerReader::open_ambient(&delta, wclayer_fs::ambient_authority()).unwrap();
    let snap = snapshot(&mut r);
    assert_eq!(snap.len(), 1);
    assert!(matches!(&snap[0].entry, Entry::Tombstone { name } if name.as_str() == "Files\\x"));
    assert_eq!(r.layer_info().parents, [base.display().to_string()]);
    assert!(r.close().is_ok());
    assert!(matches!(r.next(), Err(wclayer_layer::Error::Closed)));
    // Not a layer directory.
    let e = DirLayerReader::open_ambient(tmp.path(), wclayer_fs::ambient_authority()).unwrap_err();
    assert!(
        e.to_string().contains("not a wclayer layer directory"),
        "{e}"
    );
    let e = ParentLayer::open_ambient(tmp.path(), wclayer_fs::ambient_authority()).unwrap_err();
    assert!(matches!(e, Error::Metadata { .. }), "{e}");
}

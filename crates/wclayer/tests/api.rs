//! The hcsshim-style API: spans, transport folders, tars.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use wclayer::{LayerReader, LayerWriter};

/// One span as the subscriber saw it: name, fields (as recorded), whether it closed.
#[derive(Clone, Debug, Default)]
struct SeenSpan {
    name: String,
    fields: BTreeMap<String, String>,
    closed: bool,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(u64, SeenSpan)>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut seen = SeenSpan {
            name: attrs.metadata().name().to_string(),
            ..SeenSpan::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.0.lock().unwrap().push((id.into_u64(), seen));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, s)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, s)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            s.closed = true;
        }
    }
}

fn captured<T>(f: impl FnOnce() -> T) -> (T, Vec<SeenSpan>) {
    let cap = Capture::default();
    let subscriber = tracing_subscriber::registry().with(cap.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    let spans = cap
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s.clone())
        .collect();
    (out, spans)
}

fn sample(case: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let opts = wclayer_gen::Options {
        big_file_size: 100_000,
    };
    wclayer_gen::write_case_with(case, &opts, &mut out).unwrap();
    out
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn spans_of_an_import_carry_hcsshim_names_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let delta = dir.path().join("delta");
    let folder = dir.path().join("folder");
    wclayer::import_layer_from_tar(&sample("base")[..], &base, &[]).unwrap();
    wclayer::import_layer_from_tar(&sample("delta")[..], &delta, std::slice::from_ref(&base))
        .unwrap();
    let export_folder = dir.path().join("exported");

    let (r, spans) = captured(|| {
        wclayer::export_layer(&delta, &export_folder, std::slice::from_ref(&base))?;
        wclayer::import_layer(
            &dir.path().join("again"),
            &export_folder,
            std::slice::from_ref(&base),
        )
    });
    r.unwrap();
    let export = spans
        .iter()
        .find(|s| s.name == "wclayer::export_layer")
        .unwrap();
    assert_eq!(export.fields["path"], s(&delta));
    assert_eq!(export.fields["exportFolderPath"], s(&export_folder));
    assert_eq!(export.fields["parentLayerPaths"], s(&base));
    assert!(export.closed && !export.fields.contains_key("error"));
    let import = spans
        .iter()
        .find(|s| s.name == "wclayer::import_layer")
        .unwrap();
    assert_eq!(import.fields["path"], s(&dir.path().join("again")));
    assert_eq!(import.fields["importFolderPath"], s(&export_folder));
    assert_eq!(import.fields["parentLayerPaths"], s(&base));
    assert!(import.closed);

    // Two parents are joined with ", " as hcsshim does; a failure is recorded on the span.
    let (r, spans) = captured(|| {
        wclayer::import_layer(
            &dir.path().join("again"),
            &folder,
            &[base.clone(), delta.clone()],
        )
    });
    let err = r.unwrap_err().to_string();
    let import = spans
        .iter()
        .find(|s| s.name == "wclayer::import_layer")
        .unwrap();
    assert_eq!(
        import.fields["parentLayerPaths"],
        format!("{}, {}", s(&base), s(&delta))
    );
    assert_eq!(import.fields["error"], err);
}

/// Whether the capture has seen a span named `name`, and whether it is still open: `None`
/// when no such span was made.
fn open_span(cap: &Capture, name: &str) -> Option<bool> {
    let spans = cap.0.lock().unwrap();
    let mut named = spans.iter().filter(|(_, s)| s.name == name);
    let (_, s) = named.next()?;
    assert!(named.next().is_none(), "more than one {name} span");
    Some(!s.closed)
}

/// The backup stream of a file holding `body`.
fn data_stream(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = wclayer::backup::BackupStreamWriter::new(Vec::new());
    w.write_header(&wclayer::backup::StreamHeader::new(
        wclayer::backup::StreamId::DATA,
        body.len() as u64,
    ))
    .unwrap();
    w.write_all(body).unwrap();
    w.finish().unwrap()
}

#[test]
fn writer_and_reader_spans_last_until_close() {
    const W: &str = "wclayer::new_layer_writer";
    const R: &str = "wclayer::new_layer_reader";
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    let cap = Capture::default();
    let subscriber = tracing_subscriber::registry().with(cap.clone());
    tracing::subscriber::with_default(subscriber, || {
        let file_info = wclayer::FileBasicInfo {
            file_attributes: wclayer::FileAttributes::ARCHIVE,
            ..Default::default()
        };
        let dir_info = wclayer::FileBasicInfo {
            file_attributes: wclayer::FileAttributes::DIRECTORY,
            ..Default::default()
        };
        let mut w = wclayer::new_layer_writer(&layer, &[]).unwrap();
        assert_eq!(
            open_span(&cap, W),
            Some(true),
            "open after new_layer_writer"
        );
        w.add(&wclayer::LayerPath::parse("Files").unwrap(), &dir_info)
            .unwrap();
        assert_eq!(open_span(&cap, W), Some(true), "open after add");
        w.add(&wclayer::LayerPath::parse("Files/a").unwrap(), &file_info)
            .unwrap();
        w.write_stream(&data_stream(b"abc")).unwrap();
        assert_eq!(open_span(&cap, W), Some(true), "open after write");
        w.close().unwrap();
        assert_eq!(open_span(&cap, W), Some(false), "closed by close");

        let mut r = wclayer::new_layer_reader(&layer, &[]).unwrap();
        assert_eq!(
            open_span(&cap, R),
            Some(true),
            "open after new_layer_reader"
        );
        assert_eq!(r.next().unwrap().unwrap().name().as_str(), "Files");
        assert_eq!(open_span(&cap, R), Some(true), "open after next");
        assert_eq!(r.next().unwrap().unwrap().name().as_str(), "Files\\a");
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut s).unwrap();
        assert_eq!(s, data_stream(b"abc"));
        assert_eq!(open_span(&cap, R), Some(true), "open after read");
        assert!(r.next().unwrap().is_none());
        r.close().unwrap();
        assert_eq!(open_span(&cap, R), Some(false), "closed by close");
    });
    let spans = cap.0.lock().unwrap();
    let w = &spans.iter().find(|(_, s)| s.name == W).unwrap().1;
    assert_eq!(w.fields["path"], s(&layer));
    assert_eq!(w.fields["parentLayerPaths"], "");
    assert!(!w.fields.contains_key("error"), "{:?}", w.fields);
    let r = &spans.iter().find(|(_, s)| s.name == R).unwrap().1;
    assert_eq!(r.fields["path"], s(&layer));
}

#[test]
fn tar_to_folder_to_layer_to_folder_to_tar_equals_convert() {
    for case in ["base", "delta", "linux", "pax-global"] {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let tar = sample(case);
        // convert: tar -> in-memory layer -> tar
        let mut mem = wclayer::MemLayer::new();
        wclayer_tar::import_tar(&mut wclayer::ArchiveReader::new(&tar[..]), &mut mem).unwrap();
        let (want, _) = wclayer_tar::export_tar(&mut mem.reader().unwrap(), Vec::new()).unwrap();
        // tar -> folder
        let mut fw = wclayer::FolderLayerWriter::create(&p("in-folder")).unwrap();
        wclayer_tar::import_tar(&mut wclayer::ArchiveReader::new(&tar[..]), &mut fw).unwrap();
        // folder -> layer directory (delta layers over a base layer)
        let parents: Vec<PathBuf> = if case == "delta" {
            wclayer::import_layer_from_tar(&sample("base")[..], &p("base"), &[]).unwrap();
            vec![p("base")]
        } else {
            vec![]
        };
        wclayer::import_layer(&p("layer"), &p("in-folder"), &parents).unwrap();
        // layer directory -> folder -> tar
        wclayer::export_layer(&p("layer"), &p("out-folder"), &parents).unwrap();
        let mut fr = wclayer::FolderLayerReader::open(&p("out-folder")).unwrap();
        let mut got_mem = wclayer::MemLayer::new();
        wclayer::copy_layer(&mut fr, &mut got_mem).unwrap();
        got_mem.set_walk_mode(Some(mem.walk_mode()));
        let (got, _) = wclayer_tar::export_tar(&mut got_mem.reader().unwrap(), Vec::new()).unwrap();
        assert!(got == want, "{case}");
        // A delta layer's folder exports straight to the same tar (a folder walks as a
        // delta layer, as HCS exports delta layers).
        if case == "delta" {
            let mut fr = wclayer::FolderLayerReader::open(&p("out-folder")).unwrap();
            let (direct, _) = wclayer_tar::export_tar(&mut fr, Vec::new()).unwrap();
            assert!(direct == want, "{case} (folder reader)");
        }
        // And straight from the layer directory.
        let direct = wclayer::export_layer_to_tar(Vec::new(), &p("layer"), &parents).unwrap();
        assert!(direct == want, "{case} (export_layer_to_tar)");
    }
}

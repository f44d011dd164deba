//! The tar mapping end to end: import into the in-memory layer, export again, compare with
//! the reference (the public vectors, the worked example of docs/oci-tar-mapping.md §9, the
//! generator's layers).

use std::io::{self, Read, SeekFrom, Write};

use sha2::{Digest, Sha256};
use wclayer_backup::{
    BackupStreamWriter, FileAttributes, FileBasicInfo, FileTime, StreamAttributes, StreamHeader,
    StreamId,
};
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, LinkInfo, MemLayer, WalkMode};
use wclayer_tar::archive::ArchiveReader;
use wclayer_tar::{export_tar, import_tar};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const CASES: [&str; 5] = [
    "v1_base_names_times",
    "v2_streams_links",
    "v3_delta",
    "v4_plain_ustar",
    "v5_model_details",
];

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn import(bytes: &[u8]) -> Result<MemLayer, wclayer_tar::Error> {
    let mut layer = MemLayer::new();
    import_tar(&mut ArchiveReader::new(bytes), &mut layer)?;
    Ok(layer)
}

fn export(layer: &mut MemLayer) -> Vec<u8> {
    let mut r = layer.reader().unwrap();
    export_tar(&mut r, Vec::new()).unwrap().0
}

fn convert(bytes: &[u8]) -> Vec<u8> {
    export(&mut import(bytes).unwrap())
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn reference_vectors_convert_byte_identical() {
    for case in CASES {
        let input = read(&format!("{DATA}/{case}.tar"));
        let want = read(&format!("{DATA}/exports/{case}.export.tar"));
        let got = convert(&input);
        assert!(got == want, "{case}: export differs from the reference");
        // The reference exports are fixed points, and so is ours.
        assert!(convert(&got) == want, "{case}: not a fixed point");
    }
}

/// One traced writer call as the layer holds it afterwards: an added name or a hard link
/// with the length and SHA-256 of its stream, or a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Entry {
        name: String,
        stream_len: u64,
        stream_sha256: String,
    },
    Tombstone(String),
}

#[test]
fn reference_vectors_import_streams_match_the_trace() {
    // Every call of the reference trace is in the layer: each added name with the length
    // and SHA-256 the trace records for its stream, each hard link with its target's, each
    // tombstone; and the layer holds nothing else (the CLI test checks the trace line by
    // line).
    for case in CASES {
        let trace = std::fs::read_to_string(format!("{DATA}/{case}.trace.jsonl")).unwrap();
        let name_of = |v: &serde_json::Value, key: &str| -> String {
            LayerPath::parse(v[key].as_str().unwrap())
                .unwrap()
                .as_str()
                .to_string()
        };
        let mut want: Vec<Held> = Vec::new();
        let lines: Vec<serde_json::Value> = trace
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for v in &lines {
            match v["op"].as_str().unwrap() {
                "add" => want.push(Held::Entry {
                    name: name_of(v, "name"),
                    stream_len: v["stream_len"].as_u64().unwrap(),
                    stream_sha256: v["stream_sha256"].as_str().unwrap().to_string(),
                }),
                "link" => {
                    let target = name_of(v, "target");
                    let added = lines
                        .iter()
                        .find(|a| a["op"] == "add" && name_of(a, "name") == target)
                        .unwrap_or_else(|| panic!("{case}: link target {target} not added"));
                    want.push(Held::Entry {
                        name: name_of(v, "name"),
                        stream_len: added["stream_len"].as_u64().unwrap(),
                        stream_sha256: added["stream_sha256"].as_str().unwrap().to_string(),
                    });
                }
                "remove" => want.push(Held::Tombstone(name_of(v, "name"))),
                op => panic!("{case}: unknown trace op {op}"),
            }
        }
        let mut layer = import(&read(&format!("{DATA}/{case}.tar"))).unwrap();
        layer.set_walk_mode(Some(WalkMode::Delta));
        let mut r = layer.reader().unwrap();
        let mut got: Vec<Held> = Vec::new();
        while let Some(e) = r.next().unwrap() {
            got.push(match e {
                Entry::File { name, .. } => {
                    let mut s = Vec::new();
                    r.read_to_end(&mut s).unwrap();
                    Held::Entry {
                        name: name.as_str().to_string(),
                        stream_len: s.len() as u64,
                        stream_sha256: sha256(&s),
                    }
                }
                Entry::Tombstone { name } => Held::Tombstone(name.as_str().to_string()),
                other => panic!("{case}: unexpected entry {other:?}"),
            });
        }
        assert!(!want.is_empty(), "{case}: empty trace");
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len(), "{case}: {got:#?}\nwant {want:#?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{case}");
        }
    }
}

// ---- docs/oci-tar-mapping.md §9, the worked example ------------------------------------------

const T0: FileTime = FileTime(132_540_302_451_234_567);
const T1: FileTime = FileTime(132_540_302_460_000_000);
const SD_HEX: &str = "0100008014000000240000000000000000000000010200000000000520000000210200000102000000000005200000002102000000";

fn info(c: FileTime, a: FileTime, w: FileTime, ch: FileTime, attrs: u32) -> FileBasicInfo {
    FileBasicInfo {
        creation_time: c,
        last_access_time: a,
        last_write_time: w,
        change_time: ch,
        file_attributes: FileAttributes(attrs),
    }
}

fn sd() -> Vec<u8> {
    hex::decode(&SD_HEX[..104]).unwrap()
}

fn stream(parts: &[(StreamHeader, &[u8])]) -> Vec<u8> {
    let mut w = BackupStreamWriter::new(Vec::new());
    for (h, body) in parts {
        w.write_header(h).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap()
}

fn worked_example() -> MemLayer {
    let p = |s: &str| LayerPath::parse(s).unwrap();
    let sd = sd();
    let mut l = MemLayer::new();
    l.add(&p("Files"), &info(T0, T1, T0, T1, 0x10)).unwrap();
    l.write_all(&stream(&[(
        StreamHeader::new(StreamId::SECURITY_DATA, 52),
        &sd,
    )]))
    .unwrap();
    l.remove(&p("Files\\deleted.txt")).unwrap();
    l.add(&p("Files\\hello.txt"), &info(T0, T1, T1, T1, 0x20))
        .unwrap();
    // docs/backup-stream.md §7
    let hello = hex::decode("030000000000000034000000000000000000000001000080140000002400000000000000000000000102000000000005200000002102000001020000000000052000000021020000010000000000000006000000000000000000000068656c6c6f0a04000000000000000100000000000000160000003a007a006f006e0065003a00240044004100540041007a02000000000000001000000000000000000000000000000000030300464f4f0062617200").unwrap();
    l.write_all(&hello).unwrap();
    l.add_link(&p("Files\\link.txt"), &p("Files\\hello.txt"))
        .unwrap();
    l.add(&p("Files\\sym"), &info(T0, T0, T0, T0, 0x420))
        .unwrap();
    let rp = wclayer_backup::reparse::ReparsePoint::from_target("hello.txt", false)
        .encode()
        .unwrap();
    l.write_all(&stream(&[
        (StreamHeader::new(StreamId::SECURITY_DATA, 52), &sd),
        (
            StreamHeader::new(StreamId::REPARSE_DATA, rp.len() as u64),
            &rp,
        ),
    ]))
    .unwrap();
    l.add(&p("Hives"), &info(T0, T1, T0, T1, 0x10)).unwrap();
    l.close().unwrap();
    l
}

#[test]
fn worked_example_two_pass_is_byte_exact() {
    let mut l = worked_example();
    assert_eq!(l.walk_mode(), WalkMode::Delta);
    let out = export(&mut l);
    assert_eq!(out.len(), 11_776);
    assert_eq!(
        sha256(&out),
        "2fb5e342c662a6ef671526c71f7e62cc4924e2e1f43b3288a6ebfdb4d5e5cf14"
    );
}

/// A reader that hides `seek_stream`, like hcsshim's base-layer reader on Windows.
struct Unseekable<R>(R);

impl<R: LayerReader> Read for Unseekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: LayerReader> LayerReader for Unseekable<R> {
    fn next(&mut self) -> Result<Option<Entry>, wclayer_layer::Error> {
        self.0.next()
    }
    fn link_info(&mut self) -> Result<LinkInfo, wclayer_layer::Error> {
        self.0.link_info()
    }
    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize, wclayer_layer::Error> {
        self.0.read_stream(buf)
    }
    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.0.close()
    }
}

#[test]
fn worked_example_single_pass_loses_the_trailing_ea() {
    let mut l = worked_example();
    let mut r = Unseekable(l.reader().unwrap());
    assert!(!r.can_seek_stream());
    assert!(r.seek_stream(SeekFrom::Current(0)).is_err());
    let out = export_tar(&mut r, Vec::new()).unwrap().0;
    assert_eq!(out.len(), 11_776);
    assert_eq!(
        sha256(&out),
        "053744500ae46357293f1e0634f1a688777169d1f3c4f60461a6cb0debcd8b3e"
    );
}

// ---- the generator's layers ---------------------------------------------------------------

fn generated(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let opts = wclayer_gen::Options {
        big_file_size: 3 << 20,
    };
    wclayer_gen::write_case_with(name, &opts, &mut out).unwrap();
    out
}

#[test]
fn generated_layers_convert_to_a_fixed_point() {
    for case in wclayer_gen::cases() {
        let input = generated(case.name);
        let once = convert(&input);
        let twice = convert(&once);
        assert!(once == twice, "{}: convert is not a fixed point", case.name);
        // The export is a tar every reader accepts, with nothing but what it should carry.
        let mut ar = ArchiveReader::new(&once[..]);
        let mut names = Vec::new();
        while let Some(h) = ar.next_entry().unwrap() {
            assert!(!h.name.contains("PaxHeader"), "{}: {}", case.name, h.name);
            names.push(h.name);
        }
        assert!(names.len() > 3, "{}", case.name);
        if case.name == "base" {
            // The base walk: Files and its subtree, then UtilityVM, UtilityVM/Files and its
            // subtree; nothing of Hives (docs/layer-semantics.md §0.2).
            let at = |n: &str| names.iter().position(|x| x == n).unwrap();
            assert_eq!(names[0], "Files");
            assert_eq!(at("UtilityVM") + 1, at("UtilityVM/Files"));
            assert!(
                names[..at("UtilityVM")]
                    .iter()
                    .all(|n| n.starts_with("Files"))
            );
            assert!(
                names[at("UtilityVM") + 1..]
                    .iter()
                    .all(|n| n.starts_with("UtilityVM/Files"))
            );
            assert!(!names.iter().any(|n| n.starts_with("Hives")));
        }
    }
}

#[test]
fn generated_layers_keep_every_stream() {
    // tar -> layer -> tar -> layer: the second layer holds the same streams as the first for
    // every entry the export carries (the base walk drops Hives, and ADS of directories and
    // symlinks are dropped on export by design, so compare per exported name).
    for case in wclayer_gen::cases() {
        let mut first = import(&generated(case.name)).unwrap();
        let mut second = import(&export(&mut first)).unwrap();
        second.set_walk_mode(Some(first.walk_mode()));
        let a = entries(&mut first);
        let b = entries(&mut second);
        for (name, info, s) in &b {
            let Some((_, ia, sa)) = a.iter().find(|(n, _, _)| n == name) else {
                panic!("{}: {name} appeared from nowhere", case.name);
            };
            assert_eq!(info, ia, "{} {name}", case.name);
            let dropped_ads =
                ia.file_attributes.is_directory() || ia.file_attributes.is_reparse_point();
            if !dropped_ads {
                assert!(s == sa, "{} {name}: stream differs", case.name);
            }
        }
    }
}

fn entries(l: &mut MemLayer) -> Vec<(String, FileBasicInfo, Vec<u8>)> {
    let mut r = l.reader().unwrap();
    let mut out = Vec::new();
    while let Some(e) = r.next().unwrap() {
        if let Entry::File { name, info, .. } = e {
            let mut s = Vec::new();
            r.read_to_end(&mut s).unwrap();
            out.push((name.as_str().to_string(), info, s));
        }
    }
    out
}

#[test]
fn malformed_layers_fail_naming_the_entry() {
    for m in wclayer_gen::malformed_cases() {
        let err = match import(&m.bytes) {
            Ok(mut l) => match l.reader() {
                Ok(mut r) => match export_tar(&mut r, Vec::new()) {
                    Ok(_) => panic!("{}: accepted ({})", m.name, m.what),
                    Err(e) => e,
                },
                Err(e) => panic!("{}: {e}", m.name),
            },
            Err(e) => e,
        };
        let text = format!("{:#}", anyhow_like(&err));
        assert!(
            text.contains(m.bad_entry),
            "{}: error {text:?} does not name {}",
            m.name,
            m.bad_entry
        );
    }
}

/// The error and its sources joined with ": ", as the CLI prints them.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

// ---- export details -----------------------------------------------------------------------

fn one_file_layer(attrs: u32, size_stream: &[u8]) -> MemLayer {
    let mut l = MemLayer::new();
    let p = |s: &str| LayerPath::parse(s).unwrap();
    l.add(&p("Files"), &info(T0, T0, T0, T0, 0x10)).unwrap();
    l.add(&p("Files\\f"), &info(T0, T0, T0, T0, attrs)).unwrap();
    l.write_all(size_stream).unwrap();
    l.close().unwrap();
    l
}

fn body_of(tar: &[u8], name: &str) -> Vec<u8> {
    let mut ar = ArchiveReader::new(tar);
    while let Some(h) = ar.next_entry().unwrap() {
        if h.name == name {
            let mut b = Vec::new();
            ar.read_to_end(&mut b).unwrap();
            return b;
        }
    }
    panic!("{name} not in the archive");
}

fn sparse(id: StreamId, attrs: u32, size: u64) -> StreamHeader {
    StreamHeader {
        attributes: StreamAttributes(attrs),
        ..StreamHeader::new(id, size)
    }
}

/// docs/backup-stream.md §5.2: the sparse shapes export zero-filled, with the two-pass
/// (seekable) reader that makes the pinned go-winio fail with `unknown stream ID 9`
/// (docs/compat.md).
#[test]
fn two_pass_export_of_a_sparse_file_zero_fills_its_holes() {
    let several = stream(&[
        (sparse(StreamId::DATA, 8, 0), b""),
        (StreamHeader::sparse_block(0, 2), b"ab"),
        (StreamHeader::sparse_block(10, 2), b"cd"),
        (StreamHeader::sparse_block(16, 0), b""),
    ]);
    let mut l = one_file_layer(0x220, &several);
    assert!(l.reader().unwrap().can_seek_stream(), "a two-pass export");
    let out = export(&mut l);
    let mut want = b"ab".to_vec();
    want.extend([0; 8]);
    want.extend(b"cd");
    want.extend([0; 4]);
    assert_eq!(body_of(&out, "Files/f"), want);

    let none = stream(&[
        (sparse(StreamId::DATA, 8, 0), b""),
        (StreamHeader::sparse_block(16, 0), b""),
    ]);
    let out = export(&mut one_file_layer(0x220, &none));
    assert_eq!(body_of(&out, "Files/f"), vec![0; 16]);

    // Going back is an error, as in go-winio's copySparse.
    let back = stream(&[
        (sparse(StreamId::DATA, 8, 0), b""),
        (StreamHeader::sparse_block(4, 2), b"ab"),
        (StreamHeader::sparse_block(2, 2), b"cd"),
        (StreamHeader::sparse_block(16, 0), b""),
    ]);
    let mut l = one_file_layer(0x220, &back);
    let mut r = l.reader().unwrap();
    let err = export_tar(&mut r, Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "Files/f: cannot seek back from 6 to 2");
}

/// A zero-length sparse file, with or without its terminating block (go-winio PR #375), is
/// an empty file (docs/compat.md).
#[test]
fn a_zero_length_sparse_file_may_end_with_its_terminating_block() {
    for s in [
        stream(&[(sparse(StreamId::DATA, 8, 0), b"")]),
        stream(&[
            (sparse(StreamId::DATA, 8, 0), b""),
            (StreamHeader::sparse_block(0, 0), b""),
        ]),
    ] {
        let out = export(&mut one_file_layer(0x220, &s));
        assert!(body_of(&out, "Files/f").is_empty());
    }
}

/// The reference reports size 0 for a file whose data is a zero-length sparse stream
/// followed by sparse blocks, and exports it empty; the in-memory layer reports the logical
/// size, the terminating block's offset, so the file exports zero-filled (docs/compat.md).
#[test]
fn readers_report_the_logical_size_of_a_sparse_file() {
    let s = stream(&[
        (sparse(StreamId::DATA, 8, 0), b""),
        (StreamHeader::sparse_block(4, 3), b"abc"),
        (StreamHeader::sparse_block(4096, 0), b""),
    ]);
    let mut l = one_file_layer(0x220, &s);
    let mut r = l.reader().unwrap();
    r.next().unwrap();
    let Some(Entry::File { size, .. }) = r.next().unwrap() else {
        panic!("no file");
    };
    assert_eq!(size, 4096);
    drop(r);
    let out = export(&mut l);
    let mut ar = ArchiveReader::new(&out[..]);
    let h = loop {
        let h = ar.next_entry().unwrap().unwrap();
        if h.name == "Files/f" {
            break h;
        }
    };
    assert_eq!(h.size, 4096);
    let mut want = vec![0u8; 4096];
    want[4..7].copy_from_slice(b"abc");
    assert_eq!(body_of(&out, "Files/f"), want);
}

#[test]
fn export_errors_use_the_reference_wording() {
    let cases: Vec<(Vec<u8>, u32, &str)> = vec![
        (
            stream(&[(StreamHeader::new(StreamId::GHOSTED_FILE_EXTENTS, 0), b"")]),
            0x20,
            "Files/f: unknown stream ID 11",
        ),
        (
            stream(&[
                (StreamHeader::new(StreamId::DATA, 1), b"x"),
                (StreamHeader::new(StreamId::SECURITY_DATA, 0), b""),
            ]),
            0x20,
            "Files/f: unknown stream ID 3 after data",
        ),
        (
            stream(&[
                (StreamHeader::new(StreamId::DATA, 1), b"x"),
                (StreamHeader::sparse_block(0, 1), b"y"),
            ]),
            0x20,
            "Files/f: unknown stream ID 9 after data",
        ),
        (
            stream(&[(StreamHeader::new(StreamId::DATA, 3), b"abc")]),
            0x10,
            "Files/f: mismatch between file size 0 and header size 3",
        ),
        (
            stream(&[(
                StreamHeader::new(StreamId::REPARSE_DATA, 8),
                &[0x13, 0, 0, 0x80, 0, 0, 0, 0],
            )]),
            0x420,
            "Files/f: unsupported reparse point 80000013",
        ),
        (
            stream(&[
                (StreamHeader::new(StreamId::DATA, 0), b""),
                (
                    StreamHeader {
                        attributes: StreamAttributes::SPARSE,
                        ..StreamHeader::alternate_data("s", 0)
                    },
                    b"",
                ),
            ]),
            0x20,
            "Files/f: tar of sparse alternate data streams is unsupported",
        ),
    ];
    for (s, attrs, want) in cases {
        let mut l = one_file_layer(attrs, &s);
        let mut r = l.reader().unwrap();
        let err = export_tar(&mut r, Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn ea_after_data_is_kept_by_the_two_pass_export() {
    let eas = wclayer_backup::ea::encode(&[wclayer_backup::ea::ExtendedAttribute::new(
        b"LATE".to_vec(),
        b"v".to_vec(),
    )])
    .unwrap();
    let s = stream(&[
        (StreamHeader::new(StreamId::DATA, 2), b"hi"),
        (StreamHeader::new(StreamId::EA_DATA, eas.len() as u64), &eas),
        (StreamHeader::alternate_data("a", 1), b"z"),
    ]);
    let out = export(&mut one_file_layer(0x20, &s));
    let mut ar = ArchiveReader::new(&out[..]);
    let mut seen = Vec::new();
    while let Some(h) = ar.next_entry().unwrap() {
        seen.push((
            h.name.clone(),
            h.record("MSWINDOWS.xattr.LATE").map(str::to_string),
        ));
    }
    assert!(
        seen.contains(&("Files/f".into(), Some("dg==".into()))),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(n, _)| n == "Files/f:a"), "{seen:?}");
}

//! The seeds of the committed corpus, made from what the repository already has: the
//! generator's layer tars (`wclayer_gen`: the well-formed cases, the malformed and the
//! hostile catalogues), the reference vectors of `crates/wclayer-tar/tests/data/`, the
//! layer-directory fixture of `crates/wclayer-store/tests/fixtures/`, byte vectors and SDDL
//! strings of the codec tests and docs, and the backup streams, EAs, reparse buffers and
//! security descriptors those layers carry. Every seed is at most 64 KiB.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use wclayer_backup::ea::{self, ExtendedAttribute};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::sd::{Layout, SecurityDescriptor};
use wclayer_backup::{BackupStreamReader, BackupStreamWriter, StreamHeader, StreamId};
use wclayer_fs::{Dir, ambient_authority};
use wclayer_image::Digest;
use wclayer_layer::{Entry, LayerReader, MemLayer};
use wclayer_store::{DirLayerWriter, ParentLayer, WriterOptions};
use wclayer_tar::archive::ArchiveReader;
use wclayer_tar::import_tar;

/// The seeds of one target: file names (without the `seed-` prefix) and contents.
type Seeds = Vec<(String, Vec<u8>)>;

/// Largest seed.
const MAX_SEED: usize = 64 << 10;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Adds a seed unless its bytes are already there or it is too large.
fn push(seeds: &mut Seeds, name: impl Into<String>, bytes: Vec<u8>) {
    if bytes.len() <= MAX_SEED && !seeds.iter().any(|(_, b)| *b == bytes) {
        seeds.push((name.into(), bytes));
    }
}

/// Every target's seeds.
pub(crate) fn all() -> Vec<(&'static str, Seeds)> {
    let tars = layer_tars();
    let streams = layer_streams(&tars);
    vec![
        ("backup_stream", backup_stream_seeds(&streams)),
        ("ea", ea_seeds(&streams)),
        ("reparse", reparse_seeds(&streams)),
        ("security_descriptor", sd_seeds(&streams)),
        ("sddl", sddl_seeds(&streams)),
        ("tar_reader", tar_seeds(&tars, true)),
        ("layer_sidecar", sidecar_seeds(&tars)),
        ("import", tar_seeds(&tars, false)),
        ("import_delta", tar_seeds(&tars, false)),
        ("image_archive", image_seeds()),
    ]
}

// ---------------------------------------------------------------------------------------
// Layer tars

/// A layer tar.
struct LayerTar {
    name: String,
    bytes: Vec<u8>,
    /// Well-formed: its streams are worth taking apart.
    valid: bool,
    /// A reference export (the same layers as the inputs, as hcsshim writes them).
    export: bool,
}

/// The generator's cases (with a 4 KiB big file), its malformed and hostile catalogues,
/// the reference vectors, and hand-built archives for the reader's rarer paths.
fn layer_tars() -> Vec<LayerTar> {
    let mut out = Vec::new();
    let options = wclayer_gen::Options {
        big_file_size: 4096,
    };
    for case in wclayer_gen::cases() {
        let mut bytes = Vec::new();
        wclayer_gen::write_case_with(case.name, &options, &mut bytes).unwrap();
        let parts = split_tar(&bytes);
        let count = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let name = if count == 1 {
                format!("gen-{}.tar", case.name)
            } else {
                format!("gen-{}-part{}.tar", case.name, i + 1)
            };
            out.push(LayerTar {
                name,
                bytes: part,
                valid: true,
                export: false,
            });
        }
    }
    for (prefix, list) in [
        ("malformed", wclayer_gen::malformed_cases()),
        ("hostile", wclayer_gen::hostile_cases()),
    ] {
        for m in list {
            out.push(LayerTar {
                name: format!("gen-{prefix}-{}.tar", m.name),
                bytes: m.bytes,
                valid: false,
                export: false,
            });
        }
    }
    let data = repo().join("crates/wclayer-tar/tests/data");
    for (dir, export) in [(data.clone(), false), (data.join("exports"), true)] {
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "tar"))
            .collect();
        names.sort();
        for p in names {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push(LayerTar {
                name: format!("ref-{file}"),
                bytes: fs::read(&p).unwrap(),
                valid: true,
                export,
            });
        }
    }
    for (name, bytes) in handmade_tars() {
        out.push(LayerTar {
            name: format!("hand-{name}.tar"),
            bytes,
            valid: true,
            export: false,
        });
    }
    out
}

/// An archive cut into archives of at most [`MAX_SEED`] bytes, each ending with the two
/// zero blocks, cut only before entries that are not alternate data streams (which must
/// follow their file). Hard links and parents may end up in another part; such a part is
/// a malformed or an implicit-parent layer, still a good seed.
fn split_tar(bytes: &[u8]) -> Vec<Vec<u8>> {
    split_tar_at(bytes, MAX_SEED)
}

/// [`split_tar`] into parts of at most `max` bytes.
fn split_tar_at(bytes: &[u8], max: usize) -> Vec<Vec<u8>> {
    if bytes.len() <= max {
        return vec![bytes.to_vec()];
    }
    let mut starts = Vec::new();
    let mut r = ArchiveReader::new(bytes);
    while let Some(h) = r.next_entry().unwrap() {
        if !h.name.contains(':') {
            starts.push(usize::try_from(h.header_offset).unwrap());
        }
    }
    let end = usize::try_from(r.offset()).unwrap().min(bytes.len());
    starts.push(end);
    let mut parts = Vec::new();
    let mut from = 0;
    let mut last = 0;
    for &s in &starts[1..] {
        if s - from > max - 1024 && last > from {
            parts.push(from..last);
            from = last;
        }
        last = s;
    }
    parts.push(from..end);
    parts
        .into_iter()
        .map(|range| {
            let mut p = bytes[range].to_vec();
            p.extend_from_slice(&[0; 1024]);
            p
        })
        .collect()
}

/// Seeds of the tar targets: the layer tars (reference exports only for the reader).
fn tar_seeds(tars: &[LayerTar], reader: bool) -> Seeds {
    let mut seeds = Seeds::new();
    for t in tars {
        if reader || !t.export {
            push(&mut seeds, t.name.clone(), t.bytes.clone());
        }
    }
    seeds
}

// A minimal tar block writer for the archives no writer at hand produces.

const MAGIC_USTAR: &[u8] = b"ustar\x0000";
const MAGIC_GNU: &[u8] = b"ustar  \0";

fn header(name: &[u8], typeflag: u8, size: u64, magic: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{v:0width$o}\0", width = len - 1);
        h[at..at + len].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, 0o644);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, 1_600_000_000);
    h[156] = typeflag;
    h[257..257 + magic.len()].copy_from_slice(magic);
    h
}

fn checksum(mut h: [u8; 512]) -> [u8; 512] {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A PAX record with its length prefix (which counts itself).
fn rec(k: &str, v: &str) -> Vec<u8> {
    let n = k.len() + v.len() + 3;
    let mut len = n + n.to_string().len();
    if len.to_string().len() != n.to_string().len() {
        len = n + len.to_string().len();
    }
    format!("{len} {k}={v}\n").into_bytes()
}

#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn entry(&mut self, h: [u8; 512], data: &[u8]) -> &mut Tar {
        self.0.extend_from_slice(&checksum(h));
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        self.entry(
            header(name.as_bytes(), b'0', data.len() as u64, MAGIC_USTAR),
            data,
        )
    }

    fn pax(&mut self, typeflag: u8, records: &[(&str, &str)]) -> &mut Tar {
        let body: Vec<u8> = records.iter().flat_map(|(k, v)| rec(k, v)).collect();
        let h = header(b"PaxHeaders.0/x", typeflag, body.len() as u64, MAGIC_USTAR);
        self.entry(h, &body)
    }

    fn end(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.0);
        b.extend_from_slice(&[0; 1024]);
        b
    }
}

/// Sparse files (PAX 0.0, 0.1, 1.0, old GNU with an extension block), global headers, GNU
/// long names and links, with Windows PAX records, under `Files/`.
fn handmade_tars() -> Vec<(&'static str, Vec<u8>)> {
    let stored = b"abcdefg";
    let dir = |t: &mut Tar, name: &str| {
        t.entry(header(name.as_bytes(), b'5', 0, MAGIC_USTAR), &[]);
    };
    let mut out = Vec::new();

    let mut t = Tar::default();
    dir(&mut t, "Files/");
    t.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "2"),
            ("GNU.sparse.numbytes", "3"),
            ("GNU.sparse.offset", "10"),
            ("GNU.sparse.numbytes", "4"),
            ("path", "Files/s00"),
        ],
    )
    .file("ignored", stored);
    t.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.map", "2,3,10,4"),
            ("GNU.sparse.name", "Files/s01"),
            ("MSWINDOWS.fileattr", "544"),
        ],
    )
    .file("GNUSparseFile.0/s01", stored);
    let mut data = b"2\n2\n3\n10\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(stored);
    t.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "Files/s10"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .file("GNUSparseFile.0/s10", &data);
    t.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "0"),
            ("GNU.sparse.size", "1000"),
        ],
    )
    .file("Files/holes", b"");
    out.push(("pax-sparse", t.end()));

    // Old GNU sparse: four map entries in the header, two in an extension block.
    let fragments: Vec<(u64, &[u8])> = (0..6u64).map(|i| (i * 4096, &b"xy"[..])).collect();
    let total: Vec<u8> = fragments.iter().flat_map(|(_, d)| d.to_vec()).collect();
    let mut h = header(b"Files/gnu-sparse", b'S', total.len() as u64, MAGIC_GNU);
    let entry = |(off, d): &(u64, &[u8])| {
        let mut e = [0u8; 24];
        e[..12].copy_from_slice(format!("{off:011o}\0").as_bytes());
        e[12..].copy_from_slice(format!("{:011o}\0", d.len()).as_bytes());
        e
    };
    for (i, f) in fragments[..4].iter().enumerate() {
        h[386 + 24 * i..386 + 24 * (i + 1)].copy_from_slice(&entry(f));
    }
    h[482] = 1;
    h[483..495].copy_from_slice(format!("{:011o}\0", 6 * 4096).as_bytes());
    let mut ext = [0u8; 512];
    for (j, f) in fragments[4..].iter().enumerate() {
        ext[24 * j..24 * (j + 1)].copy_from_slice(&entry(f));
    }
    let mut t = Tar::default();
    dir(&mut t, "Files/");
    t.0.extend_from_slice(&checksum(h));
    t.0.extend_from_slice(&ext);
    t.0.extend_from_slice(&total);
    t.0.resize(t.0.len().div_ceil(512) * 512, 0);
    t.file("Files/after", b"!");
    out.push(("gnu-sparse", t.end()));

    // Global headers, GNU long names and links, Windows records.
    let mut t = Tar::default();
    t.pax(
        b'g',
        &[
            ("MSWINDOWS.rawsd", wclayer_gen::SD_BUILTIN_USERS),
            ("comment", "global"),
        ],
    );
    dir(&mut t, "Files/");
    let long = format!("Files/{}", "long-name-".repeat(12));
    let mut body = long.clone().into_bytes();
    body.push(0);
    t.entry(
        header(b"././@LongLink", b'L', body.len() as u64, MAGIC_GNU),
        &body,
    );
    t.file("ignored-short-name", b"long");
    t.entry(
        header(b"././@LongLink", b'K', body.len() as u64, MAGIC_GNU),
        &body,
    );
    t.entry(header(b"Files/hard", b'1', 0, MAGIC_GNU), &[]);
    t.pax(
        b'x',
        &[
            ("MSWINDOWS.fileattr", "1040"),
            ("MSWINDOWS.mountpoint", "1"),
            ("linkpath", "C:\\target"),
            ("LIBARCHIVE.creationtime", "1600000000.5"),
            ("MSWINDOWS.xattr.USER.EA", "AAEC"),
        ],
    );
    t.entry(header(b"Files/mount", b'2', 0, MAGIC_USTAR), &[]);
    t.pax(b'g', &[("MSWINDOWS.rawsd", "")]);
    t.file("Files/after-global", b"!");
    t.file("Files/after-global:stream", b"ads");
    out.push(("global-long-names", t.end()));
    out
}

// ---------------------------------------------------------------------------------------
// Backup streams and their bodies

/// The backup streams of every entry of the well-formed layer tars, imported into a
/// `MemLayer`.
fn layer_streams(tars: &[LayerTar]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for t in tars.iter().filter(|t| t.valid && !t.export) {
        let mut mem = MemLayer::new();
        if import_tar(&mut ArchiveReader::new(&t.bytes[..]), &mut mem).is_err() {
            // A part of a larger archive whose hard links point into another part.
            continue;
        }
        let Ok(mut r) = mem.reader() else {
            // A part without `Files`.
            continue;
        };
        while let Some(e) = r.next().unwrap() {
            if let Entry::File { name, .. } = e {
                let mut s = Vec::new();
                r.read_to_end(&mut s).unwrap();
                out.push((format!("{}:{name}", t.name), s));
            }
        }
    }
    out
}

/// The bodies of stream `id` in `streams`, distinct.
fn bodies(streams: &[(String, Vec<u8>)], id: StreamId) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    for (_, s) in streams {
        let mut r = BackupStreamReader::new(&s[..]);
        while let Some(h) = r.next_header().unwrap() {
            let mut body = Vec::new();
            r.read_to_end(&mut body).unwrap();
            if h.id == id {
                seen.insert(body);
            }
        }
    }
    seen.into_iter().collect()
}

/// A raw header: any id, size and name size, with the given name bytes.
fn raw_header(id: u32, attributes: u32, size: u64, name_size: u32, name: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&attributes.to_le_bytes());
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&name_size.to_le_bytes());
    b.extend_from_slice(name);
    b
}

fn backup_stream_seeds(streams: &[(String, Vec<u8>)]) -> Seeds {
    let mut seeds = Seeds::new();
    let write = |parts: &[(StreamHeader, &[u8])]| {
        let mut w = BackupStreamWriter::new(Vec::new());
        for (h, body) in parts {
            w.write_header(h).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap()
    };
    push(&mut seeds, "empty", Vec::new());
    push(
        &mut seeds,
        "data",
        write(&[(StreamHeader::new(StreamId::DATA, 5), b"hello")]),
    );
    let sd = b64(wclayer_gen::SD_BUILTIN_USERS);
    let eas = ea::encode(&[ExtendedAttribute::new(b"USER.A".to_vec(), b"1".to_vec())]).unwrap();
    push(
        &mut seeds,
        "sd-ea-data-ads",
        write(&[
            (
                StreamHeader::new(StreamId::SECURITY_DATA, sd.len() as u64),
                &sd,
            ),
            (StreamHeader::new(StreamId::EA_DATA, eas.len() as u64), &eas),
            (StreamHeader::new(StreamId::DATA, 3), b"abc"),
            (StreamHeader::alternate_data("zone", 2), b"zz"),
        ]),
    );
    let mut sparse_data = StreamHeader::new(StreamId::DATA, 0);
    sparse_data.attributes = wclayer_backup::StreamAttributes::SPARSE;
    push(
        &mut seeds,
        "sparse",
        write(&[
            (sparse_data, b""),
            (StreamHeader::sparse_block(0, 3), b"abc"),
            (StreamHeader::sparse_block(4096, 2), b"de"),
            (StreamHeader::sparse_block(8192, 0), b""),
        ]),
    );
    let every: Vec<(StreamHeader, &[u8])> = (1..=11)
        .map(|id| {
            let h = if id == 9 {
                StreamHeader::sparse_block(512, 1)
            } else {
                StreamHeader::new(StreamId(id), 1)
            };
            (h, &b"x"[..])
        })
        .collect();
    push(&mut seeds, "every-id", write(&every));
    // Malformed: unknown ids, odd and huge name sizes, a short sparse block, truncations.
    let mut unknown = raw_header(12, 0, 2, 0, b"");
    unknown.extend_from_slice(b"??");
    unknown.extend_from_slice(&write(&[(StreamHeader::new(StreamId::DATA, 1), b"!")]));
    push(&mut seeds, "unknown-id-12", unknown);
    push(&mut seeds, "unknown-id-0", raw_header(0, 0, 0, 0, b""));
    push(&mut seeds, "odd-name-size", raw_header(4, 0, 0, 3, b"abc"));
    push(
        &mut seeds,
        "name-over-64k",
        raw_header(4, 0, 0, 64 * 1024 + 2, b""),
    );
    push(
        &mut seeds,
        "short-sparse-block",
        raw_header(9, 8, 7, 0, b"1234567"),
    );
    push(
        &mut seeds,
        "truncated-body",
        raw_header(1, 0, 1000, 0, b"short"),
    );
    push(
        &mut seeds,
        "truncated-header",
        raw_header(1, 0, 0, 0, b"")[..13].to_vec(),
    );
    push(&mut seeds, "truncated-name", raw_header(4, 0, 0, 8, b":a"));
    // docs/backup-stream.md: the example of wclayer-backup's summary tests.
    push(
        &mut seeds,
        "summary-vector",
        unhex(
            "030000000000000034000000000000000000000001000080140000002400000000000000000000000102\
             000000000005200000002102000001020000000000052000000021020000010000000000000006000000\
             000000000000000068656c6c6f0a04000000000000000100000000000000160000003a007a006f006e00\
             65003a00240044004100540041007a02000000000000001000000000000000000000000000000000030300\
             464f4f0062617200",
        ),
    );
    // The streams of the sample layers: one per distinct sequence of stream ids.
    let mut shapes = BTreeSet::new();
    for (name, s) in streams {
        let mut r = BackupStreamReader::new(&s[..]);
        let mut ids = Vec::new();
        while let Some(h) = r.next_header().unwrap() {
            ids.push(h.id.0);
        }
        if shapes.insert(ids) {
            push(&mut seeds, format!("layer-{}", file_name(name)), s.clone());
        }
    }
    seeds
}

/// A file-name-safe form of an entry name.
fn file_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(80);
    out
}

fn ea_seeds(streams: &[(String, Vec<u8>)]) -> Seeds {
    let mut seeds = Seeds::new();
    let ea = |name: &[u8], value: &[u8], flags: u8| ExtendedAttribute {
        name: name.to_vec(),
        value: value.to_vec(),
        flags,
    };
    // docs/ea-reparse-sd.md §1.4, from go-winio's ea_test.go.
    push(
        &mut seeds,
        "go-winio-round-trip",
        unhex(
            "10000000 00 03 0300 666f6f 00 626172 00 \
             00000000 00 04 0400 66697a7a 00 62757a7a 000000",
        ),
    );
    push(
        &mut seeds,
        "unpadded-last",
        unhex("00000000 00 01 0000 41 00"),
    );
    push(
        &mut seeds,
        "next-inside-entry",
        unhex("04000000 00 01 0000 41 00 0000 00000000 00 01 0000 42 00 0000"),
    );
    push(&mut seeds, "truncated-header", unhex("10000000 00 03"));
    let lists: [(&str, Vec<ExtendedAttribute>); 5] = [
        ("one", vec![ea(b"USER.A", b"1", 0)]),
        ("need-ea", vec![ea(b"$KERNEL.PURGE.X", &[0, 1, 2], 0x80)]),
        ("empty-name-value", vec![ea(b"", b"", 0), ea(b"B", b"", 0)]),
        ("long-name", vec![ea(&[b'N'; 255], &[7; 300], 0)]),
        (
            "three",
            vec![
                ea(b"A", b"x", 0),
                ea(b"BB", b"yy", 0x80),
                ea(b"CCC", b"zzz", 0),
            ],
        ),
    ];
    for (name, list) in lists {
        push(&mut seeds, name, ea::encode(&list).unwrap());
    }
    for (i, body) in bodies(streams, StreamId::EA_DATA).into_iter().enumerate() {
        push(&mut seeds, format!("layer-{i}"), body);
    }
    seeds
}

fn reparse_seeds(streams: &[(String, Vec<u8>)]) -> Seeds {
    let mut seeds = Seeds::new();
    for (name, target, mount) in [
        ("relative-symlink", r"..\foo", false),
        ("absolute-symlink", r"C:\Windows\System32", false),
        ("device-symlink", r"\\?\Volume{0}\x", false),
        ("unc-symlink", r"\\server\share\dir", false),
        ("mount-point", r"C:\ProgramData", true),
        ("unicode-symlink", "ünï\u{1F600}\\中文", false),
        ("empty-target", "", false),
    ] {
        push(
            &mut seeds,
            name,
            ReparsePoint::from_target(target, mount).encode().unwrap(),
        );
    }
    // The test vectors of wclayer-backup's reparse module.
    push(&mut seeds, "wci-opaque", unhex("180000a0 0000 0000"));
    push(
        &mut seeds,
        "opaque-with-data",
        unhex("170000 80 0500 1234 0102030405"),
    );
    push(
        &mut seeds,
        "surrogates",
        unhex("030000a0 0000 0000 0000 0000 0000 0c00 3dd8 00de 00d8 4100 00dc 4200"),
    );
    push(
        &mut seeds,
        "name-range-overflow",
        unhex("0c0000a0 0000 0000 0000 0000 f4ff 0100"),
    );
    push(
        &mut seeds,
        "odd-name-length",
        unhex("030000a0 0000 0000 0000 0000 0000 0300 000000"),
    );
    push(&mut seeds, "truncated", unhex("0c0000a0 0000 0000 0000"));
    for (i, body) in bodies(streams, StreamId::REPARSE_DATA)
        .into_iter()
        .enumerate()
    {
        push(&mut seeds, format!("layer-{i}"), body);
    }
    seeds
}

/// SDDL strings of the docs and the sd tests: the constants, conditional and object ACEs,
/// labels, NULL ACLs, the `#` extension forms, and a few malformed ones.
const SDDL: &[&str] = &[
    "O:BUG:BU",
    "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)",
    "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)",
    "O:SYD:PAI(A;;FA;;;SY)S:PARAI(AU;FA;GA;;;WD)",
    "D:NO_ACCESS_CONTROL",
    "S:NO_ACCESS_CONTROL",
    "D:ARPAI(A;;GA;;;SY)",
    "S:(ML;OICI;NW;;;LW)",
    "D:(OA;CI;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;4828CC14-1437-45bc-9B07-AD6F015E5F28;SY)(A;;RC;;;AU)",
    "D:(OD;;CR;;00299570-246d-11d0-a768-00aa006e0529;WD)",
    "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of{SID(S-1-1-0)}))",
    "O:WDD:(XA;;CCDCLCSWRPWPDTLOCR;;;WD;(Member_of_any {SID(WD), SID(S-1-222-333)}))",
    "D:(XA;;FR;;;S-1-1-0;(@USER.A && @Device.B || @USER.C))",
    "D:(XD;;FX;;;S-1-1-0;(@User.Project Any_of @Resource.Project))",
    "D:(XA;;FX;;;WD;(@USER.Title == \"PM\" && (@USER.Division == \"Finance\" || @USER.Division == \"Sales\")))",
    "D:AI(XA;OICI;FA;;;WD;(OctetStringType == #01020300))",
    "D:(XA;;;;;WD;(@DEVICE.bb == 0x7fffffffffffffff))",
    "D:(XA;;FA;;;WD;(Exists @USER.x && !(@USER.y <= -5)))",
    "S:(RA;;;;;WD;(\"Color\",TS,0x0,\"Blue\"))",
    "D:(A;;GA;;;WD;#123456)",
    "D:(#000014000100000001010000000000010000000000000000)",
    "O:S-1-2-0x200D:",
    "O:S-1-5-32-579G:S-1-5-33",
    "O:S-1-0x1313131313131-513",
    "D:(A; OICI; GRGWGX;;;AU)",
    "D:P(A;;GA;;;WD) (A;;GX;;;BA)",
    "D:(A;;0x123456789;;;WD)",
    "D:(A;;GA;;;DA)",
    "D:NO_ACCESS_CONTROL(A;;GA;;;WD)",
    "",
];

fn sd_seeds(streams: &[(String, Vec<u8>)]) -> Seeds {
    let mut seeds = Seeds::new();
    for (name, b) in [
        ("builtin-users", wclayer_gen::SD_BUILTIN_USERS),
        ("builtin-admins", wclayer_gen::SD_BUILTIN_ADMINS),
        ("buildkit-file", wclayer_gen::SD_BUILDKIT_FILE),
        ("buildkit-dir", wclayer_gen::SD_BUILDKIT_DIR),
    ] {
        push(&mut seeds, name, b64(b));
    }
    // Descriptors Windows' converter produced (Samba's captures; the sd tests).
    push(
        &mut seeds,
        "windows-member-of",
        unhex(
            "010004804c000000000000000000000014000000020038000100000009003000ff0100000101000000000001\
             00000000617274785011000000510c0000000101000000000001000000008900010100000000000100000000",
        ),
    );
    push(
        &mut seeds,
        "windows-sacl-dacl",
        unhex(
            "010014800000000000000000140000005c00000002004800010000001200400000000000010100000000\
             000100000000140000000300000000000000010000002200000063006f006c006f00750072000000620\
             06c007500650000000200480001000000090040001f00000001020000000000052000000043020000\
             61727478fb0c00000063006f006c006f0075007200fa0c00000063006f006c006f00750072008000",
        ),
    );
    push(
        &mut seeds,
        "owner-group-shared",
        unhex(
            "0100048014000000140000000000000020000000010100000000000512000000\
             02000c000000000000000000",
        ),
    );
    for (i, text) in SDDL.iter().enumerate() {
        if let Ok(d) = SecurityDescriptor::from_sddl(text) {
            push(&mut seeds, format!("sddl-{i}"), d.to_bytes());
            push(
                &mut seeds,
                format!("sddl-{i}-sacl-first"),
                d.to_bytes_in(Layout::SaclDaclOwnerGroup),
            );
        }
    }
    for (i, body) in bodies(streams, StreamId::SECURITY_DATA)
        .into_iter()
        .enumerate()
    {
        push(&mut seeds, format!("layer-{i}"), body);
    }
    seeds
}

fn sddl_seeds(streams: &[(String, Vec<u8>)]) -> Seeds {
    let mut seeds = Seeds::new();
    for (i, text) in SDDL.iter().enumerate() {
        push(&mut seeds, format!("{i}.txt"), text.as_bytes().to_vec());
    }
    for (i, body) in bodies(streams, StreamId::SECURITY_DATA)
        .into_iter()
        .enumerate()
    {
        if let Ok(d) = SecurityDescriptor::from_bytes(&body) {
            push(
                &mut seeds,
                format!("layer-{i}.txt"),
                d.to_sddl().into_bytes(),
            );
        }
    }
    seeds
}

// ---------------------------------------------------------------------------------------
// Layer directories

fn no_sync() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.sync = false;
    o
}

/// `bytes` with `\n`, `\\` and non-printable bytes escaped as the `f` lines of the
/// layer_sidecar input want them.
fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out
}

/// A layer directory as a layer_sidecar input: `layer.json`, a blank line,
/// `entries.jsonl`, a blank line, and one line per directory, file and symbolic link
/// (files over 2 KiB cut short, files of zeros as sparse files).
fn sidecar_input(layer: &Path) -> Vec<u8> {
    let sidecar = layer.join(".wclayer");
    let trim = |mut v: Vec<u8>| {
        while v.last() == Some(&b'\n') {
            v.pop();
        }
        v
    };
    let mut out = trim(fs::read(sidecar.join("layer.json")).unwrap());
    out.extend_from_slice(b"\n\n");
    out.extend(trim(fs::read(sidecar.join("entries.jsonl")).unwrap()));
    out.extend_from_slice(b"\n\n");
    let mut todo = vec![layer.to_path_buf()];
    let mut lines = Vec::new();
    while let Some(p) = todo.pop() {
        for e in fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path
                .strip_prefix(layer)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                let target = fs::read_link(&path).unwrap();
                lines.push(format!("l {rel} {}", target.display()).into_bytes());
            } else if t.is_dir() {
                todo.push(path);
                if !matches!(rel.as_str(), ".wclayer" | ".wclayer/streams" | "Files") {
                    lines.push(format!("d {rel}").into_bytes());
                }
            } else if !matches!(
                rel.as_str(),
                ".wclayer/layer.json" | ".wclayer/entries.jsonl"
            ) {
                let data = fs::read(&path).unwrap();
                let line = if !data.is_empty() && data.iter().all(|&b| b == 0) {
                    format!("s {rel} {}", data.len()).into_bytes()
                } else {
                    let mut l = format!("f {rel} ").into_bytes();
                    l.extend(escape(&data[..data.len().min(2 << 10)]));
                    l
                };
                lines.push(line);
            }
        }
    }
    lines.sort();
    out.extend(lines.join(&b'\n'));
    out
}

/// Seeds of the layer_sidecar target: the layer directories the well-formed tars import
/// to (as delta layers over the `base` sample when they hold whiteouts), the store's
/// layer-directory fixture, and hand-made ones whose file data and blob are a plain file,
/// a sparse file, a symbolic link to the canary, and a FIFO.
fn sidecar_seeds(tars: &[LayerTar]) -> Seeds {
    let mut seeds = Seeds::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    let mut base = Vec::new();
    let options = wclayer_gen::Options {
        big_file_size: 4096,
    };
    wclayer_gen::write_case_with("base", &options, &mut base).unwrap();
    let mut w = DirLayerWriter::create(&dir, "parent", Vec::new(), no_sync()).unwrap();
    import_tar(&mut ArchiveReader::new(&base[..]), &mut w).unwrap();
    for (i, t) in tars.iter().filter(|t| t.valid && !t.export).enumerate() {
        // As a base layer, else (whiteouts) as a delta over the parent.
        for delta in [false, true] {
            let name = format!("layer{i}-{delta}");
            let parents = if delta {
                vec![ParentLayer::open(&dir, "parent").unwrap()]
            } else {
                Vec::new()
            };
            let mut w = DirLayerWriter::create(&dir, &name, parents, no_sync()).unwrap();
            if import_tar(&mut ArchiveReader::new(&t.bytes[..]), &mut w).is_ok() {
                push(
                    &mut seeds,
                    t.name.replace(".tar", ".sidecar"),
                    sidecar_input(&tmp.path().join(&name)),
                );
                break;
            }
        }
    }

    let fixture = repo().join("crates/wclayer-store/tests/fixtures/layer-directory-v1.tar");
    let unpacked = tmp.path().join("fixture");
    tar::Archive::new(fs::File::open(fixture).unwrap())
        .unpack(&unpacked)
        .unwrap();
    for layer in ["base", "delta"] {
        push(
            &mut seeds,
            format!("fixture-v1-{layer}.sidecar"),
            sidecar_input(&unpacked.join(layer)),
        );
    }

    let small = concat!(
        r#"{"format":"wclayer-layer-directory","version":1,"kind":"base","parents":[],"records":2,"files":2,"tombstones":0,"utility_vm_cloned":false}"#,
        "\n\n",
        r#"{"t":"file","n":0,"path":"Files","info":{"attributes":16,"creation_time":0,"last_access_time":0,"last_write_time":0,"change_time":0},"data_size":0,"streams":[]}"#,
        "\n",
        r#"{"t":"file","n":1,"path":"Files\\a.txt","info":{"attributes":32,"creation_time":0,"last_access_time":0,"last_write_time":0,"change_time":0},"data_size":48,"streams":[{"id":1,"attributes":0,"size":48,"body":{"content":0}},{"id":4,"attributes":0,"size":48,"name":":zone:$DATA","body":{"blob":"1.0"}}]}"#,
        "\n\n",
    );
    for (name, files) in [
        (
            "plain",
            "f Files/a.txt wclayer-fuzz canary: inside the layer directory!\nf .wclayer/streams/1.0 wclayer-fuzz canary: inside the layer directory!",
        ),
        (
            "symlink-to-canary",
            "l Files/a.txt ../../outside/canary\nl .wclayer/streams/1.0 ../../../outside/canary",
        ),
        ("sparse", "s Files/a.txt 48\ns .wclayer/streams/1.0 4096"),
        ("fifo", "p Files/a.txt\np .wclayer/streams/1.0"),
        // Lines that must neither block (a file written over a FIFO) nor lead out of the
        // layer directory (a file written through a planted link).
        (
            "planted-over-fifo-and-through-link",
            "p Files/a.txt\nf Files/a.txt x\nl Files/out ../../outside\nf Files/out/escape x\nl .wclayer/streams/1.0 /\ns .wclayer/streams/1.0/x 1",
        ),
    ] {
        let mut input = small.as_bytes().to_vec();
        input.extend_from_slice(files.as_bytes());
        push(&mut seeds, format!("hand-{name}.sidecar"), input);
    }
    seeds
}

// ---------------------------------------------------------------------------------------
// Image archives

/// A tar of files, laid out as `docker save` writes them (mode 0644, time 0).
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, *bytes).unwrap();
    }
    b.into_inner().unwrap()
}

/// A legacy `docker save` archive (before Docker 25: `<config hex>.json`, `ID/layer.tar`
/// uncompressed, `manifest.json`) of images, each a list of layer tars and the diffIDs
/// its config claims for them.
fn legacy_archive(images: &[(&[&[u8]], &[Digest])]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest = Vec::new();
    for (n, (layers, diff_ids)) in images.iter().enumerate() {
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.20348.1",
            "rootfs": {
                "type": "layers",
                "diff_ids": diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            },
            "history": [],
        })
        .to_string()
        .into_bytes();
        let config_name = format!("{}.json", Digest::of(&config).hex());
        let mut layer_names = Vec::new();
        for layer in layers.iter() {
            let name = format!("{}/layer.tar", Digest::of(layer).hex());
            if !files.iter().any(|(f, _)| *f == name) {
                files.push((name.clone(), layer.to_vec()));
            }
            layer_names.push(name);
        }
        files.push((config_name.clone(), config));
        manifest.push(serde_json::json!({
            "Config": config_name,
            "RepoTags": [format!("example/image{n}:latest")],
            "Layers": layer_names,
        }));
    }
    files.push((
        "manifest.json".into(),
        serde_json::Value::from(manifest).to_string().into_bytes(),
    ));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    tar_of(&refs)
}

/// Image archives of a base layer and a delta over it (the first 12 KiB or so of the
/// generator's `base` and `delta`, for seeds of at most 64 KiB): built as `wclayer build` builds, written
/// as `docker-archive:` and `oci-archive:` with gzip and zstd layers; legacy `docker save`
/// archives with uncompressed layers, with two images (for `@1`), and with a config whose
/// diffIDs do not match its layers.
fn image_seeds() -> Seeds {
    use wclayer_image::archive::{ArchiveFormat, write_archive};
    use wclayer_image::build::{BuildOptions, NewLayer, build, build_from_scratch};
    use wclayer_image::layout::Layout;
    use wclayer_image::media::Compression;
    use wclayer_image::{ImageRef, Platform, PlatformSpec, Source};

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let options = wclayer_gen::Options {
        big_file_size: 4096,
    };
    let mut layers = Vec::new();
    for case in ["base", "delta"] {
        let mut bytes = Vec::new();
        wclayer_gen::write_case_with(case, &options, &mut bytes).unwrap();
        let first = split_tar_at(&bytes, 12 << 10).swap_remove(0);
        fs::write(d.join(format!("{case}.tar")), &first).unwrap();
        layers.push(first);
    }
    let platform = Platform {
        os: "windows".into(),
        architecture: "amd64".into(),
        variant: None,
        os_version: Some("10.0.20348.1".into()),
    };
    let resolve = |s: &Source, r: &str| {
        s.resolve(&ImageRef::parse(r).unwrap(), &PlatformSpec::default())
            .unwrap()
    };
    let mut seeds = Vec::new();
    for compression in [Compression::Gzip, Compression::Zstd] {
        let opts = BuildOptions {
            compression,
            level: None,
            limits: wclayer_layer::Limits::default(),
            created: 0,
            leave_base_blobs: false,
        };
        let l = d.join(format!("layout-{}", compression.name()));
        let base_layer = [NewLayer::Tar(d.join("base.tar"))];
        build_from_scratch(&platform, &base_layer, &l, "base", &opts).unwrap();
        let source =
            Source::open(&ImageRef::parse(&format!("oci:{}", l.display())).unwrap()).unwrap();
        let base = resolve(&source, &format!("oci:{}:base", l.display()));
        let delta_layer = [NewLayer::Tar(d.join("delta.tar"))];
        build(&source, &base, &delta_layer, &l, "app", &opts).unwrap();
        let app = resolve(&source, &format!("oci:{}:app", l.display()));
        let layout = Layout::open(&l).unwrap();
        for (format, name, tag) in [
            (ArchiveFormat::Docker, "docker", "example/app:1"),
            (ArchiveFormat::Oci, "oci", "app"),
        ] {
            let mut out = Vec::new();
            write_archive(&layout, &app, Some(tag), format, None, &mut out).unwrap();
            push(
                &mut seeds,
                format!("{name}-{}-base-delta.tar", compression.name()),
                out,
            );
        }
    }
    let (base, delta) = (&layers[0][..], &layers[1][..]);
    let ids = [Digest::of(base), Digest::of(delta)];
    let both: &[&[u8]] = &[base, delta];
    push(
        &mut seeds,
        "legacy-docker-base-delta.tar",
        legacy_archive(&[(both, &ids)]),
    );
    push(
        &mut seeds,
        "legacy-docker-two-images.tar",
        legacy_archive(&[(both, &ids), (&[base], &ids[..1])]),
    );
    push(
        &mut seeds,
        "legacy-docker-wrong-diffid.tar",
        legacy_archive(&[(both, &[ids[0], ids[0]])]),
    );
    seeds
}

//! Sparse files: PAX 0.0, 0.1 and 1.0 and old GNU maps, their validation, their limits,
//! and data that does not match the map.

use wclayer_tar::archive::{ArchiveOptions, ArchiveReader, Error};

use super::vectors::assert_matches_tar_crate;
use super::{
    GNU_ISEXTENDED, GNU_REALSIZE, GNU_SPARSE, Hdr, Magic, Tar, headers_only, read, read_with,
};

/// The logical content of a sparse file: `size` bytes of zeros with `fragments` stored.
fn expand(size: usize, fragments: &[(usize, &[u8])]) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (at, d) in fragments {
        v[*at..*at + d.len()].copy_from_slice(d);
    }
    v
}

#[test]
fn pax_sparse_formats() {
    let expected = expand(20, &[(2, b"abc"), (10, b"defg")]);
    let stored = b"abcdefg";
    let mut tar = Tar::default();
    // 0.0: offset/numbytes pairs, no name record.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "2"),
            ("GNU.sparse.numbytes", "3"),
            ("GNU.sparse.offset", "10"),
            ("GNU.sparse.numbytes", "4"),
            ("path", "GNUSparseFile.0/s00"),
        ],
    )
    .entry(&Hdr::ustar("ignored", b'0', 7), stored);
    // 0.1: the map in one record, the real name in another.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.size", "20"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.map", "2,3,10,4"),
            ("GNU.sparse.name", "s01"),
        ],
    )
    .entry(&Hdr::ustar("GNUSparseFile.0/s01", b'0', 7), stored);
    // 1.0: the map at the start of the data, padded to a block.
    let mut data = b"2\n2\n3\n10\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(stored);
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "s10"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .entry(&Hdr::ustar("GNUSparseFile.0/s10", b'0', 519), &data);
    // 0.1 with an empty map: all holes.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "0"),
            ("GNU.sparse.size", "1000"),
        ],
    )
    .entry(&Hdr::ustar("holes", b'0', 0), b"");
    // An unknown version is a regular file, as Go reads it.
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "2"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .entry(&Hdr::ustar("unknown", b'0', 7), stored);
    tar.file("after", b"!");
    let out = read(&tar.end()).ok();

    let got: Vec<(&str, u8, i64)> = out
        .iter()
        .map(|(h, _)| (h.name.as_str(), h.typeflag, h.size))
        .collect();
    assert_eq!(
        got,
        [
            ("GNUSparseFile.0/s00", b'0', 20),
            ("s01", b'0', 20),
            ("s10", b'0', 20),
            ("holes", b'0', 1000),
            ("unknown", b'0', 7),
            ("after", b'0', 1),
        ]
    );
    for (h, d) in &out[..3] {
        assert_eq!(d, &expected, "{}", h.name);
    }
    assert_eq!(out[0].0.record("GNU.sparse.map"), Some("2,3,10,4"));
    assert_eq!(out[0].0.record("GNU.sparse.offset"), None);
    assert_eq!(out[3].1, vec![0; 1000]);
    assert_eq!(out[4].1, stored);
    assert_eq!(out[5].1, b"!");
}

/// An old GNU sparse archive: `fragments` (offset, data) stored, the first four in the
/// header, the rest in extension blocks of 21.
pub(super) fn old_gnu_sparse(name: &str, real_size: u64, fragments: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let stored: Vec<u8> = fragments.iter().flat_map(|(_, d)| d.clone()).collect();
    let mut h = Hdr::new(Magic::Gnu, name.as_bytes(), b'S', stored.len() as u64);
    h.octal(GNU_REALSIZE, 12, real_size);
    let entry = |(off, d): &(u64, Vec<u8>)| {
        let mut e = [0u8; 24];
        e[..12].copy_from_slice(format!("{off:011o}\0").as_bytes());
        e[12..].copy_from_slice(format!("{:011o}\0", d.len()).as_bytes());
        e
    };
    let (head, rest) = fragments.split_at(fragments.len().min(4));
    for (i, f) in head.iter().enumerate() {
        h.set(GNU_SPARSE + 24 * i, &entry(f));
    }
    h.0[GNU_ISEXTENDED] = u8::from(!rest.is_empty());
    let mut tar = Tar::default();
    tar.header(&h);
    let chunks: Vec<&[(u64, Vec<u8>)]> = rest.chunks(21).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut ext = [0u8; 512];
        for (j, f) in chunk.iter().enumerate() {
            ext[24 * j..24 * j + 24].copy_from_slice(&entry(f));
        }
        ext[504] = u8::from(i + 1 < chunks.len());
        tar.raw(&ext);
    }
    tar.data(&stored).file("after", b"!");
    tar.end()
}

#[test]
fn old_gnu_sparse_with_extension_headers() {
    let as_slices = |f: &[(u64, Vec<u8>)]| -> Vec<(usize, Vec<u8>)> {
        f.iter().map(|(o, d)| (*o as usize, d.clone())).collect()
    };
    // Block-aligned fragments and a final empty one at the logical end, as GNU tar writes
    // them and as the `tar` crate insists on: cross-check with it.
    let mut fragments: Vec<(u64, Vec<u8>)> = (0..30u8)
        .map(|i| (u64::from(i) * 1024, vec![i + 1; 512]))
        .collect();
    fragments.push((30 * 1024 + 100, Vec::new()));
    let bytes = old_gnu_sparse("Files/sparse", 30 * 1024 + 100, &fragments);
    let entries = assert_matches_tar_crate(&bytes, "old GNU sparse");
    let (h, data) = &entries[0];
    assert_eq!(
        (h.name.as_str(), h.typeflag, h.size),
        ("Files/sparse", b'0', 30 * 1024 + 100)
    );
    let f = as_slices(&fragments);
    let f: Vec<(usize, &[u8])> = f.iter().map(|(o, d)| (*o, d.as_slice())).collect();
    assert!(data == &expand(30 * 1024 + 100, &f));
    assert_eq!(entries[1].1, b"!");

    // Go (and this reader) take any offsets and lengths.
    let fragments: Vec<(u64, Vec<u8>)> = (0..30u8)
        .map(|i| (u64::from(i) * 100 + 7, vec![i + 1; usize::from(i % 5) + 1]))
        .collect();
    let out = read(&old_gnu_sparse("odd", 3100, &fragments)).ok();
    let f = as_slices(&fragments);
    let f: Vec<(usize, &[u8])> = f.iter().map(|(o, d)| (*o, d.as_slice())).collect();
    assert_eq!((out[0].0.size, &out[0].1), (3100, &expand(3100, &f)));

    // An empty map: all zeros; an entry marked extended whose extension never comes.
    let bytes = old_gnu_sparse("empty", 10, &[]);
    assert_eq!(read(&bytes).ok()[0].1, vec![0; 10]);
    let mut h = Hdr::new(Magic::Gnu, b"cut", b'S', 0);
    h.0[GNU_ISEXTENDED] = 1;
    let mut tar = Tar::default();
    tar.header(&h);
    let e = read(&tar.bytes).err();
    assert!(matches!(e, Error::UnexpectedEof { offset: 512, .. }), "{e}");
}

/// Old GNU sparse entries (typeflag `S`), which the reference imports without their data,
/// import like PAX sparse entries: regular files whose holes are zeros (docs/compat.md).
#[test]
fn old_gnu_sparse_entries_import_as_regular_files_with_zero_filled_holes() {
    use std::io::Read;
    use wclayer_backup::{BackupStreamReader, StreamAttributes, StreamId};
    use wclayer_layer::{Entry, LayerReader, MemLayer, WalkMode};

    let expected = expand(20, &[(2, b"abc"), (10, b"defg")]);
    let old = old_gnu_sparse(
        "Files/s",
        20,
        &[
            (2, b"abc".to_vec()),
            (10, b"defg".to_vec()),
            (20, Vec::new()),
        ],
    );
    let mut data = b"2\n2\n3\n10\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"abcdefg");
    let mut pax = Tar::default();
    pax.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "Files/s"),
            ("GNU.sparse.realsize", "20"),
        ],
    )
    .entry(&Hdr::ustar("GNUSparseFile.0/s", b'0', 519), &data)
    .file("after", b"!");
    let mut streams = Vec::new();
    for (what, bytes) in [("old GNU", old), ("PAX 1.0", pax.end())] {
        let mut layer = MemLayer::new();
        wclayer_tar::import_tar(&mut ArchiveReader::new(&bytes[..]), &mut layer)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        layer.set_walk_mode(Some(WalkMode::Delta));
        let mut r = layer.reader().unwrap();
        let mut stream = None;
        while let Some(e) = r.next().unwrap() {
            if let Entry::File { name, size, .. } = e
                && name.as_str() == "Files\\s"
            {
                assert_eq!(size, 20, "{what}");
                let mut s = Vec::new();
                r.read_to_end(&mut s).unwrap();
                stream = Some(s);
            }
        }
        let stream = stream.unwrap_or_else(|| panic!("{what}: no Files\\s"));
        // One plain data stream holding the whole file, holes as zeros.
        let mut br = BackupStreamReader::new(&stream[..]);
        let h = br.next_header().unwrap().unwrap();
        assert_eq!(
            (h.id, h.attributes, h.size),
            (StreamId::DATA, StreamAttributes(0), 20),
            "{what}"
        );
        let mut body = Vec::new();
        br.read_to_end(&mut body).unwrap();
        assert_eq!(body, expected, "{what}");
        assert!(br.next_header().unwrap().is_none(), "{what}");
        streams.push(stream);
    }
    assert_eq!(
        streams[0], streams[1],
        "old GNU and PAX sparse import alike"
    );
}

#[test]
fn invalid_sparse_maps_are_invalid_headers() {
    let sparse01 = |map: &str, numblocks: &str, size: &str, typeflag: u8| {
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "0"),
                ("GNU.sparse.minor", "1"),
                ("GNU.sparse.numblocks", numblocks),
                ("GNU.sparse.map", map),
                ("GNU.sparse.size", size),
            ],
        )
        .entry(&Hdr::ustar("s", typeflag, 4), b"abcd");
        tar.end()
    };
    for (map, n, size, typeflag, what) in [
        ("5,2,0,2", "2", "10", b'0', "unsorted"),
        ("0,3,2,1", "2", "10", b'0', "overlapping"),
        ("-1,2", "1", "10", b'0', "negative offset"),
        ("0,-2", "1", "10", b'0', "negative length"),
        ("8,4", "1", "10", b'0', "past the logical size"),
        ("0,4", "1", "-1", b'0', "negative size"),
        ("0,4", "2", "10", b'0', "numblocks mismatch"),
        ("0,4", "x", "10", b'0', "bad numblocks"),
        ("0,4", "-1", "10", b'0', "negative numblocks"),
        ("0,x", "1", "10", b'0', "bad number"),
        ("0,4", "1", "10", b'5', "sparse directory"),
    ] {
        let e = read(&sparse01(map, n, size, typeflag)).err();
        assert!(
            matches!(e, Error::InvalidHeader { offset: 1024, .. }),
            "{what}: {e}"
        );
    }
    let e = read(&sparse01("0,4", "1", "1x", b'0')).err();
    assert!(
        matches!(e, Error::InvalidPaxValue { ref key, .. } if key == "GNU.sparse.size"),
        "{e}"
    );

    // Old GNU: the same checks on the header map.
    for (frags, size) in [
        (vec![(5u64, vec![1u8; 2]), (0, vec![1; 2])], 10),
        (vec![(0, vec![1; 4]), (2, vec![1; 2])], 10),
        (vec![(8, vec![1; 4])], 10),
    ] {
        let e = read(&old_gnu_sparse("s", size, &frags)).err();
        assert!(matches!(e, Error::InvalidHeader { offset: 0, .. }), "{e}");
    }
    // PAX 1.0: bad count, bad entries, map missing from the data.
    for (map, stored) in [
        (&b"x\n"[..], 512),
        (b"-1\n", 512),
        (b"1\n0\nz\n", 512),
        (b"1\n0\n", 512),
        (b"1\n0\n", 100),
    ] {
        let mut data = map.to_vec();
        data.resize(stored, 0);
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.realsize", "10"),
            ],
        )
        .entry(&Hdr::ustar("s", b'0', stored as u64), &data);
        let e = read(&tar.end()).err();
        assert!(
            matches!(e, Error::InvalidHeader { .. } | Error::UnexpectedEof { .. }),
            "{map:?}: {e}"
        );
    }
}

/// Finding: an archive cut inside a PAX 1.0 map was reported under the stored name
/// (`GNUSparseFile.0/...`), while every later error names the file by `GNU.sparse.name`.
#[test]
fn errors_reading_a_pax_1_0_map_name_the_real_name() {
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "Files/real.bin"),
            ("GNU.sparse.realsize", "10"),
        ],
    )
    .entry(
        &Hdr::ustar("Files/GNUSparseFile.0/real.bin", b'0', 512),
        b"1\n0\n",
    );
    let cut = &tar.bytes[..1024 + 512 + 3];
    let e = read(cut).err();
    assert!(matches!(e, Error::UnexpectedEof { .. }), "{e}");
    assert_eq!(e.entry(), Some("Files/real.bin"), "{e}");
}

#[test]
fn sparse_data_must_match_the_map() {
    let build = |stored: &[u8]| {
        let mut tar = Tar::default();
        tar.pax(
            b'x',
            &[
                ("GNU.sparse.major", "0"),
                ("GNU.sparse.minor", "1"),
                ("GNU.sparse.numblocks", "1"),
                ("GNU.sparse.map", "4,4"),
                ("GNU.sparse.size", "10"),
            ],
        )
        .entry(&Hdr::ustar("s", b'0', stored.len() as u64), stored)
        .file("next", b"n");
        tar.end()
    };
    assert_eq!(read(&build(b"abcd")).ok()[0].1, b"\0\0\0\0abcd\0\0");
    let e = read(&build(b"ab")).err();
    assert!(matches!(e, Error::SparseMissingData { .. }), "{e}");
    assert_eq!(e.entry(), Some("s"));
    let e = read(&build(b"abcdef")).err();
    assert!(matches!(e, Error::SparseUnreferencedData { .. }), "{e}");
    // Go checks only while reading: skipping the data is fine.
    let (headers, error) = headers_only(&build(b"ab"), ArchiveOptions::default());
    assert_eq!((headers.len(), error.is_none()), (2, true));
}

#[test]
fn sparse_limits() {
    // A tiny map describing a huge file of zeros.
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "1"),
            ("GNU.sparse.map", "0,1"),
            ("GNU.sparse.size", "4611686018427387904"),
        ],
    )
    .entry(&Hdr::ustar("huge", b'0', 1), b"x");
    let bytes = tar.end();
    let e = read(&bytes).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_logical_size",
                value: 4_611_686_018_427_387_904,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_sparse_logical_size"), "{e}");
    let mut o = ArchiveOptions::default();
    o.max_sparse_logical_size = u64::MAX;
    let (headers, error) = headers_only(&bytes, o);
    assert!(error.is_none());
    assert_eq!(headers[0].size, 1 << 62);

    // Too many map entries, in each format.
    let mut o = ArchiveOptions::default();
    o.max_sparse_entries = 3;
    let frags: Vec<(u64, Vec<u8>)> = (0..4).map(|i| (i * 2, vec![1])).collect();
    let e = read_with(&old_gnu_sparse("s", 10, &frags), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    let frags: Vec<(u64, Vec<u8>)> = (0..3).map(|i| (i * 2, vec![1])).collect();
    assert_eq!(
        read_with(&old_gnu_sparse("s", 10, &frags), o.clone())
            .ok()
            .len(),
        2
    );
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "0"),
            ("GNU.sparse.minor", "1"),
            ("GNU.sparse.numblocks", "4"),
            ("GNU.sparse.map", "0,1,2,1,4,1,6,1"),
            ("GNU.sparse.size", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 4), b"abcd");
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    let mut data = b"4\n0\n1\n2\n1\n4\n1\n6\n1\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"abcd");
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 516), &data);
    let bytes = tar.end();
    let e = read_with(&bytes, o).err();
    assert!(
        matches!(
            e,
            Error::SparseLimit {
                option: "max_sparse_entries",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(read(&bytes).ok()[0].1, b"a\0b\0c\0d\0\0\0");

    // A PAX 1.0 map longer than Go's 1 MiB cap, and old GNU extension blocks past it.
    let mut o = ArchiveOptions::default();
    o.max_pax_size = 1024;
    let mut data = b"2\n".to_vec();
    data.resize(1536, b'0'); // no second newline for three blocks
    let mut tar = Tar::default();
    tar.pax(
        b'x',
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "10"),
        ],
    )
    .entry(&Hdr::ustar("s", b'0', 1536), &data);
    let e = read_with(&tar.end(), o.clone()).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                what: "PAX 1.0 sparse map",
                ..
            }
        ),
        "{e}"
    );
    let frags: Vec<(u64, Vec<u8>)> = (0..30).map(|i| (i * 2, vec![1])).collect();
    let bytes = old_gnu_sparse("s", 100, &frags);
    let e = read_with(&bytes, o).err();
    assert!(
        matches!(
            e,
            Error::TooLong {
                what: "old GNU sparse map",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(read(&bytes).ok().len(), 2);
}

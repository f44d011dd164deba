//! Integration tests of `wclayer-backup` (one binary for the crate, house habit 8).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

mod stream {
    //! `BackupStreamReader` / `BackupStreamWriter` against the vectors of docs/backup-stream.md,
    //! behind short reads and writes, and as property tests.

    use std::io::{self, Cursor, Read, Seek, Write};

    use proptest::prelude::*;
    use wclayer_backup::{
        BackupStreamReader, BackupStreamWriter, Error, StreamAttributes, StreamHeader, StreamId,
    };
    use wclayer_testtools::io::{ShortReader, ShortWriter};

    /// A header and its body.
    type Stream = (StreamHeader, Vec<u8>);

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    // ---------------------------------------------------------------------------------
    // Vectors
    // ---------------------------------------------------------------------------------

    /// docs/backup-stream.md §7, "exact contiguous hex".
    const SECTION_7_HEX: &str = "030000000000000034000000000000000000000001000080140000002400000000000000000000000102000000000005200000002102000001020000000000052000000021020000010000000000000006000000000000000000000068656c6c6f0a04000000000000000100000000000000160000003a007a006f006e0065003a00240044004100540041007a02000000000000001000000000000000000000000000000000030300464f4f0062617200";

    /// The four streams §7 annotates.
    fn section_7_streams() -> Vec<Stream> {
        let sd = unhex(
            "01000080140000002400000000000000000000000102000000000005
             200000002102000001020000000000052000000021020000",
        );
        let ea = unhex("00000000 00 03 0300 464f4f00 626172 00");
        vec![
            (StreamHeader::new(StreamId::SECURITY_DATA, 52), sd),
            (StreamHeader::new(StreamId::DATA, 6), b"hello\n".to_vec()),
            (StreamHeader::alternate_data("zone", 1), b"z".to_vec()),
            (StreamHeader::new(StreamId::EA_DATA, 16), ea),
        ]
    }

    fn sparse_data_header() -> StreamHeader {
        StreamHeader {
            attributes: StreamAttributes::SPARSE,
            ..StreamHeader::new(StreamId::DATA, 0)
        }
    }

    /// The three vectors of docs/backup-stream.md §5.2: (hex, streams).
    fn section_5_2_vectors() -> Vec<(&'static str, Vec<Stream>)> {
        vec![
            (
                "01000000 08000000 0000000000000000 00000000
                 09000000 08000000 0a00000000000000 00000000 0000000000000000 6162
                 09000000 08000000 0a00000000000000 00000000 0a00000000000000 6364
                 09000000 08000000 0800000000000000 00000000 1000000000000000",
                vec![
                    (sparse_data_header(), vec![]),
                    (StreamHeader::sparse_block(0, 2), b"ab".to_vec()),
                    (StreamHeader::sparse_block(10, 2), b"cd".to_vec()),
                    (StreamHeader::sparse_block(16, 0), vec![]),
                ],
            ),
            (
                "01000000 08000000 0000000000000000 00000000
                 09000000 08000000 0800000000000000 00000000 1000000000000000",
                vec![
                    (sparse_data_header(), vec![]),
                    (StreamHeader::sparse_block(16, 0), vec![]),
                ],
            ),
            (
                "01000000 08000000 0000000000000000 00000000",
                vec![(sparse_data_header(), vec![])],
            ),
        ]
    }

    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    /// How `collect` treats bodies.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Mode {
        /// Read every body to its end.
        ReadBodies,
        /// Read at most one byte of each body; `next_header` skips the rest by reading.
        PeekThenSkip,
        /// Read at most one byte of each body; `next_header_seek` skips the rest.
        PeekThenSeek,
    }

    const MODES: [Mode; 3] = [Mode::ReadBodies, Mode::PeekThenSkip, Mode::PeekThenSeek];

    /// An error, reduced to what the tests compare.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Got {
        /// `Error::Truncated` from `next_header`.
        Truncated {
            what: &'static str,
            offset: u64,
        },
        /// `Error::Truncated` inside an `UnexpectedEof` from reading a body.
        BodyEof {
            offset: u64,
        },
        InvalidHeader {
            offset: u64,
        },
        UnknownStreamId {
            id: u32,
            offset: u64,
        },
        Other(String),
    }

    fn got(e: &Error) -> Got {
        match e {
            Error::Truncated { what, offset } => Got::Truncated {
                what,
                offset: *offset,
            },
            Error::InvalidHeader { offset, .. } => Got::InvalidHeader { offset: *offset },
            Error::UnknownStreamId { id, offset } => Got::UnknownStreamId {
                id: *id,
                offset: *offset,
            },
            other => Got::Other(other.to_string()),
        }
    }

    fn got_io(e: &io::Error) -> Got {
        match (
            e.kind(),
            e.get_ref().and_then(|i| i.downcast_ref::<Error>()),
        ) {
            (
                io::ErrorKind::UnexpectedEof,
                Some(Error::Truncated {
                    what: "stream body",
                    offset,
                }),
            ) => Got::BodyEof { offset: *offset },
            _ => Got::Other(e.to_string()),
        }
    }

    /// The error inside an `io::Error` made from a backup-stream `Error`.
    fn inner_error(e: &io::Error) -> &Error {
        e.get_ref()
            .and_then(|i| i.downcast_ref::<Error>())
            .unwrap_or_else(|| panic!("not a backup stream error: {e:?}"))
    }

    /// Reads every stream; stops at the first error.
    fn collect<R: Read + Seek>(inner: R, mode: Mode) -> (Vec<Stream>, Option<Got>) {
        let mut r = BackupStreamReader::new(inner);
        let mut out = Vec::new();
        loop {
            let before = r.offset();
            let next = match mode {
                Mode::PeekThenSeek => r.next_header_seek(),
                Mode::ReadBodies | Mode::PeekThenSkip => r.next_header(),
            };
            let h = match next {
                Ok(Some(h)) => h,
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(got(&e))),
            };
            assert_eq!(r.remaining(), h.size, "a new header owes its whole body");
            assert!(r.offset() >= before + 20, "a header is at least 20 bytes");
            let mut body = Vec::new();
            let res = match mode {
                Mode::ReadBodies => r.read_to_end(&mut body),
                Mode::PeekThenSkip | Mode::PeekThenSeek => (&mut r).take(1).read_to_end(&mut body),
            };
            if res.is_ok() {
                assert_eq!(
                    r.remaining(),
                    h.size - u64::try_from(body.len()).unwrap(),
                    "remaining counts down as the body is read"
                );
            }
            out.push((h, body));
            if let Err(e) = res {
                return (out, Some(got_io(&e)));
            }
        }
    }

    /// What `collect` returns on an intact stream for `mode`.
    fn expected_streams(streams: &[Stream], mode: Mode) -> Vec<Stream> {
        streams
            .iter()
            .map(|(h, b)| {
                let keep = if mode == Mode::ReadBodies {
                    b.len()
                } else {
                    b.len().min(1)
                };
                (h.clone(), b[..keep].to_vec())
            })
            .collect()
    }

    fn encode_into<W: Write>(w: W, streams: &[Stream]) -> W {
        let mut bw = BackupStreamWriter::new(w);
        for (h, body) in streams {
            bw.write_header(h).unwrap();
            assert_eq!(bw.remaining(), h.size);
            bw.write_all(body).unwrap();
            assert_eq!(bw.remaining(), 0);
        }
        bw.finish().unwrap()
    }

    fn encode(streams: &[Stream]) -> Vec<u8> {
        encode_into(Vec::new(), streams)
    }

    /// Where each stream lies in its encoding.
    struct Layout {
        start: u64,
        /// End of the fixed header.
        fixed_end: u64,
        /// End of the name.
        name_end: u64,
        /// End of the sparse offset (= `name_end` for other ids) = start of the body.
        body_start: u64,
        end: u64,
    }

    fn layouts(streams: &[Stream]) -> Vec<Layout> {
        let mut start = 0u64;
        streams
            .iter()
            .map(|(h, _)| {
                let fixed_end = start + 20;
                let name_end = fixed_end + 2 * h.name.encode_utf16().count() as u64;
                let body_start = name_end + if h.id == StreamId::SPARSE_BLOCK { 8 } else { 0 };
                let end = body_start + h.size;
                let l = Layout {
                    start,
                    fixed_end,
                    name_end,
                    body_start,
                    end,
                };
                start = end;
                l
            })
            .collect()
    }

    /// What `collect` must return for the encoding of `streams` cut to `cut` bytes.
    fn expected_for_cut(streams: &[Stream], cut: u64, mode: Mode) -> (Vec<Stream>, Option<Got>) {
        let full = expected_streams(streams, mode);
        for (i, l) in layouts(streams).iter().enumerate() {
            if cut == l.start {
                return (full[..i].to_vec(), None);
            }
            if cut >= l.end {
                continue;
            }
            let what = if cut < l.fixed_end {
                "stream header"
            } else if cut < l.name_end {
                "stream name"
            } else if cut < l.body_start {
                "sparse block offset"
            } else {
                // Cut inside the body: the header is returned, then the body fails.
                let mut got_streams = full[..=i].to_vec();
                let available = usize::try_from(cut - l.body_start).unwrap();
                let body = &mut got_streams[i].1;
                body.truncate(available);
                let err = if mode == Mode::ReadBodies || available == 0 {
                    Got::BodyEof { offset: cut }
                } else {
                    Got::Truncated {
                        what: "stream body",
                        offset: cut,
                    }
                };
                return (got_streams, Some(err));
            };
            return (
                full[..i].to_vec(),
                Some(Got::Truncated { what, offset: cut }),
            );
        }
        (full, None)
    }

    /// Checks every cut of `bytes` (the encoding of `streams`) in every mode, on a plain
    /// cursor and behind short reads.
    fn check_every_cut(bytes: &[u8], streams: &[Stream], seeds: std::ops::Range<u64>) {
        for cut in 0..=bytes.len() {
            let input = &bytes[..cut];
            for mode in MODES {
                let want = expected_for_cut(streams, cut as u64, mode);
                let plain = collect(Cursor::new(input), mode);
                assert_eq!(plain, want, "cut at {cut}, {mode:?}");
                for seed in seeds.clone() {
                    let short = collect(ShortReader::new(Cursor::new(input), seed), mode);
                    assert_eq!(short, want, "cut at {cut}, {mode:?}, seed {seed}");
                }
            }
        }
    }

    /// A hand-made fixed header (for inputs the writer refuses to produce).
    fn raw_header(id: u32, attributes: u32, size: u64, name_size: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&attributes.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&name_size.to_le_bytes());
        v
    }

    fn utf16le(units: &[u16]) -> Vec<u8> {
        units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// A reader that fails once with `ErrorKind::Other` when it reaches byte `fail_at`, then
    /// carries on: an I/O error that is not fatal, such as a timeout.
    struct FlakyReader<'a> {
        data: &'a [u8],
        pos: usize,
        fail_at: usize,
        failed: bool,
    }

    impl Read for FlakyReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.failed && self.pos == self.fail_at {
                self.failed = true;
                return Err(io::Error::other("flaky"));
            }
            // Never read past the failure point in one go, so it is always reached.
            let stop = if self.failed {
                self.data.len()
            } else {
                self.fail_at.min(self.data.len())
            };
            let n = buf.len().min(stop - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// A writer that accepts `capacity` bytes, then fails with `ErrorKind::Other`.
    #[derive(Debug)]
    struct LimitedWriter {
        out: Vec<u8>,
        capacity: usize,
    }

    impl Write for LimitedWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = self.capacity - self.out.len();
            if room == 0 && !buf.is_empty() {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(room);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    // ---------------------------------------------------------------------------------
    // Spec vectors
    // ---------------------------------------------------------------------------------

    #[test]
    fn section_7_vector_parses_into_four_streams() {
        let bytes = unhex(SECTION_7_HEX);
        assert_eq!(bytes.len(), 177);
        let mut r = BackupStreamReader::new(&bytes[..]);
        let mut seen = Vec::new();
        while let Some(h) = r.next_header().unwrap() {
            let body_offset = r.offset();
            let mut body = Vec::new();
            r.read_to_end(&mut body).unwrap();
            seen.push((body_offset, (h, body)));
        }
        assert_eq!(r.offset(), 177);
        let offsets: Vec<u64> = seen.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [20, 92, 140, 161]);
        let streams: Vec<Stream> = seen.into_iter().map(|(_, s)| s).collect();
        assert_eq!(streams, section_7_streams());
        assert_eq!(streams[2].0.name, ":zone:$DATA");
        assert_eq!(streams[2].0.attributes, StreamAttributes::NORMAL);
    }

    #[test]
    fn section_7_vector_is_reproduced_by_the_writer() {
        let want = unhex(SECTION_7_HEX);
        assert_eq!(encode(&section_7_streams()), want);
        for seed in 0..8 {
            let w = encode_into(ShortWriter::new(Vec::new(), seed), &section_7_streams());
            assert_eq!(w.into_inner(), want, "seed {seed}");
        }
    }

    #[test]
    fn section_7_vector_reads_the_same_in_every_mode_and_behind_short_reads() {
        let bytes = unhex(SECTION_7_HEX);
        let streams = section_7_streams();
        for mode in MODES {
            let want = (expected_streams(&streams, mode), None);
            assert_eq!(collect(Cursor::new(&bytes[..]), mode), want, "{mode:?}");
            for seed in 0..16 {
                let r = ShortReader::new(Cursor::new(&bytes[..]), seed);
                assert_eq!(collect(r, mode), want, "{mode:?} seed {seed}");
            }
        }
    }

    #[test]
    fn section_5_2_sparse_vectors_parse_and_reencode() {
        for (hex, streams) in section_5_2_vectors() {
            let bytes = unhex(hex);
            assert_eq!(
                collect(Cursor::new(&bytes[..]), Mode::ReadBodies),
                (streams.clone(), None),
                "{hex}"
            );
            for (h, _) in &streams {
                assert_eq!(h.attributes.0, 8);
            }
            assert_eq!(encode(&streams), bytes, "{hex}");
            for seed in 0..8 {
                let r = ShortReader::new(Cursor::new(&bytes[..]), seed);
                assert_eq!(collect(r, Mode::ReadBodies), (streams.clone(), None));
                let w = encode_into(ShortWriter::new(Vec::new(), seed), &streams);
                assert_eq!(w.into_inner(), bytes);
            }
        }
    }

    #[test]
    fn section_5_2_several_ranges_offsets_and_sizes() {
        let (hex, _) = &section_5_2_vectors()[0];
        let bytes = unhex(hex);
        let mut r = BackupStreamReader::new(&bytes[..]);
        let mut shape = Vec::new();
        while let Some(h) = r.next_header().unwrap() {
            shape.push((h.id.0, h.attributes.0, h.size, h.offset));
        }
        assert_eq!(
            shape,
            [(1, 8, 0, 0), (9, 8, 2, 0), (9, 8, 2, 10), (9, 8, 0, 16)]
        );
    }

    #[test]
    fn every_cut_of_section_7_is_a_clean_end_or_the_right_error() {
        check_every_cut(&unhex(SECTION_7_HEX), &section_7_streams(), 0..3);
    }

    #[test]
    fn every_cut_of_the_sparse_vectors_is_a_clean_end_or_the_right_error() {
        for (hex, streams) in section_5_2_vectors() {
            check_every_cut(&unhex(hex), &streams, 0..2);
        }
    }

    #[test]
    fn cut_at_header_boundaries_of_section_7_ends_cleanly() {
        let bytes = unhex(SECTION_7_HEX);
        for (cut, n) in [(0, 0), (72, 1), (98, 2), (141, 3), (177, 4)] {
            let (streams, err) = collect(Cursor::new(&bytes[..cut]), Mode::ReadBodies);
            assert_eq!((streams.len(), err), (n, None), "cut at {cut}");
        }
    }

    // ---------------------------------------------------------------------------------
    // Reader rules (docs/backup-stream.md §2.1 and our deviations)
    // ---------------------------------------------------------------------------------

    #[test]
    fn empty_input_is_an_empty_backup_stream() {
        let mut r = BackupStreamReader::new(io::empty());
        assert!(r.next_header().unwrap().is_none());
        assert!(r.next_header().unwrap().is_none());
        assert_eq!(r.offset(), 0);
    }

    #[test]
    fn body_reads_return_nothing_before_the_first_header_and_after_the_body() {
        let bytes = encode(&[(StreamHeader::new(StreamId::DATA, 2), b"ab".to_vec())]);
        let mut r = BackupStreamReader::new(&bytes[..]);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.offset(), 0, "reading before a header consumes nothing");
        r.next_header().unwrap().unwrap();
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn eof_right_after_a_complete_fixed_header_is_truncated_not_the_end() {
        // go-winio returns a clean end here; we do not (docs/compat.md).
        let ads = raw_header(4, 0, 1, 22);
        let err = BackupStreamReader::new(&ads[..]).next_header().unwrap_err();
        assert_eq!(
            got(&err),
            Got::Truncated {
                what: "stream name",
                offset: 20
            }
        );

        let sparse = raw_header(9, 8, 8, 0);
        let err = BackupStreamReader::new(&sparse[..])
            .next_header()
            .unwrap_err();
        assert_eq!(
            got(&err),
            Got::Truncated {
                what: "sparse block offset",
                offset: 20
            }
        );
        assert_eq!(
            io::Error::from(err).kind(),
            io::ErrorKind::UnexpectedEof,
            "truncation travels through Read as UnexpectedEof"
        );
    }

    #[test]
    fn a_decoding_error_is_repeated_rather_than_read_past() {
        let mut bytes = unhex(SECTION_7_HEX);
        bytes.truncate(80); // inside the second header
        let mut r = BackupStreamReader::new(&bytes[..]);
        r.next_header().unwrap().unwrap();
        let first = got(&r.next_header().unwrap_err());
        let second = got(&r.next_header().unwrap_err());
        assert_eq!(
            first,
            Got::Truncated {
                what: "stream header",
                offset: 80
            }
        );
        assert_eq!(first, second);

        let odd = raw_header(4, 0, 0, 3);
        let mut r = BackupStreamReader::new(&odd[..]);
        assert_eq!(
            got(&r.next_header().unwrap_err()),
            Got::InvalidHeader { offset: 0 }
        );
        assert_eq!(
            got(&r.next_header().unwrap_err()),
            Got::InvalidHeader { offset: 0 }
        );
    }

    #[test]
    fn odd_name_size_is_invalid_at_the_header_offset() {
        let mut bytes = encode(&[(StreamHeader::new(StreamId::DATA, 1), b"x".to_vec())]);
        bytes.extend(raw_header(4, 0, 1, 5));
        bytes.extend([0u8; 6]);
        let mut r = BackupStreamReader::new(&bytes[..]);
        r.next_header().unwrap().unwrap();
        let err = r.next_header().unwrap_err();
        assert_eq!(got(&err), Got::InvalidHeader { offset: 21 });
        assert_eq!(
            err.to_string(),
            "invalid backup stream header at offset 21: odd stream name size"
        );
    }

    #[test]
    fn name_size_limit_is_64_kib() {
        // Over the limit: rejected before any name byte is read, whatever follows.
        for name_size in [65_538, u32::MAX - 1] {
            let bytes = raw_header(4, 0, 0, name_size);
            let err = BackupStreamReader::new(&bytes[..])
                .next_header()
                .unwrap_err();
            assert_eq!(got(&err), Got::InvalidHeader { offset: 0 }, "{name_size}");
        }
        // At the limit: accepted, and the writer produces it.
        let name = "n".repeat(32_768);
        let h = StreamHeader {
            name: name.clone(),
            ..StreamHeader::new(StreamId::ALTERNATE_DATA, 1)
        };
        let bytes = encode(&[(h.clone(), b"!".to_vec())]);
        assert_eq!(&bytes[16..20], &65_536u32.to_le_bytes());
        assert_eq!(
            collect(Cursor::new(&bytes[..]), Mode::ReadBodies),
            (vec![(h, b"!".to_vec())], None)
        );
    }

    #[test]
    fn a_hostile_name_size_with_no_name_costs_nothing_and_is_truncated() {
        let bytes = raw_header(4, 0, 0, 65_536);
        let err = BackupStreamReader::new(&bytes[..])
            .next_header()
            .unwrap_err();
        assert_eq!(
            got(&err),
            Got::Truncated {
                what: "stream name",
                offset: 20
            }
        );
    }

    #[test]
    fn sparse_block_with_size_below_8_is_invalid() {
        for size in 0..8 {
            let mut bytes = encode(&[(StreamHeader::new(StreamId::DATA, 0), vec![])]);
            bytes.extend(raw_header(9, 8, size, 0));
            bytes.extend([0u8; 8]);
            let mut r = BackupStreamReader::new(&bytes[..]);
            r.next_header().unwrap().unwrap();
            assert_eq!(
                got(&r.next_header().unwrap_err()),
                Got::InvalidHeader { offset: 20 },
                "size {size}"
            );
        }
        // Exactly 8: the offset alone, an empty range (the terminator shape).
        let mut bytes = raw_header(9, 8, 8, 0);
        bytes.extend(16i64.to_le_bytes());
        let mut r = BackupStreamReader::new(&bytes[..]);
        assert_eq!(
            r.next_header().unwrap().unwrap(),
            StreamHeader::sparse_block(16, 0)
        );
        assert!(r.next_header().unwrap().is_none());
    }

    #[test]
    fn negative_sparse_offsets_are_kept() {
        let streams = vec![(StreamHeader::sparse_block(-1, 1), b"q".to_vec())];
        let bytes = encode(&streams);
        assert_eq!(&bytes[8..16], &9u64.to_le_bytes(), "Size counts the offset");
        assert_eq!(&bytes[20..28], &[0xff; 8]);
        assert_eq!(
            collect(Cursor::new(&bytes[..]), Mode::ReadBodies),
            (streams, None)
        );
    }

    #[test]
    fn unknown_ids_are_errors_at_the_header_offset_and_can_be_skipped() {
        for id in [0, 12, 0x8000_0000, u32::MAX] {
            let mut bytes = encode(&[(StreamHeader::new(StreamId::DATA, 1), b"a".to_vec())]);
            bytes.extend(raw_header(id, 0, 3, 2));
            bytes.extend(utf16le(&[u16::from(b'n')]));
            bytes.extend(b"xyz");
            bytes.extend(encode(&[(
                StreamHeader::new(StreamId::EA_DATA, 1),
                b"e".to_vec(),
            )]));

            let mut r = BackupStreamReader::new(&bytes[..]);
            r.next_header().unwrap().unwrap();
            let err = r.next_header().unwrap_err();
            assert_eq!(got(&err), Got::UnknownStreamId { id, offset: 21 });
            assert_eq!(
                err.to_string(),
                format!("unknown backup stream id {id} at offset 21")
            );
            // The reader stayed in step: the unknown body is next, and can be skipped.
            assert_eq!(r.remaining(), 3);
            let h = r.next_header().unwrap().unwrap();
            assert_eq!(h.id, StreamId::EA_DATA);

            // The same with a seek.
            let mut r = BackupStreamReader::new(Cursor::new(&bytes[..]));
            r.next_header_seek().unwrap().unwrap();
            assert!(r.next_header_seek().is_err());
            assert_eq!(r.next_header_seek().unwrap().unwrap().id, StreamId::EA_DATA);
            assert!(r.next_header_seek().unwrap().is_none());
        }
    }

    #[test]
    fn id_11_is_returned_to_the_caller() {
        let streams = vec![(
            StreamHeader::new(StreamId::GHOSTED_FILE_EXTENTS, 2),
            vec![1, 2],
        )];
        assert_eq!(
            collect(Cursor::new(&encode(&streams)[..]), Mode::ReadBodies),
            (streams, None)
        );
    }

    #[test]
    fn attributes_are_kept_as_given() {
        for attributes in [0, 1, 2, 8, 0x10, 0xffff_ffff] {
            let mut bytes = raw_header(1, attributes, 0, 0);
            bytes.extend(raw_header(3, attributes, 0, 0));
            let (streams, err) = collect(Cursor::new(&bytes[..]), Mode::ReadBodies);
            assert_eq!(err, None);
            for (h, _) in streams {
                assert_eq!(h.attributes, StreamAttributes(attributes));
            }
        }
    }

    #[test]
    fn names_stop_at_the_first_nul() {
        let name = utf16le(&[0x3a, 0x61, 0, 0x62, 0x3a]); // ":a\0b:"
        let mut bytes = raw_header(4, 0, 0, 10);
        bytes.extend(&name);
        let h = BackupStreamReader::new(&bytes[..])
            .next_header()
            .unwrap()
            .unwrap();
        assert_eq!(h.name, ":a");
    }

    #[test]
    fn unpaired_surrogates_become_replacement_characters() {
        // A lone high surrogate, a lone low surrogate, then a valid pair (U+1F600).
        let name = utf16le(&[0xD800, 0x61, 0xDC00, 0xD83D, 0xDE00]);
        let mut bytes = raw_header(4, 0, 0, 10);
        bytes.extend(&name);
        let h = BackupStreamReader::new(&bytes[..])
            .next_header()
            .unwrap()
            .unwrap();
        assert_eq!(h.name, "\u{FFFD}a\u{FFFD}\u{1F600}");
    }

    #[test]
    fn a_body_cut_short_is_unexpected_eof_with_the_end_offset() {
        let bytes = unhex(SECTION_7_HEX);
        let mut r = BackupStreamReader::new(&bytes[..50]);
        r.next_header().unwrap().unwrap();
        let mut body = Vec::new();
        let err = r.read_to_end(&mut body).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got_io(&err), Got::BodyEof { offset: 50 });
        assert_eq!(body.len(), 30);
        assert_eq!(r.remaining(), 22);
    }

    #[test]
    fn skipping_counts_offsets_and_positions_the_inner_reader() {
        let bytes = unhex(SECTION_7_HEX);
        let mut r = BackupStreamReader::new(Cursor::new(&bytes[..]));
        r.next_header_seek().unwrap().unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!((r.offset(), r.remaining()), (22, 50));
        let h = r.next_header_seek().unwrap().unwrap();
        assert_eq!(h.id, StreamId::DATA);
        assert_eq!(r.offset(), 92);
        assert_eq!(r.get_ref().position(), 92);
        r.next_header_seek().unwrap().unwrap();
        let h = r.next_header().unwrap().unwrap(); // mixing both kinds of skip is fine
        assert_eq!(h.id, StreamId::EA_DATA);
        assert!(r.next_header_seek().unwrap().is_none());
        assert_eq!(r.into_inner().position(), 177);
    }

    #[test]
    fn a_huge_declared_body_is_skipped_without_buffering_and_reported_truncated() {
        let bytes = raw_header(1, 0, u64::MAX, 0);
        let mut r = BackupStreamReader::new(Cursor::new(&bytes[..]));
        assert_eq!(r.next_header_seek().unwrap().unwrap().size, u64::MAX);
        let want = Got::Truncated {
            what: "stream body",
            offset: 20,
        };
        assert_eq!(got(&r.next_header_seek().unwrap_err()), want);
        assert_eq!(got(&r.next_header_seek().unwrap_err()), want, "repeated");

        let mut r = BackupStreamReader::new(&bytes[..]);
        r.next_header().unwrap().unwrap();
        assert_eq!(got(&r.next_header().unwrap_err()), want);
    }

    #[test]
    fn a_large_body_is_skipped_by_reading_a_chunk_at_a_time() {
        const SIZE: u64 = 32 << 20;
        let tail = encode(&[(StreamHeader::new(StreamId::EA_DATA, 1), b"e".to_vec())]);
        let input = Cursor::new(raw_header(1, 0, SIZE, 0))
            .chain(io::repeat(7).take(SIZE))
            .chain(&tail[..]);
        let mut r = BackupStreamReader::new(input);
        r.next_header().unwrap().unwrap();
        let h = r.next_header().unwrap().unwrap();
        assert_eq!(h.id, StreamId::EA_DATA);
        assert_eq!(r.offset(), 20 + SIZE + 20);
    }

    #[test]
    fn a_seek_skip_detects_a_body_cut_short() {
        // go-winio would seek past the end and then report a clean end of stream.
        let bytes = unhex(SECTION_7_HEX);
        for cut in [21usize, 50, 71] {
            let mut r = BackupStreamReader::new(Cursor::new(&bytes[..cut]));
            r.next_header_seek().unwrap().unwrap();
            assert_eq!(
                got(&r.next_header_seek().unwrap_err()),
                Got::Truncated {
                    what: "stream body",
                    offset: cut as u64
                }
            );
            assert_eq!(r.offset(), cut as u64);
        }
    }

    #[test]
    fn io_errors_are_reported_with_the_offset_and_the_reader_resumes() {
        let bytes = unhex(SECTION_7_HEX);
        let streams = section_7_streams();
        for fail_at in 0..bytes.len() {
            let inner = FlakyReader {
                data: &bytes,
                pos: 0,
                fail_at,
                failed: false,
            };
            let mut r = BackupStreamReader::new(inner);
            let mut out = Vec::new();
            let mut errors = 0;
            loop {
                let h = match r.next_header() {
                    Ok(Some(h)) => h,
                    Ok(None) => break,
                    Err(Error::Io { offset, source }) => {
                        assert_eq!(offset, fail_at as u64);
                        assert_eq!(source.to_string(), "flaky");
                        errors += 1;
                        continue;
                    }
                    Err(e) => panic!("fail at {fail_at}: {e}"),
                };
                let mut body = Vec::new();
                while let Err(e) = r.read_to_end(&mut body) {
                    assert_eq!(e.to_string(), "flaky");
                    errors += 1;
                }
                out.push((h, body));
            }
            assert_eq!(errors, 1, "fail at {fail_at}");
            assert_eq!(out, streams, "fail at {fail_at}");
        }
    }

    #[test]
    fn accessors_reach_the_inner_reader() {
        let bytes = [1u8, 2, 3];
        let mut r = BackupStreamReader::new(Cursor::new(&bytes[..]));
        assert_eq!(r.get_ref().position(), 0);
        r.get_mut().set_position(3);
        assert!(r.next_header().unwrap().is_none());
        assert_eq!(r.into_inner().position(), 3);
    }

    // ---------------------------------------------------------------------------------
    // Writer rules (docs/backup-stream.md §2.2)
    // ---------------------------------------------------------------------------------

    #[test]
    fn body_before_any_header_is_no_header() {
        let mut w = BackupStreamWriter::new(Vec::new());
        let err = w.write(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(inner_error(&err), Error::NoHeader));
        let err = w.write(b"").unwrap_err();
        assert!(matches!(inner_error(&err), Error::NoHeader));
        assert_eq!(w.offset(), 0);
        assert!(w.finish().unwrap().is_empty(), "an empty stream is fine");
    }

    #[test]
    fn too_many_bytes_writes_nothing_and_names_the_excess() {
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::EA_DATA, 3))
            .unwrap();
        let err = w.write(b"abcde").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            inner_error(&err),
            Error::TooManyBytes { id: 2, excess: 2 }
        ));
        assert_eq!((w.offset(), w.remaining()), (20, 3));
        w.write_all(b"abc").unwrap();
        let err = w.write(b"d").unwrap_err();
        assert!(matches!(
            inner_error(&err),
            Error::TooManyBytes { id: 2, excess: 1 }
        ));
        assert_eq!(w.write(b"").unwrap(), 0);
        assert_eq!(w.finish().unwrap().len(), 23);
    }

    #[test]
    fn missing_bytes_block_the_next_header_and_finish() {
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::DATA, 5))
            .unwrap();
        w.write_all(b"he").unwrap();
        let err = w
            .write_header(&StreamHeader::new(StreamId::EA_DATA, 0))
            .unwrap_err();
        assert!(matches!(err, Error::MissingBytes { id: 1, missing: 3 }));
        assert_eq!(err.to_string(), "backup stream 1 is missing 3 bytes");
        assert_eq!(w.offset(), 22, "nothing written for the refused header");
        let err = w.finish().unwrap_err();
        assert!(matches!(err, Error::MissingBytes { id: 1, missing: 3 }));
    }

    #[test]
    fn headers_the_reader_could_not_read_back_are_refused() {
        let at_22 = || {
            let mut w = BackupStreamWriter::new(Vec::new());
            w.write_header(&StreamHeader::new(StreamId::DATA, 2))
                .unwrap();
            w.write_all(b"ok").unwrap();
            w
        };
        let cases: Vec<(StreamHeader, Got)> = vec![
            (
                StreamHeader::new(StreamId(0), 0),
                Got::UnknownStreamId { id: 0, offset: 22 },
            ),
            (
                StreamHeader::new(StreamId(12), 0),
                Got::UnknownStreamId { id: 12, offset: 22 },
            ),
            (
                StreamHeader::alternate_data("a\0b", 0),
                Got::InvalidHeader { offset: 22 },
            ),
            (
                StreamHeader {
                    name: "n".repeat(32_769),
                    ..StreamHeader::new(StreamId::ALTERNATE_DATA, 0)
                },
                Got::InvalidHeader { offset: 22 },
            ),
            (
                StreamHeader {
                    offset: 5,
                    ..StreamHeader::new(StreamId::DATA, 0)
                },
                Got::InvalidHeader { offset: 22 },
            ),
            (
                StreamHeader::sparse_block(0, u64::MAX - 7),
                Got::InvalidHeader { offset: 22 },
            ),
        ];
        for (h, want) in cases {
            let mut w = at_22();
            assert_eq!(got(&w.write_header(&h).unwrap_err()), want, "{h:?}");
            assert_eq!(w.offset(), 22, "nothing written for {h:?}");
            // The writer is still usable after a refused header.
            w.write_header(&StreamHeader::new(StreamId::EA_DATA, 0))
                .unwrap();
            assert_eq!(w.finish().unwrap().len(), 42);
        }
        // The largest sparse block that fits.
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::sparse_block(0, u64::MAX - 8))
            .unwrap();
        assert_eq!(&w.get_ref()[8..16], &u64::MAX.to_le_bytes());
    }

    #[test]
    fn offsets_and_remaining_count_every_byte() {
        let mut w = BackupStreamWriter::new(Vec::new());
        assert_eq!((w.offset(), w.remaining()), (0, 0));
        w.write_header(&StreamHeader::alternate_data("zone", 1))
            .unwrap();
        assert_eq!((w.offset(), w.remaining()), (42, 1));
        w.write_all(b"z").unwrap();
        assert_eq!((w.offset(), w.remaining()), (43, 0));
        w.write_header(&StreamHeader::sparse_block(3, 2)).unwrap();
        assert_eq!((w.offset(), w.remaining()), (71, 2));
        w.get_mut().clear(); // get_mut reaches the inner writer
        assert!(w.into_inner().is_empty());
    }

    #[test]
    fn a_header_write_that_fails_before_any_byte_can_be_retried() {
        let inner = LimitedWriter {
            out: Vec::new(),
            capacity: 0,
        };
        let mut w = BackupStreamWriter::new(inner);
        let h = StreamHeader::new(StreamId::DATA, 1);
        let err = w.write_header(&h).unwrap_err();
        assert!(matches!(err, Error::Io { offset: 0, .. }));
        w.get_mut().capacity = 100;
        w.write_header(&h).unwrap();
        w.write_all(b"x").unwrap();
        let out = w.finish().unwrap().out;
        assert_eq!(out, encode(&[(h, b"x".to_vec())]));
    }

    #[test]
    fn a_header_cut_by_an_io_error_breaks_the_writer() {
        let inner = LimitedWriter {
            out: Vec::new(),
            capacity: 10,
        };
        let mut w = BackupStreamWriter::new(inner);
        let h = StreamHeader::new(StreamId::DATA, 1);
        let err = w.write_header(&h).unwrap_err();
        assert!(matches!(err, Error::Io { offset: 10, .. }));
        assert_eq!(w.offset(), 10);
        // More room does not help: the output already ends inside a header.
        w.get_mut().capacity = 100;
        assert!(matches!(
            w.write_header(&h).unwrap_err(),
            Error::Io { offset: 10, .. }
        ));
        assert!(w.write(b"x").is_err());
        assert!(matches!(
            w.finish().unwrap_err(),
            Error::Io { offset: 10, .. }
        ));
    }

    #[test]
    fn body_io_errors_pass_through_and_keep_the_count() {
        let inner = LimitedWriter {
            out: Vec::new(),
            capacity: 23,
        };
        let mut w = BackupStreamWriter::new(inner);
        w.write_header(&StreamHeader::new(StreamId::DATA, 5))
            .unwrap();
        let err = w.write_all(b"hello").unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!((w.offset(), w.remaining()), (23, 2));
        w.get_mut().capacity = 25;
        w.write_all(b"lo").unwrap();
        assert_eq!(w.finish().unwrap().out.len(), 25);
    }

    // ---------------------------------------------------------------------------------
    // Properties
    // ---------------------------------------------------------------------------------

    fn arb_name() -> impl Strategy<Value = String> {
        // Any scalar values but NUL (which the reader treats as the end of the name),
        // including ones outside the BMP that need surrogate pairs.
        prop::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..12)
            .prop_map(|cs| cs.into_iter().collect())
    }

    fn arb_stream() -> impl Strategy<Value = Stream> {
        (
            1u32..=11,
            any::<u32>(),
            arb_name(),
            any::<i64>(),
            prop::collection::vec(any::<u8>(), 0..48),
        )
            .prop_map(|(id, attributes, name, offset, body)| {
                let id = StreamId(id);
                let mut h = StreamHeader::new(id, body.len() as u64);
                h.attributes = StreamAttributes(attributes);
                if id == StreamId::ALTERNATE_DATA {
                    h.name = format!(":{name}:$DATA");
                }
                if id == StreamId::SPARSE_BLOCK {
                    h.offset = offset;
                }
                (h, body)
            })
    }

    fn arb_streams() -> impl Strategy<Value = Vec<Stream>> {
        prop::collection::vec(arb_stream(), 0..8)
    }

    /// Runs the reader over `bytes` until it stops, checking the invariants that hold for
    /// every input: no panic, offsets within the input, errors at a header offset or at the
    /// end of the input.
    fn drive_reader_over(bytes: &[u8], seek: bool, short_seed: Option<u64>) {
        let len = bytes.len() as u64;
        let inner: Box<dyn ReadSeek + '_> = match short_seed {
            Some(seed) => Box::new(ShortReader::new(Cursor::new(bytes), seed)),
            None => Box::new(Cursor::new(bytes)),
        };
        let mut r = BackupStreamReader::new(inner);
        // Every header is at least 20 bytes, so this many steps always suffices.
        for _ in 0..=bytes.len() / 20 + 1 {
            let header_at = r.offset() + r.remaining();
            let next = if seek {
                r.next_header_seek()
            } else {
                r.next_header()
            };
            match next {
                Ok(None) => {
                    assert_eq!(r.offset(), len, "a clean end is the end of the input");
                    return;
                }
                Ok(Some(h)) => {
                    assert!(r.offset() <= len);
                    assert_eq!(r.remaining(), h.size);
                    // Read a little of the body, so both reading and skipping are exercised.
                    let mut buf = [0u8; 3];
                    let _ = r.read(&mut buf);
                }
                Err(Error::UnknownStreamId { offset, .. }) => {
                    assert_eq!(offset, header_at);
                }
                Err(Error::InvalidHeader { offset, .. }) => {
                    assert_eq!(offset, header_at);
                    return;
                }
                Err(Error::Truncated { offset, .. }) => {
                    assert_eq!(
                        offset, len,
                        "truncation is reported at the end of the input"
                    );
                    return;
                }
                Err(e) => panic!("unexpected error {e}"),
            }
            assert!(r.offset() <= len);
        }
        panic!("the reader did not stop");
    }

    trait ReadSeek: Read + Seek {}
    impl<T: Read + Seek> ReadSeek for T {}

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn streams_round_trip_through_writer_and_reader(
            streams in arb_streams(),
            wseed in any::<u64>(),
            rseed in any::<u64>(),
        ) {
            let bytes = encode(&streams);
            let total: u64 = layouts(&streams).last().map_or(0, |l| l.end);
            prop_assert_eq!(bytes.len() as u64, total);
            let short = encode_into(ShortWriter::new(Vec::new(), wseed), &streams).into_inner();
            prop_assert_eq!(&short, &bytes);
            for mode in MODES {
                let want = (expected_streams(&streams, mode), None);
                prop_assert_eq!(collect(Cursor::new(&bytes[..]), mode), want.clone());
                let r = ShortReader::new(Cursor::new(&bytes[..]), rseed);
                prop_assert_eq!(collect(r, mode), want);
            }
        }

        #[test]
        fn any_cut_of_a_valid_stream_is_a_clean_end_or_the_right_error(
            streams in arb_streams(),
            cut in any::<prop::sample::Index>(),
            seed in any::<u64>(),
        ) {
            let bytes = encode(&streams);
            let input = &bytes[..cut.index(bytes.len() + 1)];
            for mode in MODES {
                let want = expected_for_cut(&streams, input.len() as u64, mode);
                prop_assert_eq!(collect(Cursor::new(input), mode), want.clone());
                prop_assert_eq!(collect(ShortReader::new(Cursor::new(input), seed), mode), want);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            seek in any::<bool>(),
            seed in prop::option::of(any::<u64>()),
        ) {
            drive_reader_over(&bytes, seek, seed);
        }

        #[test]
        fn corrupted_valid_streams_never_panic(
            streams in arb_streams(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            seek in any::<bool>(),
        ) {
            let mut bytes = encode(&streams);
            if !bytes.is_empty() {
                for (at, value) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
            }
            drive_reader_over(&bytes, seek, None);
        }

        #[test]
        fn writer_counts_body_bytes(
            declared in 0u64..64,
            written in 0u64..96,
            id in 1u32..=11,
        ) {
            let mut w = BackupStreamWriter::new(Vec::new());
            let h = StreamHeader::new(StreamId(id), declared);
            w.write_header(&h).unwrap();
            let body = vec![0x5a; usize::try_from(written).unwrap()];
            let res = w.write_all(&body);
            if written > declared {
                let err = res.unwrap_err();
                let is_too_many = matches!(
                    inner_error(&err),
                    Error::TooManyBytes { id: i, excess } if *i == id && *excess == written - declared
                );
                prop_assert!(is_too_many, "{:?}", err);
                prop_assert_eq!(w.remaining(), declared, "nothing of a refused write counts");
            } else {
                res.unwrap();
                prop_assert_eq!(w.remaining(), declared - written);
                let next = w.write_header(&StreamHeader::new(StreamId::DATA, 0));
                let finished = w.finish();
                if written < declared {
                    let missing = declared - written;
                    let header_refused = matches!(
                        next, Err(Error::MissingBytes { id: i, missing: m }) if i == id && m == missing
                    );
                    prop_assert!(header_refused);
                    let finish_refused = matches!(
                        finished, Err(Error::MissingBytes { id: i, missing: m }) if i == id && m == missing
                    );
                    prop_assert!(finish_refused);
                } else {
                    prop_assert!(next.is_ok());
                    // A sparse block's header carries its 8-byte offset too.
                    let sparse = if id == 9 { 8 } else { 0 };
                    prop_assert_eq!(finished.unwrap().len() as u64, 40 + sparse + declared);
                }
            }
        }
    }
}

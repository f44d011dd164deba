//! Targets of the byte codecs of `wclayer-backup`: the backup stream, EAs and reparse
//! points.

use std::io::{Cursor, Read};

use wclayer_backup::ea::{self as ea_codec};
use wclayer_backup::reparse::{self as reparse_codec, ReparsePoint};
use wclayer_backup::{
    BackupStreamReader, Error, RawHeader, SplitError, SplitVisitor, StreamHeader, StreamSplitter,
};
use wclayer_testtools::io::ShortReader;

use crate::util::{cut_point, hash};

/// One sub-stream as a reader or the splitter saw it: where its body starts, the header,
/// and the body.
#[derive(Debug, PartialEq, Eq)]
struct Part {
    body_offset: u64,
    header: StreamHeader,
    body: Vec<u8>,
}

/// How a reader pass treats `UnknownStreamId`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// As a rejection (what the strict splitter does).
    Reject,
    /// Read on: the reader stays in step and the next call skips the stream. Only the id
    /// of an unknown stream is known.
    Skip,
}

/// What a reader pass saw: the streams, and whether the whole input was accepted.
#[derive(Debug, PartialEq, Eq)]
struct Pass {
    parts: Vec<Part>,
    /// `(body offset, id)` of every header, unknown ids included.
    ids: Vec<(u64, u32)>,
    accepted: bool,
}

/// Reads a backup stream with `BackupStreamReader`, headers and bodies (bodies are bounded
/// by the input, which is a slice).
fn read_stream(r: impl Read, unknown: Unknown) -> Pass {
    let mut r = BackupStreamReader::new(r);
    let mut pass = Pass {
        parts: Vec::new(),
        ids: Vec::new(),
        accepted: false,
    };
    loop {
        match r.next_header() {
            Ok(None) => {
                pass.accepted = true;
                return pass;
            }
            Ok(Some(header)) => {
                // After `next_header` the reader stands at the start of the body.
                let body_offset = r.offset();
                assert_eq!(r.remaining(), header.size, "the whole body is ahead");
                pass.ids.push((body_offset, header.id.0));
                let mut body = Vec::new();
                if r.read_to_end(&mut body).is_err() {
                    return pass;
                }
                assert_eq!(body.len() as u64, header.size, "a body read whole");
                assert_eq!(r.remaining(), 0);
                pass.parts.push(Part {
                    body_offset,
                    header,
                    body,
                });
            }
            Err(Error::UnknownStreamId { id, .. }) if unknown == Unknown::Skip => {
                pass.ids.push((r.offset(), id));
            }
            Err(e) => {
                // Decoding errors are repeated by later calls (the reader does not guess where
                // the next header starts); an unknown id is skipped by the next call instead.
                if !matches!(e, Error::UnknownStreamId { .. }) {
                    let again = r.next_header().expect_err("a decoding error repeats");
                    assert_eq!(again.to_string(), e.to_string(), "the same error again");
                }
                return pass;
            }
        }
    }
}

/// Reads `data` with `next_header_seek`, skipping every body.
fn read_stream_seeking(data: &[u8]) -> (Vec<StreamHeader>, bool) {
    let mut r = BackupStreamReader::new(Cursor::new(data));
    let mut headers = Vec::new();
    loop {
        match r.next_header_seek() {
            Ok(None) => return (headers, true),
            Ok(Some(h)) => headers.push(h),
            Err(_) => return (headers, false),
        }
    }
}

/// A splitter visitor that keeps everything and checks the order of the calls.
#[derive(Default)]
struct Collect {
    parts: Vec<Part>,
    ids: Vec<(u64, u32)>,
    rebuilt: Vec<u8>,
    unparsed: usize,
    /// Inside a body: bytes still expected before `end`.
    open: Option<u64>,
}

impl SplitVisitor for Collect {
    type Error = std::convert::Infallible;

    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), Self::Error> {
        assert!(self.open.is_none(), "a header inside a body");
        assert_eq!(self.unparsed, 0, "a header after unparsed bytes");
        // `RawHeader::encode` is the inverse of the accessors.
        assert_eq!(
            RawHeader::encode(h.id(), h.attributes(), h.size(), h.name_bytes(), h.offset()),
            h.bytes(),
            "RawHeader::encode gives back the header's bytes"
        );
        self.rebuilt.extend_from_slice(h.bytes());
        // The offset of the body, as the reader reports it after `next_header`.
        let body_offset = self.rebuilt.len() as u64;
        self.ids.push((body_offset, h.id().0));
        self.parts.push(Part {
            body_offset,
            header: h.to_header(),
            body: Vec::new(),
        });
        self.open = Some(h.size());
        Ok(())
    }

    fn body(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        let left = self.open.expect("a body piece inside a body");
        assert!(!bytes.is_empty(), "no empty body pieces");
        assert!(
            bytes.len() as u64 <= left,
            "no body piece past the body's size"
        );
        self.open = Some(left - bytes.len() as u64);
        self.rebuilt.extend_from_slice(bytes);
        self.parts
            .last_mut()
            .expect("a header before the body")
            .body
            .extend_from_slice(bytes);
        Ok(())
    }

    fn end(&mut self) -> Result<(), Self::Error> {
        assert_eq!(self.open, Some(0), "end exactly after the body's size");
        self.open = None;
        Ok(())
    }

    fn unparsed(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.unparsed += bytes.len();
        self.rebuilt.extend_from_slice(bytes);
        Ok(())
    }
}

/// Feeds `data` to `s` in two pieces cut at `cut`, then finishes.
fn split(
    mut s: StreamSplitter,
    data: &[u8],
    cut: usize,
) -> (Collect, Result<(), SplitError<std::convert::Infallible>>) {
    let mut c = Collect::default();
    let (a, b) = data.split_at(cut);
    let r = s
        .feed(a, &mut c)
        .and_then(|()| s.feed(b, &mut c))
        .and_then(|()| s.finish(&mut c));
    if r.is_ok() {
        assert_eq!(
            s.offset(),
            data.len() as u64,
            "the splitter counts every byte"
        );
    }
    (c, r)
}

/// `wclayer_backup::BackupStreamReader` and `StreamSplitter` over `data`.
///
/// Asserts:
/// - the strict splitter (input fed in two pieces, cut where the input's hash says) accepts
///   exactly the inputs the reader accepts (an `UnknownStreamId` of the reader counts as a
///   rejection), and then sees the same headers and bodies; the bytes its pieces rebuild
///   equal the input;
/// - the lenient splitter accepts everything and its pieces always rebuild the input; where
///   a reader that reads on past unknown ids accepts the input, the lenient splitter frames
///   the same streams and leaves nothing unparsed;
/// - `RawHeader::encode` gives back every header's bytes; the visitor sees bodies of
///   exactly the header's size;
/// - reading through a reader that returns short reads and `Interrupted`, and skipping the
///   bodies with `next_header_seek`, give the same headers and the same verdict;
/// - decoding errors are repeated by the next call.
pub fn backup_stream(data: &[u8]) {
    let strict_read = read_stream(data, Unknown::Reject);
    let cut = cut_point(data);

    // The strict splitter: accepts what the reader accepts.
    let (strict, strict_result) = split(StreamSplitter::new(), data, cut);
    assert_eq!(
        strict_result.is_ok(),
        strict_read.accepted,
        "the strict splitter accepts exactly what the reader accepts: {:?}",
        strict_result.err()
    );
    assert_eq!(
        strict.unparsed, 0,
        "a strict splitter leaves nothing unparsed"
    );
    if strict_read.accepted {
        assert_eq!(
            strict.rebuilt, data,
            "the strict splitter's pieces rebuild the input"
        );
        assert_eq!(strict.parts, strict_read.parts, "splitter and reader agree");
    } else {
        assert!(
            data.starts_with(&strict.rebuilt),
            "what the strict splitter saw is a prefix of the input"
        );
    }

    // The lenient splitter: always rebuilds the input.
    let (lenient, lenient_result) = split(StreamSplitter::lenient(), data, cut);
    assert!(
        lenient_result.is_ok(),
        "a lenient splitter accepts any bytes"
    );
    assert_eq!(
        lenient.rebuilt, data,
        "the lenient splitter's pieces rebuild the input"
    );
    let tolerant_read = read_stream(data, Unknown::Skip);
    if tolerant_read.accepted {
        assert_eq!(lenient.unparsed, 0, "a stream the reader frames is framed");
        assert_eq!(
            lenient.ids, tolerant_read.ids,
            "the same streams, unknown ids included"
        );
    }
    if strict_read.accepted {
        assert_eq!(
            lenient.parts, strict.parts,
            "lenient and strict agree on valid input"
        );
    }

    // Short reads and `Interrupted` change nothing.
    let short = read_stream(ShortReader::new(data, hash(data)), Unknown::Reject);
    assert_eq!(short, strict_read, "short reads give the same result");

    // Skipping bodies by seeking: the same headers and verdict.
    let (headers, accepted) = read_stream_seeking(data);
    assert_eq!(accepted, strict_read.accepted, "seeking and reading agree");
    if accepted {
        let read: Vec<&StreamHeader> = strict_read.parts.iter().map(|p| &p.header).collect();
        let seek: Vec<&StreamHeader> = headers.iter().collect();
        assert_eq!(seek, read, "seeking and reading see the same headers");
    }
}

/// `wclayer_backup::ea::decode` over `data`.
///
/// Asserts: an accepted chain encodes (its names and values are within the format's
/// limits), the encoding decodes to the same EAs, and encoding is then a fixed point.
pub fn ea(data: &[u8]) {
    let Ok(eas) = ea_codec::decode(data) else {
        return;
    };
    let bytes = ea_codec::encode(&eas).expect("decoded EAs are within the format's limits");
    assert_eq!(
        ea_codec::decode(&bytes).as_ref(),
        Ok(&eas),
        "decode(encode(x)) == x"
    );
    assert_eq!(
        ea_codec::encode(&ea_codec::decode(&bytes).expect("decodes")),
        Ok(bytes),
        "the encoding is canonical"
    );
    if eas.is_empty() {
        assert!(
            data.is_empty(),
            "only empty input decodes to no EAs (every entry is kept)"
        );
    }
}

/// `wclayer_backup::reparse::ReparsePoint::decode` over `data`.
///
/// Asserts: a decoded reparse point encodes (or, for a link, fails only with
/// `TargetTooLong`: a print name that fits the buffer need not fit next to its substitute
/// name), the encoding decodes to the same value, an opaque reparse point encodes back to
/// the input byte for byte, and the accessors agree with the variant.
pub fn reparse(data: &[u8]) {
    let Ok(rp) = ReparsePoint::decode(data) else {
        return;
    };
    let tag = u32::from_le_bytes(data[..4].try_into().expect("a decoded buffer has a tag"));
    assert_eq!(rp.tag(), tag, "the tag is the buffer's");
    assert_eq!(
        rp.target().is_none(),
        matches!(rp, ReparsePoint::Opaque { .. })
    );
    assert_eq!(
        rp.is_mount_point(),
        tag == reparse_codec::IO_REPARSE_TAG_MOUNT_POINT
    );
    match rp.encode() {
        Ok(bytes) => {
            if let ReparsePoint::Opaque { .. } = rp {
                assert_eq!(
                    bytes, data,
                    "an opaque reparse point encodes back byte for byte"
                );
            }
            let back = ReparsePoint::decode(&bytes);
            assert_eq!(back.as_ref(), Ok(&rp), "decode(encode(x)) == x");
            assert_eq!(
                back.and_then(|b| b.encode()).as_ref(),
                Ok(&bytes),
                "the encoding is a fixed point"
            );
        }
        Err(reparse_codec::Error::TargetTooLong { .. }) => {
            assert!(rp.target().is_some(), "only links have targets to encode");
        }
        Err(e) => panic!("a decoded reparse point does not encode: {e}"),
    }
}

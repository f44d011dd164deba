//! Splitting an incoming backup stream into sub-streams (writer side) and rebuilding the
//! exact header bytes (reader side).
//!
//! The layer writer receives the stream through `io::Write` in arbitrary pieces, so the
//! splitter is a push parser: it accumulates a header until complete, then hands body bytes
//! through as they come, never holding a body. It applies the same validity rules as
//! [`wclayer_backup::BackupStreamReader`] (backup-stream.md §2.1), so whatever the store
//! accepts, the codec can read back.

use wclayer_backup::StreamId;

use crate::meta::StreamRecord;

/// Size of the fixed part of a `WIN32_STREAM_ID`.
const FIXED: usize = 20;
/// Largest stream name accepted (bytes), as in the codec.
const MAX_NAME_SIZE: usize = 64 * 1024;
/// Size of a sparse block's offset.
const SPARSE_OFFSET: usize = 8;

/// A complete sub-stream header as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub id: u32,
    pub attributes: u32,
    /// Body length (a sparse block's 8-byte offset excluded).
    pub size: u64,
    /// The raw UTF-16LE name bytes.
    pub name_raw: Vec<u8>,
    /// A sparse block's file offset; 0 otherwise.
    pub offset: i64,
}

impl RawHeader {
    /// The name decoded as go-winio does: UTF-16LE up to the first NUL, unpaired surrogates
    /// replaced by U+FFFD.
    pub(crate) fn decoded_name(&self) -> String {
        let units = self
            .name_raw
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .take_while(|&u| u != 0);
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }

    /// The raw name bytes, only when the decoded name does not encode back to them.
    pub(crate) fn lossy_raw_name(&self, decoded: &str) -> Option<Vec<u8>> {
        let again: Vec<u8> = decoded.encode_utf16().flat_map(u16::to_le_bytes).collect();
        (again != self.name_raw).then(|| self.name_raw.clone())
    }
}

/// Receives the pieces of a backup stream from a [`Splitter`].
pub(crate) trait Sink {
    /// A complete header; its body (`h.size` bytes) follows.
    fn header(&mut self, h: RawHeader) -> Result<(), crate::Error>;
    /// Body bytes of the current sub-stream.
    fn body(&mut self, bytes: &[u8]) -> Result<(), crate::Error>;
    /// The current sub-stream's body is complete.
    fn end(&mut self) -> Result<(), crate::Error>;
}

/// The push parser.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    /// Bytes of a header not yet complete.
    header: Vec<u8>,
    /// Body bytes still due; `None` between sub-streams.
    remaining: Option<u64>,
    /// Bytes consumed so far (for error offsets).
    offset: u64,
}

impl Splitter {
    /// Feeds `buf` through, calling `sink` for every header, body piece and body end.
    pub(crate) fn feed(
        &mut self,
        mut buf: &[u8],
        entry: &str,
        sink: &mut dyn Sink,
    ) -> Result<(), crate::Error> {
        while !buf.is_empty() {
            if let Some(rem) = self.remaining {
                let n = usize::try_from(rem).unwrap_or(usize::MAX).min(buf.len());
                let (now, rest) = buf.split_at(n);
                sink.body(now)?;
                buf = rest;
                self.offset += n as u64;
                let left = rem - n as u64;
                if left == 0 {
                    self.remaining = None;
                    sink.end()?;
                } else {
                    self.remaining = Some(left);
                }
                continue;
            }
            let need = self.header_len(entry)?;
            let take = (need - self.header.len()).min(buf.len());
            let (now, rest) = buf.split_at(take);
            self.header.extend_from_slice(now);
            self.offset += take as u64;
            buf = rest;
            // The length may grow once the fixed part is known.
            if self.header.len() == self.header_len(entry)? {
                let h = self.take_header();
                let size = h.size;
                sink.header(h)?;
                if size == 0 {
                    sink.end()?;
                } else {
                    self.remaining = Some(size);
                }
            }
        }
        Ok(())
    }

    /// Checks that the stream ended at a sub-stream boundary.
    pub(crate) fn finish(&self, entry: &str) -> Result<(), crate::Error> {
        let reason = if self.remaining.is_some() {
            "truncated stream body"
        } else if !self.header.is_empty() {
            "truncated stream header"
        } else {
            return Ok(());
        };
        Err(crate::Error::Stream {
            entry: entry.to_owned(),
            offset: self.offset,
            reason,
        })
    }

    /// Length of the header being collected: 20 until the fixed part is there, then the
    /// whole header. Validates the fixed part as soon as it is complete.
    fn header_len(&self, entry: &str) -> Result<usize, crate::Error> {
        let Some(fixed) = self.header.get(..FIXED) else {
            return Ok(FIXED);
        };
        let bad = |reason| crate::Error::Stream {
            entry: entry.to_owned(),
            offset: self.offset - self.header.len() as u64,
            reason,
        };
        let id = u32_at(fixed, 0);
        let size = u64_at(fixed, 8);
        let name_size = u32_at(fixed, 16) as usize;
        if !StreamId(id).is_known() {
            return Err(bad("unknown stream id"));
        }
        if !name_size.is_multiple_of(2) {
            return Err(bad("odd stream name size"));
        }
        if name_size > MAX_NAME_SIZE {
            return Err(bad("stream name longer than 64 KiB"));
        }
        let sparse = StreamId(id) == StreamId::SPARSE_BLOCK;
        if sparse && size < SPARSE_OFFSET as u64 {
            return Err(bad("sparse block shorter than its 8-byte offset"));
        }
        Ok(FIXED + name_size + if sparse { SPARSE_OFFSET } else { 0 })
    }

    fn take_header(&mut self) -> RawHeader {
        let h = std::mem::take(&mut self.header);
        let id = u32_at(&h, 0);
        let sparse = StreamId(id) == StreamId::SPARSE_BLOCK;
        let size_field = u64_at(&h, 8);
        let name_size = u32_at(&h, 16) as usize;
        let name_raw = h.get(FIXED..FIXED + name_size).unwrap_or_default().to_vec();
        let (size, offset) = if sparse {
            let off = u64_at(&h, FIXED + name_size).cast_signed();
            (size_field - SPARSE_OFFSET as u64, off)
        } else {
            (size_field, 0)
        };
        RawHeader {
            id,
            attributes: u32_at(&h, 4),
            size,
            name_raw,
            offset,
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// The exact `WIN32_STREAM_ID` bytes (header, name, sparse offset) of a recorded sub-stream.
pub(crate) fn encode_header(s: &StreamRecord) -> Vec<u8> {
    let name = s.name_bytes();
    let sparse = StreamId(s.id) == StreamId::SPARSE_BLOCK;
    let size_field = if sparse {
        s.size.saturating_add(SPARSE_OFFSET as u64)
    } else {
        s.size
    };
    let mut out = Vec::with_capacity(FIXED + name.len() + SPARSE_OFFSET);
    out.extend_from_slice(&s.id.to_le_bytes());
    out.extend_from_slice(&s.attributes.to_le_bytes());
    out.extend_from_slice(&size_field.to_le_bytes());
    out.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&name);
    if sparse {
        out.extend_from_slice(&s.offset.unwrap_or(0).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Body;
    use std::io::Write;
    use wclayer_backup::{BackupStreamWriter, StreamHeader};

    #[derive(Default)]
    struct Collect {
        events: Vec<String>,
        headers: Vec<RawHeader>,
    }

    impl Sink for Collect {
        fn header(&mut self, h: RawHeader) -> Result<(), crate::Error> {
            self.events.push(format!("h{}:{}", h.id, h.size));
            self.headers.push(h);
            Ok(())
        }
        fn body(&mut self, bytes: &[u8]) -> Result<(), crate::Error> {
            self.events.push(format!("b{}", bytes.len()));
            Ok(())
        }
        fn end(&mut self) -> Result<(), crate::Error> {
            self.events.push("e".into());
            Ok(())
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::DATA, 0))
            .unwrap();
        w.write_header(&StreamHeader::sparse_block(4096, 3))
            .unwrap();
        w.write_all(b"abc").unwrap();
        w.write_header(&StreamHeader::alternate_data("zone", 2))
            .unwrap();
        w.write_all(b"zz").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn split_in_any_piece_size() {
        let bytes = sample();
        for chunk in 1..=bytes.len() {
            let mut s = Splitter::default();
            let mut c = Collect::default();
            for piece in bytes.chunks(chunk) {
                s.feed(piece, "x", &mut c).unwrap();
            }
            s.finish("x").unwrap();
            let bodies: usize = c
                .events
                .iter()
                .filter_map(|e| e.strip_prefix('b'))
                .map(|n| n.parse::<usize>().unwrap())
                .sum();
            assert_eq!(bodies, 5);
            assert_eq!(c.headers.len(), 3);
            assert_eq!(c.headers[1].offset, 4096);
            assert_eq!(c.headers[2].decoded_name(), ":zone:$DATA");
            // Re-encoding every header gives the input back.
            let mut again = Vec::new();
            let bodies = [&b""[..], b"abc", b"zz"];
            for (h, body) in c.headers.iter().zip(bodies) {
                let rec = StreamRecord {
                    id: h.id,
                    attributes: h.attributes,
                    size: h.size,
                    name: h.decoded_name(),
                    name_utf16: h.lossy_raw_name(&h.decoded_name()),
                    offset: (h.id == 9).then_some(h.offset),
                    body: Body::Inline(body.to_vec()),
                };
                again.extend(encode_header(&rec));
                again.extend_from_slice(body);
            }
            assert_eq!(again, bytes);
        }
    }

    #[test]
    fn malformed_streams_are_refused() {
        let mut bytes = sample();
        bytes.pop();
        let mut s = Splitter::default();
        s.feed(&bytes, "x", &mut Collect::default()).unwrap();
        assert!(matches!(
            s.finish("x"),
            Err(crate::Error::Stream {
                reason: "truncated stream body",
                ..
            })
        ));
        let mut s = Splitter::default();
        let unknown = [
            12u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let e = s
            .feed(&unknown, "Files\\a", &mut Collect::default())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Files\\a: bad backup stream at offset 0: unknown stream id"
        );
        let mut s = Splitter::default();
        s.feed(&[1, 0, 0], "x", &mut Collect::default()).unwrap();
        assert!(s.finish("x").is_err());
    }

    #[test]
    fn lossy_names_keep_their_raw_bytes() {
        let h = RawHeader {
            id: 4,
            attributes: 0,
            size: 0,
            name_raw: vec![b':', 0, 0x00, 0xd8, 0, 0, b'x', 0],
            offset: 0,
        };
        let d = h.decoded_name();
        assert_eq!(d, ":\u{fffd}");
        assert_eq!(h.lossy_raw_name(&d), Some(h.name_raw.clone()));
    }
}

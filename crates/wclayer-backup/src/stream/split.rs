//! [`StreamSplitter`]: a push parser that cuts a backup stream arriving in arbitrary pieces
//! into its headers and bodies, without I/O and without holding a body.
//!
//! Layer writers receive an entry's stream through `Write` calls of any size; they store the
//! pieces in different places (file data in the entry's own file, small metadata in records,
//! the rest in side files). The splitter tells them where each byte belongs. It applies the
//! framing rules of [`super::BackupStreamReader`] (docs/backup-stream.md §2.1), so a stream
//! the strict splitter accepts reads back with the reader.

use super::frame::{Fixed, decode_name, le_u64};
use super::{StreamAttributes, StreamHeader, StreamId};
use crate::Error;

/// A complete sub-stream header as it arrived: its decoded fields and its exact bytes.
#[derive(Clone, Copy, Debug)]
pub struct RawHeader<'a> {
    bytes: &'a [u8],
    fixed: Fixed,
    offset: i64,
}

impl RawHeader<'_> {
    /// `dwStreamId`.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.fixed.id
    }

    /// `dwStreamAttributes`.
    #[must_use]
    pub fn attributes(&self) -> StreamAttributes {
        self.fixed.attributes
    }

    /// Length of the body that follows (for a sparse block, without its 8-byte offset).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.fixed.size
    }

    /// A sparse block's file offset; 0 for every other id.
    #[must_use]
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The raw UTF-16LE bytes of `cStreamName`.
    #[must_use]
    pub fn name_bytes(&self) -> &[u8] {
        self.bytes
            .get(StreamHeader::FIXED_SIZE..self.fixed.name_end())
            .unwrap_or_default()
    }

    /// The name decoded as go-winio decodes it (up to the first NUL, unpaired surrogates
    /// replaced by U+FFFD).
    #[must_use]
    pub fn name(&self) -> String {
        decode_name(self.name_bytes())
    }

    /// The header's exact bytes: fixed part, name, and a sparse block's offset.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    /// The exact bytes of a header given by its fields and its raw UTF-16LE name: the
    /// inverse of the accessors above, for stores that keep headers as fields and replay
    /// them byte for byte. `size` excludes a sparse block's offset, as [`RawHeader::size`]
    /// does. No field is checked (a store checks what it accepts before keeping it).
    #[must_use]
    pub fn encode(
        id: StreamId,
        attributes: StreamAttributes,
        size: u64,
        name_bytes: &[u8],
        offset: i64,
    ) -> Vec<u8> {
        let sparse = id == StreamId::SPARSE_BLOCK;
        let size_field = if sparse {
            size.saturating_add(super::frame::SPARSE_OFFSET_SIZE)
        } else {
            size
        };
        let mut out = Vec::with_capacity(
            StreamHeader::FIXED_SIZE
                .saturating_add(name_bytes.len())
                .saturating_add(8),
        );
        out.extend_from_slice(&id.0.to_le_bytes());
        out.extend_from_slice(&attributes.0.to_le_bytes());
        out.extend_from_slice(&size_field.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(name_bytes.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(name_bytes);
        if sparse {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        out
    }

    /// The decoded header.
    #[must_use]
    pub fn to_header(&self) -> StreamHeader {
        StreamHeader {
            id: self.id(),
            attributes: self.attributes(),
            size: self.size(),
            name: self.name(),
            offset: self.offset,
        }
    }
}

/// Receives the pieces of a backup stream from a [`StreamSplitter`].
pub trait SplitVisitor {
    /// The visitor's own error, handed back in [`SplitError::Visitor`].
    type Error;
    /// A complete header; its body (`h.size()` bytes) follows.
    ///
    /// # Errors
    /// The visitor's, which stops the splitter.
    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), Self::Error>;
    /// The next bytes of the current body.
    ///
    /// # Errors
    /// The visitor's, which stops the splitter.
    fn body(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
    /// The current body is complete (also right after a header of size 0).
    ///
    /// # Errors
    /// The visitor's, which stops the splitter.
    fn end(&mut self) -> Result<(), Self::Error>;
    /// Bytes a lenient splitter could not frame: a header whose fields break the framing
    /// rules, and everything after it, or the bytes of a header the stream ends inside.
    /// A strict splitter never calls this.
    ///
    /// # Errors
    /// The visitor's, which stops the splitter.
    fn unparsed(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        let _ = bytes;
        Ok(())
    }
}

/// Why [`StreamSplitter::feed`] or [`StreamSplitter::finish`] stopped.
#[derive(Debug)]
pub enum SplitError<E> {
    /// The stream is malformed (strict splitters only): the codec's error, with the offset.
    Stream(Error),
    /// The visitor failed.
    Visitor(E),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Collecting a header in `header`.
    Header,
    /// Inside a body with this many bytes left.
    Body(u64),
    /// After bytes a lenient splitter could not frame: everything is unparsed.
    Unparsed,
}

/// The push parser. Feed it the stream in pieces of any size; it calls the visitor for every
/// header, body piece and body end, in order.
///
/// A *strict* splitter ([`StreamSplitter::new`]) refuses what [`super::BackupStreamReader`]
/// refuses: an unknown stream id, an odd or over-64-KiB name size, a sparse block shorter
/// than its offset, and (at [`StreamSplitter::finish`]) a stream that ends inside a header
/// or body. A *lenient* one ([`StreamSplitter::lenient`]) accepts any bytes: unknown ids are
/// framed like any other, and what cannot be framed goes to
/// [`SplitVisitor::unparsed`], so that a store can keep malformed streams byte for byte.
///
/// Memory: one header (at most 20 + 64 KiB + 8 bytes); bodies pass through.
#[derive(Debug)]
pub struct StreamSplitter {
    header: Vec<u8>,
    state: State,
    /// Bytes consumed so far.
    offset: u64,
    lenient: bool,
}

impl Default for StreamSplitter {
    fn default() -> Self {
        StreamSplitter::new()
    }
}

impl StreamSplitter {
    /// A strict splitter.
    #[must_use]
    pub fn new() -> StreamSplitter {
        StreamSplitter {
            header: Vec::new(),
            state: State::Header,
            offset: 0,
            lenient: false,
        }
    }

    /// A lenient splitter (see the type's documentation).
    #[must_use]
    pub fn lenient() -> StreamSplitter {
        StreamSplitter {
            lenient: true,
            ..StreamSplitter::new()
        }
    }

    /// Bytes fed so far.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the stream fed so far ends at a sub-stream boundary.
    #[must_use]
    pub fn at_boundary(&self) -> bool {
        self.state == State::Header && self.header.is_empty()
    }

    /// Feeds the next bytes of the stream.
    ///
    /// # Errors
    /// [`SplitError::Stream`] when a strict splitter meets a malformed header (the offset is
    /// the header's); [`SplitError::Visitor`] when the visitor fails. The splitter should
    /// not be used after an error.
    pub fn feed<V: SplitVisitor + ?Sized>(
        &mut self,
        mut buf: &[u8],
        v: &mut V,
    ) -> Result<(), SplitError<V::Error>> {
        while !buf.is_empty() {
            let used = match self.state {
                State::Unparsed => {
                    v.unparsed(buf).map_err(SplitError::Visitor)?;
                    buf.len()
                }
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let (now, _) = buf.split_at(n);
                    v.body(now).map_err(SplitError::Visitor)?;
                    let left = left.saturating_sub(n as u64);
                    if left == 0 {
                        self.state = State::Header;
                        v.end().map_err(SplitError::Visitor)?;
                    } else {
                        self.state = State::Body(left);
                    }
                    n
                }
                State::Header => self.take_header(buf, v)?,
            };
            self.offset = self.offset.saturating_add(used as u64);
            buf = buf.get(used..).unwrap_or_default();
        }
        Ok(())
    }

    /// Takes header bytes from `buf`; returns how many it used. A complete header goes to
    /// the visitor.
    fn take_header<V: SplitVisitor + ?Sized>(
        &mut self,
        buf: &[u8],
        v: &mut V,
    ) -> Result<usize, SplitError<V::Error>> {
        let start = self.offset.saturating_sub(self.header.len() as u64);
        let mut used = 0usize;
        // The header's length is 20 until its fixed part is known, then the whole header.
        let fixed = loop {
            let fixed = if self.header.len() < StreamHeader::FIXED_SIZE {
                None
            } else {
                match self.fixed_or_unparsed(start, v)? {
                    Some(f) => Some(f),
                    None => return Ok(used),
                }
            };
            let need = fixed.map_or(StreamHeader::FIXED_SIZE, |f| f.header_len());
            if let Some(f) = fixed
                && self.header.len() >= need
            {
                break f;
            }
            let rest = buf.get(used..).unwrap_or_default();
            let take = need.saturating_sub(self.header.len()).min(rest.len());
            if take == 0 {
                return Ok(used);
            }
            self.header
                .extend_from_slice(rest.get(..take).unwrap_or_default());
            used = used.saturating_add(take);
        };
        let offset = if fixed.sparse {
            le_u64(&self.header, fixed.name_end()).map_or(0, u64::cast_signed)
        } else {
            0
        };
        let raw = RawHeader {
            bytes: &self.header,
            fixed,
            offset,
        };
        v.header(&raw).map_err(SplitError::Visitor)?;
        self.header.clear();
        if fixed.size == 0 {
            v.end().map_err(SplitError::Visitor)?;
        } else {
            self.state = State::Body(fixed.size);
        }
        Ok(used)
    }

    /// The fixed part of the header being collected, checked; `None` when a lenient splitter
    /// gave up on it (its bytes went to [`SplitVisitor::unparsed`]).
    fn fixed_or_unparsed<V: SplitVisitor + ?Sized>(
        &mut self,
        start: u64,
        v: &mut V,
    ) -> Result<Option<Fixed>, SplitError<V::Error>> {
        let parsed = Fixed::parse(&self.header).map_err(|reason| Error::InvalidHeader {
            offset: start,
            reason,
        });
        let checked = parsed.and_then(|f| {
            if !self.lenient && !f.id.is_known() {
                return Err(Error::UnknownStreamId {
                    id: f.id.0,
                    offset: start,
                });
            }
            Ok(f)
        });
        match checked {
            Ok(f) => Ok(Some(f)),
            Err(e) if !self.lenient => Err(SplitError::Stream(e)),
            Err(_) => {
                self.state = State::Unparsed;
                let bytes = std::mem::take(&mut self.header);
                v.unparsed(&bytes).map_err(SplitError::Visitor)?;
                Ok(None)
            }
        }
    }

    /// Ends the stream.
    ///
    /// # Errors
    /// For a strict splitter, [`Error::Truncated`] when the stream ended inside a header or
    /// a body. A lenient splitter hands the bytes of an unfinished header to
    /// [`SplitVisitor::unparsed`] instead; only the visitor can fail then.
    pub fn finish<V: SplitVisitor + ?Sized>(
        &mut self,
        v: &mut V,
    ) -> Result<(), SplitError<V::Error>> {
        let what = match self.state {
            State::Unparsed => return Ok(()),
            State::Header if self.header.is_empty() => return Ok(()),
            State::Header => "stream header",
            State::Body(_) => "stream body",
        };
        if !self.lenient {
            return Err(SplitError::Stream(Error::Truncated {
                what,
                offset: self.offset,
            }));
        }
        let bytes = std::mem::take(&mut self.header);
        self.state = State::Unparsed;
        if bytes.is_empty() {
            return Ok(());
        }
        v.unparsed(&bytes).map_err(SplitError::Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackupStreamWriter;
    use std::io::Write;

    #[derive(Default, Debug)]
    struct Collect {
        events: Vec<String>,
        headers: Vec<StreamHeader>,
        rebuilt: Vec<u8>,
    }

    impl SplitVisitor for Collect {
        type Error = ();
        fn header(&mut self, h: &RawHeader<'_>) -> Result<(), ()> {
            self.events.push(format!("h{}:{}", h.id().0, h.size()));
            self.headers.push(h.to_header());
            self.rebuilt.extend_from_slice(h.bytes());
            Ok(())
        }
        fn body(&mut self, bytes: &[u8]) -> Result<(), ()> {
            self.events.push(format!("b{}", bytes.len()));
            self.rebuilt.extend_from_slice(bytes);
            Ok(())
        }
        fn end(&mut self) -> Result<(), ()> {
            self.events.push("e".into());
            Ok(())
        }
        fn unparsed(&mut self, bytes: &[u8]) -> Result<(), ()> {
            self.events.push(format!("u{}", bytes.len()));
            self.rebuilt.extend_from_slice(bytes);
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

    fn split(
        s: &mut StreamSplitter,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Collect, SplitError<()>> {
        let mut c = Collect::default();
        for piece in bytes.chunks(chunk) {
            s.feed(piece, &mut c)?;
        }
        s.finish(&mut c)?;
        Ok(c)
    }

    #[test]
    fn splits_in_any_piece_size_and_rebuilds_the_bytes() {
        let bytes = sample();
        for chunk in 1..=bytes.len() {
            let c = split(&mut StreamSplitter::new(), &bytes, chunk).unwrap();
            assert_eq!(c.rebuilt, bytes, "chunk {chunk}");
            assert_eq!(c.headers.len(), 3);
            assert_eq!(c.headers[1].offset, 4096);
            assert_eq!(c.headers[1].size, 3);
            assert_eq!(c.headers[2].name, ":zone:$DATA");
            assert_eq!(c.events.iter().filter(|e| *e == "e").count(), 3);
        }
        // Re-encoding every header from its fields gives its bytes back.
        struct Reencode(Vec<u8>, Vec<u8>);
        impl SplitVisitor for Reencode {
            type Error = ();
            fn header(&mut self, h: &RawHeader<'_>) -> Result<(), ()> {
                self.0.extend_from_slice(h.bytes());
                self.1.extend(RawHeader::encode(
                    h.id(),
                    h.attributes(),
                    h.size(),
                    h.name_bytes(),
                    h.offset(),
                ));
                Ok(())
            }
            fn body(&mut self, _: &[u8]) -> Result<(), ()> {
                Ok(())
            }
            fn end(&mut self) -> Result<(), ()> {
                Ok(())
            }
        }
        let mut r = Reencode(Vec::new(), Vec::new());
        let mut s = StreamSplitter::new();
        s.feed(&bytes, &mut r).unwrap();
        assert_eq!(r.0, r.1);
    }

    #[test]
    fn strict_refuses_what_the_reader_refuses() {
        let mut bytes = sample();
        bytes.pop();
        let e = split(&mut StreamSplitter::new(), &bytes, 7).unwrap_err();
        assert!(matches!(
            e,
            SplitError::Stream(Error::Truncated {
                what: "stream body",
                ..
            })
        ));
        let unknown = [
            12u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let e = split(&mut StreamSplitter::new(), &unknown, 3).unwrap_err();
        assert!(matches!(
            e,
            SplitError::Stream(Error::UnknownStreamId { id: 12, offset: 0 })
        ));
        let e = split(&mut StreamSplitter::new(), &[1, 0, 0], 3).unwrap_err();
        assert!(matches!(
            e,
            SplitError::Stream(Error::Truncated {
                what: "stream header",
                offset: 3
            })
        ));
        let mut odd = sample();
        odd.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
        let e = split(&mut StreamSplitter::new(), &odd, 5).unwrap_err();
        let at = sample().len() as u64;
        assert!(
            matches!(e, SplitError::Stream(Error::InvalidHeader { offset, .. }) if offset == at)
        );
    }

    #[test]
    fn lenient_keeps_every_byte() {
        let good = sample();
        // A sparse block whose Size is below 8, then anything.
        let mut bad = vec![9, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        bad.extend_from_slice(&good);
        let noise: Vec<u8> = (0..300u32)
            .map(|i| u8::try_from(i * 7919 % 251).unwrap())
            .collect();
        for input in [&good[..23], &good[..], &bad[..], &noise[..]] {
            for chunk in [1, 3, 64, 1000] {
                let c = split(&mut StreamSplitter::lenient(), input, chunk).unwrap();
                assert_eq!(c.rebuilt, input, "chunk {chunk}");
            }
        }
        // Unknown ids are framed, not given up on.
        let unknown = [
            12u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
        ];
        let c = split(&mut StreamSplitter::lenient(), &unknown, 4).unwrap();
        assert_eq!(c.events, ["h12:1", "b1", "e"]);
    }
}

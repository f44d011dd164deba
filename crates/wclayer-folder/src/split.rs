//! Splits a backup stream, as it arrives in pieces, into what a plain file holds (the body
//! of the first data stream) and the rest (the *template*), so that the two can be joined
//! back into the exact original bytes.
//!
//! hcsshim restores `Hives\` entries with `BackupWrite` without security, which leaves a
//! plain file holding the data (layer-semantics.md §3, §4.1); the export format stores
//! `UtilityVM\` the same way. On Linux the plain file gets the first `BACKUP_DATA` body and
//! `user.wclayer.stream` keeps everything else, so nothing is lost.
//!
//! The splitter never fails on malformed input: it only needs to know where the first data
//! body is. Bytes after a header it cannot make sense of (a sparse block whose `Size` is
//! below 8) and anything after a truncation simply stay in the template, which the reader
//! replays verbatim.

use std::io;

use wclayer_backup::{StreamAttributes, StreamHeader, StreamId};

/// Where the pieces go.
pub(crate) trait SplitSink {
    /// Bytes that stay in the template.
    fn template(&mut self, b: &[u8]) -> io::Result<()>;
    /// Bytes of the first data stream's body, in order: the plain file's content.
    fn data(&mut self, b: &[u8]) -> io::Result<()>;
    /// Bytes of a sparse block at file offset `offset` (they also stay in the template;
    /// this only mirrors them into the plain file so that it holds the file's content).
    fn sparse(&mut self, offset: u64, b: &[u8]) -> io::Result<()>;
    /// The terminating sparse block: the file's logical size.
    fn sparse_end(&mut self, size: u64) -> io::Result<()>;
}

/// The splitter's state machine over `WIN32_STREAM_ID` headers and bodies
/// (backup-stream.md §1).
#[derive(Debug)]
pub(crate) struct Splitter {
    /// Bytes of the stream seen so far.
    pos: u64,
    state: State,
    /// Whether a data body may go to the plain file (not for directories).
    allow_data: bool,
    /// Whether the first data stream has been seen.
    seen_data: bool,
    /// Whether the first data stream was a sparse one of size 0, so that the sparse blocks
    /// after it carry the file's content.
    sparse_file: bool,
    /// Template offset and length of the data cut out.
    cut: Option<(u64, u64)>,
}

#[derive(Debug)]
enum State {
    /// Collecting the 20 fixed bytes of a header.
    Fixed {
        buf: [u8; StreamHeader::FIXED_SIZE],
        have: usize,
    },
    /// Passing the header's name through.
    Name { left: u64, h: Head },
    /// Collecting a sparse block's 8-byte offset.
    Offset { buf: [u8; 8], have: usize, h: Head },
    /// Inside a body.
    Body { left: u64, to: Target },
    /// After a header that cannot be parsed: everything stays in the template.
    Verbatim,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    id: StreamId,
    attributes: StreamAttributes,
    /// Body size (for a sparse block: without the 8-byte offset).
    body: u64,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Template,
    Data,
    /// A sparse block's payload; `at` is the file offset of the next byte.
    Sparse {
        at: Option<u64>,
    },
}

impl Splitter {
    /// A splitter for a file (`allow_data`) or a directory.
    pub(crate) fn new(allow_data: bool) -> Splitter {
        Splitter {
            pos: 0,
            state: State::Fixed {
                buf: [0; StreamHeader::FIXED_SIZE],
                have: 0,
            },
            allow_data,
            seen_data: false,
            sparse_file: false,
            cut: None,
        }
    }

    /// Where the plain file's content belongs in the template, and its length.
    pub(crate) fn cut(&self) -> Option<(u64, u64)> {
        self.cut
    }

    /// Feeds the next bytes of the stream.
    pub(crate) fn push(&mut self, mut buf: &[u8], sink: &mut dyn SplitSink) -> io::Result<()> {
        while !buf.is_empty() {
            let (n, next) = self.step(buf, sink)?;
            buf = buf.get(n..).unwrap_or_default();
            if let Some(s) = next {
                self.state = s;
            }
        }
        Ok(())
    }

    /// Consumes a prefix of `buf` (counting it in `pos`); returns its length and the next
    /// state, if it changes.
    fn step(&mut self, buf: &[u8], sink: &mut dyn SplitSink) -> io::Result<(usize, Option<State>)> {
        match &mut self.state {
            State::Fixed { buf: fixed, have } => {
                let n = (fixed.len() - *have).min(buf.len());
                let src = buf.get(..n).unwrap_or_default();
                fixed
                    .get_mut(*have..*have + n)
                    .unwrap_or_default()
                    .copy_from_slice(src);
                *have += n;
                sink.template(src)?;
                self.pos += n as u64;
                if *have < fixed.len() {
                    return Ok((n, None));
                }
                let u32_at = |i: usize| {
                    u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]])
                };
                let id = StreamId(u32_at(0));
                let attributes = StreamAttributes(u32_at(4));
                let size = u64::from(u32_at(8)) | u64::from(u32_at(12)) << 32;
                let name = u64::from(u32_at(16));
                let body = if id == StreamId::SPARSE_BLOCK {
                    match size.checked_sub(8) {
                        Some(b) => b,
                        // Invalid (backup-stream.md §5.1): keep the rest verbatim.
                        None => return Ok((n, Some(State::Verbatim))),
                    }
                } else {
                    size
                };
                let h = Head {
                    id,
                    attributes,
                    body,
                };
                Ok((n, Some(self.after_name_or(name, h, sink)?)))
            }
            State::Name { left, h } => {
                let h = *h;
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                sink.template(buf.get(..n).unwrap_or_default())?;
                self.pos += n as u64;
                *left -= n as u64;
                if *left > 0 {
                    return Ok((n, None));
                }
                Ok((n, Some(self.after_name(h, sink)?)))
            }
            State::Offset { buf: off, have, h } => {
                let h = *h;
                let n = (off.len() - *have).min(buf.len());
                let src = buf.get(..n).unwrap_or_default();
                off.get_mut(*have..*have + n)
                    .unwrap_or_default()
                    .copy_from_slice(src);
                *have += n;
                sink.template(src)?;
                self.pos += n as u64;
                if *have < off.len() {
                    return Ok((n, None));
                }
                let offset = i64::from_le_bytes(*off);
                Ok((n, Some(self.start_body(h, Some(offset), sink)?)))
            }
            State::Body { left, to } => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                let b = buf.get(..n).unwrap_or_default();
                match to {
                    Target::Template => sink.template(b)?,
                    Target::Data => {
                        sink.data(b)?;
                        if let Some((_, len)) = &mut self.cut {
                            *len += n as u64;
                        }
                    }
                    Target::Sparse { at } => {
                        sink.template(b)?;
                        if let Some(a) = at {
                            sink.sparse(*a, b)?;
                            *at = a.checked_add(n as u64);
                        }
                    }
                }
                self.pos += n as u64;
                *left -= n as u64;
                if *left > 0 {
                    return Ok((n, None));
                }
                Ok((n, Some(fresh())))
            }
            State::Verbatim => {
                sink.template(buf)?;
                self.pos += buf.len() as u64;
                Ok((buf.len(), None))
            }
        }
    }

    fn after_name_or(&mut self, name: u64, h: Head, sink: &mut dyn SplitSink) -> io::Result<State> {
        if name > 0 {
            Ok(State::Name { left: name, h })
        } else {
            self.after_name(h, sink)
        }
    }

    fn after_name(&mut self, h: Head, sink: &mut dyn SplitSink) -> io::Result<State> {
        if h.id == StreamId::SPARSE_BLOCK {
            Ok(State::Offset {
                buf: [0; 8],
                have: 0,
                h,
            })
        } else {
            self.start_body(h, None, sink)
        }
    }

    /// Decides where the body of `h` goes (`offset` for sparse blocks); the body starts at
    /// `self.pos`.
    fn start_body(
        &mut self,
        h: Head,
        offset: Option<i64>,
        sink: &mut dyn SplitSink,
    ) -> io::Result<State> {
        let body_start = self.pos;
        let to = if h.id == StreamId::DATA && !self.seen_data && self.allow_data {
            self.seen_data = true;
            if h.attributes.contains(StreamAttributes::SPARSE) && h.body == 0 {
                // The content follows as sparse blocks (backup-stream.md §5.2).
                self.sparse_file = true;
                Target::Template
            } else {
                self.cut = Some((body_start, 0));
                Target::Data
            }
        } else if h.id == StreamId::SPARSE_BLOCK && self.sparse_file {
            let at = offset.and_then(|o| u64::try_from(o).ok());
            if h.body == 0
                && let Some(size) = at
            {
                sink.sparse_end(size)?;
            }
            Target::Sparse { at }
        } else {
            Target::Template
        };
        if h.body == 0 {
            return Ok(fresh());
        }
        Ok(State::Body { left: h.body, to })
    }
}

fn fresh() -> State {
    State::Fixed {
        buf: [0; StreamHeader::FIXED_SIZE],
        have: 0,
    }
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "test offsets and lengths are a few bytes"
)]
mod tests {
    use super::*;
    use std::io::Write;
    use wclayer_backup::BackupStreamWriter;

    #[derive(Default)]
    struct Rec {
        template: Vec<u8>,
        data: Vec<u8>,
        file: Vec<u8>,
    }

    impl SplitSink for Rec {
        fn template(&mut self, b: &[u8]) -> io::Result<()> {
            self.template.extend_from_slice(b);
            Ok(())
        }
        fn data(&mut self, b: &[u8]) -> io::Result<()> {
            self.data.extend_from_slice(b);
            Ok(())
        }
        fn sparse(&mut self, offset: u64, b: &[u8]) -> io::Result<()> {
            let end = offset as usize + b.len();
            if self.file.len() < end {
                self.file.resize(end, 0);
            }
            self.file[offset as usize..end].copy_from_slice(b);
            Ok(())
        }
        fn sparse_end(&mut self, size: u64) -> io::Result<()> {
            if self.file.len() < size as usize {
                self.file.resize(size as usize, 0);
            }
            Ok(())
        }
    }

    fn stream(parts: &[(StreamHeader, &[u8])]) -> Vec<u8> {
        let mut w = BackupStreamWriter::new(Vec::new());
        for (h, body) in parts {
            w.write_header(h).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap()
    }

    /// Splits `s` fed `chunk` bytes at a time and checks that joining gives `s` back.
    fn split(s: &[u8], chunk: usize, allow_data: bool) -> (Rec, Option<(u64, u64)>) {
        let mut sp = Splitter::new(allow_data);
        let mut rec = Rec::default();
        for c in s.chunks(chunk.max(1)) {
            sp.push(c, &mut rec).unwrap();
        }
        let cut = sp.cut();
        let joined = match cut {
            Some((off, len)) => {
                assert_eq!(len as usize, rec.data.len());
                let (a, b) = rec.template.split_at(off as usize);
                [a, &rec.data, b].concat()
            }
            None => {
                assert!(rec.data.is_empty());
                rec.template.clone()
            }
        };
        assert_eq!(joined, s, "chunk {chunk}");
        (rec, cut)
    }

    #[test]
    fn first_data_body_is_cut_out_at_every_chunking() {
        let s = stream(&[
            (StreamHeader::new(StreamId::SECURITY_DATA, 4), b"SDSD"),
            (StreamHeader::new(StreamId::DATA, 5), b"hello"),
            (StreamHeader::alternate_data("zone", 3), b"ads"),
            (StreamHeader::new(StreamId::DATA, 2), b"no"),
        ]);
        for chunk in [1, 2, 3, 7, 19, 20, 21, 1000] {
            let (rec, cut) = split(&s, chunk, true);
            assert_eq!(rec.data, b"hello");
            assert_eq!(cut, Some((44, 5)));
        }
        let (rec, cut) = split(&s, 5, false);
        assert!(rec.data.is_empty() && cut.is_none());
    }

    #[test]
    fn sparse_blocks_are_mirrored_and_kept() {
        // backup-stream.md §5.2 vector: "ab"@0, "cd"@10, size 16.
        let mut data = StreamHeader::new(StreamId::DATA, 0);
        data.attributes = StreamAttributes::SPARSE;
        let s = stream(&[
            (data, b""),
            (StreamHeader::sparse_block(0, 2), b"ab"),
            (StreamHeader::sparse_block(10, 2), b"cd"),
            (StreamHeader::sparse_block(16, 0), b""),
        ]);
        for chunk in [1, 3, 100] {
            let (rec, cut) = split(&s, chunk, true);
            assert!(cut.is_none());
            assert_eq!(rec.file, b"ab\0\0\0\0\0\0\0\0cd\0\0\0\0");
        }
    }

    #[test]
    fn malformed_and_truncated_streams_round_trip() {
        let good = stream(&[(StreamHeader::new(StreamId::DATA, 5), b"hello")]);
        // Truncated inside the data body.
        let (rec, cut) = split(&good[..23], 4, true);
        assert_eq!((rec.data.as_slice(), cut), (&b"hel"[..], Some((20, 3))));
        // A sparse block with Size < 8, then anything.
        let mut bad = vec![9, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        bad.extend_from_slice(&good);
        let (rec, cut) = split(&bad, 6, true);
        assert!(rec.data.is_empty() && cut.is_none());
        // Random bytes.
        let noise: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        split(&noise, 13, true);
        split(&noise, 1, false);
    }
}

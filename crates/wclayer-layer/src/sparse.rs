//! [`SparseWriter`]: data written at increasing offsets, every aligned block of zeros left
//! as a hole.
//!
//! A tar or a backup stream describes a sparse file by its logical content, zeros included,
//! so a few kilobytes of archive can claim gigabytes of zeros (docs/security.md §4). Whoever
//! stores such content (the layer directory's files, the in-memory layer's spool) writes it
//! through this writer: a file-system block that holds only zeros is never written, so it
//! stays a hole and costs no disk, as `tar` leaves the holes of sparse files. Reading a hole
//! gives the same zeros, once the file's length covers it ([`SparseWriter::end`]).

use std::io;

/// The block size holes are made of: a file-system block.
pub const HOLE_BLOCK: u64 = BLOCK as u64;

/// [`HOLE_BLOCK`] as a length.
const BLOCK: usize = 4096;

/// Bytes collected before one positioned write.
const WRITE_SIZE: usize = 64 << 10;

/// Whether `data` is all zeros.
fn is_zero(data: &[u8]) -> bool {
    // OR-ing all bytes vectorises; `all(== 0)` stops early but does not.
    data.iter().fold(0u8, |a, &b| a | b) == 0
}

/// Something that takes bytes at an offset: a file (`pwrite`), or any `Write + Seek`.
pub trait WriteAt {
    /// Writes all of `buf` at offset `at`.
    ///
    /// # Errors
    /// The write's error.
    fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()>;
}

impl WriteAt for std::fs::File {
    #[cfg(unix)]
    fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, at)
    }

    #[cfg(not(unix))]
    fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        self.seek(SeekFrom::Start(at))?;
        self.write_all(buf)
    }
}

/// Something that gives bytes from an offset without a seek of its own: a file (one `pread`
/// on Unix, a positioned `ReadFile` on Windows, where the file pointer moves too).
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at offset `at`; 0 at or past the end.
    ///
    /// # Errors
    /// The read's error.
    fn read_at(&mut self, buf: &mut [u8], at: u64) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at offset `at`, retrying interrupted reads.
    ///
    /// # Errors
    /// The read's error; [`io::ErrorKind::UnexpectedEof`] when the end comes first.
    fn read_exact_at(&mut self, mut buf: &mut [u8], mut at: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, at) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = buf.get_mut(n..).unwrap_or_default();
                    at = at.saturating_add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadAt for std::fs::File {
    #[cfg(unix)]
    fn read_at(&mut self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, at)
    }

    #[cfg(windows)]
    fn read_at(&mut self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(self, buf, at)
    }

    #[cfg(not(any(unix, windows)))]
    fn read_at(&mut self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        self.seek(SeekFrom::Start(at))?;
        self.read(buf)
    }
}

impl WriteAt for tempfile::SpooledTempFile {
    fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        self.seek(SeekFrom::Start(at))?;
        self.write_all(buf)
    }
}

/// Writes bytes at increasing offsets of `W`, leaving every [`HOLE_BLOCK`]-aligned block
/// that holds only zeros unwritten. A block counts when all of it is written between two
/// [`SparseWriter::seek`]s, however the bytes are cut into calls. Other bytes are collected
/// into writes of 64 KiB; a run of 64 KiB or more of data blocks that one call gives from a
/// block boundary is written straight from the caller's bytes (no copy: an import's file
/// data passes through here).
///
/// The writer never sets `W`'s length: after [`SparseWriter::flush`], extend it to
/// [`SparseWriter::end`] (trailing holes were skipped too).
#[derive(Debug)]
pub struct SparseWriter<W> {
    inner: W,
    /// Bytes to write, contiguous, at `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
    /// The current block's bytes so far, from `tail_at` (a block boundary, or where a seek
    /// landed inside a block).
    tail: Vec<u8>,
    tail_at: u64,
    /// Where the next byte goes.
    pos: u64,
    /// The furthest offset reached, written or skipped.
    end: u64,
    /// The end of the furthest bytes handed to `W`.
    written_end: u64,
}

impl<W: WriteAt> SparseWriter<W> {
    /// A writer at offset 0 of `inner`.
    pub fn new(inner: W) -> SparseWriter<W> {
        SparseWriter {
            inner,
            buf: Vec::new(),
            buf_at: 0,
            tail: Vec::new(),
            tail_at: 0,
            pos: 0,
            end: 0,
            written_end: 0,
        }
    }

    /// Moves to offset `at` (writing what is pending first).
    ///
    /// # Errors
    /// The error of writing what was pending.
    pub fn seek(&mut self, at: u64) -> io::Result<()> {
        self.flush()?;
        self.pos = at;
        self.tail_at = at;
        Ok(())
    }

    /// The offset the next byte goes to.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The furthest offset reached, by bytes written or holes skipped.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The end of the furthest bytes written to `W` (after [`SparseWriter::flush`]): a file
    /// that was empty is this long, and needs extending to [`SparseWriter::end`] when it ends
    /// in a hole.
    #[must_use]
    pub fn written_end(&self) -> u64 {
        self.written_end
    }

    /// Writes `bytes` at the current offset.
    ///
    /// # Errors
    /// `InvalidInput` past 2^64 bytes; the error of a write.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.tail.is_empty() && self.pos.is_multiple_of(HOLE_BLOCK) {
                let whole = bytes.len().saturating_sub(bytes.len() % BLOCK);
                if whole >= WRITE_SIZE {
                    // Whole blocks from a boundary: runs of data of at least a write's size
                    // go to `W` from the caller's bytes, without a copy into `buf`.
                    let (blocks, rest) = bytes.split_at(whole);
                    self.whole_blocks(blocks)?;
                    bytes = rest;
                    continue;
                }
            }
            let to_boundary = HOLE_BLOCK.saturating_sub(self.pos % HOLE_BLOCK);
            let take = usize::try_from(to_boundary)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let (chunk, rest) = bytes.split_at(take);
            let next = self
                .pos
                .checked_add(take as u64)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file too long"))?;
            if self.tail.is_empty() && take as u64 == HOLE_BLOCK {
                // A whole block in one piece.
                self.block(self.pos, chunk, true)?;
            } else {
                if self.tail.is_empty() {
                    self.tail_at = self.pos;
                }
                self.tail.extend_from_slice(chunk);
                if next.is_multiple_of(HOLE_BLOCK) {
                    self.take_tail()?;
                }
            }
            self.pos = next;
            self.end = self.end.max(next);
            bytes = rest;
        }
        Ok(())
    }

    /// Writes everything pending.
    ///
    /// # Errors
    /// The error of a write.
    pub fn flush(&mut self) -> io::Result<()> {
        self.take_tail()?;
        self.write_buf()
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Writes everything pending and returns the underlying writer.
    ///
    /// # Errors
    /// The error of a write.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }

    /// Hands the collected part of the current block on: whole (from a boundary to the
    /// next) it may become a hole.
    fn take_tail(&mut self) -> io::Result<()> {
        if self.tail.is_empty() {
            return Ok(());
        }
        let tail = std::mem::take(&mut self.tail);
        let whole = self.tail_at.is_multiple_of(HOLE_BLOCK) && tail.len() as u64 == HOLE_BLOCK;
        let r = self.block(self.tail_at, &tail, whole);
        self.tail = tail;
        self.tail.clear();
        r
    }

    /// Whole blocks at the current offset (a block boundary, nothing pending in `tail`):
    /// blocks of zeros stay holes; a run of data blocks shorter than [`WRITE_SIZE`] is
    /// collected as [`SparseWriter::block`] does, a longer one written as it is.
    fn whole_blocks(&mut self, blocks: &[u8]) -> io::Result<()> {
        let start = self.pos;
        let end = start
            .checked_add(blocks.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file too long"))?;
        let mut run = 0..0;
        let mut at = 0usize;
        for block in blocks.chunks_exact(BLOCK) {
            let next = at.saturating_add(BLOCK);
            if is_zero(block) {
                self.data_run(start, blocks, &run)?;
                self.write_buf()?;
                run = next..next;
            } else {
                run.end = next;
            }
            at = next;
        }
        self.data_run(start, blocks, &run)?;
        self.pos = end;
        self.end = self.end.max(end);
        Ok(())
    }

    /// The data blocks `blocks[run]`, `blocks` being at `start`.
    fn data_run(
        &mut self,
        start: u64,
        blocks: &[u8],
        run: &std::ops::Range<usize>,
    ) -> io::Result<()> {
        let Some(data) = blocks.get(run.clone()).filter(|d| !d.is_empty()) else {
            return Ok(());
        };
        let at = start.saturating_add(run.start as u64);
        if data.len() < WRITE_SIZE {
            return self.block(at, data, false);
        }
        self.write_buf()?;
        self.inner.write_all_at(data, at)?;
        self.written_end = self.written_end.max(at.saturating_add(data.len() as u64));
        Ok(())
    }

    /// One block (or part of one) at `at`: a hole when `whole` and all zeros, else data.
    fn block(&mut self, at: u64, data: &[u8], whole: bool) -> io::Result<()> {
        if whole && is_zero(data) {
            return self.write_buf();
        }
        if !self.buf.is_empty() && self.buf_at.saturating_add(self.buf.len() as u64) != at {
            self.write_buf()?;
        }
        if self.buf.is_empty() {
            self.buf_at = at;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_SIZE {
            self.write_buf()?;
        }
        Ok(())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all_at(&self.buf, self.buf_at)?;
            let end = self.buf_at.saturating_add(self.buf.len() as u64);
            self.written_end = self.written_end.max(end);
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positioned reads give the bytes at their offset whatever was read before, a short
    /// count at the end, 0 past it; an exact read past the end fails as such.
    #[test]
    fn reads_at_offsets() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        f.write_all_at(&data, 0).unwrap();
        let mut buf = [0u8; 100];
        for at in [9_000u64, 0, 4_321] {
            f.read_exact_at(&mut buf, at).unwrap();
            let at = usize::try_from(at).unwrap();
            assert_eq!(buf[..], data[at..at + 100]);
        }
        assert_eq!(f.read_at(&mut buf, 9_950).unwrap(), 50);
        assert_eq!(f.read_at(&mut buf, 10_000).unwrap(), 0);
        let e = f.read_exact_at(&mut buf, 9_990).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// Records the writes it gets.
    #[derive(Default)]
    struct Log(Vec<(u64, Vec<u8>)>);

    impl WriteAt for Log {
        fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
            self.0.push((at, buf.to_vec()));
            Ok(())
        }
    }

    /// The content the writes make, `len` long (holes read as zeros).
    fn content(log: &Log, len: u64) -> Vec<u8> {
        let mut out = vec![0u8; usize::try_from(len).unwrap()];
        for (at, b) in &log.0 {
            let at = usize::try_from(*at).unwrap();
            out[at..at.saturating_add(b.len())].copy_from_slice(b);
        }
        out
    }

    /// The finding behind this writer: a zero block that arrives in two calls (a stream's
    /// writes start 20 bytes into a block, after its header) was written, so one block in
    /// every 64 KiB of an 8 GiB sparse file took disk space.
    #[test]
    fn zero_blocks_cut_across_calls_stay_holes() {
        let mut w = SparseWriter::new(Log::default());
        let mut data = vec![0u8; 1 << 20];
        data[..20].copy_from_slice(&[7u8; 20]);
        // Cut at 20, then every 64 KiB from there: no block arrives whole.
        w.write_all(&data[..20]).unwrap();
        for piece in data[20..].chunks(64 << 10) {
            w.write_all(piece).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(w.end(), 1 << 20);
        let log = w.into_inner().unwrap();
        let written: usize = log.0.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(written, 4096, "only the first block: {:?}", log.0.len());
        assert_eq!(content(&log, 1 << 20), data);
    }

    #[test]
    fn data_and_partial_blocks_are_written_exactly() {
        let mut data = vec![0u8; 40_000];
        data[5000] = 1; // block 1 has data
        data[39_999] = 2; // the last, partial block
        for cut in [1usize, 7, 4096, 5000, 9000] {
            let mut w = SparseWriter::new(Log::default());
            for piece in data.chunks(cut) {
                w.write_all(piece).unwrap();
            }
            let log = w.into_inner().unwrap();
            assert_eq!(content(&log, 40_000), data, "cut {cut}");
            let written: usize = log.0.iter().map(|(_, b)| b.len()).sum();
            // Block 1 and the partial last block (40 000 - 36 864 bytes).
            assert_eq!(written, 4096 + 3136, "cut {cut}");
        }
    }

    #[test]
    fn a_block_entered_by_a_seek_is_written() {
        let mut w = SparseWriter::new(Log::default());
        w.seek(100).unwrap();
        w.write_all(&[0u8; 8192]).unwrap();
        let log = w.into_inner().unwrap();
        // 100..4096 does not start at a boundary: written; 4096..8192 is a hole; the
        // partial block after it (8192..8292) is written.
        let spans: Vec<(u64, usize)> = log.0.iter().map(|(a, b)| (*a, b.len())).collect();
        assert_eq!(spans, [(100, 3996), (8192, 100)]);
    }

    /// The writes one content makes, whatever the cuts and seeks: the same bytes (holes
    /// read as zeros), never two writes over the same byte, and no aligned block of zeros
    /// written when all of it came between two seeks.
    #[allow(clippy::arithmetic_side_effects)] // the model's own sums, in a test
    mod model {
        use super::*;
        use proptest::prelude::*;

        /// A file of runs of blocks, each run zeros or data, and a partial last block.
        fn file_data() -> impl Strategy<Value = Vec<u8>> {
            (
                prop::collection::vec((any::<bool>(), 1usize..40), 0..8),
                0usize..4096,
            )
                .prop_map(|(runs, partial)| {
                    let mut out = Vec::new();
                    for (i, (data, blocks)) in runs.iter().enumerate() {
                        let fill = if *data {
                            u8::try_from(i + 1).unwrap()
                        } else {
                            0
                        };
                        out.extend(std::iter::repeat_n(fill, blocks * BLOCK));
                    }
                    out.extend(std::iter::repeat_n(9u8, partial));
                    out
                })
        }

        proptest! {
            #[test]
            fn writes_make_the_content(
                data in file_data(),
                cuts in prop::collection::vec(1usize..200_000, 1..8),
                seek_at in prop::option::of(0usize..300_000),
            ) {
                let mut w = SparseWriter::new(Log::default());
                let mut at = 0usize;
                let mut i = 0usize;
                while at < data.len() {
                    if seek_at.is_some_and(|s| s == at || (s > at && s < at + cuts[i % cuts.len()])) {
                        // A seek to where the writer already is: the block it lands in is
                        // no longer whole.
                        w.seek(at as u64).unwrap();
                    }
                    let n = cuts[i % cuts.len()].min(data.len() - at);
                    w.write_all(&data[at..at + n]).unwrap();
                    at += n;
                    i += 1;
                }
                w.flush().unwrap();
                prop_assert_eq!(w.end(), data.len() as u64);
                let log = w.into_inner().unwrap();
                prop_assert_eq!(content(&log, data.len() as u64), data.clone());
                let mut spans: Vec<(u64, u64)> = log
                    .0
                    .iter()
                    .map(|(a, b)| (*a, *a + b.len() as u64))
                    .collect();
                spans.sort_unstable();
                for pair in spans.windows(2) {
                    prop_assert!(pair[0].1 <= pair[1].0, "overlapping writes {:?}", pair);
                }
                if seek_at.is_none() {
                    let written: u64 = spans.iter().map(|(a, b)| b - a).sum();
                    let needed = data
                        .chunks(BLOCK)
                        .filter(|b| b.len() < BLOCK || !is_zero(b))
                        .map(|b| b.len() as u64)
                        .sum::<u64>();
                    prop_assert_eq!(written, needed);
                }
            }
        }
    }
}

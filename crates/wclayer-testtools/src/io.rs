//! Readers and writers that behave as badly as `Read` and `Write` allow.
//!
//! A parser tested only against `&[u8]` sees every read filled to the brim and never sees
//! `ErrorKind::Interrupted`. Pipes, sockets and decompressors do both. [`ShortReader`] and
//! [`ShortWriter`] hand out a few bytes per call (1 to `max_chunk`, chosen by a seeded
//! generator so that a failing test can be replayed) and now and then fail once with
//! `Interrupted`, which callers must retry (house habit 1: every parser is tested behind a
//! short-read wrapper).

use std::io::{self, Read, Seek, SeekFrom, Write};

/// Largest chunk handed out per call by [`ShortReader::new`] and [`ShortWriter::new`].
pub const DEFAULT_MAX_CHUNK: usize = 7;

/// One in how many calls fails with `Interrupted` (never two calls in a row).
const INTERRUPT_ONE_IN: u64 = 5;

/// A small deterministic generator (SplitMix64). Test tools must not depend on a random
/// crate or on the clock: the same seed must give the same sequence of chunk sizes.
#[derive(Debug, Clone)]
struct Chunker {
    state: u64,
    max_chunk: usize,
    /// Whether the previous call returned `Interrupted`; the next one then makes progress,
    /// so a retrying caller always gets somewhere.
    just_interrupted: bool,
}

impl Chunker {
    fn new(seed: u64, max_chunk: usize) -> Chunker {
        Chunker {
            state: seed,
            max_chunk: max_chunk.max(1),
            just_interrupted: false,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `Err(Interrupted)` or the number of bytes (at most `len`, at least 1 when `len > 0`)
    /// the next call may move.
    fn next(&mut self, len: usize) -> io::Result<usize> {
        let r = self.next_u64();
        if !self.just_interrupted && r.is_multiple_of(INTERRUPT_ONE_IN) {
            self.just_interrupted = true;
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        self.just_interrupted = false;
        let max = u64::try_from(self.max_chunk).unwrap_or(u64::MAX);
        // `max` is at least 1 (`Chunker::new`).
        let chunk = usize::try_from((r >> 8).checked_rem(max).unwrap_or(0))
            .unwrap_or(0)
            .saturating_add(1);
        Ok(chunk.min(len))
    }
}

/// Wraps a reader so that each `read` returns at most a few bytes (1 to `max_chunk`, varying
/// from call to call) and some calls fail once with `ErrorKind::Interrupted`.
///
/// Seeking is passed through unchanged, so seek-based code paths can be tested too.
#[derive(Debug, Clone)]
pub struct ShortReader<R> {
    inner: R,
    chunker: Chunker,
}

impl<R> ShortReader<R> {
    /// Wraps `inner`; chunks are 1 to [`DEFAULT_MAX_CHUNK`] bytes, chosen from `seed`.
    pub fn new(inner: R, seed: u64) -> Self {
        Self::with_max_chunk(inner, seed, DEFAULT_MAX_CHUNK)
    }

    /// Wraps `inner`; chunks are 1 to `max_chunk` bytes (`max_chunk` 0 counts as 1).
    pub fn with_max_chunk(inner: R, seed: u64, max_chunk: usize) -> Self {
        ShortReader {
            inner,
            chunker: Chunker::new(seed, max_chunk),
        }
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for ShortReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return self.inner.read(buf);
        }
        let n = self.chunker.next(buf.len())?;
        match buf.get_mut(..n) {
            Some(part) => self.inner.read(part),
            None => self.inner.read(buf),
        }
    }
}

impl<R: Seek> Seek for ShortReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Wraps a writer so that each `write` accepts at most a few bytes (1 to `max_chunk`,
/// varying from call to call) and some calls fail once with `ErrorKind::Interrupted`.
/// `flush` is passed through.
#[derive(Debug, Clone)]
pub struct ShortWriter<W> {
    inner: W,
    chunker: Chunker,
}

impl<W> ShortWriter<W> {
    /// Wraps `inner`; chunks are 1 to [`DEFAULT_MAX_CHUNK`] bytes, chosen from `seed`.
    pub fn new(inner: W, seed: u64) -> Self {
        Self::with_max_chunk(inner, seed, DEFAULT_MAX_CHUNK)
    }

    /// Wraps `inner`; chunks are 1 to `max_chunk` bytes (`max_chunk` 0 counts as 1).
    pub fn with_max_chunk(inner: W, seed: u64, max_chunk: usize) -> Self {
        ShortWriter {
            inner,
            chunker: Chunker::new(seed, max_chunk),
        }
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Unwraps the writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for ShortWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return self.inner.write(buf);
        }
        let n = self.chunker.next(buf.len())?;
        match buf.get(..n) {
            Some(part) => self.inner.write(part),
            None => self.inner.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reader_delivers_everything_in_small_chunks() {
        let data: Vec<u8> = (0..=255).collect();
        let mut r = ShortReader::new(&data[..], 42);
        let mut out = Vec::new();
        let mut interrupted = 0;
        let mut buf = [0u8; 64];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    assert!((1..=DEFAULT_MAX_CHUNK).contains(&n));
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::Interrupted);
                    interrupted += 1;
                }
            }
        }
        assert_eq!(out, data);
        assert!(interrupted > 0, "the wrapper should interrupt now and then");
    }

    #[test]
    fn never_interrupts_twice_in_a_row() {
        let mut c = Chunker::new(7, 3);
        let mut previous_interrupted = false;
        for _ in 0..10_000 {
            let interrupted = c.next(10).is_err();
            assert!(!(interrupted && previous_interrupted));
            previous_interrupted = interrupted;
        }
    }

    #[test]
    fn short_writer_accepts_everything_through_write_all() {
        let data: Vec<u8> = (0..100).collect();
        let mut w = ShortWriter::new(Vec::new(), 3);
        w.write_all(&data).unwrap();
        assert_eq!(w.into_inner(), data);
    }

    #[test]
    fn same_seed_same_chunks() {
        let sizes = |seed| {
            let mut c = Chunker::new(seed, 7);
            (0..50).map(|_| c.next(100).ok()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(9), sizes(9));
        assert_ne!(sizes(9), sizes(10));
    }
}

//! The decompression-bomb guard of every compressed input (`--max-ratio`): the compressed
//! bytes are counted as they are read ([`Counted`]) and the output may not grow past
//! 1 GiB and more than the ratio times them ([`RatioGuard`]).

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the bytes read through it into a shared counter.
#[derive(Debug)]
pub struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> Counted<R> {
    /// Counts what is read from `inner` into `count`.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Counted<R> {
        Counted { inner, count }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Decompressed bytes before the ratio is checked: a small input may legitimately expand a
/// lot (a layer of zeros), and up to this much is harmless.
const RATIO_FLOOR: u64 = 1 << 30;

/// The default of the most bytes a compressed input may expand to per compressed byte
/// (`--max-ratio`).
pub const DEFAULT_MAX_RATIO: u64 = 1000;

/// Stops a decompression bomb: fails once the decompressed output is over 1 GiB and more
/// than `max_ratio` times the compressed bytes consumed (gzip reaches about 1000:1 on zeros,
/// zstd far more; real layers compress 2:1 to 5:1).
#[derive(Debug)]
pub struct RatioGuard<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
    produced: u64,
    max_ratio: u64,
}

impl<R> RatioGuard<R> {
    /// Guards the decompressed `inner`, whose compressed bytes [`Counted`] counts into
    /// `consumed`.
    pub fn new(inner: R, consumed: Arc<AtomicU64>, max_ratio: u64) -> RatioGuard<R> {
        RatioGuard {
            inner,
            consumed,
            produced: 0,
            max_ratio,
        }
    }
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced = self.produced.saturating_add(n as u64);
        if self.produced > RATIO_FLOOR
            && self.produced
                > self
                    .consumed
                    .load(Ordering::Relaxed)
                    .saturating_mul(self.max_ratio)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the compressed input expands more than {} times (raise --max-ratio to allow it)",
                    self.max_ratio
                ),
            ));
        }
        Ok(n)
    }
}

//! Parallel gzip for layer exports, and the pipelines that move a layer's bytes between
//! threads ([`ReadAhead`], [`WriteBehind`]).
//!
//! [`ParallelGzEncoder`] writes one gzip member (RFC 1952) whose deflate stream is made on
//! every core: the input is cut into blocks ([`DEFAULT_BLOCK_SIZE`] by default), each block
//! is raw-deflated on a worker thread with the last 32 KiB of the input before it as the
//! preset dictionary, and ended with a sync flush (an empty stored block), so the blocks, in
//! order, form one valid deflate stream; the last block ends the stream. Each worker also
//! computes its block's CRC-32, and the writer combines them in order for the trailer. A
//! reader sees an ordinary single-member `.gz`: `gzip -t`, Go's `compress/gzip`, Python's
//! `gzip` and flate2's [`GzDecoder`](flate2::read::GzDecoder) read it like any other.
//!
//! The output is a pure function of the input, the level and the block size: neither the
//! number of threads nor the timing of the workers changes a byte, so a one-core run and an
//! eight-core run give the same file. It is not the file a single-threaded deflate writes:
//! every block costs a few bytes of sync flush and starts a fresh deflate state (primed with
//! the 32 KiB dictionary), and every block starts new Huffman tables; on layer tars the two
//! come out within a fraction of a per cent of each other.
//!
//! With [`GzOptions::hash_input`] the encoder also computes the SHA-256 of its input (a
//! layer's diffID) on a thread of its own, fed the same block buffers the workers compress,
//! so the caller's thread, which produces the input and writes the output, does neither the
//! compression nor that hash.
//!
//! # Why by hand
//!
//! flate2 (here on the zlib-rs backend) compresses on one thread. The maintained parallel
//! compressor for Rust, `gzp`, has a parallel gzip writer built on flate2 too, but its
//! default features build C libraries (zlib-ng through libz-sys, and libdeflate), and it
//! brings its own channel and thread crates (flume, `core_affinity`, `num_cpus`, bytes,
//! byteorder in its 0.9 series) for what is, on top of flate2's `Compress`, a few hundred
//! lines of `std` threads and channels. Written here, the encoder also feeds the input's
//! SHA-256 from the same buffers, starts every block from a fresh deflate state so the
//! output does not depend on the thread count, and has no `unsafe`.
//!
//! # Memory
//!
//! At most twice as many blocks as there are workers are being compressed or waiting to be
//! written, and the hash thread lags at most as many; their buffers are reused. With the
//! default block size and two workers that is about 10 MiB, whatever the size of the input.
//!
//! # Errors
//!
//! An error of the inner writer, of a worker (deflate failing, a worker panicking or
//! stopping) or of the hash thread is returned by the `write`, `flush` or
//! [`finish`](ParallelGzEncoder::finish) that meets it, and by every later call: the
//! encoder does not write after an error.
//!
//! ```
//! use std::io::{Read, Write};
//! use wclayer_compress::GzOptions;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut gz = GzOptions::new().hash_input(true).build(Vec::new());
//! gz.write_all(b"a layer tar")?;
//! let done = gz.finish_with_digest()?;
//! let mut plain = Vec::new();
//! flate2::read::GzDecoder::new(&done.inner[..]).read_to_end(&mut plain)?;
//! assert_eq!(plain, b"a layer tar");
//! assert_eq!(done.input_len, 11);
//! assert!(done.input_sha256.is_some());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod pipe;
pub use pipe::{Prefetch, ReadAhead, WriteBehind};

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::{Digest, Sha256};

/// The block size of [`GzOptions::new`]: 1 MiB of input per block.
///
/// Every block pays for a fresh deflate state and for hashing its 32 KiB dictionary, so
/// larger blocks are faster: on a layer tar of 310 MB, two workers took 3–6 % less time
/// with 1 MiB blocks than with 128 KiB ones (and 256 KiB sat in between), for an output
/// 0.14 % larger (docs/performance.md, "Export, gzip").
pub const DEFAULT_BLOCK_SIZE: usize = 1024 * 1024;

/// The most workers [`GzOptions::threads`]`(0)` starts, whatever the number of cores.
pub const MAX_AUTO_THREADS: usize = 8;

/// The deflate window: how far back a match may reach, and so the dictionary's size.
const WINDOW: usize = 32 * 1024;

/// Blocks in the workers' hands or waiting to be written, per worker.
const IN_FLIGHT_PER_WORKER: usize = 2;

/// How long the writer waits for a result before it checks that the workers still run.
const WORKER_CHECK: Duration = Duration::from_millis(200);

/// The gzip header: magic, CM = deflate, no flags, MTIME 0, XFL (set per level), OS 255
/// ("unknown"), as flate2's `GzEncoder` writes it.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The gzip level of wclayer's compressed outputs unless one is asked for, and of
/// [`GzOptions::new`]: chosen by measurement (docs/performance.md, "The level"). On the
/// nanoserver-shaped layer, with zlib-rs and 1 MiB blocks, level 3 deflates in about 0.88 of
/// level 4's time, and its output is 1 % larger than level 4's and still 1.3 % smaller than
/// `pigz -6`'s.
pub const GZIP_LEVEL: u32 = 3;

/// The zstd level of wclayer's compressed outputs unless one is asked for (zstd's own
/// default).
pub const ZSTD_LEVEL: i32 = 3;

/// The settings of a [`ParallelGzEncoder`].
#[derive(Debug, Clone)]
pub struct GzOptions {
    level: Compression,
    block_size: usize,
    threads: usize,
    hash_input: bool,
}

impl Default for GzOptions {
    fn default() -> GzOptions {
        GzOptions::new()
    }
}

impl GzOptions {
    /// Level [`GZIP_LEVEL`], [`DEFAULT_BLOCK_SIZE`], one worker per core (at most
    /// [`MAX_AUTO_THREADS`]), no input hash.
    pub fn new() -> GzOptions {
        GzOptions {
            level: Compression::new(GZIP_LEVEL),
            block_size: DEFAULT_BLOCK_SIZE,
            threads: 0,
            hash_input: false,
        }
    }

    /// The deflate level, 0 to 9.
    pub fn level(mut self, level: Compression) -> GzOptions {
        self.level = level;
        self
    }

    /// Bytes of input per block (at least 1). Larger blocks compress a little better and
    /// cost more memory; the output depends on it.
    pub fn block_size(mut self, block_size: usize) -> GzOptions {
        self.block_size = block_size.max(1);
        self
    }

    /// Worker threads: 0 for one per core (at most [`MAX_AUTO_THREADS`]); 1 compresses on
    /// the caller's thread. The output does not depend on it.
    pub fn threads(mut self, threads: usize) -> GzOptions {
        self.threads = threads;
        self
    }

    /// Whether to compute the SHA-256 of the input, reported by
    /// [`ParallelGzEncoder::finish_with_digest`].
    pub fn hash_input(mut self, hash_input: bool) -> GzOptions {
        self.hash_input = hash_input;
        self
    }

    /// The encoder writing to `inner`. Its threads are started here; when the system
    /// refuses a thread, the encoder does with fewer (down to none: compressing and hashing
    /// on the caller's thread).
    pub fn build<W: Write>(self, inner: W) -> ParallelGzEncoder<W> {
        ParallelGzEncoder::with_options(inner, self)
    }
}

/// What [`ParallelGzEncoder::finish_with_digest`] returns.
#[derive(Debug)]
pub struct Finished<W> {
    /// The inner writer, flushed.
    pub inner: W,
    /// Bytes of input.
    pub input_len: u64,
    /// The SHA-256 of the input, when [`GzOptions::hash_input`] asked for it.
    pub input_sha256: Option<[u8; 32]>,
    /// The CRC-32 of the input, as in the gzip trailer.
    pub crc32: u32,
}

/// A writer that gzips what it is given into `W`, on several threads, as one gzip member.
///
/// Call [`finish`](ParallelGzEncoder::finish) (or
/// [`finish_with_digest`](ParallelGzEncoder::finish_with_digest)) at the end: it writes the
/// last block and the trailer. Dropping the encoder without it stops the threads and leaves
/// the output incomplete.
pub struct ParallelGzEncoder<W: Write> {
    out: Sink<W>,
    block_size: usize,
    /// The block being filled.
    cur: Vec<u8>,
    /// The last (at most) 32 KiB of the input handed to the blocks so far.
    history: Vec<u8>,
    input_len: u64,
    engine: Engine,
    hasher: InputHasher,
    buffers: Buffers,
    /// The first error met; every later call returns it again.
    failed: Option<(io::ErrorKind, String)>,
}

impl<W: Write> std::fmt::Debug for ParallelGzEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGzEncoder")
            .field("level", &self.out.level.level())
            .field("block_size", &self.block_size)
            .field("input_len", &self.input_len)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ParallelGzEncoder<W> {
    /// An encoder with [`GzOptions::new`] at `level`.
    pub fn new(inner: W, level: Compression) -> ParallelGzEncoder<W> {
        GzOptions::new().level(level).build(inner)
    }

    fn with_options(inner: W, o: GzOptions) -> ParallelGzEncoder<W> {
        let workers = match o.threads {
            0 => thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_AUTO_THREADS),
            n => n,
        };
        let engine = if workers > 1 {
            Pool::start(workers, o.level).map_or(Engine::Inline, Engine::Pool)
        } else {
            Engine::Inline
        };
        let hasher = match (o.hash_input, &engine) {
            (false, _) => InputHasher::Off,
            (true, Engine::Inline) => InputHasher::Inline(Sha256::new()),
            (true, Engine::Pool(p)) => InputHasher::start(p.max_in_flight),
        };
        ParallelGzEncoder {
            out: Sink {
                inner,
                level: o.level,
                header_written: false,
                crc: Crc::new(),
            },
            block_size: o.block_size,
            cur: Vec::new(),
            history: Vec::with_capacity(WINDOW),
            input_len: 0,
            engine,
            hasher,
            buffers: Buffers::default(),
            failed: None,
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.out.inner
    }

    /// Writes the last block and the trailer, flushes the inner writer and returns it.
    pub fn finish(self) -> io::Result<W> {
        self.finish_with_digest().map(|f| f.inner)
    }

    /// As [`finish`](ParallelGzEncoder::finish), with the input's length, CRC-32 and (when
    /// asked for) SHA-256.
    pub fn finish_with_digest(mut self) -> io::Result<Finished<W>> {
        self.check()?;
        let r = self.finish_stream();
        self.record(r)?;
        let input_sha256 = std::mem::replace(&mut self.hasher, InputHasher::Off).finish()?;
        Ok(Finished {
            crc32: self.out.crc.sum(),
            inner: self.out.inner,
            input_len: self.input_len,
            input_sha256,
        })
    }

    fn finish_stream(&mut self) -> io::Result<()> {
        self.submit(true)?;
        if let Engine::Pool(p) = &mut self.engine {
            p.drain(0, &mut self.out, &mut self.buffers)?;
        }
        let mut trailer = [0u8; 8];
        let (crc, size) = trailer.split_at_mut(4);
        crc.copy_from_slice(&self.out.crc.sum().to_le_bytes());
        // ISIZE is the input's length modulo 2^32 (RFC 1952): the truncation is the format.
        #[allow(clippy::cast_possible_truncation)]
        size.copy_from_slice(&(self.input_len as u32).to_le_bytes());
        self.out.inner.write_all(&trailer)?;
        self.out.inner.flush()
    }

    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
            None => Ok(()),
        }
    }

    fn record<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            self.failed = Some((e.kind(), e.to_string()));
        }
        r
    }

    /// Hands the current block to the hash and the compressor; `last` ends the stream.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::take(&mut self.cur);
        let mut dict = self.buffers.take_dict();
        dict.extend_from_slice(&self.history);
        push_history(&mut self.history, &data);
        // A count of bytes written, which never comes near 2^64.
        self.input_len = self.input_len.saturating_add(data.len() as u64);
        let data = Arc::new(data);
        self.hasher.feed(&data)?;
        match &mut self.engine {
            Engine::Inline => {
                let mut out = self.buffers.take_out();
                let crc = deflate_block(self.out.level, &dict, &data, last, &mut out)?;
                self.out.write_block(&out, &crc)?;
                self.buffers.put_out(out);
                self.buffers.put_dict(dict);
                self.buffers.put_data(data);
            }
            Engine::Pool(p) => {
                let limit = p.max_in_flight.saturating_sub(1);
                p.drain(limit, &mut self.out, &mut self.buffers)?;
                let out = self.buffers.take_out();
                p.send(Job {
                    seq: p.next_seq,
                    data,
                    dict,
                    last,
                    out,
                })?;
                while p.poll_one(&mut self.buffers)? {}
                p.write_ready(&mut self.out, &mut self.buffers)?;
            }
        }
        Ok(())
    }

    fn write_inner(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.cur.len() >= self.block_size {
            self.submit(false)?;
        }
        if self.cur.capacity() == 0 {
            self.cur = self.buffers.take_data(self.block_size);
        }
        let room = self.block_size.saturating_sub(self.cur.len());
        let taken = buf.get(..room).unwrap_or(buf);
        self.cur.extend_from_slice(taken);
        Ok(taken.len())
    }

    fn flush_inner(&mut self) -> io::Result<()> {
        if !self.cur.is_empty() {
            self.submit(false)?;
        }
        if let Engine::Pool(p) = &mut self.engine {
            p.drain(0, &mut self.out, &mut self.buffers)?;
        }
        self.out.inner.flush()
    }
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        let r = self.write_inner(buf);
        self.record(r)
    }

    /// Compresses what was written so far (ending its block early), writes it and flushes
    /// the inner writer. The stream stays open; frequent flushes cost parallelism and size.
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        let r = self.flush_inner();
        self.record(r)
    }
}

/// The inner writer, with what the gzip framing needs to know.
struct Sink<W> {
    inner: W,
    level: Compression,
    header_written: bool,
    /// CRC-32 of the blocks written so far.
    crc: Crc,
}

impl<W: Write> Sink<W> {
    /// Writes the header before the first block, then the block.
    fn write_block(&mut self, block: &[u8], crc: &Crc) -> io::Result<()> {
        if !self.header_written {
            let mut header = HEADER;
            if let Some(xfl) = header.get_mut(8) {
                // As gzip and flate2: 2 for the slowest level, 4 for the fastest.
                *xfl = match self.level.level() {
                    9.. => 2,
                    0..=1 => 4,
                    _ => 0,
                };
            }
            self.inner.write_all(&header)?;
            self.header_written = true;
        }
        self.inner.write_all(block)?;
        self.crc.combine(crc);
        Ok(())
    }
}

/// Keeps the last `WINDOW` bytes of `history` followed by `data`.
fn push_history(history: &mut Vec<u8>, data: &[u8]) {
    if data.len() >= WINDOW {
        history.clear();
        history.extend_from_slice(
            data.get(data.len().saturating_sub(WINDOW)..)
                .unwrap_or(data),
        );
    } else {
        let keep = WINDOW.saturating_sub(data.len());
        let drop = history.len().saturating_sub(keep);
        history.drain(..drop);
        history.extend_from_slice(data);
    }
}

/// Raw-deflates `data` into `out` with `dict` as the preceding window, ending with a sync
/// flush (or, for the `last` block, the end of the stream); returns the CRC-32 of `data`.
fn deflate_block(
    level: Compression,
    dict: &[u8],
    data: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<Crc> {
    let mut crc = Crc::new();
    crc.update(data);
    // A fresh state for every block: zlib-rs's `reset` leaves traces of the previous block
    // that can change the matches found (never the correctness), and the output would then
    // depend on which worker took which block.
    let mut c = Compress::new(level, false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    out.clear();
    // Deflate's worst case is a few bytes per 16 KiB stored block; one call usually does it.
    out.reserve(
        data.len()
            .saturating_add(data.len() / 8)
            .saturating_add(1024),
    );
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let start = c.total_in();
    let mut before = (start, c.total_out());
    loop {
        let consumed = usize::try_from(c.total_in().saturating_sub(start))
            .map_err(|_| io::Error::other("deflate consumed more than its block"))?;
        let rest = data
            .get(consumed..)
            .ok_or_else(|| io::Error::other("deflate consumed more than its block"))?;
        let status = c.compress_vec(rest, out, flush).map_err(io::Error::other)?;
        let all_in = c.total_in().saturating_sub(start) == data.len() as u64;
        match status {
            Status::StreamEnd if last => return Ok(crc),
            // A sync flush is complete once all input is in and deflate left room unused.
            Status::Ok | Status::BufError if !last && all_in && out.len() < out.capacity() => {
                return Ok(crc);
            }
            Status::StreamEnd => return Err(io::Error::other("deflate ended the stream early")),
            Status::Ok | Status::BufError => {
                let now = (c.total_in(), c.total_out());
                if status == Status::BufError && now == before {
                    return Err(io::Error::other("deflate made no progress"));
                }
                before = now;
                out.reserve(out.capacity().max(4096));
            }
        }
    }
}

/// Where the blocks are compressed.
enum Engine {
    /// On the caller's thread (one thread asked for, or none could be started).
    Inline,
    /// On worker threads.
    Pool(Pool),
}

/// A block for a worker.
struct Job {
    seq: u64,
    data: Arc<Vec<u8>>,
    dict: Vec<u8>,
    last: bool,
    out: Vec<u8>,
}

/// A worker's answer, with the job's buffers to reuse.
struct Done {
    seq: u64,
    result: io::Result<Block>,
    data: Arc<Vec<u8>>,
    dict: Vec<u8>,
}

/// A compressed block.
struct Block {
    out: Vec<u8>,
    crc: Crc,
}

/// The worker threads and the blocks they have.
struct Pool {
    jobs: Option<Sender<Job>>,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    /// Blocks sent and not yet received back.
    in_flight: usize,
    max_in_flight: usize,
    next_seq: u64,
    /// The sequence number of the next block to write.
    next_write: u64,
    /// Compressed blocks received ahead of their turn.
    ready: BTreeMap<u64, Block>,
}

impl Pool {
    /// Starts up to `n` workers; `None` when not even two could be started.
    fn start(n: usize, level: Compression) -> Option<Pool> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (result_tx, results) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let rx = Arc::clone(&job_rx);
            let tx = result_tx.clone();
            let spawned = thread::Builder::new()
                .name(format!("gzip-{i}"))
                .spawn(move || worker(&rx, &tx, level));
            match spawned {
                Ok(h) => workers.push(h),
                Err(_) => break,
            }
        }
        if workers.len() < 2 {
            return None;
        }
        Some(Pool {
            jobs: Some(jobs),
            results,
            max_in_flight: workers.len().saturating_mul(IN_FLIGHT_PER_WORKER),
            workers,
            in_flight: 0,
            next_seq: 0,
            next_write: 0,
            ready: BTreeMap::new(),
        })
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.jobs.as_ref().map(|j| j.send(job));
        match sent {
            Some(Ok(())) => {
                self.in_flight = self.in_flight.saturating_add(1);
                self.next_seq = self.next_seq.saturating_add(1);
                Ok(())
            }
            _ => Err(stopped()),
        }
    }

    /// Receives results and writes the blocks that are next in order until at most
    /// `limit` blocks are in flight.
    fn drain<W: Write>(
        &mut self,
        limit: usize,
        out: &mut Sink<W>,
        buffers: &mut Buffers,
    ) -> io::Result<()> {
        while self.in_flight > limit {
            self.wait_one(buffers)?;
            self.write_ready(out, buffers)?;
        }
        Ok(())
    }

    /// Writes the compressed blocks that are next in order.
    fn write_ready<W: Write>(
        &mut self,
        out: &mut Sink<W>,
        buffers: &mut Buffers,
    ) -> io::Result<()> {
        while let Some(block) = self.ready.remove(&self.next_write) {
            out.write_block(&block.out, &block.crc)?;
            buffers.put_out(block.out);
            self.next_write = self.next_write.saturating_add(1);
        }
        Ok(())
    }

    /// Waits for one result.
    fn wait_one(&mut self, buffers: &mut Buffers) -> io::Result<()> {
        loop {
            match self.results.recv_timeout(WORKER_CHECK) {
                Ok(done) => return self.receive(done, buffers),
                // A worker only ends when the encoder drops its job queue: one that has
                // ended may have taken a block with it.
                Err(RecvTimeoutError::Timeout) => {
                    if self.workers.iter().any(JoinHandle::is_finished) {
                        return Err(stopped());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Err(stopped()),
            }
        }
    }

    /// Takes a result if one is there; whether it took one.
    fn poll_one(&mut self, buffers: &mut Buffers) -> io::Result<bool> {
        match self.results.try_recv() {
            Ok(done) => self.receive(done, buffers).map(|()| true),
            Err(mpsc::TryRecvError::Empty) => Ok(false),
            Err(mpsc::TryRecvError::Disconnected) => Err(stopped()),
        }
    }

    fn receive(&mut self, done: Done, buffers: &mut Buffers) -> io::Result<()> {
        self.in_flight = self.in_flight.saturating_sub(1);
        buffers.put_data(done.data);
        buffers.put_dict(done.dict);
        let block = done.result?;
        self.ready.insert(done.seq, block);
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends each worker after its current block.
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("a gzip worker thread stopped")
}

/// A worker: compresses blocks until the queue closes.
fn worker(jobs: &Mutex<Receiver<Job>>, results: &Sender<Done>, level: Compression) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(Job {
            seq,
            data,
            dict,
            last,
            mut out,
        }) = job
        else {
            return;
        };
        let r = catch_unwind(AssertUnwindSafe(|| {
            deflate_block(level, &dict, &data, last, &mut out)
        }));
        let result = match r {
            Ok(Ok(crc)) => Ok(Block { out, crc }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("a gzip worker thread panicked")),
        };
        let done = Done {
            seq,
            result,
            data,
            dict,
        };
        if results.send(done).is_err() {
            return;
        }
    }
}

/// The SHA-256 of the input, if asked for.
enum InputHasher {
    Off,
    Inline(Sha256),
    /// On a thread fed the blocks in order through a bounded queue.
    Thread {
        tx: Option<SyncSender<Arc<Vec<u8>>>>,
        handle: Option<JoinHandle<[u8; 32]>>,
    },
}

impl InputHasher {
    fn start(queue: usize) -> InputHasher {
        let (tx, rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(queue);
        let spawned = thread::Builder::new()
            .name("gzip-sha256".to_owned())
            .spawn(move || {
                let mut h = Sha256::new();
                for block in rx {
                    h.update(block.as_slice());
                }
                h.finalize().into()
            });
        match spawned {
            Ok(handle) => InputHasher::Thread {
                tx: Some(tx),
                handle: Some(handle),
            },
            Err(_) => InputHasher::Inline(Sha256::new()),
        }
    }

    fn feed(&mut self, data: &Arc<Vec<u8>>) -> io::Result<()> {
        match self {
            InputHasher::Off => Ok(()),
            InputHasher::Inline(h) => {
                h.update(data.as_slice());
                Ok(())
            }
            InputHasher::Thread { tx, .. } => match tx.as_ref().map(|t| t.send(Arc::clone(data))) {
                Some(Ok(())) => Ok(()),
                _ => Err(io::Error::other("the SHA-256 thread stopped")),
            },
        }
    }

    fn finish(mut self) -> io::Result<Option<[u8; 32]>> {
        match &mut self {
            InputHasher::Off => Ok(None),
            InputHasher::Inline(h) => Ok(Some(std::mem::take(h).finalize().into())),
            InputHasher::Thread { tx, handle } => {
                *tx = None;
                match handle.take().map(JoinHandle::join) {
                    Some(Ok(d)) => Ok(Some(d)),
                    _ => Err(io::Error::other("the SHA-256 thread stopped")),
                }
            }
        }
    }
}

impl Drop for InputHasher {
    fn drop(&mut self) {
        if let InputHasher::Thread { tx, handle } = self {
            *tx = None;
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// Buffers to reuse: input blocks (once neither a worker nor the hash thread holds them),
/// dictionaries and compressed blocks.
#[derive(Default)]
struct Buffers {
    data: Vec<Arc<Vec<u8>>>,
    dicts: Vec<Vec<u8>>,
    outs: Vec<Vec<u8>>,
}

/// More spare buffers of a kind than this are dropped.
const SPARE: usize = 4 * MAX_AUTO_THREADS;

impl Buffers {
    fn take_data(&mut self, capacity: usize) -> Vec<u8> {
        // Only this encoder clones the Arcs, and it holds none but these: a count of one
        // stays one.
        if let Some(i) = self.data.iter().position(|a| Arc::strong_count(a) == 1) {
            let a = self.data.swap_remove(i);
            if let Ok(mut v) = Arc::try_unwrap(a) {
                v.clear();
                return v;
            }
        }
        Vec::with_capacity(capacity)
    }

    fn put_data(&mut self, a: Arc<Vec<u8>>) {
        if self.data.len() < SPARE {
            self.data.push(a);
        }
    }

    fn take_dict(&mut self) -> Vec<u8> {
        let mut d = self.dicts.pop().unwrap_or_default();
        d.clear();
        d
    }

    fn put_dict(&mut self, d: Vec<u8>) {
        if self.dicts.len() < SPARE {
            self.dicts.push(d);
        }
    }

    fn take_out(&mut self) -> Vec<u8> {
        self.outs.pop().unwrap_or_default()
    }

    fn put_out(&mut self, o: Vec<u8>) {
        if self.outs.len() < SPARE {
            self.outs.push(o);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test data and fixtures, of sizes the tests choose"
)]
mod tests;

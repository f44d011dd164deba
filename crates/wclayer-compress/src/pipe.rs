//! Pipelines that move a layer's bytes between threads, so that the thread doing a layer's
//! own work never waits for reading, inflating, hashing or writing (docs/performance.md,
//! "Import" and "Export, plain"):
//!
//! - [`ReadAhead`]: an input read (and decompressed, by the reader it is given) on a thread
//!   of its own and hashed (SHA-256, a layer's diffID) on another, handed out in chunks;
//! - [`WriteBehind`]: an output written on a thread of its own and hashed on another;
//! - [`Prefetch`]: a compressed input read on a thread of its own, so that the thread that
//!   decompresses it does nothing else.
//!
//! Both keep memory bounded by a few chunks of 1 MiB and reuse their buffers; a buffer
//! shared by two threads goes back for reuse when the last of them is done with it.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest as _, Sha256};

/// The first error of a pipeline, given again by every later call: a thread's error is
/// received once, and the caller may call again.
#[derive(Default)]
struct Sticky(Option<(io::ErrorKind, String)>);

impl Sticky {
    /// The remembered error, if any.
    fn check(&self) -> io::Result<()> {
        match &self.0 {
            Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
            None => Ok(()),
        }
    }

    fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Remembers `e` (unless an error came first) and gives it back.
    fn set(&mut self, e: io::Error) -> io::Error {
        if self.0.is_none() {
            self.0 = Some((e.kind(), e.to_string()));
        }
        e
    }
}

/// The error of a reader whose thread went away without saying why.
fn input_stopped() -> io::Error {
    io::Error::other("the thread reading the input stopped")
}

/// Copies what fits of `have` into `buf`; how many bytes.
fn copy_out(have: &[u8], buf: &mut [u8]) -> usize {
    let n = have.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// Bytes the read-ahead thread hands over at a time.
const AHEAD_CHUNK: usize = 1 << 20;
/// Chunks read ahead before the thread waits for the reader.
const AHEAD_QUEUE: usize = 4;

/// What the read-ahead thread sends.
enum Ahead {
    /// The first `n` bytes of the chunk.
    Data(Chunk, usize),
    /// The end of the input, with the SHA-256 of all of it.
    End([u8; 32]),
    Error(io::Error),
}

/// The uncompressed input, read and decompressed on a thread of its own and hashed on
/// another while the caller works on what came before (docs/performance.md, "Import"): the
/// caller's thread does only the layer's work, and inflating does not wait for hashing.
/// Memory is bounded by two queues of four chunks of 1 MiB, which
/// share their buffers. [`ReadAhead::finish`] gives the SHA-256 of the uncompressed input (an
/// OCI layer's diffID) once all of it was read.
pub struct ReadAhead {
    chunks: Receiver<Ahead>,
    spare: SyncSender<Vec<u8>>,
    cur: Chunk,
    len: usize,
    pos: usize,
    digest: Option<[u8; 32]>,
    /// An error of the reader, reported again on every later read.
    failed: Sticky,
}

impl ReadAhead {
    /// Starts reading `r` on a thread of its own.
    #[must_use]
    pub fn spawn(mut r: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, chunks) = sync_channel(AHEAD_QUEUE);
        let (spare, spare_rx) =
            sync_channel::<Vec<u8>>(AHEAD_QUEUE.saturating_mul(2).saturating_add(2));
        let spare_h = spare.clone();
        let ahead = move || {
            let mut hash = AheadHash::spawn(spare_h);
            loop {
                let mut buf = spare_rx.try_recv().unwrap_or_default();
                // Every buffer is a whole chunk: a shorter one would read as the input's end.
                buf.resize(AHEAD_CHUNK, 0);
                let msg = match read_full(&mut r, &mut buf) {
                    Ok(0) => match hash.finish() {
                        Some(digest) => Ahead::End(digest),
                        None => {
                            Ahead::Error(io::Error::other("the thread hashing the input stopped"))
                        }
                    },
                    Ok(n) => {
                        let chunk = Arc::new(buf);
                        hash.update(&chunk, n);
                        Ahead::Data(chunk, n)
                    }
                    Err(e) => Ahead::Error(e),
                };
                let last = !matches!(msg, Ahead::Data(..));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        };
        // Without a thread the same work happens on the caller's thread, one chunk at a
        // time (the channel holds the rest).
        if std::thread::Builder::new()
            .name("input".into())
            .spawn(ahead)
            .is_err()
        {
            let (tx, chunks) = sync_channel(1);
            let _ = tx.send(Ahead::Error(io::Error::other(
                "cannot start the thread that reads the input",
            )));
            return ReadAhead::new(chunks, spare);
        }
        ReadAhead::new(chunks, spare)
    }

    fn new(chunks: Receiver<Ahead>, spare: SyncSender<Vec<u8>>) -> ReadAhead {
        ReadAhead {
            chunks,
            spare,
            cur: Chunk::default(),
            len: 0,
            pos: 0,
            digest: None,
            failed: Sticky::default(),
        }
    }

    /// The first bytes of the input (its first chunk, up to 1 MiB; fewer only when the input
    /// is shorter), without consuming them: `read` hands them out as usual. Waits for them;
    /// empty after an error or for an empty input.
    pub fn head(&mut self) -> &[u8] {
        if self.len == 0 && self.pos == 0 && self.digest.is_none() && !self.failed.is_set() {
            match self.chunks.recv() {
                Ok(Ahead::Data(b, n)) => {
                    self.cur = b;
                    self.len = n;
                }
                Ok(Ahead::End(d)) => self.digest = Some(d),
                Ok(Ahead::Error(e)) => {
                    self.failed.set(e);
                }
                Err(_) => {}
            }
        }
        self.cur.get(..self.len).unwrap_or_default()
    }

    /// Reads what is left (an archive may end before its input does) and returns the
    /// SHA-256 of the whole input.
    ///
    /// # Errors
    /// The reader's error, or the hash thread's failure.
    pub fn finish(&mut self) -> io::Result<[u8; 32]> {
        io::copy(self, &mut io::sink())?;
        self.digest
            .ok_or_else(|| io::Error::other("the input ended without its digest"))
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.failed.check()?;
        while self.pos >= self.len {
            if self.digest.is_some() {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ahead::Data(b, n)) => {
                    let old = std::mem::replace(&mut self.cur, b);
                    // The empty chunk the reader starts with is no buffer to reuse.
                    if !old.is_empty() {
                        recycle(old, &self.spare);
                    }
                    self.len = n;
                    self.pos = 0;
                }
                Ok(Ahead::End(d)) => self.digest = Some(d),
                Ok(Ahead::Error(e)) => return Err(self.failed.set(e)),
                Err(_) => return Err(self.failed.set(input_stopped())),
            }
        }
        let n = copy_out(self.cur.get(self.pos..self.len).unwrap_or_default(), buf);
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

/// The SHA-256 of the input, computed on a thread of its own (or, when that cannot start, on
/// the read-ahead thread).
enum AheadHash {
    Thread {
        chunks: SyncSender<(Chunk, usize)>,
        handle: std::thread::JoinHandle<Sha256>,
    },
    Inline(Sha256),
}

impl AheadHash {
    fn spawn(spare: SyncSender<Vec<u8>>) -> AheadHash {
        let (chunks, rx) = sync_channel::<(Chunk, usize)>(AHEAD_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("input-hash".into())
            .spawn(move || {
                let mut hash = Sha256::new();
                for (chunk, n) in rx {
                    hash.update(chunk.get(..n).unwrap_or_default());
                    recycle(chunk, &spare);
                }
                hash
            });
        match spawned {
            Ok(handle) => AheadHash::Thread { chunks, handle },
            Err(_) => AheadHash::Inline(Sha256::new()),
        }
    }

    /// Hashes the first `n` bytes of `chunk` next.
    fn update(&mut self, chunk: &Chunk, n: usize) {
        match self {
            AheadHash::Thread { chunks, .. } => {
                // A hash thread that is gone shows in `finish`.
                let _ = chunks.send((Arc::clone(chunk), n));
            }
            AheadHash::Inline(h) => h.update(chunk.get(..n).unwrap_or_default()),
        }
    }

    /// The digest of everything hashed; `None` when the thread failed.
    fn finish(&mut self) -> Option<[u8; 32]> {
        let hash = match std::mem::replace(self, AheadHash::Inline(Sha256::new())) {
            AheadHash::Thread { chunks, handle } => {
                drop(chunks);
                handle.join().ok()?
            }
            AheadHash::Inline(h) => h,
        };
        Some(hash.finalize().into())
    }
}

/// Bytes handed to the write-behind thread at a time.
const BEHIND_CHUNK: usize = 1 << 20;
/// Chunks queued before the writer waits for the thread.
const BEHIND_QUEUE: usize = 4;

/// A chunk on its way to two threads (of an [`Input`] or a [`WriteBehind`]); the last to drop it sends the
/// buffer back for reuse.
type Chunk = Arc<Vec<u8>>;

/// A writer whose bytes are written to `W` on one thread of its own and hashed (SHA-256) on
/// another, so the thread that produces them (an export walking the layer) does only that
/// (docs/performance.md, "Export"). Memory is bounded by four chunks of
/// 1 MiB per thread. Bytes reach `W` in order; [`WriteBehind::finish`]
/// waits for all of them and returns `W` and the digest. `flush` hands over what is
/// buffered without waiting: only `finish` says that everything was written.
pub struct WriteBehind<W: Write + Send + 'static> {
    buf: Vec<u8>,
    to_writer: Option<SyncSender<Chunk>>,
    to_hasher: Option<SyncSender<Chunk>>,
    spare: Receiver<Vec<u8>>,
    writer: Option<std::thread::JoinHandle<io::Result<W>>>,
    hasher: Option<std::thread::JoinHandle<Sha256>>,
    /// The writer's error, once seen, reported again on every later call.
    failed: Sticky,
    /// Set when the writer is dropped unfinished: the threads skip what is still queued.
    abandoned: Arc<AtomicBool>,
}

impl<W: Write + Send + 'static> Drop for WriteBehind<W> {
    /// Dropped unfinished (an export that failed), the threads stop and `W` is dropped here,
    /// before the command ends: an output staged beside its final name is removed, not left
    /// to a thread the process exit would cut short.
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        let _ = self.join();
    }
}

/// Gives `chunk` back for reuse when this was its last holder.
fn recycle(chunk: Chunk, spare: &SyncSender<Vec<u8>>) {
    if let Some(v) = Arc::into_inner(chunk) {
        let _ = spare.try_send(v);
    }
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// Starts the threads that write into `inner` and hash.
    ///
    /// # Errors
    /// When a thread cannot start.
    pub fn spawn(inner: W) -> io::Result<WriteBehind<W>> {
        let (to_writer, writer_rx) = sync_channel::<Chunk>(BEHIND_QUEUE);
        let (to_hasher, hasher_rx) = sync_channel::<Chunk>(BEHIND_QUEUE);
        let (spare_tx, spare) = sync_channel::<Vec<u8>>(BEHIND_QUEUE.saturating_mul(2));
        let spare_h = spare_tx.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let writer =
            std::thread::Builder::new()
                .name("output".into())
                .spawn(move || -> io::Result<W> {
                    let mut inner = inner;
                    for chunk in writer_rx {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        inner.write_all(&chunk)?;
                        recycle(chunk, &spare_tx);
                    }
                    inner.flush()?;
                    Ok(inner)
                })?;
        let hasher = std::thread::Builder::new()
            .name("output-hash".into())
            .spawn(move || {
                let mut hash = Sha256::new();
                for chunk in hasher_rx {
                    hash.update(chunk.as_slice());
                    recycle(chunk, &spare_h);
                }
                hash
            })?;
        Ok(WriteBehind {
            buf: Vec::with_capacity(BEHIND_CHUNK),
            to_writer: Some(to_writer),
            to_hasher: Some(to_hasher),
            spare,
            writer: Some(writer),
            hasher: Some(hasher),
            failed: Sticky::default(),
            abandoned,
        })
    }

    /// Ends both threads; the writer's result (its error when it stopped on one).
    fn join(&mut self) -> io::Result<(W, Sha256)> {
        self.to_writer = None;
        self.to_hasher = None;
        let hash = self.hasher.take().map(std::thread::JoinHandle::join);
        let written = self.writer.take().map(std::thread::JoinHandle::join);
        match (written, hash) {
            (Some(Ok(Ok(w))), Some(Ok(h))) => Ok((w, h)),
            (Some(Ok(Err(e))), _) => Err(e),
            _ => Err(io::Error::other("the thread writing the output stopped")),
        }
    }

    /// The error that stopped a thread (its queue is closed).
    fn stopped(&mut self) -> io::Error {
        if let Err(e) = self.failed.check() {
            return e;
        }
        let e = match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other("the thread writing the output stopped"),
        };
        self.failed.set(e)
    }

    /// Hands the buffered bytes to both threads.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BEHIND_CHUNK));
        next.clear();
        let full: Chunk = Arc::new(std::mem::replace(&mut self.buf, next));
        let sent = match (&self.to_writer, &self.to_hasher) {
            (Some(w), Some(h)) => w.send(Arc::clone(&full)).is_ok() && h.send(full).is_ok(),
            _ => false,
        };
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// Writes what is left, waits for the threads; `W` and the hexadecimal SHA-256 of every
    /// byte written.
    ///
    /// # Errors
    /// The writer's error.
    pub fn finish(mut self) -> io::Result<(W, [u8; 32])> {
        self.send()?;
        let (w, hash) = self.join()?;
        Ok((w, hash.finalize().into()))
    }
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.failed.check()?;
        let room = BEHIND_CHUNK.saturating_sub(self.buf.len());
        let n = room.min(data.len());
        self.buf
            .extend_from_slice(data.get(..n).unwrap_or_default());
        if self.buf.len() >= BEHIND_CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Bytes a [`Prefetch`] thread reads at a time.
const FETCH_CHUNK: usize = 256 << 10;

/// What a [`Prefetch`] thread sends.
enum Fetched {
    /// The first `n` bytes of the buffer.
    Data(Vec<u8>, usize),
    End,
    Error(io::Error),
}

/// A stream read on a thread of its own and handed out as a [`BufRead`], for the input of a
/// decompressor: the copies out of a file's page cache or a socket, and whatever the stream
/// does itself (a blob's digest check), run beside decompression instead of on its thread,
/// which on two cores is the longest of an import's (docs/performance.md, "Pull").
/// Memory: at most the chunks read ahead and 2 more buffers of 256 KiB, reused.
pub struct Prefetch {
    chunks: Receiver<Fetched>,
    spare: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    ended: bool,
    /// An error of the stream, reported again on every later read.
    failed: Sticky,
}

impl Prefetch {
    /// Starts reading `r` on a thread named `name`, up to `chunks` chunks of 256 KiB ahead
    /// of its reader (a registry's next blob downloading while one is imported).
    #[must_use]
    pub fn ahead(mut r: Box<dyn Read + Send>, chunks: usize, name: &str) -> Prefetch {
        let chunks_ahead = chunks.max(1);
        let (tx, chunks) = sync_channel(chunks_ahead);
        let (spare, spare_rx) = sync_channel::<Vec<u8>>(chunks_ahead.saturating_add(2));
        let fetch = move || {
            loop {
                let mut buf = spare_rx.try_recv().unwrap_or_else(|_| vec![0; FETCH_CHUNK]);
                let msg = match read_full(&mut *r, &mut buf) {
                    Ok(0) => Fetched::End,
                    Ok(n) => Fetched::Data(buf, n),
                    Err(e) => Fetched::Error(e),
                };
                let last = !matches!(msg, Fetched::Data(..));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        };
        let mut p = Prefetch {
            chunks,
            spare,
            cur: Vec::new(),
            len: 0,
            pos: 0,
            ended: false,
            failed: Sticky::default(),
        };
        if std::thread::Builder::new()
            .name(name.into())
            .spawn(fetch)
            .is_err()
        {
            p.failed.set(io::Error::other(
                "cannot start the thread that reads the input",
            ));
        }
        p
    }
}

impl BufRead for Prefetch {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.failed.check()?;
        while self.pos >= self.len && !self.ended {
            match self.chunks.recv() {
                Ok(Fetched::Data(b, n)) => {
                    let old = std::mem::replace(&mut self.cur, b);
                    if !old.is_empty() {
                        let _ = self.spare.try_send(old);
                    }
                    self.len = n;
                    self.pos = 0;
                }
                Ok(Fetched::End) => self.ended = true,
                Ok(Fetched::Error(e)) => return Err(self.failed.set(e)),
                Err(_) => return Err(self.failed.set(input_stopped())),
            }
        }
        Ok(self.cur.get(self.pos..self.len).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = self.pos.saturating_add(amt).min(self.len);
    }
}

impl Read for Prefetch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = copy_out(self.fill_buf()?, buf);
        self.consume(n);
        Ok(n)
    }
}

/// Fills `buf` from `r` as far as the input goes; the bytes read (fewer only at its end).
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|b| !b.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n = n.saturating_add(k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::tests::Failing;

    /// Gives `ok` bytes, then fails.
    #[derive(Debug)]
    struct FailAfter {
        ok: usize,
    }

    impl Read for FailAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.ok).min(1000);
            buf[..n].fill(7);
            self.ok -= n;
            Ok(n)
        }
    }

    #[test]
    fn read_ahead_gives_the_bytes_in_order_and_their_digest() {
        let data: Vec<u8> = (0..3 * AHEAD_CHUNK + 12345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut input = ReadAhead::spawn(Box::new(io::Cursor::new(data.clone())));
        let mut got = vec![0u8; 100];
        input.read_exact(&mut got).unwrap();
        assert_eq!(got, data[..100]);
        let mut rest = Vec::new();
        input.read_to_end(&mut rest).unwrap();
        got.extend(rest);
        assert!(got == data);
        assert_eq!(
            input.finish().unwrap(),
            <[u8; 32]>::from(Sha256::digest(&data))
        );
        // Read to the end, it stays at the end.
        assert_eq!(input.read(&mut [0u8; 8]).unwrap(), 0);
    }

    /// Many more chunks than the queues hold: buffers come back for reuse from the reader and
    /// the hash thread, and none of them ends the input early (the empty chunk a reader
    /// starts with once came back as a buffer and read as the end of the input).
    #[test]
    fn read_ahead_reuses_buffers_without_ending_early() {
        let data: Vec<u8> = (0..12 * AHEAD_CHUNK + 7).map(|i| (i % 253) as u8).collect();
        let mut input = ReadAhead::spawn(Box::new(io::Cursor::new(data.clone())));
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), data.len());
        assert!(got == data);
        assert_eq!(
            input.finish().unwrap(),
            <[u8; 32]>::from(Sha256::digest(&data))
        );
    }

    /// Many more chunks than the queue holds, through `BufRead` and `Read` by turns: every
    /// byte in order, then the end, which stays the end.
    #[test]
    fn prefetch_gives_the_bytes_in_order() {
        let data: Vec<u8> = (0..11 * FETCH_CHUNK + 99)
            .map(|i| (i % 249) as u8)
            .collect();
        let mut input = Prefetch::ahead(Box::new(io::Cursor::new(data.clone())), 4, "test");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 7000];
        loop {
            let have = input.fill_buf().unwrap();
            if have.is_empty() {
                break;
            }
            let take = have.len().min(3000);
            got.extend_from_slice(&have[..take]);
            input.consume(take);
            let n = input.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), data.len());
        assert!(got == data);
        assert_eq!(input.read(&mut buf).unwrap(), 0);
        assert!(input.fill_buf().unwrap().is_empty());
        // A decompressor reads through it as through a `BufReader`.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let packed = gz.finish().unwrap();
        let mut unpacked = Vec::new();
        flate2::bufread::MultiGzDecoder::new(Prefetch::ahead(
            Box::new(io::Cursor::new(packed)),
            1,
            "test",
        ))
        .read_to_end(&mut unpacked)
        .unwrap();
        assert!(unpacked == data);
        // An empty input is at its end at once.
        let mut empty = Prefetch::ahead(Box::new(io::empty()), 4, "test");
        assert_eq!(empty.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn prefetch_reports_the_error_after_the_bytes_before_it_and_keeps_reporting_it() {
        let mut input = Prefetch::ahead(Box::new(FailAfter { ok: 5000 }), 4, "test");
        let mut got = Vec::new();
        let e = input.read_to_end(&mut got).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        let again = input.fill_buf().unwrap_err();
        assert!(again.to_string().contains("disk on fire"), "{again}");
        assert_eq!(again.kind(), e.kind());
    }

    #[test]
    fn read_ahead_reports_the_error_after_the_bytes_before_it_and_keeps_reporting_it() {
        let mut input = ReadAhead::spawn(Box::new(FailAfter { ok: 5000 }));
        let mut got = Vec::new();
        let e = input.read_to_end(&mut got).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        assert_eq!(got.len(), 0, "a chunk is handed over only when complete");
        let again = input.read(&mut [0u8; 8]).unwrap_err();
        assert!(again.to_string().contains("disk on fire"), "{again}");
        assert!(input.finish().is_err());
    }

    #[test]
    fn write_behind_writes_in_order_and_hashes_what_it_wrote() {
        let data: Vec<u8> = (0..2 * BEHIND_CHUNK + 777)
            .map(|i| (i % 241) as u8)
            .collect();
        let mut w = WriteBehind::spawn(Vec::new()).unwrap();
        for piece in data.chunks(10_000) {
            w.write_all(piece).unwrap();
        }
        w.flush().unwrap();
        let (out, digest) = w.finish().unwrap();
        assert!(out == data);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&data)));
        let (empty, d0) = WriteBehind::spawn(Vec::new()).unwrap().finish().unwrap();
        assert!(empty.is_empty());
        assert_eq!(d0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    /// Notes being dropped.
    struct Noted(Arc<AtomicBool>);

    impl Write for Noted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Noted {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// An export that fails drops its writer unfinished: the output (a staged file, removed
    /// on drop) must be gone when the drop returns, not left to a thread the process exit
    /// cuts short.
    #[test]
    fn write_behind_dropped_unfinished_drops_its_writer_before_returning() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut w = WriteBehind::spawn(Noted(Arc::clone(&dropped))).unwrap();
        w.write_all(&vec![1u8; 3 * BEHIND_CHUNK]).unwrap();
        drop(w);
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn write_behind_reports_the_writers_error_on_a_later_call_and_at_finish() {
        let mut w = WriteBehind::spawn(Failing { budget: 10 }).unwrap();
        let chunk = vec![1u8; BEHIND_CHUNK];
        let mut failed = None;
        // The error surfaces once the thread has stopped and a chunk cannot be handed on.
        for _ in 0..4 * BEHIND_QUEUE + 4 {
            if let Err(e) = w.write_all(&chunk) {
                failed = Some(e);
                break;
            }
        }
        let e = failed.expect("the writer's error");
        assert!(e.to_string().contains("disk full"), "{e}");
        let again = w.write(&chunk).unwrap_err();
        assert!(again.to_string().contains("disk full"), "{again}");
        let mut w = WriteBehind::spawn(Failing { budget: 10 }).unwrap();
        w.write_all(&[1u8; 100]).unwrap();
        let e = w.finish().unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}

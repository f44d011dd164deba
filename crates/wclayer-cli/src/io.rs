//! Opening inputs (compression detected by magic bytes) and writing outputs atomically.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wclayer::crates::fs::{Dir, StagedFile, ambient_authority};
use wclayer_image::guard::{Counted, RatioGuard};

/// Opens `path` (`-` for standard input) and undoes gzip or zstd compression, detected by
/// the stream's first bytes, so `.tar`, `.tar.gz` and `.tar.zst` are all accepted. A
/// compressed input may expand at most `max_ratio` times (see [`RatioGuard`]). Reading,
/// decompressing and hashing run ahead on their own thread ([`Input`]).
pub(crate) fn open_input(path: &str, max_ratio: u64) -> Result<Input> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        use std::io::IsTerminal;
        anyhow::ensure!(
            !io::stdin().is_terminal(),
            "the layer tar would be read from standard input, which is a terminal: name the \
             file, or redirect it (< LAYER.tar)"
        );
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open {path}"))?)
    };
    let r = decompress(raw, max_ratio).with_context(|| format!("cannot read {path}"))?;
    Ok(Input::spawn(r))
}

/// Wraps `raw` in the decoder its magic bytes call for, behind a [`RatioGuard`].
pub(crate) fn decompress(
    raw: Box<dyn Read + Send>,
    max_ratio: u64,
) -> io::Result<Box<dyn Read + Send>> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counted = Counted::new(raw, Arc::clone(&consumed));
    let mut r = BufReader::with_capacity(256 << 10, counted);
    let head = r.fill_buf()?;
    refuse_other_formats(head)?;
    let guard = |inner: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
        Box::new(RatioGuard::new(inner, consumed, max_ratio))
    };
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        guard(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        guard(Box::new(zstd::Decoder::with_buffer(r)?))
    } else {
        Box::new(r)
    })
}

/// Refuses, by their first bytes, what cannot be a layer tar: an empty input and the
/// compressions and archives wclayer does not read, each named with what to do instead.
fn refuse_other_formats(head: &[u8]) -> io::Result<()> {
    let other: &[(&[u8], &str)] = &[
        (
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
            "xz-compressed (decompress it first: xz -dc)",
        ),
        (b"BZh", "bzip2-compressed (decompress it first: bzip2 -dc)"),
        (
            &[0x04, 0x22, 0x4d, 0x18],
            "lz4-compressed (decompress it first: lz4 -dc)",
        ),
        (b"PK\x03\x04", "a zip archive, not a tar"),
        (
            &[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c],
            "a 7-Zip archive, not a tar",
        ),
    ];
    if head.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is empty (0 bytes), not a layer tar",
        ));
    }
    match other.iter().find(|(magic, _)| head.starts_with(magic)) {
        Some((_, what)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is {what}; wclayer reads .tar, .tar.gz and .tar.zst"),
        )),
        None => Ok(()),
    }
}

/// What the first entries of an input say it is, for messages when it is no Windows layer.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sniff {
    /// The names of the first entries (at most [`SNIFF_NAMES`]), as in the tar.
    pub(crate) names: Vec<String>,
    /// Whether the first block is no tar header at all.
    pub(crate) not_tar: bool,
}

/// Entry names a [`Sniff`] keeps.
const SNIFF_NAMES: usize = 16;

impl Sniff {
    /// Reads the names of the first entries in `head`, the first bytes of the uncompressed
    /// input (the tar reader stops at the end of `head` with an error, which ends the list).
    fn of(head: &[u8]) -> Sniff {
        let mut r = wclayer::ArchiveReader::new(head);
        let mut names = Vec::new();
        let mut not_tar = false;
        while names.len() < SNIFF_NAMES {
            match r.next_entry() {
                Ok(Some(h)) => names.push(h.name),
                Ok(None) => break,
                Err(_) => {
                    not_tar = names.is_empty() && head.len() >= 512;
                    break;
                }
            }
        }
        Sniff { names, not_tar }
    }

    /// A sentence saying what the input looks like when it is not a Windows layer (an
    /// image archive, an ordinary tar, no tar at all), or `None` when it may be one.
    pub(crate) fn not_a_layer(&self) -> Option<String> {
        if self.not_tar {
            return Some("it is not a tar archive (its first block is no tar header)".into());
        }
        let clean = |n: &str| n.trim_start_matches("./").to_string();
        let names: Vec<String> = self.names.iter().map(|n| clean(n)).collect();
        let image = names.iter().any(|n| {
            n == "manifest.json"
                || n == "oci-layout"
                || n == "index.json"
                || n == "repositories"
                || n.starts_with("blobs/sha256/")
        });
        let shown = names
            .iter()
            .filter(|n| !n.is_empty())
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if image {
            let docker = names
                .iter()
                .any(|n| n == "manifest.json" || n == "repositories");
            let how = if docker {
                "unpack it into a store of layer directories with `wclayer unpack \
                 docker-archive:FILE STORE`"
            } else {
                "extract it and unpack the layout into a store of layer directories with \
                 `wclayer unpack oci:DIR STORE`"
            };
            return Some(format!(
                "it looks like a whole image (a `docker save` archive or an OCI image layout: \
                 {shown}), not one layer; {how}"
            ));
        }
        let windows = |n: &str| {
            let top = n.split('/').next().unwrap_or_default();
            let top = top.strip_prefix(".wh.").unwrap_or(top);
            ["Files", "Hives", "UtilityVM"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(top))
        };
        if !names.is_empty() && !names.iter().any(|n| n.is_empty() || windows(n)) {
            return Some(format!(
                "it looks like an ordinary (Linux) tar ({shown}, ...), not a Windows layer, \
                 whose entries are under Files/, Hives/ and UtilityVM/"
            ));
        }
        None
    }
}

/// Bytes the read-ahead thread hands over at a time.
const AHEAD_CHUNK: usize = 1 << 20;
/// Chunks read ahead before the thread waits for the reader.
const AHEAD_QUEUE: usize = 4;

/// What the read-ahead thread sends.
enum Ahead {
    /// The first `n` bytes of the chunk.
    Data(Chunk, usize),
    /// The end of the input, with the SHA-256 of all of it (hexadecimal).
    End(String),
    Error(io::Error),
}

/// The uncompressed input, read and decompressed on a thread of its own and hashed on
/// another while the caller works on what came before (docs/performance.md, "Import"): the
/// caller's thread does only the layer's work, and inflating does not wait for hashing.
/// Memory is bounded by two queues of [`AHEAD_QUEUE`] chunks of [`AHEAD_CHUNK`] bytes, which
/// share their buffers. [`Input::finish`] gives the SHA-256 of the uncompressed input (an
/// OCI layer's diffID) once all of it was read.
pub(crate) struct Input {
    chunks: Receiver<Ahead>,
    spare: SyncSender<Vec<u8>>,
    cur: Chunk,
    len: usize,
    pos: usize,
    digest: Option<String>,
    /// An error of the reader, reported again on every later read.
    failed: Option<(io::ErrorKind, String)>,
}

impl Input {
    fn spawn(mut r: Box<dyn Read + Send>) -> Input {
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
            return Input::new(chunks, spare);
        }
        Input::new(chunks, spare)
    }

    fn new(chunks: Receiver<Ahead>, spare: SyncSender<Vec<u8>>) -> Input {
        Input {
            chunks,
            spare,
            cur: Chunk::default(),
            len: 0,
            pos: 0,
            digest: None,
            failed: None,
        }
    }

    /// What the first entries of the input say it is. Waits for the first chunk, which
    /// `read` then hands out as usual.
    pub(crate) fn sniff(&mut self) -> Sniff {
        if self.len == 0 && self.pos == 0 && self.digest.is_none() && self.failed.is_none() {
            match self.chunks.recv() {
                Ok(Ahead::Data(b, n)) => {
                    self.cur = b;
                    self.len = n;
                }
                Ok(Ahead::End(d)) => self.digest = Some(d),
                Ok(Ahead::Error(e)) => self.failed = Some((e.kind(), e.to_string())),
                Err(_) => {}
            }
        }
        Sniff::of(self.cur.get(..self.len).unwrap_or_default())
    }

    /// Reads what is left (an archive may end before its input does) and returns the
    /// SHA-256 of the whole uncompressed input, in hexadecimal.
    pub(crate) fn finish(&mut self) -> io::Result<String> {
        io::copy(self, &mut io::sink())?;
        self.digest
            .clone()
            .ok_or_else(|| io::Error::other("the input ended without its digest"))
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(io::Error::new(*kind, msg.clone()));
        }
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
                Ok(Ahead::Error(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                Err(_) => {
                    let e = io::Error::other("the thread reading the input stopped");
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
        let have = self.cur.get(self.pos..self.len).unwrap_or_default();
        let n = have.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
            dst.copy_from_slice(src);
        }
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

    /// The digest of everything hashed, in hexadecimal; `None` when the thread failed.
    fn finish(&mut self) -> Option<String> {
        let hash = match std::mem::replace(self, AheadHash::Inline(Sha256::new())) {
            AheadHash::Thread { chunks, handle } => {
                drop(chunks);
                handle.join().ok()?
            }
            AheadHash::Inline(h) => h,
        };
        Some(hex::encode(hash.finalize()))
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
/// (docs/performance.md, "Export"). Memory is bounded by [`BEHIND_QUEUE`] chunks of
/// [`BEHIND_CHUNK`] bytes per thread. Bytes reach `W` in order; [`WriteBehind::finish`]
/// waits for all of them and returns `W` and the digest. `flush` hands over what is
/// buffered without waiting: only `finish` says that everything was written.
pub(crate) struct WriteBehind<W: Write + Send + 'static> {
    buf: Vec<u8>,
    to_writer: Option<SyncSender<Chunk>>,
    to_hasher: Option<SyncSender<Chunk>>,
    spare: Receiver<Vec<u8>>,
    writer: Option<std::thread::JoinHandle<io::Result<W>>>,
    hasher: Option<std::thread::JoinHandle<Sha256>>,
    /// The writer's error, once seen, reported again on every later call.
    failed: Option<(io::ErrorKind, String)>,
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
    pub(crate) fn spawn(inner: W) -> io::Result<WriteBehind<W>> {
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
            failed: None,
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
        if let Some((kind, msg)) = &self.failed {
            return io::Error::new(*kind, msg.clone());
        }
        let e = match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other("the thread writing the output stopped"),
        };
        self.failed = Some((e.kind(), e.to_string()));
        e
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
    pub(crate) fn finish(mut self) -> io::Result<(W, String)> {
        self.send()?;
        let (w, hash) = self.join()?;
        Ok((w, hex::encode(hash.finalize())))
    }
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(io::Error::new(*kind, msg.clone()));
        }
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

/// Set when a write to standard output met a closed pipe (`wclayer trace x.tar | head`):
/// the command then ends quietly with success, as Unix tools do.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether standard output was closed by its reader.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Standard output, noting a closed pipe (see [`stdout_closed`]).
pub(crate) struct Stdout(io::Stdout);

impl Stdout {
    pub(crate) fn new() -> Stdout {
        Stdout(io::stdout())
    }

    fn note(r: io::Result<usize>) -> io::Result<usize> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Stdout::note(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Stdout::note(self.0.flush().map(|()| 0)).map(|_| ())
    }
}

/// The compression of an output tar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression an output's name and flags ask for: `.gz`/`.tgz` gzip,
    /// `.zst`/`.tzst` zstd, `.tar` none, another name what the flags say. A flag that
    /// contradicts the name is refused (docs/cli.md, "Outputs").
    pub(crate) fn choose(output: &str, gzip: bool, zstd: bool) -> Result<Compression> {
        let lower = output.to_ascii_lowercase();
        let by_name = if lower.ends_with(".gz") || lower.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if lower.ends_with(".zst") || lower.ends_with(".tzst") {
            Some(Compression::Zstd)
        } else if lower.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        };
        let by_flag = match (gzip, zstd) {
            (true, _) => Some(Compression::Gzip),
            (_, true) => Some(Compression::Zstd),
            _ => None,
        };
        match (by_name, by_flag) {
            (Some(n), Some(f)) if n != f => anyhow::bail!(
                "{output} names {} tar, but {} was given: rename the output or drop the flag",
                n.article(),
                f.flag()
            ),
            (Some(c), _) | (None, Some(c)) => Ok(c),
            (None, None) => Ok(Compression::None),
        }
    }

    fn article(self) -> &'static str {
        match self {
            Compression::None => "an uncompressed",
            Compression::Gzip => "a gzip-compressed",
            Compression::Zstd => "a zstd-compressed",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Compression::None => "no compression flag",
            Compression::Gzip => "--gzip",
            Compression::Zstd => "--zstd",
        }
    }

    /// The OCI media type of a layer tar with this compression.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Checks, before any work, that `output` may be written: `-` only when standard output is
/// no terminal (a tar on a terminal is garbage), a path only when nothing is there or, with
/// `force`, a regular file (a directory, device or pipe is never replaced).
pub(crate) fn check_output(output: &str, force: bool) -> Result<()> {
    use std::io::IsTerminal;
    if output == "-" {
        anyhow::ensure!(
            !io::stdout().is_terminal(),
            "refusing to write a tar to a terminal: give an output file (-o FILE) or redirect \
             standard output (> FILE)"
        );
        return Ok(());
    }
    match std::fs::symlink_metadata(output) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot check {output}")),
        Ok(m) if !m.file_type().is_file() => {
            anyhow::bail!("{output} exists and is not a regular file: it is never replaced")
        }
        Ok(_) if !force => {
            anyhow::bail!("{output} already exists: remove it, or give --force to replace it")
        }
        Ok(_) => Ok(()),
    }
}

/// An output file that appears under its name only when [`Output::commit`] is called;
/// dropped uncommitted (after an error), it leaves nothing behind, and a signal or a kill
/// leaves nothing the next run does not sweep (a `wclayer_fs::StagedFile`,
/// docs/security.md §5). `-` is standard output.
/// Bytes of an output file between two flushes ahead of the final one
/// (`StagedFile::write_back_every`, docs/performance.md).
const OUTPUT_WRITE_BACK_EVERY: u64 = 32 << 20;

pub(crate) enum Output {
    Stdout(io::BufWriter<Stdout>),
    File {
        w: io::BufWriter<StagedFile>,
        path: std::path::PathBuf,
    },
}

impl Output {
    pub(crate) fn create(path: &str) -> Result<Output> {
        if path == "-" {
            return Ok(Output::Stdout(io::BufWriter::with_capacity(
                256 << 10,
                Stdout::new(),
            )));
        }
        let path = Path::new(path);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: not a file name", path.display()))?;
        let mut staged = Dir::open_ambient_dir(dir, ambient_authority())
            .and_then(|d| StagedFile::create(&d, name))
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        staged.write_back_every(OUTPUT_WRITE_BACK_EVERY);
        Ok(Output::File {
            w: io::BufWriter::with_capacity(256 << 10, staged),
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().context("cannot write standard output"),
            Output::File { w, path } => {
                let staged = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                staged
                    .commit(true)
                    .with_context(|| format!("cannot create {}", path.display()))
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { w, .. } => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { w, .. } => w.flush(),
        }
    }
}

/// Wraps `r` in a progress display on standard error (bytes read and rate), shown only
/// when standard error is a terminal.
pub(crate) fn progress_reader<'a>(r: impl Read + 'a, what: &'static str) -> Box<dyn Read + 'a> {
    match progress_bar(what) {
        Some(bar) => Box::new(bar.wrap_read(r)),
        None => Box::new(r),
    }
}

/// A spinner with bytes and rate on standard error, or `None` when standard error is not
/// a terminal.
pub(crate) fn progress_bar(what: &'static str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(what);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

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

    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.ok);
            self.ok -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn read_ahead_gives_the_bytes_in_order_and_their_digest() {
        let data: Vec<u8> = (0..3 * AHEAD_CHUNK + 12345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut input = Input::spawn(Box::new(io::Cursor::new(data.clone())));
        let mut got = vec![0u8; 100];
        input.read_exact(&mut got).unwrap();
        assert_eq!(got, data[..100]);
        let mut rest = Vec::new();
        input.read_to_end(&mut rest).unwrap();
        got.extend(rest);
        assert!(got == data);
        assert_eq!(input.finish().unwrap(), hex::encode(Sha256::digest(&data)));
        // Read to the end, it stays at the end.
        assert_eq!(input.read(&mut [0u8; 8]).unwrap(), 0);
    }

    /// Many more chunks than the queues hold: buffers come back for reuse from the reader and
    /// the hash thread, and none of them ends the input early (the empty chunk a reader
    /// starts with once came back as a buffer and read as the end of the input).
    #[test]
    fn read_ahead_reuses_buffers_without_ending_early() {
        let data: Vec<u8> = (0..12 * AHEAD_CHUNK + 7).map(|i| (i % 253) as u8).collect();
        let mut input = Input::spawn(Box::new(io::Cursor::new(data.clone())));
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
        assert_eq!(input.finish().unwrap(), hex::encode(Sha256::digest(&data)));
    }

    #[test]
    fn read_ahead_reports_the_error_after_the_bytes_before_it_and_keeps_reporting_it() {
        let mut input = Input::spawn(Box::new(FailAfter { ok: 5000 }));
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
        assert_eq!(digest, hex::encode(Sha256::digest(&data)));
        let (empty, d0) = WriteBehind::spawn(Vec::new()).unwrap().finish().unwrap();
        assert!(empty.is_empty());
        assert_eq!(d0, hex::encode(Sha256::digest(b"")));
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
        let mut w = WriteBehind::spawn(FailAfter { ok: 10 }).unwrap();
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
        assert!(e.to_string().contains("disk on fire"), "{e}");
        let again = w.write(&chunk).unwrap_err();
        assert!(again.to_string().contains("disk on fire"), "{again}");
        let mut w = WriteBehind::spawn(FailAfter { ok: 10 }).unwrap();
        w.write_all(&[1u8; 100]).unwrap();
        let e = w.finish().unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
    }
}

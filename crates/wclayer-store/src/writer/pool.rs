//! File bodies written on worker threads (docs/performance.md, "Import").
//!
//! The writer's own thread parses the stream, keeps the layer model, creates the
//! directories (every later name needs them) and writes the records; creating the regular
//! files, their bytes, their times and their closing go to a pool of workers, and so do the
//! hard links to those files. Allocating an inode and filling a file is most of the kernel's
//! work in an import (inode-bitmap search, page-cache copies, block allocation), so it runs
//! beside the parsing on every core.
//!
//! Each file goes to one worker, which handles its jobs in order (`Begin`, `Seek`/`Data`,
//! `End`, then any `Link` to it): a hard link is made after the file it names exists,
//! whichever thread made it. A new file goes to the worker with the fewest batches waiting
//! (the next in turn among equals), so that a worker waiting for the disk (a direct write)
//! does not hold up the writer while another has nothing to do; the pool remembers each
//! file's worker for the links to it. A worker has at most one file open, because the writer
//! finishes an entry before it starts the next. Memory is bounded whatever the number of
//! cores: the workers' queues together hold at most [`QUEUED`] batches of less than two
//! [`CHUNK`]s each, and data buffers travel back to be reused. The first error of a worker,
//! which names its entry, is reported by the writer's next call, and at the latest by
//! [`Pool::finish`]; the import then fails as for any other error.
//!
//! A file's large aligned writes go around the page cache ([`DirectWriter`]); every
//! [`WRITE_BACK_EVERY`] bytes the workers wrote through it, a thread of the pool asks the file
//! system to write them out ([`Dir::write_back_ahead`]), so that the disk works while the
//! import goes on and the one flush at the end has little left to wait for; those pages stay
//! cached.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use wclayer_backup::UnixTime;
use wclayer_fs::{AlignedBuf, Dir, DirectWriter};
use wclayer_layer::SparseWriter;

use crate::Error;

/// Bytes of file data in one job, and so the size of a large file's direct writes: on the
/// project's machines the disk took 256 MiB in 0.24 s as 256 KiB direct writes one at a
/// time, 0.17 s as 1 MiB ones, and the import of `nano` 0.65–0.84 s with 256 KiB chunks
/// against 0.65–0.68 s with these (docs/performance.md, "Import").
pub(super) const CHUNK: usize = 1 << 20;
/// Batches queued to all the workers together before the writer waits: each worker's queue
/// holds its share ([`queue_per_worker`]), and a batch holds less than two [`CHUNK`]s of
/// data, so at most 32 MiB are queued whatever the number of workers; the spare buffers kept
/// for reuse are at most as many chunks as that (32 MiB). With one worker per core on a
/// 2-core machine that is 8 batches a worker, the setting measured in docs/performance.md
/// ("Import"); more cores share the same bound instead of multiplying it.
const QUEUED: usize = 16;
/// Spare data buffers kept for reuse.
const SPARE: usize = QUEUED * 2;
// The memory bound above, kept when a constant changes.
const _: () = assert!(
    QUEUED * 2 * CHUNK <= 32 << 20
        && SPARE * CHUNK <= 32 << 20
        && queue_per_worker(MAX_WORKERS) * MAX_WORKERS * 2 * CHUNK <= 32 << 20
);

/// The batches each of `workers` workers may have queued: an equal share of [`QUEUED`], at
/// least two (one being written, one waiting).
const fn queue_per_worker(workers: usize) -> usize {
    let share = match QUEUED.checked_div(workers) {
        Some(s) => s,
        None => QUEUED,
    };
    if share < 2 { 2 } else { share }
}
/// Most workers, whatever the number of cores: past this the kernel's per-directory and
/// per-file-system locks take over.
const MAX_WORKERS: usize = 4;
/// Bytes of file data between two early write-backs (docs/performance.md, "Import").
pub(super) const WRITE_BACK_EVERY: u64 = 32 << 20;

/// One step of filling a file.
enum Job {
    /// Creates file `name` in `dir` (a new name: it must not exist) and fills it next;
    /// `entry` names it in errors.
    Begin {
        dir: Arc<Dir>,
        name: String,
        entry: String,
    },
    /// Moves to an offset of the file.
    Seek(u64),
    /// Bytes at the current offset.
    Data(AlignedBuf),
    /// The file is complete: at least `len` long, these times, then closed.
    End {
        len: u64,
        atime: Option<UnixTime>,
        mtime: Option<UnixTime>,
    },
    /// Hard-links `src` in `src_dir` as `dst` in `dst_dir`.
    Link {
        src_dir: Arc<Dir>,
        src: String,
        dst_dir: Arc<Dir>,
        dst: String,
        entry: String,
    },
}

/// Jobs handed to a worker at once: a small file's whole life (create, fill, complete) is one
/// batch and one wake-up of the worker; a larger file's data goes as it comes, a batch at
/// least every [`CHUNK`] bytes.
type Batch = Vec<Job>;

/// The first error of any worker.
#[derive(Default)]
struct Failure {
    set: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl Failure {
    fn record(&self, e: Error) {
        let mut slot = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
        }
        self.set.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Error> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

struct Worker {
    jobs: SyncSender<Batch>,
    /// Batches handed to the worker and not yet done.
    pending: Arc<AtomicUsize>,
    handle: JoinHandle<()>,
}

/// What a worker counts its bytes into, and the thread it wakes every
/// [`WRITE_BACK_EVERY`] bytes.
#[derive(Clone)]
struct WriteBack {
    written: Arc<AtomicU64>,
    every: u64,
    wake: SyncSender<()>,
}

impl WriteBack {
    /// The thread that writes back ahead below `root` whenever it is woken, every `every`
    /// bytes, and returns how many times it did; `None` when it cannot start.
    fn start((root, every): (Dir, u64)) -> Option<(WriteBack, JoinHandle<u64>)> {
        let (wake, woken) = sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("layer-write-back".into())
            .spawn(move || {
                // An error here is the final flush's to report; nothing to do is a reason
                // to stop asking.
                let mut done = 0u64;
                while woken.recv().is_ok() {
                    if !matches!(root.write_back_ahead(), Ok(true)) {
                        break;
                    }
                    done = done.saturating_add(1);
                }
                done
            })
            .ok()?;
        let written = Arc::new(AtomicU64::new(0));
        let every = every.max(1);
        Some((
            WriteBack {
                written,
                every,
                wake,
            },
            handle,
        ))
    }

    /// Counts `n` bytes written; wakes the thread when they cross a multiple of `every` (a
    /// wake-up while it is busy is dropped).
    fn wrote(&self, n: u64) {
        let before = self.written.fetch_add(n, Ordering::Relaxed);
        if before.checked_div(self.every) != before.saturating_add(n).checked_div(self.every) {
            let _ = self.wake.try_send(());
        }
    }
}

/// The workers, or none: with one core (or when threads cannot be started) the jobs run on
/// the writer's thread as they come.
pub(super) struct Pool {
    workers: Vec<Worker>,
    /// The early write-back's thread (see the module's documentation).
    write_back: Option<(WriteBack, JoinHandle<u64>)>,
    /// Write-backs done ahead, once [`Pool::finish`] ran.
    #[cfg(test)]
    write_backs: u64,
    /// Buffers [`Pool::buffer`] had to allocate (none was spare).
    #[cfg(test)]
    pub(super) fresh_buffers: std::cell::Cell<u64>,
    /// The worker of the file being filled.
    current: usize,
    /// The worker each file number went to (`u8::MAX`: none yet), for the links to it.
    assigned: Vec<u8>,
    /// Where the search for the least busy worker starts next (turns among equals).
    turn: usize,
    /// Jobs for the current worker not yet handed over, and their bytes of data.
    staged: Batch,
    staged_bytes: usize,
    /// The file being filled when there are no workers.
    inline: Option<Filling>,
    failure: Arc<Failure>,
    /// Buffers the workers (or [`Pool::recycle`]) are done with.
    spare: Receiver<AlignedBuf>,
    spare_tx: SyncSender<AlignedBuf>,
}

impl Pool {
    /// A pool with one worker per core (at most [`MAX_WORKERS`]); with `(root, every)`, what
    /// the workers write below `root` is written back ahead every `every` bytes (normally
    /// [`WRITE_BACK_EVERY`]).
    pub(super) fn new(write_back: Option<(Dir, u64)>) -> Pool {
        let n = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(MAX_WORKERS);
        let failure = Arc::new(Failure::default());
        let (spare_tx, spare) = sync_channel(SPARE);
        let mut workers = Vec::new();
        let write_back = write_back.filter(|_| n > 1).and_then(WriteBack::start);
        if n > 1 {
            for i in 0..n {
                let (jobs, rx) = sync_channel::<Batch>(queue_per_worker(n));
                let failure = Arc::clone(&failure);
                let spare = spare_tx.clone();
                let wb = write_back.as_ref().map(|(wb, _)| wb.clone());
                let pending = Arc::new(AtomicUsize::new(0));
                let done = Arc::clone(&pending);
                let spawned = std::thread::Builder::new()
                    .name(format!("layer-writer-{i}"))
                    .spawn(move || work(&rx, &done, &failure, &spare, wb.as_ref()));
                match spawned {
                    Ok(handle) => workers.push(Worker {
                        jobs,
                        pending,
                        handle,
                    }),
                    Err(_) => break,
                }
            }
        }
        Pool {
            workers,
            write_back,
            #[cfg(test)]
            write_backs: 0,
            #[cfg(test)]
            fresh_buffers: std::cell::Cell::new(0),
            current: 0,
            assigned: Vec::new(),
            turn: 0,
            staged: Vec::new(),
            staged_bytes: 0,
            inline: None,
            failure,
            spare,
            spare_tx,
        }
    }

    /// A buffer for the next [`Pool::data`], empty, with room for [`CHUNK`] bytes.
    pub(super) fn buffer(&self) -> AlignedBuf {
        match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                #[cfg(test)]
                self.fresh_buffers
                    .set(self.fresh_buffers.get().saturating_add(1));
                AlignedBuf::with_capacity(CHUNK)
            }
        }
    }

    /// Takes back a buffer of [`Pool::buffer`] that was not used.
    pub(super) fn recycle(&self, buf: AlignedBuf) {
        let _ = self.spare_tx.try_send(buf);
    }

    /// The worker a new file goes to: the one with the fewest batches waiting, the next in
    /// turn among equals; remembered as file number `file`'s.
    fn assign(&mut self, file: usize) -> usize {
        let n = self.workers.len();
        let mut best = self.turn.checked_rem(n).unwrap_or(0);
        let mut least = usize::MAX;
        for k in 0..n {
            let i = self.turn.saturating_add(k).checked_rem(n).unwrap_or(0);
            let waiting = self
                .workers
                .get(i)
                .map_or(usize::MAX, |w| w.pending.load(Ordering::Relaxed));
            if waiting < least {
                least = waiting;
                best = i;
            }
        }
        self.turn = best.saturating_add(1);
        if n > 1 {
            if self.assigned.len() <= file {
                self.assigned.resize(file.saturating_add(1), u8::MAX);
            }
            if let Some(slot) = self.assigned.get_mut(file) {
                // At most MAX_WORKERS (4) workers: the index fits.
                *slot = u8::try_from(best).unwrap_or(u8::MAX);
            }
        }
        best
    }

    /// The worker of file number `file`: the one it was created by, or (a file the pool did
    /// not create) one chosen by its number.
    fn worker_of(&self, file: usize) -> usize {
        match self.assigned.get(file) {
            Some(&w) if w != u8::MAX => usize::from(w),
            _ => file.checked_rem(self.workers.len()).unwrap_or(0),
        }
    }

    /// Creates file `name` in `dir`, file number `file` of the layer and the content of
    /// `entry`, and starts filling it.
    pub(super) fn begin(
        &mut self,
        file: usize,
        dir: Arc<Dir>,
        name: String,
        entry: String,
    ) -> Result<(), Error> {
        self.hand_over()?;
        self.current = self.assign(file);
        self.stage(Job::Begin { dir, name, entry })
    }

    /// Hard-links `src` in `src_dir`, a name of file number `file`, as `dst` in `dst_dir`:
    /// after the file is created when a worker creates it.
    pub(super) fn link(
        &mut self,
        file: usize,
        (src_dir, src): (Arc<Dir>, String),
        (dst_dir, dst): (Arc<Dir>, String),
        entry: String,
    ) -> Result<(), Error> {
        self.hand_over()?;
        self.current = self.worker_of(file);
        self.stage(Job::Link {
            src_dir,
            src,
            dst_dir,
            dst,
            entry,
        })?;
        self.hand_over()
    }

    /// Moves to offset `at` of the file being filled.
    pub(super) fn seek(&mut self, at: u64) -> Result<(), Error> {
        self.stage(Job::Seek(at))
    }

    /// Writes `data` at the current offset of the file being filled.
    pub(super) fn data(&mut self, data: AlignedBuf) -> Result<(), Error> {
        self.staged_bytes = self.staged_bytes.saturating_add(data.len());
        self.stage(Job::Data(data))?;
        if self.staged_bytes >= CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Completes the file being filled: at least `len` long, with these times.
    pub(super) fn end(
        &mut self,
        len: u64,
        atime: Option<UnixTime>,
        mtime: Option<UnixTime>,
    ) -> Result<(), Error> {
        self.stage(Job::End { len, atime, mtime })?;
        self.hand_over()
    }

    /// The first error a worker met, if any (reported once).
    pub(super) fn failed(&self) -> Result<(), Error> {
        self.failure.take().map_or(Ok(()), Err)
    }

    /// Waits until every job is done; the first error of any of them.
    pub(super) fn finish(&mut self) -> Result<(), Error> {
        let handed = self.hand_over();
        for w in std::mem::take(&mut self.workers) {
            drop(w.jobs);
            let _ = w.handle.join();
        }
        // The workers' wake-up senders are gone with them; without the pool's own the thread
        // ends after the write-back it may be doing.
        if let Some((wb, handle)) = self.write_back.take() {
            drop(wb);
            let _done = handle.join().unwrap_or(0);
            #[cfg(test)]
            {
                self.write_backs = self.write_backs.saturating_add(_done);
            }
        }
        self.inline = None;
        self.failed()?;
        handed
    }

    /// Adds a job for the current worker.
    fn stage(&mut self, job: Job) -> Result<(), Error> {
        self.staged.push(job);
        self.failed()
    }

    /// Hands the staged jobs to the current worker (runs them, without workers).
    fn hand_over(&mut self) -> Result<(), Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.staged);
        self.staged_bytes = 0;
        match self.workers.get(self.current) {
            Some(w) => {
                w.pending.fetch_add(1, Ordering::Relaxed);
                if w.jobs.send(batch).is_err() {
                    // The worker is gone: it stopped on an error, which is the one to report.
                    self.failed()?;
                    return Err(Error::io_layer(
                        "write file data",
                        io::Error::other("a writer thread ended"),
                    ));
                }
                self.failed()
            }
            None => {
                for job in batch {
                    if let Err(e) = run(&mut self.inline, job, Some(&self.spare_tx)) {
                        self.inline = None;
                        return Err(e);
                    }
                }
                Ok(())
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A file being filled.
struct Filling {
    out: SparseWriter<DirectWriter>,
    entry: String,
}

/// A worker: runs jobs until the writer hangs up. After an error it skips the rest of that
/// file's jobs.
fn work(
    jobs: &Receiver<Batch>,
    pending: &AtomicUsize,
    failure: &Failure,
    spare: &SyncSender<AlignedBuf>,
    write_back: Option<&WriteBack>,
) {
    let mut filling: Option<Filling> = None;
    let mut skipping = false;
    for batch in jobs.iter() {
        for job in batch {
            // A failed file skips its own jobs; the next file, or a link (whose target may
            // exist), runs again.
            if matches!(job, Job::Begin { .. } | Job::Link { .. }) {
                skipping = false;
            }
            if skipping {
                if let Job::Data(b) = job {
                    let _ = spare.try_send(b);
                }
                continue;
            }
            // Only bytes that went through the page cache need writing back.
            let data = match &job {
                Job::Data(b) => Some(b.len() as u64),
                _ => None,
            };
            let direct =
                |f: &mut Option<Filling>| f.as_mut().map_or(0, |f| f.out.get_mut().direct_bytes());
            let direct_before = direct(&mut filling);
            if let Err(e) = run(&mut filling, job, Some(spare)) {
                filling = None;
                skipping = true;
                failure.record(e);
            }
            if let (Some(n), Some(wb)) = (data, write_back) {
                wb.wrote(n.saturating_sub(direct(&mut filling).saturating_sub(direct_before)));
            }
        }
        pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one job against the file being filled.
fn run(
    filling: &mut Option<Filling>,
    job: Job,
    spare: Option<&SyncSender<AlignedBuf>>,
) -> Result<(), Error> {
    let err = |f: &Filling, op: &'static str| {
        let entry = f.entry.clone();
        move |e| Error::io(op, entry, e)
    };
    match job {
        Job::Begin { dir, name, entry } => {
            let file = dir
                .create_file(&name)
                .map_err(|e| Error::io("create file", &entry, e))?;
            *filling = Some(Filling {
                out: SparseWriter::new(DirectWriter::new(file)),
                entry,
            });
            Ok(())
        }
        Job::Seek(at) => match filling.as_mut() {
            Some(f) => f.out.seek(at).map_err(err(f, "write file data")),
            None => Ok(()),
        },
        Job::Data(b) => {
            let r = match filling.as_mut() {
                Some(f) => f
                    .out
                    .write_all(b.bytes())
                    .map_err(err(f, "write file data")),
                None => Ok(()),
            };
            if let Some(spare) = spare {
                let _ = spare.try_send(b);
            }
            r
        }
        Job::End { len, atime, mtime } => {
            let Some(f) = filling.take() else {
                return Ok(());
            };
            let Filling { out, entry } = f;
            let io_err = |op: &'static str| {
                let entry = entry.clone();
                move |e| Error::io(op, entry, e)
            };
            // The file was created empty: its length is the furthest offset written, so only
            // a file that ends in a hole needs its length set.
            let mut out = out;
            out.flush().map_err(io_err("write file data"))?;
            let want = out.end().max(len);
            let written = out.written_end();
            let file = out
                .into_inner()
                .and_then(DirectWriter::into_file)
                .map_err(io_err("write file data"))?;
            if written < want {
                file.set_len(want).map_err(io_err("set file length"))?;
            }
            // Large writes went around the page cache (`DirectWriter`); the rest stays cached
            // until the one `syncfs` at the end writes it (docs/performance.md, "Import").
            wclayer_fs::set_file_times(&file, atime, mtime).map_err(io_err("set times"))?;
            Ok(())
        }
        Job::Link {
            src_dir,
            src,
            dst_dir,
            dst,
            entry,
        } => src_dir
            .hard_link(&src, &dst_dir, &dst)
            .map_err(|e| Error::io("hard link", entry, e)),
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use wclayer_fs::ambient_authority;

    #[test]
    fn queued_data_is_bounded_whatever_the_number_of_workers() {
        // The setting measured on 2-core machines: 8 batches a worker.
        assert_eq!(queue_per_worker(2), 8);
        for n in 1..=MAX_WORKERS {
            let queued = queue_per_worker(n) * n;
            assert!(
                queued * 2 * CHUNK <= 32 << 20,
                "{n} workers queue {queued} batches"
            );
            assert!(queue_per_worker(n) >= 2, "{n} workers");
        }
    }

    fn dir(p: &std::path::Path) -> Dir {
        Dir::open_ambient_dir(p, ambient_authority()).unwrap()
    }

    /// Hard-links file `f{f}` as `l{f}` in `d`, a link to file number `f`.
    fn link(pool: &mut Pool, d: &Arc<Dir>, f: usize) {
        pool.link(
            f,
            (Arc::clone(d), format!("f{f}")),
            (Arc::clone(d), format!("l{f}")),
            format!("L{f}"),
        )
        .unwrap();
    }

    /// Files filled by the workers, hard links made after their targets, with or without
    /// threads, with or without write-backs ahead (here every 10,000 bytes).
    #[test]
    fn files_are_filled_and_linked_in_order() {
        for (threads, ahead) in [(false, false), (true, false), (true, true)] {
            let tmp = tempfile::tempdir().unwrap();
            let d = Arc::new(dir(tmp.path()));
            let mut pool = Pool::new(ahead.then(|| (d.try_clone().unwrap(), 10_000)));
            if !threads {
                pool.finish().unwrap();
            }
            for f in 0..20usize {
                pool.begin(f, Arc::clone(&d), format!("f{f}"), format!("F{f}"))
                    .unwrap();
                let mut b = pool.buffer();
                b.extend_from_slice(&vec![f as u8; f * 1000]);
                pool.data(b).unwrap();
                pool.end(f as u64 * 1000 + 5, None, None).unwrap();
                link(&mut pool, &d, f);
            }
            pool.finish().unwrap();
            // 190,000 bytes cross 19 multiples of 10,000; wake-ups while a write-back runs
            // are dropped, so at least one ran, and none without the option (nor on Windows,
            // where writing back ahead does nothing).
            let done = pool.write_backs;
            let multi_core = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
            if ahead && multi_core && cfg!(unix) {
                assert!((1..=19).contains(&done), "{done} write-backs");
            } else {
                assert_eq!(done, 0);
            }
            for f in 0..20usize {
                let got = std::fs::read(tmp.path().join(format!("l{f}"))).unwrap();
                let mut want = vec![f as u8; f * 1000];
                want.extend([0u8; 5]);
                assert!(got == want, "file {f} (threads: {threads})");
            }
        }
    }

    /// A new file goes to the worker with the fewest batches waiting (the next in turn among
    /// equals), and a link to a file goes to the worker that created it, however much later.
    #[test]
    fn new_files_go_to_the_least_busy_worker_and_links_follow_their_file() {
        let tmp = tempfile::tempdir().unwrap();
        let d = Arc::new(dir(tmp.path()));
        let mut pool = Pool::new(None);
        let n = pool.workers.len();
        if n >= 2 {
            // Equal queues: each in turn.
            let turns: Vec<usize> = (100..100 + 2 * n).map(|f| pool.assign(f)).collect();
            let want: Vec<usize> = (0..2 * n).map(|i| i % n).collect();
            assert_eq!(turns, want);
            // Worker 0 looks busy: the next files go elsewhere, the earlier ones stay put.
            pool.workers[0].pending.fetch_add(1000, Ordering::Relaxed);
            for f in 200..210 {
                assert_ne!(pool.assign(f), 0, "file {f}");
            }
            for i in 0..2 * n {
                assert_eq!(pool.worker_of(100 + i), i % n);
            }
            pool.workers[0].pending.fetch_sub(1000, Ordering::Relaxed);
            // A file number the pool never saw: by its number.
            assert_eq!(pool.worker_of(7), 7 % n);
        }
        // Files of every size, their links made after all of them were handed over.
        for f in 0..40usize {
            pool.begin(f, Arc::clone(&d), format!("f{f}"), format!("F{f}"))
                .unwrap();
            for _ in 0..f % 5 {
                let mut b = pool.buffer();
                b.extend_from_slice(&vec![f as u8; CHUNK]);
                pool.data(b).unwrap();
            }
            pool.end(0, None, None).unwrap();
        }
        for f in (0..40usize).rev() {
            link(&mut pool, &d, f);
        }
        pool.finish().unwrap();
        for f in 0..40usize {
            let got = std::fs::read(tmp.path().join(format!("l{f}"))).unwrap();
            assert_eq!(got.len(), f % 5 * CHUNK, "file {f}");
            assert!(got.iter().all(|&b| b == f as u8), "file {f}");
        }
    }

    /// A worker's failure names its entry and is reported by a later call or by `finish`.
    #[test]
    fn a_workers_error_names_its_entry() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("taken"), b"x").unwrap();
        let d = Arc::new(dir(tmp.path()));
        let mut pool = Pool::new(None);
        let mut r = pool.begin(0, Arc::clone(&d), "taken".into(), "Files\\taken".into());
        for f in 1..50usize {
            if r.is_err() {
                break;
            }
            r = pool
                .begin(f, Arc::clone(&d), format!("f{f}"), format!("F{f}"))
                .and_then(|()| pool.end(0, None, None));
        }
        let e = r.and_then(|()| pool.finish()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("Files\\taken") && text.contains("create file"),
            "{text}"
        );
    }
}

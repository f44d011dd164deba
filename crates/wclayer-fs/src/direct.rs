//! [`DirectWriter`]: a new file's large writes sent around the page cache.
//!
//! An import writes hundreds of megabytes into files nobody reads during the import and
//! then flushes them all (one `syncfs`). Copied through the page cache, every 4 KiB of it
//! costs a fresh page (allocated, on these virtual machines often faulted in by the host
//! first), a copy, and later the write-back of that page. Written with `O_DIRECT` it goes
//! from the caller's buffer to the disk: on the project's machines 310 MB took 0.2–0.4 s
//! (0.08–0.16 s of CPU) that way against 0.77 s (all of it CPU) into the page cache, and
//! 0.84 s with the flush (docs/performance.md, "Import").
//!
//! Direct I/O has rules: offset, length and memory address all aligned (to the device's
//! logical block, 512 bytes here; this module uses [`DIRECT_ALIGN`], a page, so that a
//! direct write and a buffered one never share a page), and a file system that supports it.
//! So a write goes direct only when it is large ([`DIRECT_MIN`] bytes or more), starts at an
//! aligned offset from an aligned address: its aligned part goes direct, the rest (a
//! file's last partial block) through the page cache. The flag is switched on the open file
//! (`fcntl(F_SETFL)`), once per switch. Where the file system refuses it (tmpfs on older
//! kernels, some FUSE or network file systems) every later write to that file is buffered,
//! as is every write on Windows. What is written either way is the same bytes; the direct
//! part is simply not left in the page cache (a later reader reads it from the disk).

use std::fs::File;
use std::io;

use wclayer_layer::WriteAt;

use crate::sys;

/// The alignment of a direct write's offset, length and memory: a page, which is at least
/// the logical block of every disk Linux supports, and keeps direct and buffered writes on
/// different pages.
pub const DIRECT_ALIGN: usize = 4096;

/// The smallest write that goes direct: smaller ones (small files, a file's tail) cost a
/// synchronous disk write each for little copying saved, so they stay buffered.
pub const DIRECT_MIN: usize = 64 << 10;

/// A file whose large aligned writes go around the page cache (see the module's
/// documentation); all other writes are ordinary positioned writes.
#[derive(Debug)]
pub struct DirectWriter {
    file: File,
    state: DirectState,
}

impl DirectWriter {
    /// Wraps an open file (normally one [`crate::Dir::create_file`] just made).
    #[must_use]
    pub fn new(file: File) -> DirectWriter {
        DirectWriter {
            file,
            state: DirectState::default(),
        }
    }

    /// The file, with direct I/O switched off again.
    ///
    /// # Errors
    /// The error of switching it off.
    pub fn into_file(mut self) -> io::Result<File> {
        self.state.set_direct(&self.file, false)?;
        Ok(self.file)
    }

    /// The file.
    #[must_use]
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// How many bytes went around the page cache so far.
    #[must_use]
    pub fn direct_bytes(&self) -> u64 {
        self.state.direct_bytes
    }

    /// Writes all of `buf` at `at`: its aligned part direct when it qualifies, the rest
    /// buffered.
    ///
    /// # Errors
    /// The write's error.
    pub fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
        self.state.write_all_at(&self.file, buf, at)
    }
}

impl WriteAt for DirectWriter {
    fn write_all_at(&mut self, buf: &[u8], at: u64) -> io::Result<()> {
        DirectWriter::write_all_at(self, buf, at)
    }
}

/// The size of an [`Appender`]'s buffer: the direct writes of a file written in sequence.
const APPEND_CHUNK: usize = 1 << 20;

/// A file written in sequence (an output file) through an aligned buffer of
/// [`APPEND_CHUNK`] bytes, each full buffer one direct write; the file itself is the
/// caller's, lent to each call (`crate::StagedFile` holds it).
#[derive(Debug)]
pub(crate) struct Appender {
    buf: AlignedBuf,
    /// Where the buffer's bytes go.
    at: u64,
    state: DirectState,
}

impl Appender {
    /// Appending from offset `at` on.
    pub(crate) fn new(at: u64) -> Appender {
        Appender {
            buf: AlignedBuf::with_capacity(APPEND_CHUNK),
            at,
            state: DirectState::default(),
        }
    }

    /// Takes as much of `bytes` as fits into the buffer (at least one byte of a non-empty
    /// `bytes`), writing the buffer out when it is full; returns the bytes written out
    /// through the page cache by this call, which may need flushing.
    pub(crate) fn write(&mut self, file: &File, bytes: &[u8]) -> io::Result<(usize, u64)> {
        let mut cached = 0;
        if self.buf.room() == 0 {
            cached = self.write_out(file)?;
        }
        let n = self.buf.extend_from_slice(bytes);
        if self.buf.room() == 0 {
            cached = cached.saturating_add(self.write_out(file)?);
        }
        Ok((n, cached))
    }

    /// Writes out what the buffer holds (a partial last block through the page cache), and
    /// returns how many bytes went through the page cache.
    ///
    /// The bytes past the last block boundary of the file stay in the buffer, moved to its
    /// start: the next write-out rewrites them from that boundary, so that after a flush at
    /// any point (or a start at an unaligned offset) the following full buffers are aligned
    /// again and still go direct.
    pub(crate) fn write_out(&mut self, file: &File) -> io::Result<u64> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        let before = self.state.direct_bytes;
        let len = self.buf.len();
        self.state.write_all_at(file, self.buf.bytes(), self.at)?;
        let end = self.at.saturating_add(len as u64);
        let past_boundary = end
            .checked_rem(DIRECT_ALIGN as u64)
            .and_then(|r| usize::try_from(r).ok())
            .unwrap_or(0);
        let done = len.saturating_sub(past_boundary);
        self.at = self.at.saturating_add(done as u64);
        self.buf.consume(done);
        Ok((len as u64).saturating_sub(self.state.direct_bytes.saturating_sub(before)))
    }

    /// Writes out what is buffered and leaves the file without `O_DIRECT`.
    pub(crate) fn finish(&mut self, file: &File) -> io::Result<u64> {
        let cached = self.write_out(file)?;
        self.state.set_direct(file, false)?;
        Ok(cached)
    }

    /// Bytes written direct so far.
    #[cfg(test)]
    pub(crate) fn direct_bytes(&self) -> u64 {
        self.state.direct_bytes
    }
}

/// How a file is being written: whether `O_DIRECT` is on, whether the file system refused
/// it, and how many bytes went direct.
#[derive(Debug, Default)]
struct DirectState {
    /// Whether `O_DIRECT` is set on the file now.
    direct: bool,
    /// Whether the file system refused direct I/O for this file.
    refused: bool,
    /// Bytes written direct.
    direct_bytes: u64,
}

impl DirectState {
    /// Writes all of `buf` at `at` of `file`: its aligned part direct when it qualifies,
    /// the rest buffered.
    fn write_all_at(&mut self, file: &File, buf: &[u8], at: u64) -> io::Result<()> {
        let direct_len = if self.refused {
            0
        } else {
            direct_part(buf, at)
        };
        let (direct, rest) = buf.split_at(direct_len);
        if !direct.is_empty() {
            let written = self
                .set_direct(file, true)
                .and_then(|()| sys::write_all_at(file, direct, at));
            match written {
                Ok(()) => {
                    self.direct_bytes = self.direct_bytes.saturating_add(direct.len() as u64);
                }
                // The file system does not do direct I/O (or cut a direct write short, so
                // that the rest was unaligned): all of it buffered, which rewrites the same
                // bytes where some were written, and the rest of the file too.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    self.refused = true;
                    return self.buffered(file, buf, at);
                }
                Err(e) => return Err(e),
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        self.buffered(file, rest, at.saturating_add(direct.len() as u64))
    }

    fn buffered(&mut self, file: &File, buf: &[u8], at: u64) -> io::Result<()> {
        self.set_direct(file, false)?;
        sys::write_all_at(file, buf, at)
    }

    fn set_direct(&mut self, file: &File, on: bool) -> io::Result<()> {
        if self.direct != on {
            sys::set_direct(file, on)?;
            self.direct = on;
        }
        Ok(())
    }
}

/// How many leading bytes of `buf`, to be written at `at`, go direct: a whole number of
/// [`DIRECT_ALIGN`] blocks, at least [`DIRECT_MIN`] bytes, from an aligned offset and
/// address; 0 when the write does not qualify (or the system has no direct I/O).
fn direct_part(buf: &[u8], at: u64) -> usize {
    let aligned = buf.len().saturating_sub(buf.len() % DIRECT_ALIGN);
    let qualifies = sys::DIRECT_IO
        && aligned >= DIRECT_MIN
        && at.is_multiple_of(DIRECT_ALIGN as u64)
        && buf.as_ptr().addr().is_multiple_of(DIRECT_ALIGN);
    if qualifies { aligned } else { 0 }
}

/// A buffer of up to `capacity` bytes whose first byte sits at a [`DIRECT_ALIGN`]ed address,
/// so that what is written from it can go direct ([`DirectWriter`]). It never moves: bytes
/// past its capacity are refused rather than reallocated.
#[derive(Debug)]
pub struct AlignedBuf {
    /// `start` bytes of padding, then the content.
    buf: Vec<u8>,
    start: usize,
}

impl AlignedBuf {
    /// An empty buffer with room for `capacity` bytes.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> AlignedBuf {
        let mut buf: Vec<u8> = Vec::with_capacity(capacity.saturating_add(DIRECT_ALIGN));
        let start = buf.as_ptr().align_offset(DIRECT_ALIGN).min(DIRECT_ALIGN);
        buf.resize(start, 0);
        AlignedBuf { buf, start }
    }

    /// The bytes held.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// How many bytes are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Whether no bytes are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many more bytes fit.
    #[must_use]
    pub fn room(&self) -> usize {
        self.buf.capacity().saturating_sub(self.buf.len())
    }

    /// Appends as much of `bytes` as fits; returns how many bytes that was.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> usize {
        let take = self.room().min(bytes.len());
        self.buf
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
        take
    }

    /// Empties the buffer (keeping its memory).
    pub fn clear(&mut self) {
        self.buf.truncate(self.start);
    }

    /// Drops the first `n` bytes held (all of them when `n` is larger) and moves the rest
    /// to the aligned start.
    pub(crate) fn consume(&mut self, n: usize) {
        let from = self.start.saturating_add(n).min(self.buf.len());
        self.buf.copy_within(from.., self.start);
        let kept = self.buf.len().saturating_sub(from);
        self.buf.truncate(self.start.saturating_add(kept));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aligned_buffer_starts_aligned_holds_its_capacity_and_never_moves() {
        for cap in [0, 1, 4096, 256 << 10] {
            let mut b = AlignedBuf::with_capacity(cap);
            assert!(b.is_empty());
            assert_eq!(b.room(), cap.max(b.room()));
            assert!(b.room() >= cap);
            let at = b.bytes().as_ptr();
            assert!(at.addr().is_multiple_of(DIRECT_ALIGN));
            let data = vec![7u8; cap.saturating_add(10_000)];
            let took = b.extend_from_slice(&data);
            assert!(took >= cap && took < data.len(), "{took} of {cap}");
            assert_eq!(b.len(), took);
            assert_eq!(b.extend_from_slice(&data), 0);
            assert_eq!(b.bytes().as_ptr(), at);
            assert!(b.bytes().iter().all(|&x| x == 7));
            b.clear();
            assert!(b.is_empty());
            assert_eq!(b.bytes().as_ptr(), at);
        }
    }

    #[test]
    fn only_large_aligned_writes_qualify_and_only_their_whole_blocks() {
        let mut b = AlignedBuf::with_capacity(DIRECT_MIN * 2);
        b.extend_from_slice(&vec![1u8; DIRECT_MIN + 100]);
        let whole = if sys::DIRECT_IO { DIRECT_MIN } else { 0 };
        assert_eq!(direct_part(b.bytes(), 0), whole);
        assert_eq!(direct_part(b.bytes(), 8192), whole);
        // An unaligned offset, an unaligned address, too little.
        assert_eq!(direct_part(b.bytes(), 512), 0);
        assert_eq!(direct_part(b.bytes().get(1..).unwrap(), 0), 0);
        assert_eq!(direct_part(b.bytes().get(..DIRECT_MIN - 1).unwrap(), 0), 0);
    }

    /// Whatever went direct and whatever went through the page cache, the file holds the
    /// bytes written, and the writer's file is an ordinary one again afterwards.
    #[test]
    fn mixed_writes_leave_exactly_the_bytes_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create_new(dir.path().join("f")).unwrap();
        let mut w = DirectWriter::new(file);
        let mut b = AlignedBuf::with_capacity(300_000);
        let pattern: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        b.extend_from_slice(&pattern);
        // Direct (aligned, large), then a buffered tail, then direct again after it, then
        // a small unaligned write in the middle of a hole.
        w.write_all_at(b.bytes(), 0).unwrap();
        w.write_all_at(b.bytes().get(..70_000).unwrap(), 1 << 20)
            .unwrap();
        w.write_all_at(b.bytes().get(..5).unwrap(), 600_001)
            .unwrap();
        if sys::DIRECT_IO && !w.state.refused {
            // 73 and 17 whole blocks from aligned offsets.
            assert_eq!(w.direct_bytes(), (73 + 17) * 4096);
        }
        drop(w.into_file().unwrap());
        // By name: on Windows a positioned write moves the file's position too.
        let got = std::fs::read(dir.path().join("f")).unwrap();
        assert_eq!(got.len(), (1 << 20) + 70_000);
        assert!(got.get(..300_000) == Some(&pattern[..]), "first write");
        assert!(got.get(300_000..600_001).unwrap().iter().all(|&x| x == 0));
        assert!(got.get(600_001..600_006) == pattern.get(..5), "small write");
        assert!(got.get(1 << 20..) == pattern.get(..70_000), "second write");
    }

    /// A file that cannot do direct I/O (a character device here, which `fcntl` refuses
    /// `O_DIRECT`) takes every write buffered, the qualifying ones included.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_without_direct_io_is_written_through_the_cache() {
        let null = File::options().write(true).open("/dev/null").unwrap();
        let mut w = DirectWriter::new(null);
        let mut b = AlignedBuf::with_capacity(DIRECT_MIN);
        b.extend_from_slice(&vec![1u8; DIRECT_MIN]);
        w.write_all_at(b.bytes(), 0).unwrap();
        w.write_all_at(b.bytes(), DIRECT_MIN as u64).unwrap();
        assert!(w.state.refused);
        assert_eq!(w.direct_bytes(), 0);
        w.into_file().unwrap();
    }

    #[test]
    fn consuming_keeps_the_rest_at_the_aligned_start() {
        let mut b = AlignedBuf::with_capacity(10_000);
        let data: Vec<u8> = (0..9_000u32).map(|i| (i % 251) as u8).collect();
        b.extend_from_slice(&data);
        let at = b.bytes().as_ptr();
        let room = b.room();
        b.consume(4096);
        assert!(b.bytes() == &data[4096..] && b.bytes().as_ptr() == at);
        assert_eq!(b.room(), room + 4096);
        b.consume(0);
        assert!(b.bytes() == &data[4096..]);
        b.consume(1 << 20);
        assert!(b.is_empty() && b.bytes().as_ptr() == at);
    }

    /// A file appended to from an unaligned offset in pieces of every size, flushed at
    /// unaligned points: it holds exactly the bytes appended, and after every flush the
    /// next full buffers still went direct.
    #[test]
    fn an_appended_file_holds_what_was_appended_and_stays_direct_after_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create_new(dir.path().join("f")).unwrap();
        std::io::Write::write_all(&mut file, b"head").unwrap();
        let mut a = Appender::new(4);
        let all: Vec<u8> = (0..7_700_000u32).map(|i| (i % 253) as u8).collect();
        let mut rest = &all[..];
        let mut piece = 1usize;
        let mut next_flush = 1_500_000;
        let mut direct_at_flush = Vec::new();
        while !rest.is_empty() {
            let (n, _) = a
                .write(&file, rest.get(..piece.min(rest.len())).unwrap())
                .unwrap();
            assert!(n > 0);
            rest = rest.get(n..).unwrap();
            piece = (piece * 3 + 1) % 700_001;
            if all.len() - rest.len() > next_flush {
                a.write_out(&file).unwrap();
                direct_at_flush.push(a.direct_bytes());
                next_flush += 2_345_679;
            }
        }
        a.finish(&file).unwrap();
        direct_at_flush.push(a.direct_bytes());
        if sys::DIRECT_IO && !a.state.refused {
            assert_eq!(direct_at_flush.len(), 4, "{direct_at_flush:?}");
            // Between two flushes at least one whole buffer went direct.
            for w in direct_at_flush.windows(2) {
                assert!(w[1] >= w[0] + (1 << 20), "{direct_at_flush:?}");
            }
        }
        let got = std::fs::read(dir.path().join("f")).unwrap();
        assert!(
            got.len() == all.len() + 4
                && got.starts_with(b"head")
                && got.get(4..) == Some(&all[..]),
            "{} bytes read back",
            got.len()
        );
    }
}

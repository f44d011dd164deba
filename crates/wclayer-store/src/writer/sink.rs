//! Where each piece of an entry's backup stream goes: the entry's own file (data and sparse
//! blocks), the record (small metadata), or a sidecar blob (alternate data streams, large
//! streams). The stream arrives cut up by `wclayer_backup::StreamSplitter`.

use std::fs::File;
use std::io::{BufWriter, Write};

use wclayer_backup::{RawHeader, SplitError, SplitVisitor, StreamId, UnixTime};
use wclayer_fs::{AlignedBuf, Dir};
use wclayer_layer::{FileNo, ReportedSize};

use super::pool::{CHUNK, Pool};
use crate::Error;
use crate::format::{INLINE_MAX, MAX_CONTENT_OFFSET};
use crate::meta::{Body, StreamRecord};

/// Where the body of the current sub-stream goes.
enum Dest {
    Content,
    Inline(Vec<u8>),
    Blob(BufWriter<File>),
}

/// The stream bookkeeping of the entry being written.
pub(super) struct EntrySink {
    file_no: FileNo,
    /// The entry's own regular file, for data and sparse blocks, filled by the pool.
    content: Option<Content>,
    content_touched: bool,
    /// End of the furthest content written: later sparse blocks must start at or after it,
    /// so nothing already written is overwritten.
    high_water: u64,
    /// The file's logical length (a terminating sparse block may lie beyond the data).
    logical_len: u64,
    pub(super) streams: Vec<StreamRecord>,
    open: Option<(StreamRecord, Dest)>,
    pub(super) size: ReportedSize,
    /// The first reparse buffer, which decides symlink or placeholder.
    pub(super) reparse: Option<Vec<u8>>,
    blobs: u32,
}

impl EntrySink {
    /// The sink of file `file_no`; `content` when the entry has its own regular file, which
    /// the pool has begun ([`Pool::begin`]).
    pub(super) fn new(file_no: FileNo, content: Option<AlignedBuf>) -> EntrySink {
        EntrySink {
            file_no,
            content: content.map(|buf| Content { buf }),
            content_touched: false,
            high_water: 0,
            logical_len: 0,
            streams: Vec::new(),
            open: None,
            size: ReportedSize::default(),
            reparse: None,
            blobs: 0,
        }
    }

    /// Whether the entry has its own regular file.
    pub(super) fn has_content(&self) -> bool {
        self.content.is_some()
    }

    /// Completes the entry's own file: what is pending is written, the file extended to its
    /// logical length (a terminating sparse block beyond the data leaves a hole), its times
    /// set and the file closed.
    pub(super) fn finish_content(
        &mut self,
        pool: &mut Pool,
        atime: Option<UnixTime>,
        mtime: Option<UnixTime>,
    ) -> Result<(), Error> {
        let Some(c) = self.content.take() else {
            return Ok(());
        };
        c.send_last(pool)?;
        pool.end(self.logical_len, atime, mtime)
    }
}

/// The data of the entry's own file, collected into chunks for the pool, which writes them
/// through `wclayer_layer::SparseWriter` (every aligned block of zeros stays a hole,
/// docs/security.md §4).
struct Content {
    buf: AlignedBuf,
}

impl Content {
    fn seek(&mut self, pool: &mut Pool, at: u64) -> Result<(), Error> {
        self.send(pool)?;
        pool.seek(at)
    }

    fn write_all(&mut self, pool: &mut Pool, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let room = CHUNK.saturating_sub(self.buf.len());
            let took = self
                .buf
                .extend_from_slice(bytes.get(..room).unwrap_or(bytes));
            if self.buf.len() >= CHUNK || took == 0 {
                self.send(pool)?;
            }
            bytes = bytes.get(took..).unwrap_or_default();
        }
        Ok(())
    }

    /// Hands the collected bytes to the pool, and takes a buffer for more.
    fn send(&mut self, pool: &mut Pool) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, pool.buffer());
        pool.data(full)
    }

    /// Hands the last collected bytes to the pool, or the unused buffer back: either way
    /// it is reused for the next file instead of allocated again (fresh memory costs a page
    /// fault per 4 KiB the first time it is touched).
    fn send_last(self, pool: &mut Pool) -> Result<(), Error> {
        if self.buf.is_empty() {
            pool.recycle(self.buf);
            return Ok(());
        }
        pool.data(self.buf)
    }
}

/// [`SplitVisitor`] with what the sink needs to create blob files.
pub(super) struct SinkCtx<'a> {
    pub(super) streams_dir: &'a Dir,
    pub(super) pool: &'a mut Pool,
    pub(super) s: &'a mut EntrySink,
    pub(super) entry: &'a str,
}

/// The store's error for a failed split of `entry`'s stream.
pub(super) fn split_error(entry: &str, e: SplitError<Error>) -> Error {
    match e {
        SplitError::Stream(source) => Error::Model(wclayer_layer::Error::Stream {
            name: entry.to_owned(),
            source,
        }),
        SplitError::Visitor(e) => e,
    }
}

impl SplitVisitor for SinkCtx<'_> {
    type Error = Error;

    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), Error> {
        let s = &mut *self.s;
        let id = h.id();
        let size = h.size();
        let name = h.name();
        let again: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let name_utf16 = (again != h.name_bytes()).then(|| h.name_bytes().to_vec());
        let sparse = id == StreamId::SPARSE_BLOCK;
        s.size.header(id, h.attributes(), size, h.offset());
        let content_at = match (&s.content, id) {
            (Some(_), StreamId::DATA) if !s.content_touched => Some(0),
            (Some(_), StreamId::SPARSE_BLOCK) => u64::try_from(h.offset()).ok().filter(|&off| {
                off >= s.high_water
                    && off
                        .checked_add(size)
                        .is_some_and(|end| end <= MAX_CONTENT_OFFSET)
            }),
            _ => None,
        };
        let entry = self.entry;
        let (body, dest) = if let Some(off) = content_at {
            s.content_touched = true;
            // `off + size <= MAX_CONTENT_OFFSET` was checked for sparse blocks; data starts
            // at 0.
            let end = off.saturating_add(size);
            if size > 0 {
                // An empty block writes nothing, so it needs no protection from overwrites;
                // a terminator only sets the logical length.
                s.high_water = s.high_water.max(end);
            }
            s.logical_len = s.logical_len.max(end);
            if let Some(c) = s.content.as_mut()
                && size > 0
            {
                c.seek(self.pool, off)?;
            }
            (Body::Content(off), Dest::Content)
        } else if size == 0
            || (size <= INLINE_MAX
                && !matches!(
                    id,
                    StreamId::DATA | StreamId::ALTERNATE_DATA | StreamId::SPARSE_BLOCK
                ))
        {
            let cap = usize::try_from(size).unwrap_or(0);
            (
                Body::Inline(Vec::new()),
                Dest::Inline(Vec::with_capacity(cap)),
            )
        } else {
            let blob = format!("{}.{}", s.file_no.index(), s.blobs);
            s.blobs = s.blobs.saturating_add(1);
            let f = self
                .streams_dir
                .create_file(&blob)
                .map_err(|e| Error::io("create stream file", entry, e))?;
            (
                Body::Blob(blob),
                Dest::Blob(BufWriter::with_capacity(64 << 10, f)),
            )
        };
        let rec = StreamRecord {
            id: id.0,
            attributes: h.attributes().0,
            size,
            name,
            name_utf16,
            offset: sparse.then_some(h.offset()),
            body,
        };
        s.open = Some((rec, dest));
        Ok(())
    }

    fn body(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let s = &mut *self.s;
        let entry = self.entry;
        let no_entry = || Error::Model(wclayer_layer::Error::NoEntry);
        match s.open.as_mut().map(|(_, d)| d) {
            Some(Dest::Content) => match s.content.as_mut() {
                Some(c) => c.write_all(self.pool, bytes),
                None => Err(no_entry()),
            },
            Some(Dest::Inline(v)) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
            Some(Dest::Blob(w)) => w
                .write_all(bytes)
                .map_err(|e| Error::io("write stream file", entry, e)),
            None => Err(no_entry()),
        }
    }

    fn end(&mut self) -> Result<(), Error> {
        let s = &mut *self.s;
        let Some((mut rec, dest)) = s.open.take() else {
            return Err(Error::Model(wclayer_layer::Error::NoEntry));
        };
        match dest {
            Dest::Content => {}
            Dest::Inline(v) => {
                if StreamId(rec.id) == StreamId::REPARSE_DATA && s.reparse.is_none() {
                    s.reparse = Some(v.clone());
                }
                rec.body = Body::Inline(v);
            }
            Dest::Blob(w) => {
                w.into_inner()
                    .map_err(|e| Error::io("write stream file", self.entry, e.into_error()))?;
            }
        }
        s.streams.push(rec);
        Ok(())
    }
}

//! [`ArchiveReader`]: the block stream, entry by entry, as Go's `Reader.Next` and
//! `Reader.Read` walk it, within the limits of [`ArchiveOptions`].

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;

use super::header::{F_NAME, Parsed, TarHeader, Work, c_string, field, parse_header};
use super::pax::{PAX_PATH, merge_pax, parse_pax_records};
use super::sparse::{Sparse, validate_sparse};
use super::{BLOCK, BLOCK_U64, Block, Error, Records, is_header_only, len_u64, len_u64_n, padding};

/// How many bytes are discarded per `read` call when skipping unread data.
const SKIP_CHUNK: usize = 8 * 1024;
/// How much of a special entry (PAX records, long name) is reserved before its bytes
/// arrive: a header that declares 1 MiB and is followed by nothing costs no more than this.
const SPECIAL_CHUNK: usize = 64 * 1024;

/// Limits on what an archive can make the reader hold in memory or expand.
///
/// [`Default`] gives the safe limits: Go's where Go has one, so that every archive Go
/// accepts within them is accepted. Raise a limit by changing the field:
///
/// ```
/// let mut o = wclayer_tar::archive::ArchiveOptions::default();
/// o.max_sparse_logical_size = 4 << 40; // 4 TiB of holes
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveOptions {
    /// Largest body of a PAX `x` or `g` header, in bytes; also the largest PAX 1.0 or old GNU
    /// sparse map. Go: `maxSpecialFileSize`, 1 MiB, used for the same purposes. Default
    /// 1 MiB.
    pub max_pax_size: u64,
    /// Largest total size (keys plus values) of the global records in force, in bytes. Go
    /// keeps no global records; this reader copies them into every later entry's
    /// [`TarHeader::pax_records`], so a large set would multiply the work per 512-byte entry.
    /// Real producers write a few dozen bytes (`git archive`: one `comment`). Default
    /// 64 KiB.
    pub max_global_records: u64,
    /// Largest body of a GNU `L` or `K` entry, in bytes. Go uses its 1 MiB special-file
    /// limit. Default 1 MiB.
    pub max_long_name: u64,
    /// Most entries in one sparse map. Go: `maxSparseFileEntries`, 2^20. Default 2^20.
    pub max_sparse_entries: usize,
    /// Largest logical size of a sparse file, in bytes. Go has no limit: a few bytes of map
    /// can describe 2^63 bytes of zeros, which an import would then write out. Default 1 TiB.
    pub max_sparse_logical_size: u64,
}

impl Default for ArchiveOptions {
    fn default() -> ArchiveOptions {
        ArchiveOptions {
            max_pax_size: 1 << 20,
            max_global_records: 64 << 10,
            max_long_name: 1 << 20,
            max_sparse_entries: 1 << 20,
            max_sparse_logical_size: 1 << 40,
        }
    }
}

/// Headers seen since the last entry that apply to the next one.
#[derive(Default)]
struct Pending {
    /// Records of the last `x` header (Go replaces, never merges, earlier ones).
    local: Option<Records>,
    /// Body of the last `L` header, cut at its first NUL.
    long_name: Option<Vec<u8>>,
    /// Body of the last `K` header, cut at its first NUL.
    long_link: Option<Vec<u8>>,
    /// Offset of the first of these headers.
    first_offset: Option<u64>,
}

/// A streaming tar reader with the header semantics of Go's `archive/tar` (see the module
/// docs for what that means and where it deliberately differs).
///
/// Call [`next_entry`](Self::next_entry) to move to the next entry, then read its logical
/// data through [`Read`], which returns `Ok(0)` at the end of the entry (at once for
/// entries without data). Data need not be read: `next_entry` skips what is left, reading
/// and discarding it in small chunks. Entry data is never held in memory; only header
/// blocks, PAX records, long names and sparse maps are, within [`ArchiveOptions`].
/// `Interrupted` errors of the inner reader are retried.
///
/// # Drop behaviour
///
/// Dropping the reader drops the inner reader; nothing else happens. Use
/// [`into_inner`](Self::into_inner) to get it back, positioned wherever reading stopped.
#[derive(Debug)]
pub struct ArchiveReader<R> {
    inner: R,
    pub(super) options: ArchiveOptions,
    /// Bytes consumed from `inner`.
    pub(super) offset: u64,
    /// Stored data bytes of the current entry not yet read.
    pub(super) physical_remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
    /// Sparse read state of the current entry.
    pub(super) sparse: Option<Sparse>,
    /// Records of the `g` headers seen so far (never empty values).
    globals: Records,
    /// Name of the entry being read, for error messages.
    pub(super) context: Option<String>,
    /// The end of the archive was reached.
    finished: bool,
    /// The first error; returned again by every later call (Go's sticky `tr.err`).
    failed: Option<Error>,
}

impl<R: Read> ArchiveReader<R> {
    /// A reader with the default (safe) [`ArchiveOptions`].
    pub fn new(inner: R) -> Self {
        Self::with_options(inner, ArchiveOptions::default())
    }

    /// A reader with the given limits.
    pub fn with_options(inner: R, options: ArchiveOptions) -> Self {
        ArchiveReader {
            inner,
            options,
            offset: 0,
            physical_remaining: 0,
            pad: 0,
            sparse: None,
            globals: BTreeMap::new(),
            context: None,
            finished: false,
            failed: None,
        }
    }

    /// The next entry, after merging its PAX, GNU long-name and sparse headers; any unread
    /// data of the previous entry is skipped first. `Ok(None)` at the end of the archive
    /// (two zero blocks, or a clean EOF where Go accepts one) and on every call after it.
    ///
    /// # Errors
    ///
    /// Truncation inside a header or data, invalid headers or PAX records, names that are
    /// not UTF-8, limits of [`ArchiveOptions`], and errors of the inner reader. The error is
    /// sticky: every later call returns it again.
    pub fn next_entry(&mut self) -> Result<Option<TarHeader>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Ok(None);
        }
        match self.advance() {
            Ok(Some(h)) => Ok(Some(h)),
            Ok(None) => {
                self.finished = true;
                self.sparse = None;
                self.physical_remaining = 0;
                self.pad = 0;
                Ok(None)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes consumed from the inner reader so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The inner reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Go's `Reader.next`: reads headers until one describes an entry.
    fn advance(&mut self) -> Result<Option<TarHeader>, Error> {
        let mut pending = Pending::default();
        loop {
            // Discard the rest of the previous entry; EOF inside its padding ends the
            // archive (Go's `tryReadFull` on the padding returns io.EOF from Next).
            self.sparse = None;
            self.skip_physical()?;
            if !self.skip_padding()? {
                return Ok(None);
            }

            let block_offset = self.offset;
            let Some(blk) = self.read_header_block()? else {
                return Ok(None);
            };
            // A block that fails to parse may be no header at all (data, after an entry
            // whose size lied): its name field is then noise, so the error also names the
            // entry read before it.
            let previous = self.context.take();
            self.context = pending_name(&pending, &blk);
            let parsed = parse_header(&blk).map_err(|reason| Error::InvalidHeader {
                entry: self.context.clone(),
                after: previous,
                offset: block_offset,
                reason,
            })?;

            // Go's first `handleRegularFile`: the stored size of this header's body.
            self.physical_remaining = self.data_len(parsed.typeflag, parsed.size, block_offset)?;
            self.pad = padding(self.physical_remaining);
            let header_offset = *pending.first_offset.get_or_insert(block_offset);

            match parsed.typeflag {
                b'x' | b'g' => {
                    let data = self.read_special(
                        block_offset,
                        self.options.max_pax_size,
                        "PAX header",
                        "max_pax_size",
                    )?;
                    let data_offset = block_offset.saturating_add(BLOCK_U64);
                    let records = parse_pax_records(&data).map_err(|(pos, reason)| {
                        Error::InvalidPaxRecord {
                            entry: self.context.clone(),
                            offset: data_offset.saturating_add(pos),
                            reason,
                        }
                    })?;
                    if parsed.typeflag == b'g' {
                        self.apply_globals(records, block_offset)?;
                        // Go returns the global header as an entry, which ends `Next`:
                        // headers pending before it never reach a later entry.
                        pending = Pending::default();
                    } else {
                        pending.local = Some(records);
                    }
                }
                b'L' | b'K' => {
                    let data = self.read_special(
                        block_offset,
                        self.options.max_long_name,
                        "GNU long name",
                        "max_long_name",
                    )?;
                    let value = c_string(&data).to_vec();
                    if parsed.typeflag == b'L' {
                        pending.long_name = Some(value);
                    } else {
                        pending.long_link = Some(value);
                    }
                }
                _ => {
                    return self
                        .finish_entry(&blk, parsed, pending, header_offset, block_offset)
                        .map(Some);
                }
            }
        }
    }

    /// Merges the pending headers into the main header `parsed` and sets up the data
    /// reader (the `default:` branch of Go's `Reader.next`).
    fn finish_entry(
        &mut self,
        blk: &Block,
        parsed: Parsed,
        pending: Pending,
        header_offset: u64,
        block_offset: u64,
    ) -> Result<TarHeader, Error> {
        let mut records = self.globals.clone();
        if let Some(local) = pending.local {
            records.extend(local);
        }
        let mut h = Work::from(parsed);

        merge_pax(&mut h, &records).map_err(|(key, value)| Error::InvalidPaxValue {
            entry: self.context.clone(),
            offset: block_offset,
            key: String::from_utf8_lossy(key).into_owned(),
            value: String::from_utf8_lossy(value).into_owned(),
        })?;
        if let Some(n) = pending.long_name.filter(|n| !n.is_empty()) {
            h.name = n;
        }
        if let Some(l) = pending.long_link.filter(|l| !l.is_empty()) {
            h.linkname = l;
        }
        if h.typeflag == 0 {
            // Legacy archives mark directories with a trailing slash only.
            h.typeflag = if h.name.ends_with(b"/") { b'5' } else { b'0' };
        }
        self.context = Some(String::from_utf8_lossy(&h.name).into_owned());

        // Go's second `handleRegularFile`: PAX `size` may have changed the stored size.
        self.physical_remaining = self.data_len(h.typeflag, h.size, block_offset)?;
        self.pad = padding(self.physical_remaining);

        let map = if h.typeflag == b'S' {
            Some(self.read_old_gnu_sparse(blk, h.format, &mut h, block_offset)?)
        } else {
            self.read_pax_sparse(&records, &mut h, block_offset)?
        };
        if let Some(map) = map {
            self.context = Some(String::from_utf8_lossy(&h.name).into_owned());
            if is_header_only(h.typeflag) {
                return Err(self.invalid(block_offset, "sparse map on an entry without data"));
            }
            let fragments = validate_sparse(&map, h.size)
                .map_err(|reason| self.invalid(block_offset, reason))?;
            // validate_sparse rejected a negative size.
            let size = u64::try_from(h.size).unwrap_or(0);
            if size > self.options.max_sparse_logical_size {
                return Err(Error::SparseLimit {
                    entry: self.context.clone(),
                    offset: block_offset,
                    what: "logical size",
                    value: size,
                    limit: self.options.max_sparse_logical_size,
                    option: "max_sparse_logical_size",
                });
            }
            self.sparse = Some(Sparse {
                fragments,
                next: 0,
                pos: 0,
                size,
            });
            // docs/compat.md: old GNU sparse entries import like PAX sparse ones.
            if h.typeflag == b'S' {
                h.typeflag = b'0';
            }
        }
        self.to_header(h, records, header_offset)
    }

    /// Builds the public header, checking that names and record keys are UTF-8.
    fn to_header(&self, h: Work, records: Records, header_offset: u64) -> Result<TarHeader, Error> {
        let not_utf8 = |field| Error::NotUtf8 {
            entry: self.context.clone(),
            offset: header_offset,
            field,
        };
        let name = String::from_utf8(h.name).map_err(|_| not_utf8("name"))?;
        let linkname = String::from_utf8(h.linkname).map_err(|_| not_utf8("linkname"))?;
        let mut pax_records = BTreeMap::new();
        for (k, v) in records {
            let key = String::from_utf8(k).map_err(|_| not_utf8("PAX record key"))?;
            pax_records.insert(key, String::from_utf8_lossy(&v).into_owned());
        }
        Ok(TarHeader {
            name,
            linkname,
            typeflag: h.typeflag,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            uname: String::from_utf8_lossy(&h.uname).into_owned(),
            gname: String::from_utf8_lossy(&h.gname).into_owned(),
            size: h.size,
            mod_time: h.mod_time,
            access_time: h.access_time,
            change_time: h.change_time,
            devmajor: h.devmajor,
            devminor: h.devminor,
            pax_records,
            header_offset,
        })
    }

    /// Applies the records of a `g` header to the global set (POSIX: an empty value
    /// deletes the key) and bounds the set's total size.
    fn apply_globals(&mut self, records: Records, block_offset: u64) -> Result<(), Error> {
        for (k, v) in records {
            if v.is_empty() {
                self.globals.remove(&k);
            } else {
                self.globals.insert(k, v);
            }
        }
        let total = self.globals.iter().fold(0u64, |acc, (k, v)| {
            acc.saturating_add(len_u64(k)).saturating_add(len_u64(v))
        });
        if total > self.options.max_global_records {
            return Err(Error::TooLong {
                entry: self.context.clone(),
                offset: block_offset,
                what: "global PAX records",
                size: total,
                limit: self.options.max_global_records,
                option: "max_global_records",
            });
        }
        Ok(())
    }

    /// Go's `handleRegularFile`: how many stored bytes follow a header.
    fn data_len(&self, typeflag: u8, size: i64, block_offset: u64) -> Result<u64, Error> {
        if is_header_only(typeflag) {
            return Ok(0);
        }
        u64::try_from(size).map_err(|_| self.invalid(block_offset, "negative size"))
    }

    /// Reads the whole body of a special entry (PAX records, GNU long name), refusing one
    /// over `limit` before reading it (Go's `readSpecialFile`).
    fn read_special(
        &mut self,
        block_offset: u64,
        limit: u64,
        what: &'static str,
        option: &'static str,
    ) -> Result<Vec<u8>, Error> {
        let len = self.physical_remaining;
        if len > limit {
            return Err(Error::TooLong {
                entry: self.context.clone(),
                offset: block_offset,
                what,
                size: len,
                limit,
                option,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(SPECIAL_CHUNK));
        let mut chunk = [0u8; 4096];
        while self.physical_remaining > 0 {
            let n = self.read_physical(&mut chunk, what)?;
            data.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        Ok(data)
    }
    /// Reads one header block, handling the end-of-archive rules of Go's `readHeader`.
    /// `None` at the end of the archive.
    fn read_header_block(&mut self) -> Result<Option<Block>, Error> {
        let mut blk: Block = [0; BLOCK];
        match self.read_full(&mut blk)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(self.eof("a header block")),
        }
        if blk.iter().any(|&b| b != 0) {
            return Ok(Some(blk));
        }
        // One zero block: the end, unless another block follows that is not zero.
        let second_offset = self.offset;
        match self.read_full(&mut blk)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(self.eof("the end-of-archive marker")),
        }
        if blk.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        Err(self.invalid(second_offset, "a zero block followed by a non-zero block"))
    }

    /// Discards the unread stored data of the current entry (Go's `discard`).
    fn skip_physical(&mut self) -> Result<(), Error> {
        let mut chunk = [0u8; SKIP_CHUNK];
        while self.physical_remaining > 0 {
            self.read_physical(&mut chunk, "entry data")?;
        }
        Ok(())
    }

    /// Discards the padding after the current entry; `false` if the input ended inside it,
    /// which Go takes as the end of the archive.
    fn skip_padding(&mut self) -> Result<bool, Error> {
        let mut chunk = [0u8; BLOCK];
        let want = usize::try_from(self.pad).unwrap_or(BLOCK).min(BLOCK);
        self.pad = 0;
        let n = self.read_full(chunk.get_mut(..want).unwrap_or_default())?;
        Ok(n == want)
    }

    /// Reads stored data of the current entry (at most what is left of it). `Ok(0)` only
    /// when nothing is left; the input ending earlier is [`Error::UnexpectedEof`].
    pub(super) fn read_physical(
        &mut self,
        buf: &mut [u8],
        what: &'static str,
    ) -> Result<usize, Error> {
        let max = usize::try_from(self.physical_remaining).unwrap_or(usize::MAX);
        let want = buf.len().min(max);
        if want == 0 {
            return Ok(0);
        }
        let n = self.read_inner(buf.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            return Err(self.eof(what));
        }
        self.physical_remaining = self.physical_remaining.saturating_sub(len_u64_n(n));
        Ok(n)
    }

    /// Reads until `buf` is full or the input ends; returns the bytes read.
    pub(super) fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            let n = self.read_inner(rest)?;
            if n == 0 {
                break;
            }
            filled = filled.saturating_add(n);
        }
        Ok(filled)
    }

    /// One read of the inner reader, retrying `Interrupted` and counting the offset.
    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.inner.read(buf) {
                // A reader claiming more than it was given is buggy; never trust it.
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.offset = self.offset.saturating_add(len_u64_n(n));
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Io {
                        entry: self.context.clone(),
                        offset: self.offset,
                        source: Arc::new(e),
                    });
                }
            }
        }
    }

    /// Go's `ErrHeader`, for the header at `offset`.
    pub(super) fn invalid(&self, offset: u64, reason: &'static str) -> Error {
        Error::InvalidHeader {
            entry: self.context.clone(),
            after: None,
            offset,
            reason,
        }
    }

    /// Go's `io.ErrUnexpectedEOF`, at the current offset.
    pub(super) fn eof(&self, what: &'static str) -> Error {
        Error::UnexpectedEof {
            entry: self.context.clone(),
            offset: self.offset,
            what,
        }
    }
}

impl<R: Read> ArchiveReader<R> {
    /// The current entry's logical data: stored bytes, with sparse holes as zeros. Returns
    /// `Ok(0)` at the end of the entry, before the first entry and after the last. The
    /// [`Read`] implementation is the same with the error as [`io::Error`].
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] for a short entry, the reader's other errors. Errors are
    /// sticky, as in Go.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let r = if self.sparse.is_some() {
            self.read_sparse(buf)
        } else {
            self.read_physical(buf, "entry data")
        };
        r.inspect_err(|e| self.failed = Some(e.clone()))
    }
}

impl<R: Read> Read for ArchiveReader<R> {
    /// See [`ArchiveReader::read_data`]. A short entry is an
    /// [`io::ErrorKind::UnexpectedEof`] error; other errors carry an [`Error`] inside.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_data(buf)?)
    }
}

/// The best name known for a header about to be parsed, for error messages: a pending GNU
/// long name, a pending PAX `path`, or the block's own name field.
fn pending_name(pending: &Pending, blk: &Block) -> Option<String> {
    let local_path = pending
        .local
        .as_ref()
        .and_then(|l| l.get(PAX_PATH))
        .filter(|p| !p.is_empty());
    let name = pending
        .long_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(local_path.map(Vec::as_slice))
        .unwrap_or_else(|| c_string(field(blk, F_NAME)));
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

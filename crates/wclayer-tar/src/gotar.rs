//! A tar writer that produces exactly the bytes Go's `archive/tar` `Writer` produces
//! (spec oci-tar-mapping.md §8).
//!
//! hcsshim exports a layer through go-winio's `backuptar`, which hands every entry to Go's
//! `tar.Writer`. An exported layer is known by its digest, so wclayer has to repeat Go's
//! choices to the last byte: which format each header gets (USTAR, or a PAX extended header
//! followed by the main header), the `PaxHeaders.0` names of the extended headers, the sorted
//! `"<len> <key>=<value>\n"` records, the ASCII filtering of names in PAX main headers and the
//! single NUL written into a truncated name that ends in `/`. No published crate reproduces
//! these choices (the `tar` crate's `Builder` makes its own), so this module re-implements
//! `WriteHeader`, `Write` and `Close` by hand from the spec and Go's `writer.go`, `common.go`,
//! `format.go` and `strconv.go`.
//!
//! # How it fits
//!
//! Build a [`Header`] (field for field Go's `tar.Header`), pass it to
//! [`GoTarWriter::write_header`], write exactly [`Header::size`] bytes of data through the
//! writer's [`std::io::Write`] impl (none for typeflags `1`–`6`), repeat, and end with
//! [`GoTarWriter::finish`], which writes the two zero blocks. Entry data is streamed straight
//! to the inner writer; only header blocks (and PAX records, at most 1 MiB) are built in memory.
//!
//! ```
//! use std::io::Write;
//! use wclayer_tar::gotar::{Format, GoTarWriter, Header};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut tar = GoTarWriter::new(Vec::new());
//! let mut hdr = Header {
//!     name: "Files/hello.txt".into(),
//!     mode: 0o100000,
//!     size: 6,
//!     format: Format::Pax,
//!     ..Header::default()
//! };
//! hdr.pax_records.insert("MSWINDOWS.fileattr".into(), "32".into());
//! tar.write_header(&hdr)?;
//! tar.write_all(b"hello\n")?;
//! let bytes = tar.finish()?;
//! // PAX extended header + records, main header, data block, two zero blocks.
//! assert_eq!(bytes.len(), 6 * 512);
//! # Ok(())
//! # }
//! ```
//!
//! # Scope
//!
//! Everything Go does for [`Format::Pax`] and [`Format::Unspecified`] headers is reproduced,
//! including what backuptar never asks for: uid/gid/uname/gname, device numbers, global `g`
//! headers, and Go's last resort for an unspecified format, a GNU header (with `././@LongLink`
//! entries for long names) when `mode`, `devmajor` or `devminor` fits no octal field. Go's
//! sparse-file support is disabled in Go itself and so absent here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

use wclayer_backup::UnixTime;

/// Size of a tar block; headers are one block and data is padded to whole blocks (§8.7).
const BLOCK_SIZE: usize = 512;
/// Length of the USTAR `name` and `linkname` fields (§8.1).
const NAME_SIZE: usize = 100;
/// Length of the USTAR `prefix` field (§8.5).
const PREFIX_SIZE: usize = 155;
/// Go's `maxSpecialFileSize`: the PAX records of one entry may not exceed 1 MiB (§8.3).
const MAX_PAX_RECORDS_LEN: usize = 1 << 20;
/// Length of the `uname` and `gname` fields (§8.1).
const USER_NAME_SIZE: usize = 32;
const ZERO_BLOCK: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];
/// Magic and version of USTAR and PAX headers (`ustar\0`, `00`; spec §8.1).
const USTAR_MAGIC: &[u8; 8] = b"ustar\x0000";
/// Magic and version of GNU headers (`ustar `, ` \0`).
const GNU_MAGIC: &[u8; 8] = b"ustar  \x00";

/// Byte ranges of the header fields (spec §8.1; Go's `headerV7`/`headerUSTAR`).
mod field {
    use std::ops::Range;

    pub(super) const NAME: Range<usize> = 0..100;
    pub(super) const MODE: Range<usize> = 100..108;
    pub(super) const UID: Range<usize> = 108..116;
    pub(super) const GID: Range<usize> = 116..124;
    pub(super) const SIZE: Range<usize> = 124..136;
    pub(super) const MTIME: Range<usize> = 136..148;
    pub(super) const CHKSUM: Range<usize> = 148..156;
    /// Only the first 7 bytes get digits; the last one is a space (§8.6).
    pub(super) const CHKSUM_DIGITS: Range<usize> = 148..155;
    pub(super) const CHKSUM_SPACE: usize = 155;
    pub(super) const TYPEFLAG: usize = 156;
    pub(super) const LINKNAME: Range<usize> = 157..257;
    pub(super) const MAGIC_VERSION: Range<usize> = 257..265;
    pub(super) const UNAME: Range<usize> = 265..297;
    pub(super) const GNAME: Range<usize> = 297..329;
    pub(super) const DEVMAJOR: Range<usize> = 329..337;
    pub(super) const DEVMINOR: Range<usize> = 337..345;
    pub(super) const PREFIX: Range<usize> = 345..500;
}

/// Typeflags Go's writer treats specially.
const TYPE_REG_A: u8 = 0;
const TYPE_REG: u8 = b'0';
const TYPE_DIR: u8 = b'5';
const TYPE_X_HEADER: u8 = b'x';
const TYPE_X_GLOBAL_HEADER: u8 = b'g';

/// Go's `Header.Format`, restricted to the two values backuptar uses (spec §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Go's `FormatUnknown`: the first of USTAR and PAX that can encode the header. As in Go,
    /// `mod_time` is rounded to whole seconds and `access_time`/`change_time` are ignored.
    /// backuptar leaves whiteouts unspecified (spec §4.7), which makes them USTAR unless the
    /// name forces a PAX `path` record.
    #[default]
    Unspecified,
    /// Go's `FormatPAX`, which backuptar sets on every other entry (spec §2). USTAR is still
    /// chosen when nothing needs a PAX record, exactly as Go does.
    Pax,
}

/// One tar header, field for field Go's `tar.Header` as backuptar fills it (spec §5.1).
///
/// [`Header::default`] is Go's zero `Header` except for the typeflag: it is `b'0'` where Go
/// has `0`, which Go turns into `'0'` anyway (or `'5'` for a name ending in `/`; a typeflag
/// of `0` is promoted the same way here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `Name`: the entry name, `/`-separated. Written in full in a `path` record when it is
    /// not ASCII or longer than 100 bytes (§8.3); must not contain NUL in that case.
    pub name: String,
    /// `Linkname`: target of a hard link (`1`) or symlink (`2`); `linkpath` record rules as
    /// for `name`.
    pub linkname: String,
    /// `Typeflag`: `b'0'` file, `b'1'` hard link, `b'2'` symlink, `b'5'` directory, …
    /// `b'x'`, `b'L'` and `b'K'` are rejected as in Go.
    pub typeflag: u8,
    /// `Mode`: permission and type bits, e.g. `0o40000` for a directory (§2). Must fit in
    /// 7 octal digits.
    pub mode: i64,
    /// `Uid`: written in the header when it fits 7 octal digits, else as a `uid` record.
    pub uid: i64,
    /// `Gid`: as `uid`, with a `gid` record.
    pub gid: i64,
    /// `Uname`: up to 32 ASCII bytes in the header, else a `uname` record.
    pub uname: String,
    /// `Gname`: as `uname`, with a `gname` record.
    pub gname: String,
    /// `Size`: data bytes that must follow the header (none for typeflags `1`–`6`, whose size
    /// is still written as given). Above 8589934591 it goes into a `size` record.
    pub size: i64,
    /// `ModTime`; [`UnixTime::GO_ZERO`] (Go's zero `time.Time`) writes an mtime field of 0.
    pub mod_time: UnixTime,
    /// `AccessTime`: an `atime` record unless [`UnixTime::GO_ZERO`] (PAX format only).
    pub access_time: UnixTime,
    /// `ChangeTime`: a `ctime` record unless [`UnixTime::GO_ZERO`] (PAX format only).
    pub change_time: UnixTime,
    /// `Devmajor`: must fit 7 octal digits.
    pub devmajor: i64,
    /// `Devminor`: must fit 7 octal digits.
    pub devminor: i64,
    /// `PAXRecords`: written sorted bytewise by key, together with the records the writer
    /// derives from the fields above. Records for `path`, `linkpath`, `size`, `uid`, `gid`,
    /// `uname`, `gname`, `mtime`, `atime`, `ctime` and `GNU.sparse.*` are dropped unless
    /// their value equals what the writer derives (Go's rule); any record forces PAX.
    pub pax_records: BTreeMap<String, String>,
    /// `Format`: see [`Format`].
    pub format: Format,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            name: String::new(),
            linkname: String::new(),
            typeflag: TYPE_REG,
            mode: 0,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            size: 0,
            mod_time: UnixTime::GO_ZERO,
            access_time: UnixTime::GO_ZERO,
            change_time: UnixTime::GO_ZERO,
            devmajor: 0,
            devminor: 0,
            pax_records: BTreeMap::new(),
            format: Format::Unspecified,
        }
    }
}

/// Errors of [`GoTarWriter`]. Messages repeat Go's where Go has one, so logs compare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// More data than the header's size was written (Go's `ErrWriteTooLong`); nothing past the
    /// size reaches the archive and the writer stays usable.
    #[error("archive/tar: write too long")]
    WriteTooLong,
    /// A header (or the trailer) was written before the previous entry's data was complete.
    /// Nothing is written; finish the data and retry.
    #[error("archive/tar: missed writing {remaining} bytes")]
    MissedWriting {
        /// Data bytes the previous entry still expects.
        remaining: u64,
    },
    /// The PAX records of one entry exceed 1 MiB (Go's `ErrFieldTooLong`, spec §8.3). As in
    /// Go this poisons the writer.
    #[error("archive/tar: header field too long")]
    FieldTooLong {
        /// Length of the formatted records.
        len: usize,
    },
    /// A PAX record Go refuses: an empty key, a key containing `=` or NUL, or NUL in the value
    /// of `path`, `linkpath`, `uname` or `gname` (a NUL in `name` ends up here) (§8.3).
    #[error("archive/tar: cannot encode header: invalid PAX record: {key:?} = {value:?}")]
    InvalidPaxRecord {
        /// The record key.
        key: String,
        /// The record value.
        value: String,
    },
    /// A regular, character-device, block-device or FIFO entry whose name ends in `/`.
    #[error("archive/tar: cannot encode header: filename may not have trailing slash")]
    TrailingSlash {
        /// The offending name.
        name: String,
    },
    /// Typeflags `x`, `L` and `K` are produced by the writer itself and cannot be written.
    #[error(
        "archive/tar: cannot encode header: cannot manually encode TypeXHeader, \
         TypeGNULongName, or TypeGNULongLink headers"
    )]
    ReservedTypeflag {
        /// The offending typeflag.
        typeflag: u8,
    },
    /// A negative size on a type that carries data (Go's wording, which says the opposite).
    #[error("archive/tar: cannot encode header: negative size on header-only type")]
    NegativeSize {
        /// The offending size.
        size: i64,
    },
    /// A global (`g`) header with fields other than name and PAX records set.
    #[error(
        "archive/tar: cannot encode header: only PAXRecords should be set for TypeXGlobalHeader"
    )]
    GlobalHeaderFields,
    /// `mode`, `devmajor` or `devminor` does not fit 7 octal digits, which neither USTAR nor
    /// PAX can encode, and the GNU format is excluded too: by [`Format::Pax`], by PAX
    /// records, by a value beyond 56 bits, or by a NUL or over-long uname/gname.
    #[error("archive/tar: cannot encode header: PAX cannot encode {field}={value}")]
    Unencodable {
        /// Go's field name: `Mode`, `Devmajor` or `Devminor`.
        field: &'static str,
        /// The offending value.
        value: i64,
    },
    /// An earlier error (I/O, or [`Error::FieldTooLong`]) left the archive in an unknown
    /// state; Go's writer keeps returning that error, this one returns `Poisoned`.
    #[error("archive/tar: writer unusable after an earlier error")]
    Poisoned,
    /// The inner writer failed; the writer is poisoned.
    #[error("writing the tar stream")]
    Io(#[from] io::Error),
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(e) => e,
            Error::WriteTooLong | Error::MissedWriting { .. } => {
                io::Error::new(io::ErrorKind::InvalidInput, err)
            }
            other => io::Error::other(other),
        }
    }
}

/// Writes a tar archive byte-identical to Go's `tar.Writer` (spec §8).
///
/// # Drop behaviour
///
/// Dropping the writer (or calling [`GoTarWriter::into_inner`]) writes nothing more: the
/// archive has no trailer and the current entry may lack data or padding, just like an
/// hcsshim export that failed half-way (spec §7). Only [`GoTarWriter::finish`] completes it.
pub struct GoTarWriter<W: Write> {
    inner: W,
    state: State,
}

impl<W: Write> fmt::Debug for GoTarWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoTarWriter")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<W: Write> GoTarWriter<W> {
    /// Starts an archive on `inner`. Nothing is written until the first header.
    pub fn new(inner: W) -> Self {
        GoTarWriter {
            inner,
            state: State::default(),
        }
    }

    /// Writes the header of the next entry, as Go's `Writer.WriteHeader`: first the padding of
    /// the previous entry's data, then either one USTAR header block, or a PAX extended header
    /// (`x` block + records, padded) followed by the main header block (spec §8.3–§8.5).
    ///
    /// # Errors
    ///
    /// [`Error::MissedWriting`] if the previous entry's data is incomplete (nothing written);
    /// the header validation errors ([`Error::InvalidPaxRecord`], [`Error::TrailingSlash`],
    /// [`Error::ReservedTypeflag`], [`Error::NegativeSize`], [`Error::GlobalHeaderFields`],
    /// [`Error::Unencodable`]), after which, as in Go, the previous padding is already written
    /// but the writer stays usable; [`Error::FieldTooLong`] and [`Error::Io`], which poison
    /// it; [`Error::Poisoned`].
    pub fn write_header(&mut self, header: &Header) -> Result<(), Error> {
        self.state.write_header(&mut self.inner, header)
    }

    /// Ends the archive as Go's `Writer.Close`: pads the last entry's data and writes two
    /// zero blocks, without padding to a 10240-byte record (spec §8.7). Returns the inner
    /// writer, not flushed.
    ///
    /// # Errors
    ///
    /// [`Error::MissedWriting`] if the last entry's data is incomplete, [`Error::Io`],
    /// [`Error::Poisoned`]. The inner writer is dropped on error; use
    /// [`GoTarWriter::get_mut`] first if it is still needed.
    pub fn finish(mut self) -> Result<W, Error> {
        self.state.finish(&mut self.inner)?;
        Ok(self.inner)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer. Writing to it directly corrupts the archive.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives up the archive and returns the inner writer without writing anything more
    /// (see the drop behaviour above).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Bytes handed to the inner writer so far (headers, records, data, padding, trailer).
    pub fn bytes_written(&self) -> u64 {
        self.state.written
    }
}

/// Entry data, as Go's `Writer.Write`.
///
/// A buffer longer than what the entry still expects is cut to fit (`Ok` with the shorter
/// count); a write when nothing more is expected — including any data for typeflags `1`–`6`
/// — fails with [`Error::WriteTooLong`] (as an [`io::Error`] of kind `InvalidInput`), so
/// `write_all` of too much data writes exactly the expected bytes and then fails, as Go
/// does. I/O errors other than `Interrupted` poison the writer.
impl<W: Write> Write for GoTarWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.state.write_data(&mut self.inner, buf)
    }

    /// Flushes the inner writer only; padding is written by the next header or by `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The writer's bookkeeping, kept out of the generic type so the logic is compiled once.
#[derive(Debug, Default)]
struct State {
    /// Data bytes the current entry still expects (Go's `regFileWriter.nb`).
    remaining: u64,
    /// NUL bytes owed after the current entry's data (Go's `Writer.pad`).
    pad: usize,
    written: u64,
    /// Set by errors Go keeps in `Writer.err`.
    poisoned: bool,
}

impl State {
    fn check(&self) -> Result<(), Error> {
        if self.poisoned {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Writes `bytes` in full; any failure poisons the writer.
    fn emit(&mut self, w: &mut dyn Write, bytes: &[u8]) -> Result<(), Error> {
        if let Err(e) = w.write_all(bytes) {
            self.poisoned = true;
            return Err(Error::Io(e));
        }
        self.written = self.written.saturating_add(len_u64(bytes.len()));
        Ok(())
    }

    /// Go's `Writer.Flush`: refuse while data is missing, else write the pending padding.
    fn flush_padding(&mut self, w: &mut dyn Write) -> Result<(), Error> {
        self.check()?;
        if self.remaining > 0 {
            return Err(Error::MissedWriting {
                remaining: self.remaining,
            });
        }
        let pad = ZERO_BLOCK.get(..self.pad).unwrap_or_default();
        self.emit(w, pad)?;
        self.pad = 0;
        Ok(())
    }

    fn write_header(&mut self, w: &mut dyn Write, header: &Header) -> Result<(), Error> {
        self.flush_padding(w)?;
        let encoded = match encode(header) {
            Ok(encoded) => encoded,
            Err(err) => {
                // Go stores this one in Writer.err (writePAXHeader's result); the validation
                // errors of allowedFormats are returned without it.
                if matches!(err, Error::FieldTooLong { .. }) {
                    self.poisoned = true;
                }
                return Err(err);
            }
        };
        self.emit(w, &encoded.bytes)?;
        self.remaining = encoded.data_size;
        self.pad = block_padding(encoded.data_size);
        Ok(())
    }

    fn write_data(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            return Err(Error::WriteTooLong.into());
        }
        let len = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let chunk = buf.get(..len).unwrap_or_default();
        match w.write(chunk) {
            Ok(n) => {
                let n64 = len_u64(n);
                self.remaining = self.remaining.saturating_sub(n64);
                self.written = self.written.saturating_add(n64);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    fn finish(&mut self, w: &mut dyn Write) -> Result<(), Error> {
        self.flush_padding(w)?;
        self.emit(w, &ZERO_BLOCK)?;
        self.emit(w, &ZERO_BLOCK)
    }
}

/// The bytes `WriteHeader` emits for one header and the data it then expects.
struct Encoded {
    /// Header blocks, plus the padded PAX records for a PAX header.
    bytes: Vec<u8>,
    /// Data bytes that must follow (0 for header-only typeflags).
    data_size: u64,
}

/// What Go's `Header.allowedFormats` finds out about a header.
struct Analysis<'h> {
    /// Records to write (Go's `paxHdrs`), sorted as Go sorts them before writing.
    records: BTreeMap<&'h str, Cow<'h, str>>,
    /// USTAR can encode every field.
    ustar: bool,
    /// GNU can encode every field (Go's last resort, only for [`Format::Unspecified`]).
    gnu: bool,
    /// Some time needs PAX precision or range; stops [`Format::Pax`] from falling back to USTAR.
    prefer_pax: bool,
    /// The last `mode`/`devmajor`/`devminor` value that fits no octal field (Go overwrites its
    /// `whyNoPAX` message, so the last one is reported).
    unencodable: Option<(&'static str, i64)>,
}

impl<'h> Analysis<'h> {
    fn new() -> Self {
        Analysis {
            records: BTreeMap::new(),
            ustar: true,
            gnu: true,
            prefer_pax: false,
            unencodable: None,
        }
    }

    /// Go's `verifyString`: a string that is not NUL-free ASCII or too long needs a record,
    /// which only a splittable `path` avoids in USTAR.
    fn string(&mut self, h: &'h Header, s: &'h str, size: usize, key: &'static str) {
        let long_ok_in_gnu = key == "path" || key == "linkpath";
        if s.contains('\0') || (s.len() > size && !long_ok_in_gnu) {
            self.gnu = false;
        }
        if !is_c_ascii(s) || s.len() > size {
            if key != "path" || split_ustar_path(s).is_none() {
                self.ustar = false;
            }
            self.records.insert(key, Cow::Borrowed(s));
        }
        self.keep_equal_record(h, key, s);
    }

    /// Go's `verifyNumeric`, for fields in 8- or 12-byte octal fields.
    fn numeric(&mut self, h: &'h Header, n: i64, size: usize, spill: Spill) {
        let text = n.to_string();
        if !fits_base256(size, n) {
            self.gnu = false;
        }
        if !fits_octal(size, n) {
            self.ustar = false;
            match spill {
                Spill::Record(key) => {
                    self.records.insert(key, Cow::Owned(text.clone()));
                }
                Spill::Nowhere(go_name) => self.unencodable = Some((go_name, n)),
            }
        }
        if let Spill::Record(key) = spill {
            self.keep_equal_record(h, key, &text);
        }
    }

    /// Go's `verifyTime` (all three time fields are checked against 12-byte fields).
    fn time(&mut self, h: &'h Header, t: UnixTime, key: &'static str) {
        if t.is_go_zero() {
            return;
        }
        let is_mtime = key == "mtime";
        let fits = fits_octal(field::MTIME.len(), t.secs);
        if !is_mtime || !fits {
            self.ustar = false;
        }
        let text = crate::pax::format_pax_time(t);
        if !is_mtime || !fits || t.nanos != 0 {
            self.prefer_pax = true;
            self.records.insert(key, Cow::Owned(text.clone()));
        }
        self.keep_equal_record(h, key, &text);
    }

    /// Go keeps a caller's record for a basic key when it equals the derived value.
    fn keep_equal_record(&mut self, h: &'h Header, key: &'static str, derived: &str) {
        if let Some(v) = h.pax_records.get(key)
            && v == derived
        {
            self.records.insert(key, Cow::Borrowed(v.as_str()));
        }
    }
}

/// Where a numeric field's value goes when it does not fit its octal field.
#[derive(Clone, Copy)]
enum Spill {
    /// Into the PAX record with this key.
    Record(&'static str),
    /// Nowhere: the header cannot be written; the string is Go's field name.
    Nowhere(&'static str),
}

/// The keys Go derives from header fields; caller records for them are ignored (§8.3).
fn is_basic_key(key: &str) -> bool {
    matches!(
        key,
        "path"
            | "linkpath"
            | "size"
            | "uid"
            | "gid"
            | "uname"
            | "gname"
            | "mtime"
            | "atime"
            | "ctime"
    )
}

/// Go's `Writer.WriteHeader` after the initial flush, as pure bytes: decide the format and
/// the records (spec §8.3), then lay out the blocks (§8.1, §8.4, §8.5).
fn encode(h: &Header) -> Result<Encoded, Error> {
    // TypeRegA (0) is promoted as Go does; backuptar's whiteouts arrive with it (§4.7).
    let typeflag = match h.typeflag {
        TYPE_REG_A if h.name.ends_with('/') => TYPE_DIR,
        TYPE_REG_A => TYPE_REG,
        t => t,
    };
    // UnixTime's fields are public: normalise nanoseconds >= 1e9 as Go's time.Unix would.
    let mut mtime = UnixTime::new(h.mod_time.secs, h.mod_time.nanos);
    let mut atime = UnixTime::new(h.access_time.secs, h.access_time.nanos);
    let mut ctime = UnixTime::new(h.change_time.secs, h.change_time.nanos);
    if h.format == Format::Unspecified {
        // Go: ModTime.Round(time.Second) (halves round up); AccessTime/ChangeTime dropped,
        // so that plain headers stay USTAR (§8.3, whiteouts).
        mtime = round_to_second(mtime);
        atime = UnixTime::GO_ZERO;
        ctime = UnixTime::GO_ZERO;
    }

    // Go's allowedFormats, in its order: each field either fits its USTAR field or spills
    // into a record (§8.2, §8.3 table).
    let mut a = Analysis::new();
    a.string(h, &h.name, NAME_SIZE, "path");
    a.string(h, &h.linkname, NAME_SIZE, "linkpath");
    a.string(h, &h.uname, USER_NAME_SIZE, "uname");
    a.string(h, &h.gname, USER_NAME_SIZE, "gname");
    a.numeric(h, h.mode, field::MODE.len(), Spill::Nowhere("Mode"));
    a.numeric(h, h.uid, field::UID.len(), Spill::Record("uid"));
    a.numeric(h, h.gid, field::GID.len(), Spill::Record("gid"));
    a.numeric(h, h.size, field::SIZE.len(), Spill::Record("size"));
    a.numeric(
        h,
        h.devmajor,
        field::DEVMAJOR.len(),
        Spill::Nowhere("Devmajor"),
    );
    a.numeric(
        h,
        h.devminor,
        field::DEVMINOR.len(),
        Spill::Nowhere("Devminor"),
    );
    a.time(h, mtime, "mtime");
    a.time(h, atime, "atime");
    a.time(h, ctime, "ctime");

    let global = typeflag == TYPE_X_GLOBAL_HEADER;
    match typeflag {
        // Links and symlinks may point at directories, so only these refuse a trailing slash.
        b'0' | b'3' | b'4' | b'6' | b'S' if h.name.ends_with('/') => {
            return Err(Error::TrailingSlash {
                name: h.name.clone(),
            });
        }
        TYPE_X_HEADER | b'L' | b'K' => return Err(Error::ReservedTypeflag { typeflag }),
        TYPE_X_GLOBAL_HEADER => {
            let bare = Header {
                name: h.name.clone(),
                typeflag: h.typeflag,
                pax_records: h.pax_records.clone(),
                format: h.format,
                ..Header::default()
            };
            let normalised = Header {
                typeflag: h.typeflag,
                mod_time: mtime,
                access_time: atime,
                change_time: ctime,
                ..h.clone()
            };
            if normalised != bare {
                return Err(Error::GlobalHeaderFields);
            }
            a.ustar = false;
            a.gnu = false;
        }
        _ => {}
    }
    if !is_header_only(typeflag) && h.size < 0 {
        return Err(Error::NegativeSize { size: h.size });
    }

    for (k, v) in &h.pax_records {
        let k = k.as_str();
        if a.records.contains_key(k) {
            continue;
        }
        if global || (!is_basic_key(k) && !k.starts_with("GNU.sparse.")) {
            a.records.insert(k, Cow::Borrowed(v.as_str()));
        }
    }
    if !h.pax_records.is_empty() {
        a.ustar = false;
        a.gnu = false;
    }
    // Validation (§8.3): Go checks every record, derived or not, before writing anything.
    if let Some((k, v)) = a.records.iter().find(|(k, v)| !valid_pax_record(k, v)) {
        return Err(Error::InvalidPaxRecord {
            key: (*k).to_owned(),
            value: v.clone().into_owned(),
        });
    }

    // Go: Format PAX allows USTAR too unless a time prefers PAX, but never GNU.
    if h.format == Format::Pax {
        a.gnu = false;
        if a.prefer_pax {
            a.ustar = false;
        }
    }
    let data_size = if is_header_only(typeflag) {
        0
    } else {
        u64::try_from(h.size).unwrap_or(0)
    };
    // Go's preference: USTAR, then PAX, then GNU.
    let bytes = match a.unencodable {
        _ if a.ustar => ustar_header(h, typeflag, mtime).to_vec(),
        None => pax_header(h, typeflag, mtime, &a.records, global)?,
        Some(_) if a.gnu => gnu_header(h, typeflag, mtime),
        Some((field, value)) => return Err(Error::Unencodable { field, value }),
    };
    Ok(Encoded {
        bytes,
        data_size: if global { 0 } else { data_size },
    })
}

/// Go's `writeUSTARHeader` (spec §8.5): the name split into prefix and name if needed.
fn ustar_header(h: &Header, typeflag: u8, mtime: UnixTime) -> [u8; BLOCK_SIZE] {
    let (prefix, name) = split_ustar_path(&h.name).unwrap_or(("", &h.name));
    let mut blk = template(
        h,
        typeflag,
        mtime,
        name,
        &|s| Cow::Borrowed(s),
        format_octal,
    );
    format_string(blk.field(field::PREFIX), prefix.as_bytes());
    blk.finish(USTAR_MAGIC)
}

/// Go's `writePAXHeader` (spec §8.4): the `x` (or `g`) entry with the records, then the main
/// header with its strings filtered to ASCII.
fn pax_header(
    h: &Header,
    typeflag: u8,
    mtime: UnixTime,
    records: &BTreeMap<&str, Cow<'_, str>>,
    global: bool,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(3 * BLOCK_SIZE);
    if !records.is_empty() || global {
        let mut data = String::new();
        for (k, v) in records {
            data.push_str(&format_pax_record(k, v));
        }
        if data.len() > MAX_PAX_RECORDS_LEN {
            return Err(Error::FieldTooLong { len: data.len() });
        }
        let (name, flag) = if global {
            let name = if h.name.is_empty() {
                Cow::Borrowed("GlobalHead.0.0")
            } else {
                Cow::Borrowed(h.name.as_str())
            };
            (name, TYPE_X_GLOBAL_HEADER)
        } else {
            (Cow::Owned(pax_header_path(&h.name)), TYPE_X_HEADER)
        };
        raw_file(&mut out, &name, &data, flag, USTAR_MAGIC);
        if global {
            return Ok(out);
        }
    }
    let blk = template(h, typeflag, mtime, &h.name, &to_ascii, format_octal);
    out.extend_from_slice(&blk.finish(USTAR_MAGIC));
    Ok(out)
}

/// Go's `writeGNUHeader`, its last resort for [`Format::Unspecified`]: names over 100 bytes
/// go into `././@LongLink` entries (`L` for the name, `K` for the link name), strings are
/// copied unfiltered, and numbers that fit no octal field are written in base-256.
fn gnu_header(h: &Header, typeflag: u8, mtime: UnixTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK_SIZE);
    for (s, flag) in [(&h.name, b'L'), (&h.linkname, b'K')] {
        if s.len() > NAME_SIZE {
            raw_file(
                &mut out,
                "././@LongLink",
                &format!("{s}\0"),
                flag,
                GNU_MAGIC,
            );
        }
    }
    let blk = template(
        h,
        typeflag,
        mtime,
        &h.name,
        &|s| Cow::Borrowed(s),
        format_numeric,
    );
    out.extend_from_slice(&blk.finish(GNU_MAGIC));
    out
}

/// Go's `writeRawFile`: a header block for `data` followed by `data`, NUL-padded.
fn raw_file(out: &mut Vec<u8>, name: &str, data: &str, flag: u8, magic: &[u8; 8]) {
    out.extend_from_slice(&raw_file_header(name, data.len(), flag, magic));
    out.extend_from_slice(data.as_bytes());
    let pad = ZERO_BLOCK.get(..block_padding(len_u64(data.len())));
    out.extend_from_slice(pad.unwrap_or_default());
}

/// The header of [`raw_file`], e.g. the `x` entry: best-effort ASCII name, zero mode, ids
/// and mtime, and no uname/gname/devmajor/devminor at all (all NUL, spec §8.4).
fn raw_file_header(name: &str, data_len: usize, flag: u8, magic: &[u8; 8]) -> [u8; BLOCK_SIZE] {
    let ascii = to_ascii(name);
    let truncated = ascii
        .as_bytes()
        .get(..NAME_SIZE)
        .unwrap_or(ascii.as_bytes());
    let name = trim_trailing_slashes(truncated);
    let mut blk = Block::new(flag);
    format_string(blk.field(field::NAME), name);
    format_octal(blk.field(field::MODE), 0);
    format_octal(blk.field(field::UID), 0);
    format_octal(blk.field(field::GID), 0);
    // PAX records are at most 1 MiB, far inside the 11-digit field (a GNU long name beyond
    // 8 GiB would write 0, as in Go).
    format_octal(blk.field(field::SIZE), i64::try_from(data_len).unwrap_or(0));
    format_octal(blk.field(field::MTIME), 0);
    blk.finish(magic)
}

/// Go's `templateV7Plus`: the fields shared by the main headers. `filter` is [`to_ascii`] for
/// PAX (spec §8.2) and the identity otherwise; `number` is [`format_octal`], or
/// [`format_numeric`] for GNU.
fn template(
    h: &Header,
    typeflag: u8,
    mtime: UnixTime,
    name: &str,
    filter: &dyn for<'s> Fn(&'s str) -> Cow<'s, str>,
    number: fn(&mut [u8], i64),
) -> Block {
    let mut blk = Block::new(typeflag);
    // Go writes a zero ModTime as the Unix epoch (spec §8.2).
    let mtime_secs = if mtime.is_go_zero() { 0 } else { mtime.secs };
    format_string(blk.field(field::NAME), filter(name).as_bytes());
    format_string(blk.field(field::LINKNAME), filter(&h.linkname).as_bytes());
    number(blk.field(field::MODE), h.mode);
    number(blk.field(field::UID), h.uid);
    number(blk.field(field::GID), h.gid);
    number(blk.field(field::SIZE), h.size);
    number(blk.field(field::MTIME), mtime_secs);
    format_string(blk.field(field::UNAME), filter(&h.uname).as_bytes());
    format_string(blk.field(field::GNAME), filter(&h.gname).as_bytes());
    number(blk.field(field::DEVMAJOR), h.devmajor);
    number(blk.field(field::DEVMINOR), h.devminor);
    blk
}

/// A header block under construction.
struct Block([u8; BLOCK_SIZE]);

impl Block {
    fn new(typeflag: u8) -> Block {
        let mut blk = Block(ZERO_BLOCK);
        if let Some(t) = blk.0.get_mut(field::TYPEFLAG) {
            *t = typeflag;
        }
        blk
    }

    /// The bytes of one field (the ranges are constants inside the block).
    fn field(&mut self, range: Range<usize>) -> &mut [u8] {
        self.0.get_mut(range).unwrap_or_default()
    }

    /// Go's `setFormat`: magic and version ([`USTAR_MAGIC`] or [`GNU_MAGIC`]), then the
    /// checksum as six octal digits, NUL, space (spec §8.6).
    fn finish(mut self, magic: &[u8; 8]) -> [u8; BLOCK_SIZE] {
        for (d, s) in self.field(field::MAGIC_VERSION).iter_mut().zip(magic) {
            *d = *s;
        }
        let sum: u32 = self
            .0
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if field::CHKSUM.contains(&i) {
                    u32::from(b' ')
                } else {
                    u32::from(b)
                }
            })
            .sum();
        format_octal(self.field(field::CHKSUM_DIGITS), i64::from(sum));
        if let Some(b) = self.0.get_mut(field::CHKSUM_SPACE) {
            *b = b' ';
        }
        self.0
    }
}

/// Go's `formatString`: copy, NUL-terminate when shorter, and when truncated into a field
/// whose last byte is `/`, put one NUL at the start of that trailing run of `/` (spec §8.2).
fn format_string(dst: &mut [u8], s: &[u8]) {
    for (d, c) in dst.iter_mut().zip(s) {
        *d = *c;
    }
    if s.len() < dst.len()
        && let Some(b) = dst.get_mut(s.len())
    {
        *b = 0;
    }
    if s.len() > dst.len() && dst.last() == Some(&b'/') {
        let kept = trim_trailing_slashes(s.get(..dst.len()).unwrap_or_default()).len();
        if let Some(b) = dst.get_mut(kept) {
            *b = 0;
        }
    }
}

/// Go's `formatOctal`: zero-padded octal digits and a NUL; a value that does not fit is
/// written as zero (spec §8.2).
fn format_octal(dst: &mut [u8], x: i64) {
    let x = if fits_octal(dst.len(), x) { x } else { 0 };
    let width = dst.len().saturating_sub(1);
    format_string(dst, format!("{x:0width$o}").as_bytes());
}

/// Go's `formatNumeric` (GNU only): octal when it fits, else base-256, i.e. the two's
/// complement big-endian value with the top bit of the first byte set.
fn format_numeric(dst: &mut [u8], x: i64) {
    if fits_octal(dst.len(), x) || !fits_base256(dst.len(), x) {
        // Go writes zero when neither fits; analysis has excluded GNU for that case.
        return format_octal(dst, x);
    }
    let sign = if x < 0 { 0xff } else { 0 };
    let digits = x
        .to_be_bytes()
        .into_iter()
        .rev()
        .chain(std::iter::repeat(sign));
    for (d, b) in dst.iter_mut().rev().zip(digits) {
        *d = b;
    }
    if let Some(first) = dst.first_mut() {
        *first |= 0x80;
    }
}

/// Go's `fitsInBase256`: within the signed range of `width − 1` bytes (any i64 from 9 on).
fn fits_base256(width: usize, x: i64) -> bool {
    let bits = u32::try_from(width.saturating_sub(1).saturating_mul(8)).unwrap_or(u32::MAX);
    width >= 9
        || 1_i64
            .checked_shl(bits)
            .is_none_or(|limit| x >= limit.wrapping_neg() && x < limit)
}

/// Go's `fitsInOctal`: non-negative and below 8^(width−1).
fn fits_octal(width: usize, x: i64) -> bool {
    let bits = u32::try_from(width.saturating_sub(1).saturating_mul(3)).unwrap_or(u32::MAX);
    x >= 0 && (width >= 22 || 1_i64.checked_shl(bits).is_none_or(|limit| x < limit))
}

/// Go's `isASCII`: ASCII without NUL.
fn is_c_ascii(s: &str) -> bool {
    s.bytes().all(|b| b != 0 && b.is_ascii())
}

/// Go's `toASCII`: drop every character that is not ASCII or is NUL.
fn to_ascii(s: &str) -> Cow<'_, str> {
    if is_c_ascii(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| c.is_ascii() && c != '\0').collect())
    }
}

/// `s` without its trailing run of `/` (Go's `strings.TrimRight(s, "/")`).
fn trim_trailing_slashes(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(0, |i| i.saturating_add(1));
    s.get(..end).unwrap_or_default()
}

/// Go's `splitUSTARPath` (spec §8.5): `(prefix, name)` when a name longer than 100 bytes
/// can be split at a `/` into a prefix of at most 155 bytes and a non-empty name of at most
/// 100 bytes.
fn split_ustar_path(name: &str) -> Option<(&str, &str)> {
    let len = name.len();
    if len <= NAME_SIZE || !is_c_ascii(name) {
        return None;
    }
    let search = if len > PREFIX_SIZE.saturating_add(1) {
        PREFIX_SIZE.saturating_add(1)
    } else if name.ends_with('/') {
        len.saturating_sub(1)
    } else {
        len
    };
    let i = name.get(..search)?.rfind('/')?;
    let suffix_len = len.saturating_sub(i).saturating_sub(1);
    if i == 0 || suffix_len == 0 || suffix_len > NAME_SIZE || i > PREFIX_SIZE {
        return None;
    }
    Some((name.get(..i)?, name.get(i.saturating_add(1)..)?))
}

/// The name of the `x` entry (spec §8.4 step 3): `path.Join(dir, "PaxHeaders.0", file)`.
/// The filtering and truncation happen in [`raw_file_header`].
fn pax_header_path(name: &str) -> String {
    let (dir, file) = match name.rfind('/') {
        Some(i) => name.split_at(i.saturating_add(1)),
        None => ("", name),
    };
    let parts: Vec<&str> = [dir, "PaxHeaders.0", file]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    clean_path(&parts.join("/"))
}

/// Go's `path.Clean`: collapse `//`, drop `.`, resolve `..` lexically, no trailing `/`.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    // Leading `..` of a relative path cannot be cancelled by later ones.
    let mut fixed = 0;
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if out.len() > fixed => {
                out.pop();
            }
            ".." if rooted => {}
            ".." => {
                out.push("..");
                fixed = out.len();
            }
            _ => out.push(part),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// Go's `formatPAXRecord`: `"<len> <key>=<value>\n"`, where `<len>` counts itself
/// (spec §8.4 step 2).
fn format_pax_record(key: &str, value: &str) -> String {
    // ' ', '=' and '\n'.
    let n = key.len().saturating_add(value.len()).saturating_add(3);
    let first = n.saturating_add(decimal_len(n));
    let size = n.saturating_add(decimal_len(first));
    format!("{size} {key}={value}\n")
}

fn decimal_len(n: usize) -> usize {
    n.to_string().len()
}

/// Go's `validPAXRecord` (spec §8.3).
fn valid_pax_record(key: &str, value: &str) -> bool {
    if key.is_empty() || key.contains('=') {
        return false;
    }
    match key {
        "path" | "linkpath" | "uname" | "gname" => !value.contains('\0'),
        _ => !key.contains('\0'),
    }
}

/// Go's `Time.Round(time.Second)` (halves round up) on a normalised time.
///
/// Go keeps seconds since year 1 in an `int64` (`time.Unix` wraps into it) and saturates when
/// adding; the same arithmetic here makes even absurd times round as in Go.
fn round_to_second(t: UnixTime) -> UnixTime {
    // Seconds from 0001-01-01 to 1970-01-01 (Go's unixToInternal).
    const UNIX_TO_INTERNAL: i64 = 62_135_596_800;
    let secs = if t.nanos >= 500_000_000 {
        t.secs
            .wrapping_add(UNIX_TO_INTERNAL)
            .saturating_add(1)
            .wrapping_sub(UNIX_TO_INTERNAL)
    } else {
        t.secs
    };
    UnixTime { secs, nanos: 0 }
}

/// Go's `isHeaderOnlyType`: no data follows these, whatever the size field says.
fn is_header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1'..=b'6')
}

/// Go's `blockPadding`: NULs that fill `size` up to a multiple of 512.
fn block_padding(size: u64) -> usize {
    // Go's `-offset & (blockSize - 1)`; the result is below 512, so it converts.
    usize::try_from(size.wrapping_neg() & 511).unwrap_or(0)
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(s: &str, len: usize) -> Vec<u8> {
        let mut f = vec![0xAA; len];
        format_string(&mut f, s.as_bytes());
        f
    }

    #[test]
    fn format_string_rules() {
        assert_eq!(field_of("ab", 4), b"ab\0\xAA");
        assert_eq!(field_of("abcd", 4), b"abcd");
        assert_eq!(field_of("abcdef", 4), b"abcd");
        // Truncated with a trailing run of '/': one NUL at its start.
        assert_eq!(field_of("ab//x", 4), b"ab\0/");
        assert_eq!(field_of("a///x", 4), b"a\0//");
        assert_eq!(field_of("////x", 4), b"\0///");
        // Exactly full: no rule applies even with a final '/'.
        assert_eq!(field_of("abc/", 4), b"abc/");
    }

    #[test]
    fn octal_rules() {
        let mut f = [0u8; 8];
        format_octal(&mut f, 0o40000);
        assert_eq!(&f, b"0040000\0");
        let mut f = [0u8; 12];
        format_octal(&mut f, 6);
        assert_eq!(&f, b"00000000006\0");
        format_octal(&mut f, 8_589_934_591);
        assert_eq!(&f, b"77777777777\0");
        format_octal(&mut f, 8_589_934_592);
        assert_eq!(&f, b"00000000000\0");
        format_octal(&mut f, -1);
        assert_eq!(&f, b"00000000000\0");
        assert!(fits_octal(8, 0o7777777));
        assert!(!fits_octal(8, 0o10000000));
        assert!(fits_octal(22, i64::MAX));
    }

    #[test]
    fn pax_record_lengths() {
        assert_eq!(
            format_pax_record("atime", "1609556646"),
            "20 atime=1609556646\n"
        );
        // n = 98 → 101 (spec §8.4).
        let v = "x".repeat(98 - 3 - 4);
        let rec = format_pax_record("path", &v);
        assert!(rec.starts_with("101 "), "{rec}");
        assert_eq!(rec.len(), 101);
        for n in 0..2000 {
            let rec = format_pax_record("k", &"v".repeat(n));
            let (len, _) = rec.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), rec.len(), "{n}");
        }
    }

    #[test]
    fn pax_time_rules() {
        let t = |secs, nanos| crate::pax::format_pax_time(UnixTime { secs, nanos });
        assert_eq!(t(1_609_556_646, 0), "1609556646");
        assert_eq!(t(-304_707_111, 0), "-304707111");
        assert_eq!(t(0, 0), "0");
        assert_eq!(t(1_609_556_645, 123_456_700), "1609556645.1234567");
        assert_eq!(t(-2, 500_000_000), "-1.5");
        assert_eq!(t(-1, 750_000_000), "-0.25");
        assert_eq!(t(i64::MIN, 1), "-9223372036854775807.999999999");
        assert_eq!(t(i64::MAX, 1), "9223372036854775807.000000001");
    }

    #[test]
    fn pax_header_paths() {
        assert_eq!(
            pax_header_path("Files/hello.txt"),
            "Files/PaxHeaders.0/hello.txt"
        );
        assert_eq!(pax_header_path("Files"), "PaxHeaders.0/Files");
        assert_eq!(pax_header_path(""), "PaxHeaders.0");
        assert_eq!(pax_header_path("dir/"), "dir/PaxHeaders.0");
        assert_eq!(pax_header_path("/a//b/./c"), "/a/b/PaxHeaders.0/c");
        assert_eq!(pax_header_path("../../x"), "../../PaxHeaders.0/x");
        assert_eq!(pax_header_path("a/../../x/.."), "../x");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("/../a/"), "/a");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn ustar_split() {
        let long = format!("{}/{}", "p".repeat(60), "n".repeat(60));
        assert_eq!(
            split_ustar_path(&long),
            Some(("p".repeat(60).as_str(), "n".repeat(60).as_str()))
        );
        // Too short to need a split.
        assert_eq!(split_ustar_path("a/b"), None);
        // Name part over 100 bytes.
        assert_eq!(split_ustar_path(&format!("a/{}", "n".repeat(101))), None);
        // Leading slash only: empty prefix.
        assert_eq!(split_ustar_path(&format!("/{}", "n".repeat(101))), None);
        // Prefix over 155 bytes: the search stops at byte 156.
        assert_eq!(
            split_ustar_path(&format!("{}/{}", "p".repeat(156), "n")),
            None
        );
        // Non-ASCII never splits.
        assert_eq!(
            split_ustar_path(&format!("{}/é{}", "p".repeat(60), "n".repeat(60))),
            None
        );
        // A final '/' is ignored when searching in names up to 156 bytes.
        let dir = format!("{}/{}/", "p".repeat(60), "n".repeat(60));
        assert_eq!(
            split_ustar_path(&dir),
            Some((
                "p".repeat(60).as_str(),
                format!("{}/", "n".repeat(60)).as_str()
            ))
        );
    }

    #[test]
    fn rounding() {
        let r = |secs, nanos| round_to_second(UnixTime { secs, nanos });
        assert_eq!(r(5, 499_999_999), UnixTime { secs: 5, nanos: 0 });
        assert_eq!(r(5, 500_000_000), UnixTime { secs: 6, nanos: 0 });
        assert_eq!(r(-1, 500_000_000), UnixTime { secs: 0, nanos: 0 });
        assert_eq!(r(-1, 400_000_000), UnixTime { secs: -1, nanos: 0 });
        // Go's internal seconds saturate at i64::MAX, 62135596800 s below i64::MAX here...
        let top = i64::MAX - 62_135_596_800;
        assert_eq!(
            r(top, 500_000_000),
            UnixTime {
                secs: top,
                nanos: 0
            }
        );
        // ...and wrap beyond it, as time.Unix does.
        assert_eq!(
            r(i64::MAX, 500_000_000),
            UnixTime {
                secs: i64::MIN,
                nanos: 0
            }
        );
    }

    #[test]
    fn padding() {
        assert_eq!(block_padding(0), 0);
        assert_eq!(block_padding(1), 511);
        assert_eq!(block_padding(512), 0);
        assert_eq!(block_padding(u64::MAX), 1);
    }
}

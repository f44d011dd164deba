//! One header block: Go's `readHeader` field parsing (`format.go`, `strconv.go`), and the
//! [`TarHeader`] an entry ends up as once its PAX, GNU and sparse headers are merged.

use std::collections::BTreeMap;
use std::ops::Range;

use wclayer_backup::UnixTime;

use super::{Block, is_header_only};

// Header field positions (Go `format.go`: headerV7, headerUSTAR, headerSTAR, headerGNU).
pub(super) const F_NAME: Range<usize> = 0..100;
const F_MODE: Range<usize> = 100..108;
const F_UID: Range<usize> = 108..116;
const F_GID: Range<usize> = 116..124;
const F_SIZE: Range<usize> = 124..136;
const F_MTIME: Range<usize> = 136..148;
const F_CHKSUM: Range<usize> = 148..156;
const F_TYPEFLAG: usize = 156;
const F_LINKNAME: Range<usize> = 157..257;
const F_MAGIC: Range<usize> = 257..263;
const F_VERSION: Range<usize> = 263..265;
const F_UNAME: Range<usize> = 265..297;
const F_GNAME: Range<usize> = 297..329;
const F_DEVMAJOR: Range<usize> = 329..337;
const F_DEVMINOR: Range<usize> = 337..345;
const F_USTAR_PREFIX: Range<usize> = 345..500;
const F_STAR_PREFIX: Range<usize> = 345..476;
const F_STAR_ATIME: Range<usize> = 476..488;
const F_STAR_CTIME: Range<usize> = 488..500;
const F_STAR_TRAILER: Range<usize> = 508..512;
const F_GNU_ATIME: Range<usize> = 345..357;
const F_GNU_CTIME: Range<usize> = 357..369;
/// Four 24-byte sparse entries and the `isextended` byte of an old GNU header.
pub(super) const F_GNU_SPARSE: Range<usize> = 386..483;
pub(super) const F_GNU_REALSIZE: Range<usize> = 483..495;

/// One archive entry after merging its PAX, GNU long-name and sparse headers: the values
/// Go's `tar.Reader.Next()` returns in a `tar.Header` (docs/oci-tar-mapping.md §6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarHeader {
    /// The entry's name (`Header.Name`): PAX `path`, GNU long name, sparse real name or the
    /// header's `prefix/name`.
    pub name: String,
    /// The link target (`Header.Linkname`).
    pub linkname: String,
    /// The type flag. NUL is already turned into `0` or `5`, and old GNU sparse `S` entries
    /// into `0` (a deviation from Go, see the module docs).
    pub typeflag: u8,
    /// The mode field (`Header.Mode`), as stored.
    pub mode: i64,
    /// The user id (`Header.Uid`).
    pub uid: i64,
    /// The group id (`Header.Gid`).
    pub gid: i64,
    /// The user name (`Header.Uname`); invalid UTF-8 is replaced by U+FFFD.
    pub uname: String,
    /// The group name (`Header.Gname`); invalid UTF-8 is replaced by U+FFFD.
    pub gname: String,
    /// The size (`Header.Size`): the logical size for sparse files. Entries of typeflags
    /// `1`–`6` have no data whatever this says; it may even be negative for them.
    pub size: i64,
    /// The modification time (`Header.ModTime`).
    pub mod_time: UnixTime,
    /// The access time, `None` where Go leaves `Header.AccessTime` at its zero time (no
    /// `atime` record, no usable header field).
    pub access_time: Option<UnixTime>,
    /// The change time, `None` where Go leaves `Header.ChangeTime` at its zero time.
    pub change_time: Option<UnixTime>,
    /// The device major number (`Header.Devmajor`; 0 for V7 headers).
    pub devmajor: i64,
    /// The device minor number (`Header.Devminor`).
    pub devminor: i64,
    /// Every PAX record that applies to this entry (`Header.PAXRecords`): global records,
    /// then the entry's own (which win), empty values included. Values are converted from
    /// UTF-8 lossily.
    pub pax_records: BTreeMap<String, String>,
    /// Archive offset of the first header block of this entry, its PAX and GNU headers
    /// included: where to look when a message names the entry.
    pub header_offset: u64,
}

impl TarHeader {
    /// The value of the PAX record `key`, if the entry has one (possibly empty).
    #[must_use]
    pub fn record(&self, key: &str) -> Option<&str> {
        self.pax_records.get(key).map(String::as_str)
    }

    /// All PAX records of the entry, sorted by key.
    pub fn records(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pax_records
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether the type flag is one of Go's header-only types (`1`–`6`: links, devices,
    /// directories, FIFOs), whose data Go never reads whatever the size says.
    #[must_use]
    pub fn is_header_only(&self) -> bool {
        is_header_only(self.typeflag)
    }
}

/// Header magic, as Go's `getFormat` tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    V7,
    Ustar,
    Star,
    Gnu,
}

/// The fields of one header block (Go's `readHeader`).
pub(super) struct Parsed {
    pub(super) format: Format,
    pub(super) typeflag: u8,
    pub(super) name: Vec<u8>,
    pub(super) linkname: Vec<u8>,
    pub(super) size: i64,
    pub(super) mode: i64,
    pub(super) uid: i64,
    pub(super) gid: i64,
    pub(super) mtime: i64,
    pub(super) uname: Vec<u8>,
    pub(super) gname: Vec<u8>,
    pub(super) devmajor: i64,
    pub(super) devminor: i64,
    pub(super) atime: Option<i64>,
    pub(super) ctime: Option<i64>,
}

/// A header being merged, still with byte-string names.
pub(super) struct Work {
    pub(super) format: Format,
    pub(super) typeflag: u8,
    pub(super) name: Vec<u8>,
    pub(super) linkname: Vec<u8>,
    pub(super) size: i64,
    pub(super) mode: i64,
    pub(super) uid: i64,
    pub(super) gid: i64,
    pub(super) uname: Vec<u8>,
    pub(super) gname: Vec<u8>,
    pub(super) devmajor: i64,
    pub(super) devminor: i64,
    pub(super) mod_time: UnixTime,
    pub(super) access_time: Option<UnixTime>,
    pub(super) change_time: Option<UnixTime>,
}

impl From<Parsed> for Work {
    fn from(p: Parsed) -> Work {
        let whole = |secs| UnixTime { secs, nanos: 0 };
        Work {
            format: p.format,
            typeflag: p.typeflag,
            name: p.name,
            linkname: p.linkname,
            size: p.size,
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
            uname: p.uname,
            gname: p.gname,
            devmajor: p.devmajor,
            devminor: p.devminor,
            mod_time: whole(p.mtime),
            access_time: p.atime.map(whole),
            change_time: p.ctime.map(whole),
        }
    }
}

/// A header field; the ranges are constants inside the block, so this never comes back
/// empty in practice.
pub(super) fn field(blk: &Block, range: Range<usize>) -> &[u8] {
    blk.get(range).unwrap_or_default()
}

/// Go's `parser.parseString`: the bytes before the first NUL.
pub(super) fn c_string(b: &[u8]) -> &[u8] {
    b.split(|&c| c == 0).next().unwrap_or_default()
}

/// Collects the first numeric parse failure, like Go's `parser.err`.
#[derive(Default)]
struct Numbers {
    failed: bool,
}

impl Numbers {
    fn parse(&mut self, b: &[u8]) -> i64 {
        parse_numeric(b).unwrap_or_else(|| {
            self.failed = true;
            0
        })
    }
}

/// Go's `block.getFormat` checksum test: the stored octal value must equal the unsigned or
/// the signed (historic Sun tar) sum of the block, counting the checksum field as spaces.
fn checksum_ok(blk: &Block) -> bool {
    let Some(stored) = parse_octal(field(blk, F_CHKSUM)) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in blk.iter().enumerate() {
        let c = if F_CHKSUM.contains(&i) { b' ' } else { c };
        unsigned = unsigned.saturating_add(i64::from(c));
        signed = signed.saturating_add(i64::from(i8::from_ne_bytes([c])));
    }
    stored == unsigned || stored == signed
}

/// Go's `readHeader` on one non-zero block.
pub(super) fn parse_header(blk: &Block) -> Result<Parsed, &'static str> {
    if !checksum_ok(blk) {
        return Err("checksum mismatch");
    }
    let magic = field(blk, F_MAGIC);
    let format = if magic == b"ustar\0" && field(blk, F_STAR_TRAILER) == b"tar\0" {
        Format::Star
    } else if magic == b"ustar\0" {
        Format::Ustar
    } else if magic == b"ustar " && field(blk, F_VERSION) == b" \0" {
        Format::Gnu
    } else {
        Format::V7
    };

    let mut p = Numbers::default();
    let mut h = Parsed {
        format,
        typeflag: blk.get(F_TYPEFLAG).copied().unwrap_or(0),
        name: c_string(field(blk, F_NAME)).to_vec(),
        linkname: c_string(field(blk, F_LINKNAME)).to_vec(),
        size: p.parse(field(blk, F_SIZE)),
        mode: p.parse(field(blk, F_MODE)),
        uid: p.parse(field(blk, F_UID)),
        gid: p.parse(field(blk, F_GID)),
        mtime: p.parse(field(blk, F_MTIME)),
        uname: Vec::new(),
        gname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        atime: None,
        ctime: None,
    };
    if format != Format::V7 {
        h.uname = c_string(field(blk, F_UNAME)).to_vec();
        h.gname = c_string(field(blk, F_GNAME)).to_vec();
        h.devmajor = p.parse(field(blk, F_DEVMAJOR));
        h.devminor = p.parse(field(blk, F_DEVMINOR));
        let prefix: &[u8] = match format {
            Format::Star => {
                h.atime = Some(p.parse(field(blk, F_STAR_ATIME)));
                h.ctime = Some(p.parse(field(blk, F_STAR_CTIME)));
                c_string(field(blk, F_STAR_PREFIX))
            }
            Format::Gnu => gnu_times(blk, &mut h),
            _ => c_string(field(blk, F_USTAR_PREFIX)),
        };
        if !prefix.is_empty() {
            let mut name = prefix.to_vec();
            name.push(b'/');
            name.extend_from_slice(&h.name);
            h.name = name;
        }
    }
    if p.failed {
        return Err("invalid numeric field");
    }
    Ok(h)
}

/// GNU `atime`/`ctime` as Go reads them; returns the prefix to use (empty unless the times
/// do not parse and the area looks like a pre-Go-1.8 ustar prefix, Go issue 12594).
fn gnu_times<'a>(blk: &'a Block, h: &mut Parsed) -> &'a [u8] {
    let mut p = Numbers::default();
    for (range, slot) in [(F_GNU_ATIME, &mut h.atime), (F_GNU_CTIME, &mut h.ctime)] {
        let b = field(blk, range);
        if b.first().is_some_and(|&c| c != 0) {
            *slot = Some(p.parse(b));
        }
    }
    if !p.failed {
        return &[];
    }
    h.atime = None;
    h.ctime = None;
    let prefix = c_string(field(blk, F_USTAR_PREFIX));
    if prefix.is_ascii() { prefix } else { &[] }
}

/// Go's `parseNumeric`: base-256 when the top bit of the first byte is set (two's
/// complement, so negative values too), else octal. `None` on overflow or a bad digit.
pub(super) fn parse_numeric(b: &[u8]) -> Option<i64> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return parse_octal(b);
    }
    // Bit 6 of the first byte is the sign; a negative number is read inverted (-a-1 == !a).
    let inv = if first & 0x40 != 0 { 0xff } else { 0 };
    let mut x: u64 = 0;
    for (i, &c) in b.iter().enumerate() {
        let mut c = c ^ inv;
        if i == 0 {
            c &= 0x7f;
        }
        if x.wrapping_shr(56) != 0 {
            return None;
        }
        x = x.wrapping_shl(8) | u64::from(c);
    }
    let v = i64::try_from(x).ok()?;
    Some(if inv == 0xff { !v } else { v })
}

/// Go's `parseOctal`: leading and trailing spaces and NULs are ignored, the rest is cut at
/// its first NUL and must be octal digits (an empty field is 0).
fn parse_octal(b: &[u8]) -> Option<i64> {
    let pad = |c: &u8| *c == b' ' || *c == 0;
    let start = b.iter().position(|c| !pad(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !pad(c))
        .map_or(start, |i| i.saturating_add(1));
    let trimmed = b.get(start..end).unwrap_or_default();
    if trimmed.is_empty() {
        return Some(0);
    }
    let digits = c_string(trimmed);
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        x = x
            .checked_mul(8)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))?;
    }
    // Go converts with int64(x); fields are at most 12 bytes, far below 2^63.
    i64::try_from(x).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_tolerates_spaces_and_nuls_like_go() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"  644 \0"), Some(0o644));
        assert_eq!(parse_octal(b"\0\0 12\0 7"), Some(0o12));
        assert_eq!(parse_octal(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"        "), Some(0));
        assert_eq!(parse_octal(b"64 4"), None);
        assert_eq!(parse_octal(b"0008"), None);
        assert_eq!(parse_octal(b"+1"), None);
        assert_eq!(parse_octal(b"77777777777\0"), Some(0o77777777777));
    }

    #[test]
    fn base256_positive_and_negative() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 0x05;
        assert_eq!(parse_numeric(&f), Some(5));
        assert_eq!(parse_numeric(&[0xff; 12]), Some(-1));
        let mut g = [0xff; 8];
        g[7] = 0xfe;
        assert_eq!(parse_numeric(&g), Some(-2));
        // 2^63 does not fit in an int64.
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4] = 0x80;
        assert_eq!(parse_numeric(&big), None);
        // More than 64 significant bits.
        let mut huge = [0u8; 12];
        huge[0] = 0x80;
        huge[3] = 0x01;
        assert_eq!(parse_numeric(&huge), None);
        // The most negative value that fits.
        let mut min = [0u8; 12];
        min[0] = 0xff;
        min[1] = 0xff;
        min[2] = 0xff;
        min[3] = 0xff;
        min[4] = 0x80;
        assert_eq!(parse_numeric(&min), Some(i64::MIN));
    }

    #[test]
    fn checksum_signed_and_unsigned() {
        let mut blk = [0u8; 512];
        blk[0] = b'a';
        blk[1] = 0xff;
        // Unsigned: 'a' + 0xff + 8 spaces.
        let unsigned = 0x61 + 0xff + 8 * 32;
        blk[148..156].copy_from_slice(format!("{unsigned:06o}\0 ").as_bytes());
        assert!(checksum_ok(&blk));
        let signed = 0x61 - 1 + 8 * 32;
        blk[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        assert!(checksum_ok(&blk));
        blk[148..156].copy_from_slice(b"000001\0 ");
        assert!(!checksum_ok(&blk));
    }
}

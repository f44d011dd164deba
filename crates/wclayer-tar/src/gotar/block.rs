//! The header blocks themselves: Go's `writeUSTARHeader`, `writePAXHeader`, `writeGNUHeader`
//! and `writeRawFile`, and the field formatting of `strconv.go` (docs/oci-tar-mapping.md §8.1, §8.2, §8.4–§8.6).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use wclayer_backup::UnixTime;

use super::names::{pax_header_path, split_ustar_path, to_ascii, trim_trailing_slashes};
use super::{
    BLOCK_SIZE, Error, GNU_MAGIC, Header, MAX_PAX_RECORDS_LEN, NAME_SIZE, TYPE_X_GLOBAL_HEADER,
    TYPE_X_HEADER, USTAR_MAGIC, ZERO_BLOCK, block_padding, field, len_u64,
};

/// Go's `writeUSTARHeader` (docs/oci-tar-mapping.md §8.5): the name split into prefix and name if needed.
pub(super) fn ustar_header(h: &Header, typeflag: u8, mtime: UnixTime) -> [u8; BLOCK_SIZE] {
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

/// Go's `writePAXHeader` (docs/oci-tar-mapping.md §8.4): the `x` (or `g`) entry with the records, then the main
/// header with its strings filtered to ASCII.
pub(super) fn pax_header(
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
///
/// [`Format::Unspecified`]: super::Format::Unspecified
pub(super) fn gnu_header(h: &Header, typeflag: u8, mtime: UnixTime) -> Vec<u8> {
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
/// and mtime, and no uname/gname/devmajor/devminor at all (all NUL, docs/oci-tar-mapping.md §8.4).
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
/// PAX (docs/oci-tar-mapping.md §8.2) and the identity otherwise; `number` is [`format_octal`], or
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
    // Go writes a zero ModTime as the Unix epoch (docs/oci-tar-mapping.md §8.2).
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
    /// checksum as six octal digits, NUL, space (docs/oci-tar-mapping.md §8.6).
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
/// whose last byte is `/`, put one NUL at the start of that trailing run of `/` (docs/oci-tar-mapping.md §8.2).
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
/// written as zero (docs/oci-tar-mapping.md §8.2).
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
pub(super) fn fits_base256(width: usize, x: i64) -> bool {
    let bits = u32::try_from(width.saturating_sub(1).saturating_mul(8)).unwrap_or(u32::MAX);
    width >= 9
        || 1_i64
            .checked_shl(bits)
            .is_none_or(|limit| x >= limit.wrapping_neg() && x < limit)
}

/// Go's `fitsInOctal`: non-negative and below 8^(width−1).
pub(super) fn fits_octal(width: usize, x: i64) -> bool {
    let bits = u32::try_from(width.saturating_sub(1).saturating_mul(3)).unwrap_or(u32::MAX);
    x >= 0 && (width >= 22 || 1_i64.checked_shl(bits).is_none_or(|limit| x < limit))
}

/// Go's `formatPAXRecord`: `"<len> <key>=<value>\n"`, where `<len>` counts itself
/// (docs/oci-tar-mapping.md §8.4 step 2).
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
        // n = 98 → 101 (docs/oci-tar-mapping.md §8.4).
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
}

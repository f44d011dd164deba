//! Go's `Header.allowedFormats`: which format a header gets and which PAX records it needs
//! (docs/oci-tar-mapping.md §8.3), then the blocks that encode it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use wclayer_backup::UnixTime;

use super::block::{fits_base256, fits_octal, gnu_header, pax_header, ustar_header};
use super::names::{is_c_ascii, split_ustar_path};
use super::{
    Error, Format, Header, NAME_SIZE, TYPE_DIR, TYPE_REG, TYPE_REG_A, TYPE_X_GLOBAL_HEADER,
    TYPE_X_HEADER, USER_NAME_SIZE, field, is_header_only,
};

/// The bytes `WriteHeader` emits for one header and the data it then expects.
pub(super) struct Encoded {
    /// Header blocks, plus the padded PAX records for a PAX header.
    pub(super) bytes: Vec<u8>,
    /// Data bytes that must follow (0 for header-only typeflags).
    pub(super) data_size: u64,
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
/// the records (docs/oci-tar-mapping.md §8.3), then lay out the blocks (§8.1, §8.4, §8.5).
pub(super) fn encode(h: &Header) -> Result<Encoded, Error> {
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

/// Go's `validPAXRecord` (docs/oci-tar-mapping.md §8.3).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! [`Header`] and [`Format`]: what the caller asks Go's writer to write.

use std::collections::BTreeMap;

use wclayer_backup::UnixTime;

use super::TYPE_REG;

/// Go's `Header.Format`, restricted to the two values backuptar uses (docs/oci-tar-mapping.md §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Go's `FormatUnknown`: the first of USTAR and PAX that can encode the header. As in Go,
    /// `mod_time` is rounded to whole seconds and `access_time`/`change_time` are ignored.
    /// backuptar leaves whiteouts unspecified (docs/oci-tar-mapping.md §4.7), which makes them USTAR unless the
    /// name forces a PAX `path` record.
    #[default]
    Unspecified,
    /// Go's `FormatPAX`, which backuptar sets on every other entry (docs/oci-tar-mapping.md §2). USTAR is still
    /// chosen when nothing needs a PAX record, exactly as Go does.
    Pax,
}

/// One tar header, field for field Go's `tar.Header` as backuptar fills it (docs/oci-tar-mapping.md §5.1).
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

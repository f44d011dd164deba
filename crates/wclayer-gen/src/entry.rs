//! The entry model the archives are built from: times, `FILE_ATTRIBUTE_*` values,
//! deterministic pseudo-random contents, Windows-style entries ([`Ent`]) with their PAX
//! records, Linux-style entries ([`Plain`]) and PAX global headers ([`Item`]).

use std::io::{self, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tar::EntryType;

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// A Unix time split like Go's `time.Time`: `secs` is the floor, `nanos` ∈ [0, 1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PaxTime {
    secs: i64,
    nanos: u32,
}

/// 8^11: the first value the 11-digit octal mtime field cannot hold (year 2242).
const MTIME_FIELD_LIMIT: u64 = 0o100_000_000_000;

impl PaxTime {
    pub(crate) const fn new(secs: i64, nanos: u32) -> Self {
        PaxTime { secs, nanos }
    }

    /// The PAX text form (docs/oci-tar-mapping.md §3): `1609556645.1234567`, `-86400.5`, `0`.
    pub(crate) fn format(self) -> String {
        if self.nanos == 0 {
            return self.secs.to_string();
        }
        // A negative time with a fraction is written as "-(|secs| - 1).(1e9 - nanos)", so
        // secs = -86401, nanos = 5e8 (i.e. -86400.5 s) reads "-86400.5".
        let (sign, whole, frac) = if self.secs >= 0 {
            ("", self.secs.unsigned_abs(), self.nanos)
        } else {
            (
                "-",
                (-1 - self.secs).unsigned_abs(),
                1_000_000_000 - self.nanos,
            )
        };
        let mut text = format!("{sign}{whole}.{frac:09}");
        while text.ends_with('0') {
            text.pop();
        }
        text
    }

    /// What goes into the 12-byte mtime header field: whole seconds when representable,
    /// else 0 (a PAX `mtime` record then carries the value).
    pub(crate) fn header_field(self) -> u64 {
        u64::try_from(self.secs)
            .ok()
            .filter(|&s| s < MTIME_FIELD_LIMIT)
            .unwrap_or(0)
    }

    /// Whether the header field alone loses information.
    pub(crate) fn needs_record(self) -> bool {
        let representable = match u64::try_from(self.secs) {
            Ok(secs) => secs < MTIME_FIELD_LIMIT,
            Err(_) => false,
        };
        self.nanos != 0 || !representable
    }
}

/// The four Windows times of an entry (FILE_BASIC_INFO), as Unix times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub(crate) creation: PaxTime,
    pub(crate) write: PaxTime,
    pub(crate) access: PaxTime,
    pub(crate) change: PaxTime,
}

/// Files: sub-second write time, creation time months earlier.
pub(crate) const T_FILE: Times = Times {
    creation: PaxTime::new(1_600_000_000, 123_456_700),
    write: PaxTime::new(1_609_556_645, 123_456_700),
    access: PaxTime::new(1_609_556_646, 0),
    change: PaxTime::new(1_609_556_646, 0),
};

/// Directories: whole seconds only (no PAX `mtime` record needed).
pub(crate) const T_DIR: Times = Times {
    creation: PaxTime::new(1_500_000_000, 0),
    write: PaxTime::new(1_600_000_000, 0),
    access: PaxTime::new(1_600_000_001, 0),
    change: PaxTime::new(1_600_000_002, 0),
};

/// Before 1970: write time -86400.5 s (1969-12-30T23:59:59.5Z), creation 1960-01-01, access
/// -0.25 s, change exactly the epoch.
pub(crate) const T_OLD: Times = Times {
    creation: PaxTime::new(-315_619_200, 0),
    write: PaxTime::new(-86_401, 500_000_000),
    access: PaxTime::new(-1, 750_000_000),
    change: PaxTime::new(0, 0),
};

/// After 2242: the write time does not fit the octal mtime field (header 0, PAX `mtime`).
pub(crate) const T_FUTURE: Times = Times {
    creation: PaxTime::new(4_102_444_800, 0),
    write: PaxTime::new(9_999_999_999, 0),
    access: PaxTime::new(9_999_999_999, 900_000_000),
    change: PaxTime::new(4_102_444_800, 100),
};

/// One 100 ns tick after a whole second: the smallest FILETIME fraction.
pub(crate) const T_TICK: Times = Times {
    creation: PaxTime::new(1_700_000_000, 100),
    write: PaxTime::new(1_700_000_000, 0),
    access: PaxTime::new(1_700_000_000, 9_999_900),
    change: PaxTime::new(1_700_000_001, 0),
};

/// The mtime field of the entries in the `linux` case.
pub(crate) const LINUX_MTIME: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Attributes (FILE_ATTRIBUTE_*)
// ---------------------------------------------------------------------------------------------

pub(crate) const READONLY: u32 = 0x1;
pub(crate) const HIDDEN: u32 = 0x2;
pub(crate) const SYSTEM: u32 = 0x4;
pub(crate) const DIRECTORY: u32 = 0x10;
pub(crate) const ARCHIVE: u32 = 0x20;
pub(crate) const NORMAL: u32 = 0x80;
pub(crate) const REPARSE_POINT: u32 = 0x400;
pub(crate) const NOT_CONTENT_INDEXED: u32 = 0x2000;

// ---------------------------------------------------------------------------------------------
// Deterministic content
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, seedable, and good enough that contents do not compress to nothing.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A reader of `remaining` pseudo-random bytes. The byte sequence depends only on the seed,
/// not on how the caller sizes its reads.
pub(crate) struct PseudoRandom {
    state: u64,
    remaining: u64,
    word: [u8; 8],
    used: usize,
}

impl PseudoRandom {
    pub(crate) fn new(seed: u64, len: u64) -> Self {
        PseudoRandom {
            state: seed,
            remaining: len,
            word: [0; 8],
            used: 8,
        }
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        for byte in buf.iter_mut().take(n) {
            if self.used == self.word.len() {
                self.word = splitmix64(&mut self.state).to_le_bytes();
                self.used = 0;
            }
            *byte = self.word[self.used];
            self.used += 1;
        }
        // n <= remaining, so this cannot underflow; u64 holds any usize here.
        self.remaining -= u64::try_from(n).unwrap_or(u64::MAX);
        Ok(n)
    }
}

pub(crate) fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    // Reading from an in-memory generator into a Vec cannot fail.
    let _ = PseudoRandom::new(seed, len).read_to_end(&mut out);
    out
}

/// Something shaped like a registry hive: the `regf` signature, then pseudo-random bytes.
pub(crate) fn hive(seed: u64, len: usize) -> Body {
    let mut bytes = b"regf".to_vec();
    bytes.extend(random_bytes(seed, len.saturating_sub(4)));
    Body::Bytes(bytes)
}

pub(crate) fn text(s: &str) -> Body {
    Body::Bytes(s.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Entry model
// ---------------------------------------------------------------------------------------------

/// The data of an entry.
pub(crate) enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// Streamed from [`PseudoRandom`], never materialised.
    Random {
        seed: u64,
        len: u64,
    },
}

impl Body {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => u64::try_from(b.len()).unwrap_or(u64::MAX),
            Body::Random { len, .. } => *len,
        }
    }
}

/// A Windows-style entry: an optional PAX extended header (`x`) with records in insertion
/// order, then a ustar header whose name and link fields hold the raw bytes given (no
/// validation, no cleaning: hostile cases need `..` and absolute names).
pub(crate) struct Ent {
    pub(crate) name: String,
    pub(crate) flag: EntryType,
    pub(crate) mode: u32,
    pub(crate) link: Option<String>,
    pub(crate) body: Body,
    /// PAX records other than times/path/linkpath, in the order they are written.
    pub(crate) records: Vec<(String, Vec<u8>)>,
    pub(crate) mtime: PaxTime,
    pub(crate) atime: Option<PaxTime>,
    pub(crate) ctime: Option<PaxTime>,
    pub(crate) creation: Option<PaxTime>,
}

impl Ent {
    /// A bare entry: no records, no times (mtime field 0).
    pub(crate) fn new(name: &str, flag: EntryType, mode: u32) -> Self {
        Ent {
            name: name.to_owned(),
            flag,
            mode,
            link: None,
            body: Body::Empty,
            records: Vec::new(),
            mtime: PaxTime::new(0, 0),
            atime: None,
            ctime: None,
            creation: None,
        }
    }

    /// A directory (typeflag `5`) with the DIRECTORY attribute.
    pub(crate) fn dir(name: &str) -> Self {
        Self::dir_with(name, DIRECTORY)
    }

    pub(crate) fn dir_with(name: &str, attrs: u32) -> Self {
        Ent::new(name, EntryType::Directory, 0o40000)
            .attrs(attrs)
            .times(&T_DIR)
    }

    /// A regular file (typeflag `0`).
    pub(crate) fn file(name: &str, attrs: u32, body: Body) -> Self {
        let mut e = Ent::new(name, EntryType::Regular, 0o100000)
            .attrs(attrs)
            .times(&T_FILE);
        e.body = body;
        e
    }

    /// A symlink (typeflag `2`); the DIRECTORY bit in `attrs` makes it a directory symlink.
    pub(crate) fn symlink(name: &str, target: &str, attrs: u32) -> Self {
        let mode = if attrs & DIRECTORY != 0 {
            0o160000
        } else {
            0o120000
        };
        let mut e = Ent::new(name, EntryType::Symlink, mode)
            .attrs(attrs)
            .times(&T_FILE);
        e.link = Some(target.to_owned());
        e
    }

    /// A mount point (junction): a symlink entry with `MSWINDOWS.mountpoint=1`.
    pub(crate) fn mount_point(name: &str, target: &str, attrs: u32) -> Self {
        Ent::symlink(name, target, attrs).record("MSWINDOWS.mountpoint", "1")
    }

    /// A hard link (typeflag `1`) as hcsshim writes it: mode 0644, fileattr, creation time.
    pub(crate) fn hard_link(name: &str, target: &str, attrs: u32) -> Self {
        let mut e = Ent::new(name, EntryType::Link, 0o644)
            .attrs(attrs)
            .times(&T_FILE);
        e.link = Some(target.to_owned());
        e
    }

    /// An alternate data stream entry `main:stream`: typeflag `0`, the main entry's mode, its
    /// mtime/atime/ctime, and no Windows records (docs/oci-tar-mapping.md §4.6).
    pub(crate) fn stream(main: &Ent, stream: &str, body: Body) -> Self {
        let mut e = Ent::new(
            &format!("{}:{stream}", main.name),
            EntryType::Regular,
            main.mode,
        );
        e.mtime = main.mtime;
        e.atime = main.atime;
        e.ctime = main.ctime;
        e.body = body;
        e
    }

    /// A whiteout: typeflag `0`, mode 0, size 0, mtime 0, no records (unless the name needs
    /// a `path` record).
    pub(crate) fn whiteout(name: &str) -> Self {
        Ent::new(name, EntryType::Regular, 0)
    }

    pub(crate) fn attrs(self, attrs: u32) -> Self {
        self.record("MSWINDOWS.fileattr", attrs.to_string())
    }

    pub(crate) fn sd(self, base64: &str) -> Self {
        self.record("MSWINDOWS.rawsd", base64)
    }

    pub(crate) fn xattr(self, name: &str, value: &[u8]) -> Self {
        self.record(&format!("MSWINDOWS.xattr.{name}"), BASE64.encode(value))
    }

    pub(crate) fn record(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        self.records.push((key.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub(crate) fn times(mut self, t: &Times) -> Self {
        self.mtime = t.write;
        self.atime = Some(t.access);
        self.ctime = Some(t.change);
        self.creation = Some(t.creation);
        self
    }
}

/// Header flavours of the `linux` case.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// POSIX ustar (`ustar\0` `00`); long names split into prefix and name.
    Ustar,
    /// GNU (`ustar ` ` \0`); long names and link targets via `././@LongLink` entries.
    Gnu,
    /// Pre-POSIX header with typeflag NUL (a regular file to every reader).
    V7,
}

/// An entry as a Linux tool writes it: no PAX records at all.
pub(crate) struct Plain {
    pub(crate) style: Style,
    pub(crate) name: String,
    pub(crate) flag: EntryType,
    pub(crate) mode: u32,
    pub(crate) link: Option<String>,
    pub(crate) data: Vec<u8>,
}

impl Plain {
    pub(crate) fn new(style: Style, name: &str, flag: EntryType, mode: u32) -> Self {
        Plain {
            style,
            name: name.to_owned(),
            flag,
            mode,
            link: None,
            data: Vec::new(),
        }
    }

    pub(crate) fn dir(style: Style, name: &str) -> Self {
        Plain::new(style, name, EntryType::Directory, 0o755)
    }

    pub(crate) fn file(style: Style, name: &str, mode: u32, data: Vec<u8>) -> Self {
        let mut p = Plain::new(style, name, EntryType::Regular, mode);
        p.data = data;
        p
    }

    pub(crate) fn link(style: Style, name: &str, flag: EntryType, target: &str) -> Self {
        let mode = if flag == EntryType::Symlink {
            0o777
        } else {
            0o755
        };
        let mut p = Plain::new(style, name, flag, mode);
        p.link = Some(target.to_owned());
        p
    }
}

/// One thing written to an archive.
pub(crate) enum Item {
    /// A Windows-style entry.
    Win(Ent),
    /// A Linux-style entry.
    Plain(Plain),
    /// A PAX global header (`g`) with this name field and these records.
    Global(&'static str, Vec<(String, Vec<u8>)>),
}

impl From<Ent> for Item {
    fn from(e: Ent) -> Self {
        Item::Win(e)
    }
}

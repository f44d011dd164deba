//! Generated Windows-style layer tars: the samples of `wclayer sample` and the fixtures of
//! the tests.
//!
//! The archives follow the layout of spec/oci-tar-mapping.md: `Files/…` (the container's
//! `C:\`), `Hives/…` (registry deltas), `UtilityVM/Files/…`, with Windows metadata in PAX
//! records (`MSWINDOWS.fileattr`, `MSWINDOWS.rawsd`, `MSWINDOWS.sd`, `MSWINDOWS.mountpoint`,
//! `MSWINDOWS.xattr.<name>`, `LIBARCHIVE.creationtime`, `atime`/`ctime`/`mtime`), alternate data
//! streams as `NAME:stream` entries directly after their file, `.wh.` whiteouts and typeflag-`1`
//! hard links.
//!
//! # How the pieces fit
//!
//! * [`cases`] lists the well-formed archives ([`Case`]); together they use every feature of
//!   the mapping. [`write_case`] / [`write_case_with`] stream one of them into any
//!   [`Write`], with [`Options`] controlling the size of the one large file.
//! * [`malformed_cases`] returns archives that an import must refuse, each with the tar name
//!   its error must mention ([`Malformed::bad_entry`]).
//! * [`hostile_cases`] returns archives that try to reach outside a layer directory (`..`,
//!   absolute and drive-qualified names, writes through symlinks and mount points, hard links
//!   out of the layer); an import into a layer directory must refuse them and write nothing
//!   outside the layer.
//!
//! The bytes are written with the `tar` crate (plus hand-formatted PAX record blocks), on
//! purpose a different producer than the project's Go-compatible writer: records come in
//! insertion order rather than sorted, PAX extended headers are named `PaxHeaders/<base>`,
//! modes are Windows-style (`040000`, `0100000`, …). Nothing here is byte-compatible with Go;
//! it only has to be a *valid* archive that Windows tooling could have written.
//!
//! # Determinism
//!
//! Every archive is a pure function of its name and [`Options`]: times are fixed constants,
//! "random" contents come from a seeded SplitMix64 generator, and no clock, environment or
//! randomness source is consulted. Two runs give identical bytes, so expected outputs can be
//! checked in.
//!
//! # Example
//!
//! ```
//! use wclayer_gen::{Options, cases, write_case_with};
//!
//! let options = Options { big_file_size: 4096 };
//! for case in cases() {
//!     let mut tar = Vec::new();
//!     write_case_with(case.name, &options, &mut tar)?;
//!     assert_eq!(tar.len() % 512, 0);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{self, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tar::{Builder, EntryType, Header};

// ---------------------------------------------------------------------------------------------
// Public constants
// ---------------------------------------------------------------------------------------------

/// Default size of the large pseudo-random file in the `base` case (3 MiB): bigger than any
/// single buffer a streaming importer should hold.
pub const DEFAULT_BIG_FILE_SIZE: u64 = 3 * 1024 * 1024;

/// `MSWINDOWS.rawsd` value `O:BUG:BU` (owner and group BUILTIN\Users, no DACL), 52 bytes: the
/// descriptor go-containerregistry, ko, buildpacks and the .NET SDK put on every entry
/// (ea-reparse-sd.md §3.9).
pub const SD_BUILTIN_USERS: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:BA` (owner and group BUILTIN\Administrators, no DACL), from
/// buildpacks (ea-reparse-sd.md §3.9).
pub const SD_BUILTIN_ADMINS: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAgAgAAAQIAAAAAAAUgAAAAIAIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)`, 124 bytes:
/// moby/buildkit's descriptor for regular files (ea-reparse-sd.md §3.9).
pub const SD_BUILDKIT_FILE: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)`:
/// moby/buildkit's descriptor for directories (ea-reparse-sd.md §3.9).
pub const SD_BUILDKIT_DIR: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA";

/// The SDDL string carried by the one legacy `MSWINDOWS.sd` record of the `base` case (the
/// SDDL form of [`SD_BUILDKIT_FILE`]; only go-winio before May 2016 wrote `MSWINDOWS.sd`).
pub const SDDL_LEGACY: &str = "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)";

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Whether a case is a base layer (no whiteouts) or a delta layer (with whiteouts).
///
/// This is what an import into a layer directory needs to know: a base layer directory
/// rejects whiteouts (`base layer cannot have tombstones`, layer-semantics.md §0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// A layer with no parents: no whiteouts anywhere in the archive.
    Base,
    /// A layer on top of parents: may contain whiteouts and `Hives/*_Delta` files.
    Delta,
}

/// One well-formed archive the generator can write; see [`cases`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// Name passed to [`write_case`], e.g. `"base"`.
    pub name: &'static str,
    /// What the archive contains and which features it exercises.
    pub description: &'static str,
    /// Whether to import it as a base or a delta layer.
    pub kind: LayerKind,
}

/// Knobs for [`write_case_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Size in bytes of `Files/Program Files/big.bin` in the `base` case (pseudo-random
    /// contents). Default [`DEFAULT_BIG_FILE_SIZE`]; tests that only look at names can make
    /// it small, benchmarks large. The file is streamed, never held in memory.
    pub big_file_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            big_file_size: DEFAULT_BIG_FILE_SIZE,
        }
    }
}

/// A complete archive with one defect; see [`malformed_cases`] and [`hostile_cases`].
#[derive(Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Short identifier, e.g. `"bad-base64-rawsd"`; unique within its list.
    pub name: &'static str,
    /// The archive bytes (complete, with the two-block trailer, unless the defect is a
    /// truncation).
    pub bytes: Vec<u8>,
    /// The tar entry name (as it appears in the archive) that the import error must mention.
    pub bad_entry: &'static str,
    /// What is wrong with the archive, in one sentence.
    pub what: &'static str,
}

impl std::fmt::Debug for Malformed {
    // The archive bytes are noise in a failing assertion; show their length instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Malformed")
            .field("name", &self.name)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("bad_entry", &self.bad_entry)
            .field("what", &self.what)
            .finish()
    }
}

static CASES: [Case; 4] = [
    Case {
        name: "base",
        description: "A base layer as Windows tooling writes it: Files (with a security \
            descriptor), nested directories, registry hives under Files/Windows/System32/config, \
            Hives/ entries (which an export of a base layer drops), UtilityVM/Files with the \
            EFI BCD store and BCD.LOG, four distinct MSWINDOWS.rawsd descriptors and one legacy \
            MSWINDOWS.sd SDDL record, several EAs per file in unsorted record order with binary \
            values, two alternate data streams on a file and one on a directory, relative and \
            absolute file symlinks, a directory symlink (attributes 0x410), a mount point, a \
            hard-link group of three names in three directories plus a hard link to a long name, \
            CJK, accented (NFC and NFD) and emoji names, a name over 100 bytes and a path over \
            256 bytes, an empty file, a multi-MiB pseudo-random file, READONLY|HIDDEN|SYSTEM|\
            ARCHIVE and other attribute values, times before 1970, after 2242 and with \
            sub-second parts, and creation times that differ from the write time.",
        kind: LayerKind::Base,
    },
    Case {
        name: "delta",
        description: "A delta layer: whiteouts at the root (.wh.z), at depth 1, 3 and 4, under \
            directories that are never added, under UtilityVM/Files, with a non-ASCII and with a \
            long name, an opaque marker (.wh..wh..opq), a whiteout followed by re-adding the \
            same name, Hives with all five *_Delta hives, changed files, a hard-link group, \
            alternate data streams and a changed file under UtilityVM/Files.",
        kind: LayerKind::Delta,
    },
    Case {
        name: "linux",
        description: "What Linux tools write: plain ustar, GNU and one pre-POSIX (typeflag NUL) \
            header, no PAX records at all (no fileattr, no security descriptor, no times beyond \
            the mtime field), directory names with a trailing '/', a ustar name split into \
            prefix and name, GNU long names and a long link target (././@LongLink entries), \
            non-zero uid/gid and user names, a hard link and a symlink.",
        kind: LayerKind::Base,
    },
    Case {
        name: "pax-global",
        description: "PAX global headers (typeflag g, named pax_global_header as git writes it \
            and ././@PaxHeader as Python writes it) carrying MSWINDOWS.rawsd for the entries \
            after them; entries that inherit it, one that overrides it with its own rawsd, one \
            that clears it with an empty local rawsd, and a second global header that replaces \
            the first.",
        kind: LayerKind::Base,
    },
];

/// The well-formed cases, in a fixed order: `base`, `delta`, `linux`, `pax-global`.
pub fn cases() -> &'static [Case] {
    &CASES
}

/// Writes the case called `name` with default [`Options`] to `out`.
///
/// # Errors
///
/// `ErrorKind::InvalidInput` if no case has that name; otherwise any error of `out`. After an
/// error, `out` may hold a partial archive.
pub fn write_case(name: &str, out: impl Write) -> io::Result<()> {
    write_case_with(name, &Options::default(), out)
}

/// Writes the case called `name` to `out`, with `options`.
///
/// The archive is streamed: the large file of the `base` case is generated while it is
/// written. `out` is not flushed beyond what the writes themselves do.
///
/// # Errors
///
/// `ErrorKind::InvalidInput` if no case has that name; otherwise any error of `out`. After an
/// error, `out` may hold a partial archive.
pub fn write_case_with(name: &str, options: &Options, mut out: impl Write) -> io::Result<()> {
    let items = case_items(name, options)?;
    write_items(&items, &mut out)
}

/// Archives that an import must refuse, each naming the entry its error must mention.
///
/// | name | defect |
/// |---|---|
/// | `truncated` | cut in the middle of a file body |
/// | `bad-base64-rawsd` | `MSWINDOWS.rawsd` is not base64 |
/// | `bad-base64-xattr` | an `MSWINDOWS.xattr.*` value is not base64 |
/// | `unpadded-base64-xattr` | `QQ`: Go requires `=` padding (oci-tar-mapping.md §4.9) |
/// | `fileattr-not-numeric` | `MSWINDOWS.fileattr=12a` |
/// | `fileattr-out-of-range` | `MSWINDOWS.fileattr=4294967296` |
/// | `stream-without-file` | `Files/missing.txt:zone` with no `Files/missing.txt` before it |
/// | `hard-link-unknown-target` | typeflag `1` naming a target never added |
/// | `bad-creationtime` | `LIBARCHIVE.creationtime=abc` |
/// | `bad-checksum` | a header whose checksum field does not match its bytes |
/// | `duplicate-name` | the same file added twice |
///
/// # Panics
///
/// Only on a bug in this generator (the archives are built in memory, where writing cannot
/// fail); the unit tests build every case.
pub fn malformed_cases() -> Vec<Malformed> {
    build_malformed().expect("in-memory archive generation cannot fail")
}

/// Archives that try to write outside the layer directory they are imported into. An import
/// must refuse each one, with an error naming [`Malformed::bad_entry`], and must not have
/// created anything outside the layer (house habit 4; layer-semantics.md §0.1 and §7.2).
///
/// Symlinks and mount points themselves are legitimate (they are stored as reparse data,
/// never followed); what must be refused is the entry that would be created *through* them.
///
/// | name | bad entry |
/// |---|---|
/// | `dotdot-escape` | `Files/../../escape.txt` |
/// | `backslash-dotdot-escape` | `Files/..\..\escape.txt` (escapes once `/`→`\` is applied) |
/// | `absolute-name` | `/etc/passwd` |
/// | `drive-name` | `Files/C:/x` |
/// | `through-symlink` | `Files/evil/x.txt` below the symlink `Files/evil` → `../../..` |
/// | `through-mount-point` | `Files/mp/x.txt` below the mount point `Files/mp` → `C:\` |
/// | `through-symlink-other-case` | `Files/LINK/x.txt` below the symlink `Files/Link` |
/// | `hard-link-escape` | hard link `Files/hl.txt` → `../../outside` |
/// | `hard-link-absolute` | hard link `Files/hl.txt` → `/etc/shadow` |
/// | `hard-link-through-symlink` | hard link `Files/hl.txt` → `Files/evil/etc/passwd` |
/// | `whiteout-dotdot` | `Files/../.wh.x` |
/// | `whiteout-escape` | `Files/../../.wh.x` |
///
/// # Panics
///
/// Only on a bug in this generator, as for [`malformed_cases`].
pub fn hostile_cases() -> Vec<Malformed> {
    build_hostile().expect("in-memory archive generation cannot fail")
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// A Unix time split like Go's `time.Time`: `secs` is the floor, `nanos` ∈ [0, 1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PaxTime {
    secs: i64,
    nanos: u32,
}

/// 8^11: the first value the 11-digit octal mtime field cannot hold (year 2242).
const MTIME_FIELD_LIMIT: u64 = 0o100_000_000_000;

impl PaxTime {
    const fn new(secs: i64, nanos: u32) -> Self {
        PaxTime { secs, nanos }
    }

    /// The PAX text form (oci-tar-mapping.md §3): `1609556645.1234567`, `-86400.5`, `0`.
    fn format(self) -> String {
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
    fn header_field(self) -> u64 {
        u64::try_from(self.secs)
            .ok()
            .filter(|&s| s < MTIME_FIELD_LIMIT)
            .unwrap_or(0)
    }

    /// Whether the header field alone loses information.
    fn needs_record(self) -> bool {
        let representable = match u64::try_from(self.secs) {
            Ok(secs) => secs < MTIME_FIELD_LIMIT,
            Err(_) => false,
        };
        self.nanos != 0 || !representable
    }
}

/// The four Windows times of an entry (FILE_BASIC_INFO), as Unix times.
#[derive(Debug, Clone, Copy)]
struct Times {
    creation: PaxTime,
    write: PaxTime,
    access: PaxTime,
    change: PaxTime,
}

/// Files: sub-second write time, creation time months earlier.
const T_FILE: Times = Times {
    creation: PaxTime::new(1_600_000_000, 123_456_700),
    write: PaxTime::new(1_609_556_645, 123_456_700),
    access: PaxTime::new(1_609_556_646, 0),
    change: PaxTime::new(1_609_556_646, 0),
};

/// Directories: whole seconds only (no PAX `mtime` record needed).
const T_DIR: Times = Times {
    creation: PaxTime::new(1_500_000_000, 0),
    write: PaxTime::new(1_600_000_000, 0),
    access: PaxTime::new(1_600_000_001, 0),
    change: PaxTime::new(1_600_000_002, 0),
};

/// Before 1970: write time -86400.5 s (1969-12-30T23:59:59.5Z), creation 1960-01-01, access
/// -0.25 s, change exactly the epoch.
const T_OLD: Times = Times {
    creation: PaxTime::new(-315_619_200, 0),
    write: PaxTime::new(-86_401, 500_000_000),
    access: PaxTime::new(-1, 750_000_000),
    change: PaxTime::new(0, 0),
};

/// After 2242: the write time does not fit the octal mtime field (header 0, PAX `mtime`).
const T_FUTURE: Times = Times {
    creation: PaxTime::new(4_102_444_800, 0),
    write: PaxTime::new(9_999_999_999, 0),
    access: PaxTime::new(9_999_999_999, 900_000_000),
    change: PaxTime::new(4_102_444_800, 100),
};

/// One 100 ns tick after a whole second: the smallest FILETIME fraction.
const T_TICK: Times = Times {
    creation: PaxTime::new(1_700_000_000, 100),
    write: PaxTime::new(1_700_000_000, 0),
    access: PaxTime::new(1_700_000_000, 9_999_900),
    change: PaxTime::new(1_700_000_001, 0),
};

/// The mtime field of the entries in the `linux` case.
const LINUX_MTIME: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Attributes (FILE_ATTRIBUTE_*)
// ---------------------------------------------------------------------------------------------

const READONLY: u32 = 0x1;
const HIDDEN: u32 = 0x2;
const SYSTEM: u32 = 0x4;
const DIRECTORY: u32 = 0x10;
const ARCHIVE: u32 = 0x20;
const NORMAL: u32 = 0x80;
const REPARSE_POINT: u32 = 0x400;
const NOT_CONTENT_INDEXED: u32 = 0x2000;

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
struct PseudoRandom {
    state: u64,
    remaining: u64,
    word: [u8; 8],
    used: usize,
}

impl PseudoRandom {
    fn new(seed: u64, len: u64) -> Self {
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

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    // Reading from an in-memory generator into a Vec cannot fail.
    let _ = PseudoRandom::new(seed, len).read_to_end(&mut out);
    out
}

/// Something shaped like a registry hive: the `regf` signature, then pseudo-random bytes.
fn hive(seed: u64, len: usize) -> Body {
    let mut bytes = b"regf".to_vec();
    bytes.extend(random_bytes(seed, len.saturating_sub(4)));
    Body::Bytes(bytes)
}

fn text(s: &str) -> Body {
    Body::Bytes(s.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Entry model
// ---------------------------------------------------------------------------------------------

/// The data of an entry.
enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// Streamed from [`PseudoRandom`], never materialised.
    Random {
        seed: u64,
        len: u64,
    },
}

impl Body {
    fn len(&self) -> u64 {
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
struct Ent {
    name: String,
    flag: EntryType,
    mode: u32,
    link: Option<String>,
    body: Body,
    /// PAX records other than times/path/linkpath, in the order they are written.
    records: Vec<(String, Vec<u8>)>,
    mtime: PaxTime,
    atime: Option<PaxTime>,
    ctime: Option<PaxTime>,
    creation: Option<PaxTime>,
}

impl Ent {
    /// A bare entry: no records, no times (mtime field 0).
    fn new(name: &str, flag: EntryType, mode: u32) -> Self {
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
    fn dir(name: &str) -> Self {
        Self::dir_with(name, DIRECTORY)
    }

    fn dir_with(name: &str, attrs: u32) -> Self {
        Ent::new(name, EntryType::Directory, 0o40000)
            .attrs(attrs)
            .times(&T_DIR)
    }

    /// A regular file (typeflag `0`).
    fn file(name: &str, attrs: u32, body: Body) -> Self {
        let mut e = Ent::new(name, EntryType::Regular, 0o100000)
            .attrs(attrs)
            .times(&T_FILE);
        e.body = body;
        e
    }

    /// A symlink (typeflag `2`); the DIRECTORY bit in `attrs` makes it a directory symlink.
    fn symlink(name: &str, target: &str, attrs: u32) -> Self {
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
    fn mount_point(name: &str, target: &str, attrs: u32) -> Self {
        Ent::symlink(name, target, attrs).record("MSWINDOWS.mountpoint", "1")
    }

    /// A hard link (typeflag `1`) as hcsshim writes it: mode 0644, fileattr, creation time.
    fn hard_link(name: &str, target: &str, attrs: u32) -> Self {
        let mut e = Ent::new(name, EntryType::Link, 0o644)
            .attrs(attrs)
            .times(&T_FILE);
        e.link = Some(target.to_owned());
        e
    }

    /// An alternate data stream entry `main:stream`: typeflag `0`, the main entry's mode, its
    /// mtime/atime/ctime, and no Windows records (oci-tar-mapping.md §4.6).
    fn stream(main: &Ent, stream: &str, body: Body) -> Self {
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
    fn whiteout(name: &str) -> Self {
        Ent::new(name, EntryType::Regular, 0)
    }

    fn attrs(self, attrs: u32) -> Self {
        self.record("MSWINDOWS.fileattr", attrs.to_string())
    }

    fn sd(self, base64: &str) -> Self {
        self.record("MSWINDOWS.rawsd", base64)
    }

    fn xattr(self, name: &str, value: &[u8]) -> Self {
        self.record(&format!("MSWINDOWS.xattr.{name}"), BASE64.encode(value))
    }

    fn record(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        self.records.push((key.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn times(mut self, t: &Times) -> Self {
        self.mtime = t.write;
        self.atime = Some(t.access);
        self.ctime = Some(t.change);
        self.creation = Some(t.creation);
        self
    }
}

/// Header flavours of the `linux` case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// POSIX ustar (`ustar\0` `00`); long names split into prefix and name.
    Ustar,
    /// GNU (`ustar ` ` \0`); long names and link targets via `././@LongLink` entries.
    Gnu,
    /// Pre-POSIX header with typeflag NUL (a regular file to every reader).
    V7,
}

/// An entry as a Linux tool writes it: no PAX records at all.
struct Plain {
    style: Style,
    name: String,
    flag: EntryType,
    mode: u32,
    link: Option<String>,
    data: Vec<u8>,
}

impl Plain {
    fn new(style: Style, name: &str, flag: EntryType, mode: u32) -> Self {
        Plain {
            style,
            name: name.to_owned(),
            flag,
            mode,
            link: None,
            data: Vec::new(),
        }
    }

    fn dir(style: Style, name: &str) -> Self {
        Plain::new(style, name, EntryType::Directory, 0o755)
    }

    fn file(style: Style, name: &str, mode: u32, data: Vec<u8>) -> Self {
        let mut p = Plain::new(style, name, EntryType::Regular, mode);
        p.data = data;
        p
    }

    fn link(style: Style, name: &str, flag: EntryType, target: &str) -> Self {
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
enum Item {
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

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Largest ustar name or linkname field.
const NAME_FIELD: usize = 100;

fn write_items(items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    let mut builder = Builder::new(out);
    for item in items {
        match item {
            Item::Win(e) => put_win(&mut builder, e)?,
            Item::Plain(p) => put_plain(&mut builder, p)?,
            Item::Global(name, records) => put_global(&mut builder, name, records)?,
        }
    }
    // Writes the two zero blocks; without this, Builder's Drop would write them and ignore
    // any error.
    builder.finish()
}

/// PAX record block: `"<len> <key>=<value>\n"` per record, `<len>` counting itself.
fn pax_block(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3;
        let mut len = rest + decimal_digits(rest);
        if decimal_digits(len) != decimal_digits(rest) {
            len = rest + decimal_digits(len);
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

fn decimal_digits(n: usize) -> usize {
    n.to_string().len()
}

/// Copies `bytes` into a fixed header field (NUL-terminated when shorter). Unlike
/// `Header::set_path`, this does no cleaning, so `..`, `/abs` and `C:` survive.
fn set_raw(field: &mut [u8], bytes: &[u8]) -> io::Result<()> {
    if bytes.len() > field.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` does not fit a {}-byte tar header field",
                String::from_utf8_lossy(bytes),
                field.len()
            ),
        ));
    }
    field.fill(0);
    field[..bytes.len()].copy_from_slice(bytes);
    Ok(())
}

/// Whether a name needs a PAX `path` / `linkpath` record.
fn needs_pax_name(name: &str) -> bool {
    !name.is_ascii() || name.len() > NAME_FIELD
}

/// The name-field stand-in for a name carried in a PAX record: its ASCII characters, cut to
/// the field length. Readers that honour PAX never look at it.
fn fallback_name(name: &str) -> String {
    let mut ascii: String = name.chars().filter(char::is_ascii).collect();
    ascii.truncate(NAME_FIELD);
    if ascii.is_empty() {
        ascii.push_str("entry");
    }
    ascii
}

/// The name of a PAX extended header: `PaxHeaders/<base>`, with only harmless characters of
/// the base name kept and runs of dots collapsed, so no hostile bytes (`..`, `\`, `:`) leak
/// into anything but the entry itself.
fn pax_header_name(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let mut safe = String::new();
    for c in base.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if keep && !(c == '.' && safe.ends_with('.')) {
            safe.push(c);
        }
    }
    let mut out = if safe.chars().all(|c| c == '.') {
        "PaxHeaders/entry".to_owned()
    } else {
        format!("PaxHeaders/{safe}")
    };
    out.truncate(NAME_FIELD);
    out
}

fn put_win(b: &mut Builder<&mut dyn Write>, e: &Ent) -> io::Result<()> {
    let mut records = e.records.clone();
    if let Some(t) = e.creation {
        records.push(("LIBARCHIVE.creationtime".into(), t.format().into_bytes()));
    }
    if needs_pax_name(&e.name) {
        records.push(("path".into(), e.name.clone().into_bytes()));
    }
    if let Some(link) = e.link.as_deref().filter(|l| needs_pax_name(l)) {
        records.push(("linkpath".into(), link.as_bytes().to_vec()));
    }
    if e.mtime.needs_record() {
        records.push(("mtime".into(), e.mtime.format().into_bytes()));
    }
    if let Some(t) = e.atime {
        records.push(("atime".into(), t.format().into_bytes()));
    }
    if let Some(t) = e.ctime {
        records.push(("ctime".into(), t.format().into_bytes()));
    }
    if !records.is_empty() {
        let data = pax_block(&records);
        let mut h = Header::new_ustar();
        set_raw(
            &mut h.as_old_mut().name,
            pax_header_name(&e.name).as_bytes(),
        )?;
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(u64::try_from(data.len()).unwrap_or(u64::MAX));
        h.set_mtime(0);
        h.set_entry_type(EntryType::XHeader);
        h.set_cksum();
        b.append(&h, data.as_slice())?;
    }

    let mut h = Header::new_ustar();
    set_raw(&mut h.as_old_mut().name, fallback_name(&e.name).as_bytes())?;
    h.set_mode(e.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(e.body.len());
    h.set_mtime(e.mtime.header_field());
    h.set_entry_type(e.flag);
    if let Some(link) = &e.link {
        set_raw(&mut h.as_old_mut().linkname, fallback_name(link).as_bytes())?;
    }
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    h.set_cksum();
    match &e.body {
        Body::Empty => b.append(&h, io::empty()),
        Body::Bytes(bytes) => b.append(&h, bytes.as_slice()),
        Body::Random { seed, len } => b.append(&h, PseudoRandom::new(*seed, *len)),
    }
}

fn put_plain(b: &mut Builder<&mut dyn Write>, p: &Plain) -> io::Result<()> {
    let mut h = match p.style {
        Style::Ustar => Header::new_ustar(),
        Style::Gnu => Header::new_gnu(),
        Style::V7 => Header::new_old(),
    };
    h.set_mode(p.mode);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mtime(LINUX_MTIME);
    h.set_size(u64::try_from(p.data.len()).unwrap_or(u64::MAX));
    if p.style == Style::V7 {
        // Typeflag stays NUL (Header::new_old zero-fills it): the pre-POSIX "regular file".
        set_raw(&mut h.as_old_mut().name, p.name.as_bytes())?;
        if let Some(link) = &p.link {
            h.set_entry_type(p.flag);
            set_raw(&mut h.as_old_mut().linkname, link.as_bytes())?;
        } else if p.flag != EntryType::Regular {
            h.set_entry_type(p.flag);
        }
        h.set_cksum();
        return b.append(&h, p.data.as_slice());
    }
    h.set_username("builder")?;
    h.set_groupname("builder")?;
    h.set_entry_type(p.flag);
    match &p.link {
        // append_link / append_data set the name (and link), emitting GNU long-name entries
        // when the fields are too short, and compute the checksum.
        Some(target) => b.append_link(&mut h, &p.name, target),
        None => b.append_data(&mut h, &p.name, p.data.as_slice()),
    }
}

fn put_global(
    b: &mut Builder<&mut dyn Write>,
    name: &str,
    records: &[(String, Vec<u8>)],
) -> io::Result<()> {
    let data = pax_block(records);
    let mut h = Header::new_ustar();
    set_raw(&mut h.as_old_mut().name, name.as_bytes())?;
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(u64::try_from(data.len()).unwrap_or(u64::MAX));
    h.set_mtime(0);
    h.set_entry_type(EntryType::XGlobalHeader);
    h.set_cksum();
    b.append(&h, data.as_slice())
}

// ---------------------------------------------------------------------------------------------
// The well-formed cases
// ---------------------------------------------------------------------------------------------

fn case_items(name: &str, options: &Options) -> io::Result<Vec<Item>> {
    Ok(match name {
        "base" => base_items(options),
        "delta" => delta_items(),
        "linux" => linux_items(),
        "pax-global" => pax_global_items(),
        _ => {
            let known: Vec<&str> = CASES.iter().map(|c| c.name).collect();
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unknown layer tar case `{name}` (known: {})",
                    known.join(", ")
                ),
            ));
        }
    })
}

/// Component over 100 bytes (124), under NTFS's 255-unit limit.
fn long_file_name() -> String {
    format!("Files/Program Files/{}.dat", "long-name-".repeat(12))
}

/// The directories and the file of a path over 256 bytes (306), each component ≤ 59 bytes.
fn deep_names() -> (Vec<String>, String) {
    let mut dir = "Files/deep".to_owned();
    let mut dirs = vec![dir.clone()];
    for level in 1..=4 {
        dir = format!("{dir}/level-{level}-{}", "x".repeat(50));
        dirs.push(dir.clone());
    }
    let file = format!("{dir}/file-{}.txt", "y".repeat(50));
    (dirs, file)
}

fn base_items(options: &Options) -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    let mut add = |e: Ent| v.push(Item::Win(e));

    add(Ent::dir("Files").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32/config").sd(SD_BUILTIN_ADMINS));
    for (i, hive_name) in ["SYSTEM", "SOFTWARE", "DEFAULT"].into_iter().enumerate() {
        let seed = 100 + u64::try_from(i).unwrap_or(0);
        add(Ent::file(
            &format!("Files/Windows/System32/config/{hive_name}"),
            ARCHIVE,
            hive(seed, 16 * 1024),
        )
        .sd(SD_BUILTIN_ADMINS));
    }

    // A hard-link group of three names in three directories; the first is the file.
    add(Ent::file(
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(7, 5000)].concat()),
    )
    .sd(SD_BUILDKIT_FILE));
    add(Ent::hard_link(
        "Files/Windows/notepad.exe",
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
    ));
    add(Ent::dir_with("Files/Program Files", DIRECTORY | READONLY).sd(SD_BUILDKIT_DIR));
    add(Ent::hard_link(
        "Files/Program Files/notepad-copy.exe",
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
    ));
    add(Ent::file(
        "Files/Program Files/big.bin",
        ARCHIVE,
        Body::Random {
            seed: 42,
            len: options.big_file_size,
        },
    )
    .sd(SD_BUILDKIT_FILE));

    // Long names: a 124-byte component (PAX `path`), a hard link to it (PAX `linkpath`), and
    // a 306-byte path.
    let long = long_file_name();
    add(Ent::file(&long, ARCHIVE, text("a file with a long name\n")));
    add(Ent::hard_link("Files/long-link.dat", &long, ARCHIVE));
    let (deep_dirs, deep_file) = deep_names();
    for dir in &deep_dirs {
        add(Ent::dir(dir));
    }
    add(Ent::file(&deep_file, ARCHIVE, text("deep inside\n")));

    // Attributes and sizes.
    add(Ent::file("Files/empty.txt", ARCHIVE, Body::Empty).sd(SD_BUILTIN_USERS));
    add(Ent::file(
        "Files/system-hidden.sys",
        READONLY | HIDDEN | SYSTEM | ARCHIVE,
        Body::Bytes(random_bytes(11, 1000)),
    ));
    add(Ent::file(
        "Files/normal.txt",
        NORMAL,
        text("FILE_ATTRIBUTE_NORMAL alone\n"),
    ));
    add(Ent::file(
        "Files/not-indexed.txt",
        ARCHIVE | NOT_CONTENT_INDEXED,
        text("not content indexed\n"),
    ));

    // Times.
    add(Ent::file("Files/old.txt", ARCHIVE, text("from 1969\n")).times(&T_OLD));
    add(Ent::file("Files/future.txt", ARCHIVE, text("from 2286\n")).times(&T_FUTURE));
    add(Ent::file("Files/tick.txt", ARCHIVE, text("100 ns\n")).times(&T_TICK));

    // Security descriptors: the legacy SDDL record alone, and none at all.
    add(
        Ent::file("Files/legacy-sddl.txt", ARCHIVE, text("legacy SDDL\n"))
            .record("MSWINDOWS.sd", SDDL_LEGACY),
    );
    add(Ent::file(
        "Files/no-sd.txt",
        ARCHIVE,
        text("no security descriptor\n"),
    ));

    // Extended attributes: several, binary values, records deliberately not in key order.
    add(
        Ent::file("Files/ea.txt", ARCHIVE, text("extended attributes\n"))
            .sd(SD_BUILTIN_USERS)
            .xattr("zeta", &[0xff, 0x00, 0x7f, 0x80])
            .xattr("ALPHA", &[0x00, 0x01, 0x02])
            .xattr("Mid.Name", &random_bytes(13, 300))
            .xattr("user.comment", b"\0binary\xfe\n"),
    );

    // Alternate data streams: two on a file, one on a directory.
    let ads = Ent::file("Files/ads.txt", ARCHIVE, text("main stream\n")).sd(SD_BUILTIN_USERS);
    let zone = Ent::stream(
        &ads,
        "Zone.Identifier",
        text("[ZoneTransfer]\r\nZoneId=3\r\n"),
    );
    let thumb = Ent::stream(&ads, "thumbnail", Body::Bytes(random_bytes(17, 700)));
    add(ads);
    add(zone);
    add(thumb);
    let ads_dir = Ent::dir("Files/ads-dir").xattr("DIRNOTE", b"an EA on a directory");
    let dir_stream = Ent::stream(&ads_dir, "dirstream", text("a stream on a directory"));
    add(ads_dir);
    add(dir_stream);

    // Reparse points.
    add(Ent::dir("Files/Users"));
    add(Ent::dir("Files/Users/Public"));
    add(Ent::file(
        "Files/Users/Public/readme.txt",
        ARCHIVE,
        text("public\n"),
    ));
    add(Ent::symlink(
        "Files/Users/Public/rel-link.txt",
        r"..\..\normal.txt",
        ARCHIVE | REPARSE_POINT,
    ));
    add(Ent::symlink(
        "Files/abs-link.txt",
        r"C:\Windows\System32\notepad.exe",
        ARCHIVE | REPARSE_POINT,
    )
    .sd(SD_BUILTIN_USERS));
    add(Ent::symlink(
        "Files/dir-link",
        r"Windows\System32",
        DIRECTORY | REPARSE_POINT,
    ));
    add(Ent::mount_point(
        "Files/Documents and Settings",
        r"C:\Users",
        HIDDEN | SYSTEM | DIRECTORY | REPARSE_POINT | NOT_CONTENT_INDEXED,
    )
    .sd(SD_BUILDKIT_DIR));

    // Unicode names.
    add(Ent::dir("Files/caf\u{e9}"));
    add(Ent::file(
        "Files/caf\u{e9}/r\u{e9}sum\u{e9}.txt",
        ARCHIVE,
        text("NFC accents\n"),
    ));
    add(Ent::file(
        "Files/cafe\u{301}-nfd.txt",
        ARCHIVE,
        text("NFD accents: a different name than NFC\n"),
    ));
    add(Ent::dir("Files/\u{65e5}\u{672c}\u{8a9e}"));
    add(Ent::file(
        "Files/\u{65e5}\u{672c}\u{8a9e}/\u{6587}\u{66f8}.txt",
        ARCHIVE,
        text("CJK\n"),
    ));
    add(Ent::file(
        "Files/emoji-\u{1f600}\u{1f680}.txt",
        ARCHIVE,
        text("astral plane\n"),
    ));
    add(Ent::symlink(
        "Files/unicode-link.txt",
        "caf\u{e9}\\r\u{e9}sum\u{e9}.txt",
        ARCHIVE | REPARSE_POINT,
    ));

    // Hives/ in a base layer tar: accepted on import, dropped by a base-layer export.
    add(Ent::dir("Hives"));
    add(Ent::file("Hives/System_Delta", ARCHIVE, hive(200, 8192)));
    add(Ent::file("Hives/Software_Delta", ARCHIVE, hive(201, 8192)));

    // The utility VM, with the boot files hcsshim backs up (oci-tar-mapping.md §6.4).
    add(Ent::dir("UtilityVM"));
    add(Ent::dir("UtilityVM/Files").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("UtilityVM/Files/EFI"));
    add(Ent::dir("UtilityVM/Files/EFI/Microsoft"));
    add(Ent::dir("UtilityVM/Files/EFI/Microsoft/Boot"));
    add(Ent::file(
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD",
        ARCHIVE | HIDDEN | SYSTEM,
        hive(300, 12 * 1024),
    ));
    add(Ent::file(
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG",
        ARCHIVE | HIDDEN | SYSTEM,
        Body::Bytes(random_bytes(301, 1024)),
    ));
    // Ordinary utility VM files: a delta layer's clone hard-links them (and the delta
    // sample removes one).
    add(Ent::dir("UtilityVM/Files/Windows"));
    add(Ent::file(
        "UtilityVM/Files/Windows/kernel.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(302, 2048)),
    ));
    add(Ent::file(
        "UtilityVM/Files/Windows/old.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(303, 512)),
    ));
    v
}

/// A whiteout name over 100 bytes (needs a PAX `path` record).
fn long_whiteout_name() -> String {
    format!("Files/Program Files/.wh.{}", "removed-".repeat(12))
}

fn delta_items() -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    let mut add = |e: Ent| v.push(Item::Win(e));

    add(Ent::whiteout(".wh.z"));
    add(Ent::dir("Files").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout("Files/.wh.x"));
    // Files/a, Files/a/b and Files/a/b/c are never added.
    add(Ent::whiteout("Files/a/b/c/.wh.y"));
    // Removed, then added again in the same layer.
    add(Ent::whiteout("Files/.wh.readded.txt"));
    let readded =
        Ent::file("Files/readded.txt", ARCHIVE, text("added again\n")).sd(SD_BUILTIN_USERS);
    let readded_zone = Ent::stream(
        &readded,
        "Zone.Identifier",
        text("[ZoneTransfer]\r\nZoneId=3\r\n"),
    );
    add(readded);
    add(readded_zone);
    add(Ent::dir("Files/opaque"));
    add(Ent::whiteout("Files/opaque/.wh..wh..opq"));
    add(Ent::file(
        "Files/opaque/fresh.txt",
        ARCHIVE,
        text("fresh\n"),
    ));
    add(Ent::dir("Files/Program Files").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout(&long_whiteout_name()));
    add(Ent::whiteout("Files/caf\u{e9}/.wh.vieux.txt"));

    add(Ent::dir("Files/Windows").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout("Files/Windows/System32/.wh.obsolete.dll"));
    add(Ent::file(
        "Files/Windows/System32/kernel32.dll",
        ARCHIVE,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(21, 9000)].concat()),
    )
    .sd(SD_BUILDKIT_FILE));
    add(Ent::dir("Files/Windows/System32/drivers"));
    add(Ent::dir("Files/Windows/System32/drivers/etc"));
    let hosts = Ent::file(
        "Files/Windows/System32/drivers/etc/hosts",
        ARCHIVE,
        text("127.0.0.1 localhost\r\n::1 localhost\r\n10.0.0.1 changed.example\r\n"),
    )
    .sd(SD_BUILDKIT_FILE)
    .xattr("CHANGED", b"yes");
    let hosts_stream = Ent::stream(&hosts, "backup", text("127.0.0.1 localhost\r\n"));
    add(hosts);
    add(hosts_stream);
    // A new hard-link group.
    add(Ent::file(
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(22, 3000)),
    ));
    add(Ent::dir("Files/Windows/SysWOW64"));
    add(Ent::hard_link(
        "Files/Windows/SysWOW64/shared.dll",
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
    ));
    add(Ent::hard_link(
        "Files/shared-link.dll",
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
    ));

    add(Ent::dir("Hives"));
    for (i, name) in [
        "DefaultUser_Delta",
        "Sam_Delta",
        "Security_Delta",
        "Software_Delta",
        "System_Delta",
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 400 + u64::try_from(i).unwrap_or(0);
        add(Ent::file(
            &format!("Hives/{name}"),
            ARCHIVE,
            hive(seed, 8192),
        ));
    }

    add(Ent::dir("UtilityVM"));
    add(Ent::dir("UtilityVM/Files"));
    add(Ent::whiteout("UtilityVM/Files/Windows/.wh.old.dll"));
    // Parents UtilityVM/Files/Windows/System32/drivers are implicit.
    add(Ent::file(
        "UtilityVM/Files/Windows/System32/drivers/vmbus.sys",
        ARCHIVE | SYSTEM,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(23, 4000)].concat()),
    ));
    v
}

/// A ustar name between 101 and 255 bytes: split into prefix and name by the tar crate.
fn ustar_split_name() -> String {
    format!(
        "Files/share/{}/{}.txt",
        "ustar-prefix-".repeat(5),
        "name-".repeat(12)
    )
}

/// A name over 255 bytes: only a GNU long-name entry (or PAX) can carry it. Each component
/// stays within NTFS's 255 UTF-16 units, so a Windows layer can hold it.
fn gnu_long_name() -> String {
    let c = "gnu-long-name-".repeat(9);
    format!("Files/share/{c}/{c}.txt")
}

fn linux_items() -> Vec<Item> {
    use Style::{Gnu, Ustar, V7};
    let tool = [b"MZ".as_slice(), &random_bytes(31, 2000)].concat();
    let ustar_long = ustar_split_name();
    let gnu_long = gnu_long_name();
    let gnu_long_target = gnu_long
        .strip_prefix("Files/share/")
        .unwrap_or(&gnu_long)
        .to_owned();
    let ustar_long_dir = ustar_long
        .rsplit_once('/')
        .map(|(dir, _)| format!("{dir}/"))
        .unwrap_or_default();
    [
        Plain::dir(Ustar, "Files/"),
        Plain::dir(Gnu, "Files/bin/"),
        Plain::file(Ustar, "Files/bin/tool.exe", 0o755, tool),
        Plain::link(
            Ustar,
            "Files/bin/tool-copy.exe",
            EntryType::Link,
            "Files/bin/tool.exe",
        ),
        Plain::file(Gnu, "Files/readme.md", 0o644, b"# readme\n".to_vec()),
        Plain::link(Gnu, "Files/latest", EntryType::Symlink, "bin/tool.exe"),
        Plain::file(
            V7,
            "Files/legacy.txt",
            0o644,
            b"a pre-POSIX header with typeflag NUL\n".to_vec(),
        ),
        Plain::dir(Ustar, "Files/share/"),
        Plain::dir(Ustar, &ustar_long_dir),
        Plain::file(
            Ustar,
            &ustar_long,
            0o644,
            b"name split into ustar prefix and name\n".to_vec(),
        ),
        Plain::file(
            Gnu,
            &gnu_long,
            0o644,
            b"name in a GNU long-name entry\n".to_vec(),
        ),
        Plain::link(
            Gnu,
            "Files/share/long-target-link",
            EntryType::Symlink,
            &gnu_long_target,
        ),
    ]
    .into_iter()
    .map(Item::Plain)
    .collect()
}

fn pax_global_items() -> Vec<Item> {
    let rawsd = |sd: &str| vec![("MSWINDOWS.rawsd".to_owned(), sd.as_bytes().to_vec())];
    vec![
        Item::Global("pax_global_header", rawsd(SD_BUILTIN_USERS)),
        Ent::dir("Files").into(),
        Ent::file(
            "Files/inherits.txt",
            ARCHIVE,
            text("global rawsd applies\n"),
        )
        .into(),
        Ent::file("Files/own-sd.txt", ARCHIVE, text("local rawsd wins\n"))
            .sd(SD_BUILDKIT_FILE)
            .into(),
        Ent::file(
            "Files/empty-sd.txt",
            ARCHIVE,
            text("empty local rawsd: no descriptor\n"),
        )
        .sd("")
        .into(),
        Item::Global("././@PaxHeader", rawsd(SD_BUILTIN_ADMINS)),
        Ent::dir("Files/admin").into(),
        Ent::file(
            "Files/admin/admin.txt",
            ARCHIVE,
            text("second global rawsd\n"),
        )
        .into(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Malformed and hostile cases
// ---------------------------------------------------------------------------------------------

fn build(items: Vec<Item>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write_items(&items, &mut out)?;
    Ok(out)
}

/// A small well-formed archive, `Files` plus `extra`.
fn with_files(extra: Vec<Ent>) -> io::Result<Vec<u8>> {
    let mut items = vec![Item::Win(Ent::dir("Files"))];
    items.extend(extra.into_iter().map(Item::Win));
    build(items)
}

/// Name and size of the file the `truncated` case cuts.
const TRUNCATED_FILE: &str = "Files/truncated.bin";
const TRUNCATED_SIZE: u64 = 8192;

/// The well-formed archive the `truncated` case is cut from.
fn truncated_origin() -> io::Result<Vec<u8>> {
    with_files(vec![
        Ent::file("Files/before.txt", ARCHIVE, text("complete\n")),
        Ent::file(
            TRUNCATED_FILE,
            ARCHIVE,
            Body::Random {
                seed: 500,
                len: TRUNCATED_SIZE,
            },
        ),
        Ent::file("Files/after.txt", ARCHIVE, text("never reached\n")),
    ])
}

/// Where the main header and the body of the entry `name` start.
fn locate(archive: &[u8], name: &str) -> io::Result<(usize, usize)> {
    let mut ar = tar::Archive::new(archive);
    for entry in ar.entries()? {
        let entry = entry?;
        if entry.path_bytes().as_ref() == name.as_bytes() {
            let header = usize::try_from(entry.raw_header_position()).map_err(io::Error::other)?;
            let body = usize::try_from(entry.raw_file_position()).map_err(io::Error::other)?;
            return Ok((header, body));
        }
    }
    Err(io::Error::other(format!("{name} not in archive")))
}

fn build_malformed() -> io::Result<Vec<Malformed>> {
    let mut out = Vec::new();

    let mut truncated = truncated_origin()?;
    let (_, body) = locate(&truncated, TRUNCATED_FILE)?;
    // Cut mid-body, and not at a block boundary.
    truncated.truncate(body + 3000);
    out.push(Malformed {
        name: "truncated",
        bytes: truncated,
        bad_entry: TRUNCATED_FILE,
        what: "the archive ends 3000 bytes into the 8192-byte body of Files/truncated.bin",
    });

    out.push(Malformed {
        name: "bad-base64-rawsd",
        bytes: with_files(vec![
            Ent::file("Files/bad-sd.txt", ARCHIVE, text("x\n")).sd("AQAAgB!AAAAkAAAA"),
        ])?,
        bad_entry: "Files/bad-sd.txt",
        what: "MSWINDOWS.rawsd contains `!`, which is not in the base64 alphabet",
    });

    out.push(Malformed {
        name: "bad-base64-xattr",
        bytes: with_files(vec![
            Ent::file("Files/bad-ea.txt", ARCHIVE, text("x\n"))
                .xattr("good", b"fine")
                .record("MSWINDOWS.xattr.bad", "not base64 at all"),
        ])?,
        bad_entry: "Files/bad-ea.txt",
        what: "MSWINDOWS.xattr.bad contains spaces, which Go's base64 decoder rejects",
    });

    out.push(Malformed {
        name: "unpadded-base64-xattr",
        bytes: with_files(vec![
            Ent::file("Files/unpadded-ea.txt", ARCHIVE, text("x\n"))
                .record("MSWINDOWS.xattr.short", "QQ"),
        ])?,
        bad_entry: "Files/unpadded-ea.txt",
        what: "MSWINDOWS.xattr.short is `QQ` without `==` padding, which Go's StdEncoding \
            rejects (oci-tar-mapping.md §4.9)",
    });

    out.push(Malformed {
        name: "fileattr-not-numeric",
        bytes: with_files(vec![
            Ent::new("Files/attr.txt", EntryType::Regular, 0o100000)
                .record("MSWINDOWS.fileattr", "12a")
                .times(&T_FILE),
        ])?,
        bad_entry: "Files/attr.txt",
        what: "MSWINDOWS.fileattr is `12a`, not a decimal number",
    });

    out.push(Malformed {
        name: "fileattr-out-of-range",
        bytes: with_files(vec![
            Ent::new("Files/attr.txt", EntryType::Regular, 0o100000)
                .record("MSWINDOWS.fileattr", "4294967296")
                .times(&T_FILE),
        ])?,
        bad_entry: "Files/attr.txt",
        what: "MSWINDOWS.fileattr is 4294967296, one more than u32::MAX",
    });

    // The stream's file is built only to copy its mode and times; it is never written.
    let missing = Ent::file("Files/missing.txt", ARCHIVE, text("never written\n"));
    out.push(Malformed {
        name: "stream-without-file",
        bytes: with_files(vec![
            Ent::file("Files/present.txt", ARCHIVE, text("present\n")),
            Ent::stream(&missing, "zone", text("orphan stream\n")),
        ])?,
        bad_entry: "Files/missing.txt:zone",
        what: "an alternate data stream entry whose file Files/missing.txt is not the entry \
            before it (nor anywhere in the archive); it reaches the layer as a name with `:`",
    });

    out.push(Malformed {
        name: "hard-link-unknown-target",
        bytes: with_files(vec![
            Ent::file("Files/exists.txt", ARCHIVE, text("x\n")),
            Ent::hard_link("Files/link.txt", "Files/nowhere.txt", ARCHIVE),
        ])?,
        bad_entry: "Files/link.txt",
        what: "a hard link to Files/nowhere.txt, which the archive never adds",
    });

    let mut bad_time = Ent::new("Files/bad-time.txt", EntryType::Regular, 0o100000)
        .attrs(ARCHIVE)
        .record("LIBARCHIVE.creationtime", "abc");
    bad_time.mtime = T_FILE.write;
    bad_time.body = text("x\n");
    out.push(Malformed {
        name: "bad-creationtime",
        bytes: with_files(vec![bad_time])?,
        bad_entry: "Files/bad-time.txt",
        what: "LIBARCHIVE.creationtime is `abc`, not a PAX time",
    });

    let mut bad_sum = with_files(vec![
        Ent::file("Files/a.txt", ARCHIVE, text("a\n")),
        Ent::file("Files/b.txt", ARCHIVE, text("b\n")),
    ])?;
    let (header, _) = locate(&bad_sum, "Files/b.txt")?;
    corrupt_checksum(&mut bad_sum, header)?;
    out.push(Malformed {
        name: "bad-checksum",
        bytes: bad_sum,
        bad_entry: "Files/b.txt",
        what: "the header of Files/b.txt carries a checksum one more than the sum of its bytes \
            (the name field is intact)",
    });

    out.push(Malformed {
        name: "duplicate-name",
        bytes: with_files(vec![
            Ent::file("Files/dup.txt", ARCHIVE, text("first\n")),
            Ent::file("Files/other.txt", ARCHIVE, text("other\n")),
            Ent::file("Files/dup.txt", ARCHIVE, text("second\n")),
        ])?,
        bad_entry: "Files/dup.txt",
        what: "Files/dup.txt is added twice",
    });

    Ok(out)
}

/// Replaces the checksum of the header at `at` with (correct sum + 1), keeping the field's
/// format (6 octal digits, NUL, space) so only the value is wrong.
fn corrupt_checksum(archive: &mut [u8], at: usize) -> io::Result<()> {
    let block = archive
        .get_mut(at..at + 512)
        .ok_or_else(|| io::Error::other("header outside the archive"))?;
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                0x20
            } else {
                u32::from(b)
            }
        })
        .sum();
    let field = format!("{:06o}\0 ", sum + 1);
    block[148..156].copy_from_slice(field.as_bytes());
    Ok(())
}

fn build_hostile() -> io::Result<Vec<Malformed>> {
    let benign = || Ent::file("Files/benign.txt", ARCHIVE, text("inside the layer\n"));
    let payload = |name: &str| Ent::file(name, ARCHIVE, text("must not be written\n"));
    let evil = || Ent::symlink("Files/evil", "../../..", DIRECTORY | REPARSE_POINT);

    Ok(vec![
        Malformed {
            name: "dotdot-escape",
            bytes: with_files(vec![benign(), payload("Files/../../escape.txt")])?,
            bad_entry: "Files/../../escape.txt",
            what: "a name whose `..` components climb two levels above the layer root",
        },
        Malformed {
            name: "backslash-dotdot-escape",
            bytes: with_files(vec![benign(), payload(r"Files/..\..\escape.txt")])?,
            bad_entry: r"Files/..\..\escape.txt",
            what: "a name with `\\`-separated `..` components: harmless as a `/` path, but it \
            escapes once the import maps `/` to `\\` (Files\\..\\..\\escape.txt)",
        },
        Malformed {
            name: "absolute-name",
            bytes: with_files(vec![benign(), payload("/etc/passwd")])?,
            bad_entry: "/etc/passwd",
            what: "an absolute name",
        },
        Malformed {
            name: "drive-name",
            bytes: with_files(vec![benign(), payload("Files/C:/x")])?,
            bad_entry: "Files/C:/x",
            what: "a name with a drive-qualified component (`:` is never valid in a layer path)",
        },
        Malformed {
            name: "through-symlink",
            bytes: with_files(vec![evil(), payload("Files/evil/x.txt")])?,
            bad_entry: "Files/evil/x.txt",
            what: "a file below the directory symlink Files/evil -> ../../.. (an entry below a \
            reparse point)",
        },
        Malformed {
            name: "through-mount-point",
            bytes: with_files(vec![
                Ent::mount_point("Files/mp", r"C:\", DIRECTORY | REPARSE_POINT),
                payload("Files/mp/x.txt"),
            ])?,
            bad_entry: "Files/mp/x.txt",
            what: "a file below the mount point Files/mp -> C:\\",
        },
        Malformed {
            name: "through-symlink-other-case",
            bytes: with_files(vec![
                Ent::symlink("Files/Link", "../../..", DIRECTORY | REPARSE_POINT),
                payload("Files/LINK/x.txt"),
            ])?,
            bad_entry: "Files/LINK/x.txt",
            what: "a file below Files/LINK, which names the symlink Files/Link on a \
            case-insensitive layer",
        },
        Malformed {
            name: "hard-link-escape",
            bytes: with_files(vec![
                benign(),
                Ent::hard_link("Files/hl.txt", "../../outside", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target ../../outside lies outside the layer",
        },
        Malformed {
            name: "hard-link-absolute",
            bytes: with_files(vec![
                benign(),
                Ent::hard_link("Files/hl.txt", "/etc/shadow", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target is the absolute path /etc/shadow",
        },
        Malformed {
            name: "hard-link-through-symlink",
            bytes: with_files(vec![
                evil(),
                Ent::hard_link("Files/hl.txt", "Files/evil/etc/passwd", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target resolves through the symlink Files/evil -> ../../..",
        },
        Malformed {
            name: "whiteout-dotdot",
            bytes: with_files(vec![benign(), Ent::whiteout("Files/../.wh.x")])?,
            bad_entry: "Files/../.wh.x",
            what: "a whiteout whose name has a `..` component (it cleans to the root's `x`, but a \
            name with `..` components is never a name the exporter writes)",
        },
        Malformed {
            name: "whiteout-escape",
            bytes: with_files(vec![benign(), Ent::whiteout("Files/../../.wh.x")])?,
            bad_entry: "Files/../../.wh.x",
            what: "a whiteout that removes ../x, outside the layer",
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// One entry as the `tar` crate reads it back (PAX `x` and GNU `L`/`K` entries merged).
    struct Seen {
        name: String,
        flag: u8,
        mode: u32,
        size: u64,
        mtime_field: u64,
        link: Option<String>,
        records: Vec<(String, Vec<u8>)>,
        data: Vec<u8>,
    }

    impl Seen {
        fn rec(&self, key: &str) -> Option<&[u8]> {
            self.records
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_slice())
        }

        fn rec_str(&self, key: &str) -> &str {
            let value = self
                .rec(key)
                .unwrap_or_else(|| panic!("{}: no {key} record", self.name));
            std::str::from_utf8(value).expect("record is UTF-8")
        }

        fn keys(&self) -> Vec<&str> {
            self.records.iter().map(|(k, _)| k.as_str()).collect()
        }
    }

    fn read(bytes: &[u8]) -> Vec<Seen> {
        try_read(bytes).expect("the tar crate reads the archive")
    }

    fn try_read(bytes: &[u8]) -> io::Result<Vec<Seen>> {
        let mut out = Vec::new();
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = String::from_utf8(entry.path_bytes().into_owned()).expect("UTF-8 name");
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).expect("UTF-8 link"));
            let header = entry.header().clone();
            let mut records = Vec::new();
            if let Some(exts) = entry.pax_extensions()? {
                for ext in exts {
                    let ext = ext?;
                    records.push((
                        ext.key().map_err(io::Error::other)?.to_owned(),
                        ext.value_bytes().to_vec(),
                    ));
                }
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            out.push(Seen {
                name,
                flag: header.as_bytes()[156],
                mode: header.mode()?,
                size: header.size()?,
                mtime_field: header.mtime()?,
                link,
                records,
                data,
            });
        }
        Ok(out)
    }

    /// Typeflag and raw name field of every header, extension headers included.
    fn raw_headers(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut archive = tar::Archive::new(bytes);
        let entries = archive.entries().expect("entries").raw(true);
        entries
            .map(|e| {
                let e = e.expect("raw entry");
                let h = e.header();
                (h.as_bytes()[156], h.path_bytes().into_owned())
            })
            .collect()
    }

    fn small() -> Options {
        Options {
            big_file_size: 5000,
        }
    }

    fn case_bytes(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_case_with(name, &small(), &mut out).expect("case writes");
        out
    }

    fn find<'a>(seen: &'a [Seen], name: &str) -> &'a Seen {
        seen.iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no entry {name}"))
    }

    fn index(seen: &[Seen], name: &str) -> usize {
        seen.iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no entry {name}"))
    }

    fn b64(value: &str) -> Vec<u8> {
        BASE64.decode(value).expect("valid base64")
    }

    fn is_whiteout(name: &str) -> bool {
        name.trim_end_matches('/')
            .rsplit('/')
            .next()
            .is_some_and(|base| base.starts_with(".wh."))
    }

    #[test]
    fn case_list_is_consistent() {
        let names: HashSet<&str> = cases().iter().map(|c| c.name).collect();
        assert_eq!(names.len(), cases().len());
        assert_eq!(
            names,
            HashSet::from(["base", "delta", "linux", "pax-global"])
        );
        for case in cases() {
            assert!(case.description.len() > 40, "{} is described", case.name);
        }
        let delta = cases().iter().find(|c| c.name == "delta").expect("delta");
        assert_eq!(delta.kind, LayerKind::Delta);
        assert_eq!(Options::default().big_file_size, 3 * 1024 * 1024);
    }

    #[test]
    fn every_case_is_a_valid_archive_and_whiteouts_match_the_kind() {
        for case in cases() {
            let bytes = case_bytes(case.name);
            assert_eq!(bytes.len() % 512, 0, "{}", case.name);
            assert!(bytes.len() > 2048, "{}", case.name);
            assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
            let seen = read(&bytes);
            for s in &seen {
                // Every entry announces exactly the data it carries.
                let carries_data = matches!(s.flag, b'0' | 0 | b'g');
                let expected = if carries_data { s.size } else { 0 };
                if s.flag != b'g' {
                    assert_eq!(s.data.len() as u64, expected, "{}", s.name);
                }
            }
            let mut names = HashSet::new();
            for s in seen.iter().filter(|s| s.flag != b'g') {
                assert!(names.insert(s.name.as_str()), "{} twice", s.name);
            }
            let whiteouts = seen.iter().filter(|s| is_whiteout(&s.name)).count();
            match case.kind {
                LayerKind::Base => assert_eq!(whiteouts, 0, "{}", case.name),
                LayerKind::Delta => assert!(whiteouts >= 8, "{}", case.name),
            }
            assert!(seen.iter().any(|s| s.name.starts_with("Files")));
        }
    }

    #[test]
    fn output_is_deterministic() {
        for case in cases() {
            assert!(
                case_bytes(case.name) == case_bytes(case.name),
                "{}",
                case.name
            );
        }
        assert_eq!(malformed_cases(), malformed_cases());
        assert_eq!(hostile_cases(), hostile_cases());
    }

    #[test]
    fn unknown_case_is_an_error() {
        let mut out = Vec::new();
        let err = write_case("no-such-case", &mut out).expect_err("unknown name");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("no-such-case"));
        assert!(out.is_empty());
    }

    #[test]
    fn base_security_descriptors() {
        let seen = read(&case_bytes("base"));
        let files = &seen[0];
        assert_eq!(files.name, "Files");
        assert_eq!(files.flag, b'5');
        assert_eq!(files.rec_str("MSWINDOWS.fileattr"), "16");
        assert_eq!(b64(files.rec_str("MSWINDOWS.rawsd")), b64(SD_BUILDKIT_DIR));

        // The 52-byte O:BUG:BU descriptor of ea-reparse-sd.md §3.9, byte for byte.
        let users: Vec<u8> = [
            "0100008014000000240000000000000000000000",
            "010200000000000520000000210200000102000000000005200000002102000",
            "0",
        ]
        .concat()
        .as_bytes()
        .chunks(2)
        .map(|h| u8::from_str_radix(std::str::from_utf8(h).expect("hex"), 16).expect("hex"))
        .collect();
        assert_eq!(b64(SD_BUILTIN_USERS), users);
        assert_eq!(b64(SD_BUILDKIT_FILE).len(), 124);
        assert_eq!(
            b64(find(&seen, "Files/ea.txt").rec_str("MSWINDOWS.rawsd")),
            users
        );

        let distinct: HashSet<&[u8]> = seen
            .iter()
            .filter_map(|s| s.rec("MSWINDOWS.rawsd"))
            .collect();
        assert_eq!(distinct.len(), 4);

        let legacy = find(&seen, "Files/legacy-sddl.txt");
        assert_eq!(legacy.rec_str("MSWINDOWS.sd"), SDDL_LEGACY);
        assert!(legacy.rec("MSWINDOWS.rawsd").is_none());
        assert!(
            find(&seen, "Files/no-sd.txt")
                .rec("MSWINDOWS.rawsd")
                .is_none()
        );
    }

    #[test]
    fn base_eas_and_streams() {
        let seen = read(&case_bytes("base"));
        let ea = find(&seen, "Files/ea.txt");
        let ea_keys: Vec<&str> = ea
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("MSWINDOWS.xattr."))
            .collect();
        assert_eq!(
            ea_keys,
            [
                "MSWINDOWS.xattr.zeta",
                "MSWINDOWS.xattr.ALPHA",
                "MSWINDOWS.xattr.Mid.Name",
                "MSWINDOWS.xattr.user.comment"
            ]
        );
        let mut sorted = ea_keys.clone();
        sorted.sort_unstable();
        assert_ne!(ea_keys, sorted, "EA records are deliberately unsorted");
        assert_eq!(
            b64(ea.rec_str("MSWINDOWS.xattr.zeta")),
            [0xff, 0x00, 0x7f, 0x80]
        );
        assert_eq!(b64(ea.rec_str("MSWINDOWS.xattr.Mid.Name")).len(), 300);

        // Streams directly follow their file (or directory), with no Windows records.
        let main = index(&seen, "Files/ads.txt");
        assert_eq!(seen[main + 1].name, "Files/ads.txt:Zone.Identifier");
        assert_eq!(seen[main + 1].data, b"[ZoneTransfer]\r\nZoneId=3\r\n");
        assert_eq!(seen[main + 2].name, "Files/ads.txt:thumbnail");
        assert_eq!(seen[main + 2].data.len(), 700);
        for stream in &seen[main + 1..=main + 2] {
            assert_eq!(stream.flag, b'0');
            assert!(stream.keys().iter().all(|k| !k.starts_with("MSWINDOWS.")));
            assert!(stream.rec("LIBARCHIVE.creationtime").is_none());
            assert_eq!(stream.rec("atime"), seen[main].rec("atime"));
        }
        let dir = index(&seen, "Files/ads-dir");
        assert_eq!(seen[dir].flag, b'5');
        assert!(seen[dir].rec("MSWINDOWS.xattr.DIRNOTE").is_some());
        assert_eq!(seen[dir + 1].name, "Files/ads-dir:dirstream");
        assert_eq!(seen[dir + 1].flag, b'0');
    }

    #[test]
    fn base_links_and_reparse_points() {
        let seen = read(&case_bytes("base"));
        let rel = find(&seen, "Files/Users/Public/rel-link.txt");
        assert_eq!(
            (rel.flag, rel.link.as_deref()),
            (b'2', Some(r"..\..\normal.txt"))
        );
        assert_eq!(rel.rec_str("MSWINDOWS.fileattr"), "1056");
        let abs = find(&seen, "Files/abs-link.txt");
        assert!(abs.link.as_deref().is_some_and(|l| l.starts_with(r"C:\")));
        let dir_link = find(&seen, "Files/dir-link");
        assert_eq!(dir_link.flag, b'2');
        assert_eq!(dir_link.mode, 0o160000);
        assert_eq!(dir_link.rec_str("MSWINDOWS.fileattr"), "1040");
        assert!(dir_link.rec("MSWINDOWS.mountpoint").is_none());
        let mp = find(&seen, "Files/Documents and Settings");
        assert_eq!(mp.flag, b'2');
        assert_eq!(mp.link.as_deref(), Some(r"C:\Users"));
        assert_eq!(mp.rec_str("MSWINDOWS.mountpoint"), "1");
        let attrs: u32 = mp.rec_str("MSWINDOWS.fileattr").parse().expect("u32");
        assert_eq!(
            attrs & (DIRECTORY | REPARSE_POINT),
            DIRECTORY | REPARSE_POINT
        );
        let unicode = find(&seen, "Files/unicode-link.txt");
        assert_eq!(
            unicode.rec_str("linkpath"),
            "caf\u{e9}\\r\u{e9}sum\u{e9}.txt"
        );

        // A group of three names in three directories; the first one is the file.
        let target = "Files/Windows/System32/notepad.exe";
        let first = index(&seen, target);
        assert_eq!(seen[first].flag, b'0');
        let links: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.flag == b'1' && s.link.as_deref() == Some(target))
            .collect();
        assert_eq!(links.len(), 2);
        let dirs: HashSet<&str> = links
            .iter()
            .map(|s| s.name.rsplit_once('/').expect("dir").0)
            .chain([target.rsplit_once('/').expect("dir").0])
            .collect();
        assert_eq!(dirs.len(), 3);
        for link in &links {
            assert!(index(&seen, &link.name) > first);
            assert_eq!(link.size, 0);
            assert!(link.rec("MSWINDOWS.fileattr").is_some());
        }
        let long_link = find(&seen, "Files/long-link.dat");
        assert_eq!(long_link.link.as_deref(), Some(long_file_name().as_str()));
        assert_eq!(long_link.rec_str("linkpath"), long_file_name());
    }

    #[test]
    fn base_names_sizes_attributes_and_times() {
        let seen = read(&case_bytes("base"));
        for name in [
            "Files/\u{65e5}\u{672c}\u{8a9e}/\u{6587}\u{66f8}.txt",
            "Files/caf\u{e9}/r\u{e9}sum\u{e9}.txt",
            "Files/cafe\u{301}-nfd.txt",
            "Files/emoji-\u{1f600}\u{1f680}.txt",
        ] {
            assert_eq!(find(&seen, name).rec_str("path"), name);
        }
        let long = long_file_name();
        let long_component = long.rsplit('/').next().expect("component");
        assert!(long_component.len() > 100);
        assert_eq!(find(&seen, &long).rec_str("path"), long);
        let (_, deep_file) = deep_names();
        assert!(deep_file.len() > 256);
        assert_eq!(find(&seen, &deep_file).data, b"deep inside\n");

        let empty = find(&seen, "Files/empty.txt");
        assert_eq!((empty.flag, empty.size), (b'0', 0));
        let big = find(&seen, "Files/Program Files/big.bin");
        assert_eq!(big.size, 5000);
        assert_eq!(big.data, random_bytes(42, 5000));
        assert_eq!(
            find(&seen, "Files/system-hidden.sys").rec_str("MSWINDOWS.fileattr"),
            "39"
        );
        assert_eq!(
            find(&seen, "Files/Program Files").rec_str("MSWINDOWS.fileattr"),
            "17"
        );

        let old = find(&seen, "Files/old.txt");
        assert_eq!(old.rec_str("mtime"), "-86400.5");
        assert_eq!(old.mtime_field, 0);
        assert_eq!(old.rec_str("atime"), "-0.25");
        assert_eq!(old.rec_str("LIBARCHIVE.creationtime"), "-315619200");
        let future = find(&seen, "Files/future.txt");
        assert_eq!(future.rec_str("mtime"), "9999999999");
        assert_eq!(future.mtime_field, 0);
        let tick = find(&seen, "Files/tick.txt");
        assert_eq!(
            tick.rec_str("LIBARCHIVE.creationtime"),
            "1700000000.0000001"
        );
        assert!(tick.rec("mtime").is_none());
        assert_eq!(tick.mtime_field, 1_700_000_000);
        // Sub-second write time, earlier creation time.
        let ea = find(&seen, "Files/ea.txt");
        assert_eq!(ea.rec_str("mtime"), "1609556645.1234567");
        assert_eq!(ea.rec_str("LIBARCHIVE.creationtime"), "1600000000.1234567");
        assert_eq!(ea.mtime_field, 1_609_556_645);

        for name in [
            "Hives",
            "Hives/System_Delta",
            "UtilityVM",
            "UtilityVM/Files",
            "UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG",
            "Files/Windows/System32/config/SYSTEM",
        ] {
            find(&seen, name);
        }
        assert!(
            find(&seen, "UtilityVM/Files/EFI/Microsoft/Boot/BCD")
                .data
                .starts_with(b"regf")
        );
    }

    #[test]
    fn base_big_file_defaults_to_three_mib() {
        let mut bytes = Vec::new();
        write_case("base", &mut bytes).expect("writes");
        let seen = read(&bytes);
        let big = find(&seen, "Files/Program Files/big.bin");
        assert_eq!(big.data.len(), 3 * 1024 * 1024);
        assert_eq!(big.data[..4096], random_bytes(42, 4096)[..]);
    }

    #[test]
    fn delta_entries() {
        let seen = read(&case_bytes("delta"));
        assert_eq!(seen[0].name, ".wh.z");
        for name in [
            "Files/.wh.x",
            "Files/a/b/c/.wh.y",
            "Files/opaque/.wh..wh..opq",
            "Files/Windows/System32/.wh.obsolete.dll",
            "UtilityVM/Files/Windows/.wh.old.dll",
            "Files/caf\u{e9}/.wh.vieux.txt",
        ] {
            let w = find(&seen, name);
            assert_eq!((w.flag, w.mode, w.size, w.mtime_field), (b'0', 0, 0, 0));
            assert!(w.keys().iter().all(|k| *k == "path"), "{name}");
        }
        assert_eq!(
            find(&seen, "Files/caf\u{e9}/.wh.vieux.txt").rec_str("path"),
            "Files/caf\u{e9}/.wh.vieux.txt"
        );
        let long = long_whiteout_name();
        assert!(long.len() > 100);
        assert_eq!(find(&seen, &long).rec_str("path"), long);
        for never_added in [
            "Files/a",
            "Files/a/b",
            "Files/a/b/c",
            "UtilityVM/Files/Windows",
        ] {
            assert!(seen.iter().all(|s| s.name != never_added));
        }

        let removed = index(&seen, "Files/.wh.readded.txt");
        let added = index(&seen, "Files/readded.txt");
        assert!(removed < added);
        assert_eq!(seen[added + 1].name, "Files/readded.txt:Zone.Identifier");

        for hive_name in ["DefaultUser_Delta", "Sam_Delta", "Security_Delta"] {
            find(&seen, &format!("Hives/{hive_name}"));
        }
        assert!(find(&seen, "Hives/System_Delta").data.starts_with(b"regf"));
        assert!(find(&seen, "Hives/Software_Delta").size > 0);
        assert_eq!(find(&seen, "Hives").flag, b'5');
        let links = seen
            .iter()
            .filter(|s| s.flag == b'1')
            .filter(|s| s.link.as_deref() == Some("Files/Windows/System32/shared.dll"))
            .count();
        assert_eq!(links, 2);
        let hosts = index(&seen, "Files/Windows/System32/drivers/etc/hosts");
        assert_eq!(
            seen[hosts + 1].name,
            "Files/Windows/System32/drivers/etc/hosts:backup"
        );
        assert_eq!(
            find(&seen, "UtilityVM/Files/Windows/System32/drivers/vmbus.sys").size,
            4002
        );
    }

    #[test]
    fn linux_entries_have_no_pax_at_all() {
        let bytes = case_bytes("linux");
        let raw = raw_headers(&bytes);
        let flags: Vec<u8> = raw.iter().map(|(f, _)| *f).collect();
        assert!(!flags.contains(&b'x') && !flags.contains(&b'g'));
        assert!(flags.contains(&b'L'), "a GNU long name");
        assert!(flags.contains(&b'K'), "a GNU long link target");
        assert!(flags.contains(&0), "a pre-POSIX typeflag NUL");

        let seen = read(&bytes);
        for s in &seen {
            assert!(s.records.is_empty(), "{} has PAX records", s.name);
            assert_eq!(s.mtime_field, LINUX_MTIME);
        }
        for dir in ["Files/", "Files/bin/", "Files/share/"] {
            assert_eq!(find(&seen, dir).flag, b'5');
        }
        let link = find(&seen, "Files/bin/tool-copy.exe");
        assert_eq!(
            (link.flag, link.link.as_deref()),
            (b'1', Some("Files/bin/tool.exe"))
        );
        let sym = find(&seen, "Files/latest");
        assert_eq!(
            (sym.flag, sym.link.as_deref()),
            (b'2', Some("bin/tool.exe"))
        );
        assert_eq!(find(&seen, "Files/legacy.txt").flag, 0);

        let split = ustar_split_name();
        assert!(split.len() > 100 && split.len() <= 255);
        find(&seen, &split);
        // The ustar prefix field holds the directory part.
        let (_, field) = raw
            .iter()
            .find(|(_, name)| name == split.as_bytes())
            .expect("split name read from the header itself");
        assert_eq!(field, split.as_bytes());
        let gnu = gnu_long_name();
        assert!(gnu.len() > 255);
        assert_eq!(find(&seen, &gnu).data, b"name in a GNU long-name entry\n");
        let long_target = find(&seen, "Files/share/long-target-link");
        assert!(long_target.link.as_deref().is_some_and(|l| l.len() > 100));
    }

    #[test]
    fn pax_global_headers_carry_rawsd() {
        let bytes = case_bytes("pax-global");
        let seen = read(&bytes);
        let globals: Vec<&Seen> = seen.iter().filter(|s| s.flag == b'g').collect();
        assert_eq!(globals.len(), 2);
        assert_eq!(seen[0].name, "pax_global_header");
        assert_eq!(seen[0].rec_str("MSWINDOWS.rawsd"), SD_BUILTIN_USERS);
        assert_eq!(globals[1].name, "././@PaxHeader");
        assert_eq!(globals[1].rec_str("MSWINDOWS.rawsd"), SD_BUILTIN_ADMINS);

        assert!(
            find(&seen, "Files/inherits.txt")
                .rec("MSWINDOWS.rawsd")
                .is_none()
        );
        assert_eq!(
            find(&seen, "Files/own-sd.txt").rec_str("MSWINDOWS.rawsd"),
            SD_BUILDKIT_FILE
        );
        assert_eq!(
            find(&seen, "Files/empty-sd.txt").rec("MSWINDOWS.rawsd"),
            Some(&b""[..])
        );
        let second = index(&seen, "././@PaxHeader");
        assert!(index(&seen, "Files/empty-sd.txt") < second);
        assert!(index(&seen, "Files/admin/admin.txt") > second);
    }

    #[test]
    fn pax_time_text() {
        let cases = [
            ((1_609_556_645, 123_456_700), "1609556645.1234567"),
            ((-304_707_111, 0), "-304707111"),
            ((0, 0), "0"),
            ((-2, 500_000_000), "-1.5"),
            ((-1, 750_000_000), "-0.25"),
            ((5, 1), "5.000000001"),
        ];
        for ((secs, nanos), text) in cases {
            assert_eq!(PaxTime::new(secs, nanos).format(), text);
        }
        assert!(!PaxTime::new(8_589_934_591, 0).needs_record());
        assert!(PaxTime::new(8_589_934_592, 0).needs_record());
        assert!(PaxTime::new(-1, 0).needs_record());
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let block = pax_block(&[("MSWINDOWS.fileattr".into(), b"16".to_vec())]);
        assert_eq!(block, b"25 MSWINDOWS.fileattr=16\n");
        // n = 98 -> 100 would have three digits, so the length is 101 (spec §8.4).
        let value = vec![b'v'; 98 - 3 - 1];
        let block = pax_block(&[("k".into(), value)]);
        assert_eq!(block.len(), 101);
        assert!(block.starts_with(b"101 k="));
    }

    #[test]
    fn pseudo_random_is_independent_of_read_sizes() {
        let whole = random_bytes(9, 1000);
        let mut reader = PseudoRandom::new(9, 1000);
        let mut pieces = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = reader.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&buf[..n]);
        }
        assert_eq!(pieces, whole);
        assert_ne!(random_bytes(9, 64), random_bytes(10, 64));
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn malformed_cases_contain_their_defects() {
        let all = malformed_cases();
        let names: HashSet<&str> = all.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.len(), 11);
        for m in &all {
            assert!(m.bytes.len() >= 1024, "{m:?}");
            assert!(!m.what.is_empty());
            assert!(contains(&m.bytes, m.bad_entry.as_bytes()), "{m:?}");
            match m.name {
                "truncated" => {
                    let origin = truncated_origin().expect("origin");
                    assert!(m.bytes.len() < origin.len());
                    assert_eq!(m.bytes[..], origin[..m.bytes.len()]);
                    let (_, body) = locate(&origin, TRUNCATED_FILE).expect("located");
                    assert!(m.bytes.len() > body);
                    assert!(m.bytes.len() < body + 8192);
                    // The tar crate sees the entry but cannot read all of its body.
                    let partial = try_read(&m.bytes);
                    let short = match &partial {
                        Err(_) => true,
                        Ok(seen) => seen
                            .iter()
                            .any(|s| s.name == TRUNCATED_FILE && (s.data.len() as u64) < s.size),
                    };
                    assert!(short);
                }
                "bad-checksum" => {
                    let err = try_read(&m.bytes).err().expect("checksum error");
                    assert!(err.to_string().contains("checksum"), "{err}");
                    // Everything before the bad header reads fine.
                    let (header, _) = locate(&m.bytes, "Files/a.txt").expect("a.txt");
                    assert!(header < m.bytes.len());
                }
                _ => {
                    let seen = read(&m.bytes);
                    let bad = find(&seen, m.bad_entry);
                    check_malformed(m.name, bad, &seen);
                }
            }
        }
    }

    fn check_malformed(name: &str, bad: &Seen, seen: &[Seen]) {
        match name {
            "bad-base64-rawsd" => {
                assert!(BASE64.decode(bad.rec_str("MSWINDOWS.rawsd")).is_err());
            }
            "bad-base64-xattr" => {
                assert!(BASE64.decode(bad.rec_str("MSWINDOWS.xattr.bad")).is_err());
                assert!(BASE64.decode(bad.rec_str("MSWINDOWS.xattr.good")).is_ok());
            }
            "unpadded-base64-xattr" => {
                assert_eq!(bad.rec_str("MSWINDOWS.xattr.short"), "QQ");
                assert!(BASE64.decode("QQ").is_err());
            }
            "fileattr-not-numeric" => {
                assert!(bad.rec_str("MSWINDOWS.fileattr").parse::<u32>().is_err());
            }
            "fileattr-out-of-range" => {
                let text = bad.rec_str("MSWINDOWS.fileattr");
                assert!(text.parse::<u32>().is_err());
                assert_eq!(text.parse::<u64>().ok(), Some(1 << 32));
            }
            "stream-without-file" => {
                assert!(seen.iter().all(|s| s.name != "Files/missing.txt"));
                let at = index(seen, &bad.name);
                assert_eq!(seen[at - 1].name, "Files/present.txt");
                assert_eq!(bad.flag, b'0');
            }
            "hard-link-unknown-target" => {
                assert_eq!(bad.flag, b'1');
                let target = bad.link.as_deref().expect("target");
                assert!(seen.iter().all(|s| s.name != target));
            }
            "bad-creationtime" => {
                assert_eq!(bad.rec_str("LIBARCHIVE.creationtime"), "abc");
            }
            "duplicate-name" => {
                assert_eq!(seen.iter().filter(|s| s.name == bad.name).count(), 2);
            }
            other => panic!("malformed case {other} has no check"),
        }
    }

    #[test]
    fn hostile_cases_contain_their_defects() {
        let all = hostile_cases();
        let names: HashSet<&str> = all.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.len(), 12);
        for m in &all {
            assert!(!m.what.is_empty());
            // Only the bad entry carries hostile bytes: extension headers have tame names.
            for (flag, name) in raw_headers(&m.bytes) {
                if flag == b'x' {
                    assert!(name.starts_with(b"PaxHeaders/") && !contains(&name, b".."));
                }
            }
            let seen = read(&m.bytes);
            let bad = find(&seen, m.bad_entry);
            let at = index(&seen, m.bad_entry);
            let before = &seen[..at];
            match m.name {
                "dotdot-escape" | "whiteout-dotdot" | "whiteout-escape" => {
                    assert!(bad.name.split('/').any(|c| c == ".."));
                    assert_eq!(m.name != "dotdot-escape", is_whiteout(&bad.name));
                }
                "backslash-dotdot-escape" => {
                    assert!(!bad.name.split('/').any(|c| c == ".."));
                    assert!(bad.name.replace('/', r"\").split('\\').any(|c| c == ".."));
                }
                "absolute-name" => assert!(bad.name.starts_with('/')),
                "drive-name" => assert!(bad.name.contains(':')),
                "through-symlink" | "through-mount-point" | "through-symlink-other-case" => {
                    let parent = bad.name.rsplit_once('/').expect("parent").0;
                    let reparse = before
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case(parent))
                        .expect("a reparse point before the entry");
                    assert_eq!(reparse.flag, b'2');
                    assert_eq!(
                        m.name == "through-mount-point",
                        reparse.rec("MSWINDOWS.mountpoint").is_some()
                    );
                    assert_eq!(
                        m.name == "through-symlink-other-case",
                        reparse.name != parent
                    );
                }
                "hard-link-escape" | "hard-link-absolute" | "hard-link-through-symlink" => {
                    assert_eq!(bad.flag, b'1');
                    let target = bad.link.as_deref().expect("target");
                    let escapes = target.starts_with('/')
                        || target.split('/').any(|c| c == "..")
                        || before
                            .iter()
                            .any(|s| s.flag == b'2' && target.starts_with(&format!("{}/", s.name)));
                    assert!(escapes, "{target}");
                }
                other => panic!("hostile case {other} has no check"),
            }
        }
    }
}

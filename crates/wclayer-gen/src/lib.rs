//! Generated Windows-style layer tars: the samples of `wclayer sample` and the fixtures of
//! the tests.
//!
//! The archives follow the layout of docs/oci-tar-mapping.md: `Files/…` (the container's
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
//! * [`hostile_archives`] is the larger hostile suite ([`HostileArchive`]): names, whiteouts,
//!   escapes, archives cut at every structural position, lying and repeated headers, sparse
//!   files claiming GiBs and TiBs, entry counts, deep nesting and compressed bombs, each with
//!   the outcome a correct importer must have ([`Expect`]). Bombs are streamed
//!   ([`write_bomb`]), never held in memory.
//! * [`tamper_cases`] are the inputs that are no tar: layer directories, parent layers and
//!   transport folders made from [`hostile_base`] and [`hostile_delta`] and then changed on
//!   disk ([`Tamper`]: FIFOs, device nodes, symbolic links pointing out, lying records,
//!   oversized sidecars).
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
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "reads no untrusted bytes: it writes test layers from fixed, in-memory inputs"
)]

// The public API and the case catalogue are here. `samples` (the well-formed cases) and
// `defects` (the malformed and hostile ones) build entries of the `entry` model, which
// `writer` turns into tar bytes; `writer` and `entry` know nothing of the cases. The hostile
// suite: `hostile` (names, whiteouts, escapes, limits), `structure` (truncations, lying and
// repeated headers) and `sparse` also use `raw`, which assembles archives block by block
// where a defect lies below the entry model; `bombs` streams compressed archives; `tamper`
// holds the recipes of the inputs that are no tar.
mod bombs;
mod defects;
mod entry;
mod hostile;
mod raw;
mod samples;
mod sparse;
mod structure;
mod tamper;
mod writer;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use tamper::{Tamper, TamperCase, TamperTarget};

// ---------------------------------------------------------------------------------------------
// Public constants
// ---------------------------------------------------------------------------------------------

/// Default size of the large pseudo-random file in the `base` case (3 MiB): bigger than any
/// single buffer a streaming importer should hold.
pub const DEFAULT_BIG_FILE_SIZE: u64 = 3 * 1024 * 1024;

/// `MSWINDOWS.rawsd` value `O:BUG:BU` (owner and group BUILTIN\Users, no DACL), 52 bytes: the
/// descriptor go-containerregistry, ko, buildpacks and the .NET SDK put on every entry
/// (docs/ea-reparse-sd.md §3.9).
pub const SD_BUILTIN_USERS: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:BA` (owner and group BUILTIN\Administrators, no DACL), from
/// buildpacks (docs/ea-reparse-sd.md §3.9).
pub const SD_BUILTIN_ADMINS: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAgAgAAAQIAAAAAAAUgAAAAIAIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)`, 124 bytes:
/// moby/buildkit's descriptor for regular files (docs/ea-reparse-sd.md §3.9).
pub const SD_BUILDKIT_FILE: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==";

/// `MSWINDOWS.rawsd` value `O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)`:
/// moby/buildkit's descriptor for directories (docs/ea-reparse-sd.md §3.9).
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
/// rejects whiteouts (`base layer cannot have tombstones`, docs/layer-semantics.md §0.1).
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

pub(crate) static CASES: [Case; 4] = [
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
    let items = samples::case_items(name, options)?;
    writer::write_items(&items, &mut out)
}

/// Archives that an import must refuse, each naming the entry its error must mention.
///
/// | name | defect |
/// |---|---|
/// | `truncated` | cut in the middle of a file body |
/// | `bad-base64-rawsd` | `MSWINDOWS.rawsd` is not base64 |
/// | `bad-base64-xattr` | an `MSWINDOWS.xattr.*` value is not base64 |
/// | `unpadded-base64-xattr` | `QQ`: Go requires `=` padding (docs/oci-tar-mapping.md §4.9) |
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
    defects::build_malformed().expect("in-memory archive generation cannot fail")
}

/// Archives that try to write outside the layer directory they are imported into. An import
/// must refuse each one, with an error naming [`Malformed::bad_entry`], and must not have
/// created anything outside the layer (house habit 4; docs/layer-semantics.md §0.1 and §7.2).
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
    defects::build_hostile().expect("in-memory archive generation cannot fail")
}

// ---------------------------------------------------------------------------------------------
// The hostile suite
// ---------------------------------------------------------------------------------------------

/// What part of an importer a [`HostileArchive`] attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Names that leave the layer or are no layer name: `..` anywhere, absolute, drive, UNC
    /// and device names, `\` separators, NUL, `:` outside a stream name, the empty name
    /// (docs/layer-semantics.md §0.1, §7.2).
    Names,
    /// Whiteouts of `.` or `..`, whiteouts that climb out, and whiteouts (the opaque marker
    /// included) beneath a symbolic link or mount point.
    Whiteouts,
    /// Entries, hard links and alternate data streams written through symbolic links and
    /// mount points (also in another letter case and through link chains), hard links
    /// pointing out, and links whose targets escape (kept as data, never followed).
    Escapes,
    /// The block structure: archives cut at every structural position, lying PAX `size`
    /// records and size fields, malformed PAX records, repeated PAX and GNU long-name headers,
    /// duplicates (docs/oci-tar-mapping.md §6.5).
    Structure,
    /// Sparse files: invalid maps, and archives of a few KiB that claim 8 GiB or 1 TiB.
    Sparse,
    /// Limits and shapes: entry counts, deep nesting, data in an entry whose attributes say
    /// directory.
    Limits,
    /// Compressed archives that expand by a huge ratio.
    Bombs,
}

/// What a correct importer does with a [`HostileArchive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The import fails, its error naming `entry` (the tar name as the archive spells it; for
    /// a defect inside an extension header, that header's name; for a truncation between
    /// entries, the last entry read), and no layer is made.
    Refused {
        /// The name the error must mention.
        entry: &'static str,
    },
    /// The import succeeds: Go's `archive/tar` accepts the archive too (for example an
    /// archive that ends inside the padding after its last entry), or the case checks that a
    /// limit is not too tight.
    Accepted,
}

/// Limits a case must be run with where the defaults are not what it needs (`None`: the
/// default). The defaults are those of `wclayer_layer::Limits` and of the command line
/// (`--max-ratio` 1000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseLimits {
    /// Most entries (`--max-entries`).
    pub max_entries: Option<u64>,
    /// Most bytes of file data (`--max-size`).
    pub max_size: Option<u64>,
    /// Most bytes a compressed input may expand to per compressed byte (`--max-ratio`).
    pub max_ratio: Option<u64>,
}

/// A compression format of [`write_bomb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), which reaches about 1030:1 on zeros.
    Gzip,
    /// zstd (RFC 8878), which reaches more than 30 000:1 on zeros.
    Zstd,
}

/// The input of a [`HostileArchive`].
#[derive(Clone, PartialEq, Eq)]
pub enum HostileInput {
    /// An archive held in memory.
    Tar(Vec<u8>),
    /// A compressed archive of `zeros` bytes of file data, streamed by [`write_bomb`].
    Bomb {
        /// How it is compressed.
        compression: Compression,
        /// Size of the one file of zeros it holds.
        zeros: u64,
    },
}

impl HostileInput {
    /// Writes the input to `out` (a bomb is generated while it is written).
    ///
    /// # Errors
    /// Any error of `out`.
    pub fn write_to(&self, mut out: impl Write) -> io::Result<()> {
        match self {
            HostileInput::Tar(bytes) => out.write_all(bytes),
            HostileInput::Bomb { compression, zeros } => write_bomb(*compression, *zeros, out),
        }
    }
}

impl std::fmt::Debug for HostileInput {
    // Archive bytes are noise in a failing assertion; show their length instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostileInput::Tar(b) => write!(f, "Tar(<{} bytes>)", b.len()),
            HostileInput::Bomb { compression, zeros } => {
                write!(f, "Bomb({compression:?}, {zeros} bytes of zeros)")
            }
        }
    }
}

/// One case of the hostile suite; see [`hostile_archives`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileArchive {
    /// Short identifier, unique within [`hostile_archives`].
    pub name: &'static str,
    /// What it attacks.
    pub class: Class,
    /// [`LayerKind::Delta`]: import it over a parent layer made from [`hostile_base`] (the
    /// case has whiteouts, which a base layer refuses before anything else is checked).
    pub kind: LayerKind,
    /// What a correct import does.
    pub expect: Expect,
    /// Limits to run it with.
    pub limits: CaseLimits,
    /// The archive.
    pub input: HostileInput,
    /// What is wrong with it (and, for accepted ones, why accepting is right), in a sentence
    /// or two.
    pub what: &'static str,
}

/// The hostile suite: archives that attack an importer, each with the outcome a correct one
/// has. Every class of [`Class`] is present; the archives are deterministic and small, except
/// `deep-nesting` (5 000 nested directories, about 30 MB) and the bombs, which are streamed.
///
/// Where the archive structure decides (truncations, repeated headers), the outcome is that of
/// Go's `archive/tar` reader as docs/oci-tar-mapping.md §6.5 describes it: an archive that ends
/// cleanly where a header would start, inside the padding after an entry's data, after one
/// zero block, or right after a PAX or GNU long-name header is accepted; one that ends inside
/// a header block, a PAX or long-name body, an entry's data or the second zero block is
/// refused. Two PAX headers in a row: the second wins; a GNU long name beats a PAX `path`.
///
/// # Panics
///
/// Only on a bug in this generator, as for [`malformed_cases`].
pub fn hostile_archives() -> Vec<HostileArchive> {
    let mut all = hostile::build().expect("in-memory archive generation cannot fail");
    all.extend(structure::build().expect("in-memory archive generation cannot fail"));
    all.extend(sparse::build().expect("in-memory archive generation cannot fail"));
    all.extend(bombs::cases());
    all
}

/// The base layer the [`LayerKind::Delta`] cases of [`hostile_archives`] are imported over,
/// and the one [`tamper_cases`] start from: `Files`, `Files/a`, `Files/dir/inner.txt`, and
/// `Files/victim.txt` with a 70 000-byte alternate data stream `:big` (so that a layer
/// directory keeps it in a stream file of its own).
pub fn hostile_base() -> Vec<u8> {
    tamper::base().expect("in-memory archive generation cannot fail")
}

/// The delta layer of [`TamperTarget::ParentLayer`] and [`TamperTarget::TransportFolder`]
/// cases: hard links `Files/link.txt` to the parent's `Files/victim.txt` and
/// `Files/inner-link.txt` to its `Files/dir/inner.txt`, a new file, a whiteout of
/// `Files/a/gone.txt` and a registry hive delta `Hives/System_Delta`.
pub fn hostile_delta() -> Vec<u8> {
    tamper::delta().expect("in-memory archive generation cannot fail")
}

/// The inputs of the hostile suite that are no tar: finished layer directories, parent
/// layers and transport folders, changed on disk by [`TamperCase::steps`]. See [`Tamper`] for
/// how a step is applied and [`TamperTarget`] for what is built first and which command
/// reads it.
pub fn tamper_cases() -> Vec<TamperCase> {
    tamper::cases()
}

/// Streams a compressed layer archive to `out`: `Files`, then `Files/zeros.bin` holding
/// `zeros` zero bytes, then the end-of-archive marker. Generation costs almost nothing
/// whatever `zeros` is (gzip: one compressed mebibyte of zeros repeated, each piece ending in
/// a full flush; zstd: run-length blocks), so an 8 GiB bomb is written in well under a second
/// and is about 8 MiB (gzip) or 260 KiB (zstd). The streams are valid: a decoder checks the
/// gzip CRC and length and gets the whole archive back.
///
/// # Errors
/// Any error of `out`.
pub fn write_bomb(compression: Compression, zeros: u64, out: impl Write) -> io::Result<()> {
    bombs::write(compression, zeros, out)
}

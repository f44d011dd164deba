//! # The layer directory format (version 1)
//!
//! A layer directory holds a Windows container layer on a Linux file system: its content as
//! ordinary files and directories, readable by people and scanners, and a versioned sidecar
//! with everything Linux cannot hold. Reading it back with [`crate::DirLayerReader`] gives
//! exactly the entries, backup-stream bytes, sizes, infos, tombstones and hard-link structure
//! that were written (the reference layer model, docs/layer-semantics.md §0.1).
//! `docs/layer-directory.md` has the same description with examples.
//!
//! ## Layout
//!
//! ```text
//! LAYER/
//!   Files/...            the layer's own names, as files, directories, symlinks
//!   Hives/...
//!   UtilityVM/Files/...  (delta layers: own entries plus the clone of the parent's)
//!   .wclayer/
//!     layer.json         manifest: format, version, kind, parents, counts (written last)
//!     entries.jsonl      one JSON record per writer call, in call order
//!     streams/N.K        bodies of alternate data streams and large streams
//! ```
//!
//! ## Content
//!
//! * **Names.** Each component of a layer name is stored as it is, in the spelling first
//!   written (names are case-insensitive and case-preserving, as on NTFS). A component Linux
//!   cannot hold (more than 255 bytes of UTF-8) or one starting with `.wclayer`
//!   (case-insensitively, so that no layer name can reach the sidecar) is stored as
//!   `.wclayer-n-` + the first 32 hex digits of SHA-256 of the real name. The real names are
//!   in the records, so the on-disk name of any entry is computed from its real name.
//! * **Directories** are directories. Their Linux mtime/atime are the entry's
//!   `LastWriteTime`/`LastAccessTime` (set at `close`, children first); creation and change
//!   time are in the records only.
//! * **Regular files** are regular files holding the file's data: the body of its first
//!   `BACKUP_DATA` stream at offset 0, or its sparse blocks (`BACKUP_SPARSE_BLOCK`) at their
//!   offsets with holes left as holes, the file extended to a terminating block's offset.
//! * **Reparse points** are Linux symbolic links when the reparse point is a relative
//!   Windows symbolic link whose target provably stays inside the layer (only leading `..`,
//!   climbing no higher than the layer root; see `names::safe_symlink_target`); every other
//!   reparse point (absolute links, mount points, other tags) is an empty regular file. The
//!   reparse buffer itself is always in the record. A directory reparse point added after
//!   entries below it stays the directory it already was.
//! * **Hard links** are hard links. A link to a parent layer's file links to the parent's
//!   object (copied when the parent is on another file system, or when the object is a
//!   symbolic link whose target would not be safe at the new place).
//! * **Utility VM** (delta layers that add `UtilityVM` or remove something below
//!   `UtilityVM\Files`): names of the nearest parent's `UtilityVM\Files` that the layer
//!   neither adds nor removes are cloned: directories created, everything else hard-linked,
//!   except the BCD store (`UtilityVM\Files\EFI\Microsoft\Boot\BCD`, `BCD.LOG`, `BCD.LOG1`,
//!   `BCD.LOG2`), which is copied. Clone records carry `"clone": true`; the reader's walk
//!   skips them, so the layer reads back exactly as written.
//!
//! ## `layer.json`
//!
//! ```json
//! {"format":"wclayer-layer-directory","version":1,"kind":"delta",
//!  "parents":["/var/lib/layers/base"],"records":42,"files":30,"tombstones":2,
//!  "utility_vm_cloned":true}
//! ```
//!
//! `kind` is `base` (imported with no parents: base walk, no tombstones) or `delta` (delta
//! walk). `parents` are informational, nearest first (the reader needs none: the layer is
//! self-contained). `records` is the number of lines of `entries.jsonl` and detects a
//! truncated file. A reader refuses another `format` or a `version` above its own.
//!
//! ## `entries.jsonl`
//!
//! One record per line, in the order of the writer calls (a file's record is written when
//! its stream ends, i.e. before the next call's record). `path` is the entry's Windows name
//! with `\` separators, in the spellings the layer uses (the first spelling of every
//! existing parent, the given spelling of the last component). Replaying the records through
//! the layer model rebuilds the layer.
//!
//! ```json
//! {"t":"file","n":0,"path":"Files","info":{...},"data_size":0,"streams":[]}
//! {"t":"file","n":1,"path":"Files\\a.txt","info":{"attributes":32,"creation_time":...,
//!   "last_access_time":...,"last_write_time":...,"change_time":...},"data_size":5,
//!   "streams":[{"id":3,"attributes":0,"size":20,"body":{"inline":"AQAEgA..."}},
//!              {"id":1,"attributes":0,"size":5,"body":{"content":0}},
//!              {"id":4,"attributes":0,"size":3,"name":":zone:$DATA","body":{"blob":"1.0"}}]}
//! {"t":"link","path":"Files\\b.txt","file":1}
//! {"t":"tomb","path":"Files\\old.txt"}
//! ```
//!
//! * `file`: an added file or directory. `n` is its file number (0, 1, ... in record order;
//!   hard links refer to it). `info` is its `FILE_BASIC_INFO` (FILETIMEs as integers).
//!   `data_size` is the size the reader reports (docs/layer-semantics.md §6.3). `streams` is the
//!   exact sequence of its backup sub-streams: `id`, `attributes`, `size` (body length; for a
//!   sparse block without its 8-byte offset), `name` (decoded stream name, when not empty),
//!   `name_utf16` (base64 of the raw UTF-16LE name bytes, only when decoding lost something),
//!   `offset` (sparse blocks), and where the body is: `{"content":OFFSET}` (in the entry's
//!   own on-disk file at that offset), `{"blob":"N.K"}` (the whole file `.wclayer/streams/N.K`)
//!   or `{"inline":"BASE64"}` (security descriptors, EAs, reparse buffers and other streams
//!   of at most 64 KiB). Optional: `"clone":true` (utility-VM clone, not an entry of the
//!   layer) and `"origin":{"parent":I,"path":"..."}` (a hard link to parent `I`'s file: the
//!   record is a copy of the parent's, its blobs linked into this layer).
//! * `link`: a hard link `path` to file `file` (optionally `"clone":true`).
//! * `tomb`: a tombstone, in `remove` order.
//!
//! The reader replays a file's stream as each sub-stream's `WIN32_STREAM_ID` header (rebuilt
//! from the record) followed by its body, so the bytes are exactly those written, and the
//! stream can be re-read and seeked.
//!
//! `data_size` follows [`wclayer_layer::MemLayer`]'s reader: the size of the first
//! `BACKUP_DATA` stream, except that a zero-length sparse data stream followed by sparse
//! blocks reports the terminating block's offset (the logical size).
//!
//! ## Writing
//!
//! The writer works in `.NAME.wclayer-staging-XXXXXXXXXXXXXXXX` next to the target, which
//! must not exist. Tombstones become records when `remove` is called and hard links are made
//! when `add_link` is called (hcsshim defers links to `Close` only because its HCS import has
//! to run first). `close` then: finishes the last entry, clones the utility VM, re-applies
//! directory times in reverse `add` order, writes `layer.json`, flushes the staged tree with
//! one `syncfs`, renames it into place with `RENAME_NOREPLACE` and flushes the directory
//! holding it. Dropping the writer before that, or any error, removes the staging directory.

/// The reserved directory at the layer root holding the metadata sidecar.
pub const SIDECAR_DIR: &str = ".wclayer";
/// The manifest in [`SIDECAR_DIR`].
pub const MANIFEST_FILE: &str = "layer.json";
/// The records in [`SIDECAR_DIR`].
pub const ENTRIES_FILE: &str = "entries.jsonl";
/// The directory of stream bodies in [`SIDECAR_DIR`].
pub const STREAMS_DIR: &str = "streams";
/// The `format` field of [`MANIFEST_FILE`].
pub const FORMAT_NAME: &str = "wclayer-layer-directory";
/// The format version this crate writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Prefix of derived on-disk names (the scheme is `wclayer_fs::names`).
pub const DERIVED_PREFIX: &str = wclayer_fs::names::DERIVED_PREFIX;
/// Largest stream body kept inline in a record (security descriptors, EAs, reparse data).
pub const INLINE_MAX: u64 = 64 * 1024;
/// Largest offset at which sparse-block data is written into the content file; blocks
/// further out go to a blob, so a hostile offset cannot make a file the file system refuses.
pub const MAX_CONTENT_OFFSET: u64 = 1 << 42;
/// Infix of the staging directory next to the target: `.NAME.wclayer-staging-XXXXXXXX`.
pub const STAGING_INFIX: &str = wclayer_fs::STAGING_INFIX;

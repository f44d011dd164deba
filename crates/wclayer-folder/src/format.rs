//! # The transport folder on Linux
//!
//! The folder is hcsshim's legacy transport format (docs/layer-semantics.md §3) unchanged, so a
//! folder written here can be handed to HCS `ImportLayer` and a folder `ExportLayer` wrote
//! can be read here. On Linux its plain files cannot hold everything a Windows file has;
//! what they cannot hold is kept in `user.*` extended attributes (§0.5) and, when too large
//! for one, in a sidecar directory that every reader skips. `docs/transport-folder.md` has
//! the same description with an example.
//!
//! ## Layout
//!
//! ```text
//! FOLDER/                                  user.wclayer.folder = "1"   (wclayer-written)
//!   tombstones.txt                         BOM "Version 1.0" LF, then "\<path below Files>" LF per line
//!   Files.$wcidirs$                        u32 LE attributes + backup stream of Files
//!   Files/
//!     a.txt                                u32 LE attributes + backup stream
//!     Windows.$wcidirs$                    u32 LE attributes + backup stream of Files\Windows
//!     Windows/ ...
//!   Hives.$wcidirs$
//!   Hives/
//!     System_Delta                         the data stream's content (plain file)
//!   UtilityVM/                             plain directories and files
//!     Files/ ...
//!   wclayer-sidecar.$wcidirs$.$wcidirs$/   metadata too large for an attribute
//!     0.$wcidirs$  1.$wcidirs$ ...
//! ```
//!
//! | entry | stored as |
//! |---|---|
//! | file below `Files\`, or any file outside `Hives\` and `UtilityVM` | a *transport file*: u32 LE `FileAttributes`, then the raw backup stream (hcsshim's writer, §4.1 step 5) |
//! | directory outside `UtilityVM` (also `Files`, `Hives`) | a real directory plus the transport file `<dir>.$wcidirs$` |
//! | file below `Hives\` | a plain file holding the first data stream's body (`BackupWrite` without security, §4.1) |
//! | `UtilityVM` and everything below it | plain files and directories (the export format) |
//! | hard link | a hard link (both names must be stored the same way) |
//! | tombstone below `Files` | a line of `tombstones.txt` |
//! | other tombstone | `user.wclayer.tombstones` on the root |
//! | implicit directory (only a parent) | a real directory marked `user.wclayer.implicit`, or nothing when it only holds tombstones |
//!
//! Each file's Linux mtime and atime are the entry's last-write and last-access times (set
//! with `futimens`; a directory's at the end, children first, as hcsshim re-applies them
//! last, §4.5). A file system clamps times it cannot store; the exact values are in
//! `user.wclayer.times`.
//!
//! ## Extended attributes (format version 1)
//!
//! All integers are little-endian.
//!
//! | attribute | on | value |
//! |---|---|---|
//! | `user.wclayer.folder` | the folder | ASCII `1`. Its presence means "written by wclayer": the reader is then lossless; without it the reader applies hcsshim's legacy rules. Another value is an error |
//! | `user.wclayer.times` | every object standing for an entry (the transport file, the `.$wcidirs$` file, the plain file or directory) | 32 bytes: creation, last-access, last-write, change time, each a u64 FILETIME (`FILE_BASIC_INFO` order) |
//! | `user.wclayer.stream` | plain objects | `u8 1` (version), `u32` attributes, `u64` cut offset (all ones: none), `u64` cut length, then a *payload*: the backup stream with the cut bytes removed (the *template*) |
//! | `user.wclayer.implicit` | implicit directories | empty |
//! | `user.wclayer.tombstones` | the folder | a payload holding, for each tombstone `tombstones.txt` cannot hold, `u64` index in the layer's `remove` order, `u32` byte length, UTF-8 name (`\`-separated) |
//!
//! A **payload** is `u8 0` followed by the bytes (inline), or `u8 1`, `u64` blob number,
//! `u64` length: the bytes are the file `wclayer-sidecar.$wcidirs$.$wcidirs$/<n>.$wcidirs$`,
//! which must be exactly that long. Payloads over 1 KiB always go to a blob, and so does a
//! smaller one the file system refuses (`ENOSPC`/`E2BIG`): ext4 keeps all attributes of an
//! inode in one 4 KiB block unless `ea_inode` is enabled.
//!
//! **Plain files.** A plain file holds the body of the entry's first `BACKUP_DATA` stream.
//! The template is the backup stream without that body; the cut offset is where the body
//! was, the cut length its length, which must equal the plain file's size when read back
//! (else [`crate::Error::ContentChanged`]). The stream is `template[..offset] + file +
//! template[offset..]`, byte for byte what was written, even for malformed streams. A
//! sparse file (a data stream of size 0 with the sparse attribute, then sparse blocks) has
//! no cut: its blocks stay in the template and are also written into the plain file at
//! their offsets, so the file holds the content with holes. A directory has no cut.
//!
//! **Tombstones.** `tombstones.txt` holds a tombstone when its name starts with the exact
//! component `Files`, names something below it, and contains no CR or LF; every other one
//! goes into `user.wclayer.tombstones` with its position, so the reader restores the
//! `remove` order. Every ancestor of a tombstone is an implicit directory of the layer; the
//! reader walks those that do not exist in the folder as if they did.
//!
//! **Reserved names.** The writer refuses names with a component ending in `.$wcidirs$` and
//! names whose first component is `tombstones.txt` (in any case): the folder uses them. The
//! sidecar's name ends in `.$wcidirs$` twice, so it cannot be the `.$wcidirs$` file of any
//! allowed directory; hcsshim's reader descends into it but reports nothing there, because
//! every name in it ends in `.$wcidirs$` too.
//!
//! **Names.** Each component is stored as first spelled (names are case-insensitive and
//! case-preserving). Linux limits a component to 255 bytes of UTF-8, NTFS to 255 UTF-16
//! units: a longer component (a long CJK name), or a directory whose `.$wcidirs$` name would
//! exceed 255 bytes, is refused with [`crate::Error::NameNotStorable`].
//!
//! **Hard links** must join names stored the same way: a transport file (`Files\`) and a
//! plain file (`Hives\`, `UtilityVM\`) cannot be one inode
//! ([`crate::Error::LinkAcrossRepresentations`]). hcsshim accepts links only below `Files\`
//! and `UtilityVM\Files\` anyway (§4.4).
//!
//! ## Reading a folder from Windows
//!
//! Without `user.wclayer.folder`, [`crate::FolderLayerReader`] follows hcsshim's legacy
//! reader (§6.1, §0.3); see its documentation for the rules and for the few places where it
//! compares names case-insensitively where Go does not (docs/compat.md).

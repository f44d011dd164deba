//! The error type of the transport folder.

use std::io;
use std::path::PathBuf;

/// An error of [`crate::FolderLayerWriter`] or [`crate::FolderLayerReader`].
///
/// Every variant that concerns one entry or one file of the folder names it: entries by
/// their layer name (`Files\a.txt`), folder files by their path relative to the folder
/// (`Files/a.txt`, `tombstones.txt`); problems in `tombstones.txt` name the 1-based line.
///
/// Through the layer traits it travels as [`wclayer_layer::Error`]: the layer model's own
/// errors (a duplicate, an entry below a reparse point, ...) as themselves, so callers see
/// the same errors as with [`wclayer_layer::MemLayer`], everything else as
/// [`wclayer_layer::Error::Backend`] holding this error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entry breaks a rule of the layer model (a duplicate, an entry below a file or a
    /// reparse point, a hard link to a missing name or a directory, a tombstone in a base
    /// layer): the same error [`wclayer_layer::MemLayer`] gives.
    #[error(transparent)]
    Model(#[from] wclayer_layer::Error),
    /// A file-system operation failed.
    #[error("{}{op}", path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Io {
        /// What was being done (`create file`, `hard link`, `read tombstones.txt`, ...).
        op: &'static str,
        /// The entry or folder file it was done for, if any.
        path: Option<String>,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file system refused a `user.*` extended attribute with `ENOTSUP`: it cannot hold
    /// the `user.wclayer.*` metadata that makes the folder lossless (docs/layer-semantics.md
    /// §0.5). ramfs, some FUSE and network file systems, and tmpfs before Linux 6.6 lack
    /// user extended attributes.
    #[error(
        "{path}: the file system does not support user extended attributes \
         (needed for the user.wclayer.* metadata of a transport folder); \
         write the folder to a file system that has them, such as ext4, xfs or btrfs"
    )]
    XattrUnsupported {
        /// The folder file the attribute was for.
        path: String,
        /// The `ENOTSUP` error.
        #[source]
        source: io::Error,
    },
    /// Stream bytes were written while no entry was open.
    #[error("backup stream bytes written with no entry open")]
    NoEntry,
    /// The writer or reader was used after `close`.
    #[error("layer is closed")]
    Closed,
    /// An earlier call of this writer failed part way; the folder cannot be completed.
    #[error("transport folder writer failed earlier ({first}); nothing was committed")]
    Poisoned {
        /// The first failure, as text.
        first: String,
    },
    /// A name the folder reserves for its own metadata (`tombstones.txt` at the top, any
    /// component ending in `.$wcidirs$`, docs/layer-semantics.md §3).
    #[error("{name}: cannot be stored in a transport folder: {reason}")]
    ReservedName {
        /// The entry.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A name that Linux cannot hold as a file name in the folder.
    #[error("{name}: cannot be stored in a transport folder on Linux: {reason}")]
    NameNotStorable {
        /// The entry.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A hard link between a name stored as a transport file (attributes + backup stream)
    /// and one stored as a plain file (`Hives\`, `UtilityVM\`): one inode cannot be both.
    #[error(
        "{name}: hard link to {target} joins a {name_kind} name and a {target_kind} name, \
         which a transport folder cannot share"
    )]
    LinkAcrossRepresentations {
        /// The link.
        name: String,
        /// Its target.
        target: String,
        /// How the link's name is stored.
        name_kind: &'static str,
        /// How the target's name is stored.
        target_kind: &'static str,
    },
    /// `tombstones.txt` is empty or does not start with the BOM and `Version 1.0`
    /// (hcsshim's `Invalid tombstones file`, docs/layer-semantics.md §3.1).
    #[error("{path}: invalid tombstones file")]
    InvalidTombstonesFile {
        /// The file.
        path: String,
    },
    /// A line of `tombstones.txt` is not a deleted path below `Files`.
    #[error("tombstones.txt line {line}: {reason}")]
    TombstoneLine {
        /// The 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A `user.wclayer.*` attribute or sidecar file is malformed or inconsistent.
    #[error("{path}: invalid {attr} metadata: {reason}")]
    Metadata {
        /// The folder file carrying it.
        path: String,
        /// The attribute (`user.wclayer.stream`, ...).
        attr: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The folder's `user.wclayer.folder` marker names a format this version cannot read.
    #[error("{path}: unsupported transport folder metadata version {version:?}")]
    UnsupportedVersion {
        /// The folder.
        path: String,
        /// The marker's value.
        version: String,
    },
    /// The plain file behind a `Hives\` or `UtilityVM\` entry no longer has the length its
    /// metadata records (it was changed after the folder was written).
    #[error("{path}: content is {found} bytes, but its metadata records {expected}")]
    ContentChanged {
        /// The folder file.
        path: String,
        /// The length recorded when it was written.
        expected: u64,
        /// Its length now.
        found: u64,
    },
    /// Something in the folder cannot be an entry (a non-UTF-8 or invalid name, a symbolic
    /// link, a device, a transport file shorter than its attributes, ...).
    #[error("{path}: {reason}")]
    BadFolderFile {
        /// The folder file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The folder to create exists and is not an empty directory.
    #[error("{}: transport folder already exists and is not an empty directory", path.display())]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The folder path cannot be used (no final component, ...).
    #[error("{}: invalid transport folder path: {reason}", path.display())]
    InvalidFolderPath {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Error {
    /// An I/O error while doing `op` for `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: Some(path.into()),
            source,
        }
    }

    /// A malformed attribute `attr` on `path`.
    pub(crate) fn meta(
        attr: &'static str,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Metadata {
            path: path.into(),
            attr,
            reason: reason.into(),
        }
    }

    /// Something in the folder that cannot be an entry.
    pub(crate) fn bad_file(path: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::BadFolderFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The entry or folder file this error concerns, if it names one.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::Io { path, .. } => path.as_deref(),
            Error::XattrUnsupported { path, .. }
            | Error::InvalidTombstonesFile { path }
            | Error::Metadata { path, .. }
            | Error::UnsupportedVersion { path, .. }
            | Error::ContentChanged { path, .. }
            | Error::BadFolderFile { path, .. } => Some(path),
            Error::ReservedName { name, .. }
            | Error::NameNotStorable { name, .. }
            | Error::LinkAcrossRepresentations { name, .. } => Some(name),
            Error::TombstoneLine { .. } => Some("tombstones.txt"),
            _ => None,
        }
    }

    /// The [`io::ErrorKind`] this error travels as through `io::Read`/`io::Write` and
    /// [`wclayer_layer::Error::Io`].
    #[must_use]
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::XattrUnsupported { .. } => io::ErrorKind::Unsupported,
            Error::NotEmpty { .. } => io::ErrorKind::AlreadyExists,
            Error::ReservedName { .. }
            | Error::NameNotStorable { .. }
            | Error::LinkAcrossRepresentations { .. }
            | Error::InvalidFolderPath { .. } => io::ErrorKind::InvalidInput,
            Error::InvalidTombstonesFile { .. }
            | Error::TombstoneLine { .. }
            | Error::Metadata { .. }
            | Error::UnsupportedVersion { .. }
            | Error::ContentChanged { .. }
            | Error::BadFolderFile { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        }
    }
}

impl From<Error> for wclayer_layer::Error {
    fn from(e: Error) -> wclayer_layer::Error {
        use wclayer_layer::Error as L;
        match e {
            Error::Model(e) => e,
            Error::NoEntry => L::NoEntry,
            Error::Closed => L::Closed,
            other => L::backend(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_map_onto_the_layer_variants() {
        let e: wclayer_layer::Error = Error::Model(wclayer_layer::Error::Duplicate {
            name: "Files\\A".into(),
            first: "Files\\a".into(),
        })
        .into();
        assert!(matches!(e, wclayer_layer::Error::Duplicate { .. }), "{e}");
        let e: wclayer_layer::Error = Error::NoEntry.into();
        assert!(matches!(e, wclayer_layer::Error::NoEntry));
    }

    #[test]
    fn folder_errors_travel_as_back_end_errors_with_their_text() {
        let e: wclayer_layer::Error = Error::XattrUnsupported {
            path: "Files/a".into(),
            source: io::Error::from_raw_os_error(95),
        }
        .into();
        assert!(matches!(e, wclayer_layer::Error::Backend(_)));
        assert!(
            e.to_string()
                .contains("Files/a: the file system does not support user extended attributes")
        );
        let t = Error::TombstoneLine {
            line: 3,
            reason: "x".into(),
        };
        assert_eq!(t.to_string(), "tombstones.txt line 3: x");
        assert_eq!(io::Error::from(t).kind(), io::ErrorKind::InvalidData);
    }
}

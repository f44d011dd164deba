//! The error type of the layer directory store.

use std::io;

/// An error of [`crate::DirLayerWriter`], [`crate::DirLayerReader`] or
/// [`crate::ParentLayer`]. Every variant that concerns one entry names it (the layer's
/// Windows name, `\`-separated); file-system failures also say what was being done.
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
    /// layer): the error [`wclayer_layer::MemLayer`] gives.
    #[error(transparent)]
    Model(#[from] wclayer_layer::Error),
    /// A file-system operation failed.
    #[error("{}{op}", entry.as_deref().map(|e| format!("{e}: ")).unwrap_or_default())]
    Io {
        /// What was being done (`create file`, `hard link`, `syncfs`, ...).
        op: &'static str,
        /// The entry it was done for, if any.
        entry: Option<String>,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The writer or reader was used after `close`.
    #[error("layer is closed")]
    Closed,
    /// An earlier call of this writer failed; the staged layer has been discarded.
    #[error("layer writer failed earlier; its staged layer was discarded")]
    Poisoned,
    /// The metadata sidecar of a layer directory is missing, corrupt or inconsistent.
    #[error("layer metadata {file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Metadata {
        /// The sidecar file (`layer.json`, `entries.jsonl`).
        file: &'static str,
        /// The 1-based line of `entries.jsonl`, when the problem is in one record.
        line: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// The layer directory was written by a newer wclayer (or is no layer directory).
    #[error("unsupported layer directory format {format:?} version {version}")]
    UnsupportedFormat {
        /// The `format` field found.
        format: String,
        /// The `version` field found.
        version: u32,
    },
    /// The target of a new layer already exists.
    #[error("{name}: layer directory already exists")]
    AlreadyExists {
        /// The target name.
        name: String,
    },
    /// A layer directory name is not a single, normal path component.
    #[error("{name:?}: invalid layer directory name: {reason}")]
    InvalidLayerName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// An I/O error while doing `op` for `entry`.
    pub(crate) fn io(op: &'static str, entry: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op,
            entry: Some(entry.into()),
            source,
        }
    }

    /// An I/O error while doing `op` for the layer as a whole.
    pub(crate) fn io_layer(op: &'static str, source: io::Error) -> Error {
        Error::Io {
            op,
            entry: None,
            source,
        }
    }

    /// A corrupt record at `line` of `entries.jsonl`.
    pub(crate) fn record(line: u64, reason: impl Into<String>) -> Error {
        Error::Metadata {
            file: crate::format::ENTRIES_FILE,
            line: Some(line),
            reason: reason.into(),
        }
    }

    /// The entry this error concerns, if it names one.
    #[must_use]
    pub fn entry(&self) -> Option<&str> {
        match self {
            Error::Io { entry, .. } => entry.as_deref(),
            _ => None,
        }
    }

    /// The kind this error has when it travels through `io::Read` / `io::Write`.
    #[must_use]
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Model(e) => e.io_kind(),
            Error::Io { source, .. } => source.kind(),
            Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
            Error::Metadata { .. } | Error::UnsupportedFormat { .. } => io::ErrorKind::InvalidData,
            Error::InvalidLayerName { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        }
    }
}

impl From<Error> for wclayer_layer::Error {
    fn from(e: Error) -> wclayer_layer::Error {
        match e {
            Error::Model(e) => e,
            Error::Closed => wclayer_layer::Error::Closed,
            other => wclayer_layer::Error::backend(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_stay_model_errors() {
        let e: wclayer_layer::Error = Error::Model(wclayer_layer::Error::BaseLayerTombstone {
            name: "Files\\x".into(),
        })
        .into();
        assert!(matches!(e, wclayer_layer::Error::BaseLayerTombstone { .. }));
        assert_eq!(e.to_string(), "Files\\x: base layer cannot have tombstones");
    }

    #[test]
    fn store_errors_travel_typed() {
        let e = Error::io(
            "create file",
            "Files\\a",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert_eq!(e.to_string(), "Files\\a: create file");
        let l: wclayer_layer::Error = e.into();
        assert_eq!(l.to_string(), "Files\\a: create file");
        assert!(matches!(l, wclayer_layer::Error::Backend(_)));
    }
}

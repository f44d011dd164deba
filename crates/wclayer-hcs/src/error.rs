//! The errors of hcsshim's Windows writers and readers, with hcsshim's texts where it has
//! one (docs/layer-semantics.md §4, §5, §10.2).

use std::io;

/// What went wrong in a Windows layer writer or reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system call on a name failed.
    #[error("{op} {name}: {source}")]
    Os {
        /// What was being done (`create`, `open`, `set times of`, `restore`, ...).
        op: &'static str,
        /// The layer name or path concerned.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A Host Compute Service call failed (`<title> failed in Win32: <error>`, as hcsshim's
    /// `hcserror` prints it).
    #[error("{title} failed in Win32: {source}")]
    Hcs {
        /// The call's title, e.g. `hcsshim::ImportLayer`.
        title: &'static str,
        /// The error HCS returned.
        #[source]
        source: io::Error,
    },
    /// `close` after an earlier call failed (hcsshim's sticky error): the layer was not
    /// processed.
    #[error("an earlier step failed: {0}")]
    Earlier(String),
    /// A base layer was given a tombstone.
    #[error("base layer cannot have tombstones")]
    BaseTombstone,
    /// Bytes were written when no entry takes them (also the `UtilityVM` entry itself).
    #[error("closed")]
    Closed,
    /// A hard link outside `Files\` or `UtilityVM\Files\`, or with no layer to find the
    /// target in.
    #[error("invalid hard link in layer")]
    InvalidHardLink,
    /// A hard link whose target is in neither this layer nor a parent.
    #[error("failed to find link target for '{name}' -> '{target}'")]
    LinkTargetNotFound {
        /// The link.
        name: String,
        /// Its target.
        target: String,
    },
    /// A tombstone outside `Files\` and `UtilityVM\Files\`.
    #[error("invalid tombstone {0}")]
    InvalidTombstone(String),
    /// A utility-VM entry before the `UtilityVM` directory.
    #[error("missing UtilityVM directory")]
    MissingUtilityVm,
    /// A name below `UtilityVM\` but not below `UtilityVM\Files`.
    #[error("invalid UtilityVM layer")]
    InvalidUtilityVm,
    /// The transport folder's `tombstones.txt` is malformed.
    #[error("invalid tombstones file: {0}")]
    InvalidTombstones(String),
    /// An entry's name is no valid layer path.
    #[error(transparent)]
    Path(#[from] wclayer_layer::PathError),
    /// A backup stream could not be parsed.
    #[error("{name}: {source}")]
    Stream {
        /// The entry.
        name: String,
        /// The parse error.
        #[source]
        source: wclayer_backup::Error,
    },
}

impl Error {
    /// An [`Error::Os`].
    pub(crate) fn os(op: &'static str, name: impl Into<String>, source: io::Error) -> Error {
        Error::Os {
            op,
            name: name.into(),
            source,
        }
    }
}

impl From<Error> for wclayer_layer::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Path(p) => wclayer_layer::Error::Path(p),
            e => wclayer_layer::Error::backend(e),
        }
    }
}

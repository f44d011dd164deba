//! What a [`crate::LayerReader`] yields.

use wclayer_backup::{FileBasicInfo, FileIdInfo};

use crate::LayerPath;

/// One step of a [`crate::LayerReader`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entry {
    /// A file or directory. Its Win32 backup stream follows through `Read`.
    File {
        /// The entry's name.
        name: LayerPath,
        /// The size reported for the entry (docs/layer-semantics.md §6.3): 0 for a directory,
        /// otherwise the size of its unnamed data stream.
        size: u64,
        /// Times and attributes.
        info: FileBasicInfo,
    },
    /// `name` existed in a parent layer and is deleted by this one (hcsshim's nil
    /// `*FileBasicInfo`).
    Tombstone {
        /// The removed name.
        name: LayerPath,
    },
}

impl Entry {
    /// The entry's name.
    #[must_use]
    pub fn name(&self) -> &LayerPath {
        match self {
            Entry::File { name, .. } | Entry::Tombstone { name } => name,
        }
    }
}

/// Link count and identity of the current file, for hard-link detection
/// (`LinkInfo()` of hcsshim's reader: `NumberOfLinks` and `FILE_ID_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct LinkInfo {
    /// `NumberOfLinks`: how many names the file has.
    pub number_of_links: u32,
    /// The file's identity; only `file_id` is compared by exports (docs/oci-tar-mapping.md §4.5).
    pub file_id: FileIdInfo,
}

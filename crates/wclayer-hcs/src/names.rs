//! Names and small rules hcsshim's writers and readers share.

use std::io;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::host::{Host, LayerDescriptor};

pub(crate) use wclayer_folder::{TOMBSTONES_TXT, WCIDIRS};

/// hcsshim `hasPathPrefix`: `p` starts with `prefix` followed by `\` (case-sensitive, so
/// `Files` itself does not have the prefix `Files`).
pub(crate) fn has_path_prefix(p: &str, prefix: &str) -> bool {
    p.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('\\'))
}

pub(crate) use wclayer_tar::import::{MUTATED_FILES, mutated_backup};

/// hcsshim `layerPathsToDescriptors`: one descriptor per parent, in the given order, each
/// identified by `NameToGuid` of the path's last element (docs/layer-semantics.md §11.3).
///
/// # Errors
/// The first failing `NameToGuid` (it aborts the operation, as in hcsshim).
pub fn layer_descriptors<H: Host>(
    host: &H,
    parents: &[PathBuf],
) -> Result<Vec<LayerDescriptor>, Error> {
    parents
        .iter()
        .map(|path| {
            let layer_id = host
                .name_to_guid(&base_name(path))
                .map_err(|source| Error::Hcs {
                    title: "hcsshim::NameToGuid",
                    source,
                })?;
            Ok(LayerDescriptor {
                layer_id,
                flags: 0,
                path: path.clone(),
            })
        })
        .collect()
}

/// The text after the last `\` or `/` of `path` (empty when it ends in a separator, as Go's
/// `filepath.Base` is not used by hcsshim here).
pub(crate) fn base_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    match s.rfind(['\\', '/']) {
        Some(i) => s.get(i.saturating_add(1)..).unwrap_or_default().to_owned(),
        None => s.into_owned(),
    }
}

/// Whether an OS error means the name does not exist.
pub(crate) fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefix_needs_a_separator() {
        assert!(has_path_prefix(r"Files\a", "Files"));
        assert!(!has_path_prefix("Files", "Files"));
        assert!(!has_path_prefix(r"Filesystem\a", "Files"));
        assert!(!has_path_prefix(r"files\a", "Files"));
    }

    #[test]
    fn base_name_is_the_last_element() {
        assert_eq!(base_name(Path::new(r"C:\layers\abc")), "abc");
        assert_eq!(base_name(Path::new("/var/layers/abc")), "abc");
        assert_eq!(base_name(Path::new(r"C:\layers\abc\")), "");
        assert_eq!(
            mutated_backup(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD.LOG1"),
            Some("bcd.log1.bak")
        );
        assert_eq!(
            mutated_backup(r"UtilityVM\Files\EFI\Microsoft\Boot\bcd"),
            None
        );
    }
}

//! How a layer name maps onto the folder (docs/layer-semantics.md §3) and which folder names are
//! never entries.

use std::borrow::Cow;

use wclayer_layer::upcase_key;

/// The suffix of hcsshim's directory metadata files; any name ending in it is metadata,
/// never an entry (docs/layer-semantics.md §3).
pub const WCIDIRS: &str = ".$wcidirs$";
/// The tombstone list at the folder's root (docs/layer-semantics.md §3.1).
pub const TOMBSTONES_TXT: &str = "tombstones.txt";

/// How an entry is stored in the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rep {
    /// hcsshim's import format: a file holding the u32 LE attributes and the raw backup
    /// stream; for a directory, a real directory plus `<dir>.$wcidirs$` holding that.
    /// Everything except the two kinds below (`Files\…`, the top-level directories, any
    /// other name), as hcsshim's legacy writer stores it (§4.1 step 5).
    Framed,
    /// A plain file or directory: the data stream's content, the rest in
    /// `user.wclayer.stream`. Files under `Hives\` (hcsshim restores them with `BackupWrite`
    /// without security) and everything that is or is below `UtilityVM` (the export
    /// format, §3).
    Plain,
}

impl Rep {
    /// The representation of the entry `path` (`\`-separated), a directory or not. The
    /// top-level names are compared case-insensitively (docs/compat.md).
    pub(crate) fn of(path: &str, is_dir: bool) -> Rep {
        let (top, rest) = match path.split_once('\\') {
            Some((t, r)) => (t, Some(r)),
            None => (path, None),
        };
        let top = upcase_key(top);
        if top == "UTILITYVM" || (top == "HIVES" && rest.is_some() && !is_dir) {
            Rep::Plain
        } else {
            Rep::Framed
        }
    }

    /// A word for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Rep::Framed => "transport-file",
            Rep::Plain => "plain-file",
        }
    }
}

/// Whether `path` lies below `Files` (hcsshim's `hasPathPrefix(p, "Files")`, compared
/// case-insensitively): the entries the legacy reader reads as transport files.
pub(crate) fn under_files(path: &str) -> bool {
    path.split_once('\\')
        .is_some_and(|(top, _)| upcase_key(top) == "FILES")
}

/// Whether `path` is one of the top-level `Files` and `Hives` directories, whose times the
/// legacy reader takes from `Hives\System_Delta` (docs/layer-semantics.md §6.1).
pub(crate) fn is_files_or_hives(path: &str) -> bool {
    !path.contains('\\') && matches!(upcase_key(path).as_str(), "FILES" | "HIVES")
}

/// What the reference layer model's walk never reports, with its subtree (the `skipped`
/// rule of `wclayer_layer::MemLayer`, docs/layer-semantics.md §0.2): names ending in
/// `.$wcidirs$`, `tombstones.txt` at the root, `Files\$Recycle.Bin` (case-insensitively).
/// `dir` is the parent's path (`""` for the root).
pub(crate) fn model_skipped(dir: &str, name: &str) -> bool {
    name.ends_with(WCIDIRS)
        || (dir.is_empty() && name == TOMBSTONES_TXT)
        || (upcase_key(dir) == "FILES" && upcase_key(name) == "$RECYCLE.BIN")
}

/// Why `path` (a name to be added, cleaned) cannot be stored in a folder, if it cannot.
pub(crate) fn reserved(path: &str) -> Option<&'static str> {
    let mut comps = path.split('\\');
    if comps
        .next()
        .is_some_and(|top| upcase_key(top) == upcase_key(TOMBSTONES_TXT))
    {
        return Some("tombstones.txt at the top of the folder is the tombstone list");
    }
    if path.split('\\').any(|c| c.ends_with(WCIDIRS)) {
        return Some("names ending in .$wcidirs$ are directory metadata files");
    }
    None
}

/// The on-disk name of a directory component: derived (`wclayer_fs::names`) when the name,
/// or its `.$wcidirs$` file name, would not fit, or when it is reserved. Every directory of
/// a folder is named this way, so that a directory's name on disk does not depend on how
/// it is stored.
pub(crate) fn dir_disk_name(real: &str) -> Cow<'_, str> {
    wclayer_fs::names::disk_name_with_suffix(real, WCIDIRS.len())
}

/// The on-disk name of a file component (see [`dir_disk_name`]).
pub(crate) fn file_disk_name(real: &str) -> Cow<'_, str> {
    wclayer_fs::names::disk_name(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representation_by_name() {
        assert_eq!(Rep::of("Files\\a", false), Rep::Framed);
        assert_eq!(Rep::of("Files", true), Rep::Framed);
        assert_eq!(Rep::of("Hives", true), Rep::Framed);
        assert_eq!(Rep::of("Hives\\System_Delta", false), Rep::Plain);
        assert_eq!(Rep::of("hives\\x", false), Rep::Plain);
        assert_eq!(Rep::of("Hives\\sub", true), Rep::Framed);
        assert_eq!(Rep::of("UtilityVM", true), Rep::Plain);
        assert_eq!(Rep::of("utilityvm\\Files\\a", false), Rep::Plain);
        assert_eq!(Rep::of("rootfile", false), Rep::Framed);
        assert_eq!(Rep::of("Other\\x", true), Rep::Framed);
    }

    #[test]
    fn prefixes_and_skips() {
        assert!(under_files("Files\\a"));
        assert!(under_files("files\\a\\b"));
        assert!(!under_files("Files"));
        assert!(!under_files("Filesx\\a"));
        assert!(is_files_or_hives("hives"));
        assert!(!is_files_or_hives("Hives\\x"));
        assert!(model_skipped("Files", "$recycle.bin"));
        assert!(!model_skipped("Files\\x", "$Recycle.Bin"));
        assert!(model_skipped("", "tombstones.txt"));
        assert!(!model_skipped("", "Tombstones.txt"));
        assert!(model_skipped("Hives", "a.$wcidirs$"));
    }

    #[test]
    fn reserved_and_storable() {
        assert!(reserved("tombstones.txt").is_some());
        assert!(reserved("TOMBSTONES.TXT\\x").is_some());
        assert!(reserved("Files\\tombstones.txt").is_none());
        assert!(reserved("Files\\a.$wcidirs$").is_some());
        assert!(reserved("Files\\a.$wcidirs$\\b").is_some());
        assert!(reserved("Files\\a.$wcidirs$x").is_none());
        let long = "é".repeat(128); // 256 bytes
        assert!(file_disk_name(&long).starts_with(".wclayer-n-"));
        let dir = "a".repeat(250);
        assert_eq!(file_disk_name(&dir), dir.as_str());
        assert!(dir_disk_name(&dir).starts_with(".wclayer-n-"));
        assert_eq!(dir_disk_name("Files"), "Files");
    }
}

//! How Windows names become Linux names, and when a reparse point may become a symbolic link.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use wclayer_layer::upcase_key;

use crate::format::{DERIVED_PREFIX, RESERVED_PREFIX_UPCASE};

/// Longest component Linux file systems store: 255 bytes.
const LINUX_NAME_MAX: usize = 255;

/// The on-disk name of one component of a layer name (see [`crate::format`](mod@crate::format)).
///
/// A component is stored as it is, unless Linux cannot hold it (more than 255 bytes of UTF-8:
/// NTFS allows 255 UTF-16 units, so long CJK names do not fit) or it could collide with the
/// store's own names (it starts with `.wclayer`, compared case-insensitively). Those get
/// `.wclayer-n-` + the first 32 hex digits of the SHA-256 of the real name; the real name is in
/// the metadata. Derived names can therefore never equal a name stored as it is.
pub(crate) fn disk_name(real: &str) -> Cow<'_, str> {
    if needs_derived_name(real) {
        let digest = Sha256::digest(real.as_bytes());
        let mut name = String::with_capacity(DERIVED_PREFIX.len() + 32);
        name.push_str(DERIVED_PREFIX);
        for b in digest.iter().take(16) {
            name.push_str(&format!("{b:02x}"));
        }
        Cow::Owned(name)
    } else {
        Cow::Borrowed(real)
    }
}

/// Whether [`disk_name`] derives a name for `real`.
pub(crate) fn needs_derived_name(real: &str) -> bool {
    real.len() > LINUX_NAME_MAX || upcase_key(real).starts_with(RESERVED_PREFIX_UPCASE)
}

/// The Linux symbolic-link target for a Windows relative symbolic link at a name whose parent
/// directory lies `parent_depth` components below the layer root, if storing it as a Linux link
/// is safe; `None` means "store a placeholder file".
///
/// Safe means: following it can never leave the layer directory, whatever other links the
/// layer holds. A target qualifies when it is relative, made of `\`-separated components that
/// are all normal names except leading `..` ones, climbs at most `parent_depth` levels, and
/// each name is stored on disk as it is. Why no `..` after a name: the kernel resolves `..`
/// physically, after following links, so `a\..\..` can climb further than it appears when
/// `a` is itself a link; with every `..` first and every link in the layer obeying the same
/// rule, each resolution starts from a real directory inside the layer, climbs no higher than
/// the root, and then only descends.
pub(crate) fn safe_symlink_target(target: &str, parent_depth: usize) -> Option<String> {
    if target.is_empty() || target.contains(['/', '\0', ':']) {
        return None;
    }
    let mut ups = 0usize;
    let mut names = Vec::new();
    for comp in target.split('\\') {
        match comp {
            ".." if names.is_empty() => ups += 1,
            "" | "." | ".." => return None,
            name if needs_derived_name(name) => return None,
            name => names.push(name),
        }
    }
    if ups > parent_depth {
        return None;
    }
    let mut out: Vec<&str> = std::iter::repeat_n("..", ups).collect();
    out.extend(names);
    if out.is_empty() {
        return None;
    }
    Some(out.join("/"))
}

/// Whether a blob file name is one the store writes: `<digits>.<digits>`. Names read from
/// metadata are checked with this before they are opened.
pub(crate) fn valid_blob_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kept_unless_too_long_or_reserved() {
        assert_eq!(disk_name("Files"), "Files");
        assert_eq!(disk_name("ünïcode 日本"), "ünïcode 日本");
        let long = "字".repeat(100); // 300 bytes, 100 UTF-16 units
        let d = disk_name(&long);
        assert!(d.starts_with(".wclayer-n-") && d.len() == 43, "{d}");
        assert_eq!(disk_name(&long), d, "deterministic");
        assert_ne!(disk_name(&"字".repeat(101)), d);
        assert!(disk_name(".wclayer").starts_with(".wclayer-n-"));
        assert!(disk_name(".WCLayer-n-0000").starts_with(".wclayer-n-"));
        assert_ne!(disk_name(".WCLAYER"), disk_name(".wclayer"));
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(safe_symlink_target("a\\b", 0).as_deref(), Some("a/b"));
        assert_eq!(
            safe_symlink_target("..\\..\\Windows\\x", 2).as_deref(),
            Some("../../Windows/x")
        );
        assert_eq!(safe_symlink_target("..", 1).as_deref(), Some(".."));
        for (t, depth) in [
            ("..\\..\\x", 1),
            ("C:\\Windows", 5),
            ("\\\\server\\share", 5),
            ("\\x", 5),
            ("a\\..\\..", 5),
            ("a\\.\\b", 5),
            ("a\\\\b", 5),
            ("a/b", 5),
            ("", 5),
            (".wclayer\\entries.jsonl", 5),
        ] {
            assert_eq!(safe_symlink_target(t, depth), None, "{t}");
        }
    }

    #[test]
    fn blob_names() {
        assert!(valid_blob_name("12.0"));
        for bad in ["", "1", "1.", ".1", "1.2.3", "../1.2", "a.1"] {
            assert!(!valid_blob_name(bad), "{bad}");
        }
    }
}

//! When a reparse point may become a symbolic link, and which sidecar names are valid.
//! (How a Windows name becomes a Linux name is `wclayer_fs::names`.)

use wclayer_fs::names::needs_derived_name;

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
            ".." if names.is_empty() => ups = ups.saturating_add(1),
            "" | "." | ".." => return None,
            name if needs_derived_name(name, 0) => return None,
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

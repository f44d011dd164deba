//! Names as Go's writer handles them: ASCII filtering, the USTAR prefix split and the
//! `PaxHeaders.0` name of an extended header (docs/oci-tar-mapping.md §8.2, §8.4, §8.5).

use std::borrow::Cow;

use super::{NAME_SIZE, PREFIX_SIZE};

/// Go's `isASCII`: ASCII without NUL.
pub(super) fn is_c_ascii(s: &str) -> bool {
    s.bytes().all(|b| b != 0 && b.is_ascii())
}

/// Go's `toASCII`: drop every character that is not ASCII or is NUL.
pub(super) fn to_ascii(s: &str) -> Cow<'_, str> {
    if is_c_ascii(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| c.is_ascii() && c != '\0').collect())
    }
}

/// `s` without its trailing run of `/` (Go's `strings.TrimRight(s, "/")`).
pub(super) fn trim_trailing_slashes(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(0, |i| i.saturating_add(1));
    s.get(..end).unwrap_or_default()
}

/// Go's `splitUSTARPath` (docs/oci-tar-mapping.md §8.5): `(prefix, name)` when a name longer than 100 bytes
/// can be split at a `/` into a prefix of at most 155 bytes and a non-empty name of at most
/// 100 bytes.
pub(super) fn split_ustar_path(name: &str) -> Option<(&str, &str)> {
    let len = name.len();
    if len <= NAME_SIZE || !is_c_ascii(name) {
        return None;
    }
    let search = if len > PREFIX_SIZE.saturating_add(1) {
        PREFIX_SIZE.saturating_add(1)
    } else if name.ends_with('/') {
        len.saturating_sub(1)
    } else {
        len
    };
    let i = name.get(..search)?.rfind('/')?;
    let suffix_len = len.saturating_sub(i).saturating_sub(1);
    if i == 0 || suffix_len == 0 || suffix_len > NAME_SIZE || i > PREFIX_SIZE {
        return None;
    }
    Some((name.get(..i)?, name.get(i.saturating_add(1)..)?))
}

/// The name of the `x` entry (docs/oci-tar-mapping.md §8.4 step 3): `path.Join(dir, "PaxHeaders.0", file)`.
/// The filtering and truncation happen in `block::raw_file_header`.
pub(super) fn pax_header_path(name: &str) -> String {
    let (dir, file) = match name.rfind('/') {
        Some(i) => name.split_at(i.saturating_add(1)),
        None => ("", name),
    };
    let parts: Vec<&str> = [dir, "PaxHeaders.0", file]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    clean_path(&parts.join("/"))
}

/// Go's `path.Clean`: collapse `//`, drop `.`, resolve `..` lexically, no trailing `/`.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    // Leading `..` of a relative path cannot be cancelled by later ones.
    let mut fixed = 0;
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if out.len() > fixed => {
                out.pop();
            }
            ".." if rooted => {}
            ".." => {
                out.push("..");
                fixed = out.len();
            }
            _ => out.push(part),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_header_paths() {
        assert_eq!(
            pax_header_path("Files/hello.txt"),
            "Files/PaxHeaders.0/hello.txt"
        );
        assert_eq!(pax_header_path("Files"), "PaxHeaders.0/Files");
        assert_eq!(pax_header_path(""), "PaxHeaders.0");
        assert_eq!(pax_header_path("dir/"), "dir/PaxHeaders.0");
        assert_eq!(pax_header_path("/a//b/./c"), "/a/b/PaxHeaders.0/c");
        assert_eq!(pax_header_path("../../x"), "../../PaxHeaders.0/x");
        assert_eq!(pax_header_path("a/../../x/.."), "../x");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("/../a/"), "/a");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn ustar_split() {
        let long = format!("{}/{}", "p".repeat(60), "n".repeat(60));
        assert_eq!(
            split_ustar_path(&long),
            Some(("p".repeat(60).as_str(), "n".repeat(60).as_str()))
        );
        // Too short to need a split.
        assert_eq!(split_ustar_path("a/b"), None);
        // Name part over 100 bytes.
        assert_eq!(split_ustar_path(&format!("a/{}", "n".repeat(101))), None);
        // Leading slash only: empty prefix.
        assert_eq!(split_ustar_path(&format!("/{}", "n".repeat(101))), None);
        // Prefix over 155 bytes: the search stops at byte 156.
        assert_eq!(
            split_ustar_path(&format!("{}/{}", "p".repeat(156), "n")),
            None
        );
        // Non-ASCII never splits.
        assert_eq!(
            split_ustar_path(&format!("{}/é{}", "p".repeat(60), "n".repeat(60))),
            None
        );
        // A final '/' is ignored when searching in names up to 156 bytes.
        let dir = format!("{}/{}/", "p".repeat(60), "n".repeat(60));
        assert_eq!(
            split_ustar_path(&dir),
            Some((
                "p".repeat(60).as_str(),
                format!("{}/", "n".repeat(60)).as_str()
            ))
        );
    }
}

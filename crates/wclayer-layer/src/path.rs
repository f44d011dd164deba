//! [`LayerPath`]: a validated, relative, `\`-separated name inside a layer.

use std::fmt;

/// Longest path Windows accepts in a relative open: 32 766 UTF-16 code units
/// (docs/layer-semantics.md §7.2).
pub const MAX_PATH_UNITS: usize = 32_766;
/// Longest component NTFS can store: 255 UTF-16 code units.
pub const MAX_COMPONENT_UNITS: usize = 255;

/// A name inside a layer, such as `Files\Windows\System32\kernel32.dll`.
///
/// Built only through [`LayerPath::parse`], which applies the reference layer model's rules
/// (docs/layer-semantics.md §0.1, §7.2): `/` and `\` both separate components; empty and `.`
/// components are dropped and `a\..` collapses; the result must be relative, non-empty,
/// must not climb out of the layer (`..` left over), and must not contain `:` (alternate
/// data streams travel inside the backup stream, never as names) or NUL. Components are
/// limited to 255 UTF-16 units and the whole path to 32 766, as NTFS and Windows limit them.
///
/// The spelling the caller gave is kept ([`LayerPath::original`]) because traces and error
/// messages show names as the tar wrote them. Equality, hashing and ordering use the cleaned
/// form as spelled; case-insensitive comparison (NTFS semantics) uses [`LayerPath::key`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LayerPath {
    path: String,
    original: Option<Box<str>>,
}

/// Why a name is not a valid [`LayerPath`]. Shown as `NAME: invalid layer path: REASON`, an
/// empty name as `""`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: invalid layer path: {reason}", if name.is_empty() { "\"\"" } else { name })]
pub struct PathError {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl LayerPath {
    /// Validates and cleans `name` (see the type docs).
    ///
    /// # Errors
    /// [`PathError`] naming the input and the rule it breaks.
    pub fn parse(name: &str) -> Result<LayerPath, PathError> {
        let err = |reason| PathError {
            name: name.to_string(),
            reason,
        };
        if name.contains('\0') {
            return Err(err("contains NUL"));
        }
        if name.starts_with(['/', '\\']) {
            return Err(err("absolute path"));
        }
        if name.contains(':') {
            return Err(err("contains `:`"));
        }
        let mut parts: Vec<&str> = Vec::new();
        for c in name.split(['/', '\\']) {
            match c {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(err("escapes the layer root"));
                    }
                }
                c => {
                    if c.encode_utf16().count() > MAX_COMPONENT_UNITS {
                        return Err(err("component longer than 255 UTF-16 units"));
                    }
                    parts.push(c);
                }
            }
        }
        if parts.is_empty() {
            return Err(err("names the layer root"));
        }
        let path = parts.join("\\");
        if path.encode_utf16().count() > MAX_PATH_UNITS {
            return Err(err("longer than 32766 UTF-16 units"));
        }
        let original = (path != name).then(|| name.into());
        Ok(LayerPath { path, original })
    }

    /// The cleaned name with `\` separators.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The name exactly as it was given to [`LayerPath::parse`].
    #[must_use]
    pub fn original(&self) -> &str {
        self.original.as_deref().unwrap_or(&self.path)
    }

    /// The cleaned name with `/` separators, as tar names are written.
    #[must_use]
    pub fn to_slash(&self) -> String {
        self.path.replace('\\', "/")
    }

    /// The components, first to last.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.path.split('\\')
    }

    /// The last component.
    #[must_use]
    pub fn file_name(&self) -> &str {
        self.path.rsplit('\\').next().unwrap_or(&self.path)
    }

    /// The parent's name, or `None` for a top-level name.
    #[must_use]
    pub fn parent(&self) -> Option<&str> {
        self.path.rsplit_once('\\').map(|(p, _)| p)
    }

    /// The case-insensitive key of this name (see [`upcase_key`]).
    #[must_use]
    pub fn key(&self) -> String {
        upcase_key(&self.path)
    }

    /// Whether this name is `prefix` or lies below it, compared case-insensitively.
    #[must_use]
    pub fn is_within(&self, prefix: &str) -> bool {
        let me = self.key();
        let p = upcase_key(prefix);
        me == p || me.strip_prefix(&p).is_some_and(|r| r.starts_with('\\'))
    }

    /// A new path: this one joined with one more component.
    ///
    /// # Errors
    /// [`PathError`] when the result is not a valid layer path.
    pub fn join(&self, name: &str) -> Result<LayerPath, PathError> {
        LayerPath::parse(&format!("{}\\{name}", self.path))
    }
}

/// Folds a name for case-insensitive comparison the way NTFS does: each UTF-16 code unit of
/// the Basic Multilingual Plane is mapped to its simple uppercase form (one unit to one unit,
/// so `ß` stays `ß`), and characters outside the BMP are left alone, as NTFS's `$UpCase`
/// table does. The table of the Unicode version Rust ships stands in for the volume's table.
#[must_use]
pub fn upcase_key(name: &str) -> String {
    name.chars().map(fold_char).collect()
}

/// One character of [`upcase_key`]: its simple uppercase form when that is one BMP
/// character, else the character itself.
pub(crate) fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    if u32::from(c) > 0xFFFF {
        return c;
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) if u32::from(u) <= 0xFFFF => u,
        _ => c,
    }
}

impl fmt::Display for LayerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl fmt::Debug for LayerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        for (input, want) in [
            ("Files", "Files"),
            ("Files/", "Files"),
            ("Files/a/./b//c/", "Files\\a\\b\\c"),
            ("Files\\a\\..\\b", "Files\\b"),
            ("./Files/x", "Files\\x"),
            ("Files/ünï/日本", "Files\\ünï\\日本"),
        ] {
            let p = LayerPath::parse(input).unwrap();
            assert_eq!(p.as_str(), want, "{input}");
            assert_eq!(p.original(), input);
        }
    }

    #[test]
    fn rejections() {
        for (input, reason) in [
            ("", "names the layer root"),
            (".", "names the layer root"),
            ("./", "names the layer root"),
            ("/etc/passwd", "absolute path"),
            ("\\\\server\\share", "absolute path"),
            ("C:/x", "contains `:`"),
            ("Files/a.txt:zone", "contains `:`"),
            ("../x", "escapes the layer root"),
            ("Files/../../x", "escapes the layer root"),
            ("a\0b", "contains NUL"),
        ] {
            let e = LayerPath::parse(input).unwrap_err();
            assert_eq!(e.reason, reason, "{input:?}");
        }
        let long = format!("Files/{}", "字".repeat(256));
        assert!(LayerPath::parse(&long).is_err());
        let ok = format!("Files/{}", "字".repeat(255));
        assert!(LayerPath::parse(&ok).is_ok());
    }

    #[test]
    fn parts() {
        let p = LayerPath::parse("Files/a/b.txt").unwrap();
        assert_eq!(p.file_name(), "b.txt");
        assert_eq!(p.parent(), Some("Files\\a"));
        assert_eq!(p.to_slash(), "Files/a/b.txt");
        assert!(p.is_within("files"));
        assert!(p.is_within("FILES\\A"));
        assert!(!p.is_within("Fil"));
        assert_eq!(LayerPath::parse("Files").unwrap().parent(), None);
    }

    #[test]
    fn upcase_is_simple_and_per_unit() {
        assert_eq!(upcase_key("abcÄöß"), "ABCÄÖß");
        assert_eq!(upcase_key("ǆ"), "Ǆ");
        assert_eq!(upcase_key("𐐨"), "𐐨"); // outside the BMP: NTFS leaves it
        assert_eq!(upcase_key("straße"), "STRAßE");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(s in "\\PC{0,40}") {
            if let Ok(p) = LayerPath::parse(&s) {
                let again = LayerPath::parse(p.as_str()).unwrap();
                proptest::prop_assert_eq!(again.as_str(), p.as_str());
                proptest::prop_assert!(p.components().all(|c| c != ".." && c != "." && !c.is_empty()));
            }
        }
    }
}

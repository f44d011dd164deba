//! The one scheme for Windows names that cannot be stored as Linux names as they are.
//!
//! NTFS allows 255 UTF-16 units in a component; Linux file systems allow 255 bytes, so a
//! long CJK name (three UTF-8 bytes per unit) does not fit. And the tools keep their own
//! files next to a layer's names (`.wclayer/` in a layer directory), which no layer name may
//! reach. Both cases get a *derived* name: `.wclayer-n-` followed by the first 32 hex digits
//! of the SHA-256 of the real name. The real name is kept in the metadata (the records of a
//! layer directory, an extended attribute in a transport folder), and a derived name can
//! never equal a name stored as it is, because every name starting with `.wclayer` (in any
//! case) is itself derived.

use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// Longest component Linux file systems store, in bytes (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The prefix of derived names.
pub const DERIVED_PREFIX: &str = ".wclayer-n-";

/// Length of a derived name: the prefix and 32 hex digits (computed at compile time).
const DERIVED_LEN: usize = DERIVED_PREFIX.len() + 32;

/// Names whose case-insensitive form starts with this are reserved for the tools' own files
/// and always stored under a derived name.
const RESERVED_PREFIX: &str = ".wclayer";

/// The on-disk name of one component of a layer name (see the module documentation).
#[must_use]
pub fn disk_name(real: &str) -> Cow<'_, str> {
    disk_name_with_suffix(real, 0)
}

/// The on-disk name of a component that will also be stored with a suffix of `suffix_len`
/// bytes appended (a transport folder keeps a directory's metadata in `<name>.$wcidirs$`):
/// derived when the name with the suffix would not fit.
#[must_use]
pub fn disk_name_with_suffix(real: &str, suffix_len: usize) -> Cow<'_, str> {
    if needs_derived_name(real, suffix_len) {
        let digest = Sha256::digest(real.as_bytes());
        let mut name = String::with_capacity(DERIVED_LEN);
        name.push_str(DERIVED_PREFIX);
        for b in digest.iter().take(16) {
            let _ = write!(name, "{b:02x}");
        }
        Cow::Owned(name)
    } else {
        Cow::Borrowed(real)
    }
}

/// Whether a component gets a derived name (with a suffix of `suffix_len` bytes).
#[must_use]
pub fn needs_derived_name(real: &str, suffix_len: usize) -> bool {
    real.len().saturating_add(suffix_len) > NAME_MAX || is_reserved(real)
}

/// Whether a name starts with `.wclayer` in any case.
#[must_use]
pub fn is_reserved(name: &str) -> bool {
    name.get(..RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}

/// Whether an on-disk name is a derived one.
#[must_use]
pub fn is_derived(disk: &str) -> bool {
    disk.len() == DERIVED_LEN
        && disk.starts_with(DERIVED_PREFIX)
        && disk
            .bytes()
            .skip(DERIVED_PREFIX.len())
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
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
        assert!(is_derived(&d));
        assert_eq!(disk_name(&long), d, "deterministic");
        assert_ne!(disk_name(&"字".repeat(101)), d);
        assert!(disk_name(".wclayer").starts_with(".wclayer-n-"));
        assert!(disk_name(".WCLayer-n-0000").starts_with(".wclayer-n-"));
        assert_ne!(disk_name(".WCLAYER"), disk_name(".wclayer"));
        assert!(!is_derived("Files"));
        let d245 = "a".repeat(246);
        assert_eq!(disk_name(&d245), d245.as_str());
        assert!(is_derived(&disk_name_with_suffix(&d245, 10)));
        assert_eq!(disk_name_with_suffix(&"a".repeat(245), 10).len(), 245);
    }
}

//! The two error types of the security-descriptor codecs: [`Error`] for the binary form
//! (docs/ea-reparse-sd.md §3.1–§3.5) and [`SddlError`] for the text form (§3.8).

use std::fmt;

/// The part of a binary security descriptor an [`Error`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// The descriptor as a whole (bytes after its last component).
    Descriptor,
    /// The 20-byte `SECURITY_DESCRIPTOR_RELATIVE` header (§3.1).
    Header,
    /// The owner SID (§3.3).
    Owner,
    /// The primary-group SID.
    Group,
    /// The header of the system ACL (§3.4).
    Sacl,
    /// The header of the discretionary ACL.
    Dacl,
    /// ACE number `n` (counting from 0) of the SACL (§3.5).
    SaclAce(u16),
    /// ACE number `n` (counting from 0) of the DACL.
    DaclAce(u16),
    /// A SID decoded on its own ([`crate::sd::Sid::from_bytes`]).
    Sid,
    /// An ACL decoded on its own ([`crate::sd::Acl::from_bytes`]).
    Acl,
    /// An ACE decoded on its own ([`crate::sd::Ace::from_bytes`]).
    Ace,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Component::Descriptor => f.write_str("security descriptor"),
            Component::Header => f.write_str("security descriptor header"),
            Component::Owner => f.write_str("owner sid"),
            Component::Group => f.write_str("group sid"),
            Component::Sacl => f.write_str("sacl"),
            Component::Dacl => f.write_str("dacl"),
            Component::SaclAce(n) => write!(f, "ace {n} of the sacl"),
            Component::DaclAce(n) => write!(f, "ace {n} of the dacl"),
            Component::Sid => f.write_str("sid"),
            Component::Acl => f.write_str("acl"),
            Component::Ace => f.write_str("ace"),
        }
    }
}

/// An error decoding a binary security descriptor, ACL, ACE or SID, or building one whose
/// binary form would not fit the format's size fields.
///
/// Offsets are byte offsets from the start of the input handed to the decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A structure extends beyond the end of the input or of the structure that contains it
    /// (an ACE beyond its ACL's `AclSize`, a SID beyond its ACE's `AceSize`, ...).
    #[error(
        "truncated {component} at offset {offset}: {needed} bytes needed, {available} available"
    )]
    Truncated {
        /// The structure being read.
        component: Component,
        /// Offset of the field or structure that does not fit.
        offset: usize,
        /// Bytes it needs from `offset`.
        needed: usize,
        /// Bytes there are from `offset` to the end of the enclosing structure.
        available: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid {component} at offset {offset}: {reason}")]
    Invalid {
        /// The structure being read.
        component: Component,
        /// Offset of the offending field.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes follow the last structure the descriptor (or standalone SID/ACL/ACE) accounts
    /// for.
    #[error("unexpected bytes after the {component} at offset {offset}")]
    TrailingBytes {
        /// The structure that should have ended the input.
        component: Component,
        /// Offset of the first byte nobody accounts for.
        offset: usize,
    },
    /// A value given to a constructor has no binary form (a SID with more than 15
    /// sub-authorities, an ACE larger than 65535 bytes, ...).
    #[error("cannot build {what}: {reason}")]
    Build {
        /// What was being built.
        what: &'static str,
        /// Why it cannot be represented.
        reason: &'static str,
    },
}

/// Displays the character an SDDL parser found, or "end of input".
struct Found(Option<char>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, "{c:?}"),
            None => f.write_str("end of input"),
        }
    }
}

/// An error parsing an SDDL string (docs/ea-reparse-sd.md §3.8).
///
/// `offset` is always the index of a character (a Unicode scalar value, not a byte) in the
/// input string, counting from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SddlError {
    /// The grammar does not allow the character found here.
    #[error("invalid sddl at character {offset}: expected {expected}, found {}", Found(*.found))]
    Unexpected {
        /// Character offset.
        offset: usize,
        /// What the grammar allows here.
        expected: &'static str,
        /// The character found, `None` at the end of the input.
        found: Option<char>,
    },
    /// A token is malformed or out of range (an unknown ACE type or flag, a rights token,
    /// a number that does not fit, a GUID, a numeric SID, ...).
    #[error("invalid {what} `{text}` at character {offset}: {reason}")]
    InvalidToken {
        /// Character offset of the token.
        offset: usize,
        /// What kind of token it is.
        what: &'static str,
        /// The token as written.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A two-letter SID alias that is not in the table of docs/ea-reparse-sd.md §3.7.
    #[error("unknown sid alias `{alias}` at character {offset}")]
    UnknownAlias {
        /// Character offset.
        offset: usize,
        /// The alias as written.
        alias: String,
    },
    /// A domain- or machine-relative alias (`DA`, `LA`, ...): its SID depends on a domain or
    /// machine SID that cannot be known offline (docs/ea-reparse-sd.md §3.7).
    #[error(
        "sid alias `{alias}` at character {offset} is relative to a domain or machine sid, \
         which cannot be resolved offline"
    )]
    DomainRelativeAlias {
        /// Character offset.
        offset: usize,
        /// The alias as written.
        alias: String,
    },
    /// `O:`, `G:`, `D:` or `S:` appears twice.
    #[error("duplicate `{component}:` component at character {offset}")]
    DuplicateComponent {
        /// Character offset of the second occurrence.
        offset: usize,
        /// The component letter.
        component: char,
    },
    /// The fields of an ACE do not fit together (a GUID on an ACE type without object
    /// GUIDs, a condition on a type that is not a callback ACE, ...).
    #[error("invalid ace at character {offset}: {reason}")]
    InvalidAce {
        /// Character offset of the ACE's opening parenthesis or of the offending field.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A conditional expression (`XA`, `XD`, `XU`, `ZA`) is malformed.
    #[error("invalid conditional expression at character {offset}: {reason}")]
    Condition {
        /// Character offset.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The text is well formed but its binary form cannot be built (an ACE or ACL larger
    /// than 65535 bytes, a `#` hex ACE whose bytes are not a valid ACE, ...).
    #[error("sddl at character {offset} has no valid binary form")]
    Binary {
        /// Character offset of the ACE or ACL.
        offset: usize,
        /// Why the binary form cannot be built.
        #[source]
        source: Error,
    },
}

//! Self-relative security descriptors and their SDDL text form (ea-reparse-sd.md §3).
//!
//! The tar format carries a file's security descriptor as opaque bytes
//! (`MSWINDOWS.rawsd`, backup stream id 3); this module parses and prints them for
//! diagnostics, converts the legacy `MSWINDOWS.sd` SDDL record to bytes on import
//! (§3.10), and lets tools synthesize descriptors.
//!
//! # Types and data flow
//!
//! ```text
//!   bytes ──SecurityDescriptor::from_bytes──▶ SecurityDescriptor ──to_sddl──▶ String
//!   bytes ◀──────────────────to_bytes─────── SecurityDescriptor ◀─from_sddl── &str
//! ```
//!
//! - [`SecurityDescriptor`]: header fields, optional owner and group [`Sid`]s, optional
//!   SACL and DACL [`Acl`]s. The `SE_DACL_PRESENT` / `SE_SACL_PRESENT` bits of
//!   [`SecurityDescriptor::control`] together with the `Option` tell "no DACL" from a
//!   **NULL DACL** (bit set, no ACL) — see [`AclState`] and
//!   [`SecurityDescriptor::dacl_state`].
//! - [`Acl`]: revision and [`Ace`]s. An [`Ace`] has a type ([`ace_type`]), flags
//!   ([`ace_flags`]) and an [`AceBody`]: mask and SID (common types), mask, object flags,
//!   optional GUIDs and SID (object types), each followed by any bytes up to `AceSize`
//!   (callback application data, resource-attribute claims, padding), or opaque bytes for
//!   types this crate does not decode.
//! - [`Sid`]: a revision-1 SID, with the well-known SIDs as constants ([`Sid::EVERYONE`],
//!   …) and the SDDL alias table of §3.7 ([`WELL_KNOWN_SIDS`]).
//!
//! Constructors ([`Sid::new`], [`Ace::new`], [`Acl::new`]) check the limits of the binary
//! form, so [`SecurityDescriptor::to_bytes`] cannot fail.
//!
//! # Binary form
//!
//! [`SecurityDescriptor::from_bytes`] reads the self-relative form: it follows the four
//! offsets (components in any order, gaps allowed), bounds-checks every offset and size,
//! requires `SE_SELF_RELATIVE`, checks `AclSize`/`AceSize`/`AceCount` against each other,
//! rejects bytes after the last component, and never panics. Errors ([`Error`]) name the
//! [`Component`] and the byte offset.
//!
//! [`SecurityDescriptor::to_bytes`] writes the canonical layout of §3.1: header, Owner,
//! Group, SACL, DACL, back to back, `AclSize` exact, `Sbz` fields zero. Binary → struct →
//! binary is byte-identical for every descriptor already in that layout (all the constants
//! of §3.9 are). Inputs that are valid but not canonical (other component order, gaps, free
//! space at the end of an ACL, non-zero `Sbz` bytes in an ACL header) decode, and re-encode
//! in canonical form.
//!
//! [`SecurityDescriptor::to_bytes_in`] can also write [`Layout::SaclDaclOwnerGroup`]: the
//! order in which Windows' `ConvertStringSecurityDescriptorToSecurityDescriptorW` places
//! the components, going by descriptors it produced that Samba's test data records
//! (`libcli/security/tests/windows/conditional_aces.txt.json`; the tests reproduce 14 of
//! them byte for byte with this layout). §3.1 chose the other order because the converter's
//! could not be checked; which one the legacy `MSWINDOWS.sd` import uses is the caller's
//! decision.
//!
//! # SDDL
//!
//! [`SecurityDescriptor::to_sddl`] follows the rendering rules of §3.8: `O:`, `G:`, `D:`,
//! `S:` in that order; the aliases of §3.7 else `S-1-…` (authorities of 2³² and more as
//! `0x` and 12 hex digits, §3.3); `P`, `AR`, `AI`;
//! `NO_ACCESS_CONTROL` for a NULL ACL; ACE flags in the order of §3.5; rights by rule
//! (a) exact table entry, (b) single-bit tokens in ascending bit order, (c) `0x` and
//! lower-case hex; GUIDs in lower case. Mandatory-label (`ML`) masks made only of bits 1,
//! 2 and 4 print as `NW`, `NR`, `NX`, as Windows does. Conditional ACEs print their
//! expression as Windows does: every boolean sub-expression in parentheses, attribute
//! prefixes in capitals (`@USER.`, `@DEVICE.`, `@RESOURCE.`), `(XA;;FA;;;WD;((@USER.a ==
//! 1) && (Member_of {SID(BA)})))`.
//!
//! [`SecurityDescriptor::from_sddl`] parses §3.8 and builds the layout §3.1 chooses:
//! revision 1, `Control` = `SE_SELF_RELATIVE` plus the present bits and the `P`/`AR`/`AI`
//! bits of each ACL, ACL revision 2 (4 when an object ACE is present), ACEs in SDDL order.
//! It accepts aliases in any case — those of §3.7 and the other machine-independent ones
//! Windows knows ([`EXTRA_SDDL_ALIASES`], printed back numerically) — and rejects
//! domain-relative ones such as `DA` and `LA` with [`SddlError::DomainRelativeAlias`]. It
//! accepts numeric SIDs with decimal or `0x` authorities
//! and sub-authorities, rights as numbers (`0x` hex, `0` octal or decimal, as C's
//! `strtoul`) or concatenated tokens including the composites, and conditional
//! expressions with the precedence of the Windows documentation (`!` over `&&` over `||`).
//! Whitespace is allowed before and after every token (components, ACL flags, ACEs, ACE
//! fields, expression tokens) but not inside one (`RP LC` and `S-1- 5` are errors). Windows
//! itself rejects whitespace after a rights field, a GUID or a numeric SID; accepting it
//! converts strictly more inputs. Numbers Windows silently saturates or wraps
//! (`0x123456789` as a mask, negative masks) are errors here. Errors ([`SddlError`]) give
//! the character offset.
//!
//! ## wclayer extensions
//!
//! Some ACEs have no exact SDDL form: ACE types without an SDDL token (0x04, 0x0C, 0x0E,
//! 0x0F, 0x10, above 0x15), flags without a token (0x20 `CRITICAL_ACE_FLAG`), object ACEs
//! whose `Flags` field has bits beyond the two GUID-presence bits, application data that is
//! not a conditional expression Windows' syntax can reproduce byte for byte, the claim of
//! a resource-attribute (`RA`) ACE, and bytes a writer left after the SID. So that every
//! descriptor survives binary → SDDL → binary exactly, [`SecurityDescriptor::to_sddl`]
//! renders every ACE, parses the text back and compares; when the ACE does not come back
//! identical it uses one of two forms, which Windows does not accept:
//!
//! - **`#` data field**: `(XA;;FA;;;WD;#6172747800000000)` — the ACE in its standard form
//!   with a seventh field of `#` and the bytes after the SID in lower-case hex. Used when
//!   only those bytes cannot be rendered (opaque callback data, `RA` claims, trailing
//!   bytes).
//! - **`#` ACE**: `(#0c0024000100000001000000…)` — `#` and the whole binary ACE, header
//!   included, in lower-case hex. Used for everything else above.
//!
//! [`SecurityDescriptor::from_sddl`] accepts both forms (hex digits in either case). The
//! ACL revision still follows the object-ACE rule, with a `#` ACE counted by its type byte.
//!
//! What SDDL cannot carry at all is the descriptor's `Revision` and `Sbz1`, control bits
//! other than the present and `P`/`AR`/`AI` bits, an ACL stored while its present bit is
//! clear, and an ACL revision other than the one the converter chooses; binary → SDDL →
//! binary is exact for every descriptor whose fields are within those limits.
//!
//! ```
//! use wclayer_backup::sd::{AclState, Ace, SecurityDescriptor, Sid, access, ace_flags};
//!
//! let sd = SecurityDescriptor::from_sddl("O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;;0x1200a9;;;BU)")?;
//! assert_eq!(sd.owner, Some(Sid::BUILTIN_ADMINISTRATORS));
//! let AclState::Present(dacl) = sd.dacl_state() else { panic!("a dacl") };
//! let inherit = ace_flags::OBJECT_INHERIT_ACE | ace_flags::CONTAINER_INHERIT_ACE;
//! assert_eq!(
//!     dacl.aces(),
//!     [
//!         Ace::allowed(inherit, access::FILE_ALL_ACCESS, Sid::BUILTIN_ADMINISTRATORS),
//!         Ace::allowed(0, access::FILE_READ_EXECUTE, Sid::BUILTIN_USERS),
//!     ]
//! );
//!
//! let bytes = sd.to_bytes();
//! let again = SecurityDescriptor::from_bytes(&bytes)?;
//! assert_eq!(again, sd);
//! assert_eq!(again.to_sddl(), "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;;0x1200a9;;;BU)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acl;
mod binary;
mod condition;
mod error;
mod sddl;
mod sid;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use acl::{
    ACL_REVISION, ACL_REVISION_DS, Ace, AceBody, Acl, Guid, access, ace_flags, ace_type,
    object_flags,
};
pub use error::{Component, Error, SddlError};
pub use sid::{
    DOMAIN_RELATIVE_ALIASES, EXTRA_SDDL_ALIASES, MAX_AUTHORITY, MAX_SUB_AUTHORITIES, Sid,
    WELL_KNOWN_SIDS, WellKnownSid,
};

/// Bits of the `Control` field (§3.2), named as in `winnt.h`.
pub mod control {
    /// The owner was set by a default mechanism.
    pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
    /// The group was set by a default mechanism.
    pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
    /// A DACL is present (`D:`); with DACL offset 0 it is a NULL DACL.
    pub const SE_DACL_PRESENT: u16 = 0x0004;
    /// The DACL was set by a default mechanism.
    pub const SE_DACL_DEFAULTED: u16 = 0x0008;
    /// A SACL is present (`S:`).
    pub const SE_SACL_PRESENT: u16 = 0x0010;
    /// The SACL was set by a default mechanism.
    pub const SE_SACL_DEFAULTED: u16 = 0x0020;
    /// The DACL is untrusted (server security).
    pub const SE_DACL_UNTRUSTED: u16 = 0x0040;
    /// Server security.
    pub const SE_SERVER_SECURITY: u16 = 0x0080;
    /// `AR` after `D:`.
    pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    /// `AR` after `S:`.
    pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    /// `AI` after `D:`.
    pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
    /// `AI` after `S:`.
    pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
    /// `P` after `D:`.
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    /// `P` after `S:`.
    pub const SE_SACL_PROTECTED: u16 = 0x2000;
    /// `Sbz1` holds resource-manager control bits.
    pub const SE_RM_CONTROL_VALID: u16 = 0x4000;
    /// The descriptor is in self-relative form; always set in the binary form used here.
    pub const SE_SELF_RELATIVE: u16 = 0x8000;
}

/// `SECURITY_DESCRIPTOR_REVISION` (§3.1).
pub const SECURITY_DESCRIPTOR_REVISION: u8 = 1;

/// The order in which the encoder places the components after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Layout {
    /// Owner, Group, SACL, DACL: the layout of ea-reparse-sd.md §3.1 and of every
    /// known-good constant (.NET `RawSecurityDescriptor.GetBinaryForm`). The default.
    #[default]
    OwnerGroupSaclDacl,
    /// SACL, DACL, Owner, Group: the layout of the descriptors Windows'
    /// `ConvertStringSecurityDescriptorToSecurityDescriptorW` returned in the captures of
    /// Samba's test suite (see the module docs).
    SaclDaclOwnerGroup,
}

/// What a descriptor says about its DACL or SACL ([`SecurityDescriptor::dacl_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclState<'a> {
    /// The present bit is clear: no ACL (for a DACL, Windows grants everything). An ACL may
    /// still be stored (kept for byte-exactness), but Windows ignores it.
    Absent,
    /// The present bit is set and there is no ACL: a NULL ACL (`NO_ACCESS_CONTROL`).
    Null,
    /// The present bit is set and there is an ACL (for a DACL with no ACEs, Windows denies
    /// everyone).
    Present(&'a Acl),
}

/// A security descriptor (ea-reparse-sd.md §3.1), decoded from or encoded to the
/// self-relative binary form, or to and from SDDL.
///
/// The fields mirror `SECURITY_DESCRIPTOR_RELATIVE`; the offsets are implied by which
/// components are present. `SE_DACL_PRESENT` with `dacl == None` is a NULL DACL; the same
/// holds for the SACL ([`AclState`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecurityDescriptor {
    /// `Revision`: 1 (`SECURITY_DESCRIPTOR_REVISION`); other values are kept as read.
    pub revision: u8,
    /// `Sbz1`: 0, or resource-manager control bits when `SE_RM_CONTROL_VALID` is set.
    pub sbz1: u8,
    /// `Control` ([`control`]). The encoder always sets `SE_SELF_RELATIVE`.
    pub control: u16,
    /// The owner SID (`OffsetOwner`; `None` = 0).
    pub owner: Option<Sid>,
    /// The primary-group SID (`OffsetGroup`).
    pub group: Option<Sid>,
    /// The SACL (`OffsetSacl`); see [`SecurityDescriptor::sacl_state`].
    pub sacl: Option<Acl>,
    /// The DACL (`OffsetDacl`); see [`SecurityDescriptor::dacl_state`].
    pub dacl: Option<Acl>,
}

impl Default for SecurityDescriptor {
    fn default() -> SecurityDescriptor {
        SecurityDescriptor::new()
    }
}

impl SecurityDescriptor {
    /// An empty descriptor: revision 1, `SE_SELF_RELATIVE` only, no owner, group or ACLs
    /// (SDDL: the empty string).
    #[must_use]
    pub const fn new() -> SecurityDescriptor {
        SecurityDescriptor {
            revision: SECURITY_DESCRIPTOR_REVISION,
            sbz1: 0,
            control: control::SE_SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
        }
    }

    /// Decodes a self-relative security descriptor that fills `bytes` exactly (§3.1).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when an offset or size points past the input or past the
    /// enclosing structure; [`Error::Invalid`] when `SE_SELF_RELATIVE` is clear, an offset
    /// points into the header, a SID's revision is not 1 or it has more than 15
    /// sub-authorities, `AclSize` is smaller than the header, `AceCount` names more ACEs
    /// than `AclSize` holds, or an `AceSize` is not a multiple of 4; and
    /// [`Error::TrailingBytes`] when bytes follow the last component. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecurityDescriptor, Error> {
        binary::decode_sd(bytes)
    }

    /// Encodes in the canonical layout (header, Owner, Group, SACL, DACL, back to back;
    /// §3.1), with `SE_SELF_RELATIVE` set.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        binary::encode_sd(self, Layout::OwnerGroupSaclDacl)
    }

    /// Encodes with the components in `layout`'s order ([`Layout`]).
    #[must_use]
    pub fn to_bytes_in(&self, layout: Layout) -> Vec<u8> {
        binary::encode_sd(self, layout)
    }

    /// Renders SDDL following §3.8, with the wclayer extensions of the module docs for ACEs
    /// SDDL cannot otherwise carry.
    #[must_use]
    pub fn to_sddl(&self) -> String {
        sddl::render_sd(self)
    }

    /// Parses SDDL (§3.8) into the descriptor §3.1's converter layout describes.
    ///
    /// # Errors
    ///
    /// [`SddlError`] with the character offset of the problem: a syntax error, an unknown
    /// or domain-relative alias, an invalid token, a duplicate component, an inconsistent
    /// ACE, or an ACE or ACL too large for its binary size field.
    pub fn from_sddl(sddl: &str) -> Result<SecurityDescriptor, SddlError> {
        sddl::parse_sd(sddl)
    }

    /// Whether the DACL is absent, NULL or present.
    #[must_use]
    pub fn dacl_state(&self) -> AclState<'_> {
        acl_state(
            self.control & control::SE_DACL_PRESENT != 0,
            self.dacl.as_ref(),
        )
    }

    /// Whether the SACL is absent, NULL or present.
    #[must_use]
    pub fn sacl_state(&self) -> AclState<'_> {
        acl_state(
            self.control & control::SE_SACL_PRESENT != 0,
            self.sacl.as_ref(),
        )
    }

    /// Sets the DACL and `SE_DACL_PRESENT`; `None` makes it a NULL DACL.
    pub fn set_dacl(&mut self, dacl: Option<Acl>) {
        self.control |= control::SE_DACL_PRESENT;
        self.dacl = dacl;
    }

    /// Sets the SACL and `SE_SACL_PRESENT`; `None` makes it a NULL SACL.
    pub fn set_sacl(&mut self, sacl: Option<Acl>) {
        self.control |= control::SE_SACL_PRESENT;
        self.sacl = sacl;
    }

    /// Removes the DACL and clears `SE_DACL_PRESENT` (no DACL).
    pub fn clear_dacl(&mut self) {
        self.control &= !control::SE_DACL_PRESENT;
        self.dacl = None;
    }

    /// Removes the SACL and clears `SE_SACL_PRESENT` (no SACL).
    pub fn clear_sacl(&mut self) {
        self.control &= !control::SE_SACL_PRESENT;
        self.sacl = None;
    }
}

fn acl_state(present: bool, acl: Option<&Acl>) -> AclState<'_> {
    match (present, acl) {
        (false, _) => AclState::Absent,
        (true, None) => AclState::Null,
        (true, Some(acl)) => AclState::Present(acl),
    }
}

impl fmt::Display for SecurityDescriptor {
    /// The SDDL form ([`SecurityDescriptor::to_sddl`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sddl())
    }
}

impl FromStr for SecurityDescriptor {
    type Err = SddlError;

    /// Parses SDDL ([`SecurityDescriptor::from_sddl`]).
    fn from_str(s: &str) -> Result<SecurityDescriptor, SddlError> {
        SecurityDescriptor::from_sddl(s)
    }
}

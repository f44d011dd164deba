// Module graph. Every `use super::…` points down this list, never up, so no two modules
// depend on each other; the codecs attach their public entry points (`from_bytes`,
// `to_sddl`, ...) to the types from their own modules for the same reason.
//
//   sddl       → condition descriptor acl sid lexer error  SDDL of a whole descriptor
//   condition  → sid lexer error                           conditional-ACE expressions
//   binary     → descriptor acl sid bytes error            bytes of a whole descriptor
//   descriptor → acl sid                                   SecurityDescriptor, control, Layout
//   acl        → sid bytes error                           Acl, Ace, Guid, constants; their bytes
//   sid        → lexer bytes error                         Sid, alias tables; its bytes and token
//   lexer      → error                                     Cursor, push_hex
//   bytes      → error                                     take, read_u32, put_u16, put_u32
//   error                                                  Error, SddlError, Component

//! Self-relative security descriptors and their SDDL text form (docs/ea-reparse-sd.md §3).
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
mod bytes;
mod condition;
mod descriptor;
mod error;
mod lexer;
mod sddl;
mod sid;

#[cfg(test)]
mod tests;

pub use acl::{
    ACL_REVISION, ACL_REVISION_DS, Ace, AceBody, Acl, Guid, access, ace_flags, ace_type,
    object_flags,
};
pub use descriptor::{AclState, Layout, SECURITY_DESCRIPTOR_REVISION, SecurityDescriptor, control};
pub use error::{Component, Error, SddlError};
pub use sid::{
    DOMAIN_RELATIVE_ALIASES, EXTRA_SDDL_ALIASES, MAX_AUTHORITY, MAX_SUB_AUTHORITIES, Sid,
    WELL_KNOWN_SIDS, WellKnownSid,
};

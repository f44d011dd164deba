//! The security descriptor as data (docs/ea-reparse-sd.md §3.1, §3.2): its fields, the bits
//! of its `Control` field, and the component order of its binary form. The codecs attach
//! their entry points to [`SecurityDescriptor`] from their own modules (`binary`, `sddl`),
//! so this module depends on no codec.

use super::acl::Acl;
use super::sid::Sid;

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
    /// Owner, Group, SACL, DACL: the layout of docs/ea-reparse-sd.md §3.1 and of every
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

/// A security descriptor (docs/ea-reparse-sd.md §3.1), decoded from or encoded to the
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

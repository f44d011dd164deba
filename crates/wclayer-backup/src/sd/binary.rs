//! The binary codec of whole descriptors: the self-relative form of docs/ea-reparse-sd.md §3.1,
//! whose header points at SIDs and ACLs that `sid` and `acl` decode and encode.
//!
//! Every read goes through the bounds-checked primitives of `bytes`, so a size field can
//! never make a read leave its ACE, ACL or the input, and no arithmetic on offsets can
//! overflow.

use super::acl::{Acl, AclKind, decode_acl};
use super::bytes::{put_u16, put_u32, read_u32, take};
use super::descriptor::{Layout, SecurityDescriptor, control};
use super::error::{Component, Error};
use super::sid::{Sid, decode_sid};

/// Size of `SECURITY_DESCRIPTOR_RELATIVE` (§3.1).
const HEADER_LEN: usize = 20;

impl SecurityDescriptor {
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
        decode_sd(bytes)
    }

    /// Encodes in the canonical layout (header, Owner, Group, SACL, DACL, back to back;
    /// §3.1), with `SE_SELF_RELATIVE` set.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_sd(self, Layout::OwnerGroupSaclDacl)
    }

    /// Encodes with the components in `layout`'s order ([`Layout`]).
    #[must_use]
    pub fn to_bytes_in(&self, layout: Layout) -> Vec<u8> {
        encode_sd(self, layout)
    }
}

/// Decodes a self-relative security descriptor (§3.1), following the four offsets.
fn decode_sd(bytes: &[u8]) -> Result<SecurityDescriptor, Error> {
    let header = take(bytes, 0, HEADER_LEN, bytes.len(), Component::Header)?;
    let [revision, sbz1, c0, c1, ..] = *header else {
        return Err(Error::Truncated {
            component: Component::Header,
            offset: 0,
            needed: HEADER_LEN,
            available: header.len(),
        });
    };
    let control = u16::from_le_bytes([c0, c1]);
    if control & control::SE_SELF_RELATIVE == 0 {
        return Err(Error::Invalid {
            component: Component::Header,
            offset: 2,
            reason: "SE_SELF_RELATIVE is not set (only the self-relative form is supported)",
        });
    }
    let offset_of = |field: usize, component: Component| -> Result<Option<usize>, Error> {
        let value = read_u32(bytes, field, HEADER_LEN, Component::Header)?;
        if value == 0 {
            return Ok(None);
        }
        let value = usize::try_from(value).map_err(|_| Error::Invalid {
            component,
            offset: field,
            reason: "offset does not fit in memory",
        })?;
        if value < HEADER_LEN {
            return Err(Error::Invalid {
                component: Component::Header,
                offset: field,
                reason: "component offset points into the header",
            });
        }
        Ok(Some(value))
    };
    let owner_at = offset_of(4, Component::Owner)?;
    let group_at = offset_of(8, Component::Group)?;
    let sacl_at = offset_of(12, Component::Sacl)?;
    let dacl_at = offset_of(16, Component::Dacl)?;

    let mut end = HEADER_LEN;
    let mut sid_at = |at: Option<usize>, component| -> Result<Option<Sid>, Error> {
        at.map(|at| {
            let (sid, sid_end) = decode_sid(bytes, at, bytes.len(), component)?;
            end = end.max(sid_end);
            Ok(sid)
        })
        .transpose()
    };
    let owner = sid_at(owner_at, Component::Owner)?;
    let group = sid_at(group_at, Component::Group)?;
    // An ACL is decoded whenever its offset is set, even if the present bit is clear:
    // Windows ignores such an ACL, but keeping it keeps binary → struct → binary exact.
    let mut acl_at = |at: Option<usize>, component, kind| -> Result<Option<Acl>, Error> {
        at.map(|at| {
            let (acl, acl_end) = decode_acl(bytes, at, component, Some(kind))?;
            end = end.max(acl_end);
            Ok(acl)
        })
        .transpose()
    };
    let sacl = acl_at(sacl_at, Component::Sacl, AclKind::Sacl)?;
    let dacl = acl_at(dacl_at, Component::Dacl, AclKind::Dacl)?;
    // The components may come in any order and with gaps, but nothing may follow the last
    // one: bytes nobody points at are corrupt input (house rule: reject trailing bytes).
    if bytes.len() > end {
        return Err(Error::TrailingBytes {
            component: Component::Descriptor,
            offset: end,
        });
    }
    Ok(SecurityDescriptor {
        revision,
        sbz1,
        control,
        owner,
        group,
        sacl,
        dacl,
    })
}

/// Encodes a descriptor in the self-relative form, components back to back in `layout`'s
/// order. `SE_SELF_RELATIVE` is always set, since that is the form written.
fn encode_sd(sd: &SecurityDescriptor, layout: Layout) -> Vec<u8> {
    let mut owner = Vec::new();
    let mut group = Vec::new();
    let mut sacl = Vec::new();
    let mut dacl = Vec::new();
    if let Some(sid) = &sd.owner {
        sid.write_to(&mut owner);
    }
    if let Some(sid) = &sd.group {
        sid.write_to(&mut group);
    }
    if let Some(acl) = &sd.sacl {
        acl.write_to(&mut sacl);
    }
    if let Some(acl) = &sd.dacl {
        acl.write_to(&mut dacl);
    }
    // (part, index of its offset field in the header)
    let order: [(&[u8], usize); 4] = match layout {
        Layout::OwnerGroupSaclDacl => [(&owner, 0), (&group, 1), (&sacl, 2), (&dacl, 3)],
        Layout::SaclDaclOwnerGroup => [(&sacl, 2), (&dacl, 3), (&owner, 0), (&group, 1)],
    };
    let mut offsets = [0u32; 4];
    let mut body = Vec::new();
    for (part, field) in order {
        if part.is_empty() {
            continue;
        }
        // At most 20 + 2·68 + 2·65535 bytes: always fits in a u32.
        let offset = u32::try_from(HEADER_LEN.saturating_add(body.len())).unwrap_or(u32::MAX);
        if let Some(slot) = offsets.get_mut(field) {
            *slot = offset;
        }
        body.extend_from_slice(part);
    }
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    out.push(sd.revision);
    out.push(sd.sbz1);
    put_u16(&mut out, sd.control | control::SE_SELF_RELATIVE);
    for offset in offsets {
        put_u32(&mut out, offset);
    }
    out.extend_from_slice(&body);
    out
}

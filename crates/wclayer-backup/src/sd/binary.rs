//! The binary codec: self-relative security descriptors, ACLs, ACEs and SIDs
//! (ea-reparse-sd.md §3.1–§3.5).
//!
//! Every read goes through [`take`], which checks the range against both the input and
//! the enclosing structure (`limit`), so a size field can never make a read leave its ACE,
//! ACL or the input, and no arithmetic on offsets can overflow.

use super::acl::{Ace, AceBody, AceShape, Acl, Guid, shape_of};
use super::error::{Component, Error};
use super::sid::{MAX_SUB_AUTHORITIES, Sid};
use super::{Layout, SecurityDescriptor, control};

/// Size of `SECURITY_DESCRIPTOR_RELATIVE` (§3.1).
const HEADER_LEN: usize = 20;

/// `len` bytes at `offset`, which must end at or before `limit` (itself at most
/// `bytes.len()`).
fn take(
    bytes: &[u8],
    offset: usize,
    len: usize,
    limit: usize,
    component: Component,
) -> Result<&[u8], Error> {
    let truncated = || Error::Truncated {
        component,
        offset,
        needed: len,
        available: limit.min(bytes.len()).saturating_sub(offset),
    };
    let end = offset.checked_add(len).ok_or_else(truncated)?;
    if end > limit {
        return Err(truncated());
    }
    bytes.get(offset..end).ok_or_else(truncated)
}

fn read_u32(bytes: &[u8], offset: usize, limit: usize, component: Component) -> Result<u32, Error> {
    let b = take(bytes, offset, 4, limit, component)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ok(u32::from_le_bytes(a))
}

/// `offset + n` for offsets already proven to lie inside `bytes` (so the sum cannot
/// overflow in practice); saturates rather than wrapping if that is ever wrong, which turns
/// into a truncation error at the next [`take`].
fn at(offset: usize, n: usize) -> usize {
    offset.saturating_add(n)
}

/// Decodes the SID at `offset`, which must end at or before `limit`. Returns the SID and
/// the offset just past it.
pub(crate) fn decode_sid(
    bytes: &[u8],
    offset: usize,
    limit: usize,
    component: Component,
) -> Result<(Sid, usize), Error> {
    let head = take(bytes, offset, 8, limit, component)?;
    let [revision, count, authority @ ..] = head else {
        return Err(Error::Truncated {
            component,
            offset,
            needed: 8,
            available: head.len(),
        });
    };
    if *revision != 1 {
        return Err(Error::Invalid {
            component,
            offset,
            reason: "sid revision is not 1",
        });
    }
    let count = usize::from(*count);
    if count > MAX_SUB_AUTHORITIES {
        return Err(Error::Invalid {
            component,
            offset: at(offset, 1),
            reason: "sid has more than 15 sub-authorities",
        });
    }
    let mut be = [0u8; 8];
    if let Some(low) = be.get_mut(2..) {
        low.copy_from_slice(authority);
    }
    let authority = u64::from_be_bytes(be);
    let subs_at = at(offset, 8);
    let subs_len = count.saturating_mul(4);
    let raw = take(bytes, subs_at, subs_len, limit, component)?;
    let subs: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| {
            let mut a = [0u8; 4];
            a.copy_from_slice(c);
            u32::from_le_bytes(a)
        })
        .collect();
    // Cannot fail: the authority has 48 bits and the count was checked.
    let sid = Sid::new(authority, &subs)?;
    Ok((sid, at(subs_at, subs_len)))
}

/// Decodes the ACE at `offset`, which must end at or before `limit` (the end of its ACL).
/// Returns the ACE and the offset just past it (`offset + AceSize`).
pub(crate) fn decode_ace(
    bytes: &[u8],
    offset: usize,
    limit: usize,
    component: Component,
) -> Result<(Ace, usize), Error> {
    let header = take(bytes, offset, 4, limit, component)?;
    let [ace_type, flags, size_lo, size_hi] = *header else {
        return Err(Error::Truncated {
            component,
            offset,
            needed: 4,
            available: header.len(),
        });
    };
    let size = usize::from(u16::from_le_bytes([size_lo, size_hi]));
    if size < 4 || !size.is_multiple_of(4) {
        return Err(Error::Invalid {
            component,
            offset: at(offset, 2),
            reason: "AceSize is not a multiple of 4 of at least 4",
        });
    }
    // The whole ACE must lie inside the ACL; everything below reads inside the ACE.
    take(bytes, offset, size, limit, component)?;
    let end = at(offset, size);
    let body_at = at(offset, 4);
    let body = match shape_of(ace_type) {
        AceShape::Common => {
            let mask = read_u32(bytes, body_at, end, component)?;
            let (sid, sid_end) = decode_sid(bytes, at(body_at, 4), end, component)?;
            let data = take(bytes, sid_end, end.saturating_sub(sid_end), end, component)?;
            AceBody::Common {
                mask,
                sid,
                data: data.to_vec(),
            }
        }
        AceShape::Object => {
            let mask = read_u32(bytes, body_at, end, component)?;
            let object_flags = read_u32(bytes, at(body_at, 4), end, component)?;
            let mut pos = at(body_at, 8);
            let mut guid = |present: bool| -> Result<Option<Guid>, Error> {
                if !present {
                    return Ok(None);
                }
                let raw = take(bytes, pos, 16, end, component)?;
                let mut g = [0u8; 16];
                g.copy_from_slice(raw);
                pos = at(pos, 16);
                Ok(Some(Guid(g)))
            };
            let object_type = guid(object_flags & 1 != 0)?;
            let inherited_object_type = guid(object_flags & 2 != 0)?;
            let (sid, sid_end) = decode_sid(bytes, pos, end, component)?;
            let data = take(bytes, sid_end, end.saturating_sub(sid_end), end, component)?;
            AceBody::Object {
                mask,
                flags: object_flags,
                object_type,
                inherited_object_type,
                sid,
                data: data.to_vec(),
            }
        }
        AceShape::Opaque => {
            AceBody::Opaque(take(bytes, body_at, size.saturating_sub(4), end, component)?.to_vec())
        }
    };
    // Cannot fail: the shape matches the type and the size came from a u16 multiple of 4.
    let ace = Ace::new(ace_type, flags, body).map_err(|_| Error::Invalid {
        component,
        offset,
        reason: "ace cannot be represented",
    })?;
    Ok((ace, end))
}

/// Which ACL of a descriptor is being decoded, to name its ACEs in errors.
#[derive(Clone, Copy)]
pub(crate) enum AclKind {
    Sacl,
    Dacl,
}

/// Decodes the ACL at `offset`. Returns the ACL and the offset just past it
/// (`offset + AclSize`).
///
/// `AclSize` may exceed the ACEs (free space at the end of the ACL, which Windows allows);
/// that space is not kept, so such an ACL is not in canonical form. `Sbz1`/`Sbz2` are not
/// kept either (the encoder writes zero).
pub(crate) fn decode_acl(
    bytes: &[u8],
    offset: usize,
    component: Component,
    kind: Option<AclKind>,
) -> Result<(Acl, usize), Error> {
    let header = take(bytes, offset, 8, bytes.len(), component)?;
    let [revision, _sbz1, s0, s1, c0, c1, _, _] = *header else {
        return Err(Error::Truncated {
            component,
            offset,
            needed: 8,
            available: header.len(),
        });
    };
    let size = usize::from(u16::from_le_bytes([s0, s1]));
    let count = u16::from_le_bytes([c0, c1]);
    if size < 8 {
        return Err(Error::Invalid {
            component,
            offset: at(offset, 2),
            reason: "AclSize is smaller than the acl header",
        });
    }
    take(bytes, offset, size, bytes.len(), component)?;
    let end = at(offset, size);
    let mut pos = at(offset, 8);
    let mut aces = Vec::new();
    for index in 0..count {
        let ace_component = match kind {
            Some(AclKind::Sacl) => Component::SaclAce(index),
            Some(AclKind::Dacl) => Component::DaclAce(index),
            None => Component::Ace,
        };
        if pos >= end {
            return Err(Error::Invalid {
                component,
                offset: at(offset, 4),
                reason: "AceCount names more aces than AclSize holds",
            });
        }
        let (ace, next) = decode_ace(bytes, pos, end, ace_component)?;
        aces.push(ace);
        pos = next;
    }
    // Cannot fail: the ACEs fit in AclSize, a u16.
    let acl = Acl::new(revision, aces).map_err(|_| Error::Invalid {
        component,
        offset,
        reason: "acl cannot be represented",
    })?;
    Ok((acl, end))
}

/// Decodes a self-relative security descriptor (§3.1), following the four offsets.
pub(crate) fn decode_sd(bytes: &[u8]) -> Result<SecurityDescriptor, Error> {
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
pub(crate) fn encode_sd(sd: &SecurityDescriptor, layout: Layout) -> Vec<u8> {
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
    out.extend_from_slice(&(sd.control | control::SE_SELF_RELATIVE).to_le_bytes());
    for offset in offsets {
        out.extend_from_slice(&offset.to_le_bytes());
    }
    out.extend_from_slice(&body);
    out
}

//! ACLs and ACEs (docs/ea-reparse-sd.md §3.4, §3.5), their named constants (§3.5, §3.6) and
//! their binary codec, which the descriptor decoder calls for the SACL and DACL.

use std::fmt;
use std::str::FromStr;

use super::bytes::{at, put_u16, put_u32, read_u32, take};
use super::error::{Component, Error, SddlError};
use super::sid::{Sid, decode_sid};

/// ACE types: the `AceType` byte of the ACE header (§3.5), named as in `winnt.h`.
pub mod ace_type {
    /// `A`: allows the mask to the SID.
    pub const ACCESS_ALLOWED_ACE_TYPE: u8 = 0x00;
    /// `D`: denies the mask to the SID.
    pub const ACCESS_DENIED_ACE_TYPE: u8 = 0x01;
    /// `AU`: audits access by the SID (SACL).
    pub const SYSTEM_AUDIT_ACE_TYPE: u8 = 0x02;
    /// `AL`: alarm (SACL; unused by Windows).
    pub const SYSTEM_ALARM_ACE_TYPE: u8 = 0x03;
    /// Compound ACE (server/client SID pair); no SDDL form, kept opaque.
    pub const ACCESS_ALLOWED_COMPOUND_ACE_TYPE: u8 = 0x04;
    /// `OA`: allowed, with object GUIDs.
    pub const ACCESS_ALLOWED_OBJECT_ACE_TYPE: u8 = 0x05;
    /// `OD`: denied, with object GUIDs.
    pub const ACCESS_DENIED_OBJECT_ACE_TYPE: u8 = 0x06;
    /// `OU`: audit, with object GUIDs.
    pub const SYSTEM_AUDIT_OBJECT_ACE_TYPE: u8 = 0x07;
    /// `OL`: alarm, with object GUIDs.
    pub const SYSTEM_ALARM_OBJECT_ACE_TYPE: u8 = 0x08;
    /// `XA`: allowed, with application data (a conditional expression when it starts with
    /// `artx`).
    pub const ACCESS_ALLOWED_CALLBACK_ACE_TYPE: u8 = 0x09;
    /// `XD`: denied, with application data.
    pub const ACCESS_DENIED_CALLBACK_ACE_TYPE: u8 = 0x0A;
    /// `ZA`: allowed, with object GUIDs and application data.
    pub const ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE: u8 = 0x0B;
    /// Denied, with object GUIDs and application data; no SDDL form.
    pub const ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE: u8 = 0x0C;
    /// `XU`: audit, with application data.
    pub const SYSTEM_AUDIT_CALLBACK_ACE_TYPE: u8 = 0x0D;
    /// Alarm, with application data; no SDDL form.
    pub const SYSTEM_ALARM_CALLBACK_ACE_TYPE: u8 = 0x0E;
    /// Audit, with object GUIDs and application data; no SDDL form.
    pub const SYSTEM_AUDIT_CALLBACK_OBJECT_ACE_TYPE: u8 = 0x0F;
    /// Alarm, with object GUIDs and application data; no SDDL form.
    pub const SYSTEM_ALARM_CALLBACK_OBJECT_ACE_TYPE: u8 = 0x10;
    /// `ML`: mandatory integrity label (mask bits `NW`, `NR`, `NX`).
    pub const SYSTEM_MANDATORY_LABEL_ACE_TYPE: u8 = 0x11;
    /// `RA`: resource attribute (a claim attribute after the SID).
    pub const SYSTEM_RESOURCE_ATTRIBUTE_ACE_TYPE: u8 = 0x12;
    /// `SP`: central access policy id.
    pub const SYSTEM_SCOPED_POLICY_ID_ACE_TYPE: u8 = 0x13;
    /// `TL`: process trust label.
    pub const SYSTEM_PROCESS_TRUST_LABEL_ACE_TYPE: u8 = 0x14;
    /// `FL`: access filter.
    pub const SYSTEM_ACCESS_FILTER_ACE_TYPE: u8 = 0x15;
}

/// ACE flags: the `AceFlags` byte of the ACE header (§3.5), named as in `winnt.h`.
pub mod ace_flags {
    /// `OI`: non-container children inherit the ACE.
    pub const OBJECT_INHERIT_ACE: u8 = 0x01;
    /// `CI`: container children inherit the ACE.
    pub const CONTAINER_INHERIT_ACE: u8 = 0x02;
    /// `NP`: the inherited copy does not inherit further.
    pub const NO_PROPAGATE_INHERIT_ACE: u8 = 0x04;
    /// `IO`: the ACE applies only to children.
    pub const INHERIT_ONLY_ACE: u8 = 0x08;
    /// `ID`: the ACE was inherited.
    pub const INHERITED_ACE: u8 = 0x10;
    /// Critical ACE (newer Windows); no SDDL token in §3.5, so an ACE carrying it is
    /// rendered in the wclayer hex form (see the [`crate::sd`] module docs).
    pub const CRITICAL_ACE_FLAG: u8 = 0x20;
    /// `SA`: audit successful access.
    pub const SUCCESSFUL_ACCESS_ACE_FLAG: u8 = 0x40;
    /// `FA`: audit failed access.
    pub const FAILED_ACCESS_ACE_FLAG: u8 = 0x80;
}

/// Bits of the `Flags` field of object ACEs (§3.5): which GUIDs follow.
pub mod object_flags {
    /// The object-type GUID is present.
    pub const ACE_OBJECT_TYPE_PRESENT: u32 = 0x1;
    /// The inherited-object-type GUID is present.
    pub const ACE_INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;
}

/// Access-mask bits (§3.6). The file meanings are given first; the SDDL token names are
/// the directory-service meanings of the same bits.
pub mod access {
    /// `CC`: FILE_READ_DATA / FILE_LIST_DIRECTORY.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// `DC`: FILE_WRITE_DATA / FILE_ADD_FILE.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// `LC`: FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// `SW`: FILE_READ_EA.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// `RP`: FILE_WRITE_EA.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// `WP`: FILE_EXECUTE / FILE_TRAVERSE.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// `DT`: FILE_DELETE_CHILD.
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    /// `LO`: FILE_READ_ATTRIBUTES.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// `CR`: FILE_WRITE_ATTRIBUTES.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// `SD`: DELETE.
    pub const DELETE: u32 = 0x0001_0000;
    /// `RC`: READ_CONTROL.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// `WD`: WRITE_DAC.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// `WO`: WRITE_OWNER.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// SYNCHRONIZE (no SDDL token).
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// ACCESS_SYSTEM_SECURITY (no single-bit token when rendering).
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// MAXIMUM_ALLOWED (no SDDL token).
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// `GA`: GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// `GX`: GENERIC_EXECUTE.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// `GW`: GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// `GR`: GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
    /// `FA`: FILE_ALL_ACCESS.
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
    /// `FR`: FILE_GENERIC_READ.
    pub const FILE_GENERIC_READ: u32 = 0x0012_0089;
    /// `FW`: FILE_GENERIC_WRITE.
    pub const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
    /// `FX`: FILE_GENERIC_EXECUTE.
    pub const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;
    /// `KA`: KEY_ALL_ACCESS.
    pub const KEY_ALL_ACCESS: u32 = 0x000F_003F;
    /// `KR`: KEY_READ (also `KX`, KEY_EXECUTE, the same value).
    pub const KEY_READ: u32 = 0x0002_0019;
    /// `KW`: KEY_WRITE.
    pub const KEY_WRITE: u32 = 0x0002_0006;
    /// Read and execute on a file (no token; renders as `0x1200a9`).
    pub const FILE_READ_EXECUTE: u32 = 0x0012_00A9;
    /// Modify on a file (no token; renders as `0x1301bf`).
    pub const FILE_MODIFY: u32 = 0x0013_01BF;
    /// `NW` (mandatory label ACEs): no write up.
    pub const SYSTEM_MANDATORY_LABEL_NO_WRITE_UP: u32 = 0x1;
    /// `NR` (mandatory label ACEs): no read up.
    pub const SYSTEM_MANDATORY_LABEL_NO_READ_UP: u32 = 0x2;
    /// `NX` (mandatory label ACEs): no execute up.
    pub const SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP: u32 = 0x4;
}

/// ACL revision 2 (`ACL_REVISION`), used unless an object ACE is present (§3.4).
pub const ACL_REVISION: u8 = 2;
/// ACL revision 4 (`ACL_REVISION_DS`), required when an object ACE is present (§3.4).
pub const ACL_REVISION_DS: u8 = 4;

/// How the body of an ACE of a given type is laid out (§3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AceShape {
    /// `Mask`, SID, then any further bytes.
    Common,
    /// `Mask`, `Flags`, the GUIDs `Flags` names, SID, then any further bytes.
    Object,
    /// Not decoded.
    Opaque,
}

/// The body layout of an ACE type.
pub(crate) const fn shape_of(ace_type: u8) -> AceShape {
    match ace_type {
        0x00..=0x03 | 0x09 | 0x0A | 0x0D | 0x0E | 0x11..=0x15 => AceShape::Common,
        0x05..=0x08 | 0x0B | 0x0C | 0x0F | 0x10 => AceShape::Object,
        _ => AceShape::Opaque,
    }
}

/// A GUID as stored in object ACEs: 16 bytes, the first three fields little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl fmt::Display for Guid {
    /// The registry form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case (§3.8 rule 4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = self.0;
        let [d0, d1, d2, d3, d4, d5, d6, d7] = d;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{d0:02x}{d1:02x}-{d2:02x}{d3:02x}{d4:02x}{d5:02x}{d6:02x}{d7:02x}",
            u32::from_le_bytes([a0, a1, a2, a3]),
            u16::from_le_bytes([b0, b1]),
            u16::from_le_bytes([c0, c1]),
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = SddlError;

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in either case (no braces).
    fn from_str(s: &str) -> Result<Guid, SddlError> {
        parse_guid(s).ok_or_else(|| SddlError::InvalidToken {
            offset: 0,
            what: "guid",
            text: s.to_owned(),
            reason: "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        })
    }
}

/// Parses the registry form of a GUID.
pub(crate) fn parse_guid(s: &str) -> Option<Guid> {
    let mut groups = s.split('-');
    let mut next = |len: usize| -> Option<&str> {
        groups
            .next()
            .filter(|g| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let a = u32::from_str_radix(next(8)?, 16).ok()?;
    let b = u16::from_str_radix(next(4)?, 16).ok()?;
    let c = u16::from_str_radix(next(4)?, 16).ok()?;
    let d = u16::from_str_radix(next(4)?, 16).ok()?;
    let e = u64::from_str_radix(next(12)?, 16).ok()?;
    if groups.next().is_some() {
        return None;
    }
    let mut out = [0u8; 16];
    let mut w = out.iter_mut();
    let bytes = a
        .to_le_bytes()
        .into_iter()
        .chain(b.to_le_bytes())
        .chain(c.to_le_bytes())
        .chain(d.to_be_bytes())
        .chain(e.to_be_bytes().into_iter().skip(2));
    for (slot, byte) in w.by_ref().zip(bytes) {
        *slot = byte;
    }
    Some(Guid(out))
}

/// The body of an ACE: what follows the 4-byte header (§3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AceBody {
    /// The common layout: `Mask`, SID, and whatever else `AceSize` covers.
    ///
    /// Used by allowed/denied/audit/alarm, their callback forms, mandatory label, resource
    /// attribute, scoped policy, trust label and access filter ACEs.
    Common {
        /// The access mask (§3.6).
        mask: u32,
        /// The trustee.
        sid: Sid,
        /// The bytes between the SID and the end of the ACE: the application data of a
        /// callback ACE (a conditional expression starting with `artx`, or opaque), the
        /// claim of a resource-attribute ACE, or padding a writer left. Kept so that binary
        /// → struct → binary is exact.
        data: Vec<u8>,
    },
    /// The object layout (types 5–8, 0x0B, 0x0C, 0x0F, 0x10).
    Object {
        /// The access mask (§3.6).
        mask: u32,
        /// The `Flags` field as stored. Its two low bits
        /// ([`object_flags::ACE_OBJECT_TYPE_PRESENT`],
        /// [`object_flags::ACE_INHERITED_OBJECT_TYPE_PRESENT`]) always agree with the two
        /// options below: [`Ace::new`] sets them from the options.
        flags: u32,
        /// The object-type GUID.
        object_type: Option<Guid>,
        /// The inherited-object-type GUID.
        inherited_object_type: Option<Guid>,
        /// The trustee.
        sid: Sid,
        /// The bytes between the SID and the end of the ACE (as for [`AceBody::Common`]).
        data: Vec<u8>,
    },
    /// The body of an ACE type this crate does not decode (compound ACEs, types above
    /// 0x15), kept byte for byte.
    Opaque(Vec<u8>),
}

impl AceBody {
    fn encoded_len(&self) -> Option<usize> {
        match self {
            AceBody::Common { sid, data, .. } => 4usize
                .checked_add(sid.encoded_len())?
                .checked_add(data.len()),
            AceBody::Object {
                object_type,
                inherited_object_type,
                sid,
                data,
                ..
            } => {
                let guids = usize::from(object_type.is_some())
                    .checked_add(usize::from(inherited_object_type.is_some()))?
                    .checked_mul(16)?;
                8usize
                    .checked_add(guids)?
                    .checked_add(sid.encoded_len())?
                    .checked_add(data.len())
            }
            AceBody::Opaque(bytes) => Some(bytes.len()),
        }
    }
}

/// An access control entry (§3.5): a 4-byte header (`AceType`, `AceFlags`, `AceSize`) and
/// a body.
///
/// Built only through [`Ace::new`] (or a decoder), which checks that the body matches the
/// type and that the binary size fits: `AceSize` is a `u16` and a multiple of 4. So every
/// `Ace` can be encoded, and binary → `Ace` → binary is byte-exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ace {
    ace_type: u8,
    flags: u8,
    body: AceBody,
}

impl Ace {
    /// Builds an ACE.
    ///
    /// For [`AceBody::Object`] the two GUID-presence bits of `flags` are set from the two
    /// options, whatever the caller passed.
    ///
    /// # Errors
    ///
    /// [`Error::Build`] if the body's variant does not match the layout of `ace_type`
    /// (common, object, or opaque for the types this crate does not decode), or if the
    /// whole ACE would be larger than 65535 bytes or not a multiple of 4 bytes.
    pub fn new(ace_type: u8, flags: u8, mut body: AceBody) -> Result<Ace, Error> {
        let matches = matches!(
            (&body, shape_of(ace_type)),
            (AceBody::Common { .. }, AceShape::Common)
                | (AceBody::Object { .. }, AceShape::Object)
                | (AceBody::Opaque(_), AceShape::Opaque)
        );
        if !matches {
            return Err(Error::Build {
                what: "ace",
                reason: "the body does not have the layout of the ace type",
            });
        }
        if let AceBody::Object {
            flags: object_flags,
            object_type,
            inherited_object_type,
            ..
        } = &mut body
        {
            let mut present = 0;
            if object_type.is_some() {
                present |= object_flags::ACE_OBJECT_TYPE_PRESENT;
            }
            if inherited_object_type.is_some() {
                present |= object_flags::ACE_INHERITED_OBJECT_TYPE_PRESENT;
            }
            *object_flags = (*object_flags
                & !(object_flags::ACE_OBJECT_TYPE_PRESENT
                    | object_flags::ACE_INHERITED_OBJECT_TYPE_PRESENT))
                | present;
        }
        let size = body
            .encoded_len()
            .and_then(|len| len.checked_add(4))
            .filter(|&size| size <= usize::from(u16::MAX));
        match size {
            None => Err(Error::Build {
                what: "ace",
                reason: "larger than 65535 bytes",
            }),
            Some(size) if !size.is_multiple_of(4) => Err(Error::Build {
                what: "ace",
                reason: "AceSize must be a multiple of 4",
            }),
            Some(_) => Ok(Ace {
                ace_type,
                flags,
                body,
            }),
        }
    }

    /// A common-layout ACE without extra data: `(type;flags;mask;;;sid)`.
    ///
    /// # Errors
    ///
    /// [`Error::Build`] if `ace_type` does not have the common layout.
    pub fn common(ace_type: u8, flags: u8, mask: u32, sid: Sid) -> Result<Ace, Error> {
        Ace::new(
            ace_type,
            flags,
            AceBody::Common {
                mask,
                sid,
                data: Vec::new(),
            },
        )
    }

    /// An access-allowed ACE (`A`), the kind file DACLs are made of.
    #[must_use]
    pub fn allowed(flags: u8, mask: u32, sid: Sid) -> Ace {
        // A SID is at most 68 bytes, so the ACE always fits; built directly.
        Ace {
            ace_type: ace_type::ACCESS_ALLOWED_ACE_TYPE,
            flags,
            body: AceBody::Common {
                mask,
                sid,
                data: Vec::new(),
            },
        }
    }

    /// An access-denied ACE (`D`).
    #[must_use]
    pub fn denied(flags: u8, mask: u32, sid: Sid) -> Ace {
        Ace {
            ace_type: ace_type::ACCESS_DENIED_ACE_TYPE,
            flags,
            body: AceBody::Common {
                mask,
                sid,
                data: Vec::new(),
            },
        }
    }

    /// The `AceType` byte ([`ace_type`]).
    #[must_use]
    pub const fn ace_type(&self) -> u8 {
        self.ace_type
    }

    /// The `AceFlags` byte ([`ace_flags`]).
    #[must_use]
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// The body.
    #[must_use]
    pub const fn body(&self) -> &AceBody {
        &self.body
    }

    /// The access mask, unless the body is opaque.
    #[must_use]
    pub const fn mask(&self) -> Option<u32> {
        match &self.body {
            AceBody::Common { mask, .. } | AceBody::Object { mask, .. } => Some(*mask),
            AceBody::Opaque(_) => None,
        }
    }

    /// The trustee SID, unless the body is opaque.
    #[must_use]
    pub const fn sid(&self) -> Option<&Sid> {
        match &self.body {
            AceBody::Common { sid, .. } | AceBody::Object { sid, .. } => Some(sid),
            AceBody::Opaque(_) => None,
        }
    }

    /// The bytes after the SID (application data of callback ACEs), empty for opaque
    /// bodies.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        match &self.body {
            AceBody::Common { data, .. } | AceBody::Object { data, .. } => data,
            AceBody::Opaque(_) => &[],
        }
    }

    /// Whether the type has the object layout (§3.5), which makes the ACL revision 4.
    #[must_use]
    pub const fn is_object(&self) -> bool {
        matches!(shape_of(self.ace_type), AceShape::Object)
    }

    /// `AceSize`: the length of the binary form.
    #[must_use]
    pub fn size(&self) -> u16 {
        // `Ace::new` proved that the size fits in a u16.
        self.body
            .encoded_len()
            .and_then(|len| len.checked_add(4))
            .and_then(|size| u16::try_from(size).ok())
            .unwrap_or(u16::MAX)
    }

    /// Decodes one ACE that fills `bytes` exactly.
    ///
    /// # Errors
    ///
    /// As for [`super::SecurityDescriptor::from_bytes`], with [`Component::Ace`];
    /// [`Error::TrailingBytes`] if `AceSize` is shorter than `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ace, Error> {
        let (ace, end) = decode_ace(bytes, 0, bytes.len(), Component::Ace)?;
        if end != bytes.len() {
            return Err(Error::TrailingBytes {
                component: Component::Ace,
                offset: end,
            });
        }
        Ok(ace)
    }

    /// The binary form (§3.5).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::from(self.size()));
        self.write_to(&mut out);
        out
    }

    /// Appends the binary form to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.push(self.ace_type);
        out.push(self.flags);
        put_u16(out, self.size());
        match &self.body {
            AceBody::Common { mask, sid, data } => {
                put_u32(out, *mask);
                sid.write_to(out);
                out.extend_from_slice(data);
            }
            AceBody::Object {
                mask,
                flags,
                object_type,
                inherited_object_type,
                sid,
                data,
            } => {
                put_u32(out, *mask);
                put_u32(out, *flags);
                for guid in [object_type, inherited_object_type].into_iter().flatten() {
                    out.extend_from_slice(&guid.0);
                }
                sid.write_to(out);
                out.extend_from_slice(data);
            }
            AceBody::Opaque(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// An access control list (§3.4): an 8-byte header (`AclRevision`, `Sbz1`, `AclSize`,
/// `AceCount`, `Sbz2`) and the ACEs back to back.
///
/// Built through [`Acl::new`] (or a decoder), which checks that `AclSize` fits in a `u16`.
/// The encoder writes `AclSize` exactly (header plus ACEs) and zero `Sbz` fields: the
/// canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    revision: u8,
    aces: Vec<Ace>,
}

impl Acl {
    /// Builds an ACL with the given `AclRevision` (normally [`ACL_REVISION`] or
    /// [`ACL_REVISION_DS`]; any value is kept as given).
    ///
    /// # Errors
    ///
    /// [`Error::Build`] if the ACL would be larger than 65535 bytes.
    pub fn new(revision: u8, aces: Vec<Ace>) -> Result<Acl, Error> {
        let size = aces.iter().try_fold(8usize, |total, ace| {
            total
                .checked_add(usize::from(ace.size()))
                .filter(|&t| t <= usize::from(u16::MAX))
        });
        if size.is_none() {
            return Err(Error::Build {
                what: "acl",
                reason: "larger than 65535 bytes",
            });
        }
        Ok(Acl { revision, aces })
    }

    /// Builds an ACL with the revision the SDDL converter chooses (§3.1, §3.8):
    /// [`ACL_REVISION_DS`] if any ACE has the object layout, else [`ACL_REVISION`].
    ///
    /// # Errors
    ///
    /// As for [`Acl::new`].
    pub fn with_default_revision(aces: Vec<Ace>) -> Result<Acl, Error> {
        let revision = if aces.iter().any(Ace::is_object) {
            ACL_REVISION_DS
        } else {
            ACL_REVISION
        };
        Acl::new(revision, aces)
    }

    /// An ACL of revision 2 without ACEs (as a DACL: denies everyone).
    #[must_use]
    pub const fn empty() -> Acl {
        Acl {
            revision: ACL_REVISION,
            aces: Vec::new(),
        }
    }

    /// `AclRevision`.
    #[must_use]
    pub const fn revision(&self) -> u8 {
        self.revision
    }

    /// The ACEs, in order.
    #[must_use]
    pub fn aces(&self) -> &[Ace] {
        &self.aces
    }

    /// Consumes the ACL, giving back its ACEs.
    #[must_use]
    pub fn into_aces(self) -> Vec<Ace> {
        self.aces
    }

    /// `AclSize` as the encoder writes it: 8 plus the sizes of the ACEs.
    #[must_use]
    pub fn size(&self) -> u16 {
        // `Acl::new` proved that the total fits in a u16.
        self.aces
            .iter()
            .try_fold(8u16, |total, ace| total.checked_add(ace.size()))
            .unwrap_or(u16::MAX)
    }

    /// Decodes one ACL that fills `bytes` exactly (`AclSize == bytes.len()`).
    ///
    /// # Errors
    ///
    /// As for [`super::SecurityDescriptor::from_bytes`], with [`Component::Acl`];
    /// [`Error::TrailingBytes`] if `AclSize` is shorter than `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Acl, Error> {
        let (acl, end) = decode_acl(bytes, 0, Component::Acl, None)?;
        if end != bytes.len() {
            return Err(Error::TrailingBytes {
                component: Component::Acl,
                offset: end,
            });
        }
        Ok(acl)
    }

    /// The binary form (§3.4).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::from(self.size()));
        self.write_to(&mut out);
        out
    }

    /// Appends the binary form to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.push(self.revision);
        out.push(0);
        put_u16(out, self.size());
        // At most 65535 / 4 ACEs fit, so the count fits in a u16.
        let count = u16::try_from(self.aces.len()).unwrap_or(u16::MAX);
        put_u16(out, count);
        out.extend_from_slice(&[0, 0]);
        for ace in &self.aces {
            ace.write_to(out);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Binary decoding

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

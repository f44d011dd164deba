//! The binary form: decoding errors (never panic, name component and offset),
//! non-canonical inputs, constructor limits and the body layout of each ACE type.

use super::*;
use crate::sd::acl::{AceShape, shape_of};

#[test]
fn binary_errors_name_component_and_offset() {
    let file = b64(BUILDKIT_FILE);
    let decode = SecurityDescriptor::from_bytes;

    assert_eq!(
        decode(&file[..19]),
        Err(Error::Truncated {
            component: Component::Header,
            offset: 0,
            needed: 20,
            available: 19
        })
    );
    let mut no_self_relative = file.clone();
    no_self_relative[3] = 0;
    assert!(matches!(
        decode(&no_self_relative),
        Err(Error::Invalid {
            component: Component::Header,
            offset: 2,
            ..
        })
    ));
    let mut into_header = file.clone();
    into_header[4] = 8;
    assert!(matches!(
        decode(&into_header),
        Err(Error::Invalid {
            component: Component::Header,
            offset: 4,
            ..
        })
    ));
    let mut past_end = file.clone();
    past_end[8..12].copy_from_slice(&200u32.to_le_bytes());
    assert!(matches!(
        decode(&past_end),
        Err(Error::Truncated {
            component: Component::Group,
            offset: 200,
            ..
        })
    ));
    let mut sid_revision = file.clone();
    sid_revision[20] = 2;
    assert!(matches!(
        decode(&sid_revision),
        Err(Error::Invalid {
            component: Component::Owner,
            offset: 20,
            ..
        })
    ));
    let mut sub_count = file.clone();
    sub_count[21] = 16;
    assert!(matches!(
        decode(&sub_count),
        Err(Error::Invalid {
            component: Component::Owner,
            offset: 21,
            ..
        })
    ));
    let mut acl_small = file.clone();
    acl_small[50] = 4;
    assert!(matches!(
        decode(&acl_small),
        Err(Error::Invalid {
            component: Component::Dacl,
            offset: 50,
            ..
        })
    ));
    let mut acl_big = file.clone();
    acl_big[50] = 80;
    assert!(matches!(
        decode(&acl_big),
        Err(Error::Truncated {
            component: Component::Dacl,
            offset: 48,
            needed: 80,
            available: 76
        })
    ));
    let mut too_many = file.clone();
    too_many[52] = 4;
    assert!(matches!(
        decode(&too_many),
        Err(Error::Invalid {
            component: Component::Dacl,
            offset: 52,
            ..
        })
    ));
    let mut ace_unaligned = file.clone();
    ace_unaligned[58] = 0x17;
    assert!(matches!(
        decode(&ace_unaligned),
        Err(Error::Invalid {
            component: Component::DaclAce(0),
            offset: 58,
            ..
        })
    ));
    let mut ace_zero = file.clone();
    ace_zero[58] = 0;
    assert!(matches!(
        decode(&ace_zero),
        Err(Error::Invalid {
            component: Component::DaclAce(0),
            offset: 58,
            ..
        })
    ));
    // ACE 1 (SY, 20 bytes) claims 16 bytes: its SID no longer fits inside the ACE.
    let mut sid_outside_ace = file.clone();
    sid_outside_ace[82] = 16;
    assert!(matches!(
        decode(&sid_outside_ace),
        Err(Error::Truncated {
            component: Component::DaclAce(1),
            offset: 96,
            needed: 4,
            available: 0
        })
    ));
    // The last ACE claims more than the ACL holds.
    let mut ace_past_acl = file.clone();
    ace_past_acl[102] = 28;
    assert!(matches!(
        decode(&ace_past_acl),
        Err(Error::Truncated {
            component: Component::DaclAce(2),
            offset: 100,
            ..
        })
    ));
    let mut trailing = file.clone();
    trailing.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        decode(&trailing),
        Err(Error::TrailingBytes {
            component: Component::Descriptor,
            offset: 124
        })
    );
    assert_eq!(
        decode(&trailing).unwrap_err().to_string(),
        "unexpected bytes after the security descriptor at offset 124"
    );
    assert_eq!(
        decode(&acl_big).unwrap_err().to_string(),
        "truncated dacl at offset 48: 80 bytes needed, 76 available"
    );
    for len in 0..file.len() {
        assert!(decode(&file[..len]).is_err(), "truncated to {len}");
    }
}

#[test]
fn non_canonical_inputs_decode_and_reencode_canonically() {
    // Windows' converter layout (SACL, DACL, owner, group).
    let canonical = b64(BUILDKIT_FILE);
    let d = SecurityDescriptor::from_bytes(&canonical).unwrap();
    let windows = d.to_bytes_in(Layout::SaclDaclOwnerGroup);
    assert_eq!(&windows[16..20], 20u32.to_le_bytes(), "dacl first");
    assert_eq!(&windows[4..8], 96u32.to_le_bytes());
    assert_eq!(&windows[8..12], 112u32.to_le_bytes());
    let back = SecurityDescriptor::from_bytes(&windows).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.to_bytes(), canonical);

    // Owner and group sharing one SID, free space at the end of the ACL.
    let mut shared = unhex("0100048014000000140000000000000020000000");
    shared.extend_from_slice(&Sid::LOCAL_SYSTEM.to_bytes());
    shared.extend_from_slice(&unhex("02000c000000000000000000"));
    let d = SecurityDescriptor::from_bytes(&shared).unwrap();
    assert_eq!(d.to_sddl(), "O:SYG:SYD:");
    assert_eq!(d.to_bytes(), sd("O:SYG:SYD:").to_bytes());

    // An ACL stored while its present bit is clear: kept (bytes exact), not in SDDL.
    let mut ignored = canonical.clone();
    ignored[2] = 0;
    let d = SecurityDescriptor::from_bytes(&ignored).unwrap();
    assert_eq!(d.dacl_state(), AclState::Absent);
    assert!(d.dacl.is_some());
    assert_eq!(d.to_bytes(), ignored);
    assert_eq!(d.to_sddl(), "O:BAG:SY");
}

#[test]
fn constructors_check_binary_limits() {
    let common = AceBody::Common {
        mask: 1,
        sid: Sid::EVERYONE,
        data: vec![0; 4],
    };
    assert!(Ace::new(ace_type::ACCESS_ALLOWED_ACE_TYPE, 0, common.clone()).is_ok());
    assert!(matches!(
        Ace::new(ace_type::ACCESS_ALLOWED_OBJECT_ACE_TYPE, 0, common),
        Err(Error::Build { what: "ace", .. })
    ));
    assert!(matches!(
        Ace::new(0x04, 0, AceBody::Opaque(vec![0; 3])),
        Err(Error::Build { what: "ace", .. })
    ));
    assert!(matches!(
        Ace::new(0x04, 0, AceBody::Opaque(vec![0; 65532])),
        Err(Error::Build { what: "ace", .. })
    ));
    let big = Ace::new(0x04, 0, AceBody::Opaque(vec![0; 65520])).unwrap();
    assert_eq!(big.size(), 65524);
    assert!(Acl::new(2, vec![big.clone()]).is_ok());
    assert!(matches!(
        Acl::new(2, vec![big, Ace::allowed(0, 1, Sid::EVERYONE)]),
        Err(Error::Build { what: "acl", .. })
    ));
    // Object flags follow the GUID options, whatever the caller passed.
    let ace = Ace::new(
        ace_type::ACCESS_ALLOWED_OBJECT_ACE_TYPE,
        0,
        AceBody::Object {
            mask: 1,
            flags: 0x3,
            object_type: None,
            inherited_object_type: Some(Guid([7; 16])),
            sid: Sid::EVERYONE,
            data: Vec::new(),
        },
    )
    .unwrap();
    assert!(matches!(ace.body(), AceBody::Object { flags: 2, .. }));
    assert_eq!(Ace::from_bytes(&ace.to_bytes()).unwrap(), ace);
    assert_eq!(
        Acl::with_default_revision(vec![ace]).unwrap().revision(),
        ACL_REVISION_DS
    );
}

#[test]
fn shapes_cover_every_type() {
    // Every tokened type decodes its body; the others are opaque.
    for t in 0..=u8::MAX {
        let shape = shape_of(t);
        let tokened = [
            0x00u8, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x11, 0x12,
            0x13, 0x14, 0x15,
        ];
        if tokened.contains(&t) {
            assert_ne!(shape, AceShape::Opaque, "{t:#x}");
        }
    }
}

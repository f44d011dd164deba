//! The known-good descriptors of docs/ea-reparse-sd.md §3.9 and the walkthroughs of §3.

use super::*;

#[test]
fn users_owner_and_group_is_o_bu_g_bu() {
    let bytes = b64(USERS_OWNER_AND_GROUP);
    assert_eq!(bytes.len(), 52);
    assert_exact_pair(&bytes, "O:BUG:BU");
    let d = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(d.control, control::SE_SELF_RELATIVE);
    assert_eq!(d.owner, Some(Sid::BUILTIN_USERS));
    assert_eq!(d.group, Some(Sid::BUILTIN_USERS));
    assert_eq!(d.dacl_state(), AclState::Absent);
    assert_eq!(d.sacl_state(), AclState::Absent);
}

#[test]
fn section_3_9_constants_convert_both_ways_exactly() {
    let cases = [
        (USERS_OWNER_AND_GROUP, "O:BUG:BU"),
        (ADMINISTRATORS_OWNER_AND_GROUP, "O:BAG:BA"),
        (
            BUILDKIT_FILE,
            "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)",
        ),
        (
            BUILDKIT_DIRECTORY,
            "O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)\
             (A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)",
        ),
    ];
    for (base64, sddl) in cases {
        assert_exact_pair(&b64(base64), sddl);
    }
}

#[test]
fn administrators_constant_differs_from_users_only_at_bytes_32_and_48() {
    let users = b64(USERS_OWNER_AND_GROUP);
    let admins = b64(ADMINISTRATORS_OWNER_AND_GROUP);
    let differing: Vec<usize> = (0..users.len())
        .filter(|&i| users[i] != admins[i])
        .collect();
    assert_eq!(differing, [32, 48]);
    assert_eq!((users[32], admins[32]), (0x21, 0x20));
}

#[test]
fn buildkit_file_descriptor_walkthrough() {
    let bytes = b64(BUILDKIT_FILE);
    assert_eq!(bytes.len(), 124);
    // Header: control 0x8004, owner @20, group @36, no SACL, DACL @48.
    assert_eq!(&bytes[..4], [0x01, 0x00, 0x04, 0x80]);
    assert_eq!(&bytes[4..8], 20u32.to_le_bytes());
    assert_eq!(&bytes[8..12], 36u32.to_le_bytes());
    assert_eq!(&bytes[12..16], 0u32.to_le_bytes());
    assert_eq!(&bytes[16..20], 48u32.to_le_bytes());
    assert_eq!(&bytes[20..36], Sid::BUILTIN_ADMINISTRATORS.to_bytes());
    assert_eq!(&bytes[36..48], Sid::LOCAL_SYSTEM.to_bytes());
    // DACL header: revision 2, size 76, 3 ACEs.
    assert_eq!(&bytes[48..56], [2, 0, 76, 0, 3, 0, 0, 0]);
    // `00 00 1800 ff011f00 <BA>`, `00 00 1400 ff011f00 <SY>`, `00 00 1800 a9001200 <BU>`.
    assert_eq!(&bytes[56..64], unhex("00001800ff011f00"));
    assert_eq!(&bytes[64..80], Sid::BUILTIN_ADMINISTRATORS.to_bytes());
    assert_eq!(&bytes[80..88], unhex("00001400ff011f00"));
    assert_eq!(&bytes[88..100], Sid::LOCAL_SYSTEM.to_bytes());
    assert_eq!(&bytes[100..108], unhex("00001800a9001200"));
    assert_eq!(&bytes[108..124], Sid::BUILTIN_USERS.to_bytes());

    let d = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(d.revision, 1);
    assert_eq!(d.sbz1, 0);
    assert_eq!(d.control, 0x8004);
    assert_eq!(d.owner, Some(Sid::BUILTIN_ADMINISTRATORS));
    assert_eq!(d.group, Some(Sid::LOCAL_SYSTEM));
    assert_eq!(d.sacl, None);
    let AclState::Present(dacl) = d.dacl_state() else {
        panic!("dacl present")
    };
    assert_eq!(dacl.revision(), ACL_REVISION);
    assert_eq!(dacl.size(), 76);
    let expected = [
        (24, access::FILE_ALL_ACCESS, Sid::BUILTIN_ADMINISTRATORS),
        (20, access::FILE_ALL_ACCESS, Sid::LOCAL_SYSTEM),
        (24, access::FILE_READ_EXECUTE, Sid::BUILTIN_USERS),
    ];
    assert_eq!(dacl.aces().len(), expected.len());
    for (ace, (size, mask, sid)) in dacl.aces().iter().zip(expected) {
        assert_eq!(ace.ace_type(), ace_type::ACCESS_ALLOWED_ACE_TYPE);
        assert_eq!(ace.flags(), 0);
        assert_eq!(ace.size(), size);
        assert_eq!(ace.mask(), Some(mask));
        assert_eq!(ace.sid(), Some(&sid));
        assert!(ace.data().is_empty());
    }
}

#[test]
fn protected_auto_inherited_dacl_structure_and_round_trip() {
    let text =
        "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)";
    let d = sd(text);
    assert_eq!(
        d.control,
        control::SE_SELF_RELATIVE
            | control::SE_DACL_PRESENT
            | control::SE_DACL_PROTECTED
            | control::SE_DACL_AUTO_INHERITED
    );
    assert_eq!(d.control, 0x9404);
    assert_eq!(d.owner, Some(Sid::BUILTIN_ADMINISTRATORS));
    assert_eq!(d.group, Some(Sid::LOCAL_SYSTEM));
    assert_eq!(d.sacl_state(), AclState::Absent);
    let dacl = d.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision(), ACL_REVISION);
    let oici = ace_flags::OBJECT_INHERIT_ACE | ace_flags::CONTAINER_INHERIT_ACE;
    let expected = [
        (oici, access::FILE_ALL_ACCESS, Sid::BUILTIN_ADMINISTRATORS),
        (oici, access::FILE_ALL_ACCESS, Sid::LOCAL_SYSTEM),
        (
            oici | ace_flags::INHERIT_ONLY_ACE,
            access::GENERIC_ALL,
            Sid::CREATOR_OWNER,
        ),
        (oici, 0x0012_00a9, Sid::BUILTIN_USERS),
    ];
    assert_eq!(dacl.aces().len(), 4);
    for (ace, (flags, mask, sid)) in dacl.aces().iter().zip(expected) {
        assert_eq!(ace.ace_type(), ace_type::ACCESS_ALLOWED_ACE_TYPE);
        assert_eq!(ace.flags(), flags);
        assert_eq!(ace.mask(), Some(mask));
        assert_eq!(ace.sid(), Some(&sid));
        assert_eq!(*ace, Ace::allowed(flags, mask, sid));
    }
    let bytes = d.to_bytes();
    let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.to_sddl(), text);
    // Canonical layout: owner right after the header, then group, then the DACL.
    assert_eq!(&bytes[4..8], 20u32.to_le_bytes());
    assert_eq!(&bytes[8..12], 36u32.to_le_bytes());
    assert_eq!(&bytes[16..20], 48u32.to_le_bytes());
}

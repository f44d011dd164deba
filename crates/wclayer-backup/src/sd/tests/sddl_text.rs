//! The SDDL text form: rights (§3.6, §3.8 rule 5) and parsing details (§3.8).

use super::*;
use crate::sd::sddl::{parse_rights, render_rights};

// ---------------------------------------------------------------------------------------
// Rights (§3.6, §3.8 rule 5)

#[test]
fn rights_rendering_rules() {
    let allowed = ace_type::ACCESS_ALLOWED_ACE_TYPE;
    let cases = [
        // (a) exact table entries, first match wins: KR before KX.
        (0x0002_0019, "KR"),
        (0x001F_01FF, "FA"),
        (0x0012_0089, "FR"),
        (0x0012_0116, "FW"),
        (0x0012_00A0, "FX"),
        (0x000F_003F, "KA"),
        (0x0002_0006, "KW"),
        (0x1000_0000, "GA"),
        (0x0000_0004, "LC"),
        // (b) single-bit tokens in ascending bit order.
        (0xA000_0000, "GXGR"),
        (0xE001_0000, "SDGXGWGR"),
        (0xE00F_0000, "SDRCWDWOGXGWGR"),
        (0x0000_00FF, "CCDCLCSWRPWPDTLO"),
        (0x000F_01FF, "CCDCLCSWRPWPDTLOCRSDRCWDWO"),
        (0x0000_0011, "CCRP"),
        // (c) anything with a bit that has no single-bit token: lower-case hex.
        (0x0012_00A9, "0x1200a9"),
        (0x0013_01BF, "0x1301bf"),
        (0x0010_0000, "0x100000"),
        (0x0100_0000, "0x1000000"),
        (0xFFFF_FFFF, "0xffffffff"),
        // Zero prints nothing.
        (0, ""),
    ];
    for (mask, text) in cases {
        assert_eq!(render_rights(mask, allowed), text, "{mask:#x}");
        assert_eq!(parse_rights(text), Ok(mask), "{text} reads back");
    }
    let label = ace_type::SYSTEM_MANDATORY_LABEL_ACE_TYPE;
    assert_eq!(render_rights(1, label), "NW");
    assert_eq!(render_rights(7, label), "NWNRNX");
    assert_eq!(render_rights(0x10, label), "RP");
}

#[test]
fn rights_parsing() {
    assert_eq!(parse_rights("GRGX"), Ok(0xA000_0000));
    assert_eq!(parse_rights("GXGR"), Ok(0xA000_0000));
    assert_eq!(parse_rights("ga"), Ok(access::GENERIC_ALL));
    assert_eq!(parse_rights("FAGA"), Ok(0x101F_01FF));
    assert_eq!(parse_rights("NWNRNX"), Ok(7));
    assert_eq!(parse_rights("0x1200a9"), Ok(0x0012_00A9));
    assert_eq!(parse_rights("0X1F"), Ok(0x1F));
    // C strtoul base 0: decimal and octal too (Windows: `123456789` → 0x75bcd15).
    assert_eq!(parse_rights("123456789"), Ok(0x075B_CD15));
    assert_eq!(parse_rights("01234567"), Ok(0o1234567));
    assert_eq!(parse_rights("16"), Ok(0x10));
    assert_eq!(parse_rights("0"), Ok(0));
    for bad in [
        "G",
        "GAX",
        "XX",
        "0x",
        "0x123456789",
        "09",
        "4294967296",
        "RP1",
    ] {
        assert!(parse_rights(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------
// SDDL parsing details

#[test]
fn windows_tolerated_whitespace_and_case() {
    let cases = [
        ("D:(A;;GA;;; WD)", "D:(A;;GA;;;WD)"),
        ("D: (A;;GA;;;WD)", "D:(A;;GA;;;WD)"),
        ("D: AI(A;;GA;;;WD)", "D:AI(A;;GA;;;WD)"),
        ("D:(a;;GA;;;WD)", "D:(A;;GA;;;WD)"),
        ("D:(A;;GA;;;wd)", "D:(A;;GA;;;WD)"),
        ("D:(A;;ga;;;WD)", "D:(A;;GA;;;WD)"),
        ("D: S:", "D:S:"),
        ("D: P(A;;GA;;;WD)", "D:P(A;;GA;;;WD)"),
        ("D:P (A;;GA;;;WD)", "D:P(A;;GA;;;WD)"),
        (
            "D:P(A;;GA;;;WD) (A;;GX;;;BA)",
            "D:P(A;;GA;;;WD)(A;;GX;;;BA)",
        ),
        ("D:(A; ;GA;;;WD)", "D:(A;;GA;;;WD)"),
        ("D:(A; OICI; GRGWGX;;;AU)", "D:(A;OICI;GXGWGR;;;AU)"),
        ("D:(A;;GA;;;WD )", "D:(A;;GA;;;WD)"),
        ("D:(A;;GA;;; S-1-3-4)", "D:(A;;GA;;;OW)"),
        ("D:(A;;GA;; ;S-1-3-4)", "D:(A;;GA;;;OW)"),
        ("D:(A;;GA; ;;S-1-333-4)", "D:(A;;GA;;;S-1-333-4)"),
        (" O:BA", "O:BA"),
        ("  O:BA   ", "O:BA"),
        ("  O:BA G:WD  ", "O:BAG:WD"),
        ("S:D:P", "D:PS:"),
        ("D:ARPAI(A;;GA;;;SY)", "D:PARAI(A;;GA;;;SY)"),
        ("D:PARP(A;;GA;;;SY)", "D:PAR(A;;GA;;;SY)"),
        ("D:PPPPPP(A;;GA;;;SY)", "D:P(A;;GA;;;SY)"),
        ("D:(A;;16;;;WD)", "D:(A;;RP;;;WD)"),
        ("D:(A;;0xe00f0000;;;WD)", "D:(A;;SDRCWDWOGXGWGR;;;WD)"),
        // The owner's text runs to the letter before the next `:`, as in Windows.
        ("O:S-1-2-0x200D:", "O:S-1-2-512D:"),
        ("O:S-1-2-0x2D:(A;;GA;;;WD)", "O:S-1-2-2D:(A;;GA;;;WD)"),
        ("G:SYO:BA", "O:BAG:SY"),
        ("", ""),
    ];
    for (input, canonical) in cases {
        assert_eq!(sd(input).to_sddl(), canonical, "{input:?}");
        assert_eq!(sd(canonical), sd(input), "{input:?}");
    }
}

#[test]
fn sddl_errors_name_the_problem_and_its_character_offset() {
    let err = |s: &str| SecurityDescriptor::from_sddl(s).expect_err(s);
    assert_eq!(
        err("D:(A;;GA;;;DA)"),
        SddlError::DomainRelativeAlias {
            offset: 11,
            alias: "DA".into()
        }
    );
    assert_eq!(
        err("O:LA"),
        SddlError::DomainRelativeAlias {
            offset: 2,
            alias: "LA".into()
        }
    );
    assert!(
        err("O:LA")
            .to_string()
            .contains("cannot be resolved offline")
    );
    assert_eq!(
        err("O:XX"),
        SddlError::UnknownAlias {
            offset: 2,
            alias: "XX".into()
        }
    );
    assert!(matches!(
        err("d:(A;;GA;;;WD)"),
        SddlError::Unexpected { offset: 0, .. }
    ));
    assert!(matches!(
        err("D :S:"),
        SddlError::Unexpected { offset: 1, .. }
    ));
    assert!(matches!(err("O:"), SddlError::Unexpected { offset: 2, .. }));
    assert!(matches!(
        err("D:(A;;GA;;)"),
        SddlError::Unexpected { offset: 10, .. }
    ));
    assert!(matches!(
        err("D:P:S:"),
        SddlError::Unexpected { offset: 3, .. }
    ));
    assert!(matches!(
        err("O:BAO:SY"),
        SddlError::DuplicateComponent {
            offset: 4,
            component: 'O'
        }
    ));
    assert!(matches!(
        err("Z:(A;;GA;;;SY)"),
        SddlError::Unexpected { offset: 0, .. }
    ));
    assert!(matches!(
        err("D:(Antlers;;GA;;;SY)"),
        SddlError::InvalidToken {
            offset: 3,
            what: "ace type",
            ..
        }
    ));
    assert!(matches!(
        err("D:(A;XX;GA;;;SY)"),
        SddlError::InvalidToken {
            offset: 5,
            what: "ace flags",
            ..
        }
    ));
    assert!(matches!(
        err("S:(AU;SA;CROOO;;;WD)"),
        SddlError::InvalidToken {
            offset: 9,
            what: "rights",
            ..
        }
    ));
    assert!(matches!(
        err("D:AI(A;CI;RP LCLORC;;;AU)"),
        SddlError::Unexpected { offset: 13, .. }
    ));
    assert!(matches!(
        err("D:(A;;0x123456789;;;WD)"),
        SddlError::InvalidToken {
            offset: 6,
            what: "rights",
            ..
        }
    ));
    assert!(matches!(
        err("D:(A;;GA;;{f30e3bbf-9ff0-11d1-b603-0000f80367c1};WD)"),
        SddlError::Unexpected { offset: 10, .. }
    ));
    assert!(matches!(
        err("D:(OA;;GA;;0123456789abcdef;WD)"),
        SddlError::InvalidToken {
            offset: 11,
            what: "guid",
            ..
        }
    ));
    assert!(matches!(
        err("D:(A;;GA;;;S-1-0x1313131313131-513)"),
        SddlError::InvalidToken {
            offset: 11,
            what: "sid",
            ..
        }
    ));
    assert!(matches!(
        err("D:(A;;GA;f30e3bbf-9ff0-11d1-b603-0000f80367c1;;WD)"),
        SddlError::InvalidAce { offset: 2, .. }
    ));
    assert!(matches!(
        err("D:NO_ACCESS_CONTROL(A;;GA;;;WD)"),
        SddlError::InvalidAce { offset: 19, .. }
    ));
    assert!(matches!(
        err("D:(A;;GA;;;WD;(@User.x == 1))"),
        SddlError::InvalidAce { offset: 14, .. }
    ));
    assert!(matches!(
        err("S:(RA;;;;;WD;(\"colour\",TS,0,\"blue\"))"),
        SddlError::InvalidAce { offset: 13, .. }
    ));
    assert!(matches!(
        err("D:(XA;;FA;;;WD;(@User.x == ))"),
        SddlError::Condition { offset: 27, .. }
    ));
    assert!(matches!(
        err("D:(A;;GA;;;WD;#123)"),
        SddlError::InvalidToken { offset: 15, .. }
    ));
    assert!(matches!(
        err("D:(#0000)"),
        SddlError::Binary { offset: 2, .. }
    ));
    // Offsets count characters, not bytes.
    assert!(matches!(
        err("D:(Ā;;GA;;;LG)"),
        SddlError::InvalidToken { offset: 3, .. }
    ));
    assert!(matches!(
        err("O:BAé"),
        SddlError::Unexpected {
            offset: 4,
            found: Some('é'),
            ..
        }
    ));
    let message = err("D:(A;;GA;;)").to_string();
    assert!(message.contains("character 10"), "{message}");
}

#[test]
fn null_empty_and_absent_dacl() {
    let null = sd("D:NO_ACCESS_CONTROL");
    assert_eq!(null.dacl_state(), AclState::Null);
    assert_eq!(
        null.control,
        control::SE_SELF_RELATIVE | control::SE_DACL_PRESENT
    );
    let bytes = null.to_bytes();
    assert_eq!(bytes, unhex("0100048000000000000000000000000000000000"));
    assert_exact_pair(&bytes, "D:NO_ACCESS_CONTROL");
    assert_eq!(sd("D:pno_access_control").to_sddl(), "D:PNO_ACCESS_CONTROL");
    assert_eq!(sd("S:NO_ACCESS_CONTROL").sacl_state(), AclState::Null);

    let empty = sd("D:");
    assert_eq!(empty.dacl_state(), AclState::Present(&Acl::empty()));
    assert_exact_pair(
        &unhex("01000480000000000000000000000000140000000200080000000000"),
        "D:",
    );
    let absent = sd("O:BA");
    assert_eq!(absent.dacl_state(), AclState::Absent);

    let mut built = SecurityDescriptor::new();
    built.set_dacl(None);
    assert_eq!(built, null);
    built.set_dacl(Some(Acl::empty()));
    assert_eq!(built, empty);
    built.clear_dacl();
    assert_eq!(built, SecurityDescriptor::new());
    assert_eq!(built.to_sddl(), "");
}

#[test]
fn sacl_and_label_aces() {
    assert_exact_pair(&sd("S:(AU;SAFA;FA;;;WD)").to_bytes(), "S:(AU;SAFA;FA;;;WD)");
    let label = sd("S:(ML;OICI;NW;;;LW)");
    let ace = &label.sacl.as_ref().unwrap().aces()[0];
    assert_eq!(ace.ace_type(), ace_type::SYSTEM_MANDATORY_LABEL_ACE_TYPE);
    assert_eq!(ace.mask(), Some(access::SYSTEM_MANDATORY_LABEL_NO_WRITE_UP));
    assert_eq!(ace.sid(), Some(&Sid::LOW_MANDATORY_LEVEL));
    assert_eq!(label.to_sddl(), "S:(ML;OICI;NW;;;LW)");
    assert_exact_pair(
        &sd("O:SYD:PAI(A;;FA;;;SY)S:PARAI(AU;FA;GA;;;WD)").to_bytes(),
        "O:SYD:PAI(A;;FA;;;SY)S:PARAI(AU;FA;GA;;;WD)",
    );
    let both = sd("D:(A;;FA;;;SY)S:(AU;SA;FA;;;WD)");
    // Canonical order: SACL before DACL.
    let bytes = both.to_bytes();
    assert_eq!(&bytes[12..16], 20u32.to_le_bytes());
    assert_eq!(&bytes[16..20], 48u32.to_le_bytes());
}

#[test]
fn object_aces_use_acl_revision_4_and_mixed_endian_guids() {
    let text = "D:(OA;CI;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;4828CC14-1437-45bc-9B07-AD6F015E5F28;SY)(A;;RC;;;AU)";
    let d = sd(text);
    let dacl = d.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision(), ACL_REVISION_DS);
    let AceBody::Object {
        mask,
        flags,
        object_type,
        inherited_object_type,
        sid,
        data,
    } = dacl.aces()[0].body()
    else {
        panic!("object body")
    };
    assert_eq!(*mask, 0x30);
    assert_eq!(*flags, 3);
    assert_eq!(
        object_type.unwrap().0,
        unhex("7f7a96bfe60dd011a28500aa003049e2").as_slice()
    );
    assert_eq!(
        inherited_object_type.unwrap().to_string(),
        "4828cc14-1437-45bc-9b07-ad6f015e5f28"
    );
    assert_eq!(*sid, Sid::LOCAL_SYSTEM);
    assert!(data.is_empty());
    assert_eq!(dacl.aces()[0].size(), 4 + 8 + 32 + 12);
    let canonical = text.replace(
        "4828CC14-1437-45bc-9B07-AD6F015E5F28",
        "4828cc14-1437-45bc-9b07-ad6f015e5f28",
    );
    assert_exact_pair(&d.to_bytes(), &canonical);
    // Only the inherited-object GUID: flags 2.
    let one = sd("D:(OD;;CR;;00299570-246d-11d0-a768-00aa006e0529;WD)");
    let ace = &one.dacl.as_ref().unwrap().aces()[0];
    assert!(matches!(
        ace.body(),
        AceBody::Object {
            flags: 2,
            object_type: None,
            ..
        }
    ));
    assert_exact_pair(
        &one.to_bytes(),
        "D:(OD;;CR;;00299570-246d-11d0-a768-00aa006e0529;WD)",
    );
    assert_eq!(
        "00299570-246D-11D0-A768-00AA006E0529"
            .parse::<Guid>()
            .unwrap()
            .to_string(),
        "00299570-246d-11d0-a768-00aa006e0529"
    );
    for bad in [
        "",
        "00299570-246d-11d0-a768",
        "00299570246d11d0a76800aa006e0529",
        "0029957-0246d-11d0-a768-00aa006e0529",
        "00299570-246d-11d0-a768-00aa006e0529-",
    ] {
        assert!(bad.parse::<Guid>().is_err(), "{bad:?}");
    }
}

//! Tests of the security-descriptor codecs against ea-reparse-sd.md §3 and against
//! descriptors Windows produced (captured by Samba's test suite, see below).

use base64::Engine as _;
use proptest::prelude::*;

use super::acl::shape_of;
use super::condition;
use super::*;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("valid hex")
}

fn sd(sddl: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(sddl).unwrap_or_else(|e| panic!("{sddl}: {e}"))
}

/// binary → SDDL → binary and SDDL → binary → SDDL, both exact.
fn assert_exact_pair(bytes: &[u8], sddl: &str) {
    let decoded = SecurityDescriptor::from_bytes(bytes).expect("decodes");
    assert_eq!(decoded.to_sddl(), sddl);
    assert_eq!(decoded.to_bytes(), bytes, "binary → struct → binary");
    let parsed = sd(sddl);
    assert_eq!(parsed, decoded, "SDDL and binary give the same structure");
    assert_eq!(parsed.to_bytes(), bytes, "SDDL → binary");
}

// ---------------------------------------------------------------------------------------
// §3.9 constants

const USERS_OWNER_AND_GROUP: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";
const ADMINISTRATORS_OWNER_AND_GROUP: &str =
    "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAgAgAAAQIAAAAAAAUgAAAAIAIAAA==";
const BUILDKIT_FILE: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==";
const BUILDKIT_DIRECTORY: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA";

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

// ---------------------------------------------------------------------------------------
// SIDs (§3.3, §3.7)

#[test]
fn trusted_installer_binary_and_string() {
    let text = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";
    let bytes = unhex("010600000000000550000000b589fb381984c2cb5c6c236d5700776ec0026487");
    assert_eq!(bytes.len(), 32);
    let sid = Sid::from_bytes(&bytes).unwrap();
    assert_eq!(sid, Sid::TRUSTED_INSTALLER);
    assert_eq!(sid.to_string(), text);
    assert_eq!(sid.to_sddl(), text, "no alias: always numeric");
    assert_eq!(text.parse::<Sid>().unwrap().to_bytes(), bytes);
    assert_eq!(sid.encoded_len(), 32);
    assert_exact_pair(
        &SecurityDescriptor {
            owner: Some(sid),
            ..SecurityDescriptor::new()
        }
        .to_bytes(),
        &format!("O:{text}"),
    );
}

#[test]
fn well_known_binary_forms() {
    for (sid, hex) in [
        (Sid::EVERYONE, "010100000000000100000000"),
        (Sid::CREATOR_OWNER, "010100000000000300000000"),
        (Sid::LOCAL_SYSTEM, "010100000000000512000000"),
        (
            Sid::BUILTIN_ADMINISTRATORS,
            "01020000000000052000000020020000",
        ),
        (Sid::BUILTIN_USERS, "01020000000000052000000021020000"),
    ] {
        assert_eq!(sid.to_bytes(), unhex(hex), "{sid}");
        assert_eq!(Sid::from_bytes(&unhex(hex)).unwrap(), sid);
    }
    assert_eq!(
        Sid::BUILTIN_USERS.to_string(),
        "S-1-5-32-545",
        "§3.3 example"
    );
}

#[test]
fn alias_table_matches_section_3_7() {
    let table = [
        ("WD", "S-1-1-0"),
        ("CO", "S-1-3-0"),
        ("CG", "S-1-3-1"),
        ("OW", "S-1-3-4"),
        ("NU", "S-1-5-2"),
        ("IU", "S-1-5-4"),
        ("SU", "S-1-5-6"),
        ("AN", "S-1-5-7"),
        ("ED", "S-1-5-9"),
        ("PS", "S-1-5-10"),
        ("AU", "S-1-5-11"),
        ("RC", "S-1-5-12"),
        ("SY", "S-1-5-18"),
        ("LS", "S-1-5-19"),
        ("NS", "S-1-5-20"),
        ("BA", "S-1-5-32-544"),
        ("BU", "S-1-5-32-545"),
        ("BG", "S-1-5-32-546"),
        ("PU", "S-1-5-32-547"),
        ("AO", "S-1-5-32-548"),
        ("SO", "S-1-5-32-549"),
        ("PO", "S-1-5-32-550"),
        ("BO", "S-1-5-32-551"),
        ("RE", "S-1-5-32-552"),
        ("RU", "S-1-5-32-554"),
        ("RD", "S-1-5-32-555"),
        ("NO", "S-1-5-32-556"),
        ("IS", "S-1-5-32-568"),
        ("AC", "S-1-15-2-1"),
        ("LW", "S-1-16-4096"),
        ("ME", "S-1-16-8192"),
        ("HI", "S-1-16-12288"),
        ("SI", "S-1-16-16384"),
    ];
    assert_eq!(WELL_KNOWN_SIDS.len(), table.len());
    for (alias, text) in table {
        let sid: Sid = text.parse().unwrap();
        assert_eq!(Sid::from_alias(alias), Some(sid), "{alias}");
        assert_eq!(
            Sid::from_alias(&alias.to_ascii_lowercase()),
            Some(sid),
            "{alias}"
        );
        assert_eq!(sid.alias(), Some(alias));
        assert_eq!(sid.to_sddl(), alias);
        assert_eq!(Sid::from_sddl(text).unwrap(), sid);
        assert_eq!(Sid::from_sddl(alias).unwrap(), sid);
    }
    // Windows' extra aliases parse, but print numerically (only §3.7 aliases print).
    for row in EXTRA_SDDL_ALIASES {
        assert_eq!(Sid::from_alias(row.alias), Some(row.sid));
        assert_eq!(row.sid.alias(), None);
    }
    assert_eq!(sd("O:AAG:WR").to_sddl(), "O:S-1-5-32-579G:S-1-5-33");
}

#[test]
fn numeric_sid_forms() {
    // Authorities of 2^32 and more print in hex (§3.3), decimal below.
    let big: Sid = "S-1-5000000000-30-40".parse().unwrap();
    assert_eq!(big.authority(), 5_000_000_000);
    assert_eq!(big.to_string(), "S-1-0x00012A05F200-30-40");
    assert_eq!(big.to_string().parse::<Sid>().unwrap(), big);
    assert_eq!("S-1-0x12A05F200-30-40".parse::<Sid>().unwrap(), big);
    let max: Sid = "S-1-0xffffffffffff".parse().unwrap();
    assert_eq!(max.authority(), MAX_AUTHORITY);
    assert!(max.sub_authorities().is_empty());
    assert_eq!(max.to_string(), "S-1-0xFFFFFFFFFFFF");
    assert_eq!(
        "S-1-4294967295-1".parse::<Sid>().unwrap().to_string(),
        "S-1-4294967295-1"
    );
    // Windows also reads hex sub-authorities.
    assert_eq!(
        "S-1-5-21-0x1-0x2-0x3-513"
            .parse::<Sid>()
            .unwrap()
            .to_string(),
        "S-1-5-21-1-2-3-513"
    );
    assert_eq!("s-1-1-0".parse::<Sid>().unwrap(), Sid::EVERYONE);
    let fifteen = format!("S-1-5{}", "-7".repeat(15));
    assert_eq!(fifteen.parse::<Sid>().unwrap().sub_authorities().len(), 15);
    for bad in [
        "S-1",
        "S-1-",
        "S-2-5-32",
        "S-1-0x1313131313131-513",
        "S-1-5-4294967296",
        "S-1-5--1",
        "S-1-5-+1",
        "S-1-5-1 ",
        "X-1-5",
        &format!("S-1-5{}", "-7".repeat(16)),
    ] {
        assert!(bad.parse::<Sid>().is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn sid_constructor_limits() {
    assert!(Sid::new(MAX_AUTHORITY, &[1; 15]).is_ok());
    assert!(matches!(
        Sid::new(MAX_AUTHORITY + 1, &[]),
        Err(Error::Build { what: "sid", .. })
    ));
    assert!(matches!(
        Sid::new(5, &[1; 16]),
        Err(Error::Build { what: "sid", .. })
    ));
    assert_eq!(
        Sid::new(5, &[32, 544]).unwrap(),
        Sid::BUILTIN_ADMINISTRATORS
    );
}

// ---------------------------------------------------------------------------------------
// Rights (§3.6, §3.8 rule 5)

#[test]
fn rights_rendering_rules() {
    use super::sddl::render_rights;
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
        assert_eq!(
            super::sddl::parse_rights(text),
            Ok(mask),
            "{text} reads back"
        );
    }
    let label = ace_type::SYSTEM_MANDATORY_LABEL_ACE_TYPE;
    assert_eq!(render_rights(1, label), "NW");
    assert_eq!(render_rights(7, label), "NWNRNX");
    assert_eq!(render_rights(0x10, label), "RP");
}

#[test]
fn rights_parsing() {
    use super::sddl::parse_rights;
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

// ---------------------------------------------------------------------------------------
// Binary decoding errors (never panic, name component and offset)

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

// ---------------------------------------------------------------------------------------
// Conditional ACEs

/// Descriptors Windows' `ConvertStringSecurityDescriptorToSecurityDescriptorW` produced
/// (SDDL, then the returned bytes in hex), from Samba's test data
/// `libcli/security/tests/windows/conditional_aces.txt.json` (captured on Windows through
/// pywin32 by `windows-sddl-tests.py`). They pin the token encoding, the padding, the ACL
/// revision and Windows' component order (SACL, DACL, owner, group).
const WINDOWS_CONVERTED: &[(&str, &str)] = &[
    (
        "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of{SID(S-1-1-0)}))",
        "010004804c000000000000000000000014000000020038000100000009003000ff010000010100000000000100000000617274785011000000510c0000000101000000000001000000008900010100000000000100000000",
    ),
    (
        "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of SID(S-1-1-0)))",
        "0100048048000000000000000000000014000000020034000100000009002c00ff01000001010000000000010000000061727478510c000000010100000000000100000000890000010100000000000100000000",
    ),
    (
        "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of(SID(S-1-1-0))))",
        "0100048048000000000000000000000014000000020034000100000009002c00ff01000001010000000000010000000061727478510c000000010100000000000100000000890000010100000000000100000000",
    ),
    (
        "O:S-1-1-0D:(XA;;0x1ff;;;WD;(mEMBER_of{SID(S-1-1-0)}))",
        "010004804c000000000000000000000014000000020038000100000009003000ff010000010100000000000100000000617274785011000000510c0000000101000000000001000000008900010100000000000100000000",
    ),
    (
        "D:(XA;;FX;;;S-1-1-0;(@User.Title==\"PM\" && (@User.Division==\"Finance\" || @User.Division ==\"Sales\")))",
        "010004800000000000000000000000001400000002008c000100000009008400a000120001010000000000010000000061727478f90a0000005400690074006c006500100400000050004d0080f9100000004400690076006900730069006f006e00100e000000460069006e0061006e006300650080f9100000004400690076006900730069006f006e00100a000000530061006c006500730080a1a0000000",
    ),
    (
        "D:(XA;;0x1f;;;AA;(@Device.colour == {\"orange\", \"blue\"}))",
        "010004800000000000000000000000001400000002005c0001000000090054001f0000000102000000000005200000004302000061727478fb0c00000063006f006c006f0075007200501e000000100c0000006f00720061006e0067006500100800000062006c007500650080000000",
    ),
    (
        "D:(XA;;;;;WD;(@Device.bb == 0x7fffffffffffffff))",
        "01000480000000000000000000000000140000000200380001000000090030000000000001010000000000010000000061727478fb040000006200620004ffffffffffffff7f030380000000",
    ),
    (
        "D:(XA;;0x1f;;;AA;(!(! (Member_of{SID(AA)}))))",
        "0100048000000000000000000000000014000000020044000100000009003c001f0000000102000000000005200000004302000061727478501500000051100000000102000000000005200000004302000089a2a2000000",
    ),
    (
        "D:AI(XA;OICI;FA;;;WD;(OctetStringType==#01020300))",
        "0100048400000000000000000000000014000000020050000100000009034800ff011f0001010000000000010000000061727478f81e0000004f00630074006500740053007400720069006e006700540079007000650018040000000102030080000000",
    ),
    (
        "D:AI(XA;OICI;FA;;;WD;(OctetStringType==##1#2#3##))",
        "0100048400000000000000000000000014000000020050000100000009034800ff011f0001010000000000010000000061727478f81e0000004f00630074006500740053007400720069006e006700540079007000650018040000000102030080000000",
    ),
    (
        "D:(XA;;FR;;;S-1-1-0;(@USER.A || @Device.B && @USER.C))",
        "01000480000000000000000000000000140000000200380001000000090030008900120001010000000000010000000061727478f9020000004100fb020000004200f9020000004300a0a100",
    ),
    (
        "D:(XD;;FX;;;WD;(!(@USER.Project Not_Any_of 1)))",
        "010004800000000000000000000000001400000002004000010000000a003800a000120001010000000000010000000061727478f90e000000500072006f006a0065006300740004010000000000000003028fa2",
    ),
    (
        "O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == \"siloname\"))",
        "0100048088000000940000000000000014000000020074000100000009036c000001000001010000000000010000000061727478f936000000610064003a002f002f006500780074002f00410075007400680065006e007400690063006100740069006f006e00530069006c006f001010000000730069006c006f006e0061006d00650080000000010100000000000512000000010100000000000512000000",
    ),
];

#[test]
fn conditional_aces_encode_as_windows_does() {
    for (text, hex) in WINDOWS_CONVERTED {
        let parsed = sd(text);
        assert_eq!(
            hex::encode(parsed.to_bytes_in(Layout::SaclDaclOwnerGroup)),
            *hex,
            "{text}"
        );
        let decoded = SecurityDescriptor::from_bytes(&unhex(hex)).unwrap();
        assert_eq!(decoded, parsed, "{text}");
        // binary → SDDL → binary, exact.
        assert_eq!(sd(&decoded.to_sddl()), decoded, "{text}");
    }
}

#[test]
fn windows_resource_attribute_descriptor_round_trips_through_the_hex_form() {
    // `D:(XA;;0x1f;;;AA;(@Device.colour == @Resource.colour))S:(RA;;;;;WD;("colour",TS,0,"blue"))`
    // as Windows converted it (same source as WINDOWS_CONVERTED): SACL at 20, DACL at 92.
    let bytes = unhex(
        "010014800000000000000000140000005c00000002004800010000001200400000000000010100000000\
         000100000000140000000300000000000000010000002200000063006f006c006f00750072000000620\
         06c007500650000000200480001000000090040001f00000001020000000000052000000043020000\
         61727478fb0c00000063006f006c006f0075007200fa0c00000063006f006c006f00750072008000",
    );
    let d = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(d.to_bytes_in(Layout::SaclDaclOwnerGroup), bytes);
    let text = d.to_sddl();
    assert_eq!(
        text,
        "D:(XA;;CCDCLCSWRP;;;S-1-5-32-579;(@DEVICE.colour == @RESOURCE.colour))\
         S:(RA;;;;;WD;#140000000300000000000000010000002200000063006f006c006f0075007200000062\
         006c00750065000000)"
    );
    assert_eq!(sd(&text), d);
    assert_eq!(sd(&text).to_bytes_in(Layout::SaclDaclOwnerGroup), bytes);
}

#[test]
fn conditional_aces_render_as_windows_does() {
    // Windows' renderings (Samba's `tests/data/conditional_aces.txt`, checked on Windows);
    // only cases whose SIDs are in the §3.7 alias table, since wclayer prints others
    // numerically.
    let cases = [
        (
            "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of{SID(S-1-1-0)}))",
            "O:WDD:(XA;;CCDCLCSWRPWPDTLOCR;;;WD;(Member_of {SID(WD)}))",
        ),
        (
            "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of SID(S-1-1-0)))",
            "O:WDD:(XA;;CCDCLCSWRPWPDTLOCR;;;WD;(Member_of SID(WD)))",
        ),
        (
            "D:(XA;;FX;;;S-1-1-0;(@User.Title==\"PM\" && (@User.Division==\"Finance\" || @User.Division ==\"Sales\")))",
            "D:(XA;;FX;;;WD;((@USER.Title == \"PM\") && ((@USER.Division == \"Finance\") || (@USER.Division == \"Sales\"))))",
        ),
        (
            "D:(XA;;;;;WD;(@Device.bb == 0x7fffffffffffffff))",
            "D:(XA;;;;;WD;(@DEVICE.bb == 0x7fffffffffffffff))",
        ),
        (
            "D:AI(XA;OICI;FA;;;WD;(OctetStringType==##1#2#3##))",
            "D:AI(XA;OICI;FA;;;WD;(OctetStringType == #01020300))",
        ),
        (
            "D:(XA;;FR;;;S-1-1-0;(@USER.A || @Device.B && @USER.C))",
            "D:(XA;;FR;;;WD;((@USER.A) || ((@DEVICE.B) && (@USER.C))))",
        ),
        (
            "D:(XA;;FR;;;S-1-1-0;(@USER.A && @Device.B || @USER.C))",
            "D:(XA;;FR;;;WD;(((@USER.A) && (@DEVICE.B)) || (@USER.C)))",
        ),
        (
            "D:(XD;;FX;;;WD;(!(@USER.Project Not_Any_of 1)))",
            "D:(XD;;FX;;;WD;(!(@USER.Project Not_Any_of 1)))",
        ),
        (
            "D:(XD;;FX;;;S-1-1-0;(@User.Project Any_of @Resource.Project))",
            "D:(XD;;FX;;;WD;(@USER.Project Any_of @RESOURCE.Project))",
        ),
        (
            "O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of_Any{SID(S-1-1-0), SID(S-1-222-333)}))",
            "O:WDD:(XA;;CCDCLCSWRPWPDTLOCR;;;WD;(Member_of_any {SID(WD), SID(S-1-222-333)}))",
        ),
        (
            "D:(XA;;FR;;;S-1-1-0;(Member_of {SID(S-1-999-777-7-7), SID(BO)} && @Device.Bitlocker))",
            "D:(XA;;FR;;;WD;((Member_of {SID(S-1-999-777-7-7), SID(BO)}) && (@DEVICE.Bitlocker)))",
        ),
        (
            "D:(XA;;CC;;;WD;(a == @User.a))",
            "D:(XA;;CC;;;WD;(a == @USER.a))",
        ),
        (
            "O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == \"siloname\"))",
            "O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == \"siloname\"))",
        ),
        (
            "D:(XA;;FX;;;S-1-1-0;(@User.Title == \"\"))",
            "D:(XA;;FX;;;WD;(@USER.Title == \"\"))",
        ),
    ];
    for (input, windows) in cases {
        let parsed = sd(input);
        assert_eq!(parsed.to_sddl(), windows, "{input}");
        assert_eq!(sd(windows), parsed, "{windows}");
        let bytes = parsed.to_bytes();
        assert_eq!(
            SecurityDescriptor::from_bytes(&bytes).unwrap().to_sddl(),
            windows
        );
    }
    // Aliases outside §3.7 print numerically.
    let aa = SecurityDescriptor::from_bytes(&unhex(WINDOWS_CONVERTED[7].1)).unwrap();
    assert_eq!(
        aa.to_sddl(),
        "D:(XA;;CCDCLCSWRP;;;S-1-5-32-579;(!(!(Member_of {SID(S-1-5-32-579)}))))"
    );
}

#[test]
fn condition_operators_and_literals_round_trip() {
    let expressions = [
        "(@USER.a == 1)",
        "(@USER.a != -1)",
        "(@USER.a < +5)",
        "(@USER.a <= 010)",
        "(@USER.a > 0x10)",
        "(@USER.a >= -0x10)",
        "(@USER.a == +0x10)",
        "(@USER.a == -010)",
        "(@USER.a == 00)",
        "(@USER.a == -0)",
        "(@USER.a == 0xffffffffffffffff)",
        "(@USER.a == -9223372036854775808)",
        "(@USER.a == -0x8000000000000000)",
        "(@USER.a == 9223372036854775807)",
        "(@USER.a Contains {1, \"two\", #03, SID(BA), {}})",
        "(@USER.a Not_Contains @RESOURCE.b)",
        "(@USER.a Any_of {})",
        "(@DEVICE.a Not_Any_of {\"x\", \"y\"})",
        "(@USER.a == #)",
        "(@USER.a == \"sp ace ) ( ;\")",
        "(@USER.a == \"ünïcödé\")",
        "(Exists @USER.a)",
        "(Not_Exists local)",
        "(Member_of {SID(BA)})",
        "(Device_Member_of {SID(BA)})",
        "(Member_of_any {SID(BA), SID(WD)})",
        "(Device_Member_of_Any {SID(BA)})",
        "(Not_Member_of {SID(BA)})",
        "(Not_Device_Member_of {SID(BA)})",
        "(Not_Member_of_Any {SID(BA)})",
        "(Not_Device_Member_of_Any {SID(S-1-5-21-1-2-3-500)})",
        "(!(@USER.a))",
        "(!(!(@USER.a)))",
        "(@USER.a)",
        "(local.with:odd/chars_1)",
        "((@USER.a) && ((@USER.b) || (!(@DEVICE.c))))",
    ];
    for text in expressions {
        let bytes = condition::tokens_of(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&bytes[..4], b"artx");
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(condition::render(&bytes).as_deref(), Some(text), "{text}");
    }
    // Equivalent spellings encode identically.
    let same = [
        ("(@user.x==1)", "(@USER.x == 1)"),
        ("( @User.x  ==  1 )", "(@USER.x == 1)"),
        ("(!@User.x)", "(!(@USER.x))"),
        ("(member_of sid(s-1-1-0))", "(Member_of SID(WD))"),
        ("(Member_of((SID(WD))))", "(Member_of SID(WD))"),
        ("(@USER.x == (1))", "(@USER.x == 1)"),
        ("(#1#2#3##  == @user.x)", ""),
    ];
    for (input, canonical) in same {
        let bytes = condition::tokens_of(input);
        if canonical.is_empty() {
            assert!(
                bytes.is_err(),
                "{input}: a literal cannot start a comparison"
            );
        } else {
            assert_eq!(bytes, condition::tokens_of(canonical), "{input}");
        }
    }
    for bad in [
        "",
        "()",
        "(@USER.x ==)",
        "(@USER. == 1)",
        "(@Other.x == 1)",
        "(== 1)",
        "(1)",
        "(@USER.x == 1",
        "(@USER.x == \"open)",
        "(Member_of)",
        "(Exists 1)",
        "(@USER.x == 18446744073709551616)",
        "(@USER.x == 9223372036854775808)",
        "(@USER.x == -9223372036854775809)",
        "(@USER.x == 08)",
        "(@USER.x && )",
        "(@USER.x) && (@USER.y)",
    ] {
        assert!(
            condition::tokens_of(bad).is_err(),
            "{bad:?} should not parse"
        );
    }
    let deep = format!("({}@USER.x{})", "(".repeat(300), ")".repeat(300));
    assert!(matches!(
        condition::tokens_of(&deep),
        Err(SddlError::Condition { .. })
    ));
    let nots = format!("({}@USER.x)", "!".repeat(100_000));
    assert!(condition::tokens_of(&nots).is_err());
}

// ---------------------------------------------------------------------------------------
// wclayer extensions

/// How [`SecurityDescriptor::to_sddl`] must print an ACE of the extension tests.
enum Form {
    /// The standard fields given, then `;#` and the bytes after the SID.
    DataHex(&'static str),
    /// `(#` and the whole binary ACE.
    WholeHex,
}

#[test]
fn aces_without_exact_sddl_use_the_hex_extensions() {
    let common = |t: u8, flags: u8, mask: u32, sid: Sid, data: Vec<u8>| {
        Ace::new(t, flags, AceBody::Common { mask, sid, data }).unwrap()
    };
    let object = |t: u8, object_flags: u32| {
        Ace::new(
            t,
            0,
            AceBody::Object {
                mask: 1,
                flags: object_flags,
                object_type: None,
                inherited_object_type: None,
                sid: Sid::EVERYONE,
                data: Vec::new(),
            },
        )
        .unwrap()
    };
    let mut padded = condition::tokens_of("(@USER.a)").unwrap();
    padded.extend_from_slice(&[0; 4]);
    let cases = [
        // Callback data that is not a conditional expression.
        (
            common(
                0x09,
                0,
                access::FILE_ALL_ACCESS,
                Sid::EVERYONE,
                vec![1, 2, 3, 4],
            ),
            Form::DataHex("XA;;FA;;;WD"),
        ),
        // Bytes a writer left after the SID of a plain ACE.
        (
            common(
                0x00,
                0x10,
                access::FILE_ALL_ACCESS,
                Sid::BUILTIN_ADMINISTRATORS,
                vec![0; 4],
            ),
            Form::DataHex("A;ID;FA;;;BA"),
        ),
        // A conditional expression with more padding than Windows writes.
        (
            common(0x09, 0, 1, Sid::EVERYONE, padded),
            Form::DataHex("XA;;CC;;;WD"),
        ),
        // An Int32 token: Windows' parser only writes Int64 tokens.
        (
            common(
                0x09,
                0,
                1,
                Sid::EVERYONE,
                unhex("61727478f902000000610003010000000000000003028000"),
            ),
            Form::DataHex("XA;;CC;;;WD"),
        ),
        // A resource-attribute claim (Windows' bytes for ("colour",TS,0,"blue")).
        (
            common(
                0x12,
                0,
                0,
                Sid::EVERYONE,
                unhex(
                    "140000000300000000000000010000002200000063006f006c006f0075007200000062006c00750065000000",
                ),
            ),
            Form::DataHex("RA;;;;;WD"),
        ),
        // A type without an SDDL token.
        (
            object(ace_type::ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE, 0),
            Form::WholeHex,
        ),
        (
            common(0x0E, 0, 1, Sid::EVERYONE, Vec::new()),
            Form::WholeHex,
        ),
        // CRITICAL_ACE_FLAG has no token.
        (
            Ace::allowed(ace_flags::CRITICAL_ACE_FLAG, 1, Sid::EVERYONE),
            Form::WholeHex,
        ),
        // Object flags beyond the two presence bits.
        (
            object(ace_type::ACCESS_ALLOWED_OBJECT_ACE_TYPE, 0x10),
            Form::WholeHex,
        ),
        // An opaque (compound) ACE and an unknown type.
        (
            Ace::new(0x04, 0x02, AceBody::Opaque(vec![0xAB; 8])).unwrap(),
            Form::WholeHex,
        ),
        (
            Ace::new(0xF0, 0x00, AceBody::Opaque(Vec::new())).unwrap(),
            Form::WholeHex,
        ),
    ];
    for (ace, form) in cases {
        let expected = match form {
            Form::DataHex(fields) => format!("D:({fields};#{})", hex::encode(ace.data())),
            Form::WholeHex => format!("D:(#{})", hex::encode(ace.to_bytes())),
        };
        let mut d = SecurityDescriptor::new();
        d.set_dacl(Some(Acl::with_default_revision(vec![ace.clone()]).unwrap()));
        let sddl = d.to_sddl();
        assert_eq!(sddl, expected, "{ace:?}");
        let back = sd(&sddl);
        assert_eq!(back, d, "{sddl}");
        assert_eq!(back.to_bytes(), d.to_bytes());
        // Hex digits in either case.
        let upper = match sddl.split_once('#') {
            Some((head, tail)) => format!("{head}#{}", tail.to_ascii_uppercase()),
            None => sddl.clone(),
        };
        assert_eq!(sd(&upper), d, "{upper}");
    }
    // The whole-ACE form is checked like binary input.
    assert!(matches!(
        SecurityDescriptor::from_sddl("D:(#000014000100000001010000000000010000000000000000)"),
        Err(SddlError::Binary {
            offset: 2,
            source: Error::TrailingBytes { .. }
        })
    ));
}

// ---------------------------------------------------------------------------------------
// Property tests

fn arb_sid() -> impl Strategy<Value = Sid> {
    prop_oneof![
        prop::sample::select(
            WELL_KNOWN_SIDS
                .iter()
                .map(|w| w.sid)
                .chain([Sid::TRUSTED_INSTALLER])
                .collect::<Vec<_>>()
        ),
        (
            0..=MAX_AUTHORITY,
            prop::collection::vec(any::<u32>(), 0..=MAX_SUB_AUTHORITIES)
        )
            .prop_map(|(a, subs)| Sid::new(a, &subs).unwrap()),
    ]
}

fn arb_guid() -> impl Strategy<Value = Option<Guid>> {
    prop::option::of(any::<[u8; 16]>().prop_map(Guid))
}

/// A generated conditional expression in SDDL text.
fn arb_condition_text() -> impl Strategy<Value = String> {
    let name = "[A-Za-z_][A-Za-z0-9_]{0,6}";
    let attr = (
        prop::sample::select(vec!["@USER.", "@DEVICE.", "@RESOURCE."]),
        name,
    )
        .prop_map(|(p, n)| format!("{p}{n}"));
    let int = (any::<i64>(), 0..3u8, 0..3u8).prop_map(|(v, sign, base)| {
        let (v, prefix) = match sign {
            0 => (v, ""),
            1 => (v.checked_abs().unwrap_or(0), "+"),
            _ => (v.checked_abs().unwrap_or(0), "-"),
        };
        let m = v.unsigned_abs();
        let body = match (sign, base) {
            (0, 0) => v.unsigned_abs().to_string(),
            (_, 0) => m.to_string(),
            (_, 1) => format!("0x{m:x}"),
            _ => format!("0{m:o}"),
        };
        format!("{prefix}{body}")
    });
    let scalar = prop_oneof![
        int,
        "[a-z ]{0,5}".prop_map(|s| format!("\"{s}\"")),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(|b| format!("#{}", hex::encode(b))),
        arb_sid().prop_map(|s| format!("SID({})", s.to_sddl())),
    ];
    let literal = scalar.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(|v| format!("{{{}}}", v.join(", ")))
    });
    let relational = prop::sample::select(vec![
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "Contains",
        "Any_of",
        "Not_Contains",
        "Not_Any_of",
    ]);
    let leaf = prop_oneof![
        (
            attr.clone(),
            relational,
            prop_oneof![literal.clone(), attr.clone()]
        )
            .prop_map(|(a, op, v)| format!("{a} {op} {v}")),
        attr.clone(),
        name.prop_map(|n| format!("x{n}")),
        (
            prop::sample::select(vec![
                "Member_of",
                "Not_Device_Member_of_Any",
                "Member_of_any"
            ]),
            literal
        )
            .prop_map(|(op, v)| format!("{op} {v}")),
        attr.prop_map(|a| format!("Exists {a}")),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || {b}")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
    .prop_map(|e| format!("({e})"))
}

fn pad4(mut v: Vec<u8>) -> Vec<u8> {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

fn arb_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(pad4),
        2 => arb_condition_text().prop_map(|t| condition::tokens_of(&t).unwrap()),
    ]
}

fn arb_ace() -> impl Strategy<Value = Ace> {
    let common_type = prop::sample::select(vec![
        0x00u8, 0x01, 0x02, 0x03, 0x09, 0x0A, 0x0D, 0x0E, 0x11, 0x12, 0x13, 0x14, 0x15,
    ]);
    let object_type = prop::sample::select(vec![0x05u8, 0x06, 0x07, 0x08, 0x0B, 0x0C, 0x0F, 0x10]);
    let opaque_type = prop_oneof![Just(0x04u8), 0x16u8..=0xff];
    let flags = prop_oneof![
        3 => prop::sample::select(vec![0u8, 0x03, 0x0B, 0x10, 0x13, 0x40, 0xC0]),
        1 => any::<u8>(),
    ];
    let mask = prop_oneof![
        prop::sample::select(vec![0u32, 0x1F01FF, 0x1200A9, 0x20019, 0xA0000000, 7]),
        any::<u32>(),
    ];
    prop_oneof![
        (
            common_type,
            flags.clone(),
            mask.clone(),
            arb_sid(),
            arb_data()
        )
            .prop_map(|(t, f, mask, sid, data)| Ace::new(
                t,
                f,
                AceBody::Common { mask, sid, data }
            )
            .unwrap()),
        (
            object_type,
            flags.clone(),
            mask,
            prop_oneof![Just(0u32), any::<u32>()],
            arb_guid(),
            arb_guid(),
            arb_sid(),
            arb_data()
        )
            .prop_map(|(t, f, mask, of, o, i, sid, data)| {
                Ace::new(
                    t,
                    f,
                    AceBody::Object {
                        mask,
                        flags: of,
                        object_type: o,
                        inherited_object_type: i,
                        sid,
                        data,
                    },
                )
                .unwrap()
            }),
        (
            opaque_type,
            flags,
            prop::collection::vec(any::<u8>(), 0..24).prop_map(pad4)
        )
            .prop_map(|(t, f, body)| Ace::new(t, f, AceBody::Opaque(body)).unwrap()),
    ]
}

fn arb_aces() -> impl Strategy<Value = Vec<Ace>> {
    prop::collection::vec(arb_ace(), 0..5)
}

/// Any descriptor the binary form can hold.
fn arb_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        prop::option::of(arb_sid()),
        prop::option::of(arb_sid()),
        prop::option::of((any::<u8>(), arb_aces())),
        prop::option::of((any::<u8>(), arb_aces())),
    )
        .prop_map(|(revision, sbz1, control, owner, group, sacl, dacl)| {
            let acl = |a: Option<(u8, Vec<Ace>)>| a.map(|(r, aces)| Acl::new(r, aces).unwrap());
            SecurityDescriptor {
                revision,
                sbz1,
                control: control | control::SE_SELF_RELATIVE,
                owner,
                group,
                sacl: acl(sacl),
                dacl: acl(dacl),
            }
        })
}

/// An ACL as SDDL carries it: absent, NULL or present with the converter's revision, with
/// any subset of P/AR/AI when present.
fn arb_sddl_acl() -> impl Strategy<Value = (u16, Option<Acl>)> {
    prop_oneof![
        1 => Just((0u16, None)),
        1 => (0u16..8).prop_map(|f| (f | 8, None)),
        4 => (0u16..8, arb_aces())
            .prop_map(|(f, aces)| (f | 8, Some(Acl::with_default_revision(aces).unwrap()))),
    ]
}

/// Any descriptor whose fields SDDL can carry.
fn arb_sddl_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    (
        prop::option::of(arb_sid()),
        prop::option::of(arb_sid()),
        arb_sddl_acl(),
        arb_sddl_acl(),
    )
        .prop_map(|(owner, group, (dflags, dacl), (sflags, sacl))| {
            // bit 3 of the generated flags: present; bits 0-2: P, AR, AI.
            let bits = |f: u16, present, p, ar, ai| {
                if f & 8 == 0 {
                    return 0;
                }
                let mut c = present;
                if f & 1 != 0 {
                    c |= p;
                }
                if f & 2 != 0 {
                    c |= ar;
                }
                if f & 4 != 0 {
                    c |= ai;
                }
                c
            };
            SecurityDescriptor {
                revision: 1,
                sbz1: 0,
                control: control::SE_SELF_RELATIVE
                    | bits(
                        dflags,
                        control::SE_DACL_PRESENT,
                        control::SE_DACL_PROTECTED,
                        control::SE_DACL_AUTO_INHERIT_REQ,
                        control::SE_DACL_AUTO_INHERITED,
                    )
                    | bits(
                        sflags,
                        control::SE_SACL_PRESENT,
                        control::SE_SACL_PROTECTED,
                        control::SE_SACL_AUTO_INHERIT_REQ,
                        control::SE_SACL_AUTO_INHERITED,
                    ),
                owner,
                group,
                sacl: if sflags & 8 != 0 { sacl } else { None },
                dacl: if dflags & 8 != 0 { dacl } else { None },
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn binary_round_trip(d in arb_descriptor()) {
        let bytes = d.to_bytes();
        prop_assert_eq!(SecurityDescriptor::from_bytes(&bytes), Ok(d.clone()));
        let other = d.to_bytes_in(Layout::SaclDaclOwnerGroup);
        prop_assert_eq!(other.len(), bytes.len());
        prop_assert_eq!(SecurityDescriptor::from_bytes(&other), Ok(d.clone()));
        // Rendering never panics, whatever the descriptor holds.
        let _ = d.to_sddl();
    }

    #[test]
    fn sddl_round_trip(d in arb_sddl_descriptor()) {
        let text = d.to_sddl();
        let parsed = SecurityDescriptor::from_sddl(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&d), "{}", text);
        prop_assert_eq!(parsed.map(|p| p.to_bytes()), Ok(d.to_bytes()));
    }

    #[test]
    fn binary_to_sddl_to_binary_is_exact(d in arb_sddl_descriptor()) {
        let bytes = d.to_bytes();
        let text = SecurityDescriptor::from_bytes(&bytes).unwrap().to_sddl();
        prop_assert_eq!(SecurityDescriptor::from_sddl(&text).map(|p| p.to_bytes()), Ok(bytes));
    }

    #[test]
    fn generated_conditions_render_back_exactly(text in arb_condition_text()) {
        let bytes = condition::tokens_of(&text).unwrap();
        let rendered = condition::render(&bytes);
        prop_assert!(rendered.is_some(), "{} did not render", text);
        let rendered = rendered.unwrap();
        prop_assert_eq!(condition::tokens_of(&rendered), Ok(bytes), "{}", rendered);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(d) = SecurityDescriptor::from_bytes(&bytes) {
            let _ = d.to_sddl();
        }
        let _ = Sid::from_bytes(&bytes);
        let _ = Acl::from_bytes(&bytes);
        let _ = Ace::from_bytes(&bytes);
        let _ = condition::render(&bytes);
        let mut artx = b"artx".to_vec();
        artx.extend_from_slice(&bytes);
        let _ = condition::render(&artx);
    }

    #[test]
    fn damaged_descriptors_never_panic(
        d in arb_descriptor(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let bytes = d.to_bytes();
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(SecurityDescriptor::from_bytes(truncated).is_err());
        let mut damaged = bytes.clone();
        for (at, value) in flips {
            let i = at.index(damaged.len());
            damaged[i] = value;
        }
        if let Ok(d) = SecurityDescriptor::from_bytes(&damaged) {
            let text = d.to_sddl();
            let _ = SecurityDescriptor::from_sddl(&text);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,64}") {
        let _ = SecurityDescriptor::from_sddl(&s);
    }

    #[test]
    fn sddl_like_strings_never_panic_and_reparse(
        s in "[OGDS:()PAIRNO_CESTL;# @.!&|=<>{},\"xX0-9a-fA-F\\-]{0,80}"
    ) {
        if let Ok(d) = SecurityDescriptor::from_sddl(&s) {
            // Whatever parsed renders to text that parses to the same descriptor.
            let text = d.to_sddl();
            prop_assert_eq!(SecurityDescriptor::from_sddl(&text), Ok(d), "{}", text);
        }
    }

    #[test]
    fn edited_sddl_never_panics_and_reparses(
        d in arb_sddl_descriptor(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::option::of(prop::sample::select(
                "();:#@{}\",= !&|<>-0xSAIPOGD".chars().collect::<Vec<_>>()
            ))),
            1..4,
        ),
    ) {
        // Valid text with a few characters deleted or inserted reaches the deep parser
        // paths (conditions, hex forms, GUIDs) that random strings rarely do.
        let mut chars: Vec<char> = d.to_sddl().chars().collect();
        for (at, insert) in edits {
            let i = at.index(chars.len() + 1);
            match insert {
                Some(c) => chars.insert(i, c),
                None if i < chars.len() => { chars.remove(i); }
                None => {}
            }
        }
        let text: String = chars.into_iter().collect();
        if let Ok(parsed) = SecurityDescriptor::from_sddl(&text) {
            let again = parsed.to_sddl();
            prop_assert_eq!(SecurityDescriptor::from_sddl(&again), Ok(parsed), "{}", again);
        }
    }
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
            assert_ne!(shape, super::acl::AceShape::Opaque, "{t:#x}");
        }
    }
}

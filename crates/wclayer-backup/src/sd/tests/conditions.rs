//! Conditional ACEs: the token encoding of callback ACE data and its SDDL form.

use super::*;
use crate::sd::condition;

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

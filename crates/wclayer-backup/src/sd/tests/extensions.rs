//! The wclayer `#` extensions for ACEs SDDL cannot otherwise carry exactly.

use super::*;
use crate::sd::condition;

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

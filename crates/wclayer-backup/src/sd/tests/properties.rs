//! Property tests: round trips of generated descriptors and expressions, and no panic
//! on arbitrary or damaged input.

use proptest::prelude::*;

use super::*;
use crate::sd::condition;

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
            let i = at.index(chars.len().saturating_add(1));
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

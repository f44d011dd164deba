//! SIDs (§3.3) and the SDDL alias table (§3.7).

use super::*;

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

//! Targets of the security-descriptor codecs: the self-relative binary form and SDDL.

use wclayer_backup::sd::{Acl, Layout, SecurityDescriptor, control};

/// The descriptor SDDL carries for `d`: what `from_sddl(d.to_sddl())` gives by the module
/// documentation of `wclayer_backup::sd`. SDDL cannot carry the descriptor's `Revision` and
/// `Sbz1`, control bits other than the present and `P`/`AR`/`AI` bits, an ACL stored while
/// its present bit is clear, and an ACL revision other than the converter's; `from_sddl`
/// builds revision 1, `Control` = `SE_SELF_RELATIVE` plus the present bits and the
/// `P`/`AR`/`AI` bits of each present ACL, and the converter's ACL revision.
fn sddl_normal_form(d: &SecurityDescriptor) -> SecurityDescriptor {
    let acl_part = |present: u16, flags: u16, acl: &Option<Acl>| {
        if d.control & present == 0 {
            return (0, None);
        }
        let acl = acl.as_ref().map(|a| {
            Acl::with_default_revision(a.aces().to_vec()).expect("the ACEs fit as they did")
        });
        (present | (d.control & flags), acl)
    };
    let (dacl_bits, dacl) = acl_part(
        control::SE_DACL_PRESENT,
        control::SE_DACL_PROTECTED
            | control::SE_DACL_AUTO_INHERIT_REQ
            | control::SE_DACL_AUTO_INHERITED,
        &d.dacl,
    );
    let (sacl_bits, sacl) = acl_part(
        control::SE_SACL_PRESENT,
        control::SE_SACL_PROTECTED
            | control::SE_SACL_AUTO_INHERIT_REQ
            | control::SE_SACL_AUTO_INHERITED,
        &d.sacl,
    );
    SecurityDescriptor {
        revision: 1,
        sbz1: 0,
        control: control::SE_SELF_RELATIVE | dacl_bits | sacl_bits,
        owner: d.owner,
        group: d.group,
        sacl,
        dacl,
    }
}

/// Checks a descriptor from either decoder: both binary layouts round-trip, and its SDDL
/// parses back to its SDDL normal form.
fn check_descriptor(d: &SecurityDescriptor) {
    let bytes = d.to_bytes();
    assert_eq!(
        SecurityDescriptor::from_bytes(&bytes).as_ref(),
        Ok(d),
        "binary round trip"
    );
    let other = d.to_bytes_in(Layout::SaclDaclOwnerGroup);
    assert_eq!(other.len(), bytes.len(), "both layouts have the same size");
    assert_eq!(
        SecurityDescriptor::from_bytes(&other).as_ref(),
        Ok(d),
        "binary round trip of the SACL-DACL-owner-group layout"
    );

    let text = d.to_sddl();
    let normal = sddl_normal_form(d);
    assert_eq!(
        normal.to_sddl(),
        text,
        "what SDDL cannot carry does not show in SDDL"
    );
    let parsed = SecurityDescriptor::from_sddl(&text);
    assert_eq!(
        parsed.as_ref(),
        Ok(&normal),
        "SDDL parses back to the SDDL normal form: {text}"
    );
    if normal == *d {
        // Binary → SDDL → binary is exact within SDDL's limits.
        assert_eq!(parsed.map(|p| p.to_bytes()), Ok(bytes));
    }
}

/// `wclayer_backup::sd::SecurityDescriptor::from_bytes` over `data`.
///
/// Asserts, for an accepted descriptor: it re-encodes (in the canonical layout and in the
/// SACL-DACL-owner-group layout) to bytes that decode to the same descriptor; its SDDL rendering does not panic and parses back to
/// the descriptor with what SDDL cannot carry normalised (revision, `Sbz1`, control bits
/// other than present/`P`/`AR`/`AI`, ACLs whose present bit is clear, ACL revisions), which
/// is the descriptor itself when it has nothing SDDL cannot carry.
pub fn security_descriptor(data: &[u8]) {
    let Ok(d) = SecurityDescriptor::from_bytes(data) else {
        return;
    };
    assert_ne!(
        d.control & control::SE_SELF_RELATIVE,
        0,
        "only self-relative descriptors decode"
    );
    check_descriptor(&d);
}

/// `wclayer_backup::sd::SecurityDescriptor::from_sddl` over `data` as UTF-8.
///
/// Asserts, for accepted text: rendering and parsing again gives the same descriptor and
/// then the same text (text → descriptor → text → descriptor is stable), and the
/// descriptor's binary form and SDDL round-trip as for [`crate::security_descriptor`].
pub fn sddl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = SecurityDescriptor::from_sddl(text) else {
        return;
    };
    let rendered = d.to_sddl();
    let again = SecurityDescriptor::from_sddl(&rendered);
    assert_eq!(
        again.as_ref(),
        Ok(&d),
        "parsed text renders to text that parses to the same descriptor: {rendered}"
    );
    assert_eq!(
        again.map(|a| a.to_sddl()),
        Ok(rendered),
        "the rendering is stable"
    );
    assert_eq!(
        sddl_normal_form(&d),
        d,
        "a parsed descriptor holds only what SDDL carries"
    );
    check_descriptor(&d);
}

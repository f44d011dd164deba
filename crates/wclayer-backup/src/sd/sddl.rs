//! SDDL rendering and parsing (docs/ea-reparse-sd.md §3.8), with the wclayer `#` extensions
//! described in the [`crate::sd`] module docs.

use std::fmt;
use std::str::FromStr;

use super::acl::{Ace, AceBody, AceShape, Acl, Guid, ace_type, object_flags, parse_guid, shape_of};
use super::condition;
use super::descriptor::{SecurityDescriptor, control};
use super::error::SddlError;
use super::lexer::{Cursor, push_hex};
use super::sid::{Sid, parse_sid};

/// ACE type tokens (§3.5).
const ACE_TYPES: &[(&str, u8)] = &[
    ("A", ace_type::ACCESS_ALLOWED_ACE_TYPE),
    ("D", ace_type::ACCESS_DENIED_ACE_TYPE),
    ("AU", ace_type::SYSTEM_AUDIT_ACE_TYPE),
    ("AL", ace_type::SYSTEM_ALARM_ACE_TYPE),
    ("OA", ace_type::ACCESS_ALLOWED_OBJECT_ACE_TYPE),
    ("OD", ace_type::ACCESS_DENIED_OBJECT_ACE_TYPE),
    ("OU", ace_type::SYSTEM_AUDIT_OBJECT_ACE_TYPE),
    ("OL", ace_type::SYSTEM_ALARM_OBJECT_ACE_TYPE),
    ("XA", ace_type::ACCESS_ALLOWED_CALLBACK_ACE_TYPE),
    ("XD", ace_type::ACCESS_DENIED_CALLBACK_ACE_TYPE),
    ("ZA", ace_type::ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE),
    ("XU", ace_type::SYSTEM_AUDIT_CALLBACK_ACE_TYPE),
    ("ML", ace_type::SYSTEM_MANDATORY_LABEL_ACE_TYPE),
    ("RA", ace_type::SYSTEM_RESOURCE_ATTRIBUTE_ACE_TYPE),
    ("SP", ace_type::SYSTEM_SCOPED_POLICY_ID_ACE_TYPE),
    ("TL", ace_type::SYSTEM_PROCESS_TRUST_LABEL_ACE_TYPE),
    ("FL", ace_type::SYSTEM_ACCESS_FILTER_ACE_TYPE),
];

/// The ACE types whose seventh field is a conditional expression (`XA`, `XD`, `ZA`, `XU`).
const CONDITIONAL_TYPES: [u8; 4] = [
    ace_type::ACCESS_ALLOWED_CALLBACK_ACE_TYPE,
    ace_type::ACCESS_DENIED_CALLBACK_ACE_TYPE,
    ace_type::ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE,
    ace_type::SYSTEM_AUDIT_CALLBACK_ACE_TYPE,
];

/// ACE flag tokens, in rendering order (§3.5).
const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
    ("SA", 0x40),
    ("FA", 0x80),
];

/// Rights rule (a): a mask equal to one entry prints as that token, the first match in
/// this order winning (so 0x20019 is `KR`, not `KX`) (§3.8).
const EXACT_RIGHTS: &[(&str, u32)] = &[
    ("GA", 0x1000_0000),
    ("GR", 0x8000_0000),
    ("GW", 0x4000_0000),
    ("GX", 0x2000_0000),
    ("RC", 0x0002_0000),
    ("SD", 0x0001_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("RP", 0x0000_0010),
    ("WP", 0x0000_0020),
    ("CC", 0x0000_0001),
    ("DC", 0x0000_0002),
    ("LC", 0x0000_0004),
    ("SW", 0x0000_0008),
    ("LO", 0x0000_0080),
    ("DT", 0x0000_0040),
    ("CR", 0x0000_0100),
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// Rights rule (b): the single-bit tokens, in ascending bit order (§3.6, §3.8).
const BIT_RIGHTS: &[(&str, u32)] = &[
    ("CC", 0x0000_0001),
    ("DC", 0x0000_0002),
    ("LC", 0x0000_0004),
    ("SW", 0x0000_0008),
    ("RP", 0x0000_0010),
    ("WP", 0x0000_0020),
    ("DT", 0x0000_0040),
    ("LO", 0x0000_0080),
    ("CR", 0x0000_0100),
    ("SD", 0x0001_0000),
    ("RC", 0x0002_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("GA", 0x1000_0000),
    ("GX", 0x2000_0000),
    ("GW", 0x4000_0000),
    ("GR", 0x8000_0000),
];

/// The mandatory-label mask tokens (§3.5), in ascending bit order.
const LABEL_RIGHTS: &[(&str, u32)] = &[("NW", 0x1), ("NR", 0x2), ("NX", 0x4)];

// ---------------------------------------------------------------------------------------
// The text form of a whole descriptor

impl SecurityDescriptor {
    /// Renders SDDL following §3.8, with the wclayer extensions of the module docs for ACEs
    /// SDDL cannot otherwise carry.
    #[must_use]
    pub fn to_sddl(&self) -> String {
        render_sd(self)
    }

    /// Parses SDDL (§3.8) into the descriptor §3.1's converter layout describes.
    ///
    /// # Errors
    ///
    /// [`SddlError`] with the character offset of the problem: a syntax error, an unknown
    /// or domain-relative alias, an invalid token, a duplicate component, an inconsistent
    /// ACE, or an ACE or ACL too large for its binary size field.
    pub fn from_sddl(sddl: &str) -> Result<SecurityDescriptor, SddlError> {
        parse_sd(sddl)
    }
}

impl fmt::Display for SecurityDescriptor {
    /// The SDDL form ([`SecurityDescriptor::to_sddl`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sddl())
    }
}

impl FromStr for SecurityDescriptor {
    type Err = SddlError;

    /// Parses SDDL ([`SecurityDescriptor::from_sddl`]).
    fn from_str(s: &str) -> Result<SecurityDescriptor, SddlError> {
        SecurityDescriptor::from_sddl(s)
    }
}

// ---------------------------------------------------------------------------------------
// Rendering

fn render_sd(sd: &SecurityDescriptor) -> String {
    let mut out = String::new();
    if let Some(owner) = &sd.owner {
        out.push_str("O:");
        out.push_str(&owner.to_sddl());
    }
    if let Some(group) = &sd.group {
        out.push_str("G:");
        out.push_str(&group.to_sddl());
    }
    if sd.control & control::SE_DACL_PRESENT != 0 {
        out.push_str("D:");
        render_acl_part(&mut out, sd.control, DACL_BITS, sd.dacl.as_ref());
    }
    if sd.control & control::SE_SACL_PRESENT != 0 {
        out.push_str("S:");
        render_acl_part(&mut out, sd.control, SACL_BITS, sd.sacl.as_ref());
    }
    out
}

/// The control bits behind `P`, `AR`, `AI` for one ACL.
struct AclBits {
    protected: u16,
    auto_inherit_req: u16,
    auto_inherited: u16,
}

const DACL_BITS: AclBits = AclBits {
    protected: control::SE_DACL_PROTECTED,
    auto_inherit_req: control::SE_DACL_AUTO_INHERIT_REQ,
    auto_inherited: control::SE_DACL_AUTO_INHERITED,
};

const SACL_BITS: AclBits = AclBits {
    protected: control::SE_SACL_PROTECTED,
    auto_inherit_req: control::SE_SACL_AUTO_INHERIT_REQ,
    auto_inherited: control::SE_SACL_AUTO_INHERITED,
};

fn render_acl_part(out: &mut String, control: u16, bits: AclBits, acl: Option<&Acl>) {
    for (bit, token) in [
        (bits.protected, "P"),
        (bits.auto_inherit_req, "AR"),
        (bits.auto_inherited, "AI"),
    ] {
        if control & bit != 0 {
            out.push_str(token);
        }
    }
    match acl {
        None => out.push_str("NO_ACCESS_CONTROL"),
        Some(acl) => {
            for ace in acl.aces() {
                out.push_str(&render_ace(ace));
            }
        }
    }
}

/// How the bytes after the SID are written in the seventh field.
#[derive(Clone, Copy)]
enum DataForm {
    Condition,
    Hex,
}

/// Renders one ACE: the standard form if it parses back to the same ACE, else the wclayer
/// `#` forms (module docs).
pub(crate) fn render_ace(ace: &Ace) -> String {
    for form in [DataForm::Condition, DataForm::Hex] {
        if let Some(text) = render_standard(ace, form) {
            // The guarantee of the extensions: only print what reads back identically.
            if parse_ace_str(&text).is_ok_and(|parsed| parsed == *ace) {
                return text;
            }
        }
    }
    // Nothing else reads back exactly: the whole binary ACE, which `parse_ace` decodes
    // with the binary decoder's checks.
    let mut text = String::from("(#");
    push_hex(&mut text, &ace.to_bytes());
    text.push(')');
    text
}

fn render_standard(ace: &Ace, form: DataForm) -> Option<String> {
    let (token, _) = ACE_TYPES.iter().find(|(_, t)| *t == ace.ace_type())?;
    let flags = render_ace_flags(ace.flags())?;
    let (mask, object_type, inherited_object_type, sid, data) = match ace.body() {
        AceBody::Common { mask, sid, data } => (*mask, None, None, sid, data),
        AceBody::Object {
            mask,
            flags,
            object_type,
            inherited_object_type,
            sid,
            data,
        } => {
            let presence = object_flags::ACE_OBJECT_TYPE_PRESENT
                | object_flags::ACE_INHERITED_OBJECT_TYPE_PRESENT;
            if flags & !presence != 0 {
                return None;
            }
            (
                *mask,
                object_type.as_ref(),
                inherited_object_type.as_ref(),
                sid,
                data,
            )
        }
        AceBody::Opaque(_) => return None,
    };
    let guid = |g: Option<&Guid>| g.map(Guid::to_string).unwrap_or_default();
    let mut text = format!(
        "({token};{flags};{};{};{};{}",
        render_rights(mask, ace.ace_type()),
        guid(object_type),
        guid(inherited_object_type),
        sid.to_sddl(),
    );
    if !data.is_empty() {
        text.push(';');
        match form {
            DataForm::Condition if CONDITIONAL_TYPES.contains(&ace.ace_type()) => {
                text.push_str(&condition::render(data)?);
            }
            DataForm::Condition => return None,
            DataForm::Hex => {
                text.push('#');
                push_hex(&mut text, data);
            }
        }
    }
    text.push(')');
    Some(text)
}

/// The flag tokens in the order of §3.5, or `None` if a bit has no token.
fn render_ace_flags(flags: u8) -> Option<String> {
    let mut out = String::new();
    let mut known = 0u8;
    for &(token, bit) in ACE_FLAGS {
        known |= bit;
        if flags & bit != 0 {
            out.push_str(token);
        }
    }
    (flags & !known == 0).then_some(out)
}

/// Renders an access mask by rules (a), (b), (c) of §3.8; mandatory-label masks made only
/// of the three label bits print as `NW`/`NR`/`NX` (Windows' `S:(ML;;NW;;;LW)`).
pub(crate) fn render_rights(mask: u32, ace_type: u8) -> String {
    if mask == 0 {
        return String::new();
    }
    if ace_type == ace_type::SYSTEM_MANDATORY_LABEL_ACE_TYPE && mask & !0x7 == 0 {
        return tokens_for(mask, LABEL_RIGHTS);
    }
    if let Some((token, _)) = EXACT_RIGHTS.iter().find(|(_, m)| *m == mask) {
        return (*token).to_owned();
    }
    let single_bits = BIT_RIGHTS.iter().fold(0, |acc, (_, bit)| acc | bit);
    if mask & !single_bits == 0 {
        return tokens_for(mask, BIT_RIGHTS);
    }
    format!("0x{mask:x}")
}

fn tokens_for(mask: u32, table: &[(&str, u32)]) -> String {
    table
        .iter()
        .filter(|(_, bit)| mask & bit != 0)
        .map(|(token, _)| *token)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Parses a whole descriptor. The components may come in any order (Windows accepts
/// `S:D:`), each at most once; letters are upper case only (Windows rejects `d:`).
fn parse_sd(input: &str) -> Result<SecurityDescriptor, SddlError> {
    // Working on characters makes every offset in an error a character offset.
    let chars: Vec<char> = input.chars().collect();
    let mut c = Cursor::new(&chars);
    let mut sd = SecurityDescriptor::new();
    let mut seen = [false; 4];
    loop {
        c.skip_ws();
        let Some(letter) = c.peek() else { break };
        let start = c.pos();
        let slot = match letter {
            'O' => 0,
            'G' => 1,
            'D' => 2,
            'S' => 3,
            _ => return Err(c.unexpected("`O:`, `G:`, `D:` or `S:`")),
        };
        if c.peek_at(1) != Some(':') {
            return Err(SddlError::Unexpected {
                offset: start.saturating_add(1),
                expected: "`:` after the component letter",
                found: c.peek_at(1),
            });
        }
        if let Some(seen) = seen.get_mut(slot) {
            if *seen {
                return Err(SddlError::DuplicateComponent {
                    offset: start,
                    component: letter,
                });
            }
            *seen = true;
        }
        c.bump();
        c.bump();
        match letter {
            'O' => sd.owner = Some(parse_component_sid(&mut c)?),
            'G' => sd.group = Some(parse_component_sid(&mut c)?),
            'D' => {
                let (bits, acl) = parse_acl_part(&mut c, DACL_BITS)?;
                sd.control |= control::SE_DACL_PRESENT | bits;
                sd.dacl = acl;
            }
            _ => {
                let (bits, acl) = parse_acl_part(&mut c, SACL_BITS)?;
                sd.control |= control::SE_SACL_PRESENT | bits;
                sd.sacl = acl;
            }
        }
    }
    Ok(sd)
}

/// The SID of `O:` or `G:`. Like Windows, the component's text runs to the letter before
/// the next `:` (or to the end), so `O:S-1-2-0x200D:` is `S-1-2-0x200` followed by `D:`.
fn parse_component_sid(c: &mut Cursor<'_>) -> Result<Sid, SddlError> {
    let end = c
        .rest()
        .iter()
        .position(|&ch| ch == ':')
        .map_or(c.input_len(), |colon| {
            c.pos().saturating_add(colon).saturating_sub(1).max(c.pos())
        });
    let mut part = c.until(end);
    part.skip_ws();
    let sid = parse_sid(&mut part)?;
    part.skip_ws();
    if !part.at_end() {
        return Err(part.unexpected("the end of the sid"));
    }
    c.jump_to(part.pos());
    Ok(sid)
}

/// `aclflags ( "NO_ACCESS_CONTROL" | ace* )` after `D:` or `S:`; returns the control bits
/// of the flags and the ACL (`None` for a NULL ACL).
fn parse_acl_part(c: &mut Cursor<'_>, bits: AclBits) -> Result<(u16, Option<Acl>), SddlError> {
    let start = c.pos();
    let mut control = 0;
    loop {
        c.skip_ws();
        if c.eat_ci("NO_ACCESS_CONTROL") {
            c.skip_ws();
            if c.peek() == Some('(') {
                return Err(SddlError::InvalidAce {
                    offset: c.pos(),
                    reason: "an ace after NO_ACCESS_CONTROL",
                });
            }
            return Ok((control, None));
        }
        // Any subset in any order, repeats allowed, as Windows accepts (`D:ARPAI`).
        if c.eat_ci("AR") {
            control |= bits.auto_inherit_req;
        } else if c.eat_ci("AI") {
            control |= bits.auto_inherited;
        } else if c.eat_ci("P") {
            control |= bits.protected;
        } else {
            break;
        }
    }
    let mut aces = Vec::new();
    loop {
        c.skip_ws();
        if c.peek() != Some('(') {
            break;
        }
        aces.push(parse_ace(c)?);
    }
    let acl = Acl::with_default_revision(aces).map_err(|source| SddlError::Binary {
        offset: start,
        source,
    })?;
    Ok((control, Some(acl)))
}

/// Parses a whole string as one ACE (for the renderer's self-check).
fn parse_ace_str(text: &str) -> Result<Ace, SddlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut c = Cursor::new(&chars);
    let ace = parse_ace(&mut c)?;
    if c.at_end() {
        Ok(ace)
    } else {
        Err(c.unexpected("the end of the ace"))
    }
}

fn field_separator(c: &mut Cursor<'_>) -> Result<(), SddlError> {
    c.skip_ws();
    c.expect(';', "`;` between ace fields")?;
    c.skip_ws();
    Ok(())
}

/// `(type;flags;rights;guid;guid;sid[;data])`, or the wclayer `(#hex)` form.
fn parse_ace(c: &mut Cursor<'_>) -> Result<Ace, SddlError> {
    let start = c.pos();
    c.expect('(', "`(` starting an ace")?;
    c.skip_ws();
    if c.eat('#') {
        let bytes = parse_hex(c, "hex ace")?;
        c.skip_ws();
        c.expect(')', "`)` closing the ace")?;
        return Ace::from_bytes(&bytes).map_err(|source| SddlError::Binary {
            offset: start,
            source,
        });
    }

    // Each field is read as one token; whitespace is skipped around it by
    // `field_separator`, never inside it (Windows rejects `RP LC`).
    let type_at = c.pos();
    let token = c.take_while(|ch| ch.is_ascii_alphabetic());
    let Some(&(_, ace_type)) = ACE_TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(&token))
    else {
        return Err(SddlError::InvalidToken {
            offset: type_at,
            what: "ace type",
            text: token,
            reason: "not an ace type of docs/ea-reparse-sd.md §3.5",
        });
    };
    field_separator(c)?;

    let flags_at = c.pos();
    let text = c.take_while(|ch| ch.is_ascii_alphabetic());
    let Some(flags) = parse_ace_flags(&text) else {
        return Err(SddlError::InvalidToken {
            offset: flags_at,
            what: "ace flags",
            text,
            reason: "expected two-letter flags among OI CI NP IO ID SA FA",
        });
    };
    field_separator(c)?;

    let rights_at = c.pos();
    let text = c.take_while(|ch| ch.is_ascii_alphanumeric());
    let mask = parse_rights(&text).map_err(|reason| SddlError::InvalidToken {
        offset: rights_at,
        what: "rights",
        text,
        reason,
    })?;
    field_separator(c)?;

    let object_type = parse_guid_field(c)?;
    field_separator(c)?;
    let inherited_object_type = parse_guid_field(c)?;
    field_separator(c)?;

    let sid = parse_sid(c)?;
    c.skip_ws();

    let mut data = Vec::new();
    if c.eat(';') {
        c.skip_ws();
        let data_at = c.pos();
        match c.peek() {
            Some('(') if CONDITIONAL_TYPES.contains(&ace_type) => data = condition::parse(c)?,
            Some('(') if ace_type == ace_type::SYSTEM_RESOURCE_ATTRIBUTE_ACE_TYPE => {
                return Err(SddlError::InvalidAce {
                    offset: data_at,
                    reason: "resource attribute values are not supported; \
                             wclayer writes RA claims as #hex",
                });
            }
            Some('(') => {
                return Err(SddlError::InvalidAce {
                    offset: data_at,
                    reason: "a conditional expression on an ace type that is not XA, XD, XU or ZA",
                });
            }
            Some('#') => {
                c.bump();
                data = parse_hex(c, "hex ace data")?;
            }
            _ => {}
        }
        c.skip_ws();
    }
    c.expect(')', "`)` closing the ace")?;

    // The object flags are derived from the GUIDs (`Ace::new` sets the presence bits).
    let body = match shape_of(ace_type) {
        AceShape::Object => AceBody::Object {
            mask,
            flags: 0,
            object_type,
            inherited_object_type,
            sid,
            data,
        },
        AceShape::Common | AceShape::Opaque => {
            if object_type.is_some() || inherited_object_type.is_some() {
                return Err(SddlError::InvalidAce {
                    offset: start,
                    reason: "an object guid on an ace type without object guids",
                });
            }
            AceBody::Common { mask, sid, data }
        }
    };
    Ace::new(ace_type, flags, body).map_err(|source| SddlError::Binary {
        offset: start,
        source,
    })
}

/// Concatenated two-letter flag tokens (any case); `None` on anything else.
fn parse_ace_flags(text: &str) -> Option<u8> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(2).try_fold(0u8, |flags, pair| {
        let token: String = pair.iter().collect();
        ACE_FLAGS
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(&token))
            .map(|&(_, bit)| flags | bit)
    })
}

/// The rights field: empty, a number as C's `strtoul(…, 0)` reads it (`0x` hex, leading
/// `0` octal, else decimal) that fits in 32 bits, or concatenated two-letter tokens
/// (§3.6, including the composites and `NW`/`NR`/`NX`).
pub(crate) fn parse_rights(text: &str) -> Result<u32, &'static str> {
    if text.is_empty() {
        return Ok(0);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_c_number(text).ok_or("expected a number that fits in 32 bits");
    }
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(2).try_fold(0u32, |mask, pair| {
        let token: String = pair.iter().collect();
        EXACT_RIGHTS
            .iter()
            .chain(LABEL_RIGHTS)
            .find(|(t, _)| t.eq_ignore_ascii_case(&token))
            .map(|&(_, bits)| mask | bits)
            .ok_or("unknown rights token (expected two-letter tokens of §3.6 or a number)")
    })
}

/// `strtoul` base 0, restricted to inputs it reads completely and without overflow.
fn parse_c_number(text: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (text, 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

fn parse_guid_field(c: &mut Cursor<'_>) -> Result<Option<Guid>, SddlError> {
    let at = c.pos();
    let text = c.take_while(|ch| ch.is_ascii_hexdigit() || ch == '-');
    if text.is_empty() {
        return Ok(None);
    }
    match parse_guid(&text) {
        Some(guid) => Ok(Some(guid)),
        None => Err(SddlError::InvalidToken {
            offset: at,
            what: "guid",
            text,
            reason: "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        }),
    }
}

/// Hex digits (either case, an even number of them) after a `#`.
fn parse_hex(c: &mut Cursor<'_>, what: &'static str) -> Result<Vec<u8>, SddlError> {
    let at = c.pos();
    let text = c.take_while(|ch| ch.is_ascii_hexdigit());
    let digits: Vec<u32> = text.chars().filter_map(|ch| ch.to_digit(16)).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(SddlError::InvalidToken {
            offset: at,
            what,
            text,
            reason: "an odd number of hex digits",
        });
    }
    Ok(digits
        .chunks_exact(2)
        .filter_map(|pair| match pair {
            [hi, lo] => u8::try_from(hi.saturating_mul(16).saturating_add(*lo)).ok(),
            _ => None,
        })
        .collect())
}

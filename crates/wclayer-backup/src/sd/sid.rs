//! SIDs (docs/ea-reparse-sd.md §3.3) and the SDDL aliases of well-known SIDs (§3.7), with both
//! codecs of a single SID: the binary one the ACE and descriptor decoders call, and the SDDL
//! token (`S-1-…` or an alias) the descriptor and condition parsers call.

use std::fmt;
use std::str::FromStr;

use super::bytes::{at, put_u32, take};
use super::error::{Component, Error, SddlError};
use super::lexer::Cursor;

/// Most sub-authorities a SID can have (`SID_MAX_SUB_AUTHORITIES`, §3.3).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// Largest identifier authority: the field is 48 bits wide (§3.3).
pub const MAX_AUTHORITY: u64 = 0xFFFF_FFFF_FFFF;

/// A security identifier, revision 1 (docs/ea-reparse-sd.md §3.3).
///
/// Binary form: `Revision` (always 1), `SubAuthorityCount`, the 48-bit
/// `IdentifierAuthority` **big-endian**, then each sub-authority as a little-endian `u32`;
/// `8 + 4 * count` bytes. The string form is `S-1-<authority>-<sub>-…`
/// ([`fmt::Display`], [`FromStr`]); SDDL additionally knows two-letter aliases
/// ([`Sid::to_sddl`], [`Sid::from_sddl`]).
///
/// The constructor checks the two limits of the binary form (authority below 2⁴⁸, at most
/// 15 sub-authorities), so every `Sid` can be encoded. The type is `Copy`: the
/// sub-authorities live in a fixed array, which also lets the well-known SIDs be constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sid {
    authority: u64,
    count: u8,
    // Entries at `count..` are always zero, so the derived equality and hash are exact.
    subs: [u32; MAX_SUB_AUTHORITIES],
}

impl Sid {
    /// `S-1-1-0`, Everyone (`WD`).
    pub const EVERYONE: Sid = Sid::known(1, &[0]);
    /// `S-1-3-0`, CREATOR OWNER (`CO`).
    pub const CREATOR_OWNER: Sid = Sid::known(3, &[0]);
    /// `S-1-3-1`, CREATOR GROUP (`CG`).
    pub const CREATOR_GROUP: Sid = Sid::known(3, &[1]);
    /// `S-1-3-4`, OWNER RIGHTS (`OW`).
    pub const OWNER_RIGHTS: Sid = Sid::known(3, &[4]);
    /// `S-1-5-2`, NETWORK (`NU`).
    pub const NETWORK: Sid = Sid::known(5, &[2]);
    /// `S-1-5-4`, INTERACTIVE (`IU`).
    pub const INTERACTIVE: Sid = Sid::known(5, &[4]);
    /// `S-1-5-6`, SERVICE (`SU`).
    pub const SERVICE: Sid = Sid::known(5, &[6]);
    /// `S-1-5-7`, ANONYMOUS LOGON (`AN`).
    pub const ANONYMOUS: Sid = Sid::known(5, &[7]);
    /// `S-1-5-9`, ENTERPRISE DOMAIN CONTROLLERS (`ED`).
    pub const ENTERPRISE_DOMAIN_CONTROLLERS: Sid = Sid::known(5, &[9]);
    /// `S-1-5-10`, PRINCIPAL SELF (`PS`).
    pub const PRINCIPAL_SELF: Sid = Sid::known(5, &[10]);
    /// `S-1-5-11`, Authenticated Users (`AU`).
    pub const AUTHENTICATED_USERS: Sid = Sid::known(5, &[11]);
    /// `S-1-5-12`, RESTRICTED (`RC`).
    pub const RESTRICTED: Sid = Sid::known(5, &[12]);
    /// `S-1-5-18`, LOCAL SYSTEM (`SY`).
    pub const LOCAL_SYSTEM: Sid = Sid::known(5, &[18]);
    /// `S-1-5-19`, LOCAL SERVICE (`LS`).
    pub const LOCAL_SERVICE: Sid = Sid::known(5, &[19]);
    /// `S-1-5-20`, NETWORK SERVICE (`NS`).
    pub const NETWORK_SERVICE: Sid = Sid::known(5, &[20]);
    /// `S-1-5-32-544`, BUILTIN\Administrators (`BA`).
    pub const BUILTIN_ADMINISTRATORS: Sid = Sid::known(5, &[32, 544]);
    /// `S-1-5-32-545`, BUILTIN\Users (`BU`).
    pub const BUILTIN_USERS: Sid = Sid::known(5, &[32, 545]);
    /// `S-1-5-32-546`, BUILTIN\Guests (`BG`).
    pub const BUILTIN_GUESTS: Sid = Sid::known(5, &[32, 546]);
    /// `S-1-5-32-547`, Power Users (`PU`).
    pub const POWER_USERS: Sid = Sid::known(5, &[32, 547]);
    /// `S-1-5-32-548`, Account Operators (`AO`).
    pub const ACCOUNT_OPERATORS: Sid = Sid::known(5, &[32, 548]);
    /// `S-1-5-32-549`, Server Operators (`SO`).
    pub const SERVER_OPERATORS: Sid = Sid::known(5, &[32, 549]);
    /// `S-1-5-32-550`, Print Operators (`PO`).
    pub const PRINT_OPERATORS: Sid = Sid::known(5, &[32, 550]);
    /// `S-1-5-32-551`, Backup Operators (`BO`).
    pub const BACKUP_OPERATORS: Sid = Sid::known(5, &[32, 551]);
    /// `S-1-5-32-552`, Replicator (`RE`).
    pub const REPLICATOR: Sid = Sid::known(5, &[32, 552]);
    /// `S-1-5-32-554`, Pre-Windows 2000 Compatible Access (`RU`).
    pub const PRE_WINDOWS_2000_COMPATIBLE_ACCESS: Sid = Sid::known(5, &[32, 554]);
    /// `S-1-5-32-555`, Remote Desktop Users (`RD`).
    pub const REMOTE_DESKTOP_USERS: Sid = Sid::known(5, &[32, 555]);
    /// `S-1-5-32-556`, Network Configuration Operators (`NO`).
    pub const NETWORK_CONFIGURATION_OPERATORS: Sid = Sid::known(5, &[32, 556]);
    /// `S-1-5-32-568`, IIS_IUSRS (`IS`).
    pub const IIS_IUSRS: Sid = Sid::known(5, &[32, 568]);
    /// `S-1-15-2-1`, ALL APPLICATION PACKAGES (`AC`).
    pub const ALL_APPLICATION_PACKAGES: Sid = Sid::known(15, &[2, 1]);
    /// `S-1-16-4096`, low mandatory level (`LW`).
    pub const LOW_MANDATORY_LEVEL: Sid = Sid::known(16, &[4096]);
    /// `S-1-16-8192`, medium mandatory level (`ME`).
    pub const MEDIUM_MANDATORY_LEVEL: Sid = Sid::known(16, &[8192]);
    /// `S-1-16-12288`, high mandatory level (`HI`).
    pub const HIGH_MANDATORY_LEVEL: Sid = Sid::known(16, &[12288]);
    /// `S-1-16-16384`, system mandatory level (`SI`).
    pub const SYSTEM_MANDATORY_LEVEL: Sid = Sid::known(16, &[16384]);
    /// `S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464`,
    /// NT SERVICE\TrustedInstaller: no SDDL alias, always rendered numerically (§3.7).
    pub const TRUSTED_INSTALLER: Sid = Sid::known(
        5,
        &[
            80,
            956_008_885,
            3_418_522_649,
            1_831_038_044,
            1_853_292_631,
            2_271_478_464,
        ],
    );

    /// Builds the constants above. Only called with literal arguments that are within the
    /// limits (each constant is checked against its string form in the tests), so the
    /// clamping below never changes a value; it only keeps the function total.
    #[allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        reason = "const fn over literal tables; the loop bound keeps `i` below 15"
    )]
    const fn known(authority: u64, subs: &[u32]) -> Sid {
        let mut out = [0u32; MAX_SUB_AUTHORITIES];
        let mut i = 0;
        while i < subs.len() && i < MAX_SUB_AUTHORITIES {
            out[i] = subs[i];
            i += 1;
        }
        Sid {
            authority: authority & MAX_AUTHORITY,
            count: i as u8,
            subs: out,
        }
    }

    /// Builds a SID from its identifier authority and sub-authorities.
    ///
    /// # Errors
    ///
    /// [`Error::Build`] if `authority` does not fit in 48 bits or there are more than 15
    /// sub-authorities (§3.3).
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Sid, Error> {
        if authority > MAX_AUTHORITY {
            return Err(Error::Build {
                what: "sid",
                reason: "the identifier authority does not fit in 48 bits",
            });
        }
        let mut subs = [0u32; MAX_SUB_AUTHORITIES];
        let Some(dest) = subs.get_mut(..sub_authorities.len()) else {
            return Err(Error::Build {
                what: "sid",
                reason: "more than 15 sub-authorities",
            });
        };
        dest.copy_from_slice(sub_authorities);
        Ok(Sid {
            authority,
            // Cannot fail: the slice above proved `len <= 15`.
            count: u8::try_from(sub_authorities.len()).unwrap_or(0),
            subs,
        })
    }

    /// The 48-bit identifier authority (5 for NT AUTHORITY).
    #[must_use]
    pub const fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, in order (the last one is the RID of an account SID).
    #[must_use]
    pub fn sub_authorities(&self) -> &[u32] {
        self.subs
            .get(..usize::from(self.count))
            .unwrap_or(&self.subs)
    }

    /// Length of the binary form: `8 + 4 * sub-authority count` (at most 68).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        usize::from(self.count).saturating_mul(4).saturating_add(8)
    }

    /// Decodes a binary SID that fills `bytes` exactly.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] if `bytes` is shorter than the SID it starts, [`Error::Invalid`]
    /// for a revision other than 1 or more than 15 sub-authorities,
    /// [`Error::TrailingBytes`] if `bytes` continues after the SID.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sid, Error> {
        let (sid, end) = decode_sid(bytes, 0, bytes.len(), Component::Sid)?;
        if end != bytes.len() {
            return Err(Error::TrailingBytes {
                component: Component::Sid,
                offset: end,
            });
        }
        Ok(sid)
    }

    /// The binary form (§3.3).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// Appends the binary form to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.push(self.count);
        // The authority is the low 48 bits of the u64, big-endian (§3.3).
        let be = self.authority.to_be_bytes();
        out.extend_from_slice(be.get(2..).unwrap_or(&be));
        for &sub in self.sub_authorities() {
            put_u32(out, sub);
        }
    }

    /// The SDDL alias of this SID, if it is in the table of docs/ea-reparse-sd.md §3.7
    /// ([`WELL_KNOWN_SIDS`]).
    #[must_use]
    pub fn alias(&self) -> Option<&'static str> {
        WELL_KNOWN_SIDS
            .iter()
            .find(|w| w.sid == *self)
            .map(|w| w.alias)
    }

    /// The SID an SDDL alias stands for, ignoring ASCII case.
    ///
    /// Knows the aliases of §3.7 ([`WELL_KNOWN_SIDS`]) and the other machine-independent
    /// aliases Windows accepts ([`EXTRA_SDDL_ALIASES`]). Domain- and machine-relative
    /// aliases ([`DOMAIN_RELATIVE_ALIASES`]) have no fixed SID and give `None`.
    #[must_use]
    pub fn from_alias(alias: &str) -> Option<Sid> {
        WELL_KNOWN_SIDS
            .iter()
            .chain(EXTRA_SDDL_ALIASES)
            .find(|w| w.alias.eq_ignore_ascii_case(alias))
            .map(|w| w.sid)
    }

    /// The SDDL form: the alias of §3.7 when there is one, the `S-1-…` string otherwise
    /// (§3.8 rendering rule 2).
    #[must_use]
    pub fn to_sddl(&self) -> String {
        match self.alias() {
            Some(alias) => alias.to_owned(),
            None => self.to_string(),
        }
    }

    /// Parses an SDDL SID: a two-letter alias ([`Sid::from_alias`]) or an `S-1-…` string
    /// ([`FromStr`]).
    ///
    /// # Errors
    ///
    /// [`SddlError::UnknownAlias`], [`SddlError::DomainRelativeAlias`] or
    /// [`SddlError::InvalidToken`], with offsets into `s`.
    pub fn from_sddl(s: &str) -> Result<Sid, SddlError> {
        let chars: Vec<char> = s.chars().collect();
        let mut cursor = Cursor::new(&chars);
        let sid = parse_sid(&mut cursor)?;
        if !cursor.at_end() {
            return Err(cursor.unexpected("end of the sid"));
        }
        Ok(sid)
    }
}

impl Default for Sid {
    /// `S-1-0`: authority 0, no sub-authorities.
    fn default() -> Sid {
        Sid::known(0, &[])
    }
}

impl fmt::Display for Sid {
    /// `S-1-<authority>-<sub>-…`: the authority in decimal when it fits in 32 bits, else
    /// `0x` and 12 upper-case hex digits; sub-authorities in decimal (§3.3).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority <= u64::from(u32::MAX) {
            write!(f, "S-1-{}", self.authority)?;
        } else {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        }
        for sub in self.sub_authorities() {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = SddlError;

    /// Parses `S-1-<authority>-<sub>-…` (the `S` in either case). The authority is decimal
    /// or `0x` hex up to 48 bits, each sub-authority decimal or `0x` hex up to 32 bits (as
    /// Windows accepts, `S-1-5-21-0x1-…`); 0 to 15 sub-authorities.
    fn from_str(s: &str) -> Result<Sid, SddlError> {
        parse_numeric(s).map_err(|reason| SddlError::InvalidToken {
            offset: 0,
            what: "sid",
            text: s.to_owned(),
            reason,
        })
    }
}

/// Parses the `S-1-…` form; the error is the reason, for the caller to place.
fn parse_numeric(s: &str) -> Result<Sid, &'static str> {
    let rest = s
        .strip_prefix("S-")
        .or_else(|| s.strip_prefix("s-"))
        .ok_or("a numeric sid starts with `S-`")?;
    let mut parts = rest.split('-');
    if parts.next() != Some("1") {
        return Err("the sid revision must be 1");
    }
    let authority = parts
        .next()
        .ok_or("the identifier authority is missing")
        .and_then(parse_number)?;
    if authority > MAX_AUTHORITY {
        return Err("the identifier authority does not fit in 48 bits");
    }
    let mut subs = Vec::new();
    for part in parts {
        let sub = parse_number(part)?;
        subs.push(u32::try_from(sub).map_err(|_| "a sub-authority does not fit in 32 bits")?);
    }
    Sid::new(authority, &subs).map_err(|_| "more than 15 sub-authorities")
}

/// A decimal number, or `0x` followed by hex digits; nothing else (no sign, no spaces).
fn parse_number(s: &str) -> Result<u64, &'static str> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("expected a decimal or 0x-hex number");
    }
    u64::from_str_radix(digits, radix).map_err(|_| "number too large")
}

/// Decodes the SID at `offset`, which must end at or before `limit`. Returns the SID and
/// the offset just past it.
pub(crate) fn decode_sid(
    bytes: &[u8],
    offset: usize,
    limit: usize,
    component: Component,
) -> Result<(Sid, usize), Error> {
    let head = take(bytes, offset, 8, limit, component)?;
    let [revision, count, authority @ ..] = head else {
        return Err(Error::Truncated {
            component,
            offset,
            needed: 8,
            available: head.len(),
        });
    };
    if *revision != 1 {
        return Err(Error::Invalid {
            component,
            offset,
            reason: "sid revision is not 1",
        });
    }
    let count = usize::from(*count);
    if count > MAX_SUB_AUTHORITIES {
        return Err(Error::Invalid {
            component,
            offset: at(offset, 1),
            reason: "sid has more than 15 sub-authorities",
        });
    }
    let mut be = [0u8; 8];
    if let Some(low) = be.get_mut(2..) {
        low.copy_from_slice(authority);
    }
    let authority = u64::from_be_bytes(be);
    let subs_at = at(offset, 8);
    let subs_len = count.saturating_mul(4);
    let raw = take(bytes, subs_at, subs_len, limit, component)?;
    let subs: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| {
            let mut a = [0u8; 4];
            a.copy_from_slice(c);
            u32::from_le_bytes(a)
        })
        .collect();
    // Cannot fail: the authority has 48 bits and the count was checked.
    let sid = Sid::new(authority, &subs)?;
    Ok((sid, at(subs_at, subs_len)))
}

/// A SID in SDDL: `S-1-…` or a two-letter alias.
pub(crate) fn parse_sid(c: &mut Cursor<'_>) -> Result<Sid, SddlError> {
    let start = c.pos();
    // `S-` followed by anything is numeric; aliases starting with S (`SY`, `SU`, ...) never
    // have a dash second. Letters belong to the token so `S-1-0x5A` keeps its hex digits.
    if matches!(c.peek(), Some('S' | 's')) && c.peek_at(1) == Some('-') {
        let text = c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '-');
        return parse_numeric(&text).map_err(|reason| SddlError::InvalidToken {
            offset: start,
            what: "sid",
            text,
            reason,
        });
    }
    let text = c.take_while(|ch| ch.is_ascii_alphabetic());
    if text.is_empty() {
        return Err(c.unexpected("a sid (two-letter alias or S-1-…)"));
    }
    Sid::from_alias(&text).ok_or_else(|| {
        let upper = text.to_ascii_uppercase();
        if DOMAIN_RELATIVE_ALIASES.contains(&upper.as_str()) {
            SddlError::DomainRelativeAlias {
                offset: start,
                alias: text,
            }
        } else {
            SddlError::UnknownAlias {
                offset: start,
                alias: text,
            }
        }
    })
}

/// One row of an SDDL alias table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WellKnownSid {
    /// The two-letter SDDL alias.
    pub alias: &'static str,
    /// The SID it stands for.
    pub sid: Sid,
    /// The account name Windows shows.
    pub name: &'static str,
}

const fn row(alias: &'static str, sid: Sid, name: &'static str) -> WellKnownSid {
    WellKnownSid { alias, sid, name }
}

/// The SDDL aliases of docs/ea-reparse-sd.md §3.7: the renderer prints exactly these SIDs as
/// aliases (§3.8 rendering rule 2); the parser accepts them in any ASCII case.
pub const WELL_KNOWN_SIDS: &[WellKnownSid] = &[
    row("WD", Sid::EVERYONE, "Everyone"),
    row("CO", Sid::CREATOR_OWNER, "CREATOR OWNER"),
    row("CG", Sid::CREATOR_GROUP, "CREATOR GROUP"),
    row("OW", Sid::OWNER_RIGHTS, "OWNER RIGHTS"),
    row("NU", Sid::NETWORK, "NETWORK"),
    row("IU", Sid::INTERACTIVE, "INTERACTIVE"),
    row("SU", Sid::SERVICE, "SERVICE"),
    row("AN", Sid::ANONYMOUS, "ANONYMOUS LOGON"),
    row(
        "ED",
        Sid::ENTERPRISE_DOMAIN_CONTROLLERS,
        "ENTERPRISE DOMAIN CONTROLLERS",
    ),
    row("PS", Sid::PRINCIPAL_SELF, "PRINCIPAL SELF"),
    row("AU", Sid::AUTHENTICATED_USERS, "Authenticated Users"),
    row("RC", Sid::RESTRICTED, "RESTRICTED"),
    row("SY", Sid::LOCAL_SYSTEM, "LOCAL SYSTEM"),
    row("LS", Sid::LOCAL_SERVICE, "LOCAL SERVICE"),
    row("NS", Sid::NETWORK_SERVICE, "NETWORK SERVICE"),
    row("BA", Sid::BUILTIN_ADMINISTRATORS, "BUILTIN\\Administrators"),
    row("BU", Sid::BUILTIN_USERS, "BUILTIN\\Users"),
    row("BG", Sid::BUILTIN_GUESTS, "BUILTIN\\Guests"),
    row("PU", Sid::POWER_USERS, "Power Users"),
    row("AO", Sid::ACCOUNT_OPERATORS, "Account Operators"),
    row("SO", Sid::SERVER_OPERATORS, "Server Operators"),
    row("PO", Sid::PRINT_OPERATORS, "Print Operators"),
    row("BO", Sid::BACKUP_OPERATORS, "Backup Operators"),
    row("RE", Sid::REPLICATOR, "Replicator"),
    row(
        "RU",
        Sid::PRE_WINDOWS_2000_COMPATIBLE_ACCESS,
        "Pre-Windows 2000 Compatible Access",
    ),
    row("RD", Sid::REMOTE_DESKTOP_USERS, "Remote Desktop Users"),
    row(
        "NO",
        Sid::NETWORK_CONFIGURATION_OPERATORS,
        "Network Configuration Operators",
    ),
    row("IS", Sid::IIS_IUSRS, "IIS_IUSRS"),
    row(
        "AC",
        Sid::ALL_APPLICATION_PACKAGES,
        "ALL APPLICATION PACKAGES",
    ),
    row("LW", Sid::LOW_MANDATORY_LEVEL, "Low Mandatory Level"),
    row("ME", Sid::MEDIUM_MANDATORY_LEVEL, "Medium Mandatory Level"),
    row("HI", Sid::HIGH_MANDATORY_LEVEL, "High Mandatory Level"),
    row("SI", Sid::SYSTEM_MANDATORY_LEVEL, "System Mandatory Level"),
];

/// Machine-independent aliases Windows' SDDL parser also knows but §3.7 does not list
/// (from the SID-strings table of the Windows SDDL documentation). The parser accepts them
/// so that legacy `MSWINDOWS.sd` strings written by Windows convert; the renderer keeps to
/// §3.7 and prints these SIDs numerically.
pub const EXTRA_SDDL_ALIASES: &[WellKnownSid] = &[
    row(
        "AA",
        Sid::known(5, &[32, 579]),
        "Access Control Assistance Operators",
    ),
    row(
        "AS",
        Sid::known(18, &[1]),
        "Authentication authority asserted identity",
    ),
    row("SS", Sid::known(18, &[2]), "Service asserted identity"),
    row(
        "CD",
        Sid::known(5, &[32, 574]),
        "Certificate Service DCOM Access",
    ),
    row("CY", Sid::known(5, &[32, 569]), "Cryptographic Operators"),
    row("ER", Sid::known(5, &[32, 573]), "Event Log Readers"),
    row("ES", Sid::known(5, &[32, 576]), "RDS Endpoint Servers"),
    row("HA", Sid::known(5, &[32, 578]), "Hyper-V Administrators"),
    row("LU", Sid::known(5, &[32, 559]), "Performance Log Users"),
    row("MP", Sid::known(16, &[8448]), "Medium Plus Mandatory Level"),
    row("MS", Sid::known(5, &[32, 577]), "RDS Management Servers"),
    row("MU", Sid::known(5, &[32, 558]), "Performance Monitor Users"),
    row("RA", Sid::known(5, &[32, 575]), "RDS Remote Access Servers"),
    row("RM", Sid::known(5, &[32, 580]), "Remote Management Users"),
    row(
        "UD",
        Sid::known(5, &[84, 0, 0, 0, 0, 0]),
        "User-mode drivers",
    ),
    row("WR", Sid::known(5, &[33]), "WRITE RESTRICTED"),
];

/// Aliases whose SID is made from a domain or machine SID (§3.7): the parser rejects them
/// with [`SddlError::DomainRelativeAlias`] rather than guessing a domain.
pub const DOMAIN_RELATIVE_ALIASES: &[&str] = &[
    "AP", "CA", "CN", "DA", "DC", "DD", "DG", "DU", "EA", "EK", "KA", "LA", "LG", "PA", "RO", "RS",
    "SA",
];

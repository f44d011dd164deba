//! The security descriptors of the generated layers: a handful of distinct self-relative
//! descriptors, as a base layer has (every system file shares one of a few ACLs), encoded
//! for `MSWINDOWS.rawsd` (docs/oci-tar-mapping.md §4.8, docs/ea-reparse-sd.md §3 for the
//! binary layout: a 20-byte header, then owner, group and DACL).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A SID as identifier authority and sub-authorities.
type Sid = (u64, &'static [u32]);

const TRUSTED_INSTALLER: Sid = (
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
const LOCAL_SYSTEM: Sid = (5, &[18]);
const ADMINISTRATORS: Sid = (5, &[32, 544]);
const USERS: Sid = (5, &[32, 545]);
const CREATOR_OWNER: Sid = (3, &[0]);
const APP_PACKAGES: Sid = (15, &[2, 1]);
const RESTRICTED_APP_PACKAGES: Sid = (15, &[2, 2]);
const EVERYONE: Sid = (1, &[0]);

// Access masks.
const FULL: u32 = 0x001F_01FF;
const READ_EXECUTE: u32 = 0x0012_00A9;
const MODIFY: u32 = 0x0013_01BF;
const GENERIC_ALL: u32 = 0x1000_0000;
const GENERIC_READ_EXECUTE: u32 = 0xA000_0000;
const LIST_CREATE: u32 = 0x0010_0116;

// ACE flags.
const OBJECT_INHERIT: u8 = 0x1;
const CONTAINER_INHERIT: u8 = 0x2;
const INHERIT_ONLY: u8 = 0x8;
const INHERITED: u8 = 0x10;
const OI_CI: u8 = OBJECT_INHERIT | CONTAINER_INHERIT;
const OI_CI_IO: u8 = OI_CI | INHERIT_ONLY;

// Control bits.
const SELF_RELATIVE: u16 = 0x8000;
const DACL_PRESENT: u16 = 0x0004;
const DACL_PROTECTED: u16 = 0x1000;
const DACL_AUTO_INHERITED: u16 = 0x0400;

/// Which descriptor an entry gets (an index into [`descriptors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Acl {
    /// A system file owned by TrustedInstaller, protected DACL, read/execute for everyone
    /// else.
    SystemFile = 0,
    /// A system directory owned by TrustedInstaller, with inheritable entries.
    SystemDir = 1,
    /// A file whose DACL is all inherited.
    InheritedFile = 2,
    /// A directory whose DACL is all inherited.
    InheritedDir = 3,
    /// `ProgramData` and its first levels.
    ProgramData = 4,
    /// `Users` and its first levels.
    Users = 5,
    /// Administrators and SYSTEM only: the top-level directories and `Hives/`.
    AdminOnly = 6,
}

fn sid_bytes((authority, subs): Sid, out: &mut Vec<u8>) {
    out.push(1);
    out.push(subs.len() as u8);
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// A self-relative descriptor with an owner, a group and a DACL of access-allowed ACEs.
fn descriptor(owner: Sid, group: Sid, control: u16, aces: &[(u8, u32, Sid)]) -> Vec<u8> {
    let mut owner_b = Vec::new();
    sid_bytes(owner, &mut owner_b);
    let mut group_b = Vec::new();
    sid_bytes(group, &mut group_b);
    let mut body = Vec::new();
    for &(flags, mask, sid) in aces {
        let mut sid_b = Vec::new();
        sid_bytes(sid, &mut sid_b);
        body.push(0); // ACCESS_ALLOWED_ACE_TYPE
        body.push(flags);
        body.extend_from_slice(&((8 + sid_b.len()) as u16).to_le_bytes());
        body.extend_from_slice(&mask.to_le_bytes());
        body.extend_from_slice(&sid_b);
    }
    let owner_at = 20u32;
    let group_at = owner_at + owner_b.len() as u32;
    let dacl_at = group_at + group_b.len() as u32;
    let mut sd = vec![1, 0];
    sd.extend_from_slice(&(SELF_RELATIVE | DACL_PRESENT | control).to_le_bytes());
    for offset in [owner_at, group_at, 0, dacl_at] {
        sd.extend_from_slice(&offset.to_le_bytes());
    }
    sd.extend_from_slice(&owner_b);
    sd.extend_from_slice(&group_b);
    sd.extend_from_slice(&[2, 0]); // ACL revision, padding
    sd.extend_from_slice(&((8 + body.len()) as u16).to_le_bytes());
    sd.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    sd.extend_from_slice(&[0, 0]);
    sd.extend_from_slice(&body);
    sd
}

/// The base64 `MSWINDOWS.rawsd` values, indexed by [`Acl`].
pub(crate) fn descriptors() -> Vec<String> {
    let ti = TRUSTED_INSTALLER;
    let protected = DACL_PROTECTED | DACL_AUTO_INHERITED;
    let all = [
        descriptor(
            ti,
            ti,
            protected,
            &[
                (0, FULL, ti),
                (0, READ_EXECUTE, ADMINISTRATORS),
                (0, READ_EXECUTE, LOCAL_SYSTEM),
                (0, READ_EXECUTE, USERS),
                (0, READ_EXECUTE, APP_PACKAGES),
                (0, READ_EXECUTE, RESTRICTED_APP_PACKAGES),
            ],
        ),
        descriptor(
            ti,
            ti,
            protected,
            &[
                (0, FULL, ti),
                (CONTAINER_INHERIT | INHERIT_ONLY, GENERIC_ALL, ti),
                (0, MODIFY, LOCAL_SYSTEM),
                (OI_CI_IO, GENERIC_ALL, LOCAL_SYSTEM),
                (0, MODIFY, ADMINISTRATORS),
                (OI_CI_IO, GENERIC_ALL, ADMINISTRATORS),
                (0, READ_EXECUTE, USERS),
                (OI_CI_IO, GENERIC_READ_EXECUTE, USERS),
                (OI_CI_IO, GENERIC_ALL, CREATOR_OWNER),
                (0, READ_EXECUTE, APP_PACKAGES),
                (OI_CI_IO, GENERIC_READ_EXECUTE, APP_PACKAGES),
                (0, READ_EXECUTE, RESTRICTED_APP_PACKAGES),
                (OI_CI_IO, GENERIC_READ_EXECUTE, RESTRICTED_APP_PACKAGES),
            ],
        ),
        descriptor(
            ADMINISTRATORS,
            LOCAL_SYSTEM,
            DACL_AUTO_INHERITED,
            &[
                (INHERITED, FULL, LOCAL_SYSTEM),
                (INHERITED, FULL, ADMINISTRATORS),
                (INHERITED, READ_EXECUTE, USERS),
                (INHERITED, READ_EXECUTE, APP_PACKAGES),
                (INHERITED, READ_EXECUTE, RESTRICTED_APP_PACKAGES),
            ],
        ),
        descriptor(
            ADMINISTRATORS,
            LOCAL_SYSTEM,
            DACL_AUTO_INHERITED,
            &[
                (OI_CI | INHERITED, FULL, LOCAL_SYSTEM),
                (OI_CI | INHERITED, FULL, ADMINISTRATORS),
                (OI_CI | INHERITED, READ_EXECUTE, USERS),
                (OI_CI_IO | INHERITED, GENERIC_ALL, CREATOR_OWNER),
                (OI_CI | INHERITED, READ_EXECUTE, APP_PACKAGES),
            ],
        ),
        descriptor(
            LOCAL_SYSTEM,
            LOCAL_SYSTEM,
            DACL_PROTECTED,
            &[
                (OI_CI, FULL, LOCAL_SYSTEM),
                (OI_CI, FULL, ADMINISTRATORS),
                (CONTAINER_INHERIT | INHERIT_ONLY, FULL, CREATOR_OWNER),
                (OI_CI, READ_EXECUTE, USERS),
                (CONTAINER_INHERIT, LIST_CREATE, USERS),
            ],
        ),
        descriptor(
            LOCAL_SYSTEM,
            LOCAL_SYSTEM,
            DACL_PROTECTED,
            &[
                (OI_CI_IO, GENERIC_ALL, CREATOR_OWNER),
                (OI_CI, FULL, LOCAL_SYSTEM),
                (OI_CI, FULL, ADMINISTRATORS),
                (OI_CI, READ_EXECUTE, USERS),
                (OI_CI, READ_EXECUTE, EVERYONE),
            ],
        ),
        descriptor(
            ADMINISTRATORS,
            LOCAL_SYSTEM,
            DACL_PROTECTED,
            &[(0, FULL, ADMINISTRATORS), (0, FULL, LOCAL_SYSTEM)],
        ),
    ];
    all.iter().map(|sd| BASE64.encode(sd)).collect()
}

/// The descriptor of the entry at `path` (a tar name): admin-only at the top and under
/// `Hives/`, the ProgramData and Users ACLs near their roots, inherited ACLs below them and
/// in log and temporary directories, TrustedInstaller's everywhere else.
pub(crate) fn acl_for(path: &str, is_dir: bool) -> Acl {
    if matches!(path, "Files" | "Hives" | "UtilityVM" | "UtilityVM/Files")
        || path.starts_with("Hives/")
    {
        return Acl::AdminOnly;
    }
    let rel = path.strip_prefix("UtilityVM/").unwrap_or(path);
    let near_root = is_dir && rel.matches('/').count() <= 2;
    let inherited = if is_dir {
        Acl::InheritedDir
    } else {
        Acl::InheritedFile
    };
    if rel.starts_with("Files/ProgramData") {
        return if near_root {
            Acl::ProgramData
        } else {
            inherited
        };
    }
    if rel.starts_with("Files/Users") {
        return if near_root { Acl::Users } else { inherited };
    }
    if rel.contains("/Logs") || rel.contains("/Temp") {
        return inherited;
    }
    if is_dir {
        Acl::SystemDir
    } else {
        Acl::SystemFile
    }
}

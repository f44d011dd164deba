//! The choices made per entry: security descriptor presets, per-glob rules, attribute
//! names, and the names NTFS cannot hold (docs/create.md).

use globset::{Glob, GlobBuilder, GlobMatcher};
use wclayer_backup::sd::SecurityDescriptor;
use wclayer_layer::FileAttributes;

use super::CreateError;

/// Named pairs of security descriptors (files, directories), for what users know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdPreset {
    /// What a file or directory created in `C:\` by an administrator gets on Windows
    /// (Vista and later): owner Administrators, group SYSTEM, and the access inherited from
    /// the root of the system drive (Administrators and SYSTEM full control, Users read and
    /// execute, Authenticated Users modify). [`SdPreset::WINDOWS_DEFAULT_FILE`] and
    /// [`SdPreset::WINDOWS_DEFAULT_DIR`]; docs/create.md gives the derivation.
    WindowsDefault,
    /// Owner and group BUILTIN\Users only, no DACL (`O:BUG:BU`): the fixed descriptor
    /// go-containerregistry (`crane append`, `pkg/v1/mutate`) and ko write on every entry
    /// of a Windows layer.
    OwnerGroup,
    /// No descriptor: on Windows the entry inherits from its parent directory (verify's
    /// `no-security-descriptor` warning fires for every entry).
    None,
}

impl SdPreset {
    /// The file descriptor of [`SdPreset::WindowsDefault`].
    pub const WINDOWS_DEFAULT_FILE: &'static str =
        "O:BAG:SYD:AI(A;ID;FA;;;BA)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)";
    /// The directory descriptor of [`SdPreset::WindowsDefault`].
    pub const WINDOWS_DEFAULT_DIR: &'static str = "O:BAG:SYD:AI(A;OICIID;FA;;;BA)\
        (A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)\
        (A;OICIIOID;SDGXGWGR;;;AU)";
    /// The descriptor of [`SdPreset::OwnerGroup`], for files and directories.
    pub const OWNER_GROUP: &'static str = "O:BUG:BU";

    /// Every preset with its name.
    pub const ALL: [(&'static str, SdPreset); 3] = [
        ("windows-default", SdPreset::WindowsDefault),
        ("owner-group", SdPreset::OwnerGroup),
        ("none", SdPreset::None),
    ];

    /// The preset called `name` (`windows-default`, `owner-group`, `none`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<SdPreset> {
        SdPreset::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, p)| p)
    }

    /// The SDDL of the file and of the directory descriptor (empty for none).
    #[must_use]
    pub fn sddl(self) -> (&'static str, &'static str) {
        match self {
            SdPreset::WindowsDefault => (Self::WINDOWS_DEFAULT_FILE, Self::WINDOWS_DEFAULT_DIR),
            SdPreset::OwnerGroup => (Self::OWNER_GROUP, Self::OWNER_GROUP),
            SdPreset::None => ("", ""),
        }
    }

    /// The binary descriptors (file, directory).
    pub(crate) fn descriptors(self) -> (Vec<u8>, Vec<u8>) {
        let (f, d) = self.sddl();
        // The constants are valid SDDL (a unit test parses each); an empty descriptor would
        // only cost the entries their descriptor, never a panic.
        (
            sd_bytes(f).unwrap_or_default(),
            sd_bytes(d).unwrap_or_default(),
        )
    }
}

/// The self-relative binary form of `sddl` in the layout of docs/ea-reparse-sd.md §3.1
/// (owner, group, SACL, DACL: the layout of go-containerregistry's fixed descriptor); empty
/// for an empty string.
pub(crate) fn sd_bytes(sddl: &str) -> Result<Vec<u8>, CreateError> {
    if sddl.trim().is_empty() {
        return Ok(Vec::new());
    }
    SecurityDescriptor::from_sddl(sddl)
        .map(|sd| sd.to_bytes())
        .map_err(|e| CreateError::Option(format!("invalid SDDL {sddl:?}: {e}")))
}

/// Attribute names a rule may set: the ones a file's owner chooses on Windows. The kind of
/// the entry decides `DIRECTORY` and `REPARSE_POINT`.
const RULE_ATTRIBUTES: [(&str, FileAttributes); 7] = [
    ("READONLY", FileAttributes::READONLY),
    ("HIDDEN", FileAttributes::HIDDEN),
    ("SYSTEM", FileAttributes::SYSTEM),
    ("ARCHIVE", FileAttributes::ARCHIVE),
    ("NORMAL", FileAttributes::NORMAL),
    ("TEMPORARY", FileAttributes::TEMPORARY),
    ("NOT_CONTENT_INDEXED", FileAttributes::NOT_CONTENT_INDEXED),
];

/// Parses attributes for [`super::Options::attribute_rule`]: names joined by `|`
/// (`READONLY|ARCHIVE`, any case) out of `READONLY`, `HIDDEN`, `SYSTEM`, `ARCHIVE`,
/// `NORMAL`, `TEMPORARY`, `NOT_CONTENT_INDEXED`, or `0` for none.
///
/// # Errors
/// [`CreateError::Option`] for another name.
pub fn parse_attributes(s: &str) -> Result<FileAttributes, CreateError> {
    let mut attrs = FileAttributes(0);
    for part in s.split('|').map(str::trim) {
        if part == "0" {
            continue;
        }
        let upper = part.to_ascii_uppercase();
        let known = RULE_ATTRIBUTES
            .iter()
            .find(|(n, _)| *n == upper.trim_start_matches("FILE_ATTRIBUTE_"));
        match known {
            Some(&(_, a)) => attrs = attrs.with(a),
            None => {
                let names: Vec<&str> = RULE_ATTRIBUTES.iter().map(|(n, _)| *n).collect();
                return Err(CreateError::Option(format!(
                    "invalid attributes {s:?}: {part:?} is not one of {} (DIRECTORY and \
                     REPARSE_POINT follow the entry's kind)",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(attrs)
}

/// Rules `GLOB=VALUE`, the last match winning.
#[derive(Clone, Debug)]
pub(crate) struct GlobRules<T> {
    rules: Vec<(GlobMatcher, T)>,
}

impl<T> Default for GlobRules<T> {
    fn default() -> Self {
        GlobRules { rules: Vec::new() }
    }
}

impl<T> GlobRules<T> {
    /// Adds a rule. `*` and `?` stay within a component, `**` crosses them; case is ignored.
    pub(crate) fn push(&mut self, glob: &str, value: T) -> Result<(), CreateError> {
        let g: Glob = GlobBuilder::new(glob.trim_start_matches('/'))
            .literal_separator(true)
            .case_insensitive(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| CreateError::Option(format!("invalid glob {glob:?}: {e}")))?;
        self.rules.push((g.compile_matcher(), value));
        Ok(())
    }

    /// The value of the last rule matching `name` (`/`-separated).
    pub(crate) fn get(&self, name: &str) -> Option<&T> {
        self.rules
            .iter()
            .rev()
            .find(|(m, _)| m.is_match(name))
            .map(|(_, v)| v)
    }
}

/// Why NTFS (or the layer model) cannot hold the name component `c`, if it cannot: the
/// characters `<>:"|?*\`, control characters, a trailing dot or space, `.`/`..`
/// (docs/verify.md, rules `name-invalid-char` and `name-trailing-dot-space`; a `:` would
/// name an alternate data stream, docs/layer-semantics.md §7.2).
pub(crate) fn check_component(c: &str) -> Result<(), String> {
    if let Some(bad) = c
        .chars()
        .find(|&ch| matches!(ch, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\') || ch < ' ')
    {
        return Err(format!(
            "the name holds {bad:?}, which NTFS cannot store in a name"
        ));
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err("the name ends in a dot or space, which Windows strips".to_string());
    }
    Ok(())
}

//! `verify`: what Windows (or the runtime) would refuse or silently change in a layer, before
//! the layer reaches Windows.
//!
//! A [`Verifier`] is fed the entries of a layer in walk order ([`Item`]s) and keeps only
//! per-name state (spellings for case collisions, which names are directories, hard-link
//! groups); file contents are never held in memory. [`verify_tar`] reads a layer tar with
//! its own leniency (names the layer model refuses are findings, not failures) and then
//! checks that exporting the imported layer gives back the same bytes; [`verify_layer_dir`]
//! reads a layer directory and also compares what is on disk with its metadata. Parents
//! ([`ParentNames`]) make a chain check: tombstones that remove nothing, names spelled in
//! another case than the parents spell them, hard links to names nobody has.
//!
//! Every [`Finding`] has a stable [`Rule`] (its kebab-case id), a [`Severity`], the entry
//! (tar-style, `/`-separated) and a one-line message. The rules, and why Windows cares, are
//! listed in docs/verify.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{Entry, LayerReader, Limits, MemLayer, WalkMode, upcase_key};
use wclayer_store::LayerKind as StoreKind;
use wclayer_tar::archive::{ArchiveReader, TarHeader};
use wclayer_tar::pax;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Windows, NTFS or wclayer itself would refuse the entry, lose it, or the layer
    /// directory no longer matches its metadata.
    Error,
    /// Windows would accept the layer but change something on the way, or the entry is
    /// suspicious.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($($(#[$doc:meta])* $variant:ident = $id:literal, $sev:ident;)*) => {
        /// A check of `verify`. Each has a stable kebab-case id ([`Rule::id`]) and a fixed
        /// [`Severity`]; docs/verify.md describes them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in the order of docs/verify.md.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable kebab-case id (`name-reserved`, ...).
            #[must_use]
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)*
                }
            }

            /// The severity of every finding of this rule.
            #[must_use]
            pub fn severity(self) -> Severity {
                match self {
                    $(Rule::$variant => Severity::$sev,)*
                }
            }
        }
    };
}

rules! {
    /// A component is a reserved device name (`CON`, `NUL`, `COM1`, ...), with or without
    /// an extension.
    NameReserved = "name-reserved", Error;
    /// A component ends in a dot or a space.
    NameTrailingDotSpace = "name-trailing-dot-space", Error;
    /// A component holds `<>:"|?*` or a control character.
    NameInvalidChar = "name-invalid-char", Error;
    /// A component over 255 UTF-16 units, or a path over 32 766.
    NameTooLong = "name-too-long", Error;
    /// An absolute name, or one that climbs out of the layer.
    NameOutsideLayer = "name-outside-layer", Error;
    /// Two names of the layer differ only in case.
    NameCaseCollision = "name-case-collision", Error;
    /// A name a parent layer spells in another case.
    NameCaseParent = "name-case-parent", Warning;
    /// An entry of a base layer outside `Files\` and `UtilityVM\Files\`.
    BaseOutsideTrees = "base-outside-trees", Warning;
    /// A tombstone in a base layer.
    TombstoneInBase = "tombstone-in-base", Error;
    /// A tombstone outside `Files\` and `UtilityVM\Files\`.
    TombstoneOutsideFiles = "tombstone-outside-files", Error;
    /// A tombstone that removes nothing the parents have.
    TombstoneRemovesNothing = "tombstone-removes-nothing", Warning;
    /// A hard link to a directory.
    LinkToDirectory = "link-to-directory", Error;
    /// A hard link whose name and target are in different top-level trees, or outside
    /// `Files\` and `UtilityVM\Files\`.
    LinkAcrossTrees = "link-across-trees", Error;
    /// A hard link to a name neither the layer nor its parents have.
    LinkTargetMissing = "link-target-missing", Error;
    /// A base layer's utility VM without its BCD store.
    UvmMissingBcd = "uvm-missing-bcd", Error;
    /// A file or directory without a security descriptor.
    NoSecurityDescriptor = "no-security-descriptor", Warning;
    /// A directory with an unnamed data stream.
    DirectoryWithData = "directory-with-data", Error;
    /// Alternate data streams on a directory or symbolic link, which the export drops.
    StreamsDropped = "streams-dropped", Warning;
    /// A symbolic link or junction whose target leaves the container's volume.
    SymlinkLeavesVolume = "symlink-leaves-volume", Warning;
    /// The tar exported again is not byte-identical to the input.
    NotFixedPoint = "not-fixed-point", Warning;
    /// wclayer's layer model refuses the tar (the import or the export fails).
    ModelRefused = "model-refused", Error;
    /// An entry of a layer directory is missing on disk (or is of another kind).
    DiskMissing = "disk-missing", Error;
    /// A file on disk that the layer directory's metadata does not know.
    DiskExtra = "disk-extra", Warning;
    /// A file on disk whose size is not the recorded one.
    DiskSize = "disk-size", Error;
    /// Names of a hard-link group that are no longer one file on disk.
    DiskLinks = "disk-links", Error;
    /// The export's digest is not the expected diff id.
    DiffIdMismatch = "diff-id-mismatch", Error;
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One thing Windows would refuse or change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// The rule's severity.
    pub severity: Severity,
    /// The entry, tar-style (`Files/Windows/x`; a tombstone as its whiteout,
    /// `Files/.wh.x`); the layer itself for layer-wide findings.
    pub entry: String,
    /// Why, in one line.
    pub message: String,
}

impl Finding {
    /// A finding of `rule` about `entry`.
    #[must_use]
    pub fn new(rule: Rule, entry: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.severity(),
            entry: entry.into(),
            message: message.into(),
        }
    }
}

/// Whether a layer is a base layer (imported with no parents) or a delta layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// No parents: only `Files\` and `UtilityVM\Files\` count, no tombstones.
    Base,
    /// Over parents: tombstones, `Hives\`.
    Delta,
}

/// What to check and how much the input may claim.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Limits on entries and data, as for an import.
    pub limits: Limits,
    /// The kind of a tar; `None` infers it (a delta layer when parents are given or the tar
    /// has a tombstone or `Hives` entry, as `wclayer convert` decides its walk).
    pub kind: Option<LayerKind>,
    /// The expected digest (`sha256:HEX`) of the uncompressed tar, or of a layer
    /// directory's export.
    pub diff_id: Option<String>,
}

/// Why a layer could not be verified at all (a missing file, not a tar, an I/O error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The layer or a parent could not be opened or read.
    #[error("{what}")]
    Read {
        /// What could not be read.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The `--diff-id` value is not `sha256:` and 64 hex digits.
    #[error("{0:?} is not a digest (sha256: and 64 hex digits)")]
    BadDigest(String),
}

fn read_err(
    what: impl Into<String>,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> VerifyError {
    VerifyError::Read {
        what: what.into(),
        source: e.into(),
    }
}

/// What an entry is, as far as the rules care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A file (or anything else that is neither a directory nor a reparse point).
    File,
    /// An entry with the DIRECTORY attribute and no reparse point.
    Directory,
    /// A symbolic link or mount point (directory or not).
    Symlink {
        /// The target as written (`\`-separated).
        target: String,
        /// A mount point (junction) rather than a symbolic link.
        mount_point: bool,
    },
    /// A hard link (a later name of a file).
    Link {
        /// The name it links to, `/` or `\` separated.
        target: String,
    },
    /// A tombstone: the name is removed from the parents.
    Tombstone,
}

/// One entry as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The name as the layer spells it, `/` or `\` separated (for a tombstone: the removed
    /// name).
    pub name: String,
    /// What it is.
    pub kind: ItemKind,
    /// Whether it carries a (non-empty) security descriptor.
    pub has_security_descriptor: bool,
    /// The size of its unnamed data stream (0 when it has none).
    pub data_size: u64,
    /// How many alternate data streams it has.
    pub alternate_streams: u64,
}

/// The names present in a chain of parent layers (nearest first), after each applied its
/// tombstones: upcased key to the spelling of the last component.
#[derive(Clone, Debug, Default)]
pub struct ParentNames {
    names: BTreeMap<String, String>,
}

impl ParentNames {
    /// Reads the layer directories `parents` (nearest first, base last).
    ///
    /// # Errors
    /// [`VerifyError::Read`] when a parent cannot be opened or walked.
    pub fn from_layer_dirs(parents: &[PathBuf], limits: &Limits) -> Result<Self, VerifyError> {
        let mut names = ParentNames::default();
        for p in parents.iter().rev() {
            let what = || format!("cannot read parent layer {}", p.display());
            let mut r =
                crate::new_layer_reader_limited(p, &[], limits).map_err(|e| read_err(what(), e))?;
            while let Some(e) = r.next().map_err(|e| read_err(what(), e))? {
                match e {
                    Entry::Tombstone { name } => names.remove(name.as_str()),
                    Entry::File { name, .. } => names.insert(name.as_str()),
                    _ => {}
                }
            }
        }
        Ok(names)
    }

    /// Adds `name` (`\` or `/` separated) and its parents.
    pub fn insert(&mut self, name: &str) {
        let mut key = String::new();
        for c in name.split(['\\', '/']).filter(|c| !c.is_empty()) {
            if !key.is_empty() {
                key.push('\\');
            }
            key.push_str(&upcase_key(c));
            self.names
                .entry(key.clone())
                .or_insert_with(|| c.to_string());
        }
    }

    /// Removes `name` and everything below it.
    pub fn remove(&mut self, name: &str) {
        let key = key_of(name);
        let below = format!("{key}\\");
        let doomed: Vec<String> = self
            .names
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.names.remove(&k);
        }
        self.names.remove(&key);
    }

    /// The spelling of the last component of `name`, if the parents have it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.names.get(&key_of(name)).map(String::as_str)
    }
}

/// The case-insensitive key of a `/`- or `\`-separated name.
fn key_of(name: &str) -> String {
    upcase_key(
        &name
            .split(['\\', '/'])
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join("\\"),
    )
}

/// The components of a name after Go-style cleaning, leniently (no character is refused).
///
/// # Errors
/// An absolute name, or one that climbs out of the layer (`..` left over), or the root.
fn components(name: &str) -> Result<Vec<&str>, &'static str> {
    if name.starts_with(['/', '\\']) {
        return Err("is absolute; a layer holds relative names only");
    }
    let mut out: Vec<&str> = Vec::new();
    for c in name.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("climbs out of the layer");
                }
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return Err("names the layer root");
    }
    Ok(out)
}

/// The device names Win32 reserves in every directory (with any extension).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// The findings about one name component (`entry` is how to name it).
fn component_findings(c: &str, entry: &str, out: &mut Vec<Finding>) {
    let stem = c.split('.').next().unwrap_or(c).trim_end_matches(' ');
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        out.push(Finding::new(
            Rule::NameReserved,
            entry,
            format!("{c:?} is a reserved device name; Windows programs cannot create or open it"),
        ));
    }
    if c.ends_with(['.', ' ']) {
        out.push(Finding::new(
            Rule::NameTrailingDotSpace,
            entry,
            format!(
                "{c:?} ends in a dot or space, which Win32 strips: programs reach another name"
            ),
        ));
    }
    if let Some(bad) = c.chars().find(|&ch| ch < ' ' || "<>:\"|?*".contains(ch)) {
        out.push(Finding::new(
            Rule::NameInvalidChar,
            entry,
            format!("{bad:?} is a character NTFS names cannot hold"),
        ));
    }
    let units = c.encode_utf16().count();
    if units > wclayer_layer::MAX_COMPONENT_UNITS {
        out.push(Finding::new(
            Rule::NameTooLong,
            entry,
            format!("a component of {units} UTF-16 units; NTFS holds at most 255"),
        ));
    }
}

/// The top-level tree a name lies strictly below: `Files` or `UtilityVM/Files`.
fn tree_of(comps: &[&str]) -> Option<&'static str> {
    let up: Vec<String> = comps.iter().take(2).map(|c| upcase_key(c)).collect();
    match up.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["FILES", _, ..] if comps.len() > 1 => Some("Files"),
        ["UTILITYVM", "FILES"] if comps.len() > 2 => Some("UtilityVM/Files"),
        _ => None,
    }
}

/// The tombstone's whiteout name, as a tar holds it.
fn whiteout_display(comps: &[&str]) -> String {
    match comps.split_last() {
        Some((last, [])) => format!(".wh.{last}"),
        Some((last, dirs)) => format!("{}/.wh.{last}", dirs.join("/")),
        None => String::new(),
    }
}

/// Why an absolute symbolic-link target leaves the container's volume (`C:`), if it does
/// (docs/ea-reparse-sd.md: the print name is what the link was written with).
fn leaves_volume(target: &str) -> Option<String> {
    let t = target.replace('/', "\\");
    let stripped = t
        .strip_prefix("\\??\\")
        .or_else(|| t.strip_prefix("\\\\?\\"))
        .or_else(|| t.strip_prefix("\\\\.\\"));
    let rest = stripped.unwrap_or(&t);
    if stripped.is_none() && t.starts_with("\\\\") {
        return Some(format!("{target:?} is a network path"));
    }
    let mut chars = rest.chars();
    if let (Some(d), Some(':')) = (chars.next(), chars.next()) {
        if d.eq_ignore_ascii_case(&'C') {
            return None;
        }
        return Some(format!(
            "{target:?} is on drive {d}:, not the container's C:"
        ));
    }
    if stripped.is_some() {
        return Some(format!(
            "{target:?} names a device or volume outside the container"
        ));
    }
    None
}

/// Whether a relative target climbs above the root of its tree from `dir`.
fn climbs_out(target: &str, dir: &[&str]) -> bool {
    let t = target.replace('/', "\\");
    if t.starts_with('\\') || t.chars().nth(1) == Some(':') {
        return false;
    }
    let mut depth = dir.len();
    for c in t.split('\\') {
        match c {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth = depth.saturating_add(1),
        }
    }
    false
}

/// The rule engine: feed it every entry in walk order with [`Verifier::entry`], then take
/// the findings with [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    kind: LayerKind,
    parents: Option<ParentNames>,
    /// Upcased key of every name prefix seen, to the spelling of its last component.
    seen: HashMap<String, String>,
    /// Keys of the entries that are directories.
    directories: HashSet<String>,
    /// Keys of the entries added (files, directories, links).
    added: HashSet<String>,
    /// Spellings already reported as case collisions.
    collided: HashSet<String>,
    utility_vm_files: bool,
    bcd: bool,
    findings: Vec<Finding>,
}

/// The BCD store's name, upcased, below the layer root (docs/layer-semantics.md §5:
/// `ConvertToBaseLayer` requires it when `UtilityVM\Files` exists).
const BCD_KEY: &str = "UTILITYVM\\FILES\\EFI\\MICROSOFT\\BOOT\\BCD";

impl Verifier {
    /// A verifier for a layer of `kind`, over `parents` when they are known.
    #[must_use]
    pub fn new(kind: LayerKind, parents: Option<ParentNames>) -> Verifier {
        Verifier {
            kind,
            parents,
            seen: HashMap::new(),
            directories: HashSet::new(),
            added: HashSet::new(),
            collided: HashSet::new(),
            utility_vm_files: false,
            bcd: false,
            findings: Vec::new(),
        }
    }

    /// Records a finding found outside the rules of single entries (on disk, digests).
    pub fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    /// Whether an error finding has been made so far.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Checks one entry.
    pub fn entry(&mut self, item: &Item) {
        let comps = match components(&item.name) {
            Ok(c) => c,
            Err(why) => {
                let shown = item.name.replace('\\', "/");
                self.push(Finding::new(
                    Rule::NameOutsideLayer,
                    &shown,
                    format!("the name {why}; no layer can hold it"),
                ));
                return;
            }
        };
        let shown = comps.join("/");
        let key = upcase_key(&comps.join("\\"));
        if item.kind == ItemKind::Tombstone {
            self.tombstone(&comps, &key);
            return;
        }
        self.names(&comps, item);
        let top = comps.first().map(|c| upcase_key(c)).unwrap_or_default();
        let tree = tree_of(&comps);
        if self.kind == LayerKind::Base
            && top != "FILES"
            && !(key == "UTILITYVM" || key == "UTILITYVM\\FILES" || tree == Some("UtilityVM/Files"))
        {
            self.push(Finding::new(
                Rule::BaseOutsideTrees,
                &shown,
                "a base layer holds only Files/ and UtilityVM/Files/; Windows ignores this entry and the export drops it",
            ));
        }
        if let Some(parents) = &self.parents
            && let (Some(theirs), Some(ours)) = (parents.get(&key), comps.last())
            && theirs != *ours
        {
            let msg = format!(
                "a parent layer spells it {theirs:?}; Windows merges the two and shows one spelling"
            );
            self.push(Finding::new(Rule::NameCaseParent, &shown, msg));
        }
        if let ItemKind::Link { target } = &item.kind {
            self.link(&comps, &shown, target);
            return;
        }
        self.added.insert(key.clone());
        if key == "UTILITYVM\\FILES" {
            self.utility_vm_files = true;
        }
        if key == BCD_KEY {
            self.bcd = true;
        }
        if !item.has_security_descriptor && (top == "FILES" || top == "UTILITYVM") {
            self.push(Finding::new(
                Rule::NoSecurityDescriptor,
                &shown,
                "no security descriptor: Windows gives it the one it inherits from its parent directory",
            ));
        }
        match &item.kind {
            ItemKind::Directory => {
                self.directories.insert(key);
                if item.data_size > 0 {
                    self.push(Finding::new(
                        Rule::DirectoryWithData,
                        &shown,
                        format!(
                            "a directory with {} bytes of file data, which no directory can hold",
                            item.data_size
                        ),
                    ));
                }
                self.streams_dropped(&shown, item, "directory");
            }
            ItemKind::Symlink {
                target,
                mount_point,
            } => {
                let what = if *mount_point {
                    "junction"
                } else {
                    "symbolic link"
                };
                let dir = comps
                    .get(if tree == Some("Files") { 1 } else { 2 }..comps.len().saturating_sub(1))
                    .unwrap_or_default();
                let why = leaves_volume(target).or_else(|| {
                    (tree.is_some() && climbs_out(target, dir))
                        .then(|| format!("{target:?} climbs above the root of the volume"))
                });
                if let Some(why) = why {
                    self.push(Finding::new(
                        Rule::SymlinkLeavesVolume,
                        &shown,
                        format!("{what} to {why}"),
                    ));
                }
                self.streams_dropped(&shown, item, what);
            }
            _ => {}
        }
    }

    fn streams_dropped(&mut self, shown: &str, item: &Item, what: &str) {
        if item.alternate_streams > 0 {
            self.push(Finding::new(
                Rule::StreamsDropped,
                shown,
                format!(
                    "{} alternate data stream(s) on a {what}: the export drops them",
                    item.alternate_streams
                ),
            ));
        }
    }

    /// Name rules, once per name prefix, and case collisions.
    fn names(&mut self, comps: &[&str], item: &Item) {
        let mut key = String::new();
        let mut shown = String::new();
        let mut units: usize = 0;
        for c in comps {
            if !key.is_empty() {
                key.push('\\');
                shown.push('/');
                units = units.saturating_add(1);
            }
            key.push_str(&upcase_key(c));
            shown.push_str(c);
            units = units.saturating_add(c.encode_utf16().count());
            match self.seen.get(&key) {
                None => {
                    self.seen.insert(key.clone(), (*c).to_string());
                    let mut found = Vec::new();
                    component_findings(c, &shown, &mut found);
                    self.findings.extend(found);
                }
                Some(first) if first != c && self.collided.insert(shown.clone()) => {
                    let msg = format!(
                        "differs only in case from {first:?}; NTFS holds one of them (a duplicate)"
                    );
                    self.findings
                        .push(Finding::new(Rule::NameCaseCollision, &shown, msg));
                }
                Some(_) => {}
            }
        }
        if units > wclayer_layer::MAX_PATH_UNITS && !matches!(item.kind, ItemKind::Tombstone) {
            self.push(Finding::new(
                Rule::NameTooLong,
                &shown,
                format!("a path of {units} UTF-16 units; Windows opens at most 32766"),
            ));
        }
    }

    fn tombstone(&mut self, comps: &[&str], key: &str) {
        let shown = whiteout_display(comps);
        if self.kind == LayerKind::Base {
            self.push(Finding::new(
                Rule::TombstoneInBase,
                &shown,
                "a base layer cannot have tombstones (hcsshim's base writer and wclayer refuse it)",
            ));
            return;
        }
        if tree_of(comps).is_none() {
            self.push(Finding::new(
                Rule::TombstoneOutsideFiles,
                &shown,
                "a tombstone outside Files/ and UtilityVM/Files/: hcsshim fails with `invalid tombstone`",
            ));
        }
        if let Some(parents) = &self.parents
            && parents.get(key).is_none()
        {
            self.push(Finding::new(
                Rule::TombstoneRemovesNothing,
                &shown,
                "no parent layer has this name; the tombstone removes nothing",
            ));
        }
    }

    fn link(&mut self, comps: &[&str], shown: &str, target: &str) {
        let Ok(tcomps) = components(target) else {
            self.push(Finding::new(
                Rule::LinkTargetMissing,
                shown,
                format!("hard link to {target:?}, which is no name inside the layer"),
            ));
            return;
        };
        let tkey = upcase_key(&tcomps.join("\\"));
        let tshown = tcomps.join("/");
        if self.directories.contains(&tkey) {
            self.push(Finding::new(
                Rule::LinkToDirectory,
                shown,
                format!("hard link to the directory {tshown}; NTFS cannot link directories"),
            ));
        } else {
            let (ours, theirs) = (tree_of(comps), tree_of(&tcomps));
            if ours.is_none() || ours != theirs {
                self.push(Finding::new(
                    Rule::LinkAcrossTrees,
                    shown,
                    format!(
                        "hard link to {tshown}: links must stay within Files/ or within UtilityVM/Files/ (hcsshim: `invalid hard link in layer`)"
                    ),
                ));
            }
            let known = self.added.contains(&tkey)
                || self
                    .parents
                    .as_ref()
                    .is_some_and(|p| p.get(&tkey).is_some());
            if !known && (self.parents.is_some() || self.kind == LayerKind::Base) {
                self.push(Finding::new(
                    Rule::LinkTargetMissing,
                    shown,
                    format!("hard link to {tshown}, which neither this layer nor its parents have"),
                ));
            }
        }
        self.added.insert(upcase_key(&comps.join("\\")));
    }

    /// The layer-wide findings, then every finding in the order found.
    #[must_use]
    pub fn finish(mut self) -> Vec<Finding> {
        if self.kind == LayerKind::Base && self.utility_vm_files && !self.bcd {
            self.push(Finding::new(
                Rule::UvmMissingBcd,
                "UtilityVM/Files",
                "a utility VM without UtilityVM/Files/EFI/Microsoft/Boot/BCD: Windows cannot process it",
            ));
        }
        self.findings
    }
}

/// A reader that copies everything it reads into a spool file and a digest.
struct Tee<R> {
    inner: R,
    spool: BufWriter<File>,
    hash: Sha256,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.spool.write_all(got)?;
        self.hash.update(got);
        Ok(n)
    }
}

/// An [`io::Write`] that only hashes.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `sha256:HEX` of a finished digest.
fn digest_string(h: Sha256) -> String {
    let mut s = String::from("sha256:");
    for b in h.finalize() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The expected digest, checked and lower-cased.
fn expected_digest(d: &str) -> Result<String, VerifyError> {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(VerifyError::BadDigest(d.to_string()));
    }
    Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// The rule item of one tar header that is not an alternate data stream.
fn tar_item(hdr: &TarHeader) -> Item {
    let trimmed = hdr.name.trim_end_matches('/');
    let (dir, base) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    let has_sd = match hdr.record(pax::MSWINDOWS_RAWSD) {
        Some(raw) => !raw.is_empty(),
        None => hdr.record(pax::MSWINDOWS_SD).is_some_and(|s| !s.is_empty()),
    };
    let attributes = hdr
        .record(pax::MSWINDOWS_FILEATTR)
        .and_then(|v| pax::parse_fileattr(v.as_bytes()).ok())
        .unwrap_or(if hdr.typeflag == b'5' { 0x10 } else { 0 });
    let (name, kind) = if let Some(removed) = base.strip_prefix(".wh.") {
        let name = if dir.is_empty() {
            removed.to_string()
        } else {
            format!("{dir}/{removed}")
        };
        (name, ItemKind::Tombstone)
    } else if hdr.typeflag == b'1' {
        (
            hdr.name.clone(),
            ItemKind::Link {
                target: hdr.linkname.clone(),
            },
        )
    } else if hdr.typeflag == b'2' {
        (
            hdr.name.clone(),
            ItemKind::Symlink {
                target: hdr.linkname.replace('/', "\\"),
                mount_point: hdr.record(pax::MSWINDOWS_MOUNTPOINT).is_some(),
            },
        )
    } else if attributes & 0x10 != 0 {
        (hdr.name.clone(), ItemKind::Directory)
    } else {
        (hdr.name.clone(), ItemKind::File)
    };
    Item {
        name,
        kind,
        has_security_descriptor: has_sd,
        data_size: if hdr.typeflag == b'0' {
            u64::try_from(hdr.size).unwrap_or(0)
        } else {
            0
        },
        alternate_streams: 0,
    }
}

/// The entry an error message of the layer model names (they read `NAME: why`).
fn named_in(msg: &str) -> String {
    msg.split_once(": ")
        .map_or(msg, |(n, _)| n)
        .replace('\\', "/")
}

/// Verifies a layer tar (uncompressed) read from `r`, over `parents` when given.
///
/// The tar is read once: its headers are checked leniently (a name the layer model would
/// refuse is a finding), and its bytes are copied to a spool file, which is then imported
/// into a [`MemLayer`] and exported again to a second spool file; the first byte where the
/// two differ names the entry that is not a fixed point. File contents only pass through
/// (memory stays bounded by the number of names); the spool files take about three times
/// the tar's size on disk while this runs.
///
/// # Errors
/// [`VerifyError::Read`] when the input cannot be read or is not a tar, or goes over
/// `options.limits`; [`VerifyError::BadDigest`].
pub fn verify_tar(
    r: impl Read,
    parents: Option<ParentNames>,
    options: &Options,
) -> Result<Vec<Finding>, VerifyError> {
    let expected = options
        .diff_id
        .as_deref()
        .map(expected_digest)
        .transpose()?;
    let spool = tempfile::tempfile().map_err(|e| read_err("cannot create a spool file", e))?;
    let mut archive = ArchiveReader::new(Tee {
        inner: r,
        spool: BufWriter::new(spool),
        hash: Sha256::new(),
    });
    let mut budget = options.limits.budget();
    let mut items: Vec<Item> = Vec::new();
    // Where each entry starts in the tar, for naming the first byte an export changes.
    let mut starts: Vec<(u64, String)> = Vec::new();
    // The name of the last entry that gathers `NAME:stream` entries, and its item.
    let mut owner: Option<(String, usize)> = None;
    let mut inferred_delta = parents.is_some();
    while let Some(hdr) = archive
        .next_entry()
        .map_err(|e| read_err("cannot read the tar", e))?
    {
        budget
            .entry(&hdr.name)
            .map_err(|e| read_err("the tar goes over a limit", e))?;
        starts.push((
            hdr.header_offset,
            hdr.name.trim_end_matches('/').to_string(),
        ));
        if let Some((prefix, idx)) = &owner
            && hdr.typeflag == b'0'
            && hdr.name.strip_prefix(prefix.as_str()).is_some()
        {
            if let Some(it) = items.get_mut(*idx) {
                it.alternate_streams = it.alternate_streams.saturating_add(1);
            }
            continue;
        }
        let item = tar_item(&hdr);
        owner = match item.kind {
            ItemKind::Tombstone | ItemKind::Link { .. } => None,
            _ => Some((format!("{}:", hdr.name), items.len())),
        };
        if item.kind == ItemKind::Tombstone
            || components(&item.name)
                .is_ok_and(|c| c.first().is_some_and(|t| upcase_key(t) == "HIVES"))
        {
            inferred_delta = true;
        }
        items.push(item);
    }
    let mut tee = archive.into_inner();
    io::copy(&mut tee, &mut io::sink()).map_err(|e| read_err("cannot read the tar", e))?;
    let digest = digest_string(tee.hash);
    let mut spool = tee
        .spool
        .into_inner()
        .map_err(|e| read_err("cannot write a spool file", e.into_error()))?;
    let kind = options.kind.unwrap_or(if inferred_delta {
        LayerKind::Delta
    } else {
        LayerKind::Base
    });
    let mut v = Verifier::new(kind, parents);
    for it in &items {
        v.entry(it);
    }
    drop(items);
    if let Some(want) = expected
        && want != digest
    {
        v.push(Finding::new(
            Rule::DiffIdMismatch,
            "",
            format!("the tar's digest is {digest}, not {want}"),
        ));
    }
    fixed_point(&mut v, &mut spool, &starts, kind, &options.limits)?;
    Ok(v.finish())
}

/// Imports the spooled tar, exports it again and names the first entry whose bytes change.
fn fixed_point(
    v: &mut Verifier,
    spool: &mut File,
    starts: &[(u64, String)],
    kind: LayerKind,
    limits: &Limits,
) -> Result<(), VerifyError> {
    let spool_err = |e| read_err("cannot read the spool file", e);
    spool.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    let mut layer = MemLayer::new();
    layer.set_walk_mode(Some(match kind {
        LayerKind::Base => WalkMode::Base,
        LayerKind::Delta => WalkMode::Delta,
    }));
    let refused = |v: &mut Verifier, e: &dyn fmt::Display| {
        // A refusal the rules already explain needs no second finding.
        if !v.has_errors() {
            let msg = e.to_string();
            v.push(Finding::new(
                Rule::ModelRefused,
                named_in(&msg),
                format!("wclayer cannot import or export this layer: {msg}"),
            ));
        }
    };
    if let Err(e) = wclayer_tar::import_tar_limited(
        &mut ArchiveReader::new(BufReader::new(&mut *spool)),
        &mut layer,
        limits,
    ) {
        refused(v, &e);
        return Ok(());
    }
    let out = tempfile::tempfile().map_err(|e| read_err("cannot create a spool file", e))?;
    let exported = layer
        .reader()
        .map_err(wclayer_tar::Error::from)
        .and_then(|mut r| wclayer_tar::export_tar(&mut r, BufWriter::new(out)));
    let mut out = match exported {
        Ok((w, _)) => w
            .into_inner()
            .map_err(|e| read_err("cannot write a spool file", e.into_error()))?,
        Err(e) => {
            refused(v, &e);
            return Ok(());
        }
    };
    spool.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    out.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    let Some(at) = first_difference(spool, &mut out).map_err(spool_err)? else {
        return Ok(());
    };
    let entry = starts
        .iter()
        .take_while(|(off, _)| *off <= at)
        .last()
        .map_or_else(|| "(end of archive)".to_string(), |(_, n)| n.clone());
    v.push(Finding::new(
        Rule::NotFixedPoint,
        entry,
        format!(
            "exported again, the tar differs from here on (byte {at}): its digest changes on export"
        ),
    ));
    Ok(())
}

/// The offset of the first byte where `a` and `b` differ (or one ends), if any.
fn first_difference(a: &mut File, b: &mut File) -> io::Result<Option<u64>> {
    let (mut ra, mut rb) = (BufReader::new(a), BufReader::new(b));
    let (mut ba, mut bb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    let mut offset: u64 = 0;
    loop {
        let na = read_full(&mut ra, &mut ba)?;
        let nb = read_full(&mut rb, &mut bb)?;
        let (ca, cb) = (
            ba.get(..na).unwrap_or_default(),
            bb.get(..nb).unwrap_or_default(),
        );
        if let Some(i) = ca.iter().zip(cb).position(|(x, y)| x != y) {
            return Ok(Some(offset.saturating_add(i as u64)));
        }
        if na != nb {
            return Ok(Some(offset.saturating_add(na.min(nb) as u64)));
        }
        if na == 0 {
            return Ok(None);
        }
        offset = offset.saturating_add(na as u64);
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest)? {
            0 => break,
            k => n = n.saturating_add(k),
        }
    }
    Ok(n)
}

/// Verifies the layer directory `path`, over `parents` when given: the rules for every
/// entry in walk order, then what is on disk against the metadata (missing files, sizes,
/// hard links broken on disk, files the metadata does not know) and, with
/// `options.diff_id`, the digest of its export.
///
/// # Errors
/// [`VerifyError::Read`] when the layer directory cannot be opened or walked;
/// [`VerifyError::BadDigest`].
pub fn verify_layer_dir(
    path: &Path,
    parents: Option<ParentNames>,
    options: &Options,
) -> Result<Vec<Finding>, VerifyError> {
    let expected = options
        .diff_id
        .as_deref()
        .map(expected_digest)
        .transpose()?;
    let what = || format!("cannot read layer {}", path.display());
    let mut traced = crate::new_layer_reader_limited(path, &[], &options.limits)
        .map_err(|e| read_err(what(), e))?;
    let r = traced.get_mut();
    let info = r.layer_info();
    let kind = match info.kind {
        StoreKind::Base => LayerKind::Base,
        _ => LayerKind::Delta,
    };
    let mut v = Verifier::new(kind, parents);
    let mut on_disk: HashSet<String> = HashSet::new();
    // First visited name and on-disk identity of each hard-link group, by its first name.
    let mut groups: HashMap<String, (String, Option<(u64, u64)>)> = HashMap::new();
    while let Some(e) = r.next().map_err(|e| read_err(what(), e))? {
        let (name, size, attrs) = match e {
            Entry::Tombstone { name } => {
                v.entry(&Item {
                    name: name.as_str().to_string(),
                    kind: ItemKind::Tombstone,
                    has_security_descriptor: false,
                    data_size: 0,
                    alternate_streams: 0,
                });
                continue;
            }
            Entry::File { name, size, info } => (name, size, info.file_attributes),
            _ => continue,
        };
        let d = r.details().map_err(|e| read_err(what(), e))?;
        let shown = name.to_slash();
        let mut parts = d.disk_path.as_str();
        while !parts.is_empty() {
            on_disk.insert(parts.to_string());
            parts = parts.rsplit_once('/').map_or("", |(p, _)| p);
        }
        let reparse = d
            .reparse_buffer
            .as_deref()
            .and_then(|b| ReparsePoint::decode(b).ok());
        let group = d
            .names
            .first()
            .filter(|_| d.names.len() > 1)
            .map(|n| n.key());
        let meta = std::fs::symlink_metadata(path.join(&d.disk_path));
        let ident = meta.as_ref().ok().map(identity);
        let mut kind = match &reparse {
            Some(ReparsePoint::Symlink { target, .. }) => ItemKind::Symlink {
                target: target.clone(),
                mount_point: false,
            },
            Some(ReparsePoint::MountPoint { target }) => ItemKind::Symlink {
                target: target.clone(),
                mount_point: true,
            },
            _ if attrs.is_directory() => ItemKind::Directory,
            _ => ItemKind::File,
        };
        if let Some(g) = &group {
            match groups.get(g) {
                Some((first, first_ident)) => {
                    if ident.is_some() && *first_ident != ident {
                        v.push(Finding::new(
                            Rule::DiskLinks,
                            &shown,
                            format!("no longer the same file on disk as {first}, its hard link"),
                        ));
                    }
                    kind = ItemKind::Link {
                        target: first.clone(),
                    };
                }
                None => {
                    groups.insert(g.clone(), (shown.clone(), ident));
                }
            }
        }
        disk_entry(
            &mut v,
            &shown,
            &d.disk_path,
            &meta,
            &kind,
            reparse.is_some(),
            size,
        );
        v.entry(&Item {
            name: name.as_str().to_string(),
            kind,
            has_security_descriptor: d
                .security_descriptor
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
            data_size: size,
            alternate_streams: d.alternate_streams.len() as u64,
        });
    }
    traced.close().map_err(|e| read_err(what(), e))?;
    let roots: &[&str] = match kind {
        LayerKind::Base => &["Files", "UtilityVM/Files"],
        LayerKind::Delta => &[""],
    };
    let skip_clone = kind == LayerKind::Delta && info.utility_vm_cloned;
    for root in roots {
        extra_files(&mut v, path, root, &on_disk, skip_clone).map_err(|e| read_err(what(), e))?;
    }
    if let Some(want) = expected {
        let (h, _) = crate::export_layer_to_tar_with_stats(
            HashWriter(Sha256::new()),
            path,
            &[],
            &options.limits,
        )
        .map_err(|e| read_err(what(), e))?;
        let got = digest_string(h.0);
        if got != want {
            v.push(Finding::new(
                Rule::DiffIdMismatch,
                path.display().to_string(),
                format!("its export has the digest {got}, not {want}"),
            ));
        }
    }
    Ok(v.finish())
}

/// `(st_dev, st_ino)` of a file, where the platform has them.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        (0, 0)
    }
}

/// Compares one entry with the file that holds it on disk.
fn disk_entry(
    v: &mut Verifier,
    shown: &str,
    disk_path: &str,
    meta: &io::Result<std::fs::Metadata>,
    kind: &ItemKind,
    reparse: bool,
    size: u64,
) {
    let m = match meta {
        Ok(m) => m,
        Err(e) => {
            v.push(Finding::new(
                Rule::DiskMissing,
                shown,
                format!("its file {disk_path} is missing from the layer directory ({e})"),
            ));
            return;
        }
    };
    let ft = m.file_type();
    let expected = match kind {
        ItemKind::Directory if !reparse => ft.is_dir(),
        _ if reparse => ft.is_symlink() || ft.is_file(),
        _ => ft.is_file(),
    };
    if !expected {
        v.push(Finding::new(
            Rule::DiskMissing,
            shown,
            format!("{disk_path} on disk is not the kind of file the metadata records"),
        ));
        return;
    }
    if !reparse && ft.is_file() && m.len() != size {
        v.push(Finding::new(
            Rule::DiskSize,
            shown,
            format!(
                "{disk_path} has {} bytes on disk; the metadata records {size}",
                m.len()
            ),
        ));
    }
}

/// Reports the files below `root` (a `/`-separated path in the layer directory, `""` for
/// all of it) that no entry accounts for; `.wclayer` and, when `skip_clone`, the cloned
/// `UtilityVM/Files` are not looked at.
fn extra_files(
    v: &mut Verifier,
    layer: &Path,
    root: &str,
    known: &HashSet<String>,
    skip_clone: bool,
) -> io::Result<()> {
    let mut stack = vec![root.to_string()];
    while let Some(dir) = stack.pop() {
        let full = if dir.is_empty() {
            layer.to_path_buf()
        } else {
            layer.join(&dir)
        };
        let rd = match std::fs::read_dir(&full) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir == root => continue,
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for e in rd {
            let e = e?;
            names.push((e.file_name(), e.file_type()?));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (n, ft) in names {
            let rel = match n.to_str() {
                Some(s) if dir.is_empty() => s.to_string(),
                Some(s) => format!("{dir}/{s}"),
                None => {
                    let shown = format!("{dir}/{}", n.to_string_lossy());
                    v.push(Finding::new(
                        Rule::DiskExtra,
                        shown,
                        "a file whose name is not UTF-8, unknown to the layer's metadata; export ignores it",
                    ));
                    continue;
                }
            };
            if rel == ".wclayer" || (skip_clone && upcase_key(&rel) == "UTILITYVM/FILES") {
                continue;
            }
            if !known.contains(&rel) {
                v.push(Finding::new(
                    Rule::DiskExtra,
                    &rel,
                    "on disk but unknown to the layer's metadata; export ignores it",
                ));
                continue;
            }
            if ft.is_dir() {
                stack.push(rel);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

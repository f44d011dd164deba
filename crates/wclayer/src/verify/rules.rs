//! The rule engine ([`Verifier`]) and the rules about single entries: names, tombstones,
//! hard links, symbolic links, the utility VM (docs/verify.md).

use std::collections::{HashMap, HashSet};

use wclayer_layer::upcase_key;

use super::{Finding, Item, ItemKind, LayerKind, ParentNames, Rule, Severity};

/// The components of a name after Go-style cleaning, leniently (no character is refused).
///
/// # Errors
/// An absolute name, or one that climbs out of the layer (`..` left over), or the root.
pub(super) fn components(name: &str) -> Result<Vec<&str>, &'static str> {
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
                "a tombstone outside Files/ and UtilityVM/Files/: wclayer keeps it, but hcsshim's legacy writer on Windows fails with `invalid tombstone`",
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

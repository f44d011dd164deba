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
//!
//! The module is split by concern: the rule engine and the per-entry rules
//! (`rules.rs`), tars and their fixed-point check (`tar.rs`), layer directories and what is
//! on disk (`dir.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wclayer_layer::{Entry, LayerReader, Limits, upcase_key};

mod dir;
mod rules;
mod tar;

pub use dir::verify_layer_dir;
pub use rules::Verifier;
pub use tar::verify_tar;

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
    /// A tombstone outside `Files\` and `UtilityVM\Files\`: wclayer's layer keeps it, only
    /// hcsshim's legacy writer on Windows refuses it (docs/layer-semantics.md §0.4).
    TombstoneOutsideFiles = "tombstone-outside-files", Warning;
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
        let Some((nearest, lower)) = parents.split_first() else {
            return Ok(names);
        };
        // The parents' merged view, with the one merge rule of docs/chain.md.
        let what = || format!("cannot read parent layer {}", nearest.display());
        let mut view = crate::chain::ChainReader::open(nearest, lower, limits)
            .map_err(|e| read_err(what(), e))?;
        while let Some(e) = view.next().map_err(|e| read_err(what(), e))? {
            if let Entry::File { name, .. } = e {
                names.insert(name.as_str());
            }
        }
        view.close().map_err(|e| read_err(what(), e))?;
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

#[cfg(test)]
mod tests;

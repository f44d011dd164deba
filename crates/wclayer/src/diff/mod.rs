//! Comparing two layers entry by entry: what was added, removed and changed, and for each
//! changed entry which piece of its Windows metadata differs (docs/diff.md).
//!
//! Each side is a layer tar (read with the tar importer of `wclayer-tar`, entry by entry)
//! or any [`LayerReader`] (a layer directory). Entries are reduced to an [`EntrySummary`]:
//! the metadata of the entry and the SHA-256 of its data and of each alternate data stream.
//! File data is hashed as it passes and never held. The old side's summaries are kept in a
//! map; the new side is compared against it entry by entry as it is read.
//!
//! When both sides are tars, their raw headers are read too (with
//! [`crate::ArchiveReader`], on a thread of its own fed with the same bytes) and compared
//! field by field, and the SHA-256 of each uncompressed tar (its diffID) is computed, so a
//! difference that changes no entry (order, header encoding, padding) is still explained.
//!
//! ```
//! use wclayer::diff::{Input, diff};
//!
//! # fn run(old_tar: &[u8], new_tar: &[u8]) -> Result<(), wclayer::diff::DiffError> {
//! let d = diff(Input::Tar(&mut &old_tar[..]), Input::Tar(&mut &new_tar[..]), &wclayer::Limits::default())?;
//! for c in &d.changes {
//!     println!("{} {}", c.kind, c.entry);
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use wclayer_backup::FileBasicInfo;
use wclayer_backup::reparse::ReparsePoint;
use wclayer_layer::{LayerReader, Limits};

use crate::Error;
use compare::link_fields;
pub(crate) use compare::{compare_entries, resolved_link};
pub(crate) use summary::{Collector, read_layer};
use tar::{HeaderCompare, HeaderSummary, OldHeaders, bytes_note, read_tar};

mod compare;
mod summary;
mod tar;
#[cfg(test)]
mod tests;

/// One side of a comparison.
pub enum Input<'a> {
    /// An uncompressed layer tar.
    Tar(&'a mut dyn Read),
    /// A layer reader, such as a layer directory's.
    Layer(&'a mut dyn LayerReader),
}

impl fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Input::Tar(_) => "Input::Tar",
            Input::Layer(_) => "Input::Layer",
        })
    }
}

/// Which side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first (old) layer.
    Old,
    /// The second (new) layer.
    New,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Old => "old",
            Side::New => "new",
        })
    }
}

/// A side could not be read: the comparison has no result.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the {side} layer")]
pub struct DiffError {
    /// The side that failed.
    pub side: Side,
    /// Why; the message names the entry.
    #[source]
    pub source: Error,
}

/// What an entry is, for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file.
    File,
    /// A directory.
    Directory,
    /// A file symbolic link.
    Symlink,
    /// A directory symbolic link.
    DirectorySymlink,
    /// A junction (mount point).
    Junction,
    /// Another reparse point.
    Reparse,
    /// A further name of a file added earlier in the layer.
    HardLink,
    /// A deletion of what the parent layers have under this name.
    Tombstone,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "file",
            Kind::Directory => "dir",
            Kind::Symlink => "symlink",
            Kind::DirectorySymlink => "dirlink",
            Kind::Junction => "junction",
            Kind::Reparse => "reparse",
            Kind::HardLink => "hardlink",
            Kind::Tombstone => "tombstone",
        })
    }
}

/// Size and SHA-256 of a stream's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDigest {
    /// Bytes (the logical size of a sparse stream: holes count as zeros).
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
}

impl fmt::Display for StreamDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes, sha256:{}",
            self.size,
            hex::encode(self.sha256)
        )
    }
}

/// What is compared of one entry: its metadata, and digests instead of its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySummary {
    /// What the entry is.
    pub kind: Kind,
    /// Attributes and times; `None` for tombstones and hard links.
    pub info: Option<FileBasicInfo>,
    /// The unnamed data stream, if there is one.
    pub data: Option<StreamDigest>,
    /// Whether the data stream is sparse.
    pub sparse: bool,
    /// The raw self-relative security descriptor (the last one of the backup stream).
    pub security_descriptor: Option<Vec<u8>>,
    /// Extended attributes by name: size and digest of each value.
    pub extended_attributes: BTreeMap<String, StreamDigest>,
    /// Alternate data streams by name (without `:…:$DATA`).
    pub streams: BTreeMap<String, StreamDigest>,
    /// The reparse point, if any.
    pub reparse: Option<ReparsePoint>,
    /// For a hard link, the name (slash form) of the entry it is a further name of.
    pub hard_link: Option<String>,
    /// Ids of the other backup streams (object id, link, ...), in order.
    pub other_streams: Vec<u32>,
}

impl EntrySummary {
    fn tombstone() -> EntrySummary {
        EntrySummary {
            kind: Kind::Tombstone,
            info: None,
            data: None,
            sparse: false,
            security_descriptor: None,
            extended_attributes: BTreeMap::new(),
            streams: BTreeMap::new(),
            reparse: None,
            hard_link: None,
            other_streams: Vec::new(),
        }
    }
}

/// How an entry differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only the new layer has it.
    Added,
    /// Only the old layer has it.
    Removed,
    /// Both have it, with different content or metadata.
    Changed,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        })
    }
}

/// One differing field of a changed entry, with both values as text (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// The field: `content`, `attributes`, `last_write_time`, `extended_attributes[NAME]`,
    /// `tar.mode`, ... (the list is in docs/diff.md).
    pub field: String,
    /// The old value.
    pub old: Option<String>,
    /// The new value.
    pub new: Option<String>,
}

impl FieldChange {
    fn new(field: impl Into<String>, old: Option<String>, new: Option<String>) -> FieldChange {
        FieldChange {
            field: field.into(),
            old,
            new,
        }
    }
}

/// One differing entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The entry's name, tar style (`Files/Windows/x`).
    pub entry: String,
    /// For a changed entry, what differs; empty otherwise.
    pub fields: Vec<FieldChange>,
}

/// The result of [`diff`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// The differing entries, sorted by name.
    pub changes: Vec<Change>,
    /// SHA-256 (hexadecimal) of the old tar's bytes, when the old side is a tar.
    pub old_diff_id: Option<String>,
    /// SHA-256 (hexadecimal) of the new tar's bytes, when the new side is a tar.
    pub new_diff_id: Option<String>,
    /// When both sides are tars with the same entries but different bytes: where the bytes
    /// part ways.
    pub bytes: Option<String>,
}

impl Diff {
    /// Whether nothing differs: no entry, and (for two tars) not the bytes either.
    #[must_use]
    pub fn is_identical(&self) -> bool {
        self.changes.is_empty() && self.bytes.is_none()
    }

    /// The number of added, removed and changed entries.
    #[must_use]
    pub fn counts(&self) -> (u64, u64, u64) {
        let mut n = (0u64, 0u64, 0u64);
        for c in &self.changes {
            let slot = match c.kind {
                ChangeKind::Added => &mut n.0,
                ChangeKind::Removed => &mut n.1,
                ChangeKind::Changed => &mut n.2,
            };
            *slot = slot.saturating_add(1);
        }
        n
    }
}

/// Compares `old` with `new`. A tar is read through the tar importer with `limits`; a
/// layer reader is read to its end (and not closed).
///
/// # Errors
/// When a side cannot be read: the error says which.
pub fn diff(old: Input<'_>, new: Input<'_>, limits: &Limits) -> Result<Diff, DiffError> {
    let both_tars = matches!((&old, &new), (Input::Tar(_), Input::Tar(_)));
    let fail = |side| move |source| DiffError { side, source };

    // The old side, kept as summaries (and raw headers for two tars). `true` once the new
    // side has the name too.
    let mut old_entries: HashMap<String, (EntrySummary, bool)> = HashMap::new();
    let mut old_links: Vec<(String, String)> = Vec::new();
    let mut old_tombstones: BTreeSet<String> = BTreeSet::new();
    let mut old_headers = OldHeaders::default();
    let old_facts = {
        let mut sink = |name: String, s: EntrySummary| {
            if s.kind == Kind::Tombstone {
                old_tombstones.insert(name);
                return;
            }
            if let Some(t) = &s.hard_link {
                old_links.push((name.clone(), t.clone()));
            }
            old_entries.insert(name, (s, false));
        };
        match old {
            Input::Tar(r) => {
                let headers = |h: HeaderSummary| old_headers.add(h);
                Some(read_tar(r, limits, &mut sink, both_tars.then_some(headers)))
            }
            Input::Layer(r) => {
                read_layer(r, &mut sink).map_err(fail(Side::Old))?;
                None
            }
        }
        .transpose()
        .map_err(fail(Side::Old))?
    };
    // A hard link is compared as the file it names; which of the names came first is not
    // compared, only which names share a file (`hard_link`, below).
    for (name, target) in &old_links {
        let resolved = old_entries.get(target).map(|(t, _)| t.clone());
        if let (Some(t), Some((s, _))) = (resolved, old_entries.get_mut(name)) {
            *s = resolved_link(s, t);
        }
    }

    // The new side, compared entry by entry as it is read. The summaries of the entries
    // that differ are kept (a later hard link may name one of them).
    let mut changes: Vec<Change> = Vec::new();
    let mut new_differing: HashMap<String, EntrySummary> = HashMap::new();
    let mut new_links: Vec<(String, String)> = Vec::new();
    let mut new_tombstones: BTreeSet<String> = BTreeSet::new();
    let mut compare = HeaderCompare::new(old_headers);
    let new_facts = {
        let mut sink = |name: String, mut s: EntrySummary| {
            if s.kind == Kind::Tombstone {
                new_tombstones.insert(name);
                return;
            }
            if let Some(t) = s.hard_link.clone() {
                let target = new_differing.get(&t).or_else(|| {
                    old_entries
                        .get(&t)
                        .filter(|(_, seen)| *seen)
                        .map(|(e, _)| e)
                });
                if let Some(target) = target {
                    s = resolved_link(&s, target.clone());
                }
                new_links.push((name.clone(), t));
            }
            match old_entries.get_mut(&name) {
                None => {
                    changes.push(Change {
                        kind: ChangeKind::Added,
                        entry: name.clone(),
                        fields: Vec::new(),
                    });
                    new_differing.insert(name, s);
                }
                Some((o, seen)) => {
                    *seen = true;
                    let fields = compare_entries(o, &s);
                    if !fields.is_empty() {
                        changes.push(Change {
                            kind: ChangeKind::Changed,
                            entry: name.clone(),
                            fields,
                        });
                        new_differing.insert(name, s);
                    }
                }
            }
        };
        match new {
            Input::Tar(r) => {
                let headers = |h: HeaderSummary| compare.add(h);
                Some(read_tar(r, limits, &mut sink, both_tars.then_some(headers)))
            }
            Input::Layer(r) => {
                read_layer(r, &mut sink).map_err(fail(Side::New))?;
                None
            }
        }
        .transpose()
        .map_err(fail(Side::New))?
    };
    changes.extend(
        old_entries
            .iter()
            .filter(|(_, (_, seen))| !seen)
            .map(|(entry, _)| Change {
                kind: ChangeKind::Removed,
                entry: entry.clone(),
                fields: Vec::new(),
            }),
    );

    // Link-group and header fields join the entry they belong to.
    let mut by_name: BTreeMap<String, Change> = BTreeMap::new();
    for c in changes {
        by_name.insert(c.entry.clone(), c);
    }
    compare.order();
    let extra = link_fields(&old_links, &new_links)
        .into_iter()
        .chain(compare.fields);
    for (name, field) in extra {
        let c = by_name.entry(name.clone()).or_insert_with(|| Change {
            kind: ChangeKind::Changed,
            entry: name,
            fields: Vec::new(),
        });
        if c.kind == ChangeKind::Changed {
            c.fields.push(field);
        }
    }
    // A tombstone is a change of the name's kind: a deletion, or a deletion before an entry
    // of the same name (docs/layer-semantics.md §0.1).
    for name in old_tombstones.symmetric_difference(&new_tombstones) {
        let old_kind = old_entries.get(name).map(|(s, _)| s.kind);
        let new_kind = new_differing.get(name).map(|s| s.kind).or_else(|| {
            old_entries
                .get(name)
                .filter(|(_, seen)| *seen)
                .map(|(s, _)| s.kind)
        });
        let text = |tombstone: bool, kind: Option<Kind>| match (tombstone, kind) {
            (true, Some(k)) => Some(format!("tombstone+{k}")),
            (true, None) => Some("tombstone".to_string()),
            (false, k) => k.map(|k| k.to_string()),
        };
        let (a, b) = (
            text(old_tombstones.contains(name), old_kind),
            text(new_tombstones.contains(name), new_kind),
        );
        let kind = match (&a, &b) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        };
        let c = by_name.entry(name.clone()).or_insert_with(|| Change {
            kind,
            entry: name.clone(),
            fields: Vec::new(),
        });
        if kind == ChangeKind::Changed {
            c.kind = ChangeKind::Changed;
            c.fields.retain(|f| f.field != "kind");
            c.fields.insert(0, FieldChange::new("kind", a, b));
        }
    }
    let changes: Vec<Change> = by_name.into_values().collect();

    let mut d = Diff {
        changes,
        old_diff_id: old_facts.as_ref().map(|f| f.diff_id.clone()),
        new_diff_id: new_facts.as_ref().map(|f| f.diff_id.clone()),
        bytes: None,
    };
    if let (Some(o), Some(n)) = (&old_facts, &new_facts)
        && o.diff_id != n.diff_id
        && d.changes.is_empty()
    {
        d.bytes = Some(bytes_note(o, n, compare.first_moved.as_ref()));
    }
    Ok(d)
}

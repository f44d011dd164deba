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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io::{self, BufReader, Read};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::sd::SecurityDescriptor;
use wclayer_backup::{
    FileBasicInfo, RawHeader, SplitError, SplitVisitor, StreamAttributes, StreamId, StreamSplitter,
};
use wclayer_layer::{LayerPath, LayerReader, LayerWriter, Limits, copy_layer};
use wclayer_tar::archive::{ArchiveReader, TarHeader};

use crate::Error;

/// Metadata bodies are small by format (a security descriptor, an EA chain of at most
/// 64 KiB, a reparse buffer of at most 16 KiB, docs/ea-reparse-sd.md); a larger one is
/// refused rather than buffered.
const METADATA_LIMIT: u64 = 16 << 20;

/// Bytes of a tar handed to the header reader at a time.
const TEE_CHUNK: usize = 256 << 10;

/// Chunks queued for the header reader before the importer waits for it.
const TEE_QUEUE: usize = 8;

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

/// The hard link `link` as the file `target` it names (which keeps its own kind when it is
/// a link whose target is missing).
fn resolved_link(link: &EntrySummary, target: EntrySummary) -> EntrySummary {
    if target.kind == Kind::HardLink || target.kind == Kind::Tombstone {
        return link.clone();
    }
    EntrySummary {
        hard_link: link.hard_link.clone(),
        ..target
    }
}

/// The names of each file with more than one name, by name: the others, sorted.
fn link_groups(links: &[(String, String)]) -> HashMap<String, BTreeSet<String>> {
    // A link names the first name of its file (docs/oci-tar-mapping.md §4.5): the groups
    // are the targets with their links.
    let mut groups: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for (name, target) in links {
        let g = groups.entry(target.as_str()).or_default();
        g.insert(target.clone());
        g.insert(name.clone());
    }
    let mut by_name = HashMap::new();
    for g in groups.into_values() {
        for n in &g {
            let mut others = g.clone();
            others.remove(n);
            by_name.insert(n.clone(), others);
        }
    }
    by_name
}

/// A `hard_link` field for every name whose other names differ.
fn link_fields(old: &[(String, String)], new: &[(String, String)]) -> Vec<(String, FieldChange)> {
    let (o, n) = (link_groups(old), link_groups(new));
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let text = |g: Option<&BTreeSet<String>>| {
        g.map(|g| g.iter().map(String::as_str).collect::<Vec<_>>().join(", "))
    };
    names
        .into_iter()
        .filter(|name| o.get(*name) != n.get(*name))
        .map(|name| {
            (
                name.clone(),
                FieldChange::new("hard_link", text(o.get(name)), text(n.get(name))),
            )
        })
        .collect()
}

/// Why two tars with the same entries have different bytes, as far as their layout tells.
fn bytes_note(o: &TarFacts, n: &TarFacts, first_moved: Option<&(String, u64, u64)>) -> String {
    let same = "the entries are the same, the bytes are not";
    if let Some((name, a, b)) = first_moved {
        return format!(
            "{same}: {name} starts at byte {a} of the old tar and at byte {b} of the new one \
             (something before it is encoded differently: PAX records, header fields, padding)"
        );
    }
    if o.end != n.end {
        return format!(
            "{same}: the end-of-archive marker is at byte {} of the old tar and at byte {} of \
             the new one (the last entry is encoded differently)",
            o.end, n.end
        );
    }
    if o.length != n.length {
        return format!(
            "{same}: the old tar has {} bytes, the new one {} (different padding after the \
             end-of-archive marker)",
            o.length, n.length
        );
    }
    format!(
        "{same}: every entry starts at the same byte and the tars have the same length ({} \
         bytes); they differ inside headers (number encoding, PAX record order, checksum \
         form) or in padding",
        o.length
    )
}

/// The differing fields of two summaries of one name.
fn compare_entries(o: &EntrySummary, n: &EntrySummary) -> Vec<FieldChange> {
    let mut f = Vec::new();
    let mut field = |name: &str, a: Option<String>, b: Option<String>| {
        if a != b {
            f.push(FieldChange::new(name, a, b));
        }
    };
    field("kind", Some(o.kind.to_string()), Some(n.kind.to_string()));
    if o.kind == Kind::Tombstone || n.kind == Kind::Tombstone {
        return f;
    }
    field(
        "content",
        o.data.map(|d| d.to_string()),
        n.data.map(|d| d.to_string()),
    );
    field(
        "sparse",
        Some(o.sparse.to_string()),
        Some(n.sparse.to_string()),
    );
    if let (Some(a), Some(b)) = (&o.info, &n.info) {
        let attrs =
            |i: &FileBasicInfo| format!("{:#x} ({})", i.file_attributes.0, i.file_attributes);
        field("attributes", Some(attrs(a)), Some(attrs(b)));
        let t = |x: wclayer_backup::FileTime| Some(x.to_string());
        field("creation_time", t(a.creation_time), t(b.creation_time));
        field(
            "last_access_time",
            t(a.last_access_time),
            t(b.last_access_time),
        );
        field(
            "last_write_time",
            t(a.last_write_time),
            t(b.last_write_time),
        );
        field("change_time", t(a.change_time), t(b.change_time));
    }
    if o.security_descriptor != n.security_descriptor {
        let (mut a, mut b) = (
            o.security_descriptor.as_deref().map(sddl),
            n.security_descriptor.as_deref().map(sddl),
        );
        if a == b {
            // The same SDDL from different bytes: show the bytes.
            a = o.security_descriptor.as_deref().map(raw);
            b = n.security_descriptor.as_deref().map(raw);
        }
        f.push(FieldChange::new("security_descriptor", a, b));
    }
    keyed(
        &mut f,
        "extended_attributes",
        &o.extended_attributes,
        &n.extended_attributes,
    );
    keyed(&mut f, "streams", &o.streams, &n.streams);
    if o.reparse != n.reparse {
        f.push(FieldChange::new(
            "reparse",
            o.reparse.as_ref().map(reparse_text),
            n.reparse.as_ref().map(reparse_text),
        ));
    }
    if o.other_streams != n.other_streams {
        let ids = |v: &[u32]| {
            Some(
                v.iter()
                    .map(|id| match StreamId(*id).name() {
                        Some(n) => n.to_string(),
                        None => id.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        f.push(FieldChange::new(
            "other_streams",
            ids(&o.other_streams),
            ids(&n.other_streams),
        ));
    }
    f
}

/// One field per name whose value differs between the maps: `FIELD[NAME]`.
fn keyed(
    f: &mut Vec<FieldChange>,
    field: &str,
    o: &BTreeMap<String, StreamDigest>,
    n: &BTreeMap<String, StreamDigest>,
) {
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for name in names {
        let (a, b) = (o.get(name), n.get(name));
        if a != b {
            f.push(FieldChange::new(
                format!("{field}[{name}]"),
                a.map(ToString::to_string),
                b.map(ToString::to_string),
            ));
        }
    }
}

/// A security descriptor as SDDL, or why it is not one.
fn sddl(b: &[u8]) -> String {
    SecurityDescriptor::from_bytes(b)
        .map(|sd| sd.to_sddl())
        .unwrap_or_else(|e| format!("(invalid: {e}) {}", hex::encode(b)))
}

/// A security descriptor's bytes.
fn raw(b: &[u8]) -> String {
    format!("{} (bytes {})", sddl(b), hex::encode(b))
}

fn reparse_text(r: &ReparsePoint) -> String {
    match r {
        ReparsePoint::Symlink { target, relative } => {
            format!(
                "symlink {target}{}",
                if *relative { " (relative)" } else { "" }
            )
        }
        ReparsePoint::MountPoint { target } => format!("mount point {target}"),
        ReparsePoint::Opaque { tag, data } => format!(
            "tag {tag:#010x}, {} bytes, sha256:{}",
            data.len(),
            hex::encode(Sha256::digest(data))
        ),
    }
}

/// Reads every entry of `r` into `sink`.
fn read_layer(
    r: &mut dyn LayerReader,
    sink: &mut dyn FnMut(String, EntrySummary),
) -> Result<(), Error> {
    let mut c = Collector::new(sink);
    copy_layer(r, &mut c)?;
    Ok(())
}

/// What is known of a tar once it was read.
#[derive(Debug)]
struct TarFacts {
    /// SHA-256 of all its bytes, hexadecimal.
    diff_id: String,
    /// All its bytes.
    length: u64,
    /// Where the end-of-archive marker starts.
    end: u64,
}

/// Reads the tar `r` into `sink` through the tar importer; with `headers`, its raw headers
/// are read on a thread of their own from the same bytes and handed to `headers`.
fn read_tar<H: FnMut(HeaderSummary) + Send>(
    r: &mut dyn Read,
    limits: &Limits,
    sink: &mut dyn FnMut(String, EntrySummary),
    headers: Option<H>,
) -> Result<TarFacts, Error> {
    std::thread::scope(|scope| {
        let (tx, rx) = match headers {
            Some(_) => {
                let (tx, rx) = sync_channel::<Vec<u8>>(TEE_QUEUE);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let reader = match (headers, rx) {
            (Some(h), Some(rx)) => Some(
                std::thread::Builder::new()
                    .name("diff-headers".into())
                    .spawn_scoped(scope, move || read_headers(rx, h))
                    .map_err(|e| Error::Layer(wclayer_layer::Error::io("", e)))?,
            ),
            _ => None,
        };
        let mut tee = BufReader::with_capacity(
            TEE_CHUNK,
            Tee {
                inner: r,
                tx,
                hash: Sha256::new(),
                length: 0,
            },
        );
        let imported = (|| -> Result<(), Error> {
            let mut collector = Collector::new(sink);
            let mut archive = ArchiveReader::new(&mut tee);
            wclayer_tar::import_tar_limited(&mut archive, &mut collector, limits)?;
            // The bytes after the archive count for the digest too.
            io::copy(&mut tee, &mut io::sink())
                .map_err(|e| Error::Layer(wclayer_layer::Error::io("", e)))?;
            Ok(())
        })();
        let tee = tee.into_inner();
        let (hash, length) = (tee.hash, tee.length);
        // Ends the header reader's input.
        drop(tee.tx);
        let end = match reader.map(std::thread::ScopedJoinHandle::join) {
            None => 0,
            Some(Ok(Ok(end))) => end,
            Some(Ok(Err(e))) => {
                imported?;
                return Err(Error::Tar(wclayer_tar::Error::from(e)));
            }
            Some(Err(_)) => {
                imported?;
                return Err(Error::Layer(wclayer_layer::Error::io(
                    "",
                    io::Error::other("the thread reading the tar headers stopped"),
                )));
            }
        };
        imported?;
        Ok(TarFacts {
            diff_id: hex::encode(hash.finalize()),
            length,
            end,
        })
    })
}

/// Hashes and counts what is read through it, and hands a copy to the header reader.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    tx: Option<SyncSender<Vec<u8>>>,
    hash: Sha256,
    length: u64,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.hash.update(got);
        self.length = self.length.saturating_add(n as u64);
        if let Some(tx) = &self.tx
            && !got.is_empty()
            && tx.send(got.to_vec()).is_err()
        {
            // The header reader stopped (its error is reported when it is joined).
            self.tx = None;
        }
        Ok(n)
    }
}

/// The recent bytes the header reader was given, to look at an entry's first header block.
#[derive(Default)]
struct Recent {
    prev: Vec<u8>,
    prev_start: u64,
    cur: Vec<u8>,
    cur_start: u64,
}

impl Recent {
    /// The 512-byte block at `offset`, if it is still held in one piece.
    fn block(&self, offset: u64) -> Option<&[u8]> {
        [(&self.cur, self.cur_start), (&self.prev, self.prev_start)]
            .into_iter()
            .find_map(|(buf, start)| {
                let at = usize::try_from(offset.checked_sub(start)?).ok()?;
                buf.get(at..at.checked_add(512)?)
            })
    }
}

/// The header reader's input: the chunks the [`Tee`] sends.
struct ChanReader {
    rx: Receiver<Vec<u8>>,
    pos: usize,
    recent: Rc<RefCell<Recent>>,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(mut recent) = self.recent.try_borrow_mut() else {
            return Err(io::Error::other("the recent bytes are in use"));
        };
        while self.pos >= recent.cur.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            let start = recent.cur_start.saturating_add(recent.cur.len() as u64);
            let old = std::mem::replace(&mut recent.cur, next);
            recent.prev = old;
            recent.prev_start = recent.cur_start;
            recent.cur_start = start;
            self.pos = 0;
        }
        let have = recent.cur.get(self.pos..).unwrap_or_default();
        let n = have.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

/// Reads the raw headers from `rx` and hands each to `visit`; the offset of the
/// end-of-archive marker.
fn read_headers(
    rx: Receiver<Vec<u8>>,
    mut visit: impl FnMut(HeaderSummary),
) -> Result<u64, wclayer_tar::archive::Error> {
    let recent = Rc::new(RefCell::new(Recent::default()));
    let mut archive = ArchiveReader::new(ChanReader {
        rx,
        pos: 0,
        recent: Rc::clone(&recent),
    });
    let mut index = 0u64;
    let mut end = 0u64;
    loop {
        let at = archive.offset();
        let Some(h) = archive.next_entry()? else {
            // The first header block that was no entry's: the end-of-archive marker.
            end = end.max(at);
            return Ok(end);
        };
        let format = recent
            .try_borrow()
            .ok()
            .and_then(|r| r.block(h.header_offset).map(block_format))
            .unwrap_or("unknown");
        end = h.header_offset;
        visit(HeaderSummary::new(h, index, format));
        index = index.saturating_add(1);
    }
}

/// The format of an entry's first header block (docs/oci-tar-mapping.md §8): a PAX or GNU
/// extension header, else the block's magic.
fn block_format(b: &[u8]) -> &'static str {
    match (b.get(156), b.get(257..263)) {
        (Some(b'x' | b'g'), _) => "pax",
        (Some(b'L' | b'K'), _) => "gnu",
        (_, Some(b"ustar\0")) => "ustar",
        (_, Some(b"ustar ")) => "gnu",
        _ => "v7",
    }
}

/// PAX records whose meaning is compared as the entry's metadata (docs/oci-tar-mapping.md
/// §4.0), or that only carry header fields.
fn compared_elsewhere(key: &str) -> bool {
    matches!(
        key,
        "MSWINDOWS.fileattr"
            | "MSWINDOWS.rawsd"
            | "MSWINDOWS.sd"
            | "MSWINDOWS.mountpoint"
            | "LIBARCHIVE.creationtime"
            | "path"
            | "linkpath"
            | "size"
            | "mtime"
            | "atime"
            | "ctime"
    ) || key.starts_with("MSWINDOWS.xattr.")
}

/// The header fields of one tar entry that the layer does not carry.
#[derive(Clone, Debug)]
struct HeaderSummary {
    /// The entry name, cleaned as a layer name is when it is one.
    name: String,
    index: u64,
    offset: u64,
    fields: BTreeMap<String, String>,
}

impl HeaderSummary {
    fn new(h: TarHeader, index: u64, format: &str) -> HeaderSummary {
        let name = LayerPath::parse(&h.name)
            .map(|p| p.to_slash())
            .unwrap_or_else(|_| h.name.clone());
        let whiteout = name
            .rsplit('/')
            .next()
            .is_some_and(|b| b.starts_with(".wh."));
        let mut fields = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            fields.insert(k.to_string(), v);
        };
        put("tar.typeflag", char::from(h.typeflag).to_string());
        put("tar.mode", format!("{:#o}", h.mode));
        put("tar.uid", h.uid.to_string());
        put("tar.gid", h.gid.to_string());
        put("tar.uname", h.uname.clone());
        put("tar.gname", h.gname.clone());
        put("tar.devmajor", h.devmajor.to_string());
        put("tar.devminor", h.devminor.to_string());
        put("tar.format", format.to_string());
        if h.is_header_only() && h.size != 0 {
            // Data sizes are compared as content; a header-only entry's size is only bytes.
            put("tar.size", h.size.to_string());
        }
        if !matches!(h.typeflag, b'1' | b'2') && !h.linkname.is_empty() {
            // Link targets are compared as the layer's links; elsewhere it is only bytes.
            put("tar.linkname", h.linkname.clone());
        }
        if whiteout {
            // A whiteout's times are in no layer entry.
            put(
                "tar.mtime",
                format!("{}.{:09}", h.mod_time.secs, h.mod_time.nanos),
            );
        }
        for (k, v) in h.records() {
            if !compared_elsewhere(k) {
                put(&format!("tar.pax[{k}]"), v.to_string());
            }
        }
        HeaderSummary {
            name,
            index,
            offset: h.header_offset,
            fields,
        }
    }
}

/// The old tar's headers by name (a name may occur more than once).
#[derive(Default)]
struct OldHeaders(HashMap<String, VecDeque<HeaderSummary>>);

impl OldHeaders {
    fn add(&mut self, h: HeaderSummary) {
        self.0.entry(h.name.clone()).or_default().push_back(h);
    }
}

/// Compares the new tar's headers, as they come, with the old tar's.
struct HeaderCompare {
    old: OldHeaders,
    /// Differing header fields, by entry name.
    fields: Vec<(String, FieldChange)>,
    /// Old and new position and name of each matched entry, in new order.
    matched: Vec<(u64, u64, String)>,
    /// The first matched entry that starts at another byte: name, old and new offset.
    first_moved: Option<(String, u64, u64)>,
}

impl HeaderCompare {
    fn new(old: OldHeaders) -> HeaderCompare {
        HeaderCompare {
            old,
            fields: Vec::new(),
            matched: Vec::new(),
            first_moved: None,
        }
    }

    fn add(&mut self, n: HeaderSummary) {
        let Some(o) = self.old.0.get_mut(&n.name).and_then(VecDeque::pop_front) else {
            return;
        };
        let keys: BTreeSet<&String> = o.fields.keys().chain(n.fields.keys()).collect();
        for k in keys {
            let (a, b) = (o.fields.get(k), n.fields.get(k));
            if a != b {
                self.fields.push((
                    n.name.clone(),
                    FieldChange::new(k.as_str(), a.cloned(), b.cloned()),
                ));
            }
        }
        self.matched.push((o.index, n.index, n.name.clone()));
        if self.first_moved.is_none() && o.offset != n.offset {
            self.first_moved = Some((n.name.clone(), o.offset, n.offset));
        }
    }
}

impl HeaderCompare {
    /// Adds a `tar.order` field to the entries that moved: those outside a longest run of
    /// matched entries that kept their relative order.
    fn order(&mut self) {
        let kept = longest_increasing(&self.matched);
        for (i, (o, n, name)) in self.matched.iter().enumerate() {
            if !kept.contains(&i) {
                self.fields.push((
                    name.clone(),
                    FieldChange::new(
                        "tar.order",
                        Some(format!("entry {o}")),
                        Some(format!("entry {n}")),
                    ),
                ));
            }
        }
    }
}

/// The positions in `v` of a longest subsequence with increasing old positions (patience
/// sorting, O(n log n)).
fn longest_increasing(v: &[(u64, u64, String)]) -> BTreeSet<usize> {
    // `tails[k]`: the position in `v` of the smallest last element of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = Vec::with_capacity(v.len());
    for (i, (old, _, _)) in v.iter().enumerate() {
        let k = tails.partition_point(|&t| v.get(t).is_some_and(|x| x.0 < *old));
        before.push(k.checked_sub(1).and_then(|p| tails.get(p).copied()));
        match tails.get_mut(k) {
            Some(t) => *t = i,
            None => tails.push(i),
        }
    }
    let mut kept = BTreeSet::new();
    let mut at = tails.last().copied();
    while let Some(i) = at {
        kept.insert(i);
        at = before.get(i).copied().flatten();
    }
    kept
}

/// A [`LayerWriter`] that reduces each entry to an [`EntrySummary`] and hands it to `sink`,
/// hashing file data as it passes.
struct Collector<'s> {
    sink: &'s mut dyn FnMut(String, EntrySummary),
    open: Option<(String, FileBasicInfo, StreamSplitter, Accum)>,
}

impl<'s> Collector<'s> {
    fn new(sink: &'s mut dyn FnMut(String, EntrySummary)) -> Collector<'s> {
        Collector { sink, open: None }
    }

    /// Hands on the open entry.
    fn flush(&mut self) -> Result<(), wclayer_layer::Error> {
        if let Some((name, info, mut split, mut acc)) = self.open.take() {
            split.finish(&mut acc).map_err(|e| split_error(&name, e))?;
            let s = acc.finish(info).map_err(|e| problem(&name, e))?;
            (self.sink)(name, s);
        }
        Ok(())
    }
}

impl LayerWriter for Collector<'_> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        self.open = Some((
            name.to_slash(),
            *info,
            StreamSplitter::new(),
            Accum::default(),
        ));
        Ok(())
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        let name = name.to_slash();
        let s = EntrySummary {
            kind: Kind::HardLink,
            hard_link: Some(target.to_slash()),
            ..EntrySummary::tombstone()
        };
        (self.sink)(name, s);
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        (self.sink)(name.to_slash(), EntrySummary::tombstone());
        Ok(())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        let Some((name, _, split, acc)) = &mut self.open else {
            return Err(wclayer_layer::Error::NoEntry);
        };
        split.feed(buf, acc).map_err(|e| split_error(name, e))
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.flush()
    }
}

impl io::Write for Collector<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn split_error(name: &str, e: SplitError<String>) -> wclayer_layer::Error {
    match e {
        SplitError::Stream(source) => wclayer_layer::Error::Stream {
            name: name.to_string(),
            source,
        },
        SplitError::Visitor(what) => problem(name, what),
    }
}

/// An entry whose backup stream could not be summarised.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {what}")]
struct EntryProblem {
    name: String,
    what: String,
}

fn problem(name: &str, what: String) -> wclayer_layer::Error {
    wclayer_layer::Error::backend(EntryProblem {
        name: name.to_string(),
        what,
    })
}

/// What the current backup-stream body is being collected into.
enum Body {
    /// File data (the data stream or a sparse block).
    Data,
    /// A metadata stream, buffered.
    Meta(StreamId, Vec<u8>),
    /// An alternate data stream.
    Alternate(String, Sha256, u64),
    /// Anything else, skipped.
    Skip,
}

/// A [`SplitVisitor`] building one entry's summary from its backup stream.
#[derive(Default)]
struct Accum {
    body: Option<Body>,
    /// Hash and logical position of the data stream.
    data: Option<(Sha256, u64)>,
    /// The logical size a sparse stream's last block declares.
    sparse_end: Option<u64>,
    sparse: bool,
    security_descriptor: Option<Vec<u8>>,
    extended_attributes: BTreeMap<String, StreamDigest>,
    streams: BTreeMap<String, StreamDigest>,
    reparse: Option<ReparsePoint>,
    other_streams: Vec<u32>,
}

/// Hashes `n` zero bytes (a hole of a sparse stream).
fn hash_zeros(h: &mut Sha256, mut n: u64) {
    const ZEROS: [u8; 8192] = [0; 8192];
    while n > 0 {
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(ZEROS.len());
        h.update(ZEROS.get(..k).unwrap_or_default());
        n = n.saturating_sub(k as u64);
    }
}

impl Accum {
    fn data(&mut self) -> &mut (Sha256, u64) {
        self.data.get_or_insert_with(|| (Sha256::new(), 0))
    }

    fn finish(mut self, info: FileBasicInfo) -> Result<EntrySummary, String> {
        let data = match self.data.take() {
            None => None,
            Some((mut h, pos)) => {
                let size = match self.sparse_end {
                    Some(end) if end > pos => {
                        hash_zeros(&mut h, end.saturating_sub(pos));
                        end
                    }
                    _ => pos,
                };
                Some(StreamDigest {
                    size,
                    sha256: h.finalize().into(),
                })
            }
        };
        let kind = match (&self.reparse, info.file_attributes.is_directory()) {
            (Some(ReparsePoint::MountPoint { .. }), _) => Kind::Junction,
            (Some(ReparsePoint::Symlink { .. }), true) => Kind::DirectorySymlink,
            (Some(ReparsePoint::Symlink { .. }), false) => Kind::Symlink,
            (Some(_), _) => Kind::Reparse,
            (None, true) => Kind::Directory,
            (None, false) => Kind::File,
        };
        Ok(EntrySummary {
            kind,
            info: Some(info),
            data,
            sparse: self.sparse,
            security_descriptor: self.security_descriptor,
            extended_attributes: self.extended_attributes,
            streams: self.streams,
            reparse: self.reparse,
            hard_link: None,
            other_streams: self.other_streams,
        })
    }
}

impl SplitVisitor for Accum {
    type Error = String;

    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), String> {
        let id = h.id();
        self.body = Some(match id {
            StreamId::DATA => {
                self.sparse = h.attributes().contains(StreamAttributes::SPARSE);
                self.data();
                Body::Data
            }
            StreamId::SPARSE_BLOCK => {
                let offset = u64::try_from(h.offset())
                    .map_err(|_| format!("sparse block at negative offset {}", h.offset()))?;
                let (hash, pos) = self.data();
                if offset < *pos {
                    return Err(format!(
                        "sparse block at offset {offset} after data up to {pos}"
                    ));
                }
                hash_zeros(hash, offset.saturating_sub(*pos));
                *pos = offset;
                if h.size() == 0 {
                    self.sparse_end = Some(offset);
                }
                Body::Data
            }
            StreamId::SECURITY_DATA | StreamId::EA_DATA | StreamId::REPARSE_DATA => {
                if h.size() > METADATA_LIMIT {
                    return Err(format!(
                        "backup stream {id} of {} bytes is too large for metadata",
                        h.size()
                    ));
                }
                Body::Meta(id, Vec::new())
            }
            StreamId::ALTERNATE_DATA => {
                let name = h.name();
                let name = name.strip_suffix(":$DATA").unwrap_or(&name);
                let name = name.strip_prefix(':').unwrap_or(name).to_string();
                Body::Alternate(name, Sha256::new(), 0)
            }
            other => {
                self.other_streams.push(other.0);
                Body::Skip
            }
        });
        Ok(())
    }

    fn body(&mut self, bytes: &[u8]) -> Result<(), String> {
        match &mut self.body {
            Some(Body::Data) => {
                let (hash, pos) = self.data();
                hash.update(bytes);
                *pos = pos.saturating_add(bytes.len() as u64);
            }
            Some(Body::Meta(_, buf)) => buf.extend_from_slice(bytes),
            Some(Body::Alternate(_, hash, len)) => {
                hash.update(bytes);
                *len = len.saturating_add(bytes.len() as u64);
            }
            Some(Body::Skip) | None => {}
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), String> {
        match self.body.take() {
            Some(Body::Meta(StreamId::SECURITY_DATA, buf)) => self.security_descriptor = Some(buf),
            Some(Body::Meta(StreamId::EA_DATA, buf)) => {
                let eas = wclayer_backup::ea::decode(&buf)
                    .map_err(|e| format!("bad extended attributes: {e}"))?;
                for ea in eas {
                    self.extended_attributes.insert(
                        String::from_utf8_lossy(&ea.name).into_owned(),
                        StreamDigest {
                            size: ea.value.len() as u64,
                            sha256: Sha256::digest(&ea.value).into(),
                        },
                    );
                }
            }
            Some(Body::Meta(_, buf)) => {
                self.reparse = Some(
                    ReparsePoint::decode(&buf).map_err(|e| format!("bad reparse point: {e}"))?,
                );
            }
            Some(Body::Alternate(name, hash, size)) => {
                self.streams.insert(
                    name,
                    StreamDigest {
                        size,
                        sha256: hash.finalize().into(),
                    },
                );
            }
            Some(Body::Data | Body::Skip) | None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use wclayer_backup::ea::ExtendedAttribute;
    use wclayer_backup::{BackupStreamWriter, FileAttributes, FileTime, StreamHeader, StreamId};
    use wclayer_layer::{MemLayer, WalkMode};

    use super::*;

    const T0: u64 = 133_000_000_000_000_000;

    /// One entry of a test layer.
    #[derive(Clone)]
    struct F {
        name: &'static str,
        attrs: u32,
        times: [u64; 4],
        data: Option<Vec<u8>>,
        sd: Option<&'static str>,
        eas: Vec<(&'static str, Vec<u8>)>,
        streams: Vec<(&'static str, Vec<u8>)>,
        reparse: Option<ReparsePoint>,
        link: Option<&'static str>,
        tombstone: bool,
    }

    fn dir(name: &'static str) -> F {
        F {
            name,
            attrs: 0x10,
            times: [T0, T0 + 1, T0 + 2, T0 + 3],
            data: None,
            sd: None,
            eas: Vec::new(),
            streams: Vec::new(),
            reparse: None,
            link: None,
            tombstone: false,
        }
    }

    fn file(name: &'static str, data: &[u8]) -> F {
        F {
            attrs: 0x20,
            data: Some(data.to_vec()),
            ..dir(name)
        }
    }

    /// A small delta layer with one entry of each kind.
    fn sample() -> Vec<F> {
        let mut a = file("Files/a.txt", b"hello\n");
        a.sd = Some("O:BAG:SYD:(A;;FA;;;BA)");
        a.eas = vec![("FOO", b"bar".to_vec())];
        a.streams = vec![("zone", b"[ZoneTransfer]".to_vec())];
        let mut l = dir("Files/lnk");
        l.attrs = 0x410;
        l.reparse = Some(ReparsePoint::from_target("C:\\target", false));
        let mut h = dir("Files/h.txt");
        h.link = Some("Files/t.txt");
        let mut gone = dir("Files/gone.txt");
        gone.tombstone = true;
        vec![
            dir("Files"),
            a,
            l,
            file("Files/t.txt", b"linked"),
            h,
            gone,
            file("Files/b.bin", &[7; 5000]),
        ]
    }

    fn layer(entries: &[F]) -> MemLayer {
        let mut m = MemLayer::new();
        m.set_walk_mode(Some(WalkMode::Delta));
        for e in entries {
            let name = LayerPath::parse(e.name).unwrap();
            if e.tombstone {
                m.remove(&name).unwrap();
                continue;
            }
            if let Some(t) = e.link {
                m.add_link(&name, &LayerPath::parse(t).unwrap()).unwrap();
                continue;
            }
            let info = FileBasicInfo {
                creation_time: FileTime(e.times[0]),
                last_access_time: FileTime(e.times[1]),
                last_write_time: FileTime(e.times[2]),
                change_time: FileTime(e.times[3]),
                file_attributes: FileAttributes(e.attrs),
            };
            m.add(&name, &info).unwrap();
            let mut w = BackupStreamWriter::new(Vec::new());
            let mut put = |id: StreamId, body: &[u8]| {
                w.write_header(&StreamHeader::new(id, body.len() as u64))
                    .unwrap();
                w.write_all(body).unwrap();
            };
            if let Some(sd) = e.sd {
                put(
                    StreamId::SECURITY_DATA,
                    &SecurityDescriptor::from_sddl(sd).unwrap().to_bytes(),
                );
            }
            if !e.eas.is_empty() {
                let eas: Vec<ExtendedAttribute> = e
                    .eas
                    .iter()
                    .map(|(n, v)| ExtendedAttribute {
                        name: n.as_bytes().to_vec(),
                        value: v.clone(),
                        flags: 0,
                    })
                    .collect();
                put(
                    StreamId::EA_DATA,
                    &wclayer_backup::ea::encode(&eas).unwrap(),
                );
            }
            if let Some(r) = &e.reparse {
                put(StreamId::REPARSE_DATA, &r.encode().unwrap());
            }
            if let Some(d) = &e.data {
                put(StreamId::DATA, d);
            }
            for (n, d) in &e.streams {
                w.write_header(&StreamHeader::alternate_data(n, d.len() as u64))
                    .unwrap();
                w.write_all(d).unwrap();
            }
            m.write_all(&w.finish().unwrap()).unwrap();
        }
        m.close().unwrap();
        m
    }

    fn tar_of(entries: &[F]) -> Vec<u8> {
        let mut m = layer(entries);
        wclayer_tar::export_tar(&mut m.reader().unwrap(), Vec::new())
            .unwrap()
            .0
    }

    fn diff_tars(a: &[u8], b: &[u8]) -> Diff {
        diff(
            Input::Tar(&mut &a[..]),
            Input::Tar(&mut &b[..]),
            &Limits::default(),
        )
        .unwrap()
    }

    /// The fields of the one changed entry `name`, and nothing else changed.
    fn only_change(d: &Diff, name: &str) -> Vec<String> {
        assert_eq!(d.changes.len(), 1, "{d:#?}");
        let c = &d.changes[0];
        assert_eq!((c.kind, c.entry.as_str()), (ChangeKind::Changed, name));
        c.fields.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn identical_tars_are_identical() {
        let t = tar_of(&sample());
        let d = diff_tars(&t, &t);
        assert!(d.is_identical(), "{d:#?}");
        assert_eq!(d.old_diff_id, d.new_diff_id);
        assert_eq!(
            d.old_diff_id.as_deref(),
            Some(hex::encode(Sha256::digest(&t)).as_str())
        );
    }

    #[test]
    fn a_tar_equals_the_layer_it_was_written_from() {
        let entries = sample();
        let t = tar_of(&entries);
        let mut m = layer(&entries);
        let mut r = m.reader().unwrap();
        let d = diff(
            Input::Tar(&mut &t[..]),
            Input::Layer(&mut r),
            &Limits::default(),
        )
        .unwrap();
        assert!(d.is_identical(), "{d:#?}");
        assert_eq!(d.new_diff_id, None);
    }

    /// Each property changed alone shows as exactly its field.
    #[test]
    fn one_property_changed_shows_one_field() {
        type Edit = fn(&mut F);
        let cases: [(&str, &str, Edit); 11] = [
            ("Files/b.bin", "content", |f| f.data = Some(vec![8; 5000])),
            ("Files/a.txt", "attributes", |f| f.attrs |= 0x1),
            ("Files/a.txt", "creation_time", |f| f.times[0] += 10_000_000),
            ("Files/a.txt", "last_access_time", |f| {
                f.times[1] += 10_000_000
            }),
            ("Files/a.txt", "last_write_time", |f| {
                f.times[2] += 10_000_000
            }),
            ("Files/a.txt", "change_time", |f| f.times[3] += 10_000_000),
            ("Files/a.txt", "security_descriptor", |f| {
                f.sd = Some("O:BUG:SYD:(A;;FA;;;BU)")
            }),
            ("Files/a.txt", "extended_attributes[FOO]", |f| {
                f.eas = vec![("FOO", b"baz".to_vec())]
            }),
            ("Files/a.txt", "streams[zone]", |f| {
                f.streams = vec![("zone", b"[ZoneTransfer]\nZoneId=3".to_vec())]
            }),
            ("Files/lnk", "reparse", |f| {
                f.reparse = Some(ReparsePoint::from_target("C:\\elsewhere", false))
            }),
            ("Files/gone.txt", "kind", |f| {
                f.tombstone = false;
                f.attrs = 0x20;
                f.data = Some(Vec::new());
            }),
        ];
        let old = tar_of(&sample());
        for (name, field, edit) in cases {
            let mut entries = sample();
            for e in &mut entries {
                if e.name == name {
                    edit(e);
                }
            }
            let d = diff_tars(&old, &tar_of(&entries));
            let fields = only_change(&d, name);
            let ours: Vec<&String> = fields.iter().filter(|f| !f.starts_with("tar.")).collect();
            assert_eq!(ours, [field], "{name}: {d:#?}");
        }
    }

    /// A copy that becomes a hard link changes which names share a file, and nothing else:
    /// a link is compared as the file it names.
    #[test]
    fn a_copy_turned_into_a_hard_link_changes_only_the_link_groups() {
        let mut old = sample();
        let mut copy = old[1].clone();
        copy.name = "Files/c.txt";
        old.push(copy);
        let mut new = sample();
        let mut link = dir("Files/c.txt");
        link.link = Some("Files/a.txt");
        new.push(link);
        let d = diff_tars(&tar_of(&old), &tar_of(&new));
        type Fields<'a> = Vec<(&'a str, Option<&'a str>, Option<&'a str>)>;
        let got: Vec<(&str, Fields<'_>)> = d
            .changes
            .iter()
            .map(|c| {
                assert_eq!(c.kind, ChangeKind::Changed);
                let f = c
                    .fields
                    .iter()
                    .filter(|f| !f.field.starts_with("tar."))
                    .map(|f| (f.field.as_str(), f.old.as_deref(), f.new.as_deref()))
                    .collect();
                (c.entry.as_str(), f)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Files/a.txt",
                    vec![("hard_link", None, Some("Files/c.txt"))]
                ),
                (
                    "Files/c.txt",
                    vec![("hard_link", None, Some("Files/a.txt"))]
                ),
            ]
        );
    }

    #[test]
    fn values_are_shown_for_people() {
        let old = tar_of(&sample());
        let mut entries = sample();
        entries[1].times[2] += 10_000_000;
        entries[1].sd = Some("O:BUG:SYD:(A;;FA;;;BU)");
        entries[1].attrs = 0x21;
        let d = diff_tars(&old, &tar_of(&entries));
        let f = &d.changes[0].fields;
        let get = |n: &str| f.iter().find(|x| x.field == n).unwrap();
        assert_eq!(get("attributes").old.as_deref(), Some("0x20 (ARCHIVE)"));
        assert_eq!(
            get("attributes").new.as_deref(),
            Some("0x21 (READONLY|ARCHIVE)")
        );
        assert_eq!(
            get("security_descriptor").old.as_deref(),
            Some("O:BAG:SYD:(A;;FA;;;BA)")
        );
        let t = get("last_write_time");
        assert!(t.old.as_deref().unwrap().ends_with('Z'), "{t:?}");
        assert_ne!(t.old, t.new);
    }

    #[test]
    fn added_and_removed_entries() {
        let old = tar_of(&sample());
        let mut entries = sample();
        entries.retain(|e| e.name != "Files/b.bin");
        entries.push(file("Files/new.txt", b"new"));
        let d = diff_tars(&old, &tar_of(&entries));
        let got: Vec<(ChangeKind, &str)> = d
            .changes
            .iter()
            .map(|c| (c.kind, c.entry.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (ChangeKind::Removed, "Files/b.bin"),
                (ChangeKind::Added, "Files/new.txt")
            ]
        );
        assert_eq!(d.counts(), (1, 1, 0));
    }

    #[test]
    fn same_entries_different_bytes_are_explained() {
        let old = tar_of(&sample());
        let mut new = old.clone();
        new.extend_from_slice(&[0; 1024]);
        let d = diff_tars(&old, &new);
        assert!(d.changes.is_empty(), "{d:#?}");
        assert!(!d.is_identical());
        assert_ne!(d.old_diff_id, d.new_diff_id);
        let why = d.bytes.unwrap();
        assert!(why.contains("padding"), "{why}");
    }

    #[test]
    fn an_unreadable_side_is_named() {
        let t = tar_of(&sample());
        let garbage = [0xffu8; 1024];
        let e = diff(
            Input::Tar(&mut &t[..]),
            Input::Tar(&mut &garbage[..]),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.side, Side::New);
        let e = diff(
            Input::Tar(&mut &garbage[..]),
            Input::Tar(&mut &t[..]),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.side, Side::Old);
    }

    #[test]
    fn moved_entries_are_those_outside_the_longest_kept_order() {
        let v: Vec<(u64, u64, String)> = [0u64, 5, 1, 2, 3, 4]
            .iter()
            .enumerate()
            .map(|(n, o)| (*o, n as u64, format!("e{o}")))
            .collect();
        assert_eq!(longest_increasing(&v), BTreeSet::from([0, 2, 3, 4, 5]));
        assert!(longest_increasing(&[]).is_empty());
    }

    #[test]
    fn tombstones_added_removed_and_before_an_entry() {
        let old = tar_of(&sample());
        let mut entries = sample();
        entries.retain(|e| e.name != "Files/gone.txt");
        let d = diff_tars(&old, &tar_of(&entries));
        assert_eq!(d.changes.len(), 1, "{d:#?}");
        assert_eq!(d.changes[0].kind, ChangeKind::Removed);
        let mut entries = sample();
        let mut t = dir("Files/b.bin");
        t.tombstone = true;
        entries.insert(1, t);
        let d = diff_tars(&old, &tar_of(&entries));
        assert_eq!(only_change(&d, "Files/b.bin")[0], "kind", "{d:#?}");
        assert_eq!(
            d.changes[0].fields[0].new.as_deref(),
            Some("tombstone+file")
        );
    }

    #[test]
    fn sparse_data_hashes_as_its_zero_filled_bytes() {
        let mut acc = Accum::default();
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader {
            attributes: StreamAttributes::SPARSE,
            ..StreamHeader::new(StreamId::DATA, 0)
        })
        .unwrap();
        w.write_header(&StreamHeader::sparse_block(3, 1)).unwrap();
        w.write_all(b"x").unwrap();
        w.write_header(&StreamHeader::sparse_block(16, 0)).unwrap();
        let bytes = w.finish().unwrap();
        let mut split = StreamSplitter::new();
        for piece in bytes.chunks(7) {
            split.feed(piece, &mut acc).unwrap();
        }
        split.finish(&mut acc).unwrap();
        let s = acc.finish(FileBasicInfo::default()).unwrap();
        let mut want = vec![0u8; 16];
        want[3] = b'x';
        assert!(s.sparse);
        assert_eq!(
            s.data,
            Some(StreamDigest {
                size: 16,
                sha256: Sha256::digest(&want).into()
            })
        );
    }
}

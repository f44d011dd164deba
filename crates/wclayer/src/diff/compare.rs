//! Comparing the summaries of one name field by field (docs/diff.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::sd::SecurityDescriptor;
use wclayer_backup::{FileBasicInfo, StreamId};

use super::{EntrySummary, FieldChange, Kind, StreamDigest};

/// The hard link `link` as the file `target` it names (which keeps its own kind when it is
/// a link whose target is missing).
pub(crate) fn resolved_link(link: &EntrySummary, target: EntrySummary) -> EntrySummary {
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
pub(super) fn link_fields(
    old: &[(String, String)],
    new: &[(String, String)],
) -> Vec<(String, FieldChange)> {
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

/// The differing fields of two summaries of one name.
pub(crate) fn compare_entries(o: &EntrySummary, n: &EntrySummary) -> Vec<FieldChange> {
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

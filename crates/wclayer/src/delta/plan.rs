//! Which names the delta holds: the comparison of the two views' summaries
//! (docs/delta.md, "What counts as a change").

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};
use wclayer_layer::upcase_key;

use crate::diff::{EntrySummary, Kind, StreamDigest, compare_entries, resolved_link};

/// How two entries of one name are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compare {
    /// Every field `diff` compares (docs/diff.md): the new view is a layer chain.
    Full,
    /// Kind, content (size and SHA-256) and reparse data (a symbolic link's target): the
    /// new view is a host tree, whose Windows metadata comes from `create`'s options.
    Content,
}

/// One entry of a view.
#[derive(Debug)]
pub(crate) struct Item {
    /// The entry's name, `/`-separated, spelled as the view spells it.
    pub(crate) name: String,
    /// Its summary; a further name of a file has the file's summary.
    pub(crate) summary: EntrySummary,
    /// For a further name of a file: the name (`/`-separated) of the first one.
    pub(crate) link: Option<String>,
}

/// The summaries of one view, in its walk order.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub(crate) items: Vec<Item>,
    /// Case-folded name to its position in `items`.
    index: HashMap<String, usize>,
    /// Case-folded first name of each file with several names to the case-folded names.
    groups: HashMap<String, BTreeSet<String>>,
}

impl View {
    /// Records the next entry of the walk; a further name of a file takes the summary of
    /// the file it names, which the walk reached before (docs/oci-tar-mapping.md §4.5).
    pub(crate) fn push(&mut self, name: String, summary: EntrySummary) {
        let key = upcase_key(&name);
        let link = summary.hard_link.clone();
        let summary = match &link {
            Some(t) => {
                let tk = upcase_key(t);
                let target = self
                    .index
                    .get(&tk)
                    .and_then(|i| self.items.get(*i))
                    .map(|it| it.summary.clone());
                self.groups
                    .entry(tk.clone())
                    .or_insert_with(|| BTreeSet::from([tk]))
                    .insert(key.clone());
                match target {
                    Some(t) => resolved_link(&summary, t),
                    None => summary,
                }
            }
            None => summary,
        };
        self.index.insert(key, self.items.len());
        self.items.push(Item {
            name,
            summary,
            link,
        });
    }

    /// The entry of the case-folded name `key`.
    fn get(&self, key: &str) -> Option<&Item> {
        self.index.get(key).and_then(|i| self.items.get(*i))
    }

    /// The case-folded names of the file `item` is a name of, when it has several.
    fn group(&self, item: &Item) -> Option<&BTreeSet<String>> {
        let first = upcase_key(item.link.as_deref().unwrap_or(&item.name));
        self.groups.get(&first)
    }

    /// How many entries the view has.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// What the delta holds.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Positions in the new view's items of the entries to write, in its walk order, each
    /// with whether the old view lacks the name (added) or has it (changed).
    pub(crate) write: Vec<(usize, bool)>,
    /// Case-folded names of the entries to write.
    pub(crate) keep: HashSet<String>,
    /// The names to delete, as the old view spells them, in its walk order.
    pub(crate) tombstones: Vec<String>,
}

impl Plan {
    /// Entries the old view lacks.
    pub(crate) fn added(&self) -> u64 {
        self.write.iter().filter(|(_, added)| *added).count() as u64
    }

    /// Entries both views have, written again.
    pub(crate) fn changed(&self) -> u64 {
        self.write.iter().filter(|(_, added)| !*added).count() as u64
    }
}

/// The last component of a `/`-separated name.
fn last(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The data digest of a non-directory, a missing data stream counting as empty data (a
/// layer may leave out the data stream of an empty file, a host file always has one).
fn content(s: &EntrySummary) -> Option<StreamDigest> {
    if s.kind == Kind::Directory {
        return None;
    }
    Some(s.data.unwrap_or_else(|| StreamDigest {
        size: 0,
        sha256: Sha256::digest([]).into(),
    }))
}

/// Whether the entries `o` (old) and `n` (new) of one name differ, `how` compared.
fn differs(how: Compare, o: &EntrySummary, n: &EntrySummary) -> bool {
    match how {
        Compare::Full => !compare_entries(o, n).is_empty(),
        Compare::Content => o.kind != n.kind || content(o) != content(n) || o.reparse != n.reparse,
    }
}

/// Whether the case-folded name `key` is `scope` or below it (`scope` empty: everything).
fn in_scope(key: &str, scope: &str) -> bool {
    scope.is_empty()
        || key
            .strip_prefix(scope)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The delta that turns `old` into `new`: the names `new` has and `old` lacks, those both
/// have that differ (`how`; also a different spelling, or a different set of names of the
/// same file), all names of a file one of whose names is written, and a tombstone for each
/// topmost name of `old` within `scope` (case-folded, `/`-separated; empty: everything)
/// that `new` lacks. A name below a name that `new` has as a non-directory needs none: the
/// delta's entry hides it (docs/chain.md).
pub(crate) fn plan(old: &View, new: &View, how: Compare, scope: &str) -> Plan {
    let mut kept: Vec<Option<bool>> = vec![None; new.items.len()];
    for (slot, it) in kept.iter_mut().zip(&new.items) {
        let key = upcase_key(&it.name);
        *slot = match old.get(&key) {
            None => Some(true),
            Some(o)
                if last(&o.name) != last(&it.name)
                    || differs(how, &o.summary, &it.summary)
                    || old.group(o) != new.group(it) =>
            {
                Some(false)
            }
            Some(_) => None,
        };
    }
    // A file goes into the delta with all its names, so that they stay one file.
    let mut closure: Vec<usize> = Vec::new();
    for (it, slot) in new.items.iter().zip(&kept) {
        if slot.is_some()
            && let Some(g) = new.group(it)
        {
            closure.extend(g.iter().filter_map(|k| new.index.get(k).copied()));
        }
    }
    for i in closure {
        if let Some(slot @ None) = kept.get_mut(i) {
            *slot = Some(false);
        }
    }
    let mut plan = Plan::default();
    for (i, (it, slot)) in new.items.iter().zip(&kept).enumerate() {
        if let Some(added) = slot {
            plan.write.push((i, *added));
            plan.keep.insert(upcase_key(&it.name));
        }
    }

    // Every name the new view has, with its ancestors (directories a view may have only
    // implicitly), and whether it is a directory there.
    let mut present: HashMap<String, bool> = HashMap::new();
    for it in &new.items {
        let key = upcase_key(&it.name);
        let mut end = 0usize;
        while let Some(pos) = key.get(end..).and_then(|rest| rest.find('/')) {
            end = end.saturating_add(pos);
            if let Some(anc) = key.get(..end) {
                present.entry(anc.to_string()).or_insert(true);
            }
            end = end.saturating_add(1);
        }
        present.insert(key, it.summary.kind == Kind::Directory);
    }
    let mut done: HashSet<String> = HashSet::new();
    for o in &old.items {
        let key = upcase_key(&o.name);
        if !in_scope(&key, scope) || present.contains_key(&key) {
            continue;
        }
        // The topmost name on the way down to this one that the new view lacks.
        let mut top = String::new();
        let mut parent_is_dir = true;
        for c in o.name.split('/') {
            if !top.is_empty() {
                top.push('/');
            }
            top.push_str(c);
            match present.get(&upcase_key(&top)) {
                Some(is_dir) => parent_is_dir = *is_dir,
                None => break,
            }
        }
        let top_key = upcase_key(&top);
        if parent_is_dir && in_scope(&top_key, scope) && done.insert(top_key) {
            plan.tombstones.push(top);
        }
    }
    plan
}

//! Computing the merged view of a chain: which layer supplies each name (docs/chain.md).
//!
//! The layers are read top first, each through its own reader's walk (names and metadata
//! only, no stream bytes). A small trie keyed by case-folded components records, per name,
//! the layer that supplies it and whether lower layers are shut out below it. The result is
//! a [`LayerTree`] of the merged entries, whose base walk is the merged view's order.

use std::collections::HashMap;

use wclayer_layer::{Entry, FileBasicInfo, FileNo, LayerPath, LayerReader, LayerTree, upcase_key};
use wclayer_store::DirLayerReader;

use crate::Error;

/// The supplier of one merged entry: the layer's position in the chain (0 = top) and its
/// file there (the names of one hard-link group share it).
#[derive(Clone, Copy, Debug)]
struct Supplied {
    layer: u32,
    file: FileNo,
    info: FileBasicInfo,
}

/// One name of the trie.
#[derive(Debug)]
struct MNode {
    /// The component, spelled as the supplying layer spells it (as the topmost layer that
    /// names it does, while no layer supplies it).
    name: Box<str>,
    supplier: Option<Supplied>,
    /// A tombstone or a non-directory of an upper layer: no lower layer's entry at or below
    /// this name is part of the view.
    blocked: bool,
    /// Something at or below this name is supplied.
    live: bool,
    parent: u32,
    children: Vec<u32>,
}

/// What the top-level name says about an entry of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Area {
    /// `Files` and `UtilityVM`: the container's file system and its utility VM.
    View,
    /// `Hives`: registry hive deltas, not merged (docs/chain.md, "Hives").
    Hives,
    /// Any other top-level name: not part of a layer's export as a base layer.
    Other,
}

fn area(name: &LayerPath) -> Area {
    match name.components().next().map(upcase_key).as_deref() {
        Some("FILES" | "UTILITYVM") => Area::View,
        Some("HIVES") => Area::Hives,
        _ => Area::Other,
    }
}

/// The trie of merged names.
#[derive(Debug)]
struct Trie {
    nodes: Vec<MNode>,
    index: HashMap<(u32, String), u32>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            nodes: vec![MNode {
                name: "".into(),
                supplier: None,
                blocked: false,
                live: false,
                parent: 0,
                children: Vec::new(),
            }],
            index: HashMap::new(),
        }
    }

    fn node(&self, id: u32) -> Option<&MNode> {
        self.nodes.get(id as usize)
    }

    fn node_mut(&mut self, id: u32) -> Option<&mut MNode> {
        self.nodes.get_mut(id as usize)
    }

    /// The child `name` of `dir`, created (unsupplied) when missing.
    fn child(&mut self, dir: u32, name: &str) -> Result<u32, Error> {
        let key = (dir, upcase_key(name));
        if let Some(&id) = self.index.get(&key) {
            return Ok(id);
        }
        let id = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or(wclayer_layer::Error::Limit {
                name: None,
                what: "names in the merged view",
                limit: u64::from(u32::MAX - 1),
            })?;
        self.nodes.push(MNode {
            name: name.into(),
            supplier: None,
            blocked: false,
            live: false,
            parent: dir,
            children: Vec::new(),
        });
        if let Some(d) = self.node_mut(dir) {
            d.children.push(id);
        }
        self.index.insert(key, id);
        Ok(id)
    }

    /// The node of `name`, creating missing ones; `None` when a node on the way (or the
    /// name itself) is blocked.
    fn reach(&mut self, name: &LayerPath) -> Result<Option<u32>, Error> {
        let mut at = 0u32;
        for c in name.components() {
            at = self.child(at, c)?;
            if self.node(at).is_some_and(|n| n.blocked) {
                return Ok(None);
            }
        }
        Ok(Some(at))
    }

    /// The node of `name`, creating missing ones, blocked or not.
    fn reach_any(&mut self, name: &LayerPath) -> Result<u32, Error> {
        let mut at = 0u32;
        for c in name.components() {
            at = self.child(at, c)?;
        }
        Ok(at)
    }

    /// Marks `id` and its ancestors live.
    fn set_live(&mut self, mut id: u32) {
        while let Some(n) = self.node_mut(id) {
            if n.live {
                return;
            }
            n.live = true;
            if id == 0 {
                return;
            }
            id = n.parent;
        }
    }

    /// The components of `id`'s name, root first.
    fn path(&self, mut id: u32) -> String {
        let mut parts = Vec::new();
        while id != 0 {
            let Some(n) = self.node(id) else { break };
            parts.push(&*n.name);
            id = n.parent;
        }
        parts.reverse();
        parts.join("\\")
    }
}

/// The merged view: its entries, each with the layer that supplies it, and what was left out.
pub(crate) struct Merged {
    /// The merged entries; each file's payload is the supplying layer (0 = top).
    pub(crate) tree: LayerTree<u32>,
    /// Per layer: the entries and tombstones under `Hives` left out of the view.
    pub(crate) hives: Vec<u64>,
}

/// Builds the merged view of `layers` (top first), reading each one's walk from its start.
///
/// # Errors
/// When a layer cannot be walked, or the merged names break the layer model (which the
/// rules of docs/chain.md rule out for layers that obey it).
pub(crate) fn merge(layers: &mut [DirLayerReader]) -> Result<Merged, Error> {
    let mut trie = Trie::new();
    let mut hives = vec![0u64; layers.len()];
    for (i, r) in layers.iter_mut().enumerate() {
        let layer = u32::try_from(i).map_err(|_| wclayer_layer::Error::Limit {
            name: None,
            what: "layers in a chain",
            limit: u64::from(u32::MAX),
        })?;
        r.rewind()?;
        let mut tombstones = Vec::new();
        while let Some(entry) = r.next()? {
            let name = entry.name().clone();
            match area(&name) {
                Area::View => {}
                Area::Hives => {
                    if let Some(h) = hives.get_mut(i) {
                        *h = h.saturating_add(1);
                    }
                    continue;
                }
                Area::Other => continue,
            }
            let (info, file) = match entry {
                Entry::Tombstone { .. } => {
                    // Applied once the layer's own entries are in: they shut out lower
                    // layers only (a name re-added in the same layer stays).
                    tombstones.push(name);
                    continue;
                }
                Entry::File { info, .. } => match r.current_file() {
                    Some(f) => (info, f),
                    None => continue,
                },
                _ => continue,
            };
            let Some(node) = trie.reach(&name)? else {
                continue; // below an upper tombstone or non-directory
            };
            let attrs = info.file_attributes;
            let opaque = !attrs.is_directory() || attrs.is_reparse_point();
            let Some(n) = trie.node_mut(node) else {
                continue;
            };
            if n.supplier.is_some() {
                continue; // an upper layer replaces it
            }
            if opaque && n.live {
                // An upper layer has names below it: its directory replaces this file.
                continue;
            }
            n.supplier = Some(Supplied { layer, file, info });
            n.name = name.file_name().into();
            if opaque {
                n.blocked = true;
            }
            trie.set_live(node);
        }
        for t in tombstones {
            let node = trie.reach_any(&t)?;
            if let Some(n) = trie.node_mut(node) {
                n.blocked = true;
            }
        }
    }
    Ok(Merged {
        tree: build_tree(&trie)?,
        hives,
    })
}

/// The merged entries as a [`LayerTree`], parents before children; the names of one
/// supplying layer's hard-link group stay one group.
fn build_tree(trie: &Trie) -> Result<LayerTree<u32>, Error> {
    let mut tree: LayerTree<u32> = LayerTree::new();
    let mut groups: HashMap<(u32, FileNo), LayerPath> = HashMap::new();
    let mut stack: Vec<u32> = vec![0];
    while let Some(id) = stack.pop() {
        let Some(n) = trie.node(id) else { continue };
        if !n.live {
            continue;
        }
        if let Some(s) = n.supplier {
            let name = LayerPath::parse(&trie.path(id)).map_err(wclayer_layer::Error::from)?;
            match groups.get(&(s.layer, s.file)) {
                Some(first) if !s.info.file_attributes.is_directory() => {
                    tree.add_link(&name, first)?;
                }
                _ => {
                    tree.add(&name, s.info, s.layer)?;
                    groups.insert((s.layer, s.file), name);
                }
            }
        }
        // Children in a fixed order, so that the tree (and its file numbers) does not
        // depend on hashing.
        let mut children: Vec<(&str, u32)> = n
            .children
            .iter()
            .filter_map(|&c| trie.node(c).map(|cn| (&*cn.name, c)))
            .collect();
        children.sort_unstable();
        stack.extend(children.into_iter().rev().map(|(_, c)| c));
    }
    Ok(tree)
}

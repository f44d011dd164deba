//! The layer's name tree: the reference layer model's rules (layer-semantics.md §0.1),
//! exactly as [`wclayer_layer::MemLayer`] applies them, shared by the writer (which checks
//! every call against it) and the index (which replays the records through it).

use std::collections::HashMap;

use wclayer_backup::FileBasicInfo;
use wclayer_layer::{LayerPath, upcase_key};

use crate::Error;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory that exists only because something below it was added or removed.
    Implicit,
    /// An added entry; the number of its file (hard links share one).
    Added(usize),
}

#[derive(Debug)]
pub(crate) struct Node {
    /// The component as first spelled ("" for the root).
    pub name: String,
    pub parent: usize,
    /// Children by case-insensitive key.
    pub children: HashMap<String, usize>,
    pub kind: Kind,
    /// `false` for nodes that only the utility-VM clone created: not part of the layer's
    /// own entries, never walked.
    pub own: bool,
    /// The clone's file for an own implicit directory that the clone gave metadata.
    pub clone: Option<usize>,
    /// Names removed directly below this directory, as spelled, in `remove` order.
    pub tombstones: Vec<String>,
    /// Whether the node exists in the layer directory (writer bookkeeping).
    pub on_disk: bool,
}

/// The name tree plus each file's info (which the model's checks need).
#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub infos: Vec<FileBasicInfo>,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            nodes: vec![Node {
                name: String::new(),
                parent: 0,
                children: HashMap::new(),
                kind: Kind::Implicit,
                own: true,
                clone: None,
                tombstones: Vec::new(),
                on_disk: true,
            }],
            infos: Vec::new(),
        }
    }

    pub(crate) fn node(&self, id: usize) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub(crate) fn child(&self, dir: usize, name: &str) -> Option<usize> {
        self.nodes
            .get(dir)?
            .children
            .get(&upcase_key(name))
            .copied()
    }

    /// The node at `path` (case-insensitively), if any.
    pub(crate) fn lookup<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Option<usize> {
        let mut node = 0;
        for comp in path {
            node = self.child(node, comp)?;
        }
        Some(node)
    }

    /// The components of `node`'s name, root first.
    pub(crate) fn components(&self, mut node: usize) -> Vec<&str> {
        let mut parts = Vec::new();
        while node != 0 {
            let Some(n) = self.nodes.get(node) else { break };
            parts.push(n.name.as_str());
            node = n.parent;
        }
        parts.reverse();
        parts
    }

    /// `node`'s name, `\`-separated.
    pub(crate) fn path_of(&self, node: usize) -> String {
        self.components(node).join("\\")
    }

    /// The file bound to `node`, if it is an added entry.
    pub(crate) fn file_of(&self, node: usize) -> Option<usize> {
        match self.nodes.get(node)?.kind {
            Kind::Added(f) => Some(f),
            Kind::Implicit => None,
        }
    }

    pub(crate) fn info(&self, file: usize) -> Option<&FileBasicInfo> {
        self.infos.get(file)
    }

    /// Registers a new file and returns its number.
    pub(crate) fn new_file(&mut self, info: FileBasicInfo) -> usize {
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// Finds or creates (as implicit directories) the parents of `name`, checking that none
    /// of them is an added non-directory or reparse point (MemLayer's `parent_dir`).
    pub(crate) fn parent_dir(&mut self, name: &LayerPath, own: bool) -> Result<usize, Error> {
        let mut dir = 0;
        let comps: Vec<&str> = name.components().collect();
        let parents = comps.split_last().map(|(_, p)| p).unwrap_or(&[]);
        for comp in parents {
            dir = match self.child(dir, comp) {
                Some(n) => {
                    if let Some(info) = self.file_of(n).and_then(|f| self.infos.get(f)) {
                        let parent = self.path_of(n);
                        if info.file_attributes.is_reparse_point() {
                            return Err(Error::Model(wclayer_layer::Error::BelowReparsePoint {
                                name: name.original().to_string(),
                                parent,
                            }));
                        }
                        if !info.file_attributes.is_directory() {
                            return Err(Error::Model(wclayer_layer::Error::NotADirectory {
                                name: name.original().to_string(),
                                parent,
                            }));
                        }
                    }
                    n
                }
                None => self.new_node(dir, comp, Kind::Implicit, own),
            };
        }
        Ok(dir)
    }

    fn new_node(&mut self, parent: usize, name: &str, kind: Kind, own: bool) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_string(),
            parent,
            children: HashMap::new(),
            kind,
            own,
            clone: None,
            tombstones: Vec::new(),
            on_disk: false,
        });
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(upcase_key(name), id);
        }
        id
    }

    /// Binds `name` to `file` as an own entry, creating its node or promoting an implicit
    /// directory (MemLayer's `bind`). Returns the node and whether it already existed (a
    /// promoted implicit directory).
    pub(crate) fn bind(
        &mut self,
        name: &LayerPath,
        file: usize,
        is_dir: bool,
    ) -> Result<(usize, bool), Error> {
        let dir = self.parent_dir(name, true)?;
        match self.child(dir, name.file_name()) {
            None => Ok((
                self.new_node(dir, name.file_name(), Kind::Added(file), true),
                false,
            )),
            Some(n) => {
                let first = self.path_of(n);
                let node = self.nodes.get_mut(n).ok_or(Error::Closed)?;
                match node.kind {
                    Kind::Implicit if is_dir && node.own => {
                        node.kind = Kind::Added(file);
                        Ok((n, true))
                    }
                    Kind::Implicit if node.own => {
                        Err(Error::Model(wclayer_layer::Error::NotADirectory {
                            name: name.original().to_string(),
                            parent: first,
                        }))
                    }
                    _ => Err(Error::Model(wclayer_layer::Error::Duplicate {
                        name: name.original().to_string(),
                        first,
                    })),
                }
            }
        }
    }

    /// Binds a clone record: an own implicit directory gets `file` as its clone metadata;
    /// a missing name becomes a clone-only node. Returns the node.
    pub(crate) fn bind_clone(&mut self, name: &LayerPath, file: usize) -> Result<usize, Error> {
        let dir = self.parent_dir(name, false)?;
        match self.child(dir, name.file_name()) {
            None => Ok(self.new_node(dir, name.file_name(), Kind::Added(file), false)),
            Some(n) => {
                let first = self.path_of(n);
                let node = self.nodes.get_mut(n).ok_or(Error::Closed)?;
                if node.kind == Kind::Implicit && node.clone.is_none() {
                    node.clone = Some(file);
                    Ok(n)
                } else {
                    Err(Error::Model(wclayer_layer::Error::Duplicate {
                        name: name.original().to_string(),
                        first,
                    }))
                }
            }
        }
    }

    /// Records a tombstone (MemLayer's `remove`). Returns the directory holding it.
    pub(crate) fn remove(&mut self, name: &LayerPath) -> Result<usize, Error> {
        let dir = self.parent_dir(name, true)?;
        if let Some(d) = self.nodes.get_mut(dir) {
            d.tombstones.push(name.file_name().to_string());
        }
        Ok(dir)
    }

    /// The file of `node` in the merged view (own entry, or clone metadata), if any.
    pub(crate) fn merged_file(&self, node: usize) -> Option<usize> {
        let n = self.nodes.get(node)?;
        match n.kind {
            Kind::Added(f) => Some(f),
            Kind::Implicit => n.clone,
        }
    }
}

/// The walk sees only the layer's own nodes (not the utility VM clone, which the layer did
/// not add and a reader must not report).
impl wclayer_layer::walk::WalkTree for Tree {
    fn name(&self, id: usize) -> Option<&str> {
        self.nodes.get(id).map(|n| n.name.as_str())
    }
    fn child(&self, dir: usize, name: &str) -> Option<usize> {
        Tree::child(self, dir, name).filter(|&c| self.nodes.get(c).is_some_and(|n| n.own))
    }
    fn children(&self, dir: usize) -> Vec<usize> {
        self.nodes.get(dir).map_or_else(Vec::new, |n| {
            n.children
                .values()
                .copied()
                .filter(|&c| self.nodes.get(c).is_some_and(|n| n.own))
                .collect()
        })
    }
    fn tombstones(&self, dir: usize) -> &[String] {
        self.nodes.get(dir).map_or(&[], |n| n.tombstones.as_slice())
    }
    fn path(&self, id: usize) -> String {
        self.path_of(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wclayer_backup::FileAttributes;

    fn p(s: &str) -> LayerPath {
        LayerPath::parse(s).unwrap()
    }

    fn info(attr: u32) -> FileBasicInfo {
        FileBasicInfo {
            file_attributes: FileAttributes(attr),
            ..Default::default()
        }
    }

    #[test]
    fn model_rules() {
        let mut t = Tree::new();
        let f = t.new_file(info(0x20));
        t.bind(&p("Files/a/b"), f, false).unwrap();
        assert_eq!(
            t.path_of(t.lookup(["files", "A", "B"]).unwrap()),
            "Files\\a\\b"
        );
        let d = t.new_file(info(0x10));
        let (n, existed) = t.bind(&p("FILES/A"), d, true).unwrap();
        assert!(existed);
        assert_eq!(t.path_of(n), "Files\\a");
        assert!(matches!(
            t.bind(&p("files/a/B"), f, false),
            Err(Error::Model(wclayer_layer::Error::Duplicate { .. }))
        ));
        assert!(matches!(
            t.bind(&p("files/a/B/c"), f, false),
            Err(Error::Model(wclayer_layer::Error::NotADirectory { .. }))
        ));
        let s = t.new_file(info(0x410));
        t.bind(&p("Files/sym"), s, true).unwrap();
        assert!(matches!(
            t.bind(&p("Files/SYM/x"), f, false),
            Err(Error::Model(wclayer_layer::Error::BelowReparsePoint { .. }))
        ));
        assert!(matches!(
            t.remove(&p("Files/Sym/x")),
            Err(Error::Model(wclayer_layer::Error::BelowReparsePoint { .. }))
        ));
        let dir = t.remove(&p("files/new/Gone")).unwrap();
        assert_eq!(t.path_of(dir), "Files\\new");
        assert_eq!(t.nodes[dir].tombstones, ["Gone"]);
    }

    #[test]
    fn clone_nodes_are_not_own() {
        let mut t = Tree::new();
        t.remove(&p("UtilityVM/Files/x/gone")).unwrap();
        let c = t.new_file(info(0x10));
        let n = t.bind_clone(&p("UtilityVM/Files/x"), c).unwrap();
        assert!(t.nodes[n].own);
        assert_eq!(t.merged_file(n), Some(c));
        let c2 = t.new_file(info(0x20));
        let m = t.bind_clone(&p("UtilityVM/Files/x/y"), c2).unwrap();
        assert!(!t.nodes[m].own);
        assert!(t.bind_clone(&p("UtilityVM/Files/x/Y"), c2).is_err());
    }
}

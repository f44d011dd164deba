//! [`LayerTree`]: the layer's name tree, the one place where the rules of the reference layer
//! model live (docs/layer-semantics.md §0.1).
//!
//! [`LayerTree::walk`] gives the walk order of docs/layer-semantics.md §0.2.
//!
//! # Memory
//! A node costs a few dozen bytes plus its name: names live in one arena, children are found
//! through one hash table keyed by (parent, hash of the upcased name) and linked as sibling
//! lists, and every ancestor is resolved once, when its first descendant is added. Nothing
//! in the tree grows with file sizes.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use wclayer_backup::FileBasicInfo;

use crate::path::fold_char;
use crate::walk::{Walk, WalkMode};
use crate::{Error, LayerPath};

/// A node of a [`LayerTree`]: a name, an implicit directory, or the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The root of every tree: the layer itself, with no name.
    pub const ROOT: NodeId = NodeId(0);

    /// The node's position in the tree's node table (0 is the root).
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A file of a [`LayerTree`]: what an added name refers to. Hard links share one. Files are
/// numbered 0, 1, 2, ... in the order they were added (inherited files included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileNo(u32);

impl FileNo {
    /// The file's number.
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory that exists only because something below it was added, removed or
    /// inherited.
    Implicit,
    /// A name bound to a file.
    Added(FileNo),
}

/// What [`LayerTree::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Added {
    /// The entry's node.
    pub node: NodeId,
    /// Its new file.
    pub file: FileNo,
    /// Whether the node existed as an implicit directory (entries below it were added
    /// first): the directory exists already wherever the writer keeps it.
    pub promoted: bool,
}

/// "No node / no tombstone" in the packed links below.
const NONE: u32 = u32::MAX;

/// One name. Kept small (32 bytes with a one-byte payload): a layer may have a million
/// names, and what only a few nodes need (tombstones, inherited files) lives in side tables.
#[derive(Clone, Debug)]
struct Node<N> {
    parent: u32,
    /// The component as first spelled, in the name arena.
    name_at: u32,
    name_len: u16,
    /// Components in the name; a layer name has at most 16 384 (32 767 UTF-16 units).
    depth: u16,
    first_child: u32,
    next_sibling: u32,
    /// The next name of the same file (hard links), in the order they were bound.
    next_link: u32,
    /// The file the name is bound to, [`NONE`] for an implicit directory.
    file: u32,
    inherited: bool,
    payload: N,
}

impl<N> Node<N> {
    fn kind(&self) -> NodeKind {
        if self.file == NONE {
            NodeKind::Implicit
        } else {
            NodeKind::Added(FileNo(self.file))
        }
    }
}

#[derive(Clone, Debug)]
struct FileSlot<F> {
    info: FileBasicInfo,
    links: u32,
    first_node: u32,
    last_node: u32,
    payload: F,
}

#[derive(Clone, Copy, Debug)]
struct Tomb {
    dir: u32,
    name_at: u32,
    name_len: u16,
    next: u32,
}

/// The name tree of one layer, with a payload per file (`F`) and per node (`N`).
///
/// Every layer writer of the project (the in-memory layer, layer directories, transport
/// folders) and every reader that rebuilds a layer from stored records drives this tree and
/// keeps only its own data beside it, as a payload per file (`F`) and per node (`N`):
///
/// - names are [`LayerPath`]s, looked up case-insensitively (NTFS upcase rules,
///   [`crate::upcase_key`]) and kept in the spelling first written;
/// - missing parents become *implicit* directories: walked, never reported; a directory added
///   after an entry below it promotes the implicit directory and is no duplicate;
/// - a name added twice (in any case), an entry below a non-directory or below a reparse
///   point, a hard link to a missing name or to a directory are errors;
/// - tombstones are recorded below their directory in `remove` order, wherever they point;
/// - hard links share one file ([`FileNo`]); its link count is its number of names;
/// - *inherited* names are the part of a layer it does not add itself (the utility VM a delta
///   layer clones from its parent, docs/layer-semantics.md §4.6): found by lookups and holding
///   their place, but never walked.
///
///
/// ```
/// use wclayer_layer::{FileAttributes, FileBasicInfo, LayerPath, LayerTree, WalkMode};
///
/// let dir = FileBasicInfo { file_attributes: FileAttributes::DIRECTORY, ..Default::default() };
/// let file = FileBasicInfo::default();
/// let mut t: LayerTree<()> = LayerTree::new();
/// t.add(&LayerPath::parse("Files/a/b.txt")?, file, ())?;   // Files, Files\a implicit
/// t.add(&LayerPath::parse("FILES")?, dir, ())?;            // promotes Files
/// assert!(t.add(&LayerPath::parse("files/A/B.TXT")?, file, ()).is_err()); // a duplicate
/// t.remove(&LayerPath::parse("Files/old")?)?;
/// let mut walk = t.walk(WalkMode::Delta)?;
/// let mut seen = Vec::new();
/// while walk.next(&t).is_some() { seen.push(walk.path().to_string()); }
/// assert_eq!(seen, ["Files", "Files\\old", "Files\\a\\b.txt"]);
/// # Ok::<(), wclayer_layer::Error>(())
/// ```
#[derive(Clone)]
pub struct LayerTree<F, N = ()> {
    nodes: Vec<Node<N>>,
    files: Vec<FileSlot<F>>,
    tombs: Vec<Tomb>,
    /// Every node and tombstone name, back to back.
    arena: String,
    /// Every node but the root, by the hash of (parent, folded name): 4 bytes a slot.
    index: hashbrown::HashTable<u32>,
    hasher: std::collections::hash_map::RandomState,
    /// Per directory with tombstones: its first and last tombstone.
    tomb_lists: HashMap<u32, (u32, u32)>,
    /// Per implicit directory of the layer itself that a parent layer has with metadata: the
    /// file it inherited (set by [`LayerTree::inherit`]).
    inherited_files: HashMap<u32, u32>,
}

impl<F, N: Default> Default for LayerTree<F, N> {
    fn default() -> Self {
        LayerTree::new()
    }
}

impl<F, N> std::fmt::Debug for LayerTree<F, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerTree")
            .field("nodes", &self.nodes.len())
            .field("files", &self.files.len())
            .field("tombstones", &self.tombs.len())
            .finish_non_exhaustive()
    }
}

/// Lifecycle and queries
impl<F, N: Default> LayerTree<F, N> {
    /// A tree holding only the root.
    #[must_use]
    pub fn new() -> Self {
        LayerTree {
            nodes: vec![Node {
                parent: 0,
                name_at: 0,
                name_len: 0,
                depth: 0,
                first_child: NONE,
                next_sibling: NONE,
                next_link: NONE,
                file: NONE,
                inherited: false,
                payload: N::default(),
            }],
            files: Vec::new(),
            tombs: Vec::new(),
            arena: String::new(),
            index: hashbrown::HashTable::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            tomb_lists: HashMap::new(),
            inherited_files: HashMap::new(),
        }
    }
}

impl<F, N> LayerTree<F, N> {
    fn n(&self, id: NodeId) -> Option<&Node<N>> {
        self.nodes.get(id.index())
    }

    /// How many nodes the tree holds, the root and implicit directories included.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many files the tree holds.
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The node's last component as first spelled (`""` for the root or an unknown id).
    #[must_use]
    pub fn name(&self, id: NodeId) -> &str {
        self.n(id)
            .map_or("", |n| self.arena_str(n.name_at, n.name_len))
    }

    fn arena_str(&self, at: u32, len: u16) -> &str {
        arena_str(&self.arena, at, len)
    }

    /// The directory holding `id`; `None` for the root.
    #[must_use]
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        (id != NodeId::ROOT)
            .then(|| self.n(id).map(|n| NodeId(n.parent)))
            .flatten()
    }

    /// How many components the node's name has (0 for the root, 1 for `Files`).
    #[must_use]
    pub fn depth(&self, id: NodeId) -> usize {
        self.n(id).map_or(0, |n| usize::from(n.depth))
    }

    /// What the node is.
    #[must_use]
    pub fn kind(&self, id: NodeId) -> NodeKind {
        self.n(id).map_or(NodeKind::Implicit, Node::kind)
    }

    /// Whether the node is inherited: part of the layer's tree but not of its entries.
    #[must_use]
    pub fn is_inherited(&self, id: NodeId) -> bool {
        self.n(id).is_some_and(|n| n.inherited)
    }

    /// The file an added node names.
    #[must_use]
    pub fn file_of(&self, id: NodeId) -> Option<FileNo> {
        match self.kind(id) {
            NodeKind::Added(f) => Some(f),
            NodeKind::Implicit => None,
        }
    }

    /// The file of `id` in the merged view of the layer and what it inherited: its own file,
    /// or for an implicit directory the file it inherited.
    #[must_use]
    pub fn merged_file(&self, id: NodeId) -> Option<FileNo> {
        match self.n(id)?.kind() {
            NodeKind::Added(f) => Some(f),
            NodeKind::Implicit => self.inherited_files.get(&id.0).map(|f| FileNo(*f)),
        }
    }
}

/// Payload access
// These index the tree's tables as a slice index does: every id the tree hands out stays
// valid (the tables only grow), an id of another tree is a caller bug (documented under
// "Panics"), and ids never come from a layer's bytes. Returning `Option` would hand every
// caller an error path that cannot be taken.
#[allow(
    clippy::indexing_slicing,
    reason = "ids come from this tree, whose tables never shrink (see # Panics)"
)]
impl<F, N> LayerTree<F, N> {
    /// The node's payload.
    ///
    /// # Panics
    /// Never for an id this tree handed out; an unknown id is a caller bug.
    #[must_use]
    pub fn node(&self, id: NodeId) -> &N {
        &self.nodes[id.index()].payload
    }

    /// The node's payload, mutably.
    ///
    /// # Panics
    /// As [`LayerTree::node`].
    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        &mut self.nodes[id.index()].payload
    }

    /// The file's times and attributes as added.
    ///
    /// # Panics
    /// Never for a [`FileNo`] this tree handed out.
    #[must_use]
    pub fn info(&self, f: FileNo) -> &FileBasicInfo {
        &self.files[f.index()].info
    }

    /// The file's payload.
    ///
    /// # Panics
    /// As [`LayerTree::info`].
    #[must_use]
    pub fn file(&self, f: FileNo) -> &F {
        &self.files[f.index()].payload
    }

    /// The file's payload, mutably.
    ///
    /// # Panics
    /// As [`LayerTree::info`].
    pub fn file_mut(&mut self, f: FileNo) -> &mut F {
        &mut self.files[f.index()].payload
    }
}

impl<F, N> LayerTree<F, N> {
    /// How many names the file has (1 plus its hard links).
    #[must_use]
    pub fn links(&self, f: FileNo) -> u32 {
        self.files.get(f.index()).map_or(0, |s| s.links)
    }

    /// Every file, in the order they were added.
    pub fn file_numbers(&self) -> impl Iterator<Item = FileNo> + use<F, N> {
        let n = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        (0..n).map(FileNo)
    }

    /// The names of file `f`, in the order they were bound (the first is the name it was
    /// added under).
    pub fn names_of(&self, f: FileNo) -> impl Iterator<Item = NodeId> + '_ {
        let first = self.files.get(f.index()).map_or(NONE, |s| s.first_node);
        std::iter::successors((first != NONE).then_some(NodeId(first)), |id| {
            self.n(*id)
                .and_then(|n| (n.next_link != NONE).then_some(NodeId(n.next_link)))
        })
    }

    /// The child of `dir` named `name` (case-insensitively), inherited or not.
    #[must_use]
    pub fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        let hash = key_hash(&self.hasher, dir.0, name);
        self.index
            .find(hash, |&at| {
                self.nodes.get(at as usize).is_some_and(|n| {
                    n.parent == dir.0
                        && same_folded(arena_str(&self.arena, n.name_at, n.name_len), name)
                })
            })
            .map(|&at| NodeId(at))
    }

    /// The children of `dir`, in no particular order, inherited ones included.
    pub fn children(&self, dir: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let first = self.n(dir).map_or(NONE, |n| n.first_child);
        std::iter::successors((first != NONE).then_some(NodeId(first)), |id| {
            self.n(*id)
                .and_then(|n| (n.next_sibling != NONE).then_some(NodeId(n.next_sibling)))
        })
    }

    /// The node named by `components` (case-insensitively), inherited or not.
    #[must_use]
    pub fn find<'a>(&self, components: impl IntoIterator<Item = &'a str>) -> Option<NodeId> {
        components
            .into_iter()
            .try_fold(NodeId::ROOT, |dir, c| self.child(dir, c))
    }

    /// The entry `name` of the layer itself: an added node that is not inherited.
    #[must_use]
    pub fn find_entry(&self, name: &LayerPath) -> Option<(NodeId, FileNo)> {
        let node = self.find(name.components())?;
        if self.is_inherited(node) {
            return None;
        }
        Some((node, self.file_of(node)?))
    }

    /// The components of the node's name, root first, as first spelled.
    #[must_use]
    pub fn components(&self, id: NodeId) -> Vec<&str> {
        let mut parts = Vec::with_capacity(self.depth(id));
        let mut cur = id;
        while cur != NodeId::ROOT {
            let Some(n) = self.n(cur) else { break };
            parts.push(self.arena_str(n.name_at, n.name_len));
            cur = NodeId(n.parent);
        }
        parts.reverse();
        parts
    }

    /// `node` and its ancestors up to (without) the first one whose payload is not
    /// `pending`, or the root, root side first: e.g. the directories of a new entry that a
    /// writer has not created yet, in the order to create them.
    pub fn pending_ancestors(&self, node: NodeId, pending: impl Fn(&N) -> bool) -> Vec<NodeId> {
        let mut chain = Vec::new();
        let mut n = node;
        while n != NodeId::ROOT {
            let Some(nd) = self.n(n) else { break };
            if !pending(&nd.payload) {
                break;
            }
            chain.push(n);
            n = NodeId(nd.parent);
        }
        chain.reverse();
        chain
    }

    /// The node's full name, `\`-separated (`""` for the root).
    #[must_use]
    pub fn path_of(&self, id: NodeId) -> String {
        self.components(id).join("\\")
    }

    /// The names removed directly below `dir`, as spelled, in `remove` order.
    pub fn tombstones(&self, dir: NodeId) -> impl Iterator<Item = &str> + '_ {
        let first = self.tomb_lists.get(&dir.0).map_or(NONE, |l| l.0);
        std::iter::successors(self.tombs.get(first as usize), |t| {
            self.tombs.get(t.next as usize)
        })
        .map(|t| self.arena_str(t.name_at, t.name_len))
    }

    /// Every tombstone in `remove` order: its directory and its last component.
    pub fn all_tombstones(&self) -> impl Iterator<Item = (NodeId, &str)> + '_ {
        self.tombs
            .iter()
            .map(|t| (NodeId(t.dir), self.arena_str(t.name_at, t.name_len)))
    }

    /// How many tombstones the layer has.
    #[must_use]
    pub fn tombstone_count(&self) -> usize {
        self.tombs.len()
    }

    /// A walk of the layer's entries and tombstones in `mode` (docs/layer-semantics.md §0.2).
    ///
    /// # Errors
    /// [`Error::NoFiles`] for a base walk of a layer without `Files`.
    pub fn walk(&self, mode: WalkMode) -> Result<Walk, Error> {
        Walk::new(self, mode)
    }
}

/// A name component in the arena (`""` out of range).
fn arena_str(arena: &str, at: u32, len: u16) -> &str {
    let start = at as usize;
    arena
        .get(start..start.saturating_add(usize::from(len)))
        .unwrap_or("")
}

/// The index's hash of a child `name` of directory `parent`: equal for names that fold to
/// the same name.
fn key_hash(hasher: &std::collections::hash_map::RandomState, parent: u32, name: &str) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(parent);
    for c in name.chars() {
        h.write_u32(u32::from(fold_char(c)));
    }
    h.finish()
}

/// The model's rules
impl<F, N: Default> LayerTree<F, N> {
    /// Adds the entry `name` with its times and attributes: a new file with `payload`.
    ///
    /// # Errors
    /// [`Error::Duplicate`] when the name exists (in any case) as an entry, an inherited name,
    /// or (for a non-directory) an implicit directory with entries below it
    /// ([`Error::NotADirectory`]); [`Error::NotADirectory`] / [`Error::BelowReparsePoint`]
    /// when a parent is an added file or reparse point; [`Error::Limit`] when the tree is
    /// full.
    pub fn add(
        &mut self,
        name: &LayerPath,
        info: FileBasicInfo,
        payload: F,
    ) -> Result<Added, Error> {
        let dir = self.parent_dir(name, false)?;
        let is_dir = info.file_attributes.is_directory();
        let existing = self.child(dir, name.file_name());
        if let Some(n) = existing {
            self.check_promotable(n, name, is_dir)?;
        }
        let file = self.new_file(info, payload)?;
        let (node, promoted) = match existing {
            Some(n) => {
                if let Some(nd) = self.nodes.get_mut(n.index()) {
                    nd.file = file.0;
                }
                (n, true)
            }
            None => (
                self.new_node(dir, name.file_name(), NodeKind::Added(file), false)?,
                false,
            ),
        };
        self.link_name(file, node);
        Ok(Added {
            node,
            file,
            promoted,
        })
    }

    /// Whether an own implicit directory `n` may become the entry `name` (only a directory
    /// may); the model's error otherwise.
    fn check_promotable(&self, n: NodeId, name: &LayerPath, is_dir: bool) -> Result<(), Error> {
        let node = self.n(n).ok_or(Error::Closed)?;
        match node.kind() {
            NodeKind::Implicit if !node.inherited && is_dir => Ok(()),
            NodeKind::Implicit if !node.inherited => Err(Error::NotADirectory {
                name: name.original().to_string(),
                parent: self.path_of(n),
            }),
            _ => Err(Error::Duplicate {
                name: name.original().to_string(),
                first: self.path_of(n),
            }),
        }
    }

    /// Adds `name` as a hard link to the entry `target` of this layer.
    ///
    /// # Errors
    /// [`Error::LinkTargetMissing`] when `target` is no entry of this layer (inherited names
    /// are not), [`Error::LinkTargetDirectory`] when it is a directory; the errors of
    /// [`LayerTree::add`] for `name`.
    pub fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(NodeId, FileNo), Error> {
        let Some((_, file)) = self.find_entry(target) else {
            return Err(Error::LinkTargetMissing {
                name: name.original().to_string(),
                target: target.original().to_string(),
            });
        };
        if self.info(file).file_attributes.is_directory() {
            return Err(Error::LinkTargetDirectory {
                name: name.original().to_string(),
                target: target.original().to_string(),
            });
        }
        let node = self.bind(name, file, false)?;
        Ok((node, file))
    }

    /// Binds `name` to the existing `file` (a hard link), as an entry of the layer or, with
    /// `inherited`, as an inherited name.
    fn bind(&mut self, name: &LayerPath, file: FileNo, inherited: bool) -> Result<NodeId, Error> {
        let dir = self.parent_dir(name, inherited)?;
        if let Some(n) = self.child(dir, name.file_name()) {
            self.check_promotable(n, name, false)?;
        }
        let node = self.new_node(dir, name.file_name(), NodeKind::Added(file), inherited)?;
        self.link_name(file, node);
        if let Some(s) = self.files.get_mut(file.index()) {
            s.links = s.links.saturating_add(1);
        }
        Ok(node)
    }

    /// Records that `name`, present in a parent layer, is deleted by this one. Missing
    /// parents become implicit directories. Returns the directory holding the tombstone.
    ///
    /// # Errors
    /// When a parent is an added file or reparse point; [`Error::Limit`] when the tree is
    /// full.
    pub fn remove(&mut self, name: &LayerPath) -> Result<NodeId, Error> {
        let dir = self.parent_dir(name, false)?;
        let (name_at, name_len) = self.store_name(name.file_name())?;
        let t = to_u32(self.tombs.len())?;
        self.tombs.push(Tomb {
            dir: dir.0,
            name_at,
            name_len,
            next: NONE,
        });
        match self.tomb_lists.get_mut(&dir.0) {
            Some(list) => {
                if let Some(prev) = self.tombs.get_mut(list.1 as usize) {
                    prev.next = t;
                }
                list.1 = t;
            }
            None => {
                self.tomb_lists.insert(dir.0, (t, t));
            }
        }
        Ok(dir)
    }

    /// Records a name the layer inherits (from the parent's utility VM, §4.6) with a new
    /// file. An implicit directory of the layer itself takes the file as its inherited file
    /// instead (the layer added names below it, the parent has it with metadata).
    ///
    /// # Errors
    /// [`Error::Duplicate`] when the name exists otherwise; the parent errors of
    /// [`LayerTree::add`].
    pub fn inherit(
        &mut self,
        name: &LayerPath,
        info: FileBasicInfo,
        payload: F,
    ) -> Result<(NodeId, FileNo), Error> {
        let dir = self.parent_dir(name, true)?;
        let existing = self.child(dir, name.file_name());
        if let Some(n) = existing {
            let node = self.n(n).ok_or(Error::Closed)?;
            if node.file != NONE || node.inherited || self.inherited_files.contains_key(&n.0) {
                return Err(Error::Duplicate {
                    name: name.original().to_string(),
                    first: self.path_of(n),
                });
            }
        }
        let file = self.new_file(info, payload)?;
        let node = match existing {
            Some(n) => {
                self.inherited_files.insert(n.0, file.0);
                n
            }
            None => self.new_node(dir, name.file_name(), NodeKind::Added(file), true)?,
        };
        self.link_name(file, node);
        Ok((node, file))
    }

    /// Records an inherited hard link: `name` is another inherited name of `file`.
    ///
    /// # Errors
    /// As [`LayerTree::inherit`].
    pub fn inherit_link(&mut self, name: &LayerPath, file: FileNo) -> Result<NodeId, Error> {
        self.bind(name, file, true)
    }

    /// Records an inherited directory that has no metadata of its own (an implicit directory
    /// of the parent); an existing directory of any kind is returned as it is.
    ///
    /// # Errors
    /// As [`LayerTree::inherit`].
    pub fn inherit_dir(&mut self, name: &LayerPath) -> Result<NodeId, Error> {
        let dir = self.parent_dir(name, true)?;
        if let Some(n) = self.child(dir, name.file_name()) {
            self.check_parent(n, name)?;
            return Ok(n);
        }
        self.new_node(dir, name.file_name(), NodeKind::Implicit, true)
    }

    /// Finds or creates (as implicit directories, inherited when `inherited`) the parents of
    /// `name`, checking that none is an added non-directory or reparse point. Each ancestor
    /// is resolved once, from the root down.
    fn parent_dir(&mut self, name: &LayerPath, inherited: bool) -> Result<NodeId, Error> {
        let mut dir = NodeId::ROOT;
        let mut comps = name.components().peekable();
        while let Some(comp) = comps.next() {
            if comps.peek().is_none() {
                break;
            }
            dir = match self.child(dir, comp) {
                Some(n) => {
                    self.check_parent(n, name)?;
                    n
                }
                None => self.new_node(dir, comp, NodeKind::Implicit, inherited)?,
            };
        }
        Ok(dir)
    }

    /// The model's rule for a parent: no added file, no reparse point.
    fn check_parent(&self, n: NodeId, name: &LayerPath) -> Result<(), Error> {
        if let Some(f) = self.file_of(n) {
            let attrs = self.info(f).file_attributes;
            if attrs.is_reparse_point() {
                return Err(Error::BelowReparsePoint {
                    name: name.original().to_string(),
                    parent: self.path_of(n),
                });
            }
            if !attrs.is_directory() {
                return Err(Error::NotADirectory {
                    name: name.original().to_string(),
                    parent: self.path_of(n),
                });
            }
        }
        Ok(())
    }

    fn new_file(&mut self, info: FileBasicInfo, payload: F) -> Result<FileNo, Error> {
        let f = to_u32(self.files.len())?;
        self.files.push(FileSlot {
            info,
            links: 1,
            first_node: NONE,
            last_node: NONE,
            payload,
        });
        Ok(FileNo(f))
    }

    /// Appends `node` to the names of `file`.
    fn link_name(&mut self, file: FileNo, node: NodeId) {
        let Some(slot) = self.files.get_mut(file.index()) else {
            return;
        };
        let last = slot.last_node;
        slot.last_node = node.0;
        if last == NONE {
            slot.first_node = node.0;
        } else if let Some(prev) = self.nodes.get_mut(last as usize) {
            prev.next_link = node.0;
        }
    }

    fn store_name(&mut self, name: &str) -> Result<(u32, u16), Error> {
        let at = to_u32(self.arena.len())?;
        let len = u16::try_from(name.len()).map_err(|_| Error::Limit {
            name: None,
            what: "bytes in one name component",
            limit: u64::from(u16::MAX),
        })?;
        self.arena.push_str(name);
        Ok((at, len))
    }

    fn new_node(
        &mut self,
        dir: NodeId,
        name: &str,
        kind: NodeKind,
        inherited: bool,
    ) -> Result<NodeId, Error> {
        let id = to_u32(self.nodes.len())?;
        let (name_at, name_len) = self.store_name(name)?;
        let hash = key_hash(&self.hasher, dir.0, name);
        let LayerTree {
            index,
            nodes,
            arena,
            hasher,
            ..
        } = self;
        // Growing the table rehashes every node from its parent and name.
        index.insert_unique(hash, id, |&at| {
            nodes.get(at as usize).map_or(0, |n| {
                key_hash(hasher, n.parent, arena_str(arena, n.name_at, n.name_len))
            })
        });
        let (depth, next_sibling) = match self.nodes.get_mut(dir.index()) {
            Some(p) => {
                let next = p.first_child;
                p.first_child = id;
                (p.depth.saturating_add(1), next)
            }
            None => (1, NONE),
        };
        self.nodes.push(Node {
            parent: dir.0,
            name_at,
            name_len,
            depth,
            first_child: NONE,
            next_sibling,
            next_link: NONE,
            file: match kind {
                NodeKind::Added(f) => f.0,
                NodeKind::Implicit => NONE,
            },
            inherited,
            payload: N::default(),
        });
        Ok(NodeId(id))
    }
}

/// Whether two names are equal under NTFS's per-unit simple uppercase folding, without
/// allocating.
fn same_folded(a: &str, b: &str) -> bool {
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// A table index as `u32`: the tree holds at most 2^32 - 1 nodes, files, tombstones and
/// name bytes.
fn to_u32(n: usize) -> Result<u32, Error> {
    u32::try_from(n)
        .ok()
        .filter(|&v| v != NONE)
        .ok_or(Error::Limit {
            name: None,
            what: "names in one layer",
            limit: u64::from(NONE),
        })
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
        let mut t: LayerTree<()> = LayerTree::new();
        let a = t.add(&p("Files/a/b"), info(0x20), ()).unwrap();
        assert!(!a.promoted);
        assert_eq!(
            t.path_of(t.find(["files", "A", "B"]).unwrap()),
            "Files\\a\\b"
        );
        assert_eq!(t.depth(a.node), 3);
        let d = t.add(&p("FILES/A"), info(0x10), ()).unwrap();
        assert!(d.promoted);
        assert_eq!(t.path_of(d.node), "Files\\a");
        assert!(matches!(
            t.add(&p("files/a/B"), info(0x20), ()),
            Err(Error::Duplicate { .. })
        ));
        assert!(matches!(
            t.add(&p("files/a/B/c"), info(0x20), ()),
            Err(Error::NotADirectory { .. })
        ));
        t.add(&p("Files/sym"), info(0x410), ()).unwrap();
        assert!(matches!(
            t.add(&p("Files/SYM/x"), info(0x20), ()),
            Err(Error::BelowReparsePoint { .. })
        ));
        assert!(matches!(
            t.remove(&p("Files/Sym/x")),
            Err(Error::BelowReparsePoint { .. })
        ));
        let dir = t.remove(&p("files/new/Gone")).unwrap();
        assert_eq!(t.path_of(dir), "Files\\new");
        assert_eq!(t.tombstones(dir).collect::<Vec<_>>(), ["Gone"]);
        t.add(&p("Files/implicit/child"), info(0x20), ()).unwrap();
        assert!(matches!(
            t.add(&p("Files/implicit"), info(0x20), ()),
            Err(Error::NotADirectory { .. })
        ));
    }

    #[test]
    fn links_share_a_file_and_keep_their_order() {
        let mut t: LayerTree<u8> = LayerTree::new();
        let a = t.add(&p("Files/a"), info(0x20), 7).unwrap();
        let (b, f) = t.add_link(&p("Files/b"), &p("FILES/A")).unwrap();
        assert_eq!(f, a.file);
        t.add_link(&p("Files/c"), &p("Files/B")).unwrap();
        assert_eq!(t.links(f), 3);
        let names: Vec<String> = t.names_of(f).map(|n| t.path_of(n)).collect();
        assert_eq!(names, ["Files\\a", "Files\\b", "Files\\c"]);
        assert_eq!(t.file_of(b), Some(f));
        assert_eq!(*t.file(f), 7);
        t.add(&p("Files/d"), info(0x10), 0).unwrap();
        assert!(matches!(
            t.add_link(&p("Files/l"), &p("Files/d")),
            Err(Error::LinkTargetDirectory { .. })
        ));
        assert!(matches!(
            t.add_link(&p("Files/l"), &p("Files/nope")),
            Err(Error::LinkTargetMissing { .. })
        ));
        assert!(matches!(
            t.add_link(&p("Files/A"), &p("Files/b")),
            Err(Error::Duplicate { .. })
        ));
    }

    #[test]
    fn inherited_names_are_found_but_not_entries() {
        let mut t: LayerTree<()> = LayerTree::new();
        t.remove(&p("UtilityVM/Files/x/gone")).unwrap();
        let (n, f) = t.inherit(&p("UtilityVM/Files/x"), info(0x10), ()).unwrap();
        assert!(!t.is_inherited(n), "an own implicit directory stays own");
        assert_eq!(t.merged_file(n), Some(f));
        assert_eq!(t.file_of(n), None);
        let (m, g) = t
            .inherit(&p("UtilityVM/Files/x/y"), info(0x20), ())
            .unwrap();
        assert!(t.is_inherited(m));
        assert!(t.find_entry(&p("UtilityVM/Files/x/y")).is_none());
        assert!(
            t.inherit(&p("UtilityVM/Files/x/Y"), info(0x20), ())
                .is_err()
        );
        let l = t.inherit_link(&p("UtilityVM/Files/x/z"), g).unwrap();
        assert_eq!(t.names_of(g).collect::<Vec<_>>(), [m, l]);
        let d = t.inherit_dir(&p("UtilityVM/Files/w/v")).unwrap();
        assert!(t.is_inherited(d) && t.is_inherited(t.parent(d).unwrap()));
        assert!(matches!(
            t.add(&p("UtilityVM/Files/x/y"), info(0x20), ()),
            Err(Error::Duplicate { .. })
        ));
    }

    #[test]
    fn tombstones_keep_remove_order_per_directory_and_globally() {
        let mut t: LayerTree<()> = LayerTree::new();
        for n in ["b", "Files/z", "a", "files/y", "Files/Deep/x"] {
            t.remove(&p(n)).unwrap();
        }
        assert_eq!(t.tombstones(NodeId::ROOT).collect::<Vec<_>>(), ["b", "a"]);
        let files = t.find(["FILES"]).unwrap();
        assert_eq!(t.tombstones(files).collect::<Vec<_>>(), ["z", "y"]);
        let all: Vec<String> = t
            .all_tombstones()
            .map(|(d, n)| format!("{}|{n}", t.path_of(d)))
            .collect();
        assert_eq!(all, ["|b", "Files|z", "|a", "Files|y", "Files\\Deep|x"]);
        assert_eq!(t.tombstone_count(), 5);
    }

    #[test]
    fn case_folding_is_per_unit_and_collision_safe() {
        let mut t: LayerTree<()> = LayerTree::new();
        t.add(&p("Files/straße"), info(0x20), ()).unwrap();
        assert!(t.find(["FILES", "STRAßE"]).is_some());
        assert!(t.find(["FILES", "STRASSE"]).is_none());
        for i in 0..2000 {
            t.add(&p(&format!("Files/n{i}")), info(0x20), ()).unwrap();
        }
        for i in 0..2000 {
            assert!(t.find(["files", &format!("N{i}")]).is_some());
        }
        assert_eq!(t.children(t.find(["Files"]).unwrap()).count(), 2001);
    }

    #[test]
    fn pending_ancestors_root_side_first() {
        let mut t: LayerTree<(), bool> = LayerTree::new();
        let a = t.add(&p("Files/a/b/c"), info(0x20), ()).unwrap();
        let files = t.find(["Files"]).unwrap();
        *t.node_mut(files) = true;
        let names: Vec<String> = t
            .pending_ancestors(a.node, |done| !done)
            .into_iter()
            .map(|n| t.path_of(n))
            .collect();
        assert_eq!(names, ["Files\\a", "Files\\a\\b", "Files\\a\\b\\c"]);
        assert!(t.pending_ancestors(files, |done| !done).is_empty());
    }

    #[test]
    fn deep_chains_resolve_each_ancestor_once() {
        let mut t: LayerTree<()> = LayerTree::new();
        let mut name = String::from("Files");
        for _ in 0..3000 {
            name.push_str("\\d");
        }
        let a = t.add(&p(&name), info(0x20), ()).unwrap();
        assert_eq!(t.depth(a.node), 3001);
        assert_eq!(t.node_count(), 3002);
    }
}

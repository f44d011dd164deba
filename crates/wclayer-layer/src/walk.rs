//! The order in which the project's layer readers walk a layer (docs/layer-semantics.md §0.2).
//!
//! Every reader (in-memory layer, layer directory, transport folder) walks its
//! [`LayerTree`] through [`Walk`], so they agree entry for entry: byte-identical exports
//! depend on it.

use crate::Error;
use crate::path::upcase_key;
use crate::tree::{FileNo, LayerTree, NodeId, NodeKind};

/// How a reader walks a layer (docs/layer-semantics.md §0.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkMode {
    /// hcsshim's base-layer reader: `Files` and its subtree, then `UtilityVM`,
    /// `UtilityVM\Files` and its subtree when `UtilityVM\Files` exists. No tombstones, no
    /// `Hives`, nothing else.
    Base,
    /// A delta layer: everything from the root, the root's tombstones first, each
    /// directory's tombstones right after it.
    Delta,
}

/// One step of a [`Walk`]; [`Walk::path`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// An entry of the layer: an added name that is not inherited. Implicit directories are
    /// walked (their children follow) but not visited.
    Entry {
        /// Its node.
        node: NodeId,
        /// Its file.
        file: FileNo,
    },
    /// A tombstone.
    Tombstone,
}

#[derive(Debug)]
enum Step {
    Node {
        id: NodeId,
        descend: bool,
        /// The node's parent is not the frame's directory (the base walk's start); its name
        /// is computed from the tree.
        absolute: bool,
    },
    Tombstone(Box<str>),
}

#[derive(Debug)]
struct Frame {
    /// The length of [`Walk::path`] that names this frame's directory.
    prefix: usize,
    /// What is left to visit, last first.
    steps: Vec<Step>,
}

/// A walk in progress: a stack of what is left at each depth (memory grows with the depth
/// and the width of the directories on the path, not with the layer) and the current name,
/// extended and cut back as the walk moves, so that no name is rebuilt from the root.
#[derive(Debug)]
pub struct Walk {
    mode: WalkMode,
    frames: Vec<Frame>,
    path: String,
}

impl Walk {
    /// Starts a walk of `tree`.
    ///
    /// # Errors
    /// [`Error::NoFiles`] for a base walk of a tree without `Files` (hcsshim's base reader
    /// fails its `lstat`).
    pub fn new<F, N>(tree: &LayerTree<F, N>, mode: WalkMode) -> Result<Walk, Error> {
        let own = |dir, name| tree.child(dir, name).filter(|&n| !tree.is_inherited(n));
        let steps = match mode {
            WalkMode::Delta => vec![Step::Node {
                id: NodeId::ROOT,
                descend: true,
                absolute: true,
            }],
            WalkMode::Base => {
                let files = own(NodeId::ROOT, "Files").ok_or(Error::NoFiles)?;
                let mut steps = Vec::with_capacity(3);
                // Steps pop from the end: Files and its subtree, then UtilityVM itself, then
                // UtilityVM\Files and its subtree.
                if let Some(uvm) = own(NodeId::ROOT, "UtilityVM")
                    && let Some(uvm_files) = own(uvm, "Files")
                {
                    steps.push(Step::Node {
                        id: uvm_files,
                        descend: true,
                        absolute: true,
                    });
                    steps.push(Step::Node {
                        id: uvm,
                        descend: false,
                        absolute: true,
                    });
                }
                steps.push(Step::Node {
                    id: files,
                    descend: true,
                    absolute: true,
                });
                steps
            }
        };
        Ok(Walk {
            mode,
            frames: vec![Frame { prefix: 0, steps }],
            path: String::new(),
        })
    }

    /// A walk that has nothing left (for a reader before it starts or after it closes).
    #[must_use]
    pub fn finished() -> Walk {
        Walk {
            mode: WalkMode::Delta,
            frames: Vec::new(),
            path: String::new(),
        }
    }

    /// The walk mode.
    #[must_use]
    pub fn mode(&self) -> WalkMode {
        self.mode
    }

    /// The full name (`\`-separated) of what the last [`Walk::next`] visited.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The next entry or tombstone, or `None` at the end.
    pub fn next<F, N>(&mut self, tree: &LayerTree<F, N>) -> Option<Visit> {
        loop {
            let frame = self.frames.last_mut()?;
            let Some(step) = frame.steps.pop() else {
                self.frames.pop();
                continue;
            };
            let prefix = frame.prefix;
            match step {
                Step::Tombstone(name) => {
                    self.set_child_path(prefix, &name);
                    return Some(Visit::Tombstone);
                }
                Step::Node {
                    id,
                    descend,
                    absolute,
                } => {
                    if absolute {
                        self.path = tree.path_of(id);
                    } else {
                        self.set_child_path(prefix, tree.name(id));
                    }
                    if descend {
                        let steps = self.dir_steps(tree, id);
                        self.frames.push(Frame {
                            prefix: self.path.len(),
                            steps,
                        });
                    }
                    if let NodeKind::Added(file) = tree.kind(id)
                        && id != NodeId::ROOT
                    {
                        return Some(Visit::Entry { node: id, file });
                    }
                }
            }
        }
    }

    fn set_child_path(&mut self, prefix: usize, name: &str) {
        self.path.truncate(prefix);
        if prefix > 0 {
            self.path.push('\\');
        }
        self.path.push_str(name);
    }

    /// The contents of directory `id`: its tombstones (delta walk), then its children in
    /// bytewise order of their UTF-8 names (Go string order), skipping inherited names and
    /// what no Windows layer reader reports. Returned last first.
    fn dir_steps<F, N>(&self, tree: &LayerTree<F, N>, id: NodeId) -> Vec<Step> {
        let in_files = tree.depth(id) == 1 && upcase_key(tree.name(id)) == "FILES";
        let mut children: Vec<(&str, NodeId)> = tree
            .children(id)
            .filter(|&c| !tree.is_inherited(c))
            .map(|c| (tree.name(c), c))
            .filter(|(name, _)| !skipped(id == NodeId::ROOT, in_files, name))
            .collect();
        children.sort_unstable();
        let mut steps: Vec<Step> = children
            .into_iter()
            .rev()
            .map(|(_, c)| Step::Node {
                id: c,
                descend: true,
                absolute: false,
            })
            .collect();
        if self.mode == WalkMode::Delta {
            let tombs: Vec<&str> = tree.tombstones(id).collect();
            steps.extend(tombs.into_iter().rev().map(|t| Step::Tombstone(t.into())));
        }
        steps
    }
}

/// What no layer reader reports: the transport folder's metadata (`tombstones.txt` at the
/// root, `*.$wcidirs$`) and `Files\$Recycle.Bin` with its subtree.
fn skipped(at_root: bool, in_files: bool, name: &str) -> bool {
    name.ends_with(".$wcidirs$")
        || (at_root && name == "tombstones.txt")
        || (in_files && upcase_key(name) == "$RECYCLE.BIN")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerPath;
    use wclayer_backup::{FileAttributes, FileBasicInfo};

    fn p(s: &str) -> LayerPath {
        LayerPath::parse(s).unwrap()
    }

    fn attr(a: u32) -> FileBasicInfo {
        FileBasicInfo {
            file_attributes: FileAttributes(a),
            ..Default::default()
        }
    }

    fn walk(t: &LayerTree<()>, mode: WalkMode) -> Vec<String> {
        let mut w = t.walk(mode).unwrap();
        let mut out = Vec::new();
        while let Some(v) = w.next(t) {
            out.push(match v {
                Visit::Entry { .. } => w.path().to_string(),
                Visit::Tombstone => format!("-{}", w.path()),
            });
        }
        out
    }

    /// docs/layer-semantics.md §0.2, the delta-walk example.
    #[test]
    fn delta_walk_example() {
        let mut t: LayerTree<()> = LayerTree::new();
        t.add(&p("Files"), attr(0x10), ()).unwrap();
        t.add(&p("Files/Windows/System32"), attr(0x10), ()).unwrap();
        t.add(&p("Files/Windows/System32/new.dll"), attr(0x20), ())
            .unwrap();
        t.remove(&p("Files/Windows/System32/drivers/etc/hosts.bak"))
            .unwrap();
        t.remove(&p("rootfile")).unwrap();
        assert_eq!(
            walk(&t, WalkMode::Delta),
            [
                "-rootfile",
                "Files",
                "Files\\Windows\\System32",
                "-Files\\Windows\\System32\\drivers\\etc\\hosts.bak",
                "Files\\Windows\\System32\\new.dll",
            ]
        );
    }

    #[test]
    fn base_walk_skips_and_inherited_names() {
        let mut t: LayerTree<()> = LayerTree::new();
        for d in ["UtilityVM", "UtilityVM/Files", "Hives", "Files"] {
            t.add(&p(d), attr(0x10), ()).unwrap();
        }
        t.add(&p("Files/b"), attr(0x20), ()).unwrap();
        t.add(&p("Files/$recycle.bin/x"), attr(0x20), ()).unwrap();
        t.add(&p("Files/x.$wcidirs$"), attr(0x20), ()).unwrap();
        t.add(&p("Files/sub/$Recycle.Bin"), attr(0x20), ()).unwrap();
        t.add(&p("UtilityVM/Files/x"), attr(0x20), ()).unwrap();
        t.inherit(&p("UtilityVM/Files/cloned"), attr(0x20), ())
            .unwrap();
        assert_eq!(
            walk(&t, WalkMode::Base),
            [
                "Files",
                "Files\\b",
                "Files\\sub\\$Recycle.Bin",
                "UtilityVM",
                "UtilityVM\\Files",
                "UtilityVM\\Files\\x"
            ]
        );
        t.add(&p("tombstones.txt"), attr(0x20), ()).unwrap();
        assert_eq!(walk(&t, WalkMode::Delta)[..2], ["Files", "Files\\b"]);
        assert!(!walk(&t, WalkMode::Delta).contains(&"tombstones.txt".to_string()));
        let empty: LayerTree<()> = LayerTree::new();
        assert!(matches!(empty.walk(WalkMode::Base), Err(Error::NoFiles)));
    }

    #[test]
    fn bytewise_order() {
        let mut t: LayerTree<()> = LayerTree::new();
        for n in ["Files/b", "Files/B2", "Files/é", "Files/Z", "Files/a"] {
            t.add(&p(n), attr(0x20), ()).unwrap();
        }
        assert_eq!(
            walk(&t, WalkMode::Delta),
            ["Files\\B2", "Files\\Z", "Files\\a", "Files\\b", "Files\\é"]
        );
    }
}

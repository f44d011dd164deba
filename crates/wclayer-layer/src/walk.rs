//! The order in which the project's layer readers walk a layer (layer-semantics.md §0.2).
//!
//! Every reader (in-memory layer, layer directory, transport folder) walks through [`Walk`],
//! so they agree entry for entry: byte-identical exports depend on it.

use crate::Error;
use crate::path::upcase_key;

/// How a reader walks a layer (layer-semantics.md §0.2).
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

/// A directory tree a reader walks. Nodes are numbered; 0 is the root.
pub trait WalkTree {
    /// The node's name (its last component, as first spelled); `None` for an unknown id.
    fn name(&self, id: usize) -> Option<&str>;
    /// The child of `dir` the walk sees whose name equals `name` case-insensitively.
    fn child(&self, dir: usize, name: &str) -> Option<usize>;
    /// The children of `dir` the walk sees, in any order.
    fn children(&self, dir: usize) -> Vec<usize>;
    /// The names removed directly below `dir`, as spelled, in `remove` order.
    fn tombstones(&self, dir: usize) -> &[String];
    /// The node's full `\`-separated path ("" for the root).
    fn path(&self, id: usize) -> String;
}

/// One step of a [`Walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visit {
    /// A node, in walk order. Implicit directories are visited too (their children follow);
    /// the reader reports only the nodes that were added.
    Node(usize),
    /// A tombstone: its full `\`-separated name.
    Tombstone(String),
}

enum Step {
    Node { id: usize, descend: bool },
    Tombstone(String),
}

/// A walk in progress: a stack of the steps still to take at each depth, so memory grows
/// with the depth and the width of the directories on the path, not with the layer.
pub struct Walk {
    mode: WalkMode,
    stack: Vec<Vec<Step>>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("mode", &self.mode)
            .field("depth", &self.stack.len())
            .finish()
    }
}

impl Walk {
    /// Starts a walk of `tree`.
    ///
    /// # Errors
    /// [`Error::NoFiles`] for a base walk of a tree without `Files` (hcsshim's base reader
    /// fails its `lstat`).
    pub fn new<T: WalkTree + ?Sized>(tree: &T, mode: WalkMode) -> Result<Walk, Error> {
        let mut steps = Vec::new();
        match mode {
            WalkMode::Delta => {
                steps.push(Step::Node {
                    id: 0,
                    descend: true,
                });
            }
            WalkMode::Base => {
                let files = tree.child(0, "Files").ok_or(Error::NoFiles)?;
                // Steps pop from the end: Files and its subtree, then UtilityVM itself, then
                // UtilityVM\Files and its subtree.
                if let Some(uvm) = tree.child(0, "UtilityVM")
                    && let Some(uvm_files) = tree.child(uvm, "Files")
                {
                    steps.push(Step::Node {
                        id: uvm_files,
                        descend: true,
                    });
                    steps.push(Step::Node {
                        id: uvm,
                        descend: false,
                    });
                }
                steps.push(Step::Node {
                    id: files,
                    descend: true,
                });
            }
        }
        Ok(Walk {
            mode,
            stack: vec![steps],
        })
    }

    /// A walk that has nothing left (for a reader before it starts or after it closes).
    #[must_use]
    pub fn finished() -> Walk {
        Walk {
            mode: WalkMode::Delta,
            stack: Vec::new(),
        }
    }

    /// The next step, or `None` at the end.
    pub fn next<T: WalkTree + ?Sized>(&mut self, tree: &T) -> Option<Visit> {
        loop {
            let frame = self.stack.last_mut()?;
            let Some(step) = frame.pop() else {
                self.stack.pop();
                continue;
            };
            match step {
                Step::Tombstone(name) => return Some(Visit::Tombstone(name)),
                Step::Node { id, descend } => {
                    if descend {
                        let frame = self.dir_steps(tree, id);
                        self.stack.push(frame);
                    }
                    if id == 0 {
                        continue;
                    }
                    return Some(Visit::Node(id));
                }
            }
        }
    }

    /// The contents of directory `id`: its tombstones (delta walk), then its children in
    /// bytewise order of their UTF-8 names (Go string order), skipping what no Windows layer
    /// reader reports. Returned last first.
    fn dir_steps<T: WalkTree + ?Sized>(&self, tree: &T, id: usize) -> Vec<Step> {
        let dir_path = tree.path(id);
        let mut children: Vec<(&str, usize)> = tree
            .children(id)
            .into_iter()
            .filter_map(|c| tree.name(c).map(|n| (n, c)))
            .filter(|(name, _)| !skipped(&dir_path, name))
            .collect();
        children.sort_unstable();
        let mut steps: Vec<Step> = children
            .into_iter()
            .rev()
            .map(|(_, c)| Step::Node {
                id: c,
                descend: true,
            })
            .collect();
        if self.mode == WalkMode::Delta {
            steps.extend(tree.tombstones(id).iter().rev().map(|t| {
                Step::Tombstone(if dir_path.is_empty() {
                    t.clone()
                } else {
                    format!("{dir_path}\\{t}")
                })
            }));
        }
        steps
    }
}

/// What no layer reader reports: the transport folder's metadata (`tombstones.txt` at the
/// root, `*.$wcidirs$`) and `Files\$Recycle.Bin` with its subtree.
fn skipped(dir: &str, name: &str) -> bool {
    name.ends_with(".$wcidirs$")
        || (dir.is_empty() && name == "tombstones.txt")
        || (upcase_key(dir) == "FILES" && upcase_key(name) == "$RECYCLE.BIN")
}

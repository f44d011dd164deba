//! [`DirCache`]: the open directories of a layer along the path last used.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io;

use wclayer_layer::{LayerTree, NodeId};

use crate::dir::Dir;
use crate::held::HeldPath;

/// The open directories of a [`LayerTree`] along the path last asked for, below a root
/// directory: entries arrive grouped by directory (tar order, walk order), so the directory
/// of the next entry is almost always held already, or one level away. Each directory of a
/// layer is opened about once, however deep it lies, and at most a bounded number of handles
/// are held (see the crate's `HeldPath`).
///
/// The cache trusts that the directories it holds stay where they are: whoever renames or
/// removes one calls [`DirCache::clear`].
pub struct DirCache {
    /// The on-disk name of a directory from its name in the layer.
    dir_name: fn(&str) -> Cow<'_, str>,
    held: HeldPath<NodeId>,
}

impl std::fmt::Debug for DirCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirCache")
            .field("depth", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl DirCache {
    /// An empty cache; `dir_name` maps a directory's name in the layer to its name on disk
    /// (e.g. [`crate::names::disk_name`]).
    #[must_use]
    pub fn new(dir_name: fn(&str) -> Cow<'_, str>) -> DirCache {
        DirCache {
            dir_name,
            held: HeldPath::new(),
        }
    }

    /// Lets go of every handle.
    pub fn clear(&mut self) {
        self.held.truncate(0);
    }

    /// The open directory of `node` (below `root`, which stands for the tree's root).
    ///
    /// # Errors
    /// When a directory on the way cannot be opened (missing, not a directory, a symbolic
    /// link).
    pub fn get<'a, F, N>(
        &'a mut self,
        root: &'a Dir,
        tree: &LayerTree<F, N>,
        node: NodeId,
    ) -> io::Result<&'a Dir> {
        let depth = tree.depth(node);
        let Some(last) = depth.checked_sub(1) else {
            return Ok(root);
        };
        // The ancestors of `node` not on the held path, deepest first.
        let mut missing = Vec::new();
        let mut cur = node;
        let mut k = depth;
        while k > 0 {
            if self
                .held
                .level(k.saturating_sub(1))
                .is_some_and(|l| l.data == cur)
            {
                break;
            }
            missing.push(cur);
            cur = tree.parent(cur).unwrap_or(NodeId::ROOT);
            k = k.saturating_sub(1);
        }
        self.held.truncate(k);
        for n in missing.into_iter().rev() {
            let name = OsString::from((self.dir_name)(tree.name(n)).as_ref());
            self.held.push(name, None, n);
        }
        self.held.open(root, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ambient_authority, names};
    use wclayer_layer::{FileAttributes, FileBasicInfo, LayerPath};

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine maps every relative open to a Unix path: no path beyond PATH_MAX (4096 bytes), and minutes for a tree 600 levels deep"
    )]
    fn directories_of_a_deep_tree_are_opened_once_each() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        let dir = FileBasicInfo {
            file_attributes: FileAttributes::DIRECTORY,
            ..Default::default()
        };
        let mut tree: LayerTree<()> = LayerTree::new();
        let mut cache = DirCache::new(names::disk_name);
        let mut name = String::from("Files");
        let long = "字".repeat(100);
        for i in 0..600 {
            let node = tree
                .add(&LayerPath::parse(&name).unwrap(), dir, ())
                .unwrap()
                .node;
            let parent = tree.parent(node).unwrap();
            let disk = names::disk_name(tree.name(node)).into_owned();
            cache
                .get(&root, &tree, parent)
                .unwrap()
                .create_dir(&disk)
                .unwrap();
            name.push('\\');
            name.push_str(if i % 7 == 3 { &long } else { "d" });
        }
        // Back up and down again: siblings of shallow directories.
        let shallow = tree.find(["Files", "d", "d"]).unwrap();
        cache
            .get(&root, &tree, shallow)
            .unwrap()
            .create_file("x")
            .unwrap();
        let deep = tree.find(name.split('\\').take(550)).unwrap();
        cache
            .get(&root, &tree, deep)
            .unwrap()
            .create_file("y")
            .unwrap();
        assert!(root.open_file("Files/d/d/x").is_ok());
        assert_eq!(
            cache
                .get(&root, &tree, NodeId::ROOT)
                .unwrap()
                .entries()
                .unwrap()
                .len(),
            1
        );
    }
}

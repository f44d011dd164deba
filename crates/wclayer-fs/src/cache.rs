//! [`DirCache`]: the open directories of a layer along the path last used.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io;
use std::sync::Arc;

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

    /// How many directories the cache has opened (one per level, however they were
    /// resolved): a caller's measure of how often it walked away from the path it held.
    #[must_use]
    pub fn opened(&self) -> u64 {
        self.held.opened()
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
        Ok(match self.held_level(root, tree, node)? {
            Some(d) => d,
            None => root,
        })
    }

    /// As [`DirCache::get`], as a shared handle the caller may keep (e.g. hand to another
    /// thread) without duplicating the descriptor; it stays open while either holds it.
    ///
    /// # Errors
    /// As [`DirCache::get`].
    pub fn get_shared<F, N>(
        &mut self,
        root: &Arc<Dir>,
        tree: &LayerTree<F, N>,
        node: NodeId,
    ) -> io::Result<Arc<Dir>> {
        Ok(Arc::clone(match self.held_level(root, tree, node)? {
            Some(d) => d,
            None => root,
        }))
    }

    /// The held level of `node`, opened when it was not; `None` for the root.
    fn held_level<F, N>(
        &mut self,
        root: &Dir,
        tree: &LayerTree<F, N>,
        node: NodeId,
    ) -> io::Result<Option<&Arc<Dir>>> {
        let depth = tree.depth(node);
        let Some(last) = depth.checked_sub(1) else {
            return Ok(None);
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
        self.held.open(root, last).map(Some)
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

    /// Two caches walking two deep directories by turns (the two names of a run of hard
    /// links) each open their path once, and hand out the same shared handle every time.
    #[test]
    fn two_caches_keep_two_paths_open() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Arc::new(Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap());
        let dir = FileBasicInfo {
            file_attributes: FileAttributes::DIRECTORY,
            ..Default::default()
        };
        let mut tree: LayerTree<()> = LayerTree::new();
        let mut leaves = Vec::new();
        for top in ["Files", "UtilityVM\\Files"] {
            let mut name = String::new();
            for part in top.split('\\').chain(["Windows", "System32", "en-US"]) {
                if !name.is_empty() {
                    name.push('\\');
                }
                name.push_str(part);
                let p = LayerPath::parse(&name).unwrap();
                let node = tree.add(&p, dir, ()).unwrap().node;
                std::fs::create_dir(tmp.path().join(name.replace('\\', "/"))).unwrap();
                if part == "en-US" {
                    leaves.push(node);
                }
            }
        }
        let (a, b) = (leaves[0], leaves[1]);
        let mut one = DirCache::new(names::disk_name);
        let mut other = DirCache::new(names::disk_name);
        let first = one.get_shared(&root, &tree, a).unwrap();
        for _ in 0..100 {
            let again = one.get_shared(&root, &tree, a).unwrap();
            assert!(Arc::ptr_eq(&first, &again));
            other.get_shared(&root, &tree, b).unwrap();
        }
        assert_eq!((one.opened(), other.opened()), (4, 5));
        // One cache for both pays for every turn.
        let mut both = DirCache::new(names::disk_name);
        for _ in 0..10 {
            both.get_shared(&root, &tree, a).unwrap();
            both.get_shared(&root, &tree, b).unwrap();
        }
        assert_eq!(both.opened(), 90);
        // The handle outlives the cache's hold on it.
        drop(one);
        first.create_file("kept").unwrap();
        assert!(
            tmp.path()
                .join("Files/Windows/System32/en-US/kept")
                .exists()
        );
    }
}

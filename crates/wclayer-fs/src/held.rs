//! [`HeldPath`]: the directories along one path below a base directory, with at most
//! [`OPEN_WINDOW`] of their handles held at once.
//!
//! Walking a tree 16 000 directories deep must not hold 16 000 descriptors (a process has
//! 1024 by default), nor re-resolve the whole path for every step (quadratic). So the deepest
//! [`OPEN_WINDOW`] levels keep their handles; a level whose handle was let go is reopened
//! together with the window above it: one resolution from the nearest held ancestor down to
//! the window's first level, then one component at a time.

use std::ffi::OsString;
use std::io;
use std::sync::Arc;

use crate::dir::{Dir, OPEN_WINDOW};

/// One directory of the path: its name in its parent, its handle while held (shared, so that
/// a caller can keep it past the level without duplicating the descriptor), and the caller's
/// data for it.
pub(crate) struct Level<T> {
    pub(crate) name: OsString,
    pub(crate) dir: Option<Arc<Dir>>,
    pub(crate) data: T,
}

/// See the module documentation. Level 0 is a child of the base directory.
pub(crate) struct HeldPath<T> {
    levels: Vec<Level<T>>,
    /// Directories opened so far.
    opened: u64,
}

impl<T> HeldPath<T> {
    pub(crate) fn new() -> Self {
        HeldPath {
            levels: Vec::new(),
            opened: 0,
        }
    }

    /// How many directories [`HeldPath::open`] has opened.
    pub(crate) fn opened(&self) -> u64 {
        self.opened
    }

    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.levels.truncate(len);
    }

    pub(crate) fn level(&self, i: usize) -> Option<&Level<T>> {
        self.levels.get(i)
    }

    pub(crate) fn level_mut(&mut self, i: usize) -> Option<&mut Level<T>> {
        self.levels.get_mut(i)
    }

    pub(crate) fn pop(&mut self) -> Option<Level<T>> {
        self.levels.pop()
    }

    /// Appends a level (with its handle when the caller has it), letting go of the handle
    /// that falls out of the window.
    pub(crate) fn push(&mut self, name: OsString, dir: Option<Dir>, data: T) {
        self.levels.push(Level {
            name,
            dir: dir.map(Arc::new),
            data,
        });
        if let Some(old) = self
            .levels
            .len()
            .checked_sub(OPEN_WINDOW + 1)
            .and_then(|i| self.levels.get_mut(i))
        {
            old.dir = None;
        }
    }

    /// The handle of level `i` (below `base`), reopened with its window when it was let go.
    pub(crate) fn open(&mut self, base: &Dir, i: usize) -> io::Result<&Arc<Dir>> {
        if self.levels.get(i).is_some_and(|l| l.dir.is_none()) {
            let held = (0..i)
                .rev()
                .find(|&j| self.levels.get(j).is_some_and(|l| l.dir.is_some()));
            let from = held.map_or(0, |j| j.saturating_add(1));
            let first = from.max(i.saturating_sub(OPEN_WINDOW.saturating_sub(1)));
            let names: Vec<&OsString> = self
                .levels
                .get(from..=first)
                .unwrap_or_default()
                .iter()
                .map(|l| &l.name)
                .collect();
            let start = match held
                .and_then(|j| self.levels.get(j))
                .and_then(|l| l.dir.as_ref())
            {
                Some(d) => d,
                None => base,
            };
            let mut cur = Arc::new(start.open_components(&names)?);
            self.opened = self.opened.saturating_add(names.len() as u64);
            for k in first..=i {
                if k > first {
                    let name = self
                        .levels
                        .get(k)
                        .map(|l| l.name.clone())
                        .unwrap_or_default();
                    cur = Arc::new(cur.open_dir(&name)?);
                    self.opened = self.opened.saturating_add(1);
                }
                if let Some(l) = self.levels.get_mut(k) {
                    l.dir = Some(Arc::clone(&cur));
                }
            }
        }
        self.levels
            .get(i)
            .and_then(|l| l.dir.as_ref())
            .ok_or_else(|| io::Error::other("directory handle missing"))
    }
}

//! Staging that outlives its process: locks that tell a live writer from a dead one, the
//! sweep that removes what dead writers left, and the registry a signal handler empties.
//!
//! Every staging directory and partial file ([`crate::StagedDir`], [`crate::StagedFile`])
//! is locked for as long as its writer lives, by a lock the system drops when the process
//! ends, however it ends (`SIGKILL` included): an exclusive `flock` on Unix; on Windows, a
//! handle opened with `DELETE` access whose sharing mode excludes deletion, so that every
//! other open for deletion fails with a sharing violation (`LockFileEx` cannot lock a
//! directory). The lock lives in this module's registry next to the staged name. Creating a new one first sweeps the
//! parent directory: staging names whose lock can be taken belong to no live writer and are
//! removed. The sweep and the creation of a staging name (make, open, lock) happen under a
//! lock on the parent directory, so a sweeper never sees a new staging name before it is
//! locked.
//!
//! A process that is asked to stop (`SIGINT`, `SIGTERM`, `SIGHUP`) has no destructors run;
//! its signal handler calls [`remove_registered`] to remove what its writers staged before it
//! exits. On Windows a Windows lock keeps even its own writer from renaming or removing the
//! object, so the writer lets go of it first, under the parent's lock.

use std::ffi::OsString;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dir::Dir;
use crate::stage::STAGING_INFIX;
pub(crate) use crate::sys::ParentLock;
use crate::sys::{LOCK_BLOCKS_REMOVAL, StagingLock};

/// The infix of a partial file next to its target: `.NAME.wclayer-partial-XXXXXXXXXXXXXXXX`.
pub const PARTIAL_INFIX: &str = ".wclayer-partial-";

/// One staged name of this process.
struct Staged {
    id: u64,
    /// The directory holding it; `None` when its handle could not be duplicated (the name
    /// is then left to its owner and to the next sweep).
    parent: Option<Dir>,
    name: OsString,
    /// Its lock, held until it is committed or removed.
    lock: Option<StagingLock>,
}

/// What this process has staged and not yet committed or removed.
static REGISTRY: Mutex<Vec<Staged>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, Vec<Staged>> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a staged name and keeps its lock; returns the id to unregister it with.
pub(crate) fn register(parent: &Dir, name: &str, lock: StagingLock) -> Option<u64> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().push(Staged {
        id,
        parent: parent.try_clone().ok(),
        name: OsString::from(name),
        lock: Some(lock),
    });
    Some(id)
}

/// Forgets a staged name that its owner is about to remove, and runs `remove` with the lock
/// released first where it would keep the removal from happening (Windows), else after.
pub(crate) fn unregister_and<T>(id: Option<u64>, remove: impl FnOnce() -> T) -> T {
    let lock = id.and_then(|id| {
        let mut reg = registry();
        let pos = reg.iter().position(|s| s.id == id)?;
        Some(reg.swap_remove(pos).lock)
    });
    if LOCK_BLOCKS_REMOVAL {
        drop(lock);
        remove()
    } else {
        let out = remove();
        drop(lock);
        out
    }
}

/// Commits a staged name: runs `rename` (which puts it under its final name) and forgets it,
/// unless [`remove_registered`] has taken it. Both hold the registry's lock, so a removal by
/// a signal handler and a commit never interleave: the final name gets the whole staged
/// object or nothing.
///
/// # Errors
/// The error of `rename` (the name stays registered), or an error saying the process is
/// being stopped when the staged object was removed already.
pub(crate) fn commit<T>(
    parent: &Dir,
    id: Option<u64>,
    rename: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    let mut reg = registry();
    let Some(id) = id else {
        return rename();
    };
    let Some(pos) = reg.iter().position(|s| s.id == id) else {
        return Err(io::Error::other(
            "stopped by a signal: the staged output was removed",
        ));
    };
    let _parent_lock = if LOCK_BLOCKS_REMOVAL {
        // No sweeper may see the name unlocked: hold the parent while letting go.
        let held = ParentLock::take(parent)?;
        if let Some(s) = reg.get_mut(pos) {
            s.lock = None;
        }
        Some(held)
    } else {
        None
    };
    let out = rename()?;
    reg.swap_remove(pos);
    Ok(out)
}

/// Removes everything this process has staged and not committed: for a signal handler that
/// is about to end the process (destructors will not run). Holds the registry's lock until
/// it is done, so no commit happens meanwhile (see `commit`) and no new staging is registered.
/// Best effort; returns how many names it removed. What it could not remove (a writer kept
/// adding to it) is locked by nobody once the process has ended, and the next staging in
/// that directory sweeps it.
pub fn remove_registered() -> usize {
    let mut reg = registry();
    let mut removed = 0usize;
    for staged in reg.drain(..) {
        let Staged {
            parent, name, lock, ..
        } = staged;
        let Some(parent) = parent else { continue };
        if LOCK_BLOCKS_REMOVAL {
            drop(lock);
        }
        // The writer may still be adding to a staging directory; a few rounds get what it
        // added meanwhile.
        for _ in 0..8 {
            if parent.remove_tree(&name).is_ok() {
                removed = removed.saturating_add(1);
                break;
            }
        }
    }
    removed
}

/// Whether `name` is a staging directory or partial file of some target.
fn is_staging_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    [STAGING_INFIX, PARTIAL_INFIX].iter().any(|infix| {
        rest.rsplit_once(infix).is_some_and(|(target, suffix)| {
            !target.is_empty()
                && suffix.len() == 16
                && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
    })
}

/// Removes the staging directories and partial files in `parent` that no live writer holds
/// (their writer was killed). Call with the parent locked ([`ParentLock`]). Returns how many
/// it removed.
pub(crate) fn sweep(parent: &Dir) -> io::Result<usize> {
    let mut removed = 0usize;
    for name in parent.entries()? {
        let Some(name) = name.to_str().filter(|n| is_staging_name(n)) else {
            continue;
        };
        let Ok(Some(probe)) = StagingLock::try_take(parent, name) else {
            continue;
        };
        // Our probe's lock goes before the removal.
        drop(probe);
        if parent.remove_tree(name).is_ok() {
            removed = removed.saturating_add(1);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names() {
        assert!(is_staging_name(".layer.wclayer-staging-0123456789abcdef"));
        assert!(is_staging_name(".out.tar.wclayer-partial-0123456789abcdef"));
        assert!(!is_staging_name("layer.wclayer-staging-0123456789abcdef"));
        assert!(!is_staging_name("..wclayer-staging-0123456789abcdef"));
        assert!(!is_staging_name(".layer.wclayer-staging-0123"));
        assert!(!is_staging_name(".layer.wclayer-staging-0123456789abcdeg"));
        assert!(!is_staging_name(".wclayer"));
    }
}

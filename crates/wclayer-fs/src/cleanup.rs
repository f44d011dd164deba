//! Staging that outlives its process: locks that tell a live writer from a dead one, the
//! sweep that removes what dead writers left, and the registry a signal handler empties.
//!
//! Every staging directory and partial file ([`crate::StagedDir`], [`crate::StagedFile`])
//! holds an exclusive `flock` for as long as its writer lives; the kernel drops it when the
//! process ends, however it ends (`SIGKILL` included). Creating a new one first sweeps the
//! parent directory: staging names whose lock can be taken belong to no live writer and are
//! removed. The sweep and the creation of a staging name (make, open, lock) happen under a
//! lock on the parent directory, so a sweeper never sees a new staging name before it is
//! locked.
//!
//! A process that is asked to stop (`SIGINT`, `SIGTERM`, `SIGHUP`) has no destructors run;
//! its signal handler calls [`remove_registered`] to remove what its writers staged before it
//! exits.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::FlockOperation;

use crate::dir::Dir;
use crate::stage::STAGING_INFIX;

/// The infix of a partial file next to its target: `.NAME.wclayer-partial-XXXXXXXXXXXXXXXX`.
pub const PARTIAL_INFIX: &str = ".wclayer-partial-";

/// What this process has staged and not yet committed or removed: (id, parent, name).
static REGISTRY: Mutex<Vec<(u64, Dir, OsString)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, Vec<(u64, Dir, OsString)>> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a staged name; returns the id to unregister it with.
pub(crate) fn register(parent: &Dir, name: &str) -> Option<u64> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let parent = parent.try_clone().ok()?;
    registry().push((id, parent, OsString::from(name)));
    Some(id)
}

/// Forgets a staged name (removed by its owner).
pub(crate) fn unregister(id: Option<u64>) {
    let Some(id) = id else { return };
    registry().retain(|(i, _, _)| *i != id);
}

/// Commits a staged name: runs `rename` (which puts it under its final name) and forgets it,
/// unless [`remove_registered`] has taken it. Both hold the registry's lock, so a removal by
/// a signal handler and a commit never interleave: the final name gets the whole staged
/// object or nothing.
///
/// # Errors
/// The error of `rename` (the name stays registered), or an error saying the process is
/// being stopped when the staged object was removed already.
pub(crate) fn commit<T>(id: Option<u64>, rename: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let mut reg = registry();
    let Some(id) = id else {
        return rename();
    };
    let Some(pos) = reg.iter().position(|(i, _, _)| *i == id) else {
        return Err(io::Error::other(
            "stopped by a signal: the staged output was removed",
        ));
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
    for (_, parent, name) in reg.drain(..) {
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

/// Takes the exclusive lock of an open staging object without waiting; `false` when another
/// open file holds it.
pub(crate) fn try_lock(fd: impl AsFd) -> io::Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Holds the lock on a parent directory while staging names in it are swept or made.
pub(crate) struct ParentLock<'a>(&'a Dir);

impl<'a> ParentLock<'a> {
    pub(crate) fn take(parent: &'a Dir) -> io::Result<ParentLock<'a>> {
        rustix::fs::flock(parent, FlockOperation::LockExclusive)?;
        Ok(ParentLock(parent))
    }
}

impl Drop for ParentLock<'_> {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(self.0, FlockOperation::Unlock);
    }
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
        let Ok(meta) = parent.metadata(name) else {
            continue;
        };
        let locked_by_us = if meta.is_dir() {
            parent.open_dir(name).and_then(|d| try_lock(&d))
        } else if meta.is_file() {
            parent.open_file(name).and_then(|f| try_lock(&f))
        } else {
            continue;
        };
        // Our probe's lock goes with its handle, before the removal.
        if locked_by_us.unwrap_or(false) && parent.remove_tree(name).is_ok() {
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

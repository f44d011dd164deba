//! Walking a host directory for [`super::write_layer`]: through one root-bound
//! [`wclayer_fs::Dir`] (every open is relative to it, `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)`), names in sorted byte order, no symbolic link ever followed.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use wclayer_fs::{Dir, FileType, Metadata};
use wclayer_layer::LayerPath;

use super::CreateError;
use super::emit::{Data, Emitter, Times, link_target};
use super::rules::check_component;

/// Frames deeper than this give up their directory handle while their children are walked
/// and reopen it from the root afterwards, so a deep tree cannot exhaust descriptors.
const HELD_HANDLES: usize = 64;

/// Symbolic links followed (inside the source, lexically) to learn whether a link names a
/// directory, as Linux's `MAXSYMLINKS`.
const MAX_HOPS: usize = 40;

/// One directory being walked.
struct Frame {
    /// Its components below the root.
    rel: Vec<String>,
    /// Its handle, unless given up (see [`HELD_HANDLES`]).
    dir: Option<Dir>,
    /// The names still to visit, last first.
    names: Vec<OsString>,
}

fn times_of(m: &Metadata) -> Times {
    Times {
        atime: m.atime,
        mtime: m.mtime,
        ctime: m.ctime,
    }
}

/// The path of `rel` below the source, for messages.
fn shown(display: &str, rel: &[String]) -> String {
    let mut p = PathBuf::from(display);
    for c in rel {
        p.push(c);
    }
    p.display().to_string()
}

/// The names in `dir`, sorted (bytes), last first.
fn sorted_names(dir: &Dir, path: &str) -> Result<Vec<OsString>, CreateError> {
    let mut names = dir
        .entries()
        .map_err(|e| CreateError::io(path, "read the directory", e))?;
    names.sort_unstable();
    names.reverse();
    Ok(names)
}

/// Walks the directory `root` (shown as `display`) into `e`.
pub(crate) fn walk(root: &Dir, display: &str, e: &mut Emitter<'_>) -> Result<(), CreateError> {
    let meta = root
        .dir_metadata()
        .map_err(|err| CreateError::io(display, "read the source directory", err))?;
    e.begin(times_of(&meta))?;
    let mut links: HashMap<(u64, u64), LayerPath> = HashMap::new();
    let mut stack = vec![Frame {
        rel: Vec::new(),
        names: sorted_names(root, display)?,
        dir: Some(
            root.try_clone()
                .map_err(|err| CreateError::io(display, "open the source directory", err))?,
        ),
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(os) = frame.names.pop() else {
            stack.pop();
            continue;
        };
        let dir = match frame.dir.take() {
            Some(d) => d,
            None => root
                .open_dir(frame.rel.iter().collect::<PathBuf>())
                .map_err(|err| {
                    CreateError::io(shown(display, &frame.rel), "open the directory", err)
                })?,
        };
        let mut rel = frame.rel.clone();
        rel.push(os.to_string_lossy().into_owned());
        let child = visit(root, &dir, &os, rel, display, e, &mut links)?;
        // The directory's handle goes back to its frame, unless a child frame is pushed
        // this deep (see HELD_HANDLES).
        let depth = stack.len();
        if (child.is_none() || depth <= HELD_HANDLES)
            && let Some(f) = stack.last_mut()
        {
            f.dir = Some(dir);
        }
        if let Some(c) = child {
            stack.push(c);
        }
    }
    Ok(())
}

/// Visits the entry `os` of `dir` (components `rel` below the root); returns the frame of
/// a directory to walk next.
fn visit(
    root: &Dir,
    dir: &Dir,
    os: &OsStr,
    rel: Vec<String>,
    display: &str,
    e: &mut Emitter<'_>,
    links: &mut HashMap<(u64, u64), LayerPath>,
) -> Result<Option<Frame>, CreateError> {
    let path = shown(display, &rel);
    let Some(name) = os.to_str() else {
        return Err(CreateError::refused(
            path,
            "the name is not UTF-8, and a Windows name must be Unicode",
        ));
    };
    check_component(name).map_err(|why| CreateError::refused(&path, why))?;
    let meta = dir
        .metadata(os)
        .map_err(|err| CreateError::io(&path, "describe the entry", err))?;
    let lname = e.layer_name(&rel);
    match meta.file_type {
        FileType::Dir => {
            e.dir(&lname, times_of(&meta), &path)?;
            let sub = dir
                .open_dir(os)
                .map_err(|err| CreateError::io(&path, "open the directory", err))?;
            let names = sorted_names(&sub, &path)?;
            return Ok(Some(Frame {
                rel,
                dir: Some(sub),
                names,
            }));
        }
        FileType::File => {
            let id = (meta.dev, meta.ino);
            if meta.nlink > 1
                && let Some(target) = links.get(&id)
            {
                e.link(&lname, target, &path)?;
                return Ok(None);
            }
            let mut f = dir
                .open_file(os)
                .map_err(|err| CreateError::io(&path, "open the file", err))?;
            let lp = e.file(
                &lname,
                times_of(&meta),
                Data {
                    reader: &mut f,
                    size: meta.size,
                    path: &path,
                },
            )?;
            if meta.nlink > 1 {
                links.insert(id, lp);
            }
        }
        FileType::Symlink => {
            let target = dir
                .read_link(os)
                .map_err(|err| CreateError::io(&path, "read the symbolic link", err))?;
            let Some(target) = target.to_str() else {
                return Err(CreateError::refused(path, "its target is not UTF-8"));
            };
            let parent = rel.get(..rel.len().saturating_sub(1)).unwrap_or_default();
            match link_target(parent, target) {
                Ok((win, resolved)) => {
                    let is_dir = names_dir(root, resolved);
                    e.symlink(&lname, times_of(&meta), &win, is_dir, &path)?;
                }
                Err(why) if e.opts().skip_unsafe_links => {
                    let s = e.stats_mut();
                    s.skipped_links = s.skipped_links.saturating_add(1);
                    tracing::info!("{path}: symbolic link left out: {why}");
                }
                Err(why) => {
                    return Err(CreateError::refused(
                        path,
                        format!("symbolic link refused: {why}"),
                    ));
                }
            }
        }
        FileType::Other => {
            if e.opts().skip_special {
                let s = e.stats_mut();
                s.skipped_special = s.skipped_special.saturating_add(1);
                tracing::info!("{path}: left out (a FIFO, socket or device node)");
            } else {
                return Err(CreateError::refused(
                    path,
                    "a FIFO, socket or device node, which a Windows layer cannot hold",
                ));
            }
        }
    }
    Ok(None)
}

/// Whether `comps` (below the root) names a directory, following symbolic links inside the
/// source lexically (as Windows resolves a relative link) for at most [`MAX_HOPS`] links. A
/// target that is missing, leaves the source or cannot be described is no directory.
fn names_dir(root: &Dir, comps: Vec<String>) -> bool {
    let mut todo: Vec<String> = comps;
    todo.reverse();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0usize;
    while let Some(c) = todo.pop() {
        let mut here = done.clone();
        here.push(c.clone());
        let meta = match root.metadata(here.iter().collect::<PathBuf>()) {
            Ok(m) => m,
            Err(_) => return false,
        };
        match meta.file_type {
            FileType::Dir => done.push(c),
            FileType::Symlink => {
                hops = hops.saturating_add(1);
                if hops > MAX_HOPS {
                    return false;
                }
                let target = match root.read_link(here.iter().collect::<PathBuf>()) {
                    Ok(t) => t,
                    Err(_) => return false,
                };
                let Some(target) = target.to_str() else {
                    return false;
                };
                let Ok((_, resolved)) = link_target(&done, target) else {
                    return false;
                };
                // Continue from the root with the link's resolution, then what was left.
                done.clear();
                for r in resolved.into_iter().rev() {
                    todo.push(r);
                }
            }
            _ => return false,
        }
    }
    true
}

//! Reading a plain (Linux) layer tar for [`super::write_layer`], entry by entry in archive
//! order: directories and files as they come (their data streamed into the layer),
//! symbolic links and hard links once every entry has been seen, whiteouts as tombstones.
//! The layer's walk sorts names, so the archive's order never reaches the output.

use std::collections::HashSet;
use std::io::Read;

use wclayer_backup::UnixTime;
use wclayer_layer::LayerPath;
use wclayer_tar::archive::{ArchiveReader, TarHeader};

use super::CreateError;
use super::emit::{Data, Emitter, Times, link_target};
use super::rules::check_component;

/// A link met in the archive, added after the last entry.
struct Deferred {
    rel: Vec<String>,
    times: Times,
    target: String,
    path: String,
}

fn times_of(h: &TarHeader) -> Times {
    Times {
        atime: h.access_time.unwrap_or(h.mod_time),
        mtime: h.mod_time,
        ctime: h.change_time.unwrap_or(h.mod_time),
    }
}

/// The components of a tar name (`./etc/hostname`, `etc/`), checked: no absolute name, no
/// `..`, nothing NTFS cannot hold.
fn components(name: &str, path: &str) -> Result<Vec<String>, CreateError> {
    if name.starts_with('/') {
        return Err(CreateError::refused(path, "an absolute name"));
    }
    let mut comps = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(CreateError::refused(path, "a name with ..")),
            c => {
                check_component(c).map_err(|why| CreateError::refused(path, why))?;
                comps.push(c.to_string());
            }
        }
    }
    Ok(comps)
}

/// Walks the tar `ar` (shown as `display`) into `e`.
pub(crate) fn walk<R: Read>(
    ar: &mut ArchiveReader<R>,
    display: &str,
    e: &mut Emitter<'_>,
) -> Result<(), CreateError> {
    e.begin(Times::all(UnixTime::new(0, 0)))?;
    let mut dirs: HashSet<Vec<String>> = HashSet::new();
    let mut symlinks: Vec<Deferred> = Vec::new();
    let mut hard_links: Vec<Deferred> = Vec::new();
    while let Some(h) = ar.next_entry()? {
        let path = format!("{display}: {}", h.name);
        let rel = components(&h.name, &path)?;
        let Some((last, parent)) = rel.split_last() else {
            // The root (`./`): the prefix directory, already added.
            continue;
        };
        if let Some(removed) = last.strip_prefix(".wh.") {
            if removed.starts_with(".wh.") {
                return Err(CreateError::refused(
                    path,
                    "an opaque-directory whiteout, which a Windows layer cannot express \
                     (remove the directory's former entries one by one instead)",
                ));
            }
            let mut target = parent.to_vec();
            target.push(removed.to_string());
            e.remove(&e.layer_name(&target), &path)?;
            continue;
        }
        let lname = e.layer_name(&rel);
        match h.typeflag {
            b'0' | b'7' => {
                let size = u64::try_from(h.size).unwrap_or(0);
                e.file(
                    &lname,
                    times_of(&h),
                    Data {
                        reader: ar,
                        size,
                        path: &path,
                    },
                )?;
            }
            b'5' => {
                e.dir(&lname, times_of(&h), &path)?;
                dirs.insert(rel);
            }
            b'2' => symlinks.push(Deferred {
                rel,
                times: times_of(&h),
                target: h.linkname.clone(),
                path,
            }),
            b'1' => hard_links.push(Deferred {
                rel,
                times: times_of(&h),
                target: h.linkname.clone(),
                path,
            }),
            b'3' | b'4' | b'6' => {
                if e.opts().skip_special {
                    let s = e.stats_mut();
                    s.skipped_special = s.skipped_special.saturating_add(1);
                    tracing::info!("{path}: left out (a FIFO or device node)");
                } else {
                    return Err(CreateError::refused(
                        path,
                        "a FIFO or device node, which a Windows layer cannot hold",
                    ));
                }
            }
            t => {
                return Err(CreateError::refused(
                    path,
                    format!(
                        "a tar entry of type {:?}, which wclayer cannot turn into a Windows entry",
                        char::from(t)
                    ),
                ));
            }
        }
    }
    for l in symlinks {
        let lname = e.layer_name(&l.rel);
        let parent = l
            .rel
            .get(..l.rel.len().saturating_sub(1))
            .unwrap_or_default();
        match link_target(parent, &l.target) {
            Ok((win, resolved)) => {
                let is_dir = resolved.is_empty() || dirs.contains(&resolved);
                e.symlink(&lname, l.times, &win, is_dir, &l.path)?;
            }
            Err(why) if e.opts().skip_unsafe_links => {
                let s = e.stats_mut();
                s.skipped_links = s.skipped_links.saturating_add(1);
                tracing::info!("{}: symbolic link left out: {why}", l.path);
            }
            Err(why) => {
                return Err(CreateError::refused(
                    l.path,
                    format!("symbolic link refused: {why}"),
                ));
            }
        }
    }
    for l in hard_links {
        let lname = e.layer_name(&l.rel);
        let target = components(&l.target, &l.path)?;
        let tname = e.layer_name(&target);
        let tp = LayerPath::parse(&tname).map_err(|err| {
            CreateError::refused(&l.path, format!("hard link target: {}", err.reason))
        })?;
        e.link(&lname, &tp, &l.path)?;
    }
    Ok(())
}

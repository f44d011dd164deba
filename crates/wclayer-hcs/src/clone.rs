//! hcsshim `cloneTree` (`internal/wclayer/legacy.go`; docs/layer-semantics.md §4.6): a delta
//! layer with a utility VM starts from a clone of its parent's `UtilityVM\Files`, hard links
//! for files, copies for directories, reparse points and the boot files processing changes.

use wclayer_backup::FileBasicInfo;

use crate::Error;
use crate::base::reapply_dir_times;
use crate::host::{Host, HostFile, Open, Stat};
use crate::names::MUTATED_FILES;

/// Copy buffer of a cloned entry's backup stream.
const BUFFER: usize = 64 * 1024;

/// Clones `sub` of `src` into `dst` (see the module documentation).
///
/// hcsshim looks the boot files up by the path relative to the layer root in a set that
/// holds paths relative to `UtilityVM\Files`, so it never finds them and hard-links the
/// parent's files, which processing then changes through the link. This clone copies them,
/// as the code intends (docs/compat.md).
pub(crate) fn clone_tree<H: Host>(
    host: &H,
    src: &H::Root,
    dst: &H::Root,
    sub: &str,
) -> Result<(), Error> {
    host.ensure_not_reparse_point(src, sub)
        .map_err(|e| Error::os("open", sub, e))?;
    let st = host
        .lstat(src, sub)
        .map_err(|e| Error::os("stat", sub, e))?;
    let mut dirs = Vec::new();
    let mut buf = vec![0u8; BUFFER];
    let mut stack = vec![(sub.to_owned(), st)];
    // Pre-order, children in bytewise name order (Go's `filepath.Walk`).
    while let Some((rel, st)) = stack.pop() {
        let mutated = rel
            .strip_prefix(sub)
            .and_then(|r| r.strip_prefix('\\'))
            .is_some_and(|r| {
                MUTATED_FILES
                    .iter()
                    .any(|(f, _)| f.strip_prefix(r"UtilityVM\Files\") == Some(r))
            });
        if st.is_dir() || st.is_reparse_point() || mutated {
            let info = copy_entry(host, src, dst, &rel, st, &mut buf)?;
            if st.is_dir() && !st.is_reparse_point() {
                dirs.push((rel.clone(), info));
            }
        } else {
            host.link(src, &rel, dst, &rel)
                .map_err(|e| Error::os("link", rel.clone(), e))?;
        }
        if st.is_dir() && !st.is_reparse_point() {
            let mut names = host
                .read_dir(src, &rel)
                .map_err(|e| Error::os("list", rel.clone(), e))?;
            names.sort_by(|a, b| b.name.cmp(&a.name));
            for e in names {
                let child = format!("{rel}\\{}", e.name);
                let st = host
                    .lstat(src, &child)
                    .map_err(|e| Error::os("stat", child.clone(), e))?;
                stack.push((child, st));
            }
        }
    }
    reapply_dir_times(host, dst, &dirs)
}

/// Copies one entry with its metadata: backup-read from the source with security, restored
/// into a new entry of the destination.
fn copy_entry<H: Host>(
    host: &H,
    src: &H::Root,
    dst: &H::Root,
    rel: &str,
    st: Stat,
    buf: &mut [u8],
) -> Result<FileBasicInfo, Error> {
    let mut from = host
        .open(src, rel, Open::ExistingForBackupWithSacl)
        .map_err(|e| Error::os("open", rel, e))?;
    let info = from.basic_info().map_err(|e| Error::os("stat", rel, e))?;
    let how = if st.is_dir() {
        Open::CreateDir { security: true }
    } else {
        Open::CreateFile { security: true }
    };
    let mut to = host
        .open(dst, rel, how)
        .map_err(|e| Error::os("create", rel, e))?;
    to.set_basic_info(&info)
        .map_err(|e| Error::os("set times of", rel, e))?;
    loop {
        let n = from
            .backup_read(buf, true)
            .map_err(|e| Error::os("read", rel, e))?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        to.backup_write(chunk, true)
            .map_err(|e| Error::os("write", rel, e))?;
    }
    Ok(info)
}

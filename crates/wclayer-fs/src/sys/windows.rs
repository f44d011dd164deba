//! Windows: `NtCreateFile` relative to a directory handle with `OBJ_DONT_REPARSE`, and the
//! handle-based calls of `wclayer_win32::fs` (hcsshim's `internal/safefile`,
//! docs/layer-semantics.md §7). A reparse point anywhere in a path fails the open; the final
//! component is opened itself (`FILE_OPEN_REPARSE_POINT`) only where Unix would not follow
//! it either (`lstat`, `unlink`, `readlink`, `link`, `rename`).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::windows::fs::FileExt;
use std::os::windows::io::{AsHandle, BorrowedHandle, OwnedHandle};
use std::path::Path;
use std::time::Duration;

use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{FileTime, UnixTime};
use wclayer_win32::fs::{self as win, OpenOptions, access, attributes, share};

use crate::dir::{Dir, Replace};
use crate::metadata::{FileType, Metadata};

impl<T: AsHandle + ?Sized> crate::AsOsHandle for T {
    fn as_os_handle(&self) -> BorrowedHandle<'_> {
        self.as_handle()
    }
}

impl AsHandle for Dir {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        self.handle.as_handle()
    }
}

/// What a directory handle may do: list, and describe itself.
const DIR_ACCESS: u32 = access::LIST_DIRECTORY | access::TRAVERSE | access::READ_ATTRIBUTES;

fn h(dir: &Dir) -> BorrowedHandle<'_> {
    dir.handle.as_handle()
}

pub(crate) fn open_ambient_dir(path: &Path) -> io::Result<OwnedHandle> {
    win::open_ambient_dir(path)
}

/// One `NtCreateFile` for a few components joined with `\`: a reparse point in any of
/// them, the last included, fails the open.
pub(crate) fn open_beneath<S: AsRef<OsStr>>(base: &Dir, comps: &[S]) -> io::Result<OwnedHandle> {
    let mut joined = OsString::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            joined.push("\\");
        }
        joined.push(c.as_ref());
    }
    OpenOptions::new()
        .access(DIR_ACCESS)
        .directory()
        .open_at(h(base), &joined)
}

/// Opens `name` in `dir` itself, never following it, with `rights`.
fn open_nofollow(dir: &Dir, name: &OsStr, rights: u32) -> io::Result<OwnedHandle> {
    OpenOptions::new()
        .access(rights)
        .open_reparse_point()
        .open_at(h(dir), name)
}

pub(crate) fn open_file(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let handle = open_nofollow(dir, name, access::GENERIC_READ)?;
    let meta = stat(handle.as_handle())?;
    if meta.file_type != FileType::File {
        let what = match meta.file_type {
            FileType::Dir => "a directory",
            FileType::Symlink => "a symbolic link",
            _ => "a reparse point or device",
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}, not a regular file"),
        ));
    }
    Ok(win::into_file(handle))
}

pub(crate) fn create_file(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let handle = OpenOptions::new()
        .access(access::GENERIC_READ | access::GENERIC_WRITE)
        .create_new()
        .non_directory()
        .attributes(attributes::NORMAL)
        .open_at(h(dir), name)?;
    Ok(win::into_file(handle))
}

pub(crate) fn create_dir(dir: &Dir, name: &OsStr) -> io::Result<()> {
    OpenOptions::new()
        .create_new()
        .directory()
        .open_at(h(dir), name)
        .map(drop)
}

/// A file symbolic link: the reparse point `ReparsePoint::from_target` makes of the target
/// with `\` for `/` (relative unless absolute), set on a new empty file, which is removed
/// again when the file system refuses the reparse point.
pub(crate) fn symlink(dir: &Dir, target: &OsStr, name: &OsStr) -> io::Result<()> {
    let target = target
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "link target not UTF-8"))?
        .replace('/', "\\");
    let data = ReparsePoint::from_target(&target, false)
        .encode()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let handle = OpenOptions::new()
        .access(access::WRITE_DATA | access::WRITE_ATTRIBUTES | access::DELETE)
        .create_new()
        .non_directory()
        .open_reparse_point()
        .open_at(h(dir), name)?;
    if let Err(e) = win::set_reparse_point(handle.as_handle(), &data) {
        let _ = win::delete(handle.as_handle());
        return Err(e);
    }
    Ok(())
}

pub(crate) fn read_link(dir: &Dir, name: &OsStr) -> io::Result<OsString> {
    let handle = open_nofollow(dir, name, 0)?;
    let not_link = || io::Error::new(io::ErrorKind::InvalidInput, "not a symbolic link");
    if win::standard_info(handle.as_handle())?.reparse_tag != win::REPARSE_TAG_SYMLINK {
        return Err(not_link());
    }
    match ReparsePoint::decode(&win::reparse_point(handle.as_handle())?) {
        Ok(ReparsePoint::Symlink { target, .. }) => Ok(target.replace('\\', "/").into()),
        _ => Err(not_link()),
    }
}

pub(crate) fn hard_link(sdir: &Dir, slast: &OsStr, ddir: &Dir, dlast: &OsStr) -> io::Result<()> {
    let src = open_nofollow(sdir, slast, access::WRITE_ATTRIBUTES)?;
    win::hard_link(src.as_handle(), h(ddir), dlast)
}

pub(crate) fn remove(dir: &Dir, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let rights = access::DELETE | access::READ_ATTRIBUTES | access::WRITE_ATTRIBUTES;
    let handle = if is_dir {
        OpenOptions::new()
            .access(rights)
            .directory()
            .open_reparse_point()
            .open_at(h(dir), name)?
    } else {
        let handle = open_nofollow(dir, name, rights)?;
        // As unlink(2): a directory is refused, a link to one (a reparse point) is not.
        if stat(handle.as_handle())?.file_type == FileType::Dir {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", name.display()),
            ));
        }
        handle
    };
    win::delete(handle.as_handle())
}

pub(crate) fn rename(
    fdir: &Dir,
    flast: &OsStr,
    tdir: &Dir,
    tlast: &OsStr,
    how: Replace,
) -> io::Result<()> {
    if how == Replace::EmptyDir {
        // Windows never replaces a directory: an empty one is removed first (not atomic; a
        // directory that is not empty fails the removal and stays).
        match stat_at(tdir, tlast) {
            Ok(m) if m.is_dir() => remove(tdir, tlast, true)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", tlast.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let src = open_nofollow(fdir, flast, access::DELETE)?;
    win::rename(src.as_handle(), h(tdir), tlast, how == Replace::File)
}

/// Lists through a handle of its own: the position of a listing belongs to the open file
/// object, which [`Dir::try_clone`] shares, so two listings through clones would interfere
/// (and Wine keeps a listing per object across restarts).
pub(crate) fn entries(dir: &Dir) -> io::Result<Vec<OsString>> {
    let own = OpenOptions::new()
        .access(DIR_ACCESS)
        .directory()
        .open_at(h(dir), OsStr::new(""))?;
    Ok(win::read_dir(own.as_handle())?
        .into_iter()
        .map(|e| e.name)
        .collect())
}

fn filetime(t: Option<UnixTime>) -> i64 {
    // 0 leaves a time unchanged.
    t.map_or(0, |t| {
        i64::from_le_bytes(FileTime::from_unix(t).to_le_bytes()).max(1)
    })
}

fn unix(t: i64) -> UnixTime {
    FileTime::from_le_bytes(t.to_le_bytes()).to_unix()
}

pub(crate) fn set_times_at(
    dir: &Dir,
    name: &OsStr,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    let handle = open_nofollow(dir, name, access::WRITE_ATTRIBUTES)?;
    set_times(handle.as_handle(), atime, mtime)
}

fn set_times(
    handle: BorrowedHandle<'_>,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    win::set_basic_info(
        handle,
        &win::BasicInfo {
            last_access_time: filetime(atime),
            last_write_time: filetime(mtime),
            ..win::BasicInfo::default()
        },
    )
}

/// Through a second handle with `FILE_WRITE_ATTRIBUTES`: the one given may be open for
/// reading only, which on Unix is enough to set the times of one's own file.
pub(crate) fn set_file_times(
    handle: BorrowedHandle<'_>,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    if atime.is_none() && mtime.is_none() {
        return Ok(());
    }
    let writable = win::reopen(handle, access::WRITE_ATTRIBUTES)?;
    set_times(writable.as_handle(), atime, mtime)
}

/// `Dir::write_back_ahead`: nothing on Windows, where a flush is a walk of every file.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn write_back_ahead(_dir: &Dir) -> io::Result<bool> {
    Ok(false)
}

/// Flushes every regular file and directory below `dir`, and `dir` itself (see
/// `Dir::sync_fs`): a walk that holds one handle per level.
pub(crate) fn sync_fs(dir: &Dir) -> io::Result<()> {
    let mut stack: Vec<(Dir, Vec<OsString>)> = vec![(dir.try_clone()?, entries(dir)?)];
    while let Some((cur, pending)) = stack.last_mut() {
        let Some(name) = pending.pop() else {
            if let Some((done, _)) = stack.pop() {
                sync_all(&done)?;
            }
            continue;
        };
        match stat_at(cur, &name)?.file_type {
            FileType::Dir => {
                let sub = Dir {
                    handle: open_beneath(cur, &[&name])?,
                };
                let names = entries(&sub)?;
                stack.push((sub, names));
            }
            FileType::File => {
                let f = OpenOptions::new()
                    .access(access::WRITE_DATA)
                    .non_directory()
                    .open_reparse_point()
                    .open_at(h(cur), &name)?;
                win::flush(f.as_handle())?;
            }
            FileType::Symlink | FileType::Other => {}
        }
    }
    Ok(())
}

pub(crate) fn sync_all(dir: &Dir) -> io::Result<()> {
    let writable = win::reopen(h(dir), access::WRITE_DATA)?;
    win::flush(writable.as_handle())
}

pub(crate) fn stat_at(dir: &Dir, name: &OsStr) -> io::Result<Metadata> {
    let handle = open_nofollow(dir, name, 0)?;
    stat(handle.as_handle())
}

pub(crate) fn stat(handle: BorrowedHandle<'_>) -> io::Result<Metadata> {
    let basic = win::basic_info(handle)?;
    let standard = win::standard_info(handle)?;
    let file_type = if standard.reparse_tag == win::REPARSE_TAG_SYMLINK {
        FileType::Symlink
    } else if standard.reparse_tag != 0 || basic.file_attributes & attributes::DEVICE != 0 {
        FileType::Other
    } else if standard.directory || basic.file_attributes & attributes::DIRECTORY != 0 {
        FileType::Dir
    } else {
        FileType::File
    };
    Ok(Metadata {
        file_type,
        dev: standard.volume_serial_number,
        ino: standard.file_index,
        nlink: u64::from(standard.number_of_links),
        size: standard.end_of_file,
        allocated: standard.allocation_size,
        atime: unix(basic.last_access_time),
        mtime: unix(basic.last_write_time),
        ctime: unix(basic.change_time),
        btime: Some(unix(basic.creation_time)),
    })
}

/// Reads `len` bytes or fewer at `offset` (`ReadFile` with an offset; the file position
/// moves, which no caller relies on).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.seek_read(buf, offset)
}

/// Direct I/O is not used on Windows (`crate::DirectWriter` writes through the cache).
pub(crate) const DIRECT_IO: bool = false;

/// Nothing to switch on Windows: switching on fails as unsupported, off always works.
pub(crate) fn set_direct(_file: &File, on: bool) -> io::Result<()> {
    if on {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    Ok(())
}

/// Writes all of `buf` at `offset`.
pub(crate) fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = buf.get(n..).unwrap_or_default();
                offset = offset.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The lock of a staging directory or partial file: a handle to it opened with `DELETE`
/// access and a sharing mode without `FILE_SHARE_DELETE`. Windows has no `flock`, and
/// `LockFileEx` locks byte ranges of files only, not directories; but while this handle is
/// open, every other open asking for `DELETE` (the lock of another writer or sweeper, a
/// removal, a rename) fails with a sharing violation, and the system closes it when the
/// process ends, however it ends.
pub(crate) struct StagingLock {
    _held: OwnedHandle,
}

/// The lock keeps the object from being renamed or removed, by its own writer too: the
/// writer lets go of it first, under the parent's lock (so that no sweeper runs meanwhile).
pub(crate) const LOCK_BLOCKS_REMOVAL: bool = true;

/// Opens `name` in `dir` as a lock (see [`StagingLock`]); `None` when someone holds one.
fn try_lock_handle(dir: &Dir, name: &OsStr) -> io::Result<Option<OwnedHandle>> {
    match OpenOptions::new()
        .access(access::DELETE)
        .share(share::READ | share::WRITE)
        .open_reparse_point()
        .open_at(h(dir), name)
    {
        Ok(handle) => Ok(Some(handle)),
        Err(e) if win::is_sharing_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

impl StagingLock {
    /// Takes the lock of `name` in `parent` without waiting; `None` when another handle
    /// holds it.
    pub(crate) fn try_take(parent: &Dir, name: &str) -> io::Result<Option<StagingLock>> {
        Ok(try_lock_handle(parent, OsStr::new(name))?.map(|held| StagingLock { _held: held }))
    }
}

/// The lock on a parent directory while staging names in it are swept, made or committed:
/// a [`StagingLock`]-style handle to the directory itself, waited for by polling. Without
/// `DELETE` access to the directory (the root of a volume, say) there is no lock, and
/// staging in it is not serialised between processes; a staging object is still locked as
/// soon as it is made.
pub(crate) struct ParentLock<'a> {
    _held: Option<OwnedHandle>,
    _parent: std::marker::PhantomData<&'a Dir>,
}

impl<'a> ParentLock<'a> {
    pub(crate) fn take(parent: &'a Dir) -> io::Result<ParentLock<'a>> {
        let mut wait = Duration::from_millis(1);
        loop {
            match try_lock_handle(parent, OsStr::new("")) {
                Ok(Some(held)) => {
                    return Ok(ParentLock {
                        _held: Some(held),
                        _parent: std::marker::PhantomData,
                    });
                }
                Ok(None) => {
                    std::thread::sleep(wait);
                    wait = (wait.saturating_mul(2)).min(Duration::from_millis(50));
                }
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    return Ok(ParentLock {
                        _held: None,
                        _parent: std::marker::PhantomData,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// No extended attributes on Windows: every call fails with `Unsupported`.
pub(crate) mod xattr {
    use std::io;
    use std::os::windows::io::BorrowedHandle;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "extended attributes are not supported on Windows",
        )
    }

    pub(crate) fn get(_: BorrowedHandle<'_>, _: &str) -> io::Result<Option<Vec<u8>>> {
        Err(unsupported())
    }

    pub(crate) fn set(_: BorrowedHandle<'_>, _: &str, _: &[u8]) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn remove(_: BorrowedHandle<'_>, _: &str) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn is_unsupported(e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::Unsupported
    }

    pub(crate) fn is_too_big(_: &io::Error) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient_authority;

    fn root(tmp: &tempfile::TempDir) -> Dir {
        Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap()
    }

    #[test]
    fn drive_stream_unc_and_parent_paths_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root(&tmp);
        r.create_dir("d").unwrap();
        let abs = outside.path().join("x");
        let abs = abs.to_str().unwrap();
        let drive_relative = format!("{}x", &abs[..2]); // "C:x": relative to C:'s directory
        let refused = [
            "..",
            "..\\x",
            "d\\..\\..\\x",
            "d/../../x",
            "\\x",
            "/x",
            abs,
            drive_relative.as_str(),
            "d:stream",
            "d\\f:stream:$DATA",
            "\\\\?\\C:\\x",
            "\\\\.\\C:\\x",
            "\\\\server\\share\\x",
        ];
        for bad in refused {
            assert!(r.create_dir(bad).is_err(), "{bad:?}");
            assert!(r.create_file(bad).is_err(), "{bad:?}");
            assert!(r.open_dir(bad).is_err(), "{bad:?}");
            assert!(r.metadata(bad).is_err(), "{bad:?}");
            assert!(r.remove_tree(bad).is_err(), "{bad:?}");
        }
        // The refusals happened before any call: nothing was made anywhere.
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert_eq!(r.entries().unwrap(), [OsString::from("d")]);
        // Below the relative-open layer, too.
        for bad in ["..\\x", "\\x", "a:b", "C:\\x"] {
            let e = OpenOptions::new()
                .create_new()
                .directory()
                .open_at(h(&r), OsStr::new(bad))
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn nt_never_resolves_dotdot_in_a_relative_open() {
        // What hcsshim's admin test checks of NtCreateFile itself: a `..` component that got
        // past the checks still cannot name the parent of the root.
        let tmp = tempfile::tempdir().unwrap();
        let r = root(&tmp);
        r.create_dir("d").unwrap();
        let d = r.open_dir("d").unwrap();
        let e = OpenOptions::new()
            .access(DIR_ACCESS)
            .directory()
            .open_at(h(&d), OsStr::new(".."));
        if let Ok(up) = e {
            // Wine resolves it as a Unix path would; Windows fails the open. Either way the
            // handle must not be the root's parent directory.
            let up = Dir { handle: up };
            assert_ne!(
                up.dir_metadata().unwrap().ino,
                Metadata::of(&r).unwrap().ino,
                "`..` of d/ is the root: acceptable only without leaving it"
            );
        }
    }

    #[test]
    fn locks_exclude_each_other_and_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(&tmp);
        r.create_dir("staged").unwrap();
        let lock = StagingLock::try_take(&r, "staged").unwrap().unwrap();
        assert!(StagingLock::try_take(&r, "staged").unwrap().is_none());
        assert!(r.remove_dir("staged").is_err(), "a locked name stays");
        assert!(r.rename_noreplace("staged", &r, "other").is_err());
        // Its contents can still be written.
        r.open_dir("staged").unwrap().create_file("f").unwrap();
        drop(lock);
        assert!(StagingLock::try_take(&r, "staged").unwrap().is_some());
        r.remove_tree("staged").unwrap();
        assert!(r.entries().unwrap().is_empty());
    }

    #[test]
    fn extended_attributes_are_unsupported() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(&tmp);
        let e = crate::xattr::get(&r, "user.x").unwrap_err();
        assert!(crate::xattr::is_unsupported(&e), "{e}");
        let e = crate::xattr::set(&r, "user.x", b"v").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn read_only_files_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(&tmp);
        r.create_file("ro").unwrap();
        let mut perms = std::fs::metadata(tmp.path().join("ro"))
            .unwrap()
            .permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(tmp.path().join("ro"), perms).unwrap();
        r.remove_file("ro").unwrap();
        assert!(r.entries().unwrap().is_empty());
    }
}

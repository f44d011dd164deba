//! [`Dir`]: an open directory, and every operation relative to it.
//!
//! The checks of paths live here, once; the system calls behind each operation live in
//! `sys` (`openat2` and the `*at` calls on Unix, `NtCreateFile` relative to a handle on
//! Windows).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Component, Path};

use wclayer_backup::UnixTime;

use crate::metadata::Metadata;
use crate::{AmbientAuthority, AsOsHandle, OwnedOsHandle, sys};

/// Longest relative path handed to one open: well below Linux's `PATH_MAX` (4096), so
/// that Windows paths of up to 32 766 UTF-16 units (up to ~96 KiB of UTF-8) are opened a few
/// hundred components at a time.
const MAX_OPEN_PATH: usize = 3072;

/// At most this many directory handles are held at once while walking a deep tree (a
/// process has 1024 descriptors by default; a layer may be 16 000 directories deep).
pub(crate) const OPEN_WINDOW: usize = 128;

/// An open directory. Every path given to its methods is relative to it and resolved without
/// leaving it: no absolute paths, no `..`, no symbolic links (in any component; the last
/// component of an operation that could follow one is never followed), no magic links.
///
/// On Linux, paths of several components are resolved by the kernel in one step with
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, or one
/// component at a time with `O_NOFOLLOW` on kernels without `openat2` (before Linux 5.6):
/// both refuse what could lead out. On Windows, with `NtCreateFile` relative to the handle
/// and `OBJ_DONT_REPARSE`: a reparse point (symbolic link, junction, mount point) anywhere
/// in the path fails the open (docs/windows.md). Long paths are opened in pieces.
///
/// # Drop behaviour
/// Dropping it closes the handle.
#[derive(Debug)]
pub struct Dir {
    pub(crate) handle: OwnedOsHandle,
}

/// The error for a path that could leave its directory.
fn escapes(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: not a relative path of plain names below the directory",
            path.display()
        ),
    )
}

/// The normal components of `path`, or an error for anything else (root, `..`, `.`, a
/// prefix), and for the empty path.
fn normal_components(path: &Path) -> io::Result<Vec<&OsStr>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            _ => return Err(escapes(path)),
        }
    }
    if out.is_empty() {
        return Err(escapes(path));
    }
    Ok(out)
}

/// Ambient constructors
impl Dir {
    /// Opens the directory at `path` as the process sees it (following symbolic links in
    /// it, relative to the current directory).
    ///
    /// # Security
    /// Uses the process's ambient authority: `path` may name any directory the process can
    /// open. Only for paths that came from the user.
    ///
    /// # Errors
    /// When `path` cannot be opened as a directory.
    pub fn open_ambient_dir(path: &Path, _: AmbientAuthority) -> io::Result<Dir> {
        Ok(Dir {
            handle: sys::open_ambient_dir(path)?,
        })
    }

    /// Creates the directory `path` and its missing parents as the process sees them, like
    /// `mkdir -p`.
    ///
    /// # Security
    /// As [`Dir::open_ambient_dir`].
    ///
    /// # Errors
    /// When a directory cannot be created.
    pub fn create_ambient_dir_all(path: &Path, _: AmbientAuthority) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    /// The directory behind an open handle (a file descriptor on Unix, a handle on Windows).
    ///
    /// # Errors
    /// When `fd` is not an open directory.
    pub fn from_fd(fd: OwnedOsHandle) -> io::Result<Dir> {
        if !Metadata::of(&fd)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "handle is not a directory",
            ));
        }
        Ok(Dir { handle: fd })
    }

    /// Another handle to the same directory.
    ///
    /// # Errors
    /// When the handle cannot be duplicated.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            handle: self.handle.try_clone()?,
        })
    }
}

/// Opening
impl Dir {
    /// Opens the directory `path` below this one.
    ///
    /// # Errors
    /// When it does not exist, is no directory, or resolving it meets a symbolic link, `..`
    /// or an absolute name.
    pub fn open_dir(&self, path: impl AsRef<Path>) -> io::Result<Dir> {
        let comps = normal_components(path.as_ref())?;
        self.open_components(&comps)
    }

    /// Opens the directory made of `comps` (normal components, checked by the caller) below
    /// this one, in pieces short enough for the kernel.
    pub(crate) fn open_components<S: AsRef<OsStr>>(&self, comps: &[S]) -> io::Result<Dir> {
        let mut cur: Option<Dir> = None;
        let mut start = 0;
        while start < comps.len() {
            let mut end = start;
            let mut len = 0usize;
            while let Some(c) = comps.get(end) {
                let add = c.as_ref().len().saturating_add(1);
                if end > start && len.saturating_add(add) > MAX_OPEN_PATH {
                    break;
                }
                len = len.saturating_add(add);
                end = end.saturating_add(1);
            }
            let base = cur.as_ref().unwrap_or(self);
            let next = sys::open_beneath(base, comps.get(start..end).unwrap_or_default())?;
            cur = Some(Dir { handle: next });
            start = end;
        }
        match cur {
            Some(d) => Ok(d),
            None => self.try_clone(),
        }
    }

    /// The directory holding the last component of `path`, and that component.
    fn parent_of<'p>(&self, path: &'p Path) -> io::Result<(Parent<'_>, &'p OsStr)> {
        let comps = normal_components(path)?;
        let Some((last, parents)) = comps.split_last() else {
            return Err(escapes(path));
        };
        if parents.is_empty() {
            Ok((Parent::This(self), last))
        } else {
            Ok((Parent::Opened(self.open_components(parents)?), last))
        }
    }

    /// Opens the regular file `path` for reading. On Unix the open is non-blocking and
    /// never makes a terminal the controlling terminal, so a FIFO or device planted in the
    /// directory fails at once (with `InvalidData`) instead of blocking or being read; on
    /// Windows a reparse point or device fails likewise.
    ///
    /// # Errors
    /// When it does not exist, is not a regular file, or resolving it meets a symbolic link.
    pub fn open_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::open_file(dir.get(), last)
    }

    /// Creates the regular file `path` (which must not exist) for reading and writing, with
    /// mode 0644 (before the umask) on Unix.
    ///
    /// # Errors
    /// When it exists or cannot be created.
    pub fn create_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::create_file(dir.get(), last)
    }
}

/// The directory an operation works in: this one, or one opened below it.
enum Parent<'a> {
    This(&'a Dir),
    Opened(Dir),
}

impl Parent<'_> {
    fn get(&self) -> &Dir {
        match self {
            Parent::This(d) => d,
            Parent::Opened(d) => d,
        }
    }
}

/// How a rename treats an existing target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Fail with `AlreadyExists`.
    Never,
    /// Replace a file (`rename(2)`).
    File,
    /// Replace an empty directory.
    EmptyDir,
}

/// Creating, linking, removing
impl Dir {
    /// Creates the directory `path` (which must not exist), mode 0755 before the umask on
    /// Unix.
    ///
    /// # Errors
    /// When it exists or cannot be created.
    pub fn create_dir(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::create_dir(dir.get(), last)
    }

    /// Creates the symbolic link `path` holding `target` (stored as given, never resolved).
    /// On Windows: a file symbolic link (`IO_REPARSE_TAG_SYMLINK`) with `/` turned into `\`,
    /// relative unless the target is absolute; making one needs
    /// `SeCreateSymbolicLinkPrivilege` or developer mode.
    ///
    /// # Errors
    /// When `path` exists or the link cannot be created.
    pub fn symlink(&self, target: &OsStr, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::symlink(dir.get(), target, last)
    }

    /// The target of the symbolic link `path` (on Windows with `\` turned into `/`, the
    /// inverse of [`Dir::symlink`]).
    ///
    /// # Errors
    /// When it is no symbolic link.
    pub fn read_link(&self, path: impl AsRef<Path>) -> io::Result<OsString> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::read_link(dir.get(), last)
    }

    /// Creates the hard link `dst` (below `dst_dir`) to the object `src` (below this
    /// directory), without following `src` when it is a symbolic link. Fails with
    /// `CrossesDevices` (EXDEV, `ERROR_NOT_SAME_DEVICE`) when the two are on different file
    /// systems.
    ///
    /// # Errors
    /// When `dst` exists or the link cannot be made.
    pub fn hard_link(
        &self,
        src: impl AsRef<Path>,
        dst_dir: &Dir,
        dst: impl AsRef<Path>,
    ) -> io::Result<()> {
        let (sdir, slast) = self.parent_of(src.as_ref())?;
        let (ddir, dlast) = dst_dir.parent_of(dst.as_ref())?;
        sys::hard_link(sdir.get(), slast, ddir.get(), dlast)
    }

    /// Removes the non-directory `path`.
    ///
    /// # Errors
    /// When it does not exist or is a directory.
    pub fn remove_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::remove(dir.get(), last, false)
    }

    /// Removes the empty directory `path`.
    ///
    /// # Errors
    /// When it does not exist, is not empty or is no directory.
    pub fn remove_dir(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::remove(dir.get(), last, true)
    }

    /// Removes `path` and, when it is a directory, everything below it, without following a
    /// symbolic link and with at most a bounded number of open handles, however deep the
    /// tree. A missing `path` is no error. Everything that can be removed is; the first error
    /// is reported at the end.
    ///
    /// # Errors
    /// The first failure (a directory that cannot be listed or removed).
    pub fn remove_tree(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        crate::stage::remove_tree(dir.get(), last)
    }

    /// Renames `from` (below this directory) to `to` (below `to_dir`); fails if `to` exists.
    ///
    /// # Errors
    /// `AlreadyExists` when `to` exists; any other failure of the rename.
    pub fn rename_noreplace(
        &self,
        from: impl AsRef<Path>,
        to_dir: &Dir,
        to: impl AsRef<Path>,
    ) -> io::Result<()> {
        self.rename(from.as_ref(), to_dir, to.as_ref(), Replace::Never)
    }

    /// Renames `from` to `to`, replacing a file at `to` (`rename(2)`).
    ///
    /// # Errors
    /// When the rename fails (a directory at `to` is not replaced by a file).
    pub fn rename_replacing(
        &self,
        from: impl AsRef<Path>,
        to_dir: &Dir,
        to: impl AsRef<Path>,
    ) -> io::Result<()> {
        self.rename(from.as_ref(), to_dir, to.as_ref(), Replace::File)
    }

    /// Renames the directory `from` to `to`, replacing `to` when it is an empty directory
    /// (on Linux the kernel refuses to replace anything else by a directory, atomically; on
    /// Windows, which never replaces a directory, the empty directory is removed first).
    ///
    /// # Errors
    /// When `to` is not an empty directory, or the rename fails.
    pub fn rename_over_empty_dir(
        &self,
        from: impl AsRef<Path>,
        to_dir: &Dir,
        to: impl AsRef<Path>,
    ) -> io::Result<()> {
        self.rename(from.as_ref(), to_dir, to.as_ref(), Replace::EmptyDir)
    }

    fn rename(&self, from: &Path, to_dir: &Dir, to: &Path, how: Replace) -> io::Result<()> {
        let (fdir, flast) = self.parent_of(from)?;
        let (tdir, tlast) = to_dir.parent_of(to)?;
        sys::rename(fdir.get(), flast, tdir.get(), tlast, how)
    }
}

/// Reading and setting metadata
impl Dir {
    /// The names in this directory, without `.` and `..`, in directory order.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn entries(&self) -> io::Result<Vec<OsString>> {
        sys::entries(self)
    }

    /// Describes `path` without following it.
    ///
    /// # Errors
    /// When it does not exist.
    pub fn metadata(&self, path: impl AsRef<Path>) -> io::Result<Metadata> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        Metadata::at(dir.get(), last)
    }

    /// Describes this directory.
    ///
    /// # Errors
    /// When the handle cannot be described.
    pub fn dir_metadata(&self) -> io::Result<Metadata> {
        Metadata::of(self)
    }

    /// Sets the access and modification time of `path` (not following it); `None` leaves a
    /// time unchanged.
    ///
    /// # Errors
    /// When the times cannot be set.
    pub fn set_times(
        &self,
        path: impl AsRef<Path>,
        atime: Option<UnixTime>,
        mtime: Option<UnixTime>,
    ) -> io::Result<()> {
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        let (dir, last) = self.parent_of(path.as_ref())?;
        sys::set_times_at(dir.get(), last, atime, mtime)
    }

    /// Flushes what was written below this directory to stable storage. On Linux: the whole
    /// file system holding it, in one call (`syncfs`) instead of an `fsync` per file. On
    /// Windows, where flushing a volume needs administrator rights, every regular file and
    /// directory below this one is flushed (`FlushFileBuffers`), which is what a staged
    /// layer or folder needs before it is renamed into place.
    ///
    /// # Errors
    /// When the flush fails.
    pub fn sync_fs(&self) -> io::Result<()> {
        sys::sync_fs(self)
    }

    /// Writes what was written so far below this directory out to storage ahead of a later
    /// [`Dir::sync_fs`], so that the final flush has little left to wait for; returns when
    /// the write-back is done. On Linux: `syncfs`, called from a thread of its own while the
    /// writing goes on (the pages stay cached). On Windows nothing: flushing there is a walk
    /// of every file ([`Dir::sync_fs`]), done once at the end. Returns whether anything was
    /// done, so a caller can stop asking.
    ///
    /// # Errors
    /// When the flush fails.
    pub fn write_back_ahead(&self) -> io::Result<bool> {
        sys::write_back_ahead(self)
    }

    /// Flushes this directory's entries to stable storage (`fsync` of the directory;
    /// `FlushFileBuffers` of a handle with write access to it on Windows).
    ///
    /// # Errors
    /// When the flush fails.
    pub fn sync_all(&self) -> io::Result<()> {
        sys::sync_all(self)
    }
}

/// Sets the access and modification time of an open file or directory; `None` leaves a time
/// unchanged.
///
/// # Errors
/// When the times cannot be set.
pub fn set_file_times(
    fd: impl AsOsHandle,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    sys::set_file_times(fd.as_os_handle(), atime, mtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient_authority;

    fn root(dir: &Path) -> Dir {
        Dir::open_ambient_dir(dir, ambient_authority()).unwrap()
    }

    #[test]
    fn dotdot_and_absolute_paths_never_lead_out() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("d/e")).unwrap();
        let r = root(tmp.path());
        let abs = tmp.path().join("d");
        for bad in [Path::new(".."), Path::new("d/../d"), &abs] {
            assert!(r.open_dir(bad).is_err(), "{bad:?}");
            assert!(r.create_dir(bad.join("x")).is_err(), "{bad:?}");
            assert!(r.create_file(bad.join("x")).is_err(), "{bad:?}");
            assert!(r.metadata(bad).is_err(), "{bad:?}");
            assert!(r.remove_tree(bad).is_err(), "{bad:?}");
        }
        assert!(r.open_dir("").is_err());
        assert!(r.metadata("").is_err());
        assert!(r.open_dir("d/e").is_ok());
        let e = r.open_dir("d").unwrap();
        assert!(e.open_dir("..").is_err());
        assert!(e.metadata("../d").is_err());
    }

    #[test]
    fn long_paths_are_opened_in_pieces() {
        let tmp = tempfile::tempdir().unwrap();
        let comp = "d".repeat(200);
        let r = root(tmp.path());
        let mut cur = r.try_clone().unwrap();
        // 17 × 201 bytes: two pieces, and still below Linux's PATH_MAX (4096) with the
        // temporary directory's name, which Wine needs (it maps to Unix paths).
        for _ in 0..17 {
            cur.create_dir(&comp).unwrap();
            cur = cur.open_dir(&comp).unwrap();
        }
        let comps = vec![comp.as_str(); 17];
        let d = r.open_components(&comps).unwrap();
        d.create_file("leaf").unwrap();
        assert_eq!(d.entries().unwrap(), vec![OsString::from("leaf")]);
        let path: std::path::PathBuf = comps.iter().collect();
        assert!(r.open_file(path.join("leaf")).is_ok());
        // Without POSIX deletes (Wine, Windows before 10 1709) a directory still open goes
        // only when its last handle closes.
        drop((d, cur));
        r.remove_tree(&comp).unwrap();
        assert!(r.entries().unwrap().is_empty());
    }

    #[test]
    fn rename_never_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        r.create_dir("a").unwrap();
        r.create_dir("b").unwrap();
        let e = r.rename_noreplace("a", &r, "b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        r.rename_over_empty_dir("a", &r, "b").unwrap();
        assert_eq!(r.entries().unwrap(), vec![OsString::from("b")]);
        r.create_dir("c").unwrap();
        r.create_file("c/f").unwrap();
        assert!(r.rename_over_empty_dir("b", &r, "c").is_err(), "not empty");
        assert!(r.open_file("c/f").is_ok());
    }

    #[test]
    fn files_links_times_and_removal() {
        use std::io::{Read as _, Write as _};
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        r.create_dir("d").unwrap();
        r.create_file("d/f").unwrap().write_all(b"data").unwrap();
        assert_eq!(
            r.create_file("d/f").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        r.hard_link("d/f", &r, "g").unwrap();
        assert_eq!(r.metadata("g").unwrap().nlink, 2);
        let (a, b) = (r.metadata("d/f").unwrap(), r.metadata("g").unwrap());
        assert_eq!((a.dev, a.ino), (b.dev, b.ino));
        assert!(r.hard_link("d/f", &r, "g").is_err(), "never replaces");
        let mut s = String::new();
        r.open_file("g").unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "data");
        assert_eq!(r.metadata("g").unwrap().size, 4);
        assert!(r.open_file("d").is_err(), "a directory is no file");
        assert!(r.open_dir("g").is_err(), "a file is no directory");

        let t = UnixTime::new(1_600_000_000, 123_456_700);
        r.set_times("g", Some(t), Some(t)).unwrap();
        let m = r.metadata("d/f").unwrap();
        assert_eq!((m.atime, m.mtime), (t, t));
        let later = UnixTime::new(1_700_000_000, 0);
        set_file_times(r.open_file("g").unwrap(), None, Some(later)).unwrap();
        let m = r.metadata("g").unwrap();
        assert_eq!((m.atime, m.mtime), (t, later));

        r.create_file("h").unwrap();
        r.rename_replacing("h", &r, "d/f").unwrap();
        assert_eq!(r.metadata("d/f").unwrap().size, 0);
        assert_eq!(r.metadata("g").unwrap().nlink, 1);
        r.remove_file("g").unwrap();
        assert!(r.remove_dir("d").is_err(), "not empty");
        assert!(r.remove_file("d").is_err(), "a directory");
        r.remove_file("d/f").unwrap();
        r.remove_dir("d").unwrap();
        assert!(r.entries().unwrap().is_empty());
        r.create_dir("x").unwrap();
        r.open_dir("x").unwrap().sync_all().unwrap();
        r.sync_fs().unwrap();
    }
}

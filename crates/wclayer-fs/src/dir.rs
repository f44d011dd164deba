//! [`Dir`]: an open directory, and every operation relative to it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps};
use wclayer_backup::UnixTime;

use crate::AmbientAuthority;
use crate::metadata::{FileType, Metadata};

/// Longest relative path handed to one `openat2`: well below Linux's `PATH_MAX` (4096), so
/// that Windows paths of up to 32 766 UTF-16 units (up to ~96 KiB of UTF-8) are opened a few
/// hundred components at a time.
const MAX_OPEN_PATH: usize = 3072;

/// At most this many directory handles are held at once while walking a deep tree (a
/// process has 1024 descriptors by default; a layer may be 16 000 directories deep).
pub(crate) const OPEN_WINDOW: usize = 128;

/// Whether the kernel has `openat2`: unknown until the first call, then remembered.
static OPENAT2: AtomicU8 = AtomicU8::new(OPENAT2_UNKNOWN);
const OPENAT2_UNKNOWN: u8 = 0;
const OPENAT2_YES: u8 = 1;
const OPENAT2_NO: u8 = 2;

/// An open directory. Every path given to its methods is relative to it and resolved without
/// leaving it: no absolute paths, no `..`, no symbolic links (in any component; the last
/// component of an operation that could follow one is never followed), no magic links.
///
/// Paths of several components are resolved by the kernel in one step with
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, or one
/// component at a time with `O_NOFOLLOW` on kernels without `openat2` (before Linux 5.6):
/// both refuse what could lead out. Long paths are opened in pieces below `PATH_MAX`.
///
/// # Drop behaviour
/// Dropping it closes the handle.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
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

fn timespec(t: Option<UnixTime>) -> Timespec {
    match t {
        Some(t) => Timespec {
            tv_sec: t.secs,
            tv_nsec: i64::from(t.nanos),
        },
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
    }
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
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir { fd })
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

    /// The directory behind an open handle.
    ///
    /// # Errors
    /// When `fd` is not an open directory.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Dir> {
        let st = rustix::fs::fstat(&fd)?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "handle is not a directory",
            ));
        }
        Ok(Dir { fd })
    }

    /// Another handle to the same directory.
    ///
    /// # Errors
    /// When the handle cannot be duplicated.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
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
            let next = base.open_beneath(comps.get(start..end).unwrap_or_default())?;
            cur = Some(next);
            start = end;
        }
        match cur {
            Some(d) => Ok(d),
            None => self.try_clone(),
        }
    }

    /// One `openat2` for a few components, or a component-wise walk without it.
    fn open_beneath<S: AsRef<OsStr>>(&self, comps: &[S]) -> io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if let [one] = comps {
            // One plain name cannot lead out; O_NOFOLLOW refuses a link.
            let fd = rustix::fs::openat(&self.fd, one.as_ref(), flags, Mode::empty())?;
            return Ok(Dir { fd });
        }
        if OPENAT2.load(Ordering::Relaxed) != OPENAT2_NO {
            let mut joined = OsString::new();
            for (i, c) in comps.iter().enumerate() {
                if i > 0 {
                    joined.push("/");
                }
                joined.push(c.as_ref());
            }
            match rustix::fs::openat2(
                &self.fd,
                joined.as_os_str(),
                flags,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => {
                    OPENAT2.store(OPENAT2_YES, Ordering::Relaxed);
                    return Ok(Dir { fd });
                }
                Err(rustix::io::Errno::NOSYS) => OPENAT2.store(OPENAT2_NO, Ordering::Relaxed),
                Err(e) => return Err(e.into()),
            }
        }
        let mut cur = self.try_clone()?;
        for c in comps {
            cur = Dir {
                fd: rustix::fs::openat(&cur.fd, c.as_ref(), flags, Mode::empty())?,
            };
        }
        Ok(cur)
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

    /// Opens the regular file `path` for reading. The open is non-blocking and never makes
    /// a terminal the controlling terminal, so a FIFO or device planted in the directory
    /// fails at once (with `InvalidData`) instead of blocking or being read.
    ///
    /// # Errors
    /// When it does not exist, is not a regular file, or resolving it meets a symbolic link.
    pub fn open_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        let fd = rustix::fs::openat(
            dir.get(),
            last,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mode = rustix::fs::fstat(&fd)?.st_mode;
        if FileType::of_mode(mode) != FileType::File {
            return Err(not_regular(mode));
        }
        // Regular files ignore O_NONBLOCK; nothing to clear.
        Ok(File::from(fd))
    }

    /// Creates the regular file `path` (which must not exist) for reading and writing, with
    /// mode 0644 (before the umask).
    ///
    /// # Errors
    /// When it exists or cannot be created.
    pub fn create_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        let fd = rustix::fs::openat(
            dir.get(),
            last,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        Ok(File::from(fd))
    }
}

/// Error for an object that is not a regular file, saying what it is.
pub(crate) fn not_regular(mode: u32) -> io::Error {
    use rustix::fs::FileType as T;
    let what = match T::from_raw_mode(mode) {
        T::Fifo => "a FIFO",
        T::Socket => "a socket",
        T::CharacterDevice => "a character device",
        T::BlockDevice => "a block device",
        T::Directory => "a directory",
        T::Symlink => "a symbolic link",
        _ => "not a regular file",
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}, not a regular file"),
    )
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

impl AsFd for Parent<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get().as_fd()
    }
}

/// Creating, linking, removing
impl Dir {
    /// Creates the directory `path` (which must not exist), mode 0755 before the umask.
    ///
    /// # Errors
    /// When it exists or cannot be created.
    pub fn create_dir(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        Ok(rustix::fs::mkdirat(dir, last, Mode::from_raw_mode(0o755))?)
    }

    /// Creates the symbolic link `path` holding `target` (stored as given, never resolved).
    ///
    /// # Errors
    /// When `path` exists or the link cannot be created.
    pub fn symlink(&self, target: &OsStr, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        Ok(rustix::fs::symlinkat(target, dir, last)?)
    }

    /// The target of the symbolic link `path`.
    ///
    /// # Errors
    /// When it is no symbolic link.
    pub fn read_link(&self, path: impl AsRef<Path>) -> io::Result<OsString> {
        use std::os::unix::ffi::OsStringExt;
        let (dir, last) = self.parent_of(path.as_ref())?;
        let target = rustix::fs::readlinkat(dir, last, Vec::new())?;
        Ok(OsString::from_vec(target.into_bytes()))
    }

    /// Creates the hard link `dst` (below `dst_dir`) to the object `src` (below this
    /// directory), without following `src` when it is a symbolic link. Fails with
    /// `CrossesDevices` (EXDEV) when the two are on different file systems.
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
        // No AT_SYMLINK_FOLLOW: a symbolic link is linked itself, never its target.
        Ok(rustix::fs::linkat(
            sdir,
            slast,
            ddir,
            dlast,
            AtFlags::empty(),
        )?)
    }

    /// Removes the non-directory `path`.
    ///
    /// # Errors
    /// When it does not exist or is a directory.
    pub fn remove_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        Ok(rustix::fs::unlinkat(dir, last, AtFlags::empty())?)
    }

    /// Removes the empty directory `path`.
    ///
    /// # Errors
    /// When it does not exist, is not empty or is no directory.
    pub fn remove_dir(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (dir, last) = self.parent_of(path.as_ref())?;
        Ok(rustix::fs::unlinkat(dir, last, AtFlags::REMOVEDIR)?)
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
        let (fdir, flast) = self.parent_of(from.as_ref())?;
        let (tdir, tlast) = to_dir.parent_of(to.as_ref())?;
        Ok(rustix::fs::renameat_with(
            fdir,
            flast,
            tdir,
            tlast,
            RenameFlags::NOREPLACE,
        )?)
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
        let (fdir, flast) = self.parent_of(from.as_ref())?;
        let (tdir, tlast) = to_dir.parent_of(to.as_ref())?;
        Ok(rustix::fs::renameat(fdir, flast, tdir, tlast)?)
    }

    /// Renames the directory `from` to `to`, replacing `to` when it is an empty directory
    /// (the kernel refuses to replace anything else by a directory, atomically).
    ///
    /// # Errors
    /// When `to` is not an empty directory, or the rename fails.
    pub fn rename_over_empty_dir(
        &self,
        from: impl AsRef<Path>,
        to_dir: &Dir,
        to: impl AsRef<Path>,
    ) -> io::Result<()> {
        let (fdir, flast) = self.parent_of(from.as_ref())?;
        let (tdir, tlast) = to_dir.parent_of(to.as_ref())?;
        Ok(rustix::fs::renameat(fdir, flast, tdir, tlast)?)
    }
}

/// Reading and setting metadata
impl Dir {
    /// The names in this directory, without `.` and `..`, in directory order.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn entries(&self) -> io::Result<Vec<OsString>> {
        let mut d = rustix::fs::Dir::read_from(&self.fd)?;
        let mut names = Vec::new();
        while let Some(entry) = d.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_owned());
            }
        }
        Ok(names)
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
        let times = Timestamps {
            last_access: timespec(atime),
            last_modification: timespec(mtime),
        };
        Ok(rustix::fs::utimensat(
            dir,
            last,
            &times,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Flushes the whole file system holding this directory to stable storage (`syncfs`):
    /// one call instead of an `fsync` per file.
    ///
    /// # Errors
    /// When the flush fails.
    pub fn sync_fs(&self) -> io::Result<()> {
        Ok(rustix::fs::syncfs(&self.fd)?)
    }

    /// Flushes this directory's entries to stable storage (`fsync` of the directory).
    ///
    /// # Errors
    /// When the flush fails.
    pub fn sync_all(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }
}

/// Sets the access and modification time of an open file or directory; `None` leaves a time
/// unchanged.
///
/// # Errors
/// When the times cannot be set.
pub fn set_file_times(
    fd: impl AsFd,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    let times = Timestamps {
        last_access: timespec(atime),
        last_modification: timespec(mtime),
    };
    Ok(rustix::fs::futimens(fd, &times)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient_authority;

    fn root(dir: &Path) -> Dir {
        Dir::open_ambient_dir(dir, ambient_authority()).unwrap()
    }

    #[test]
    fn symlinks_dotdot_and_absolute_paths_never_lead_out() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("d/e")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("d/out")).unwrap();
        std::os::unix::fs::symlink("e", tmp.path().join("d/inside")).unwrap();
        std::os::unix::fs::symlink("secret", tmp.path().join("f")).unwrap();
        let r = root(tmp.path());
        assert!(r.open_dir("d/out").is_err());
        assert!(
            r.open_dir("d/inside").is_err(),
            "links inside are refused too"
        );
        assert!(r.create_file("d/out/x").is_err());
        assert!(r.create_dir("d/out/x").is_err());
        assert!(r.open_file("f").is_err());
        assert!(r.open_dir("..").is_err());
        assert!(r.open_dir("d/../d").is_err());
        assert!(r.open_dir("/tmp").is_err());
        assert!(r.open_dir("").is_err());
        assert!(r.metadata("d/out/x").is_err());
        assert_eq!(r.metadata("f").unwrap().file_type, FileType::Symlink);
        assert!(r.open_dir("d/e").is_ok());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn fifos_fail_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let r = root(tmp.path());
        let e = r.open_file("fifo").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "a FIFO, not a regular file");
        assert!(r.open_dir("fifo").is_err());
        assert_eq!(r.metadata("fifo").unwrap().file_type, FileType::Other);
    }

    #[test]
    fn long_paths_are_opened_in_pieces() {
        let tmp = tempfile::tempdir().unwrap();
        let comp = "d".repeat(200);
        let r = root(tmp.path());
        let mut cur = r.try_clone().unwrap();
        for _ in 0..30 {
            cur.create_dir(&comp).unwrap();
            cur = cur.open_dir(&comp).unwrap();
        }
        let comps = vec![comp.as_str(); 30];
        let d = r.open_components(&comps).unwrap();
        d.create_file("leaf").unwrap();
        assert_eq!(d.entries().unwrap(), vec![OsString::from("leaf")]);
        let path: std::path::PathBuf = comps.iter().collect();
        assert!(r.open_file(path.join("leaf")).is_ok());
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
    }
}

//! The file-system operations the store needs, behind [`Fs`], and their Linux
//! implementation [`LinuxFs`].
//!
//! Every operation is relative to an open directory handle and never follows a symbolic link:
//! the store cannot be steered out of a layer directory by a link placed in it, and never
//! writes anything outside it. A Windows back end would implement the same trait with
//! `NtCreateFile` relative to a root handle and `OBJ_DONT_REPARSE` (layer-semantics.md §7.2);
//! the layer logic above the trait stays the same.
//!
//! Names passed to the trait are either a single component or a relative path of normal
//! components (no `..`, no `.`, no empty component). [`LinuxFs`] does not rely on that for
//! safety: it resolves with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` and uses `O_NOFOLLOW` / `AT_SYMLINK_NOFOLLOW` on the final
//! component, so a hostile name can at worst fail.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps};

/// The type of a file-system object, as `lstat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A regular file.
    File,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else (device, FIFO, socket).
    Other,
}

/// What [`Fs::stat`] reports about an object (without following a final symbolic link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The object's type.
    pub kind: FileKind,
    /// The device it lives on (`st_dev`).
    pub dev: u64,
    /// Its inode number (`st_ino`).
    pub ino: u64,
    /// Its link count (`st_nlink`).
    pub nlink: u64,
    /// Its size in bytes (`st_size`).
    pub size: u64,
    /// Last modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime: (i64, u32),
    /// Last access time: seconds and nanoseconds since the Unix epoch.
    pub atime: (i64, u32),
}

/// The file-system calls of the layer directory store, all relative to open directory
/// handles and none following symbolic links.
///
/// # Security
/// Implementations must confine every call to the directory handle it is given: resolving
/// `path` must never leave `at` (no `..`, no symbolic links, no mount-point crossings that
/// lead out), and the final component must not be followed when it is a link. Operations that
/// create must fail when the name exists.
pub trait Fs: Send + Sync {
    /// An open directory.
    type Dir: Send + Sync;
    /// An open file.
    type File: io::Read + io::Write + io::Seek + Send;

    /// Opens the directory `path` below `at`.
    ///
    /// # Errors
    /// When it does not exist, is no directory, or resolving it meets a symbolic link.
    fn open_dir(&self, at: &Self::Dir, path: &Path) -> io::Result<Self::Dir>;
    /// Another handle to the same directory.
    ///
    /// # Errors
    /// When the handle cannot be duplicated.
    fn try_clone_dir(&self, dir: &Self::Dir) -> io::Result<Self::Dir>;
    /// Creates the directory `name` in `at` (it must not exist).
    ///
    /// # Errors
    /// When it exists or cannot be created.
    fn create_dir(&self, at: &Self::Dir, name: &Path) -> io::Result<()>;
    /// Creates the regular file `name` in `at` for reading and writing (it must not exist).
    ///
    /// # Errors
    /// When it exists or cannot be created.
    fn create_file(&self, at: &Self::Dir, name: &Path) -> io::Result<Self::File>;
    /// Opens the regular file `path` below `at` for reading.
    ///
    /// # Errors
    /// When it does not exist, or resolving it meets a symbolic link (also as its last
    /// component).
    fn open_file(&self, at: &Self::Dir, path: &Path) -> io::Result<Self::File>;
    /// Creates a symbolic link `name` in `at` holding `target`.
    ///
    /// # Errors
    /// When `name` exists or the link cannot be created.
    fn symlink(&self, target: &str, at: &Self::Dir, name: &Path) -> io::Result<()>;
    /// Reads the target of the symbolic link `name` in `at`.
    ///
    /// # Errors
    /// When it is no symbolic link.
    fn read_link(&self, at: &Self::Dir, name: &Path) -> io::Result<OsString>;
    /// Creates the hard link `dst` in `dst_dir` to the object `src` in `src_dir`, without
    /// following `src` when it is a symbolic link. Fails with `CrossesDevices` (EXDEV) when
    /// the two are on different file systems.
    ///
    /// # Errors
    /// When `dst` exists or the link cannot be made.
    fn hard_link(
        &self,
        src_dir: &Self::Dir,
        src: &Path,
        dst_dir: &Self::Dir,
        dst: &Path,
    ) -> io::Result<()>;
    /// Removes the non-directory `name` from `at`.
    ///
    /// # Errors
    /// When it does not exist or is a directory.
    fn remove_file(&self, at: &Self::Dir, name: &Path) -> io::Result<()>;
    /// Removes the empty directory `name` from `at`.
    ///
    /// # Errors
    /// When it does not exist, is not empty or is no directory.
    fn remove_dir(&self, at: &Self::Dir, name: &Path) -> io::Result<()>;
    /// The names in a directory, without `.` and `..`.
    ///
    /// # Errors
    /// When the directory cannot be read.
    fn read_dir(&self, dir: &Self::Dir) -> io::Result<Vec<OsString>>;
    /// Describes `name` in `at` without following it.
    ///
    /// # Errors
    /// When it does not exist.
    fn stat(&self, at: &Self::Dir, name: &Path) -> io::Result<Meta>;
    /// Sets the access and modification times of `name` in `at` (not following it);
    /// `None` leaves a time unchanged.
    ///
    /// # Errors
    /// When the times cannot be set.
    fn set_times(
        &self,
        at: &Self::Dir,
        name: &Path,
        atime: Option<(i64, u32)>,
        mtime: Option<(i64, u32)>,
    ) -> io::Result<()>;
    /// Sets the length of an open file (extending it with a hole).
    ///
    /// # Errors
    /// When the length cannot be set.
    fn set_len(&self, file: &Self::File, len: u64) -> io::Result<()>;
    /// Renames `from` in `from_dir` to `to` in `to_dir`, failing if `to` exists.
    ///
    /// # Errors
    /// When `to` exists or the rename fails.
    fn rename_noreplace(
        &self,
        from_dir: &Self::Dir,
        from: &Path,
        to_dir: &Self::Dir,
        to: &Path,
    ) -> io::Result<()>;
    /// Flushes the whole file system holding `dir` to stable storage (`syncfs`).
    ///
    /// # Errors
    /// When the flush fails.
    fn sync_fs(&self, dir: &Self::Dir) -> io::Result<()>;
    /// Flushes one directory's entries to stable storage (`fsync` of the directory).
    ///
    /// # Errors
    /// When the flush fails.
    fn sync_dir(&self, dir: &Self::Dir) -> io::Result<()>;
}

/// [`Fs`] on Linux: rustix `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS`, `*at` calls and `O_NOFOLLOW`. Needs Linux 5.6 or later.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxFs;

/// Resolution rules for every path opened below a directory handle.
fn beneath() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

fn timespec(t: Option<(i64, u32)>) -> Timespec {
    match t {
        Some((secs, nanos)) => Timespec {
            tv_sec: secs,
            tv_nsec: i64::from(nanos),
        },
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
    }
}

impl LinuxFs {
    /// Opens a directory by an ambient path (symbolic links in it are followed, as the
    /// caller wrote them).
    ///
    /// # Security
    /// This uses the process's ambient authority: `path` may name any directory the process
    /// can open. Only call it with paths that came from the user (the CLI).
    ///
    /// # Errors
    /// When `path` cannot be opened as a directory.
    pub fn open_ambient_dir(path: &Path) -> io::Result<OwnedFd> {
        Ok(rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }
}

impl Fs for LinuxFs {
    type Dir = OwnedFd;
    type File = File;

    fn open_dir(&self, at: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat2(
            at,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            beneath(),
        )?)
    }

    fn try_clone_dir(&self, dir: &OwnedFd) -> io::Result<OwnedFd> {
        dir.try_clone()
    }

    fn create_dir(&self, at: &OwnedFd, name: &Path) -> io::Result<()> {
        Ok(rustix::fs::mkdirat(at, name, Mode::from_raw_mode(0o755))?)
    }

    fn create_file(&self, at: &OwnedFd, name: &Path) -> io::Result<File> {
        let fd = rustix::fs::openat2(
            at,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
            beneath(),
        )?;
        Ok(File::from(fd))
    }

    fn open_file(&self, at: &OwnedFd, path: &Path) -> io::Result<File> {
        let fd = rustix::fs::openat2(
            at,
            path,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            beneath(),
        )?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            // A FIFO or device placed in a layer directory must not block or feed us.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        Ok(file)
    }

    fn symlink(&self, target: &str, at: &OwnedFd, name: &Path) -> io::Result<()> {
        Ok(rustix::fs::symlinkat(target, at, name)?)
    }

    fn read_link(&self, at: &OwnedFd, name: &Path) -> io::Result<OsString> {
        use std::os::unix::ffi::OsStringExt;
        let target = rustix::fs::readlinkat(at, name, Vec::new())?;
        Ok(OsString::from_vec(target.into_bytes()))
    }

    fn hard_link(
        &self,
        src_dir: &OwnedFd,
        src: &Path,
        dst_dir: &OwnedFd,
        dst: &Path,
    ) -> io::Result<()> {
        // No AT_SYMLINK_FOLLOW: a symbolic link is linked itself, never its target.
        Ok(rustix::fs::linkat(
            src_dir,
            src,
            dst_dir,
            dst,
            AtFlags::empty(),
        )?)
    }

    fn remove_file(&self, at: &OwnedFd, name: &Path) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(at, name, AtFlags::empty())?)
    }

    fn remove_dir(&self, at: &OwnedFd, name: &Path) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(at, name, AtFlags::REMOVEDIR)?)
    }

    fn read_dir(&self, dir: &OwnedFd) -> io::Result<Vec<OsString>> {
        use std::os::unix::ffi::OsStrExt;
        let mut d = rustix::fs::Dir::read_from(dir)?;
        let mut names = Vec::new();
        while let Some(entry) = d.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(std::ffi::OsStr::from_bytes(name).to_owned());
            }
        }
        Ok(names)
    }

    fn stat(&self, at: &OwnedFd, name: &Path) -> io::Result<Meta> {
        let st = rustix::fs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Directory => FileKind::Directory,
            rustix::fs::FileType::RegularFile => FileKind::File,
            rustix::fs::FileType::Symlink => FileKind::Symlink,
            _ => FileKind::Other,
        };
        Ok(Meta {
            kind,
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime, u32::try_from(st.st_mtime_nsec).unwrap_or(0)),
            atime: (st.st_atime, u32::try_from(st.st_atime_nsec).unwrap_or(0)),
        })
    }

    fn set_times(
        &self,
        at: &OwnedFd,
        name: &Path,
        atime: Option<(i64, u32)>,
        mtime: Option<(i64, u32)>,
    ) -> io::Result<()> {
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        let times = Timestamps {
            last_access: timespec(atime),
            last_modification: timespec(mtime),
        };
        Ok(rustix::fs::utimensat(
            at,
            name,
            &times,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn rename_noreplace(
        &self,
        from_dir: &OwnedFd,
        from: &Path,
        to_dir: &OwnedFd,
        to: &Path,
    ) -> io::Result<()> {
        Ok(rustix::fs::renameat_with(
            from_dir,
            from,
            to_dir,
            to,
            RenameFlags::NOREPLACE,
        )?)
    }

    fn sync_fs(&self, dir: &OwnedFd) -> io::Result<()> {
        Ok(rustix::fs::syncfs(dir)?)
    }

    fn sync_dir(&self, dir: &OwnedFd) -> io::Result<()> {
        Ok(rustix::fs::fsync(dir)?)
    }
}

/// A directory handle that is either borrowed (the layer root) or owned (a subdirectory
/// opened for one operation).
pub(crate) enum DirRef<'a, D> {
    Borrowed(&'a D),
    Owned(D),
}

impl<D> DirRef<'_, D> {
    pub(crate) fn get(&self) -> &D {
        match self {
            DirRef::Borrowed(d) => d,
            DirRef::Owned(d) => d,
        }
    }
}

/// Longest relative path handed to one `openat2`: well below Linux's `PATH_MAX` (4096),
/// so that Windows paths of up to 32 766 UTF-16 units (up to ~96 KiB of UTF-8) are opened
/// a few components at a time.
const MAX_OPEN_PATH: usize = 3072;

/// Opens the directory made of `comps` below `root`, in pieces short enough for the kernel.
/// An empty `comps` is `root` itself.
pub(crate) fn open_dir_path<'a, F: Fs, S: AsRef<std::ffi::OsStr>>(
    fs: &F,
    root: &'a F::Dir,
    comps: &[S],
) -> io::Result<DirRef<'a, F::Dir>> {
    let mut cur = DirRef::Borrowed(root);
    let mut chunk = PathBuf::new();
    let mut len = 0usize;
    for c in comps {
        let c = c.as_ref();
        if len > 0 && len + 1 + c.len() > MAX_OPEN_PATH {
            cur = DirRef::Owned(fs.open_dir(cur.get(), &chunk)?);
            chunk = PathBuf::new();
            len = 0;
        }
        chunk.push(c);
        len += c.len() + 1;
    }
    if len > 0 {
        cur = DirRef::Owned(fs.open_dir(cur.get(), &chunk)?);
    }
    Ok(cur)
}

/// Removes `name` in `at` and, if it is a directory, everything below it, without ever
/// following a symbolic link. Works iteratively (deep trees neither overflow the stack nor
/// hold one descriptor per level). A missing `name` is no error.
pub(crate) fn remove_all<F: Fs>(fs: &F, at: &F::Dir, name: &Path) -> io::Result<()> {
    match fs.stat(at, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if m.kind != FileKind::Directory => return fs.remove_file(at, name),
        Ok(_) => {}
    }
    // Paths relative to `name`, removed depth first: (path, children already queued).
    let mut stack: Vec<(Vec<OsString>, bool)> = vec![(Vec::new(), false)];
    let top = fs.open_dir(at, name)?;
    let mut first_err: Option<io::Error> = None;
    while let Some((path, expanded)) = stack.pop() {
        let Some((last, parent)) = path.split_last() else {
            if !expanded {
                stack.push((path, true));
                for child in fs.read_dir(&top)? {
                    stack.push((vec![child], false));
                }
            }
            continue;
        };
        let parent_dir = match open_dir_path(fs, &top, parent) {
            Ok(d) => d,
            Err(e) => {
                first_err.get_or_insert(e);
                continue;
            }
        };
        let last = Path::new(last);
        let result = if expanded {
            fs.remove_dir(parent_dir.get(), last)
        } else {
            match fs.stat(parent_dir.get(), last) {
                Ok(m) if m.kind == FileKind::Directory => {
                    // A directory that cannot be listed is left; the first error is
                    // reported after everything else was removed.
                    fs.open_dir(parent_dir.get(), last)
                        .and_then(|dir| fs.read_dir(&dir))
                        .map(|children| {
                            stack.push((path.clone(), true));
                            for child in children {
                                let mut p = path.clone();
                                p.push(child);
                                stack.push((p, false));
                            }
                        })
                }
                Ok(_) => fs.remove_file(parent_dir.get(), last),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result
            && e.kind() != io::ErrorKind::NotFound
        {
            first_err.get_or_insert(e);
        }
    }
    drop(top);
    if let Some(e) = first_err {
        return Err(e);
    }
    fs.remove_dir(at, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &Path) -> OwnedFd {
        LinuxFs::open_ambient_dir(dir).unwrap()
    }

    #[test]
    fn symlinks_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("d/out")).unwrap();
        std::os::unix::fs::symlink("secret", tmp.path().join("f")).unwrap();
        let fs = LinuxFs;
        let r = root(tmp.path());
        assert!(fs.open_dir(&r, Path::new("d/out")).is_err());
        assert!(fs.create_file(&r, Path::new("d/out/x")).is_err());
        assert!(fs.open_file(&r, Path::new("f")).is_err());
        assert!(fs.open_dir(&r, Path::new("..")).is_err());
        assert!(fs.open_dir(&r, Path::new("/tmp")).is_err());
        assert_eq!(fs.stat(&r, Path::new("f")).unwrap().kind, FileKind::Symlink);
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn remove_all_stays_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        let base = tmp.path().join("t");
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::write(base.join("a/b/c/f"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), base.join("a/link")).unwrap();
        let fs = LinuxFs;
        let r = root(tmp.path());
        remove_all(&fs, &r, Path::new("t")).unwrap();
        assert!(!base.exists());
        assert!(outside.path().join("keep").exists());
        remove_all(&fs, &r, Path::new("t")).unwrap();
    }

    #[test]
    fn long_paths_are_opened_in_pieces() {
        let tmp = tempfile::tempdir().unwrap();
        let comp = "d".repeat(200);
        let comps: Vec<String> = (0..30).map(|_| comp.clone()).collect();
        let fs = LinuxFs;
        let r = root(tmp.path());
        let mut cur = fs.try_clone_dir(&r).unwrap();
        for c in &comps {
            fs.create_dir(&cur, Path::new(c)).unwrap();
            cur = fs.open_dir(&cur, Path::new(c)).unwrap();
        }
        let d = open_dir_path(&fs, &r, &comps).unwrap();
        fs.create_file(d.get(), Path::new("leaf")).unwrap();
        assert_eq!(fs.read_dir(d.get()).unwrap(), vec![OsString::from("leaf")]);
        remove_all(&fs, &r, Path::new(&comp)).unwrap();
        assert_eq!(fs.read_dir(&r).unwrap().len(), 0);
    }
}

//! Unix: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` (one
//! component at a time with `O_NOFOLLOW` without it), the `*at` calls, `statx`, `syncfs`,
//! `renameat2(RENAME_NOREPLACE)`, `flock` and extended attributes, through `rustix`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{
    AtFlags, FlockOperation, Mode, OFlags, RenameFlags, ResolveFlags, StatxFlags, Timespec,
    Timestamps,
};
use wclayer_backup::UnixTime;

use crate::dir::{Dir, Replace};
use crate::metadata::{FileType, Metadata};

impl<T: AsFd + ?Sized> crate::AsOsHandle for T {
    fn as_os_handle(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
}

/// Whether the kernel has `openat2`: unknown until the first call, then remembered.
static OPENAT2: AtomicU8 = AtomicU8::new(OPENAT2_UNKNOWN);
const OPENAT2_UNKNOWN: u8 = 0;
const OPENAT2_YES: u8 = 1;
const OPENAT2_NO: u8 = 2;

pub(crate) fn open_ambient_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// One `openat2` for a few components, or a component-wise walk without it.
pub(crate) fn open_beneath<S: AsRef<OsStr>>(base: &Dir, comps: &[S]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if let [one] = comps {
        // One plain name cannot lead out; O_NOFOLLOW refuses a link.
        return Ok(rustix::fs::openat(
            base,
            one.as_ref(),
            flags,
            Mode::empty(),
        )?);
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
            base,
            joined.as_os_str(),
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => {
                OPENAT2.store(OPENAT2_YES, Ordering::Relaxed);
                return Ok(fd);
            }
            Err(rustix::io::Errno::NOSYS) => OPENAT2.store(OPENAT2_NO, Ordering::Relaxed),
            Err(e) => return Err(e.into()),
        }
    }
    let mut cur = base.handle.try_clone()?;
    for c in comps {
        cur = rustix::fs::openat(&cur, c.as_ref(), flags, Mode::empty())?;
    }
    Ok(cur)
}

pub(crate) fn open_file(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mode = rustix::fs::fstat(&fd)?.st_mode;
    if file_type(mode) != FileType::File {
        return Err(not_regular(mode));
    }
    // Regular files ignore O_NONBLOCK; nothing to clear.
    Ok(File::from(fd))
}

/// Error for an object that is not a regular file, saying what it is.
fn not_regular(mode: u32) -> io::Error {
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

pub(crate) fn create_file(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    Ok(File::from(fd))
}

pub(crate) fn create_dir(dir: &Dir, name: &OsStr) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?)
}

pub(crate) fn symlink(dir: &Dir, target: &OsStr, name: &OsStr) -> io::Result<()> {
    Ok(rustix::fs::symlinkat(target, dir, name)?)
}

pub(crate) fn read_link(dir: &Dir, name: &OsStr) -> io::Result<OsString> {
    use std::os::unix::ffi::OsStringExt;
    let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(OsString::from_vec(target.into_bytes()))
}

pub(crate) fn hard_link(sdir: &Dir, slast: &OsStr, ddir: &Dir, dlast: &OsStr) -> io::Result<()> {
    // No AT_SYMLINK_FOLLOW: a symbolic link is linked itself, never its target.
    Ok(rustix::fs::linkat(
        sdir,
        slast,
        ddir,
        dlast,
        AtFlags::empty(),
    )?)
}

pub(crate) fn remove(dir: &Dir, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    Ok(rustix::fs::unlinkat(dir, name, flags)?)
}

pub(crate) fn rename(
    fdir: &Dir,
    flast: &OsStr,
    tdir: &Dir,
    tlast: &OsStr,
    how: Replace,
) -> io::Result<()> {
    match how {
        Replace::Never => Ok(rustix::fs::renameat_with(
            fdir,
            flast,
            tdir,
            tlast,
            RenameFlags::NOREPLACE,
        )?),
        // The kernel replaces a file by a file and an empty directory by a directory, and
        // nothing else.
        Replace::File | Replace::EmptyDir => Ok(rustix::fs::renameat(fdir, flast, tdir, tlast)?),
    }
}

pub(crate) fn entries(dir: &Dir) -> io::Result<Vec<OsString>> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
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

fn timestamps(atime: Option<UnixTime>, mtime: Option<UnixTime>) -> Timestamps {
    Timestamps {
        last_access: timespec(atime),
        last_modification: timespec(mtime),
    }
}

pub(crate) fn set_times_at(
    dir: &Dir,
    name: &OsStr,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    Ok(rustix::fs::utimensat(
        dir,
        name,
        &timestamps(atime, mtime),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

pub(crate) fn set_file_times(
    fd: BorrowedFd<'_>,
    atime: Option<UnixTime>,
    mtime: Option<UnixTime>,
) -> io::Result<()> {
    Ok(rustix::fs::futimens(fd, &timestamps(atime, mtime))?)
}

/// `Dir::write_back_ahead`: the same `syncfs` as the final flush.
pub(crate) fn write_back_ahead(dir: &Dir) -> io::Result<bool> {
    sync_fs(dir).map(|()| true)
}

pub(crate) fn sync_fs(dir: &Dir) -> io::Result<()> {
    Ok(rustix::fs::syncfs(dir)?)
}

pub(crate) fn sync_all(dir: &Dir) -> io::Result<()> {
    Ok(rustix::fs::fsync(dir)?)
}

/// The type of a `st_mode`.
fn file_type(mode: u32) -> FileType {
    match rustix::fs::FileType::from_raw_mode(mode) {
        rustix::fs::FileType::Directory => FileType::Dir,
        rustix::fs::FileType::RegularFile => FileType::File,
        rustix::fs::FileType::Symlink => FileType::Symlink,
        _ => FileType::Other,
    }
}

fn unix(t: &rustix::fs::StatxTimestamp) -> UnixTime {
    UnixTime::new(t.tv_sec, t.tv_nsec)
}

fn from_statx(st: &rustix::fs::Statx) -> Metadata {
    Metadata {
        file_type: file_type(u32::from(st.stx_mode)),
        dev: u64::from(st.stx_dev_major) << 32 | u64::from(st.stx_dev_minor),
        ino: st.stx_ino,
        nlink: u64::from(st.stx_nlink),
        size: st.stx_size,
        allocated: st.stx_blocks.saturating_mul(512),
        atime: unix(&st.stx_atime),
        mtime: unix(&st.stx_mtime),
        ctime: unix(&st.stx_ctime),
        btime: (st.stx_mask & StatxFlags::BTIME.bits() != 0).then(|| unix(&st.stx_btime)),
    }
}

pub(crate) fn stat_at(dir: &Dir, name: &OsStr) -> io::Result<Metadata> {
    let st = rustix::fs::statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    )?;
    Ok(from_statx(&st))
}

pub(crate) fn stat(fd: BorrowedFd<'_>) -> io::Result<Metadata> {
    let st = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    )?;
    Ok(from_statx(&st))
}

/// Reads `len` bytes or fewer at `offset` (`pread`).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Writes all of `buf` at `offset` (`pwrite`).
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

/// Whether this system has direct I/O (`O_DIRECT`) for `crate::DirectWriter`.
pub(crate) const DIRECT_IO: bool = cfg!(target_os = "linux");

/// Sets or clears `O_DIRECT` on an open file (`fcntl(F_SETFL)`); `InvalidInput` where the
/// file system has no direct I/O.
#[cfg(target_os = "linux")]
pub(crate) fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags.difference(OFlags::DIRECT)
    };
    Ok(rustix::fs::fcntl_setfl(file, flags)?)
}

/// Without direct I/O there is nothing to set; clearing it always works.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_direct(_file: &File, on: bool) -> io::Result<()> {
    if on {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    Ok(())
}

/// The lock of a staging directory or partial file: an exclusive `flock` on an open file
/// description of it, dropped by the kernel when the process ends, however it ends.
pub(crate) struct StagingLock {
    _held: OwnedFd,
}

/// The `flock` is held through the commit's rename and the removal (neither cares about
/// it), so no sweeper ever sees an unlocked staging name of a live writer.
pub(crate) const LOCK_BLOCKS_REMOVAL: bool = false;

impl StagingLock {
    /// Opens `name` in `parent` and takes its lock without waiting; `None` when another
    /// open file holds it.
    pub(crate) fn try_take(parent: &Dir, name: &str) -> io::Result<Option<StagingLock>> {
        let fd = match parent.metadata(name)?.file_type {
            FileType::Dir => open_beneath(parent, &[name])?,
            FileType::File => OwnedFd::from(open_file(parent, OsStr::new(name))?),
            _ => return Ok(None),
        };
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(StagingLock { _held: fd })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The lock on a parent directory while staging names in it are swept or made: a blocking
/// exclusive `flock` on its handle.
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

/// Extended attributes (`user.*`), read whole: the kernel limits one to 64 KiB
/// (`XATTR_SIZE_MAX`), so a hostile file cannot make a read unbounded.
pub(crate) mod xattr {
    use std::io;
    use std::os::fd::BorrowedFd;

    use rustix::fs::XattrFlags;

    pub(crate) fn get(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
        // The value can change between the size query and the read (ERANGE); a few rounds
        // are plenty for a directory nobody else is writing.
        for _ in 0..4 {
            let len = match rustix::fs::fgetxattr_query(fd, name) {
                Ok(n) => n,
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if len == 0 {
                return Ok(Some(Vec::new()));
            }
            let mut buf = vec![0u8; len];
            match rustix::fs::fgetxattr(fd, name, &mut buf[..]) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Err(rustix::io::Errno::RANGE) => {}
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "extended attribute keeps changing size",
        ))
    }

    pub(crate) fn set(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
        Ok(rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty())?)
    }

    pub(crate) fn remove(fd: BorrowedFd<'_>, name: &str) -> io::Result<()> {
        match rustix::fs::fremovexattr(fd, name) {
            Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn is_unsupported(e: &io::Error) -> bool {
        e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error())
    }

    pub(crate) fn is_too_big(e: &io::Error) -> bool {
        [rustix::io::Errno::NOSPC, rustix::io::Errno::TOOBIG]
            .iter()
            .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::io;
    use std::path::Path;

    use rustix::fs::Mode;

    use crate::{Dir, FileType, ambient_authority};

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
    fn symlinks_are_made_and_read_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        r.symlink(OsStr::new("../x/y"), "l").unwrap();
        assert_eq!(r.read_link("l").unwrap(), "../x/y");
        assert_eq!(r.metadata("l").unwrap().file_type, FileType::Symlink);
        assert!(r.read_link("l/z").is_err());
    }
}

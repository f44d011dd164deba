//! The file-system calls of the transport folder, all relative to open directory handles.
//!
//! Every path handed to the kernel here is **one** component resolved below a directory
//! handle with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` and
//! `O_NOFOLLOW`, or an `*at` call that does not follow a final symbolic link
//! (layer-semantics.md §7.2: "resolve with the equivalent of `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` plus `O_NOFOLLOW`"). A symbolic link or a
//! `..` planted in a folder can therefore at worst make an operation fail; nothing outside
//! the folder is ever read or written. Deep paths are opened one directory at a time, so
//! Windows paths of up to 32 766 UTF-16 units never meet Linux's `PATH_MAX`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, ResolveFlags, StatxFlags, Timespec, Timestamps, XattrFlags,
};
use wclayer_backup::FileTime;

/// Resolution rules for every name opened below a directory handle.
fn beneath() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// Opens the directory `name` (one component) in `at`.
pub(crate) fn open_dir(at: impl AsFd, name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat2(
        at,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        beneath(),
    )?)
}

/// Opens the directory made of `comps` below `root`, one component at a time; an empty
/// `comps` is `root` itself (duplicated).
pub(crate) fn open_dir_path<S: AsRef<str>>(root: &OwnedFd, comps: &[S]) -> io::Result<OwnedFd> {
    let mut cur = root.try_clone()?;
    for c in comps {
        cur = open_dir(&cur, c.as_ref())?;
    }
    Ok(cur)
}

/// Creates the regular file `name` in `at` for reading and writing; it must not exist.
pub(crate) fn create_file(at: impl AsFd, name: &str) -> io::Result<File> {
    let fd = rustix::fs::openat2(
        at,
        name,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
        beneath(),
    )?;
    Ok(File::from(fd))
}

/// Opens the existing regular file `name` in `at` for reading. Anything else (a symbolic
/// link, a FIFO that would block, a device) fails.
pub(crate) fn open_file(at: impl AsFd, name: &str) -> io::Result<File> {
    let fd = rustix::fs::openat2(
        at,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
        beneath(),
    )?;
    let file = File::from(fd);
    if stat(&file)?.kind != Kind::File {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Creates the directory `name` in `at`; it must not exist.
pub(crate) fn mkdir(at: impl AsFd, name: &str) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(at, name, Mode::from_raw_mode(0o755))?)
}

/// Creates the hard link `dst` in `dst_dir` to `src` in `src_dir`, never following `src`.
pub(crate) fn hard_link(
    src_dir: impl AsFd,
    src: &str,
    dst_dir: impl AsFd,
    dst: &str,
) -> io::Result<()> {
    Ok(rustix::fs::linkat(
        src_dir,
        src,
        dst_dir,
        dst,
        AtFlags::empty(),
    )?)
}

/// The type of a folder object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// What `statx` reports about an object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub(crate) kind: Kind,
    /// `st_dev` as one number (major in the high half).
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) nlink: u32,
    pub(crate) size: u64,
    pub(crate) atime: FileTime,
    pub(crate) mtime: FileTime,
    pub(crate) ctime: FileTime,
    /// The birth time, when the file system records it.
    pub(crate) btime: Option<FileTime>,
}

fn kind_of(mode: u16) -> Kind {
    match FileType::from_raw_mode(u32::from(mode)) {
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

fn meta_of(st: &rustix::fs::Statx) -> Meta {
    let t = |ts: &rustix::fs::StatxTimestamp| unix_to_filetime(ts.tv_sec, ts.tv_nsec);
    Meta {
        kind: kind_of(st.stx_mode),
        dev: u64::from(st.stx_dev_major) << 32 | u64::from(st.stx_dev_minor),
        ino: st.stx_ino,
        nlink: st.stx_nlink,
        size: st.stx_size,
        atime: t(&st.stx_atime),
        mtime: t(&st.stx_mtime),
        ctime: t(&st.stx_ctime),
        btime: (st.stx_mask & StatxFlags::BTIME.bits() != 0).then(|| t(&st.stx_btime)),
    }
}

/// Describes an open object.
pub(crate) fn stat(fd: impl AsFd) -> io::Result<Meta> {
    let st = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    )?;
    Ok(meta_of(&st))
}

/// Describes `name` in `at` without following it.
pub(crate) fn lstat(at: impl AsFd, name: &str) -> io::Result<Meta> {
    let st = rustix::fs::statx(
        at,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    )?;
    Ok(meta_of(&st))
}

/// The names in a directory, as bytes, without `.` and `..`, in directory order.
pub(crate) fn list_dir(dir: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    let mut names = Vec::new();
    while let Some(entry) = d.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Reads the extended attribute `name` of an open object; `None` when it is absent.
pub(crate) fn get_xattr(fd: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    let fd = fd.as_fd();
    // The value can change between the size query and the read (ERANGE); a few rounds are
    // plenty for a folder nobody else is writing.
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
            Err(rustix::io::Errno::RANGE) => continue,
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        "extended attribute keeps changing size",
    ))
}

/// Sets the extended attribute `name` of an open object (creating or replacing it).
pub(crate) fn set_xattr(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty())?)
}

/// Removes the extended attribute `name` of an open object; absent is fine.
pub(crate) fn remove_xattr(fd: impl AsFd, name: &str) -> io::Result<()> {
    match rustix::fs::fremovexattr(fd, name) {
        Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether an error says the file system has no (user) extended attributes.
pub(crate) fn is_xattr_unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error())
}

/// Whether an error says an extended attribute value does not fit (ext4 keeps all of an
/// inode's attributes in one block unless `ea_inode` is on).
pub(crate) fn is_xattr_too_big(e: &io::Error) -> bool {
    [rustix::io::Errno::NOSPC, rustix::io::Errno::TOOBIG]
        .iter()
        .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

/// Sets the access and modification time of an open object. Times outside what the file
/// system can store are clamped by the kernel; the exact values live in
/// `user.wclayer.times`.
pub(crate) fn set_times(fd: impl AsFd, atime: FileTime, mtime: FileTime) -> io::Result<()> {
    let times = Timestamps {
        last_access: filetime_to_timespec(atime),
        last_modification: filetime_to_timespec(mtime),
    };
    Ok(rustix::fs::futimens(fd, &times)?)
}

/// Renames `from` in `dir` to `to` in `dir`. With `replace_empty_dir`, `to` may be an empty
/// directory, which the rename replaces atomically; otherwise `to` must not exist.
pub(crate) fn rename(
    dir: impl AsFd,
    from: &std::ffi::OsStr,
    to: &std::ffi::OsStr,
    replace_empty_dir: bool,
) -> io::Result<()> {
    let dir = dir.as_fd();
    if replace_empty_dir {
        Ok(rustix::fs::renameat(dir, from, dir, to)?)
    } else {
        Ok(rustix::fs::renameat_with(
            dir,
            from,
            dir,
            to,
            rustix::fs::RenameFlags::NOREPLACE,
        )?)
    }
}

/// Removes `name` in `parent` and, when it is a directory, everything below it, without
/// following symbolic links. Iterative, so that deep trees cannot exhaust the stack.
pub(crate) fn remove_tree(parent: &OwnedFd, name: &str) -> io::Result<()> {
    if lstat(parent, name)?.kind != Kind::Dir {
        return Ok(rustix::fs::unlinkat(parent, name, AtFlags::empty())?);
    }
    // Each level: the open directory and the names still to remove in it.
    let mut stack: Vec<(OwnedFd, Vec<Vec<u8>>)> = Vec::new();
    let top = open_dir(parent, name)?;
    let names = list_dir(&top)?;
    stack.push((top, names));
    while let Some((dir, names)) = stack.last_mut() {
        let Some(child) = names.pop() else {
            stack.pop();
            continue;
        };
        let child = std::ffi::OsStr::from_bytes(&child);
        let st = rustix::fs::statat(&*dir, child, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let sub = rustix::fs::openat2(
                &*dir,
                child,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                beneath(),
            )?;
            let sub_names = list_dir(&sub)?;
            if sub_names.is_empty() {
                rustix::fs::unlinkat(&*dir, child, AtFlags::REMOVEDIR)?;
            } else {
                // Come back to this name once its contents are gone.
                names.push(child.as_bytes().to_vec());
                stack.push((sub, sub_names));
            }
        } else {
            rustix::fs::unlinkat(&*dir, child, AtFlags::empty())?;
        }
    }
    Ok(rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?)
}

/// Ticks between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_TICKS: i128 = 116_444_736_000_000_000;
const TICKS_PER_SEC: i128 = 10_000_000;

/// The exact Unix time of a FILETIME (no Go wrapping: this is for the file system, not for
/// tar headers).
pub(crate) fn filetime_to_timespec(t: FileTime) -> Timespec {
    let ticks = i128::from(t.0) - UNIX_EPOCH_TICKS;
    let secs = ticks.div_euclid(TICKS_PER_SEC);
    let rem = ticks.rem_euclid(TICKS_PER_SEC);
    Timespec {
        // |secs| < 2^61 for every u64 FILETIME, so this never saturates.
        tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
        tv_nsec: i64::try_from(rem * 100).unwrap_or(0),
    }
}

/// The FILETIME of a Unix time (sub-100 ns digits truncated), clamped to the FILETIME range.
pub(crate) fn unix_to_filetime(secs: i64, nanos: u32) -> FileTime {
    let ticks = i128::from(secs) * TICKS_PER_SEC + i128::from(nanos / 100) + UNIX_EPOCH_TICKS;
    FileTime(u64::try_from(ticks.clamp(0, i128::from(u64::MAX))).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_conversion_is_exact_both_ways() {
        for ft in [
            0u64,
            1,
            116_444_736_000_000_000,
            133_000_000_123_456_789,
            u64::MAX,
        ] {
            let ts = filetime_to_timespec(FileTime(ft));
            let back = unix_to_filetime(ts.tv_sec, u32::try_from(ts.tv_nsec).unwrap());
            assert_eq!(back, FileTime(ft), "{ft}");
        }
        let ts = filetime_to_timespec(FileTime(116_444_736_000_000_000));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (0, 0));
        let ts = filetime_to_timespec(FileTime(0));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (-11_644_473_600, 0));
        assert_eq!(unix_to_filetime(i64::MIN, 0), FileTime(0));
    }

    #[test]
    fn remove_tree_removes_deep_trees_and_leaves_siblings() {
        let tmp = tempfile::tempdir().unwrap();
        let root = rustix::fs::open(
            tmp.path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        mkdir(&root, "t").unwrap();
        mkdir(&root, "keep").unwrap();
        let mut d = open_dir(&root, "t").unwrap();
        for i in 0..200 {
            create_file(&d, &format!("f{i}")).unwrap();
            mkdir(&d, "d").unwrap();
            d = open_dir(&d, "d").unwrap();
        }
        remove_tree(&root, "t").unwrap();
        let mut names = list_dir(&root).unwrap();
        names.sort();
        assert_eq!(names, [b"keep".to_vec()]);
    }
}

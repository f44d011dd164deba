//! Extended attributes of open files and directories (the `user.*` namespace carries what a
//! transport folder's plain files cannot hold on Linux, docs/layer-semantics.md §0.5).
//!
//! Values are read whole: the kernel limits one to 64 KiB (`XATTR_SIZE_MAX`), so a hostile
//! file cannot make a read unbounded.

use std::io;
use std::os::fd::AsFd;

use rustix::fs::XattrFlags;

/// Reads the attribute `name`; `None` when it is absent.
///
/// # Errors
/// When the file system refuses (see [`is_unsupported`]), or the value keeps changing size
/// between the size query and the read.
pub fn get(fd: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    let fd = fd.as_fd();
    // The value can change between the size query and the read (ERANGE); a few rounds are
    // plenty for a directory nobody else is writing.
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

/// Sets the attribute `name` (creating or replacing it).
///
/// # Errors
/// When the file system refuses ([`is_unsupported`], [`is_too_big`]).
pub fn set(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty())?)
}

/// Removes the attribute `name`; an absent one is no error.
///
/// # Errors
/// When the file system refuses.
pub fn remove(fd: impl AsFd, name: &str) -> io::Result<()> {
    match rustix::fs::fremovexattr(fd, name) {
        Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether an error says the file system has no (user) extended attributes (`ENOTSUP`):
/// ramfs, some FUSE and network file systems, tmpfs before Linux 6.6.
#[must_use]
pub fn is_unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error())
}

/// Whether an error says a value does not fit (ext4 keeps all of an inode's attributes in one
/// block unless `ea_inode` is on: `ENOSPC` or `E2BIG`).
#[must_use]
pub fn is_too_big(e: &io::Error) -> bool {
    [rustix::io::Errno::NOSPC, rustix::io::Errno::TOOBIG]
        .iter()
        .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

//! Extended attributes of open files and directories (the `user.*` namespace carries what a
//! transport folder's plain files cannot hold on Linux, docs/layer-semantics.md §0.5).
//!
//! Values are read whole: the kernel limits one to 64 KiB (`XATTR_SIZE_MAX`), so a hostile
//! file cannot make a read unbounded.
//!
//! Windows has no counterpart (NTFS extended attributes are another thing, carried in backup
//! streams): every call fails with an error of kind `Unsupported`, for which
//! [`is_unsupported`] is true, so callers take the path of a file system without extended
//! attributes.

use std::io;

use crate::{AsOsHandle, sys};

/// Reads the attribute `name`; `None` when it is absent.
///
/// # Errors
/// When the file system refuses (see [`is_unsupported`]), or the value keeps changing size
/// between the size query and the read.
pub fn get(fd: impl AsOsHandle, name: &str) -> io::Result<Option<Vec<u8>>> {
    sys::xattr::get(fd.as_os_handle(), name)
}

/// Sets the attribute `name` (creating or replacing it).
///
/// # Errors
/// When the file system refuses ([`is_unsupported`], [`is_too_big`]).
pub fn set(fd: impl AsOsHandle, name: &str, value: &[u8]) -> io::Result<()> {
    sys::xattr::set(fd.as_os_handle(), name, value)
}

/// Removes the attribute `name`; an absent one is no error.
///
/// # Errors
/// When the file system refuses.
pub fn remove(fd: impl AsOsHandle, name: &str) -> io::Result<()> {
    sys::xattr::remove(fd.as_os_handle(), name)
}

/// Whether an error says the file system has no (user) extended attributes: `ENOTSUP` on
/// Linux (ramfs, some FUSE and network file systems, tmpfs before Linux 6.6), every error of
/// this module on Windows.
#[must_use]
pub fn is_unsupported(e: &io::Error) -> bool {
    sys::xattr::is_unsupported(e)
}

/// Whether an error says a value does not fit (ext4 keeps all of an inode's attributes in one
/// block unless `ea_inode` is on: `ENOSPC` or `E2BIG`).
#[must_use]
pub fn is_too_big(e: &io::Error) -> bool {
    sys::xattr::is_too_big(e)
}

//! [`Metadata`]: what the file system says about an object, in one type.

use std::ffi::OsStr;
use std::io;

use wclayer_backup::UnixTime;

use crate::dir::Dir;
use crate::{AsOsHandle, sys};

/// The type of a file-system object, as `lstat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (never followed). On Windows: a reparse point of tag
    /// `IO_REPARSE_TAG_SYMLINK`.
    Symlink,
    /// Anything else: a FIFO, socket or device; on Windows, a reparse point other than a
    /// symbolic link (a junction, a mount point, ...), never followed either.
    Other,
}

/// What the file system reports about an object (without following a final symbolic link).
///
/// On Windows: `dev` is the volume's serial number, `ino` the 64-bit file index, the times
/// come from `FILE_BASIC_INFO` (`ctime` is its change time) and `btime` is always there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The object's type.
    pub file_type: FileType,
    /// The device it lives on (`st_dev`, major in the high 32 bits).
    pub dev: u64,
    /// Its inode number.
    pub ino: u64,
    /// Its link count.
    pub nlink: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes allocated on disk (`st_blocks` × 512): less than `size` for a sparse file.
    pub allocated: u64,
    /// Last access.
    pub atime: UnixTime,
    /// Last modification.
    pub mtime: UnixTime,
    /// Last status change.
    pub ctime: UnixTime,
    /// Creation, where the file system records it.
    pub btime: Option<UnixTime>,
}

impl Metadata {
    /// Describes `name` (one component) in `dir` without following it.
    pub(crate) fn at(dir: &Dir, name: &OsStr) -> io::Result<Metadata> {
        sys::stat_at(dir, name)
    }

    /// Describes an open file or directory.
    ///
    /// # Errors
    /// When the handle cannot be described.
    pub fn of(fd: impl AsOsHandle) -> io::Result<Metadata> {
        sys::stat(fd.as_os_handle())
    }

    /// Whether it is a directory.
    #[must_use]
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Dir
    }

    /// Whether it is a regular file.
    #[must_use]
    pub fn is_file(&self) -> bool {
        self.file_type == FileType::File
    }
}

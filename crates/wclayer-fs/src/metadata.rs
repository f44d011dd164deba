//! [`Metadata`]: what the file system says about an object, in one type.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, StatxFlags};
use wclayer_backup::UnixTime;

/// The type of a file-system object, as `lstat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: a FIFO, socket or device.
    Other,
}

impl FileType {
    /// The type of a `st_mode`.
    pub(crate) fn of_mode(mode: u32) -> FileType {
        match rustix::fs::FileType::from_raw_mode(mode) {
            rustix::fs::FileType::Directory => FileType::Dir,
            rustix::fs::FileType::RegularFile => FileType::File,
            rustix::fs::FileType::Symlink => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}

/// What the file system reports about an object (without following a final symbolic link).
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

fn unix(t: &rustix::fs::StatxTimestamp) -> UnixTime {
    UnixTime::new(t.tv_sec, t.tv_nsec)
}

impl Metadata {
    fn from_statx(st: &rustix::fs::Statx) -> Metadata {
        Metadata {
            file_type: FileType::of_mode(u32::from(st.stx_mode)),
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

    /// Describes `name` (one component) in `dir` without following it.
    pub(crate) fn at(dir: impl AsFd, name: &OsStr) -> io::Result<Metadata> {
        let st = rustix::fs::statx(
            dir,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::BASIC_STATS | StatxFlags::BTIME,
        )?;
        Ok(Metadata::from_statx(&st))
    }

    /// Describes an open file or directory.
    ///
    /// # Errors
    /// When the handle cannot be described.
    pub fn of(fd: impl AsFd) -> io::Result<Metadata> {
        let st = rustix::fs::statx(
            fd,
            "",
            AtFlags::EMPTY_PATH,
            StatxFlags::BASIC_STATS | StatxFlags::BTIME,
        )?;
        Ok(Metadata::from_statx(&st))
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

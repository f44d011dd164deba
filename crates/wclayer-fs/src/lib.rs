//! Root-bound file-system access for wclayer: every call relative to an open directory
//! handle, never following a symbolic link, never leaving the handle's directory.
//!
//! Layer directories (`wclayer-store`) and transport folders (`wclayer-folder`) are written
//! from untrusted input (a layer tar from a registry, a folder someone else made) and read
//! back from directories other processes can change. Path strings that are checked and then
//! opened can be raced (CVE-2018-8115 was this class of bug in hcsshim); handles cannot. So
//! both crates reach the file system only through this one:
//!
//! - [`Dir`]: an open directory. Every open below it is relative to it, resolved by the
//!   kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`
//!   (one component at a time with `O_NOFOLLOW` where the kernel lacks `openat2`): `..`,
//!   absolute names and symbolic links anywhere in a path fail instead of leading out.
//!   Files are opened with `O_NONBLOCK | O_NOCTTY` and checked to be regular files, so a
//!   FIFO or device planted in a directory fails at once instead of blocking or feeding
//!   the reader. Ambient access exists only through constructors whose names say so
//!   ([`Dir::open_ambient_dir`]) and that take an [`AmbientAuthority`].
//! - [`Metadata`] / [`FileType`]: one stat type (`statx`, with the birth time where the file
//!   system records it).
//! - [`AsOsHandle`], [`read_at`], [`read_exact_at`], [`write_all_at`]: what the other crates
//!   need of open files in the same words on every system.
//! - [`DirectWriter`] and [`AlignedBuf`]: a new file's large writes sent around the page
//!   cache (`O_DIRECT`) where the file system allows it, from buffers aligned for it.
//! - [`xattr`]: extended attributes of open files and directories.
//! - [`StagedDir`]: a directory built next to its final name, removed on drop, and made
//!   visible by one `syncfs` and one rename (without replacing anything); [`StagedFile`] the
//!   same for an output file. Both hold a lock while their writer lives, so that what a
//!   killed writer left is found and removed the next time ([`cleanup`]); [`discard_dir`]
//!   removes a directory the other way round (renamed to a staging name, then removed).
//! - [`names`]: the one scheme for names Linux cannot hold (components over 255 bytes)
//!   or that would collide with the tools' own files.
//! - [`DirCache`]: the open directories along the path last used in a
//!   [`wclayer_layer::LayerTree`], so that each directory of a layer is opened once, not once
//!   per entry below it.
//!
//! # Why not `cap-std`
//! `cap-std` has the right shape and inspired this one, but it resolves symbolic links that
//! stay inside the directory (we refuse every link: a layer's own links are data, never
//! paths to follow), its rename replaces the target (we must never replace a layer), and it
//! has no extended attributes, `syncfs`, `statx` birth times or non-blocking opens. What is
//! needed is a few dozen `*at` calls, which `rustix` provides safely; wrapping `cap-std` would
//! add four crates and still need most of this code.
//!
//! # Windows
//! The same API is implemented with `NtCreateFile` relative to a directory handle and
//! `OBJ_DONT_REPARSE` (docs/layer-semantics.md §7.2, hcsshim's `internal/safefile`), through
//! the safe wrappers of `wclayer_win32::fs`: `..` and absolute paths are refused before any
//! call, and a reparse point (symbolic link, junction, mount point) anywhere in a path fails
//! the open. The differences are documented where they are: [`xattr`] always fails with
//! `Unsupported`, [`Dir::sync_fs`] flushes the files below the directory instead of the file
//! system, [`Dir::symlink`] makes Windows symbolic links, and the staging locks
//! ([`cleanup`]) are handles whose sharing mode excludes deletion (docs/windows.md).
//!
//! ```no_run
//! use wclayer_fs::{ambient_authority, Dir, StagedDir};
//!
//! let parent = Dir::open_ambient_dir("/var/lib/layers".as_ref(), ambient_authority())?;
//! let staged = StagedDir::create(&parent, "layer1")?;
//! staged.root().create_dir("Files")?;
//! staged.commit(true)?; // syncfs, then rename .layer1.wclayer-staging-… to layer1
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(unix, windows)))]
compile_error!("wclayer-fs supports Unix and Windows only");

mod cache;
pub mod cleanup;
mod dir;
mod direct;
mod held;
mod metadata;
pub mod names;
mod stage;
mod sys;
pub mod xattr;

use std::fs::File;
use std::io;

pub use cache::DirCache;
pub use dir::{Dir, set_file_times};
pub use direct::{AlignedBuf, DIRECT_ALIGN, DIRECT_MIN, DirectWriter};
pub use metadata::{FileType, Metadata};
pub use stage::{MAX_TARGET_NAME, STAGING_INFIX, StagedDir, StagedFile, discard_dir};

/// Proof that the caller means to use the process's ambient authority: to resolve a path as
/// the process sees it (following symbolic links, from the current directory). Only the
/// outermost layer (the CLI, the hcsshim-style API that takes paths) makes one.
#[derive(Clone, Copy, Debug)]
pub struct AmbientAuthority(());

/// The ambient authority of the process (see [`AmbientAuthority`]).
///
/// # Security
/// Whoever calls this accepts that a path may name anything the process can reach.
#[must_use]
pub fn ambient_authority() -> AmbientAuthority {
    AmbientAuthority(())
}

/// An owned handle of an open file or directory: a file descriptor on Unix.
#[cfg(unix)]
pub type OwnedOsHandle = std::os::fd::OwnedFd;
/// An owned handle of an open file or directory: a handle on Windows.
#[cfg(windows)]
pub type OwnedOsHandle = std::os::windows::io::OwnedHandle;

/// A borrowed handle of an open file or directory: a file descriptor on Unix.
#[cfg(unix)]
pub type BorrowedOsHandle<'a> = std::os::fd::BorrowedFd<'a>;
/// A borrowed handle of an open file or directory: a handle on Windows.
#[cfg(windows)]
pub type BorrowedOsHandle<'a> = std::os::windows::io::BorrowedHandle<'a>;

/// Whatever can lend its handle: implemented for everything that implements
/// `std::os::fd::AsFd` on Unix and `std::os::windows::io::AsHandle` on Windows ([`Dir`],
/// [`File`], references to them), so that code taking "an open file or directory" is
/// written once for both.
pub trait AsOsHandle {
    /// The handle, borrowed.
    fn as_os_handle(&self) -> BorrowedOsHandle<'_>;
}

/// Reads up to `buf.len()` bytes at `offset` of `file` (`pread` on Unix; on Windows a read
/// at an offset, which also moves the file position).
///
/// # Errors
/// The read's error.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    sys::read_at(file, buf, offset)
}

/// Fills `buf` from `offset` of `file`.
///
/// # Errors
/// `UnexpectedEof` when the file ends first; the read's error.
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match sys::read_at(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = buf.get_mut(n..).unwrap_or_default();
                offset = offset.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset` of `file` (`pwrite` on Unix).
///
/// # Errors
/// The write's error.
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    sys::write_all_at(file, buf, offset)
}

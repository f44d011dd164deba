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
//! - [`xattr`]: extended attributes of open files and directories.
//! - [`StagedDir`]: a directory built next to its final name, removed on drop, and made
//!   visible by one `syncfs` and one rename (without replacing anything); [`StagedFile`] the
//!   same for an output file. Both hold a lock while their writer lives, so that what a
//!   killed writer left is found and removed the next time ([`cleanup`]).
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
//! add four crates and still need most of this code. The Windows back end will implement the
//! same [`Dir`] operations with `NtCreateFile` relative to a directory handle and
//! `OBJ_DONT_REPARSE` (docs/layer-semantics.md §7.2), behind this crate's API.
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

#[cfg(not(unix))]
compile_error!(
    "wclayer-fs supports Unix (Linux: openat2; other Unix: component-wise openat) only so far"
);

mod cache;
pub mod cleanup;
mod dir;
mod held;
mod metadata;
pub mod names;
mod stage;
pub mod xattr;

pub use cache::DirCache;
pub use dir::{Dir, set_file_times};
pub use metadata::{FileType, Metadata};
pub use stage::{MAX_TARGET_NAME, STAGING_INFIX, StagedDir, StagedFile};

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

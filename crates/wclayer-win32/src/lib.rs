//! The Windows calls of wclayer, and nothing else.
//!
//! This is the only crate of the workspace with `unsafe` code. Each module wraps one family
//! of Windows calls in safe functions; the logic that decides *which* calls to make (hcsshim's
//! writers and readers, the layer model, the formats) lives in the portable crates, which are
//! compiled and tested on every system (docs/windows.md).
//!
//! - `fs`: opens relative to a directory handle that never leave it (`NtCreateFile` with
//!   `OBJ_DONT_REPARSE`, as hcsshim's `internal/safefile`), and the handle-based file
//!   operations built on them.
//! - `backup`: `BackupRead` / `BackupWrite` streams over an open file.
//! - `privilege`: enabling `SeBackupPrivilege` and `SeRestorePrivilege`.
//! - `hcs`: the layer functions of the Host Compute Service (`vmcompute.dll`), resolved
//!   lazily, with their HRESULTs mapped to [`std::io::Error`].
//!
//! On other systems the crate is empty.
#![cfg(windows)]

pub mod backup;
pub mod fs;
pub mod hcs;
pub mod privilege;

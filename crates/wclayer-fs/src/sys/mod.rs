//! The system calls behind the crate's API: one module per system with the same functions,
//! so that the checks and the public documentation live once, in the portable modules.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

//! Test support for wclayer: a generator of Windows-style layer tars and I/O wrappers that
//! return short reads and writes. Not published; used by tests and benchmarks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod r#gen;
pub mod io;

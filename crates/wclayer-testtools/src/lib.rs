//! Test support for wclayer: I/O wrappers that return short reads and writes and now and
//! then `Interrupted` ([`io`]). Not published; used by tests.
//!
//! The generated layer tars the tests import live in `wclayer-gen`, which the `wclayer`
//! binary also uses for `wclayer sample`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod io;

//! Integration tests of wclayer-tar: one binary, one module per area.

mod archive;
mod compat;
mod gotar;
mod mapping;

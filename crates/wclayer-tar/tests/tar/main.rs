//! Integration tests of wclayer-tar: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

mod archive;
mod compat;
mod gotar;
mod mapping;

//! Integration tests of the layer directory store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

mod common;
mod delta;
mod fixture;
mod hostile;
mod lifecycle;
mod prop;
mod roundtrip;

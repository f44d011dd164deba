//! Integration tests of the layer directory store.
//!
//! Unix only: they compare the on-disk tree with Unix metadata (inode numbers, block counts,
//! nanosecond times, modes) and plant FIFOs, devices and symbolic links.
#![cfg(unix)]
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

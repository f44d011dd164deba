//! Integration tests of the layer directory store.

mod common;
mod delta;
mod fixture;
mod hostile;
mod lifecycle;
mod prop;
mod roundtrip;

//! The `wclayer` command.
fn main() {}

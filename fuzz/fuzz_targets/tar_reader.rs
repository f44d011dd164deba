//! libFuzzer target `tar_reader`: runs `wclayer_fuzz::tar_reader` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::tar_reader(data));

//! libFuzzer target `ea`: runs `wclayer_fuzz::ea` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::ea(data));

//! libFuzzer target `security_descriptor`: runs `wclayer_fuzz::security_descriptor` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::security_descriptor(data));

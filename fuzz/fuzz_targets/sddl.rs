//! libFuzzer target `sddl`: runs `wclayer_fuzz::sddl` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::sddl(data));

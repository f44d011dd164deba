//! libFuzzer target `import_delta`: runs `wclayer_fuzz::import_delta` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::import_delta(data));

//! libFuzzer target `backup_stream`: runs `wclayer_fuzz::backup_stream` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::backup_stream(data));

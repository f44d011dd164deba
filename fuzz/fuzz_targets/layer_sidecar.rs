//! libFuzzer target `layer_sidecar`: runs `wclayer_fuzz::layer_sidecar` on every input (its invariants:
//! the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::layer_sidecar(data));

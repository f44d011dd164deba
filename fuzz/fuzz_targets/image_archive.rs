//! libFuzzer target `image_archive`: runs `wclayer_fuzz::image_archive` on every input (its
//! invariants: the function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wclayer_fuzz::image_archive(data));

//! Gzips a file with `ParallelGzEncoder` and prints the time and the size, and the time
//! SHA-256 alone takes on it:
//! `gzfile FILE [BLOCK_KIB] [THREADS] [LEVEL]`.
// A measuring tool: its input is the one it is given on the command line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::{Read, Write};
use std::time::Instant;

use wclayer_compress::GzOptions;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: gzfile FILE [BLOCK_KIB] [THREADS] [LEVEL]");
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |a| a.parse().unwrap());
    let block = arg(2, 1024) * 1024;
    let threads = arg(3, 0);
    let level = u32::try_from(arg(4, 6)).unwrap();
    let mut data = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let start = Instant::now();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&data);
    let sha_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut gz = GzOptions::new()
        .level(flate2::Compression::new(level))
        .block_size(block)
        .threads(threads)
        .hash_input(true)
        .build(Vec::with_capacity(data.len()));
    for c in data.chunks(64 * 1024) {
        gz.write_all(c).unwrap();
    }
    let done = gz.finish_with_digest().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.input_sha256, Some(digest.into()));
    println!(
        "SHA-256 alone: {sha_secs:.3} s, {:.0} MB/s",
        data.len() as f64 / sha_secs / 1e6
    );
    println!(
        "block {} KiB, threads {threads}, level {level}: {:.3} s, {:.1} MB/s, {} bytes ({:.2} % of {})",
        block / 1024,
        secs,
        data.len() as f64 / secs / 1e6,
        done.inner.len(),
        done.inner.len() as f64 * 100.0 / data.len() as f64,
        data.len()
    );
}

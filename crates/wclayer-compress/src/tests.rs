use std::io::{self, Read, Write};

use flate2::Compression;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

/// Bytes that do not compress (xorshift).
fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// Bytes that compress well, with repeats further apart than a small block.
fn compressible(len: usize) -> Vec<u8> {
    let words: [&[u8]; 6] = [
        b"Windows/System32/",
        b"kernel32.dll ",
        b"\x00\x00\x00\x00",
        b"MSWINDOWS.rawsd=",
        b"Files/",
        b"LIBARCHIVE.creationtime=1600000000.123 ",
    ];
    let mut out = Vec::with_capacity(len);
    let mut i = 0usize;
    while out.len() < len {
        out.extend_from_slice(words[(i * 7 + i / 5) % words.len()]);
        out.extend_from_slice(i.to_string().as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn gzip(data: &[u8], opts: GzOptions, chunk: usize) -> Finished<Vec<u8>> {
    let mut gz = opts.build(Vec::new());
    for c in data.chunks(chunk.max(1)) {
        gz.write_all(c).unwrap();
    }
    gz.finish_with_digest().unwrap()
}

/// Decodes exactly one gzip member and checks nothing follows it.
fn gunzip_single(gz: &[u8]) -> Vec<u8> {
    let mut d = flate2::bufread::GzDecoder::new(gz);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert!(d.into_inner().is_empty(), "bytes after the gzip member");
    out
}

fn gunzip_multi(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn check_round_trip(data: &[u8], opts: GzOptions, chunk: usize) -> Vec<u8> {
    let done = gzip(data, opts.hash_input(true), chunk);
    assert_eq!(gunzip_single(&done.inner), data);
    assert_eq!(gunzip_multi(&done.inner), data);
    assert_eq!(done.input_len, data.len() as u64);
    assert_eq!(done.input_sha256, Some(Sha256::digest(data).into()));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    assert_eq!(done.crc32, crc.sum());
    done.inner
}

#[test]
fn sizes_around_the_block_size() {
    let bs = 4096;
    for len in [0, 1, bs - 1, bs, bs + 1, 5 * bs + 7, 40 * bs] {
        for data in [random(len, 7), compressible(len)] {
            let mut outputs = Vec::new();
            for threads in [1, 2, 3, 8] {
                let opts = GzOptions::new().block_size(bs).threads(threads);
                outputs.push(check_round_trip(&data, opts, 1000));
            }
            // The output does not depend on the number of threads.
            assert!(outputs.windows(2).all(|w| w[0] == w[1]), "len {len}");
        }
    }
}

#[test]
fn default_block_size_several_blocks() {
    let len = 3 * DEFAULT_BLOCK_SIZE + 5;
    for data in [random(len, 3), compressible(len)] {
        check_round_trip(&data, GzOptions::new(), 64 * 1024);
        check_round_trip(&data, GzOptions::new().threads(2), 777);
    }
}

#[test]
fn blocks_smaller_than_the_window() {
    // The dictionary then spans several earlier blocks.
    let data = compressible(100_000);
    for bs in [1, 10, 1000, 20_000] {
        check_round_trip(&data, GzOptions::new().block_size(bs).threads(4), 3333);
    }
}

#[test]
fn dictionary_is_used() {
    // A block that repeats the one before it (within the window) compresses to almost
    // nothing.
    let part = random(20_000, 11);
    let data = [part.clone(), part].concat();
    let gz = gzip(&data, GzOptions::new().block_size(20_000).threads(2), 4096);
    assert!(gz.inner.len() < 20_000 + 2000, "{}", gz.inner.len());
    assert_eq!(gunzip_single(&gz.inner), data);
}

#[test]
fn output_does_not_depend_on_threads_or_timing() {
    let data = compressible(60 * 4096);
    let opts = GzOptions::new().block_size(4096);
    let one = gzip(&data, opts.clone().threads(1), 5000).inner;
    for round in 0..6 {
        for threads in [2, 3, 8] {
            let many = gzip(&data, opts.clone().threads(threads), 1000 + round * 1500).inner;
            assert!(one == many, "threads {threads}, round {round}");
        }
    }
}

#[test]
fn compresses_like_a_single_stream() {
    let data = compressible(2 * 1024 * 1024);
    let ours = gzip(&data, GzOptions::new(), 1 << 16).inner;
    let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    single.write_all(&data).unwrap();
    let single = single.finish().unwrap();
    // Blocks of 128 KiB with a dictionary cost little against one stream.
    assert!(
        ours.len() as f64 <= single.len() as f64 * 1.05 + 1024.0,
        "{} vs {}",
        ours.len(),
        single.len()
    );
}

#[test]
fn header_as_flate2_writes_it() {
    for level in [0, 1, 2, 6, 8, 9] {
        let level = Compression::new(level);
        let ours = gzip(b"x", GzOptions::new().level(level), 1).inner;
        let mut theirs = flate2::write::GzEncoder::new(Vec::new(), level);
        theirs.write_all(b"x").unwrap();
        let theirs = theirs.finish().unwrap();
        assert_eq!(ours[..10], theirs[..10], "level {level:?}");
        // The trailer: CRC-32 and ISIZE.
        assert_eq!(ours[ours.len() - 8..], theirs[theirs.len() - 8..]);
    }
}

#[test]
fn every_level_round_trips() {
    let data = compressible(300_000);
    for level in 0..=9 {
        check_round_trip(
            &data,
            GzOptions::new()
                .level(Compression::new(level))
                .block_size(50_000)
                .threads(2),
            10_000,
        );
    }
}

#[test]
fn flush_ends_a_block_early() {
    let data = compressible(50_000);
    let mut gz = GzOptions::new()
        .block_size(16_384)
        .threads(2)
        .build(Vec::new());
    for (i, c) in data.chunks(3000).enumerate() {
        gz.write_all(c).unwrap();
        if i % 4 == 0 {
            gz.flush().unwrap();
        }
    }
    gz.flush().unwrap();
    gz.flush().unwrap();
    let out = gz.finish().unwrap();
    assert_eq!(gunzip_single(&out), data);
}

#[test]
fn finish_without_hash() {
    let done = gzip(b"abc", GzOptions::new().threads(2), 1);
    assert_eq!(done.input_sha256, None);
    assert_eq!(gunzip_single(&done.inner), b"abc");
    let out = ParallelGzEncoder::new(Vec::new(), Compression::fast())
        .finish()
        .unwrap();
    assert!(gunzip_single(&out).is_empty());
}

/// Accepts `budget` bytes, then fails (also the failing output of the pipelines' tests).
#[derive(Debug)]
pub(crate) struct Failing {
    pub(crate) budget: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn inner_errors_surface_and_stick() {
    let data = random(1 << 20, 5);
    for threads in [1, 2, 4] {
        let mut gz = GzOptions::new()
            .block_size(8192)
            .threads(threads)
            .hash_input(true)
            .build(Failing { budget: 100_000 });
        let err = data.chunks(4096).try_for_each(|c| gz.write_all(c));
        let err = err.expect_err("the inner writer fails");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        assert_eq!(
            gz.write(b"more").unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert_eq!(gz.flush().unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert_eq!(gz.finish().unwrap_err().kind(), io::ErrorKind::StorageFull);
    }
    // An error met only by the trailer.
    let gz = GzOptions::new().threads(2).build(Failing { budget: 12 });
    assert!(gz.finish().is_err());
}

#[test]
fn dropped_unfinished_stops_its_threads() {
    let mut gz = GzOptions::new()
        .block_size(1000)
        .threads(4)
        .hash_input(true)
        .build(Vec::new());
    gz.write_all(&random(100_000, 9)).unwrap();
    drop(gz);
}

#[test]
fn history_keeps_the_window() {
    let mut h = Vec::new();
    push_history(&mut h, &[1; 10]);
    assert_eq!(h, [1; 10]);
    push_history(&mut h, &vec![2; WINDOW - 4]);
    assert_eq!(h.len(), WINDOW);
    assert_eq!(h[..4], [1; 4]);
    push_history(&mut h, &vec![3; WINDOW + 1]);
    assert_eq!(h, vec![3; WINDOW]);
    push_history(&mut h, &[]);
    assert_eq!(h, vec![3; WINDOW]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips(
        data in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20_000),
            (0usize..60_000).prop_map(compressible),
        ],
        block_size in 1usize..9000,
        threads in 1usize..5,
        chunk in 1usize..5000,
    ) {
        let done = gzip(&data, GzOptions::new().block_size(block_size).threads(threads), chunk);
        prop_assert_eq!(gunzip_single(&done.inner), data);
    }
}

//! File contents with the compressibility of a Windows image.
//!
//! Three pools are generated once per layer from the seed, and every file is a window of
//! one of them, starting at a per-file offset and wrapping around: writing a file is a
//! copy, and no file is ever held in memory. The pools are far larger than gzip's 32 KiB
//! window, so a file compresses as its own bytes do.
//!
//! * Binary: 4 KiB blocks of four kinds, like the sections of a PE image: machine code
//!   (bytes drawn from a skewed distribution where `00`, `FF` and common opcodes dominate),
//!   padding (zeros with a few stray bytes), UTF-16 strings (resources, names) and packed
//!   data (pseudo-random: compressed resources, signatures, certificates). gzip -6 takes it
//!   to roughly half its size.
//! * Text: lines of words with CRLF endings, like `.inf`, `.mum`, `.psd1` and `.xml` files;
//!   it compresses well.
//! * Noise: pseudo-random bytes, for the WinSxS manifests (stored delta-compressed on
//!   Windows) and other already-compressed data; it does not compress.

use std::io::{self, Write};

use crate::names::{FRAGMENTS, WORDS};
use crate::rng::Rng;

/// Which pool a file's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// Executables, libraries, hives, catalogs.
    Binary,
    /// Text and XML.
    Text,
    /// Incompressible bytes.
    Noise,
}

const BLOCK: usize = 4096;
const BINARY_POOL: usize = 16 << 20;
const TEXT_POOL: usize = 2 << 20;
const NOISE_POOL: usize = 2 << 20;

/// Block kinds of the binary pool and their weights.
const CODE: usize = 0;
const PADDING: usize = 1;
const STRINGS: usize = 2;
const PACKED: usize = 3;
const BLOCK_WEIGHTS: [u32; 4] = [38, 24, 22, 16];

/// The pools of one layer.
pub(crate) struct Pools {
    binary: Vec<u8>,
    text: Vec<u8>,
    noise: Vec<u8>,
}

/// A byte map from uniform bytes to the skewed distribution of machine code.
fn code_table() -> [u8; 256] {
    // (byte, share of the 256 slots)
    const COMMON: &[(u8, usize)] = &[
        (0x00, 84),
        (0xFF, 13),
        (0x48, 11),
        (0x8B, 10),
        (0x89, 8),
        (0xCC, 7),
        (0xE8, 6),
        (0x0F, 6),
        (0x24, 6),
        (0x4C, 5),
        (0x85, 5),
        (0x44, 5),
        (0x01, 5),
        (0x10, 4),
        (0x08, 4),
        (0x20, 4),
        (0x40, 4),
        (0xC3, 4),
    ];
    let mut table = [0u8; 256];
    let mut at = 0;
    for &(byte, n) in COMMON {
        for _ in 0..n {
            table[at] = byte;
            at += 1;
        }
    }
    // The remaining slots: other byte values, once each, in a scattered order.
    let mut b: u8 = 3;
    while at < 256 {
        if !COMMON.iter().any(|&(c, _)| c == b) {
            table[at] = b;
            at += 1;
        }
        b = b.wrapping_add(41);
    }
    table
}

fn utf16_words(rng: &mut Rng, out: &mut Vec<u8>) {
    let start = out.len();
    while out.len() - start < BLOCK {
        let w = if rng.chance(0.5) {
            rng.pick(WORDS)
        } else {
            rng.pick(FRAGMENTS)
        };
        for c in w.encode_utf16() {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out.extend_from_slice(&[0, 0]);
        if rng.chance(0.3) {
            // String-table padding between entries.
            out.extend(std::iter::repeat_n(0u8, 2 * rng.index(8)));
        }
    }
    out.truncate(start + BLOCK);
}

fn binary_pool(rng: &mut Rng) -> Vec<u8> {
    let table = code_table();
    let mut out = Vec::with_capacity(BINARY_POOL);
    let mut block = [0u8; BLOCK];
    while out.len() < BINARY_POOL {
        match rng.weighted(&BLOCK_WEIGHTS) {
            CODE => {
                rng.fill(&mut block);
                for b in &mut block {
                    *b = table[usize::from(*b)];
                }
                out.extend_from_slice(&block);
            }
            PADDING => {
                block.fill(0);
                for _ in 0..rng.index(25) {
                    let at = rng.index(BLOCK);
                    block[at] = rng.next_u64() as u8;
                }
                out.extend_from_slice(&block);
            }
            STRINGS => utf16_words(rng, &mut out),
            _ => {
                debug_assert_eq!(PACKED, 3);
                rng.fill(&mut block);
                out.extend_from_slice(&block);
            }
        }
    }
    out
}

fn text_pool(rng: &mut Rng) -> Vec<u8> {
    const ENDINGS: &[&[u8]] = &[b"\r\n", b";\r\n", b" = 1\r\n", b"\" />\r\n", b"</Item>\r\n"];
    let mut out = Vec::with_capacity(TEXT_POOL + 256);
    while out.len() < TEXT_POOL {
        for _ in 0..rng.index(4) {
            out.extend_from_slice(b"  ");
        }
        let n = rng.range(3, 14);
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            let w = if rng.chance(0.6) {
                rng.pick(WORDS)
            } else {
                rng.pick(FRAGMENTS)
            };
            out.extend_from_slice(w.as_bytes());
        }
        let ending: &&[u8] = rng.pick(ENDINGS);
        out.extend_from_slice(ending);
    }
    out.truncate(TEXT_POOL);
    out
}

impl Pools {
    /// The pools for `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed, 2);
        let binary = binary_pool(&mut rng);
        let text = text_pool(&mut rng);
        let mut noise = vec![0u8; NOISE_POOL];
        rng.fill(&mut noise);
        Pools {
            binary,
            text,
            noise,
        }
    }

    /// The pool of `content`.
    pub(crate) fn pool(&self, content: Content) -> &[u8] {
        match content {
            Content::Binary => &self.binary,
            Content::Text => &self.text,
            Content::Noise => &self.noise,
        }
    }

    /// Writes `len` bytes of `content` starting at `offset` (taken modulo the pool size),
    /// wrapping around the end of the pool.
    pub(crate) fn write(
        &self,
        content: Content,
        offset: u64,
        len: u64,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let pool = self.pool(content);
        let size = pool.len() as u64;
        let mut at = (offset % size) as usize;
        let mut left = len;
        while left > 0 {
            let n = (pool.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
            out.write_all(&pool[at..at + n])?;
            left -= n as u64;
            at = 0;
        }
        Ok(())
    }
}

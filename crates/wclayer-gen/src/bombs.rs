//! Compressed bombs for [`crate::write_bomb`]: a small layer archive around one huge file of
//! zeros, gzip- or zstd-compressed without ever compressing (or holding) the zeros: the
//! compressed form of a piece of zeros is made once and repeated. Also the bomb cases of
//! [`crate::hostile_archives`].

use std::io::{self, Write};

use flate2::{Compress, Crc, FlushCompress, Status};

use crate::entry::{ARCHIVE, Body, Ent};
use crate::raw::{BLOCK, F_SIZE, Raw, TRAILER, set_base256, set_checksum, set_field};
use crate::{CaseLimits, Class, Compression, Expect, HostileArchive, HostileInput, LayerKind};

/// The file of zeros every bomb holds.
pub(crate) const BOMB_FILE: &str = "Files/zeros.bin";

/// The archive up to the data of [`BOMB_FILE`]: `Files`, then the PAX and main headers of a
/// regular file of `zeros` bytes (octal size field, or base-256 when octal is too small, as
/// GNU tar writes it).
pub(crate) fn prefix(zeros: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Raw::new()
        .win(vec![
            Ent::dir("Files"),
            Ent::file(BOMB_FILE, ARCHIVE, Body::Empty),
        ])?
        .open();
    let main = bytes.len() - BLOCK;
    let block = &mut bytes[main..];
    if zeros < 0o77_777_777_777 {
        set_field(block, F_SIZE, format!("{zeros:011o}").as_bytes());
    } else {
        set_base256(
            block,
            F_SIZE,
            i64::try_from(zeros).map_err(io::Error::other)?,
        );
    }
    set_checksum(&mut bytes, main);
    Ok(bytes)
}

/// Zero bytes after the prefix: the data, its padding, the end-of-archive marker.
fn zeros_after(zeros: u64) -> u64 {
    let block = BLOCK as u64;
    zeros.div_ceil(block) * block + TRAILER as u64
}

pub(crate) fn write(compression: Compression, zeros: u64, mut out: impl Write) -> io::Result<()> {
    let prefix = prefix(zeros)?;
    match compression {
        Compression::Gzip => gzip(&prefix, zeros_after(zeros), &mut out),
        Compression::Zstd => zstd(&prefix, zeros_after(zeros), &mut out),
    }
}

/// The piece of zeros compressed once and repeated.
const CHUNK: usize = 1 << 20;

/// gzip (RFC 1952): header, raw deflate, CRC-32 and length of everything. The deflate stream
/// is the prefix, then one fully flushed mebibyte of zeros repeated (a full flush resets the
/// compressor, so the piece refers to nothing before it and is valid anywhere after a flush),
/// then the remaining zeros with the final block. The CRC of the repeated zeros is combined,
/// not computed over them.
fn gzip(prefix: &[u8], zeros: u64, out: &mut impl Write) -> io::Result<()> {
    // ID1 ID2, CM deflate, no flags, no time, XFL 0, OS unknown.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
    let mut c = Compress::new(flate2::Compression::best(), false);
    out.write_all(&deflate(&mut c, prefix, FlushCompress::Full)?)?;
    let chunk = vec![0u8; CHUNK];
    let piece = deflate(&mut c, &chunk, FlushCompress::Full)?;
    let chunk_len = CHUNK as u64;
    let (pieces, tail) = (
        zeros / chunk_len,
        usize::try_from(zeros % chunk_len).unwrap_or(0),
    );
    let mut crc = Crc::new();
    crc.update(prefix);
    let mut chunk_crc = Crc::new();
    chunk_crc.update(&chunk);
    for _ in 0..pieces {
        out.write_all(&piece)?;
        crc.combine(&chunk_crc);
    }
    out.write_all(&deflate(&mut c, &chunk[..tail], FlushCompress::Finish)?)?;
    let mut tail_crc = Crc::new();
    tail_crc.update(&chunk[..tail]);
    crc.combine(&tail_crc);
    // ISIZE is the length modulo 2^32.
    let total = prefix.len() as u64 + zeros;
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&total.to_le_bytes()[..4])
}

/// Compresses `input` with `c` until `flush` is complete.
fn deflate(c: &mut Compress, mut input: &[u8], flush: FlushCompress) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 512 + 4096);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(64 << 10);
        }
        let before = c.total_in();
        let status = c
            .compress_vec(input, &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in() - before).map_err(io::Error::other)?;
        input = &input[consumed..];
        let room_left = out.len() < out.capacity();
        let done = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            _ => input.is_empty() && room_left,
        };
        if done {
            return Ok(out);
        }
    }
}

/// Largest zstd block (RFC 8878 §3.1.1.2.3, with the 128 KiB window below).
const ZSTD_BLOCK: usize = 128 << 10;

/// zstd (RFC 8878): one frame without content size or checksum, window 128 KiB
/// (`Window_Descriptor` 0x38: exponent 7, mantissa 0), the prefix in raw blocks, then the
/// zeros as run-length blocks of 128 KiB, the last one flagged.
fn zstd(prefix: &[u8], zeros: u64, out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])?;
    for piece in prefix.chunks(ZSTD_BLOCK) {
        out.write_all(&block_header(false, 0, piece.len()))?;
        out.write_all(piece)?;
    }
    let mut left = zeros;
    if left == 0 {
        return out.write_all(&block_header(true, 0, 0));
    }
    while left > 0 {
        let n = usize::try_from(left.min(ZSTD_BLOCK as u64)).map_err(io::Error::other)?;
        left -= n as u64;
        out.write_all(&block_header(left == 0, 1, n))?;
        out.write_all(&[0])?;
    }
    Ok(())
}

/// A zstd block header: 3 bytes little-endian, `Last_Block` in bit 0, `Block_Type` in bits
/// 1–2 (0 raw, 1 run-length), `Block_Size` above.
fn block_header(last: bool, kind: u32, size: usize) -> [u8; 3] {
    let size = u32::try_from(size).unwrap_or(0);
    let v = (size << 3) | (kind << 1) | u32::from(last);
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// The bomb cases of [`crate::hostile_archives`].
pub(crate) fn cases() -> Vec<HostileArchive> {
    let bomb = |name, compression, max_ratio, what| HostileArchive {
        name,
        class: Class::Bombs,
        kind: LayerKind::Base,
        expect: Expect::Refused { entry: BOMB_FILE },
        limits: CaseLimits {
            max_ratio,
            ..CaseLimits::default()
        },
        input: HostileInput::Bomb {
            compression,
            zeros: 8 << 30,
        },
        what,
    };
    vec![
        bomb(
            "zstd-bomb",
            Compression::Zstd,
            None,
            "a 260 KiB zstd stream of a layer holding 8 GiB of zeros (over 30 000:1): \
             refused by --max-ratio (1 000) once 1 GiB has come out",
        ),
        bomb(
            "gzip-bomb",
            Compression::Gzip,
            Some(100),
            "an 8 MiB gzip stream of a layer holding 8 GiB of zeros (about 1 000:1, gzip's \
             best): refused by --max-ratio 100 once 1 GiB has come out",
        ),
    ]
}

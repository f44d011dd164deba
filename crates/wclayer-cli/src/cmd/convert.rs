//! `wclayer convert`: import a layer tar into the in-memory layer and export it again.

use std::io::Write;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wclayer::crates::layer::{LayerReader, MemLayer, WalkMode};
use wclayer::crates::tar::archive::ArchiveReader;

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::{Output, open_input};

/// Arguments of `wclayer convert`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer tar to read (`.tar`, `.tar.gz` or `.tar.zst`; `-` for standard input).
    input: String,
    /// Where to write the normalised tar (`-` for standard output).
    output: String,
    /// Walk the layer as a base layer (`Files/`, then `UtilityVM/Files/`; no tombstones),
    /// whatever it contains.
    #[arg(long, conflicts_with = "delta")]
    base: bool,
    /// Walk the layer as a delta layer (everything, tombstones after their directory).
    /// Without `--base` or `--delta`, a layer with whiteouts is a delta layer.
    #[arg(long)]
    delta: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let input = open_input(&a.input, a.limits.max_ratio)?;
    let mut layer = MemLayer::new();
    let mut archive = ArchiveReader::new(input);
    wclayer::crates::tar::import_tar_limited(&mut archive, &mut layer, &a.limits.limits())
        .map_err(|e| with_hint(wclayer::Error::Tar(e)))
        .with_context(|| format!("cannot import {}", a.input))?;
    layer.set_walk_mode(match (a.base, a.delta) {
        (true, _) => Some(WalkMode::Base),
        (_, true) => Some(WalkMode::Delta),
        _ => None,
    });
    let out = Output::create(&a.output)?;
    let mut hashing = HashingWriter::new(out);
    let mut reader = layer.reader()?;
    wclayer::crates::tar::export_tar(&mut reader, &mut hashing)
        .with_context(|| format!("cannot export {}", a.output))?;
    reader.close()?;
    let HashingWriter { inner, hash, len } = hashing;
    inner.commit()?;
    eprintln!(
        "diffID sha256:{} ({len} bytes)",
        hex::encode(hash.finalize())
    );
    Ok(())
}

/// Counts and hashes what passes through, for the diffID.
pub(crate) struct HashingWriter<W> {
    pub(crate) inner: W,
    pub(crate) hash: Sha256,
    pub(crate) len: u64,
}

impl<W> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: Sha256::new(),
            len: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).ok_or_else(|| {
            std::io::Error::other("the output reported more bytes written than it was given")
        })?;
        self.hash.update(written);
        // A count of bytes written, which never comes near 2^64.
        self.len = self.len.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

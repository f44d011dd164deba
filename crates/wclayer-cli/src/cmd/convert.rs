//! `wclayer convert`: import a layer tar into the in-memory layer and export it again.

use std::io::Write;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wclayer::crates::layer::{LayerReader, MemLayer, WalkMode};
use wclayer::crates::tar::archive::ArchiveReader;

use crate::cmd::export::{TarFlags, write_tar};
use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::open_input;
use crate::report::{self, Channel};

/// Arguments of `wclayer convert`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer tar to read (`.tar`, `.tar.gz` or `.tar.zst`; `-` for standard input).
    input: String,
    /// Where to write the normalised tar (`-` for standard output, never a terminal). The
    /// name chooses the compression: `.tar.gz`/`.tgz` gzip, `.tar.zst` zstd, `.tar` none.
    output: String,
    /// Walk the layer as a base layer (`Files/`, then `UtilityVM/Files/`; no tombstones),
    /// whatever it contains.
    #[arg(long, conflicts_with = "delta")]
    base: bool,
    /// Walk the layer as a delta layer (everything, tombstones after their directory).
    /// Without `--base` or `--delta`, a layer with whiteouts is a delta layer.
    #[arg(long)]
    delta: bool,
    /// With `--base`, drop the layer's whiteouts (a base layer has none) instead of
    /// refusing; a warning says how many.
    #[arg(long, requires = "base")]
    drop_whiteouts: bool,
    #[command(flatten)]
    tar: TarFlags,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let compression = a.tar.prepare(&a.output)?;
    let mut input = open_input(&a.input, a.limits.max_ratio)?;
    if let Some(why) = input.sniff().not_a_layer() {
        anyhow::bail!("cannot convert {}: {why}", a.input);
    }
    let mut layer = MemLayer::new();
    let mut archive = ArchiveReader::new(input);
    wclayer::crates::tar::import_tar_limited(&mut archive, &mut layer, &a.limits.limits())
        .map_err(|e| with_hint(wclayer::Error::Tar(e)))
        .with_context(|| format!("cannot import {}", a.input))?;
    let whiteouts = layer.tombstone_count();
    if a.base && whiteouts > 0 {
        anyhow::ensure!(
            a.drop_whiteouts,
            "cannot convert {} as a base layer: it has {whiteouts} whiteouts, which a base \
             layer cannot hold; add --drop-whiteouts to leave them out",
            a.input
        );
        report::warn(&format!(
            "{}: left out {whiteouts} whiteouts (--drop-whiteouts)",
            a.input
        ));
    }
    layer.set_walk_mode(match (a.base, a.delta) {
        (true, _) => Some(WalkMode::Base),
        (_, true) => Some(WalkMode::Delta),
        _ => None,
    });
    let mut reader = layer
        .reader()
        .with_context(|| format!("cannot convert {}", a.input))?;
    let written = write_tar(&a.output, compression, a.tar.level, &mut |w| {
        wclayer::crates::tar::export_tar(&mut reader, w)
            .with_context(|| format!("cannot convert {}", a.input))?;
        Ok(())
    })?;
    reader.close()?;
    let json = a
        .tar
        .json
        .then(|| written.json(&a.output, ("input", a.input.clone())));
    report::result(Channel::beside(&a.output), json.as_ref(), &written.text());
    Ok(())
}

/// Counts and hashes what passes through, for the diffID.
pub(crate) struct HashingWriter<W> {
    pub(crate) inner: W,
    /// `None` when the caller has the digest already (an uncompressed export, whose digest
    /// is its diffID): the bytes are only counted.
    pub(crate) hash: Option<Sha256>,
    pub(crate) len: u64,
}

impl<W> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: Some(Sha256::new()),
            len: 0,
        }
    }

    /// A writer that only counts the bytes.
    pub(crate) fn counting(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: None,
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
        if let Some(h) = &mut self.hash {
            h.update(written);
        }
        // A count of bytes written, which never comes near 2^64.
        self.len = self.len.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

//! `wclayer export`: write a layer directory as an OCI layer tar, optionally compressed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use sha2::Digest;

use crate::cmd::convert::HashingWriter;
use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::{Output, WriteBehind, progress_bar};

/// Arguments of `wclayer export` (as hcsshim's `wclayer export`).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer directory.
    layer: PathBuf,
    /// Parent layer directories, nearest first. Accepted for compatibility with hcsshim's
    /// command; a layer directory written by `wclayer import` holds all it needs.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    /// Where to write the tar (`-` is standard output).
    #[arg(short, long, default_value = "-", conflicts_with = "folder")]
    output: String,
    /// Export into a new transport folder (hcsshim's `ExportLayer` format) instead of a tar.
    #[arg(long, value_name = "FOLDER", conflicts_with_all = ["gzip", "zstd"])]
    folder: Option<PathBuf>,
    /// Compress with gzip.
    #[arg(short = 'z', long, conflicts_with = "zstd")]
    gzip: bool,
    /// Compress with zstd.
    #[arg(long)]
    zstd: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    for p in &a.parents {
        anyhow::ensure!(
            p.is_dir(),
            "parent layer {} is not a directory",
            p.display()
        );
    }
    if let Some(folder) = &a.folder {
        wclayer::export_layer(&a.layer, folder, &a.parents).with_context(|| {
            format!(
                "cannot export {} into {}",
                a.layer.display(),
                folder.display()
            )
        })?;
        return Ok(());
    }
    let out = Output::create(&a.output)?;
    let compressed = HashingWriter::new(out);
    let (compressed, diff_id) = if a.gzip {
        // The workers deflate the tar while its SHA-256 (the diffID) runs on a thread of its
        // own, fed the same blocks; this thread produces the tar, hashes the compressed
        // bytes (the digest) and writes them.
        let gz = wclayer_compress::GzOptions::new()
            .level(flate2::Compression::default())
            .hash_input(true)
            .build(compressed);
        let gz = export_plain(gz, a)?;
        let done = gz
            .finish_with_digest()
            .context("cannot finish the gzip stream")?;
        let diff_id = done
            .input_sha256
            .context("the gzip encoder computed no diffID")?;
        (done.inner, hex::encode(diff_id))
    } else if a.zstd {
        let mut z = zstd::Encoder::new(compressed, 3)?;
        z.multithread(
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1)),
        )?;
        let (z, d) = export_behind(z, a)?;
        (z.finish().context("cannot finish the zstd stream")?, d)
    } else {
        export_behind(compressed, a)?
    };
    let HashingWriter { inner, hash, len } = compressed;
    inner.commit()?;
    eprintln!("diffID sha256:{diff_id}");
    if a.gzip || a.zstd {
        eprintln!(
            "digest sha256:{} ({len} bytes)",
            hex::encode(hash.finalize())
        );
    }
    Ok(())
}

/// Exports the layer into `w`; the uncompressed tar is hashed and written into `w` on a
/// thread of its own ([`WriteBehind`]). Returns `w` and the diffID.
fn export_behind<W: Write + Send + 'static>(w: W, a: &Args) -> Result<(W, String)> {
    let behind = WriteBehind::spawn(w).context("cannot start the output thread")?;
    let behind = export_plain(behind, a)?;
    behind.finish().context("cannot write the output")
}

/// Exports the layer into `w` with a progress display; returns `w`.
fn export_plain<W: Write>(w: W, a: &Args) -> Result<W> {
    let bar = progress_bar("exporting");
    let progress = Progress {
        inner: w,
        bar: bar.clone(),
    };
    let (progress, _stats) =
        wclayer::export_layer_to_tar_with_stats(progress, &a.layer, &a.parents, &a.limits.limits())
            .map_err(with_hint)
            .with_context(|| format!("cannot export {}", a.layer.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(progress.inner)
}

/// Advances a progress display by the bytes written through it.
struct Progress<W> {
    inner: W,
    bar: Option<indicatif::ProgressBar>,
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

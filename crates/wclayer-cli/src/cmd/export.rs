//! `wclayer export`: write a layer directory as an OCI layer tar, optionally compressed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use sha2::Digest;

use crate::cmd::convert::HashingWriter;
use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::{Compression, Output, WriteBehind, check_output, progress_bar};
use crate::report::{self, Channel};

/// Arguments of `wclayer export` (as hcsshim's `wclayer export`).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer directory.
    layer: PathBuf,
    /// Parent layer directories, nearest first. Accepted for compatibility with hcsshim's
    /// command; a layer directory written by `wclayer import` holds all it needs.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    /// Where to write the tar (`-` is standard output, never a terminal). The name chooses
    /// the compression: `.tar.gz`/`.tgz` gzip, `.tar.zst` zstd, `.tar` none.
    #[arg(short, long, default_value = "-", conflicts_with = "folder")]
    output: String,
    #[command(flatten)]
    tar: TarFlags,
    /// Export into a new transport folder (hcsshim's `ExportLayer` format) instead of a tar.
    #[arg(long, value_name = "FOLDER", conflicts_with_all = ["gzip", "zstd"])]
    folder: Option<PathBuf>,
    /// Read the layer where Windows keeps it, through the Host Compute Service and the
    /// backup APIs, exactly as hcsshim's `wclayer export` does (Windows only, as an
    /// administrator; docs/windows.md).
    #[arg(long)]
    hcs: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    if a.hcs {
        crate::cmd::import::hcs::check_available()?;
    }
    for p in &a.parents {
        anyhow::ensure!(
            p.is_dir(),
            "parent layer {} is not a directory",
            p.display()
        );
    }
    if let Some(folder) = &a.folder {
        let exported = if a.hcs {
            crate::cmd::import::hcs::export_folder(&a.layer, folder, &a.parents)
        } else {
            wclayer::export_layer(&a.layer, folder, &a.parents).map_err(anyhow::Error::from)
        };
        exported.with_context(|| {
            format!(
                "cannot export {} into {}",
                a.layer.display(),
                folder.display()
            )
        })?;
        let json = a.tar.json.then(|| {
            json!({"layer": a.layer.display().to_string(), "folder": folder.display().to_string()})
        });
        report::result(
            Channel::Stdout,
            json.as_ref(),
            &format!("exported {} into {}", a.layer.display(), folder.display()),
        );
        return Ok(());
    }
    let compression = a.tar.prepare(&a.output)?;
    anyhow::ensure!(
        a.layer.is_dir(),
        "cannot export {}: no such layer directory",
        a.layer.display()
    );
    let written = write_tar(&a.output, compression, a.tar.level, &mut |w| {
        if a.hcs {
            crate::cmd::import::hcs::export_tar(w, &a.layer, &a.parents)
        } else {
            wclayer::export_layer_to_tar_with_stats(w, &a.layer, &a.parents, &a.limits.limits())
                .map(drop)
                .map_err(with_hint)
        }
        .with_context(|| format!("cannot export {}", a.layer.display()))?;
        Ok(())
    })?;
    let json = a
        .tar
        .json
        .then(|| written.json(&a.output, ("layer", a.layer.display().to_string())));
    report::result(Channel::beside(&a.output), json.as_ref(), &written.text());
    Ok(())
}

/// The flags of every command that writes a layer tar: compression, `--force`, `--json`
/// (docs/cli.md, "Outputs" and "Results").
#[derive(clap::Args, Debug)]
pub(crate) struct TarFlags {
    /// Compress with gzip (also chosen by an output named `.tar.gz` or `.tgz`).
    #[arg(short = 'z', long, conflicts_with = "zstd")]
    pub(crate) gzip: bool,
    /// Compress with zstd (also chosen by an output named `.tar.zst`).
    #[arg(long)]
    pub(crate) zstd: bool,
    /// The compression level: gzip 1 (fastest) to 9 (smallest), default 3; zstd 1 to 19,
    /// default 3. The uncompressed tar, and so the diffID, never depends on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=19))]
    pub(crate) level: Option<u32>,
    /// Replace an existing output file.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print the result as one JSON object (diffID, digest, sizes, media type, counts).
    #[arg(long)]
    pub(crate) json: bool,
}

impl TarFlags {
    /// Checks, before any work, that the flags and `output` agree and that `output` may be
    /// written; returns its compression.
    pub(crate) fn prepare(&self, output: &str) -> Result<Compression> {
        let compression = Compression::choose(output, self.gzip, self.zstd)?;
        if let Some(l) = self.level {
            anyhow::ensure!(
                compression != Compression::None,
                "--level {l} was given, but {output} is not compressed"
            );
            anyhow::ensure!(
                compression != Compression::Gzip || l <= 9,
                "--level {l}: gzip levels are 1 to 9"
            );
        }
        check_output(output, self.force)?;
        Ok(compression)
    }
}

/// What [`write_tar`] wrote.
pub(crate) struct Written {
    compression: Compression,
    /// The SHA-256 of the uncompressed tar (hexadecimal).
    diff_id: String,
    /// Bytes of the uncompressed tar.
    size: u64,
    /// The SHA-256 of the output as written (hexadecimal).
    digest: String,
    /// Bytes of the output as written.
    len: u64,
}

impl Written {
    /// The result as JSON (docs/cli.md, "Results"), with `what` (the layer or the input
    /// it was made from).
    pub(crate) fn json(&self, output: &str, what: (&str, String)) -> serde_json::Value {
        json!({
            what.0: what.1,
            "output": output,
            "media_type": self.compression.media_type(),
            "diff_id": format!("sha256:{}", self.diff_id),
            "size": self.size,
            "digest": format!("sha256:{}", self.digest),
            "compressed_size": self.len,
        })
    }

    /// The result as text: the diffID, and the digest of a compressed output, with sizes.
    pub(crate) fn text(&self) -> String {
        let mut text = format!("diffID sha256:{} ({} bytes)", self.diff_id, self.size);
        if self.compression != Compression::None {
            text.push_str(&format!(
                "\ndigest sha256:{} ({} bytes)",
                self.digest, self.len
            ));
        }
        text
    }
}

/// Writes the tar `produce` makes to `output` (`-`: standard output) with `compression`,
/// hashing the tar (the diffID) and what is written (the digest) on the way. The output
/// file appears only when everything succeeded.
pub(crate) fn write_tar(
    output: &str,
    compression: Compression,
    level: Option<u32>,
    produce: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<Written> {
    let out = Output::create(output)?;
    // An uncompressed output's digest is its diffID, hashed once on the way.
    let compressed = if matches!(compression, Compression::None) {
        HashingWriter::counting(out)
    } else {
        HashingWriter::new(out)
    };
    let (compressed, diff_id, size) = match compression {
        Compression::Gzip => {
            // The workers deflate the tar while its SHA-256 (the diffID) runs on a thread
            // of its own, fed the same blocks; this thread produces the tar, hashes the
            // compressed bytes (the digest) and writes them.
            let gz = wclayer_compress::GzOptions::new()
                .level(flate2::Compression::new(
                    level.unwrap_or(wclayer_compress::GZIP_LEVEL),
                ))
                .hash_input(true)
                .build(compressed);
            let (gz, size) = with_progress(gz, produce)?;
            let done = gz
                .finish_with_digest()
                .context("cannot finish the gzip stream")?;
            let diff_id = done
                .input_sha256
                .context("the gzip encoder computed no diffID")?;
            (done.inner, hex::encode(diff_id), size)
        }
        Compression::Zstd => {
            let level = level.map_or(Ok(wclayer_compress::ZSTD_LEVEL), i32::try_from)?;
            let mut z = zstd::Encoder::new(compressed, level)?;
            z.multithread(
                std::thread::available_parallelism()
                    .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1)),
            )?;
            let (z, d, size) = behind(z, produce)?;
            (
                z.finish().context("cannot finish the zstd stream")?,
                d,
                size,
            )
        }
        Compression::None => behind(compressed, produce)?,
    };
    let HashingWriter { inner, hash, len } = compressed;
    inner.commit()?;
    let digest = hash.map_or_else(|| diff_id.clone(), |h| hex::encode(h.finalize()));
    Ok(Written {
        compression,
        diff_id,
        size,
        digest,
        len,
    })
}

/// Runs `produce` into `w`; the uncompressed tar is hashed and written into `w` on a thread
/// of its own ([`WriteBehind`]). Returns `w`, the diffID and the size of the tar.
fn behind<W: Write + Send + 'static>(
    w: W,
    produce: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<(W, String, u64)> {
    let behind = WriteBehind::spawn(w).context("cannot start the output thread")?;
    let (behind, size) = with_progress(behind, produce)?;
    let (w, d) = behind.finish().context("cannot write the output")?;
    Ok((w, hex::encode(d), size))
}

/// Runs `produce` into `w` with a progress display; returns `w` and the bytes of the tar.
fn with_progress<W: Write>(
    w: W,
    produce: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<(W, u64)> {
    let bar = progress_bar("exporting");
    let mut progress = Progress {
        inner: w,
        bar: bar.clone(),
        written: 0,
    };
    produce(&mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((progress.inner, progress.written))
}

/// Advances a progress display by the bytes written through it.
struct Progress<W> {
    inner: W,
    bar: Option<indicatif::ProgressBar>,
    written: u64,
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written = self.written.saturating_add(n as u64);
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

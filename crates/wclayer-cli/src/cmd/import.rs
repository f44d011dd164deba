//! `wclayer import`: apply an OCI layer tar into a new layer directory.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::{open_input, progress_reader};
use crate::report::{self, Channel};

/// Arguments of `wclayer import` (as hcsshim's `wclayer import`).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer directory to create; it must not exist. It appears only when the import
    /// is complete.
    layer: PathBuf,
    /// A parent layer directory; repeat for each, nearest parent first, base layer last.
    /// Without parents the layer is a base layer (and cannot have whiteouts).
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    /// The layer tar (`.tar`, `.tar.gz` or `.tar.zst`, detected; `-` is standard input).
    #[arg(short, long, default_value = "-", conflicts_with = "folder")]
    input: String,
    /// Import a transport folder (hcsshim's `ImportLayer` format) instead of a tar.
    #[arg(long, value_name = "FOLDER")]
    folder: Option<PathBuf>,
    /// Print the result as one JSON object (layer, diffID, counts) on standard output.
    #[arg(long)]
    json: bool,
    /// Write the layer where Windows expects it, through the Host Compute Service and the
    /// backup APIs, exactly as hcsshim's `wclayer import` does (Windows only, as an
    /// administrator; docs/windows.md). The directory may exist if it is empty.
    #[arg(long)]
    hcs: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    if a.hcs {
        hcs::check_available()?;
    }
    // As hcsshim's ImportLayerFromTar, create the directories leading to the layer; a
    // failed import removes again those it created.
    let created = create_parents(&a.layer)?;
    crate::signals::created_dirs(&created);
    let r = import(a);
    if r.is_err() {
        for d in created.iter().rev() {
            // Only while empty: never more than this command made.
            let _ = std::fs::remove_dir(d);
        }
    }
    r
}

/// Creates the missing directories leading to `layer`; returns them, outermost first.
fn create_parents(layer: &std::path::Path) -> Result<Vec<PathBuf>> {
    let Some(dir) = layer.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(Vec::new());
    };
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(std::path::Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(missing.into_iter().rev().collect())
}

fn import(a: &Args) -> Result<()> {
    if let Some(folder) = &a.folder {
        if a.hcs {
            hcs::import_folder(&a.layer, folder, &a.parents)?;
        } else {
            wclayer::import_layer_limited(&a.layer, folder, &a.parents, &a.limits.limits())
                .map_err(with_hint)
                .with_context(|| {
                    format!(
                        "cannot import {} into {}",
                        folder.display(),
                        a.layer.display()
                    )
                })?;
        }
        let json = a.json.then(|| {
            json!({"layer": a.layer.display().to_string(), "folder": folder.display().to_string()})
        });
        report::result(
            Channel::Stdout,
            json.as_ref(),
            &format!("imported {} into {}", folder.display(), a.layer.display()),
        );
        return Ok(());
    }
    let cannot = || format!("cannot import {} into {}", a.input, a.layer.display());
    // Its errors name the input already.
    let mut input = open_input(&a.input, a.limits.max_ratio)?;
    // What cannot be a Windows layer is refused before anything is created, with what it
    // looks like (docs/cli.md, "Inputs").
    let sniff = input.sniff();
    if let Some(why) = sniff.not_a_layer() {
        anyhow::bail!("{}: {why}", cannot());
    }
    let limits = a.limits.limits();
    let stats = if a.hcs {
        hcs::import_tar(progress_reader(&mut input, "importing"), a, &limits)
            .with_context(cannot)?
    } else {
        import_dir(progress_reader(&mut input, "importing"), a, &limits).with_context(cannot)?
    };
    // The layer is complete and in place; what follows the archive's end only completes
    // the diffID, and a fault there (a damaged gzip trailer) costs the diffID, not the layer.
    let diff_id = input.finish();
    let diff_id = match diff_id {
        Ok(d) => Some(format!("sha256:{d}")),
        Err(e) => {
            report::warn(&format!(
                "{}: cannot read past the archive's end ({e}); no diffID",
                a.input
            ));
            None
        }
    };
    let json = a.json.then(|| {
        json!({
            "layer": a.layer.display().to_string(),
            "input": a.input,
            "diff_id": diff_id,
            "entries": stats.files,
            "hard_links": stats.links,
            "tombstones": stats.tombstones,
            "file_bytes": stats.total_size,
        })
    });
    let mut text = format!(
        "imported {} entries, {} hard links, {} tombstones ({} bytes of file data) into {}",
        stats.files,
        stats.links,
        stats.tombstones,
        stats.total_size,
        a.layer.display()
    );
    if let Some(d) = &diff_id {
        text.push_str(&format!("\ndiffID {d}"));
    }
    report::result(Channel::Stdout, json.as_ref(), &text);
    Ok(())
}

/// Imports into a wclayer layer directory (every system).
fn import_dir(
    r: impl std::io::Read,
    a: &Args,
    limits: &wclayer::Limits,
) -> Result<wclayer::ImportStats> {
    wclayer::import_layer_from_tar_with_stats(r, &a.layer, &a.parents, limits).map_err(|e| {
        if matches!(e.model(), Some(wclayer::crates::layer::Error::NoFiles)) {
            anyhow::anyhow!("a base layer needs a Files directory, and the tar has no Files/")
        } else {
            with_hint(e)
        }
    })
}

/// `--hcs`: the Windows back end (docs/windows.md).
#[cfg(windows)]
pub(crate) mod hcs {
    use std::path::{Path, PathBuf};

    use anyhow::{Context, Result};
    use wclayer::windows::Win32Host;

    /// Enables the backup and restore privileges the back end needs.
    pub(crate) fn check_available() -> Result<()> {
        Win32Host::enable_privileges()
            .context("--hcs needs the backup and restore privileges (run as an administrator)")
    }

    /// hcsshim `ImportLayerFromTar`.
    pub(crate) fn import_tar(
        r: impl std::io::Read,
        a: &super::Args,
        limits: &wclayer::Limits,
    ) -> Result<wclayer::ImportStats> {
        Ok(wclayer::windows::import_layer_from_tar(
            &Win32Host, r, &a.layer, &a.parents, limits,
        )?)
    }

    /// hcsshim `ImportLayer`: HCS imports a transport folder.
    pub(crate) fn import_folder(layer: &Path, folder: &Path, parents: &[PathBuf]) -> Result<()> {
        wclayer::windows::import_layer(&Win32Host, layer, folder, parents).with_context(|| {
            format!(
                "cannot import {} into {}",
                folder.display(),
                layer.display()
            )
        })
    }

    /// hcsshim `ExportLayer`: HCS writes the layer as a transport folder.
    pub(crate) fn export_folder(layer: &Path, folder: &Path, parents: &[PathBuf]) -> Result<()> {
        Ok(wclayer::windows::export_layer(
            &Win32Host, layer, folder, parents,
        )?)
    }

    /// hcsshim `ExportLayerToTar`.
    pub(crate) fn export_tar(
        w: &mut dyn std::io::Write,
        layer: &Path,
        parents: &[PathBuf],
    ) -> Result<()> {
        wclayer::windows::export_layer_to_tar(Win32Host, w, layer, parents)?;
        Ok(())
    }
}

/// `--hcs` on a system without the Host Compute Service: refused before anything is done.
#[cfg(not(windows))]
pub(crate) mod hcs {
    use std::path::{Path, PathBuf};

    use anyhow::Result;

    const WHY: &str = "--hcs needs Windows: it writes and reads layers through the Host \
        Compute Service and the backup APIs (docs/windows.md); without it, wclayer keeps \
        layers in its own directory format";

    /// Refuses: there is no Host Compute Service here.
    pub(crate) fn check_available() -> Result<()> {
        anyhow::bail!(WHY)
    }

    /// Never reached: [`check_available`] refused first.
    pub(crate) fn import_tar(
        _: impl std::io::Read,
        _: &super::Args,
        _: &wclayer::Limits,
    ) -> Result<wclayer::ImportStats> {
        anyhow::bail!(WHY)
    }

    /// Never reached: [`check_available`] refused first.
    pub(crate) fn import_folder(_: &Path, _: &Path, _: &[PathBuf]) -> Result<()> {
        anyhow::bail!(WHY)
    }

    /// Never reached: [`check_available`] refused first.
    pub(crate) fn export_folder(_: &Path, _: &Path, _: &[PathBuf]) -> Result<()> {
        anyhow::bail!(WHY)
    }

    /// Never reached: [`check_available`] refused first.
    pub(crate) fn export_tar(_: &mut dyn std::io::Write, _: &Path, _: &[PathBuf]) -> Result<()> {
        anyhow::bail!(WHY)
    }
}

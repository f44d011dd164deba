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
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
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
        wclayer::import_layer_limited(&a.layer, folder, &a.parents, &a.limits.limits())
            .map_err(with_hint)
            .with_context(|| {
                format!(
                    "cannot import {} into {}",
                    folder.display(),
                    a.layer.display()
                )
            })?;
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
    let stats = wclayer::import_layer_from_tar_with_stats(
        progress_reader(&mut input, "importing"),
        &a.layer,
        &a.parents,
        &a.limits.limits(),
    )
    .map_err(|e| {
        if matches!(e.model(), Some(wclayer::crates::layer::Error::NoFiles)) {
            anyhow::anyhow!("a base layer needs a Files directory, and the tar has no Files/")
        } else {
            with_hint(e)
        }
    })
    .with_context(cannot)?;
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

//! `wclayer flatten`: a chain of layer directories as one base layer: its merged view
//! (docs/chain.md) exported as a layer tar, or written as a new layer directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use wclayer::chain::ChainReader;

use crate::cmd::cat::open_chain;
use crate::cmd::export::{TarFlags, write_tar};
use crate::cmd::limits::{LimitArgs, with_hint};
use crate::report::{self, Channel};

/// Arguments of `wclayer flatten`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The top layer directory of the chain.
    layer: PathBuf,
    /// Parent layer directories, nearest first, base layer last.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    /// Where to write the base layer tar (`-` is standard output, never a terminal). The
    /// name chooses the compression: `.tar.gz`/`.tgz` gzip, `.tar.zst` zstd, `.tar` none.
    #[arg(short, long, default_value = "-", conflicts_with = "layer_dir")]
    output: String,
    #[command(flatten)]
    tar: TarFlags,
    /// Write a new base layer directory instead of a tar.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["gzip", "zstd", "force"])]
    layer_dir: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let top = a.layer.display().to_string();
    if let Some(dir) = &a.layer_dir {
        let mut view = open_chain(&top, &a.parents, &a.limits)?;
        let mut w = wclayer::new_layer_writer(dir, &[])
            .with_context(|| format!("cannot create layer {}", dir.display()))?;
        let stats = wclayer::copy_layer(&mut view, &mut w)
            .map_err(|e| with_hint(wclayer::Error::Layer(e)))
            .with_context(|| format!("cannot flatten {top} into {}", dir.display()))?;
        warn_hives(&view);
        let json = a.tar.json.then(|| {
            json!({"layer": top, "layer_dir": dir.display().to_string(),
                "entries": stats.files, "hard_links": stats.links})
        });
        report::result(
            Channel::Stdout,
            json.as_ref(),
            &format!(
                "flattened {top} into {}: {} entries, {} hard links",
                dir.display(),
                stats.files,
                stats.links
            ),
        );
        return Ok(());
    }
    let compression = a.tar.prepare(&a.output)?;
    // Opened once here, so that a missing layer fails before the output is created.
    let mut view = Some(open_chain(&top, &a.parents, &a.limits)?);
    let mut done: Option<ChainReader> = None;
    let written = write_tar(&a.output, compression, a.tar.level, &mut |w| {
        let mut r = view.take().context("the chain was already exported")?;
        wclayer::crates::tar::export_tar(&mut r, w)
            .map_err(|e| with_hint(wclayer::Error::Tar(e)))
            .with_context(|| format!("cannot flatten {top}"))?;
        done = Some(r);
        Ok(())
    })?;
    if let Some(r) = &done {
        warn_hives(r);
    }
    let json = a
        .tar
        .json
        .then(|| written.json(&a.output, ("layer", top.clone())));
    report::result(Channel::beside(&a.output), json.as_ref(), &written.text());
    Ok(())
}

/// Warns about the registry hive deltas the merged view leaves out (docs/chain.md, "Hives").
fn warn_hives(view: &ChainReader) {
    for (i, n) in view.hive_entries().iter().enumerate() {
        if *n > 0 {
            let layer = view
                .layer_path(i)
                .map_or_else(String::new, |p: &Path| p.display().to_string());
            report::warn(&format!(
                "{layer}: {n} entries under Hives/ (registry hive deltas) are not applied; the \
                 flattened layer has the hive files of Files/Windows/System32/config as the \
                 chain's layers have them"
            ));
        }
    }
}

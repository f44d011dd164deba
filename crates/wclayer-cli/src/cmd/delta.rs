//! `wclayer delta`: the delta layer that turns the merged view of parent layer directories
//! into a new tree, a host directory or a layer directory (docs/delta.md).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use wclayer::LayerReader;
use wclayer::delta::{NewTree, delta_mem_layer, is_layer_dir, own_parents};

use crate::cmd::create::{MakeArgs, options};
use crate::cmd::export::{TarFlags, write_tar};
use crate::cmd::limits::LimitArgs;
use crate::report::{self, Channel};

/// Arguments of `wclayer delta`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The new tree: a host directory (the new content of `Files`, or of `--prefix`), or a
    /// layer directory (with `--new-parent`, or over the same parents unless it is a base
    /// layer).
    new: PathBuf,
    /// Parent layer directories, nearest first, base layer last: their merged view is the
    /// old tree, and the delta goes over them.
    #[arg(short = 'l', long = "layer", value_name = "PARENT", required = true)]
    parents: Vec<PathBuf>,
    /// The parents of NEW when it is a layer directory, nearest first (default: none for a
    /// base layer, else the `-l` parents).
    #[arg(long = "new-parent", value_name = "P")]
    new_parents: Vec<PathBuf>,
    #[command(flatten)]
    make: MakeArgs,
    /// Where to write the tar (`-` is standard output, never a terminal). The name chooses
    /// the compression: `.tar.gz`/`.tgz` gzip, `.tar.zst` zstd, `.tar` none.
    #[arg(short, long, default_value = "-")]
    output: String,
    #[command(flatten)]
    tar: TarFlags,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let compression = a.tar.prepare(&a.output)?;
    for p in a.parents.iter().chain(&a.new_parents) {
        anyhow::ensure!(
            p.is_dir(),
            "parent layer {} is not a directory",
            p.display()
        );
    }
    let shown = a.new.display().to_string();
    anyhow::ensure!(a.new.is_dir(), "{shown} is not a directory");
    let what = || format!("cannot make the delta to {shown}");
    let new = if is_layer_dir(&a.new) {
        if let Some(flag) = a.make.first_given() {
            anyhow::bail!(
                "{flag} applies to a host directory; {shown} is a layer directory, whose \
                 metadata is its own"
            );
        }
        let parents = if a.new_parents.is_empty() {
            own_parents(&a.new, &a.parents).with_context(what)?
        } else {
            a.new_parents.clone()
        };
        NewTree::Layer {
            top: a.new.clone(),
            parents,
        }
    } else {
        anyhow::ensure!(
            a.new_parents.is_empty(),
            "--new-parent applies to a layer directory; {shown} is a host directory"
        );
        NewTree::Host {
            root: a.new.clone(),
            options: options(&a.make)?,
        }
    };
    let (mut layer, stats) =
        delta_mem_layer(&a.parents, &new, &a.limits.limits()).with_context(what)?;
    let mut reader = layer.reader().with_context(what)?;
    let written = write_tar(&a.output, compression, a.tar.level, &mut |w| {
        wclayer::crates::tar::export_tar(&mut reader, w).with_context(what)?;
        Ok(())
    })?;
    reader.close()?;
    if stats.hive_entries > 0 {
        report::warn(&format!(
            "{shown}: {} entries under Hives/ (registry hive deltas) are not part of the \
             merged views, and the delta leaves them out",
            stats.hive_entries
        ));
    }
    let json = a.tar.json.then(|| {
        let mut v = written.json(&a.output, ("new", shown.clone()));
        if let Some(o) = v.as_object_mut() {
            o.insert("added".into(), json!(stats.added));
            o.insert("changed".into(), json!(stats.changed));
            o.insert("tombstones".into(), json!(stats.tombstones));
            o.insert("hard_links".into(), json!(stats.hard_links));
        }
        v
    });
    let counts = if stats.is_empty() {
        format!("no differences: the delta from the parents to {shown} is empty")
    } else {
        format!(
            "delta to {shown}: {} added, {} changed, {} tombstones",
            stats.added, stats.changed, stats.tombstones
        )
    };
    let text = format!("{counts}\n{}", written.text());
    report::result(Channel::beside(&a.output), json.as_ref(), &text);
    Ok(())
}

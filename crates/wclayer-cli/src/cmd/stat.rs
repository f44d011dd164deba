//! `wclayer stat`: one entry's metadata, as `ls --long` shows it, from a layer or a chain's
//! merged view (then with the layer that supplies it).

use std::io::Write;

use anyhow::Result;

use crate::cmd::cat::{EntryArgs, with_entry};
use crate::cmd::ls::{Shown, write_entry};

/// Arguments of `wclayer stat`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    entry: EntryArgs,
    /// The entry as one JSON object, with the fields of `ls --json` (and `layer`, the layer
    /// directory that supplies it in a chain).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    with_entry(&a.entry, &mut |r, found| {
        let links = r.link_info()?.number_of_links;
        let mut out = std::io::BufWriter::new(crate::io::Stdout::new());
        let shown = Shown {
            name: &found.name,
            size: found.size,
            info: &found.info,
            links,
            link_of: None,
            layer: found.layer.clone(),
        };
        write_entry(r, &shown, true, a.json, &mut out)?;
        out.flush()?;
        Ok(())
    })
}

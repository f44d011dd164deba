//! `wclayer store ls|rm|prune`: what a store of unpacked images holds, and taking it away
//! (docs/images.md, "Managing a store").

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use wclayer_image::store::{Removed, Store};

use crate::report::{self, Channel};

/// Arguments of `wclayer store`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the images unpacked into a store, and the layers no image uses.
    Ls {
        /// The store (as `wclayer unpack` made it).
        store: PathBuf,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Remove images from a store, and the layers no remaining image uses.
    Rm {
        /// The store.
        store: PathBuf,
        /// An image as `store ls` shows it: its reference (every record of it), or its id
        /// (`sha256:HEX`, or 12 or more of its first hexadecimal digits).
        #[arg(required = true)]
        images: Vec<String>,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Remove the layers no image in the store uses (left by failed unpacks or by `rm`).
    Prune {
        /// The store.
        store: PathBuf,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(a: &Args) -> Result<()> {
    match &a.command {
        Command::Ls { store, json } => ls(store, *json),
        Command::Rm {
            store,
            images,
            json,
        } => {
            let mut s = Store::open_existing(store)?;
            s.lock_to_change()?;
            let removed = s.remove_images(images)?;
            removal(&s, &removed, *json)
        }
        Command::Prune { store, json } => {
            let mut s = Store::open_existing(store)?;
            s.lock_to_change()?;
            let removed = s.prune()?;
            removal(&s, &removed, *json)
        }
    }
}

fn ls(path: &std::path::Path, json: bool) -> Result<()> {
    let store = Store::open_existing(path)?;
    let images = store.images()?;
    let layers = store.layer_ids()?;
    let unused = Store::unused_layers(&images, &layers);
    if json {
        let v = json!({
            "store": path.display().to_string(),
            "images": images.iter().map(|i| i.to_json(&store)).collect::<Vec<_>>(),
            "layers": layers.len(),
            "unused": unused.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        report::result(Channel::Stdout, Some(&v), "");
        return Ok(());
    }
    let rows: Vec<[String; 4]> = images
        .iter()
        .map(|i| {
            [
                i.name.clone(),
                i.id.hex().chars().take(12).collect(),
                i.platform.to_string(),
                i.chain_ids.len().to_string(),
            ]
        })
        .collect();
    let header = ["IMAGE", "ID", "PLATFORM", "LAYERS"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} in {}, {}",
        report::count(images.len(), "image"),
        path.display(),
        report::count(layers.len(), "layer"),
    ));
    if !unused.is_empty() {
        out.push_str(&format!(
            " ({} no image uses: `wclayer store prune` removes {})",
            unused.len(),
            if unused.len() == 1 { "it" } else { "them" }
        ));
    }
    out.push('\n');
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(())
}

/// The result of `rm` and `prune`.
fn removal(store: &Store, r: &Removed, json: bool) -> Result<()> {
    let path = store.path();
    let v = json.then(|| {
        json!({
            "store": path.display().to_string(),
            "images": r.images.iter().map(|i| i.to_json(store)).collect::<Vec<_>>(),
            "layers": r.layers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "kept": r.kept,
        })
    });
    let mut text = String::new();
    for i in &r.images {
        text.push_str(&format!("removed image {} ({})\n", i.name, i.id));
    }
    for l in &r.layers {
        text.push_str(&format!(
            "removed layer {}\n",
            store.layer_path(l).display()
        ));
    }
    text.push_str(&format!(
        "removed {} and {} from {}; {} kept (used by the images left)",
        report::count(r.images.len(), "image"),
        report::count(r.layers.len(), "layer"),
        path.display(),
        report::count(r.kept, "layer"),
    ));
    report::result(Channel::Stdout, v.as_ref(), &text);
    Ok(())
}

//! `wclayer sample`: write a generated Windows-style layer tar, to try the tool without a
//! Windows image at hand.

use anyhow::{Context, Result, bail};

use crate::io::{Output, check_output};

/// Arguments of `wclayer sample`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Which layer: `base`, `delta`, `linux` or `pax-global` (`--list` describes them).
    #[arg(default_value = "base")]
    case: String,
    /// Where to write the tar (`-` for standard output, never a terminal).
    #[arg(short, long, default_value = "-")]
    output: String,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Size in bytes of the layer's one big file.
    #[arg(long, default_value_t = wclayer_gen::DEFAULT_BIG_FILE_SIZE)]
    big_file_size: u64,
    /// List the layers and what each covers.
    #[arg(long)]
    list: bool,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    if a.list {
        for c in wclayer_gen::cases() {
            println!("{:<11} {}", c.name, c.description);
        }
        return Ok(());
    }
    if !wclayer_gen::cases().iter().any(|c| c.name == a.case) {
        bail!(
            "no sample layer named {:?} (see `wclayer sample --list`)",
            a.case
        );
    }
    check_output(&a.output, a.force)?;
    let mut out = Output::create(&a.output)?;
    let opts = wclayer_gen::Options {
        big_file_size: a.big_file_size,
    };
    wclayer_gen::write_case_with(&a.case, &opts, &mut out)
        .with_context(|| format!("cannot write {}", a.output))?;
    out.commit()
}

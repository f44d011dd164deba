//! `wclayer sddl`: security descriptors between base64 binary and SDDL.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wclayer::backup::sd::SecurityDescriptor;

/// Arguments of `wclayer sddl`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A self-relative security descriptor in base64 (as in `MSWINDOWS.rawsd`), or with
    /// `--to-binary` an SDDL string.
    input: String,
    /// Convert SDDL to the base64 of the binary form instead.
    #[arg(long)]
    to_binary: bool,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    if a.to_binary {
        let sd = SecurityDescriptor::from_sddl(&a.input)
            .with_context(|| format!("cannot parse SDDL {:?}", a.input))?;
        println!("{}", STANDARD.encode(sd.to_bytes()));
    } else {
        let bytes = wclayer::crates::tar::pax::decode_base64(a.input.trim().as_bytes())
            .context("security descriptor is not valid base64")?;
        let sd = SecurityDescriptor::from_bytes(&bytes)
            .context("not a self-relative security descriptor")?;
        println!("{}", sd.to_sddl());
    }
    Ok(())
}

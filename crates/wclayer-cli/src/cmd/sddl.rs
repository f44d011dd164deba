//! `wclayer sddl`: security descriptors between base64 binary and SDDL.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wclayer::backup::sd::SecurityDescriptor;

/// Arguments of `wclayer sddl`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A security descriptor: SDDL (`O:BAG:SYD:...`), converted to the base64 of its binary
    /// form, or that base64 (as in `MSWINDOWS.rawsd`), converted to SDDL. Which one it is
    /// is detected; `-` reads it from standard input.
    input: String,
    /// Treat the input as SDDL (convert it to base64), whatever it looks like.
    #[arg(long, conflicts_with = "to_sddl")]
    to_binary: bool,
    /// Treat the input as base64 (convert it to SDDL), whatever it looks like.
    #[arg(long)]
    to_sddl: bool,
}

/// Whether `s` reads as SDDL: it starts with an owner, group, DACL or SACL part.
fn looks_like_sddl(s: &str) -> bool {
    ["O:", "G:", "D:", "S:"]
        .iter()
        .any(|p| s.len() >= 2 && s.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p)))
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let input = if a.input == "-" {
        use std::io::{IsTerminal, Read};
        anyhow::ensure!(
            !std::io::stdin().is_terminal(),
            "the descriptor would be read from standard input, which is a terminal: give it \
             as an argument, or pipe it in"
        );
        let mut s = String::new();
        std::io::stdin()
            .take(1 << 20)
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
        s
    } else {
        a.input.clone()
    };
    let input = input.trim();
    let to_binary = a.to_binary || (!a.to_sddl && looks_like_sddl(input));
    if to_binary {
        let sd = SecurityDescriptor::from_sddl(input)
            .with_context(|| format!("cannot parse SDDL {input:?}"))?;
        println!("{}", STANDARD.encode(sd.to_bytes()));
    } else {
        let bytes =
            wclayer::crates::tar::pax::decode_base64(input.as_bytes()).with_context(|| {
                format!("{input:?} is neither SDDL (O:, G:, D:, S:) nor valid base64")
            })?;
        let sd = SecurityDescriptor::from_bytes(&bytes)
            .context("not a self-relative security descriptor")?;
        println!("{}", sd.to_sddl());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sddl_is_told_from_base64() {
        assert!(looks_like_sddl("O:BAG:SYD:(A;;FA;;;SY)"));
        assert!(looks_like_sddl("d:(A;;FA;;;SY)"));
        assert!(!looks_like_sddl(
            "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAA"
        ));
        assert!(!looks_like_sddl(""));
        assert!(!looks_like_sddl("é"));
    }
}

//! `wclayer-bench`: generates Windows base-layer tars and times wclayer against GNU tar,
//! gzip and pigz (docs/performance.md).
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use wclayer_bench::{ProfileName, generate};

/// The benchmark of wclayer.
#[derive(Parser, Debug)]
#[command(name = "wclayer-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a generated Windows base-layer tar.
    Gen(GenArgs),
}

#[derive(clap::Args, Debug)]
struct GenArgs {
    /// nano (about 310 MB, 11 thousand entries) or core (about 3 GB, over 100 thousand).
    #[arg(long, default_value = "nano")]
    profile: ProfileName,
    /// Multiplies the entry counts and the bytes.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed of everything the generator decides.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output tar (`-`: stdout).
    #[arg(short, long)]
    output: PathBuf,
}

fn gen_cmd(a: &GenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.scale > 0.0 && a.scale.is_finite(),
        "--scale must be positive"
    );
    let profile = a.profile.profile();
    let summary = if a.output.as_os_str() == "-" {
        let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        let s = generate(profile, a.scale, a.seed, &mut out)?;
        out.flush()?;
        s
    } else {
        let file = File::create(&a.output)
            .with_context(|| format!("cannot create {}", a.output.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let s = generate(profile, a.scale, a.seed, &mut out)
            .with_context(|| format!("cannot write {}", a.output.display()))?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        s
    };
    eprintln!("{summary:?}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Gen(a) => gen_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wclayer-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

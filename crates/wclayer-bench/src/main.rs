//! `wclayer-bench`: generates Windows base-layer tars and times wclayer against GNU tar,
//! gzip and pigz (docs/performance.md). The timing commands (`run`, `scale`) need Linux;
//! elsewhere only `gen` exists.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
#[cfg(unix)]
use wclayer_bench::run::{Options, Work};
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
    /// Time wclayer against GNU tar, gzip and pigz, and a registry pull against skopeo and
    /// umoci, on a generated layer and print the report (Linux only).
    #[cfg(unix)]
    Run(RunArgs),
    /// Import and export one profile at several scales: does time grow linearly, does memory
    /// stay bounded (Linux only).
    #[cfg(unix)]
    Scale(ScaleArgs),
}

#[cfg(unix)]
#[derive(clap::Args, Debug)]
struct ScaleArgs {
    /// nano or core.
    #[arg(long, default_value = "core")]
    profile: ProfileName,
    /// The scales (comma-separated); each multiplies the entry counts and the bytes.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,1")]
    scales: Vec<f64>,
    #[command(flatten)]
    common: CommonArgs,
}

#[cfg(unix)]
/// What `run` and `scale` share.
#[derive(clap::Args, Debug)]
struct CommonArgs {
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Work directory: the generated inputs are kept in WORK/inputs, each run writes to a
    /// new directory in WORK. Default: wclayer-bench in the temporary directory.
    #[arg(long)]
    work: Option<PathBuf>,
    /// The wclayer binary. Default: `wclayer` next to this program, else on PATH.
    #[arg(long)]
    wclayer: Option<PathBuf>,
    /// Keep the extracted trees and outputs of the runs.
    #[arg(long)]
    keep: bool,
    /// Do not install missing tools (pigz, GNU time; skopeo, umoci, docker-registry) with
    /// apt-get, even as root.
    #[arg(long)]
    no_install: bool,
}

#[cfg(unix)]
impl CommonArgs {
    /// The options of a run of `profile` at `scale`.
    fn options(
        &self,
        profile: ProfileName,
        scale: f64,
        rounds: usize,
        only: Vec<Work>,
    ) -> anyhow::Result<Options> {
        Ok(Options {
            profile,
            scale,
            seed: self.seed,
            rounds,
            work: self
                .work
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("wclayer-bench")),
            only,
            wclayer: wclayer_binary(self.wclayer.as_ref())?,
            keep: self.keep,
            install: !self.no_install,
        })
    }
}

#[cfg(unix)]
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// nano (about 310 MB, 11 thousand entries) or core (about 3 GB, over 100 thousand; every
    /// extraction takes about 3.5 GB of disk).
    #[arg(long, default_value = "nano")]
    profile: ProfileName,
    /// Multiplies the entry counts and the bytes of the workload.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Rounds per work item (each round runs wclayer and the peer once, in alternating order).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Only these work items (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "import,import-gz,export-gz,export,pull"
    )]
    only: Vec<Work>,
    #[command(flatten)]
    common: CommonArgs,
}

#[cfg(unix)]
/// `wclayer` next to this program (the same cargo target directory), else on PATH.
fn default_wclayer() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("wclayer")))
        .filter(|p| p.is_file());
    beside.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("wclayer"))
            .find(|p| p.is_file())
    })
}

#[cfg(unix)]
/// The wclayer binary to time: `given`, else the default.
fn wclayer_binary(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let wclayer = match given {
        Some(p) => p.clone(),
        None => default_wclayer().context(
            "no wclayer binary next to wclayer-bench or on PATH (build it: cargo build \
             --release -p wclayer-cli; or pass --wclayer PATH)",
        )?,
    };
    Ok(std::path::absolute(&wclayer).unwrap_or(wclayer))
}

#[cfg(unix)]
fn scale_cmd(a: &ScaleArgs) -> anyhow::Result<()> {
    let options = a.common.options(a.profile, 1.0, 1, Vec::new())?;
    wclayer_bench::run::scale(&options, &a.scales)
}

#[cfg(unix)]
fn run_cmd(a: &RunArgs) -> anyhow::Result<()> {
    let options = a
        .common
        .options(a.profile, a.scale, a.rounds, a.only.clone())?;
    wclayer_bench::run::run(&options)
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
    eprintln!(
        "{} entries ({} directories, {} files, {} hard links, {} junctions/symlinks, {} \
         streams, {} with an EA), {} bytes of file data, {} bytes of tar",
        summary.entries,
        summary.dirs,
        summary.files,
        summary.hard_links,
        summary.reparse_points,
        summary.streams,
        summary.eas,
        summary.file_bytes,
        summary.tar_bytes
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Gen(a) => gen_cmd(a),
        #[cfg(unix)]
        Command::Run(a) => run_cmd(a),
        #[cfg(unix)]
        Command::Scale(a) => scale_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wclayer-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

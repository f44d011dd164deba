//! `wclayer`: Windows container image layers on any OS.
//!
//! A thin command line over the library crates: argument parsing and wiring live here, the
//! work lives in `wclayer-backup`, `wclayer-layer` and `wclayer-tar`.
#![forbid(unsafe_code)]

mod cmd;
mod io;
mod logging;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Windows container image layers: import, export, convert and inspect them on any OS.
#[derive(Parser, Debug)]
#[command(name = "wclayer", version, about, long_about = None)]
struct Cli {
    /// Log level for messages and tracing spans on stderr (error, warn, info, debug, trace,
    /// or a tracing filter such as `wclayer=debug`); default from `RUST_LOG`, else `warn`.
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import a layer tar into a new layer directory (content as files, metadata kept).
    Import(cmd::import::Args),
    /// Export a layer directory as a layer tar, with hcsshim's bytes.
    Export(cmd::export::Args),
    /// Convert a security descriptor between its binary form (base64) and SDDL.
    Sddl(cmd::sddl::Args),
    /// Print, one JSON object per line, the layer-writer calls importing a tar makes.
    Trace(cmd::trace::Args),
    /// Import a layer tar and export it again: the bytes hcsshim writes for that layer.
    Convert(cmd::convert::Args),
    /// List a layer's entries with their Windows metadata.
    Ls(cmd::ls::Args),
    /// Write a generated Windows-style layer tar (base, delta, ...) to try things on.
    Sample(cmd::sample::Args),
    /// Compare two layers entry by entry: what was added, removed and changed, and how.
    Diff(cmd::diff::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _logging = logging::init(cli.log_level.as_deref());
    signals::install();
    // `diff` ends with 0 (identical), 1 (different) or 2 (trouble), as diff(1) does.
    let (mut success, mut failure) = (ExitCode::SUCCESS, ExitCode::FAILURE);
    let result = match cli.command {
        Command::Import(a) => cmd::import::run(&a),
        Command::Export(a) => cmd::export::run(&a),
        Command::Sddl(a) => cmd::sddl::run(&a),
        Command::Trace(a) => cmd::trace::run(&a),
        Command::Convert(a) => cmd::convert::run(&a),
        Command::Sample(a) => cmd::sample::run(&a),
        Command::Ls(a) => cmd::ls::run(&a),
        Command::Diff(a) => {
            failure = ExitCode::from(cmd::diff::TROUBLE);
            cmd::diff::run(&a).map(|code| success = code)
        }
    };
    signals::ending();
    match result {
        Ok(()) => success,
        Err(e) => {
            // A closed pipe (`wclayer trace x.tar | head`) is not a failure.
            if io::stdout_closed() {
                return ExitCode::SUCCESS;
            }
            eprintln!("wclayer: error: {e:#}");
            failure
        }
    }
}

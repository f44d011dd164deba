//! `wclayer`: Windows container image layers on any OS.
//!
//! A thin command line over the library crates: argument parsing and wiring live here, the
//! work lives in `wclayer-backup`, `wclayer-layer` and `wclayer-tar`.
#![forbid(unsafe_code)]

mod cmd;
mod io;
mod logging;
mod report;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Windows container image layers: import, export, convert and inspect them on any OS.
#[derive(Parser, Debug)]
#[command(name = "wclayer", version, about, long_about = None)]
struct Cli {
    /// Log level for messages and tracing spans on stderr (off, error, warn, info, debug,
    /// trace, or directives such as `wclayer=debug`); default from `RUST_LOG`, else `warn`.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = logging::parse_level)]
    log_level: Option<String>,
    /// Only errors on stderr: no warnings, no result lines (`--json` results still print).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More messages on stderr: info, then debug, then trace (`-v`, `-vv`, `-vvv`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
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
    /// Check a layer tar, layer directory or chain for what Windows would refuse or change.
    Verify(cmd::verify::Args),
    /// Compare two layers entry by entry: what was added, removed and changed, and how.
    Diff(cmd::diff::Args),
    /// Print one file's content from a layer, a layer tar or a chain's merged view.
    Cat(cmd::cat::Args),
    /// Show one entry's metadata from a layer, a layer tar or a chain's merged view.
    Stat(cmd::stat::Args),
    /// Write a chain of layer directories as one base layer: its merged view as a tar.
    Flatten(cmd::flatten::Args),
    /// Make a layer tar from a host directory or a plain tar, over parent layers.
    Create(cmd::create::Args),
    /// Make the delta layer that turns parent layers into a host directory or another layer.
    Delta(cmd::delta::Args),
    /// Import a Windows image's layers (OCI layout, docker-save archive, registry) into a store.
    Unpack(cmd::image::UnpackArgs),
    /// Write a new image: a base image's layers and new layers, as an OCI layout.
    Build(cmd::image::BuildArgs),
    /// Show an image's platforms, layers and config.
    Inspect(cmd::image::InspectArgs),
    /// Push an image from an OCI layout to a registry.
    Push(cmd::image::PushArgs),
    /// List what a store of unpacked images holds; remove images and unused layers.
    Store(cmd::store::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    report::set_quiet(cli.quiet);
    let level = cli
        .log_level
        .as_deref()
        .or_else(|| logging::level_of_flags(cli.quiet, cli.verbose));
    let _logging = logging::init(level);
    signals::install();
    let mut exit = ExitCode::SUCCESS;
    let result = match cli.command {
        Command::Import(a) => cmd::import::run(&a),
        Command::Export(a) => cmd::export::run(&a),
        Command::Sddl(a) => cmd::sddl::run(&a),
        Command::Trace(a) => cmd::trace::run(&a),
        Command::Convert(a) => cmd::convert::run(&a),
        Command::Sample(a) => cmd::sample::run(&a),
        Command::Ls(a) => cmd::ls::run(&a),
        Command::Verify(a) => cmd::verify::run(&a).map(|code| exit = code),
        Command::Diff(a) => cmd::diff::run(&a).map(|code| exit = code),
        Command::Cat(a) => cmd::cat::run(&a),
        Command::Stat(a) => cmd::stat::run(&a),
        Command::Flatten(a) => cmd::flatten::run(&a),
        Command::Create(a) => cmd::create::run(&a),
        Command::Delta(a) => cmd::delta::run(&a),
        Command::Unpack(a) => cmd::image::unpack(&a),
        Command::Build(a) => cmd::image::build(&a),
        Command::Inspect(a) => cmd::image::inspect(&a),
        Command::Push(a) => cmd::image::push(&a),
        Command::Store(a) => cmd::store::run(&a),
    };
    signals::ending();
    match result {
        Ok(()) => exit,
        Err(e) => {
            // A closed pipe (`wclayer trace x.tar | head`) is not a failure.
            if io::stdout_closed() {
                return ExitCode::SUCCESS;
            }
            report::error(&e);
            ExitCode::FAILURE
        }
    }
}

//! `wclayer verify`: what Windows (or the runtime) would refuse or silently change in a
//! layer tar, a layer directory or a chain (rules in docs/verify.md).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use wclayer::verify::{self, Finding, LayerKind, Options, ParentNames, Severity};

use crate::cmd::limits::LimitArgs;
use crate::io::open_input;

/// Arguments of `wclayer verify`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A layer directory, or a layer tar (`.tar`, `.tar.gz`, `.tar.zst`; `-` for standard
    /// input).
    layer: String,
    /// A parent layer directory, nearest first (repeat for each; the base layer last): the
    /// layer is checked over them.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    /// Also check the digest: of the uncompressed tar, or of the layer directory's export.
    #[arg(long, value_name = "sha256:HEX")]
    diff_id: Option<String>,
    /// Check a tar as a base layer (no tombstones, only `Files/` and `UtilityVM/Files/`).
    #[arg(long, conflicts_with_all = ["delta", "parents"])]
    base: bool,
    /// Check a tar as a delta layer (default when it has a tombstone or `Hives/`, or with
    /// parents).
    #[arg(long)]
    delta: bool,
    /// One JSON object per finding and line (`rule`, `severity`, `entry`, `message`), no
    /// summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Verifies the layer: exit status 0 without error findings, 1 with, and 2 (after the
/// error line) when the layer could not be read, as diff(1) does for trouble.
pub(crate) fn run(a: &Args) -> Result<ExitCode> {
    Ok(match check(a) {
        Ok(code) => code,
        Err(e) => {
            crate::report::error(&e);
            ExitCode::from(2)
        }
    })
}

/// Verifies the layer; the exit status is 1 when there is an error finding.
fn check(a: &Args) -> Result<ExitCode> {
    let options = Options {
        limits: a.limits.limits(),
        kind: if a.base {
            Some(LayerKind::Base)
        } else if a.delta {
            Some(LayerKind::Delta)
        } else {
            None
        },
        diff_id: a.diff_id.clone(),
    };
    let parents = if a.parents.is_empty() {
        None
    } else {
        Some(
            ParentNames::from_layer_dirs(&a.parents, &options.limits)
                .context("cannot read the parent layers")?,
        )
    };
    let path = Path::new(&a.layer);
    let findings = if a.layer != "-" && path.is_dir() {
        verify::verify_layer_dir(path, parents, &options)
            .with_context(|| format!("cannot verify {}", a.layer))?
    } else {
        let input = open_input(&a.layer, a.limits.max_ratio)
            .with_context(|| format!("cannot verify {}", a.layer))?;
        verify::verify_tar(input, parents, &options)
            .with_context(|| format!("cannot verify {}", a.layer))?
    };
    // With -q the exit status is the answer; --json still prints (docs/cli.md, "Results").
    if a.json || !crate::report::quiet() {
        let mut out = io::BufWriter::new(crate::io::Stdout::new());
        print(&findings, a, &mut out)?;
        out.flush()?;
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the findings, and in text form a summary line.
fn print(findings: &[Finding], a: &Args, out: &mut dyn Write) -> Result<()> {
    let (mut errors, mut warnings) = (0usize, 0usize);
    for f in findings {
        match f.severity {
            Severity::Error => errors = errors.saturating_add(1),
            Severity::Warning => warnings = warnings.saturating_add(1),
        }
        if a.json {
            let line = json!({
                "rule": f.rule.id(),
                "severity": f.severity.as_str(),
                "entry": f.entry,
                "message": f.message,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<7} {}  {}  {}",
                f.severity.as_str(),
                f.rule,
                f.entry,
                f.message
            )?;
        }
    }
    if !a.json {
        writeln!(
            out,
            "{}, {} in {}",
            crate::report::count(errors, "error"),
            crate::report::count(warnings, "warning"),
            a.layer
        )?;
    }
    Ok(())
}

//! `wclayer diff`: why two layers (tars or layer directories) differ, entry by entry
//! (docs/diff.md).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use wclayer::diff::{Change, ChangeKind, Diff, Input, Side, diff};
use wclayer::{DirLayerReader, Traced};

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::open_input;

/// The exit status when an input cannot be read, as diff(1) has it.
pub(crate) const TROUBLE: u8 = 2;

/// Arguments of `wclayer diff`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The old layer: a layer directory, or a layer tar (`.tar`, `.tar.gz`, `.tar.zst`; `-`
    /// for standard input).
    old: String,
    /// The new layer, likewise.
    new: String,
    /// One JSON object per changed entry and line, then one with the summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// One opened side.
enum Opened {
    Tar(crate::io::Input),
    Dir(Box<Traced<DirLayerReader>>),
}

impl Opened {
    fn open(path: &str, limits: &LimitArgs) -> Result<Opened> {
        if Path::new(path).is_dir() {
            let r = wclayer::new_layer_reader_limited(Path::new(path), &[], &limits.limits())
                .map_err(with_hint)
                .with_context(|| format!("cannot open layer {path}"))?;
            return Ok(Opened::Dir(Box::new(r)));
        }
        Ok(Opened::Tar(open_input(path, limits.max_ratio)?))
    }

    fn input(&mut self) -> Input<'_> {
        match self {
            Opened::Tar(r) => Input::Tar(r),
            Opened::Dir(r) => Input::Layer(r.as_mut()),
        }
    }
}

/// Compares the layers: exit status 0 when identical, 1 when they differ, and
/// [`TROUBLE`] (after the error line) when one could not be read, as diff(1) does. With
/// `-q` nothing but the error line is printed, unless `--json` was given.
pub(crate) fn run(a: &Args) -> Result<ExitCode> {
    Ok(match compare(a) {
        Ok(code) => code,
        Err(e) => {
            crate::report::error(&e);
            ExitCode::from(TROUBLE)
        }
    })
}

fn compare(a: &Args) -> Result<ExitCode> {
    if a.old == "-" && a.new == "-" {
        anyhow::bail!("standard input can be only one of the two layers");
    }
    let mut old = Opened::open(&a.old, &a.limits)?;
    let mut new = Opened::open(&a.new, &a.limits)?;
    let d = diff(old.input(), new.input(), &a.limits.limits()).map_err(|e| {
        let path = match e.side {
            Side::Old => &a.old,
            Side::New => &a.new,
        };
        with_hint(e.source).context(format!("cannot read {path}"))
    })?;
    // With `-q` the text result is left out and the exit status is the answer; `--json`
    // still prints (docs/cli.md, "Results"; docs/diff.md, "Exit status").
    if a.json || !crate::report::quiet() {
        let mut out = io::BufWriter::new(crate::io::Stdout::new());
        if a.json {
            write_json(&d, &mut out)?;
        } else {
            write_text(&d, &mut out)?;
        }
        out.flush()?;
    }
    Ok(if d.is_identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn value(v: Option<&str>) -> &str {
    v.unwrap_or("(none)")
}

fn write_text(d: &Diff, out: &mut dyn Write) -> Result<()> {
    for c in &d.changes {
        let mark = match c.kind {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        };
        writeln!(out, "{mark} {}", c.entry)?;
        for f in &c.fields {
            writeln!(
                out,
                "    {}: {} -> {}",
                f.field,
                value(f.old.as_deref()),
                value(f.new.as_deref())
            )?;
        }
    }
    if let Some(b) = &d.bytes {
        writeln!(out, "bytes: {b}")?;
    }
    let (added, removed, changed) = d.counts();
    writeln!(out, "{added} added, {removed} removed, {changed} changed")?;
    if let (Some(o), Some(n)) = (&d.old_diff_id, &d.new_diff_id) {
        writeln!(out, "old diffID sha256:{o}")?;
        writeln!(out, "new diffID sha256:{n}")?;
    }
    Ok(())
}

fn change_json(c: &Change) -> serde_json::Value {
    let fields: serde_json::Map<String, serde_json::Value> = c
        .fields
        .iter()
        .map(|f| (f.field.clone(), json!({"old": f.old, "new": f.new})))
        .collect();
    json!({"change": c.kind.to_string(), "entry": c.entry, "fields": fields})
}

fn write_json(d: &Diff, out: &mut dyn Write) -> Result<()> {
    for c in &d.changes {
        writeln!(out, "{}", change_json(c))?;
    }
    let (added, removed, changed) = d.counts();
    let diff_id = |x: &Option<String>| x.as_ref().map(|h| format!("sha256:{h}"));
    let summary = json!({"summary": {
        "added": added,
        "removed": removed,
        "changed": changed,
        "identical": d.is_identical(),
        "old_diff_id": diff_id(&d.old_diff_id),
        "new_diff_id": diff_id(&d.new_diff_id),
        "bytes": d.bytes,
    }});
    writeln!(out, "{summary}")?;
    Ok(())
}

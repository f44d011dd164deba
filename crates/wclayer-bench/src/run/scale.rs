//! `wclayer-bench scale`: how wclayer's time and memory grow with the size of the layer
//! (docs/performance.md, "Scale").
//!
//! The same profile is generated at several scales (the scale multiplies the entry counts
//! and the bytes alike); at each, one `wclayer import` of the tar into a fresh directory and
//! one `wclayer export` of that layer directory run under GNU time. The report gives the time
//! per scale unit of each run against the smallest scale's: about 1 at every scale when the
//! time grows linearly, and the peak RSS of every run against the goal of 100 MiB.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use super::measure::{self, Sample};
use super::tools::{self, Tools};
use super::{Options, RSS_GOAL_MIB, free_bytes, human, prepare_inputs, remove_tree};

/// One scale's runs.
struct Point {
    scale: f64,
    entries: u64,
    file_bytes: u64,
    import: Sample,
    export: Sample,
}

/// Runs the scale series: `o` gives profile, seed, work directory, binary, `keep` and
/// `install`; its scale, rounds and items are not used.
///
/// # Errors
/// A run that fails, a missing binary, not enough disk.
pub fn scale(o: &Options, scales: &[f64]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !scales.is_empty() && scales.iter().all(|s| *s > 0.0 && s.is_finite()),
        "--scales must be positive numbers"
    );
    anyhow::ensure!(
        o.wclayer.is_file(),
        "no wclayer binary at {} (build it: cargo build --release -p wclayer-cli; or pass \
         --wclayer PATH)",
        o.wclayer.display()
    );
    let mut scales = scales.to_vec();
    scales.sort_by(f64::total_cmp);
    fs::create_dir_all(&o.work).with_context(|| format!("cannot create {}", o.work.display()))?;
    let tools = Tools::detect(o.install);
    let time =
        tools.time.as_ref().map(|t| t.path.clone()).context(
            "GNU time (/usr/bin/time) is needed for the peak RSS; install the time package",
        )?;
    let p = o.profile.profile();
    let largest = scales.last().copied().unwrap_or(1.0);
    // Every scale's tar, tree and export at once (nothing is deleted until the end); the
    // tars are kept in WORK/inputs for later runs.
    let need = scales
        .iter()
        .map(|s| (p.file_bytes as f64 * s * 3.4) as u64)
        .sum::<u64>();
    let free = free_bytes(&o.work)?;
    println!(
        "== wclayer scale series: profile {}, seed {}",
        o.profile, o.seed
    );
    println!(
        "disk: about {} needed in {}, {} free; largest scale {largest}",
        human(need),
        o.work.display(),
        human(free)
    );
    anyhow::ensure!(
        need < free / 100 * 95,
        "not enough free space in {} (use --work DIR elsewhere or smaller --scales)",
        o.work.display()
    );
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let run_dir = o.work.join(format!("scale-{stamp}-{}", std::process::id()));
    fs::create_dir_all(&run_dir)?;
    let result = series(o, &tools, &time, &scales, &run_dir);
    if !o.keep
        && let Err(e) = remove_tree(&run_dir)
    {
        println!("could not remove {}: {e}", run_dir.display());
    }
    let points = result?;
    report(&points);
    println!("load average at the end: {}", tools::load_average());
    Ok(())
}

fn series(
    o: &Options,
    tools: &Tools,
    time: &Path,
    scales: &[f64],
    run_dir: &Path,
) -> anyhow::Result<Vec<Point>> {
    let mut points = Vec::new();
    for (i, &scale) in scales.iter().enumerate() {
        let so = Options { scale, ..o.clone() };
        let inputs = prepare_inputs(&so, tools, &o.work.join("inputs"), false)?;
        let layer = run_dir.join(format!("s{i}-layer"));
        let out = run_dir.join(format!("s{i}-export.tar"));
        let log = run_dir.join(format!("s{i}.log"));
        let wclayer = o.wclayer.as_os_str().to_owned();
        sync();
        let import = measure::run(
            &[
                wclayer.clone(),
                OsString::from("import"),
                OsString::from("-i"),
                inputs.tar.clone().into(),
                layer.clone().into(),
            ],
            Some(time),
            &log,
        )?;
        sync();
        let export = measure::run(
            &[
                wclayer,
                OsString::from("export"),
                layer.into(),
                OsString::from("-o"),
                out.into(),
            ],
            Some(time),
            &log,
        )?;
        println!(
            "scale {scale}: {} entries, {} of file data: import {:.2} s, export {:.2} s",
            inputs.summary.entries,
            human(inputs.summary.file_bytes),
            import.wall,
            export.wall
        );
        points.push(Point {
            scale,
            entries: inputs.summary.entries,
            file_bytes: inputs.summary.file_bytes,
            import,
            export,
        });
    }
    Ok(points)
}

/// `sync`, not timed: no run pays for the previous one's writes.
fn sync() {
    let _ = Command::new("sync").status();
}

fn mib(s: &Sample) -> f64 {
    s.rss_kib.map_or(0.0, |k| k as f64 / 1024.0)
}

fn report(points: &[Point]) {
    let Some(first) = points.first() else {
        return;
    };
    println!();
    println!(
        "{:>6} {:>9} {:>10} | {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8}",
        "scale",
        "entries",
        "file MB",
        "import s",
        "per unit",
        "vs first",
        "RSS MiB",
        "export s",
        "per unit",
        "vs first",
        "RSS MiB"
    );
    let unit = |s: &Sample, scale: f64| s.wall / scale;
    let (i0, e0) = (
        unit(&first.import, first.scale),
        unit(&first.export, first.scale),
    );
    let mut worst = (0.0f64, 0.0f64);
    let mut rss = 0.0f64;
    for p in points {
        let (iu, eu) = (unit(&p.import, p.scale), unit(&p.export, p.scale));
        let (ir, er) = (iu / i0, eu / e0);
        worst = (worst.0.max(ir), worst.1.max(er));
        rss = rss.max(mib(&p.import)).max(mib(&p.export));
        println!(
            "{:>6} {:>9} {:>10.0} | {:>9.2} {:>8.2} {:>8.2} {:>8.1} | {:>9.2} {:>8.2} {:>8.2} {:>8.1}",
            p.scale,
            p.entries,
            p.file_bytes as f64 / 1e6,
            p.import.wall,
            iu,
            ir,
            mib(&p.import),
            p.export.wall,
            eu,
            er,
            mib(&p.export)
        );
    }
    println!(
        "(per unit: wall seconds / scale; vs first: per unit over the smallest scale's, about 1 \
         when time grows linearly)"
    );
    println!(
        "largest per-unit time over the smallest scale's: import {:.2}, export {:.2}",
        worst.0, worst.1
    );
    println!(
        "peak RSS over all runs: {rss:.1} MiB (goal < {RSS_GOAL_MIB} MiB: {})",
        if rss < RSS_GOAL_MIB { "met" } else { "NOT met" }
    );
}

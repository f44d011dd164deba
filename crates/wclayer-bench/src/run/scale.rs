//! `wclayer-bench scale`: how wclayer's time and memory grow with the size of the layer
//! (docs/performance.md, "Scale").
//!
//! The same profile is generated at several scales (the scale multiplies the entry counts
//! and the bytes alike); at each, one `wclayer import` of the tar into a fresh directory and
//! one `wclayer export` of that layer directory run under GNU time. The report gives the time
//! per scale unit of each run against the smallest scale's: about 1 at every scale when the
//! time grows linearly, and the peak RSS of every run against the goal of 100 MiB. Before
//! each run the page cache is written back and, as root, dropped (see `sync`).

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use super::measure::{self, Sample};
use super::tools::{self, Tools};
use super::{
    Options, RSS_GOAL_MIB, free_bytes, human, note_deletion, prepare_inputs, remove_tree, settle,
    unix_now,
};

/// One scale's runs.
struct Point {
    scale: f64,
    entries: u64,
    file_bytes: u64,
    import: Sample,
    export: Sample,
    /// GNU tar's extraction of the same tar: how the file system itself grows.
    tar: Option<Sample>,
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
    let tools = Tools::detect(o.install, false);
    let time =
        tools.time.as_ref().map(|t| t.path.clone()).context(
            "GNU time (/usr/bin/time) is needed for the peak RSS; install the time package",
        )?;
    let p = o.profile.profile();
    let largest = scales.last().copied().unwrap_or(1.0);
    // Every scale's tar, both trees and the export at once (nothing is deleted until the end); the
    // tars are kept in WORK/inputs for later runs.
    let need = scales
        .iter()
        .map(|s| (p.file_bytes as f64 * s * 4.5) as u64)
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
    let run_dir = o
        .work
        .join(format!("scale-{}-{}", unix_now(), std::process::id()));
    fs::create_dir_all(&run_dir)?;
    settle(&o.work);
    let result = series(o, &tools, &time, &scales, &run_dir);
    if !o.keep {
        if let Err(e) = remove_tree(&run_dir) {
            println!("could not remove {}: {e}", run_dir.display());
        }
        note_deletion(&o.work);
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
        let dropped = sync();
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
        let tar = match &tools.gnu_tar {
            Some(t) => {
                let tree = run_dir.join(format!("s{i}-tar"));
                fs::create_dir(&tree)?;
                let _ = sync();
                Some(measure::run(
                    &[
                        t.path.clone().into(),
                        OsString::from("--warning=no-unknown-keyword"),
                        OsString::from("-xf"),
                        inputs.tar.clone().into(),
                        OsString::from("-C"),
                        tree.into(),
                    ],
                    Some(time),
                    &log,
                )?)
            }
            None => None,
        };
        let dropped = sync() && dropped;
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
            "scale {scale}: {} entries, {} of file data: import {:.2} s, export {:.2} s ({})",
            inputs.summary.entries,
            human(inputs.summary.file_bytes),
            import.wall,
            export.wall,
            if dropped {
                "page cache dropped before each run"
            } else {
                "page cache not dropped: not root"
            }
        );
        points.push(Point {
            scale,
            entries: inputs.summary.entries,
            file_bytes: inputs.summary.file_bytes,
            import,
            export,
            tar,
        });
    }
    Ok(points)
}

/// `sync`, not timed: no run pays for the previous one's writes. Then, when allowed (as
/// root), the page cache is dropped: the series keeps every tree until its end, and at the
/// larger scales a full page cache would make the later runs pay for reclaiming it, which
/// measures the machine's memory rather than the tool. Every run then starts from an empty
/// cache and reads its input from disk. Returns whether the cache was dropped.
fn sync() -> bool {
    let _ = Command::new("sync").status();
    fs::write("/proc/sys/vm/drop_caches", "1\n").is_ok()
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
        "{:>6} {:>9} {:>10} | {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8} | {:>7} {:>8}",
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
        "RSS MiB",
        "tar -x s",
        "vs first"
    );
    let unit = |s: &Sample, scale: f64| s.wall / scale;
    let (i0, e0) = (
        unit(&first.import, first.scale),
        unit(&first.export, first.scale),
    );
    let t0 = first.tar.as_ref().map(|t| unit(t, first.scale));
    let mut worst = (0.0f64, 0.0f64);
    let mut worst_tar = None::<f64>;
    let mut rss = 0.0f64;
    for p in points {
        let (iu, eu) = (unit(&p.import, p.scale), unit(&p.export, p.scale));
        let (ir, er) = (iu / i0, eu / e0);
        worst = (worst.0.max(ir), worst.1.max(er));
        rss = rss.max(mib(&p.import)).max(mib(&p.export));
        let (tar_s, tar_r) = match (&p.tar, t0) {
            (Some(t), Some(t0)) => {
                let r = unit(t, p.scale) / t0;
                worst_tar = Some(worst_tar.map_or(r, |w| w.max(r)));
                (format!("{:.2}", t.wall), format!("{r:.2}"))
            }
            _ => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:>6} {:>9} {:>10.0} | {:>9.2} {:>8.2} {:>8.2} {:>8.1} | {:>9.2} {:>8.2} {:>8.2} {:>8.1} | {:>7} {:>8}",
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
            mib(&p.export),
            tar_s,
            tar_r
        );
    }
    println!(
        "(per unit: wall seconds / scale; vs first: per unit over the smallest scale's, about 1 \
         when time grows linearly)"
    );
    println!(
        "largest per-unit time over the smallest scale's: import {:.2}, export {:.2}{}",
        worst.0,
        worst.1,
        worst_tar.map_or(String::new(), |w| format!(
            "; GNU tar's extraction {w:.2} (the file system's own growth)"
        ))
    );
    println!(
        "peak RSS over all runs: {rss:.1} MiB (goal < {RSS_GOAL_MIB} MiB: {})",
        if rss < RSS_GOAL_MIB { "met" } else { "NOT met" }
    );
}

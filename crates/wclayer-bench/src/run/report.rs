//! The printed report: machine and workload first, a block per work item as it finishes,
//! and a summary table of the goals at the end.

use std::path::Path;

use super::tools::{Tools, machine_facts};
use super::{Options, Outcome, RSS_GOAL_MIB, Side, Work};
use crate::stats::{median, ratio, spread};
use crate::tarball::Summary;

const MIB: f64 = 1024.0 * 1024.0;
const MB: f64 = 1e6;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.digits$}"))
}

/// The machine, the tools and the load.
pub(crate) fn facts(work: &Path, wclayer: &Path, version: &str, tools: &Tools, load: &str) {
    for (name, value) in machine_facts(work) {
        println!("{name}: {value}");
    }
    println!("load average at start: {load}");
    println!("wclayer: {} ({version})", wclayer.display());
    let show = |name: &str, t: &Option<super::tools::Tool>| match t {
        Some(t) => println!("{name}: {} ({})", t.path.display(), t.version),
        None => println!("{name}: not found"),
    };
    show("GNU tar", &tools.gnu_tar);
    show("gzip", &tools.gzip);
    show("pigz", &tools.pigz);
    show("GNU time", &tools.time);
    show("skopeo", &tools.skopeo);
    show("umoci", &tools.umoci);
    show("docker-registry", &tools.registry);
    for note in &tools.notes {
        println!("note: {note}");
    }
}

/// What the generated layer contains.
pub(crate) fn workload(o: &Options, s: &Summary, gz: Option<u64>, compressor: &str) {
    println!(
        "workload: profile {}, scale {}, seed {}: {} entries ({} directories, {} files, {} hard \
         links, {} junctions/symlinks, {} streams, {} with an EA), {:.1} MB of file data, tar \
         {:.1} MB",
        o.profile,
        o.scale,
        o.seed,
        s.entries,
        s.dirs,
        s.files,
        s.hard_links,
        s.reparse_points,
        s.streams,
        s.eas,
        s.file_bytes as f64 / MB,
        s.tar_bytes as f64 / MB
    );
    if let Some(gz) = gz {
        println!(
            "workload: .tar.gz {:.1} MB ({compressor}), {:.1} % of the tar",
            gz as f64 / MB,
            100.0 * gz as f64 / s.tar_bytes as f64
        );
    }
}

fn walls(side: &Side) -> Vec<f64> {
    side.samples.iter().map(|s| s.wall).collect()
}

fn cpus(side: &Side) -> Vec<f64> {
    side.samples.iter().filter_map(|s| s.cpu).collect()
}

fn busies(side: &Side) -> Vec<f64> {
    side.samples.iter().filter_map(|s| s.busy).collect()
}

fn syss(side: &Side) -> Vec<f64> {
    side.samples.iter().filter_map(|s| s.sys).collect()
}

fn peak_mib(side: &Side) -> Option<f64> {
    side.samples
        .iter()
        .filter_map(|s| s.rss_kib)
        .max()
        .map(|k| k as f64 / 1024.0)
}

fn sizes(side: &Side) -> Vec<f64> {
    side.sizes.iter().flatten().map(|&b| b as f64).collect()
}

/// Per-round ratios of wall time, wclayer / peer.
fn round_ratios(o: &Outcome) -> Vec<f64> {
    o.wclayer
        .samples
        .iter()
        .zip(&o.peer.samples)
        .filter_map(|(w, p)| ratio(w.wall, p.wall))
        .collect()
}

/// The figures of one work item the report prints.
struct Figures {
    w_wall: Option<f64>,
    p_wall: Option<f64>,
    ratio: Option<f64>,
    rounds: Option<(f64, f64)>,
    w_cpu: Option<f64>,
    p_cpu: Option<f64>,
    w_sys: Option<f64>,
    p_sys: Option<f64>,
    /// The machine's busy core-seconds during wclayer's runs (median).
    w_busy: Option<f64>,
    w_rss: Option<f64>,
    p_rss: Option<f64>,
    w_size: Option<f64>,
    p_size: Option<f64>,
}

fn figures(o: &Outcome) -> Figures {
    let w_wall = median(&walls(&o.wclayer));
    let p_wall = median(&walls(&o.peer));
    Figures {
        w_wall,
        p_wall,
        ratio: w_wall.zip(p_wall).and_then(|(w, p)| ratio(w, p)),
        rounds: spread(&round_ratios(o)),
        w_cpu: median(&cpus(&o.wclayer)),
        p_cpu: median(&cpus(&o.peer)),
        w_sys: median(&syss(&o.wclayer)),
        w_busy: median(&busies(&o.wclayer)),
        p_sys: median(&syss(&o.peer)),
        w_rss: peak_mib(&o.wclayer),
        p_rss: peak_mib(&o.peer),
        w_size: median(&sizes(&o.wclayer)),
        p_size: median(&sizes(&o.peer)),
    }
}

/// The cores wclayer may use here.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// How near a goal can come on this machine: core-seconds spread evenly over the cores (no
/// run can take less wall time than that) against the wall time the goal allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reach {
    /// wclayer's median CPU time over the cores.
    pub(crate) own: f64,
    /// The machine's median busy time during wclayer's runs over the cores, where known.
    pub(crate) machine: Option<f64>,
    /// The goal times the peer's median wall time.
    pub(crate) allowed: f64,
}

/// Why a goal is out of reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutOfReach {
    /// wclayer's own CPU time is too much.
    Own,
    /// With the rest of the machine's work during the runs (a registry, write-back).
    Machine,
}

impl Reach {
    /// From wclayer's median CPU time `cpu`, the machine's busy time `busy` during its runs,
    /// the peer's median wall time `p_wall`, the goal and the cores (0 counts as 1).
    pub(crate) fn of(
        cpu: Option<f64>,
        busy: Option<f64>,
        p_wall: Option<f64>,
        goal: f64,
        cores: usize,
    ) -> Option<Reach> {
        let cores = f64::from(u32::try_from(cores.max(1)).unwrap_or(u32::MAX));
        Some(Reach {
            own: cpu? / cores,
            machine: busy.map(|b| b / cores),
            allowed: goal * p_wall?,
        })
    }

    /// Whether, and why, the goal is out of reach.
    pub(crate) fn out(&self) -> Option<OutOfReach> {
        if self.own > self.allowed {
            Some(OutOfReach::Own)
        } else if self.machine.is_some_and(|m| m > self.allowed) {
            Some(OutOfReach::Machine)
        } else {
            None
        }
    }
}

fn verdict(r: Option<f64>, goal: f64) -> &'static str {
    match r {
        Some(r) if r <= goal => "met",
        Some(_) => "NOT met",
        None => "-",
    }
}

/// The block of one work item: every round, then medians, ratio, CPU, RSS and sizes.
pub(crate) fn item(o: &Outcome) {
    let f = figures(o);
    println!();
    println!("== {}", o.work.name());
    println!("   wclayer: {}", o.wclayer_cmd);
    println!("   peer:    {}", o.peer_cmd);
    println!(
        "   {:>5}  {:<7}  {:>9} {:>8} {:>9}  {:>9} {:>8} {:>9}  {:>6}",
        "round", "first", "wclayer s", "cpu s", "RSS MiB", "peer s", "cpu s", "RSS MiB", "ratio"
    );
    let ratios = round_ratios(o);
    for (i, (w, p)) in o.wclayer.samples.iter().zip(&o.peer.samples).enumerate() {
        let first = if o.wclayer_first.get(i).copied().unwrap_or(true) {
            "wclayer"
        } else {
            "peer"
        };
        let rss = |k: Option<u64>| opt(k.map(|k| k as f64 / 1024.0), 1);
        println!(
            "   {:>5}  {:<7}  {:>9.3} {:>8} {:>9}  {:>9.3} {:>8} {:>9}  {:>6}",
            i + 1,
            first,
            w.wall,
            opt(w.cpu, 2),
            rss(w.rss_kib),
            p.wall,
            opt(p.cpu, 2),
            rss(p.rss_kib),
            opt(ratios.get(i).copied(), 3)
        );
    }
    let goal = o.work.goal();
    println!(
        "   median wall time: wclayer {} s, peer {} s; ratio of the medians {} (rounds {}); goal \
         <= {goal}: {} in the median, worst round {}",
        opt(f.w_wall, 3),
        opt(f.p_wall, 3),
        opt(f.ratio, 3),
        f.rounds
            .map_or("-".to_owned(), |(lo, hi)| format!("{lo:.3}-{hi:.3}")),
        verdict(f.ratio, goal),
        opt(f.rounds.map(|r| r.1), 3),
    );
    println!(
        "   CPU time (median, user+sys): wclayer {} s (sys {} s), peer {} s (sys {} s); peak RSS \
         (largest of the rounds): wclayer {} MiB, peer {} MiB",
        opt(f.w_cpu, 2),
        opt(f.w_sys, 2),
        opt(f.p_cpu, 2),
        opt(f.p_sys, 2),
        opt(f.w_rss, 1),
        opt(f.p_rss, 1)
    );
    let cores = cores();
    if let Some(r) = Reach::of(f.w_cpu, f.w_busy, f.p_wall, goal, cores) {
        println!(
            "   reach: wclayer's median CPU time over {cores} core{} is {:.3} s, the least wall \
             time any run of it can take here{}; the goal allows {:.3} s{}",
            if cores == 1 { "" } else { "s" },
            r.own,
            r.machine.map_or(String::new(), |m| format!(
                " ({m:.3} s with all the machine's work during its runs)"
            )),
            r.allowed,
            match r.out() {
                Some(OutOfReach::Own) => {
                    ": out of reach on this machine unless wclayer's CPU time falls"
                }
                Some(OutOfReach::Machine) => {
                    ": out of reach on this machine with the rest of its work during the runs"
                }
                None => "",
            }
        );
    }
    let what = match o.work {
        Work::Pull => "on disk (du; wclayer: the store, peer: its OCI layout and tree)",
        w if w.writes_trees() => "tree on disk (du)",
        _ => "output file",
    };
    println!(
        "   {what}: wclayer {} MiB, peer {} MiB{}",
        opt(f.w_size.map(|b| b / MIB), 1),
        opt(f.p_size.map(|b| b / MIB), 1),
        if o.work == Work::ExportGz {
            match (f.w_size, f.p_size) {
                (Some(w), Some(p)) => format!(
                    " (wclayer's is {:+.2} % of the peer's; goal: no larger: {})",
                    100.0 * (w - p) / p,
                    if w <= p { "met" } else { "NOT met" }
                ),
                _ => String::new(),
            }
        } else {
            String::new()
        }
    );
}

/// The goals table.
pub(crate) fn summary(o: &Options, outcomes: &[Outcome], load: &str) {
    println!();
    println!(
        "== Summary: profile {}, scale {}, seed {}, {} round{}; ratio = wclayer wall time / peer \
         wall time",
        o.profile,
        o.scale,
        o.seed,
        o.rounds,
        if o.rounds == 1 { "" } else { "s" }
    );
    println!(
        "{:<10} {:>7} {:>13} {:>7} {:>8} {:>15} {:>17} {:>21}",
        "work", "median", "rounds", "goal", "median", "CPU s", "peak RSS MiB", "output MiB"
    );
    println!(
        "{:<10} {:>7} {:>13} {:>7} {:>8} {:>15} {:>17} {:>21}",
        "", "ratio", "min-max", "", "meets", "wclayer/peer", "wclayer/peer", "wclayer/peer"
    );
    let mut rss_max: Option<f64> = None;
    for out in outcomes {
        let f = figures(out);
        rss_max = match (rss_max, f.w_rss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut meets = verdict(f.ratio, out.work.goal()).to_owned();
        if out.work == Work::ExportGz
            && let (Some(w), Some(p)) = (f.w_size, f.p_size)
            && w > p
        {
            meets = "NOT met (size)".to_owned();
        }
        println!(
            "{:<10} {:>7} {:>13} {:>7} {:>8} {:>15} {:>17} {:>21}",
            out.work.name(),
            opt(f.ratio, 3),
            f.rounds
                .map_or("-".to_owned(), |(lo, hi)| format!("{lo:.3}-{hi:.3}")),
            format!("<= {}", out.work.goal()),
            meets,
            format!("{}/{}", opt(f.w_cpu, 2), opt(f.p_cpu, 2)),
            format!("{}/{}", opt(f.w_rss, 1), opt(f.p_rss, 1)),
            format!(
                "{}/{}",
                opt(f.w_size.map(|b| b / MIB), 1),
                opt(f.p_size.map(|b| b / MIB), 1)
            ),
        );
    }
    let cores = cores();
    for out in outcomes {
        let f = figures(out);
        let Some(r) = Reach::of(f.w_cpu, f.w_busy, f.p_wall, out.work.goal(), cores) else {
            continue;
        };
        let s = if cores == 1 { "" } else { "s" };
        match r.out() {
            Some(OutOfReach::Own) => println!(
                "{}: out of reach on {cores} core{s}: wclayer's CPU time, {} s, spread over them \
                 is {:.3} s; the goal allows {:.3} s",
                out.work.name(),
                opt(f.w_cpu, 2),
                r.own,
                r.allowed,
            ),
            Some(OutOfReach::Machine) => println!(
                "{}: out of reach on {cores} core{s}: the machine was busy {} core-seconds during \
                 wclayer's runs (wclayer {} s), spread over them {}; the goal allows {:.3} s",
                out.work.name(),
                opt(f.w_busy, 2),
                opt(f.w_cpu, 2),
                opt(r.machine, 3),
                r.allowed,
            ),
            None => {}
        }
    }
    println!(
        "peak RSS of wclayer over all runs: {} MiB (goal < {RSS_GOAL_MIB} MiB: {})",
        opt(rss_max, 1),
        match rss_max {
            Some(r) if r < RSS_GOAL_MIB => "met",
            Some(_) => "NOT met",
            None => "-",
        }
    );
    println!(
        "(CPU time: user + system of all the command's processes; peak RSS: of its largest \
         process; output: median over the rounds, of the tree on disk for imports, of the \
         store, and of the peer's layout and tree, for pull)"
    );
    println!("load average at the end: {load}");
}

#[cfg(test)]
mod tests {
    use super::{OutOfReach, Reach};

    #[test]
    fn reach_spreads_the_cpu_time_over_the_cores() {
        // 0.8 s of CPU over 2 cores: no run faster than 0.4 s; 0.8 x 0.46 s allowed.
        let r = Reach::of(Some(0.8), Some(0.9), Some(0.46), 0.8, 2).expect("the figures");
        assert!((r.own - 0.4).abs() < 1e-9, "{r:?}");
        assert!((r.machine.expect("busy") - 0.45).abs() < 1e-9, "{r:?}");
        assert!((r.allowed - 0.368).abs() < 1e-9, "{r:?}");
        assert_eq!(r.out(), Some(OutOfReach::Own));
        // No cores reported counts as one.
        let r = Reach::of(Some(0.8), None, Some(1.0), 0.8, 0).expect("the figures");
        assert!((r.own - 0.8).abs() < 1e-9, "{r:?}");
        assert_eq!(r.out(), None);
        assert_eq!(Reach::of(None, None, Some(1.0), 0.8, 2), None);
        assert_eq!(Reach::of(Some(1.0), None, None, 0.8, 2), None);
    }

    #[test]
    fn the_rest_of_the_machine_can_put_a_goal_out_of_reach() {
        // wclayer alone 0.70 s over 2 cores, the machine 0.87 s; 0.25 x 3.47 s allowed.
        let r = Reach::of(Some(1.40), Some(1.74), Some(3.47), 0.25, 2).expect("the figures");
        assert_eq!(r.out(), Some(OutOfReach::Machine));
        let r = Reach::of(Some(1.40), Some(1.60), Some(3.47), 0.25, 2).expect("the figures");
        assert_eq!(r.out(), None);
    }
}

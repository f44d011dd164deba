//! Running one command and measuring it.
//!
//! The wall time is taken here, around the whole run. CPU time and peak RSS come from GNU
//! time (`/usr/bin/time -f '%e %U %S %M'`): it waits for its child with `wait4`, whose
//! resource usage covers the child and every descendant the child waited for. A pipeline
//! run as `sh -c 'a | b'` is one child whose shell waits for `a` and `b`, so its user and
//! system times are the sums over the whole pipeline and its peak RSS is the largest of
//! any single process in it (the kernel keeps the maximum, not a sum). Each run gets its
//! own GNU time process, so the figures are per run.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

/// What one run cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Seconds from start to exit.
    pub(crate) wall: f64,
    /// User + system CPU seconds of the command and its children (GNU time's `%U + %S`).
    pub(crate) cpu: Option<f64>,
    /// The system part of `cpu` (GNU time's `%S`).
    pub(crate) sys: Option<f64>,
    /// The largest resident set of any of its processes, in KiB (GNU time's `%M`).
    pub(crate) rss_kib: Option<u64>,
    /// Core-seconds the whole machine was busy from start to exit (`/proc/stat`): the
    /// command and whatever else ran meanwhile, such as a registry serving it or the
    /// kernel's write-back threads.
    pub(crate) busy: Option<f64>,
}

/// Clock ticks per second of `/proc/stat` (`USER_HZ`, 100 on every Linux architecture's
/// user-space interface).
const USER_HZ: f64 = 100.0;

/// Busy core-seconds in the first (`cpu`, all cores) line of a `/proc/stat` text: user,
/// nice, system, irq and softirq (guest time is part of user); idle, iowait and steal are
/// not work done here.
pub(crate) fn parse_proc_stat(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let at = |i: usize| ticks.get(i).copied();
    // user nice system idle iowait irq softirq steal ...
    let busy = [at(0)?, at(1)?, at(2)?, at(5)?, at(6)?]
        .iter()
        .try_fold(0u64, |sum, t| sum.checked_add(*t))?;
    Some(busy as f64 / USER_HZ)
}

/// The machine's busy core-seconds since boot, where `/proc/stat` tells.
fn machine_busy() -> Option<f64> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Parses the last line GNU time wrote with `-f '%e %U %S %M'` (earlier lines, such as
/// "Command exited with non-zero status", are skipped): user + system seconds, system
/// seconds, peak RSS in KiB.
pub(crate) fn parse_time_output(text: &str) -> Option<(f64, f64, u64)> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut f = line.split_whitespace();
    let _elapsed: f64 = f.next()?.parse().ok()?;
    let user: f64 = f.next()?.parse().ok()?;
    let sys: f64 = f.next()?.parse().ok()?;
    let rss: u64 = f.next()?.parse().ok()?;
    Some((user + sys, sys, rss))
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(8);
    lines[from..].join("\n")
}

/// Runs `argv` with stdin from /dev/null and stdout and stderr appended to `log`, under
/// GNU time when `time` is given, and measures it. A non-zero exit is an error quoting the
/// end of the log.
pub(crate) fn run(argv: &[OsString], time: Option<&Path>, log: &Path) -> anyhow::Result<Sample> {
    let (program, args) = argv.split_first().context("empty command")?;
    let timing = log.with_extension("time");
    let mut cmd = match time {
        Some(time) => {
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%e %U %S %M")
                .arg("-o")
                .arg(&timing)
                .arg("--")
                .arg(program)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    };
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let busy_before = machine_busy();
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let wall = start.elapsed().as_secs_f64();
    let busy = busy_before
        .zip(machine_busy())
        .map(|(before, after)| (after - before).max(0.0));
    if !status.success() {
        bail!(
            "`{}` failed ({status}); the end of its output ({}):\n{}",
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            log.display(),
            tail(log)
        );
    }
    let (cpu, sys, rss_kib) = match time {
        Some(_) => {
            let text = std::fs::read_to_string(&timing)
                .with_context(|| format!("GNU time wrote no {}", timing.display()))?;
            let (cpu, sys, rss) = parse_time_output(&text)
                .with_context(|| format!("cannot read GNU time's output {text:?}"))?;
            (Some(cpu), Some(sys), Some(rss))
        }
        None => (None, None, None),
    };
    Ok(Sample {
        wall,
        cpu,
        sys,
        rss_kib,
        busy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_line_of_gnu_time() {
        let (cpu, sys, rss) = parse_time_output("1.52 0.40 0.21 12345\n").unwrap();
        assert!((cpu - 0.61).abs() < 1e-9);
        assert!((sys - 0.21).abs() < 1e-9);
        assert_eq!(rss, 12345);
        assert_eq!(
            parse_time_output("Command exited with non-zero status 2\n0.01 0.00 0.00 2048\n"),
            Some((0.0, 0.0, 2048))
        );
        assert_eq!(parse_time_output(""), None);
        assert_eq!(parse_time_output("x y z w\n"), None);
    }

    #[test]
    fn counts_the_busy_ticks_of_proc_stat() {
        let text = "cpu  100 20 30 5000 40 5 7 9 0 0\ncpu0 50 10 15 2500 20 2 3 4 0 0\n";
        // user + nice + system + irq + softirq = 162 ticks.
        let busy = parse_proc_stat(text).unwrap();
        assert!((busy - 1.62).abs() < 1e-9, "{busy}");
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4 5 6 7\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2 x 4 5 6 7\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2 3 4 5\n"), None);
    }
}

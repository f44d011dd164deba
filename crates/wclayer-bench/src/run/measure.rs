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
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let wall = start.elapsed().as_secs_f64();
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
}

//! Finding the peers (GNU tar, gzip, pigz; skopeo, umoci and the registry for `pull`) and GNU
//! time, installing the missing ones with apt-get when running as root, and the facts of the
//! machine the report starts with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A tool found on this machine.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    /// What to run.
    pub(crate) path: PathBuf,
    /// The first line of its version output.
    pub(crate) version: String,
}

/// What the benchmark runs besides wclayer.
#[derive(Debug, Default)]
pub(crate) struct Tools {
    pub(crate) gnu_tar: Option<Tool>,
    pub(crate) gzip: Option<Tool>,
    pub(crate) pigz: Option<Tool>,
    /// GNU time, which reports the CPU time and peak RSS of a command and its children.
    pub(crate) time: Option<Tool>,
    /// skopeo, the first half of the `pull` item's peer.
    pub(crate) skopeo: Option<Tool>,
    /// umoci, the second half of the `pull` item's peer.
    pub(crate) umoci: Option<Tool>,
    /// The CNCF distribution registry (Debian's `docker-registry`), which serves the `pull`
    /// item's image.
    pub(crate) registry: Option<Tool>,
    /// What was installed, what could not be found: printed with the report.
    pub(crate) notes: Vec<String>,
}

/// The combined stdout and stderr of `program args`, if it ran and exited 0.
pub(crate) fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(text)
}

fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// `program` on PATH (or as given, when it contains a `/`).
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Runs `program --version` and accepts it when `accept` likes the output.
fn probe(program: &str, accept: impl Fn(&str) -> bool) -> Option<Tool> {
    let path = which(program)?;
    let text = output(&path.to_string_lossy(), &["--version"])?;
    accept(&text).then(|| Tool {
        path,
        version: first_line(&text),
    })
}

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `apt-get install -y PACKAGE` (after `apt-get update` when the first attempt fails);
/// whether it succeeded.
fn apt_install(package: &str) -> bool {
    if which("apt-get").is_none() {
        return false;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return true;
    }
    let updated = Command::new("apt-get")
        .args(["update", "-qq"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    updated && install()
}

/// After `find` failed once: installs `package` when allowed and root, and finds again.
fn ensure(
    program: &str,
    package: &str,
    install: bool,
    notes: &mut Vec<String>,
    find: impl Fn() -> Option<Tool>,
) -> Option<Tool> {
    if !install || !is_root() {
        let why = if install {
            "; not root, so not installed"
        } else {
            ""
        };
        notes.push(format!(
            "{program} is missing (the `{package}` package{why})"
        ));
        return None;
    }
    apt_install(package);
    let found = find();
    notes.push(match &found {
        Some(_) => format!("{program} was missing: installed with `apt-get install -y {package}`"),
        None => {
            format!("{program} is missing and `apt-get install -y {package}` did not provide it")
        }
    });
    found
}

impl Tools {
    /// Looks for every tool; with `install`, as root, installs pigz and GNU time when
    /// missing, and with `pull` too (the `pull` item is to run) skopeo, umoci and
    /// docker-registry. Says in [`Tools::notes`] what it did and what it could not find.
    pub(crate) fn detect(install: bool, pull: bool) -> Tools {
        let mut t = Tools {
            gnu_tar: probe("tar", |v| v.contains("GNU tar")),
            gzip: probe("gzip", |v| v.contains("gzip")),
            pigz: probe("pigz", |v| v.contains("pigz")),
            time: probe("/usr/bin/time", |v| v.contains("GNU")),
            skopeo: probe("skopeo", |v| v.contains("skopeo")),
            umoci: probe("umoci", |v| v.contains("umoci")),
            registry: probe("docker-registry", |v| v.contains("distribution")),
            notes: Vec::new(),
        };
        if t.gnu_tar.is_none() {
            let what = match probe("tar", |_| true) {
                Some(other) => format!("`tar` is not GNU tar ({})", other.version),
                None => "no `tar` on PATH".to_owned(),
            };
            t.notes.push(format!(
                "{what}: the comparisons with GNU tar are skipped (install GNU tar, e.g. \
                 `apt-get install tar`)"
            ));
        }
        if t.gzip.is_none() {
            t.notes
                .push("no `gzip` on PATH: the import-gz comparison is skipped".to_owned());
        }
        t.pigz = t.pigz.take().or_else(|| {
            ensure("pigz", "pigz", install, &mut t.notes, || {
                probe("pigz", |v| v.contains("pigz"))
            })
        });
        t.time = t.time.take().or_else(|| {
            ensure("/usr/bin/time", "time", install, &mut t.notes, || {
                probe("/usr/bin/time", |v| v.contains("GNU"))
            })
        });
        if pull {
            for (program, slot) in [
                ("skopeo", &mut t.skopeo),
                ("umoci", &mut t.umoci),
                ("docker-registry", &mut t.registry),
            ] {
                if slot.is_none() {
                    let accept = |v: &str| {
                        v.contains(if program == "docker-registry" {
                            "distribution"
                        } else {
                            program
                        })
                    };
                    *slot = ensure(program, program, install, &mut t.notes, || {
                        probe(program, accept)
                    });
                }
                if slot.is_none() {
                    t.notes
                        .push(format!("without {program} the pull comparison is skipped"));
                }
            }
        }
        if t.pigz.is_none() {
            t.notes
                .push("without pigz the export-gz comparison is skipped".to_owned());
        }
        if t.time.is_none() {
            t.notes.push(
                "without GNU time (/usr/bin/time) only wall times are measured: no CPU time, \
                 no peak RSS"
                    .to_owned(),
            );
        }
        t
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The facts of the machine: one `name: value` line each.
pub(crate) fn machine_facts(work: &Path) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    facts.push(("nproc".to_owned(), cpus.to_string()));
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim())
        .to_owned();
    facts.push(("cpu".to_owned(), model));
    let mem = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0))
        });
    facts.push(("memory".to_owned(), mem));
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    facts.push(("kernel".to_owned(), kernel));
    facts.push(("file system of the work directory".to_owned(), fs_of(work)));
    facts
}

/// The file system `path` is on: type, device and mount options as findmnt reports them,
/// else the statfs magic number.
fn fs_of(path: &Path) -> String {
    let p = path.to_string_lossy();
    if let Some(out) = output(
        "findmnt",
        &["-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", p.as_ref()],
    ) {
        let line = first_line(&out);
        if !line.is_empty() {
            return line.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    match rustix::fs::statfs(path) {
        Ok(s) => {
            let magic = s.f_type as u64;
            let name = match magic {
                0xEF53 => "ext2/ext3/ext4",
                0x5846_5342 => "xfs",
                0x9123_683E => "btrfs",
                0x0102_1994 => "tmpfs",
                0x794C_7630 => "overlayfs",
                0x2FC1_2FC1 => "zfs",
                0x6969 => "nfs",
                _ => "unknown",
            };
            format!("{name} (statfs magic {magic:#x})")
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> String {
    let l = read("/proc/loadavg");
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

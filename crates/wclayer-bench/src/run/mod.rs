//! `wclayer-bench run`: times wclayer against the tools a user would otherwise run for the
//! same work (docs/performance.md, "Method").
//!
//! 1. The workload: the generated tar of the chosen profile and its `.tar.gz`, made once
//!    and kept in the work directory under a name that carries profile, scale, seed and
//!    generator version.
//! 2. For each work item, `--rounds` rounds of one wclayer run and one peer run,
//!    interleaved (odd rounds wclayer first, even rounds the peer first), each into a
//!    destination that did not exist before: nothing is deleted until every run is over,
//!    so no run extracts into a file system busy freeing the previous tree, and no run
//!    gets inode numbers or blocks that were just freed. Dirty pages are written back
//!    (`sync`, not timed) before every run, so no run pays for the previous one's writes.
//!    The `pull` item ([`Work::Pull`]) first writes a one-layer image, starts a registry on a
//!    loopback port and pushes the image there (not timed); its rounds pull from it.
//! 3. The report: per work item the median wall time of each side, the ratio of the
//!    medians, the per-round ratios, CPU time, peak RSS and output sizes, and whether the
//!    median meets the goal.

mod measure;
mod pull;
mod report;
mod scale;
mod tools;

pub use scale::scale;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::BufWriter;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};

use crate::profile::ProfileName;
use crate::tarball::Summary;
use crate::{GENERATOR_VERSION, generate};
use measure::Sample;
use tools::Tools;

/// One comparison of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Work {
    /// `wclayer import -i LAYER.tar DEST` vs `tar -xf LAYER.tar -C DEST`.
    Import,
    /// `wclayer import -i LAYER.tar.gz DEST` vs `gzip -dc LAYER.tar.gz | tar -xf - -C DEST`.
    ImportGz,
    /// `wclayer export -z -o OUT.tar.gz LAYERDIR` vs
    /// `tar -cf - -C TREE . | pigz -6 -p 2 > OUT.tar.gz`.
    ExportGz,
    /// `wclayer export -o OUT.tar LAYERDIR` vs `tar -cf OUT.tar -C TREE .`.
    Export,
    /// `wclayer unpack docker://127.0.0.1:PORT/REPO:TAG STORE` vs `skopeo copy
    /// docker://127.0.0.1:PORT/REPO:TAG oci:DIR:TAG && umoci raw unpack --image DIR:TAG
    /// ROOTFS`, from a registry on a loopback port serving a one-layer image whose layer is
    /// the `.tar.gz` of the workload.
    Pull,
}

impl Work {
    /// Every work item, in the order they run.
    pub const ALL: [Work; 5] = [
        Work::Import,
        Work::ImportGz,
        Work::ExportGz,
        Work::Export,
        Work::Pull,
    ];

    /// The name used by `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Work::Import => "import",
            Work::ImportGz => "import-gz",
            Work::ExportGz => "export-gz",
            Work::Export => "export",
            Work::Pull => "pull",
        }
    }

    /// The goal: the largest ratio of wclayer's wall time to the peer's
    /// (docs/performance.md, "The comparisons").
    pub fn goal(self) -> f64 {
        match self {
            Work::Import => 0.8,
            Work::ImportGz => 0.45,
            Work::ExportGz => 0.4,
            Work::Export => 1.2,
            Work::Pull => 0.25,
        }
    }

    /// Whether it is an import of the workload tar (whose first round's trees the exports
    /// read).
    fn is_import(self) -> bool {
        matches!(self, Work::Import | Work::ImportGz)
    }

    /// Whether it reads the trees of an import (made once when no import item ran).
    fn needs_sources(self) -> bool {
        matches!(self, Work::ExportGz | Work::Export)
    }

    /// Whether it writes trees (sized by their space on disk) rather than files.
    fn writes_trees(self) -> bool {
        matches!(self, Work::Import | Work::ImportGz | Work::Pull)
    }
}

/// The peak RSS wclayer must stay under, any layer size (docs/performance.md, "The
/// comparisons").
pub const RSS_GOAL_MIB: f64 = 100.0;

/// What `wclayer-bench run` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workload's shape.
    pub profile: ProfileName,
    /// Its scale (1.0: the profile's size).
    pub scale: f64,
    /// Its seed.
    pub seed: u64,
    /// Rounds per work item.
    pub rounds: usize,
    /// Where the inputs are kept and the runs write.
    pub work: PathBuf,
    /// The work items to run.
    pub only: Vec<Work>,
    /// The wclayer binary.
    pub wclayer: PathBuf,
    /// Keep the extracted trees and outputs instead of deleting them at the end.
    pub keep: bool,
    /// Install missing tools (pigz, GNU time; skopeo, umoci and docker-registry for `pull`)
    /// with apt-get when running as root.
    pub install: bool,
}

/// The workload files.
pub(crate) struct Inputs {
    pub(crate) tar: PathBuf,
    gz: Option<PathBuf>,
    pub(crate) summary: Summary,
    gz_bytes: Option<u64>,
    compressor: String,
}

fn file_size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

fn summary_to_text(s: &Summary) -> String {
    format!(
        "entries {}\ndirs {}\nfiles {}\nhard_links {}\nreparse_points {}\nstreams {}\neas {}\n\
         file_bytes {}\nlong_names {}\nmax_depth {}\ndescriptors {}\ntar_bytes {}\n",
        s.entries,
        s.dirs,
        s.files,
        s.hard_links,
        s.reparse_points,
        s.streams,
        s.eas,
        s.file_bytes,
        s.long_names,
        s.max_depth,
        s.descriptors,
        s.tar_bytes
    )
}

fn summary_from_text(text: &str) -> Option<Summary> {
    let mut s = Summary::default();
    for line in text.lines() {
        let (key, value) = line.split_once(' ')?;
        let v: u64 = value.parse().ok()?;
        match key {
            "entries" => s.entries = v,
            "dirs" => s.dirs = v,
            "files" => s.files = v,
            "hard_links" => s.hard_links = v,
            "reparse_points" => s.reparse_points = v,
            "streams" => s.streams = v,
            "eas" => s.eas = v,
            "file_bytes" => s.file_bytes = v,
            "long_names" => s.long_names = v,
            "max_depth" => s.max_depth = v,
            "descriptors" => s.descriptors = v,
            "tar_bytes" => s.tar_bytes = v,
            _ => return None,
        }
    }
    (s.tar_bytes > 0).then_some(s)
}

/// Single-quotes `s` for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The workload's file names without extension: profile, scale, seed, generator version.
fn stem(o: &Options) -> String {
    format!(
        "{}-scale{}-seed{}-gen{}",
        o.profile, o.scale, o.seed, GENERATOR_VERSION
    )
}

/// The summary of the cached workload tar, if it is complete.
fn cached_summary(o: &Options, dir: &Path) -> Option<Summary> {
    let stem = stem(o);
    let tar = dir.join(format!("{stem}.tar"));
    fs::read_to_string(dir.join(format!("{stem}.summary")))
        .ok()
        .and_then(|t| summary_from_text(&t))
        .filter(|s| file_size(&tar) == s.tar_bytes)
}

/// Makes (or reuses) the tar of the workload and, with `gz`, its `.tar.gz`.
fn prepare_inputs(o: &Options, tools: &Tools, dir: &Path, gz: bool) -> anyhow::Result<Inputs> {
    let want_gz = gz;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stem = stem(o);
    let tar = dir.join(format!("{stem}.tar"));
    let summary_path = dir.join(format!("{stem}.summary"));
    let summary = match cached_summary(o, dir) {
        Some(s) => {
            println!("workload: reusing {}", tar.display());
            s
        }
        None => {
            println!("workload: generating {} ...", tar.display());
            let partial = tar.with_extension("tar.partial");
            let file = File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let s = generate(o.profile.profile(), o.scale, o.seed, &mut out)
                .with_context(|| format!("cannot write {}", partial.display()))?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            fs::rename(&partial, &tar)?;
            fs::write(&summary_path, summary_to_text(&s))?;
            s
        }
    };
    let gz = dir.join(format!("{stem}.tar.gz"));
    let (compressor, program) = match (&tools.pigz, &tools.gzip) {
        (Some(p), _) => ("pigz -6", Some(p)),
        (None, Some(g)) => ("gzip -6", Some(g)),
        (None, None) => ("none", None),
    };
    let done = dir.join(format!("{stem}.tar.gz.done"));
    let gz = if !want_gz {
        None
    } else if gz.is_file() && done.is_file() {
        println!("workload: reusing {}", gz.display());
        Some(gz)
    } else if let Some(program) = program {
        println!(
            "workload: compressing it with {compressor} to {} ...",
            gz.display()
        );
        let partial = gz.with_extension("gz.partial");
        let out = File::create(&partial)?;
        let status = Command::new(&program.path)
            .arg("-6")
            .arg("-c")
            .arg(&tar)
            .stdin(Stdio::null())
            .stdout(out)
            .status()?;
        if !status.success() {
            bail!("{compressor} failed ({status})");
        }
        fs::rename(&partial, &gz)?;
        fs::write(&done, compressor)?;
        Some(gz)
    } else {
        None
    };
    let compressor = gz
        .as_ref()
        .and_then(|_| fs::read_to_string(&done).ok())
        .unwrap_or_else(|| "none".to_owned());
    Ok(Inputs {
        gz_bytes: gz.as_deref().map(file_size),
        tar,
        gz,
        summary,
        compressor,
    })
}

/// Bytes the file system holds for the tree at `path` (each inode once), as `du` counts.
fn disk_usage(path: &Path) -> std::io::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p)?;
        if seen.insert((m.dev(), m.ino())) {
            total += m.blocks() * 512;
        }
        if m.is_dir() {
            for entry in fs::read_dir(&p)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(total)
}

fn free_bytes(path: &Path) -> anyhow::Result<u64> {
    let s = rustix::fs::statvfs(path)
        .with_context(|| format!("cannot stat the file system of {}", path.display()))?;
    Ok(s.f_bavail * s.f_frsize)
}

/// The file in the work directory that holds when a run last deleted its trees (Unix
/// seconds).
const DELETED_MARK: &str = "last-deletion";

/// How long after a deletion ext4 without a journal still passes over the freed inodes
/// when it allocates new ones: 60 s, or 360 s while the inode's table block is dirty, which
/// the next creations in that block make it again (Linux `fs/ext4/ialloc.c`,
/// `recently_deleted`).
const SETTLE_SECS: u64 = 360;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `path` is on an ext4 file system without a journal: its device's
/// `/sys/fs/ext4/DEV/journal_task` reads `<none>`.
fn ext4_without_journal(path: &Path) -> bool {
    let Ok(m) = fs::metadata(path) else {
        return false;
    };
    let (major, minor) = (rustix::fs::major(m.dev()), rustix::fs::minor(m.dev()));
    let Ok(block) = fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")) else {
        return false;
    };
    let Some(name) = block.file_name() else {
        return false;
    };
    fs::read_to_string(Path::new("/sys/fs/ext4").join(name).join("journal_task"))
        .is_ok_and(|t| t.trim() == "<none>")
}

/// Records in `work` that a run deleted its trees just now.
fn note_deletion(work: &Path) {
    if let Err(e) = fs::write(work.join(DELETED_MARK), format!("{}\n", unix_now())) {
        println!("could not record the deletion in {}: {e}", work.display());
    }
}

/// How long ago (seconds) the last run in `work` deleted its trees, and how much longer to
/// wait for [`SETTLE_SECS`] to have passed since; `None` without a record, or with one that
/// is unreadable, in the future or old enough.
fn settle_wait(work: &Path, now: u64) -> Option<(u64, u64)> {
    let at = fs::read_to_string(work.join(DELETED_MARK))
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&at| at <= now)?;
    let ago = now.saturating_sub(at);
    let wait = SETTLE_SECS.saturating_sub(ago);
    (wait > 0).then_some((ago, wait))
}

/// Before the first measurement: on ext4 without a journal, waits until the trees an
/// earlier run in `work` deleted are [`SETTLE_SECS`] old. Inodes freed more recently are
/// passed over one by one when new ones are allocated near them, and every extraction of
/// the run would measure that scan (docs/performance.md, "Fresh destinations").
fn settle(work: &Path) {
    let Some((ago, wait)) = settle_wait(work, unix_now()) else {
        return;
    };
    if !ext4_without_journal(work) {
        return;
    }
    println!(
        "an earlier run deleted its trees in {} {ago} s ago; ext4 without a journal passes \
         over inodes freed in the last {SETTLE_SECS} s when it creates new ones, which \
         would slow every extraction: waiting {wait} s",
        work.display()
    );
    std::thread::sleep(std::time::Duration::from_secs(wait));
}

/// Makes the tree at `path` removable by its owner (GNU tar gives directories the modes in
/// the archive, which are 0 for Windows layers) and removes it.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if fs::remove_dir_all(path).is_ok() || !path.exists() {
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p)?;
        if m.is_dir() {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700))?;
            for entry in fs::read_dir(&p)? {
                stack.push(entry?.path());
            }
        }
    }
    fs::remove_dir_all(path)
}

/// Reads `path`, or every regular file below it, to its end (errors skipped), so that the
/// page cache holds it; returns the bytes read. Before the exports both sources are read
/// so, whichever tool made them and however it wrote them: wclayer's import writes large
/// files around the page cache (docs/performance.md, "Import"), GNU tar through it.
fn read_tree(path: &Path) -> u64 {
    let mut bytes = 0u64;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            stack.extend(
                fs::read_dir(&p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if m.is_file()
            && let Ok(mut f) = File::open(&p)
        {
            bytes += std::io::copy(&mut f, &mut std::io::sink()).unwrap_or(0);
        }
    }
    bytes
}

/// What one side of a comparison did in every round.
#[derive(Debug, Default, Clone)]
pub(crate) struct Side {
    pub(crate) samples: Vec<Sample>,
    /// Output size per round: bytes of the output file, or of the tree on disk.
    pub(crate) sizes: Vec<Option<u64>>,
}

/// The result of one work item.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) work: Work,
    pub(crate) wclayer_cmd: String,
    pub(crate) peer_cmd: String,
    pub(crate) wclayer: Side,
    pub(crate) peer: Side,
    /// Per round: whether wclayer ran first.
    pub(crate) wclayer_first: Vec<bool>,
}

struct Runner<'a> {
    o: &'a Options,
    tools: &'a Tools,
    inputs: &'a Inputs,
    run_dir: PathBuf,
    /// What the exports read: wclayer's layer directory and GNU tar's tree.
    layer_dir: Option<PathBuf>,
    tree: Option<PathBuf>,
}

/// A command line and the file or directory it writes.
type Cmd = (Vec<OsString>, PathBuf);

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

impl Runner<'_> {
    fn tar(&self) -> anyhow::Result<&Path> {
        Ok(&self
            .tools
            .gnu_tar
            .as_ref()
            .context("GNU tar is missing")?
            .path)
    }

    fn time(&self) -> Option<&Path> {
        self.tools.time.as_ref().map(|t| t.path.as_path())
    }

    /// The input of an import item.
    fn import_input(&self, work: Work) -> anyhow::Result<&Path> {
        Ok(match work {
            Work::ImportGz => self
                .inputs
                .gz
                .as_deref()
                .context("no .tar.gz (neither pigz nor gzip was found)")?,
            _ => &self.inputs.tar,
        })
    }

    /// wclayer's and the peer's command for `work` in `round`, and what each writes; `served`
    /// is the registry of the `pull` item.
    fn commands(
        &self,
        work: Work,
        dir: &Path,
        round: usize,
        served: Option<&pull::Served>,
    ) -> anyhow::Result<(Cmd, Cmd)> {
        let wclayer = self.o.wclayer.as_os_str().to_owned();
        Ok(match work {
            Work::Import | Work::ImportGz => {
                let tar = self.tar()?;
                let input = self.import_input(work)?;
                let mine = dir.join(format!("r{round}-wclayer"));
                let theirs = dir.join(format!("r{round}-tar"));
                let w = vec![
                    wclayer,
                    os("import"),
                    os("-i"),
                    os(input),
                    os(mine.as_os_str()),
                ];
                let p = if work == Work::Import {
                    vec![
                        os(tar),
                        os("--warning=no-unknown-keyword"),
                        os("-xf"),
                        os(input),
                        os("-C"),
                        os(theirs.as_os_str()),
                    ]
                } else {
                    let gzip = &self.tools.gzip.as_ref().context("gzip is missing")?.path;
                    let script = format!(
                        "{} -dc \"$1\" | {} --warning=no-unknown-keyword -xf - -C \"$2\"",
                        sh_quote(&gzip.to_string_lossy()),
                        sh_quote(&tar.to_string_lossy())
                    );
                    vec![
                        os("sh"),
                        os("-c"),
                        os(script),
                        os("sh"),
                        os(input),
                        os(theirs.as_os_str()),
                    ]
                };
                ((w, mine), (p, theirs))
            }
            Work::ExportGz | Work::Export => {
                let tar = self.tar()?;
                let layer = self.layer_dir.as_deref().context("no layer directory")?;
                let tree = self.tree.as_deref().context("no extracted tree")?;
                let ext = if work == Work::ExportGz {
                    "tar.gz"
                } else {
                    "tar"
                };
                let mine = dir.join(format!("r{round}-wclayer.{ext}"));
                let theirs = dir.join(format!("r{round}-tar.{ext}"));
                let mut w = vec![wclayer, os("export")];
                if work == Work::ExportGz {
                    w.push(os("-z"));
                }
                w.extend([os("-o"), os(mine.as_os_str()), os(layer)]);
                let p = if work == Work::ExportGz {
                    let pigz = &self.tools.pigz.as_ref().context("pigz is missing")?.path;
                    let script = format!(
                        "{} -cf - -C \"$1\" . | {} -6 -p 2 > \"$2\"",
                        sh_quote(&tar.to_string_lossy()),
                        sh_quote(&pigz.to_string_lossy())
                    );
                    vec![
                        os("sh"),
                        os("-c"),
                        os(script),
                        os("sh"),
                        os(tree),
                        os(theirs.as_os_str()),
                    ]
                } else {
                    vec![
                        os(tar),
                        os("-cf"),
                        os(theirs.as_os_str()),
                        os("-C"),
                        os(tree),
                        os("."),
                    ]
                };
                ((w, mine), (p, theirs))
            }
            Work::Pull => {
                let served = served.context("the pull item has no registry")?;
                pull::commands(served, &self.o.wclayer, self.tools, dir, round)?
            }
        })
    }

    /// One measured run (`peer`: the peer's, else wclayer's): sync, prepare the
    /// destination, run, size the output.
    fn one(
        &self,
        work: Work,
        argv: &[OsString],
        output: &Path,
        peer: bool,
        log: &Path,
    ) -> anyhow::Result<(Sample, Option<u64>)> {
        rustix::fs::sync();
        // wclayer creates its layer directory or store; tar extracts into an existing one,
        // skopeo and umoci write theirs inside one.
        if peer && work.writes_trees() {
            fs::create_dir(output)
                .with_context(|| format!("cannot create {}", output.display()))?;
        }
        let sample = measure::run(argv, self.time(), log)?;
        let size = if work.writes_trees() {
            disk_usage(output).ok()
        } else {
            Some(file_size(output))
        };
        Ok((sample, size))
    }

    fn item(&mut self, work: Work) -> anyhow::Result<Outcome> {
        let dir = self.run_dir.join(work.name());
        fs::create_dir_all(&dir)?;
        // The registry of the pull item, stopped when this function returns (or fails).
        let served = if work == Work::Pull {
            let registry = &self
                .tools
                .registry
                .as_ref()
                .context("docker-registry is missing")?
                .path;
            let gz = self.import_input(Work::ImportGz)?;
            Some(pull::serve(
                &self.o.wclayer,
                registry,
                self.o.profile,
                &self.inputs.tar,
                gz,
                &dir,
            )?)
        } else {
            None
        };
        let mut out = Outcome {
            work,
            wclayer_cmd: String::new(),
            peer_cmd: String::new(),
            wclayer: Side::default(),
            peer: Side::default(),
            wclayer_first: Vec::new(),
        };
        for round in 1..=self.o.rounds {
            let ((w, w_out), (p, p_out)) = self.commands(work, &dir, round, served.as_ref())?;
            let wclayer_first = round % 2 == 1;
            let log = dir.join(format!("r{round}.log"));
            let w_log = log.with_extension("wclayer.log");
            let p_log = log.with_extension("peer.log");
            let ((ws, wsize), (ps, psize)) = if wclayer_first {
                let mine = self.one(work, &w, &w_out, false, &w_log)?;
                (mine, self.one(work, &p, &p_out, true, &p_log)?)
            } else {
                let theirs = self.one(work, &p, &p_out, true, &p_log)?;
                (self.one(work, &w, &w_out, false, &w_log)?, theirs)
            };
            println!(
                "  {} round {round}/{}: wclayer {:.2} s, peer {:.2} s",
                work.name(),
                self.o.rounds,
                ws.wall,
                ps.wall
            );
            out.wclayer.samples.push(ws);
            out.wclayer.sizes.push(wsize);
            out.peer.samples.push(ps);
            out.peer.sizes.push(psize);
            out.wclayer_first.push(wclayer_first);
            if round == 1 && work.is_import() {
                self.layer_dir.get_or_insert(w_out.clone());
                self.tree.get_or_insert(p_out.clone());
            }
        }
        let (input, gz) = (
            self.inputs.tar.file_name().unwrap_or_default(),
            self.inputs
                .gz
                .as_deref()
                .and_then(Path::file_name)
                .unwrap_or_default(),
        );
        let (input, gz) = (input.to_string_lossy(), gz.to_string_lossy());
        (out.wclayer_cmd, out.peer_cmd) = match work {
            Work::Import => (
                format!("wclayer import -i {input} DEST"),
                format!("tar -xf {input} -C DEST"),
            ),
            Work::ImportGz => (
                format!("wclayer import -i {gz} DEST"),
                format!("gzip -dc {gz} | tar -xf - -C DEST"),
            ),
            Work::ExportGz => (
                "wclayer export -z -o OUT.tar.gz LAYERDIR".to_owned(),
                "tar -cf - -C TREE . | pigz -6 -p 2 > OUT.tar.gz".to_owned(),
            ),
            Work::Export => (
                "wclayer export -o OUT.tar LAYERDIR".to_owned(),
                "tar -cf OUT.tar -C TREE .".to_owned(),
            ),
            Work::Pull => {
                pull::shown_commands(served.as_ref().map_or(0, |s| s.port()), self.o.profile)
            }
        };
        drop(served);
        Ok(out)
    }

    /// Imports the workload once with each tool (not measured) when the exports need
    /// sources and no import item ran.
    fn setup_sources(&mut self) -> anyhow::Result<()> {
        let dir = self.run_dir.join("sources");
        fs::create_dir_all(&dir)?;
        println!("  exports: importing their sources once (not measured)");
        let ((w, w_out), (p, p_out)) = self.commands(Work::Import, &dir, 0, None)?;
        self.one(Work::Import, &w, &w_out, false, &dir.join("wclayer.log"))?;
        self.one(Work::Import, &p, &p_out, true, &dir.join("peer.log"))?;
        self.layer_dir = Some(w_out);
        self.tree = Some(p_out);
        Ok(())
    }
}

/// Bytes a run of `items` needs in the work directory, roughly: every extraction holds
/// about the tar's bytes plus a block per entry, every export output its own size; a pull
/// round two trees and the peer's copy of the blob, and the registry holds the blob once
/// (and the image's layout may need a copy of it).
fn bytes_needed(items: &[Work], rounds: usize, s: &Summary, gz: u64, inputs_missing: u64) -> u64 {
    let tree = s.tar_bytes + s.entries * 4096;
    let r = rounds as u64;
    let mut need = inputs_missing;
    for w in items {
        need += match w {
            Work::Import | Work::ImportGz => 2 * r * tree,
            Work::Export => 2 * r * s.tar_bytes,
            Work::ExportGz => 2 * r * gz,
            Work::Pull => r * (2 * tree + gz) + 2 * gz,
        };
    }
    if items.iter().any(|w| w.needs_sources()) && !items.iter().any(|w| w.is_import()) {
        need += 2 * tree;
    }
    need
}

/// `bytes` in MB or GB (decimal), one decimal.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

/// Runs the benchmark and prints the report on stdout.
///
/// # Errors
/// A missing wclayer binary, too little disk space, a command that fails.
pub fn run(o: &Options) -> anyhow::Result<()> {
    anyhow::ensure!(o.rounds >= 1, "--rounds must be at least 1");
    anyhow::ensure!(
        o.scale > 0.0 && o.scale.is_finite(),
        "--scale must be positive"
    );
    anyhow::ensure!(
        o.wclayer.is_file(),
        "no wclayer binary at {} (build it: cargo build --release -p wclayer-cli; or pass \
         --wclayer PATH)",
        o.wclayer.display()
    );
    let wclayer_version = tools::output(&o.wclayer.to_string_lossy(), &["--version"])
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    fs::create_dir_all(&o.work).with_context(|| format!("cannot create {}", o.work.display()))?;
    let load_before = tools::load_average();
    let tools = Tools::detect(o.install, o.only.contains(&Work::Pull));

    println!("== wclayer benchmark");
    report::facts(&o.work, &o.wclayer, &wclayer_version, &tools, &load_before);

    // What can run.
    let mut items: Vec<Work> = Vec::new();
    for &w in &Work::ALL {
        if !o.only.contains(&w) {
            continue;
        }
        let missing = if w == Work::Pull {
            if tools.gzip.is_none() && tools.pigz.is_none() {
                Some("gzip or pigz, for the image's layer")
            } else if tools.skopeo.is_none() {
                Some("skopeo")
            } else if tools.umoci.is_none() {
                Some("umoci")
            } else if tools.registry.is_none() {
                Some("docker-registry")
            } else {
                None
            }
        } else if tools.gnu_tar.is_none() {
            Some("GNU tar")
        } else if w == Work::ImportGz && tools.gzip.is_none() && tools.pigz.is_none() {
            Some("gzip")
        } else if w == Work::ImportGz && tools.gzip.is_none() {
            Some("gzip (the peer)")
        } else if w == Work::ExportGz && tools.pigz.is_none() {
            Some("pigz")
        } else {
            None
        };
        match missing {
            Some(what) => println!("skipped: {} (needs {what})", w.name()),
            None => items.push(w),
        }
    }
    anyhow::ensure!(!items.is_empty(), "nothing to run");

    // The disk check, before anything is written: from the cached workload's figures, or
    // from the profile's for a workload still to be made.
    let inputs_dir = o.work.join("inputs");
    let (estimate, inputs_missing) = cached_summary(o, &inputs_dir).map_or_else(
        || {
            let p = o.profile.profile();
            let s = Summary {
                entries: (p.expected_entries as f64 * o.scale) as u64,
                tar_bytes: (p.file_bytes as f64 * o.scale * 1.07) as u64,
                ..Summary::default()
            };
            let missing = s.tar_bytes + s.tar_bytes / 2;
            (s, missing)
        },
        |s| (s, 0),
    );
    let gz_estimate = estimate.tar_bytes / 2;
    let need = bytes_needed(&items, o.rounds, &estimate, gz_estimate, inputs_missing);
    let free = free_bytes(&o.work)?;
    println!(
        "disk: this run needs about {} in {} ({} per extraction); {} free",
        human(need),
        o.work.display(),
        human(estimate.tar_bytes + estimate.entries * 4096),
        human(free)
    );
    if need > free / 100 * 95 {
        bail!(
            "not enough free space in {} for this run (about {} needed, {} free): use --work \
             DIR elsewhere, fewer --rounds, --only, or a smaller --scale",
            o.work.display(),
            human(need),
            human(free)
        );
    }

    let inputs = prepare_inputs(o, &tools, &inputs_dir, true)?;
    report::workload(o, &inputs.summary, inputs.gz_bytes, &inputs.compressor);
    // The imports' inputs from the page cache for every side and round (not measured):
    // inputs kept from an earlier run, or a run after `drop_caches`, would otherwise be read
    // from the disk by whichever side goes first in the first round.
    for input in [Some(&inputs.tar), inputs.gz.as_ref()]
        .into_iter()
        .flatten()
    {
        read_tree(input);
    }

    let stamp = unix_now();
    let run_dir = o.work.join(format!("run-{stamp}-{}", std::process::id()));
    fs::create_dir_all(&run_dir)?;
    println!(
        "runs write to {}{}",
        run_dir.display(),
        if o.keep {
            " (kept: --keep)"
        } else {
            " (removed at the end)"
        }
    );
    println!();

    let mut runner = Runner {
        o,
        tools: &tools,
        inputs: &inputs,
        run_dir: run_dir.clone(),
        layer_dir: None,
        tree: None,
    };
    settle(&o.work);
    let mut outcomes = Vec::new();
    let mut failure = None;
    let mut sources_read = false;
    for &w in &items {
        if w.needs_sources()
            && runner.layer_dir.is_none()
            && let Err(e) = runner.setup_sources()
        {
            failure = Some(e);
            break;
        }
        if w.needs_sources() && !sources_read {
            // Both sources from the page cache, as the imports' inputs are (not measured).
            for tree in [&runner.layer_dir, &runner.tree].into_iter().flatten() {
                read_tree(tree);
            }
            sources_read = true;
        }
        match runner.item(w) {
            Ok(out) => {
                report::item(&out);
                outcomes.push(out);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !o.keep {
        if let Err(e) = remove_tree(&run_dir) {
            println!("could not remove {}: {e}", run_dir.display());
        }
        note_deletion(&o.work);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    report::summary(o, &outcomes, &tools::load_average());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_waits_only_after_a_recent_deletion_it_recorded() {
        let t = tempfile::tempdir().unwrap();
        // No record: no wait.
        assert_eq!(settle_wait(t.path(), 1_000_000), None);
        note_deletion(t.path());
        let at: u64 = fs::read_to_string(t.path().join(DELETED_MARK))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(settle_wait(t.path(), at), Some((0, SETTLE_SECS)));
        assert_eq!(
            settle_wait(t.path(), at + 100),
            Some((100, SETTLE_SECS - 100))
        );
        assert_eq!(settle_wait(t.path(), at + SETTLE_SECS), None);
        // A record from the future (a clock set back) or an unreadable one: no wait.
        assert_eq!(settle_wait(t.path(), at - 1), None);
        fs::write(t.path().join(DELETED_MARK), "yesterday\n").unwrap();
        assert_eq!(settle_wait(t.path(), at), None);
    }

    #[test]
    fn summary_sidecar_round_trips() {
        let s = Summary {
            entries: 11,
            dirs: 2,
            files: 5,
            hard_links: 3,
            reparse_points: 0,
            streams: 1,
            eas: 1,
            file_bytes: 1000,
            long_names: 0,
            max_depth: 4,
            descriptors: 7,
            tar_bytes: 20480,
        };
        assert_eq!(summary_from_text(&summary_to_text(&s)), Some(s));
        assert_eq!(summary_from_text("entries x\n"), None);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/usr/bin/tar"), "'/usr/bin/tar'");
        assert_eq!(sh_quote("a'b"), "'a'\\''b'");
    }

    #[test]
    fn disk_estimate_counts_every_extraction_and_output() {
        let s = Summary {
            entries: 10,
            tar_bytes: 1000,
            ..Summary::default()
        };
        let tree = 1000 + 10 * 4096;
        assert_eq!(bytes_needed(&[Work::Import], 3, &s, 400, 0), 6 * tree);
        assert_eq!(
            bytes_needed(&[Work::Export, Work::ExportGz], 1, &s, 400, 7),
            7 + 2 * 1000 + 2 * 400 + 2 * tree
        );
        // A pull alone imports no sources.
        assert_eq!(
            bytes_needed(&[Work::Pull], 2, &s, 400, 0),
            2 * (2 * tree + 400) + 2 * 400
        );
    }
}

//! The hostile suite: every case of `wclayer_gen::hostile_archives` (archives that attack an
//! import: names, whiteouts, escapes, truncations, lying and repeated headers, sparse files,
//! limits, deep nesting, compressed bombs), of `wclayer_gen::hostile_cases` and
//! `wclayer_gen::malformed_cases`, and of `wclayer_gen::tamper_cases` (layer directories,
//! parent layers and transport folders changed on disk), run through the commands that read
//! them.
//!
//! Each run happens in a fresh directory holding the input, an `outside/` directory with a
//! sentinel file, and the destination's parent `dest/`; the command gets a `TMPDIR` of its own
//! and a minute to finish (a hang is a failure, never a stuck run). A refused input must end
//! with exit status 1 and exactly one line on stderr, `wclayer: error: ...`, naming the bad
//! entry; an accepted one with exit status 0. Either way nothing may change outside the
//! destination (the whole directory is compared before and after: kinds, sizes, times, inodes,
//! link counts, modes) and nothing may be left beside it or in `TMPDIR`.
//!
//! Rows marked `known` in [`KNOWN`] are findings not fixed yet: they are listed and not run,
//! unless `WCLAYER_HOSTILE_KNOWN=1` is set, which runs and asserts them like every other row.
//! `WCLAYER_HOSTILE_VERBOSE=1` prints every row's stderr and time (run with `--nocapture`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wclayer_gen::{
    Class, Expect, HostileArchive, HostileInput, LayerKind, Malformed, Tamper, TamperCase,
    TamperTarget,
};

/// How long one command may run before it counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// A command of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cmd {
    /// `wclayer import -i IN.tar [-l PARENT] dest/layer`
    Import,
    /// `wclayer convert IN.tar dest/out.tar`
    Convert,
    /// `wclayer ls IN.tar`
    Ls,
    /// `wclayer export -o dest/out.tar LAYER` (a tampered layer directory)
    Export,
    /// `wclayer ls LAYER` (a tampered layer directory)
    LsLayer,
    /// `wclayer import -i DELTA.tar -l PARENT dest/layer` (a tampered parent)
    ImportOver,
    /// `wclayer import --folder FOLDER -l PARENT dest/layer` (a tampered folder)
    ImportFolder,
}

impl Cmd {
    fn label(self) -> &'static str {
        match self {
            Cmd::Import => "import",
            Cmd::Convert => "convert",
            Cmd::Ls => "ls",
            Cmd::Export => "export",
            Cmd::LsLayer => "ls LAYER",
            Cmd::ImportOver => "import -l",
            Cmd::ImportFolder => "import --folder",
        }
    }

    /// What the command creates in `dest/` when it succeeds.
    fn output(self) -> Option<&'static str> {
        match self {
            Cmd::Import | Cmd::ImportOver | Cmd::ImportFolder => Some("layer"),
            Cmd::Convert | Cmd::Export => Some("out.tar"),
            Cmd::Ls | Cmd::LsLayer => None,
        }
    }
}

/// Findings not fixed yet: the case, the command (`None`: every command) and what happens.
/// Such rows are listed but not run (see the module docs).
const KNOWN: &[(&str, Option<Cmd>, &str)] = &[];

/// Where a row's input comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Archive(&'a HostileArchive),
    Tampered(&'a TamperCase),
}

/// One line of the table: a case, a command, and what must happen.
#[derive(Clone)]
struct Row<'a> {
    case: &'static str,
    class: String,
    source: Source<'a>,
    cmd: Cmd,
    /// `None`: exit status 0. `Some(entry)`: exit status 1, one error line naming `entry`.
    refused: Option<&'static str>,
    /// A flag the error must also mention (the limit to raise).
    hint: Option<&'static str>,
    root_only: bool,
    known: Option<&'static str>,
}

/// Everything the suite runs.
struct Cases {
    archives: Vec<HostileArchive>,
    tampered: Vec<TamperCase>,
    /// The cases of `hostile_cases`: made for an import into a base layer directory, whose
    /// refusal of whiteouts some of them rely on, so only `import` reads them (the in-memory
    /// layer of `convert` and `ls` accepts whiteouts).
    import_only: Vec<&'static str>,
}

fn cases() -> Cases {
    let mut archives = wclayer_gen::hostile_archives();
    // The older lists: path escapes (import only, see `import_only`) and malformed records.
    let legacy = |m: Malformed, class| HostileArchive {
        name: m.name,
        class,
        kind: LayerKind::Base,
        expect: Expect::Refused { entry: m.bad_entry },
        limits: wclayer_gen::CaseLimits::default(),
        input: HostileInput::Tar(m.bytes),
        what: m.what,
    };
    let hostile = wclayer_gen::hostile_cases();
    let import_only = hostile.iter().map(|m| m.name).collect();
    archives.extend(hostile.into_iter().map(|m| legacy(m, Class::Escapes)));
    archives.extend(
        wclayer_gen::malformed_cases()
            .into_iter()
            .map(|m| legacy(m, Class::Structure)),
    );
    Cases {
        archives,
        tampered: wclayer_gen::tamper_cases(),
        import_only,
    }
}

/// The flag an error must mention for a case over a limit.
fn hint(a: &HostileArchive) -> Option<&'static str> {
    if a.class == Class::Bombs {
        Some("--max-ratio")
    } else if a.limits.max_entries.is_some() {
        Some("--max-entries")
    } else if a.name.contains("1tib")
        || matches!(a.name, "pax-size-huge" | "size-field-huge-base256")
    {
        Some("--max-size")
    } else {
        None
    }
}

fn known(case: &str, cmd: Cmd) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(c, k, _)| *c == case && k.is_none_or(|k| k == cmd))
        .map(|(_, _, why)| *why)
}

/// The table: every case with every command that reads its kind of input.
fn table(c: &Cases) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    for a in &c.archives {
        let refused = match a.expect {
            Expect::Refused { entry } => Some(entry),
            Expect::Accepted => None,
        };
        // Deep nesting: the layer its import makes is exported and listed too, and that
        // test runs the row (deep_nesting_imports_exports_and_lists).
        // The 8 GiB sparse files: `convert` writes their 8 GiB of zeros into its output (a
        // layer tar has no holes; hcsshim's export writes them too) and `ls` reads them
        // through; both are bounded by --max-size (the 1 TiB cases), and only `import` is
        // asked to keep the holes.
        let import_only = a.name == "deep-nesting"
            || a.name.ends_with("-8gib")
            || c.import_only.contains(&a.name);
        let cmds: &[Cmd] = if import_only {
            &[Cmd::Import]
        } else {
            &[Cmd::Import, Cmd::Convert, Cmd::Ls]
        };
        for &cmd in cmds {
            rows.push(Row {
                case: a.name,
                class: format!("{:?}", a.class),
                source: Source::Archive(a),
                cmd,
                refused,
                hint: hint(a),
                root_only: false,
                known: known(a.name, cmd),
            });
        }
    }
    for t in &c.tampered {
        let cmds: &[Cmd] = match t.target {
            TamperTarget::LayerDirectory => &[Cmd::Export, Cmd::LsLayer],
            TamperTarget::ParentLayer => &[Cmd::ImportOver],
            TamperTarget::TransportFolder => &[Cmd::ImportFolder],
        };
        for &cmd in cmds {
            rows.push(Row {
                case: t.name,
                class: format!("{:?}", t.target),
                source: Source::Tampered(t),
                cmd,
                refused: Some(t.bad_entry),
                hint: None,
                root_only: t.root_only,
                known: known(t.name, cmd),
            });
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Running one row
// ---------------------------------------------------------------------------------------------

/// What is recorded of every path below the directory of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    len: u64,
    mtime: (i64, i64),
    ino: u64,
    nlink: u64,
    mode: u32,
}

/// Every path below `root` (not following symbolic links), with what is recorded of it;
/// what a command made in `dest/` is recorded, not walked (it may be deeper than a path can
/// name; what must be in `dest/` is checked on its own).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    let dest = root.join("dest");
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let t = m.file_type();
            let kind = if t.is_dir() {
                if dir != dest {
                    todo.push(path.clone());
                }
                "dir"
            } else if t.is_symlink() {
                "symlink"
            } else if t.is_file() {
                "file"
            } else {
                "special"
            };
            out.insert(
                path.strip_prefix(root).unwrap().to_path_buf(),
                Node {
                    kind,
                    len: m.len(),
                    mtime: (m.mtime(), m.mtime_nsec()),
                    ino: m.ino(),
                    nlink: m.nlink(),
                    mode: m.mode(),
                },
            );
        }
    }
    out
}

/// The differences between two snapshots, ignoring `dest` itself (whose times change when
/// the staged destination appears in it or goes) and, when `ignore` is given, everything
/// below `dest/<ignore>`.
fn differences(
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
    ignore: Option<&str>,
) -> Vec<String> {
    let skip = |p: &Path| {
        p == Path::new("dest") || ignore.is_some_and(|i| p.starts_with(Path::new("dest").join(i)))
    };
    let mut out = Vec::new();
    for (p, b) in before {
        if skip(p) {
            continue;
        }
        match after.get(p) {
            None => out.push(format!("removed {}", p.display())),
            Some(a) if a != b => out.push(format!("changed {}: {b:?} -> {a:?}", p.display())),
            Some(_) => {}
        }
    }
    for p in after.keys() {
        if !skip(p) && !before.contains_key(p) {
            out.push(format!("created {}", p.display()));
        }
    }
    out
}

/// Runs `wclayer ARGS` with `TMPDIR` set, stdout discarded and stderr to a file; kills it
/// after [`DEADLINE`]. The exit status (`None` when it was killed) and stderr.
fn run(args: &[String], tmp: &Path, stderr_file: &Path) -> (Option<ExitStatus>, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("wclayer"))
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr_file).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = String::from_utf8_lossy(&std::fs::read(stderr_file).unwrap()).into_owned();
    (status, err)
}

/// Runs `wclayer ARGS` to build a fixture; it must succeed.
fn build(args: &[&str], scratch: &Path) {
    let (status, err) = run(
        &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        scratch,
        &scratch.join("build-stderr"),
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "building a fixture, wclayer {args:?}: {status:?} {err}"
    );
}

/// The directory of one run: `case/` (compared before and after) holds `input/`,
/// `outside/sentinel` and `dest/`; `tmp/` is the command's `TMPDIR`; `scratch/` holds
/// what is built on the way and the captured stderr.
struct RunDir {
    root: tempfile::TempDir,
}

const SENTINEL: &[u8] = b"the sentinel outside the destination\n";

impl RunDir {
    fn new() -> RunDir {
        let root = tempfile::tempdir().unwrap();
        for d in ["case/input", "case/outside", "case/dest", "tmp", "scratch"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("case/outside/sentinel"), SENTINEL).unwrap();
        RunDir { root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_string()
    }
}

/// Imports the base layer of the tampered cases and the delta cases into `input/parent`.
fn parent_layer(d: &RunDir) {
    std::fs::write(d.p("case/input/base.tar"), wclayer_gen::hostile_base()).unwrap();
    build(
        &[
            "import",
            "-i",
            &d.s("case/input/base.tar"),
            &d.s("case/input/parent"),
        ],
        &d.p("scratch"),
    );
}

/// Puts `what` at `path` after removing whatever is there.
fn replace_with(path: &Path, what: impl FnOnce(&Path)) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).unwrap(),
        Ok(_) => std::fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    what(path);
}

fn mknod(path: &Path, kind: rustix::fs::FileType, dev: rustix::fs::Dev) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        kind,
        rustix::fs::Mode::from_raw_mode(0o644),
        dev,
    )
    .unwrap();
}

/// Applies one step of a tampered case below `root` (docs of `wclayer_gen::Tamper`).
fn tamper(root: &Path, step: &Tamper, outside: &Path) {
    let at = |rel: &str| root.join(rel);
    match step {
        Tamper::Fifo(rel) => replace_with(&at(rel), |p| {
            mknod(p, rustix::fs::FileType::Fifo, 0);
        }),
        Tamper::ZeroDevice(rel) => replace_with(&at(rel), |p| {
            mknod(
                p,
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::makedev(1, 5),
            );
        }),
        Tamper::SymlinkOut(rel) => replace_with(&at(rel), |p| {
            std::os::unix::fs::symlink(outside.join("sentinel"), p).unwrap();
        }),
        Tamper::SymlinkOutDir(rel) => replace_with(&at(rel), |p| {
            std::os::unix::fs::symlink(outside, p).unwrap();
        }),
        Tamper::Remove(rel) => replace_with(&at(rel), |_| {}),
        Tamper::Write { path, bytes } => {
            std::fs::create_dir_all(at(path).parent().unwrap()).unwrap();
            // `fs::write` truncates an existing file in place: its inode and attributes stay.
            std::fs::write(at(path), bytes).unwrap();
        }
        Tamper::Replace { path, from, to } => {
            let text = std::fs::read_to_string(at(path)).unwrap();
            assert!(text.contains(from), "{path} lacks {from:?}: {text}");
            std::fs::write(at(path), text.replacen(from, to, 1)).unwrap();
        }
        Tamper::Extend { path, len } => {
            std::fs::create_dir_all(at(path).parent().unwrap()).unwrap();
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(at(path))
                .unwrap();
            f.set_len(*len).unwrap();
        }
        Tamper::SetXattr { path, name, value } => {
            rustix::fs::setxattr(at(path), *name, value, rustix::fs::XattrFlags::empty()).unwrap();
        }
    }
}

/// Builds the row's input in `case/input` and returns the command's arguments.
fn prepare(row: &Row<'_>, d: &RunDir) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let outside = d.p("case/outside");
    match row.source {
        Source::Archive(a) => {
            let tar = d.p("case/input/case.tar");
            a.input
                .write_to(std::io::BufWriter::new(
                    std::fs::File::create(&tar).unwrap(),
                ))
                .unwrap();
            let (what, rest): (&str, Vec<String>) = match row.cmd {
                Cmd::Import => {
                    let mut rest = vec!["-i".into(), d.s("case/input/case.tar")];
                    if a.kind == LayerKind::Delta {
                        parent_layer(d);
                        rest.extend(["-l".into(), d.s("case/input/parent")]);
                    }
                    rest.push(d.s("case/dest/layer"));
                    ("import", rest)
                }
                Cmd::Convert => (
                    "convert",
                    vec![d.s("case/input/case.tar"), d.s("case/dest/out.tar")],
                ),
                Cmd::Ls => ("ls", vec![d.s("case/input/case.tar")]),
                other => panic!("{other:?} does not read a tar"),
            };
            args.push(what.into());
            let l = a.limits;
            for (flag, v) in [
                ("--max-entries", l.max_entries),
                ("--max-size", l.max_size),
                ("--max-ratio", l.max_ratio),
            ] {
                if let Some(v) = v {
                    args.extend([flag.to_string(), v.to_string()]);
                }
            }
            args.extend(rest);
        }
        Source::Tampered(t) => match t.target {
            TamperTarget::LayerDirectory => {
                std::fs::write(d.p("scratch/base.tar"), wclayer_gen::hostile_base()).unwrap();
                build(
                    &[
                        "import",
                        "-i",
                        &d.s("scratch/base.tar"),
                        &d.s("case/input/layer"),
                    ],
                    &d.p("scratch"),
                );
                for step in &t.steps {
                    tamper(&d.p("case/input/layer"), step, &outside);
                }
                args.extend(match row.cmd {
                    Cmd::Export => vec![
                        "export".into(),
                        "-o".into(),
                        d.s("case/dest/out.tar"),
                        d.s("case/input/layer"),
                    ],
                    Cmd::LsLayer => vec!["ls".into(), d.s("case/input/layer")],
                    other => panic!("{other:?} does not read a layer directory"),
                });
            }
            TamperTarget::ParentLayer => {
                parent_layer(d);
                std::fs::write(d.p("case/input/delta.tar"), wclayer_gen::hostile_delta()).unwrap();
                for step in &t.steps {
                    tamper(&d.p("case/input/parent"), step, &outside);
                }
                args.extend([
                    "import".into(),
                    "-i".into(),
                    d.s("case/input/delta.tar"),
                    "-l".into(),
                    d.s("case/input/parent"),
                    d.s("case/dest/layer"),
                ]);
            }
            TamperTarget::TransportFolder => {
                parent_layer(d);
                std::fs::write(d.p("scratch/delta.tar"), wclayer_gen::hostile_delta()).unwrap();
                build(
                    &[
                        "import",
                        "-i",
                        &d.s("scratch/delta.tar"),
                        "-l",
                        &d.s("case/input/parent"),
                        &d.s("scratch/delta"),
                    ],
                    &d.p("scratch"),
                );
                build(
                    &[
                        "export",
                        "--folder",
                        &d.s("case/input/folder"),
                        &d.s("scratch/delta"),
                    ],
                    &d.p("scratch"),
                );
                for step in &t.steps {
                    tamper(&d.p("case/input/folder"), step, &outside);
                }
                args.extend([
                    "import".into(),
                    "--folder".into(),
                    d.s("case/input/folder"),
                    "-l".into(),
                    d.s("case/input/parent"),
                    d.s("case/dest/layer"),
                ]);
            }
        },
    }
    args
}

/// Whether the error line names `entry`: as given, with `/` as `\` or `\` as `/` (the layer's
/// and the tar's spelling), or quoted as the tar reader quotes names. The paths of the run
/// are taken out first, so that they cannot supply the name.
fn names(err: &str, entry: &str, d: &RunDir) -> bool {
    let residue = without_paths(err, d);
    [
        entry.to_string(),
        entry.replace('/', "\\"),
        entry.replace('\\', "/"),
        format!("{entry:?}"),
    ]
    .iter()
    .any(|form| residue.contains(form.as_str()))
}

/// `err` with every path of the run (up to the next space, `:` or quote) replaced by
/// `<path>`.
fn without_paths(err: &str, d: &RunDir) -> String {
    let root = d.root.path().to_str().unwrap();
    let mut out = String::new();
    let mut rest = err;
    while let Some(at) = rest.find(root) {
        out.push_str(&rest[..at]);
        out.push_str("<path>");
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == ':' || c == '"')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Every symbolic link below `dir` must lead into `inside` (links that lead nowhere are
/// judged by where they point).
fn links_stay_inside(dir: &Path, inside: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for p in crate::walk(dir) {
        if !p.is_symlink() {
            continue;
        }
        let target = std::fs::read_link(&p).unwrap();
        let joined = p.parent().unwrap().join(&target);
        let mut lexical = PathBuf::new();
        for c in joined.components() {
            match c {
                std::path::Component::ParentDir => {
                    lexical.pop();
                }
                other => lexical.push(other),
            }
        }
        let resolved = std::fs::canonicalize(&p).unwrap_or(lexical);
        if !resolved.starts_with(inside) {
            bad.push(format!("{} -> {}", p.display(), target.display()));
        }
    }
    bad
}

/// Runs one row in a fresh directory; the failures found (empty: the row passed). The run
/// directory is returned too, for follow-ups on what the command made.
fn check(row: &Row<'_>) -> (Vec<String>, RunDir, f64) {
    let d = RunDir::new();
    let args = prepare(row, &d);
    let before = snapshot(&d.p("case"));
    let started = Instant::now();
    let (status, err) = run(&args, &d.p("tmp"), &d.p("scratch/stderr"));
    let secs = started.elapsed().as_secs_f64();
    let after = snapshot(&d.p("case"));
    let mut f = Vec::new();
    let Some(status) = status else {
        f.push(format!("still running after {DEADLINE:?}: killed"));
        return (f, d, secs);
    };
    let lines: Vec<&str> = err.lines().collect();
    let dest = crate::ls(&d.p("case/dest"));
    match row.refused {
        Some(entry) => {
            if status.code() != Some(1) {
                f.push(format!("exit status {status}, not 1"));
            }
            if lines.len() != 1 {
                f.push(format!("{} lines on stderr, not 1", lines.len()));
            }
            if !err.starts_with("wclayer: error: ") {
                f.push("stderr does not start with `wclayer: error: `".into());
            }
            if !names(&err, entry, &d) {
                f.push(format!("the error does not name {entry:?}"));
            }
            if let Some(h) = row.hint
                && !err.contains(h)
            {
                f.push(format!("the error does not mention {h}"));
            }
            if !dest.is_empty() {
                f.push(format!("left in dest/: {dest:?}"));
            }
            f.extend(differences(&before, &after, None));
        }
        None => {
            if !status.success() {
                f.push(format!("exit status {status}, not 0"));
            }
            // One line of success, and an import's diffID.
            let said = lines
                .iter()
                .filter(|l| !l.starts_with("diffID sha256:"))
                .count();
            if without_paths(&err, &d).contains("error") || said > 1 {
                f.push("stderr is not one line of success".into());
            }
            let want: Vec<String> = row.cmd.output().into_iter().map(String::from).collect();
            if dest != want {
                f.push(format!("dest/ holds {dest:?}, not {want:?}"));
            }
            f.extend(differences(&before, &after, row.cmd.output()));
            if row.cmd == Cmd::Import && row.case.contains("8gib") {
                // Holes stay holes: 8 GiB of which 48 bytes are data.
                let m = std::fs::metadata(d.p("case/dest/layer/Files/sparse.bin")).unwrap();
                if m.len() != 8 << 30 || m.blocks() * 512 > 4 << 20 {
                    f.push(format!(
                        "sparse.bin is {} bytes taking {} bytes on disk",
                        m.len(),
                        m.blocks() * 512
                    ));
                }
            }
            if row.cmd == Cmd::Import && row.case != "deep-nesting" {
                let layer = d.p("case/dest/layer");
                if !layer.join(".wclayer/layer.json").is_file() {
                    f.push("no layer.json in the layer".into());
                }
                f.extend(
                    links_stay_inside(&layer, &layer)
                        .into_iter()
                        .map(|l| format!("a symbolic link leads out: {l}")),
                );
            }
        }
    }
    if std::fs::read(d.p("case/outside/sentinel")).unwrap() != SENTINEL {
        f.push("the sentinel outside changed".into());
    }
    let tmp = crate::ls(&d.p("tmp"));
    if !tmp.is_empty() {
        f.push(format!("left in TMPDIR: {tmp:?}"));
    }
    if !f.is_empty() {
        f.push(format!("stderr: {err:?}"));
    }
    (f, d, secs)
}

/// Whether the rows marked known run too.
fn run_known() -> bool {
    std::env::var_os("WCLAYER_HOSTILE_KNOWN").is_some()
}

/// Runs `rows` (skipping known ones unless asked, and root-only ones when not root) and
/// fails with every failure found.
fn run_rows(what: &str, rows: &[Row<'_>]) {
    let root = rustix::process::geteuid().is_root();
    let mut report = String::new();
    let mut failed = 0;
    // Every run's directory stays until the end of the test.
    let mut dirs = Vec::new();
    for row in rows {
        if let Some(why) = row.known
            && !run_known()
        {
            eprintln!("KNOWN {} ({}): {why}", row.case, row.cmd.label());
            continue;
        }
        if row.root_only && !root {
            cannot_run(
                &format!("{what}: {} ({})", row.case, row.cmd.label()),
                "making a device node needs root",
            );
            continue;
        }
        let (f, dir, secs) = check(row);
        if secs > 2.0 {
            eprintln!("SLOW {} ({}): {secs:.1} s", row.case, row.cmd.label());
        }
        if std::env::var_os("WCLAYER_HOSTILE_VERBOSE").is_some() {
            let err = std::fs::read_to_string(dir.p("scratch/stderr")).unwrap_or_default();
            eprintln!(
                "ROW {} ({}) {secs:.2} s: {}",
                row.case,
                row.cmd.label(),
                without_paths(err.trim_end(), &dir)
            );
        }
        if !f.is_empty() {
            failed += 1;
            writeln!(report, "{} ({}):", row.case, row.cmd.label()).unwrap();
            for line in f {
                writeln!(report, "    {line}").unwrap();
            }
        }
        dirs.push(dir);
    }
    remove_trees(dirs);
    assert!(failed == 0, "{what}: {failed} rows failed\n{report}");
}

/// Removes a run directory, also one holding a tree deeper than `PATH_MAX` allows to name
/// (`rm` walks it relative to open directories).
fn remove_tree(d: RunDir) {
    remove_trees(vec![d]);
}

/// [`remove_tree`] for many.
fn remove_trees(dirs: Vec<RunDir>) {
    if dirs.is_empty() {
        return;
    }
    let status = Command::new("rm")
        .arg("-rf")
        .args(dirs.iter().map(|d| d.root.path()))
        .status()
        .unwrap();
    assert!(status.success());
}

/// What a test does when it cannot run a row (a device node needs root): it fails when
/// `WCLAYER_TEST_REQUIRE_ROOT` is set (the CI gate runs as root and sets it, so that
/// nothing is skipped there), else it reports the skip on stderr.
fn cannot_run(test: &str, why: &str) {
    assert!(
        std::env::var_os("WCLAYER_TEST_REQUIRE_ROOT").is_none(),
        "{test}: {why}, and WCLAYER_TEST_REQUIRE_ROOT is set"
    );
    eprintln!("SKIPPED {test}: {why}");
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// The table itself: at least 60 distinct cases, every class present, every expectation
/// stated; printed (with `--nocapture`) as case, command, expected exit, entry named.
#[test]
fn the_hostile_table_covers_every_class() {
    let c = cases();
    let rows = table(&c);
    let mut names: Vec<&str> = rows.iter().map(|r| r.case).collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 60, "{} cases", names.len());
    let tar_cases = c.archives.len();
    assert!(tar_cases >= 45, "{tar_cases} tar cases");
    assert!(c.tampered.len() >= 15, "{} non-tar cases", c.tampered.len());
    for class in [
        Class::Names,
        Class::Whiteouts,
        Class::Escapes,
        Class::Structure,
        Class::Sparse,
        Class::Limits,
        Class::Bombs,
    ] {
        assert!(
            c.archives.iter().any(|a| a.class == class),
            "no case of class {class:?}"
        );
    }
    for target in [
        TamperTarget::LayerDirectory,
        TamperTarget::ParentLayer,
        TamperTarget::TransportFolder,
    ] {
        assert!(c.tampered.iter().any(|t| t.target == target), "{target:?}");
    }
    for (case, _, _) in KNOWN {
        assert!(names.contains(case), "KNOWN names no case: {case}");
    }
    let mut out = format!(
        "{:<40} {:<16} {:<15} {:<4} entry named\n",
        "case", "class", "command", "exit"
    );
    for r in &rows {
        let exit = if r.refused.is_some() { 1 } else { 0 };
        let mark = if r.known.is_some() { " (known)" } else { "" };
        writeln!(
            out,
            "{:<40} {:<16} {:<15} {:<4} {}{mark}",
            r.case,
            r.class,
            r.cmd.label(),
            exit,
            r.refused.unwrap_or("-"),
        )
        .unwrap();
    }
    println!("{out}");
    println!("{} cases, {} rows", names.len(), rows.len());
}

/// The checks themselves: a change outside the destination, something left beside it, and a
/// name that only the run's paths spell are all seen.
#[test]
fn the_checks_see_what_they_must() {
    let d = RunDir::new();
    let before = snapshot(&d.p("case"));
    std::fs::write(d.p("case/outside/sentinel"), b"changed").unwrap();
    std::fs::write(d.p("case/input/new"), b"").unwrap();
    std::fs::create_dir(d.p("case/dest/layer")).unwrap();
    std::fs::create_dir(d.p("case/dest/.layer.wclayer-staging-0")).unwrap();
    let after = snapshot(&d.p("case"));
    let found = differences(&before, &after, Some("layer"));
    assert_eq!(
        found
            .iter()
            .map(|f| f.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "changed input",
            "changed outside/sentinel",
            "created dest/.layer.wclayer-staging-0",
            "created input/new"
        ],
        "{found:?}"
    );
    let path = d.s("case/input/Files/x.txt");
    assert!(!names(
        &format!("wclayer: error: {path}: bad"),
        "Files/x.txt",
        &d
    ));
    assert!(names(
        "wclayer: error: L: Files\\x.txt: bad",
        "Files/x.txt",
        &d
    ));
    assert!(names("(entry \"Files\\\\x\")", "Files\\x", &d));
    remove_tree(d);
}

/// Every archive through `import` (delta cases over a parent layer).
#[test]
fn hostile_tars_import() {
    let c = cases();
    let rows: Vec<Row<'_>> = table(&c)
        .into_iter()
        .filter(|r| r.cmd == Cmd::Import && r.case != "deep-nesting")
        .collect();
    run_rows("hostile_tars_import", &rows);
}

/// Every archive through `convert` and `ls`.
#[test]
fn hostile_tars_convert_and_ls() {
    let c = cases();
    let rows: Vec<Row<'_>> = table(&c)
        .into_iter()
        .filter(|r| matches!(r.cmd, Cmd::Convert | Cmd::Ls))
        .collect();
    run_rows("hostile_tars_convert_and_ls", &rows);
}

/// Tampered layer directories through `export` and `ls`; tampered parents and transport
/// folders through `import`.
#[test]
fn tampered_layers_parents_and_folders() {
    let c = cases();
    let rows: Vec<Row<'_>> = table(&c)
        .into_iter()
        .filter(|r| matches!(r.source, Source::Tampered(_)))
        .collect();
    run_rows("tampered_layers_parents_and_folders", &rows);
}

/// 5 000 nested directories import, and the layer they make exports and lists, each within
/// the deadline.
#[test]
fn deep_nesting_imports_exports_and_lists() {
    let c = cases();
    let row = table(&c)
        .into_iter()
        .find(|r| r.case == "deep-nesting")
        .unwrap();
    assert_eq!((row.cmd, row.refused), (Cmd::Import, None));
    let (f, d, secs) = check(&row);
    assert!(f.is_empty(), "deep-nesting (import): {f:#?}");
    eprintln!("deep-nesting: import {secs:.1} s");
    // Export and list at the same time: both only read the layer.
    let layer = d.s("case/dest/layer");
    let reads = [
        (
            "export",
            vec![
                "export".into(),
                "-o".into(),
                d.s("scratch/deep.tar"),
                layer.clone(),
            ],
        ),
        ("ls", vec!["ls".into(), layer.clone()]),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = reads
            .iter()
            .map(|(label, args)| {
                let (tmp, stderr) = (d.p("tmp"), d.p(&format!("scratch/{label}.stderr")));
                scope.spawn(move || {
                    let started = Instant::now();
                    let (status, err) = run(args, &tmp, &stderr);
                    (*label, status, err, started.elapsed().as_secs_f64())
                })
            })
            .collect();
        for r in runs {
            let (label, status, err, secs) = r.join().unwrap();
            assert!(
                status.is_some_and(|s| s.success()),
                "deep-nesting ({label}): {status:?} {err}"
            );
            eprintln!("deep-nesting: {label} {secs:.1} s");
        }
    });
    // The export holds every directory and the file at the bottom.
    let mut names = 0;
    let file = std::fs::File::open(d.p("scratch/deep.tar")).unwrap();
    for e in tar::Archive::new(file).entries().unwrap() {
        e.unwrap();
        names += 1;
    }
    assert_eq!(names, 5002);
    remove_tree(d);
}

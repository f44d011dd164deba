//! Crashes, signals and races (docs/security.md §5): whatever stops a command, nothing
//! partial appears under the final name, the next run into the same directory leaves no
//! debris, and a re-run succeeds.
//!
//! The stops are delivered by `strace` fault injection: `-e inject=SYSCALL:signal=SIG:when=N`
//! sends the signal as the command enters its N-th call of `SYSCALL` — after so many files
//! opened or written, inside the final flush, at the rename that commits. With `-f` strace
//! counts the calls of each thread apart: an import's workers create and fill the files.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{ls, s, stdout_of, wclayer};

/// Whether `strace` can run here; without it the interruption cases are reported and
/// skipped, unless `WCLAYER_TEST_REQUIRE_STRACE` is set (the CI gate installs strace and
/// sets it).
fn have_strace(test: &str) -> bool {
    let ok = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("WCLAYER_TEST_REQUIRE_STRACE").is_none(),
            "{test}: strace cannot run, and WCLAYER_TEST_REQUIRE_STRACE is set"
        );
        eprintln!("SKIPPED {test}: strace cannot run here");
    }
    ok
}

/// The inputs every case starts from: a base layer tar, its layer directory, its transport
/// folder, and the tar its export must give.
struct Inputs {
    tar: PathBuf,
    layer: PathBuf,
    folder: PathBuf,
    want: Vec<u8>,
}

fn inputs(dir: &Path) -> Inputs {
    let inputs = dir.join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let tar = inputs.join("base.tar");
    stdout_of(&[
        "sample",
        "base",
        "-o",
        &s(&tar),
        "--big-file-size",
        "300000",
    ]);
    let layer = inputs.join("layer");
    stdout_of(&["import", "-i", &s(&tar), &s(&layer)]);
    let want_tar = inputs.join("want.tar");
    stdout_of(&["export", &s(&layer), "-o", &s(&want_tar)]);
    let folder = inputs.join("folder");
    stdout_of(&["export", "--folder", &s(&folder), &s(&layer)]);
    let want = std::fs::read(&want_tar).unwrap();
    Inputs {
        tar,
        layer,
        folder,
        want,
    }
}

/// A command that makes something under a final name.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `import -i TAR LAYER`
    Import,
    /// `import --folder FOLDER LAYER`
    ImportFolder,
    /// `export LAYER -o OUT.tar`
    Export,
    /// `export --folder FOLDER LAYER`
    ExportFolder,
}

impl Op {
    fn args(self, i: &Inputs, dest: &Path) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(ToString::to_string).collect();
        match self {
            Op::Import => v(&["import", "-i", &s(&i.tar), &s(dest)]),
            Op::ImportFolder => v(&["import", "--folder", &s(&i.folder), &s(dest)]),
            Op::Export => v(&["export", &s(&i.layer), "-o", &s(dest)]),
            Op::ExportFolder => v(&["export", "--folder", &s(dest), &s(&i.layer)]),
        }
    }

    /// Checks that `dest` is the whole result: its export (or itself) is the wanted tar.
    fn check_complete(self, i: &Inputs, dest: &Path, scratch: &Path) {
        let tag = dest.file_name().unwrap().to_string_lossy();
        let bytes = match self {
            Op::Export => std::fs::read(dest).unwrap(),
            Op::Import | Op::ImportFolder => {
                let out = scratch.join(format!("check-{tag}.tar"));
                stdout_of(&["export", &s(dest), "-o", &s(&out)]);
                std::fs::read(&out).unwrap()
            }
            Op::ExportFolder => {
                let layer = scratch.join(format!("check-{tag}"));
                stdout_of(&["import", "--folder", &s(dest), &s(&layer)]);
                let out = scratch.join(format!("check-{tag}.tar"));
                stdout_of(&["export", &s(&layer), "-o", &s(&out)]);
                std::fs::read(&out).unwrap()
            }
        };
        assert!(
            bytes == i.want,
            "{self:?}: {} is not complete",
            dest.display()
        );
    }

    /// Where it stops: (system call, which call, whether the final name is committed by then).
    fn points(self) -> &'static [(&'static str, u32, bool)] {
        match self {
            // The import's main thread opens the directories and the layer's own files
            // (53 calls for this input); its workers create and fill the regular files, and
            // strace counts the calls of each thread apart.
            Op::Import => &[
                ("openat", 30, false),
                ("openat", 45, false),
                ("mkdirat", 10, false),
                ("mkdirat", 20, false),
                ("pwrite64", 5, false),
                ("syncfs", 1, false),
                ("renameat2", 1, false),
                ("fsync", 1, true),
            ],
            Op::ImportFolder => &[
                ("openat", 60, false),
                ("openat", 150, false),
                ("mkdirat", 12, false),
                ("syncfs", 1, false),
                ("renameat2", 1, false),
                ("fsync", 1, true),
            ],
            // The tar is written by a thread of its own, in positioned writes of 1 MiB
            // (around the page cache): its first write is the first data.
            Op::Export => &[
                ("openat", 40, false),
                ("pwrite64", 1, false),
                ("fsync", 1, false),
                ("renameat", 1, false),
                ("fsync", 2, true),
            ],
            Op::ExportFolder => &[
                ("openat", 60, false),
                ("openat", 150, false),
                ("mkdirat", 12, false),
                ("renameat2", 1, false),
            ],
        }
    }
}

/// Runs `wclayer ARGS` under strace, stopped by `signal` at the `when`-th `syscall`, with
/// `TMPDIR` set to `tmpdir` when given.
fn run_stopped(
    args: &[String],
    syscall: &str,
    when: u32,
    signal: &str,
    tmpdir: Option<&Path>,
) -> (i32, String) {
    let mut cmd = Command::new("strace");
    if let Some(t) = tmpdir {
        cmd.env("TMPDIR", t);
    }
    let out = cmd
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            &format!("trace={syscall}"),
            "-e",
            &format!("inject={syscall}:signal={signal}:when={when}"),
        ])
        .arg(assert_cmd::cargo::cargo_bin("wclayer"))
        .args(args)
        // Counted calls are the command's own, not the dynamic loader's search of the
        // library path cargo sets for tests.
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    // strace ends as its command did: killed by the signal, or with its exit status.
    let code = out
        .status
        .code()
        .or(out.status.signal().map(|s| 128 + s))
        .unwrap();
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether a name is what a writer stages beside its target.
fn is_debris(name: &str) -> bool {
    name.contains(".wclayer-staging-") || name.contains(".wclayer-partial-")
}

/// Every command stopped at every point by every signal: never a partial result under the
/// final name; after `SIGINT`/`SIGTERM`/`SIGHUP` nothing left beside it; after `SIGKILL`
/// the staging debris is gone after the next run, which succeeds.
#[test]
fn stopped_commands_leave_no_partial_result_and_no_debris_after_the_next_run() {
    let test = "stopped_commands_leave_no_partial_result_and_no_debris_after_the_next_run";
    if !have_strace(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let i = inputs(tmp.path());
    let mut runs = 0;
    for op in [Op::Import, Op::ImportFolder, Op::Export, Op::ExportFolder] {
        for &(syscall, when, committed) in op.points() {
            for signal in ["KILL", "INT", "TERM", "HUP"] {
                // SIGKILL everywhere; the catchable signals at a few points each.
                if signal != "KILL"
                    && !matches!(
                        (syscall, when),
                        ("openat", 45 | 60) | ("syncfs" | "renameat2" | "renameat", 1)
                    )
                {
                    continue;
                }
                runs += 1;
                let case = format!("{op:?} {signal} at {syscall}#{when}");
                let work = tmp.path().join(format!("run{runs}"));
                std::fs::create_dir(&work).unwrap();
                let dest = work.join(if matches!(op, Op::Export) {
                    "out.tar"
                } else {
                    "out"
                });
                let (code, err) = run_stopped(&op.args(&i, &dest), syscall, when, signal, None);
                let exists = dest.exists();
                // A catchable signal that arrives as the command finishes may find its
                // result committed: then the command ends on its own, successfully.
                assert!(
                    code != 0 || (signal != "KILL" && exists),
                    "{case}: not stopped: {err}"
                );
                if committed && signal == "KILL" {
                    assert!(exists, "{case}: committed result missing");
                }
                if !committed && signal == "KILL" {
                    assert!(!exists, "{case}: a partial result under the final name");
                }
                if exists {
                    op.check_complete(&i, &dest, &work);
                }
                let left: Vec<String> = ls(&work).into_iter().filter(|n| is_debris(n)).collect();
                if signal == "KILL" {
                    assert!(
                        committed || !left.is_empty(),
                        "{case}: staging expected, found {:?}: {err}",
                        ls(&work)
                    );
                } else {
                    assert!(left.is_empty(), "{case}: debris after {signal}: {left:?}");
                    assert!(
                        code == 0
                            || err.contains(&format!("wclayer: error: stopped by SIG{signal}")),
                        "{case}: {err}"
                    );
                }
                // The next run into the same directory succeeds and sweeps the debris.
                let again = work.join(if matches!(op, Op::Export) {
                    "again.tar"
                } else {
                    "again"
                });
                let out = wclayer().args(op.args(&i, &again)).output().unwrap();
                assert!(out.status.success(), "{case}: re-run: {:?}", out);
                op.check_complete(&i, &again, &work);
                let left: Vec<String> = ls(&work).into_iter().filter(|n| is_debris(n)).collect();
                assert!(
                    left.is_empty(),
                    "{case}: debris after the next run: {left:?}"
                );
            }
        }
    }
    assert!(runs >= 40, "{runs} runs");
}

/// Several delta imports over one parent at once all succeed with the same layer; two
/// imports racing for one destination: one wins, the other fails with one error line and
/// leaves nothing.
#[test]
fn concurrent_imports_share_a_parent_and_race_cleanly_for_a_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let i = inputs(tmp.path());
    let delta = tmp.path().join("inputs/delta.tar");
    stdout_of(&["sample", "delta", "-o", &s(&delta)]);
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let spawn = |dest: &Path| {
        Command::new(assert_cmd::cargo::cargo_bin("wclayer"))
            .args(["import", "-l", &s(&i.layer), "-i", &s(&delta), &s(dest)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..4)
        .map(|n| spawn(&work.join(format!("delta{n}"))))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let export = |layer: &Path| {
        let out = wclayer().args(["export", &s(layer)]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let first = export(&work.join("delta0"));
    for n in 1..4 {
        let d = work.join(format!("delta{n}"));
        assert!(export(&d) == first, "delta{n}");
    }

    for round in 0..5 {
        let race = tmp.path().join(format!("race{round}"));
        std::fs::create_dir(&race).unwrap();
        let dest = race.join("layer");
        let a = spawn(&dest);
        let b = spawn(&dest);
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(won, 1, "round {round}: {outs:?}");
        let lost = outs.iter().find(|o| !o.status.success()).unwrap();
        let err = String::from_utf8_lossy(&lost.stderr);
        assert_eq!(err.lines().count(), 1, "round {round}: {err}");
        assert!(err.contains("already exists"), "round {round}: {err}");
        assert_eq!(ls(&race), ["layer"], "round {round}");
        assert!(export(&dest) == first, "round {round}");
    }
}

/// `build -o docker://...` stopped while it pushes the layout it staged in `TMPDIR` (at its
/// first `connect`, to a port nothing listens on): `SIGINT`, `SIGTERM` and `SIGHUP` leave
/// nothing there; after `SIGKILL` the staging directory stays until the next build, which
/// removes it (and its own, when its push fails too).
#[test]
fn a_build_stopped_while_pushing_leaves_no_layout_in_the_temporary_directory() {
    let test = "a_build_stopped_while_pushing_leaves_no_layout_in_the_temporary_directory";
    if !have_strace(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let i = inputs(tmp.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args: Vec<String> = [
        "build",
        "--platform",
        "windows/amd64:10.0.20348.1",
        "--layer",
        &s(&i.tar),
        "-o",
        &format!("docker://127.0.0.1:{port}/win/app:v1"),
    ]
    .map(String::from)
    .to_vec();
    for signal in ["KILL", "INT", "TERM", "HUP"] {
        let work = tmp.path().join(format!("tmp-{signal}"));
        std::fs::create_dir(&work).unwrap();
        let (code, err) = run_stopped(&args, "connect", 1, signal, Some(&work));
        assert_ne!(code, 0, "{signal}: not stopped: {err}");
        let left = ls(&work);
        if signal == "KILL" {
            assert_eq!(left.len(), 1, "{signal}: {left:?}");
            assert!(is_debris(&left[0]), "{signal}: {left:?}");
            let layout = work.join(&left[0]).join("layout");
            assert!(
                layout.join("index.json").is_file(),
                "{signal}: no layout yet"
            );
            let out = wclayer().env("TMPDIR", &work).args(&args).output().unwrap();
            let again = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{again}");
            assert!(again.contains("cannot reach the registry"), "{again}");
        } else {
            assert!(
                err.contains(&format!("wclayer: error: stopped by SIG{signal}")),
                "{signal}: {err}"
            );
        }
        assert!(ls(&work).is_empty(), "{signal}: left {:?}", ls(&work));
    }
}

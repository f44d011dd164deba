//! The committed seed corpus `fuzz/corpus/<target>/`, replayed through the fuzz targets, and
//! the code that writes its seeds.
//!
//! Every file of every target's corpus runs through the target function: seeds, and the
//! regression inputs of findings (`regression-*`), which fail here until the finding is
//! fixed. `cargo test -p wclayer-fuzz -- --ignored regenerate_seed_corpus` rewrites the
//! seeds (`seed-*`) from the generator and the reference vectors ([`seeds`]).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    reason = "test code"
)]

mod seeds;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use wclayer_fuzz::TARGETS;

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fuzz/corpus/<target>/`.
fn corpus_dir(target: &str) -> PathBuf {
    repo().join("fuzz/corpus").join(target)
}

/// The files of a target's corpus, sorted.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus file of `target` through its function; fails naming every file that
/// panicked.
fn replay(target: &str) {
    let (_, f) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let files = corpus(target);
    assert!(!files.is_empty(), "the corpus of {target} is empty");
    let mut failed = Vec::new();
    for path in &files {
        let data = fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| f(&data))).is_err() {
            failed.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus files fail: {failed:?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn backup_stream_corpus() {
    replay("backup_stream");
}

#[test]
fn ea_corpus() {
    replay("ea");
}

#[test]
fn reparse_corpus() {
    replay("reparse");
}

#[test]
fn security_descriptor_corpus() {
    replay("security_descriptor");
}

#[test]
fn sddl_corpus() {
    replay("sddl");
}

#[test]
fn tar_reader_corpus() {
    replay("tar_reader");
}

#[test]
fn layer_sidecar_corpus() {
    replay("layer_sidecar");
}

#[test]
fn import_corpus() {
    replay("import");
}

#[test]
fn import_delta_corpus() {
    replay("import_delta");
}

#[test]
fn image_archive_corpus() {
    replay("image_archive");
}

/// Every target has a corpus, a replay test above, and a libFuzzer binary in `fuzz/`; the
/// corpus holds no directory and no file over 64 KiB.
#[test]
fn every_target_is_wired_up() {
    let this = include_str!("main.rs");
    let manifest = fs::read_to_string(repo().join("fuzz/Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            this.contains(&format!("replay(\"{name}\")")),
            "no replay test for {name}"
        );
        assert!(
            repo()
                .join(format!("fuzz/fuzz_targets/{name}.rs"))
                .is_file(),
            "no fuzz/fuzz_targets/{name}.rs"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "no [[bin]] {name} in fuzz/Cargo.toml"
        );
        for path in corpus(name) {
            let len = fs::metadata(&path).unwrap().len();
            assert!(len <= 64 << 10, "{}: {len} bytes", path.display());
        }
    }
    let dirs: Vec<String> = fs::read_dir(repo().join("fuzz/corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for d in dirs {
        assert!(
            TARGETS.iter().any(|(name, _)| *name == d),
            "fuzz/corpus/{d} belongs to no target"
        );
    }
}

/// Writes the seeds (`seed-*`) of every target's corpus; other files (regression inputs)
/// are kept. Run it after changing the generator or the formats:
/// `cargo test -p wclayer-fuzz --test corpus -- --ignored regenerate_seed_corpus`.
#[test]
#[ignore = "rewrites fuzz/corpus/*/seed-*"]
fn regenerate_seed_corpus() {
    for (target, files) in seeds::all() {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                fs::remove_file(p).unwrap();
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (name, bytes) in files {
            assert!(
                bytes.len() <= 64 << 10,
                "{target}/{name}: {} bytes",
                bytes.len()
            );
            assert!(names.insert(name.clone()), "{target}/{name} twice");
            fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
}

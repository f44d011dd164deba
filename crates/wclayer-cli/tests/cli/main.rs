//! The `wclayer` command as a user runs it: one module per area, the helpers here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

mod chain;
mod conventions;
mod convert;
// Needs Unix: symbolic links, FIFOs, devices, modes, signals, extended attributes.
#[cfg(unix)]
mod create;
mod delta;
mod diff;
mod digests;
// Needs Unix: symbolic links, FIFOs, devices, modes, signals, extended attributes.
#[cfg(unix)]
mod hostile;
mod images;
// Needs Unix: symbolic links, FIFOs, devices, modes, signals, extended attributes.
#[cfg(unix)]
mod interrupt;
// Needs Unix: symbolic links, FIFOs, devices, modes, signals, extended attributes.
#[cfg(unix)]
mod layers;
#[cfg(feature = "otel")]
mod otel;
// Needs Unix: the registry binary and the tools that make certificates.
#[cfg(unix)]
mod registry;
mod sddl;
mod store;
// Needs Unix: symbolic links, FIFOs, devices, modes, signals, extended attributes.
#[cfg(unix)]
mod verify;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wclayer-tar/tests/data");
const VECTORS: [&str; 5] = [
    "v1_base_names_times",
    "v2_streams_links",
    "v3_delta",
    "v4_plain_ustar",
    "v5_model_details",
];
/// The security descriptor O:BUG:BU, as `MSWINDOWS.rawsd` carries it.
const USERS_SD: &str = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";

fn wclayer() -> Command {
    Command::cargo_bin("wclayer").unwrap()
}

/// Runs `wclayer ARGS`, expects success, and returns its standard output.
fn stdout_of(args: &[&str]) -> String {
    let out = wclayer().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "wclayer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A file of the tar crate's test data.
fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Every path below `p`, depth first, children before their directory.
#[cfg(unix)]
fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The names in a directory, sorted.
fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

//! Memory per name: a layer of a million names fits in a bounded, small heap.
//!
//! Its own test binary with one test: the process's peak resident size (`VmHWM`) is what
//! the tree took, with nothing else running beside it.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic is a failing test"
)]

use wclayer_layer::{FileAttributes, FileBasicInfo, LayerPath, LayerTree};

/// A size line of /proc/self/status (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Finding: a million entries took 405 MB. The tree of 1 001 001 names (1 000 directories of
/// 1 000 files, with a payload of 8 bytes per file as the layer-directory writer keeps) stays
/// under 128 MiB of resident memory at its peak: about 130 bytes a name, most of it the name's times and
/// attributes (40 bytes), its node (32) and its file (24 more).
#[test]
fn a_million_names_take_a_bounded_heap() {
    let dir = FileBasicInfo {
        file_attributes: FileAttributes::DIRECTORY,
        ..Default::default()
    };
    let file = FileBasicInfo::default();
    let before = status_bytes("VmRSS:");
    let mut t: LayerTree<u64, bool> = LayerTree::new();
    t.add(&LayerPath::parse("Files").unwrap(), dir, 0).unwrap();
    for d in 0..1000 {
        let dn = format!("Files\\dir{d:04}");
        t.add(&LayerPath::parse(&dn).unwrap(), dir, 0).unwrap();
        for f in 0..1000 {
            let name = LayerPath::parse(&format!("{dn}\\file-{f:06}.txt")).unwrap();
            t.add(&name, file, 0).unwrap();
        }
    }
    assert_eq!(t.node_count(), 1_001_002);
    let peak = status_bytes("VmHWM:") - before;
    let per_name = peak / t.node_count();
    eprintln!(
        "peak {} MiB more resident, {per_name} bytes a name",
        peak >> 20
    );
    assert!(peak < 128 << 20, "peak {} MiB more resident", peak >> 20);
    // Lookups still find every name, in any case.
    assert!(t.find(["FILES", "DIR0999", "FILE-000999.TXT"]).is_some());
}

//! Fuzz targets for wclayer's decoders: one public function per target, `fn(&[u8])`.
//!
//! Each function runs a decoder on arbitrary bytes and checks the decoder's documented
//! invariants with `assert!`: a panic, in the decoder or in an assertion, is a finding.
//! Errors are not findings; every decoder is allowed to refuse its input.
//!
//! The functions are used in two places:
//!
//! - the cargo-fuzz style crate `fuzz/` at the repository root (not a workspace member),
//!   whose targets `fuzz/fuzz_targets/NAME.rs` each call one function under libFuzzer
//!   (`scripts/fuzz.sh`, docs/security.md);
//! - this crate's tests, which replay every file of the committed seed corpus
//!   `fuzz/corpus/NAME/` through the function of the same name, so that `cargo test
//!   --workspace` checks the corpus and every regression input kept in it.
//!
//! | target | decoder | invariants |
//! |---|---|---|
//! | [`backup_stream`] | `BackupStreamReader`, `StreamSplitter` | the strict splitter accepts exactly what the reader accepts; its pieces rebuild the input; the lenient splitter always rebuilds the input; skipping bodies by seeking, short reads and reading bodies give the same headers |
//! | [`ea`] | `ea::decode` | an accepted chain re-encodes, and `decode(encode(x)) == x` |
//! | [`reparse`] | `ReparsePoint::decode` | `decode(encode(x)) == x`; opaque buffers encode back byte for byte |
//! | [`security_descriptor`] | `SecurityDescriptor::from_bytes` | binary round trip in both layouts; SDDL rendering parses back to the descriptor's SDDL normal form |
//! | [`sddl`] | `SecurityDescriptor::from_sddl` | text → descriptor → text → descriptor is stable, and the binary form round-trips |
//! | [`tar_reader`] | `ArchiveReader` | every entry's data has the size its header gives; errors are sticky; short reads change nothing |
//! | [`layer_sidecar`] | `DirLayerReader` over a sidecar made from the input | no panic; streams re-read identically after a seek; two walks agree; nothing outside the layer directory is read |
//! | [`import`] | `import_tar` into a `DirLayerWriter` (base layer) | nothing is written outside the layer directory; no staging directory is left; a committed layer reads back as the in-memory import does |
//! | [`image_archive`] | `Source::resolve` and `Store::unpack` of a `docker save` or OCI archive | nothing is written outside the stores; a store holds only complete layers of the image, lowest first; an unpacked image's layers read back, it is listed, and a second unpack imports nothing |
//! | [`import_delta`] | `import_tar` into a `DirLayerWriter` over a parent layer | as [`import`], and the parent layer is left unchanged |
//!
//! Inputs are bounded by the targets themselves (archive limits, read caps), so that every
//! input runs in bounded time and memory.
// Its targets plant FIFOs and compare inode numbers of imported trees, and libFuzzer runs
// on Linux: the crate is empty elsewhere.
#![cfg(unix)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "a fuzz harness: a failed invariant must panic, and the harness's own \
              arithmetic and indexing work on bounded values it computed itself"
)]

mod backup;
mod image;
mod layer;
mod sd;
mod tar;
mod util;

pub use backup::{backup_stream, ea, reparse};
pub use image::image_archive;
pub use layer::{import, import_delta, layer_sidecar};
pub use sd::{sddl, security_descriptor};
pub use tar::tar_reader;

/// A fuzz target: runs a decoder on the input and asserts its invariants.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory of its corpus, `fuzz/corpus/NAME/`, and the name
/// of its libFuzzer binary) and its function.
pub const TARGETS: &[(&str, Target)] = &[
    ("backup_stream", backup_stream),
    ("ea", ea),
    ("reparse", reparse),
    ("security_descriptor", security_descriptor),
    ("sddl", sddl),
    ("tar_reader", tar_reader),
    ("layer_sidecar", layer_sidecar),
    ("import", import),
    ("import_delta", import_delta),
    ("image_archive", image_archive),
];

//! The benchmark of wclayer (docs/performance.md).
//!
//! Two parts:
//!
//! * A generator of Windows base-layer tars shaped like the nanoserver and servercore layers
//!   ([`profile`]): `Files/`, `Hives/` and `UtilityVM/Files/` trees, every entry with its
//!   Windows metadata in PAX records, a WinSxS store hard-linked into the live directories,
//!   UtilityVM files hard-linked into `Files/`, junctions, alternate data streams, extended
//!   attributes, and contents that compress like a Windows image. [`generate`] streams the
//!   tar: the tree is modelled in memory, file contents are windows of 20 MiB of generated
//!   pools, the layer itself is never held. The output is a pure function of (profile,
//!   scale, seed).
//! * A runner ([`run`]) that times `wclayer import` and `wclayer export` against GNU tar,
//!   gzip and pigz doing the same work, and `wclayer unpack` of an image on a loopback
//!   registry against `skopeo copy` and `umoci raw unpack`, interleaved, in fresh
//!   destinations, and prints the ratios with their spread, the CPU time, the peak RSS and
//!   the output sizes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a measuring tool: it parses no untrusted input, and its arithmetic is on its \
              own counts, sizes and times"
)]

mod content;
mod layer;
mod names;
pub mod profile;
mod rng;
// The runner times GNU tar, gzip and pigz and reads /proc: Linux only. The generator is
// portable.
#[cfg(unix)]
pub mod run;
mod sd;
pub mod stats;
mod tarball;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use profile::{Profile, ProfileName};
pub use tarball::Summary;

/// Bumped whenever the bytes [`generate`] writes for a (profile, scale, seed) change, so
/// cached workloads of an older generator are not reused.
pub const GENERATOR_VERSION: u32 = 1;

/// Writes the layer tar of `profile` at `scale` (1.0: the profile's own size) for `seed`
/// to `out`, and returns what it contains.
///
/// # Errors
/// Any error of `out`.
pub fn generate(profile: &Profile, scale: f64, seed: u64, out: impl Write) -> io::Result<Summary> {
    let layer = layer::Layer::build(profile, scale, seed);
    let pools = content::Pools::new(seed);
    let (summary, _) = tarball::write_layer(&layer, &pools, out)?;
    Ok(summary)
}

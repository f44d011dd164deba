//! OCI layer tars <-> Windows container layers, byte-identical to hcsshim.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::panic
    )
)]

pub mod archive;
pub mod export;
pub mod gotar;
pub mod import;
pub mod pax;

mod error;

pub use error::Error;
pub use export::{ExportStats, export_tar};
pub use import::{ImportStats, import_tar};

//! The Windows container layer model.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

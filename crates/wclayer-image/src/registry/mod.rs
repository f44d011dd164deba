//! The registry transport, `docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`: images pulled
//! as one more blob source (manifests, indexes and configs read whole, size-limited and
//! checked against their digests; layer blobs streamed) and pushed as one more blob sink
//! (blobs the registry has skipped, base layers mounted across repositories, the rest
//! uploaded, then the config and the manifest). docs/images.md, "The registry transport".

pub mod auth;
pub mod client;
#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
pub(crate) mod fake;
pub mod push;
pub mod reference;

pub use auth::{CredentialSource, Credentials};
pub use client::{Client, RegistryOptions, Transport};
pub use reference::RegistryRef;

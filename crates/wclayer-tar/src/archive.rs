//! Streaming tar reader with Go archive/tar semantics.

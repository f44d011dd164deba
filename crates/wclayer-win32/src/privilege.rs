//! (module privilege)

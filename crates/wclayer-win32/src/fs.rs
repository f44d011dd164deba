//! (module fs)

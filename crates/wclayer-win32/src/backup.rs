//! (module backup)

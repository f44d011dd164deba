//! (module hcs)

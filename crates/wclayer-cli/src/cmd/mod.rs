//! One module per subcommand: its arguments and its `run`.

pub(crate) mod cat;
pub(crate) mod convert;
pub(crate) mod create;
pub(crate) mod delta;
pub(crate) mod diff;
pub(crate) mod export;
pub(crate) mod flatten;
pub(crate) mod image;
pub(crate) mod import;
pub(crate) mod limits;
pub(crate) mod ls;
pub(crate) mod sample;
pub(crate) mod sddl;
pub(crate) mod stat;
pub(crate) mod store;
pub(crate) mod trace;
pub(crate) mod verify;

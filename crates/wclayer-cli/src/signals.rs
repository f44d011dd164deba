//! Stopping on `SIGINT`, `SIGTERM` or `SIGHUP` without leaving debris (docs/security.md §5).
//!
//! A signal ends the process without running destructors, so a staging directory or a
//! partial output file would stay behind. A thread waits for these signals instead; on the
//! first one it removes what this process staged and has not committed
//! (`wclayer_fs::cleanup::remove_registered`, which also keeps a commit from happening
//! meanwhile), removes the empty directories the command created for its output, says so on
//! standard error, and ends the process as the signal would have.
//!
//! On Windows there is no handler: Ctrl+C and Ctrl+Break end a console process at once, as
//! `SIGKILL` would. What the command staged is locked by handles that close with the process
//! (`wclayer_fs::cleanup`), so the next command staging in the same directory removes it. A
//! console control handler (`SetConsoleCtrlHandler`) would need unsafe code, which belongs to
//! `wclayer-win32` and its Windows back end.

use std::path::PathBuf;
use std::sync::Mutex;

#[cfg(unix)]
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Directories the command created on its way to its output, innermost last; removed (while
/// empty) when a signal stops the command.
static CREATED_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether the command is ending on its own; held by the handler while it stops the process,
/// so that the command's own end waits for it (and never reports success over a stop).
static ENDING: Mutex<bool> = Mutex::new(false);

/// Notes directories the command created, outermost first.
pub(crate) fn created_dirs(dirs: &[PathBuf]) {
    let mut c = CREATED_DIRS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    c.extend_from_slice(dirs);
}

/// Starts the thread that handles the signals. Without it (the handler cannot be
/// installed) the command runs as before and the next run sweeps what a signal left.
#[cfg(unix)]
pub(crate) fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                stop(sig);
            }
        });
    drop(spawned);
}

/// Nothing to install on Windows (see the module documentation).
#[cfg(not(unix))]
pub(crate) fn install() {}

/// Called when the command is done, before the process ends: waits for a stop under way (the
/// process then ends as the signal says); after it, a signal no longer stops anything.
pub(crate) fn ending() {
    let mut e = ENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *e = true;
}

#[cfg(unix)]
fn stop(sig: i32) {
    let ending = ENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if *ending {
        // The command finished first: its result stands.
        return;
    }
    let removed = wclayer::crates::fs::cleanup::remove_registered();
    {
        let c = CREATED_DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in c.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    let name = match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "SIGHUP",
    };
    let what = if removed > 0 {
        "; removed what it had staged"
    } else {
        ""
    };
    eprintln!("wclayer: error: stopped by {name}{what}");
    // End as the signal would have (the shell sees "killed by SIGINT"), else with the
    // conventional 128 + signal number.
    // `ending` stays locked: the command's own end waits until the process is gone.
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128_i32.saturating_add(sig));
}

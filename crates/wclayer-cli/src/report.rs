//! What the command tells its user, and where (docs/cli.md, "Output"): results on standard
//! output unless the data goes there, warnings and errors on standard error, one line each.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by `-q`: no warnings and no text results, only errors (and `--json` results, which
/// were asked for).
static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `-q`.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `-q` was given.
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `N WORD` with the plural `s` when N is not 1: `1 layer`, `0 layers`.
pub(crate) fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Prints `wclayer: warning: MSG` on standard error, unless quiet.
pub(crate) fn warn(msg: &str) {
    if !quiet() {
        eprintln!("wclayer: warning: {msg}");
    }
}

/// Where a command's result goes: standard output, or standard error when standard output
/// carries the command's data (`export` to `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Stdout,
    Stderr,
}

impl Channel {
    /// Standard error when the output path is `-`, else standard output.
    pub(crate) fn beside(output: &str) -> Channel {
        if output == "-" {
            Channel::Stderr
        } else {
            Channel::Stdout
        }
    }
}

/// Prints a command's result: with `--json` the one JSON object, else the text lines (not
/// when quiet).
pub(crate) fn result(channel: Channel, json: Option<&serde_json::Value>, text: &str) {
    let line = match json {
        Some(v) => format!("{v}\n"),
        None if quiet() || text.is_empty() => return,
        None => {
            let mut t = text.to_string();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t
        }
    };
    // A closed standard output (`| head`) is not worth a second error.
    let _ = match channel {
        Channel::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
        Channel::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
    };
}

/// Prints the error as one line on standard error (docs/cli.md, "Errors and exit status").
pub(crate) fn error(e: &anyhow::Error) {
    eprintln!("wclayer: error: {}", error_line(e));
}

/// The error as one line: its message and its causes joined by `: `, leaving out a cause
/// whose text the line already holds (a wrapper that prints its source, then the source
/// again).
pub(crate) fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    // One line, whatever the causes hold.
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::count(1, "layer"), "1 layer");
        assert_eq!(super::count(0, "layer"), "0 layers");
        assert_eq!(super::count(2, "new layer"), "2 new layers");
    }

    use super::*;

    #[derive(Debug)]
    struct Wrap(std::io::Error);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "write file data: {}", self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// A cause already in the line is not repeated (`Is a directory (os error 21): Is a
    /// directory (os error 21)` was printed before).
    #[test]
    fn causes_already_in_the_line_are_left_out() {
        let io = std::io::Error::from_raw_os_error(21);
        let e = anyhow::Error::new(Wrap(io)).context("cannot export L");
        let line = error_line(&e);
        assert_eq!(
            line,
            "cannot export L: write file data: Is a directory (os error 21)"
        );
        let plain = anyhow::anyhow!("first\nsecond").context("outer");
        assert_eq!(error_line(&plain), "outer: first second");
    }
}

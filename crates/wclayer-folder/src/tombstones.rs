//! `tombstones.txt`: the list of deleted paths below `Files` (docs/layer-semantics.md §3.1).
//! [`parse`] is the one place of the format's reading rules; the Windows back end's reader
//! uses it too.

use std::io::{self, BufRead, Read, Write};

use wclayer_layer::{LayerPath, MAX_PATH_UNITS};

use crate::Error;

/// The first line: a UTF-8 byte-order mark and `Version 1.0`.
pub(crate) const HEADER: &[u8] = b"\xEF\xBB\xBFVersion 1.0";

/// The longest line accepted, in bytes, before cleaning: a path of the Windows limit
/// (32 766 UTF-16 units) takes at most 3 bytes of UTF-8 per unit, plus the leading `\`.
/// Go's line scanner stops at 64 KiB (§3.1); ours accepts every path Windows can name.
const MAX_LINE: usize = 3 * MAX_PATH_UNITS + 1;

/// Parses `tombstones.txt` with the project's rules (§3.1, docs/compat.md):
///
/// - the first line must be exactly the BOM and `Version 1.0` (else `invalid tombstones
///   file`, also for an empty file);
/// - lines end in LF; one CR before the LF (or at the very end) is dropped, as Go's line
///   scanner does;
/// - empty lines are skipped (hcsshim's reader crashes on them);
/// - every other line starts with `\` and is a path relative to `Files`, cleaned like a
///   Windows path; a line whose cleaned path leaves `Files` or names `Files` itself, or
///   that is no valid layer name (`:`, NUL, too long), is an error naming the line.
///
/// Returns the tombstones as layer names (`Files\…`), in file order. More than
/// `max_entries` tombstones is [`wclayer_layer::Error::Limit`] naming the first one over:
/// the list is held in memory, so its length is bounded before it grows.
pub fn parse(r: impl BufRead, path: &str, max_entries: u64) -> Result<Vec<LayerPath>, Error> {
    let mut lines = Lines { r, line: 0, path };
    match lines.next_line()? {
        Some(first) if first == HEADER => {}
        _ => {
            return Err(Error::InvalidTombstonesFile {
                path: path.to_string(),
            });
        }
    }
    let mut out = Vec::new();
    while let Some(l) = lines.next_line()? {
        let n = lines.line;
        let err = |reason: String| Error::TombstoneLine { line: n, reason };
        if l.is_empty() {
            continue;
        }
        let Some(rest) = l.strip_prefix(b"\\") else {
            return Err(err("does not start with `\\`".into()));
        };
        let rest = std::str::from_utf8(rest).map_err(|_| err("is not UTF-8".into()))?;
        // hcsshim joins the rest under Files with Windows path cleaning; LayerPath::parse is
        // that cleaning (`/` and `\` separate, `.` dropped, `a\..` collapsed) plus the
        // layer-name rules (no `:`, no NUL, the length limits).
        let name = LayerPath::parse(&format!("Files\\{rest}")).map_err(|e| match e.reason {
            "names the layer root" | "escapes the layer root" => {
                err(format!("path leaves Files ({})", e.reason))
            }
            reason => err(format!("invalid path: {reason}")),
        })?;
        if !name.is_within("Files") {
            return Err(err(format!("path leaves Files (cleaned: {name})")));
        }
        if name.parent().is_none() {
            return Err(err("names Files itself".into()));
        }
        if out.len() as u64 >= max_entries {
            return Err(Error::Model(wclayer_layer::Error::Limit {
                name: Some(name.to_string()),
                what: "entries",
                limit: max_entries,
            }));
        }
        out.push(name);
    }
    Ok(out)
}

/// Reads lines as Go's `bufio.ScanLines` splits them, with a length limit.
struct Lines<'a, R> {
    r: R,
    /// The number of the line last returned (1-based).
    line: u64,
    path: &'a str,
}

impl<R: BufRead> Lines<'_, R> {
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = Vec::new();
        const LIMIT: u64 = (MAX_LINE + 2) as u64; // the line, a CR and the LF
        let n = (&mut self.r)
            .take(LIMIT)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("read tombstones file", self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line = self.line.saturating_add(1);
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if n as u64 == LIMIT {
            return Err(Error::TombstoneLine {
                line: self.line,
                reason: format!("longer than {MAX_LINE} bytes (the path-length limit)"),
            });
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.len() > MAX_LINE {
            return Err(Error::TombstoneLine {
                line: self.line,
                reason: format!("longer than {MAX_LINE} bytes (the path-length limit)"),
            });
        }
        Ok(Some(buf))
    }
}

/// The line for tombstone `name` if `tombstones.txt` can hold it exactly: below the
/// top-level directory spelled exactly `Files` (the reader rebuilds names from that
/// spelling), and free of CR and LF (which would split or shorten the line).
pub(crate) fn line_for(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("Files\\")?;
    (!rest.is_empty() && !name.contains(['\r', '\n'])).then_some(rest)
}

/// Writes `tombstones.txt`: the header, then `\` + path below `Files` + LF per line, as
/// hcsshim's historic writer did (§3.1).
pub(crate) fn write<'a>(
    mut w: impl Write,
    lines: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    w.write_all(HEADER)?;
    w.write_all(b"\n")?;
    for l in lines {
        w.write_all(b"\\")?;
        w.write_all(l.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(input: &[u8]) -> Result<Vec<String>, Error> {
        parse(input, "tombstones.txt", u64::MAX)
            .map(|v| v.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn header_crlf_empty_lines_and_cleaning() {
        let got =
            names(b"\xEF\xBB\xBFVersion 1.0\r\n\\a\\b.txt\r\n\r\n\n\\c/./d\\..\\e\n\\x\r").unwrap();
        assert_eq!(got, ["Files\\a\\b.txt", "Files\\c\\e", "Files\\x"]);
        // Without a trailing newline, and with only the header.
        assert_eq!(
            names(b"\xEF\xBB\xBFVersion 1.0\n\\z").unwrap(),
            ["Files\\z"]
        );
        assert!(names(b"\xEF\xBB\xBFVersion 1.0").unwrap().is_empty());
    }

    #[test]
    fn bad_headers() {
        for bad in [
            &b""[..],
            b"Version 1.0\n\\a\n",
            b"\xEF\xBB\xBFVersion 2.0\n",
            b"\xEF\xBB\xBFversion 1.0\n",
            b"\xEF\xBB\xBFVersion 1.0 \n",
        ] {
            let e = names(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidTombstonesFile { .. }), "{e}");
            assert_eq!(e.to_string(), "tombstones.txt: invalid tombstones file");
        }
    }

    #[test]
    fn bad_lines_name_their_number() {
        for (input, line, reason) in [
            (
                &b"\xEF\xBB\xBFVersion 1.0\n\\a\nb\n"[..],
                3,
                "does not start",
            ),
            (
                b"\xEF\xBB\xBFVersion 1.0\n\n\\..\\Hives\\x\n",
                3,
                "leaves Files",
            ),
            (b"\xEF\xBB\xBFVersion 1.0\n\\..\n", 2, "leaves Files"),
            (b"\xEF\xBB\xBFVersion 1.0\n\\..\\..\\x\n", 2, "leaves Files"),
            (b"\xEF\xBB\xBFVersion 1.0\n\\\n", 2, "names Files itself"),
            (b"\xEF\xBB\xBFVersion 1.0\n\\a:b\n", 2, "`:`"),
            (b"\xEF\xBB\xBFVersion 1.0\n\\\xff\n", 2, "UTF-8"),
        ] {
            let e = names(input).unwrap_err();
            let Error::TombstoneLine { line: l, reason: r } = &e else {
                panic!("{e}");
            };
            assert_eq!(*l, line, "{e}");
            assert!(r.contains(reason), "{e}");
        }
    }

    #[test]
    fn line_limit_is_the_path_limit() {
        // 32 760 units below Files\ is the longest path Windows can name here.
        let ok = format!("\\{}", vec!["a".repeat(255); 127].join("\\"));
        assert!(ok.encode_utf16().count() < MAX_PATH_UNITS);
        let input = [&b"\xEF\xBB\xBFVersion 1.0\n"[..], ok.as_bytes()].concat();
        assert_eq!(names(&input).unwrap().len(), 1);
        let too_long = format!("\\{}", vec!["a".repeat(255); 130].join("\\"));
        let input = [&b"\xEF\xBB\xBFVersion 1.0\n"[..], too_long.as_bytes()].concat();
        let e = names(&input).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let huge = vec![b'a'; MAX_LINE + 10];
        let input = [&b"\xEF\xBB\xBFVersion 1.0\n\\"[..], &huge].concat();
        let e = names(&input).unwrap_err();
        assert!(e.to_string().contains("path-length limit"), "{e}");
    }

    #[test]
    fn matches_names_written() {
        let mut out = Vec::new();
        write(&mut out, ["a\\b", "é"]).unwrap();
        assert_eq!(out, b"\xEF\xBB\xBFVersion 1.0\n\\a\\b\n\\\xC3\xA9\n");
        assert_eq!(names(&out).unwrap(), ["Files\\a\\b", "Files\\é"]);
        assert_eq!(line_for("Files\\a"), Some("a"));
        assert_eq!(line_for("files\\a"), None);
        assert_eq!(line_for("Files"), None);
        assert_eq!(line_for("Files\\a\rb"), None);
        assert_eq!(line_for("Hives\\x"), None);
    }
}

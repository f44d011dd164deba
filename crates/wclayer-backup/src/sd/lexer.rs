//! The character-level pieces shared by the SDDL parser (`sddl`), the SID parser (`sid`)
//! and the conditional-expression codec (`condition`): a cursor over the input that counts
//! characters, and the lower-case hex both renderers write.

use std::fmt::Write as _;

use super::error::SddlError;

/// Whitespace the parser skips between tokens.
const fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A position in the input, counted in characters (the unit of [`SddlError`] offsets).
pub(crate) struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(chars: &'a [char]) -> Cursor<'a> {
        Cursor { chars, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos.saturating_add(n)).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(crate) fn bump(&mut self) {
        if self.pos < self.chars.len() {
            self.pos = self.pos.saturating_add(1);
        }
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.bump();
        }
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Whether the input continues with `s` (ASCII, compared ignoring case).
    pub(crate) fn starts_with_ci(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, want)| {
            self.peek_at(i)
                .is_some_and(|have| have.eq_ignore_ascii_case(&want))
        })
    }

    /// Consumes `s` (ASCII, ignoring case) if the input continues with it.
    pub(crate) fn eat_ci(&mut self, s: &str) -> bool {
        if self.starts_with_ci(s) {
            for _ in s.chars() {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, c: char, expected: &'static str) -> Result<(), SddlError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    pub(crate) fn unexpected(&self, expected: &'static str) -> SddlError {
        SddlError::Unexpected {
            offset: self.pos,
            expected,
            found: self.peek(),
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            out.push(c);
            self.bump();
        }
        out
    }

    /// The characters from the position to the end of the input.
    pub(crate) fn rest(&self) -> &'a [char] {
        self.chars.get(self.pos..).unwrap_or_default()
    }

    /// The length of the whole input, in characters.
    pub(crate) fn input_len(&self) -> usize {
        self.chars.len()
    }

    /// A cursor at the same position over the input cut after `end` characters, so that
    /// the offsets of its errors still count from the start of the whole input.
    pub(crate) fn until(&self, end: usize) -> Cursor<'a> {
        Cursor {
            chars: self.chars.get(..end).unwrap_or(self.chars),
            pos: self.pos,
        }
    }

    /// Moves to `pos`, where a cursor made by [`Cursor::until`] stopped.
    pub(crate) fn jump_to(&mut self, pos: usize) {
        self.pos = pos;
    }
}

/// Appends `bytes` as lower-case hex digits, two per byte.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
}

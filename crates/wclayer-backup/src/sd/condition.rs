//! Conditional expressions of callback ACEs ([MS-DTYP] §2.4.4.17): the binary form (the
//! `artx` signature, then tokens in postfix order, then zero padding) and the SDDL form
//! Windows prints (`(XA;;FA;;;WD;(@USER.dept == "x"))`).
//!
//! Binary tokens: literals (`0x01`–`0x04` integers: 8-byte value, sign byte, base byte;
//! `0x10` UTF-16LE string; `0x18` octet string; `0x50` composite `{…}`; `0x51` SID, each
//! with a 4-byte length), attributes (`0xf8` local, `0xf9` `@User.`, `0xfa` `@Resource.`,
//! `0xfb` `@Device.`, a UTF-16LE name with its byte length) and operators (`0x80`–`0x93`
//! relational, membership and existence, `0xa0` `&&`, `0xa1` `||`, `0xa2` `!`).
//!
//! Text form, as Windows renders it (Samba's Windows-checked test data agrees): every
//! boolean node in parentheses, `((@USER.a == 1) && (Member_of {SID(BA)}))`, an attribute
//! used as a boolean as `(@USER.a)`, `!` as `(!x)`, attribute prefixes in capitals,
//! composites as `{a, b}`, integers in the base and with the sign their token records.
//!
//! Exactness: the SDDL parser always writes `Int64` tokens and pads with the fewest zero
//! bytes that make the data a multiple of 4, so not every binary expression has a text
//! form that reads back identically. [`render`] therefore parses its own output and
//! returns `None` unless the bytes come back identical; the caller then falls back to the
//! wclayer `#` hex form.

use super::error::SddlError;
use super::lexer::{Cursor, push_hex};
use super::sid::{Sid, parse_sid};

/// `ACE_CONDITION_SIGNATURE`, the first four bytes of a conditional expression.
pub(crate) const SIGNATURE: &[u8; 4] = b"artx";

/// Deepest nesting the parser follows and the renderer prints: keeps recursion (parser)
/// and repeated string copying (renderer) bounded on hostile input.
const MAX_DEPTH: usize = 256;

const PADDING: u8 = 0x00;
const INT64: u8 = 0x04;
const UNICODE: u8 = 0x10;
const OCTETS: u8 = 0x18;
const COMPOSITE: u8 = 0x50;
const SID: u8 = 0x51;
const LOCAL_ATTR: u8 = 0xf8;
const USER_ATTR: u8 = 0xf9;
const RESOURCE_ATTR: u8 = 0xfa;
const DEVICE_ATTR: u8 = 0xfb;

const SIGN_POSITIVE: u8 = 1;
const SIGN_NEGATIVE: u8 = 2;
const SIGN_NONE: u8 = 3;
const BASE_OCTAL: u8 = 1;
const BASE_DECIMAL: u8 = 2;
const BASE_HEX: u8 = 3;

/// What an operator takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    /// `attribute op value`.
    Relational,
    /// `bool op bool`.
    Logical,
    /// `!bool`.
    Not,
    /// `Member_of literal` and relatives (a SID or a composite of SIDs).
    Member,
    /// `Exists attribute`.
    Exists,
}

struct Op {
    code: u8,
    name: &'static str,
    kind: OpKind,
}

const fn op(code: u8, name: &'static str, kind: OpKind) -> Op {
    Op { code, name, kind }
}

/// The operators with the spelling Windows prints ([MS-DTYP] says `Member_of_Any`; Windows
/// prints `Member_of_any`); the parser ignores case.
const OPS: &[Op] = &[
    op(0x80, "==", OpKind::Relational),
    op(0x81, "!=", OpKind::Relational),
    op(0x82, "<", OpKind::Relational),
    op(0x83, "<=", OpKind::Relational),
    op(0x84, ">", OpKind::Relational),
    op(0x85, ">=", OpKind::Relational),
    op(0x86, "Contains", OpKind::Relational),
    op(0x87, "Exists", OpKind::Exists),
    op(0x88, "Any_of", OpKind::Relational),
    op(0x89, "Member_of", OpKind::Member),
    op(0x8a, "Device_Member_of", OpKind::Member),
    op(0x8b, "Member_of_any", OpKind::Member),
    op(0x8c, "Device_Member_of_Any", OpKind::Member),
    op(0x8d, "Not_Exists", OpKind::Exists),
    op(0x8e, "Not_Contains", OpKind::Relational),
    op(0x8f, "Not_Any_of", OpKind::Relational),
    op(0x90, "Not_Member_of", OpKind::Member),
    op(0x91, "Not_Device_Member_of", OpKind::Member),
    op(0x92, "Not_Member_of_Any", OpKind::Member),
    op(0x93, "Not_Device_Member_of_Any", OpKind::Member),
    op(0xa0, "&&", OpKind::Logical),
    op(0xa1, "||", OpKind::Logical),
    op(0xa2, "!", OpKind::Not),
];

const AND: u8 = 0xa0;
const OR: u8 = 0xa1;
const NOT: u8 = 0xa2;

/// The attribute prefixes, as Windows prints them.
const ATTR_PREFIXES: &[(&str, u8)] = &[
    ("@USER.", USER_ATTR),
    ("@DEVICE.", DEVICE_ATTR),
    ("@RESOURCE.", RESOURCE_ATTR),
];

fn op_by_code(code: u8) -> Option<&'static Op> {
    OPS.iter().find(|o| o.code == code)
}

/// A word operator (letters, as opposed to `==`), ignoring case.
fn word_op(word: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| {
        o.name.starts_with(|c: char| c.is_ascii_alphabetic()) && o.name.eq_ignore_ascii_case(word)
    })
}

// ---------------------------------------------------------------------------------------
// Binary → text

/// Bounds-checked reads over the token bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(len)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<usize> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        usize::try_from(u32::from_le_bytes(a)).ok()
    }

    /// A length-prefixed block.
    fn block(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()?;
        self.take(len)
    }

    /// A length-prefixed UTF-16LE string.
    fn utf16(&mut self) -> Option<String> {
        let raw = self.block()?;
        if !raw.len().is_multiple_of(2) {
            return None;
        }
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|p| match p {
                [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                _ => 0,
            })
            .collect();
        String::from_utf16(&units).ok()
    }
}

/// What a stack entry of the renderer stands for: only some combinations have a text form
/// the parser reads back.
enum Item {
    Literal(String),
    Attr(String),
    Bool(String),
}

struct Entry {
    item: Item,
    depth: usize,
}

impl Entry {
    /// The text of this entry where a boolean is expected.
    fn into_bool(self) -> Option<String> {
        match self.item {
            Item::Bool(s) => Some(s),
            Item::Attr(s) => Some(format!("({s})")),
            Item::Literal(_) => None,
        }
    }
}

/// Renders the application data of a callback ACE as Windows' SDDL condition, `(…)`, if
/// it is a conditional expression whose text form reads back as exactly these bytes.
pub(crate) fn render(data: &[u8]) -> Option<String> {
    let text = render_unchecked(data)?;
    let chars: Vec<char> = text.chars().collect();
    let mut cursor = Cursor::new(&chars);
    let bytes = parse(&mut cursor).ok()?;
    (cursor.at_end() && bytes == data).then_some(text)
}

fn render_unchecked(data: &[u8]) -> Option<String> {
    let mut r = Reader {
        bytes: data.strip_prefix(SIGNATURE.as_slice())?,
        pos: 0,
    };
    // The tokens are in postfix order: every operator follows its operands. A stack of
    // already-rendered operands turns that into infix text without recursion, so a hostile
    // token stream cannot exhaust the call stack; `depth` bounds the nesting instead.
    let mut stack: Vec<Entry> = Vec::new();
    while let Some(code) = r.peek() {
        if code == PADDING {
            // Padding ends the expression; the caller's byte comparison checks it is the
            // padding the parser would write.
            break;
        }
        if let Some(op) = op_by_code(code) {
            r.pos = r.pos.saturating_add(1);
            apply(op, &mut stack)?;
        } else if let Some(&(prefix, _)) = ATTR_PREFIXES.iter().find(|(_, c)| *c == code) {
            r.pos = r.pos.saturating_add(1);
            let name = r.utf16()?;
            stack.push(Entry {
                item: Item::Attr(format!("{prefix}{name}")),
                depth: 0,
            });
        } else if code == LOCAL_ATTR {
            r.pos = r.pos.saturating_add(1);
            let name = r.utf16()?;
            stack.push(Entry {
                item: Item::Attr(name),
                depth: 0,
            });
        } else {
            let literal = render_literal(&mut r, 0)?;
            stack.push(Entry {
                item: Item::Literal(literal),
                depth: 0,
            });
        }
    }
    // A well-formed expression leaves exactly one value, and it must be a boolean (an
    // attribute alone counts: Windows tests it for "true").
    let root = stack.pop()?;
    if !stack.is_empty() {
        return None;
    }
    root.into_bool()
}

/// Pops an operator's operands and pushes its text.
fn apply(op: &Op, stack: &mut Vec<Entry>) -> Option<()> {
    let name = op.name;
    let entry = match op.kind {
        OpKind::Relational | OpKind::Logical => {
            let rhs = stack.pop()?;
            let lhs = stack.pop()?;
            let depth = lhs.depth.max(rhs.depth).checked_add(1)?;
            // Only the shapes the parser produces get a text form: logical operators join
            // booleans, relational ones an attribute with a literal or attribute.
            let text = if op.kind == OpKind::Logical {
                format!("({} {name} {})", lhs.into_bool()?, rhs.into_bool()?)
            } else {
                let Item::Attr(lhs) = lhs.item else {
                    return None;
                };
                let rhs = match rhs.item {
                    Item::Attr(s) | Item::Literal(s) => s,
                    Item::Bool(_) => return None,
                };
                format!("({lhs} {name} {rhs})")
            };
            Entry {
                item: Item::Bool(text),
                depth,
            }
        }
        OpKind::Not => {
            let operand = stack.pop()?;
            let depth = operand.depth.checked_add(1)?;
            Entry {
                item: Item::Bool(format!("(!{})", operand.into_bool()?)),
                depth,
            }
        }
        OpKind::Member | OpKind::Exists => {
            let operand = stack.pop()?;
            let depth = operand.depth.checked_add(1)?;
            let text = match (op.kind, operand.item) {
                (OpKind::Member, Item::Literal(s)) | (OpKind::Exists, Item::Attr(s)) => s,
                _ => return None,
            };
            Entry {
                item: Item::Bool(format!("({name} {text})")),
                depth,
            }
        }
    };
    if entry.depth > MAX_DEPTH {
        return None;
    }
    stack.push(entry);
    Some(())
}

fn render_literal(r: &mut Reader<'_>, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    match r.u8()? {
        INT64 => {
            let mut v = [0u8; 8];
            v.copy_from_slice(r.take(8)?);
            let value = i64::from_le_bytes(v);
            let sign = r.u8()?;
            let base = r.u8()?;
            render_int(value, sign, base)
        }
        UNICODE => {
            let s = r.utf16()?;
            // SDDL strings have no escape for the quote.
            (!s.contains('"')).then(|| format!("\"{s}\""))
        }
        OCTETS => {
            let mut out = String::from("#");
            push_hex(&mut out, r.block()?);
            Some(out)
        }
        COMPOSITE => {
            let mut inner = Reader {
                bytes: r.block()?,
                pos: 0,
            };
            let mut items = Vec::new();
            while inner.peek().is_some() {
                items.push(render_literal(&mut inner, depth.checked_add(1)?)?);
            }
            Some(format!("{{{}}}", items.join(", ")))
        }
        SID => {
            let sid = Sid::from_bytes(r.block()?).ok()?;
            Some(format!("SID({})", sid.to_sddl()))
        }
        // Int8/16/32 tokens and anything else: no text form the parser gives back.
        _ => None,
    }
}

/// An integer with the sign and base its token records; `None` for combinations that would
/// read back differently (a value whose sign contradicts the sign byte, ...).
fn render_int(value: i64, sign: u8, base: u8) -> Option<String> {
    let digits = |magnitude: u64| match base {
        BASE_OCTAL => Some(format!("0{magnitude:o}")),
        BASE_DECIMAL => Some(magnitude.to_string()),
        BASE_HEX => Some(format!("0x{magnitude:x}")),
        _ => None,
    };
    match sign {
        SIGN_NONE if base == BASE_DECIMAL => (value >= 0).then(|| value.to_string()),
        // Hex and octal without a sign are the value's 64 bits (`0xffffffffffffffff`).
        SIGN_NONE => digits(value.cast_unsigned()),
        SIGN_POSITIVE if value >= 0 => digits(value.cast_unsigned()).map(|d| format!("+{d}")),
        SIGN_NEGATIVE if value <= 0 => digits(value.unsigned_abs()).map(|d| format!("-{d}")),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Text → binary

fn error(c: &Cursor<'_>, reason: &'static str) -> SddlError {
    SddlError::Condition {
        offset: c.pos(),
        reason,
    }
}

fn check_depth(c: &Cursor<'_>, depth: usize) -> Result<(), SddlError> {
    if depth > MAX_DEPTH {
        Err(error(c, "expression nested too deeply"))
    } else {
        Ok(())
    }
}

/// Parses the parenthesised condition of an ACE at the cursor and returns the application
/// data: `artx`, the tokens in postfix order, zero padding to a multiple of 4 bytes.
///
/// Grammar (operators ignore case; whitespace between tokens):
///
/// ```text
/// condition := "(" or ")"
/// or        := and { "||" and }                  left-associative
/// and       := unary { "&&" unary }              left-associative
/// unary     := "!" unary | primary
/// primary   := "(" or ")"
///            | member-op operand                 Member_of, Not_Device_Member_of_Any, ...
///            | ("Exists" | "Not_Exists") attribute
///            | attribute [ rel-op value ]        ==, !=, <, <=, >, >=, Contains, Any_of, ...
/// value     := literal | @-attribute | "(" value ")"
/// literal   := integer | "string" | #hex | SID(sid) | "{" [literal {"," literal}] "}"
/// ```
pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<Vec<u8>, SddlError> {
    let mut out = SIGNATURE.to_vec();
    c.skip_ws();
    c.expect('(', "`(` starting a conditional expression")?;
    parse_or(c, &mut out, 1)?;
    c.skip_ws();
    c.expect(')', "`)` closing the conditional expression")?;
    while !out.len().is_multiple_of(4) {
        out.push(PADDING);
    }
    Ok(out)
}

fn eat_str(c: &mut Cursor<'_>, s: &str) -> bool {
    let matches = s
        .chars()
        .enumerate()
        .all(|(i, want)| c.peek_at(i) == Some(want));
    if matches {
        for _ in s.chars() {
            c.bump();
        }
    }
    matches
}

// The parser is recursive descent that emits tokens as it goes: each rule writes its
// operands' tokens first and its operator byte last, which is exactly the postfix order
// of the binary form, so no syntax tree is built. Every recursion passes `depth`, and
// `check_depth` stops it at `MAX_DEPTH`; the loops for `&&` and `||` do not recurse, so
// long flat chains cost no stack.

fn parse_or(c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), SddlError> {
    parse_and(c, out, depth)?;
    loop {
        c.skip_ws();
        if !eat_str(c, "||") {
            return Ok(());
        }
        parse_and(c, out, depth)?;
        out.push(OR);
    }
}

fn parse_and(c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), SddlError> {
    parse_unary(c, out, depth)?;
    loop {
        c.skip_ws();
        if !eat_str(c, "&&") {
            return Ok(());
        }
        parse_unary(c, out, depth)?;
        out.push(AND);
    }
}

fn parse_unary(c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), SddlError> {
    check_depth(c, depth)?;
    c.skip_ws();
    // `!=` cannot start an operand, but check anyway so the error names the right thing.
    if c.peek() == Some('!') && c.peek_at(1) != Some('=') {
        c.bump();
        parse_unary(c, out, depth.saturating_add(1))?;
        out.push(NOT);
        return Ok(());
    }
    parse_primary(c, out, depth)
}

/// Characters of attribute names and word operators: the ASCII set of [MS-DTYP]'s
/// `attr-char1` (letters, digits, `_`, `:`, `.`, `/`) and any non-ASCII, non-space
/// character.
fn is_attr_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric()
        || matches!(ch, '_' | ':' | '.' | '/')
        || (!ch.is_ascii() && !ch.is_whitespace())
}

fn is_word_start(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_' || (!ch.is_ascii() && !ch.is_whitespace())
}

/// The word at the cursor, without consuming it.
fn peek_word(c: &Cursor<'_>) -> String {
    let mut word = String::new();
    let mut i = 0usize;
    while let Some(ch) = c.peek_at(i).filter(|&ch| is_attr_char(ch)) {
        word.push(ch);
        i = i.saturating_add(1);
    }
    word
}

fn parse_primary(c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), SddlError> {
    c.skip_ws();
    match c.peek() {
        Some('(') => {
            c.bump();
            parse_or(c, out, depth.saturating_add(1))?;
            c.skip_ws();
            c.expect(')', "`)` closing a sub-expression")
        }
        Some('@') => {
            parse_attr(c, out)?;
            parse_relational_tail(c, out, depth)
        }
        Some(ch) if is_word_start(ch) => {
            // A word is an operator name (Member_of, Exists, ...) or else a local
            // attribute; peek first so the attribute keeps all its characters.
            let word = peek_word(c);
            match word_op(&word) {
                Some(op) if matches!(op.kind, OpKind::Member | OpKind::Exists) => {
                    for _ in word.chars() {
                        c.bump();
                    }
                    let kind = if op.kind == OpKind::Member {
                        Operand::Literal
                    } else {
                        Operand::Attr
                    };
                    parse_operand(c, out, depth.saturating_add(1), kind)?;
                    out.push(op.code);
                    Ok(())
                }
                Some(_) => Err(error(c, "an operator needs an attribute before it")),
                None => {
                    parse_local_attr(c, out)?;
                    parse_relational_tail(c, out, depth)
                }
            }
        }
        _ => Err(error(
            c,
            "expected an attribute, `!`, `(`, Member_of… or Exists",
        )),
    }
}

/// After an attribute: an optional relational operator and its right operand.
fn parse_relational_tail(
    c: &mut Cursor<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), SddlError> {
    c.skip_ws();
    // Two-character symbols first, so `<=` is not read as `<`.
    let symbolic = ["==", "!=", "<=", ">=", "<", ">"]
        .into_iter()
        .find(|s| eat_str(c, s));
    let op = match symbolic {
        Some(s) => OPS.iter().find(|o| o.name == s),
        None => {
            let word = peek_word(c);
            let op = word_op(&word).filter(|o| o.kind == OpKind::Relational);
            if op.is_some() {
                for _ in word.chars() {
                    c.bump();
                }
            }
            op
        }
    };
    if let Some(op) = op {
        parse_operand(c, out, depth.saturating_add(1), Operand::Value)?;
        out.push(op.code);
    }
    Ok(())
}

/// What an operator accepts as its operand.
#[derive(Clone, Copy)]
enum Operand {
    /// A literal (membership operators).
    Literal,
    /// An attribute (`Exists`).
    Attr,
    /// A literal or a prefixed attribute (right side of a relational operator).
    Value,
}

fn parse_operand(
    c: &mut Cursor<'_>,
    out: &mut Vec<u8>,
    depth: usize,
    kind: Operand,
) -> Result<(), SddlError> {
    check_depth(c, depth)?;
    c.skip_ws();
    // Windows accepts extra parentheses around an operand: `Member_of(SID(WD))`.
    if c.eat('(') {
        parse_operand(c, out, depth.saturating_add(1), kind)?;
        c.skip_ws();
        return c.expect(')', "`)` closing an operand");
    }
    match kind {
        Operand::Attr if c.peek() == Some('@') => parse_attr(c, out),
        Operand::Attr if c.peek().is_some_and(is_word_start) => parse_local_attr(c, out),
        Operand::Attr => Err(error(c, "expected an attribute")),
        Operand::Value if c.peek() == Some('@') => parse_attr(c, out),
        Operand::Value | Operand::Literal => parse_literal(c, out, depth),
    }
}

fn push_utf16(out: &mut Vec<u8>, code: u8, s: &str) -> Result<(), &'static str> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let len = units
        .len()
        .checked_mul(2)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("string too long")?;
    out.push(code);
    out.extend_from_slice(&len.to_le_bytes());
    for unit in units {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    Ok(())
}

fn push_block(out: &mut Vec<u8>, code: u8, block: &[u8]) -> Result<(), &'static str> {
    let len = u32::try_from(block.len()).map_err(|_| "literal too long")?;
    out.push(code);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(block);
    Ok(())
}

/// `@User.name`, `@Device.name`, `@Resource.name` (prefix in any case).
fn parse_attr(c: &mut Cursor<'_>, out: &mut Vec<u8>) -> Result<(), SddlError> {
    let Some(&(_, code)) = ATTR_PREFIXES.iter().find(|(p, _)| c.eat_ci(p)) else {
        return Err(error(c, "expected @User., @Device. or @Resource."));
    };
    let at = c.pos();
    let name = c.take_while(is_attr_char);
    if name.is_empty() {
        return Err(error(c, "expected an attribute name"));
    }
    push_utf16(out, code, &name).map_err(|reason| SddlError::Condition { offset: at, reason })
}

fn parse_local_attr(c: &mut Cursor<'_>, out: &mut Vec<u8>) -> Result<(), SddlError> {
    let at = c.pos();
    let name = c.take_while(is_attr_char);
    if name.is_empty() {
        return Err(error(c, "expected an attribute name"));
    }
    push_utf16(out, LOCAL_ATTR, &name).map_err(|reason| SddlError::Condition { offset: at, reason })
}

fn parse_literal(c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), SddlError> {
    check_depth(c, depth)?;
    c.skip_ws();
    let at = c.pos();
    let result = match c.peek() {
        Some('"') => {
            c.bump();
            let s = c.take_while(|ch| ch != '"');
            c.expect('"', "`\"` closing a string")?;
            push_utf16(out, UNICODE, &s)
        }
        Some('#') => {
            c.bump();
            // After the leading `#`, a `#` stands for `0`; an odd number of digits implies
            // a leading `0` (Windows: `#1#2#3##` is `#01020300`).
            let text: String = c
                .take_while(|ch| ch.is_ascii_hexdigit() || ch == '#')
                .chars()
                .map(|ch| if ch == '#' { '0' } else { ch })
                .collect();
            let padded = if text.len().is_multiple_of(2) {
                text
            } else {
                format!("0{text}")
            };
            let digits: Vec<u32> = padded.chars().filter_map(|ch| ch.to_digit(16)).collect();
            let bytes: Vec<u8> = digits
                .chunks_exact(2)
                .filter_map(|pair| match pair {
                    [hi, lo] => u8::try_from(hi.saturating_mul(16).saturating_add(*lo)).ok(),
                    _ => None,
                })
                .collect();
            push_block(out, OCTETS, &bytes)
        }
        Some('{') => {
            c.bump();
            let mut inner = Vec::new();
            c.skip_ws();
            if !c.eat('}') {
                loop {
                    parse_literal(c, &mut inner, depth.saturating_add(1))?;
                    c.skip_ws();
                    if c.eat(',') {
                        continue;
                    }
                    c.expect('}', "`,` or `}` in a composite")?;
                    break;
                }
            }
            push_block(out, COMPOSITE, &inner)
        }
        Some(ch) if ch.is_ascii_digit() || ch == '+' || ch == '-' => {
            let (value, sign, base) = parse_int(c)?;
            out.push(INT64);
            out.extend_from_slice(&value.to_le_bytes());
            out.push(sign);
            out.push(base);
            Ok(())
        }
        Some(_) if c.starts_with_ci("SID") => {
            c.eat_ci("SID");
            c.skip_ws();
            c.expect('(', "`(` after SID")?;
            c.skip_ws();
            let sid = parse_sid(c)?;
            c.skip_ws();
            c.expect(')', "`)` closing SID(…)")?;
            push_block(out, SID, &sid.to_bytes())
        }
        _ => {
            return Err(error(
                c,
                "expected a literal: number, \"string\", #hex, SID(…) or {…}",
            ));
        }
    };
    result.map_err(|reason| SddlError::Condition { offset: at, reason })
}

/// An integer: optional sign, then `0x` hex, `0` octal or decimal. Returns the token's
/// value, sign byte and base byte.
fn parse_int(c: &mut Cursor<'_>) -> Result<(i64, u8, u8), SddlError> {
    let at = c.pos();
    let sign = if c.eat('+') {
        SIGN_POSITIVE
    } else if c.eat('-') {
        SIGN_NEGATIVE
    } else {
        SIGN_NONE
    };
    let text = c.take_while(|ch| ch.is_ascii_alphanumeric());
    let invalid = |reason| SddlError::InvalidToken {
        offset: at,
        what: "integer",
        text: text.clone(),
        reason,
    };
    let (digits, radix, base) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16, BASE_HEX)
        } else if text.len() > 1 && text.starts_with('0') {
            (text.as_str(), 8, BASE_OCTAL)
        } else {
            (text.as_str(), 10, BASE_DECIMAL)
        };
    if digits.is_empty() || !digits.chars().all(|ch| ch.is_digit(radix)) {
        return Err(invalid("expected digits of the number's base"));
    }
    let magnitude =
        u64::from_str_radix(digits, radix).map_err(|_| invalid("does not fit in 64 bits"))?;
    // The token stores the value as a signed 64-bit integer plus the sign and base as
    // written, so that the text can be reproduced.
    let value = match sign {
        // Unsigned hex and octal keep all 64 bits (`0xffffffffffffffff`), as Windows does.
        SIGN_NONE if base != BASE_DECIMAL => Some(magnitude.cast_signed()),
        SIGN_NEGATIVE => {
            (magnitude <= 0x8000_0000_0000_0000).then(|| magnitude.cast_signed().wrapping_neg())
        }
        _ => i64::try_from(magnitude).ok(),
    }
    .ok_or_else(|| invalid("does not fit in a signed 64-bit integer"))?;
    Ok((value, sign, base))
}

/// Parses a whole string as one condition (tests of the token layout).
#[cfg(test)]
pub(crate) fn tokens_of(text: &str) -> Result<Vec<u8>, SddlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut c = Cursor::new(&chars);
    let bytes = parse(&mut c)?;
    if c.at_end() {
        Ok(bytes)
    } else {
        Err(c.unexpected("end of the expression"))
    }
}

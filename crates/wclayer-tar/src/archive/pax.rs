//! The PAX records of `x` and `g` headers as Go's reader parses and merges them
//! (`parsePAX`, `parsePAXRecord`, `mergePAX`). The value codecs of the Windows records are
//! in [`crate::pax`].

use std::collections::BTreeMap;

use wclayer_backup::UnixTime;

use super::header::Work;
use super::{Records, len_u64};

/// Where a PAX body went wrong: byte position of the record, and what is wrong.
type RecordError = (u64, &'static str);

pub(super) const PAX_PATH: &[u8] = b"path";
const PAX_LINKPATH: &[u8] = b"linkpath";
const PAX_UNAME: &[u8] = b"uname";
const PAX_GNAME: &[u8] = b"gname";
const PAX_UID: &[u8] = b"uid";
const PAX_GID: &[u8] = b"gid";
const PAX_SIZE: &[u8] = b"size";
const PAX_MTIME: &[u8] = b"mtime";
const PAX_ATIME: &[u8] = b"atime";
const PAX_CTIME: &[u8] = b"ctime";
pub(super) const SPARSE_MAJOR: &[u8] = b"GNU.sparse.major";
pub(super) const SPARSE_MINOR: &[u8] = b"GNU.sparse.minor";
pub(super) const SPARSE_NAME: &[u8] = b"GNU.sparse.name";
pub(super) const SPARSE_SIZE: &[u8] = b"GNU.sparse.size";
pub(super) const SPARSE_REALSIZE: &[u8] = b"GNU.sparse.realsize";
pub(super) const SPARSE_MAP: &[u8] = b"GNU.sparse.map";
pub(super) const SPARSE_NUMBLOCKS: &[u8] = b"GNU.sparse.numblocks";
const SPARSE_OFFSET: &[u8] = b"GNU.sparse.offset";
const SPARSE_NUMBYTES: &[u8] = b"GNU.sparse.numbytes";

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then at least one decimal digit;
/// `None` on anything else or overflow.
pub(super) fn go_parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x
            .checked_mul(10)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))?;
    }
    if neg {
        // -x down to i64::MIN, which has no positive counterpart.
        0i64.checked_sub_unsigned(x)
    } else {
        i64::try_from(x).ok()
    }
}

/// Go's `parsePAXTime` (docs/oci-tar-mapping.md §3) on a record value; `None` when it is not a valid time.
fn parse_pax_time(s: &[u8]) -> Option<UnixTime> {
    crate::pax::parse_pax_time(std::str::from_utf8(s).ok()?).ok()
}

/// Go's `parsePAX`: the records of an `x` or `g` body, later keys replacing earlier ones,
/// with sparse 0.0 `GNU.sparse.offset`/`numbytes` pairs gathered into `GNU.sparse.map`.
/// On error: the byte position of the bad record and what is wrong.
pub(super) fn parse_pax_records(data: &[u8]) -> Result<Records, RecordError> {
    let mut records = BTreeMap::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let pos = len_u64(data).saturating_sub(len_u64(rest));
        let PaxRecord {
            key,
            value,
            rest: remaining,
        } = parse_pax_record(rest).map_err(|r| (pos, r))?;
        rest = remaining;
        if key == SPARSE_OFFSET || key == SPARSE_NUMBYTES {
            // Offsets and lengths must alternate, starting with an offset.
            let expect = if sparse_map.len() & 1 == 0 {
                SPARSE_OFFSET
            } else {
                SPARSE_NUMBYTES
            };
            if key != expect || value.contains(&b',') {
                return Err((pos, "GNU sparse 0.0 records out of order"));
            }
            sparse_map.push(value);
        } else {
            records.insert(key.to_vec(), value.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(SPARSE_MAP.to_vec(), sparse_map.join(&b','));
    }
    Ok(records)
}

/// Go's `parsePAXRecord`: `"%d %s=%s\n"` where the number is the record's whole length.
fn parse_pax_record(s: &[u8]) -> Result<PaxRecord<'_>, &'static str> {
    let space = s.iter().position(|&c| c == b' ').ok_or("no length field")?;
    let (len_text, after) = s.split_at(space);
    let len = go_parse_int(len_text)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n >= 5 && n <= s.len())
        .ok_or("invalid record length")?;
    // From an index into `s` to an index into what follows the space.
    let body_len = len
        .checked_sub(space.saturating_add(1))
        .filter(|&n| n > 0)
        .ok_or("invalid record length")?;
    let body = after.get(1..).unwrap_or_default();
    let (record, remaining) = body
        .split_at_checked(body_len)
        .ok_or("invalid record length")?;
    let (record, newline) = record.split_at(body_len.saturating_sub(1));
    if newline != b"\n" {
        return Err("record does not end in a newline");
    }
    let eq = record
        .iter()
        .position(|&c| c == b'=')
        .ok_or("record without '='")?;
    let (key, value) = record.split_at(eq);
    let value = value.get(1..).unwrap_or_default();
    // Go's validPAXRecord: a non-empty key; no NUL in the values of the ustar string
    // fields, or (for other keys) in the key.
    if key.is_empty() {
        return Err("empty key");
    }
    let bad_nul = match key {
        PAX_PATH | PAX_LINKPATH | PAX_UNAME | PAX_GNAME => value.contains(&0),
        _ => key.contains(&0),
    };
    if bad_nul {
        return Err("NUL in record");
    }
    Ok(PaxRecord {
        key,
        value,
        rest: remaining,
    })
}

/// One record split off the front of a PAX body.
struct PaxRecord<'a> {
    key: &'a [u8],
    value: &'a [u8],
    /// The records after this one.
    rest: &'a [u8],
}

/// Go's `mergePAX`: records override header fields unless their value is empty. On error:
/// the record whose value does not parse.
pub(super) fn merge_pax<'a>(
    h: &mut Work,
    records: &'a Records,
) -> Result<(), (&'a [u8], &'a [u8])> {
    for (k, v) in records {
        if v.is_empty() {
            continue;
        }
        let bad = || (k.as_slice(), v.as_slice());
        match k.as_slice() {
            PAX_PATH => h.name.clone_from(v),
            PAX_LINKPATH => h.linkname.clone_from(v),
            PAX_UNAME => h.uname.clone_from(v),
            PAX_GNAME => h.gname.clone_from(v),
            PAX_UID => h.uid = go_parse_int(v).ok_or_else(bad)?,
            PAX_GID => h.gid = go_parse_int(v).ok_or_else(bad)?,
            PAX_SIZE => h.size = go_parse_int(v).ok_or_else(bad)?,
            PAX_MTIME => h.mod_time = parse_pax_time(v).ok_or_else(bad)?,
            PAX_ATIME => h.access_time = Some(parse_pax_time(v).ok_or_else(bad)?),
            PAX_CTIME => h.change_time = Some(parse_pax_time(v).ok_or_else(bad)?),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parse_int_matches_strconv() {
        assert_eq!(go_parse_int(b"42"), Some(42));
        assert_eq!(go_parse_int(b"+42"), Some(42));
        assert_eq!(go_parse_int(b"-0"), Some(0));
        assert_eq!(go_parse_int(b"007"), Some(7));
        assert_eq!(go_parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(go_parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(go_parse_int(b"9223372036854775808"), None);
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1_000",
            b" 1",
            b"1 ",
            b"0x10",
            b"1.0",
        ] {
            assert_eq!(go_parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pax_time_follows_spec_section_3() {
        let t = |secs, nanos| Some(UnixTime { secs, nanos });
        assert_eq!(parse_pax_time(b"1609556646"), t(1_609_556_646, 0));
        assert_eq!(
            parse_pax_time(b"1609556645.1234567"),
            t(1_609_556_645, 123_456_700)
        );
        assert_eq!(parse_pax_time(b"-1.5"), t(-2, 500_000_000));
        assert_eq!(parse_pax_time(b"-0.25"), t(-1, 750_000_000));
        assert_eq!(parse_pax_time(b"-86400.5"), t(-86_401, 500_000_000));
        assert_eq!(parse_pax_time(b"+3.000000000999"), t(3, 0));
        assert_eq!(parse_pax_time(b"1."), t(1, 0));
        assert_eq!(parse_pax_time(b"1.1234567891"), t(1, 123_456_789));
        assert_eq!(parse_pax_time(b"-5.0"), t(-5, 0));
        for bad in [
            &b""[..],
            b".5",
            b"-.5",
            b"1.2.3",
            b"1.x",
            b"1e3",
            b"1.-5",
            b"a",
        ] {
            assert_eq!(parse_pax_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pax_records_parse_like_go() {
        let r = parse_pax_records(b"11 path=ab\n6 a=b\n").unwrap();
        assert_eq!(r.get(&b"path"[..]).unwrap(), b"ab");
        assert_eq!(r.get(&b"a"[..]).unwrap(), b"b");
        // Empty values and later duplicates.
        let r = parse_pax_records(b"7 k=v1\n5 k=\n").unwrap();
        assert_eq!(r.get(&b"k"[..]).unwrap(), b"");
        // The value may contain '=' and newlines; the length decides.
        let r = parse_pax_records(b"10 k=a=\nb\n").unwrap();
        assert_eq!(r.get(&b"k"[..]).unwrap(), b"a=\nb");
        for bad in [
            &b"5 k=v\n"[..], // length too short for the record
            b"6 k=v",        // no newline
            b"6 kv\n\n",     // no '='
            b"x k=v\n",      // length not a number
            b"4 k=\n",       // length below 5
            b"100 k=v\n",    // length past the end
            b"6 =v\n\n",     // empty key
            b"8 path=\0\n",  // NUL in a path
            b"7 k\0=v\n",    // NUL in a key
            b"6k=v\n",       // no space
        ] {
            assert!(parse_pax_records(bad).is_err(), "{bad:?}");
        }
        // NUL is allowed in other values.
        assert!(parse_pax_records(b"6 k=\0\n").is_ok());
    }

    /// One PAX record with its length prefix.
    fn rec(k: &str, v: &str) -> Vec<u8> {
        let n = k.len().saturating_add(v.len()).saturating_add(3);
        let mut len = n.saturating_add(n.to_string().len());
        if len.to_string().len() != n.to_string().len() {
            len = n.saturating_add(len.to_string().len());
        }
        format!("{len} {k}={v}\n").into_bytes()
    }

    #[test]
    fn sparse_00_pairs_become_a_map() {
        let body = [
            rec("GNU.sparse.offset", "0"),
            rec("GNU.sparse.numbytes", "5"),
            rec("GNU.sparse.offset", "10"),
            rec("GNU.sparse.numbytes", "3"),
        ]
        .concat();
        let r = parse_pax_records(&body).unwrap();
        assert_eq!(r.get(SPARSE_MAP).unwrap(), b"0,5,10,3");
        assert!(!r.contains_key(SPARSE_OFFSET));
        assert!(parse_pax_records(&rec("GNU.sparse.numbytes", "5")).is_err());
        assert!(parse_pax_records(&rec("GNU.sparse.offset", "1,2")).is_err());
        let twice = [rec("GNU.sparse.offset", "0"), rec("GNU.sparse.offset", "1")].concat();
        assert!(parse_pax_records(&twice).is_err());
    }
}

//! Bounds-checked little-endian reads and writes, shared by the binary codecs of SIDs
//! (`sid`), ACLs and ACEs (`acl`) and whole descriptors (`binary`).
//!
//! Every read goes through [`take`], which checks the range against both the input and
//! the enclosing structure (`limit`), so a size field can never make a read leave its ACE,
//! ACL or the input, and no arithmetic on offsets can overflow.

use super::error::{Component, Error};

/// `len` bytes at `offset`, which must end at or before `limit` (itself at most
/// `bytes.len()`).
pub(crate) fn take(
    bytes: &[u8],
    offset: usize,
    len: usize,
    limit: usize,
    component: Component,
) -> Result<&[u8], Error> {
    let truncated = || Error::Truncated {
        component,
        offset,
        needed: len,
        available: limit.min(bytes.len()).saturating_sub(offset),
    };
    let end = offset.checked_add(len).ok_or_else(truncated)?;
    if end > limit {
        return Err(truncated());
    }
    bytes.get(offset..end).ok_or_else(truncated)
}

/// The little-endian `u32` at `offset`, which must end at or before `limit`.
pub(crate) fn read_u32(
    bytes: &[u8],
    offset: usize,
    limit: usize,
    component: Component,
) -> Result<u32, Error> {
    let b = take(bytes, offset, 4, limit, component)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ok(u32::from_le_bytes(a))
}

/// `offset + n` for offsets already proven to lie inside `bytes` (so the sum cannot
/// overflow in practice); saturates rather than wrapping if that is ever wrong, which turns
/// into a truncation error at the next [`take`].
pub(crate) fn at(offset: usize, n: usize) -> usize {
    offset.saturating_add(n)
}

/// Appends `value` in little-endian order.
pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` in little-endian order.
pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

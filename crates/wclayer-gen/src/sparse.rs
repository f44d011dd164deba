//! The sparse cases of [`crate::hostile_archives`]: invalid maps (PAX 0.1, PAX 1.0, old GNU),
//! maps cut short or without their data, and archives of a few KiB that claim 8 GiB (to be
//! imported with their holes) or 1 TiB (over `--max-size`). Outcomes follow Go's
//! `archive/tar` reader (docs/oci-tar-mapping.md §6.5), except where wclayer's limits apply.

use std::io;

use tar::{EntryType, Header};

use crate::entry::Ent;
use crate::hostile::{accepted, refused};
use crate::raw::*;
use crate::structure::cut;
use crate::{Class, HostileArchive};

pub(crate) fn build() -> io::Result<Vec<HostileArchive>> {
    sparse()
}

const SPARSE: &str = "Files/sparse.bin";
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Fragments of 16 bytes at the start, the middle and the end of `size` bytes.
fn three_fragments(size: u64) -> Vec<(u64, u64)> {
    vec![(0, 16), (size / 2, 16), (size - 16, 16)]
}

fn fragment_data(map: &[(u64, u64)]) -> Vec<u8> {
    let stored: u64 = map.iter().map(|&(_, len)| len).sum();
    (0..stored).map(|i| b'A' + (i % 26) as u8).collect()
}

/// Writes `value` into a numeric field: octal when it fits, else base-256.
fn numeric(block: &mut [u8], range: std::ops::Range<usize>, value: u64) {
    let digits = range.len() - 1;
    if value < 1 << (3 * digits) {
        set_field(block, range, format!("{value:0digits$o}").as_bytes());
    } else {
        set_base256(block, range, i64::try_from(value).unwrap_or(i64::MAX));
    }
}

/// An old GNU sparse entry (typeflag `S`): up to four map entries in the header, the real
/// size, the fragments as data. `extended` sets the flag announcing an extension block
/// (which the caller may leave out).
fn old_gnu_sparse(map: &[(u64, u64)], real_size: u64, extended: bool) -> io::Result<Vec<u8>> {
    let data = fragment_data(map);
    let mut h = Header::new_gnu();
    set_field(h.as_mut_bytes(), 0..100, SPARSE.as_bytes());
    h.set_mode(0o100_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    h.set_entry_type(EntryType::GNUSparse);
    let b = h.as_mut_bytes();
    for (i, &(off, len)) in map.iter().take(4).enumerate() {
        let at = F_GNU_SPARSE + 24 * i;
        numeric(b, at..at + 12, off);
        numeric(b, at + 12..at + 24, len);
    }
    b[F_GNU_ISEXTENDED] = u8::from(extended);
    numeric(b, F_GNU_REALSIZE, real_size);
    h.set_cksum();
    Ok(Raw::new()
        .win(vec![Ent::dir("Files")])?
        .entry(&h, &data)
        .finish())
}

/// A PAX 1.0 sparse entry: the map at the start of the data (decimal lines, padded to a
/// block), then the fragments; the entry stored as `Files/GNUSparseFile.0/sparse.bin`.
/// `stored` is how many fragment bytes are really there.
fn pax_sparse_1(map: &[(u64, u64)], real_size: u64, stored: Option<usize>) -> io::Result<Raw> {
    let mut body = format!("{}\n", map.len());
    for (off, len) in map {
        body.push_str(&format!("{off}\n{len}\n"));
    }
    let mut body = body.into_bytes();
    pad(&mut body);
    let mut data = fragment_data(map);
    if let Some(n) = stored {
        data.truncate(n);
    }
    body.extend(&data);
    let real = real_size.to_string();
    Ok(Raw::new()
        .win(vec![Ent::dir("Files")])?
        .pax(
            "PaxHeaders/sparse.bin",
            &[
                ("MSWINDOWS.fileattr", b"32"),
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", SPARSE.as_bytes()),
                ("GNU.sparse.realsize", real.as_bytes()),
            ],
        )
        .entry(
            &header(
                "Files/GNUSparseFile.0/sparse.bin",
                EntryType::Regular,
                body.len() as u64,
            ),
            &body,
        ))
}

/// A PAX 0.1 sparse entry: the map in `GNU.sparse.map`.
fn pax_sparse_01(map: &[(u64, u64)], size: u64) -> io::Result<Vec<u8>> {
    let data = fragment_data(map);
    let text: Vec<String> = map.iter().map(|(o, l)| format!("{o},{l}")).collect();
    let (numblocks, map_text, size) = (map.len().to_string(), text.join(","), size.to_string());
    Ok(Raw::new()
        .win(vec![Ent::dir("Files")])?
        .pax(
            "PaxHeaders/sparse.bin",
            &[
                ("MSWINDOWS.fileattr", b"32"),
                ("GNU.sparse.major", b"0"),
                ("GNU.sparse.minor", b"1"),
                ("GNU.sparse.name", SPARSE.as_bytes()),
                ("GNU.sparse.size", size.as_bytes()),
                ("GNU.sparse.numblocks", numblocks.as_bytes()),
                ("GNU.sparse.map", map_text.as_bytes()),
            ],
        )
        .entry(
            &header(
                "Files/GNUSparseFile.0/sparse.bin",
                EntryType::Regular,
                data.len() as u64,
            ),
            &data,
        )
        .finish())
}

fn sparse() -> io::Result<Vec<HostileArchive>> {
    use Class::Sparse;
    let cut_map = pax_sparse_1(&three_fragments(8 * GIB), 8 * GIB, None)?.open();
    let map_at = header_at(&cut_map, "Files/GNUSparseFile.0/sparse.bin")? + BLOCK;
    Ok(vec![
        refused(
            "sparse-map-overlapping",
            Sparse,
            SPARSE,
            "a PAX 0.1 sparse map whose fragments overlap (Go: invalid tar header)",
            pax_sparse_01(&[(0, 100), (50, 100)], 1000)?,
        ),
        refused(
            "sparse-map-unsorted",
            Sparse,
            SPARSE,
            "a PAX 0.1 sparse map whose fragments are out of order (Go: invalid tar header)",
            pax_sparse_01(&[(500, 10), (0, 10)], 1000)?,
        ),
        refused(
            "sparse-map-beyond-size",
            Sparse,
            SPARSE,
            "a PAX 0.1 sparse map with a fragment past the logical size (Go: invalid tar \
             header)",
            pax_sparse_01(&[(900, 200)], 1000)?,
        ),
        refused(
            "sparse-old-gnu-overlapping",
            Sparse,
            SPARSE,
            "an old GNU sparse map whose fragments overlap (Go: invalid tar header)",
            old_gnu_sparse(&[(0, 100), (50, 100)], 1000, false)?,
        ),
        refused(
            "sparse-old-gnu-missing-extension",
            Sparse,
            SPARSE,
            "an old GNU sparse header announcing an extension block, and the archive ends \
             100 bytes into it (Go: unexpected EOF)",
            {
                let mut b = old_gnu_sparse(&three_fragments(8 * GIB), 8 * GIB, true)?;
                let at = header_at(&b, SPARSE)?;
                b.truncate(at + BLOCK + 100);
                b
            },
        ),
        refused(
            "sparse-map-truncated",
            Sparse,
            SPARSE,
            "a PAX 1.0 sparse entry whose archive ends 5 bytes into its map (Go: unexpected \
             EOF)",
            cut(&cut_map, map_at + 5),
        ),
        refused(
            "sparse-data-missing",
            Sparse,
            SPARSE,
            "a PAX 1.0 sparse map of three 16-byte fragments, of which 20 bytes are stored \
             (Go: sparse file references non-existent data)",
            pax_sparse_1(&three_fragments(1 << 20), 1 << 20, Some(20))?.finish(),
        ),
        refused(
            "sparse-pax-1tib",
            Sparse,
            SPARSE,
            "a PAX 1.0 sparse file of 1 TiB in a 4.5 KiB archive: over the 64 GiB of \
             --max-size, refused before a byte is written",
            pax_sparse_1(&three_fragments(TIB), TIB, None)?.finish(),
        ),
        refused(
            "sparse-old-gnu-1tib",
            Sparse,
            SPARSE,
            "an old GNU sparse file of 1 TiB in a 2.5 KiB archive: over the 64 GiB of \
             --max-size",
            old_gnu_sparse(&three_fragments(TIB), TIB, false)?,
        ),
        accepted(
            "sparse-pax-8gib",
            Sparse,
            "a PAX 1.0 sparse file of 8 GiB with three 16-byte fragments (start, middle, \
             end): within --max-size, so it is imported, its holes kept as holes on disk",
            pax_sparse_1(&three_fragments(8 * GIB), 8 * GIB, None)?.finish(),
        ),
        accepted(
            "sparse-old-gnu-8gib",
            Sparse,
            "an old GNU sparse file of 8 GiB with three 16-byte fragments: imported like a \
             PAX sparse file (docs/compat.md), its holes kept as holes on disk",
            old_gnu_sparse(&three_fragments(8 * GIB), 8 * GIB, false)?,
        ),
    ])
}

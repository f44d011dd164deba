//! The cases of [`crate::hostile_archives`] whose defect lies in the block structure:
//! truncations at every structural position, lying and malformed headers and PAX records,
//! repeated headers. Outcomes follow Go's `archive/tar` reader (docs/oci-tar-mapping.md
//! §6.5).

use std::io;

use tar::{EntryType, Header};

use crate::defects::with_files;
use crate::entry::*;
use crate::hostile::{accepted, refused};
use crate::raw::*;
use crate::{Class, HostileArchive};

pub(crate) fn build() -> io::Result<Vec<HostileArchive>> {
    let mut v = truncations()?;
    v.extend(lying()?);
    v.extend(repeated()?);
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Truncations
// ---------------------------------------------------------------------------------------------

const VICTIM: &str = "Files/victim.bin";
const VICTIM_SIZE: u64 = 8000;

/// `Files`, `before.txt`, `victim.bin` (8 000 bytes: 192 bytes of padding) with a 700-byte
/// stream `:zone`, `after.txt`; every entry with a PAX header.
fn truncation_origin() -> io::Result<Vec<u8>> {
    let victim = Ent::file(
        VICTIM,
        ARCHIVE,
        Body::Random {
            seed: 600,
            len: VICTIM_SIZE,
        },
    );
    let zone = Ent::stream(
        &victim,
        "zone",
        Body::Random {
            seed: 601,
            len: 700,
        },
    );
    with_files(vec![
        Ent::file("Files/before.txt", ARCHIVE, text("complete\n")),
        victim,
        zone,
        Ent::file("Files/after.txt", ARCHIVE, text("last entry\n")),
    ])
}

pub(crate) fn cut(bytes: &[u8], at: usize) -> Vec<u8> {
    bytes[..at].to_vec()
}

fn truncations() -> io::Result<Vec<HostileArchive>> {
    use Class::Structure;
    let o = truncation_origin()?;
    let pax = header_at(&o, "PaxHeaders/victim.bin")?;
    let main = header_at(&o, VICTIM)?;
    let body = main + BLOCK;
    let stream = header_at(&o, "Files/victim.bin:zone")?;
    let end = o.len() - TRAILER;
    let data = usize::try_from(VICTIM_SIZE).map_err(io::Error::other)?;

    // A GNU long name, then its entry.
    let long = format!("Files/{}.txt", "long-name-".repeat(12));
    let gnu = Raw::new()
        .win(vec![
            Ent::dir("Files"),
            Ent::file("Files/before.txt", ARCHIVE, text("complete\n")),
        ])?
        .gnu_long_name(&long);
    let long_at = gnu.len() - 2 * BLOCK;
    let gnu = gnu
        .entry(
            &header("Files/long-placeholder.txt", EntryType::Regular, 5),
            b"long\n",
        )
        .finish();

    Ok(vec![
        refused(
            "truncated-inside-pax-header-block",
            Structure,
            "Files/before.txt",
            "the archive ends 100 bytes into the PAX header block of Files/victim.bin (Go: \
             unexpected EOF); the last entry read is Files/before.txt",
            cut(&o, pax + 100),
        ),
        refused(
            "truncated-inside-pax-records",
            Structure,
            "PaxHeaders/victim.bin",
            "the archive ends 20 bytes into the PAX records of Files/victim.bin (Go: \
             unexpected EOF), which only the extension header has named so far",
            cut(&o, pax + BLOCK + 20),
        ),
        accepted(
            "truncated-between-pax-and-entry",
            Structure,
            "the archive ends right after the PAX header of Files/victim.bin, where its main \
             header would start: Go's reader ends silently there (io.EOF from Next), so the \
             entries before it are the layer",
            cut(&o, main),
        ),
        refused(
            "truncated-inside-main-header",
            Structure,
            "PaxHeaders/victim.bin",
            "the archive ends 200 bytes into the main header block of Files/victim.bin (Go: \
             unexpected EOF)",
            cut(&o, main + 200),
        ),
        refused(
            "truncated-after-main-header",
            Structure,
            VICTIM,
            "the archive ends right after the main header of Files/victim.bin, before any of \
             its 8 000 bytes (Go: unexpected EOF)",
            cut(&o, body),
        ),
        refused(
            "truncated-inside-body",
            Structure,
            VICTIM,
            "the archive ends 3 000 bytes into the 8 000-byte body of Files/victim.bin",
            cut(&o, body + 3000),
        ),
        accepted(
            "truncated-inside-padding",
            Structure,
            "the archive ends 100 bytes into the padding after the complete body of \
             Files/victim.bin: Go's reader takes that as the end of the archive",
            cut(&o, body + data + 100),
        ),
        refused(
            "truncated-inside-stream-body",
            Structure,
            "Files/victim.bin:zone",
            "the archive ends 300 bytes into the 700-byte alternate data stream \
             Files/victim.bin:zone",
            cut(&o, stream + BLOCK + 300),
        ),
        accepted(
            "truncated-without-end-marker",
            Structure,
            "the archive ends after the last entry, without the two zero blocks: Go accepts it",
            cut(&o, end),
        ),
        accepted(
            "truncated-after-one-zero-block",
            Structure,
            "the archive ends after the first of the two zero blocks: Go accepts it",
            cut(&o, end + BLOCK),
        ),
        refused(
            "truncated-inside-first-zero-block",
            Structure,
            "Files/after.txt",
            "the archive ends 100 bytes into the first zero block (Go: unexpected EOF); the \
             last entry read is Files/after.txt",
            cut(&o, end + 100),
        ),
        refused(
            "truncated-inside-second-zero-block",
            Structure,
            "Files/after.txt",
            "the archive ends 100 bytes into the second zero block (Go: unexpected EOF)",
            cut(&o, end + BLOCK + 100),
        ),
        refused(
            "truncated-inside-gnu-long-name",
            Structure,
            "././@LongLink",
            "the archive ends 10 bytes into the body of a GNU long-name entry",
            cut(&gnu, long_at + BLOCK + 10),
        ),
        accepted(
            "truncated-after-gnu-long-name",
            Structure,
            "the archive ends right after a GNU long-name entry, where its main header would \
             start: Go's reader ends silently there",
            cut(&gnu, long_at + 2 * BLOCK),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Lying and malformed headers
// ---------------------------------------------------------------------------------------------

const LIAR: &str = "Files/liar.txt";
const LIAR_PAX: &str = "PaxHeaders/liar.txt";

/// `Files`, `before.txt`, then whatever `f` appends, then `after.txt`.
fn around(f: impl FnOnce(Raw) -> Raw) -> io::Result<Vec<u8>> {
    let start = Raw::new().win(vec![
        Ent::dir("Files"),
        Ent::file("Files/before.txt", ARCHIVE, text("complete\n")),
    ])?;
    Ok(f(start)
        .win(vec![Ent::file(
            "Files/after.txt",
            ARCHIVE,
            text("last entry\n"),
        )])?
        .finish())
}

/// The liar with a PAX header holding `records`, a size field of `field`, and `data`.
fn liar(records: &[(&str, &[u8])], field: u64, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut all: Vec<(&str, &[u8])> = vec![("MSWINDOWS.fileattr", b"32")];
    all.extend_from_slice(records);
    around(|r| {
        r.pax(LIAR_PAX, &all)
            .entry(&header(LIAR, EntryType::Regular, field), data)
    })
}

/// The liar with its size field replaced by `edit`.
fn liar_field(edit: impl FnOnce(&mut [u8])) -> io::Result<Vec<u8>> {
    let mut h = header(LIAR, EntryType::Regular, 0);
    edit(h.as_mut_bytes());
    let mut bytes = h.as_bytes().to_vec();
    set_checksum(&mut bytes, 0);
    let mut fixed = Header::new_old();
    fixed.as_mut_bytes().copy_from_slice(&bytes);
    around(|r| r.entry(&fixed, b""))
}

/// A PAX header whose body is `body` (not necessarily well-formed), then the liar.
fn liar_records(body: &[u8]) -> io::Result<Vec<u8>> {
    around(|r| {
        r.pax_raw(LIAR_PAX, body)
            .entry(&header(LIAR, EntryType::Regular, 5), b"data\n")
    })
}

fn lying() -> io::Result<Vec<HostileArchive>> {
    use Class::Structure;
    let text_data = b"this is data, not a header. ".repeat(25);
    let mut over_1mib = header(LIAR_PAX, EntryType::XHeader, 2 << 20);
    over_1mib.set_cksum();
    Ok(vec![
        refused(
            "pax-size-larger-than-data",
            Structure,
            LIAR,
            "PAX `size=100000` for an entry followed by 10 bytes of data: the rest of the \
             archive is read as its data, then it ends (Go: unexpected EOF)",
            liar(&[("size", b"100000")], 10, b"0123456789")?,
        ),
        refused(
            "pax-size-smaller-than-data",
            Structure,
            LIAR,
            "PAX `size=3` for an entry followed by 700 bytes: the reader takes 3 bytes and \
             then meets data where a header should be (Go: invalid tar header)",
            liar(&[("size", b"3")], 700, &text_data[..700])?,
        ),
        refused(
            "pax-size-not-numeric",
            Structure,
            LIAR,
            "PAX `size=12x` (Go: invalid tar header)",
            liar(&[("size", b"12x")], 5, b"data\n")?,
        ),
        refused(
            "pax-size-negative",
            Structure,
            LIAR,
            "PAX `size=-1` (Go: invalid tar header, a negative size)",
            liar(&[("size", b"-1")], 5, b"data\n")?,
        ),
        refused(
            "pax-size-huge",
            Structure,
            LIAR,
            "PAX `size=9223372036854775807`: more file data than --max-size allows, refused \
             before anything is read",
            liar(&[("size", b"9223372036854775807")], 5, b"data\n")?,
        ),
        refused(
            "size-field-negative-base256",
            Structure,
            LIAR,
            "a size field of -1 in base-256 (Go: invalid tar header)",
            liar_field(|b| set_base256(b, F_SIZE, -1))?,
        ),
        refused(
            "size-field-huge-base256",
            Structure,
            LIAR,
            "a size field of 2^62 in base-256: more than --max-size allows",
            liar_field(|b| set_base256(b, F_SIZE, 1 << 62))?,
        ),
        refused(
            "size-field-huge-octal",
            Structure,
            LIAR,
            "a size field of 77777777777 (8 GiB - 1, the largest octal size) for an entry \
             followed by nothing: within --max-size, so the rest of the archive is read as its \
             data until it ends (Go: unexpected EOF)",
            liar_field(|b| set_field(b, F_SIZE, b"77777777777"))?,
        ),
        refused(
            "size-field-bad-octal",
            Structure,
            LIAR,
            "a size field `0000000001x` that is no octal number (Go: invalid tar header)",
            liar_field(|b| set_field(b, F_SIZE, b"0000000001x"))?,
        ),
        refused(
            "pax-record-length-too-long",
            Structure,
            LIAR_PAX,
            "a PAX record whose length field (99) runs past the end of the records",
            liar_records(b"99 path=Files/liar.txt\n")?,
        ),
        refused(
            "pax-record-length-too-short",
            Structure,
            LIAR_PAX,
            "a PAX record whose length field (10) ends it in the middle of its value",
            liar_records(b"10 path=Files/liar.txt\n")?,
        ),
        refused(
            "pax-record-length-not-numeric",
            Structure,
            LIAR_PAX,
            "a PAX record whose length field is `2x`",
            liar_records(b"2x path=Files/liar.txt\n")?,
        ),
        refused(
            "pax-record-without-newline",
            Structure,
            LIAR_PAX,
            "a PAX record whose length is right but whose last byte is not a newline",
            liar_records(b"23 path=Files/liar.txt!")?,
        ),
        refused(
            "pax-record-without-equals",
            Structure,
            LIAR_PAX,
            "a PAX record without `=`",
            liar_records(b"23 path Files/liar.txt\n")?,
        ),
        refused(
            "pax-header-over-1mib",
            Structure,
            LIAR_PAX,
            "a PAX header that declares 2 MiB of records (Go's limit is 1 MiB), followed by \
             almost nothing: refused before it is read",
            around(|r| r.entry(&over_1mib, b"16 path=x/y.txt\n"))?,
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Repeated headers
// ---------------------------------------------------------------------------------------------

const ESCAPE: &str = "Files/../../escape.txt";

fn repeated() -> io::Result<Vec<HostileArchive>> {
    use Class::Structure;
    let file = |name: &str| header(name, EntryType::Regular, 5);
    let long = format!("Files/{}.txt", "benign-long-name-".repeat(7));
    let mut zero_then_garbage = with_files(vec![
        Ent::file("Files/a.txt", ARCHIVE, text("a\n")),
        Ent::file("Files/b.txt", ARCHIVE, text("b\n")),
    ])?;
    let b = header_at(&zero_then_garbage, "PaxHeaders/b.txt")?;
    zero_then_garbage.splice(b..b, [0u8; BLOCK]);
    Ok(vec![
        refused(
            "two-pax-headers-second-escapes",
            Structure,
            ESCAPE,
            "two PAX headers before one entry, the first with a harmless `path`, the second \
             with one that escapes: the second replaces the first (Go)",
            around(|r| {
                r.pax("PaxHeaders/ok.txt", &[("path", b"Files/ok.txt")])
                    .pax("PaxHeaders/escape.txt", &[("path", ESCAPE.as_bytes())])
                    .entry(&file("Files/ok.txt"), b"data\n")
            })?,
        ),
        accepted(
            "two-pax-headers-first-escapes",
            Structure,
            "two PAX headers before one entry, the first with an escaping `path`, the second \
             with a harmless one: the second replaces the first (Go), so the entry is \
             Files/ok.txt and nothing escapes",
            around(|r| {
                r.pax("PaxHeaders/escape.txt", &[("path", ESCAPE.as_bytes())])
                    .pax("PaxHeaders/ok.txt", &[("path", b"Files/ok.txt")])
                    .entry(&file("Files/ok.txt"), b"data\n")
            })?,
        ),
        refused(
            "two-gnu-long-names-second-escapes",
            Structure,
            ESCAPE,
            "two GNU long-name entries before one entry: the second wins (Go), and escapes",
            around(|r| {
                r.gnu_long_name(&long)
                    .gnu_long_name(ESCAPE)
                    .entry(&file("Files/placeholder.txt"), b"data\n")
            })?,
        ),
        refused(
            "gnu-long-name-beats-pax-path",
            Structure,
            ESCAPE,
            "a PAX `path` that is harmless and a GNU long name that escapes, for the same \
             entry: the long name wins (Go)",
            around(|r| {
                r.pax("PaxHeaders/ok.txt", &[("path", b"Files/ok.txt")])
                    .gnu_long_name(ESCAPE)
                    .entry(&file("Files/placeholder.txt"), b"data\n")
            })?,
        ),
        refused(
            "pax-global-path-escapes",
            Structure,
            "../../escape.txt",
            "a PAX global header with `path=../../escape.txt`: global records apply to every \
             later entry (docs/compat.md), so the first one escapes",
            Raw::new()
                .items(vec![
                    Item::Global(
                        "pax_global_header",
                        vec![("path".into(), b"../../escape.txt".to_vec())],
                    ),
                    Item::Win(Ent::dir("Files")),
                ])?
                .finish(),
        ),
        refused(
            "same-name-other-case",
            Structure,
            "Files/DUP.TXT",
            "Files/dup.txt, then Files/DUP.TXT: the same name on a case-insensitive layer",
            with_files(vec![
                Ent::file("Files/dup.txt", ARCHIVE, text("first\n")),
                Ent::file("Files/DUP.TXT", ARCHIVE, text("second\n")),
            ])?,
        ),
        refused(
            "directory-then-file-same-name",
            Structure,
            "Files/same",
            "a directory Files/same, then a file Files/same",
            with_files(vec![
                Ent::dir("Files/same"),
                Ent::file("Files/same", ARCHIVE, text("file\n")),
            ])?,
        ),
        refused(
            "file-then-entry-below-it",
            Structure,
            "Files/plain.txt/child.txt",
            "a file Files/plain.txt, then an entry below it",
            with_files(vec![
                Ent::file("Files/plain.txt", ARCHIVE, text("file\n")),
                Ent::file("Files/plain.txt/child.txt", ARCHIVE, text("child\n")),
            ])?,
        ),
        refused(
            "zero-block-then-header",
            Structure,
            "Files/a.txt",
            "one zero block between two entries: a zero block followed by a non-zero one \
             (Go: invalid tar header); the last entry read is Files/a.txt",
            zero_then_garbage,
        ),
    ])
}

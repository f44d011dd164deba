//! The archives of [`crate::malformed_cases`] and [`crate::hostile_cases`]: small
//! well-formed archives with one defect each, built from the same entries as the samples
//! and, where the defect is below the entry model (a truncation, a bad checksum), edited
//! afterwards.

use std::io;

use tar::EntryType;

use crate::Malformed;
use crate::entry::*;
use crate::writer::write_items;

fn build(items: Vec<Item>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write_items(&items, &mut out)?;
    Ok(out)
}

/// A small well-formed archive, `Files` plus `extra`.
pub(crate) fn with_files(extra: Vec<Ent>) -> io::Result<Vec<u8>> {
    let mut items = vec![Item::Win(Ent::dir("Files"))];
    items.extend(extra.into_iter().map(Item::Win));
    build(items)
}

/// Name and size of the file the `truncated` case cuts.
pub(crate) const TRUNCATED_FILE: &str = "Files/truncated.bin";
const TRUNCATED_SIZE: u64 = 8192;

/// The well-formed archive the `truncated` case is cut from.
pub(crate) fn truncated_origin() -> io::Result<Vec<u8>> {
    with_files(vec![
        Ent::file("Files/before.txt", ARCHIVE, text("complete\n")),
        Ent::file(
            TRUNCATED_FILE,
            ARCHIVE,
            Body::Random {
                seed: 500,
                len: TRUNCATED_SIZE,
            },
        ),
        Ent::file("Files/after.txt", ARCHIVE, text("never reached\n")),
    ])
}

/// Where the main header and the body of the entry `name` start.
pub(crate) fn locate(archive: &[u8], name: &str) -> io::Result<(usize, usize)> {
    let mut ar = tar::Archive::new(archive);
    for entry in ar.entries()? {
        let entry = entry?;
        if entry.path_bytes().as_ref() == name.as_bytes() {
            let header = usize::try_from(entry.raw_header_position()).map_err(io::Error::other)?;
            let body = usize::try_from(entry.raw_file_position()).map_err(io::Error::other)?;
            return Ok((header, body));
        }
    }
    Err(io::Error::other(format!("{name} not in archive")))
}

pub(crate) fn build_malformed() -> io::Result<Vec<Malformed>> {
    let mut out = Vec::new();

    let mut truncated = truncated_origin()?;
    let (_, body) = locate(&truncated, TRUNCATED_FILE)?;
    // Cut mid-body, and not at a block boundary.
    truncated.truncate(body + 3000);
    out.push(Malformed {
        name: "truncated",
        bytes: truncated,
        bad_entry: TRUNCATED_FILE,
        what: "the archive ends 3000 bytes into the 8192-byte body of Files/truncated.bin",
    });

    out.push(Malformed {
        name: "bad-base64-rawsd",
        bytes: with_files(vec![
            Ent::file("Files/bad-sd.txt", ARCHIVE, text("x\n")).sd("AQAAgB!AAAAkAAAA"),
        ])?,
        bad_entry: "Files/bad-sd.txt",
        what: "MSWINDOWS.rawsd contains `!`, which is not in the base64 alphabet",
    });

    out.push(Malformed {
        name: "bad-base64-xattr",
        bytes: with_files(vec![
            Ent::file("Files/bad-ea.txt", ARCHIVE, text("x\n"))
                .xattr("good", b"fine")
                .record("MSWINDOWS.xattr.bad", "not base64 at all"),
        ])?,
        bad_entry: "Files/bad-ea.txt",
        what: "MSWINDOWS.xattr.bad contains spaces, which Go's base64 decoder rejects",
    });

    out.push(Malformed {
        name: "unpadded-base64-xattr",
        bytes: with_files(vec![
            Ent::file("Files/unpadded-ea.txt", ARCHIVE, text("x\n"))
                .record("MSWINDOWS.xattr.short", "QQ"),
        ])?,
        bad_entry: "Files/unpadded-ea.txt",
        what: "MSWINDOWS.xattr.short is `QQ` without `==` padding, which Go's StdEncoding \
            rejects (docs/oci-tar-mapping.md §4.9)",
    });

    out.push(Malformed {
        name: "fileattr-not-numeric",
        bytes: with_files(vec![
            Ent::new("Files/attr.txt", EntryType::Regular, 0o100000)
                .record("MSWINDOWS.fileattr", "12a")
                .times(&T_FILE),
        ])?,
        bad_entry: "Files/attr.txt",
        what: "MSWINDOWS.fileattr is `12a`, not a decimal number",
    });

    out.push(Malformed {
        name: "fileattr-out-of-range",
        bytes: with_files(vec![
            Ent::new("Files/attr.txt", EntryType::Regular, 0o100000)
                .record("MSWINDOWS.fileattr", "4294967296")
                .times(&T_FILE),
        ])?,
        bad_entry: "Files/attr.txt",
        what: "MSWINDOWS.fileattr is 4294967296, one more than u32::MAX",
    });

    // The stream's file is built only to copy its mode and times; it is never written.
    let missing = Ent::file("Files/missing.txt", ARCHIVE, text("never written\n"));
    out.push(Malformed {
        name: "stream-without-file",
        bytes: with_files(vec![
            Ent::file("Files/present.txt", ARCHIVE, text("present\n")),
            Ent::stream(&missing, "zone", text("orphan stream\n")),
        ])?,
        bad_entry: "Files/missing.txt:zone",
        what: "an alternate data stream entry whose file Files/missing.txt is not the entry \
            before it (nor anywhere in the archive); it reaches the layer as a name with `:`",
    });

    out.push(Malformed {
        name: "hard-link-unknown-target",
        bytes: with_files(vec![
            Ent::file("Files/exists.txt", ARCHIVE, text("x\n")),
            Ent::hard_link("Files/link.txt", "Files/nowhere.txt", ARCHIVE),
        ])?,
        bad_entry: "Files/link.txt",
        what: "a hard link to Files/nowhere.txt, which the archive never adds",
    });

    let mut bad_time = Ent::new("Files/bad-time.txt", EntryType::Regular, 0o100000)
        .attrs(ARCHIVE)
        .record("LIBARCHIVE.creationtime", "abc");
    bad_time.mtime = T_FILE.write;
    bad_time.body = text("x\n");
    out.push(Malformed {
        name: "bad-creationtime",
        bytes: with_files(vec![bad_time])?,
        bad_entry: "Files/bad-time.txt",
        what: "LIBARCHIVE.creationtime is `abc`, not a PAX time",
    });

    let mut bad_sum = with_files(vec![
        Ent::file("Files/a.txt", ARCHIVE, text("a\n")),
        Ent::file("Files/b.txt", ARCHIVE, text("b\n")),
    ])?;
    let (header, _) = locate(&bad_sum, "Files/b.txt")?;
    corrupt_checksum(&mut bad_sum, header)?;
    out.push(Malformed {
        name: "bad-checksum",
        bytes: bad_sum,
        bad_entry: "Files/b.txt",
        what: "the header of Files/b.txt carries a checksum one more than the sum of its bytes \
            (the name field is intact)",
    });

    out.push(Malformed {
        name: "duplicate-name",
        bytes: with_files(vec![
            Ent::file("Files/dup.txt", ARCHIVE, text("first\n")),
            Ent::file("Files/other.txt", ARCHIVE, text("other\n")),
            Ent::file("Files/dup.txt", ARCHIVE, text("second\n")),
        ])?,
        bad_entry: "Files/dup.txt",
        what: "Files/dup.txt is added twice",
    });

    Ok(out)
}

/// Replaces the checksum of the header at `at` with (correct sum + 1), keeping the field's
/// format (6 octal digits, NUL, space) so only the value is wrong.
fn corrupt_checksum(archive: &mut [u8], at: usize) -> io::Result<()> {
    let block = archive
        .get_mut(at..at + 512)
        .ok_or_else(|| io::Error::other("header outside the archive"))?;
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                0x20
            } else {
                u32::from(b)
            }
        })
        .sum();
    let field = format!("{:06o}\0 ", sum + 1);
    block[148..156].copy_from_slice(field.as_bytes());
    Ok(())
}

pub(crate) fn build_hostile() -> io::Result<Vec<Malformed>> {
    let benign = || Ent::file("Files/benign.txt", ARCHIVE, text("inside the layer\n"));
    let payload = |name: &str| Ent::file(name, ARCHIVE, text("must not be written\n"));
    let evil = || Ent::symlink("Files/evil", "../../..", DIRECTORY | REPARSE_POINT);

    Ok(vec![
        Malformed {
            name: "dotdot-escape",
            bytes: with_files(vec![benign(), payload("Files/../../escape.txt")])?,
            bad_entry: "Files/../../escape.txt",
            what: "a name whose `..` components climb two levels above the layer root",
        },
        Malformed {
            name: "backslash-dotdot-escape",
            bytes: with_files(vec![benign(), payload(r"Files/..\..\escape.txt")])?,
            bad_entry: r"Files/..\..\escape.txt",
            what: "a name with `\\`-separated `..` components: harmless as a `/` path, but it \
            escapes once the import maps `/` to `\\` (Files\\..\\..\\escape.txt)",
        },
        Malformed {
            name: "absolute-name",
            bytes: with_files(vec![benign(), payload("/etc/passwd")])?,
            bad_entry: "/etc/passwd",
            what: "an absolute name",
        },
        Malformed {
            name: "drive-name",
            bytes: with_files(vec![benign(), payload("Files/C:/x")])?,
            bad_entry: "Files/C:/x",
            what: "a name with a drive-qualified component (`:` is never valid in a layer path)",
        },
        Malformed {
            name: "through-symlink",
            bytes: with_files(vec![evil(), payload("Files/evil/x.txt")])?,
            bad_entry: "Files/evil/x.txt",
            what: "a file below the directory symlink Files/evil -> ../../.. (an entry below a \
            reparse point)",
        },
        Malformed {
            name: "through-mount-point",
            bytes: with_files(vec![
                Ent::mount_point("Files/mp", r"C:\", DIRECTORY | REPARSE_POINT),
                payload("Files/mp/x.txt"),
            ])?,
            bad_entry: "Files/mp/x.txt",
            what: "a file below the mount point Files/mp -> C:\\",
        },
        Malformed {
            name: "through-symlink-other-case",
            bytes: with_files(vec![
                Ent::symlink("Files/Link", "../../..", DIRECTORY | REPARSE_POINT),
                payload("Files/LINK/x.txt"),
            ])?,
            bad_entry: "Files/LINK/x.txt",
            what: "a file below Files/LINK, which names the symlink Files/Link on a \
            case-insensitive layer",
        },
        Malformed {
            name: "hard-link-escape",
            bytes: with_files(vec![
                benign(),
                Ent::hard_link("Files/hl.txt", "../../outside", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target ../../outside lies outside the layer",
        },
        Malformed {
            name: "hard-link-absolute",
            bytes: with_files(vec![
                benign(),
                Ent::hard_link("Files/hl.txt", "/etc/shadow", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target is the absolute path /etc/shadow",
        },
        Malformed {
            name: "hard-link-through-symlink",
            bytes: with_files(vec![
                evil(),
                Ent::hard_link("Files/hl.txt", "Files/evil/etc/passwd", ARCHIVE),
            ])?,
            bad_entry: "Files/hl.txt",
            what: "a hard link whose target resolves through the symlink Files/evil -> ../../..",
        },
        Malformed {
            name: "whiteout-dotdot",
            bytes: with_files(vec![benign(), Ent::whiteout("Files/../.wh.x")])?,
            bad_entry: "Files/../.wh.x",
            what: "a whiteout whose name has a `..` component (it cleans to the root's `x`, but a \
            name with `..` components is never a name the exporter writes)",
        },
        Malformed {
            name: "whiteout-escape",
            bytes: with_files(vec![benign(), Ent::whiteout("Files/../../.wh.x")])?,
            bad_entry: "Files/../../.wh.x",
            what: "a whiteout that removes ../x, outside the layer",
        },
    ])
}

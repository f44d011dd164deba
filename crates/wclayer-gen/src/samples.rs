//! The entries of the well-formed cases of [`crate::cases`]: `base`, `delta`, `linux` and
//! `pax-global`, the layers `wclayer sample` writes.

use std::io;

use tar::EntryType;

use crate::entry::*;
use crate::{
    CASES, Options, SD_BUILDKIT_DIR, SD_BUILDKIT_FILE, SD_BUILTIN_ADMINS, SD_BUILTIN_USERS,
    SDDL_LEGACY,
};

pub(crate) fn case_items(name: &str, options: &Options) -> io::Result<Vec<Item>> {
    Ok(match name {
        "base" => base_items(options),
        "delta" => delta_items(),
        "linux" => linux_items(),
        "pax-global" => pax_global_items(),
        _ => {
            let known: Vec<&str> = CASES.iter().map(|c| c.name).collect();
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unknown layer tar case `{name}` (known: {})",
                    known.join(", ")
                ),
            ));
        }
    })
}

/// Component over 100 bytes (124), under NTFS's 255-unit limit.
pub(crate) fn long_file_name() -> String {
    format!("Files/Program Files/{}.dat", "long-name-".repeat(12))
}

/// The directories and the file of a path over 256 bytes (306), each component ≤ 59 bytes.
pub(crate) fn deep_names() -> (Vec<String>, String) {
    let mut dir = "Files/deep".to_owned();
    let mut dirs = vec![dir.clone()];
    for level in 1..=4 {
        dir = format!("{dir}/level-{level}-{}", "x".repeat(50));
        dirs.push(dir.clone());
    }
    let file = format!("{dir}/file-{}.txt", "y".repeat(50));
    (dirs, file)
}

fn base_items(options: &Options) -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    let mut add = |e: Ent| v.push(Item::Win(e));

    add(Ent::dir("Files").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32/config").sd(SD_BUILTIN_ADMINS));
    for (i, hive_name) in ["SYSTEM", "SOFTWARE", "DEFAULT"].into_iter().enumerate() {
        let seed = 100 + u64::try_from(i).unwrap_or(0);
        add(Ent::file(
            &format!("Files/Windows/System32/config/{hive_name}"),
            ARCHIVE,
            hive(seed, 16 * 1024),
        )
        .sd(SD_BUILTIN_ADMINS));
    }

    // A hard-link group of three names in three directories; the first is the file.
    add(Ent::file(
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(7, 5000)].concat()),
    )
    .sd(SD_BUILDKIT_FILE));
    add(Ent::hard_link(
        "Files/Windows/notepad.exe",
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
    ));
    add(Ent::dir_with("Files/Program Files", DIRECTORY | READONLY).sd(SD_BUILDKIT_DIR));
    add(Ent::hard_link(
        "Files/Program Files/notepad-copy.exe",
        "Files/Windows/System32/notepad.exe",
        ARCHIVE,
    ));
    add(Ent::file(
        "Files/Program Files/big.bin",
        ARCHIVE,
        Body::Random {
            seed: 42,
            len: options.big_file_size,
        },
    )
    .sd(SD_BUILDKIT_FILE));

    // Long names: a 124-byte component (PAX `path`), a hard link to it (PAX `linkpath`), and
    // a 306-byte path.
    let long = long_file_name();
    add(Ent::file(&long, ARCHIVE, text("a file with a long name\n")));
    add(Ent::hard_link("Files/long-link.dat", &long, ARCHIVE));
    let (deep_dirs, deep_file) = deep_names();
    for dir in &deep_dirs {
        add(Ent::dir(dir));
    }
    add(Ent::file(&deep_file, ARCHIVE, text("deep inside\n")));

    // Attributes and sizes.
    add(Ent::file("Files/empty.txt", ARCHIVE, Body::Empty).sd(SD_BUILTIN_USERS));
    add(Ent::file(
        "Files/system-hidden.sys",
        READONLY | HIDDEN | SYSTEM | ARCHIVE,
        Body::Bytes(random_bytes(11, 1000)),
    ));
    add(Ent::file(
        "Files/normal.txt",
        NORMAL,
        text("FILE_ATTRIBUTE_NORMAL alone\n"),
    ));
    add(Ent::file(
        "Files/not-indexed.txt",
        ARCHIVE | NOT_CONTENT_INDEXED,
        text("not content indexed\n"),
    ));

    // Times.
    add(Ent::file("Files/old.txt", ARCHIVE, text("from 1969\n")).times(&T_OLD));
    add(Ent::file("Files/future.txt", ARCHIVE, text("from 2286\n")).times(&T_FUTURE));
    add(Ent::file("Files/tick.txt", ARCHIVE, text("100 ns\n")).times(&T_TICK));

    // Security descriptors: the legacy SDDL record alone, and none at all.
    add(
        Ent::file("Files/legacy-sddl.txt", ARCHIVE, text("legacy SDDL\n"))
            .record("MSWINDOWS.sd", SDDL_LEGACY),
    );
    add(Ent::file(
        "Files/no-sd.txt",
        ARCHIVE,
        text("no security descriptor\n"),
    ));

    // Extended attributes: several, binary values, records deliberately not in key order.
    add(
        Ent::file("Files/ea.txt", ARCHIVE, text("extended attributes\n"))
            .sd(SD_BUILTIN_USERS)
            .xattr("zeta", &[0xff, 0x00, 0x7f, 0x80])
            .xattr("ALPHA", &[0x00, 0x01, 0x02])
            .xattr("Mid.Name", &random_bytes(13, 300))
            .xattr("user.comment", b"\0binary\xfe\n"),
    );

    // Alternate data streams: two on a file, one on a directory.
    let ads = Ent::file("Files/ads.txt", ARCHIVE, text("main stream\n")).sd(SD_BUILTIN_USERS);
    let zone = Ent::stream(
        &ads,
        "Zone.Identifier",
        text("[ZoneTransfer]\r\nZoneId=3\r\n"),
    );
    let thumb = Ent::stream(&ads, "thumbnail", Body::Bytes(random_bytes(17, 700)));
    add(ads);
    add(zone);
    add(thumb);
    let ads_dir = Ent::dir("Files/ads-dir").xattr("DIRNOTE", b"an EA on a directory");
    let dir_stream = Ent::stream(&ads_dir, "dirstream", text("a stream on a directory"));
    add(ads_dir);
    add(dir_stream);

    // Reparse points.
    add(Ent::dir("Files/Users"));
    add(Ent::dir("Files/Users/Public"));
    add(Ent::file(
        "Files/Users/Public/readme.txt",
        ARCHIVE,
        text("public\n"),
    ));
    add(Ent::symlink(
        "Files/Users/Public/rel-link.txt",
        r"..\..\normal.txt",
        ARCHIVE | REPARSE_POINT,
    ));
    add(Ent::symlink(
        "Files/abs-link.txt",
        r"C:\Windows\System32\notepad.exe",
        ARCHIVE | REPARSE_POINT,
    )
    .sd(SD_BUILTIN_USERS));
    add(Ent::symlink(
        "Files/dir-link",
        r"Windows\System32",
        DIRECTORY | REPARSE_POINT,
    ));
    add(Ent::mount_point(
        "Files/Documents and Settings",
        r"C:\Users",
        HIDDEN | SYSTEM | DIRECTORY | REPARSE_POINT | NOT_CONTENT_INDEXED,
    )
    .sd(SD_BUILDKIT_DIR));

    // Unicode names.
    add(Ent::dir("Files/caf\u{e9}"));
    add(Ent::file(
        "Files/caf\u{e9}/r\u{e9}sum\u{e9}.txt",
        ARCHIVE,
        text("NFC accents\n"),
    ));
    add(Ent::file(
        "Files/cafe\u{301}-nfd.txt",
        ARCHIVE,
        text("NFD accents: a different name than NFC\n"),
    ));
    add(Ent::dir("Files/\u{65e5}\u{672c}\u{8a9e}"));
    add(Ent::file(
        "Files/\u{65e5}\u{672c}\u{8a9e}/\u{6587}\u{66f8}.txt",
        ARCHIVE,
        text("CJK\n"),
    ));
    add(Ent::file(
        "Files/emoji-\u{1f600}\u{1f680}.txt",
        ARCHIVE,
        text("astral plane\n"),
    ));
    add(Ent::symlink(
        "Files/unicode-link.txt",
        "caf\u{e9}\\r\u{e9}sum\u{e9}.txt",
        ARCHIVE | REPARSE_POINT,
    ));

    // Hives/ in a base layer tar: accepted on import, dropped by a base-layer export.
    add(Ent::dir("Hives"));
    add(Ent::file("Hives/System_Delta", ARCHIVE, hive(200, 8192)));
    add(Ent::file("Hives/Software_Delta", ARCHIVE, hive(201, 8192)));

    // The utility VM, with the boot files hcsshim backs up (docs/oci-tar-mapping.md §6.4).
    add(Ent::dir("UtilityVM"));
    add(Ent::dir("UtilityVM/Files").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("UtilityVM/Files/EFI"));
    add(Ent::dir("UtilityVM/Files/EFI/Microsoft"));
    add(Ent::dir("UtilityVM/Files/EFI/Microsoft/Boot"));
    add(Ent::file(
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD",
        ARCHIVE | HIDDEN | SYSTEM,
        hive(300, 12 * 1024),
    ));
    add(Ent::file(
        "UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG",
        ARCHIVE | HIDDEN | SYSTEM,
        Body::Bytes(random_bytes(301, 1024)),
    ));
    // Ordinary utility VM files: a delta layer's clone hard-links them (and the delta
    // sample removes one).
    add(Ent::dir("UtilityVM/Files/Windows"));
    add(Ent::file(
        "UtilityVM/Files/Windows/kernel.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(302, 2048)),
    ));
    add(Ent::file(
        "UtilityVM/Files/Windows/old.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(303, 512)),
    ));
    v
}

/// A whiteout name over 100 bytes (needs a PAX `path` record).
pub(crate) fn long_whiteout_name() -> String {
    format!("Files/Program Files/.wh.{}", "removed-".repeat(12))
}

fn delta_items() -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    let mut add = |e: Ent| v.push(Item::Win(e));

    add(Ent::whiteout(".wh.z"));
    add(Ent::dir("Files").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout("Files/.wh.x"));
    // Files/a, Files/a/b and Files/a/b/c are never added.
    add(Ent::whiteout("Files/a/b/c/.wh.y"));
    // Removed, then added again in the same layer.
    add(Ent::whiteout("Files/.wh.readded.txt"));
    let readded =
        Ent::file("Files/readded.txt", ARCHIVE, text("added again\n")).sd(SD_BUILTIN_USERS);
    let readded_zone = Ent::stream(
        &readded,
        "Zone.Identifier",
        text("[ZoneTransfer]\r\nZoneId=3\r\n"),
    );
    add(readded);
    add(readded_zone);
    add(Ent::dir("Files/opaque"));
    add(Ent::whiteout("Files/opaque/.wh..wh..opq"));
    add(Ent::file(
        "Files/opaque/fresh.txt",
        ARCHIVE,
        text("fresh\n"),
    ));
    add(Ent::dir("Files/Program Files").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout(&long_whiteout_name()));
    add(Ent::whiteout("Files/caf\u{e9}/.wh.vieux.txt"));

    add(Ent::dir("Files/Windows").sd(SD_BUILDKIT_DIR));
    add(Ent::dir("Files/Windows/System32").sd(SD_BUILDKIT_DIR));
    add(Ent::whiteout("Files/Windows/System32/.wh.obsolete.dll"));
    add(Ent::file(
        "Files/Windows/System32/kernel32.dll",
        ARCHIVE,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(21, 9000)].concat()),
    )
    .sd(SD_BUILDKIT_FILE));
    add(Ent::dir("Files/Windows/System32/drivers"));
    add(Ent::dir("Files/Windows/System32/drivers/etc"));
    let hosts = Ent::file(
        "Files/Windows/System32/drivers/etc/hosts",
        ARCHIVE,
        text("127.0.0.1 localhost\r\n::1 localhost\r\n10.0.0.1 changed.example\r\n"),
    )
    .sd(SD_BUILDKIT_FILE)
    .xattr("CHANGED", b"yes");
    let hosts_stream = Ent::stream(&hosts, "backup", text("127.0.0.1 localhost\r\n"));
    add(hosts);
    add(hosts_stream);
    // A new hard-link group.
    add(Ent::file(
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
        Body::Bytes(random_bytes(22, 3000)),
    ));
    add(Ent::dir("Files/Windows/SysWOW64"));
    add(Ent::hard_link(
        "Files/Windows/SysWOW64/shared.dll",
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
    ));
    add(Ent::hard_link(
        "Files/shared-link.dll",
        "Files/Windows/System32/shared.dll",
        ARCHIVE,
    ));

    add(Ent::dir("Hives"));
    for (i, name) in [
        "DefaultUser_Delta",
        "Sam_Delta",
        "Security_Delta",
        "Software_Delta",
        "System_Delta",
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 400 + u64::try_from(i).unwrap_or(0);
        add(Ent::file(
            &format!("Hives/{name}"),
            ARCHIVE,
            hive(seed, 8192),
        ));
    }

    add(Ent::dir("UtilityVM"));
    add(Ent::dir("UtilityVM/Files"));
    add(Ent::whiteout("UtilityVM/Files/Windows/.wh.old.dll"));
    // Parents UtilityVM/Files/Windows/System32/drivers are implicit.
    add(Ent::file(
        "UtilityVM/Files/Windows/System32/drivers/vmbus.sys",
        ARCHIVE | SYSTEM,
        Body::Bytes([b"MZ".as_slice(), &random_bytes(23, 4000)].concat()),
    ));
    v
}

/// A ustar name between 101 and 255 bytes: split into prefix and name by the tar crate.
pub(crate) fn ustar_split_name() -> String {
    format!(
        "Files/share/{}/{}.txt",
        "ustar-prefix-".repeat(5),
        "name-".repeat(12)
    )
}

/// A name over 255 bytes: only a GNU long-name entry (or PAX) can carry it. Each component
/// stays within NTFS's 255 UTF-16 units, so a Windows layer can hold it.
pub(crate) fn gnu_long_name() -> String {
    let c = "gnu-long-name-".repeat(9);
    format!("Files/share/{c}/{c}.txt")
}

fn linux_items() -> Vec<Item> {
    use Style::{Gnu, Ustar, V7};
    let tool = [b"MZ".as_slice(), &random_bytes(31, 2000)].concat();
    let ustar_long = ustar_split_name();
    let gnu_long = gnu_long_name();
    let gnu_long_target = gnu_long
        .strip_prefix("Files/share/")
        .unwrap_or(&gnu_long)
        .to_owned();
    let ustar_long_dir = ustar_long
        .rsplit_once('/')
        .map(|(dir, _)| format!("{dir}/"))
        .unwrap_or_default();
    [
        Plain::dir(Ustar, "Files/"),
        Plain::dir(Gnu, "Files/bin/"),
        Plain::file(Ustar, "Files/bin/tool.exe", 0o755, tool),
        Plain::link(
            Ustar,
            "Files/bin/tool-copy.exe",
            EntryType::Link,
            "Files/bin/tool.exe",
        ),
        Plain::file(Gnu, "Files/readme.md", 0o644, b"# readme\n".to_vec()),
        Plain::link(Gnu, "Files/latest", EntryType::Symlink, "bin/tool.exe"),
        Plain::file(
            V7,
            "Files/legacy.txt",
            0o644,
            b"a pre-POSIX header with typeflag NUL\n".to_vec(),
        ),
        Plain::dir(Ustar, "Files/share/"),
        Plain::dir(Ustar, &ustar_long_dir),
        Plain::file(
            Ustar,
            &ustar_long,
            0o644,
            b"name split into ustar prefix and name\n".to_vec(),
        ),
        Plain::file(
            Gnu,
            &gnu_long,
            0o644,
            b"name in a GNU long-name entry\n".to_vec(),
        ),
        Plain::link(
            Gnu,
            "Files/share/long-target-link",
            EntryType::Symlink,
            &gnu_long_target,
        ),
    ]
    .into_iter()
    .map(Item::Plain)
    .collect()
}

fn pax_global_items() -> Vec<Item> {
    let rawsd = |sd: &str| vec![("MSWINDOWS.rawsd".to_owned(), sd.as_bytes().to_vec())];
    vec![
        Item::Global("pax_global_header", rawsd(SD_BUILTIN_USERS)),
        Ent::dir("Files").into(),
        Ent::file(
            "Files/inherits.txt",
            ARCHIVE,
            text("global rawsd applies\n"),
        )
        .into(),
        Ent::file("Files/own-sd.txt", ARCHIVE, text("local rawsd wins\n"))
            .sd(SD_BUILDKIT_FILE)
            .into(),
        Ent::file(
            "Files/empty-sd.txt",
            ARCHIVE,
            text("empty local rawsd: no descriptor\n"),
        )
        .sd("")
        .into(),
        Item::Global("././@PaxHeader", rawsd(SD_BUILTIN_ADMINS)),
        Ent::dir("Files/admin").into(),
        Ent::file(
            "Files/admin/admin.txt",
            ARCHIVE,
            text("second global rawsd\n"),
        )
        .into(),
    ]
}

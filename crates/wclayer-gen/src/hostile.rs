//! The cases of [`crate::hostile_archives`] that are about names, whiteouts, escapes through
//! reparse points, entry counts and nesting: well-formed archives whose entries are hostile.
//! The cases whose defect is in the block structure are in `structure`.

use std::io;

use crate::defects::with_files;
use crate::entry::*;
use crate::raw::{Raw, header_at, set_checksum, set_field};
use crate::{CaseLimits, Class, Expect, HostileArchive, HostileInput, LayerKind};

/// A refused case.
pub(crate) fn refused(
    name: &'static str,
    class: Class,
    entry: &'static str,
    what: &'static str,
    bytes: Vec<u8>,
) -> HostileArchive {
    HostileArchive {
        name,
        class,
        kind: LayerKind::Base,
        expect: Expect::Refused { entry },
        limits: CaseLimits::default(),
        input: HostileInput::Tar(bytes),
        what,
    }
}

/// An accepted case.
pub(crate) fn accepted(
    name: &'static str,
    class: Class,
    what: &'static str,
    bytes: Vec<u8>,
) -> HostileArchive {
    HostileArchive {
        expect: Expect::Accepted,
        ..refused(name, class, "", what, bytes)
    }
}

/// The same case, imported over a parent layer.
fn delta(mut case: HostileArchive) -> HostileArchive {
    case.kind = LayerKind::Delta;
    case
}

fn benign() -> Ent {
    Ent::file("Files/benign.txt", ARCHIVE, text("inside the layer\n"))
}

fn payload(name: &str) -> Ent {
    Ent::file(name, ARCHIVE, text("must not be written\n"))
}

/// `Files/evil`, a directory symlink whose target climbs from `LAYER/Files` to the
/// directory holding the layer's parent directory and into its `outside` (the suite puts a
/// sentinel there).
fn evil() -> Ent {
    Ent::symlink("Files/evil", "../../../outside", DIRECTORY | REPARSE_POINT)
}

fn mount_point() -> Ent {
    Ent::mount_point("Files/mp", r"C:\", DIRECTORY | REPARSE_POINT)
}

/// `Files`, `benign.txt`, then a file at the hostile `name`.
fn named(name: &str) -> io::Result<Vec<u8>> {
    with_files(vec![benign(), payload(name)])
}

/// `Files`, `benign.txt`, then a directory at the hostile `name`.
fn named_dir(name: &str) -> io::Result<Vec<u8>> {
    with_files(vec![benign(), Ent::dir(name)])
}

pub(crate) fn build() -> io::Result<Vec<HostileArchive>> {
    let mut v = names()?;
    v.extend(whiteouts()?);
    v.extend(escapes()?);
    v.extend(limits()?);
    Ok(v)
}

fn names() -> io::Result<Vec<HostileArchive>> {
    use Class::Names;
    let mut v = vec![
        refused(
            "name-dotdot-leading",
            Names,
            "../escape.txt",
            "a name that starts with `..`",
            named("../escape.txt")?,
        ),
        refused(
            "name-dotdot-middle",
            Names,
            "Files/a/../../../escape.txt",
            "`..` components in the middle that climb one level above the layer",
            named("Files/a/../../../escape.txt")?,
        ),
        refused(
            "name-dotdot-trailing",
            Names,
            "Files/a/../../..",
            "a directory whose name ends in `..` components that climb above the layer",
            named_dir("Files/a/../../..")?,
        ),
        refused(
            "name-files-dotdot",
            Names,
            "Files/..",
            "a directory named `Files/..`, which cleans to the layer root itself",
            named_dir("Files/..")?,
        ),
        refused(
            "name-dot-slash",
            Names,
            "./",
            "a directory named `./`, the layer root itself",
            named_dir("./")?,
        ),
        refused(
            "name-backslash-dotdot",
            Names,
            r"Files\..\..\escape.txt",
            "`..` components separated by `\\` only, harmless as a `/` path but an escape \
             once the import maps `/` to `\\`",
            named(r"Files\..\..\escape.txt")?,
        ),
        refused(
            "name-mixed-separators",
            Names,
            r"Files/a\..\..\..\escape.txt",
            "`/` and `\\` mixed, climbing above the layer",
            named(r"Files/a\..\..\..\escape.txt")?,
        ),
        refused(
            "name-absolute",
            Names,
            "/outside/sentinel",
            "an absolute name",
            named("/outside/sentinel")?,
        ),
        refused(
            "name-absolute-backslash",
            Names,
            r"\outside\sentinel",
            "a name rooted with `\\`",
            named(r"\outside\sentinel")?,
        ),
        refused(
            "name-drive-slash",
            Names,
            "C:/Windows/escape.txt",
            "a drive-qualified absolute name",
            named("C:/Windows/escape.txt")?,
        ),
        refused(
            "name-drive-relative",
            Names,
            "C:escape.txt",
            "a drive-relative name",
            named("C:escape.txt")?,
        ),
        refused(
            "name-unc-slash",
            Names,
            "//server/share/escape.txt",
            "a UNC name with `/`",
            named("//server/share/escape.txt")?,
        ),
        refused(
            "name-unc-backslash",
            Names,
            r"\\server\share\escape.txt",
            "a UNC name with `\\`",
            named(r"\\server\share\escape.txt")?,
        ),
        refused(
            "name-device-path",
            Names,
            r"\\?\C:\escape.txt",
            "a Win32 device path (`\\\\?\\`)",
            named(r"\\?\C:\escape.txt")?,
        ),
        refused(
            "name-colon-in-directory",
            Names,
            "Files/a:b/c.txt",
            "a `:` in a directory component: no stream name, and no valid layer path",
            named("Files/a:b/c.txt")?,
        ),
        refused(
            "name-colon-leading",
            Names,
            "Files/:x",
            "a component that is only a stream name, after the directory `Files` (not \
             gathered as a stream: the prefix test needs `Files:`)",
            named("Files/:x")?,
        ),
    ];

    // NUL inside a PAX `path`: Go's validPAXRecord refuses it (docs/oci-tar-mapping.md
    // §8.3), so the error is in the extension header and names it.
    v.push(refused(
        "name-nul-in-pax-path",
        Names,
        "PaxHeaders/nul-name.txt",
        "a PAX `path` record with a NUL inside (`Files/nul\\0name.txt`); Go refuses the \
         record, so the error names the extension header",
        with_files(vec![
            benign(),
            payload("Files/nul-name.txt").record("path", b"Files/nul\0name.txt"),
        ])?,
    ));

    // The empty name: a header whose name field is all NUL.
    let mut empty = named("Files/EMPTY-NAME.txt")?;
    let at = header_at(&empty, "Files/EMPTY-NAME.txt")?;
    set_field(&mut empty[at..], 0..100, b"");
    set_checksum(&mut empty, at);
    v.push(refused(
        "name-empty",
        Names,
        "\"\"",
        "a regular file whose name field is empty (no PAX `path`); an error can only name it \
         quoted, `\"\"`",
        empty,
    ));
    Ok(v)
}

fn whiteouts() -> io::Result<Vec<HostileArchive>> {
    use Class::Whiteouts;
    let wh = |name: &str| with_files(vec![benign(), Ent::whiteout(name)]);
    Ok(vec![
        delta(refused(
            "whiteout-of-dot",
            Whiteouts,
            "Files/a/.wh..",
            "`.wh..` removes `.`: hcsshim's path.Join makes it remove Files/a itself",
            wh("Files/a/.wh..")?,
        )),
        delta(refused(
            "whiteout-of-dotdot",
            Whiteouts,
            "Files/a/.wh...",
            "`.wh...` removes `..`: hcsshim's path.Join makes it remove all of Files",
            wh("Files/a/.wh...")?,
        )),
        delta(refused(
            "whiteout-root-of-dot",
            Whiteouts,
            ".wh..",
            "`.wh..` at the root removes the layer root",
            wh(".wh..")?,
        )),
        delta(refused(
            "whiteout-climbs-out",
            Whiteouts,
            "Files/../../.wh.outside",
            "a whiteout that removes `../outside`, outside the layer",
            wh("Files/../../.wh.outside")?,
        )),
        delta(accepted(
            "whiteout-dotdot-stays-inside",
            Whiteouts,
            "`Files/../.wh.x` removes `x` at the layer root: `..` components are cleaned \
             lexically as path.Clean does (docs/layer-semantics.md §0.1), and the result \
             stays inside the layer, so it is a tombstone of `x`",
            wh("Files/../.wh.x")?,
        )),
        delta(refused(
            "whiteout-below-symlink",
            Whiteouts,
            "Files/evil/.wh.sentinel",
            "a whiteout below the directory symlink Files/evil -> ../../../outside",
            with_files(vec![evil(), Ent::whiteout("Files/evil/.wh.sentinel")])?,
        )),
        delta(refused(
            "whiteout-below-symlink-other-case",
            Whiteouts,
            "Files/EVIL/.wh.sentinel",
            "a whiteout below Files/EVIL, another case of the symlink Files/evil",
            with_files(vec![evil(), Ent::whiteout("Files/EVIL/.wh.sentinel")])?,
        )),
        delta(refused(
            "whiteout-below-mount-point",
            Whiteouts,
            "Files/mp/.wh.sentinel",
            "a whiteout below the mount point Files/mp -> C:\\",
            with_files(vec![mount_point(), Ent::whiteout("Files/mp/.wh.sentinel")])?,
        )),
        delta(refused(
            "opaque-whiteout-below-symlink",
            Whiteouts,
            "Files/evil/.wh..wh..opq",
            "the opaque marker below the directory symlink Files/evil (it removes a file \
             named `.wh..opq` there)",
            with_files(vec![evil(), Ent::whiteout("Files/evil/.wh..wh..opq")])?,
        )),
    ])
}

fn escapes() -> io::Result<Vec<HostileArchive>> {
    use Class::Escapes;
    let below = |entry: Ent| with_files(vec![benign(), evil(), entry]);
    let link = |name: &str, target: &str| Ent::hard_link(name, target, ARCHIVE);
    let victim = || Ent::file("Files/victim.txt", ARCHIVE, text("victim\n"));
    Ok(vec![
        refused(
            "file-below-symlink",
            Escapes,
            "Files/evil/sentinel",
            "a file below Files/evil -> ../../../outside, where it would replace the sentinel",
            below(payload("Files/evil/sentinel"))?,
        ),
        refused(
            "directory-below-symlink",
            Escapes,
            "Files/evil/sub",
            "a directory below the directory symlink Files/evil",
            below(Ent::dir("Files/evil/sub"))?,
        ),
        refused(
            "symlink-below-symlink",
            Escapes,
            "Files/evil/link",
            "a symlink below the directory symlink Files/evil",
            below(Ent::symlink(
                "Files/evil/link",
                "sentinel",
                ARCHIVE | REPARSE_POINT,
            ))?,
        ),
        refused(
            "deep-below-symlink",
            Escapes,
            "Files/evil/a/b/c.txt",
            "a file three levels below the directory symlink Files/evil",
            below(payload("Files/evil/a/b/c.txt"))?,
        ),
        refused(
            "file-below-mount-point",
            Escapes,
            "Files/mp/sentinel",
            "a file below the mount point Files/mp -> C:\\",
            with_files(vec![mount_point(), payload("Files/mp/sentinel")])?,
        ),
        refused(
            "hard-link-below-mount-point",
            Escapes,
            "Files/mp/sentinel",
            "a hard link whose own name lies below the mount point Files/mp",
            with_files(vec![
                benign(),
                mount_point(),
                link("Files/mp/sentinel", "Files/benign.txt"),
            ])?,
        ),
        refused(
            "stream-below-mount-point",
            Escapes,
            "Files/mp/x:s",
            "an alternate data stream of Files/mp/x, below the mount point (no main entry \
             before it)",
            with_files(vec![
                mount_point(),
                Ent::stream(&payload("Files/mp/x"), "s", text("stream\n")),
            ])?,
        ),
        refused(
            "file-below-symlink-other-case",
            Escapes,
            "Files/LINK/sentinel",
            "a file below Files/LINK, which names the symlink Files/Link on a \
             case-insensitive layer",
            with_files(vec![
                Ent::symlink("Files/Link", "../../../outside", DIRECTORY | REPARSE_POINT),
                payload("Files/LINK/sentinel"),
            ])?,
        ),
        refused(
            "file-below-symlink-chain",
            Escapes,
            "Files/a/sentinel",
            "a file below Files/a -> b, where Files/b -> ../../../outside",
            with_files(vec![
                Ent::symlink("Files/a", "b", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/b", "../../../outside", DIRECTORY | REPARSE_POINT),
                payload("Files/a/sentinel"),
            ])?,
        ),
        refused(
            "hard-link-below-symlink",
            Escapes,
            "Files/evil/sentinel",
            "a hard link whose own name lies below the directory symlink Files/evil",
            below(link("Files/evil/sentinel", "Files/benign.txt"))?,
        ),
        refused(
            "hard-link-to-symlink-child",
            Escapes,
            "Files/hl.txt",
            "a hard link to Files/evil/sentinel, a name below the directory symlink",
            below(link("Files/hl.txt", "Files/evil/sentinel"))?,
        ),
        refused(
            "hard-link-to-symlink-child-other-case",
            Escapes,
            "Files/hl.txt",
            "a hard link to Files/EVIL/sentinel, below another case of the symlink",
            below(link("Files/hl.txt", "Files/EVIL/sentinel"))?,
        ),
        refused(
            "hard-link-dotdot-target",
            Escapes,
            "Files/hl.txt",
            "a hard link whose target Files/../../outside/sentinel climbs out",
            below(link("Files/hl.txt", "Files/../../outside/sentinel"))?,
        ),
        refused(
            "hard-link-absolute-target",
            Escapes,
            "Files/hl.txt",
            "a hard link to /etc/passwd",
            below(link("Files/hl.txt", "/etc/passwd"))?,
        ),
        refused(
            "hard-link-to-directory",
            Escapes,
            "Files/hl",
            "a hard link to the directory Files/dir",
            with_files(vec![Ent::dir("Files/dir"), link("Files/hl", "Files/dir")])?,
        ),
        refused(
            "hard-link-to-itself",
            Escapes,
            "Files/self.txt",
            "a hard link whose target is its own name, never added before",
            with_files(vec![link("Files/self.txt", "Files/self.txt")])?,
        ),
        refused(
            "stream-below-symlink",
            Escapes,
            "Files/evil/x:s",
            "an alternate data stream of Files/evil/x, below the directory symlink (no \
             main entry before it)",
            below(Ent::stream(&payload("Files/evil/x"), "s", text("stream\n")))?,
        ),
        refused(
            "stream-of-symlink-not-adjacent",
            Escapes,
            "Files/evil:s",
            "a stream of the symlink Files/evil that does not follow it directly, so it \
             reaches the layer as a name with `:`",
            with_files(vec![
                evil(),
                benign(),
                Ent::stream(&evil(), "s", text("stream\n")),
            ])?,
        ),
        accepted(
            "stream-of-symlink",
            Escapes,
            "a stream entry Files/evil:s directly after the symlink Files/evil is an \
             alternate data stream of the link itself (docs/oci-tar-mapping.md §6.3): it is \
             kept in the layer's metadata, nothing is written through the link",
            with_files(vec![evil(), Ent::stream(&evil(), "s", text("stream\n"))])?,
        ),
        accepted(
            "escaping-link-targets",
            Escapes,
            "symbolic links and mount points whose targets point anywhere (above the layer, \
             absolute, drive, UNC, device paths, `..` after a name, a chain): links are data; \
             none may become a link on disk that leads out of the layer",
            with_files(vec![
                victim(),
                Ent::symlink("Files/up", "../../../outside", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/abs", "/outside/sentinel", ARCHIVE | REPARSE_POINT),
                Ent::symlink("Files/drive", r"C:\Windows", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/unc", r"\\server\share", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/dev", r"\\?\C:\x", ARCHIVE | REPARSE_POINT),
                Ent::symlink(
                    "Files/climb",
                    "victim.txt/../../..",
                    ARCHIVE | REPARSE_POINT,
                ),
                Ent::symlink("Files/root", "..", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/chain", "root/..", DIRECTORY | REPARSE_POINT),
                Ent::dir("Files/d"),
                Ent::symlink("Files/d/top", "../..", DIRECTORY | REPARSE_POINT),
                Ent::symlink("Files/d/over", "../../..", DIRECTORY | REPARSE_POINT),
                Ent::mount_point("Files/mnt", r"\??\C:\outside", DIRECTORY | REPARSE_POINT),
                link("Files/d/victim-link.txt", "Files/victim.txt"),
            ])?,
        ),
    ])
}

/// Nesting depth of the `deep-nesting` case: 5 000 directories (a path of 10 006
/// characters, within Windows' 32 766).
pub(crate) const DEEP: usize = 5_000;

fn limits() -> io::Result<Vec<HostileArchive>> {
    use Class::Limits;
    let mut many = vec![Ent::dir("Files")];
    for i in 1..=1100 {
        many.push(Ent::file(&format!("Files/f{i:04}"), ARCHIVE, Body::Empty));
    }
    let mut deep = vec![Ent::dir("Files")];
    let mut dir = "Files".to_owned();
    for _ in 0..DEEP {
        dir.push_str("/d");
        deep.push(Ent::dir(&dir));
    }
    deep.push(Ent::file(
        &format!("{dir}/leaf.txt"),
        ARCHIVE,
        text("at the bottom\n"),
    ));
    Ok(vec![
        refused(
            "file-data-directory-attribute",
            Limits,
            "Files/fake-dir",
            "a regular file with data whose MSWINDOWS.fileattr says DIRECTORY (0x10)",
            with_files(vec![Ent::file(
                "Files/fake-dir",
                DIRECTORY,
                text("data in a directory\n"),
            )])?,
        ),
        HostileArchive {
            limits: CaseLimits {
                max_entries: Some(1000),
                ..CaseLimits::default()
            },
            ..refused(
                "many-entries",
                Limits,
                "Files/f1000",
                "1 101 entries where 1 000 are allowed: refused at the 1 001st, Files/f1000",
                Raw::new().win(many)?.finish(),
            )
        },
        accepted(
            "deep-nesting",
            Limits,
            "5 000 nested directories (names in PAX `path` records, the deepest 10 006 \
             characters) and a file at the bottom: a real limit of nothing, it must import, \
             export and list in seconds",
            Raw::new().win(deep)?.finish(),
        ),
    ])
}

//! `wclayer create`: a layer made from a directory imports over its parent, exports to the
//! same bytes and verifies clean; the same content gives the same diffID on two "machines";
//! hostile trees are refused naming the path; parents' directories are not added again;
//! security descriptor presets and globs; a Linux tar as the source.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

/// A parent layer directory made from `wclayer sample base` (it has `Files/Windows`).
fn base_layer(dir: &Path) -> PathBuf {
    let tar = dir.join("base.tar");
    let layer = dir.join("layers/base");
    stdout_of(&["sample", "base", "-o", &s(&tar)]);
    stdout_of(&["import", "-i", &s(&tar), &s(&layer)]);
    layer
}

/// A host tree with nested directories, a file, an empty file, a hard link, a relative
/// file symlink and a directory symlink.
fn app_tree(root: &Path) {
    fs::create_dir_all(root.join("bin/plugins")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("bin/app.exe"), b"MZ not really").unwrap();
    fs::write(root.join("bin/plugins/p.dll"), b"plugin").unwrap();
    fs::write(root.join("etc/empty.cfg"), b"").unwrap();
    fs::hard_link(root.join("bin/app.exe"), root.join("bin/app-copy.exe")).unwrap();
    std::os::unix::fs::symlink("../bin/app.exe", root.join("etc/app-link.exe")).unwrap();
    std::os::unix::fs::symlink("bin/plugins", root.join("plugins")).unwrap();
}

fn create(args: &[&str]) -> std::process::Output {
    wclayer().arg("create").args(args).output().unwrap()
}

#[test]
fn created_layer_imports_exports_identically_and_verifies_clean() {
    let t = tempfile::tempdir().unwrap();
    let base = base_layer(t.path());
    let app = t.path().join("app");
    app_tree(&app);
    let out = t.path().join("app.tar");
    let text = stdout_of(&[
        "create",
        "-l",
        &s(&base),
        "--prefix",
        "Files/app",
        "-o",
        &s(&out),
        &s(&app),
    ]);
    assert!(text.contains("1 hard links"), "{text}");
    let created_id = text.lines().find(|l| l.starts_with("diffID")).unwrap();
    let list = stdout_of(&["ls", &s(&out)]);
    for want in [
        "dir                  0  Files/app\n",
        // The export walks names in sorted order: the first name of a file carries its data.
        "file                13  Files/app/bin/app-copy.exe",
        "hardlink            13  Files/app/bin/app.exe => Files/app/bin/app-copy.exe",
        "file                 0  Files/app/etc/empty.cfg",
        "symlink              0  Files/app/etc/app-link.exe -> ..\\bin\\app.exe",
        "dirlink              0  Files/app/plugins -> bin\\plugins",
    ] {
        assert!(list.contains(want), "{want:?} missing from\n{list}");
    }
    assert!(!list.contains("  Files\n"), "Files is the parent's: {list}");

    let imported = t.path().join("layers/app");
    let import = stdout_of(&["import", "-l", &s(&base), "-i", &s(&out), &s(&imported)]);
    assert!(
        import.contains(created_id.split(' ').nth(1).unwrap()),
        "{import}"
    );
    let again = t.path().join("again.tar");
    stdout_of(&["export", "-l", &s(&base), "-o", &s(&again), &s(&imported)]);
    assert!(
        fs::read(&out).unwrap() == fs::read(&again).unwrap(),
        "the export of the imported layer differs from the created tar"
    );

    let v = wclayer()
        .args(["verify", "-l", &s(&base), &s(&out)])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(0), "{report}");
    assert!(report.contains("0 errors, 0 warnings"), "{report}");
}

/// Builds the same content in `root` as another machine would: in a shell with its own
/// `umask` (so the modes differ; this process's umask is left alone), in the given order,
/// every time (of files, links and directories) set to `mtime` afterwards.
fn same_content(root: &Path, umask: &str, mtime: i64, reverse: bool) {
    let mut steps = vec![
        "mkdir -p a/b m",
        "printf one > a/one.txt",
        "printf 'two two' > a/b/two.txt",
        "printf last > z.txt",
        ": > m/empty",
        "ln -s a/b/two.txt link.txt",
    ];
    if reverse {
        // The directories first, then everything else backwards.
        steps[1..].reverse();
    }
    // A second name of z.txt, once it exists.
    steps.push("ln z.txt m/z-again.txt");
    fs::create_dir_all(root).unwrap();
    let script = format!(
        "set -e; umask {umask}; cd '{}'; {}; find . -exec touch -h -d @{mtime} {{}} +",
        root.display(),
        steps.join("; ")
    );
    let st = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

#[test]
fn same_content_gives_same_diff_id_on_two_machines() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let src1 = one.path().join("src");
    let src2 = two.path().join("elsewhere/other-name");
    // Different directories, umasks, mtimes and creation orders.
    same_content(&src1, "022", 1_000_000, false);
    same_content(&src2, "077", 1_600_000_000, true);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode(&src1.join("z.txt")), mode(&src2.join("z.txt")));
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    for (dir, src) in [(one.path(), &src1), (two.path(), &src2)] {
        let out = dir.join("layer.tar.gz");
        let o = wclayer()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["create", "--json", "-o", &s(&out), &s(src)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        ids.push(v["diff_id"].as_str().unwrap().to_string());
        bytes.push(fs::read(&out).unwrap());
    }
    assert_eq!(ids[0], ids[1]);
    assert!(bytes[0] == bytes[1], "the compressed layers differ");
    // Without SOURCE_DATE_EPOCH the host times differ, and so does the layer.
    let o1 = stdout_of(&["create", "-o", &s(&one.path().join("t.tar")), &s(&src1)]);
    let o2 = stdout_of(&["create", "-o", &s(&two.path().join("t.tar")), &s(&src2)]);
    assert_ne!(o1, o2);
}

/// Expects `create` over `src` to fail with exit 1, one line naming `names`, no output.
fn refused(src: &Path, names: &str) {
    let out = src.parent().unwrap().join("out.tar");
    let o = create(&["-o", &s(&out), &s(src)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wclayer: error: "), "{err}");
    assert!(err.contains(names), "{names:?} not in {err}");
    assert!(!out.exists(), "an output was left");
    let leftovers: Vec<String> = ls(src.parent().unwrap())
        .into_iter()
        .filter(|n| n != "src")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn hostile_trees_are_refused_naming_the_path() {
    for (case, make) in [
        (
            "absolute",
            &(|r: &Path| std::os::unix::fs::symlink("/etc/passwd", r.join("abs")).unwrap())
                as &dyn Fn(&Path),
        ),
        ("escaping", &|r: &Path| {
            fs::create_dir(r.join("d")).unwrap();
            std::os::unix::fs::symlink("../../outside", r.join("d/esc")).unwrap();
        }),
        ("fifo", &|r: &Path| {
            let st = std::process::Command::new("mkfifo")
                .arg(r.join("pipe"))
                .status()
                .unwrap();
            assert!(st.success());
        }),
    ] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("ok.txt"), b"fine").unwrap();
        make(&src);
        let name = match case {
            "absolute" => "src/abs: symbolic link refused: its target /etc/passwd is absolute",
            "escaping" => {
                "src/d/esc: symbolic link refused: its target ../../outside leads out of the source"
            }
            _ => "src/pipe: a FIFO, socket or device node",
        };
        refused(&src, name);
    }
}

#[test]
fn unsafe_links_and_fifos_can_be_skipped_with_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("ok.txt"), b"fine").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("abs")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(src.join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    let out = t.path().join("out.tar");
    let o = create(&[
        "--skip-unsafe-links",
        "--skip-special",
        "-o",
        &s(&out),
        &s(&src),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("left out 1 symbolic links"), "{err}");
    assert!(err.contains("left out 1 FIFOs"), "{err}");
    let list = stdout_of(&["ls", &s(&out)]);
    assert!(list.contains("Files/ok.txt") && !list.contains("abs") && !list.contains("pipe"));
}

#[test]
fn unreadable_file_is_refused_naming_it() {
    let t = tempfile::tempdir().unwrap();
    // Open to everyone, so that an unprivileged user can read the source and write beside it.
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("readable"), b"ok").unwrap();
    fs::write(src.join("secret"), b"x").unwrap();
    fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o000)).unwrap();
    if !rustix::process::geteuid().is_root() {
        refused(&src, "src/secret: cannot open the file");
        return;
    }
    // Root reads any file whatever its mode: the command runs as the unprivileged user
    // `nobody` (util-linux `setpriv`), for whom the file is unreadable.
    let bin = assert_cmd::cargo::cargo_bin("wclayer");
    let out = t.path().join("out.tar");
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["create", "-o", &s(&out), &s(&src)])
        .output()
        .expect("setpriv (util-linux) to run the command as nobody");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wclayer: error: "), "{err}");
    assert!(err.contains("src/secret: cannot open the file"), "{err}");
    assert!(!out.exists(), "an output was left");
    assert_eq!(ls(t.path()), ["src"]);
}

#[test]
fn parent_directories_are_not_added_again() {
    let t = tempfile::tempdir().unwrap();
    let base = base_layer(t.path());
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("tool.exe"), b"tool").unwrap();
    let out = t.path().join("out.tar");
    stdout_of(&[
        "create",
        "-l",
        &s(&base),
        "--prefix",
        "Files/Windows/app",
        "-o",
        &s(&out),
        &s(&src),
    ]);
    let names: Vec<String> = stdout_of(&["ls", &s(&out)])
        .lines()
        .map(|l| l.split("  ").last().unwrap().trim().to_string())
        .collect();
    assert_eq!(names, ["Files/Windows/app", "Files/Windows/app/tool.exe"]);
    // Without parents it is a base layer: Files and Files/Windows are added too.
    let base_out = t.path().join("b.tar");
    stdout_of(&[
        "create",
        "--prefix",
        "Files/Windows/app",
        "-o",
        &s(&base_out),
        &s(&src),
    ]);
    let list = stdout_of(&["ls", &s(&base_out)]);
    assert!(
        list.contains("  Files\n") && list.contains("  Files/Windows\n"),
        "{list}"
    );
}

#[test]
fn sd_presets_and_globs_show_in_ls_json() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("lib")).unwrap();
    fs::write(src.join("lib/a.dll"), b"a").unwrap();
    fs::write(src.join("run.exe"), b"r").unwrap();
    let out = t.path().join("out.tar");
    stdout_of(&[
        "create",
        "--sd-preset",
        "owner-group",
        "--sd",
        "Files/**/*.dll=O:SYG:SYD:(A;;FA;;;SY)",
        "--attributes",
        "Files/lib/*.DLL=READONLY|ARCHIVE",
        "-o",
        &s(&out),
        &s(&src),
    ]);
    let mut seen = 0;
    for line in stdout_of(&["ls", "--json", &s(&out)]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (name, sddl) = (v["name"].as_str().unwrap(), v["sddl"].as_str().unwrap());
        match name {
            "Files/lib/a.dll" => {
                assert_eq!(sddl, "O:SYG:SYD:(A;;FA;;;SY)");
                assert_eq!(v["attributes"], 0x21);
            }
            _ => {
                assert_eq!(sddl, "O:BUG:BU", "{name}");
                if name == "Files/run.exe" {
                    assert_eq!(v["attributes"], 0x20);
                    assert_eq!(v["security_descriptor"], USERS_SD, "crane's bytes");
                }
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
    // The default preset: what a new file under C:\ gets.
    let def = t.path().join("def.tar");
    stdout_of(&["create", "-o", &s(&def), &s(&src)]);
    let json = stdout_of(&["ls", "--json", &s(&def)]);
    assert!(json.contains(r#""sddl":"O:BAG:SYD:AI(A;ID;FA;;;BA)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)""#), "{json}");
    // A bad preset, SDDL or glob is a usage error.
    for bad in [
        ["--sd", "Files/*=O:XX"],
        ["--attributes", "Files/*=DIRECTORY"],
        ["--prefix", "Hives"],
    ] {
        let o = create(&[bad[0], bad[1], "-o", &s(&t.path().join("x.tar")), &s(&src)]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let o = create(&[
        "--sd-preset",
        "nope",
        "-o",
        &s(&t.path().join("x.tar")),
        &s(&src),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn linux_tar_source() {
    let t = tempfile::tempdir().unwrap();
    let base = base_layer(t.path());
    let lin = t.path().join("linux.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&lin).unwrap(),
            flate2::Compression::default(),
        );
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(5);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, "./usr/share/hello.txt", &b"hello"[..])
            .unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_mtime(1_600_000_000);
        b.append_link(&mut l, "./usr/hello", "share/hello.txt")
            .unwrap();
        let mut hl = tar::Header::new_gnu();
        hl.set_entry_type(tar::EntryType::Link);
        hl.set_size(0);
        b.append_link(&mut hl, "./usr/again.txt", "./usr/share/hello.txt")
            .unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    let out = t.path().join("out.tar");
    stdout_of(&[
        "create",
        "-l",
        &s(&base),
        "--prefix",
        "Files/opt",
        "-o",
        &s(&out),
        &s(&lin),
    ]);
    let list = stdout_of(&["ls", &s(&out)]);
    for want in [
        "  Files/opt\n",
        "  Files/opt/usr\n",
        "  Files/opt/usr/share\n",
        "file                 5  Files/opt/usr/again.txt",
        "symlink              0  Files/opt/usr/hello -> share\\hello.txt",
        "hardlink             5  Files/opt/usr/share/hello.txt => Files/opt/usr/again.txt",
    ] {
        assert!(list.contains(want), "{want:?} missing from\n{list}");
    }
    let imported = t.path().join("layers/opt");
    stdout_of(&["import", "-l", &s(&base), "-i", &s(&out), &s(&imported)]);
    let again = t.path().join("again.tar");
    stdout_of(&["export", "-o", &s(&again), &s(&imported)]);
    assert!(fs::read(&out).unwrap() == fs::read(&again).unwrap());
    let v = wclayer()
        .args(["verify", "-l", &s(&base), &s(&out)])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}

#[test]
fn layer_dir_output_exports_to_the_created_tar() {
    let t = tempfile::tempdir().unwrap();
    let base = base_layer(t.path());
    let app = t.path().join("app");
    app_tree(&app);
    let (out, dir) = (t.path().join("app.tar"), t.path().join("layers/app"));
    stdout_of(&[
        "create",
        "-l",
        &s(&base),
        "--layer-dir",
        &s(&dir),
        "-o",
        &s(&out),
        &s(&app),
    ]);
    let again = t.path().join("again.tar");
    stdout_of(&["export", "-o", &s(&again), &s(&dir)]);
    assert!(fs::read(&out).unwrap() == fs::read(&again).unwrap());
    // A layer directory is never replaced.
    let o = create(&[
        "-l",
        &s(&base),
        "--layer-dir",
        &s(&dir),
        "-o",
        &s(&t.path().join("b.tar")),
        &s(&app),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

//! The Windows back end's writers and readers driven through the recording test double:
//! the calls hcsshim makes, in hcsshim's order (docs/windows.md, docs/layer-semantics.md
//! §4, §5, §6), and refused input leaving nothing behind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::{Path, PathBuf};

use wclayer_backup::{FileAttributes, FileBasicInfo, FileTime};
use wclayer_hcs::testing::RecordingHost;
use wclayer_hcs::{
    BaseLayerWriter, LegacyLayerWriter, export_layer_to_tar, import_layer_from_tar, mount,
    new_layer_reader, unmount,
};
use wclayer_layer::{Entry, LayerPath, LayerReader, LayerWriter, Limits};

const BASE: &str = r"C:\layers\base";
const DELTA: &str = r"C:\layers\delta";

fn p(name: &str) -> LayerPath {
    LayerPath::parse(name).unwrap()
}

fn info(attributes: u32, t: i64) -> FileBasicInfo {
    let time = FileTime::from_unix(wclayer_backup::UnixTime::new(t, 0));
    FileBasicInfo {
        creation_time: time,
        last_access_time: time,
        last_write_time: time,
        change_time: time,
        file_attributes: FileAttributes(attributes),
    }
}

const DIR: u32 = 0x10;
const FILE: u32 = 0x20;

/// A backup stream holding only an unnamed data stream.
fn data_stream(data: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&1u32.to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes());
    s.extend_from_slice(&(data.len() as u64).to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes());
    s.extend_from_slice(data);
    s
}

/// The calls that change something or talk to HCS (opens for reading and stats left out).
fn effects(host: &RecordingHost) -> Vec<String> {
    host.calls()
        .into_iter()
        .filter(|c| {
            !c.starts_with("lstat ")
                && !c.starts_with("read_dir ")
                && !c.starts_with("open_root ")
                && !c.starts_with("open_backup ")
                && !c.starts_with("backup_read")
        })
        .collect()
}

#[test]
fn base_layer_is_written_in_hcsshim_order() {
    let host = RecordingHost::new();
    host.make_dirs(BASE);
    let mut w = BaseLayerWriter::new(host.clone(), Path::new(BASE)).unwrap();
    w.add(&p("Files"), &info(DIR, 1)).unwrap();
    w.add(&p("Files/Windows"), &info(DIR, 2)).unwrap();
    w.add(&p("Files/Windows/a.txt"), &info(FILE, 3)).unwrap();
    w.write_all(&data_stream(b"hello")).unwrap();
    w.add_link(&p("Files/b.txt"), &p("Files/Windows/a.txt"))
        .unwrap();
    w.add(&p("UtilityVM"), &info(DIR, 4)).unwrap();
    w.add(&p("UtilityVM/Files"), &info(DIR, 5)).unwrap();
    w.add(&p("UtilityVM/Files/EFI"), &info(DIR, 6)).unwrap();
    w.add(&p("UtilityVM/Files/EFI/Microsoft"), &info(DIR, 6))
        .unwrap();
    w.add(&p("UtilityVM/Files/EFI/Microsoft/Boot"), &info(DIR, 6))
        .unwrap();
    w.add(&p("UtilityVM/Files/EFI/Microsoft/Boot/BCD"), &info(FILE, 7))
        .unwrap();
    w.write_all(&data_stream(b"bcd")).unwrap();
    let err = w.remove(&p("Files/gone")).unwrap_err();
    assert_eq!(err.to_string(), "base layer cannot have tombstones");
    w.close().unwrap();

    let b = |s: &str| format!(r"{BASE}\{s}");
    let expected = vec![
        format!("create_dir+sd {}", b("Files")),
        format!("set_basic_info {} attributes=0x10", b("Files")),
        format!("create_dir+sd {}", b(r"Files\Windows")),
        format!("set_basic_info {} attributes=0x10", b(r"Files\Windows")),
        format!("create_file+sd {}", b(r"Files\Windows\a.txt")),
        format!(
            "set_basic_info {} attributes=0x20",
            b(r"Files\Windows\a.txt")
        ),
        format!("backup_write+sd {} 25 bytes", b(r"Files\Windows\a.txt")),
        format!(
            "link {} -> {}",
            b(r"Files\b.txt"),
            b(r"Files\Windows\a.txt")
        ),
        format!("create_dir+sd {}", b("UtilityVM")),
        format!("set_basic_info {} attributes=0x10", b("UtilityVM")),
        format!("create_dir+sd {}", b(r"UtilityVM\Files")),
        format!("set_basic_info {} attributes=0x10", b(r"UtilityVM\Files")),
        format!("create_dir+sd {}", b(r"UtilityVM\Files\EFI")),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI")
        ),
        format!("create_dir+sd {}", b(r"UtilityVM\Files\EFI\Microsoft")),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI\Microsoft")
        ),
        format!("create_dir+sd {}", b(r"UtilityVM\Files\EFI\Microsoft\Boot")),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot")
        ),
        format!(
            "create_file+sd {}",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD")
        ),
        format!(
            "set_basic_info {} attributes=0x20",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD")
        ),
        // The pristine boot store, kept before processing changes it.
        format!("remove {}", b("bcd.bak")),
        format!("create_file {}", b("bcd.bak")),
        format!("backup_write {} 23 bytes", b("bcd.bak")),
        format!(
            "backup_write+sd {} 23 bytes",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD")
        ),
        // Directory times, last added first.
        format!(
            "open_attributes {}",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot")
        ),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI\Microsoft\Boot")
        ),
        format!("open_attributes {}", b(r"UtilityVM\Files\EFI\Microsoft")),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI\Microsoft")
        ),
        format!("open_attributes {}", b(r"UtilityVM\Files\EFI")),
        format!(
            "set_basic_info {} attributes=0x10",
            b(r"UtilityVM\Files\EFI")
        ),
        format!("open_attributes {}", b(r"UtilityVM\Files")),
        format!("set_basic_info {} attributes=0x10", b(r"UtilityVM\Files")),
        format!("open_attributes {}", b("UtilityVM")),
        format!("set_basic_info {} attributes=0x10", b("UtilityVM")),
        format!("open_attributes {}", b(r"Files\Windows")),
        format!("set_basic_info {} attributes=0x10", b(r"Files\Windows")),
        format!("open_attributes {}", b("Files")),
        format!("set_basic_info {} attributes=0x10", b("Files")),
        format!("ProcessBaseImage {BASE}"),
        format!("ensure_not_reparse_point {}", b("UtilityVM")),
        format!(r"ProcessUtilityImage {BASE}\UtilityVM"),
    ];
    assert_eq!(effects(&host), expected);
    assert_eq!(host.links(&b(r"Files\Windows\a.txt")), Some(2));
    assert_eq!(host.restored(&b("bcd.bak")), Some(data_stream(b"bcd")));
    assert_eq!(host.info(&b(r"Files\Windows")), Some(info(DIR, 2)));
}

/// A base layer in the double, as a parent for delta imports.
fn parent_base(host: &RecordingHost) {
    host.make_dirs(BASE);
    host.put_file(
        &format!(r"{BASE}\Files\parent.txt"),
        info(FILE, 1),
        &data_stream(b"p"),
    );
    host.put_file(
        &format!(r"{BASE}\Files\old.txt"),
        info(FILE, 1),
        &data_stream(b"o"),
    );
    host.put_file(
        &format!(r"{BASE}\UtilityVM\Files\EFI\Microsoft\Boot\BCD"),
        info(FILE, 1),
        &data_stream(b"b"),
    );
    host.put_file(
        &format!(r"{BASE}\UtilityVM\Files\kernel.dll"),
        info(FILE, 1),
        &data_stream(b"k"),
    );
    host.put_file(
        &format!(r"{BASE}\UtilityVM\Files\gone.txt"),
        info(FILE, 1),
        &data_stream(b"g"),
    );
}

#[test]
fn delta_layer_is_imported_in_hcsshim_order() {
    let host = RecordingHost::new();
    parent_base(&host);
    host.make_dirs(DELTA);
    let parents = vec![PathBuf::from(BASE)];
    let mut w = LegacyLayerWriter::new(host.clone(), Path::new(DELTA), &parents).unwrap();
    let folder = w.folder().display().to_string();
    w.add(&p("Files"), &info(DIR, 10)).unwrap();
    w.add(&p("Files/new.txt"), &info(FILE, 11)).unwrap();
    w.write_all(&data_stream(b"new")).unwrap();
    w.remove(&p("Files/old.txt")).unwrap();
    w.add_link(&p("Files/link.txt"), &p("Files/parent.txt"))
        .unwrap();
    w.add(&p("Hives"), &info(DIR, 12)).unwrap();
    w.add(&p("Hives/System_Delta"), &info(FILE, 13)).unwrap();
    w.write_all(&data_stream(b"hive")).unwrap();
    w.add(&p("UtilityVM"), &info(DIR, 14)).unwrap();
    // The UtilityVM entry itself takes no bytes (hcsshim: `closed`).
    assert_eq!(w.write_all(b"x").unwrap_err().to_string(), "closed");
    w.add(&p("UtilityVM/Files/new.sys"), &info(FILE, 15))
        .unwrap();
    w.write_all(&data_stream(b"sys")).unwrap();
    w.remove(&p("UtilityVM/Files/gone.txt")).unwrap();
    assert_eq!(
        w.remove(&p("Hives/x")).unwrap_err().to_string(),
        r"invalid tombstone Hives\x"
    );
    w.close().unwrap();

    let f = |s: &str| format!(r"{folder}\{s}");
    let d = |s: &str| format!(r"{DELTA}\{s}");
    let base = |s: &str| format!(r"{BASE}\{s}");
    let calls = effects(&host);
    let expected_prefix = vec![
        format!("make_temp_dir {folder}"),
        format!("mkdir {}", f("Files")),
        format!("create_file {}", f("Files.$wcidirs$")),
        format!("set_basic_info {} attributes=0x0", f("Files.$wcidirs$")),
        format!("write {} 4 bytes", f("Files.$wcidirs$")),
        format!("create_file {}", f(r"Files\new.txt")),
        format!("set_basic_info {} attributes=0x0", f(r"Files\new.txt")),
        format!("write {} 4 bytes", f(r"Files\new.txt")),
        format!("write {} 23 bytes", f(r"Files\new.txt")),
        format!("mkdir {}", f("Hives")),
        format!("create_file {}", f("Hives.$wcidirs$")),
        format!("set_basic_info {} attributes=0x0", f("Hives.$wcidirs$")),
        format!("write {} 4 bytes", f("Hives.$wcidirs$")),
        format!("create_file {}", f(r"Hives\System_Delta")),
        format!("set_basic_info {} attributes=0x0", f(r"Hives\System_Delta")),
        format!("backup_write {} 24 bytes", f(r"Hives\System_Delta")),
        // The utility VM: made, and cloned from the parent (files linked, the boot
        // store copied, directories copied with their times reapplied).
        format!("mkdir {}", d("UtilityVM")),
        format!("ensure_not_reparse_point {}", base(r"UtilityVM\Files")),
        // Copied entries are read with their SACL and restored with their security.
        format!("open_backup+sacl {}", base(r"UtilityVM\Files")),
        format!("create_dir+sd {}", d(r"UtilityVM\Files")),
    ];
    assert_eq!(
        calls[..expected_prefix.len()],
        expected_prefix[..],
        "{calls:#?}"
    );
    let pos = |needle: &str| {
        calls
            .iter()
            .position(|c| c == needle)
            .unwrap_or_else(|| panic!("no call {needle:?} in {calls:#?}"))
    };
    let bcd = pos(&format!(
        "create_file+sd {}",
        d(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD")
    ));
    let kernel = pos(&format!(
        "link {} -> {}",
        d(r"UtilityVM\Files\kernel.dll"),
        base(r"UtilityVM\Files\kernel.dll")
    ));
    let import = pos(&format!(
        r"ImportLayer {DELTA} from {folder} over [{BASE}={}]",
        guid("base")
    ));
    let tombstone = pos(&format!("remove {}", d(r"Files\old.txt")));
    let link = pos(&format!(
        "link {} -> {}",
        d(r"Files\link.txt"),
        base(r"Files\parent.txt")
    ));
    let files_times = pos(&format!("open_attributes {}", d("Files")));
    let hives_times = pos(&format!("open_attributes {}", d("Hives")));
    let utility_vm = pos(&format!(r"ProcessUtilityImage {DELTA}\UtilityVM"));
    let cleanup = pos(&format!("remove_tree {folder}"));
    // hcsshim's order: clone, import, tombstones, links, directory times (last added
    // first), utility VM processing, then the folder is removed.
    assert!(bcd < import && kernel < import, "{calls:#?}");
    assert!(import < tombstone && tombstone < link, "{calls:#?}");
    assert!(
        link < hives_times && hives_times < files_times,
        "{calls:#?}"
    );
    assert!(
        files_times < utility_vm && utility_vm < cleanup,
        "{calls:#?}"
    );
    assert_eq!(cleanup, calls.len() - 1);
    // No transport-folder tombstone list is ever written.
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("tombstones.txt") && !c.starts_with("remove "))
    );
    // The removal under UtilityVM\Files took effect at once.
    assert!(!host.exists(&d(r"UtilityVM\Files\gone.txt")));
    assert!(host.exists(&base(r"UtilityVM\Files\gone.txt")));
    // The imported layer holds the new file with its attributes; the folder is gone.
    assert_eq!(
        host.info(&d(r"Files\new.txt")).unwrap().file_attributes.0,
        FILE
    );
    assert_eq!(
        host.restored(&d(r"Files\new.txt")),
        Some(data_stream(b"new"))
    );
    assert_eq!(host.links(&base(r"Files\parent.txt")), Some(2));
    assert!(!host.exists(&folder));
    // The boot store was copied, not linked to the parent's (docs/compat.md).
    assert_eq!(
        host.links(&base(r"UtilityVM\Files\EFI\Microsoft\Boot\BCD")),
        Some(1)
    );
}

/// The error with its causes, as the CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn guid(name: &str) -> String {
    let host = RecordingHost::new();
    wclayer_hcs::Host::name_to_guid(&host, name)
        .unwrap()
        .to_string()
}

fn gen_case(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let options = wclayer_gen::Options {
        big_file_size: 100_000,
    };
    wclayer_gen::write_case_with(name, &options, &mut out).unwrap();
    out
}

#[test]
fn base_tar_imports_and_exports_through_the_backup_calls() {
    let host = RecordingHost::new();
    let tar = gen_case("base");
    let stats =
        import_layer_from_tar(&host, &tar[..], Path::new(BASE), &[], &Limits::default()).unwrap();
    assert!(stats.total_size >= 100_000);
    let calls = host.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("ProcessBaseImage"))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("ProcessUtilityImage"))
            .count(),
        1
    );
    for bak in ["bcd.bak", "bcd.log.bak"] {
        assert!(host.exists(&format!(r"{BASE}\{bak}")), "{bak}");
    }

    // The base reader walks Files, then UtilityVM\Files, with BackupRead; the export holds
    // the names our own base walk of the same tar gives.
    let (out, _) = export_layer_to_tar(host.clone(), Vec::new(), Path::new(BASE), &[]).unwrap();
    let ours = reference_names(&tar);
    assert_eq!(tar_names(&out), ours);
    assert!(
        host.calls()
            .iter()
            .any(|c| c.starts_with("backup_read+sd "))
    );
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            String::from_utf8_lossy(&e.path_bytes()).into_owned()
        })
        .collect()
}

/// The names of the reference export of `tar` as a base layer.
fn reference_names(tar: &[u8]) -> Vec<String> {
    let mut layer = wclayer_layer::MemLayer::new();
    let mut archive = wclayer_tar::archive::ArchiveReader::new(tar);
    wclayer_tar::import_tar(&mut archive, &mut layer).unwrap();
    layer.set_walk_mode(Some(wclayer_layer::WalkMode::Base));
    let (out, _) = wclayer_tar::export_tar(&mut layer.reader().unwrap(), Vec::new()).unwrap();
    tar_names(&out)
}

#[test]
fn refused_input_leaves_nothing_behind() {
    // A tombstone in a base layer.
    let host = RecordingHost::new();
    let delta = gen_case("delta");
    let err = import_layer_from_tar(&host, &delta[..], Path::new(BASE), &[], &Limits::default())
        .unwrap_err();
    assert!(
        chain(&err).contains("base layer cannot have tombstones"),
        "{}",
        chain(&err)
    );
    assert!(!host.exists(BASE));
    assert!(
        !host
            .calls()
            .iter()
            .any(|c| c.starts_with("ProcessBaseImage"))
    );

    // A delta tar Windows refuses: a tombstone outside Files and UtilityVM\Files.
    let host = RecordingHost::new();
    parent_base(&host);
    let parents = vec![PathBuf::from(BASE)];
    let err = import_layer_from_tar(
        &host,
        &delta[..],
        Path::new(DELTA),
        &parents,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        chain(&err).contains("invalid tombstone z"),
        "{}",
        chain(&err)
    );
    assert!(!host.exists(DELTA));
    assert!(
        host.tree(r"C:\tmp").iter().all(|p| p == r"C:\tmp"),
        "{:?}",
        host.tree(r"C:\tmp")
    );

    // HCS refuses the import: the folder and the layer are removed.
    let host = RecordingHost::new();
    parent_base(&host);
    host.fail_on("ImportLayer");
    let tar = small_delta_tar();
    let err = import_layer_from_tar(
        &host,
        &tar[..],
        Path::new(DELTA),
        &parents,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        chain(&err).contains("hcsshim::ImportLayer failed in Win32: injected failure"),
        "{}",
        chain(&err)
    );
    assert!(!host.exists(DELTA));
    assert_eq!(host.tree(r"C:\tmp"), vec![r"C:\tmp".to_owned()]);
    let calls = host.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some(r"remove_tree C:\layers\delta")
    );

    // A layer directory that is not empty is never written into.
    let host = RecordingHost::new();
    host.put_file(&format!(r"{BASE}\keep.txt"), info(FILE, 1), b"");
    let base = gen_case("base");
    let err = import_layer_from_tar(&host, &base[..], Path::new(BASE), &[], &Limits::default())
        .unwrap_err();
    assert!(
        chain(&err).contains("exists and is not empty"),
        "{}",
        chain(&err)
    );
    assert!(host.exists(&format!(r"{BASE}\keep.txt")));
}

/// A delta tar Windows accepts: changed files, a tombstone under Files, a hive.
fn small_delta_tar() -> Vec<u8> {
    let mut layer = wclayer_layer::MemLayer::new();
    layer.add(&p("Files"), &info(DIR, 10)).unwrap();
    layer.add(&p("Files/new.txt"), &info(FILE, 11)).unwrap();
    layer.write_all(&data_stream(b"new")).unwrap();
    layer.remove(&p("Files/old.txt")).unwrap();
    layer.add(&p("Hives"), &info(DIR, 12)).unwrap();
    layer
        .add(&p("Hives/System_Delta"), &info(FILE, 13))
        .unwrap();
    layer.write_all(&data_stream(b"hive")).unwrap();
    layer.close().unwrap();
    let (out, _) = wclayer_tar::export_tar(&mut layer.reader().unwrap(), Vec::new()).unwrap();
    out
}

#[test]
fn delta_layer_reads_back_through_export_layer() {
    let host = RecordingHost::new();
    parent_base(&host);
    let parents = vec![PathBuf::from(BASE)];
    let tar = small_delta_tar();
    import_layer_from_tar(
        &host,
        &tar[..],
        Path::new(DELTA),
        &parents,
        &Limits::default(),
    )
    .unwrap();
    host.clear_calls();

    let mut r = new_layer_reader(host.clone(), Path::new(DELTA), &parents).unwrap();
    let mut seen = Vec::new();
    while let Some(e) = r.next().unwrap() {
        match e {
            Entry::File { name, size, info } => {
                seen.push(format!("{name} {size} {:#x}", info.file_attributes.0));
            }
            Entry::Tombstone { name } => seen.push(format!("tombstone {name}")),
            _ => unreachable!(),
        }
    }
    r.close().unwrap();
    assert_eq!(
        seen,
        [
            r"Files 0 0x10",
            r"tombstone Files\old.txt",
            r"Files\new.txt 3 0x20",
            r"Hives 0 0x10",
            r"Hives\System_Delta 4 0x20",
        ]
    );
    let calls = host.calls();
    assert_eq!(calls[0], r"make_temp_dir C:\tmp\hcs2");
    assert_eq!(calls[1], "NameToGuid base");
    assert!(
        calls[2].starts_with(r"ExportLayer C:\layers\delta to C:\tmp\hcs2 over [C:\layers\base=")
    );
    assert_eq!(calls.last().unwrap(), r"remove_tree C:\tmp\hcs2");
    assert_eq!(host.tree(r"C:\tmp"), vec![r"C:\tmp".to_owned()]);

    // And as a tar, with the tombstone as a whiteout.
    let (out, _) =
        export_layer_to_tar(host.clone(), Vec::new(), Path::new(DELTA), &parents).unwrap();
    assert_eq!(
        tar_names(&out),
        [
            "Files",
            "Files/.wh.old.txt",
            "Files/new.txt",
            "Hives",
            "Hives/System_Delta"
        ]
    );
}

#[test]
fn mount_undoes_its_steps_when_one_fails() {
    let host = RecordingHost::new();
    let parents = vec![PathBuf::from(BASE)];
    let volume = mount(&host, Path::new(DELTA), &parents).unwrap();
    assert!(volume.to_string_lossy().starts_with(r"\\?\Volume{"));
    unmount(&host, Path::new(DELTA)).unwrap();
    let g = guid("base");
    assert_eq!(
        host.calls(),
        [
            format!("ActivateLayer {DELTA}"),
            "NameToGuid base".to_owned(),
            format!("PrepareLayer {DELTA} over [{BASE}={g}]"),
            format!("GetLayerMountPath {DELTA}"),
            format!("UnprepareLayer {DELTA}"),
            format!("DeactivateLayer {DELTA}"),
        ]
    );

    let host = RecordingHost::new();
    host.fail_on("GetLayerMountPath");
    let err = mount(&host, Path::new(DELTA), &parents).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("hcsshim::GetLayerMountPath failed in Win32"),
        "{err}"
    );
    assert_eq!(
        host.calls()[3..],
        [
            format!("GetLayerMountPath {DELTA}"),
            format!("UnprepareLayer {DELTA}"),
            format!("DeactivateLayer {DELTA}"),
        ]
    );
}

//! Unit tests of the creation rules: presets, globs, attributes, link targets, prefixes,
//! and a small tree made into a layer and walked back.

use wclayer_backup::sd::SecurityDescriptor;
use wclayer_backup::{FileTime, UnixTime};
use wclayer_layer::{Entry, FileAttributes, LayerReader};

use super::emit::link_target;
use super::rules::GlobRules;
use super::*;

#[test]
fn presets_parse_and_owner_group_is_cranes_bytes() {
    for (name, p) in SdPreset::ALL {
        assert_eq!(SdPreset::from_name(name), Some(p));
        let (f, d) = p.sddl();
        for sddl in [f, d] {
            if !sddl.is_empty() {
                let sd = SecurityDescriptor::from_sddl(sddl).unwrap();
                assert_eq!(sd.to_sddl(), sddl, "{name} round-trips");
            }
        }
    }
    // go-containerregistry's fixed descriptor (pkg/v1/mutate, crane append).
    let crane = [
        0x01, 0x00, 0x00, 0x80, 0x14, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x00,
        0x00, 0x00, 0x21, 0x02, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20,
        0x00, 0x00, 0x00, 0x21, 0x02, 0x00, 0x00,
    ];
    assert_eq!(SdPreset::OwnerGroup.descriptors().0, crane);
    assert!(SdPreset::None.descriptors().0.is_empty());
    assert!(SdPreset::from_name("nope").is_none());
}

#[test]
fn globs_are_per_component_case_insensitive_and_last_wins() {
    let mut r = GlobRules::default();
    r.push("Files/*.dll", 1).unwrap();
    r.push("Files/**/sub/?.exe", 2).unwrap();
    r.push("files/b.DLL", 3).unwrap();
    assert_eq!(r.get("Files/a.dll"), Some(&1));
    assert_eq!(r.get("Files/x/a.dll"), None, "* stays in one component");
    assert_eq!(r.get("Files/x/y/sub/z.exe"), Some(&2));
    assert_eq!(r.get("Files/sub/z.exe"), Some(&2));
    assert_eq!(r.get("FILES/B.dll"), Some(&3), "the last match wins");
    assert!(r.push("Files/[", 0).is_err());
}

#[test]
fn attributes_parse_names_and_refuse_kind_bits() {
    assert_eq!(
        parse_attributes("READONLY|archive").unwrap(),
        FileAttributes::READONLY.with(FileAttributes::ARCHIVE)
    );
    assert_eq!(parse_attributes("0").unwrap(), FileAttributes(0));
    assert!(parse_attributes("DIRECTORY").is_err());
    assert!(parse_attributes("REPARSE_POINT").is_err());
    assert!(parse_attributes("BOGUS").is_err());
}

#[test]
fn link_targets_stay_inside_and_turn_windows() {
    let dir = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    assert_eq!(
        link_target(&dir(&["a", "b"]), "../c/./d").unwrap(),
        ("..\\c\\d".to_string(), dir(&["a", "c", "d"]))
    );
    assert_eq!(link_target(&dir(&["a"]), ".").unwrap().0, ".");
    assert!(
        link_target(&dir(&["a"]), "../../x").is_err(),
        "leaves the source"
    );
    assert!(link_target(&dir(&[]), "/etc/passwd").is_err(), "absolute");
    assert!(link_target(&dir(&[]), "C:x").is_err(), "a drive on Windows");
    assert!(link_target(&dir(&[]), "").is_err());
}

#[test]
fn prefixes_must_be_below_files() {
    let mut o = Options::new();
    assert!(o.prefix("Files/app").is_ok());
    assert!(o.prefix("files\\a\\b").is_ok());
    assert!(o.prefix("Hives/x").is_err());
    assert!(o.prefix("Files/../x").is_err());
    assert!(o.prefix("Files/a:b").is_err());
    assert!(o.prefix("").is_err());
}

#[test]
fn chain_dirs_follow_tombstones_case_insensitively() {
    let mut c = ChainDirs::none();
    c.insert("Files\\Windows\\System32");
    assert!(c.has("FILES/windows"));
    c.remove("files/windows");
    assert!(!c.has("Files/Windows/System32") && c.has("Files"));
}

/// A tar source with a directory left out, a symlink to a directory met before it, a
/// whiteout and a hard link, walked back from the layer.
#[test]
fn tar_source_adds_missing_directories_and_links() {
    let mut tar = Vec::new();
    {
        let mut b = ::tar::Builder::new(&mut tar);
        let mut l = ::tar::Header::new_ustar();
        l.set_entry_type(::tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "link", "d").unwrap();
        let mut h = ::tar::Header::new_ustar();
        h.set_size(2);
        h.set_mtime(5);
        b.append_data(&mut h, "d/e/f.txt", &b"hi"[..]).unwrap();
        let mut d = ::tar::Header::new_ustar();
        d.set_entry_type(::tar::EntryType::Directory);
        d.set_size(0);
        b.append_data(&mut d, "d/", &b""[..]).unwrap();
        let mut w = ::tar::Header::new_ustar();
        w.set_size(0);
        b.append_data(&mut w, "d/.wh.gone", &b""[..]).unwrap();
        let mut hl = ::tar::Header::new_ustar();
        hl.set_entry_type(::tar::EntryType::Link);
        hl.set_size(0);
        b.append_link(&mut hl, "g.txt", "d/e/f.txt").unwrap();
        b.finish().unwrap();
    }
    let mut chain = ChainDirs::none();
    chain.insert("Files");
    let mut o = Options::new();
    o.source_date_epoch(7);
    let source = Source::Tar {
        reader: Box::new(std::io::Cursor::new(tar)),
        display: "t.tar".to_string(),
    };
    let (mut layer, stats) = create_mem_layer(source, &chain, &o, true).unwrap();
    assert_eq!(
        (stats.entries, stats.hard_links, stats.tombstones),
        (4, 1, 1)
    );
    let mut r = layer.reader().unwrap();
    let mut seen = Vec::new();
    while let Some(e) = r.next().unwrap() {
        match e {
            Entry::File { name, info, .. } => {
                assert_eq!(
                    info.last_write_time,
                    FileTime::from_unix(UnixTime::new(7, 0))
                );
                seen.push(format!("{}={:#x}", name.as_str(), info.file_attributes.0));
            }
            Entry::Tombstone { name } => seen.push(format!("-{}", name.as_str())),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "Files\\d=0x10",
            "-Files\\d\\gone",
            "Files\\d\\e=0x10",
            "Files\\d\\e\\f.txt=0x20",
            "Files\\g.txt=0x20",
            "Files\\link=0x410",
        ]
    );
}

/// A tree deeper than the handles the walk holds: every level is added once, in order, and
/// a symbolic link to a directory through another link is a directory link.
#[test]
#[cfg(unix)]
fn deep_host_trees_and_links_through_links() {
    let t = tempfile::tempdir().unwrap();
    let mut p = t.path().to_path_buf();
    for i in 0..150 {
        p.push(format!("d{i}"));
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("leaf.txt"), b"leaf").unwrap();
    std::os::unix::fs::symlink("d0", t.path().join("alias")).unwrap();
    std::os::unix::fs::symlink("alias/d1", t.path().join("via")).unwrap();
    let source = Source::open(t.path()).unwrap();
    let mut o = Options::new();
    o.source_date_epoch(0);
    let (mut layer, stats) = create_mem_layer(source, &ChainDirs::none(), &o, false).unwrap();
    assert_eq!(stats.directories, 151, "Files and 150 levels");
    assert_eq!(stats.file_bytes, 4);
    let mut r = layer.reader().unwrap();
    let mut links = Vec::new();
    while let Some(e) = r.next().unwrap() {
        if let Entry::File { name, info, .. } = e
            && info.file_attributes.is_reparse_point()
        {
            links.push((
                name.as_str().to_string(),
                info.file_attributes.is_directory(),
            ));
        }
    }
    assert_eq!(
        links,
        [
            ("Files\\alias".to_string(), true),
            ("Files\\via".to_string(), true)
        ]
    );
}

use std::fs::File;

use super::*;

fn file(name: &str) -> Item {
    Item {
        name: name.to_string(),
        kind: ItemKind::File,
        has_security_descriptor: true,
        data_size: 0,
        alternate_streams: 0,
    }
}

fn dir(name: &str) -> Item {
    Item {
        kind: ItemKind::Directory,
        ..file(name)
    }
}

fn with(kind: ItemKind, name: &str) -> Item {
    Item { kind, ..file(name) }
}

/// The (rule, entry) pairs of the findings of `items` in a layer of `kind`.
fn run(kind: LayerKind, parents: Option<ParentNames>, items: &[Item]) -> Vec<(Rule, String)> {
    let mut v = Verifier::new(kind, parents);
    for it in items {
        v.entry(it);
    }
    v.finish()
        .into_iter()
        .map(|f| {
            assert_eq!(f.severity, f.rule.severity());
            assert!(!f.message.is_empty());
            (f.rule, f.entry)
        })
        .collect()
}

fn one(kind: LayerKind, items: &[Item]) -> (Rule, String) {
    let got = run(kind, None, items);
    assert_eq!(got.len(), 1, "{got:?}");
    got.into_iter().next().unwrap()
}

#[test]
fn rule_ids_are_unique_kebab_case() {
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    assert!(
        ids.iter()
            .all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
    );
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[test]
fn name_rules() {
    let base = [dir("Files")];
    for (name, rule, entry) in [
        ("Files/CON", Rule::NameReserved, "Files/CON"),
        ("Files/nul.txt", Rule::NameReserved, "Files/nul.txt"),
        ("Files/com1", Rule::NameReserved, "Files/com1"),
        ("Files/a./x", Rule::NameTrailingDotSpace, "Files/a."),
        ("Files/b ", Rule::NameTrailingDotSpace, "Files/b "),
        ("Files/a?b", Rule::NameInvalidChar, "Files/a?b"),
        ("Files/a\u{1}b", Rule::NameInvalidChar, "Files/a\u{1}b"),
        ("Files/a:s", Rule::NameInvalidChar, "Files/a:s"),
        ("/Files/x", Rule::NameOutsideLayer, "/Files/x"),
        ("Files/../../x", Rule::NameOutsideLayer, "Files/../../x"),
    ] {
        let got = one(LayerKind::Base, &[base[0].clone(), file(name)]);
        assert_eq!(got, (rule, entry.to_string()), "{name:?}");
    }
    let long = format!("Files/{}", "字".repeat(256));
    assert_eq!(
        one(LayerKind::Base, &[dir("Files"), file(&long)]).0,
        Rule::NameTooLong
    );
    // Not reserved: a longer stem, a reserved name inside a longer one.
    assert!(
        run(
            LayerKind::Base,
            None,
            &[dir("Files"), file("Files/CONSOLE"), file("Files/xcon")]
        )
        .is_empty()
    );
}

#[test]
fn case_collisions_within_the_layer_and_with_parents() {
    let got = one(
        LayerKind::Base,
        &[dir("Files"), file("Files/A.txt"), file("Files/a.TXT")],
    );
    assert_eq!(got, (Rule::NameCaseCollision, "Files/a.TXT".to_string()));
    let mut p = ParentNames::default();
    p.insert("Files\\Windows\\System32");
    let got = run(LayerKind::Delta, Some(p), &[dir("Files/WINDOWS")]);
    assert_eq!(got, [(Rule::NameCaseParent, "Files/WINDOWS".to_string())]);
}

#[test]
fn base_layer_trees_and_tombstones() {
    assert_eq!(
        one(LayerKind::Base, &[dir("Files"), file("Hives/x")]),
        (Rule::BaseOutsideTrees, "Hives/x".to_string())
    );
    assert!(
        run(
            LayerKind::Base,
            None,
            &[
                dir("Files"),
                dir("UtilityVM"),
                dir("UtilityVM/Files"),
                file("UtilityVM/Files/EFI/Microsoft/Boot/BCD")
            ]
        )
        .is_empty()
    );
    assert_eq!(
        one(
            LayerKind::Base,
            &[dir("Files"), with(ItemKind::Tombstone, "Files/a/x")]
        ),
        (Rule::TombstoneInBase, "Files/a/.wh.x".to_string())
    );
    assert_eq!(
        one(LayerKind::Delta, &[with(ItemKind::Tombstone, "rootfile")]),
        (Rule::TombstoneOutsideFiles, ".wh.rootfile".to_string())
    );
    // wclayer's layer keeps a whiteout at the root; only hcsshim's legacy writer refuses it
    // on Windows (docs/layer-semantics.md §0.4).
    assert_eq!(Rule::TombstoneOutsideFiles.severity(), Severity::Warning);
    assert!(
        run(
            LayerKind::Delta,
            None,
            &[with(ItemKind::Tombstone, "UtilityVM/Files/x")]
        )
        .is_empty()
    );
    let mut p = ParentNames::default();
    p.insert("Files/a/x");
    p.remove("Files/a");
    let got = run(
        LayerKind::Delta,
        Some(p),
        &[with(ItemKind::Tombstone, "Files/a/x")],
    );
    assert_eq!(
        got,
        [(Rule::TombstoneRemovesNothing, "Files/a/.wh.x".to_string())]
    );
}

#[test]
fn hard_links() {
    let link = |t: &str| ItemKind::Link {
        target: t.to_string(),
    };
    assert_eq!(
        one(
            LayerKind::Base,
            &[
                dir("Files"),
                dir("Files/d"),
                with(link("Files/d"), "Files/l")
            ]
        ),
        (Rule::LinkToDirectory, "Files/l".to_string())
    );
    assert_eq!(
        one(
            LayerKind::Base,
            &[
                dir("Files"),
                file("Files/f"),
                dir("UtilityVM"),
                dir("UtilityVM/Files"),
                file("UtilityVM/Files/EFI/Microsoft/Boot/BCD"),
                with(link("Files/f"), "UtilityVM/Files/l")
            ]
        ),
        (Rule::LinkAcrossTrees, "UtilityVM/Files/l".to_string())
    );
    assert_eq!(
        one(
            LayerKind::Base,
            &[dir("Files"), with(link("Files/nothing"), "Files/l")]
        ),
        (Rule::LinkTargetMissing, "Files/l".to_string())
    );
    // In a delta layer without known parents the target may be a parent's.
    assert!(
        run(
            LayerKind::Delta,
            None,
            &[dir("Files"), with(link("Files/nothing"), "Files/l")]
        )
        .is_empty()
    );
}

#[test]
fn utility_vm_security_data_and_links() {
    assert_eq!(
        one(
            LayerKind::Base,
            &[dir("Files"), dir("UtilityVM"), dir("UtilityVM/Files")]
        ),
        (Rule::UvmMissingBcd, "UtilityVM/Files".to_string())
    );
    let bare = Item {
        has_security_descriptor: false,
        ..file("Files/x")
    };
    assert_eq!(
        one(LayerKind::Base, &[dir("Files"), bare]),
        (Rule::NoSecurityDescriptor, "Files/x".to_string())
    );
    let data = Item {
        data_size: 3,
        ..dir("Files/d")
    };
    assert_eq!(
        one(LayerKind::Base, &[dir("Files"), data]),
        (Rule::DirectoryWithData, "Files/d".to_string())
    );
    let ads = Item {
        alternate_streams: 1,
        ..dir("Files/d")
    };
    assert_eq!(
        one(LayerKind::Base, &[dir("Files"), ads]),
        (Rule::StreamsDropped, "Files/d".to_string())
    );
    let sym = |t: &str| ItemKind::Symlink {
        target: t.to_string(),
        mount_point: false,
    };
    for t in [
        "D:\\data",
        "\\\\server\\share",
        "\\??\\Volume{x}\\",
        "..\\..\\x",
    ] {
        assert_eq!(
            one(LayerKind::Base, &[dir("Files"), with(sym(t), "Files/a/l")]),
            (Rule::SymlinkLeavesVolume, "Files/a/l".to_string()),
            "{t}"
        );
    }
    for t in [
        "C:\\Windows",
        "\\??\\C:\\Users",
        "\\Windows",
        "..\\x",
        "x\\y",
    ] {
        assert!(
            run(
                LayerKind::Base,
                None,
                &[dir("Files"), with(sym(t), "Files/a/l")]
            )
            .is_empty(),
            "{t}"
        );
    }
}

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wclayer-tar/tests/data");

fn verify_file(path: &str) -> Vec<Finding> {
    let f = File::open(path).unwrap();
    verify_tar(f, None, &Options::default()).unwrap()
}

#[test]
fn the_reference_exports_are_fixed_points() {
    for v in [
        "v1_base_names_times",
        "v2_streams_links",
        "v3_delta",
        "v4_plain_ustar",
        "v5_model_details",
    ] {
        let got = verify_file(&format!("{DATA}/exports/{v}.export.tar"));
        assert!(
            got.iter().all(|f| f.rule != Rule::NotFixedPoint),
            "{v}: {got:?}"
        );
    }
}

#[test]
fn the_reference_vectors_give_no_errors() {
    for v in [
        "v1_base_names_times",
        "v2_streams_links",
        "v3_delta",
        "v4_plain_ustar",
        "v5_model_details",
    ] {
        let got = verify_file(&format!("{DATA}/{v}.tar"));
        assert!(
            got.iter().all(|f| f.severity == Severity::Warning),
            "{v}: {got:?}"
        );
    }
}

#[test]
fn a_tar_from_another_writer_is_not_a_fixed_point() {
    let got = verify_file(&format!("{DATA}/v4_plain_ustar.tar"));
    let nfp: Vec<_> = got
        .iter()
        .filter(|f| f.rule == Rule::NotFixedPoint)
        .collect();
    assert_eq!(nfp.len(), 1, "{got:?}");
    assert_eq!(nfp[0].entry, "Files");
}

#[test]
fn digests_of_tars() {
    let path = format!("{DATA}/v3_delta.tar");
    let good = "sha256:642cb2da26f983b12ff8b8667186a0d9f2d006e3f82682cd2e3e9cf421da5c18";
    let opts = |d: &str| Options {
        diff_id: Some(d.to_string()),
        ..Options::default()
    };
    let got = verify_tar(File::open(&path).unwrap(), None, &opts(good)).unwrap();
    assert!(got.iter().all(|f| f.rule != Rule::DiffIdMismatch));
    let bad = format!("sha256:{}", "0".repeat(64));
    let got = verify_tar(File::open(&path).unwrap(), None, &opts(&bad)).unwrap();
    assert!(got.iter().any(|f| f.rule == Rule::DiffIdMismatch));
    assert!(matches!(
        verify_tar(File::open(&path).unwrap(), None, &opts("sha256:xy")),
        Err(VerifyError::BadDigest(_))
    ));
}

#[test]
fn not_a_tar_is_a_read_error() {
    let junk = vec![0x55u8; 1024];
    assert!(matches!(
        verify_tar(&junk[..], None, &Options::default()),
        Err(VerifyError::Read { .. })
    ));
}

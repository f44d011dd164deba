//! The library as a program uses it: images built from the generated sample layers,
//! resolved, unpacked into a store (reusing what it has), and refused when a layer lies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic (unwrap, index, overflow) is a failing test"
)]

use std::path::Path;

use wclayer_image::build::{BuildOptions, NewLayer, build, build_from_scratch};
use wclayer_image::media::Compression;
use wclayer_image::store::{Store, UnpackOptions};
use wclayer_image::{Digest, ImageRef, Platform, PlatformSpec, Source};

fn opts() -> BuildOptions {
    BuildOptions {
        compression: Compression::Gzip,
        level: None,
        limits: wclayer::Limits::default(),
        created: 0,
        leave_base_blobs: false,
    }
}

fn windows() -> Platform {
    Platform {
        os: "windows".into(),
        architecture: "amd64".into(),
        variant: None,
        os_version: Some("10.0.20348.1".into()),
    }
}

fn open(reference: &str) -> (Source, wclayer_image::Image) {
    let r = ImageRef::parse(reference).unwrap();
    let s = Source::open(&r).unwrap();
    let i = s.resolve(&r, &PlatformSpec::default()).unwrap();
    (s, i)
}

/// `oci:DIR/l:base` and `oci:DIR/l:app` from the samples.
fn images(d: &Path) {
    wclayer_gen::write_case("base", std::fs::File::create(d.join("base.tar")).unwrap()).unwrap();
    wclayer_gen::write_case("delta", std::fs::File::create(d.join("delta.tar")).unwrap()).unwrap();
    let l = d.join("l");
    build_from_scratch(
        &windows(),
        &[NewLayer::Tar(d.join("base.tar"))],
        &l,
        "base",
        &opts(),
    )
    .unwrap();
    let (s, base) = open(&format!("oci:{}:base", l.display()));
    let b = build(
        &s,
        &base,
        &[NewLayer::Tar(d.join("delta.tar"))],
        &l,
        "app",
        &opts(),
    )
    .unwrap();
    assert_eq!(
        (b.copied, b.present),
        (0, 1),
        "the base blob is in the layout already"
    );
}

#[test]
fn layers_are_stored_once_by_chain_id_and_reused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    images(d);
    let store = Store::open(&d.join("store")).unwrap();
    let (s, app) = open(&format!("oci:{}:app", d.join("l").display()));
    let mut seen = Vec::new();
    let u = store
        .unpack(&s, &app, &UnpackOptions::default(), &mut |l| {
            seen.push((l.number, l.reused))
        })
        .unwrap();
    assert_eq!(seen, [(1, false), (2, false)]);
    assert_eq!((u.imported(), u.reused()), (2, 0));
    let d0 = app.config.diff_ids[0];
    let d1 = app.config.diff_ids[1];
    assert_eq!(u.layers[0].chain_id, d0);
    assert_eq!(u.layers[1].chain_id, Digest::chain(Some(&d0), &d1));
    assert_eq!(u.parents(), [u.layers[0].path.as_path()]);
    assert!(store.has_layer(&u.layers[1].chain_id));

    let (s, base) = open(&format!("oci:{}:base", d.join("l").display()));
    let again = store
        .unpack(&s, &base, &UnpackOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!((again.imported(), again.reused()), (0, 1));
    assert_eq!(again.top(), u.layers.first().map(|l| l.path.as_path()));
}

#[test]
fn a_layer_whose_diff_id_is_not_the_configs_is_refused_and_not_kept() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    images(d);
    let store = Store::open(&d.join("store")).unwrap();
    let (s, mut app) = open(&format!("oci:{}:app", d.join("l").display()));
    let wrong = Digest::of(b"another layer");
    app.layers[1].diff_id = wrong;
    let e = store
        .unpack(&s, &app, &UnpackOptions::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layer 2") && e.contains(&wrong.to_string()),
        "{e}"
    );
    let left: Vec<String> = std::fs::read_dir(d.join("store/layers/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        [app.config.diff_ids[0].hex()],
        "only the complete base layer"
    );
}

/// Two images on one base: removing the top image removes its own layer and keeps the
/// base; pruning removes what a failed unpack left; removal waits for no unpack, and an
/// unpack's store cannot be changed meanwhile.
#[test]
fn images_are_listed_and_removed_with_the_layers_no_other_image_uses() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    images(d);
    let path = d.join("store");
    let store = Store::open(&path).unwrap();
    let l = d.join("l");
    for tag in ["app", "base"] {
        let (s, i) = open(&format!("oci:{}:{tag}", l.display()));
        store
            .unpack(&s, &i, &UnpackOptions::default(), &mut |_| {})
            .unwrap();
    }
    let (_, app) = open(&format!("oci:{}:app", l.display()));
    let base_id = app.config.diff_ids[0];
    let top_id = Digest::chain(Some(&base_id), &app.config.diff_ids[1]);

    let mut other = Store::open_existing(&path).unwrap();
    let listed = other.images().unwrap();
    let names: Vec<&str> = listed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("oci:{}:app", l.display()),
            format!("oci:{}:base", l.display())
        ]
    );
    assert_eq!(listed[0].chain_ids, [base_id, top_id]);
    assert_eq!(listed[0].id, app.id);
    assert_eq!(other.layer_ids().unwrap().len(), 2);

    // The unpack's store holds a shared lock: no change while it is open.
    let e = other.lock_to_change().unwrap_err().to_string();
    assert!(e.contains("in use"), "{e}");
    drop(store);
    other.lock_to_change().unwrap();
    // Changing without the lock is refused.
    let unlocked = Store::open_existing(&path).unwrap();
    assert!(unlocked.prune().is_err());

    // Ambiguity and absence change nothing.
    let e = other
        .remove_images(&["nope".to_string()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no image nope"), "{e}");
    assert_eq!(other.images().unwrap().len(), 2);

    let removed = other
        .remove_images(&[app.id.hex()[..12].to_string()])
        .unwrap();
    assert_eq!(removed.images.len(), 1);
    assert_eq!(removed.layers, [top_id]);
    assert_eq!(removed.kept, 1);
    assert!(!other.has_layer(&top_id) && other.has_layer(&base_id));

    // A layer no record names (as a failed unpack leaves one) goes with `prune`.
    std::fs::remove_file(
        path.join("images/sha256")
            .join(format!("{}.json", other.images().unwrap()[0].id.hex())),
    )
    .unwrap();
    let pruned = other.prune().unwrap();
    assert_eq!((pruned.layers.as_slice(), pruned.kept), (&[base_id][..], 0));
    assert!(other.layer_ids().unwrap().is_empty());
    let left: Vec<_> = std::fs::read_dir(path.join("layers/sha256"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A record that cannot be read stops a prune before it removes anything.
    std::fs::create_dir(path.join("layers/sha256").join(base_id.hex())).unwrap();
    std::fs::write(
        path.join("images/sha256")
            .join(format!("{}.json", "a".repeat(64))),
        b"{",
    )
    .unwrap();
    let e = other.prune().unwrap_err().to_string();
    assert!(
        e.contains("no image record") && e.contains("no layer was removed"),
        "{e}"
    );
    assert!(other.has_layer(&base_id));
}

/// The same layers give the same image from any directory: the config's history names a
/// layer by its file name, not by the path it was built from.
#[test]
fn the_same_layers_build_the_same_image_wherever_they_are() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let mut digests = Vec::new();
    for dir in ["here", "there/deeper"] {
        let from = d.join(dir);
        std::fs::create_dir_all(&from).unwrap();
        let layer = from.join("base.tar");
        wclayer_gen::write_case("base", std::fs::File::create(&layer).unwrap()).unwrap();
        let l = d.join(format!("layout-{}", digests.len()));
        let built =
            build_from_scratch(&windows(), &[NewLayer::Tar(layer)], &l, "v1", &opts()).unwrap();
        let (_, image) = open(&format!("oci:{}:v1", l.display()));
        assert_eq!(
            image.config.json["history"][0]["created_by"],
            "wclayer build --layer base.tar"
        );
        digests.push(built.manifest.digest);
    }
    assert_eq!(digests[0], digests[1], "the same manifest digest");
}

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

//! The image target: `docker save` and OCI archives opened, resolved and unpacked into a
//! store of layer directories.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use wclayer_fs::{Dir, ambient_authority};
use wclayer_image::media::Compression;
use wclayer_image::source::Source;
use wclayer_image::store::{Store, UnpackOptions};
use wclayer_image::{Digest, ImageRef, PlatformSpec};
use wclayer_layer::Limits;
use wclayer_store::DirLayerReader;

/// The references each input is opened as: the archive's only image, its second (`@1`), and
/// the archive as an OCI layout (its only manifest).
const REFERENCES: &[&str] = &[
    "docker-archive:{}",
    "docker-archive:{}:@1",
    "oci-archive:{}",
];

/// What an image's layers may claim: a few thousand entries, 16 MiB of file data.
fn small_unpack_limits() -> UnpackOptions {
    UnpackOptions {
        limits: Limits::default()
            .with_max_entries(4096)
            .with_max_size(16 << 20),
        ..UnpackOptions::default()
    }
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// The input as an image archive `tmp/image.tar`, opened as each of `REFERENCES` (the only
/// image of a `docker save` archive, its image `@1`, the only manifest of an OCI archive),
/// resolved for `windows/amd64`, and unpacked into a fresh store `tmp/store-N` with small
/// limits (4096 entries and 16 MiB of file data per layer). Compressed archives are left
/// out: they are decompressed whole before they are read, up to the decompression guard's
/// gigabyte, which would make each such input slow; their decoders are zlib's and zstd's.
///
/// Asserts, after each unpack, success or error: `tmp/` holds only the archive, unchanged,
/// and the stores; a store holds only complete layers: every directory in
/// `layers/sha256/` is named by the chain ID of the image's first N layers, for some N,
/// together with the layers below it, and nothing else (no staging directory) is there.
/// After a success every layer of the image is there, reads back to its end
/// (`DirLayerReader`), the store lists the image with those layers, and unpacking it again
/// imports nothing. After an error, the store lists no image.
pub fn image_archive(data: &[u8]) {
    if Compression::sniff(data) != Compression::None {
        return;
    }
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let archive = tmp.path().join("image.tar");
    fs::write(&archive, data).expect("the archive");
    let platform = PlatformSpec::default();
    let mut expected_names = BTreeSet::from(["image.tar".to_owned()]);
    for (n, form) in REFERENCES.iter().enumerate() {
        let r = ImageRef::parse(&form.replace("{}", &archive.to_string_lossy()))
            .expect("the reference parses");
        let Ok(source) = Source::open(&r) else {
            continue;
        };
        let Ok(image) = source.resolve(&r, &platform) else {
            continue;
        };
        let store_path = tmp.path().join(format!("store-{n}"));
        expected_names.insert(format!("store-{n}"));
        let store = Store::open(&store_path).expect("a new store");
        let opts = small_unpack_limits();
        let result = store.unpack(&source, &image, &opts, &mut |_| {});

        assert_eq!(
            names(tmp.path()),
            expected_names,
            "nothing is written beside the stores: {result:?}"
        );
        assert!(
            fs::read(&archive).expect("the archive") == data,
            "the archive is unchanged"
        );
        let mut chain: Vec<Digest> = Vec::new();
        for layer in &image.layers {
            chain.push(Digest::chain(chain.last(), &layer.diff_id));
        }
        let present = names(&store_path.join("layers/sha256"));
        let complete = chain
            .iter()
            .take_while(|c| present.contains(&c.hex()))
            .count();
        let prefix: BTreeSet<String> = chain.iter().take(complete).map(Digest::hex).collect();
        assert_eq!(
            present, prefix,
            "the store holds the image's lowest layers, complete, and nothing else: {result:?}"
        );
        let images = store.images().expect("the store's images");
        match &result {
            Ok(unpacked) => {
                assert_eq!(complete, chain.len(), "every layer is stored");
                assert_eq!(unpacked.imported(), chain.len(), "a new store imports all");
                for c in &chain {
                    let dir = Dir::open_ambient_dir(&store.layer_path(c), ambient_authority())
                        .expect("a stored layer opens");
                    let mut reader = DirLayerReader::from_root(dir).expect("a stored layer reads");
                    let outcome = crate::layer::walk(&mut reader, false, true);
                    assert!(
                        outcome.error.is_none(),
                        "{c}: a stored layer reads to its end: {outcome:?}"
                    );
                }
                assert!(
                    images.len() == 1 && images.first().is_some_and(|i| i.chain_ids == chain),
                    "the store lists the image with its layers: {images:?}"
                );
                let again = store
                    .unpack(&source, &image, &opts, &mut |_| {})
                    .expect("an unpacked image unpacks again");
                assert_eq!(again.imported(), 0, "unpacking again imports nothing");
                assert_eq!(again.reused(), chain.len(), "unpacking again reuses all");
            }
            Err(_) => assert!(images.is_empty(), "a failed unpack records no image"),
        }
    }
}
